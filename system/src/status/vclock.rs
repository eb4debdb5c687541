//! Vector clocks: per node, how many of its events a replica has seen. Comparing two clocks says
//! whether one state causally precedes the other or whether they are concurrent.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Merge, NodeId};

/// How two vector clocks relate causally.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Causality {
    /// Every event of the first was seen by the second, which saw more.
    Before,
    /// The reverse of [`Causality::Before`].
    After,
    /// Both saw exactly the same events.
    Equal,
    /// Each saw an event the other did not.
    Concurrent,
}

/// A vector clock; nodes absent from it have count 0.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VClock(BTreeMap<NodeId, u64>);

impl VClock {
    /// The clock that has seen nothing.
    pub fn new() -> VClock {
        VClock::default()
    }

    /// How many of `node`'s events this clock has seen.
    pub fn get(&self, node: NodeId) -> u64 {
        self.0.get(&node).copied().unwrap_or(0)
    }

    /// Records a new event at `node` and returns its count.
    pub fn increment(&mut self, node: NodeId) -> u64 {
        let count = self.0.entry(node).or_insert(0);
        *count += 1;
        *count
    }

    /// How this clock relates to `other` (the partial order of causality).
    pub fn compare(&self, other: &VClock) -> Causality {
        let (mut behind, mut ahead) = (false, false);
        for &node in self.0.keys().chain(other.0.keys()) {
            match self.get(node).cmp(&other.get(node)) {
                Ordering::Less => behind = true,
                Ordering::Greater => ahead = true,
                Ordering::Equal => {}
            }
        }
        match (behind, ahead) {
            (false, false) => Causality::Equal,
            (true, false) => Causality::Before,
            (false, true) => Causality::After,
            (true, true) => Causality::Concurrent,
        }
    }
}

impl Merge for VClock {
    /// The pointwise maximum.
    fn merge(&mut self, other: &Self) {
        for (&node, &count) in &other.0 {
            let mine = self.0.entry(node).or_insert(0);
            *mine = (*mine).max(count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::laws;
    use proptest::prelude::*;

    fn clock() -> impl Strategy<Value = VClock> {
        prop::collection::btree_map(0..4u32, 1..6u64, 0..4).prop_map(VClock)
    }

    fn reverse(c: Causality) -> Causality {
        match c {
            Causality::Before => Causality::After,
            Causality::After => Causality::Before,
            other => other,
        }
    }

    proptest! {
        #[test]
        fn merge_is_a_join(a in clock(), b in clock(), c in clock()) {
            laws::join(&a, &b, &c)?;
        }

        #[test]
        fn clocks_in_any_order_converge((clocks, orders) in laws::with_orders(prop::collection::vec(clock(), 0..10))) {
            laws::converge(&VClock::new(), &clocks, &orders, VClock::merge)?;
        }

        #[test]
        fn compare_is_a_partial_order(a in clock(), b in clock()) {
            prop_assert_eq!(a.compare(&b), reverse(b.compare(&a)));
            prop_assert_eq!(a.compare(&b) == Causality::Equal, a == b);
            let mut m = a.clone();
            m.merge(&b);
            prop_assert!(matches!(m.compare(&a), Causality::After | Causality::Equal));
            prop_assert!(matches!(m.compare(&b), Causality::After | Causality::Equal));
            let mut next = a.clone();
            next.increment(3);
            prop_assert_eq!(a.compare(&next), Causality::Before);
        }
    }

    #[test]
    fn independent_events_are_concurrent_until_merged() {
        let (mut a, mut b) = (VClock::new(), VClock::new());
        a.increment(1);
        b.increment(2);
        assert_eq!(a.compare(&b), Causality::Concurrent);
        b.merge(&a);
        assert_eq!(a.compare(&b), Causality::Before);
        assert_eq!(b.compare(&a), Causality::After);
    }
}
