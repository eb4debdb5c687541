//! Budgets: limits a run must stay within, written in a scenario's `budgets` list as
//! `METRIC OP VALUE` (`"read_p99 < 15ms"`, `"ryw_violations == 0"`), a notification figure also as
//! `METRIC.CHANNEL OP VALUE` (`"notification_p99.email < 2m"`): what the scenario file says,
//! the metric, the comparison and the limit. Durations compare in milliseconds, counts as plain
//! numbers. Judging a run's report against them is the verdict's (`verdict::check`).

use std::fmt;

use crate::status::settings::CHANNELS;
use crate::units::Dur;

/// What a metric's value is, and so how its limit is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// Milliseconds; the limit needs a unit (`15ms`, `1.5s`).
    Duration,
    /// A plain number.
    Count,
    /// A percentage; the limit is written with `%` (`99.9%`).
    Percent,
}

/// A figure of a run report a budget can limit; `verdict::value` reads it from a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    ReadP50,
    ReadP99,
    ReadMax,
    WriteP50,
    WriteP99,
    WriteMax,
    LagP50,
    LagP99,
    LagMax,
    StandbyLagP99,
    StandbyFramesNeverApplied,
    RywViolations,
    MonotonicViolations,
    LostAckedWrites,
    DivergedNodes,
    Errors,
    Shed,
    ColdStarts,
    ColdShareOfP99,
    PageTtfbP99,
    StaleAgeP99,
    StaleAgeMax,
    RendersPerKeyWindowMax,
    RendersPerKeyRegionWindowMax,
    SessionsMoved,
    FailedWhileDetecting,
    FailedOutsideDetection,
    TimeToMoveMax,
    SsrTtfbP99,
    SsrFullPageP99,
    SsrIncomplete,
    Timeouts,
    FramesBehindMax,
    SnapshotsRestored,
    GapsDetected,
    FailoverTime,
    WritesUnavailable,
    FailureConfirmed,
    SplitBrainAcks,
    PageAvailability,
    TtfbP99,
    StalenessP99,
    StalenessMax,
    DnsFailover,
    PropagationP99,
    CrdtConvergence,
    LostUpdates,
    StatusRegressions,
    NotificationP50,
    NotificationP99,
    NotificationsLost,
    NotificationsLate,
    NotificationsPending,
    NotificationsOverRateLimit,
    NotificationDuplicates,
    SseMissed,
    SsePropagationP99,
    SseStatusP99,
    SseResolvedP99,
    SseReconnects,
    SseRefused,
    OriginRequestsPerS,
    SpikeViewsPerS,
    Rto,
    Rpo,
    RpoEdits,
}

/// Every metric a budget can name.
pub(crate) const METRICS: &[Metric] = &[
    Metric::ReadP50,
    Metric::ReadP99,
    Metric::ReadMax,
    Metric::WriteP50,
    Metric::WriteP99,
    Metric::WriteMax,
    Metric::LagP50,
    Metric::LagP99,
    Metric::LagMax,
    Metric::StandbyLagP99,
    Metric::StandbyFramesNeverApplied,
    Metric::RywViolations,
    Metric::MonotonicViolations,
    Metric::LostAckedWrites,
    Metric::DivergedNodes,
    Metric::Errors,
    Metric::Shed,
    Metric::ColdStarts,
    Metric::ColdShareOfP99,
    Metric::PageTtfbP99,
    Metric::StaleAgeP99,
    Metric::StaleAgeMax,
    Metric::RendersPerKeyWindowMax,
    Metric::RendersPerKeyRegionWindowMax,
    Metric::SessionsMoved,
    Metric::FailedWhileDetecting,
    Metric::FailedOutsideDetection,
    Metric::TimeToMoveMax,
    Metric::SsrTtfbP99,
    Metric::SsrFullPageP99,
    Metric::SsrIncomplete,
    Metric::Timeouts,
    Metric::FramesBehindMax,
    Metric::SnapshotsRestored,
    Metric::GapsDetected,
    Metric::FailoverTime,
    Metric::WritesUnavailable,
    Metric::FailureConfirmed,
    Metric::SplitBrainAcks,
    Metric::PageAvailability,
    Metric::TtfbP99,
    Metric::StalenessP99,
    Metric::StalenessMax,
    Metric::DnsFailover,
    Metric::PropagationP99,
    Metric::CrdtConvergence,
    Metric::LostUpdates,
    Metric::StatusRegressions,
    Metric::NotificationP50,
    Metric::NotificationP99,
    Metric::NotificationsLost,
    Metric::NotificationsLate,
    Metric::NotificationsPending,
    Metric::NotificationsOverRateLimit,
    Metric::NotificationDuplicates,
    Metric::SseMissed,
    Metric::SsePropagationP99,
    Metric::SseStatusP99,
    Metric::SseResolvedP99,
    Metric::SseReconnects,
    Metric::SseRefused,
    Metric::OriginRequestsPerS,
    Metric::SpikeViewsPerS,
    Metric::Rto,
    Metric::Rpo,
    Metric::RpoEdits,
];

impl Metric {
    /// Its name as written in a budget, and what its value is.
    fn spec(self) -> (&'static str, MetricKind) {
        match self {
            Metric::ReadP50 => ("read_p50", MetricKind::Duration),
            Metric::ReadP99 => ("read_p99", MetricKind::Duration),
            Metric::ReadMax => ("read_max", MetricKind::Duration),
            Metric::WriteP50 => ("write_p50", MetricKind::Duration),
            Metric::WriteP99 => ("write_p99", MetricKind::Duration),
            Metric::WriteMax => ("write_max", MetricKind::Duration),
            Metric::LagP50 => ("lag_p50", MetricKind::Duration),
            Metric::LagP99 => ("lag_p99", MetricKind::Duration),
            Metric::LagMax => ("lag_max", MetricKind::Duration),
            Metric::StandbyLagP99 => ("standby_lag_p99", MetricKind::Duration),
            Metric::StandbyFramesNeverApplied => ("standby_frames_never_applied", MetricKind::Count),
            Metric::RywViolations => ("ryw_violations", MetricKind::Count),
            Metric::MonotonicViolations => ("monotonic_violations", MetricKind::Count),
            Metric::LostAckedWrites => ("lost_acked_writes", MetricKind::Count),
            Metric::DivergedNodes => ("diverged_nodes", MetricKind::Count),
            Metric::Errors => ("errors", MetricKind::Count),
            Metric::Shed => ("shed", MetricKind::Count),
            Metric::ColdStarts => ("cold_starts", MetricKind::Count),
            Metric::ColdShareOfP99 => ("cold_share_of_p99", MetricKind::Percent),
            Metric::PageTtfbP99 => ("page_ttfb_p99", MetricKind::Duration),
            Metric::StaleAgeP99 => ("stale_age_p99", MetricKind::Duration),
            Metric::StaleAgeMax => ("stale_age_max", MetricKind::Duration),
            Metric::RendersPerKeyWindowMax => ("renders_per_key_window_max", MetricKind::Count),
            Metric::RendersPerKeyRegionWindowMax => ("renders_per_key_region_window_max", MetricKind::Count),
            Metric::SessionsMoved => ("sessions_moved", MetricKind::Count),
            Metric::FailedWhileDetecting => ("failed_while_detecting", MetricKind::Count),
            Metric::FailedOutsideDetection => ("failed_outside_detection", MetricKind::Count),
            Metric::TimeToMoveMax => ("time_to_move_max", MetricKind::Duration),
            Metric::SsrTtfbP99 => ("ssr_ttfb_p99", MetricKind::Duration),
            Metric::SsrFullPageP99 => ("ssr_full_page_p99", MetricKind::Duration),
            Metric::SsrIncomplete => ("ssr_incomplete", MetricKind::Count),
            Metric::Timeouts => ("timeouts", MetricKind::Count),
            Metric::FramesBehindMax => ("frames_behind_max", MetricKind::Count),
            Metric::SnapshotsRestored => ("snapshots_restored", MetricKind::Count),
            Metric::GapsDetected => ("gaps_detected", MetricKind::Count),
            Metric::FailoverTime => ("failover_time", MetricKind::Duration),
            Metric::WritesUnavailable => ("writes_unavailable", MetricKind::Duration),
            Metric::FailureConfirmed => ("failure_confirmed", MetricKind::Duration),
            Metric::SplitBrainAcks => ("split_brain_acks", MetricKind::Count),
            Metric::PageAvailability => ("page_availability", MetricKind::Percent),
            Metric::TtfbP99 => ("ttfb_p99", MetricKind::Duration),
            Metric::StalenessP99 => ("staleness_p99", MetricKind::Duration),
            Metric::StalenessMax => ("staleness_max", MetricKind::Duration),
            Metric::DnsFailover => ("dns_failover", MetricKind::Duration),
            Metric::PropagationP99 => ("propagation_p99", MetricKind::Duration),
            Metric::CrdtConvergence => ("crdt_convergence", MetricKind::Duration),
            Metric::LostUpdates => ("lost_updates", MetricKind::Count),
            Metric::StatusRegressions => ("status_regressions", MetricKind::Count),
            Metric::NotificationP50 => ("notification_p50", MetricKind::Duration),
            Metric::NotificationP99 => ("notification_p99", MetricKind::Duration),
            Metric::NotificationsLost => ("notifications_lost", MetricKind::Count),
            Metric::NotificationsLate => ("notifications_late", MetricKind::Count),
            Metric::NotificationsPending => ("notifications_pending", MetricKind::Count),
            Metric::NotificationsOverRateLimit => ("notifications_over_rate_limit", MetricKind::Count),
            Metric::NotificationDuplicates => ("notification_duplicates", MetricKind::Count),
            Metric::SseMissed => ("sse_missed", MetricKind::Count),
            Metric::SsePropagationP99 => ("sse_propagation_p99", MetricKind::Duration),
            Metric::SseStatusP99 => ("sse_status_p99", MetricKind::Duration),
            Metric::SseResolvedP99 => ("sse_resolved_p99", MetricKind::Duration),
            Metric::SseReconnects => ("sse_reconnects", MetricKind::Count),
            Metric::SseRefused => ("sse_refused", MetricKind::Count),
            Metric::OriginRequestsPerS => ("origin_requests_per_s", MetricKind::Count),
            Metric::SpikeViewsPerS => ("spike_views_per_s", MetricKind::Count),
            Metric::Rto => ("rto", MetricKind::Duration),
            Metric::Rpo => ("rpo", MetricKind::Duration),
            Metric::RpoEdits => ("rpo_edits", MetricKind::Count),
        }
    }

    pub fn name(self) -> &'static str {
        self.spec().0
    }

    pub fn kind(self) -> MetricKind {
        self.spec().1
    }

    /// Whether the metric is a notification figure, which a budget can also limit on one channel.
    pub(crate) fn per_channel(self) -> bool {
        matches!(
            self,
            Metric::NotificationP50
                | Metric::NotificationP99
                | Metric::NotificationsLost
                | Metric::NotificationsLate
                | Metric::NotificationsPending
                | Metric::NotificationsOverRateLimit
                | Metric::NotificationDuplicates
        )
    }

    /// Whether the metric is the status page's (else the edge platform's).
    pub(crate) fn is_status(self) -> bool {
        self.per_channel()
            || matches!(
                self,
                Metric::PageAvailability
                    | Metric::TtfbP99
                    | Metric::StalenessP99
                    | Metric::StalenessMax
                    | Metric::DnsFailover
                    | Metric::PropagationP99
                    | Metric::CrdtConvergence
                    | Metric::LostUpdates
                    | Metric::StatusRegressions
                    | Metric::SseMissed
                    | Metric::SsePropagationP99
                    | Metric::SseStatusP99
                    | Metric::SseResolvedP99
                    | Metric::SseReconnects
                    | Metric::SseRefused
                    | Metric::OriginRequestsPerS
                    | Metric::SpikeViewsPerS
                    | Metric::Rto
                    | Metric::Rpo
                    | Metric::RpoEdits
            )
    }

    /// `value` written with its unit.
    pub fn show(self, value: f64) -> String {
        match self.kind() {
            MetricKind::Duration => format!("{value}ms"),
            MetricKind::Count => format!("{value}"),
            MetricKind::Percent => format!("{value}%"),
        }
    }
}

/// A comparison, as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Comparison {
    /// Longest first, so `<=` is not read as `<`.
    const WRITTEN: [(&'static str, Comparison); 5] = [
        ("<=", Comparison::Le),
        (">=", Comparison::Ge),
        ("==", Comparison::Eq),
        ("<", Comparison::Lt),
        (">", Comparison::Gt),
    ];

    pub fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Comparison::Lt => value < limit,
            Comparison::Le => value <= limit,
            Comparison::Eq => value == limit,
            Comparison::Ge => value >= limit,
            Comparison::Gt => value > limit,
        }
    }
}

/// One checked budget.
#[derive(Clone, Debug)]
pub struct Budget {
    /// As written in the scenario file.
    pub text: String,
    pub metric: Metric,
    /// The notification channel the budget limits (`notification_p99.email`), or all of them.
    pub channel: Option<String>,
    pub op: Comparison,
    /// In milliseconds for a duration metric.
    pub limit: f64,
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Budget {
    pub fn parse(text: &str) -> Result<Budget, String> {
        let text = text.trim();
        let usage = || format!("`{text}` is not a budget: write METRIC OP VALUE, such as `read_p99 < 15ms`");
        let split = text.find(['<', '>', '=', '!']).ok_or_else(usage)?;
        let written_name = text[..split].trim();
        let (name, channel) = match written_name.split_once('.') {
            Some((name, channel)) => (name, Some(channel)),
            None => (written_name, None),
        };
        let rest = &text[split..];
        let (written, op) = Comparison::WRITTEN.iter().find(|(w, _)| rest.starts_with(w)).ok_or_else(usage)?;
        let value = rest[written.len()..].trim();
        let metric = METRICS.iter().copied().find(|m| m.name() == name).ok_or_else(|| {
            let known: Vec<_> = METRICS.iter().map(|m| m.name()).collect();
            format!("unknown metric `{name}` in `{text}`; known metrics are {}", known.join(", "))
        })?;
        let limit = match metric.kind() {
            MetricKind::Duration => Dur::parse(value)?.0.as_secs_f64() * 1e3,
            MetricKind::Count => value.parse::<u64>().map_err(|_| {
                format!("`{name}` is a count: its limit must be a whole number without a unit, not `{value}`")
            })? as f64,
            MetricKind::Percent => value
                .strip_suffix('%')
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| (0.0..=100.0).contains(v))
                .ok_or_else(|| format!("`{name}` is a percentage: write its limit as `99.9%`, not `{value}`"))?,
        };
        if let Some(channel) = channel {
            if !metric.per_channel() {
                return Err(format!(
                    "`{name}` is not a notification figure: it cannot be limited on a channel (`{text}`)"
                ));
            }
            if !CHANNELS.iter().any(|(c, _)| *c == channel) {
                let known: Vec<_> = CHANNELS.iter().map(|(c, _)| *c).collect();
                return Err(format!("unknown channel `{channel}` in `{text}`; channels are {}", known.join(", ")));
            }
        }
        let channel = channel.map(String::from);
        Ok(Budget { text: text.to_string(), metric, channel, op: *op, limit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_metric_op_and_value_with_its_unit() {
        let b = Budget::parse(" read_p99 <= 1.5s ").unwrap();
        assert_eq!(
            (b.metric.name(), b.op, b.limit, b.text.as_str()),
            ("read_p99", Comparison::Le, 1500.0, "read_p99 <= 1.5s")
        );
        let b = Budget::parse("ryw_violations==0").unwrap();
        assert_eq!((b.metric.name(), b.op, b.limit), ("ryw_violations", Comparison::Eq, 0.0));
        assert_eq!(Budget::parse("lag_p99 > 250us").unwrap().limit, 0.25);
        assert_eq!(Budget::parse("errors >= 3").unwrap().op, Comparison::Ge);
    }

    #[test]
    fn refuses_unknown_metrics_listing_the_known_ones() {
        let e = Budget::parse("read_p95 < 15ms").unwrap_err();
        assert!(e.contains("unknown metric `read_p95`"), "{e}");
        assert!(e.contains("read_p99, read_max") && e.contains("gaps_detected"), "{e}");
    }

    #[test]
    fn a_notification_figure_can_name_a_channel_and_nothing_else_can() {
        // Goal: `METRIC.CHANNEL` limits one channel's figure; a channel that does not exist, or
        // a metric that has no channels, is refused with what is wrong.
        let b = Budget::parse("notification_p99.email < 2m").unwrap();
        assert_eq!((b.metric, b.channel.as_deref(), b.limit), (Metric::NotificationP99, Some("email"), 120_000.0));
        assert_eq!(Budget::parse("notifications_lost == 0").unwrap().channel, None);
        assert!(Budget::parse("notifications_lost.fax == 0").unwrap_err().contains("unknown channel `fax`"));
        assert!(Budget::parse("read_p99.email < 1s").unwrap_err().contains("not a notification figure"));
    }

    #[test]
    fn refuses_malformed_budgets_and_wrong_units() {
        assert!(Budget::parse("read_p99 15ms").unwrap_err().contains("METRIC OP VALUE"));
        assert!(Budget::parse("read_p99 != 15ms").unwrap_err().contains("METRIC OP VALUE"));
        assert!(Budget::parse("read_p99 < 15").unwrap_err().contains("no unit"));
        assert!(Budget::parse("errors < 2ms").unwrap_err().contains("`errors` is a count"));
    }
}
