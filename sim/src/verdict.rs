//! The verdict of a run, and the exit code CI gates on: 0 every budget held and no correctness
//! checker fired; 1 a budget broke; 2 a correctness checker fired (it wins over a budget); 3 bad
//! input or a harness error.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::edge::metrics::{RegionLatency, Summary};
use crate::edge::report::EdgeReport;
use crate::report::RunReport;
use crate::scenario::Scenario;
use crate::scenario::budget::{Budget, Metric};
use crate::status::check::StatusReport;

/// Worst first is the highest: the verdict of many runs is their maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass = 0,
    BudgetBroken = 1,
    CheckerFired = 2,
    Error = 3,
}

impl Verdict {
    pub const fn exit_code(self) -> u8 {
        self as u8
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::BudgetBroken => "budget broken",
            Verdict::CheckerFired => "checker fired",
            Verdict::Error => "harness error",
        }
    }
}

/// What a run broke.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    pub verdict: Verdict,
    /// Each broken budget with the run's value.
    pub failed_budgets: Vec<String>,
    pub fired_checkers: Vec<String>,
}

pub fn judge(scenario: &Scenario, report: &RunReport) -> Judgement {
    let failed_budgets: Vec<String> =
        scenario.budgets.iter().filter_map(|b| check(b, report)).map(|b| b.to_string()).collect();
    let fired_checkers: Vec<String> = report.fired().into_iter().map(String::from).collect();
    let verdict = if !fired_checkers.is_empty() {
        Verdict::CheckerFired
    } else if !failed_budgets.is_empty() {
        Verdict::BudgetBroken
    } else {
        Verdict::Pass
    };
    Judgement { verdict, failed_budgets, fired_checkers }
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
    let value = value(budget.metric, report);
    if value.is_some_and(|v| budget.op.holds(v, budget.limit)) {
        return None;
    }
    Some(Broken { budget: budget.text.clone(), actual: value.map(|v| budget.metric.show(v)) })
}

/// A metric's value in a run's report. `None` when the run cannot tell (a distribution with no
/// sample, the primary was not audited, it was never lost for a failover figure, no CDN was lost
/// for a DNS figure), and when
/// the metric belongs to the other system than the run's. Latency metrics take the worst region.
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
        Metric::RywViolations => edge(|r| Some(r.checks.ryw_violations as f64)),
        Metric::MonotonicViolations => edge(|r| Some(r.checks.monotonic_violations as f64)),
        Metric::LostAckedWrites => edge(|r| r.checks.lost_acked_writes.as_ref().map(|l| l.len() as f64)),
        Metric::DivergedNodes => edge(|r| Some(r.checks.convergence.diverged.len() as f64)),
        Metric::Errors => edge(|r| total(r, |l| l.errors)),
        Metric::Shed => edge(|r| total(r, |l| l.shed)),
        Metric::ColdStarts => edge(|r| Some(r.cold_starts as f64)),
        Metric::Timeouts => edge(|r| total(r, |l| l.timeouts)),
        Metric::FramesBehindMax => {
            edge(|r| Some(r.replication.replicas.values().map(|x| x.max_frames_behind).max().unwrap_or(0) as f64))
        }
        Metric::SnapshotsRestored => edge(|r| Some(r.replication.snapshots_restored as f64)),
        Metric::GapsDetected => edge(|r| Some(r.replication.gaps_detected as f64)),
        Metric::FailoverTime => edge(|r| r.failover.as_ref()?.failover_s.map(|s| s * 1e3)),
        Metric::WritesUnavailable => edge(|r| r.failover.as_ref()?.writes_resumed_s.map(|s| s * 1e3)),
        Metric::FailureConfirmed => edge(|r| r.failover.as_ref()?.confirmed_s.map(|s| s * 1e3)),
        Metric::SplitBrainAcks => edge(|r| Some(r.checks.split_brain.acked_by_fenced.len() as f64)),
        Metric::PageAvailability => status(|s| Some(s.availability_pct)),
        Metric::TtfbP99 => status(|s| sampled(&s.ttfb, P99)),
        Metric::StalenessP99 => status(|s| sampled(&s.staleness, P99)),
        Metric::StalenessMax => status(|s| sampled(&s.staleness, MAX)),
        Metric::DnsFailover => status(|s| s.dns_failover_ms()),
        Metric::PropagationP99 => status(|s| sampled(&s.propagation, P99)),
        Metric::CrdtConvergence => status(|s| s.convergence_ms()),
        Metric::LostUpdates => status(|s| Some(s.lost_updates.len() as f64)),
        Metric::StatusRegressions => status(|s| Some(s.status_regressions.len() as f64)),
        Metric::NotificationP50 => status(|s| sampled(&s.notifications.latency, P50)),
        Metric::NotificationP99 => status(|s| sampled(&s.notifications.latency, P99)),
        Metric::NotificationsLost => status(|s| Some(s.notifications.lost as f64)),
        Metric::NotificationsLate => status(|s| Some(s.notifications.late as f64)),
        Metric::NotificationsPending => status(|s| Some(s.notifications.pending as f64)),
        Metric::NotificationsOverRateLimit => status(|s| Some(s.notifications.over_rate_limit as f64)),
        Metric::NotificationDuplicates => status(|s| Some(s.notifications.duplicates as f64)),
        Metric::SseMissed => status(|s| Some(s.sse.missed as f64)),
        Metric::SsePropagationP99 => status(|s| sampled(&s.sse.propagation, P99)),
    }
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
    use crate::edge::metrics::{Replication, Summary};
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
                load: vec![],
                cold_starts: 0,
                replication: Replication {
                    lag: Summary { count: 5, p50_ms: 20.0, p99_ms: 90.0, max_ms: 100.0 },
                    ..Replication::default()
                },
                checks: Checks {
                    ryw_violations: 3,
                    ryw_examples: vec![],
                    monotonic_violations: 0,
                    monotonic_examples: vec![],
                    lost_acked_writes: None,
                    acked_writes: 0,
                    convergence: convergence::Verdict { converged: true, ..Default::default() },
                    split_brain: Default::default(),
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
        let codes: Vec<u8> = [Verdict::Pass, Verdict::BudgetBroken, Verdict::CheckerFired, Verdict::Error]
            .map(Verdict::exit_code)
            .into();
        assert_eq!(codes, vec![0, 1, 2, 3]);
        assert_eq!([Verdict::BudgetBroken, Verdict::CheckerFired].into_iter().max(), Some(Verdict::CheckerFired));
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
