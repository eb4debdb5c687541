//! Read-your-writes (docs/DESIGN.md, Read-your-writes violations: a read by a session that does not
//! reflect that session's last acknowledged write). Judged from the rows a read returned: each read reports the highest
//! sequence number of the session's own writes it could see, and that must reach the last write the
//! session had acknowledged before the read started. The position a replica claims is not used.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use serde::Serialize;

use super::request::{Findings, Request};
use crate::events::Outcome;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub req: u64,
    pub session: u64,
    pub at_us: u64,
    /// The session's last acknowledged write.
    pub acked_seq: u64,
    /// The newest of its own writes the read showed.
    pub saw_seq: u64,
}

/// A session's acknowledged writes not yet before any of its reads, as (acknowledgement time,
/// seq) soonest first, and the highest seq acknowledged before its latest read.
type Acked = (BinaryHeap<Reverse<(u64, u64)>>, u64);

/// Every read that missed its session's acknowledged writes, folded over requests in start order.
/// A session may have several requests in flight, so a write counts for a read only once its
/// acknowledgement came at or before the read started.
#[derive(Default)]
pub struct Fold {
    acked: BTreeMap<u64, Acked>,
    pub found: Findings<Violation>,
}

impl Fold {
    pub fn request(&mut self, r: &Request) {
        match r.outcome {
            Outcome::Write { .. } => self.acked.entry(r.session).or_default().0.push(Reverse((r.end_us, r.seq))),
            Outcome::Read { own_seq, .. } => {
                let Some((pending, seq)) = self.acked.get_mut(&r.session) else { return };
                while let Some(Reverse((at, s))) = pending.peek().copied()
                    && at <= r.start_us
                {
                    pending.pop();
                    *seq = (*seq).max(s);
                }
                if own_seq < *seq {
                    let v = Violation {
                        req: r.req,
                        session: r.session,
                        at_us: r.start_us,
                        acked_seq: *seq,
                        saw_seq: own_seq,
                    };
                    self.found.add(r, v);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::check::request::fixtures::{read, write};

    fn check(requests: &[Request]) -> Vec<Violation> {
        let mut fold = Fold::default();
        requests.iter().for_each(|r| fold.request(r));
        fold.found.examples()
    }

    #[test]
    fn a_read_missing_an_acknowledged_write_is_a_violation() {
        let log = vec![write(1, 7, 1, 10, true), read(2, 7, "k", 0, 0, 20), read(3, 7, "k", 1, 1, 30)];
        let v = check(&log);
        assert_eq!(v, vec![Violation { req: 2, session: 7, at_us: 20, acked_seq: 1, saw_seq: 0 }]);
    }

    #[test]
    fn unacknowledged_writes_and_other_sessions_do_not_count() {
        let log = vec![
            write(1, 7, 1, 10, false),
            read(2, 7, "k", 0, 0, 20),
            write(3, 8, 1, 30, true),
            read(4, 7, "k", 0, 0, 40),
        ];
        assert!(check(&log).is_empty());
    }
    #[test]
    fn with_requests_in_flight_a_write_counts_once_acknowledged() {
        // Open-loop arrivals: write 2 is still in flight when the read starts, so only write 1
        // counts; judging by the latest-started write instead missed this violation.
        let mut second = write(2, 7, 2, 15, true);
        second.end_us = 40;
        let log = vec![write(1, 7, 1, 5, true), second, read(3, 7, "k", 0, 0, 20), read(4, 7, "k", 1, 1, 30)];
        assert_eq!(check(&log), vec![Violation { req: 3, session: 7, at_us: 20, acked_seq: 1, saw_seq: 0 }]);
    }
}
