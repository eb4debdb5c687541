//! Figures computed from the event log with hdrhistogram (docs/DESIGN.md, Metrics):
//! request latency per region as clients saw it, and replication lag per replica, in time (applied
//! minus committed) and in frames behind the primary.

use std::collections::BTreeMap;

use edgesim_system::edge::proto::ReadPath;
use edgesim_system::telemetry::NodeEvent;
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::check::Request;
use crate::events::{Event, Op, Outcome, Record};

/// A latency distribution in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Collects microsecond samples.
pub struct Recorder(Histogram<u64>);

impl Default for Recorder {
    fn default() -> Self {
        Recorder(Histogram::new_with_bounds(1, 24 * 3_600_000_000, 3).expect("valid bounds"))
    }
}

impl Recorder {
    pub fn record(&mut self, us: u64) {
        self.0.saturating_record(us.max(1));
    }
    /// The value at quantile `q` in microseconds; `None` without samples.
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
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
    pub errors: u64,
    pub timeouts: u64,
    /// How reads were served: from the replica at once, after waiting for it, by the primary.
    pub reads_local: u64,
    pub reads_after_wait: u64,
    pub reads_primary: u64,
}

pub fn latency(requests: &[Request]) -> BTreeMap<String, RegionLatency> {
    let mut recorders: BTreeMap<String, (Recorder, Recorder, RegionLatency)> = BTreeMap::new();
    for r in requests {
        let (reads, writes, region) = recorders.entry(r.region().to_string()).or_default();
        let took = r.end_us - r.start_us;
        match (&r.outcome, r.op) {
            (Outcome::Read { path, .. }, _) => {
                reads.record(took);
                match path {
                    ReadPath::Local => region.reads_local += 1,
                    ReadPath::AfterWait => region.reads_after_wait += 1,
                    ReadPath::Primary => region.reads_primary += 1,
                }
            }
            (Outcome::Write { .. }, _) => writes.record(took),
            (Outcome::Error { .. }, _) => region.errors += 1,
            (Outcome::Timeout, Op::Read | Op::Write) => region.timeouts += 1,
        }
    }
    recorders
        .into_iter()
        .map(|(name, (reads, writes, mut region))| {
            region.read = reads.summary();
            region.write = writes.summary();
            (name, region)
        })
        .collect()
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReplicaLag {
    pub lag: Summary,
    pub max_frames_behind: u64,
    pub p99_frames_behind: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Replication {
    pub frames_committed: u64,
    /// Lag over every PoP replica.
    pub lag: Summary,
    pub standby_lag: Summary,
    pub replicas: BTreeMap<String, ReplicaLag>,
    pub batches_sent: u64,
    pub payload_bytes: u64,
    pub wire_bytes: u64,
    pub gaps_detected: u64,
    pub snapshots_restored: u64,
    pub reconnects: u64,
    pub rejected_inputs: u64,
}

/// How often frames-behind is sampled.
const SAMPLE_US: u64 = 100_000;

/// Replication figures. Commits are reported only by whichever node is primary at the time;
/// PoP replicas are the `pop-*` hosts, and every other follower (the standby, a primary that
/// rejoined) counts as a standby.
pub fn replication(events: &[Event]) -> Replication {
    let mut out = Replication::default();
    let mut committed_at: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    let mut head = 0u64;
    let mut applied: BTreeMap<&str, u64> = BTreeMap::new();
    let (mut all, mut standby_lag) = (Recorder::default(), Recorder::default());
    let mut lag: BTreeMap<&str, Recorder> = BTreeMap::new();
    let mut behind: BTreeMap<&str, (Recorder, u64)> = BTreeMap::new();
    let mut next_sample = SAMPLE_US;
    for e in events {
        while e.t_us >= next_sample {
            for (node, at) in &applied {
                let (rec, max) = behind.entry(node).or_default();
                let b = head.saturating_sub(*at);
                rec.0.saturating_record(b);
                *max = (*max).max(b);
            }
            next_sample += SAMPLE_US;
        }
        let Record::Node(event) = &e.record else { continue };
        let node = &*e.node;
        let replica = node.starts_with("pop-");
        match event {
            NodeEvent::Committed { lsn, generation, .. } => {
                committed_at.insert((*lsn, *generation), e.t_us);
                head = head.max(*lsn);
                out.frames_committed += 1;
            }
            NodeEvent::Started { role: "pop", lsn } => {
                applied.insert(node, *lsn);
            }
            NodeEvent::Applied { lsn, .. } | NodeEvent::SnapshotRestored { lsn, .. } => {
                if let NodeEvent::Applied { generation, .. } = event
                    && let Some(t) = committed_at.get(&(*lsn, *generation))
                {
                    let took = e.t_us.saturating_sub(*t);
                    if replica {
                        all.record(took);
                        lag.entry(node).or_default().record(took);
                    } else {
                        standby_lag.record(took);
                    }
                }
                if replica {
                    applied.insert(node, *lsn);
                }
            }
            NodeEvent::BatchSent { payload_bytes, wire_bytes, .. } if !node.starts_with("dist-") => {
                out.batches_sent += 1;
                out.payload_bytes += *payload_bytes as u64;
                out.wire_bytes += *wire_bytes as u64;
            }
            NodeEvent::GapDetected { .. } => out.gaps_detected += 1,
            NodeEvent::Reconnecting { .. } => out.reconnects += 1,
            NodeEvent::Rejected { .. } => out.rejected_inputs += 1,
            _ => {}
        }
        if let NodeEvent::SnapshotRestored { .. } = event {
            out.snapshots_restored += 1;
        }
    }
    out.lag = all.summary();
    out.standby_lag = standby_lag.summary();
    out.replicas = applied
        .keys()
        .map(|node| {
            let (rec, max) = behind.remove(node).unwrap_or_default();
            let lag = lag.get(node).map(Recorder::summary).unwrap_or_default();
            let p99 = if rec.0.is_empty() { 0 } else { rec.0.value_at_quantile(0.99) };
            (node.to_string(), ReplicaLag { lag, max_frames_behind: max, p99_frames_behind: p99 })
        })
        .collect();
    out
}
