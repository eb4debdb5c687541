//! Checkers: folds of the event log into verdicts. None of them trusts what a node says
//! about its own state: reads are judged by the rows they returned, lost writes and convergence by
//! the content the harness audited at the end.

pub mod convergence;
pub mod liveness;
pub mod lost_writes;
pub mod monotonic;
pub mod request;
pub mod ryw;
pub mod split_brain;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use edgesim_system::telemetry::NodeEvent;

use crate::edge::history::History;
use crate::edge::load::Load;
use crate::edge::metrics::Latency;
use crate::edge::regions::RegionFold;
use crate::edge::timeline::{PrimaryLoss, ReadsAfterLoss};
use crate::events::{Event, HarnessEvent, Record, RequestOutcome};
use request::Request;

/// A checker that could not judge a run, and why (the primary at the end was not audited, ...):
/// neither fired nor passed (`verdict`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotJudged {
    pub checker: String,
    pub why: String,
}

impl fmt::Display for NotJudged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.checker, self.why)
    }
}

/// The requests of a run, folded as each ends: reads go through the checkers and figures and are
/// dropped; acknowledged writes and failed requests are kept. Latency and the failover read counts
/// take requests as they end; the per-session checkers take them in the order they started, held
/// back (`unjudged`) while an earlier-started request is still in flight, since with open-loop
/// arrivals a session's requests overlap.
#[derive(Default)]
pub struct Requests {
    /// Started and not ended yet, by id.
    open: BTreeMap<u64, Request>,
    /// Requests' starts and ends seen so far: the place of the next in log order.
    ord: u64,
    /// When each open request started, soonest first.
    open_starts: BTreeSet<(u64, u64)>,
    /// Ended requests not yet judged by the session checkers, by (start, id): with open-loop
    /// arrivals a session has several requests in flight, and read-your-writes and monotonic reads
    /// judge each read against the requests that started before it, so they see requests in start
    /// order, each once every request started before it has ended (or the run has).
    unjudged: BTreeMap<(u64, u64), Request>,
    pub ryw: ryw::Fold,
    pub monotonic: monotonic::Fold,
    /// Which frames each generation's history holds, for monotonic reads.
    history: History,
    pub latency: Latency,
    /// Figures per region of the PoPs requests went to.
    pub regions: RegionFold,
    pub load: Load,
    pub reads_after_loss: ReadsAfterLoss,
    loss: PrimaryLoss,
    /// Acknowledged writes and requests that failed (an error or a timeout), in the order they started.
    kept: Vec<Request>,
    /// Requests still in flight when the run ended (their `end_us` the run's end), in start order.
    unanswered: Vec<Request>,
}

impl Requests {
    pub fn event(&mut self, e: &Event) {
        self.load.event(e);
        self.regions.event(e);
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
                    start_ord: self.ord,
                    end_ord: self.ord,
                    outcome: RequestOutcome::Timeout,
                };
                self.ord += 1;
                self.open_starts.insert((e.t_us, *req));
                self.open.insert(*req, r);
            }
            Record::Harness(HarnessEvent::RequestEnded { req, outcome, .. }) => {
                if let Some(mut r) = self.open.remove(req) {
                    self.open_starts.remove(&(r.start_us, r.req));
                    r.end_us = e.t_us;
                    r.end_ord = self.ord;
                    self.ord += 1;
                    r.outcome = outcome.clone();
                    self.ended(r);
                }
            }
            Record::Harness(HarnessEvent::RunEnded { .. }) => {
                self.open_starts.clear();
                for (_, mut r) in std::mem::take(&mut self.open) {
                    r.end_us = e.t_us;
                    r.end_ord = self.ord;
                    self.reads_after_loss.request(&r);
                    self.unanswered.push(r);
                }
                self.unanswered.sort_by_key(|r| (r.start_us, r.req));
                self.judge_until(None);
            }
            Record::Node(NodeEvent::Committed { lsn, generation, .. }) => self.history.committed(*generation, *lsn),
            Record::Harness(HarnessEvent::Fault { action, .. }) if self.loss.fault(action) => {
                self.reads_after_loss.lost(e.t_us);
            }
            _ => {}
        }
    }

    fn ended(&mut self, r: Request) {
        self.latency.request(&r);
        self.regions.ended(&r);
        self.load.request(&r);
        self.reads_after_loss.request(&r);
        if !matches!(r.outcome, RequestOutcome::Read { .. }) {
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
            let violated = self.ryw.request(&r);
            self.regions.judged(&r, violated);
            self.monotonic.request(&r, &self.history);
        }
    }

    /// The acknowledged writes and failed requests, in the order they started.
    pub fn kept(&self) -> &[Request] {
        &self.kept
    }

    /// The requests still in flight when the run ended, in the order they started: no answer, so
    /// their `outcome` says nothing; their `end_us` is the run's end.
    pub fn unanswered(&self) -> &[Request] {
        &self.unanswered
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::RequestOp;
    use request::fixtures::{read, write};
    use request::{EXAMPLES, Findings};

    #[test]
    fn findings_keep_the_first_examples_by_start_whatever_order_they_are_found_in() {
        let mut f = Findings::default();
        for at in (0..15).rev() {
            f.add(&read(at, 1, "k", &[], None, at * 10), at);
        }
        assert_eq!(f.count, 15);
        assert_eq!(f.examples(), (0..EXAMPLES as u64).collect::<Vec<_>>());
    }

    fn started(r: &Request) -> Event {
        Event {
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
        }
    }

    #[test]
    fn requests_in_flight_at_the_end_are_kept_as_unanswered() {
        // Issue 11, defect 3: a request still in flight when the run ended was dropped from every
        // figure (0 counted). Now it is kept, ending at the run's end: 2 here, a read and a write.
        let mut requests = Requests::default();
        let (read, write) = (read(1, 1, "k", &[], None, 10), write(2, 2, 1, 20, false));
        requests.event(&started(&read));
        requests.event(&started(&write));
        let end = Event {
            t_us: 90,
            node: "harness".into(),
            record: Record::Harness(HarnessEvent::RunEnded { sim_us: 90, down: vec![] }),
        };
        requests.event(&end);
        let unanswered: Vec<_> = requests.unanswered().iter().map(|r| (r.req, r.op, r.end_us)).collect();
        assert_eq!(unanswered, [(1, RequestOp::Read, 90), (2, RequestOp::Write, 90)]);
    }

    #[test]
    fn reads_are_folded_and_only_acknowledged_writes_and_failures_kept() {
        let mut requests = Requests::default();
        let ended = |r: &Request| Event {
            t_us: r.end_us,
            node: r.client.as_str().into(),
            record: Record::Harness(HarnessEvent::RequestEnded {
                req: r.req,
                session: r.session,
                outcome: r.outcome.clone(),
            }),
        };
        let log = [
            write(1, 1, 1, 0, true),
            read(2, 1, "k", &[], None, 10),
            write(3, 2, 1, 20, false),
            read(4, 2, "k", &[], None, 30),
        ];
        for r in &log {
            requests.event(&started(r));
            requests.event(&ended(r));
        }
        let kept: Vec<_> = requests.kept().iter().map(|r| (r.req, r.outcome.clone())).collect();
        assert_eq!(kept, [(1, log[0].outcome.clone()), (3, log[2].outcome.clone())]);
        assert_eq!(requests.ryw.found.count, 1, "the read after the acknowledged write missed it");
        assert_eq!(requests.latency.summary()["a"].read.count, 2);
    }
}
