//! Monotonic reads (docs/DESIGN.md, Monotonic reads): within a
//! session, a key's version never goes back, and neither does the newest own write a read shows.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Findings, Request};
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

/// Reads that went back, folded over requests in the order each session made them.
#[derive(Default)]
pub struct Fold {
    versions: BTreeMap<(u64, String), u64>,
    own: BTreeMap<u64, u64>,
    pub found: Findings<Violation>,
}

impl Fold {
    pub fn request(&mut self, r: &Request) {
        let Outcome::Read { own_seq, version, .. } = r.outcome else { return };
        let found = &mut self.found;
        let mut went_back = |what: String, before: &mut u64, now: u64| {
            if now < *before {
                let v = Violation { req: r.req, session: r.session, at_us: r.start_us, what, before: *before, now };
                found.add(r, v);
            }
            *before = (*before).max(now);
        };
        let key_version = self.versions.entry((r.session, r.key.clone())).or_default();
        went_back(format!("key {} version", r.key), key_version, version);
        went_back("own writes".into(), self.own.entry(r.session).or_default(), own_seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::fixtures::read;

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
}
