//! Figures folded from the event log with hdrhistogram (docs/DESIGN.md, Metrics):
//! request latency per region as clients saw it, and replication lag per replica, in time (applied
//! minus committed) and in frames behind the primary.

use std::collections::BTreeMap;
use std::rc::Rc;

use edgesim_system::edge::proto::ReadPath;
use edgesim_system::telemetry::NodeEvent;
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::edge::check::request::Request;
use crate::edge::lag::Lag;
use crate::events::{Event, Op, Outcome, Record};

/// A latency distribution in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// A distribution as the readable reports write it; `-` when it has no sample.
pub fn fmt_summary(s: &Summary) -> String {
    if s.count == 0 {
        return "-".into();
    }
    format!("p50 {:>7.1}  p99 {:>7.1}  max {:>7.1} ms  (n={})", s.p50_ms, s.p99_ms, s.max_ms, s.count)
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

/// Request latency per region (the client host's), folded as requests end.
#[derive(Default)]
pub struct Latency(BTreeMap<String, (Recorder, Recorder, RegionLatency)>);

impl Latency {
    pub fn request(&mut self, r: &Request) {
        let (reads, writes, region) = self.0.entry(r.region().to_string()).or_default();
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
            (Outcome::Shed { .. }, _) => {
                region.errors += 1;
                region.shed += 1;
            }
            (Outcome::Timeout, Op::Read | Op::Write) => region.timeouts += 1,
        }
    }

    /// Per region: its read and write latency recorders.
    pub fn recorders(&self) -> impl Iterator<Item = (&str, &Recorder, &Recorder)> {
        self.0.iter().map(|(region, (reads, writes, _))| (region.as_str(), reads, writes))
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

/// Replication figures, folded over every event (frames-behind is sampled on the clock the events
/// give). Commits are reported only by whichever node is primary at the time; PoP replicas are the
/// `pop-*` hosts, and every other follower (the standby, a primary that rejoined) counts as a
/// standby. Also gathers the lag of each applied frame for the charts (`chart`).
pub struct ReplicationFold {
    out: Replication,
    /// When each frame was committed, by (lsn, generation).
    committed_at: BTreeMap<(u64, u64), u64>,
    head: u64,
    applied: BTreeMap<Rc<str>, u64>,
    all: Recorder,
    standby_lag: Recorder,
    lag: BTreeMap<Rc<str>, Recorder>,
    behind: BTreeMap<Rc<str>, (Recorder, u64)>,
    next_sample: u64,
    pub chart: Lag,
}

impl Default for ReplicationFold {
    fn default() -> Self {
        ReplicationFold {
            out: Replication::default(),
            committed_at: BTreeMap::new(),
            head: 0,
            applied: BTreeMap::new(),
            all: Recorder::default(),
            standby_lag: Recorder::default(),
            lag: BTreeMap::new(),
            behind: BTreeMap::new(),
            next_sample: SAMPLE_US,
            chart: Lag::default(),
        }
    }
}

impl ReplicationFold {
    pub fn event(&mut self, e: &Event) {
        while e.t_us >= self.next_sample {
            for (node, at) in &self.applied {
                let (rec, max) = self.behind.entry(node.clone()).or_default();
                let b = self.head.saturating_sub(*at);
                rec.0.saturating_record(b);
                *max = (*max).max(b);
            }
            self.next_sample += SAMPLE_US;
        }
        let Record::Node(event) = &e.record else { return };
        let node = &e.node;
        let replica = node.starts_with("pop-");
        let out = &mut self.out;
        match event {
            NodeEvent::Committed { lsn, generation, .. } => {
                self.committed_at.insert((*lsn, *generation), e.t_us);
                self.head = self.head.max(*lsn);
                out.frames_committed += 1;
            }
            NodeEvent::Started { role: "pop", lsn } => {
                self.applied.insert(node.clone(), *lsn);
            }
            NodeEvent::Applied { lsn, .. } | NodeEvent::SnapshotRestored { lsn, .. } => {
                if let NodeEvent::Applied { generation, .. } = event
                    && let Some(t) = self.committed_at.get(&(*lsn, *generation))
                {
                    let took = e.t_us.saturating_sub(*t);
                    self.chart.applied(node, e.t_us, took);
                    if replica {
                        self.all.record(took);
                        self.lag.entry(node.clone()).or_default().record(took);
                    } else {
                        self.standby_lag.record(took);
                    }
                }
                if replica {
                    self.applied.insert(node.clone(), *lsn);
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

    pub fn summary(&self) -> Replication {
        let mut out = self.out.clone();
        out.lag = self.all.summary();
        out.standby_lag = self.standby_lag.summary();
        out.replicas = self
            .applied
            .keys()
            .map(|node| {
                let (max, p99) = match self.behind.get(node) {
                    Some((rec, max)) if !rec.0.is_empty() => (*max, rec.0.value_at_quantile(0.99)),
                    Some((_, max)) => (*max, 0),
                    None => (0, 0),
                };
                let lag = self.lag.get(node).map(Recorder::summary).unwrap_or_default();
                (node.to_string(), ReplicaLag { lag, max_frames_behind: max, p99_frames_behind: p99 })
            })
            .collect();
        out
    }
}
