//! Lost acknowledged writes (docs/DESIGN.md, Lost acknowledged writes: acknowledged to a client,
//! absent from the final primary state), judged against the content the harness audited at the end.

use std::collections::BTreeSet;

use super::request::RequestRecord;
use crate::events::RequestOutcome;

/// The acknowledged writes, as (session, seq), missing from `final_writes`.
pub fn check(requests: &[RequestRecord], final_writes: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let held: BTreeSet<_> = final_writes.iter().copied().collect();
    requests
        .iter()
        .filter(|r| matches!(r.outcome, RequestOutcome::Write { .. }))
        .map(|r| (r.session, r.seq))
        .filter(|w| !held.contains(w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::check::request::fixtures::write;

    #[test]
    fn only_acknowledged_writes_can_be_lost() {
        let log = vec![write(1, 1, 1, 0, true), write(2, 1, 2, 5, true), write(3, 2, 1, 5, false)];
        assert_eq!(check(&log, &[(1, 1)]), vec![(1, 2)]);
        assert!(check(&log, &[(1, 1), (1, 2)]).is_empty());
    }
}
