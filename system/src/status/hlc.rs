//! Hybrid logical clocks (Kulkarni et al., "Logical Physical Clocks and Consistent Snapshots in
//! Globally Distributed Databases", 2014): a timestamp stays close to physical time yet never runs
//! backwards and always follows every timestamp its node has received, so ordering writes by it
//! respects causality even when wall clocks are skewed.

use serde::{Deserialize, Serialize};

use super::NodeId;

/// A hybrid logical clock reading, ordered by `(l, c, node)`: the node id breaks ties so distinct
/// nodes never produce equal timestamps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp {
    /// The largest physical time (ms) the node has heard of.
    pub l: u64,
    /// Counts events that share `l`.
    pub c: u32,
    /// The node that produced this timestamp.
    pub node: NodeId,
}

/// Why a remote timestamp was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HlcError {
    /// The remote clock runs ahead of this node's physical time by more than the drift bound;
    /// accepting it would drag this clock ahead with it.
    #[error(
        "remote timestamp at {remote_ms} ms is more than {max_drift_ms} ms ahead of local physical time {physical_ms} ms"
    )]
    TooFarAhead { remote_ms: u64, physical_ms: u64, max_drift_ms: u64 },
}

/// One node's hybrid logical clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hlc {
    node: NodeId,
    last: Timestamp,
    max_drift_ms: u64,
}

impl Hlc {
    /// A clock for `node` that refuses remote timestamps more than `max_drift_ms` ahead of it.
    pub fn new(node: NodeId, max_drift_ms: u64) -> Hlc {
        Hlc { node, last: Timestamp { node, ..Timestamp::default() }, max_drift_ms }
    }

    /// The last timestamp this clock produced.
    pub fn last(&self) -> Timestamp {
        self.last
    }

    /// Stamps a local or send event at physical time `physical_ms`.
    pub fn now(&mut self, physical_ms: u64) -> Timestamp {
        let l = self.last.l.max(physical_ms);
        let seen = (l == self.last.l).then_some(self.last.c);
        self.stamp(l, seen)
    }

    /// Stamps the receipt of `remote` at physical time `physical_ms`; the result follows both
    /// `remote` and every timestamp this clock produced before. A remote timestamp too far ahead
    /// of local physical time is refused and leaves the clock unchanged.
    pub(crate) fn receive(&mut self, remote: Timestamp, physical_ms: u64) -> Result<Timestamp, HlcError> {
        if remote.l.saturating_sub(physical_ms) > self.max_drift_ms {
            return Err(HlcError::TooFarAhead { remote_ms: remote.l, physical_ms, max_drift_ms: self.max_drift_ms });
        }
        let l = self.last.l.max(remote.l).max(physical_ms);
        let seen = match (l == self.last.l, l == remote.l) {
            (true, true) => Some(self.last.c.max(remote.c)),
            (true, false) => Some(self.last.c),
            (false, true) => Some(remote.c),
            (false, false) => None,
        };
        Ok(self.stamp(l, seen))
    }

    /// Records the next timestamp at `l`: counter 0 when no counter at `l` has been seen, else one
    /// past the highest seen (carrying into `l` should the counter overflow).
    fn stamp(&mut self, l: u64, seen: Option<u32>) -> Timestamp {
        let (l, c) = match seen.map(|c| c.checked_add(1)) {
            None => (l, 0),
            Some(Some(c)) => (l, c),
            Some(None) => (l + 1, 0),
        };
        self.last = Timestamp { l, c, node: self.node };
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Small ranges, so that physical times, remote times and counters often coincide and some
    /// remote timestamps fall beyond the drift bound.
    const DRIFT: u64 = 5;
    const TIME: std::ops::Range<u64> = 0..20;

    /// A local event at a physical time, or the receipt of a remote timestamp.
    #[derive(Clone, Debug)]
    enum Event {
        Local(u64),
        Receive(Timestamp, u64),
    }

    fn timestamp() -> impl Strategy<Value = Timestamp> {
        let c = prop_oneof![4 => 0..4u32, 1 => Just(u32::MAX)];
        (TIME, c, 0..4u32).prop_map(|(l, c, node)| Timestamp { l, c, node })
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![TIME.prop_map(Event::Local), (timestamp(), TIME).prop_map(|(t, p)| Event::Receive(t, p)),]
    }

    proptest! {
        #[test]
        fn one_nodes_timestamps_strictly_increase(events in prop::collection::vec(event(), 1..100)) {
            let mut hlc = Hlc::new(7, DRIFT);
            let mut prev = hlc.last();
            for event in events {
                let (t, physical) = match event {
                    Event::Local(p) => (hlc.now(p), p),
                    Event::Receive(remote, p) => match hlc.receive(remote, p) {
                        Ok(t) => (t, p),
                        Err(_) => continue,
                    },
                };
                prop_assert!(t > prev, "{t:?} does not follow {prev:?}");
                prop_assert!(t.l >= physical);
                prop_assert_eq!(t.node, 7);
                prev = t;
            }
        }

        #[test]
        fn receive_follows_remote_and_previous(
            locals in prop::collection::vec(TIME, 0..10),
            remote in timestamp(),
            physical in TIME,
        ) {
            let mut hlc = Hlc::new(1, DRIFT);
            locals.into_iter().for_each(|p| { hlc.now(p); });
            let prev = hlc.last();
            match hlc.receive(remote, physical) {
                Ok(t) => {
                    prop_assert!(t > remote && t > prev, "{t:?} vs remote {remote:?}, previous {prev:?}");
                    prop_assert_eq!(hlc.last(), t);
                }
                Err(_) => {
                    prop_assert!(remote.l > physical + DRIFT);
                    prop_assert_eq!(hlc.last(), prev);
                }
            }
        }
    }

    #[test]
    fn timestamps_order_by_physical_then_counter_then_node() {
        let t = |l, c, node| Timestamp { l, c, node };
        assert!(t(1, 9, 9) < t(2, 0, 0));
        assert!(t(2, 0, 9) < t(2, 1, 0));
        assert!(t(2, 1, 0) < t(2, 1, 1));
    }

    #[test]
    fn physical_time_going_back_advances_the_counter() {
        let mut hlc = Hlc::new(3, DRIFT);
        assert_eq!(hlc.now(1_000), Timestamp { l: 1_000, c: 0, node: 3 });
        assert_eq!(hlc.now(400), Timestamp { l: 1_000, c: 1, node: 3 });
        assert_eq!(hlc.now(1_001), Timestamp { l: 1_001, c: 0, node: 3 });
    }

    #[test]
    fn refuses_a_remote_timestamp_beyond_the_drift_bound() {
        let mut hlc = Hlc::new(2, 500);
        let before = hlc.now(1_000);
        let far = Timestamp { l: 1_501, c: 0, node: 1 };
        let err = hlc.receive(far, 1_000).unwrap_err();
        assert_eq!(err, HlcError::TooFarAhead { remote_ms: 1_501, physical_ms: 1_000, max_drift_ms: 500 });
        let message = err.to_string();
        assert!(message.contains("1501") && message.contains("1000"), "{message}");
        assert_eq!(hlc.last(), before);

        let near = Timestamp { l: 1_500, c: 4, node: 1 };
        assert_eq!(hlc.receive(near, 1_000), Ok(Timestamp { l: 1_500, c: 5, node: 2 }));
    }

    #[test]
    fn counter_overflow_carries_into_physical_time() {
        let mut hlc = Hlc::new(0, DRIFT);
        let remote = Timestamp { l: 10, c: u32::MAX, node: 1 };
        assert_eq!(hlc.receive(remote, 10), Ok(Timestamp { l: 11, c: 0, node: 0 }));
    }
}
