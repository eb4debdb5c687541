//! The edge platform's part of a run report: latency as clients saw it, replication, the
//! failover figures and the checkers' verdicts, each computed from the event log as it was
//! folded, and their readable block.

use std::collections::BTreeMap;
use std::fmt;

use edgesim_system::edge::isr::Lock;
use serde::Serialize;

use crate::edge::availability::{self, RegionWrites};
use crate::edge::charts::{self, Charts};
use crate::edge::check::NotJudged;
use crate::edge::check::request::EXAMPLES;
use crate::edge::check::{convergence, liveness, lost_writes, monotonic, ryw, split_brain};
use crate::edge::load::LoadStep;
use crate::edge::metrics::{RegionLatency, ReplicationFigures, fmt_summary};
use crate::edge::moves::{self, MoveFigures};
use crate::edge::pages::PageFigures;
use crate::edge::regions::Regions;
use crate::edge::ssr::SsrFigures;
use crate::edge::timeline::{self, FailoverFigures, Impact};
use crate::events::{Event, FinalOutcome, HarnessEvent, Record};
use crate::observed::Observed;
use crate::scenario::{PRIMARY, Scenario};

/// The edge platform's figures and checkers of one run.
#[derive(Clone, Debug, Serialize)]
pub struct EdgeReport {
    pub latency: BTreeMap<String, RegionLatency>,
    /// Per region: writes attempted and acknowledged, the longest write unavailability, requests
    /// unanswered at the end.
    pub writes: BTreeMap<String, RegionWrites>,
    /// The worst region's write unavailability in seconds; `None` when no write was attempted.
    pub writes_unavailable_s: Option<f64>,
    /// Per load step of the workload; empty without `load_steps`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub load: Vec<LoadStep>,
    /// Isolates the PoPs started for requests that found none warm.
    pub cold_starts: u64,
    /// Of the answered requests at or above their p99 latency, the percentage that paid a cold
    /// start; `None` when none was answered.
    pub cold_share_of_p99_pct: Option<f64>,
    /// Product pages under ISR; present with `[isr]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<PageFigures>,
    /// Sessions moved by anycast; present with `[anycast]` (boxed: most runs have none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anycast: Option<Box<MoveFigures>>,
    /// Personalized pages streamed with SSR, as clients saw them; present with `[ssr]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssr: Option<Box<SsrFigures>>,
    pub replication: ReplicationFigures,
    /// Lag, read latency, read-your-writes violations and failures per region of the PoPs.
    pub regions: Regions,
    /// Present when the scenario lost the initial primary.
    pub failover: Option<FailoverFigures>,
    pub checks: Checks,
}

#[derive(Clone, Debug, Serialize)]
pub struct Checks {
    pub ryw_violations: usize,
    pub ryw_examples: Vec<ryw::RywViolation>,
    pub monotonic_violations: usize,
    pub monotonic_examples: Vec<monotonic::MonotonicViolation>,
    /// `None` when the primary could not be audited, so losses cannot be judged.
    pub lost_acked_writes: Option<Vec<(u64, u64)>>,
    pub acked_writes: usize,
    pub convergence: convergence::ConvergenceFinding,
    pub split_brain: split_brain::SplitBrainFinding,
    /// Checkers that could not judge this run, and why: neither fired nor passed.
    pub not_judged: Vec<NotJudged>,
    /// For a scenario with a liveness phase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness: Option<liveness::LivenessFinding>,
    /// Windows with more than one origin render of a key for a PoP (`[isr]`).
    pub revalidation_herd: usize,
    /// Under `lock = "region"`: windows with more than one origin render of a key for a region.
    pub region_revalidation_herd: usize,
}

impl Checks {
    /// The correctness checkers that fired, by name (one that could not judge did not fire).
    pub fn fired(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.ryw_violations > 0 {
            out.push("read-your-writes");
        }
        if self.monotonic_violations > 0 {
            out.push("monotonic-reads");
        }
        if self.lost_acked_writes.as_ref().is_some_and(|lost| !lost.is_empty()) {
            out.push("lost-acked-writes");
        }
        if !self.convergence.converged && self.convergence.not_judged.is_none() {
            out.push("convergence");
        }
        if self.split_brain.fired() {
            out.push("split-brain");
        }
        if self.liveness.as_ref().is_some_and(|l| !l.stalled.is_empty()) {
            out.push("liveness");
        }
        if self.revalidation_herd > 0 {
            out.push("revalidation-herd");
        }
        if self.region_revalidation_herd > 0 {
            out.push("region-revalidation-herd");
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
    let (lost, unaudited) = match finals.get(&primary) {
        Some(FinalOutcome::Audited { writes, .. }) => (Some(lost_writes::check(requests, writes)), None),
        _ if down.contains(&primary) => (None, Some(format!("the primary at the end ({primary}) was down"))),
        Some(FinalOutcome::Unreachable { reason }) => {
            (None, Some(format!("the primary at the end ({primary}) could not be audited: {reason}")))
        }
        None => (None, Some(format!("the primary at the end ({primary}) was not audited"))),
    };
    let convergence = convergence::check(&finals, &primary, &down, unaudited.as_ref());
    let not_judged = [("lost-acked-writes", lost.is_none()), ("convergence", convergence.not_judged.is_some())]
        .into_iter()
        .filter(|(_, not)| *not)
        .filter_map(|(checker, _)| Some(NotJudged { checker: checker.into(), why: unaudited.clone()? }))
        .collect();
    let pops = scenario.regions.iter().map(|r| r.pops.len()).sum();
    let replication = &observed.replication;
    let writes = availability::per_region(requests, folded.unanswered());
    let pages = observed.pages.summary();
    let report = EdgeReport {
        latency: folded.latency.summary(),
        writes_unavailable_s: availability::worst(&writes),
        writes,
        load: folded.load.summary(),
        cold_starts: folded.load.cold_starts(),
        cold_share_of_p99_pct: folded.load.cold_share_of_p99(),
        pages: pages.clone(),
        anycast: scenario.anycast.map(|a| Box::new(moves::figures(&a, events, requests, folded.unanswered(), end_us))),
        ssr: observed.ssr.summary().map(Box::new),
        replication: replication.summary(),
        regions: folded.regions.figures(replication.lag_by_region()),
        failover: timeline::failover(events, requests, &folded.reads_after_loss, pops),
        checks: Checks {
            ryw_violations: folded.ryw.found.count,
            ryw_examples: folded.ryw.found.examples(),
            monotonic_violations: folded.monotonic.found.count,
            monotonic_examples: folded.monotonic.found.examples(),
            acked_writes: requests
                .iter()
                .filter(|r| matches!(r.outcome, crate::events::RequestOutcome::Write { .. }))
                .count(),
            lost_acked_writes: lost,
            convergence,
            split_brain: split_brain::check(requests, &timeline::promotions(events)),
            not_judged,
            liveness: scenario.liveness.as_ref().map(|l| liveness::check(requests, &scenario.regions, l)),
            revalidation_herd: pages.as_ref().map_or(0, |p| p.herd_windows),
            region_revalidation_herd: pages
                .as_ref()
                .filter(|p| p.lock == Lock::Region)
                .map_or(0, |p| p.region_herd_windows),
        },
    };
    let mut charts = charts::of(scenario.hosts(), events, end_us, requests, &folded.latency, &replication.chart);
    charts.anycast = observed.routes.chart(events, charts.lag_bucket_ms);
    if let Some(f) = &report.failover {
        charts::failover_story(&mut charts, f);
    }
    (report, timeline::narrate(events, requests, pops, scenario.failover.failover_after.0), charts)
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

/// The figures and checks as `edgesim run` prints them.
impl fmt::Display for EdgeReport {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.write_latency(f)?;
        self.write_writes(f)?;
        self.write_load(f)?;
        if let Some(p) = &self.pages {
            write!(f, "{p}")?;
        }
        if let Some(a) = &self.anycast {
            write!(f, "{a}")?;
        }
        if let Some(s) = &self.ssr {
            write!(f, "{s}")?;
        }
        write_replication(f, &self.replication)?;
        write!(f, "{}", self.regions)?;
        self.write_checks(f)
    }
}

impl EdgeReport {
    fn write_latency(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(f, "\nlatency as clients saw it")?;
        for (region, l) in &self.latency {
            writeln!(f, "  {region:<12} read   {}", fmt_summary(&l.read))?;
            writeln!(f, "  {:<12} write  {}", "", fmt_summary(&l.write))?;
            writeln!(
                f,
                "  {:<12} reads: {} local, {} after wait, {} by primary; {} errors ({} shed), {} timeouts",
                "", l.reads_local, l.reads_after_wait, l.reads_primary, l.errors, l.shed, l.timeouts
            )?;
        }
        Ok(())
    }

    fn write_writes(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(f, "\nwrites as clients attempted them")?;
        for (region, w) in &self.writes {
            let unavailable = match (w.unavailable_s, w.unavailable_from_s) {
                (Some(s), Some(from)) => {
                    format!("longest without an acknowledgement {s:.1}s from {from:.1}s into the run")
                }
                _ => "no write attempted".into(),
            };
            writeln!(
                f,
                "  {region:<12} {} attempted, {} acknowledged; {unavailable}; {} requests unanswered at the end",
                w.attempted, w.acknowledged, w.unanswered
            )?;
        }
        Ok(())
    }

    /// Latency per load step, then the cold starts.
    fn write_load(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if !self.load.is_empty() {
            writeln!(f, "\nlatency under load (by when each request started)")?;
            for s in &self.load {
                writeln!(
                    f,
                    "  step {} x{:<4} from T+{:>5.1}s  {:>6} requests  {} shed ({} by the primary), {} errors, {} timeouts",
                    s.step, s.factor, s.from_s, s.requests, s.shed, s.shed_by_primary, s.errors, s.timeouts
                )?;
                writeln!(f, "    read   {}", fmt_summary(&s.read))?;
                writeln!(f, "    write  {}", fmt_summary(&s.write))?;
            }
        }
        writeln!(f, "  cold starts (isolates started for a request)  {}", self.cold_starts)?;
        if let Some(share) = self.cold_share_of_p99_pct {
            writeln!(f, "  of the requests at or above p99, paid a cold start  {share:.1}%")?;
        }
        Ok(())
    }

    fn write_checks(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let c = &self.checks;
        writeln!(f, "\nchecks (judged from returned data and audited content)")?;
        writeln!(f, "  read-your-writes violations  {}", c.ryw_violations)?;
        for v in c.ryw_examples.iter().take(3) {
            writeln!(
                f,
                "    T+{:.3}s session {} read missed {} of its {} acknowledged writes, first #{} (request {})",
                v.at_us as f64 / 1e6,
                v.session,
                v.missing.len(),
                v.acked,
                v.missing[0],
                v.req
            )?;
        }
        writeln!(f, "  monotonic-read violations    {}", c.monotonic_violations)?;
        match &c.lost_acked_writes {
            Some(lost) => {
                writeln!(f, "  lost acknowledged writes     {} of {}", lost.len(), c.acked_writes)?;
                for (s, q) in lost.iter().take(EXAMPLES) {
                    writeln!(f, "    session {s} write #{q}")?;
                }
            }
            None => writeln!(f, "  lost acknowledged writes     not judged: {}", self.why_not("lost-acked-writes"))?,
        }
        write_convergence(f, &c.convergence)?;
        let sb = &c.split_brain;
        writeln!(
            f,
            "  split brain                  {} acknowledged by a fenced primary, {} positions under two generations",
            sb.acked_by_fenced.len(),
            sb.lsn_under_two_generations.len()
        )?;
        if self.pages.is_some() {
            writeln!(
                f,
                "  revalidation herd            {} windows with more than one render of a key for a PoP",
                c.revalidation_herd
            )?;
        }
        if self.pages.as_ref().is_some_and(|p| p.lock == Lock::Region) {
            writeln!(f, "  region revalidation herd     {} windows, per region", c.region_revalidation_herd)?;
        }
        if let Some(l) = &c.liveness {
            let stalled = if l.stalled.is_empty() { "none".to_string() } else { l.stalled.join(", ") };
            writeln!(
                f,
                "  liveness                     heal at {}s, writes acknowledged again by {}s; regions stalled: {stalled}",
                l.heal_s, l.deadline_s
            )?;
        }
        Ok(())
    }

    /// Why `checker` could not judge the run (empty when it could).
    fn why_not(&self, checker: &str) -> &str {
        self.checks.not_judged.iter().find(|n| n.checker == checker).map_or("", |n| n.why.as_str())
    }

    /// When the primary was lost, what it cost (the narrated timeline's impact block).
    pub(crate) fn impact(&self) -> Option<Impact<'_>> {
        let lost = self.checks.lost_acked_writes.as_deref().ok_or_else(|| self.why_not("lost-acked-writes"));
        self.failover.as_ref().map(|failover| Impact { failover, writes: &self.writes, lost })
    }
}

fn write_replication(f: &mut fmt::Formatter, r: &ReplicationFigures) -> fmt::Result {
    writeln!(f, "\nreplication ({} frames committed)", r.frames_committed)?;
    writeln!(f, "  lag, all PoP replicas   {}", fmt_summary(&r.lag))?;
    writeln!(f, "  lag, standby            {}", fmt_summary(&r.standby_lag))?;
    let worst = r.replicas.iter().max_by(|a, b| a.1.lag.max_ms.total_cmp(&b.1.lag.max_ms));
    if let Some((node, w)) = worst {
        writeln!(
            f,
            "  worst replica {node}: lag {}; frames behind p99 {} max {}",
            fmt_summary(&w.lag),
            w.p99_frames_behind,
            w.max_frames_behind
        )?;
    }
    let ratio = if r.wire_bytes > 0 { r.payload_bytes as f64 / r.wire_bytes as f64 } else { 0.0 };
    writeln!(
        f,
        "  primary sent {} batches, {} payload bytes as {} on the wire ({ratio:.2}x)",
        r.batches_sent, r.payload_bytes, r.wire_bytes
    )?;
    writeln!(
        f,
        "  {} gaps re-requested, {} snapshot rebuilds, {} reconnects, {} malformed inputs refused",
        r.gaps_detected, r.snapshots_restored, r.reconnects, r.rejected_inputs
    )?;
    writeln!(
        f,
        "  frames reaching PoP replicas by snapshot {}; never applied by the end {} (counted in the lag at the end)",
        r.frames_by_snapshot, r.frames_never_applied
    )?;
    let standby: Vec<String> = r.standby_never_applied.iter().map(|(node, n)| format!("{node} {n}")).collect();
    if !standby.is_empty() {
        writeln!(f, "  frames of the final history not held at the end by: {}", standby.join(", "))?;
    }
    Ok(())
}

fn write_convergence(f: &mut fmt::Formatter, v: &convergence::ConvergenceFinding) -> fmt::Result {
    let verdict = match &v.not_judged {
        Some(why) => format!("not judged: {why}"),
        None if v.converged => "yes".into(),
        None => "NO".into(),
    };
    writeln!(f, "  converged at the end         {verdict}")?;
    for (node, lsn) in &v.diverged {
        writeln!(f, "    {node} differs from the primary (at LSN {lsn})")?;
    }
    for (node, why) in &v.unreachable {
        writeln!(f, "    {node} not audited: {why}")?;
    }
    if !v.down.is_empty() {
        writeln!(f, "    down at the end, not judged: {}", v.down.join(", "))?;
    }
    Ok(())
}
