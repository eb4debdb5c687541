//! Checkers: pure functions from the event log to verdicts. None of them trusts what a node says
//! about its own state: reads are judged by the rows they returned, lost writes and convergence by
//! the content the harness audited at the end.

pub mod convergence;
pub mod lost_writes;
pub mod monotonic;
pub mod ryw;
pub mod split_brain;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::events::{Event, HarnessEvent, Op, Outcome, Record};

/// A request as its client saw it, start to end.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Request {
    pub req: u64,
    pub session: u64,
    /// The client host, `clients-REGION`.
    pub client: String,
    pub op: Op,
    pub key: String,
    pub seq: u64,
    pub start_us: u64,
    pub end_us: u64,
    pub outcome: Outcome,
}

impl Request {
    pub fn region(&self) -> &str {
        self.client.strip_prefix("clients-").unwrap_or(&self.client)
    }
}

/// The finished requests of a run, in the order they started.
pub fn requests(events: &[Event]) -> Vec<Request> {
    let mut open = BTreeMap::new();
    let mut done = Vec::new();
    for e in events {
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
                open.insert(*req, r);
            }
            Record::Harness(HarnessEvent::RequestEnded { req, outcome, .. }) => {
                if let Some(mut r) = open.remove(req) {
                    r.end_us = e.t_us;
                    r.outcome = outcome.clone();
                    done.push(r);
                }
            }
            _ => {}
        }
    }
    done.sort_by_key(|r| (r.start_us, r.req));
    done
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use edgesim_system::edge::proto::ReadPath;

    pub fn write(req: u64, session: u64, seq: u64, at: u64, acked: bool) -> Request {
        let outcome = if acked { Outcome::Write { lsn: seq, generation: 1 } } else { Outcome::Timeout };
        Request {
            req,
            session,
            client: "clients-a".into(),
            op: Op::Write,
            key: "k".into(),
            seq,
            start_us: at,
            end_us: at + 1,
            outcome,
        }
    }

    pub fn read(req: u64, session: u64, key: &str, own_seq: u64, version: u64, at: u64) -> Request {
        let outcome = Outcome::Read { own_seq, version, writer: None, path: ReadPath::Local, lsn: 0 };
        Request {
            req,
            session,
            client: "clients-a".into(),
            op: Op::Read,
            key: key.into(),
            seq: 0,
            start_us: at,
            end_us: at + 1,
            outcome,
        }
    }
}
