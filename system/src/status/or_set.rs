//! Observed-remove sets: every add carries a unique tag (node, counter), and a remove takes away
//! only the tags its replica has observed, so an add concurrent with a remove survives. Removed
//! tags need no tombstones: each replica keeps a vector clock of the tags it has seen, and a tag
//! the other side has seen but no longer holds was removed there (the add-wins set without
//! tombstones of Bieniusa et al., 2012).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::vclock::VClock;
use super::{Merge, NodeId};

/// Which side a merge takes when one replica removed an element another added again
/// concurrently.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SetRule {
    /// The design: the add the remove had not observed survives.
    #[default]
    AddWins,
    /// Negative control: an element one side removed goes, with every tag of it, once the other
    /// side learns of the remove, observed or not.
    RemoveWins,
}

/// Identifies one add: the adding node and that node's count of adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub(crate) struct Tag {
    /// The node that added.
    pub node: NodeId,
    /// The add's number among that node's adds, from 1.
    pub counter: u64,
}

/// An observed-remove set of `T`. Merge is a join over the states that adds (each node adding
/// only on its own replica), removes and merges can reach.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Ord + Deserialize<'de>"))]
pub(crate) struct OrSet<T> {
    /// Each present element with the tags of its adds that no remove has observed.
    entries: BTreeMap<T, BTreeSet<Tag>>,
    /// Per node, the highest tag counter seen, present or removed.
    seen: VClock,
}

impl<T> Default for OrSet<T> {
    fn default() -> Self {
        OrSet { entries: BTreeMap::new(), seen: VClock::new() }
    }
}

impl<T: Ord> OrSet<T> {
    #[cfg(test)]
    /// The empty set.
    pub fn new() -> Self {
        OrSet::default()
    }

    /// Adds `value` as `node`'s next add and returns the add's tag. Only `node`'s own replica
    /// may add as `node`, which keeps tags unique.
    pub fn add(&mut self, node: NodeId, value: T) -> Tag {
        let tag = Tag { node, counter: self.seen.increment(node) };
        self.entries.entry(value).or_default().insert(tag);
        tag
    }

    /// Removes `value` by removing the tags of it this replica has observed; returns whether it
    /// was present.
    pub fn remove(&mut self, value: &T) -> bool {
        self.entries.remove(value).is_some()
    }

    #[cfg(test)]
    /// Whether `value` is present.
    pub fn contains(&self, value: &T) -> bool {
        self.entries.contains_key(value)
    }

    /// The present elements, in order.
    pub(crate) fn elements(&self) -> impl Iterator<Item = &T> {
        self.entries.keys()
    }
}

/// Whether a replica whose seen tags are `clock` has seen `tag`.
fn has_seen(clock: &VClock, tag: &Tag) -> bool {
    clock.get(tag.node) >= tag.counter
}

impl<T: Ord + Clone> OrSet<T> {
    /// Merges `other` into this replica under `rule` ([`SetRule::AddWins`] is [`Merge::merge`]).
    pub(crate) fn merge_by(&mut self, other: &Self, rule: SetRule) {
        let none = BTreeSet::new();
        let remove_wins = rule == SetRule::RemoveWins;
        self.entries.retain(|value, tags| {
            let theirs = other.entries.get(value).unwrap_or(&none);
            let removed_there = |tag: &Tag| !theirs.contains(tag) && has_seen(&other.seen, tag);
            if remove_wins && tags.iter().any(removed_there) {
                return false;
            }
            tags.retain(|tag| !removed_there(tag));
            !tags.is_empty()
        });
        for (value, tags) in &other.entries {
            let mine = self.entries.get(value).unwrap_or(&none);
            if remove_wins && tags.iter().any(|tag| !mine.contains(tag) && has_seen(&self.seen, tag)) {
                continue;
            }
            let unseen: Vec<Tag> = tags.iter().filter(|tag| !has_seen(&self.seen, tag)).copied().collect();
            if !unseen.is_empty() {
                self.entries.entry(value.clone()).or_default().extend(unseen);
            }
        }
        self.seen.merge(&other.seen);
    }
}

impl<T: Ord + Clone> Merge for OrSet<T> {
    /// Keeps a tag that both sides hold, or that one side holds and the other has never seen.
    fn merge(&mut self, other: &Self) {
        self.merge_by(other, SetRule::AddWins);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::laws;
    use proptest::prelude::*;

    const NODES: usize = 3;

    #[derive(Clone, Debug)]
    enum SetOp {
        Add(u8),
        Remove(u8),
        /// The acting node merges another node's current state.
        Sync(usize),
    }

    fn op() -> impl Strategy<Value = SetOp> {
        prop_oneof![(0..6u8).prop_map(SetOp::Add), (0..6u8).prop_map(SetOp::Remove), (0..NODES).prop_map(SetOp::Sync),]
    }

    /// Runs a script of operations over `NODES` replicas and returns every state it passed
    /// through, as any of them may be delivered to another replica, late or out of order.
    fn states() -> impl Strategy<Value = Vec<OrSet<u8>>> {
        prop::collection::vec((0..NODES, op()), 1..40).prop_map(|script| {
            let mut replicas = vec![OrSet::new(); NODES];
            let mut states = Vec::new();
            for (node, op) in script {
                match op {
                    SetOp::Add(v) => {
                        replicas[node].add(node as NodeId, v);
                    }
                    SetOp::Remove(v) => {
                        replicas[node].remove(&v);
                    }
                    SetOp::Sync(from) => {
                        let theirs = replicas[from].clone();
                        replicas[node].merge(&theirs);
                    }
                }
                states.push(replicas[node].clone());
            }
            states
        })
    }

    proptest! {
        #[test]
        fn merge_is_a_join(states in states(), picks in prop::array::uniform3(any::<prop::sample::Index>())) {
            let [a, b, c] = picks.map(|i| &states[i.index(states.len())]);
            laws::join(a, b, c)?;
        }

        #[test]
        fn states_in_any_order_converge((states, orders) in laws::with_orders(states())) {
            laws::converge(&OrSet::new(), &states, &orders, OrSet::merge)?;
        }

        #[test]
        fn one_replica_behaves_as_a_set(ops in prop::collection::vec((any::<bool>(), 0..6u8), 0..40)) {
            let (mut set, mut model) = (OrSet::new(), BTreeSet::new());
            for (add, v) in ops {
                if add {
                    set.add(0, v);
                    model.insert(v);
                } else {
                    prop_assert_eq!(set.remove(&v), model.remove(&v));
                }
                prop_assert!(set.elements().eq(model.iter()));
            }
        }
    }

    #[test]
    fn a_remove_takes_only_the_adds_it_observed() {
        let mut a = OrSet::new();
        a.add(1, "x");
        let mut b = a.clone();
        b.remove(&"x");
        a.add(1, "x");
        a.add(1, "y");
        let mut merged = b.clone();
        merged.merge(&a);
        assert!(merged.contains(&"x"), "the add b had not observed survives");
        assert!(merged.contains(&"y"));

        let mut c = merged.clone();
        c.remove(&"x");
        merged.merge(&c);
        assert!(!merged.contains(&"x"));
        assert_eq!(merged.elements().collect::<Vec<_>>(), [&"y"]);
    }

    #[test]
    fn a_concurrent_add_survives_a_remove_only_under_add_wins() {
        // Goal: the two rules differ on exactly the case the design names: one replica removes an
        // element while another adds it again, neither having seen the other's edit.
        let mut a = OrSet::new();
        a.add(1, "billing");
        let mut b = a.clone();
        b.remove(&"billing");
        a.add(1, "billing");
        for (rule, present) in [(SetRule::AddWins, true), (SetRule::RemoveWins, false)] {
            let (mut at_a, mut at_b) = (a.clone(), b.clone());
            at_a.merge_by(&b, rule);
            at_b.merge_by(&a, rule);
            assert_eq!(at_a, at_b, "{rule:?} converges");
            assert_eq!(at_a.contains(&"billing"), present, "{rule:?}");
        }
    }
}
