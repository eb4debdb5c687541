//! What `report.html` draws of a status page run, on top of the generic timeline of faults: on
//! each viewer host's lane, the time buckets where views went unanswered or were served by a
//! degraded tier; on each CDN's lane, the DNS's health verdicts; on the notifier's lane, failed
//! deliveries; the faults and the DNS's verdicts as the story's key moments, the hosts down as
//! outages; and its own figures (`StatusCharts`): views by tier over time, time to first byte and
//! the staleness of the pages viewers saw over time, the DNS's unhealthy spans per CDN, and
//! notifications per channel (what the endpoints and the pipeline recorded, and the judged
//! figures of `delivery` and `rates`), and SSE per message type.

use std::collections::BTreeMap;

use edgesim_system::status::proto::Tier;
use edgesim_system::telemetry::NodeEvent;

use super::check::View;
use super::delivery::{Notifications, Sse};
use super::rates::ProviderRate;
use crate::edge::charts::{ChannelDeliveries, Charts, Mark, MarkKind, Moment, Outage, SseDeliveries, StatusCharts};
use crate::edge::metrics::Summary;
use crate::events::{Event, HarnessEvent, Record};
use crate::units::ms;

/// Views in one bucket of one viewer host.
#[derive(Default)]
struct Views {
    total: usize,
    unanswered: usize,
    tiers: BTreeMap<&'static str, usize>,
    worst_stale_us: Option<u64>,
    worst_ttfb_us: Option<u64>,
}

/// The notifications of `channel`.
fn channel<'a>(all: &'a mut BTreeMap<String, ChannelDeliveries>, channel: &str) -> &'a mut ChannelDeliveries {
    all.entry(channel.to_string()).or_default()
}

/// Adds each channel's judged figures (`delivery`, its provider's busiest second from `rates`) to
/// what the chart shows of it, and the SSE figures per message type.
pub fn add_judged(charts: &mut Charts, n: &Notifications, rates: &[ProviderRate], sse: &Sse) {
    let Some(own) = charts.status.as_mut() else { return };
    for (name, c) in &n.channels {
        let on = channel(&mut own.notifications, name);
        (on.lost, on.duplicates, on.pending) = (c.lost as u64, c.duplicates as u64, c.pending as u64);
        (on.suppressed, on.slowed_down, on.told_unreachable) =
            (c.suppressed as u64, c.slowed_down as u64, c.told_unreachable as u64);
        let sampled = (c.latency.count > 0).then_some(&c.latency);
        (on.latency_p50_ms, on.latency_p99_ms) = (sampled.map(|l| l.p50_ms), sampled.map(|l| l.p99_ms));
    }
    for rate in rates {
        let on = channel(&mut own.notifications, &rate.channel);
        (on.per_second_limit, on.worst_per_second) = (rate.per_second.map(u64::from), rate.worst_per_second as u64);
    }
    let row = |kind: &str, pushed: usize, delivered: usize, latency: &Summary| {
        let sampled = (latency.count > 0).then_some(latency);
        SseDeliveries {
            kind: kind.to_string(),
            pushed: pushed as u64,
            delivered: delivered as u64,
            latency_p50_ms: sampled.map(|l| l.p50_ms),
            latency_p99_ms: sampled.map(|l| l.p99_ms),
            latency_max_ms: sampled.map(|l| l.max_ms),
        }
    };
    own.sse = sse.kinds.iter().map(|(kind, k)| row(kind, k.pushed, k.delivered, &k.latency)).collect();
    let beats = &sse.heartbeats;
    own.sse.push(row(HEARTBEAT, beats.pushed, beats.delivered, &beats.latency));
}

/// The SSE heartbeat's row among the event types.
pub const HEARTBEAT: &str = "heartbeat";

/// Views that went unanswered, in `StatusCharts::tiers`.
pub const UNANSWERED: &str = "unanswered";

pub fn add(charts: &mut Charts, cdns: &[String], events: &[Event], all: &[View]) {
    let bucket = charts.lag_bucket_ms.max(1);
    let buckets = (charts.end_ms / bucket + 1) as usize;
    let mut own = StatusCharts { cdns: cdns.to_vec(), ..StatusCharts::default() };
    let mut views: BTreeMap<(u64, &str), Views> = BTreeMap::new();
    for view in all {
        let v = views.entry((view.ended_us / 1000 / bucket * bucket, view.host)).or_default();
        v.total += 1;
        let tier = view.tier.map_or(UNANSWERED, Tier::name);
        let line = own.tiers.entry(tier.to_string()).or_insert_with(|| vec![0; buckets]);
        if let Some(cell) = line.get_mut((view.ended_us / 1000 / bucket) as usize) {
            *cell += 1;
        }
        match view.tier {
            None => v.unanswered += 1,
            Some(Tier::EdgeKv) => {}
            Some(t) => *v.tiers.entry(t.name()).or_default() += 1,
        }
        if view.tier.is_some() {
            v.worst_ttfb_us = v.worst_ttfb_us.max(Some(view.ended_us - view.started_us));
        }
        v.worst_stale_us = v.worst_stale_us.max(view.stale_us);
    }
    let mut failed: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
    let mut unhealthy_since: BTreeMap<&str, u64> = BTreeMap::new();
    for e in events {
        let at = e.t_us / 1000 / bucket * bucket;
        match &e.record {
            Record::Harness(HarnessEvent::Fault { fault, .. }) => {
                charts.moments.push(Moment { at_ms: e.t_us / 1000, label: fault.clone() });
            }
            Record::Harness(HarnessEvent::CdnErrors { cdn, rate }) => {
                let label = super::check::errors_label(cdn, *rate);
                charts.moments.push(Moment { at_ms: e.t_us / 1000, label });
            }
            Record::Harness(HarnessEvent::Delivered { channel: c, .. }) => {
                channel(&mut own.notifications, c).accepted += 1
            }
            Record::Node(NodeEvent::RateLimited { channel: c, .. }) => {
                channel(&mut own.notifications, c).rate_limited += 1
            }
            Record::Node(NodeEvent::CdnHealth { cdn, healthy }) => {
                let verdict = if *healthy { "healthy" } else { "unhealthy" };
                charts.marks.push(Mark {
                    at_ms: e.t_us / 1000,
                    lane: cdn.clone(),
                    kind: MarkKind::Health,
                    label: format!("DNS marked {cdn} {verdict}"),
                });
                charts.moments.push(Moment { at_ms: e.t_us / 1000, label: format!("DNS: {cdn} {verdict}") });
                if !healthy {
                    unhealthy_since.entry(cdn).or_insert(e.t_us / 1000);
                } else if let Some(from_ms) = unhealthy_since.remove(cdn.as_str()) {
                    own.dns_unhealthy.entry(cdn.clone()).or_default().push(Outage {
                        from_ms,
                        to_ms: e.t_us / 1000,
                        label: format!("DNS held {cdn} unhealthy"),
                    });
                }
            }
            Record::Node(NodeEvent::DeliveryFailed { retry_in_ms, channel: c, .. }) => {
                let f = failed.entry(at).or_default();
                f.0 += 1;
                f.1 += usize::from(retry_in_ms.is_none());
                let on = channel(&mut own.notifications, c);
                on.failed_attempts += 1;
                on.given_up += u64::from(retry_in_ms.is_none());
            }
            _ => {}
        }
    }
    for (cdn, from_ms) in unhealthy_since {
        let label = format!("DNS held {cdn} unhealthy to the end");
        own.dns_unhealthy.entry(cdn.to_string()).or_default().push(Outage { from_ms, to_ms: charts.end_ms, label });
    }
    charts.outages.extend(charts.spans.iter().filter(|s| s.kind == MarkKind::Down).map(|s| Outage {
        from_ms: s.from_ms,
        to_ms: s.to_ms,
        label: format!("{} down", s.lane),
    }));
    for ((at_ms, host), v) in &views {
        let slot = (*at_ms / bucket) as usize;
        for (lines, worst) in [(&mut charts.staleness, v.worst_stale_us), (&mut own.ttfb, v.worst_ttfb_us)] {
            let Some(worst) = worst else { continue };
            let line = lines.entry(host.to_string()).or_insert_with(|| vec![None; buckets]);
            if let Some(cell) = line.get_mut(slot) {
                *cell = Some(ms(worst));
            }
        }
        let (kind, label) = if v.unanswered > 0 {
            (MarkKind::Error, format!("{} of {} views unanswered", v.unanswered, v.total))
        } else if !v.tiers.is_empty() {
            let tiers: Vec<String> = v.tiers.iter().map(|(t, n)| format!("{n} {t}")).collect();
            (MarkKind::Degraded, format!("{} views, degraded: {}", v.total, tiers.join(", ")))
        } else {
            continue;
        };
        charts.marks.push(Mark { at_ms: *at_ms, lane: host.to_string(), kind, label });
    }
    for (at_ms, (n, gave_up)) in failed {
        let label = format!("{n} deliveries failed, {gave_up} given up");
        charts.marks.push(Mark { at_ms, lane: super::settings::NOTIFIER.into(), kind: MarkKind::Error, label });
    }
    charts.status = Some(own);
    charts.marks.sort_by(|a, b| (a.at_ms, &a.lane, a.kind).cmp(&(b.at_ms, &b.lane, b.kind)));
}
