//! Checkers: folds of the event log into verdicts. None of them trusts what a node says
//! about its own state: reads are judged by the rows they returned, lost writes and convergence by
//! the content the harness audited at the end.

pub mod convergence;
pub mod lost_writes;
pub mod monotonic;
pub mod request;
pub mod ryw;
pub mod split_brain;

use std::collections::{BTreeMap, BTreeSet};

use crate::edge::load::Load;
use crate::edge::metrics::Latency;
use crate::edge::timeline::ReadsAfterLoss;
use crate::events::{Event, HarnessEvent, Outcome, Record};
use crate::scenario::PRIMARY;
use request::Request;

/// The requests of a run, folded as each ends: reads go through the checkers and figures and are
/// dropped; acknowledged writes and failed requests are kept. Latency and the failover read counts
/// take requests as they end; the per-session checkers take them in the order they started, held
/// back (`unjudged`) while an earlier-started request is still in flight, since with open-loop
/// arrivals a session's requests overlap.
#[derive(Default)]
pub struct Requests {
    /// Started and not ended yet, by id.
    open: BTreeMap<u64, Request>,
    /// When each open request started, soonest first.
    open_starts: BTreeSet<(u64, u64)>,
    /// Ended requests not yet judged by the session checkers, by (start, id): with open-loop
    /// arrivals a session has several requests in flight, and read-your-writes and monotonic reads
    /// judge each read against the requests that started before it, so they see requests in start
    /// order, each once every request started before it has ended (or the run has).
    unjudged: BTreeMap<(u64, u64), Request>,
    pub ryw: ryw::Fold,
    pub monotonic: monotonic::Fold,
    pub latency: Latency,
    pub load: Load,
    pub reads_after_loss: ReadsAfterLoss,
    /// Acknowledged writes and requests that failed (an error or a timeout), in the order they started.
    kept: Vec<Request>,
}

impl Requests {
    pub fn event(&mut self, e: &Event) {
        self.load.event(e);
        match &e.record {
            Record::Harness(HarnessEvent::RequestStarted { req, session, op, key, seq, .. }) => {
                let r = Request {
                    req: *req,
                    session: *session,
                    client: e.node.to_string(),
                    op: *op,
                    key: key.clone(),
                    seq: *seq,
                    start_us: e.t_us,
                    end_us: e.t_us,
                    outcome: Outcome::Timeout,
                };
                self.open_starts.insert((e.t_us, *req));
                self.open.insert(*req, r);
            }
            Record::Harness(HarnessEvent::RequestEnded { req, outcome, .. }) => {
                if let Some(mut r) = self.open.remove(req) {
                    self.open_starts.remove(&(r.start_us, r.req));
                    r.end_us = e.t_us;
                    r.outcome = outcome.clone();
                    self.ended(r);
                }
            }
            Record::Harness(HarnessEvent::RunEnded { .. }) => self.judge_until(None),
            Record::Harness(HarnessEvent::Fault { hosts, .. }) if hosts.iter().any(|h| h == PRIMARY) => {
                self.reads_after_loss.fault(e.t_us);
            }
            _ => {}
        }
    }

    fn ended(&mut self, r: Request) {
        self.latency.request(&r);
        self.load.request(&r);
        self.reads_after_loss.request(&r);
        if !matches!(r.outcome, Outcome::Read { .. }) {
            // Few requests are in flight at once: the place is at or near the end.
            let at = self.kept.partition_point(|k| (k.start_us, k.req) < (r.start_us, r.req));
            self.kept.insert(at, r.clone());
        }
        self.unjudged.insert((r.start_us, r.req), r);
        self.judge_until(self.open_starts.first().copied());
    }

    /// Hands the session checkers every ended request that started before `open` (the first
    /// request still in flight; `None`: all of them), in start order.
    fn judge_until(&mut self, open: Option<(u64, u64)>) {
        while let Some(entry) = self.unjudged.first_entry() {
            if open.is_some_and(|first| *entry.key() > first) {
                break;
            }
            let r = entry.remove();
            self.ryw.request(&r);
            self.monotonic.request(&r);
        }
    }

    /// The acknowledged writes and failed requests, in the order they started.
    pub fn kept(&self) -> &[Request] {
        &self.kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use request::fixtures::{read, write};
    use request::{EXAMPLES, Findings};

    #[test]
    fn findings_keep_the_first_examples_by_start_whatever_order_they_are_found_in() {
        let mut f = Findings::default();
        for at in (0..15).rev() {
            f.add(&read(at, 1, "k", 0, 0, at * 10), at);
        }
        assert_eq!(f.count, 15);
        assert_eq!(f.examples(), (0..EXAMPLES as u64).collect::<Vec<_>>());
    }

    #[test]
    fn reads_are_folded_and_only_acknowledged_writes_and_failures_kept() {
        let mut requests = Requests::default();
        let started = |r: &Request| Event {
            t_us: r.start_us,
            node: r.client.as_str().into(),
            record: Record::Harness(HarnessEvent::RequestStarted {
                req: r.req,
                session: r.session,
                op: r.op,
                key: r.key.clone(),
                seq: r.seq,
                min: Default::default(),
            }),
        };
        let ended = |r: &Request| Event {
            t_us: r.end_us,
            node: r.client.as_str().into(),
            record: Record::Harness(HarnessEvent::RequestEnded {
                req: r.req,
                session: r.session,
                outcome: r.outcome.clone(),
            }),
        };
        let log =
            [write(1, 1, 1, 0, true), read(2, 1, "k", 0, 0, 10), write(3, 2, 1, 20, false), read(4, 2, "k", 0, 0, 30)];
        for r in &log {
            requests.event(&started(r));
            requests.event(&ended(r));
        }
        assert_eq!(requests.kept(), [log[0].clone(), log[2].clone()]);
        assert_eq!(requests.ryw.found.count, 1, "the read after the acknowledged write missed it");
        assert_eq!(requests.latency.summary()["a"].read.count, 2);
    }
}
