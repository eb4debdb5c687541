//! What reached people, judged from what the endpoints and viewers recorded: notifications
//! (expected per update x subscriber x channel unless the rate limit, as the endpoint received,
//! excuses one, the dedup-key window folded its update or the operators suppressed it (a
//! non-critical update under `suppress_non_critical`); late past their deadline, lost when never
//! received, duplicated past the receiver's idempotency-key dedup, redelivered, accepted beyond the
//! rate limit, delivery latency; per channel, the provider's "slow down" answers, the jobs given up
//! after the last retry and the subscribers told their endpoint was unreachable) and live
//! viewers (per SSE event type, the timeline updates, status changes and resolutions made after a
//! live viewer first subscribed or fell back to polling that it never received on its stream nor
//! saw on a page it polled, and how fast the rest reached it; how many the hubs pushed and the
//! viewers received, heartbeats among them, a heartbeat's delivery timed from the hub's report of
//! sending it; reconnects and refused streams).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use edgesim_system::status::hlc::Timestamp;
use edgesim_system::status::incident::ComponentStatus;
use edgesim_system::status::notify::NotifyConfig;
use edgesim_system::status::proto::event_id;
use edgesim_system::status::sse::{Refusal, SseEventKind};
use edgesim_system::telemetry::{NodeEvent, NoticeOutcome};
use serde::Serialize;

use super::records::AckedEdit;
use super::settings::{CHANNELS, StatusSettings};
use super::shown::{Shown, parse};
use crate::edge::metrics::{Recorder, Summary};
use crate::events::{Event, HarnessEvent, Record};
use crate::scenario::Scenario;

/// How many examples of a failure a report lists.
const EXAMPLES: usize = 10;
/// Updates acknowledged this close to the end are not expected at live viewers.
const SSE_GRACE: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, Default, Serialize)]
pub struct Notifications {
    /// Per timeline update, subscriber and channel, less those excused by the rate limit or
    /// folded by the dedup-key window.
    pub expected: usize,
    pub delivered: usize,
    /// Expected and accepted by the endpoint after their deadline (acknowledgement plus
    /// `notification_deadline`).
    pub late: usize,
    /// Expected, never accepted by the endpoint, and past their deadline at the end of the run,
    /// whatever the pipeline says it still holds.
    pub lost: usize,
    pub lost_examples: Vec<String>,
    /// Expected, not accepted yet, and still within their deadline when the run ended.
    pub pending: usize,
    /// The same update to the same subscriber and channel under more than one idempotency key:
    /// duplicates the receiver cannot drop.
    pub duplicates: usize,
    /// The same idempotency key accepted again (dropped by the receiver's dedup).
    pub redeliveries: usize,
    /// Not accepted, and excused: the endpoint had accepted the hourly limit of notifications of
    /// updates acknowledged in the hour before.
    pub rate_limited: usize,
    /// Notifications an endpoint accepted beyond the limit in some hour (first acceptances of
    /// distinct updates per subscriber and channel).
    pub over_rate_limit: usize,
    pub over_rate_limit_examples: Vec<String>,
    pub folded_by_dedup_window: usize,
    /// Not sent, and excused: the operators suppressed the update (never counted as lost).
    pub suppressed: usize,
    /// Deliveries a provider answered "slow down" to (its per-second limit reached).
    pub slowed_down: usize,
    /// Subscribers told, on another channel, that their endpoint could not be reached.
    pub told_unreachable: usize,
    pub retried: usize,
    pub gave_up: usize,
    /// First acceptance minus the update's acknowledgement.
    pub latency: Summary,
    /// The same, for critical updates (queued first) and for the others.
    pub latency_critical: Summary,
    pub latency_other: Summary,
    /// The figures of each channel, which the totals above add up.
    pub channels: BTreeMap<String, ChannelFigures>,
}

/// One channel's notifications, judged as the totals are.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ChannelFigures {
    pub expected: usize,
    pub delivered: usize,
    pub late: usize,
    pub lost: usize,
    pub pending: usize,
    pub duplicates: usize,
    pub redeliveries: usize,
    pub rate_limited: usize,
    pub over_rate_limit: usize,
    pub suppressed: usize,
    pub slowed_down: usize,
    /// Jobs on this channel the pipeline gave up on after the last retry (its report).
    pub gave_up: usize,
    /// Subscribers told that their endpoint on this channel was unreachable (as received).
    pub told_unreachable: usize,
    pub latency: Summary,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Sse {
    /// Live viewers that subscribed or fell back to polling.
    pub viewers: usize,
    pub connects: usize,
    pub resumed: usize,
    /// Connections (a hub refused none of them) beyond each viewer's first.
    pub reconnects: usize,
    /// Streams a hub refused: in all, and because the edge held its cap.
    pub refused: usize,
    pub refused_edge_full: usize,
    /// Viewers that fell back to polling at least once; what their polled pages showed counts as received.
    pub fell_back: usize,
    /// Events of any type a live viewer neither received on its stream nor saw on a page it polled.
    pub missed: usize,
    pub missed_examples: Vec<String>,
    /// Per event type (`timeline_update`, `component_status_changed`, `incident_resolved`).
    pub kinds: BTreeMap<&'static str, SseKindFigures>,
    /// Event types expected at viewers that streamed and never received on a stream by any of
    /// them (the `sse-event-types` checker).
    pub never_streamed: Vec<&'static str>,
    pub heartbeats: Heartbeats,
}

/// The hubs' heartbeats: sent (as the hubs reported), received by live viewers, and from each
/// one's sending to its receipt.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Heartbeats {
    pub pushed: usize,
    pub delivered: usize,
    pub latency: Summary,
}

/// One SSE event type at the live viewers.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SseKindFigures {
    /// Events of this type the hubs sent on viewers' streams (as the hubs reported).
    pub pushed: usize,
    /// Events of this type live viewers received on their streams, repeats included.
    pub delivered: usize,
    /// Per live viewer, the events of this type made after it first subscribed or fell back and
    /// at least `SSE_GRACE` before the end.
    pub expected: usize,
    /// Of those, received on a stream (the others reached it on a polled page or not at all).
    pub streamed: usize,
    pub missed: usize,
    /// First receipt (on the stream or a polled page) minus the acknowledgement of the write.
    pub latency: Summary,
}

impl Sse {
    /// The delivery latency of an event type.
    pub fn latency(&self, kind: SseEventKind) -> Option<&Summary> {
        self.kinds.get(kind.name()).map(|k| &k.latency)
    }
}

/// Per update, subscriber and channel: first acceptance, idempotency keys seen, acceptances.
type Received<'a> = (u64, BTreeSet<&'a str>, usize);

/// Notifications judged at the endpoints: what each subscriber's channel accepted, against every
/// timeline update made. The pipeline's own reports are used only for the updates it folded by
/// the dedup-key window (the harness does not see the texts the window compares) and for the
/// retry counts shown beside.
pub fn notifications(events: &[Event], edits: &[AckedEdit], s: &StatusSettings) -> Notifications {
    on_channels(events, edits, s, &CHANNELS.map(|(channel, _)| channel))
}

/// Notifications judged on `channels`, each subscriber being on every one.
fn on_channels(events: &[Event], edits: &[AckedEdit], s: &StatusSettings, channels: &[&str]) -> Notifications {
    let mut out = Notifications::default();
    let log = NoticeLog::read(events, &mut out);
    let updates: Vec<&AckedEdit> = edits.iter().filter(|e| e.component.is_none()).collect();
    let id_of: BTreeMap<u64, String> = updates.iter().map(|e| (e.write, event_id(&e.stamp))).collect();
    let limit = NotifyConfig::default();
    let judge = Judge {
        updates: &updates,
        id_of: &id_of,
        log: &log,
        window_us: limit.rate_window_ms * 1000,
        rate_limit: limit.rate_limit as usize,
        deadline_us: s.notification_deadline.0.as_micros() as u64,
    };
    let mut latencies = Latencies::default();
    for subscriber in 1..=s.subscribers {
        for &channel in channels {
            let on = out.channels.entry(channel.to_string()).or_default();
            let accepted = judge.updates_to(subscriber, channel, on, &mut latencies, &mut out.lost_examples);
            judge.rate_limit_held(subscriber, channel, &accepted, on, &mut out.over_rate_limit_examples);
        }
    }
    out.folded_by_dedup_window =
        updates.iter().filter(|e| log.only(&id_of[&e.write], NoticeOutcome::DedupWindow)).count();
    latencies.summarize(&mut out);
    out.add_up_channels();
    out
}

/// What the log says of notifications: the pipeline's decisions per update, each endpoint's
/// acceptances, and when the run ended.
struct NoticeLog<'e> {
    outcomes: BTreeMap<&'e str, Vec<NoticeOutcome>>,
    received: BTreeMap<(&'e str, u32, &'e str), Received<'e>>,
    end_us: u64,
}

impl<'e> NoticeLog<'e> {
    /// Reads the log, counting retries, give-ups, slow-downs and unreachable notices into `out`.
    fn read(events: &'e [Event], out: &mut Notifications) -> Self {
        let mut log = NoticeLog { outcomes: BTreeMap::new(), received: BTreeMap::new(), end_us: 0 };
        for e in events {
            match &e.record {
                Record::Node(NodeEvent::NoticeTaken { event, outcome }) => {
                    log.outcomes.entry(event).or_default().push(*outcome)
                }
                Record::Node(NodeEvent::DeliveryFailed { retry_in_ms, channel, .. }) => match retry_in_ms {
                    Some(_) => out.retried += 1,
                    None => {
                        out.gave_up += 1;
                        out.channels.entry(channel.clone()).or_default().gave_up += 1;
                    }
                },
                Record::Harness(HarnessEvent::SlowedDown { channel, .. }) => {
                    out.channels.entry(channel.clone()).or_default().slowed_down += 1
                }
                Record::Harness(HarnessEvent::ToldUnreachable { channel, .. }) => {
                    out.channels.entry(channel.clone()).or_default().told_unreachable += 1
                }
                Record::Harness(HarnessEvent::Delivered { key, event, subscriber, channel }) => {
                    let (_, keys, n) =
                        log.received.entry((event, *subscriber, channel)).or_insert((e.t_us, BTreeSet::new(), 0));
                    keys.insert(key);
                    *n += 1;
                    out.channels.entry(channel.clone()).or_default().delivered += 1;
                }
                Record::Harness(HarnessEvent::RunEnded { sim_us, .. }) => log.end_us = *sim_us,
                _ => {}
            }
        }
        log
    }

    /// Whether the pipeline took update `event` as `outcome` and never queued it.
    fn only(&self, event: &str, outcome: NoticeOutcome) -> bool {
        self.outcomes.get(event).is_some_and(|o| o.contains(&outcome) && !o.contains(&NoticeOutcome::Queued))
    }
}

/// Judges each subscriber's channel against every timeline update.
struct Judge<'a> {
    updates: &'a [&'a AckedEdit],
    id_of: &'a BTreeMap<u64, String>,
    log: &'a NoticeLog<'a>,
    window_us: u64,
    rate_limit: usize,
    deadline_us: u64,
}

impl Judge<'_> {
    fn received<'s>(&'s self, edit: &AckedEdit, subscriber: u32, channel: &'s str) -> Option<&'s Received<'s>> {
        self.log.received.get(&(self.id_of[&edit.write].as_str(), subscriber, channel))
    }

    /// Counts each update on `subscriber`'s `channel` into `on` as accepted (late, duplicated),
    /// suppressed, excused by the rate limit, pending or lost; returns the acceptances as (time,
    /// update), sorted.
    fn updates_to<'c>(
        &self,
        subscriber: u32,
        channel: &'c str,
        on: &mut ChannelFigures,
        latencies: &mut Latencies<'c>,
        lost_examples: &mut Vec<String>,
    ) -> Vec<(u64, u64)> {
        let mut accepted = Vec::new();
        for (i, edit) in self.updates.iter().enumerate() {
            let event = self.id_of[&edit.write].as_str();
            let Some((first, keys, n)) = self.received(edit, subscriber, channel) else {
                if self.log.only(event, NoticeOutcome::Suppressed) {
                    on.suppressed += 1;
                    continue;
                }
                if self.log.only(event, NoticeOutcome::DedupWindow) {
                    continue;
                }
                let hour = self.updates[..i]
                    .iter()
                    .filter(|u| edit.t_us - u.t_us < self.window_us && self.received(u, subscriber, channel).is_some());
                if hour.count() >= self.rate_limit {
                    on.rate_limited += 1;
                } else if edit.t_us + self.deadline_us > self.log.end_us {
                    on.expected += 1;
                    on.pending += 1;
                } else {
                    on.expected += 1;
                    on.lost += 1;
                    if lost_examples.len() < EXAMPLES {
                        lost_examples.push(format!("update #{} to subscriber {subscriber} by {channel}", edit.write));
                    }
                }
                continue;
            };
            on.expected += 1;
            accepted.push((*first, edit.write));
            let took = first.saturating_sub(edit.t_us);
            latencies.record(channel, took, edit.critical);
            on.late += usize::from(took > self.deadline_us);
            on.duplicates += keys.len() - 1;
            on.redeliveries += n - keys.len();
        }
        accepted.sort_unstable();
        accepted
    }

    /// Counts the acceptances past the rate limit within any window into `on`.
    fn rate_limit_held(
        &self,
        subscriber: u32,
        channel: &str,
        accepted: &[(u64, u64)],
        on: &mut ChannelFigures,
        examples: &mut Vec<String>,
    ) {
        let mut oldest = 0;
        for (i, (at, write)) in accepted.iter().enumerate() {
            while at - accepted[oldest].0 >= self.window_us {
                oldest += 1;
            }
            if i - oldest >= self.rate_limit {
                on.over_rate_limit += 1;
                if examples.len() < EXAMPLES {
                    examples.push(format!(
                        "update #{write} was subscriber {subscriber}'s {}th {channel} notification within an hour",
                        i - oldest + 1
                    ));
                }
            }
        }
    }
}

/// Delivery latencies: of every notification, of the critical and the other ones, per channel.
#[derive(Default)]
struct Latencies<'c> {
    all: Recorder,
    critical: Recorder,
    other: Recorder,
    by_channel: BTreeMap<&'c str, Recorder>,
}

impl<'c> Latencies<'c> {
    fn record(&mut self, channel: &'c str, took_us: u64, critical: bool) {
        self.all.record(took_us);
        self.by_channel.entry(channel).or_default().record(took_us);
        if critical { self.critical.record(took_us) } else { self.other.record(took_us) }
    }

    fn summarize(self, out: &mut Notifications) {
        out.latency = self.all.summary();
        out.latency_critical = self.critical.summary();
        out.latency_other = self.other.summary();
        for (channel, recorder) in self.by_channel {
            out.channels.entry(channel.to_string()).or_default().latency = recorder.summary();
        }
    }
}

impl Notifications {
    /// The totals as the sums of the channels' figures.
    fn add_up_channels(&mut self) {
        let sum = |figure: fn(&ChannelFigures) -> usize| self.channels.values().map(figure).sum::<usize>();
        (self.expected, self.delivered, self.late, self.lost, self.pending) =
            (sum(|c| c.expected), sum(|c| c.delivered), sum(|c| c.late), sum(|c| c.lost), sum(|c| c.pending));
        (self.duplicates, self.redeliveries, self.rate_limited, self.over_rate_limit) =
            (sum(|c| c.duplicates), sum(|c| c.redeliveries), sum(|c| c.rate_limited), sum(|c| c.over_rate_limit));
        (self.suppressed, self.slowed_down, self.told_unreachable) =
            (sum(|c| c.suppressed), sum(|c| c.slowed_down), sum(|c| c.told_unreachable));
    }
}

/// What one live viewer got: events on its streams (time, type, write), and the pages it polled
/// after it first fell back (time, posts shown, page).
#[derive(Default)]
struct Got<'a> {
    streamed: Vec<(u64, SseEventKind, u64)>,
    polled: Vec<(u64, BTreeSet<u64>, &'a Shown)>,
}

/// An event a live viewer should get: its type and the acknowledged write it reports.
struct DueEvent<'a> {
    kind: SseEventKind,
    edit: &'a AckedEdit,
}

/// Every live viewer is judged from when it first subscribed or fell back, whichever came first:
/// an event reaches it when it arrives on its stream or first shows on a page it polled while it
/// could not stream, whichever came first. A status change is received with any later status of
/// the same component (the hub sends statuses as they stand); a resolution is due when every
/// component's latest acknowledged status turned operational and stayed so for `SSE_GRACE`.
pub fn sse(scenario: &Scenario, events: &[Event], edits: &[AckedEdit]) -> Sse {
    let mut out = Sse::default();
    let Viewers { first_seen, fell_back, accepted, got, mut kinds } = Viewers::read(events, &mut out);
    out.viewers = first_seen.len();
    out.reconnects = accepted.values().map(|n| n.saturating_sub(1)).sum();
    out.fell_back = fell_back.len();
    let by_write: BTreeMap<u64, &AckedEdit> = edits.iter().map(|e| (e.write, e)).collect();
    let cutoff = scenario.duration.saturating_sub(SSE_GRACE).as_micros() as u64;
    let due = due_events(edits);
    let mut latency: BTreeMap<SseEventKind, Recorder> = SseEventKind::ALL.map(|k| (k, Recorder::default())).into();
    let mut expected_streaming = BTreeSet::new();
    let none = Got::default();
    for (viewer, since) in &first_seen {
        let got = got.get(viewer).unwrap_or(&none);
        for d in due.iter().filter(|d| d.edit.t_us >= *since && d.edit.t_us <= cutoff) {
            let figures = kinds.entry(d.kind).or_default();
            figures.expected += 1;
            if !got.streamed.is_empty() {
                expected_streaming.insert(d.kind);
            }
            let on_stream = got.streamed.iter().find(|(_, kind, write)| {
                *kind == d.kind && by_write.get(write).is_some_and(|w| covers(d.kind, w, d.edit))
            });
            let on_page = got.polled.iter().find(|(_, posts, shown)| shows(d, posts, shown));
            figures.streamed += usize::from(on_stream.is_some());
            match on_stream.map(|r| r.0).into_iter().chain(on_page.map(|p| p.0)).min() {
                Some(at) => latency.get_mut(&d.kind).expect("every kind").record(at.saturating_sub(d.edit.t_us)),
                None => {
                    figures.missed += 1;
                    if out.missed_examples.len() < EXAMPLES {
                        out.missed_examples.push(format!(
                            "viewer {viewer} never received the {} of write #{}",
                            d.kind.name(),
                            d.edit.write
                        ));
                    }
                }
            }
        }
    }
    for (kind, recorder) in latency {
        kinds.entry(kind).or_default().latency = recorder.summary();
    }
    out.never_streamed = kinds
        .iter()
        .filter(|(kind, f)| expected_streaming.contains(*kind) && f.streamed == 0)
        .map(|(kind, _)| kind.name())
        .collect();
    out.missed = kinds.values().map(|f| f.missed).sum();
    out.kinds = kinds.into_iter().map(|(kind, f)| (kind.name(), f)).collect();
    out
}

/// The live viewers as the log shows them: when each first subscribed or fell back, which fell
/// back, how many streams each was accepted on, what each got, and per event type what the hubs
/// pushed and the viewers received.
struct Viewers<'e> {
    first_seen: BTreeMap<u64, u64>,
    fell_back: BTreeSet<u64>,
    accepted: BTreeMap<u64, usize>,
    got: BTreeMap<u64, Got<'e>>,
    kinds: BTreeMap<SseEventKind, SseKindFigures>,
}

impl<'e> Viewers<'e> {
    /// Reads the log, counting connects, refusals and heartbeats (with their latency) into `out`.
    fn read(events: &'e [Event], out: &mut Sse) -> Self {
        let mut v = Viewers {
            first_seen: BTreeMap::new(),
            fell_back: BTreeSet::new(),
            accepted: BTreeMap::new(),
            got: BTreeMap::new(),
            kinds: BTreeMap::new(),
        };
        let mut heartbeat_sent: BTreeMap<(&str, u64), u64> = BTreeMap::new();
        let mut heartbeat_latency = Recorder::default();
        for e in events {
            match &e.record {
                Record::Node(NodeEvent::SsePushed { kind }) => v.kinds.entry(*kind).or_default().pushed += 1,
                Record::Node(NodeEvent::SseHeartbeat { seq }) => {
                    out.heartbeats.pushed += 1;
                    heartbeat_sent.insert((&e.node, *seq), e.t_us);
                }
                Record::Harness(HarnessEvent::SseHeartbeat { cdn, seq, .. }) => {
                    out.heartbeats.delivered += 1;
                    if let Some(sent) = heartbeat_sent.get(&(cdn.as_str(), *seq)) {
                        heartbeat_latency.record(e.t_us.saturating_sub(*sent));
                    }
                }
                Record::Harness(HarnessEvent::SseConnected { viewer, resumed, .. }) => {
                    v.first_seen.entry(*viewer).or_insert(e.t_us);
                    out.connects += 1;
                    out.resumed += usize::from(*resumed);
                    *v.accepted.entry(*viewer).or_default() += 1;
                }
                Record::Harness(HarnessEvent::SseRefused { viewer, refusal, .. }) => {
                    *v.accepted.entry(*viewer).or_default() -= 1;
                    out.refused += 1;
                    out.refused_edge_full += usize::from(matches!(refusal, Refusal::EdgeFull { .. }));
                }
                Record::Harness(HarnessEvent::SseFallback { viewer, .. }) => {
                    v.first_seen.entry(*viewer).or_insert(e.t_us);
                    v.fell_back.insert(*viewer);
                }
                Record::Harness(HarnessEvent::SseReceived { viewer, kind, write, .. }) => {
                    v.kinds.entry(*kind).or_default().delivered += 1;
                    if let Some(write) = write {
                        v.got.entry(*viewer).or_default().streamed.push((e.t_us, *kind, *write));
                    }
                }
                Record::Harness(HarnessEvent::PageViewed { viewer, shown: Some(shown), .. })
                    if v.fell_back.contains(viewer) =>
                {
                    v.got.entry(*viewer).or_default().polled.push((e.t_us, parse(&shown.posts), shown));
                }
                _ => {}
            }
        }
        out.heartbeats.latency = heartbeat_latency.summary();
        v
    }
}

/// The events live viewers are due: one per acknowledged edit (a status change or a timeline
/// update) and one per resolution.
fn due_events(edits: &[AckedEdit]) -> Vec<DueEvent<'_>> {
    let mut due: Vec<DueEvent> = edits
        .iter()
        .map(|edit| {
            let kind = if edit.component.is_some() {
                SseEventKind::ComponentStatusChanged
            } else {
                SseEventKind::TimelineUpdate
            };
            DueEvent { kind, edit }
        })
        .collect();
    due.extend(resolutions(edits).into_iter().map(|edit| DueEvent { kind: SseEventKind::IncidentResolved, edit }));
    due
}

/// Whether an event of `kind` about the write `got` covers the due write `due`: the same update,
/// or a status (or resolution) written at or after it, of the same component for a status.
fn covers(kind: SseEventKind, got: &AckedEdit, due: &AckedEdit) -> bool {
    match kind {
        SseEventKind::TimelineUpdate => got.write == due.write,
        SseEventKind::ComponentStatusChanged => got.component == due.component && got.stamp >= due.stamp,
        SseEventKind::IncidentResolved => got.stamp >= due.stamp,
    }
}

/// Whether a polled page shows the due event: the update; the component's status as written then
/// or later; every status operational, one written then or later.
fn shows(d: &DueEvent, posts: &BTreeSet<u64>, shown: &Shown) -> bool {
    match d.kind {
        SseEventKind::TimelineUpdate => posts.contains(&d.edit.write),
        SseEventKind::ComponentStatusChanged => {
            shown.statuses.iter().any(|(c, _, at)| Some(c) == d.edit.component.as_ref() && *at >= d.edit.stamp)
        }
        SseEventKind::IncidentResolved => {
            shown.statuses.iter().all(|(_, status, _)| *status == ComponentStatus::Operational)
                && shown.statuses.iter().any(|(_, _, at)| *at >= d.edit.stamp)
        }
    }
}

/// The status changes that resolved the incident, as acknowledged: after each, every component's
/// latest status (by timestamp) is operational where it was not before, and stays so for at least
/// `SSE_GRACE` (a resolution undone sooner need not reach anyone).
fn resolutions(edits: &[AckedEdit]) -> Vec<&AckedEdit> {
    let mut latest: BTreeMap<&str, (Timestamp, ComponentStatus)> = BTreeMap::new();
    let mut spans: Vec<(&AckedEdit, u64)> = Vec::new();
    let mut resolved = false;
    for edit in edits {
        let (Some(component), Some(status)) = (&edit.component, edit.status) else { continue };
        let held = latest.entry(component).or_insert((edit.stamp, status));
        if edit.stamp >= held.0 {
            *held = (edit.stamp, status);
        }
        let now = latest.values().all(|(_, s)| *s == ComponentStatus::Operational);
        match (resolved, now) {
            (false, true) => spans.push((edit, u64::MAX)),
            (true, false) => {
                if let Some(last) = spans.last_mut() {
                    last.1 = edit.t_us;
                }
            }
            _ => {}
        }
        resolved = now;
    }
    let grace = SSE_GRACE.as_micros() as u64;
    spans.into_iter().filter(|(edit, until)| until.saturating_sub(edit.t_us) >= grace).map(|(edit, _)| edit).collect()
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;

    const S: u64 = 1_000_000;

    fn at(t_us: u64, record: HarnessEvent) -> Event {
        Event { t_us, node: Rc::from("users-us-east"), record: Record::Harness(record) }
    }

    fn node(t_us: u64, event: NodeEvent) -> Event {
        Event { t_us, node: Rc::from("notifier"), record: Record::Node(event) }
    }

    fn update(write: u64, t_us: u64) -> AckedEdit {
        let stamp = Timestamp { l: t_us / 1000, c: 0, node: 1 };
        AckedEdit { t_us, write, stamp, seen: None, after: None, component: None, status: None, critical: false }
    }

    fn delivered(t_us: u64, edit: &AckedEdit, subscriber: u32, channel: &str) -> Event {
        let event = event_id(&edit.stamp);
        let key = format!("{event}/{subscriber}/{channel}");
        at(t_us, HarnessEvent::Delivered { key, event, subscriber, channel: channel.into() })
    }

    fn ended(t_us: u64) -> Event {
        at(t_us, HarnessEvent::RunEnded { sim_us: t_us, down: vec![] })
    }

    /// Judged on the two channels the tests deliver on.
    fn judge(events: &[Event], edits: &[AckedEdit], s: &StatusSettings) -> Notifications {
        on_channels(events, edits, s, &["webhook", "email"])
    }

    fn one_subscriber() -> StatusSettings {
        StatusSettings { subscribers: 1, ..StatusSettings::default() }
    }

    #[test]
    fn a_viewer_that_fell_back_is_judged_by_the_pages_it_polled() {
        // `negative/status-single-cdn`: every live viewer fell back to polling, and
        // `sse_propagation_p99` read 0.0 ms over n=0 while a viewer saw an update 251.8 s late.
        // Now the fallen-back viewer counts, with the delay its polled page showed.
        let scenario = Scenario::parse("t.toml", "name = \"t\"\nduration = \"10m\"\n[status]\n").unwrap();
        let edit = update(5, 10 * S);
        let shown = Shown { posts: "5".into(), unacked_posts: 0, statuses: vec![], digest: String::new() };
        let page = |t| HarnessEvent::PageViewed {
            viewer: 9,
            started_us: t,
            tried: vec!["cdn-a".into()],
            cdn: Some("cdn-a".into()),
            tier: None,
            shown: Some(shown.clone()),
        };
        let events = vec![
            at(S, HarnessEvent::SseFallback { viewer: 9, reason: "no CDN would stream".into() }),
            at(261_800_000, page(261_000_000)),
            at(300 * S, page(300 * S)),
        ];
        let sse = sse(&scenario, &events, &[edit]);
        assert_eq!((sse.viewers, sse.fell_back, sse.missed), (1, 1, 0));
        let latency = sse.latency(SseEventKind::TimelineUpdate).unwrap();
        assert_eq!(latency.count, 1);
        // The histogram keeps 3 significant digits.
        assert!((latency.max_ms - 251_800.0).abs() < 251.8, "{latency:?}");
    }

    #[test]
    fn a_fallen_back_viewer_that_never_saw_an_update_missed_it() {
        // The same viewer, its pages never showing update 5: a miss, not a viewer left out.
        let scenario = Scenario::parse("t.toml", "name = \"t\"\nduration = \"10m\"\n[status]\n").unwrap();
        let events = vec![at(S, HarnessEvent::SseFallback { viewer: 9, reason: "refused".into() })];
        let sse = sse(&scenario, &events, &[update(5, 10 * S)]);
        assert_eq!((sse.viewers, sse.missed, sse.latency(SseEventKind::TimelineUpdate).unwrap().count), (1, 1, 0));
    }

    fn status(write: u64, t_us: u64, component: &str, status: ComponentStatus) -> AckedEdit {
        AckedEdit { component: Some(component.into()), status: Some(status), ..update(write, t_us) }
    }

    fn received(t_us: u64, kind: SseEventKind, write: u64) -> Event {
        let event = format!("{write}");
        at(t_us, HarnessEvent::SseReceived { viewer: 9, kind, event, write: Some(write), component: None })
    }

    #[test]
    fn each_event_type_is_judged_and_one_never_streamed_is_named() {
        // Goal: a status change and the resolution it makes are due at a live viewer beside the
        // timeline update; a later status of the component covers an earlier one; an event type
        // due at streaming viewers and never received on a stream is named for the
        // `sse-event-types` checker, with each missed event counted.
        use SseEventKind::*;
        let scenario = Scenario::parse("t.toml", "name = \"t\"\nduration = \"10m\"\n[status]\n").unwrap();
        let edits = [
            update(1, 10 * S),
            status(2, 20 * S, "api", ComponentStatus::MajorOutage),
            status(3, 30 * S, "api", ComponentStatus::Degraded),
            status(4, 40 * S, "api", ComponentStatus::Operational),
        ];
        let mut events = vec![
            at(S, HarnessEvent::SseConnected { viewer: 9, cdn: "cdn-a".into(), resumed: false }),
            received(12 * S, TimelineUpdate, 1),
            received(33 * S, ComponentStatusChanged, 3),
            received(43 * S, ComponentStatusChanged, 4),
        ];
        let judged = sse(&scenario, &events, &edits);
        assert_eq!(judged.kinds["component_status_changed"].expected, 3);
        assert_eq!(judged.kinds["component_status_changed"].missed, 0, "write 3 covers write 2");
        assert_eq!((judged.kinds["incident_resolved"].expected, judged.missed), (1, 1));
        assert_eq!(judged.never_streamed, ["incident_resolved"]);
        events.push(received(43 * S, IncidentResolved, 4));
        let judged = sse(&scenario, &events, &edits);
        assert_eq!((judged.missed, judged.never_streamed.len()), (0, 0));
        let resolved = judged.latency(IncidentResolved).unwrap();
        assert!((resolved.max_ms - 3_000.0).abs() < 3.0, "{resolved:?}");
    }

    #[test]
    fn each_type_counts_what_the_hubs_pushed_and_viewers_received_and_heartbeats_are_timed_from_their_push() {
        // Goal: pushed comes from the hubs' reports, delivered from the viewers' (a repeat counts
        // again); a heartbeat is timed from the latest push of its number by its own hub (cdn-b's
        // heartbeat 1 is not cdn-a's, and a hub restarted numbers from 1 again); a type nobody
        // pushed has no latency sample.
        use SseEventKind::*;
        let scenario = Scenario::parse("t.toml", "name = \"t\"\nduration = \"10m\"\n[status]\n").unwrap();
        let hub = |t_us, cdn: &str, event| Event { t_us, node: Rc::from(cdn), record: Record::Node(event) };
        let beat = |t_us, cdn: &str, seq| at(t_us, HarnessEvent::SseHeartbeat { viewer: 9, cdn: cdn.into(), seq });
        let events = vec![
            at(S, HarnessEvent::SseConnected { viewer: 9, cdn: "cdn-a".into(), resumed: false }),
            hub(10 * S, "cdn-a", NodeEvent::SsePushed { kind: TimelineUpdate }),
            received(10 * S + 20_000, TimelineUpdate, 1),
            received(10 * S + 30_000, TimelineUpdate, 1),
            hub(30 * S, "cdn-a", NodeEvent::SseHeartbeat { seq: 1 }),
            hub(30 * S, "cdn-b", NodeEvent::SseHeartbeat { seq: 1 }),
            beat(30 * S + 15_000, "cdn-a", 1),
            hub(60 * S, "cdn-a", NodeEvent::SseHeartbeat { seq: 1 }),
            beat(60 * S + 40_000, "cdn-a", 1),
            beat(61 * S, "cdn-c", 7),
        ];
        let sse = sse(&scenario, &events, &[update(1, 10 * S)]);
        let timeline = &sse.kinds["timeline_update"];
        assert_eq!((timeline.pushed, timeline.delivered, timeline.latency.count), (1, 2, 1));
        let status = &sse.kinds["component_status_changed"];
        assert_eq!((status.pushed, status.delivered, status.latency.count), (0, 0, 0));
        let beats = &sse.heartbeats;
        assert_eq!((beats.pushed, beats.delivered, beats.latency.count), (3, 3, 2), "{beats:?}");
        assert!((beats.latency.max_ms - 40.0).abs() < 0.1, "timed from the latest push of seq 1: {beats:?}");
    }

    #[test]
    fn a_notification_never_received_is_lost_once_its_deadline_passed() {
        // `status-notification-burst` seed 2 left a webhook undelivered for 25 minutes as
        // "pending" because the pipeline still held it in retry; a notifier crash dropped 360
        // queued jobs the same way. Now the endpoint decides: not received past the deadline is
        // lost, whatever the pipeline says; received past it is late.
        let s = one_subscriber();
        let (early, last) = (update(1, 10 * S), update(2, 1_490 * S));
        let retrying = NodeEvent::DeliveryFailed {
            key: "k".into(),
            event: event_id(&early.stamp),
            subscriber: 1,
            channel: "webhook".into(),
            attempt: 0,
            reason: "down".into(),
            retry_in_ms: Some(60_000),
        };
        let events = vec![
            node(20 * S, retrying),
            delivered(11 * S, &early, 1, "email"),
            delivered(1_491 * S, &last, 1, "email"),
            delivered(1_492 * S, &last, 1, "webhook"),
            ended(1_500 * S),
        ];
        let n = judge(&events, &[update(1, 10 * S), last], &s);
        assert_eq!((n.expected, n.lost, n.pending, n.late), (4, 1, 0, 0));
        let (webhook, email) = (&n.channels["webhook"], &n.channels["email"]);
        assert_eq!((webhook.expected, webhook.delivered, webhook.lost, webhook.latency.count), (2, 1, 1, 1));
        assert_eq!((email.expected, email.delivered, email.lost, email.latency.count), (2, 2, 0, 2));
        let events =
            vec![delivered(11 * S, &early, 1, "email"), delivered(400 * S, &early, 1, "webhook"), ended(500 * S)];
        let n = judge(&events, &[update(1, 10 * S), update(2, 450 * S)], &s);
        assert_eq!((n.expected, n.lost, n.pending, n.late), (4, 0, 2, 1));
    }

    #[test]
    fn the_rate_limit_is_judged_as_received() {
        // After a notifier restart a subscriber received 17-18 notifications in 3.5 minutes,
        // while the pipeline's own counts said it kept to 10 an hour. Counted at the endpoint,
        // the 11th and later within an hour are over the limit; a later update the endpoint did
        // not get is excused only because it had received its 10 in the hour before.
        let s = one_subscriber();
        let edits: Vec<AckedEdit> = (1..=13).map(|w| update(w, w * 10 * S)).collect();
        let mut events: Vec<Event> = edits.iter().map(|e| delivered(e.t_us + S, e, 1, "email")).collect();
        events.extend(edits[..10].iter().map(|e| delivered(e.t_us + S, e, 1, "webhook")));
        events.push(ended(3_000 * S));
        let n = judge(&events, &edits, &s);
        assert_eq!((n.over_rate_limit, n.rate_limited, n.lost), (3, 3, 0));
    }

    #[test]
    fn a_second_key_for_one_update_is_a_duplicate_and_the_same_key_again_a_redelivery() {
        // The receiver drops a key it has seen (a redelivery, harmless); the same update under
        // another key reaches the person twice (a duplicate). Both arrive; neither is lost.
        let s = one_subscriber();
        let edit = update(1, 10 * S);
        let event = event_id(&edit.stamp);
        let again = delivered(12 * S, &edit, 1, "email");
        let other_key = at(
            13 * S,
            HarnessEvent::Delivered { key: "another".into(), event, subscriber: 1, channel: "email".into() },
        );
        let events = vec![
            delivered(11 * S, &edit, 1, "email"),
            again,
            other_key,
            delivered(11 * S, &edit, 1, "webhook"),
            ended(1_000 * S),
        ];
        let n = judge(&events, &[edit], &s);
        assert_eq!((n.expected, n.delivered, n.duplicates, n.redeliveries, n.lost), (2, 4, 1, 1, 0));
        assert_eq!(n.latency.count, 2, "latency is the first acceptance of each, once");
    }

    #[test]
    fn only_an_update_the_pipeline_folded_and_never_queued_is_excused() {
        // The dedup-key window may fold an update into an earlier one: then nobody expects it.
        // An update the pipeline queued and then reported as folded is still expected, so a
        // pipeline cannot excuse what it dropped by saying it folded it.
        let s = one_subscriber();
        let (first, folded) = (update(1, 10 * S), update(2, 20 * S));
        let taken = |edit: &AckedEdit, outcome| {
            node(edit.t_us, NodeEvent::NoticeTaken { event: event_id(&edit.stamp), outcome })
        };
        let mut events = vec![
            taken(&first, NoticeOutcome::Queued),
            delivered(11 * S, &first, 1, "email"),
            delivered(11 * S, &first, 1, "webhook"),
            taken(&folded, NoticeOutcome::DedupWindow),
            ended(1_000 * S),
        ];
        let n = judge(&events, &[update(1, 10 * S), update(2, 20 * S)], &s);
        assert_eq!((n.expected, n.lost, n.folded_by_dedup_window), (2, 0, 1));
        events.insert(0, taken(&folded, NoticeOutcome::Queued));
        let n = judge(&events, &[first, folded], &s);
        assert_eq!((n.expected, n.lost, n.folded_by_dedup_window), (4, 2, 0));
    }

    #[test]
    fn critical_and_other_updates_have_their_own_latency() {
        // The pipeline queues critical updates first; the figures keep the two apart so a
        // priority inversion shows.
        let s = one_subscriber();
        let critical = AckedEdit { critical: true, ..update(1, 10 * S) };
        let other = update(2, 10 * S + 1_000);
        let events = vec![
            delivered(11 * S, &critical, 1, "email"),
            delivered(11 * S, &critical, 1, "webhook"),
            delivered(70 * S, &other, 1, "email"),
            delivered(70 * S, &other, 1, "webhook"),
            ended(1_000 * S),
        ];
        let n = judge(&events, &[critical, other], &s);
        assert_eq!((n.latency_critical.count, n.latency_other.count, n.latency.count), (2, 2, 4));
        assert!(n.latency_critical.max_ms < 1_100.0 && n.latency_other.max_ms > 59_000.0, "{n:?}");
    }
}
