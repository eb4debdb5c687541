//! The incident document each region writes and syncs: a status per component in hybrid-logical
//! LWW registers, the components the page lists and the timeline of updates in observed-remove
//! sets, and a vector clock of the writes it contains, so a replica can tell whether a peer's copy
//! holds anything new.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::hlc::Timestamp;
use super::lww::{Lww, LwwOrder};
use super::or_set::{OrSet, SetRule};
use super::vclock::VClock;
use super::{Merge, NodeId};

/// How a component is doing, from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ComponentStatus {
    /// Working normally.
    Operational,
    /// Working, but slow or erroring for some requests.
    Degraded,
    /// Down for some users or regions.
    PartialOutage,
    /// Down for everyone.
    MajorOutage,
}

/// One posted update on an incident's timeline. Updates order by `at`, so the timeline reads in
/// hybrid-logical-time order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TimelineUpdate {
    /// When it was posted, by which node.
    pub at: Timestamp,
    /// What it says.
    pub text: String,
    /// Critical updates jump the notification queue.
    pub critical: bool,
}

/// How a merge resolves concurrent writes: the design's rules by default; anything else is a
/// negative control.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRules {
    /// The component list and the timeline.
    pub set: SetRule,
    /// Component statuses.
    pub lww: LwwOrder,
}

/// One replica of an incident. Replicas that have merged the same writes are equal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    components: BTreeMap<String, Lww<ComponentStatus>>,
    /// The components the page lists, as operators added and removed them.
    listed: OrSet<String>,
    timeline: OrSet<TimelineUpdate>,
    clock: VClock,
}

impl Incident {
    /// An incident with no statuses and no updates.
    pub fn new() -> Incident {
        Incident::default()
    }

    /// Sets `component`'s status, written by node `at.node` at `at`; a later write already
    /// merged here wins.
    pub fn set_status(&mut self, at: Timestamp, component: &str, status: ComponentStatus) {
        self.clock.increment(at.node);
        match self.components.get_mut(component) {
            Some(register) => register.set(at, status),
            None => {
                self.components.insert(component.to_owned(), Lww::new(at, status));
            }
        }
    }

    /// Posts an update, written by node `at.node` at `at`, and returns it.
    pub(crate) fn post_update(&mut self, at: Timestamp, text: impl Into<String>, critical: bool) -> TimelineUpdate {
        let update = TimelineUpdate { at, text: text.into(), critical };
        self.clock.increment(at.node);
        self.timeline.add(at.node, update.clone());
        update
    }

    /// Retracts `update` as node `node`; returns whether it was on the timeline here.
    pub(crate) fn retract_update(&mut self, node: NodeId, update: &TimelineUpdate) -> bool {
        let removed = self.timeline.remove(update);
        if removed {
            self.clock.increment(node);
        }
        removed
    }

    /// Lists `component` on the page, as node `node`.
    pub fn add_component(&mut self, node: NodeId, component: &str) {
        self.clock.increment(node);
        self.listed.add(node, component.to_owned());
    }

    /// Takes `component` off the page as node `node`: the adds of it this replica has observed.
    pub(crate) fn remove_component(&mut self, node: NodeId, component: &str) {
        self.clock.increment(node);
        self.listed.remove(&component.to_owned());
    }

    /// The components the page lists, by name.
    pub fn listed(&self) -> impl Iterator<Item = &str> {
        self.listed.elements().map(String::as_str)
    }

    /// Merges `other` into this replica under `rules` (the default rules are [`Merge::merge`]).
    pub(crate) fn merge_by(&mut self, other: &Self, rules: MergeRules) {
        for (component, theirs) in &other.components {
            match self.components.get_mut(component) {
                Some(mine) => mine.merge_by(theirs, rules.lww),
                None => {
                    self.components.insert(component.clone(), theirs.clone());
                }
            }
        }
        self.listed.merge_by(&other.listed, rules.set);
        self.timeline.merge_by(&other.timeline, rules.set);
        self.clock.merge(&other.clock);
    }

    /// `component`'s current status, if any node has set one.
    pub fn status(&self, component: &str) -> Option<ComponentStatus> {
        self.components.get(component).map(|register| *register.get())
    }

    /// Every component's status with the timestamp of the write that set it, by name.
    pub fn statuses(&self) -> impl Iterator<Item = (&str, ComponentStatus, Timestamp)> {
        self.components.iter().map(|(name, register)| (name.as_str(), *register.get(), *register.at()))
    }

    /// The timeline, oldest first.
    pub fn timeline(&self) -> impl Iterator<Item = &TimelineUpdate> {
        self.timeline.elements()
    }

    /// Whether the incident reads as resolved: some component has a status and every one is
    /// operational.
    pub fn resolved(&self) -> bool {
        let mut statuses = self.components.values().map(|register| *register.get()).peekable();
        statuses.peek().is_some() && statuses.all(|s| s == ComponentStatus::Operational)
    }

    /// The causal history of this replica: per node, how many of its writes it contains.
    pub fn clock(&self) -> &VClock {
        &self.clock
    }

    /// The latest timestamp of a status or update held here. A node receiving this replica
    /// passes it to [`Hlc::receive`](super::hlc::Hlc::receive) so its next write follows
    /// everything it has seen.
    pub fn latest(&self) -> Option<Timestamp> {
        let statuses = self.components.values().map(|register| *register.at());
        statuses.chain(self.timeline().map(|update| update.at)).max()
    }
}

impl Merge for Incident {
    fn merge(&mut self, other: &Self) {
        self.merge_by(other, MergeRules::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::hlc::Hlc;
    use crate::status::laws;
    use crate::status::vclock::Causality;
    use proptest::prelude::*;

    const NODES: usize = 3;
    const COMPONENTS: [&str; 3] = ["api", "dashboard", "webhooks"];

    #[derive(Clone, Debug)]
    enum IncidentOp {
        Set(usize, ComponentStatus),
        Post(u8),
        List(usize),
        Unlist(usize),
        /// Retracts one of the updates the acting node sees.
        Retract(prop::sample::Index),
        /// The acting node receives another node's current state.
        Sync(usize),
    }

    fn status() -> impl Strategy<Value = ComponentStatus> {
        prop_oneof![
            Just(ComponentStatus::Operational),
            Just(ComponentStatus::Degraded),
            Just(ComponentStatus::PartialOutage),
            Just(ComponentStatus::MajorOutage),
        ]
    }

    fn op() -> impl Strategy<Value = IncidentOp> {
        prop_oneof![
            (0..COMPONENTS.len(), status()).prop_map(|(c, s)| IncidentOp::Set(c, s)),
            (0..4u8).prop_map(IncidentOp::Post),
            (0..COMPONENTS.len()).prop_map(IncidentOp::List),
            (0..COMPONENTS.len()).prop_map(IncidentOp::Unlist),
            any::<prop::sample::Index>().prop_map(IncidentOp::Retract),
            (0..NODES).prop_map(IncidentOp::Sync),
        ]
    }

    /// Runs a script over `NODES` regions whose wall clocks are skewed by up to 5 s either way,
    /// each stamping its writes with its own hybrid logical clock, and returns every state a
    /// region passed through.
    fn states() -> impl Strategy<Value = Vec<Incident>> {
        let skews = prop::array::uniform3(0..10_000u64);
        let script = prop::collection::vec((0..NODES, 1..50u64, op()), 1..40);
        (skews, script).prop_map(|(skews, script)| {
            let mut replicas = vec![Incident::new(); NODES];
            let mut clocks: Vec<Hlc> = (0..NODES).map(|n| Hlc::new(n as NodeId, 60_000)).collect();
            let (mut real_ms, mut states) = (100_000, Vec::new());
            for (node, elapsed, op) in script {
                real_ms += elapsed;
                let wall = real_ms + skews[node] - 5_000;
                let (replica, hlc) = (&mut replicas[node], &mut clocks[node]);
                match op {
                    IncidentOp::Set(c, s) => replica.set_status(hlc.now(wall), COMPONENTS[c], s),
                    IncidentOp::Post(n) => {
                        replica.post_update(hlc.now(wall), format!("update {n}"), false);
                    }
                    IncidentOp::List(c) => replica.add_component(node as NodeId, COMPONENTS[c]),
                    IncidentOp::Unlist(c) => replica.remove_component(node as NodeId, COMPONENTS[c]),
                    IncidentOp::Retract(i) => {
                        let updates: Vec<_> = replica.timeline().cloned().collect();
                        if !updates.is_empty() {
                            replica.retract_update(node as NodeId, &updates[i.index(updates.len())]);
                        }
                    }
                    IncidentOp::Sync(from) => {
                        let theirs = replicas[from].clone();
                        if let Some(t) = theirs.latest() {
                            clocks[node].receive(t, wall).expect("skew is within the drift bound");
                        }
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
            laws::converge(&Incident::new(), &states, &orders, Incident::merge)?;
        }

        #[test]
        fn round_trips_through_postcard(states in states()) {
            let last = states.last().unwrap();
            let bytes = postcard::to_stdvec(last).unwrap();
            prop_assert_eq!(&postcard::from_bytes::<Incident>(&bytes).unwrap(), last);
        }

        #[test]
        fn merged_clock_follows_both(states in states(), picks in prop::array::uniform2(any::<prop::sample::Index>())) {
            let [a, b] = picks.map(|i| &states[i.index(states.len())]);
            let mut m = a.clone();
            m.merge(b);
            prop_assert!(matches!(m.clock().compare(a.clock()), Causality::After | Causality::Equal));
            prop_assert!(matches!(m.clock().compare(b.clock()), Causality::After | Causality::Equal));
        }
    }

    #[test]
    fn a_region_that_has_synced_overrides_the_status_it_saw() {
        let (mut hlc_a, mut hlc_b) = (Hlc::new(1, 60_000), Hlc::new(2, 60_000));
        let mut a = Incident::new();
        a.set_status(hlc_a.now(10_000), "api", ComponentStatus::MajorOutage);
        a.post_update(hlc_a.now(10_000), "Investigating elevated errors", true);

        // B's wall clock is 5 s behind; it syncs from A before writing.
        let mut b = a.clone();
        hlc_b.receive(a.latest().unwrap(), 5_100).unwrap();
        b.set_status(hlc_b.now(5_200), "api", ComponentStatus::Operational);
        let resolved = b.post_update(hlc_b.now(5_200), "Resolved", false);
        assert_eq!(a.clock().compare(b.clock()), Causality::Before);

        a.merge(&b);
        assert_eq!(a, b);
        assert_eq!(a.status("api"), Some(ComponentStatus::Operational));
        let texts: Vec<_> = a.timeline().map(|u| u.text.as_str()).collect();
        assert_eq!(texts, ["Investigating elevated errors", "Resolved"]);

        assert!(b.retract_update(2, &resolved));
        a.merge(&b);
        assert_eq!(a.timeline().count(), 1);
        assert_eq!(a.status("dashboard"), None);
    }
}
