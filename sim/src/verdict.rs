//! The verdict of a run, and the exit code CI gates on: 0 every budget held, every correctness
//! checker judged and none fired; 1 a budget broke (a budget on a metric the run has no sample of
//! breaks), or, with nothing broken or fired, a checker could not judge the run ("not judged",
//! with its reason: never a pass, never a fired checker); 2 a correctness checker fired (it wins
//! over the rest); 3 bad input or a harness error.

use std::fmt;

use edgesim_system::status::sse::SseEventKind;
use serde::{Deserialize, Serialize};

use crate::edge::check::NotJudged;
use crate::edge::metrics::{RegionLatency, Summary};
use crate::edge::report::EdgeReport;
use crate::report::RunReport;
use crate::scenario::Scenario;
use crate::scenario::budget::{Budget, METRICS, Metric};
use crate::status::check::StatusReport;

/// Worst first is the highest: the verdict of many runs is their maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    /// Every budget held and no checker fired, but a checker could not judge the run.
    NotJudged,
    BudgetBroken,
    CheckerFired,
    Error,
}

impl Verdict {
    pub const fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::NotJudged | Verdict::BudgetBroken => 1,
            Verdict::CheckerFired => 2,
            Verdict::Error => 3,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::NotJudged => "not judged",
            Verdict::BudgetBroken => "budget broken",
            Verdict::CheckerFired => "checker fired",
            Verdict::Error => "harness error",
        }
    }
}

/// What a run broke, and how it stood against every budget.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Judgement {
    pub verdict: Verdict,
    pub exit_code: u8,
    /// Every budget of the scenario, held or not.
    pub budgets: Vec<Judged>,
    /// Each broken budget with the run's value.
    pub failed_budgets: Vec<String>,
    pub fired_checkers: Vec<String>,
    pub not_judged: Vec<NotJudged>,
}

/// How a run stood against one budget.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Judged {
    /// As the scenario file writes it.
    pub budget: String,
    pub metric: &'static str,
    /// The limit, in the metric's unit (milliseconds for a duration, % for a percentage).
    pub limit: f64,
    /// The run's value in the same unit; `None`: the run has no sample of it.
    pub value: Option<f64>,
    pub outcome: BudgetOutcome,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetOutcome {
    Held,
    Broken,
    /// The run has no sample of the metric (or its checker could not judge): the budget breaks.
    NoSamples,
}

impl fmt::Display for Judged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let metric = METRICS.iter().find(|m| m.name() == self.metric).expect("a budget names a metric");
        let value = self.value.map_or("no samples".into(), |v| metric.show(v));
        let outcome = match self.outcome {
            BudgetOutcome::Held => "held",
            BudgetOutcome::Broken => "BROKEN",
            BudgetOutcome::NoSamples => "BROKEN (no samples: this run cannot judge it)",
        };
        write!(f, "{:<34} value {value:<12} limit {:<10} {outcome}", self.budget, metric.show(self.limit))
    }
}

pub fn judge(scenario: &Scenario, report: &RunReport) -> Judgement {
    let budgets: Vec<Judged> = scenario.budgets.iter().map(|b| judged(b, report)).collect();
    let failed_budgets: Vec<String> =
        scenario.budgets.iter().filter_map(|b| check(b, report)).map(|b| b.to_string()).collect();
    let fired_checkers: Vec<String> = report.fired().into_iter().map(String::from).collect();
    let not_judged = report.not_judged();
    let verdict = if !fired_checkers.is_empty() {
        Verdict::CheckerFired
    } else if !failed_budgets.is_empty() {
        Verdict::BudgetBroken
    } else if !not_judged.is_empty() {
        Verdict::NotJudged
    } else {
        Verdict::Pass
    };
    Judgement { verdict, exit_code: verdict.exit_code(), budgets, failed_budgets, fired_checkers, not_judged }
}

/// A run's report with its judgement, as `edgesim run --json` writes it (`"judgement": {...}`).
#[derive(Serialize)]
pub(crate) struct JudgedReport<'a> {
    #[serde(flatten)]
    pub report: &'a RunReport,
    pub judgement: &'a Judgement,
}

/// The verdict and every budget, as `edgesim run` prints them under its report.
impl fmt::Display for Judgement {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        writeln!(f, "verdict: {} (exit {})", self.verdict.label(), self.exit_code)?;
        if self.budgets.is_empty() {
            writeln!(f, "budgets: none")?;
        } else {
            writeln!(f, "budgets:")?;
            for b in &self.budgets {
                writeln!(f, "  {b}")?;
            }
        }
        if !self.fired_checkers.is_empty() {
            writeln!(f, "checkers fired: {}", self.fired_checkers.join(", "))?;
        }
        for n in &self.not_judged {
            writeln!(f, "not judged: {n}")?;
        }
        Ok(())
    }
}

/// How the run stands against `budget`.
fn judged(budget: &Budget, report: &RunReport) -> Judged {
    let value = budget_value(budget, report);
    let outcome = match value {
        None => BudgetOutcome::NoSamples,
        Some(v) if budget.op.holds(v, budget.limit) => BudgetOutcome::Held,
        Some(_) => BudgetOutcome::Broken,
    };
    Judged { budget: budget.text.clone(), metric: budget.metric.name(), limit: budget.limit, value, outcome }
}

/// A budget a run did not meet.
#[derive(Clone, Debug, PartialEq)]
pub struct Broken {
    pub budget: String,
    /// The run's value, written with its unit; `None` when the run cannot tell.
    pub actual: Option<String>,
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.actual {
            Some(actual) => write!(f, "{} (was {actual})", self.budget),
            None => write!(f, "{} (no samples: this run cannot judge it)", self.budget),
        }
    }
}

/// `None` when the run is within `budget`.
pub fn check(budget: &Budget, report: &RunReport) -> Option<Broken> {
    let value = budget_value(budget, report);
    if value.is_some_and(|v| budget.op.holds(v, budget.limit)) {
        return None;
    }
    Some(Broken { budget: budget.text.clone(), actual: value.map(|v| budget.metric.show(v)) })
}

/// The value `budget` limits in a run's report: its metric's, on its channel if it names one.
pub(crate) fn budget_value(budget: &Budget, report: &RunReport) -> Option<f64> {
    let Some(channel) = &budget.channel else { return value(budget.metric, report) };
    let on = report.status()?.notifications.channels.get(channel)?;
    match budget.metric {
        Metric::NotificationP50 => sampled(&on.latency, P50),
        Metric::NotificationP99 => sampled(&on.latency, P99),
        Metric::NotificationsLost => Some(on.lost as f64),
        Metric::NotificationsLate => Some(on.late as f64),
        Metric::NotificationsPending => Some(on.pending as f64),
        Metric::NotificationsOverRateLimit => Some(on.over_rate_limit as f64),
        Metric::NotificationDuplicates => Some(on.duplicates as f64),
        _ => None,
    }
}

/// A metric's value in a run's report. `None` when the run cannot tell (a distribution with no
/// sample, the primary was not audited, it was never lost for a failover figure, no write was
/// attempted, no page was viewed, no CDN was lost for a DNS figure), and when the metric belongs
/// to the other system than the run's. Latency metrics and `writes_unavailable` take the worst
/// region; `errors` counts requests answered with an error and those unanswered at the end.
pub fn value(metric: Metric, report: &RunReport) -> Option<f64> {
    let edge = |read: fn(&EdgeReport) -> Option<f64>| report.edge().and_then(read);
    let status = |read: fn(&StatusReport) -> Option<f64>| report.status().and_then(read);
    match metric {
        Metric::ReadP50 => edge(|r| worst(r, |l| &l.read, P50)),
        Metric::ReadP99 => edge(|r| worst(r, |l| &l.read, P99)),
        Metric::ReadMax => edge(|r| worst(r, |l| &l.read, MAX)),
        Metric::WriteP50 => edge(|r| worst(r, |l| &l.write, P50)),
        Metric::WriteP99 => edge(|r| worst(r, |l| &l.write, P99)),
        Metric::WriteMax => edge(|r| worst(r, |l| &l.write, MAX)),
        Metric::LagP50 => edge(|r| sampled(&r.replication.lag, P50)),
        Metric::LagP99 => edge(|r| sampled(&r.replication.lag, P99)),
        Metric::LagMax => edge(|r| sampled(&r.replication.lag, MAX)),
        Metric::StandbyLagP99 => edge(|r| sampled(&r.replication.standby_lag, P99)),
        Metric::StandbyFramesNeverApplied => edge(|r| Some(r.replication.standby_frames_never_applied as f64)),
        Metric::RywViolations => edge(|r| Some(r.checks.ryw_violations as f64)),
        Metric::MonotonicViolations => edge(|r| Some(r.checks.monotonic_violations as f64)),
        Metric::LostAckedWrites => edge(|r| r.checks.lost_acked_writes.as_ref().map(|l| l.len() as f64)),
        Metric::DivergedNodes => {
            edge(|r| r.checks.convergence.not_judged.is_none().then_some(r.checks.convergence.diverged.len() as f64))
        }
        Metric::Errors => edge(|r| {
            let unanswered: usize = r.writes.values().map(|w| w.unanswered).sum();
            total(r, |l| l.errors).map(|errors| errors + unanswered as f64)
        }),
        Metric::Shed => edge(|r| total(r, |l| l.shed)),
        Metric::ColdStarts => edge(|r| Some(r.cold_starts as f64)),
        Metric::ColdShareOfP99 => edge(|r| r.cold_share_of_p99_pct),
        Metric::PageTtfbP99 => edge(|r| sampled(&r.pages.as_ref()?.ttfb, P99)),
        Metric::StaleAgeP99 => edge(|r| sampled(&r.pages.as_ref()?.stale_age, P99)),
        Metric::StaleAgeMax => edge(|r| sampled(&r.pages.as_ref()?.stale_age, MAX)),
        Metric::RendersPerKeyWindowMax => edge(|r| Some(r.pages.as_ref()?.renders_per_key_window_max as f64)),
        Metric::RendersPerKeyRegionWindowMax => {
            edge(|r| Some(r.pages.as_ref()?.renders_per_key_region_window_max as f64))
        }
        Metric::SessionsMoved => edge(|r| Some(r.anycast.as_ref()?.sessions_moved as f64)),
        Metric::FailedWhileDetecting => edge(|r| Some(r.anycast.as_ref()?.failed_while_detecting as f64)),
        Metric::FailedOutsideDetection => edge(|r| Some(r.anycast.as_ref()?.failed_outside_detection as f64)),
        Metric::TimeToMoveMax => edge(|r| r.anycast.as_ref()?.time_to_move_max_s.map(ms)),
        Metric::SsrTtfbP99 => edge(|r| sampled(&r.ssr.as_ref()?.ttfb, P99)),
        Metric::SsrFullPageP99 => edge(|r| sampled(&r.ssr.as_ref()?.full_page, P99)),
        Metric::SsrIncomplete => edge(|r| Some(r.ssr.as_ref()?.incomplete as f64)),
        Metric::Timeouts => edge(|r| total(r, |l| l.timeouts)),
        Metric::FramesBehindMax => {
            edge(|r| Some(r.replication.replicas.values().map(|x| x.max_frames_behind).max().unwrap_or(0) as f64))
        }
        Metric::SnapshotsRestored => edge(|r| Some(r.replication.snapshots_restored as f64)),
        Metric::GapsDetected => edge(|r| Some(r.replication.gaps_detected as f64)),
        Metric::FailoverTime => edge(|r| r.failover.as_ref()?.failover_s.map(ms)),
        Metric::WritesUnavailable => edge(|r| r.writes_unavailable_s.map(ms)),
        Metric::FailureConfirmed => edge(|r| r.failover.as_ref()?.confirmed_s.map(ms)),
        Metric::SplitBrainAcks => edge(|r| Some(r.checks.split_brain.acked_by_fenced.len() as f64)),
        Metric::PageAvailability => status(|s| s.availability_pct),
        Metric::TtfbP99 => status(|s| sampled(&s.ttfb, P99)),
        Metric::StalenessP99 => status(|s| sampled(&s.staleness, P99)),
        Metric::StalenessMax => status(|s| sampled(&s.staleness, MAX)),
        Metric::DnsFailover => status(|s| s.dns_failover_ms()),
        Metric::PropagationP99 => status(|s| sampled(&s.propagation, P99)),
        Metric::CrdtConvergence => status(|s| s.convergence_ms()),
        Metric::LostUpdates => status(|s| s.judged("lost-status-updates").then_some(s.lost_updates.len() as f64)),
        Metric::StatusRegressions => status(|s| Some(s.status_regressions.len() as f64)),
        Metric::NotificationP50 => status(|s| sampled(&s.notifications.latency, P50)),
        Metric::NotificationP99 => status(|s| sampled(&s.notifications.latency, P99)),
        Metric::NotificationsLost => status(|s| Some(s.notifications.lost as f64)),
        Metric::NotificationsLate => status(|s| Some(s.notifications.late as f64)),
        Metric::NotificationsPending => status(|s| Some(s.notifications.pending as f64)),
        Metric::NotificationsOverRateLimit => status(|s| Some(s.notifications.over_rate_limit as f64)),
        Metric::NotificationDuplicates => status(|s| Some(s.notifications.duplicates as f64)),
        Metric::SseMissed => status(|s| Some(s.sse.missed as f64)),
        Metric::SsePropagationP99 => status(|s| sampled(s.sse.latency(SseEventKind::TimelineUpdate)?, P99)),
        Metric::SseStatusP99 => status(|s| sampled(s.sse.latency(SseEventKind::ComponentStatusChanged)?, P99)),
        Metric::SseResolvedP99 => status(|s| sampled(s.sse.latency(SseEventKind::IncidentResolved)?, P99)),
        Metric::SseReconnects => status(|s| (s.sse.viewers > 0).then_some(s.sse.reconnects as f64)),
        Metric::SseRefused => status(|s| (s.sse.viewers > 0).then_some(s.sse.refused as f64)),
        Metric::OriginRequestsPerS => status(|s| Some(s.spike.as_ref()?.origin_requests_per_s)),
        Metric::SpikeViewsPerS => status(|s| Some(s.spike.as_ref()?.answered_per_s)),
        Metric::Rto => status(|s| s.recovery.as_ref()?.rto_s.map(ms)),
        Metric::Rpo => status(|s| s.recovery.as_ref()?.rpo_s.map(ms)),
        Metric::RpoEdits => status(|s| s.recovery.as_ref()?.lost.as_ref().map(|l| l.len() as f64)),
    }
}

/// Seconds as milliseconds, to the microsecond (so 64.24 s reads 64240ms, not 64239.99999999999ms).
fn ms(seconds: f64) -> f64 {
    (seconds * 1e6).round() / 1e3
}

const P50: fn(&Summary) -> f64 = |s| s.p50_ms;
const P99: fn(&Summary) -> f64 = |s| s.p99_ms;
const MAX: fn(&Summary) -> f64 = |s| s.max_ms;

/// A figure of a distribution; `None` when it has no sample, so that a budget on it breaks rather
/// than reading an empty distribution as 0.
fn sampled(s: &Summary, figure: fn(&Summary) -> f64) -> Option<f64> {
    (s.count > 0).then(|| figure(s))
}

/// The worst figure among the regions that have samples; `None` when none has.
fn worst(r: &EdgeReport, of: fn(&RegionLatency) -> &Summary, figure: fn(&Summary) -> f64) -> Option<f64> {
    r.latency.values().filter_map(|l| sampled(of(l), figure)).reduce(f64::max)
}

fn total(r: &EdgeReport, f: fn(&RegionLatency) -> u64) -> Option<f64> {
    Some(r.latency.values().map(f).sum::<u64>() as f64)
}

/// The commit this edgesim was built from (`unknown` outside a git checkout).
pub const COMMIT: &str = env!("EDGESIM_COMMIT");

/// The command that runs one seed of a scenario again.
pub fn replay(path: &str, seed: u64) -> String {
    format!("edgesim run {path} --seed {seed}")
}

/// A replay command as printed with a failure: with the build it needs (`COMMIT`, or the build a
/// summary records).
pub fn replay_at_build(replay: &str, build: &str) -> String {
    format!("{replay}   # edgesim built from commit {build}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::check::convergence;
    use crate::edge::metrics::{ReplicationFigures, Summary};
    use crate::edge::report::Checks;
    use crate::report::SystemReport;

    fn report() -> RunReport {
        let region = |read_p99_ms, write_p99_ms| RegionLatency {
            read: Summary { count: 10, p50_ms: 5.0, p99_ms: read_p99_ms, max_ms: 20.0 },
            write: Summary { count: 10, p50_ms: 60.0, p99_ms: write_p99_ms, max_ms: 250.0 },
            errors: 1,
            timeouts: 2,
            ..RegionLatency::default()
        };
        RunReport {
            schema: 1,
            scenario: "t".into(),
            path: "t.toml".into(),
            seed: 1,
            sim_seconds: 1.0,
            hosts: 2,
            links: 1,
            events: 0,
            event_log_hash: String::new(),
            timeline: vec![],
            system: SystemReport::Edge(EdgeReport {
                latency: [("a".to_string(), region(9.5, 120.0)), ("b".to_string(), region(14.0, 180.0))].into(),
                writes: Default::default(),
                writes_unavailable_s: None,
                load: vec![],
                cold_starts: 0,
                cold_share_of_p99_pct: None,
                pages: None,
                anycast: None,
                ssr: None,
                replication: ReplicationFigures {
                    lag: Summary { count: 5, p50_ms: 20.0, p99_ms: 90.0, max_ms: 100.0 },
                    ..ReplicationFigures::default()
                },
                regions: Default::default(),
                checks: Checks {
                    ryw_violations: 3,
                    ryw_examples: vec![],
                    monotonic_violations: 0,
                    monotonic_examples: vec![],
                    lost_acked_writes: None,
                    acked_writes: 0,
                    convergence: convergence::ConvergenceFinding { converged: true, ..Default::default() },
                    split_brain: Default::default(),
                    not_judged: vec![],
                    liveness: None,
                    revalidation_herd: 0,
                    region_revalidation_herd: 0,
                },
                failover: None,
            }),
            charts: Default::default(),
        }
    }

    fn judged(text: &str) -> Option<String> {
        check(&Budget::parse(text).unwrap(), &report()).map(|b| b.to_string())
    }

    #[test]
    fn exit_codes_rank_the_verdicts() {
        let codes: Vec<u8> =
            [Verdict::Pass, Verdict::NotJudged, Verdict::BudgetBroken, Verdict::CheckerFired, Verdict::Error]
                .map(Verdict::exit_code)
                .into();
        assert_eq!(codes, vec![0, 1, 1, 2, 3]);
        assert_eq!([Verdict::BudgetBroken, Verdict::CheckerFired].into_iter().max(), Some(Verdict::CheckerFired));
        assert_eq!([Verdict::NotJudged, Verdict::BudgetBroken].into_iter().max(), Some(Verdict::BudgetBroken));
    }

    #[test]
    fn a_checker_that_cannot_judge_is_neither_fired_nor_a_pass() {
        // Issue 11, defect 9: with the primary at the end not audited, `Checks::fired` counted
        // lost-acked-writes (and convergence) as fired, so the run exited 2. Now they are "not
        // judged": the verdict is NotJudged, exit 1, with the reason; a fired checker still wins.
        let mut r = report();
        let SystemReport::Edge(edge) = &mut r.system else { unreachable!("an edge report") };
        edge.checks.ryw_violations = 0;
        edge.checks.convergence =
            convergence::ConvergenceFinding { not_judged: Some("no audit".into()), ..Default::default() };
        edge.checks.not_judged = vec![NotJudged { checker: "lost-acked-writes".into(), why: "no audit".into() }];
        let scenario = |budgets: &[&str]| {
            let mut s = crate::scenario::Scenario::load(std::path::Path::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../scenarios/steady.toml"
            )))
            .unwrap();
            s.budgets = budgets.iter().map(|b| Budget::parse(b).unwrap()).collect();
            s
        };
        let j = judge(&scenario(&[]), &r);
        assert_eq!((j.verdict, j.exit_code), (Verdict::NotJudged, 1), "{j:?}");
        assert!(j.fired_checkers.is_empty(), "{j:?}");
        assert!(j.to_string().contains("not judged: lost-acked-writes: no audit"), "{j}");
        let j = judge(&scenario(&["lost_acked_writes == 0", "read_p99 < 15ms"]), &r);
        assert_eq!(j.verdict, Verdict::BudgetBroken, "a budget on the unjudged figure breaks");
        let outcomes: Vec<_> = j.budgets.iter().map(|b| (b.metric, b.value, b.outcome)).collect();
        assert_eq!(
            outcomes,
            [("lost_acked_writes", None, BudgetOutcome::NoSamples), ("read_p99", Some(14.0), BudgetOutcome::Held)]
        );
        let SystemReport::Edge(edge) = &mut r.system else { unreachable!("an edge report") };
        edge.checks.ryw_violations = 1;
        assert_eq!(judge(&scenario(&[]), &r).verdict, Verdict::CheckerFired);
    }

    #[test]
    fn judges_the_worst_region_and_names_the_broken_budget() {
        assert_eq!(judged("read_p99 < 15ms"), None);
        assert_eq!(judged("read_p99 < 14ms").as_deref(), Some("read_p99 < 14ms (was 14ms)"));
        assert_eq!(judged("write_p99 <= 180ms"), None);
        assert_eq!(judged("lag_p99 < 90ms").as_deref(), Some("lag_p99 < 90ms (was 90ms)"));
        assert_eq!(judged("errors == 2"), None, "errors add up over regions");
        assert_eq!(judged("ryw_violations == 0").as_deref(), Some("ryw_violations == 0 (was 3)"));
        assert_eq!(judged("monotonic_violations == 0"), None);
    }

    #[test]
    fn a_metric_the_run_cannot_tell_breaks_its_budget() {
        let broken = judged("lost_acked_writes == 0").unwrap();
        assert!(broken.contains("no samples"), "{broken}");
    }

    #[test]
    fn a_distribution_without_samples_breaks_its_budget_rather_than_reading_0() {
        // Issue 11, defect 9: a region with no reads (or a run without lag samples) read as 0 ms, so
        // `read_p99 < 15ms` held on a run that read nothing. A region without samples is left out
        // of the worst-region figure; with none at all, the budget breaks with "no samples".
        let mut quiet = report();
        let SystemReport::Edge(edge) = &mut quiet.system else { unreachable!("an edge report") };
        edge.latency.get_mut("b").unwrap().read = Summary::default();
        let read_p99 = Budget::parse("read_p99 < 10ms").unwrap();
        assert_eq!(check(&read_p99, &quiet), None, "the region that read answers for the worst");
        let SystemReport::Edge(edge) = &mut quiet.system else { unreachable!("an edge report") };
        edge.latency.get_mut("a").unwrap().read = Summary::default();
        let broken = check(&read_p99, &quiet).expect("no region read anything").to_string();
        assert_eq!(broken, "read_p99 < 10ms (no samples: this run cannot judge it)");
        let SystemReport::Edge(edge) = &mut quiet.system else { unreachable!("an edge report") };
        edge.replication.lag = Summary::default();
        assert!(check(&Budget::parse("lag_p99 < 1s").unwrap(), &quiet).is_some(), "no lag sample is no evidence");
    }
}
