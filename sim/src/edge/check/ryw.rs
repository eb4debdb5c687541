//! Read-your-writes (docs/DESIGN.md, Read-your-writes violations: a read by a session that does not
//! reflect every write that session had acknowledged before the read started). Judged from the rows
//! a read returned: a read returns the session's own rows (its writes, every key), and each of the
//! session's writes acknowledged before the read started must be among them, whatever later writes
//! the read also shows. The position a replica claims is not used.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use serde::Serialize;

use super::request::{Findings, RequestRecord};
use crate::events::RequestOutcome;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RywViolation {
    pub req: u64,
    pub session: u64,
    pub at_us: u64,
    /// How many writes the session had acknowledged before the read started.
    pub acked: usize,
    /// The seqs of those writes the read's rows did not hold.
    pub missing: Vec<u64>,
}

/// A session's acknowledged writes: those not yet before any of its reads, as (acknowledgement
/// time and place in the log, seq) soonest first, and the seqs acknowledged before its latest read.
type Acked = (BinaryHeap<Reverse<((u64, u64), u64)>>, BTreeSet<u64>);

/// Every read that missed any of its session's acknowledged writes, folded over requests in start
/// order. A session may have several requests in flight, so a write counts for a read only once
/// its acknowledgement came before the read started: at an earlier time, or earlier in the log at
/// the same microsecond (a read started by the session's task that just heard the acknowledgement
/// comes after it; one started by another of its tasks just before it heard it does not). Memory:
/// per session, its acknowledged writes.
#[derive(Default)]
pub struct RywFold {
    acked: BTreeMap<u64, Acked>,
    pub found: Findings<RywViolation>,
}

impl RywFold {
    /// Takes the next request in start order; `true` when it is a read that violated.
    pub fn request(&mut self, r: &RequestRecord) -> bool {
        match &r.outcome {
            RequestOutcome::Write { .. } => {
                self.acked.entry(r.session).or_default().0.push(Reverse((r.ended(), r.seq)));
                false
            }
            RequestOutcome::Read { own, .. } => {
                let Some((pending, acked)) = self.acked.get_mut(&r.session) else { return false };
                while let Some(Reverse((at, seq))) = pending.peek().copied()
                    && at < r.started()
                {
                    pending.pop();
                    acked.insert(seq);
                }
                let missing: Vec<u64> = acked.iter().copied().filter(|seq| !own.holds(*seq)).collect();
                if missing.is_empty() {
                    return false;
                }
                let v = RywViolation { req: r.req, session: r.session, at_us: r.start_us, acked: acked.len(), missing };
                self.found.add(r, v);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::check::request::fixtures::{read, write};

    fn check(requests: &[RequestRecord]) -> Vec<RywViolation> {
        let mut fold = RywFold::default();
        for r in requests {
            fold.request(r);
        }
        fold.found.examples()
    }

    fn violation(req: u64, at_us: u64, acked: usize, missing: &[u64]) -> RywViolation {
        RywViolation { req, session: 7, at_us, acked, missing: missing.to_vec() }
    }

    #[test]
    fn a_read_missing_an_acknowledged_write_is_a_violation() {
        let log = vec![write(1, 7, 1, 10, true), read(2, 7, "k", &[], None, 20), read(3, 7, "k", &[1], None, 30)];
        assert_eq!(check(&log), vec![violation(2, 20, 1, &[1])]);
    }

    #[test]
    fn a_write_lost_below_a_later_one_is_missed_by_every_later_read() {
        // The session's highest write is there, the first is not: judging by the highest write
        // seen (`own_seq`) passed both reads.
        let log = vec![
            write(1, 7, 1, 10, true),
            write(2, 7, 2, 20, true),
            read(3, 7, "k", &[2], None, 30),
            read(4, 7, "k", &[2, 3], None, 40),
        ];
        assert_eq!(check(&log), vec![violation(3, 30, 2, &[1]), violation(4, 40, 2, &[1])]);
    }

    #[test]
    fn unacknowledged_writes_and_other_sessions_do_not_count() {
        let log = vec![
            write(1, 7, 1, 10, false),
            read(2, 7, "k", &[], None, 20),
            write(3, 8, 1, 30, true),
            read(4, 7, "k", &[], None, 40),
        ];
        assert!(check(&log).is_empty());
    }

    #[test]
    fn with_requests_in_flight_a_write_counts_once_acknowledged() {
        // Open-loop arrivals: write 2 is still in flight when the read starts, so only write 1
        // counts; judging by the latest-started write instead missed this violation.
        let mut second = write(2, 7, 2, 15, true);
        second.end_us = 40;
        let log =
            vec![write(1, 7, 1, 5, true), second, read(3, 7, "k", &[], None, 20), read(4, 7, "k", &[1], None, 30)];
        assert_eq!(check(&log), vec![violation(3, 20, 1, &[1])]);
    }

    #[test]
    fn an_acknowledgement_of_the_same_microsecond_counts_only_if_logged_before_the_read_started() {
        // The open finding of scenarios/found/sync-standby-crash.toml under `block`: when the
        // standby returned, one task of session 5 started a read at T+40.032 s and, in the same
        // microsecond but after it in the log, another heard the acknowledgement of write 41; the
        // read was judged against write 41 (1 violation before, 0 after). A read started after the
        // acknowledgement in the log, as a read-after-write is, still must show it.
        let mut acked = write(1, 7, 1, 10, true);
        acked.end_ord = 5;
        let mut before = read(2, 7, "k", &[], None, 11);
        before.start_ord = 4;
        let mut after = read(3, 7, "k", &[], None, 11);
        after.start_ord = 6;
        assert_eq!(check(&[acked.clone(), before]), vec![]);
        assert_eq!(check(&[acked, after]), vec![violation(3, 11, 1, &[1])]);
    }
}
