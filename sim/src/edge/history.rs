//! The histories the primaries wrote, as the event log tells them: each generation's history is
//! the history its primary held when promoted, up to just before the first LSN it committed, then
//! its own frames. Read checkers ask whether a write a read showed is still in the history a later
//! read showed; the lag figures ask which committed frames the final history holds.

use std::collections::BTreeMap;

use edgesim_system::edge::frame::Lsn;

/// The first LSN each generation committed, from the `committed` records in log order.
#[derive(Default)]
pub struct History {
    first: BTreeMap<u64, Lsn>,
}

impl History {
    /// A primary of `generation` committed frame `lsn`.
    pub fn committed(&mut self, generation: u64, lsn: Lsn) {
        self.first.entry(generation).or_insert(lsn);
    }

    /// Whether the frame at (`generation`, `lsn`) is in the history of generation `of`: it is that
    /// generation's, or an older one's below every later generation's first commit up to `of`.
    /// A generation that committed nothing keeps whatever it was promoted with.
    pub fn holds(&self, generation: u64, lsn: Lsn, of: u64) -> bool {
        generation == of || (generation < of && self.first.range(generation + 1..=of).all(|(_, first)| lsn < *first))
    }

    /// The lowest LSN any generation after `generation` committed: below it, a follower holding
    /// frames of `generation` holds the same frames as every later history.
    pub(crate) fn forked_after(&self, generation: u64) -> Option<Lsn> {
        self.first.range(generation + 1..).map(|(_, first)| *first).min()
    }

    /// The newest generation that committed anything.
    pub(crate) fn newest(&self) -> Option<u64> {
        self.first.keys().next_back().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_past_the_next_generations_first_commit_was_lost() {
        let mut h = History::default();
        (1..=7).for_each(|lsn| h.committed(1, lsn));
        (5..=6).for_each(|lsn| h.committed(2, lsn));
        assert!(h.holds(1, 4, 2) && h.holds(2, 6, 2) && h.holds(1, 7, 1));
        assert!(!h.holds(1, 5, 2) && !h.holds(1, 7, 2) && !h.holds(2, 5, 1));
        assert!(h.holds(1, 4, 3), "generation 3 committed nothing: it keeps what it was promoted with");
        assert_eq!((h.newest(), h.forked_after(1), h.forked_after(2)), (Some(2), Some(5), None));
    }
}
