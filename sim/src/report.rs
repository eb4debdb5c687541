//! The report of one run: every figure computed from the event log (folded as it was written), the checkers' verdicts, and
//! a readable summary. Its JSON form (`--json`) is versioned with the event schema.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::charts::{self, Charts};
use crate::check::request::EXAMPLES;
use crate::check::{convergence, lost_writes, monotonic, ryw, split_brain};
use crate::events::{Event, FinalOutcome, HarnessEvent, Record, SCHEMA_VERSION};
use crate::log::EventLog;
use crate::metrics::{RegionLatency, Replication, fmt_summary};
use crate::scenario::{PRIMARY, Scenario};
use crate::status::check::StatusReport;
use crate::timeline::{self, Failover};

#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    pub schema: u32,
    pub scenario: String,
    pub path: String,
    pub seed: u64,
    pub sim_seconds: f64,
    pub hosts: usize,
    pub links: usize,
    pub events: usize,
    pub event_log_hash: String,
    pub latency: BTreeMap<String, RegionLatency>,
    pub replication: Replication,
    /// Present when the scenario lost the initial primary.
    pub failover: Option<Failover>,
    pub timeline: Vec<String>,
    pub checks: Checks,
    /// The status page's figures, for a status page scenario (whose edge figures are empty).
    pub status: Option<StatusReport>,
    /// What `report.html` draws (`charts`).
    pub charts: Charts,
}

#[derive(Clone, Debug, Serialize)]
pub struct Checks {
    pub ryw_violations: usize,
    pub ryw_examples: Vec<ryw::Violation>,
    pub monotonic_violations: usize,
    pub monotonic_examples: Vec<monotonic::Violation>,
    /// `None` when the primary could not be audited, so losses cannot be judged.
    pub lost_acked_writes: Option<Vec<(u64, u64)>>,
    pub acked_writes: usize,
    pub convergence: convergence::Verdict,
    pub split_brain: split_brain::Verdict,
}

impl Checks {
    /// The correctness checkers that fired, by name.
    pub fn fired(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.ryw_violations > 0 {
            out.push("read-your-writes");
        }
        if self.monotonic_violations > 0 {
            out.push("monotonic-reads");
        }
        match &self.lost_acked_writes {
            Some(lost) if lost.is_empty() => {}
            _ => out.push("lost-acked-writes"),
        }
        if !self.convergence.converged {
            out.push("convergence");
        }
        if self.split_brain.fired() {
            out.push("split-brain");
        }
        out
    }
}

impl RunReport {
    /// The report of a run with its header filled in and every figure empty.
    pub fn blank(scenario: &Scenario, seed: u64, log: &EventLog) -> RunReport {
        let hosts = scenario.hosts().len();
        let observed = log.observed();
        let r = &observed.requests;
        let charts =
            charts::of(scenario.hosts(), &observed.kept, log.end_us(), &[], &r.latency, &observed.replication.chart);
        RunReport {
            schema: SCHEMA_VERSION,
            scenario: scenario.name.clone(),
            path: scenario.path.clone(),
            seed,
            sim_seconds: log.end_us() as f64 / 1e6,
            hosts,
            links: hosts * (hosts - 1) / 2,
            events: log.len(),
            event_log_hash: log.hash(),
            latency: BTreeMap::new(),
            replication: Replication::default(),
            failover: None,
            timeline: Vec::new(),
            checks: Checks {
                ryw_violations: 0,
                ryw_examples: Vec::new(),
                monotonic_violations: 0,
                monotonic_examples: Vec::new(),
                lost_acked_writes: Some(Vec::new()),
                acked_writes: 0,
                convergence: convergence::Verdict { converged: true, ..Default::default() },
                split_brain: Default::default(),
            },
            status: None,
            charts,
        }
    }

    /// Every correctness checker that fired, by name.
    pub fn fired(&self) -> Vec<&'static str> {
        let mut out = self.checks.fired();
        out.extend(self.status.iter().flat_map(StatusReport::fired));
        out
    }
}

/// The report of a run, from what its log kept (`EventLog::observed`).
pub fn analyze(scenario: &Scenario, seed: u64, log: &EventLog) -> RunReport {
    let observed = log.observed();
    let events = &observed.kept;
    if let Some(settings) = &scenario.status {
        let mut blank = RunReport::blank(scenario, seed, log);
        let (status, timeline) = crate::status::report::analyze(scenario, settings, events, &mut blank.charts);
        return RunReport { timeline, status: Some(status), ..blank };
    }
    let folded = &observed.requests;
    let requests = folded.kept();
    let finals = finals(events);
    let (primary, down) = end_state(events);
    let lost = match finals.get(&primary) {
        Some(FinalOutcome::Audited { writes, .. }) => Some(lost_writes::check(requests, writes)),
        _ => None,
    };
    let pops = scenario.regions.iter().map(|r| r.pops.len()).sum();
    let replication = &observed.replication;
    RunReport {
        latency: folded.latency.summary(),
        replication: replication.summary(),
        failover: timeline::failover(events, requests, &folded.reads_after_loss, pops),
        timeline: timeline::narrate(events, requests, pops),
        checks: Checks {
            ryw_violations: folded.ryw.found.count,
            ryw_examples: folded.ryw.found.examples(),
            monotonic_violations: folded.monotonic.found.count,
            monotonic_examples: folded.monotonic.found.examples(),
            acked_writes: requests.iter().filter(|r| matches!(r.outcome, crate::events::Outcome::Write { .. })).count(),
            lost_acked_writes: lost,
            convergence: convergence::check(&finals, &primary, &down),
            split_brain: split_brain::check(requests, &timeline::promotions(events)),
        },
        charts: charts::of(scenario.hosts(), events, log.end_us(), requests, &folded.latency, &replication.chart),
        ..RunReport::blank(scenario, seed, log)
    }
}

/// The primary at the end (by the control plane's route; the initial primary if it gave none) and
/// the hosts that were down.
fn end_state(events: &[Event]) -> (String, Vec<String>) {
    let mut primary = PRIMARY.to_string();
    let mut down = Vec::new();
    for e in events {
        match &e.record {
            Record::Harness(HarnessEvent::FinalRoute { route: Some(route) }) => primary = route.primary.clone(),
            Record::Harness(HarnessEvent::RunEnded { down: d, .. }) => down = d.clone(),
            _ => {}
        }
    }
    (primary, down)
}

fn finals(events: &[Event]) -> BTreeMap<String, FinalOutcome> {
    events
        .iter()
        .filter_map(|e| match &e.record {
            Record::Harness(HarnessEvent::FinalState { of, outcome }) => Some((of.clone(), outcome.clone())),
            _ => None,
        })
        .collect()
}

impl RunReport {
    /// The readable summary `edgesim run` prints.
    pub fn text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "scenario {} ({}), seed {}", self.scenario, self.path, self.seed);
        let _ = writeln!(
            o,
            "simulated {:.1}s on {} hosts / {} links, {} events",
            self.sim_seconds, self.hosts, self.links, self.events
        );
        if let Some(status) = &self.status {
            o.push_str(&crate::status::report::text(status));
            let _ = writeln!(o, "\ntimeline\n{}", self.timeline_text());
            let _ = writeln!(o, "\nevent log hash {}", self.event_log_hash);
            return o;
        }
        let _ = writeln!(o, "\nlatency as clients saw it");
        for (region, l) in &self.latency {
            let _ = writeln!(o, "  {region:<12} read   {}", fmt_summary(&l.read));
            let _ = writeln!(o, "  {:<12} write  {}", "", fmt_summary(&l.write));
            let _ = writeln!(
                o,
                "  {:<12} reads: {} local, {} after wait, {} by primary; {} errors, {} timeouts",
                "", l.reads_local, l.reads_after_wait, l.reads_primary, l.errors, l.timeouts
            );
        }
        let r = &self.replication;
        let _ = writeln!(o, "\nreplication ({} frames committed)", r.frames_committed);
        let _ = writeln!(o, "  lag, all PoP replicas   {}", fmt_summary(&r.lag));
        let _ = writeln!(o, "  lag, standby            {}", fmt_summary(&r.standby_lag));
        let worst = r.replicas.iter().max_by(|a, b| a.1.lag.max_ms.total_cmp(&b.1.lag.max_ms));
        if let Some((node, w)) = worst {
            let _ = writeln!(
                o,
                "  worst replica {node}: lag {}; frames behind p99 {} max {}",
                fmt_summary(&w.lag),
                w.p99_frames_behind,
                w.max_frames_behind
            );
        }
        let ratio = if r.wire_bytes > 0 { r.payload_bytes as f64 / r.wire_bytes as f64 } else { 0.0 };
        let _ = writeln!(
            o,
            "  primary sent {} batches, {} payload bytes as {} on the wire ({ratio:.2}x)",
            r.batches_sent, r.payload_bytes, r.wire_bytes
        );
        let _ = writeln!(
            o,
            "  {} gaps re-requested, {} snapshot rebuilds, {} reconnects, {} malformed inputs refused",
            r.gaps_detected, r.snapshots_restored, r.reconnects, r.rejected_inputs
        );
        let c = &self.checks;
        let _ = writeln!(o, "\nchecks (judged from returned data and audited content)");
        let _ = writeln!(o, "  read-your-writes violations  {}", c.ryw_violations);
        for v in c.ryw_examples.iter().take(3) {
            let _ = writeln!(
                o,
                "    T+{:.3}s session {} read saw its write #{} after #{} was acknowledged (request {})",
                v.at_us as f64 / 1e6,
                v.session,
                v.saw_seq,
                v.acked_seq,
                v.req
            );
        }
        let _ = writeln!(o, "  monotonic-read violations    {}", c.monotonic_violations);
        match &c.lost_acked_writes {
            Some(lost) => {
                let _ = writeln!(o, "  lost acknowledged writes     {} of {}", lost.len(), c.acked_writes);
                for (s, q) in lost.iter().take(EXAMPLES) {
                    let _ = writeln!(o, "    session {s} write #{q}");
                }
            }
            None => {
                let _ = writeln!(o, "  lost acknowledged writes     cannot judge: the primary was not audited");
            }
        }
        let v = &c.convergence;
        let verdict = if v.converged { "yes".to_string() } else { "NO".to_string() };
        let _ = writeln!(o, "  converged at the end         {verdict}");
        for (node, lsn) in &v.diverged {
            let _ = writeln!(o, "    {node} differs from the primary (at LSN {lsn})");
        }
        for (node, why) in &v.unreachable {
            let _ = writeln!(o, "    {node} not audited: {why}");
        }
        if !v.down.is_empty() {
            let _ = writeln!(o, "    down at the end, not judged: {}", v.down.join(", "));
        }
        let sb = &c.split_brain;
        let _ = writeln!(
            o,
            "  split brain                  {} acknowledged by a fenced primary, {} positions under two generations",
            sb.acked_by_fenced.len(),
            sb.lsn_under_two_generations.len()
        );
        if self.failover.is_some() {
            let _ = writeln!(o, "\ntimeline\n{}", self.timeline_text());
        }
        let _ = writeln!(o, "\nevent log hash {}", self.event_log_hash);
        o
    }

    /// The narrated timeline and, when the primary was lost, its impact block.
    pub fn timeline_text(&self) -> String {
        let mut o: String = self.timeline.iter().map(|l| format!("  {l}\n")).collect();
        if let Some(f) = &self.failover {
            o.push_str(&timeline::impact(f, self.checks.lost_acked_writes.as_deref()));
        }
        o
    }
}
