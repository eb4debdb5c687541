//! Split brain (issue: "no LSN acknowledged under two generations, no write acknowledged by a
//! fenced primary"), judged from the acknowledgements clients received: each carries the
//! generation and position that acknowledged it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::request::RequestRecord;
use crate::events::RequestOutcome;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SplitBrainFinding {
    /// Writes acknowledged under a generation after a newer generation had been promoted:
    /// (session, seq, generation, time the client got the acknowledgement).
    pub acked_by_fenced: Vec<(u64, u64, u64, u64)>,
    /// Positions acknowledged under more than one generation: two histories were acknowledged.
    pub lsn_under_two_generations: Vec<(u64, Vec<u64>)>,
}

impl SplitBrainFinding {
    pub fn fired(&self) -> bool {
        !self.acked_by_fenced.is_empty() || !self.lsn_under_two_generations.is_empty()
    }
}

/// `promotions`: (time, generation) of every promotion, in time order.
pub fn check(requests: &[RequestRecord], promotions: &[(u64, u64)]) -> SplitBrainFinding {
    let mut v = SplitBrainFinding::default();
    let mut generations: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for r in requests {
        let RequestOutcome::Write { lsn, generation } = r.outcome else { continue };
        let superseded = promotions.iter().any(|&(at, g)| g > generation && at <= r.end_us);
        if superseded {
            v.acked_by_fenced.push((r.session, r.seq, generation, r.end_us));
        }
        let gens = generations.entry(lsn).or_default();
        if !gens.contains(&generation) {
            gens.push(generation);
        }
    }
    v.lsn_under_two_generations = generations.into_iter().filter(|(_, g)| g.len() > 1).collect();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::check::request::fixtures::write;

    fn acked(req: u64, seq: u64, lsn: u64, generation: u64, at: u64) -> RequestRecord {
        RequestRecord { outcome: RequestOutcome::Write { lsn, generation }, ..write(req, 1, seq, at, true) }
    }

    #[test]
    fn an_ack_from_a_superseded_generation_is_split_brain() {
        let log = vec![acked(1, 1, 1, 1, 10), acked(2, 2, 2, 2, 50), acked(3, 3, 2, 1, 60)];
        let v = check(&log, &[(40, 2)]);
        assert_eq!(v.acked_by_fenced, vec![(1, 3, 1, 61)]);
        assert_eq!(v.lsn_under_two_generations, vec![(2, vec![2, 1])]);
        assert!(v.fired());
        assert!(!check(&log[..2], &[(40, 2)]).fired());
    }
}
