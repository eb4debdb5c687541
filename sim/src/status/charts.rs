//! What `report.html` draws of a status page run, on top of the generic timeline of faults: on
//! each viewer host's lane, the time buckets where views went unanswered or were served by a
//! degraded tier; on each CDN's lane, the DNS's health verdicts; on the notifier's lane, failed
//! deliveries; and the staleness of the pages viewers saw over time.

use std::collections::BTreeMap;

use edgesim_system::status::proto::Tier;
use edgesim_system::telemetry::NodeEvent;

use super::check::View;
use crate::edge::charts::{Charts, Kind, Mark};
use crate::events::{Event, Record};
use crate::units::ms;

/// Views in one bucket of one viewer host.
#[derive(Default)]
struct Views {
    total: usize,
    unanswered: usize,
    tiers: BTreeMap<&'static str, usize>,
    worst_stale_us: Option<u64>,
}

pub fn add(charts: &mut Charts, events: &[Event], all: &[View]) {
    let bucket = charts.lag_bucket_ms.max(1);
    let buckets = (charts.end_ms / bucket + 1) as usize;
    let mut views: BTreeMap<(u64, &str), Views> = BTreeMap::new();
    for view in all {
        let v = views.entry((view.ended_us / 1000 / bucket * bucket, view.host)).or_default();
        v.total += 1;
        match view.tier {
            None => v.unanswered += 1,
            Some(Tier::EdgeKv) => {}
            Some(t) => *v.tiers.entry(t.name()).or_default() += 1,
        }
        v.worst_stale_us = v.worst_stale_us.max(view.stale_us);
    }
    let mut failed: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
    for e in events {
        let at = e.t_us / 1000 / bucket * bucket;
        match &e.record {
            Record::Node(NodeEvent::CdnHealth { cdn, healthy }) => charts.marks.push(Mark {
                at_ms: e.t_us / 1000,
                lane: cdn.clone(),
                kind: Kind::Health,
                label: format!("DNS marked {cdn} {}", if *healthy { "healthy" } else { "unhealthy" }),
            }),
            Record::Node(NodeEvent::DeliveryFailed { retry_in_ms, .. }) => {
                let f = failed.entry(at).or_default();
                f.0 += 1;
                f.1 += usize::from(retry_in_ms.is_none());
            }
            _ => {}
        }
    }
    for ((at_ms, host), v) in &views {
        let slot = (*at_ms / bucket) as usize;
        if let Some(stale) = v.worst_stale_us {
            let line = charts.staleness.entry(host.to_string()).or_insert_with(|| vec![None; buckets]);
            if let Some(cell) = line.get_mut(slot) {
                *cell = Some(ms(stale));
            }
        }
        let (kind, label) = if v.unanswered > 0 {
            (Kind::Error, format!("{} of {} views unanswered", v.unanswered, v.total))
        } else if !v.tiers.is_empty() {
            let tiers: Vec<String> = v.tiers.iter().map(|(t, n)| format!("{n} {t}")).collect();
            (Kind::Fault, format!("{} views, degraded: {}", v.total, tiers.join(", ")))
        } else {
            continue;
        };
        charts.marks.push(Mark { at_ms: *at_ms, lane: host.to_string(), kind, label });
    }
    for (at_ms, (n, gave_up)) in failed {
        let label = format!("{n} deliveries failed, {gave_up} given up");
        charts.marks.push(Mark { at_ms, lane: super::settings::NOTIFIER.into(), kind: Kind::Error, label });
    }
    charts.marks.sort_by(|a, b| (a.at_ms, &a.lane, a.kind).cmp(&(b.at_ms, &b.lane, b.kind)));
}
