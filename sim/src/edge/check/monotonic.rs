//! Monotonic reads (docs/DESIGN.md, Monotonic reads): within a
//! session, a key's version never goes back, and neither does the newest own write a read shows.

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
    /// What went back: `key k3 version` or `own writes`.
    pub what: String,
    pub before: u64,
    pub now: u64,
}

/// What a read showed: (end, session, key, version, own_seq).
type Shown = (u64, u64, String, u64, u64);

/// Every read that showed less than a read of its session that had ended before it started,
/// folded over requests in start order. Reads in flight together are not ordered, so each read is
/// compared with what the session's reads that had ended by its start showed.
#[derive(Default)]
pub struct Fold {
    versions: BTreeMap<(u64, String), u64>,
    own: BTreeMap<u64, u64>,
    /// Reads not yet ended at the latest start, soonest end first.
    ending: BinaryHeap<Reverse<Shown>>,
    pub found: Findings<Violation>,
}

impl Fold {
    pub fn request(&mut self, r: &Request) {
        let Outcome::Read { own_seq, version, .. } = r.outcome else { return };
        while let Some(Reverse((end, ..))) = self.ending.peek()
            && *end <= r.start_us
        {
            let Some(Reverse((_, session, key, v, o))) = self.ending.pop() else { break };
            let seen = self.versions.entry((session, key)).or_default();
            *seen = (*seen).max(v);
            let seen = self.own.entry(session).or_default();
            *seen = (*seen).max(o);
        }
        let found = &mut self.found;
        let mut went_back = |what: String, before: u64, now: u64| {
            if now < before {
                found.add(r, Violation { req: r.req, session: r.session, at_us: r.start_us, what, before, now });
            }
        };
        let before = self.versions.get(&(r.session, r.key.clone())).copied().unwrap_or(0);
        went_back(format!("key {} version", r.key), before, version);
        went_back("own writes".into(), self.own.get(&r.session).copied().unwrap_or(0), own_seq);
        self.ending.push(Reverse((r.end_us, r.session, r.key.clone(), version, own_seq)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::check::request::fixtures::read;

    fn check(requests: &[Request]) -> Vec<Violation> {
        let mut fold = Fold::default();
        requests.iter().for_each(|r| fold.request(r));
        fold.found.examples()
    }

    #[test]
    fn going_back_in_a_key_or_own_writes_is_reported() {
        let log = vec![
            read(1, 1, "a", 2, 5, 10),
            read(2, 1, "a", 2, 4, 20),
            read(3, 1, "b", 1, 1, 30),
            read(4, 2, "a", 0, 1, 40),
        ];
        let v = check(&log);
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].req, v[0].before, v[0].now), (2, 5, 4));
        assert_eq!((v[1].req, v[1].what.as_str()), (3, "own writes"));
    }
    #[test]
    fn reads_in_flight_together_are_not_ordered() {
        // Open-loop arrivals: read 2 started before read 1 ended, so showing an older version
        // is no violation; read 3 started after both ended and must show version 5.
        let mut first = read(1, 1, "a", 0, 5, 10);
        first.end_us = 50;
        let log = vec![first, read(2, 1, "a", 0, 4, 20), read(3, 1, "a", 0, 4, 60)];
        let v = check(&log);
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].req, v[0].before, v[0].now), (3, 5, 4));
    }
}
