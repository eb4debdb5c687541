//! The status page's users, run on one viewer host per region: operators editing the incident at
//! the origin GeoDNS gives them, their own region's while it is healthy (at random, and as
//! `[[status.action]]` scripts), viewers loading the page through DNS and the CDNs (trying the next CDN
//! of the answer when one fails, as browsers do with several addresses), and live viewers on SSE
//! who resume with Last-Event-ID, reconnect after an exponential backoff with seeded jitter, and
//! fall back to polling. Each records what it saw.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use edgesim_system::net::Net;
use edgesim_system::status::hlc::Timestamp;
use edgesim_system::status::incident::ComponentStatus;
use edgesim_system::status::proto::{
    DNS_PORT, DnsAnswer, DnsName, DnsQuery, EDGE_PORT, EdgeReply, EdgeRequest, Edit, ORIGIN_PORT, OriginReply,
    OriginRequest, SseMessage, event_id,
};
use edgesim_system::status::sse::SseEvent;
use edgesim_system::wire;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::task::spawn_local;
use tokio::time::{sleep, timeout};

use super::settings::{ActionKind, DNS, StatusSettings};
use super::shown::{Ids, Shown};
use crate::events::HarnessEvent;
use crate::log::{HostTelemetry, now, now_us};
use crate::net::HostResult;
use crate::seed::Seed;

/// Everything one region's user host needs.
pub struct Users<N: Net> {
    pub settings: Rc<StatusSettings>,
    pub region: usize,
    pub end: Duration,
    pub seed: Seed,
    pub telemetry: HostTelemetry,
    pub ids: Ids,
    /// Edit and viewer ids, unique across the run.
    pub next_id: Rc<RefCell<u64>>,
    /// The resolver's cached answer for the page and when it expires.
    pub resolver: RefCell<Option<(DnsAnswer, Duration)>>,
    /// The same for the origin API (GeoDNS).
    pub geo: RefCell<Option<(DnsAnswer, Duration)>>,
    /// The user host's sockets.
    pub net: N,
}

const COMPONENTS: [&str; 3] = ["api", "dashboard", "webhooks"];
const TEXTS: [&str; 4] = ["Investigating elevated errors", "Identified the cause", "Monitoring the fix", "Resolved"];
/// A monitor's automated update: the same text each time, so the dedup-key window folds repeats.
const AUTOMATED: &str = "Automated: API error rate above threshold";

/// Sleeps for `d`, or until `end` if that comes first; returns whether `end` has come.
async fn nap(d: Duration, end: Duration) -> bool {
    sleep(d.min(end.saturating_sub(now()))).await;
    now() >= end
}

/// One request and its reply on a fresh connection over `net`, within `limit`.
pub async fn call<N: Net, Q: Serialize, R: DeserializeOwned>(
    net: &N,
    host: &str,
    port: u16,
    request: &Q,
    limit: Duration,
) -> Result<R, String> {
    wire::exchange(host, net.connect(host, port), request, limit).await
}

impl<N: Net> Users<N> {
    pub(crate) fn next_id(&self) -> u64 {
        let mut n = self.next_id.borrow_mut();
        *n += 1;
        *n
    }

    fn rng(&self, stream: &str, n: u64) -> ChaCha8Rng {
        self.seed.child(stream, n)
    }

    fn region_host(&self) -> String {
        StatusSettings::region_host(&self.settings.regions[self.region])
    }

    /// The CDNs to try, from the resolver's cache while its TTL lasts; a failed query keeps the
    /// stale answer (serve-stale) or, with none, every CDN.
    async fn resolve(&self) -> Vec<String> {
        self.lookup(DnsName::Page, &self.resolver, || self.settings.cdns.clone()).await
    }

    /// The origin host operators edit at: GeoDNS's first answer, cached for its TTL (serve-stale
    /// as above; the own region with no answer at all), or the own region when pinned.
    pub async fn origin(&self) -> String {
        if !self.settings.geo_dns {
            return self.region_host();
        }
        let hosts = self.lookup(DnsName::Origin, &self.geo, || vec![self.region_host()]).await;
        hosts.into_iter().next().unwrap_or_else(|| self.region_host())
    }

    /// Resolves `name` through `cache`; `none` is the answer when the DNS gives none and nothing
    /// is cached.
    async fn lookup(
        &self,
        name: DnsName,
        cache: &RefCell<Option<(DnsAnswer, Duration)>>,
        none: impl FnOnce() -> Vec<String>,
    ) -> Vec<String> {
        let cached = cache.borrow().clone();
        if let Some((answer, expires)) = &cached
            && now() < *expires
        {
            return answer.hosts.clone();
        }
        let query = DnsQuery { name, region: self.region };
        match call::<_, _, DnsAnswer>(&self.net, DNS, DNS_PORT, &query, self.settings.view_timeout.0).await {
            Ok(answer) => {
                let hosts = answer.hosts.clone();
                let expires = now() + Duration::from_millis(answer.ttl_ms);
                *cache.borrow_mut() = Some((answer, expires));
                hosts
            }
            Err(_) => cached.map_or_else(none, |(a, _)| a.hosts),
        }
    }
}

/// Starts every user of the region and waits for them.
pub async fn run<N: Net>(users: Rc<Users<N>>) -> HostResult {
    let mut tasks = vec![spawn_local(operator(users.clone()))];
    let region = &users.settings.regions[users.region];
    if users.settings.action.iter().any(|a| a.region == *region) {
        tasks.push(spawn_local(scripted(users.clone())));
    }
    for _ in 0..users.settings.viewers_per_region {
        let id = users.next_id();
        tasks.push(spawn_local(viewer(users.clone(), id)));
    }
    for n in 0..users.settings.sse_viewers_per_region {
        let id = users.next_id();
        let ip = format!("10.{}.0.{}", users.region, n % users.settings.sse_ips_per_region);
        tasks.push(spawn_local(live_viewer(users.clone(), id, ip)));
    }
    for t in tasks {
        t.await?;
    }
    Ok(())
}

/// Edits at this region: every region's operator draws from the same rate, so edits land in
/// every region, concurrently on both sides of a partition.
async fn operator<N: Net>(users: Rc<Users<N>>) {
    let s = &users.settings;
    let mut rng = users.rng("operator", users.region as u64);
    let until = s.edits_until.map_or(users.end, |u| u.0).min(users.end);
    let mean = s.edit_every.0.as_secs_f64() * s.regions.len() as f64;
    sleep(s.edits_from.0.saturating_sub(now())).await;
    loop {
        if nap(Duration::from_secs_f64(-mean * (1.0 - rng.random::<f64>()).ln()), until).await {
            return;
        }
        let write = users.next_id();
        let host = users.origin().await;
        let limit = s.view_timeout.0;
        let (edit, seen) = if rng.random::<f64>() < 0.6 {
            let text = if rng.random::<f64>() < 0.25 {
                AUTOMATED.to_string()
            } else {
                format!("Update {write}: {}", TEXTS[rng.random_range(0..TEXTS.len())])
            };
            (Edit::Post { text, critical: rng.random::<f64>() < 0.3 }, None)
        } else {
            let component = COMPONENTS[rng.random_range(0..COMPONENTS.len())].to_string();
            let status = [
                ComponentStatus::Operational,
                ComponentStatus::Degraded,
                ComponentStatus::PartialOutage,
                ComponentStatus::MajorOutage,
            ][rng.random_range(0..4)];
            let seen = read_status(&users.net, &host, &component, limit).await;
            (Edit::Status { component, status }, seen)
        };
        submit(&users, &host, write, edit, seen, false).await;
    }
}

/// This region's scripted actions, each at its time (a repeated one at each of its times), in
/// time order and, at one time, in the order the file lists them; an action waits for the one
/// before it.
async fn scripted<N: Net>(users: Rc<Users<N>>) {
    let s = users.settings.clone();
    let region = &s.regions[users.region];
    let mut made: Vec<(Duration, usize)> = s
        .action
        .iter()
        .enumerate()
        .filter(|(_, a)| a.region == *region)
        .flat_map(|(i, a)| a.times().into_iter().map(move |t| (t, i)))
        .collect();
    made.sort();
    for (at, i) in made {
        let action = &s.action[i];
        sleep(at.saturating_sub(now())).await;
        let component = action.component.clone().unwrap_or_default();
        let text = action.text.clone().unwrap_or_default();
        let edit = match action.kind {
            ActionKind::Post => Edit::Post { text, critical: action.critical },
            ActionKind::SetStatus => {
                let status = action.status.map_or(ComponentStatus::Operational, Into::into);
                Edit::Status { component, status }
            }
            ActionKind::AddComponent => Edit::AddComponent { component },
            ActionKind::RemoveComponent => Edit::RemoveComponent { component },
            ActionKind::Retract => Edit::Retract { text },
        };
        let (write, host) = (users.next_id(), users.origin().await);
        submit(&users, &host, write, edit, None, true).await;
    }
}

/// Sends edit `write` to the origin at `host` (having read `seen` there before it, for a status
/// change), reads a random operator's status change back once acknowledged, and logs it as
/// `edited` (a `scripted` edit at once, with its region's causal history; a retraction with the
/// updates it took off the timeline).
pub(crate) async fn submit<N: Net>(
    users: &Users<N>,
    host: &str,
    write: u64,
    edit: Edit,
    seen: Option<Timestamp>,
    scripted: bool,
) {
    let s = &users.settings;
    let limit = s.view_timeout.0;
    let reply =
        call::<_, _, OriginReply>(&users.net, host, ORIGIN_PORT, &OriginRequest::Edit(edit.clone()), limit).await;
    let (stamp, history, gone, error) = match reply {
        Ok(OriginReply::Written { at, history, retracted }) => {
            users.ids.learn(at, write);
            (Some(at), scripted.then_some(history), retracted, None)
        }
        Ok(other) => (None, None, Vec::new(), Some(format!("unexpected reply {other:?}"))),
        Err(e) => (None, None, Vec::new(), Some(e)),
    };
    let (component, status, critical, listed, retracted) = match edit {
        Edit::Post { critical, .. } => (None, None, critical, None, None),
        Edit::Status { component, status } => (Some(component), Some(status), false, None, None),
        Edit::AddComponent { component } => (Some(component), None, false, Some(true), None),
        Edit::RemoveComponent { component } => (Some(component), None, false, Some(false), None),
        Edit::Retract { .. } => {
            (None, None, false, None, Some(gone.iter().filter_map(|at| users.ids.of(at)).collect()))
        }
    };
    let after = match (&component, status, stamp) {
        (Some(c), Some(_), Some(_)) if !scripted => read_status(&users.net, host, c, limit).await,
        _ => None,
    };
    let region = s.regions[users.region].clone();
    let moved_to = s.regions.iter().find(|r| StatusSettings::region_host(r) == host && **r != region).cloned();
    let edited = HarnessEvent::Edited {
        write,
        region,
        component,
        status,
        critical,
        stamp,
        seen,
        after,
        error,
        listed,
        history,
        retracted,
        moved_to,
    };
    users.telemetry.harness(edited);
}

/// The timestamp of `component`'s status as `host` shows it.
async fn read_status<N: Net>(net: &N, host: &str, component: &str, limit: Duration) -> Option<Timestamp> {
    match call::<_, _, OriginReply>(net, host, ORIGIN_PORT, &OriginRequest::Get, limit).await {
        Ok(OriginReply::Doc(doc)) => doc.statuses().find(|(c, _, _)| *c == component).map(|(_, _, at)| at),
        _ => None,
    }
}

/// Loads the page at exponential intervals (faster during a spike) through DNS and the CDNs.
async fn viewer<N: Net>(users: Rc<Users<N>>, id: u64) {
    let s = &users.settings;
    let mut rng = users.rng("viewer", id);
    loop {
        let mean = s.view_every.0.as_secs_f64() / s.spike_at(now());
        if nap(Duration::from_secs_f64(-mean * (1.0 - rng.random::<f64>()).ln()), users.end).await {
            return;
        }
        view(&users, id).await;
    }
}

async fn view<N: Net>(users: &Users<N>, viewer: u64) {
    let started_us = now_us();
    let cdns = users.resolve().await;
    let mut tried = Vec::new();
    for cdn in cdns {
        tried.push(cdn.clone());
        if let Ok(EdgeReply::Page { tier, doc }) =
            call::<_, _, EdgeReply>(&users.net, &cdn, EDGE_PORT, &EdgeRequest::Page, users.settings.view_timeout.0)
                .await
        {
            let shown = doc.map(|d| Shown::of(&d, &users.ids));
            let event = HarnessEvent::PageViewed { viewer, started_us, tried, cdn: Some(cdn), tier: Some(tier), shown };
            users.telemetry.harness(event);
            return;
        }
    }
    users.telemetry.harness(HarnessEvent::PageViewed { viewer, started_us, tried, cdn: None, tier: None, shown: None });
}

/// A live viewer's first reconnect waits about this long (**project**), doubling with each round
/// that found no CDN to stream from, up to [`RECONNECT_MAX`].
const RECONNECT_BASE: Duration = Duration::from_secs(1);
const RECONNECT_MAX: Duration = Duration::from_secs(30);

/// The wait before reconnecting after `failures` rounds in a row found no CDN to stream from:
/// exponential, capped, scaled by a factor in [0.5, 1.5) drawn from the viewer's stream.
fn reconnect_after(failures: u32, rng: &mut ChaCha8Rng) -> Duration {
    let exponential = RECONNECT_BASE.saturating_mul(1 << failures.min(16)).min(RECONNECT_MAX);
    exponential.mul_f64(rng.random_range(0.5..1.5))
}

/// A live viewer: streams events over SSE through the first CDN that takes it, reconnecting with
/// Last-Event-ID (after a backoff) when the stream breaks or falls silent past two heartbeats;
/// while no CDN will stream, polls the page every `view_every` until its next attempt.
async fn live_viewer<N: Net>(users: Rc<Users<N>>, viewer: u64, ip: String) {
    let s = &users.settings;
    let silence = s.sse_heartbeat.0 * 2;
    let mut rng = users.rng("live", viewer);
    let mut last_event_id: Option<String> = None;
    let mut failures = 0;
    sleep(Duration::from_millis(500 + 100 * viewer % 1000)).await;
    while now() < users.end {
        let mut streamed = false;
        for cdn in users.resolve().await {
            let resume = if s.sse_resume { last_event_id.clone() } else { None };
            let subscribe = EdgeRequest::Subscribe { last_event_id: resume.clone(), client_ip: ip.clone() };
            let opened = timeout(s.view_timeout.0, async {
                let mut stream = users.net.connect(&cdn, EDGE_PORT).await?;
                wire::send(&mut stream, &subscribe).await.map_err(std::io::Error::other)?;
                Ok::<_, std::io::Error>(stream)
            })
            .await;
            let Ok(Ok(mut stream)) = opened else { continue };
            users.telemetry.harness(HarnessEvent::SseConnected { viewer, cdn: cdn.clone(), resumed: resume.is_some() });
            let reason = loop {
                let left = users.end.saturating_sub(now());
                match timeout(silence.min(left), wire::recv::<_, EdgeReply>(&mut stream)).await {
                    Ok(Ok(EdgeReply::Sse(SseMessage::Event { id, event }))) => {
                        streamed = true;
                        last_event_id = Some(id);
                        let at = event.at();
                        let component = match &event {
                            SseEvent::ComponentStatusChanged { component, .. } => Some(component.clone()),
                            _ => None,
                        };
                        users.telemetry.harness(HarnessEvent::SseReceived {
                            viewer,
                            kind: event.kind(),
                            event: event_id(&at),
                            write: users.ids.of(&at),
                            component,
                        });
                    }
                    Ok(Ok(EdgeReply::Sse(SseMessage::Heartbeat { seq }))) => {
                        streamed = true;
                        users.telemetry.harness(HarnessEvent::SseHeartbeat { viewer, cdn: cdn.clone(), seq });
                    }
                    Ok(Ok(EdgeReply::Refused(refusal))) => {
                        users.telemetry.harness(HarnessEvent::SseRefused { viewer, cdn: cdn.clone(), refusal });
                        break None;
                    }
                    Ok(Ok(other)) => break Some(format!("unexpected {other:?}")),
                    Ok(Err(e)) => break Some(e.to_string()),
                    Err(_) if now() >= users.end => return,
                    Err(_) => break Some(format!("silent for {silence:?}")),
                }
            };
            if let Some(reason) = reason {
                users.telemetry.harness(HarnessEvent::SseDropped { viewer, reason });
            }
            if streamed {
                break;
            }
        }
        if streamed {
            failures = 0;
        } else {
            users.telemetry.harness(HarnessEvent::SseFallback { viewer, reason: "no CDN would stream".into() });
            failures += 1;
        }
        let retry = now() + reconnect_after(failures, &mut rng);
        while !streamed && now() < retry && now() < users.end {
            view(&users, viewer).await;
            nap(s.view_every.0.min(retry.saturating_sub(now())), users.end).await;
        }
        nap(retry.saturating_sub(now()), users.end).await;
    }
}
