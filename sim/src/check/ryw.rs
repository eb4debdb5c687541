//! Read-your-writes (docs/DESIGN.md, Read-your-writes violations: a read by a session that does not
//! reflect that session's last acknowledged write). Judged from the rows a read returned: each read reports the highest
//! sequence number of the session's own writes it could see, and that must reach the last write the
//! session had acknowledged before the read started. The position a replica claims is not used.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Findings, Request};
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

/// Every read that missed its session's acknowledged writes, folded over requests in the order
/// each session made them.
#[derive(Default)]
pub struct Fold {
    /// Per session: the last acknowledged write's seq and when it was acknowledged.
    acked: BTreeMap<u64, (u64, u64)>,
    pub found: Findings<Violation>,
}

impl Fold {
    pub fn request(&mut self, r: &Request) {
        match r.outcome {
            Outcome::Write { .. } => {
                let e = self.acked.entry(r.session).or_default();
                if r.seq > e.0 {
                    *e = (r.seq, r.end_us);
                }
            }
            Outcome::Read { own_seq, .. } => {
                if let Some(&(seq, acked_at)) = self.acked.get(&r.session)
                    && acked_at <= r.start_us
                    && own_seq < seq
                {
                    let v = Violation {
                        req: r.req,
                        session: r.session,
                        at_us: r.start_us,
                        acked_seq: seq,
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
    use crate::check::fixtures::{read, write};

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
}
