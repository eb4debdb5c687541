//! Checkers: folds of the event log into verdicts. None of them trusts what a node says
//! about its own state: reads are judged by the rows they returned, lost writes and convergence by
//! the content the harness audited at the end.

pub mod convergence;
pub mod liveness;
pub(crate) mod lost_writes;
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
use crate::events::{ChunkOutcome, Event, HarnessEvent, Record, RequestOp, RequestOutcome};
use crate::scenario::ssr::DataKind;
use request::RequestRecord;

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
/// arrivals a session's requests overlap. A streamed view's `read_your_writes` boundaries
/// (`[ssr]`) are reads of the session too: each chunk's rows go to the session checkers as a read
/// that started when the view was due, once the view has ended.
#[derive(Default)]
pub struct Requests {
    /// Started and not ended yet, by id.
    open: BTreeMap<u64, RequestRecord>,
    /// Requests' starts and ends seen so far: the place of the next in log order.
    ord: u64,
    /// When each open request started, soonest first.
    open_starts: BTreeSet<(u64, u64)>,
    /// Ended requests not yet judged by the session checkers, by (start, id, boundary): with
    /// open-loop arrivals a session has several requests in flight, and read-your-writes and
    /// monotonic reads judge each read against the requests that started before it, so they see
    /// requests in start order, each once every request started before it has ended (or the run
    /// has). A request's boundary is 0; a view's boundary reads are 1 and on.
    unjudged: BTreeMap<(u64, u64, usize), RequestRecord>,
    /// Which of the streamed page's boundaries read by read-your-writes, in page order.
    ryw_boundaries: Vec<bool>,
    /// Streamed views under way, by id: the view as a read started when it was due, and the
    /// reads its `read_your_writes` boundaries returned so far.
    views: BTreeMap<u64, (RequestRecord, Vec<RequestRecord>)>,
    pub ryw: ryw::RywFold,
    pub monotonic: monotonic::MonotonicFold,
    /// Which frames each generation's history holds, for monotonic reads.
    history: History,
    pub latency: Latency,
    /// Figures per region of the PoPs requests went to.
    pub regions: RegionFold,
    pub load: Load,
    pub reads_after_loss: ReadsAfterLoss,
    loss: PrimaryLoss,
    /// Acknowledged writes and requests that failed (an error or a timeout), in the order they started.
    kept: Vec<RequestRecord>,
    /// Requests still in flight when the run ended (their `end_us` the run's end), in start order.
    unanswered: Vec<RequestRecord>,
}

impl Requests {
    pub fn event(&mut self, e: &Event) {
        self.load.event(e);
        self.regions.event(e);
        match &e.record {
            Record::Harness(HarnessEvent::RunStarted { resolved, .. }) => {
                let ssr = resolved.edge.as_ref().and_then(|e| e.ssr.as_ref());
                self.ryw_boundaries = ssr
                    .map_or(Vec::new(), |s| s.boundaries.iter().map(|b| b.data == DataKind::ReadYourWrites).collect());
            }
            Record::Harness(HarnessEvent::SsrRequested { view, session, key, .. }) => {
                let r = self.start(e, *view, *session, RequestOp::Read, key, 0);
                self.views.insert(*view, (r, Vec::new()));
            }
            Record::Harness(HarnessEvent::SsrChunk {
                view,
                boundary,
                filled: ChunkOutcome::Row { own, version, writer, path, lsn },
                ..
            }) if self.ryw_boundaries.get(*boundary).copied().unwrap_or(false) => {
                if let Some((started, reads)) = self.views.get_mut(view) {
                    let outcome = RequestOutcome::Read {
                        own: own.clone(),
                        version: *version,
                        writer: *writer,
                        path: *path,
                        lsn: *lsn,
                    };
                    let read = RequestRecord { end_us: e.t_us, end_ord: self.ord, outcome, ..started.clone() };
                    self.ord += 1;
                    reads.push(read);
                }
            }
            Record::Harness(HarnessEvent::SsrEnded { view, .. }) => {
                if let Some(view) = self.views.remove(view) {
                    self.view_ended(view);
                    self.judge_until(self.open_starts.first().copied());
                }
            }
            Record::Harness(HarnessEvent::RequestStarted { req, session, op, key, seq, .. }) => {
                let r = self.start(e, *req, *session, *op, key, *seq);
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
                for (_, view) in std::mem::take(&mut self.views) {
                    self.view_ended(view);
                }
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

    /// A request (or a streamed view, read as a request) that started at `e`: its record, open
    /// until it ends, with no answer yet (`Timeout`).
    fn start(&mut self, e: &Event, req: u64, session: u64, op: RequestOp, key: &str, seq: u64) -> RequestRecord {
        let r = RequestRecord {
            req,
            session,
            client: e.node.to_string(),
            op,
            key: key.to_string(),
            seq,
            start_us: e.t_us,
            end_us: e.t_us,
            start_ord: self.ord,
            end_ord: self.ord,
            outcome: RequestOutcome::Timeout,
        };
        self.ord += 1;
        self.open_starts.insert((e.t_us, req));
        r
    }

    fn ended(&mut self, r: RequestRecord) {
        self.latency.request(&r);
        self.regions.ended(&r);
        self.load.request(&r);
        self.reads_after_loss.request(&r);
        if !matches!(r.outcome, RequestOutcome::Read { .. }) {
            // Few requests are in flight at once: the place is at or near the end.
            let at = self.kept.partition_point(|k| (k.start_us, k.req) < (r.start_us, r.req));
            self.kept.insert(at, r.clone());
        }
        self.unjudged.insert((r.start_us, r.req, 0), r);
        self.judge_until(self.open_starts.first().copied());
    }

    /// A streamed view ended (or the run did): its boundary reads wait for the session checkers.
    fn view_ended(&mut self, (started, reads): (RequestRecord, Vec<RequestRecord>)) {
        self.open_starts.remove(&(started.start_us, started.req));
        for (i, read) in reads.into_iter().enumerate() {
            self.unjudged.insert((read.start_us, read.req, i + 1), read);
        }
    }

    /// Hands the session checkers every ended request that started before `open` (the first
    /// request still in flight; `None`: all of them), in start order.
    fn judge_until(&mut self, open: Option<(u64, u64)>) {
        while let Some(entry) = self.unjudged.first_entry() {
            let (start, req, _) = *entry.key();
            if open.is_some_and(|first| (start, req) > first) {
                break;
            }
            let r = entry.remove();
            let violated = self.ryw.request(&r);
            self.regions.judged(&r, violated);
            self.monotonic.request(&r, &self.history);
        }
    }

    /// The acknowledged writes and failed requests, in the order they started.
    pub fn kept(&self) -> &[RequestRecord] {
        &self.kept
    }

    /// The requests still in flight when the run ended, in the order they started: no answer, so
    /// their `outcome` says nothing; their `end_us` is the run's end.
    pub fn unanswered(&self) -> &[RequestRecord] {
        &self.unanswered
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::HarnessEvent::{RequestEnded, SsrChunk, SsrEnded, SsrRequested};
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

    fn started(r: &RequestRecord) -> Event {
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
        let ended = |r: &RequestRecord| Event {
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

    #[test]
    fn a_streamed_views_read_your_writes_boundary_is_judged_as_a_read_of_its_session() {
        // Goal: a view's `read_your_writes` boundary that misses the session's acknowledged write
        // is a read-your-writes violation, judged once the view ended; the same rows in a
        // `replica` boundary (which promises nothing) are not judged.
        let mut requests = Requests { ryw_boundaries: vec![false, true], ..Requests::default() };
        let acked = write(1, 7, 1, 0, true);
        requests.event(&started(&acked));
        let ended = RequestEnded { req: 1, session: 7, outcome: acked.outcome.clone() };
        requests.event(&Event { t_us: 1, node: "clients-a".into(), record: Record::Harness(ended) });
        let harness = |t_us, h| Event { t_us, node: "clients-a".into(), record: Record::Harness(h) };
        requests.event(&harness(10, SsrRequested { view: 2, session: 7, pop: "pop-a-1".into(), key: "k".into() }));
        for boundary in [0, 1] {
            let RequestOutcome::Read { own, version, writer, path, lsn } = read(2, 7, "k", &[], None, 10).outcome
            else {
                unreachable!()
            };
            let filled = ChunkOutcome::Row { own, version, writer, path, lsn };
            requests.event(&harness(20, SsrChunk { view: 2, boundary, name: String::new(), filled }));
        }
        assert_eq!(requests.ryw.found.count, 0, "judged only once the view ended");
        requests.event(&harness(30, SsrEnded { view: 2, outcome: crate::events::StreamOutcome::Streamed }));
        assert_eq!(requests.ryw.found.count, 1);
        assert_eq!(requests.ryw.found.examples()[0].missing, [1]);
    }
}
