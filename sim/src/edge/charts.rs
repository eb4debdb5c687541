//! The chart data of one run, computed from its event log: a timeline of lanes (one per host) with
//! marks (time, kind, label) and spans (a host down, a host cut off), latency distributions per
//! region at fixed quantiles, and replication lag over time per region (for a status page run,
//! `status::charts` adds its own marks and the staleness of pages over time). It is compact and
//! serializable, so `summary.json` carries it and `merge` can draw what the shards ran
//! (`html`, `svg`). The lane model is generic: a lane is a host name, a mark or span names its lane.

use std::collections::BTreeMap;

use edgesim_system::telemetry::NodeEvent;
use serde::{Deserialize, Serialize};

use crate::edge::check::request::RequestRecord;
use crate::edge::lag::Lag;
use crate::edge::metrics::{Latency, Recorder};
use crate::edge::timeline::FailoverFigures;
use crate::events::{Event, HarnessEvent, Record, RequestOutcome};
use crate::scenario::Action;
use crate::units::ms;

/// The quantiles at which latency distributions are kept (0 is the minimum, 1 the maximum).
pub(crate) const QUANTILES: [f64; 12] = [0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0];

/// At most this many time buckets in the lag chart, and in the timeline's request-outcome marks.
const BUCKETS: u64 = 120;

/// What a mark or a span shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkKind {
    /// A host stopped (crash, silent crash); as a span, the time it was down.
    Down,
    /// A host's software started again.
    Up,
    /// A partition or hold began; as a span, the time a host was cut off from some peers.
    Cut,
    /// A partition or hold was lifted.
    Heal,
    /// Any other fault (latency, loss).
    Fault,
    /// A health check missed, a failure confirmed, a recovery.
    Health,
    /// Fencing, promotion, the first write of a new generation, a failover found impossible.
    Failover,
    /// A node changed role.
    Role,
    /// A follower detected a gap or rebuilt from a snapshot.
    Repair,
    /// Requests that ended in an error, or input a node refused.
    Error,
    /// Requests that timed out.
    Timeout,
    /// Status page views a degraded tier answered.
    Degraded,
}

impl MarkKind {
    pub const ALL: [MarkKind; 12] = [
        MarkKind::Down,
        MarkKind::Up,
        MarkKind::Cut,
        MarkKind::Heal,
        MarkKind::Fault,
        MarkKind::Health,
        MarkKind::Failover,
        MarkKind::Role,
        MarkKind::Repair,
        MarkKind::Error,
        MarkKind::Timeout,
        MarkKind::Degraded,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MarkKind::Down => "down",
            MarkKind::Up => "up",
            MarkKind::Cut => "cut",
            MarkKind::Heal => "heal",
            MarkKind::Fault => "fault",
            MarkKind::Health => "health",
            MarkKind::Failover => "failover",
            MarkKind::Role => "role",
            MarkKind::Repair => "repair",
            MarkKind::Error => "error",
            MarkKind::Timeout => "timeout",
            MarkKind::Degraded => "degraded",
        }
    }

    /// The kind of mark a fault makes, by its typed kind.
    fn of_fault(action: &Action) -> MarkKind {
        match action {
            Action::Crash { .. } | Action::SilentCrash { .. } => MarkKind::Down,
            Action::Restart { .. } => MarkKind::Up,
            Action::Partition { .. } | Action::Hold { .. } => MarkKind::Cut,
            Action::Repair { .. } | Action::Release { .. } | Action::Heal => MarkKind::Heal,
            Action::Latency { .. } | Action::Loss { .. } => MarkKind::Fault,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mark {
    pub at_ms: u64,
    pub lane: String,
    pub kind: MarkKind,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Span {
    pub from_ms: u64,
    pub to_ms: u64,
    pub lane: String,
    pub kind: MarkKind,
    pub label: String,
}

/// A key moment of the story, labelled above the timeline (the loss of the primary, its
/// confirmation, the promotion, routing, the first write; a CDN's loss and the DNS's verdicts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Moment {
    pub at_ms: u64,
    pub label: String,
}

/// A time users felt an outage (writes unavailable; a host of the page's path down), shaded across
/// the timeline and the charts under it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    pub from_ms: u64,
    pub to_ms: u64,
    pub label: String,
}

/// A status page run's own figures over time (`status::charts`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusCharts {
    /// The scenario's CDNs, in its order (the DNS chart's lanes).
    pub cdns: Vec<String>,
    /// Per tier that answered (and `unanswered`), how many views ended in each bucket.
    pub tiers: BTreeMap<String, Vec<u64>>,
    /// Per viewer host, the worst time to first byte in milliseconds of a view answered in each
    /// bucket; `None`: none answered.
    pub ttfb: BTreeMap<String, Vec<Option<f64>>>,
    /// Per CDN, the times the DNS held it unhealthy.
    pub dns_unhealthy: BTreeMap<String, Vec<Outage>>,
    /// Per channel, what became of the notifications sent on it.
    pub notifications: BTreeMap<String, ChannelDeliveries>,
    /// Per SSE message type (the event types, then `heartbeat`), as `status::delivery` judged it.
    #[serde(default)]
    pub sse: Vec<SseDeliveries>,
}

/// One SSE message type: sent by the hubs, received by live viewers, and delivery latency in
/// milliseconds at p50, p99 and max (`None` without a sample).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SseDeliveries {
    pub kind: String,
    pub pushed: u64,
    pub delivered: u64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub latency_max_ms: Option<f64>,
}

/// Notifications on one channel, as the endpoints and the pipeline recorded them, and as judged
/// (`status::delivery`: lost, duplicates, pending at the end, latency).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelDeliveries {
    pub accepted: u64,
    pub failed_attempts: u64,
    pub given_up: u64,
    pub rate_limited: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub pending: u64,
    /// Not sent: the operators suppressed the update.
    pub suppressed: u64,
    /// Deliveries the channel's provider answered "slow down" to.
    pub slowed_down: u64,
    /// Subscribers told their endpoint on this channel was unreachable.
    pub told_unreachable: u64,
    /// Delivery latency in milliseconds; `None` without a sample.
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    /// The channel provider's limit a second (`None`: none), and the most deliveries its
    /// endpoints accepted within one second (`status::rates`).
    #[serde(default)]
    pub per_second_limit: Option<u64>,
    #[serde(default)]
    pub worst_per_second: u64,
}

/// Latency in milliseconds at each of `QUANTILES`; empty when there was no sample.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Distributions {
    pub read: Vec<f64>,
    pub write: Vec<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Charts {
    /// Simulated length of the run.
    pub end_ms: u64,
    /// Lanes top to bottom: host names.
    pub lanes: Vec<String>,
    pub spans: Vec<Span>,
    pub marks: Vec<Mark>,
    /// Per region, as its clients saw it.
    pub latency: BTreeMap<String, Distributions>,
    pub lag_bucket_ms: u64,
    /// Per series (a region's PoP replicas, the standby), the highest replication lag in
    /// milliseconds of a frame applied in each bucket; `None`: nothing applied.
    pub lag: BTreeMap<String, Vec<Option<f64>>>,
    /// Status page runs: per viewer host, the highest staleness in milliseconds of a page viewed
    /// in each bucket; `None`: no page with content viewed.
    #[serde(default)]
    pub staleness: BTreeMap<String, Vec<Option<f64>>>,
    /// Edge platform runs: per region and operation (`us-east read`), the worst latency in
    /// milliseconds of a request answered in each bucket; `None`: none answered.
    #[serde(default)]
    pub latency_over_time: BTreeMap<String, Vec<Option<f64>>>,
    #[serde(default)]
    pub moments: Vec<Moment>,
    #[serde(default)]
    pub outages: Vec<Outage>,
    /// Status page runs' own figures.
    #[serde(default)]
    pub status: Option<StatusCharts>,
    /// Edge platform runs under `[anycast]`: where the requests went over time (`edge::routes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anycast: Option<AnycastChart>,
}

/// Where anycast sent the requests: per PoP, the requests that started in each bucket
/// (`lag_bucket_ms`), and each route change as a moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnycastChart {
    pub requests: BTreeMap<String, Vec<u64>>,
    pub routes: Vec<Moment>,
}

/// The chart data of a run whose hosts are `lanes`, from the events it kept (`Observed::kept`),
/// its end, its kept requests (acknowledged writes and failures, in start order), its latency
/// recorders and the lag of its applied frames.
pub fn of(
    lanes: Vec<String>,
    events: &[Event],
    end_us: u64,
    requests: &[RequestRecord],
    latency: &Latency,
    lag: &Lag,
) -> Charts {
    let bucket_ms = (end_us / 1000).div_ceil(BUCKETS).max(1000);
    let mut marks = node_marks(events);
    marks.extend(request_marks(requests, bucket_ms));
    marks.sort_by(|a, b| (a.at_ms, &a.lane, a.kind).cmp(&(b.at_ms, &b.lane, b.kind)));
    Charts {
        end_ms: end_us / 1000,
        spans: spans(events, end_us / 1000),
        lanes,
        marks,
        latency: distributions(latency),
        lag_bucket_ms: bucket_ms,
        lag: lag.buckets(bucket_ms, end_us),
        staleness: BTreeMap::new(),
        latency_over_time: over_time(latency, bucket_ms, end_us),
        moments: Vec::new(),
        outages: Vec::new(),
        status: None,
        anycast: None,
    }
}

/// Per region and operation, the worst latency of each bucket, from the worst of each second.
fn over_time(latency: &Latency, bucket_ms: u64, end_us: u64) -> BTreeMap<String, Vec<Option<f64>>> {
    let buckets = (end_us / 1000 / bucket_ms + 1) as usize;
    let per_bucket = (bucket_ms / 1000).max(1) as usize;
    let mut lines = BTreeMap::new();
    for (region, seconds) in latency.per_second() {
        for (op, name) in [(0, "read"), (1, "write")] {
            let mut line = vec![None; buckets];
            for (slot, chunk) in seconds.chunks(per_bucket).enumerate() {
                let worst = chunk.iter().map(|s| s[op]).max().filter(|w| *w > 0);
                if let (Some(cell), Some(w)) = (line.get_mut(slot), worst) {
                    *cell = Some(ms(w));
                }
            }
            if line.iter().any(Option::is_some) {
                lines.insert(format!("{region} {name}"), line);
            }
        }
    }
    lines
}

/// The key moments of a primary's loss and the time writes were unavailable, from its failover
/// figures (seconds from the loss) on a run that ended at `end_ms`.
pub(crate) fn failover_story(charts: &mut Charts, f: &FailoverFigures) {
    let loss_ms = (f.loss_at_s * 1e3).round() as u64;
    let after = |s: f64| loss_ms + (s * 1e3).round() as u64;
    let steps = [
        (Some(0.0), "primary lost".to_string()),
        (f.confirmed_s, "failure confirmed".into()),
        (f.promoted_s, "standby promoted".into()),
        (f.routing_s, "routing updated".into()),
        (f.failover_s, "first write on the new primary".into()),
    ];
    charts.moments.extend(steps.into_iter().filter_map(|(s, label)| {
        let s = s?;
        Some(Moment { at_ms: after(s), label: format!("T+{s:.1}s {label}") })
    }));
    let (to_ms, label) = match f.writes_resumed_s {
        Some(s) => (after(s), format!("writes unavailable for {s:.1}s")),
        None => (charts.end_ms, "writes unavailable to the end".into()),
    };
    charts.outages.push(Outage { from_ms: loss_ms, to_ms: to_ms.max(loss_ms), label });
}

/// Faults, on every host they name, and what nodes reported of roles, health and repair.
fn node_marks(events: &[Event]) -> Vec<Mark> {
    let mut marks = Vec::new();
    for e in events {
        let mark = |lane: &str, kind, label: String| Mark { at_ms: e.t_us / 1000, lane: lane.into(), kind, label };
        match &e.record {
            Record::Harness(HarnessEvent::Fault { fault, hosts, action, .. }) => {
                marks.extend(hosts.iter().map(|h| mark(h, MarkKind::of_fault(action), fault.clone())));
            }
            Record::Node(n) => {
                let (kind, label) = match n {
                    NodeEvent::RoleChanged { role, generation, reason } => {
                        (MarkKind::Role, format!("becomes {role:?} (generation {generation}): {reason}"))
                    }
                    NodeEvent::HealthMissed { primary, misses, of, .. } => {
                        (MarkKind::Health, format!("health check of {primary} missed ({misses}/{of})"))
                    }
                    NodeEvent::HealthRecovered { primary } => (MarkKind::Health, format!("{primary} answers again")),
                    NodeEvent::FailureConfirmed { primary } => {
                        (MarkKind::Health, format!("failure of {primary} confirmed"))
                    }
                    NodeEvent::Fenced { generation, .. } => {
                        (MarkKind::Failover, format!("generation {generation} fenced"))
                    }
                    NodeEvent::Promoted { host, generation } => {
                        (MarkKind::Failover, format!("{host} promoted as generation {generation}"))
                    }
                    NodeEvent::PromotionImpossible { reason } => {
                        (MarkKind::Failover, format!("failover impossible: {reason}"))
                    }
                    NodeEvent::GapDetected { from, to } => {
                        (MarkKind::Repair, format!("gap {from}..={to} re-requested"))
                    }
                    NodeEvent::SnapshotRestored { lsn, .. } => {
                        (MarkKind::Repair, format!("rebuilt from a snapshot at {lsn}"))
                    }
                    NodeEvent::Rejected { peer, problem } => {
                        (MarkKind::Error, format!("refused input from {peer}: {problem}"))
                    }
                    _ => continue,
                };
                marks.push(mark(&e.node, kind, label));
            }
            Record::Harness(_) => {}
        }
    }
    marks
}

/// Errors and timeouts per client host and time bucket, and the first write each newer
/// generation acknowledged.
fn request_marks(requests: &[RequestRecord], bucket_ms: u64) -> Vec<Mark> {
    let mut failed: BTreeMap<(u64, &str, MarkKind), (usize, &str)> = BTreeMap::new();
    let mut generations = BTreeMap::new();
    for r in requests {
        let bucket = r.end_us / 1000 / bucket_ms * bucket_ms;
        let (kind, message) = match &r.outcome {
            RequestOutcome::Error { message } => (MarkKind::Error, message.as_str()),
            RequestOutcome::Shed { .. } => (MarkKind::Error, "shed: too many requests waited for workers"),
            RequestOutcome::Timeout => (MarkKind::Timeout, ""),
            RequestOutcome::Write { generation, .. } if *generation > 1 => {
                let first = generations.entry(*generation).or_insert((r.end_us, r.client.as_str()));
                *first = (*first).min((r.end_us, r.client.as_str()));
                continue;
            }
            _ => continue,
        };
        failed.entry((bucket, r.client.as_str(), kind)).or_insert((0, message)).0 += 1;
    }
    let failed = failed.into_iter().map(|((at_ms, lane, kind), (n, message))| {
        let what = match (kind, n) {
            (MarkKind::Error, 1) => format!("error: {}", reason(message)),
            (MarkKind::Error, _) => format!("errors, the first: {}", reason(message)),
            (_, 1) => "timeout".into(),
            _ => "timeouts".into(),
        };
        Mark { at_ms, lane: lane.into(), kind, label: format!("{n} {what} in {}s", bucket_ms / 1000) }
    });
    let firsts = generations.into_iter().map(|(generation, (at_us, lane))| Mark {
        at_ms: at_us / 1000,
        lane: lane.into(),
        kind: MarkKind::Failover,
        label: format!("first write acknowledged by generation {generation}"),
    });
    failed.chain(firsts).collect()
}

/// An error message as a reader takes it: a node names its peer by role and host, which reads
/// twice over when the host is named for its role (`primary primary: i/o error` becomes
/// `primary: i/o error`).
fn reason(message: &str) -> &str {
    let mut words = message.splitn(3, ' ');
    match (words.next(), words.next()) {
        (Some(role), Some(host)) if host.trim_end_matches(':') == role => &message[role.len() + 1..],
        _ => message,
    }
}

/// Times a host was down (crash to restart) or cut off (partition or hold to repair or release).
fn spans(events: &[Event], end_ms: u64) -> Vec<Span> {
    let mut open: BTreeMap<(String, MarkKind), (u64, String)> = BTreeMap::new();
    let mut spans = Vec::new();
    let mut close = |open: &mut BTreeMap<_, _>, lane: &str, kind, to_ms| {
        if let Some((from_ms, label)) = open.remove(&(lane.to_string(), kind)) {
            spans.push(Span { from_ms, to_ms, lane: lane.into(), kind, label });
        }
    };
    for e in events {
        let Record::Harness(HarnessEvent::Fault { fault, hosts, action, .. }) = &e.record else { continue };
        let at_ms = e.t_us / 1000;
        for host in hosts {
            match MarkKind::of_fault(action) {
                kind @ (MarkKind::Down | MarkKind::Cut) => {
                    open.entry((host.clone(), kind)).or_insert((at_ms, fault.clone()));
                }
                MarkKind::Up => close(&mut open, host, MarkKind::Down, at_ms),
                MarkKind::Heal => close(&mut open, host, MarkKind::Cut, at_ms),
                _ => {}
            }
        }
    }
    for (lane, kind) in open.keys().cloned().collect::<Vec<_>>() {
        close(&mut open, &lane, kind, end_ms);
    }
    spans.sort_by(|a, b| (a.from_ms, &a.lane, a.kind).cmp(&(b.from_ms, &b.lane, b.kind)));
    spans
}

fn distributions(latency: &Latency) -> BTreeMap<String, Distributions> {
    let at_quantiles = |r: &Recorder| QUANTILES.iter().filter_map(|q| r.quantile_us(*q)).map(ms).collect();
    latency
        .recorders()
        .map(|(region, reads, writes)| {
            (region.to_string(), Distributions { read: at_quantiles(reads), write: at_quantiles(writes) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::check::request::fixtures::{read, write};

    fn event(t_us: u64, node: &str, record: Record) -> Event {
        Event { t_us, node: node.into(), record }
    }

    /// The charts of a run of `events` and `requests`, ending at `end_us`.
    fn charts(lanes: Vec<String>, events: Vec<Event>, end_us: u64, requests: &[RequestRecord]) -> Charts {
        let mut observed = crate::observed::Observed::default();
        events.into_iter().for_each(|e| observed.event(e));
        let mut latency = Latency::default();
        requests.iter().for_each(|r| latency.request(r));
        of(lanes, &observed.kept, end_us, requests, &latency, &observed.replication.chart)
    }

    fn fault(t_us: u64, action: Action) -> Event {
        event(t_us, "harness", Record::Harness(HarnessEvent::fault(1, &action)))
    }

    fn hosts(names: &[&str]) -> Vec<String> {
        names.iter().map(|h| h.to_string()).collect()
    }

    #[test]
    fn faults_mark_every_host_they_name_and_open_spans_until_healed() {
        let events = vec![
            fault(1_000_000, Action::Crash { host: "pop-a-1".into() }),
            fault(2_000_000, Action::Partition { a: hosts(&["dist-a"]), b: hosts(&["primary"]), oneway: false }),
            fault(3_000_000, Action::Restart { host: "pop-a-1".into() }),
            fault(4_000_000, Action::Repair { a: hosts(&["dist-a"]), b: hosts(&["primary"]), oneway: false }),
            fault(5_000_000, Action::SilentCrash { host: "standby".into() }),
            event(9_000_000, "control", Record::Node(NodeEvent::Promoted { host: "standby".into(), generation: 2 })),
        ];
        let c = charts(vec!["primary".into()], events, 9_000_000, &[]);
        assert_eq!(c.end_ms, 9000);
        let kinds: Vec<_> = c.marks.iter().map(|m| (m.at_ms, m.lane.as_str(), m.kind)).collect();
        assert_eq!(
            kinds[..3],
            [(1000, "pop-a-1", MarkKind::Down), (2000, "dist-a", MarkKind::Cut), (2000, "primary", MarkKind::Cut)]
        );
        assert_eq!(c.marks.last().unwrap().label, "standby promoted as generation 2");
        let spans: Vec<_> = c.spans.iter().map(|s| (s.from_ms, s.to_ms, s.lane.as_str(), s.kind)).collect();
        assert_eq!(
            spans,
            [
                (1000, 3000, "pop-a-1", MarkKind::Down),
                (2000, 4000, "dist-a", MarkKind::Cut),
                (2000, 4000, "primary", MarkKind::Cut),
                (5000, 9000, "standby", MarkKind::Down)
            ]
        );
    }

    #[test]
    fn failed_requests_are_counted_per_client_and_bucket() {
        let mut failed = write(1, 1, 1, 1_500_000, false);
        failed.end_us = 1_600_000;
        let mut also = write(2, 2, 1, 1_700_000, false);
        also.end_us = 1_800_000;
        let mut acked = write(3, 1, 2, 5_000_000, true);
        acked.outcome = RequestOutcome::Write { lsn: 9, generation: 2 };
        let c = charts(vec![], vec![], 6_000_001, &[failed, also, acked, read(4, 1, "k", &[1, 2], None, 6_000_000)]);
        let labels: Vec<_> = c.marks.iter().map(|m| (m.at_ms, m.kind, m.label.as_str())).collect();
        assert_eq!(
            labels,
            [
                (1000, MarkKind::Timeout, "2 timeouts in 1s"),
                (5000, MarkKind::Failover, "first write acknowledged by generation 2")
            ]
        );
        assert_eq!(c.latency["a"].read.len(), QUANTILES.len());
        assert_eq!(c.latency["a"].write, vec![0.0; QUANTILES.len()], "1 us rounds to 0.0 ms");
    }

    #[test]
    fn an_error_mark_reads_as_a_person_would_write_it() {
        assert_eq!(reason("primary primary: i/o error: no response"), "primary: i/o error: no response");
        assert_eq!(reason("primary primary unreachable: timed out"), "primary unreachable: timed out");
        assert_eq!(reason("primary standby: refused"), "primary standby: refused");
        let mut failed = write(1, 1, 1, 1_500_000, false);
        failed.outcome = RequestOutcome::Error { message: "primary primary: i/o error".into() };
        failed.end_us = 1_600_000;
        let c = charts(vec![], vec![], 2_000_000, &[failed]);
        assert_eq!(c.marks[0].label, "1 error: primary: i/o error in 1s");
    }

    #[test]
    fn lag_keeps_the_worst_frame_of_each_bucket_per_region() {
        let commit = |t, lsn| {
            let e = NodeEvent::Committed { lsn, generation: 1, session: 1, seq: lsn, payload_bytes: 1 };
            event(t, "primary", Record::Node(e))
        };
        let apply = |t, node, lsn| event(t, node, Record::Node(NodeEvent::Applied { lsn, generation: 1 }));
        let events = vec![
            commit(0, 1),
            apply(20_000, "pop-eu-west-1", 1),
            apply(30_000, "standby", 1),
            commit(100_000, 2),
            apply(150_000, "pop-eu-west-2", 2),
            apply(150_000, "pop-eu-west-1", 2),
            apply(2_500_000, "pop-us-1", 2),
        ];
        let c = charts(vec![], events, 2_500_000, &[]);
        assert_eq!(c.lag_bucket_ms, 1000);
        assert_eq!(c.lag["eu-west"], vec![Some(50.0), None, None]);
        assert_eq!(c.lag["standby"], vec![Some(30.0), None, None]);
        assert_eq!(c.lag["us"], vec![None, None, Some(2400.0)]);
    }
}
