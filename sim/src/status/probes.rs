//! The harness's own instruments in the status world: probes of every CDN's page (update
//! propagation to the edges), fast probes of every region's origin after a partition heals or a
//! region restarts (CRDT convergence), the subscriber endpoints, behind each channel's provider,
//! that record each notification they accept (and each "slow down" the provider answers), and the final audit of every region and CDN. Probes log only what changed.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use edgesim_system::net::{Listener, Net};
use edgesim_system::status::incident::Incident;
use edgesim_system::status::proto::{
    Delivery, DeliveryReply, EDGE_PORT, EdgeReply, EdgeRequest, ORIGIN_PORT, OriginReply, OriginRequest, RECEIVER_PORT,
};
use edgesim_system::wire;
use rand::Rng;
use tokio::task::spawn_local;
use tokio::time::sleep;

use super::settings::{CHANNELS, SLOW_DOWN, StatusSettings};
use super::shown::{Ids, Shown};
use super::users::call;
use crate::events::HarnessEvent;
use crate::log::{HostTelemetry, now};
use crate::net::HostResult;
use crate::seed::Seed;

/// How often origins are probed while a heal converges, and for how long.
pub(crate) const CONVERGENCE_PROBE: Duration = Duration::from_millis(20);
pub(crate) const CONVERGENCE_WINDOW: Duration = Duration::from_secs(10);

/// What `host` holds: its page's document (a CDN; `None`: the static fallback page) or its
/// document (a region).
async fn look<N: Net>(net: &N, host: &str, cdn: bool, limit: Duration) -> Result<Option<Incident>, String> {
    if cdn {
        match call::<_, _, EdgeReply>(net, host, EDGE_PORT, &EdgeRequest::Page, limit).await? {
            EdgeReply::Page { doc, .. } => Ok(doc),
            other => Err(format!("unexpected {other:?}")),
        }
    } else {
        match call::<_, _, OriginReply>(net, host, ORIGIN_PORT, &OriginRequest::Get, limit).await? {
            OriginReply::Doc(d) => Ok(Some(d)),
            other => Err(format!("unexpected {other:?}")),
        }
    }
}

/// Probes each of `hosts` every `every` (concurrently) from `from` to `until`, logging each one's page when it changes
/// (or shows an update the harness has since seen acknowledged).
pub(crate) async fn probe<N: Net>(
    net: N,
    hosts: Vec<(String, bool)>,
    every: Duration,
    from: Duration,
    until: Duration,
    ids: Ids,
    telemetry: HostTelemetry,
) {
    sleep(from.saturating_sub(now())).await;
    let each = hosts.into_iter().map(|(host, cdn)| {
        let (ids, telemetry, net) = (ids.clone(), telemetry.clone(), net.clone());
        spawn_local(async move {
            let mut last = String::new();
            while now() < until {
                if let Ok(Some(doc)) = look(&net, &host, cdn, every.max(Duration::from_secs(1))).await {
                    let shown = Shown::of(&doc, &ids);
                    let seen = format!("{} {}", shown.digest, shown.posts);
                    if seen != last {
                        last = seen;
                        telemetry.harness(HarnessEvent::Probed { of: host.clone(), shown });
                    }
                }
                sleep(every).await;
            }
        })
    });
    for probe in each.collect::<Vec<_>>() {
        let _ = probe.await;
    }
}

/// Audits every host's document at the end.
pub async fn audit<N: Net>(net: N, hosts: Vec<(String, bool)>, ids: Ids, telemetry: HostTelemetry) {
    for (host, cdn) in hosts {
        let (shown, listed, error) = match look(&net, &host, cdn, Duration::from_secs(5)).await {
            Ok(doc) => {
                let listed = doc.iter().flat_map(|d| d.listed().map(String::from)).collect();
                (doc.map(|d| Shown::of(&d, &ids)), listed, None)
            }
            Err(e) => (None, Vec::new(), Some(e)),
        };
        telemetry.harness(HarnessEvent::FinalDoc { of: host, shown, error, listed });
    }
}

/// A channel's subscriber endpoints behind its provider (`[[status.provider]]`): a delivery that
/// arrives when the provider has taken its per-second limit in the second before is answered
/// "slow down" (unless the provider does not `enforce` its limit); the others, after the
/// provider's latency, are failed (a seeded share) or accepted and recorded, a notice of an
/// unreachable endpoint as such. The provider counts a delivery when it arrives, so each accepted
/// one is logged the provider's latency after it was counted.
pub async fn receiver<N: Net>(
    net: N,
    settings: Rc<StatusSettings>,
    seed: Seed,
    host: String,
    telemetry: HostTelemetry,
) -> HostResult {
    let mut rng = seed.child(&format!("receiver/{host}"), 0);
    let channel = CHANNELS.iter().find(|(_, h)| *h == host).map_or("", |(c, _)| c);
    let provider = settings.provider_of(channel);
    let fail_rate = provider.fail_rate.unwrap_or(settings.receiver_fail_rate);
    let limit = provider.per_second.filter(|_| provider.enforce);
    let taken: Rc<RefCell<VecDeque<Duration>>> = Rc::default();
    let mut listener = net.bind(RECEIVER_PORT).await?;
    loop {
        let (mut stream, _) = listener.accept().await?;
        let fail = rng.random::<f64>() < fail_rate;
        let (telemetry, latency, taken) = (telemetry.clone(), provider.latency.0, taken.clone());
        spawn_local(async move {
            let Ok(d) = wire::recv::<_, Delivery>(&mut stream).await else { return };
            let reply = if !take(&mut taken.borrow_mut(), now(), limit) {
                let slowed =
                    HarnessEvent::SlowedDown { key: d.idempotency_key, subscriber: d.subscriber, channel: d.channel };
                telemetry.harness(slowed);
                DeliveryReply::SlowDown { retry_after_ms: SLOW_DOWN.as_millis() as u64 }
            } else {
                sleep(latency).await;
                if fail {
                    DeliveryReply::Failed("503 service unavailable".into())
                } else {
                    telemetry.harness(match d.unreachable {
                        Some(channel) => {
                            HarnessEvent::ToldUnreachable { subscriber: d.subscriber, channel, by: d.channel }
                        }
                        None => HarnessEvent::Delivered {
                            key: d.idempotency_key,
                            event: d.event,
                            subscriber: d.subscriber,
                            channel: d.channel,
                        },
                    });
                    DeliveryReply::Accepted
                }
            };
            let _ = wire::send(&mut stream, &reply).await;
        });
    }
}

/// Whether a provider that took the deliveries at `taken` takes one more at `now` under `limit` a
/// second (counting it if so).
fn take(taken: &mut VecDeque<Duration>, now: Duration, limit: Option<u32>) -> bool {
    while taken.front().is_some_and(|t| now.saturating_sub(*t) >= Duration::from_secs(1)) {
        taken.pop_front();
    }
    let over = limit.is_some_and(|limit| taken.len() >= limit as usize);
    if !over {
        taken.push_back(now);
    }
    !over
}
