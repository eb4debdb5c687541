//! Latency under load: per load step of the workload (`load_steps`, each logged as a `load_step`
//! event when it begins), the read and write latency clients saw and how many requests were sent,
//! shed (and of those, by the primary), failed and timed out, by when each request started. A run
//! without steps has none. Also the PoPs' cold starts, which only they can see, and the share of
//! the slowest answered requests (at or above the p99) that paid one: a `cold_start` names its
//! session, and belongs to that session's request that ends next after it (a session's requests at
//! a PoP overlap rarely; when they do, the earliest to end takes it).

use std::collections::BTreeMap;

use edgesim_system::telemetry::NodeEvent;
use serde::{Deserialize, Serialize};

use crate::edge::check::request::RequestRecord;
use crate::edge::metrics::{Recorder, Summary};
use crate::events::{Event, HarnessEvent, Record, RequestOutcome};
use crate::scenario::{PRIMARY, STANDBY};

/// One load step's figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadStep {
    pub step: usize,
    pub factor: f64,
    /// When the step began, seconds from the start.
    pub from_s: f64,
    pub requests: u64,
    pub read: Summary,
    pub write: Summary,
    pub shed: u64,
    /// Of those shed, by the primary (or the standby serving as one) rather than a PoP.
    pub shed_by_primary: u64,
    /// Errors other than shedding.
    pub errors: u64,
    pub timeouts: u64,
}

struct Folded {
    start_us: u64,
    step: usize,
    factor: f64,
    reads: Recorder,
    writes: Recorder,
    requests: u64,
    shed: u64,
    shed_by_primary: u64,
    errors: u64,
    timeouts: u64,
}

/// The steps' figures, folded as requests end, and the PoPs' cold starts.
#[derive(Default)]
pub struct Load {
    steps: Vec<Folded>,
    cold_starts: u64,
    /// Per session, when a cold start for it was reported and no request has ended since.
    cold_pending: BTreeMap<u64, u64>,
    /// Latency of every answered request, and of those that paid a cold start.
    answered: Recorder,
    answered_cold: Recorder,
}

impl Load {
    pub fn event(&mut self, e: &Event) {
        if let Record::Node(NodeEvent::ColdStart { session, .. }) = e.record {
            self.cold_starts += 1;
            self.cold_pending.entry(session).or_insert(e.t_us);
        }
        if let Record::Harness(HarnessEvent::LoadStep { step, factor }) = e.record {
            self.steps.push(Folded {
                start_us: e.t_us,
                step,
                factor,
                reads: Recorder::default(),
                writes: Recorder::default(),
                requests: 0,
                shed: 0,
                shed_by_primary: 0,
                errors: 0,
                timeouts: 0,
            });
        }
    }

    /// Counts `r` in the step in effect when it started (none before the first step), and its
    /// latency, as paying a cold start if one for its session was reported while it was open.
    pub fn request(&mut self, r: &RequestRecord) {
        let cold = match self.cold_pending.get(&r.session) {
            Some(&t) if t >= r.start_us => self.cold_pending.remove(&r.session).is_some(),
            _ => false,
        };
        if matches!(r.outcome, RequestOutcome::Read { .. } | RequestOutcome::Write { .. }) {
            let us = r.end_us - r.start_us;
            self.answered.record(us);
            if cold {
                self.answered_cold.record(us);
            }
        }
        let at = self.steps.partition_point(|s| s.start_us <= r.start_us);
        let Some(step) = at.checked_sub(1).map(|i| &mut self.steps[i]) else { return };
        step.requests += 1;
        match &r.outcome {
            RequestOutcome::Read { .. } => step.reads.record(r.end_us - r.start_us),
            RequestOutcome::Write { .. } => step.writes.record(r.end_us - r.start_us),
            RequestOutcome::Shed { host, .. } => {
                step.shed += 1;
                step.shed_by_primary += u64::from(host == PRIMARY || host == STANDBY);
            }
            RequestOutcome::Error { .. } => step.errors += 1,
            RequestOutcome::Timeout => step.timeouts += 1,
        }
    }

    /// Isolates the PoPs started for requests that found none warm (as the PoPs reported them:
    /// a client cannot see a cold start apart from the rest of its latency).
    pub fn cold_starts(&self) -> u64 {
        self.cold_starts
    }

    /// Of the answered requests at or above their p99 latency, the percentage that paid a cold
    /// start; `None` when no request was answered.
    pub(crate) fn cold_share_of_p99(&self) -> Option<f64> {
        let p99 = self.answered.quantile_us(0.99)?;
        let slow = self.answered.at_least(p99);
        Some(if slow == 0 { 0.0 } else { 100.0 * self.answered_cold.at_least(p99) as f64 / slow as f64 })
    }

    pub fn summary(&self) -> Vec<LoadStep> {
        self.steps
            .iter()
            .map(|s| LoadStep {
                step: s.step,
                factor: s.factor,
                from_s: s.start_us as f64 / 1e6,
                requests: s.requests,
                read: s.reads.summary(),
                write: s.writes.summary(),
                shed: s.shed,
                shed_by_primary: s.shed_by_primary,
                errors: s.errors,
                timeouts: s.timeouts,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use crate::edge::check::request::fixtures::read;

    fn step(t_us: u64, step: usize, factor: f64) -> Event {
        Event { t_us, node: Rc::from("clients-a"), record: Record::Harness(HarnessEvent::LoadStep { step, factor }) }
    }

    /// Goal: each request counts in the step in effect when it started, whenever it ended; one
    /// before the first step counts nowhere; shed requests are told apart from other failures.
    #[test]
    fn requests_count_in_the_step_they_started_in() {
        let mut load = Load::default();
        load.request(&read(1, 1, "k", &[], None, 500));
        load.event(&step(1_000, 0, 1.0));
        let mut slow = read(2, 1, "k", &[], None, 1_500);
        slow.end_us = 2_600;
        load.request(&slow);
        load.event(&step(2_000, 1, 4.0));
        let mut shed = read(3, 1, "k", &[], None, 2_500);
        shed.outcome = RequestOutcome::Shed { host: "pop-a-1".into(), waiting: 8 };
        load.request(&shed);
        let mut at_primary = read(5, 1, "k", &[], None, 2_800);
        at_primary.outcome = RequestOutcome::Shed { host: PRIMARY.into(), waiting: 4 };
        load.request(&at_primary);
        let mut failed = read(4, 1, "k", &[], None, 2_700);
        failed.outcome = RequestOutcome::Error { message: "x".into() };
        load.request(&failed);
        load.event(&Event {
            t_us: 2_900,
            node: Rc::from("pop-a-1"),
            record: Record::Node(NodeEvent::ColdStart { cost_us: 5_000, session: 9 }),
        });
        assert_eq!(load.cold_starts(), 1);
        let steps = load.summary();
        assert_eq!(steps.len(), 2);
        assert_eq!((steps[0].requests, steps[0].read.count, steps[0].read.max_ms), (1, 1, 1.1));
        let late = &steps[1];
        assert_eq!((late.requests, late.shed, late.shed_by_primary, late.errors, late.factor), (3, 2, 1, 1, 4.0));
        assert_eq!(steps[1].read.count, 0);
    }

    /// Goal: a cold start counts for its session's request that was open when it was reported,
    /// not for one that ended before it nor for another session's; the share is of the answered
    /// requests at or above the p99.
    #[test]
    fn the_cold_share_of_p99_counts_the_slow_requests_that_paid_a_cold_start() {
        let mut load = Load::default();
        assert_eq!(load.cold_share_of_p99(), None);
        let cold = |t_us, session| Event {
            t_us,
            node: Rc::from("pop-a-1"),
            record: Record::Node(NodeEvent::ColdStart { cost_us: 5_000, session }),
        };
        for i in 0..98 {
            let mut fast = read(i, 1, "k", &[], None, i * 10_000);
            fast.end_us = fast.start_us + 1_000;
            load.request(&fast);
        }
        // Session 2's slow read paid a cold start; session 3's slow read did not (the cold start
        // reported for it came after it ended, so it belongs to its next request).
        load.event(&cold(2_000_000, 2));
        let mut slow = read(200, 2, "k", &[], None, 1_999_000);
        slow.end_us = 2_050_000;
        load.request(&slow);
        let mut other = read(201, 3, "k", &[], None, 1_999_000);
        other.end_us = 2_050_000;
        load.request(&other);
        load.event(&cold(2_060_000, 3));
        assert_eq!(load.cold_share_of_p99(), Some(50.0));
    }
}
