//! A request as its client saw it, start to end, as the checkers and figures take it from the
//! event log; and how a checker keeps its violations (a count and the first examples).

use serde::Serialize;

use crate::events::{RequestOp, RequestOutcome};
use crate::scenario::roles::EdgeRole;

/// A request as its client saw it, start to end.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RequestRecord {
    pub req: u64,
    pub session: u64,
    /// The client host, `clients-REGION`.
    pub client: String,
    pub op: RequestOp,
    pub key: String,
    pub seq: u64,
    pub start_us: u64,
    pub end_us: u64,
    /// The places of the request's start and of its end among the requests' events, in log
    /// order: they order a start and an end of the same microsecond as the clients did them.
    #[serde(skip)]
    pub start_ord: u64,
    #[serde(skip)]
    pub end_ord: u64,
    pub outcome: RequestOutcome,
}

impl RequestRecord {
    /// When the request started: its time, then its place in the log.
    pub fn started(&self) -> (u64, u64) {
        (self.start_us, self.start_ord)
    }

    /// When the request ended: its time, then its place in the log.
    pub fn ended(&self) -> (u64, u64) {
        (self.end_us, self.end_ord)
    }

    pub fn region(&self) -> &str {
        match EdgeRole::of(&self.client) {
            Some(EdgeRole::Clients { region }) => region,
            _ => &self.client,
        }
    }
}

/// How many examples of each violation a report lists.
pub(crate) const EXAMPLES: usize = 10;

/// A checker's violations: how many, and the first `EXAMPLES` in the order their requests started.
#[derive(Clone, Debug)]
pub struct Findings<T> {
    pub count: usize,
    /// Ordered by (request start, request id, order found).
    first: Vec<((u64, u64, usize), T)>,
}

impl<T> Default for Findings<T> {
    fn default() -> Self {
        Findings { count: 0, first: Vec::new() }
    }
}

impl<T: Clone> Findings<T> {
    pub fn add(&mut self, r: &RequestRecord, violation: T) {
        self.count += 1;
        let key = (r.start_us, r.req, self.count);
        let at = self.first.partition_point(|(k, _)| *k < key);
        if at < EXAMPLES {
            self.first.insert(at, (key, violation));
            self.first.truncate(EXAMPLES);
        }
    }

    pub(crate) fn examples(&self) -> Vec<T> {
        self.first.iter().map(|(_, v)| v.clone()).collect()
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use edgesim_system::edge::proto::ReadPath;
    use edgesim_system::edge::store::{OwnRows, Writer};

    use crate::edge::check::request::RequestRecord;
    use crate::events::{RequestOp, RequestOutcome};

    pub fn write(req: u64, session: u64, seq: u64, at: u64, acked: bool) -> RequestRecord {
        let outcome = if acked { RequestOutcome::Write { lsn: seq, generation: 1 } } else { RequestOutcome::Timeout };
        RequestRecord {
            req,
            session,
            client: "clients-a".into(),
            op: RequestOp::Write,
            key: "k".into(),
            seq,
            start_us: at,
            end_us: at + 1,
            start_ord: 0,
            end_ord: 0,
            outcome,
        }
    }

    /// A key's writer: (session, seq) committed at (generation, lsn).
    pub fn writer(session: u64, seq: u64, generation: u64, lsn: u64) -> Option<Writer> {
        Some(Writer { session, seq, generation, lsn })
    }

    /// A read that returned the session's rows `own` (ascending seqs) and the key's `writer`.
    pub fn read(req: u64, session: u64, key: &str, own: &[u64], writer: Option<Writer>, at: u64) -> RequestRecord {
        let mut rows = OwnRows { count: own.len() as u64, ..OwnRows::default() };
        for &seq in own {
            match rows.seqs.last_mut() {
                Some((_, last)) if *last + 1 == seq => *last = seq,
                _ => rows.seqs.push((seq, seq)),
            }
        }
        let outcome = RequestOutcome::Read { own: rows, version: 0, writer, path: ReadPath::Local, lsn: 0 };
        RequestRecord {
            req,
            session,
            client: "clients-a".into(),
            op: RequestOp::Read,
            key: key.into(),
            seq: 0,
            start_us: at,
            end_us: at + 1,
            start_ord: 0,
            end_ord: 0,
            outcome,
        }
    }
}
