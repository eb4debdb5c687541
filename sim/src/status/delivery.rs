//! What reached people, judged from what the endpoints and viewers recorded: notifications
//! (expected per update x subscriber x channel unless the pipeline said it held one back; lost,
//! duplicated past the receiver's idempotency-key dedup, redelivered, delivery latency) and SSE
//! (updates made after a live viewer first subscribed that it never received, and how fast the
//! rest arrived).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use edgesim_system::status::proto::event_id;
use edgesim_system::telemetry::NodeEvent;
use serde::Serialize;

use super::records::Edit;
use super::settings::{CHANNELS, StatusSettings};
use crate::events::{Event, HarnessEvent, Record};
use crate::metrics::{Recorder, Summary};
use crate::scenario::Scenario;

/// How many examples of a failure a report lists.
const EXAMPLES: usize = 10;
/// Updates acknowledged this close to the end are not expected at live viewers.
const SSE_GRACE: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, Default, Serialize)]
pub struct Notifications {
    pub expected: usize,
    pub delivered: usize,
    /// Expected, not held back by the pipeline's rules, never accepted by the endpoint, and either
    /// given up on after the last retry or never taken by the pipeline at all.
    pub lost: usize,
    pub lost_examples: Vec<String>,
    /// Expected and not accepted yet, but still being retried when the run ended.
    pub pending: usize,
    /// The same update to the same subscriber and channel under more than one idempotency key:
    /// duplicates the receiver cannot drop.
    pub duplicates: usize,
    /// The same idempotency key accepted again (dropped by the receiver's dedup).
    pub redeliveries: usize,
    pub rate_limited: usize,
    pub folded_by_dedup_window: usize,
    pub retried: usize,
    pub gave_up: usize,
    /// First acceptance minus the update's acknowledgement.
    pub latency: Summary,
    /// The same, for critical updates (queued first) and for the others.
    pub latency_critical: Summary,
    pub latency_other: Summary,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Sse {
    pub viewers: usize,
    pub connects: usize,
    pub resumed: usize,
    /// Viewers that fell back to polling (not judged for missed updates).
    pub fell_back: usize,
    pub missed: usize,
    pub missed_examples: Vec<String>,
    /// Receipt minus acknowledgement.
    pub propagation: Summary,
}

/// Per update, subscriber and channel: first acceptance, idempotency keys seen, acceptances.
type Received<'a> = (u64, BTreeSet<&'a str>, usize);

pub fn notifications(events: &[Event], edits: &[Edit], s: &StatusSettings) -> Notifications {
    let mut out = Notifications::default();
    let mut held: BTreeSet<(&str, u32, &str)> = BTreeSet::new();
    let mut given_up: BTreeSet<(&str, u32, &str)> = BTreeSet::new();
    let mut outcomes: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut received: BTreeMap<(&str, u32, &str), Received> = BTreeMap::new();
    for e in events {
        match &e.record {
            Record::Node(NodeEvent::RateLimited { event, subscriber, channel }) => {
                out.rate_limited += 1;
                held.insert((event, *subscriber, channel));
            }
            Record::Node(NodeEvent::NoticeTaken { event, outcome }) => outcomes.entry(event).or_default().push(outcome),
            Record::Node(NodeEvent::DeliveryFailed { retry_in_ms, event, subscriber, channel, .. }) => {
                match retry_in_ms {
                    Some(_) => out.retried += 1,
                    None => {
                        out.gave_up += 1;
                        given_up.insert((event, *subscriber, channel));
                    }
                }
            }
            Record::Harness(HarnessEvent::Delivered { key, event, subscriber, channel }) => {
                let (_, keys, n) =
                    received.entry((event, *subscriber, channel)).or_insert((e.t_us, BTreeSet::new(), 0));
                keys.insert(key);
                *n += 1;
                out.delivered += 1;
            }
            _ => {}
        }
    }
    let (mut latency, mut critical, mut other) = (Recorder::default(), Recorder::default(), Recorder::default());
    for edit in edits.iter().filter(|e| e.component.is_none()) {
        let event = event_id(&edit.stamp);
        let taken = outcomes.get(event.as_str());
        let folded = taken.is_some_and(|o| o.contains(&"dedup_window") && !o.contains(&"queued"));
        if folded {
            out.folded_by_dedup_window += 1;
            continue;
        }
        for subscriber in 1..=s.subscribers {
            for (channel, _) in CHANNELS {
                if held.contains(&(event.as_str(), subscriber, channel)) {
                    continue;
                }
                out.expected += 1;
                match received.get(&(event.as_str(), subscriber, channel)) {
                    Some((first, keys, n)) => {
                        let took = first.saturating_sub(edit.t_us);
                        latency.record(took);
                        if edit.critical {
                            critical.record(took)
                        } else {
                            other.record(took)
                        }
                        out.duplicates += keys.len() - 1;
                        out.redeliveries += n - keys.len();
                    }
                    None if taken.is_some() && !given_up.contains(&(event.as_str(), subscriber, channel)) => {
                        out.pending += 1;
                    }
                    None => {
                        out.lost += 1;
                        if out.lost_examples.len() < EXAMPLES {
                            out.lost_examples
                                .push(format!("update #{} to subscriber {subscriber} by {channel}", edit.write));
                        }
                    }
                }
            }
        }
    }
    out.latency = latency.summary();
    out.latency_critical = critical.summary();
    out.latency_other = other.summary();
    out
}

pub fn sse(scenario: &Scenario, events: &[Event], edits: &[Edit]) -> Sse {
    let mut out = Sse::default();
    let mut first_connect: BTreeMap<u64, u64> = BTreeMap::new();
    let mut fell_back = BTreeSet::new();
    let mut received: BTreeMap<u64, BTreeMap<u64, u64>> = BTreeMap::new();
    for e in events {
        match &e.record {
            Record::Harness(HarnessEvent::SseConnected { viewer, resumed, .. }) => {
                first_connect.entry(*viewer).or_insert(e.t_us);
                out.connects += 1;
                out.resumed += usize::from(*resumed);
            }
            Record::Harness(HarnessEvent::SseFallback { viewer, .. }) => {
                fell_back.insert(*viewer);
            }
            Record::Harness(HarnessEvent::SseReceived { viewer, write: Some(write), .. }) => {
                received.entry(*viewer).or_default().entry(*write).or_insert(e.t_us);
            }
            _ => {}
        }
    }
    out.viewers = first_connect.len();
    out.fell_back = fell_back.len();
    let cutoff = scenario.duration.saturating_sub(SSE_GRACE).as_micros() as u64;
    let mut propagation = Recorder::default();
    let none = BTreeMap::new();
    for (viewer, connected) in first_connect.iter().filter(|(v, _)| !fell_back.contains(*v)) {
        let got = received.get(viewer).unwrap_or(&none);
        let since = |e: &&Edit| e.component.is_none() && e.t_us >= *connected && e.t_us <= cutoff;
        for edit in edits.iter().filter(since) {
            match got.get(&edit.write) {
                Some(at) => propagation.record(at.saturating_sub(edit.t_us)),
                None => {
                    out.missed += 1;
                    if out.missed_examples.len() < EXAMPLES {
                        out.missed_examples.push(format!("viewer {viewer} never received update #{}", edit.write));
                    }
                }
            }
        }
    }
    out.propagation = propagation.summary();
    out
}
