//! System B's replicated core, the status page (docs/DESIGN.md, Incident CRDTs): incidents are written in
//! several regions and synced as state-based CRDTs. Component status lives in last-writer-wins
//! registers ordered by hybrid logical clocks (node id breaks ties), an incident's timeline is an
//! observed-remove set, and vector clocks record causality.
//!
//! Pure, property-tested parts: `hlc`, `lww`, `or_set`, `vclock`, `incident`, `sse` (event-id
//! cursors), `dns` (the health board), `notify` (the pipeline's decisions). Nodes, on the
//! network seam like the edge platform's: `origin` (a status region), `cdn` (edge KV, worker,
//! tiers, SSE hub), `dns` (health-checked DNS), `notifier` (delivery workers), its durable queue `outbox`.

pub mod cdn;
pub mod config;
pub mod dns;
pub mod hlc;
pub mod incident;
pub mod lww;
pub mod node;
pub mod notifier;
pub mod notify;
pub mod or_set;
pub mod origin;
pub mod outbox;
pub mod proto;
pub mod sse;
pub mod vclock;

/// Identifies a node (a region's writer); breaks ties between equal clock readings.
pub(crate) type NodeId = u32;

/// A state-based CRDT: `merge` is a join (commutative, associative, idempotent), so replicas that
/// have merged the same states hold equal state whatever the order of delivery.
pub trait Merge {
    /// Folds `other` into `self`.
    fn merge(&mut self, other: &Self);
}

/// Property checks shared by the CRDTs' tests.
#[cfg(test)]
pub(crate) mod laws {
    use std::fmt::Debug;

    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    use super::Merge;

    fn merged<T: Merge + Clone>(a: &T, b: &T) -> T {
        let mut m = a.clone();
        m.merge(b);
        m
    }

    /// Checks that merge is commutative, associative and idempotent on these states.
    pub fn join<T: Merge + Clone + Debug + PartialEq>(a: &T, b: &T, c: &T) -> Result<(), TestCaseError> {
        prop_assert_eq!(merged(a, b), merged(b, a), "commutative");
        prop_assert_eq!(merged(&merged(a, b), c), merged(a, &merged(b, c)), "associative");
        prop_assert_eq!(&merged(a, a), a, "idempotent");
        Ok(())
    }

    /// Items paired with delivery orders, one per replica: each a permutation of the items' indices.
    pub fn with_orders<T: Clone + Debug>(
        items: impl Strategy<Value = Vec<T>>,
    ) -> impl Strategy<Value = (Vec<T>, Vec<Vec<usize>>)> {
        items.prop_flat_map(|items| {
            let order = Just((0..items.len()).collect::<Vec<_>>()).prop_shuffle();
            (Just(items), prop::collection::vec(order, 2..5))
        })
    }

    /// Checks that replicas starting from `start`, each applying every item in its own order, end
    /// equal.
    pub fn converge<T: Clone + Debug + PartialEq, I>(
        start: &T,
        items: &[I],
        orders: &[Vec<usize>],
        apply: impl Fn(&mut T, &I),
    ) -> Result<(), TestCaseError> {
        let replicas: Vec<T> = orders
            .iter()
            .map(|order| {
                let mut replica = start.clone();
                order.iter().for_each(|&i| apply(&mut replica, &items[i]));
                replica
            })
            .collect();
        for replica in &replicas[1..] {
            prop_assert_eq!(replica, &replicas[0]);
        }
        Ok(())
    }
}
