//! Budgets: limits a run must stay within, written in a scenario's `budgets` list as
//! `METRIC OP VALUE` (`"read_p99 < 15ms"`, `"ryw_violations == 0"`) and judged per seed against
//! the run's report. Latency metrics take the worst region; durations compare in milliseconds,
//! counts as plain numbers.

use std::fmt;

use crate::metrics::RegionLatency;
use crate::report::RunReport;
use crate::status::check::StatusReport;
use crate::units::Dur;

/// What a metric's value is, and so how its limit is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Milliseconds; the limit needs a unit (`15ms`, `1.5s`).
    Duration,
    /// A plain number.
    Count,
    /// A percentage; the limit is written with `%` (`99.9%`).
    Percent,
}

/// A figure of a run report a budget can limit.
#[derive(Debug)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    read: Read,
}

/// Where a metric's value comes from: `None` when the run cannot tell (the primary was not
/// audited, it was never lost for a failover figure, no CDN was lost for a DNS figure).
#[derive(Debug)]
enum Read {
    Edge(fn(&RunReport) -> Option<f64>),
    Status(fn(&StatusReport) -> Option<f64>),
}

impl Metric {
    /// Whether the metric is the status page's (else the edge platform's).
    pub fn is_status(&self) -> bool {
        matches!(self.read, Read::Status(_))
    }

    /// `None` also when the metric belongs to the other system than the run's.
    pub fn value(&self, report: &RunReport) -> Option<f64> {
        match (&self.read, &report.status) {
            (Read::Edge(read), None) => read(report),
            (Read::Status(read), Some(status)) => read(status),
            _ => None,
        }
    }

    /// `value` written with its unit.
    pub fn show(&self, value: f64) -> String {
        match self.kind {
            Kind::Duration => format!("{value}ms"),
            Kind::Count => format!("{value}"),
            Kind::Percent => format!("{value}%"),
        }
    }
}

/// The worst region's figure.
fn worst(r: &RunReport, f: fn(&RegionLatency) -> f64) -> Option<f64> {
    Some(r.latency.values().map(f).fold(0.0, f64::max))
}

fn total(r: &RunReport, f: fn(&RegionLatency) -> u64) -> Option<f64> {
    Some(r.latency.values().map(f).sum::<u64>() as f64)
}

const fn duration(name: &'static str, read: fn(&RunReport) -> Option<f64>) -> Metric {
    Metric { name, kind: Kind::Duration, read: Read::Edge(read) }
}

const fn count(name: &'static str, read: fn(&RunReport) -> Option<f64>) -> Metric {
    Metric { name, kind: Kind::Count, read: Read::Edge(read) }
}

/// A status page figure.
const fn status(name: &'static str, kind: Kind, read: fn(&StatusReport) -> Option<f64>) -> Metric {
    Metric { name, kind, read: Read::Status(read) }
}

/// Every metric a budget can name.
pub const METRICS: &[Metric] = &[
    duration("read_p50", |r| worst(r, |l| l.read.p50_ms)),
    duration("read_p99", |r| worst(r, |l| l.read.p99_ms)),
    duration("read_max", |r| worst(r, |l| l.read.max_ms)),
    duration("write_p50", |r| worst(r, |l| l.write.p50_ms)),
    duration("write_p99", |r| worst(r, |l| l.write.p99_ms)),
    duration("write_max", |r| worst(r, |l| l.write.max_ms)),
    duration("lag_p50", |r| Some(r.replication.lag.p50_ms)),
    duration("lag_p99", |r| Some(r.replication.lag.p99_ms)),
    duration("lag_max", |r| Some(r.replication.lag.max_ms)),
    duration("standby_lag_p99", |r| Some(r.replication.standby_lag.p99_ms)),
    count("ryw_violations", |r| Some(r.checks.ryw_violations as f64)),
    count("monotonic_violations", |r| Some(r.checks.monotonic_violations as f64)),
    count("lost_acked_writes", |r| r.checks.lost_acked_writes.as_ref().map(|l| l.len() as f64)),
    count("diverged_nodes", |r| Some(r.checks.convergence.diverged.len() as f64)),
    count("errors", |r| total(r, |l| l.errors)),
    count("timeouts", |r| total(r, |l| l.timeouts)),
    count("frames_behind_max", |r| {
        Some(r.replication.replicas.values().map(|x| x.max_frames_behind).max().unwrap_or(0) as f64)
    }),
    count("snapshots_restored", |r| Some(r.replication.snapshots_restored as f64)),
    count("gaps_detected", |r| Some(r.replication.gaps_detected as f64)),
    duration("failover_time", |r| r.failover.as_ref()?.failover_s.map(|s| s * 1e3)),
    duration("writes_unavailable", |r| r.failover.as_ref()?.writes_resumed_s.map(|s| s * 1e3)),
    duration("failure_confirmed", |r| r.failover.as_ref()?.confirmed_s.map(|s| s * 1e3)),
    count("split_brain_acks", |r| Some(r.checks.split_brain.acked_by_fenced.len() as f64)),
    status("page_availability", Kind::Percent, |s| Some(s.availability_pct)),
    status("ttfb_p99", Kind::Duration, |s| Some(s.ttfb.p99_ms)),
    status("staleness_p99", Kind::Duration, |s| Some(s.staleness.p99_ms)),
    status("staleness_max", Kind::Duration, |s| Some(s.staleness.max_ms)),
    status("dns_failover", Kind::Duration, |s| s.dns_failover_ms()),
    status("propagation_p99", Kind::Duration, |s| Some(s.propagation.p99_ms)),
    status("crdt_convergence", Kind::Duration, |s| s.convergence_ms()),
    status("lost_updates", Kind::Count, |s| Some(s.lost_updates.len() as f64)),
    status("status_regressions", Kind::Count, |s| Some(s.status_regressions.len() as f64)),
    status("notification_p50", Kind::Duration, |s| Some(s.notifications.latency.p50_ms)),
    status("notification_p99", Kind::Duration, |s| Some(s.notifications.latency.p99_ms)),
    status("notifications_lost", Kind::Count, |s| Some(s.notifications.lost as f64)),
    status("notifications_late", Kind::Count, |s| Some(s.notifications.late as f64)),
    status("notifications_pending", Kind::Count, |s| Some(s.notifications.pending as f64)),
    status("notifications_over_rate_limit", Kind::Count, |s| Some(s.notifications.over_rate_limit as f64)),
    status("notification_duplicates", Kind::Count, |s| Some(s.notifications.duplicates as f64)),
    status("sse_missed", Kind::Count, |s| Some(s.sse.missed as f64)),
    status("sse_propagation_p99", Kind::Duration, |s| Some(s.sse.propagation.p99_ms)),
];

/// A comparison, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Op {
    /// Longest first, so `<=` is not read as `<`.
    const WRITTEN: [(&'static str, Op); 5] =
        [("<=", Op::Le), (">=", Op::Ge), ("==", Op::Eq), ("<", Op::Lt), (">", Op::Gt)];

    fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Op::Lt => value < limit,
            Op::Le => value <= limit,
            Op::Eq => value == limit,
            Op::Ge => value >= limit,
            Op::Gt => value > limit,
        }
    }
}

/// One checked budget.
#[derive(Clone, Debug)]
pub struct Budget {
    /// As written in the scenario file.
    pub text: String,
    pub metric: &'static Metric,
    pub op: Op,
    /// In milliseconds for a duration metric.
    pub limit: f64,
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
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
            None => write!(f, "{} (cannot be judged from this run)", self.budget),
        }
    }
}

impl Budget {
    pub fn parse(text: &str) -> Result<Budget, String> {
        let text = text.trim();
        let usage = || format!("`{text}` is not a budget: write METRIC OP VALUE, such as `read_p99 < 15ms`");
        let split = text.find(['<', '>', '=', '!']).ok_or_else(usage)?;
        let name = text[..split].trim();
        let rest = &text[split..];
        let (written, op) = Op::WRITTEN.iter().find(|(w, _)| rest.starts_with(w)).ok_or_else(usage)?;
        let value = rest[written.len()..].trim();
        let metric = METRICS.iter().find(|m| m.name == name).ok_or_else(|| {
            let known: Vec<_> = METRICS.iter().map(|m| m.name).collect();
            format!("unknown metric `{name}` in `{text}`; known metrics are {}", known.join(", "))
        })?;
        let limit = match metric.kind {
            Kind::Duration => Dur::parse(value)?.0.as_secs_f64() * 1e3,
            Kind::Count => value.parse::<u64>().map_err(|_| {
                format!("`{name}` is a count: its limit must be a whole number without a unit, not `{value}`")
            })? as f64,
            Kind::Percent => value
                .strip_suffix('%')
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| (0.0..=100.0).contains(v))
                .ok_or_else(|| format!("`{name}` is a percentage: write its limit as `99.9%`, not `{value}`"))?,
        };
        Ok(Budget { text: text.to_string(), metric, op: *op, limit })
    }

    /// `None` when the run is within the budget.
    pub fn check(&self, report: &RunReport) -> Option<Broken> {
        let value = self.metric.value(report);
        if value.is_some_and(|v| self.op.holds(v, self.limit)) {
            return None;
        }
        Some(Broken { budget: self.text.clone(), actual: value.map(|v| self.metric.show(v)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::convergence;
    use crate::metrics::{Replication, Summary};
    use crate::report::Checks;

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
            latency: [("a".to_string(), region(9.5, 120.0)), ("b".to_string(), region(14.0, 180.0))].into(),
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
            timeline: vec![],
            status: None,
            charts: Default::default(),
        }
    }

    fn check(text: &str) -> Option<String> {
        Budget::parse(text).unwrap().check(&report()).map(|b| b.to_string())
    }

    #[test]
    fn parses_metric_op_and_value_with_its_unit() {
        let b = Budget::parse(" read_p99 <= 1.5s ").unwrap();
        assert_eq!((b.metric.name, b.op, b.limit, b.text.as_str()), ("read_p99", Op::Le, 1500.0, "read_p99 <= 1.5s"));
        let b = Budget::parse("ryw_violations==0").unwrap();
        assert_eq!((b.metric.name, b.op, b.limit), ("ryw_violations", Op::Eq, 0.0));
        assert_eq!(Budget::parse("lag_p99 > 250us").unwrap().limit, 0.25);
        assert_eq!(Budget::parse("errors >= 3").unwrap().op, Op::Ge);
    }

    #[test]
    fn refuses_unknown_metrics_listing_the_known_ones() {
        let e = Budget::parse("read_p95 < 15ms").unwrap_err();
        assert!(e.contains("unknown metric `read_p95`"), "{e}");
        assert!(e.contains("read_p99, read_max") && e.contains("gaps_detected"), "{e}");
    }

    #[test]
    fn refuses_malformed_budgets_and_wrong_units() {
        assert!(Budget::parse("read_p99 15ms").unwrap_err().contains("METRIC OP VALUE"));
        assert!(Budget::parse("read_p99 != 15ms").unwrap_err().contains("METRIC OP VALUE"));
        assert!(Budget::parse("read_p99 < 15").unwrap_err().contains("no unit"));
        assert!(Budget::parse("errors < 2ms").unwrap_err().contains("`errors` is a count"));
    }

    #[test]
    fn judges_the_worst_region_and_names_the_broken_budget() {
        assert_eq!(check("read_p99 < 15ms"), None);
        assert_eq!(check("read_p99 < 14ms").as_deref(), Some("read_p99 < 14ms (was 14ms)"));
        assert_eq!(check("write_p99 <= 180ms"), None);
        assert_eq!(check("lag_p99 < 90ms").as_deref(), Some("lag_p99 < 90ms (was 90ms)"));
        assert_eq!(check("errors == 2"), None, "errors add up over regions");
        assert_eq!(check("ryw_violations == 0").as_deref(), Some("ryw_violations == 0 (was 3)"));
        assert_eq!(check("monotonic_violations == 0"), None);
    }

    #[test]
    fn a_metric_the_run_cannot_tell_breaks_its_budget() {
        let broken = check("lost_acked_writes == 0").unwrap();
        assert!(broken.contains("cannot be judged"), "{broken}");
    }
}
