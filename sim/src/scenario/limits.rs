//! The documented bounds of every number and duration a scenario file can hold, checked on the
//! parsed document before it is read into settings, so that a value out of range is refused at
//! its own line and column, in the user's words ("a whole number from 1 to 1000"), and no run
//! starts that cannot fit in one machine. `docs/SCENARIOS.md` lists the same bounds.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::units::Dur;

/// What a key holds and the values it may take (both ends included).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Bound {
    /// A TOML integer.
    Whole(u64, u64),
    /// An integer or a float.
    Number(f64, f64),
    /// A duration string, the ends written as in a scenario file.
    Duration(&'static str, &'static str),
    /// A value of the inner bound, or a string `"LO..HI"` of two, the first not above the second.
    Range(&'static Bound),
}

impl Bound {
    /// The bound in words, for error messages and the documentation.
    pub(crate) fn describe(self) -> String {
        match self {
            Bound::Whole(min, max) => format!("a whole number from {min} to {max}"),
            Bound::Number(min, max) => format!("a number from {min} to {max}"),
            Bound::Duration(min, max) => format!("a duration from {min} to {max}"),
            Bound::Range(inner) => format!("{}, or a range `\"LO..HI\"` of them", inner.describe()),
        }
    }

    /// A range's end as a number (a duration in seconds), and whether it is within the bound.
    fn end(self, text: &str) -> Result<(f64, bool), String> {
        let (value, min, max) = match self {
            Bound::Whole(min, max) => {
                let v: u64 = text.trim().parse().map_err(|_| format!("`{text}` is not a whole number"))?;
                (v as f64, min as f64, max as f64)
            }
            Bound::Number(min, max) => {
                (text.trim().parse().map_err(|_| format!("`{text}` is not a number"))?, min, max)
            }
            Bound::Duration(min, max) => {
                let secs = |t: &str| Dur::parse(t).map(|d| d.0.as_secs_f64());
                (secs(text)?, secs(min).expect("a valid bound"), secs(max).expect("a valid bound"))
            }
            Bound::Range(inner) => return inner.end(text),
        };
        Ok((value, (min..=max).contains(&value)))
    }

    /// `None` when `value` (written as `written`) is within the bound of the key at `path`.
    fn problem(self, path: &str, value: &DeValue<'_>, written: &str) -> Option<String> {
        let fits = match (self, value) {
            (Bound::Range(inner), DeValue::String(s)) if s.contains("..") => {
                let (lo, hi) = s.split_once("..").expect("contains ..");
                let ((lo, lo_fits), (hi, hi_fits)) = match (inner.end(lo), inner.end(hi)) {
                    (Ok(lo), Ok(hi)) => (lo, hi),
                    (Err(e), _) | (_, Err(e)) => return Some(format!("`{path}`: {e}")),
                };
                if lo > hi {
                    return Some(format!("`{path}` = {written} ends before it starts"));
                }
                lo_fits && hi_fits
            }
            (Bound::Range(inner), _) => return inner.problem(path, value, written),
            (Bound::Whole(min, max), DeValue::Integer(i)) => whole(i).is_some_and(|v| (min..=max).contains(&v)),
            (Bound::Number(min, max), DeValue::Integer(i)) => {
                whole(i).is_some_and(|v| (min..=max).contains(&(v as f64)))
            }
            (Bound::Number(min, max), DeValue::Float(f)) => {
                f.as_str().parse::<f64>().is_ok_and(|v| (min..=max).contains(&v))
            }
            (Bound::Duration(min, max), DeValue::String(s)) => match Dur::parse(s) {
                Err(e) => return Some(format!("`{path}`: {e}")),
                Ok(d) => {
                    (Dur::parse(min).expect("a valid bound")..=Dur::parse(max).expect("a valid bound")).contains(&d)
                }
            },
            _ => return Some(format!("`{path}` expects {}, not {}", self.describe(), written_type(value))),
        };
        (!fits).then(|| format!("`{path}` = {written} is out of range: expected {}", self.describe()))
    }
}

/// A TOML integer as a `u64`; `None` for a negative one.
fn whole(i: &toml::de::DeInteger<'_>) -> Option<u64> {
    u64::from_str_radix(i.as_str(), i.radix()).ok()
}

fn written_type(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "a whole number",
        DeValue::Float(_) => "a number with a fraction",
        DeValue::Boolean(_) => "true or false",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

const fn whole_n(min: u64, max: u64) -> Bound {
    Bound::Whole(min, max)
}

const fn dur(min: &'static str, max: &'static str) -> Bound {
    Bound::Duration(min, max)
}

/// The longest simulated time a run may take (`duration`); `settle` is bounded apart.
pub(crate) const MAX_DURATION: &str = "6h";
/// Hosts of one world: nodes and client hosts together.
pub(crate) const MAX_HOSTS: usize = 400;
/// Requests per second over every session of an edge scenario.
pub(crate) const MAX_EDGE_RATE: f64 = 5000.0;
/// Requests over an edge run's whole duration.
pub(crate) const MAX_EDGE_REQUESTS: f64 = 2_000_000.0;
/// Page views per second over every status region, at the height of a spike.
pub(crate) const MAX_VIEW_RATE: f64 = 1000.0;
/// Page views over a status run, spikes included.
pub(crate) const MAX_VIEWS: f64 = 2_000_000.0;
/// Operators' edits over a status run (each reaches every region, CDN and live viewer).
pub(crate) const MAX_EDITS: f64 = 100_000.0;
/// Notifications an edit can cause (subscribers x channels) times edits over the run.
pub(crate) const MAX_NOTIFICATIONS: f64 = 2_000_000.0;
/// Longest host-making name (a region or a CDN).
pub(crate) const MAX_NAME: usize = 32;

/// Why `name` cannot name hosts, if it cannot.
pub(crate) fn host_name_problem(name: &str) -> Option<String> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Some("must be ASCII letters, digits and dashes".into());
    }
    (name.len() > MAX_NAME).then(|| format!("is longer than {MAX_NAME} characters"))
}

/// Every bounded key, as a dotted path; `region` and `fault` are arrays of tables (each entry is
/// checked) and `*` stands for any key of a table.
pub(crate) const LIMITS: &[(&str, Bound)] = &[
    ("seed", whole_n(0, i64::MAX as u64)),
    ("duration", dur("1ms", MAX_DURATION)),
    ("settle", dur("0s", "1h")),
    ("tick", dur("100us", "10ms")),
    ("region.pops", whole_n(1, 32)),
    ("region.to_primary", dur("0s", "10s")),
    ("network.last_mile", dur("0s", "10s")),
    ("network.last_mile_jitter", dur("0s", "10s")),
    ("network.in_region", dur("0s", "10s")),
    ("network.wan_jitter", dur("0s", "10s")),
    ("replication.batch_max_bytes", whole_n(1, 16 << 20)),
    ("replication.batch_max_delay", dur("0s", "10s")),
    ("replication.retain_frames", whole_n(1, 1_000_000)),
    ("replication.distributor_frames", whole_n(1, 1_000_000)),
    ("replication.heartbeat", dur("1ms", "1h")),
    ("replication.peer_timeout", dur("1ms", "1h")),
    ("replication.ryw_wait", dur("0s", "1m")),
    ("workload.warmup", dur("0s", "1h")),
    ("workload.sessions_per_region", whole_n(1, 1000)),
    ("workload.session_rate", Bound::Number(0.001, 1000.0)),
    ("workload.read_write_ratio", whole_n(0, 1_000_000)),
    ("workload.keys", whole_n(1, 1_000_000)),
    ("workload.value_bytes", whole_n(0, 65536)),
    ("workload.request_timeout", dur("1ms", "1h")),
    ("workload.write_retries", whole_n(0, 100)),
    ("workload.retry_backoff", dur("1ms", "1m")),
    ("failover.health_interval", dur("1ms", "1h")),
    ("failover.health_timeout", dur("1ms", "1h")),
    ("failover.confirm_after", whole_n(1, 100)),
    ("failover.failover_after", dur("0s", "1h")),
    ("failover.lease", dur("1ms", "1h")),
    ("failover.queue_limit", whole_n(0, 100_000)),
    ("failover.queue_timeout", dur("1ms", "1h")),
    ("workload.load_steps.*", Bound::Number(0.01, 100.0)),
    ("runtime.isolates", whole_n(1, 10_000)),
    ("runtime.warm_pool", whole_n(0, 10_000)),
    ("runtime.evict_after", dur("1ms", "24h")),
    ("runtime.queue_limit", whole_n(0, 100_000)),
    ("runtime.read_service", dur("0s", "10s")),
    ("runtime.write_service", dur("0s", "10s")),
    ("runtime.primary_workers", whole_n(1, 10_000)),
    ("runtime.primary_queue_limit", whole_n(0, 100_000)),
    ("runtime.primary_read_service", dur("0s", "10s")),
    ("runtime.primary_write_service", dur("0s", "10s")),
    ("runtime.primary_render_service", dur("0s", "10s")),
    ("isr.revalidate", dur("1ms", "24h")),
    ("anycast.detection", dur("0s", "10m")),
    ("anycast.spacing", dur("0s", "1s")),
    ("ssr.share", Bound::Number(0.0, 1.0)),
    ("ssr.render_service", dur("0s", "10s")),
    ("ssr.boundary.service", dur("0s", "1m")),
    ("ssr.upstream.latency", dur("0s", "10s")),
    ("ssr.upstream.workers", whole_n(1, 10_000)),
    ("ssr.upstream.queue_limit", whole_n(0, 100_000)),
    ("ssr.upstream.timeout", dur("1ms", "1h")),
    ("fault.at", Bound::Range(&dur("0s", "7h"))),
    ("fault.latency", dur("0s", "10s")),
    ("fault.rate", Bound::Number(0.0, 1.0)),
    ("swarm.from", dur("0s", "7h")),
    ("swarm.faults", Bound::Range(&whole_n(0, 20))),
    ("swarm.lasting", Bound::Range(&dur("1ms", "1h"))),
    ("swarm.loss", Bound::Range(&Bound::Number(0.0, 1.0))),
    ("swarm.latency", Bound::Range(&dur("0s", "10s"))),
    ("liveness.heal", dur("0s", "7h")),
    ("liveness.within", dur("1ms", "1h")),
    ("status.sync_interval", dur("1ms", "1h")),
    ("status.skew.*", dur("0s", "24h")),
    ("status.max_drift", dur("0s", "24h")),
    ("status.kv_propagation", dur("0s", "1h")),
    ("status.kv_refresh", dur("1ms", "1h")),
    ("status.kv_max_age", dur("1ms", "24h")),
    ("status.dns_check_interval", dur("1ms", "1h")),
    ("status.dns_unhealthy_after", whole_n(1, 100)),
    ("status.dns_ttl", dur("0s", "24h")),
    ("status.geo_check_interval", dur("100ms", "1h")),
    ("status.geo_ttl", dur("0s", "24h")),
    ("status.sse_heartbeat", dur("1ms", "1h")),
    ("status.sse_max_per_ip", whole_n(0, 10_000)),
    ("status.sse_max_per_edge", whole_n(0, 100_000)),
    ("status.page_ttl", dur("0s", "1h")),
    ("status.subscribers", whole_n(0, 10_000)),
    ("status.notification_deadline", dur("1s", "24h")),
    ("status.receiver_fail_rate", Bound::Number(0.0, 1.0)),
    ("status.retry_delays.*", dur("1s", "24h")),
    ("status.provider.latency", dur("0s", "1h")),
    ("status.provider.per_second", whole_n(1, 100000)),
    ("status.provider.fail_rate", Bound::Number(0.0, 1.0)),
    ("status.edit_every", dur("1ms", "24h")),
    ("status.edits_from", dur("0s", "7h")),
    ("status.edits_until", dur("0s", "7h")),
    ("status.viewers_per_region", whole_n(0, 1000)),
    ("status.view_every", dur("1ms", "24h")),
    ("status.view_timeout", dur("1ms", "1h")),
    ("status.origin_timeout", dur("1ms", "1h")),
    ("status.sse_viewers_per_region", whole_n(0, 1000)),
    ("status.sse_ips_per_region", whole_n(0, 1000)),
    ("status.spike_from", dur("0s", "7h")),
    ("status.spike_until", dur("0s", "7h")),
    ("status.spike_factor", Bound::Number(1.0, 1000.0)),
    ("status.probe_every", dur("1ms", "1h")),
    ("status.cdn_errors.from", dur("0s", "7h")),
    ("status.cdn_errors.until", dur("0s", "7h")),
    ("status.cdn_errors.rate", Bound::Number(0.0, 1.0)),
    ("status.backup_every", dur("1s", "24h")),
    ("status.action.at", dur("0s", "7h")),
    ("status.action.every", dur("100ms", "24h")),
    ("status.action.until", dur("0s", "7h")),
    ("status.platform.hosts", whole_n(1, 8)),
    ("status.network.edge", dur("0s", "10s")),
    ("status.network.origin", dur("0s", "10s")),
    ("status.network.between_regions", dur("0s", "10s")),
    ("status.network.internal", dur("0s", "10s")),
    ("status.network.jitter", dur("0s", "10s")),
];

/// Lists that make hosts or run work (scripted actions), and how long they may be.
pub(crate) const LIST_LIMITS: &[(&str, usize)] = &[
    ("region", 40),
    ("status.regions", 8),
    ("status.cdns", 8),
    ("status.action", 256),
    ("workload.load_steps", 32),
    ("ssr.boundary", 16),
];

/// Checks every bounded key present in `doc` (parsed from `text`); the error is the offending
/// value's span and the problem.
pub fn check(doc: &DeTable<'_>, text: &str) -> Result<(), (Range<usize>, String)> {
    for (path, bound) in LIMITS {
        for value in find(doc, path) {
            let written = text.get(value.span()).unwrap_or_default();
            if let Some(problem) = bound.problem(path, value.get_ref(), written) {
                return Err((value.span(), problem));
            }
        }
    }
    for (path, max) in LIST_LIMITS {
        for value in find(doc, path) {
            if let DeValue::Array(items) = value.get_ref()
                && items.len() > *max
            {
                return Err((items[*max].span(), format!("`{path}` has more than {max} entries")));
            }
        }
    }
    Ok(())
}

/// The values at a dotted path, through arrays of tables; `*` matches every key, and every item of
/// a list of values.
pub fn find<'a, 'i>(doc: &'a DeTable<'i>, path: &str) -> Vec<&'a Spanned<DeValue<'i>>> {
    let (head, rest) = path.split_once('.').map_or((path, None), |(h, r)| (h, Some(r)));
    let here: Vec<_> = doc.iter().filter(|(k, _)| head == "*" || k.get_ref() == head).map(|(_, v)| v).collect();
    let Some(rest) = rest else { return here };
    let mut found = Vec::new();
    for value in here {
        match value.get_ref() {
            DeValue::Table(t) => found.extend(find(t, rest)),
            DeValue::Array(items) => {
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::Table(t) => found.extend(find(t, rest)),
                        _ if rest == "*" => found.push(item),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/SCENARIOS.md states every bound as the code checks it.
    #[test]
    fn the_documented_bounds_are_the_checked_ones() {
        let doc = include_str!("../../../docs/SCENARIOS.md");
        for (path, bound) in LIMITS {
            let row = format!("| `{path}` | {} |", bound.describe());
            assert!(doc.contains(&row), "docs/SCENARIOS.md lacks {row}");
        }
    }

    /// Arrays of tables are checked entry by entry, and `*` reaches every key of a table.
    #[test]
    fn finds_values_through_arrays_and_wildcards() {
        let text = "[[region]]\npops = 1\n[[region]]\npops = 40\n[status]\nskew = { a = \"1s\", b = \"2s\" }\n";
        let doc = DeTable::parse(text).unwrap();
        assert_eq!(find(doc.get_ref(), "region.pops").len(), 2);
        assert_eq!(find(doc.get_ref(), "status.skew.*").len(), 2);
        let (span, message) = check(doc.get_ref(), text).unwrap_err();
        assert_eq!(&text[span], "40");
        assert_eq!(message, "`region.pops` = 40 is out of range: expected a whole number from 1 to 32");
    }
}
