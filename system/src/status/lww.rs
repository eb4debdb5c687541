//! Last-writer-wins registers: a value with the key of the write that set it; merging keeps the
//! write with the higher key. The key is a hybrid logical [`Timestamp`] by default; any other
//! ordered key can stand in, which is how the tests show why wall-clock keys lose writes.

use serde::{Deserialize, Serialize};

use super::Merge;
use super::hlc::Timestamp;

/// What orders the writes a merge compares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LwwOrder {
    /// The design: the whole hybrid timestamp (physical time, counter, node).
    #[default]
    Hlc,
    /// Negative control: physical time and node only, the logical counter ignored, so of two
    /// writes stamped in the same millisecond the one with the higher node id wins though the
    /// other's counter says it came later.
    Physical,
}

/// A last-writer-wins register ordered by `K`. Equal keys (which unique hybrid logical timestamps
/// rule out) are broken by value, so merging stays a join whatever states meet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Lww<T, K = Timestamp> {
    at: K,
    value: T,
}

impl<T: Ord, K: Ord> Lww<T, K> {
    /// A register holding `value`, written at `at`.
    pub fn new(at: K, value: T) -> Self {
        Lww { at, value }
    }

    /// Writes `value` at `at`, unless the register already holds a later write.
    pub fn set(&mut self, at: K, value: T) {
        if (&at, &value) > (&self.at, &self.value) {
            *self = Lww { at, value };
        }
    }

    /// The current value.
    pub fn get(&self) -> &T {
        &self.value
    }

    /// The key of the write that set the current value.
    pub fn at(&self) -> &K {
        &self.at
    }
}

impl<T: Ord + Clone, K: Ord + Clone> Merge for Lww<T, K> {
    fn merge(&mut self, other: &Self) {
        if (&other.at, &other.value) > (&self.at, &self.value) {
            self.clone_from(other);
        }
    }
}

impl<T: Ord + Clone> Lww<T, Timestamp> {
    /// Merges `other` into this register under `order` ([`LwwOrder::Hlc`] is [`Merge::merge`]).
    pub(crate) fn merge_by(&mut self, other: &Self, order: LwwOrder) {
        let key = |r: &Self| match order {
            LwwOrder::Hlc => (r.at.l, r.at.c, r.at.node),
            LwwOrder::Physical => (r.at.l, 0, r.at.node),
        };
        if (key(other), &other.value) > (key(self), &self.value) {
            self.clone_from(other);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::hlc::Hlc;
    use crate::status::laws;
    use proptest::prelude::*;

    fn write() -> impl Strategy<Value = (Timestamp, u8)> {
        ((0..4u64, 0..2u32, 0..2u32), 0..4u8).prop_map(|((l, c, node), v)| (Timestamp { l, c, node }, v))
    }

    fn register() -> impl Strategy<Value = Lww<u8>> {
        write().prop_map(|(at, v)| Lww::new(at, v))
    }

    proptest! {
        #[test]
        fn merge_is_a_join(a in register(), b in register(), c in register()) {
            laws::join(&a, &b, &c)?;
        }

        #[test]
        fn writes_in_any_order_converge_on_the_latest(
            (writes, orders) in laws::with_orders(prop::collection::vec(write(), 1..20)),
        ) {
            let start = Lww::new(Timestamp::default(), 0);
            laws::converge(&start, &writes, &orders, |r, (at, v)| r.set(*at, *v))?;
            let mut replica = start;
            writes.iter().for_each(|(at, v)| replica.set(*at, *v));
            prop_assert_eq!(replica.at(), &writes.iter().map(|(at, _)| *at).max().unwrap());
        }
    }

    /// Node B's wall clock runs 5 s behind A's. A writes "investigating"; B, having synced with A,
    /// writes "resolved" 200 ms later in real time. Keyed by wall time (ms, node), B's write
    /// carries the earlier key and loses; keyed by B's hybrid logical clock, which has received
    /// A's timestamp, B's write follows A's and wins.
    #[test]
    fn wall_clock_keys_lose_a_later_write_that_hlc_keys_keep() {
        const A: u32 = 1;
        const B: u32 = 2;
        let b_wall = |real_ms: u64| real_ms - 5_000;
        let (mut hlc_a, mut hlc_b) = (Hlc::new(A, 10_000), Hlc::new(B, 10_000));

        let a_wall = Lww::new((10_000, A), "investigating");
        let a_hlc = Lww::new(hlc_a.now(10_000), "investigating");
        hlc_b.receive(*a_hlc.at(), b_wall(10_100)).unwrap();
        let b_wall_write = Lww::new((b_wall(10_200), B), "resolved");
        let b_hlc = Lww::new(hlc_b.now(b_wall(10_200)), "resolved");

        for (mut x, y) in [(a_wall.clone(), &b_wall_write), (b_wall_write.clone(), &a_wall)] {
            x.merge(y);
            assert_eq!(*x.get(), "investigating", "wall-clock LWW keeps the earlier write");
        }
        for (mut x, y) in [(a_hlc.clone(), &b_hlc), (b_hlc.clone(), &a_hlc)] {
            x.merge(y);
            assert_eq!(*x.get(), "resolved", "HLC LWW keeps the later write");
        }
    }

    #[test]
    fn physical_order_drops_the_counter_that_hlc_keeps() {
        // Goal: two writes in the same millisecond resolve by counter under HLC, and by node id
        // alone under the physical-time negative control.
        let later = Lww::new(Timestamp { l: 5, c: 3, node: 0 }, "resolved");
        let earlier = Lww::new(Timestamp { l: 5, c: 1, node: 1 }, "investigating");
        for (order, winner) in [(LwwOrder::Hlc, "resolved"), (LwwOrder::Physical, "investigating")] {
            for (mut x, y) in [(later.clone(), &earlier), (earlier.clone(), &later)] {
                x.merge_by(y, order);
                assert_eq!(*x.get(), winner, "{order:?}");
            }
        }
    }
}
