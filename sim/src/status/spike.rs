//! The origins' load during a viewer spike (`spike_from` .. `spike_until`), from the event log:
//! page views the CDNs answered per second, beside the page requests the regions' origins served
//! to CDNs per second (each origin's own `origin_served` reports), so what request coalescing and
//! stale-while-revalidate at the edges absorbed shows as the gap between the two.

use edgesim_system::telemetry::NodeEvent;
use serde::Serialize;

use super::settings::StatusSettings;
use crate::events::{Event, HarnessEvent, Record};
use crate::scenario::Scenario;

#[derive(Clone, Debug, Serialize)]
pub struct Spike {
    pub from_s: f64,
    pub to_s: f64,
    /// Page views begun in the spike, and those a CDN answered, per second.
    pub views_per_s: f64,
    pub answered_per_s: f64,
    /// Requests for the page's document the origins served to CDNs in the spike, per second.
    pub origin_requests_per_s: f64,
    /// Answered views per origin request (`None` without an origin request).
    pub views_per_origin_request: Option<f64>,
}

/// The spike's figures; `None` without a spike window that ends within the run.
pub fn spike(scenario: &Scenario, s: &StatusSettings, events: &[Event]) -> Option<Spike> {
    let from = s.spike_from?.0;
    let to = s.spike_until.map_or(scenario.duration, |u| u.0).min(scenario.duration);
    if to <= from {
        return None;
    }
    let (from_us, to_us) = (from.as_micros() as u64, to.as_micros() as u64);
    let (mut views, mut answered, mut origin) = (0u64, 0u64, 0u64);
    for e in events {
        match &e.record {
            Record::Harness(HarnessEvent::PageViewed { started_us, tier, .. })
                if (from_us..to_us).contains(started_us) =>
            {
                views += 1;
                answered += u64::from(tier.is_some());
            }
            Record::Node(NodeEvent::OriginServed { .. }) if (from_us..to_us).contains(&e.t_us) => origin += 1,
            _ => {}
        }
    }
    let seconds = (to - from).as_secs_f64();
    let rate = |n: u64| (n as f64 / seconds * 1e3).round() / 1e3;
    Some(Spike {
        from_s: from.as_secs_f64(),
        to_s: to.as_secs_f64(),
        views_per_s: rate(views),
        answered_per_s: rate(answered),
        origin_requests_per_s: rate(origin),
        views_per_origin_request: (origin > 0).then(|| (answered as f64 / origin as f64 * 10.0).round() / 10.0),
    })
}
