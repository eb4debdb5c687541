//! The edge platform's part of a run report: latency as clients saw it, replication, the
//! failover figures and the checkers' verdicts, each computed from the event log as it was
//! folded, and their readable block.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::edge::charts::{self, Charts};
use crate::edge::check::request::EXAMPLES;
use crate::edge::check::{convergence, lost_writes, monotonic, ryw, split_brain};
use crate::edge::load::Step;
use crate::edge::metrics::{RegionLatency, Replication, fmt_summary};
use crate::edge::timeline::{self, Failover};
use crate::events::{Event, FinalOutcome, HarnessEvent, Record};
use crate::observed::Observed;
use crate::scenario::{PRIMARY, Scenario};

/// The edge platform's figures and checkers of one run.
#[derive(Clone, Debug, Serialize)]
pub struct EdgeReport {
    pub latency: BTreeMap<String, RegionLatency>,
    /// Per load step of the workload; empty without `load_steps`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub load: Vec<Step>,
    /// Isolates the PoPs started for requests that found none warm.
    pub cold_starts: u64,
    pub replication: Replication,
    /// Present when the scenario lost the initial primary.
    pub failover: Option<Failover>,
    pub checks: Checks,
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

/// The edge platform's report of a run, its narrated timeline and its chart data, from what its
/// log kept (`EventLog::observed`); `end_us` is when the run ended.
pub fn analyze(scenario: &Scenario, observed: &Observed, end_us: u64) -> (EdgeReport, Vec<String>, Charts) {
    let events = &observed.kept;
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
    let report = EdgeReport {
        latency: folded.latency.summary(),
        load: folded.load.summary(),
        cold_starts: folded.load.cold_starts(),
        replication: replication.summary(),
        failover: timeline::failover(events, requests, &folded.reads_after_loss, pops),
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
    };
    let charts = charts::of(scenario.hosts(), events, end_us, requests, &folded.latency, &replication.chart);
    (report, timeline::narrate(events, requests, pops), charts)
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

impl EdgeReport {
    /// The figures and checks as `edgesim run` prints them.
    pub fn text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "\nlatency as clients saw it");
        for (region, l) in &self.latency {
            let _ = writeln!(o, "  {region:<12} read   {}", fmt_summary(&l.read));
            let _ = writeln!(o, "  {:<12} write  {}", "", fmt_summary(&l.write));
            let _ = writeln!(
                o,
                "  {:<12} reads: {} local, {} after wait, {} by primary; {} errors ({} shed), {} timeouts",
                "", l.reads_local, l.reads_after_wait, l.reads_primary, l.errors, l.shed, l.timeouts
            );
        }
        if !self.load.is_empty() {
            let _ = writeln!(o, "\nlatency under load (by when each request started)");
            for s in &self.load {
                let _ = writeln!(
                    o,
                    "  step {} x{:<4} from T+{:>5.1}s  {:>6} requests  {} shed ({} by the primary), {} errors, {} timeouts",
                    s.step, s.factor, s.from_s, s.requests, s.shed, s.shed_by_primary, s.errors, s.timeouts
                );
                let _ = writeln!(o, "    read   {}", fmt_summary(&s.read));
                let _ = writeln!(o, "    write  {}", fmt_summary(&s.write));
            }
        }
        let _ = writeln!(o, "  cold starts (isolates started for a request)  {}", self.cold_starts);
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
        o
    }

    /// When the primary was lost, what it cost (the narrated timeline's impact block).
    pub fn impact(&self) -> String {
        self.failover.as_ref().map_or(String::new(), |f| timeline::impact(f, self.checks.lost_acked_writes.as_deref()))
    }
}
