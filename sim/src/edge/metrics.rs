//! Figures folded from the event log with hdrhistogram (docs/DESIGN.md, Metrics):
//! request latency per region as clients saw it, and replication lag per replica, in time (applied
//! minus committed) and in frames behind the primary.

use std::collections::BTreeMap;
use std::rc::Rc;

use edgesim_system::edge::proto::ReadPath;
use edgesim_system::telemetry::{NodeEvent, NodeRole};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::edge::check::request::RequestRecord;
use crate::edge::history::History;
use crate::edge::lag::Lag;
use crate::events::{Event, HarnessEvent, Record, RequestOp, RequestOutcome};
use crate::scenario::roles::EdgeRole;

/// A latency distribution in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// A distribution as the readable reports write it; `-` when it has no sample.
pub(crate) fn fmt_summary(s: &Summary) -> String {
    if s.count == 0 {
        return "-".into();
    }
    format!("p50 {:>7.1}  p99 {:>7.1}  max {:>7.1} ms  (n={})", s.p50_ms, s.p99_ms, s.max_ms, s.count)
}

/// Collects microsecond samples from 1 us to a day at three significant figures. The histogram
/// grows with the largest sample instead of holding a day's buckets from the start: a run keeps
/// one per replica and region, and zeroing ~220 KiB for each was a fifth of a 123-host run.
pub struct Recorder(Histogram<u64>);

/// The largest sample kept as itself; larger ones are recorded as this.
const RECORDER_MAX_US: u64 = 24 * 3_600_000_000;

impl Default for Recorder {
    fn default() -> Self {
        Recorder(Histogram::new(3).expect("three significant figures are valid"))
    }
}

impl Recorder {
    pub fn record(&mut self, us: u64) {
        self.0.record(us.clamp(1, RECORDER_MAX_US)).expect("a growing histogram takes any sample up to a day");
    }
    /// How many samples are at or above `us` (as the histogram's buckets resolve it).
    pub(crate) fn at_least(&self, us: u64) -> u64 {
        let us = us.max(1);
        if self.0.is_empty() || us > self.0.highest_equivalent(self.0.max()) {
            return 0;
        }
        self.0.count_between(us, self.0.max().max(us))
    }
    /// The value at quantile `q` in microseconds; `None` without samples.
    pub(crate) fn quantile_us(&self, q: f64) -> Option<u64> {
        (!self.0.is_empty()).then(|| self.0.value_at_quantile(q))
    }
    pub fn summary(&self) -> Summary {
        let ms = |us: u64| us as f64 / 1000.0;
        if self.0.is_empty() {
            return Summary::default();
        }
        Summary {
            count: self.0.len(),
            p50_ms: ms(self.0.value_at_quantile(0.5)),
            p99_ms: ms(self.0.value_at_quantile(0.99)),
            max_ms: ms(self.0.max()),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RegionLatency {
    pub read: Summary,
    pub write: Summary,
    /// Requests answered with an error, shed ones included.
    pub errors: u64,
    /// Requests turned away because too many waited for a PoP's isolates or the primary's workers.
    pub shed: u64,
    pub timeouts: u64,
    /// How reads were served: from the replica at once, after waiting for it, by the primary.
    pub reads_local: u64,
    pub reads_after_wait: u64,
    pub reads_primary: u64,
}

/// Request latency per region (the client host's), folded as requests end, and the worst read
/// and write latency per region in each second of the run (microseconds; the latency chart).
#[derive(Default)]
pub struct Latency(BTreeMap<String, (Recorder, Recorder, RegionLatency)>, BTreeMap<String, Vec<[u64; 2]>>);

impl Latency {
    pub fn request(&mut self, r: &RequestRecord) {
        let (reads, writes, region) = self.0.entry(r.region().to_string()).or_default();
        let took = r.end_us - r.start_us;
        if matches!(r.outcome, RequestOutcome::Read { .. } | RequestOutcome::Write { .. }) {
            let seconds = self.1.entry(r.region().to_string()).or_default();
            let second = (r.end_us / 1_000_000) as usize;
            if seconds.len() <= second {
                seconds.resize(second + 1, [0, 0]);
            }
            let worst = &mut seconds[second][usize::from(r.op == RequestOp::Write)];
            *worst = (*worst).max(took);
        }
        match (&r.outcome, r.op) {
            (RequestOutcome::Read { path, .. }, _) => {
                reads.record(took);
                match path {
                    ReadPath::Local => region.reads_local += 1,
                    ReadPath::AfterWait => region.reads_after_wait += 1,
                    ReadPath::Primary => region.reads_primary += 1,
                }
            }
            (RequestOutcome::Write { .. }, _) => writes.record(took),
            (RequestOutcome::Error { .. }, _) => region.errors += 1,
            (RequestOutcome::Shed { .. }, _) => {
                region.errors += 1;
                region.shed += 1;
            }
            (RequestOutcome::Timeout, RequestOp::Read | RequestOp::Write) => region.timeouts += 1,
        }
    }

    /// Per region: its read and write latency recorders.
    pub(crate) fn recorders(&self) -> impl Iterator<Item = (&str, &Recorder, &Recorder)> {
        self.0.iter().map(|(region, (reads, writes, _))| (region.as_str(), reads, writes))
    }

    /// Per region, the worst read and write latency in microseconds of each second (0: none).
    pub(crate) fn per_second(&self) -> &BTreeMap<String, Vec<[u64; 2]>> {
        &self.1
    }

    pub fn summary(&self) -> BTreeMap<String, RegionLatency> {
        self.0
            .iter()
            .map(|(name, (reads, writes, region))| {
                (name.clone(), RegionLatency { read: reads.summary(), write: writes.summary(), ..region.clone() })
            })
            .collect()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReplicaLag {
    /// Every frame of the final history: applied (at the apply), delivered by a snapshot (at the
    /// restore), or never applied (censored at the end of the run).
    pub lag: Summary,
    pub max_frames_behind: u64,
    pub p99_frames_behind: u64,
    pub frames_by_snapshot: u64,
    /// Frames of the final history it had not applied when the run ended.
    pub frames_never_applied: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReplicationFigures {
    pub frames_committed: u64,
    /// Lag over every PoP replica.
    pub lag: Summary,
    pub standby_lag: Summary,
    pub replicas: BTreeMap<String, ReplicaLag>,
    /// Over every PoP replica: frames a snapshot delivered, and frames never applied by the end.
    pub frames_by_snapshot: u64,
    pub frames_never_applied: u64,
    /// Per database node other than the primary at the end (the standby, a former primary; up or
    /// down at the end): frames of the final history it did not hold when the run ended.
    pub standby_never_applied: BTreeMap<String, u64>,
    /// Their sum.
    pub standby_frames_never_applied: u64,
    pub batches_sent: u64,
    pub payload_bytes: u64,
    pub wire_bytes: u64,
    pub gaps_detected: u64,
    pub snapshots_restored: u64,
    pub reconnects: u64,
    pub rejected_inputs: u64,
}

/// How often frames-behind, and the age of the oldest frame a replica has not applied, are sampled.
const SAMPLE_US: u64 = 100_000;

/// A follower's lag: its recorder, frames a snapshot delivered, frames never applied.
#[derive(Default)]
struct FollowerLag {
    lag: Recorder,
    by_snapshot: u64,
    never_applied: u64,
}

/// Replication figures, folded over every event (frames-behind is sampled on the clock the events
/// give). Commits are reported only by whichever node is primary at the time; PoP replicas are the
/// `pop-*` hosts, and every other follower (the standby, a primary that rejoined) counts as a
/// standby. Lag counts every frame of the final history at every PoP replica: when it applied it,
/// when a snapshot brought it (the restore time), or, never applied, as a censored sample of the
/// end of the run minus its commit. Frames of the final history the other database nodes (all but
/// the last to commit) did not hold at the end are counted per node. Also gathers the points of
/// the lag chart (`chart`).
pub struct ReplicationFold {
    out: ReplicationFigures,
    /// When each frame was committed, by (lsn, generation).
    committed_at: BTreeMap<(u64, u64), u64>,
    history: History,
    head: u64,
    /// The last frame each database node holds, as (lsn, generation): what a follower applied or
    /// restored, what a primary committed.
    held: BTreeMap<Rc<str>, (u64, u64)>,
    /// The node that committed the latest frame: the primary at the end, once the run has ended.
    committer: Option<Rc<str>>,
    all: Recorder,
    standby_lag: Recorder,
    followers: BTreeMap<Rc<str>, FollowerLag>,
    /// Lag over each region's PoP replicas.
    by_region: BTreeMap<String, Recorder>,
    behind: BTreeMap<Rc<str>, (Recorder, u64)>,
    next_sample: u64,
    pub chart: Lag,
}

impl Default for ReplicationFold {
    fn default() -> Self {
        ReplicationFold {
            out: ReplicationFigures::default(),
            committed_at: BTreeMap::new(),
            history: History::default(),
            head: 0,
            held: BTreeMap::new(),
            committer: None,
            all: Recorder::default(),
            standby_lag: Recorder::default(),
            followers: BTreeMap::new(),
            by_region: BTreeMap::new(),
            behind: BTreeMap::new(),
            next_sample: SAMPLE_US,
            chart: Lag::default(),
        }
    }
}

impl ReplicationFold {
    pub fn event(&mut self, e: &Event) {
        while e.t_us >= self.next_sample {
            self.sample(self.next_sample);
            self.next_sample += SAMPLE_US;
        }
        let event = match &e.record {
            Record::Node(event) => event,
            Record::Harness(HarnessEvent::RunEnded { .. }) => return self.ended(e.t_us),
            Record::Harness(_) => return,
        };
        let node = &e.node;
        match event {
            NodeEvent::Committed { lsn, generation, .. } => {
                self.committed_at.insert((*lsn, *generation), e.t_us);
                self.history.committed(*generation, *lsn);
                self.head = self.head.max(*lsn);
                self.out.frames_committed += 1;
                self.held.insert(node.clone(), (*lsn, *generation));
                self.committer = Some(node.clone());
            }
            NodeEvent::Started { role: NodeRole::Pop | NodeRole::Primary | NodeRole::Standby, lsn } => {
                let held = (*lsn, self.generation_at(*lsn));
                self.held.insert(node.clone(), held);
            }
            NodeEvent::Applied { lsn, generation } => {
                if let Some(t) = self.committed_at.get(&(*lsn, *generation)) {
                    self.record(node, e.t_us, e.t_us.saturating_sub(*t));
                }
                self.held.insert(node.clone(), (*lsn, *generation));
            }
            NodeEvent::SnapshotRestored { lsn, .. } => {
                self.out.snapshots_restored += 1;
                let generation = self.generation_at(*lsn);
                let held = self.held.get(node).copied().unwrap_or_default();
                let brought: Vec<u64> =
                    self.unheld(held, generation).take_while(|(at, _)| *at <= *lsn).map(|(_, t)| t).collect();
                for t in brought {
                    self.record(node, e.t_us, e.t_us.saturating_sub(t));
                    self.followers.entry(node.clone()).or_default().by_snapshot += 1;
                }
                self.held.insert(node.clone(), (*lsn, generation));
            }
            NodeEvent::BatchSent { payload_bytes, wire_bytes, .. }
                if !matches!(EdgeRole::of(node), Some(EdgeRole::Distributor { .. })) =>
            {
                self.out.batches_sent += 1;
                self.out.payload_bytes += *payload_bytes as u64;
                self.out.wire_bytes += *wire_bytes as u64;
            }
            NodeEvent::GapDetected { .. } => self.out.gaps_detected += 1,
            NodeEvent::Reconnecting { .. } => self.out.reconnects += 1,
            NodeEvent::Rejected { .. } => self.out.rejected_inputs += 1,
            _ => {}
        }
    }

    /// A frame reached `node` at `t_us`, `took_us` after its commit.
    fn record(&mut self, node: &Rc<str>, t_us: u64, took_us: u64) {
        self.chart.applied(node, t_us, took_us);
        if let Some(EdgeRole::Pop { region, .. }) = EdgeRole::of(node) {
            self.all.record(took_us);
            self.followers.entry(node.clone()).or_default().lag.record(took_us);
            self.by_region.entry(region.to_string()).or_default().record(took_us);
        } else {
            self.standby_lag.record(took_us);
        }
    }

    /// The generation of the frame at `lsn` in the newest history (0 for the empty history).
    fn generation_at(&self, lsn: u64) -> u64 {
        let of = self.history.newest().unwrap_or(0);
        self.committed_at
            .range((lsn, 0)..=(lsn, u64::MAX))
            .map(|((_, generation), _)| *generation)
            .rfind(|g| self.history.holds(*g, lsn, of))
            .unwrap_or(0)
    }

    /// The frames of generation `of`'s history, in LSN order as (lsn, commit time), that a
    /// follower whose last frame is `held` does not hold: those past it, and those of a generation
    /// newer than its own (they replaced what it holds at their positions).
    fn unheld(&self, held: (u64, u64), of: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        let (lsn, generation) = held;
        let from = self.history.forked_after(generation).map_or(lsn + 1, |fork| fork.min(lsn + 1));
        self.committed_at
            .range((from, 0)..)
            .filter(move |((at, g), _)| self.history.holds(*g, *at, of) && (*at > lsn || *g > generation))
            .map(|((at, _), t)| (*at, *t))
    }

    /// Frames behind, and the age of the oldest frame each PoP replica has not applied, at `t_us`.
    fn sample(&mut self, t_us: u64) {
        let of = self.history.newest().unwrap_or(0);
        let mut oldest = Vec::new();
        for (node, held) in self.held.iter().filter(|(node, _)| EdgeRole::is_pop(node)) {
            let (rec, max) = self.behind.entry(node.clone()).or_default();
            let b = self.head.saturating_sub(held.0);
            rec.0.saturating_record(b);
            *max = (*max).max(b);
            if let Some((_, t)) = self.unheld(*held, of).next() {
                oldest.push((node.clone(), t_us.saturating_sub(t)));
            }
        }
        for (node, age) in oldest {
            self.chart.applied(&node, t_us, age);
        }
    }

    /// The run ended at `t_us`: every frame of the final history a PoP replica never applied is a
    /// censored sample of its lag, at least the end minus its commit; the frames every other
    /// database node but the primary at the end did not hold are counted.
    fn ended(&mut self, t_us: u64) {
        let of = self.history.newest().unwrap_or(0);
        for (node, held) in &self.held {
            if !EdgeRole::is_pop(node) && Some(node) != self.committer.as_ref() {
                let missing = self.unheld(*held, of).count() as u64;
                self.out.standby_never_applied.insert(node.to_string(), missing);
                self.out.standby_frames_never_applied += missing;
            }
        }
        let replicas: Vec<_> =
            self.held.iter().filter(|(node, _)| EdgeRole::is_pop(node)).map(|(n, h)| (n.clone(), *h)).collect();
        for (node, held) in replicas {
            let missing: Vec<u64> = self.unheld(held, of).map(|(_, t)| t).collect();
            for t in missing {
                self.record(&node, t_us, t_us.saturating_sub(t));
                self.followers.entry(node.clone()).or_default().never_applied += 1;
            }
        }
    }

    /// Lag over each region's PoP replicas, by region.
    pub(crate) fn lag_by_region(&self) -> &BTreeMap<String, Recorder> {
        &self.by_region
    }

    pub fn summary(&self) -> ReplicationFigures {
        let mut out = self.out.clone();
        out.lag = self.all.summary();
        out.standby_lag = self.standby_lag.summary();
        out.replicas = self
            .held
            .keys()
            .filter(|node| EdgeRole::is_pop(node))
            .map(|node| {
                let (max, p99) = match self.behind.get(node) {
                    Some((rec, max)) if !rec.0.is_empty() => (*max, rec.0.value_at_quantile(0.99)),
                    Some((_, max)) => (*max, 0),
                    None => (0, 0),
                };
                let f = self.followers.get(node);
                let lag = ReplicaLag {
                    lag: f.map(|f| f.lag.summary()).unwrap_or_default(),
                    max_frames_behind: max,
                    p99_frames_behind: p99,
                    frames_by_snapshot: f.map_or(0, |f| f.by_snapshot),
                    frames_never_applied: f.map_or(0, |f| f.never_applied),
                };
                (node.to_string(), lag)
            })
            .collect();
        out.frames_by_snapshot = out.replicas.values().map(|r| r.frames_by_snapshot).sum();
        out.frames_never_applied = out.replicas.values().map(|r| r.frames_never_applied).sum();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorder_counts_and_ranks_samples_from_a_microsecond_to_a_day() {
        // Goal: the growing histogram answers as one sized for a day from the start: quantiles
        // within three significant figures, nothing counted above the largest sample, samples
        // past a day kept as a day.
        let mut r = Recorder::default();
        assert_eq!((r.quantile_us(0.5), r.at_least(1)), (None, 0));
        for us in [0, 1_000, 250_000, 90_000_000] {
            r.record(us);
        }
        assert_eq!(r.quantile_us(0.0), Some(1));
        assert_eq!(r.quantile_us(0.5).map(|us| us / 10), Some(100));
        assert_eq!((r.at_least(200_000), r.at_least(90_000_000), r.at_least(91_000_000)), (2, 1, 0));
        r.record(u64::MAX);
        let day_ms = (RECORDER_MAX_US / 1000) as f64;
        assert!((day_ms..day_ms * 1.001).contains(&r.summary().max_ms), "{:?}", r.summary());
    }

    fn at(t_us: u64, node: &str, event: NodeEvent) -> Event {
        Event { t_us, node: node.into(), record: Record::Node(event) }
    }

    fn commit(t_us: u64, lsn: u64) -> Event {
        at(t_us, "primary", NodeEvent::Committed { lsn, generation: 1, session: 1, seq: lsn, payload_bytes: 10 })
    }

    fn end(t_us: u64) -> Event {
        Event {
            t_us,
            node: "clients-a".into(),
            record: Record::Harness(HarnessEvent::RunEnded { sim_us: t_us, down: vec![] }),
        }
    }

    /// A fold in which PoP replica `pop-a-1` started empty and frames 1 to 3 were committed at 0.
    fn three_frames_committed() -> ReplicationFold {
        let mut fold = ReplicationFold::default();
        fold.event(&at(0, "pop-a-1", NodeEvent::Started { role: NodeRole::Pop, lsn: 0 }));
        (1..=3).for_each(|lsn| fold.event(&commit(0, lsn)));
        fold
    }

    #[test]
    fn frames_a_replica_never_applied_count_as_lag_until_the_end() {
        // Issue 11, defect 4: a region cut off until the end showed no lag for the frames it never
        // applied (lag n=1, max 10 ms before); each counts as a sample of end minus commit, and is
        // reported as never applied (n=3, max 1 s after).
        let mut fold = three_frames_committed();
        fold.event(&at(10_000, "pop-a-1", NodeEvent::Applied { lsn: 1, generation: 1 }));
        fold.event(&end(1_000_000));
        let r = fold.summary();
        assert_eq!((r.lag.count, r.lag.max_ms.round()), (3, 1000.0), "{:?}", r.lag);
        assert_eq!((r.frames_never_applied, r.replicas["pop-a-1"].frames_never_applied), (2, 2));
        let chart = fold.chart.buckets(250, 1_000_000);
        assert_eq!(chart["a"].iter().flatten().count(), 5, "the chart shows the lag growing while cut off: {chart:?}");
    }

    #[test]
    fn frames_a_snapshot_delivered_count_at_the_restore() {
        // Issue 11, defect 4: in `negative/primary-crash-async` seed 1 every PoP replica rebuilt
        // from a snapshot and the frames it brought were not counted (lag p99 98 ms before, 5.8 s
        // after); here 3 frames brought at 2 s count 2 s each, the frame applied after it 10 ms.
        let mut fold = three_frames_committed();
        fold.event(&at(2_000_000, "pop-a-1", NodeEvent::SnapshotRestored { lsn: 3, bytes: 100 }));
        fold.event(&commit(2_000_000, 4));
        fold.event(&at(2_010_000, "pop-a-1", NodeEvent::Applied { lsn: 4, generation: 1 }));
        fold.event(&end(3_000_000));
        let r = fold.summary();
        assert_eq!(
            (r.lag.count, (r.lag.max_ms / 100.0).round(), r.frames_by_snapshot, r.frames_never_applied),
            (4, 20.0, 3, 0)
        );
    }

    #[test]
    fn frames_the_standby_never_applied_are_counted_and_the_primarys_own_are_not() {
        // Issue 11: frames committed at the primary that the standby had not applied when the run
        // ended were dropped from every figure (0 counted before). Now they are counted per node:
        // 2 here, the primary's own frames none. After a failover the promoted standby is the
        // primary, and the old one, left on generation 1, misses the frame generation 2 committed.
        let database = |applied: u64| {
            let mut fold = ReplicationFold::default();
            fold.event(&at(0, "primary", NodeEvent::Started { role: NodeRole::Primary, lsn: 0 }));
            fold.event(&at(0, "standby", NodeEvent::Started { role: NodeRole::Standby, lsn: 0 }));
            (1..=3).for_each(|lsn| fold.event(&commit(0, lsn)));
            (1..=applied).for_each(|lsn| fold.event(&at(1_000, "standby", NodeEvent::Applied { lsn, generation: 1 })));
            fold
        };
        let mut behind = database(1);
        behind.event(&end(1_000_000));
        let r = behind.summary();
        assert_eq!(r.standby_never_applied, BTreeMap::from([("standby".to_string(), 2)]), "{r:?}");
        assert_eq!(r.standby_frames_never_applied, 2);

        let mut failed_over = database(3);
        let c = NodeEvent::Committed { lsn: 4, generation: 2, session: 2, seq: 1, payload_bytes: 10 };
        failed_over.event(&at(500_000, "standby", c));
        failed_over.event(&end(1_000_000));
        let r = failed_over.summary();
        assert_eq!(r.standby_never_applied, BTreeMap::from([("primary".to_string(), 1)]), "{r:?}");
    }

    #[test]
    fn a_replica_on_a_lost_history_has_not_applied_what_replaced_it() {
        // Frames 2 and 3 of generation 1 were lost: generation 2 committed its own from LSN 2. A
        // replica that applied generation 1's frame 3 holds neither of generation 2's frames.
        let mut fold = ReplicationFold::default();
        fold.event(&at(0, "pop-a-1", NodeEvent::Started { role: NodeRole::Pop, lsn: 0 }));
        for lsn in 1..=3 {
            fold.event(&commit(0, lsn));
            fold.event(&at(1_000, "pop-a-1", NodeEvent::Applied { lsn, generation: 1 }));
        }
        for lsn in 2..=3 {
            let c = NodeEvent::Committed { lsn, generation: 2, session: 2, seq: lsn, payload_bytes: 10 };
            fold.event(&at(500_000, "standby", c));
        }
        fold.event(&end(1_000_000));
        let r = fold.summary();
        assert_eq!((r.lag.count, r.frames_never_applied), (5, 2), "{r:?}");
    }
}
