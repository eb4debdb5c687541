//! The SSE hub's bookkeeping (docs/DESIGN.md, Live updates: event ids, Last-Event-ID catch-up, at most 10
//! connections per IP). An event id is a cursor: per writing region, the latest timeline update
//! the viewer has been sent. A region's updates reach any replica in the order it wrote them
//! (every state a region sends holds all its earlier writes), so "after the cursor" is exactly
//! "not yet sent", whichever CDN's hub the viewer reconnects to.

use std::collections::BTreeMap;

use super::NodeId;
use super::hlc::Timestamp;
use super::incident::{Incident, TimelineUpdate};

/// What a viewer has been sent: per region, the timestamp of its latest update.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor(BTreeMap<NodeId, Timestamp>);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed Last-Event-ID `{id}`: {problem}")]
pub struct BadEventId {
    pub id: String,
    pub problem: &'static str,
}

impl Cursor {
    /// Parses an event id as written by [`Cursor::id`]: `node.l.c` entries joined by `-`.
    pub fn parse(id: &str) -> Result<Cursor, BadEventId> {
        let bad = |problem| BadEventId { id: id.to_string(), problem };
        let mut cursor = Cursor::default();
        for entry in id.split('-').filter(|e| !e.is_empty()) {
            let mut parts = entry.split('.').map(str::parse::<u64>);
            let (Some(Ok(node)), Some(Ok(l)), Some(Ok(c)), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad("an entry is not node.l.c in decimal"));
            };
            let node = NodeId::try_from(node).map_err(|_| bad("node id out of range"))?;
            let c = u32::try_from(c).map_err(|_| bad("counter out of range"))?;
            cursor.0.insert(node, Timestamp { l, c, node });
        }
        Ok(cursor)
    }

    /// The event id that resumes after this cursor.
    pub fn id(&self) -> String {
        let entries: Vec<String> = self.0.values().map(|t| format!("{}.{}.{}", t.node, t.l, t.c)).collect();
        entries.join("-")
    }

    /// Updates of `doc` not yet sent, oldest first, each with the event id that resumes after
    /// it; the cursor advances past them all.
    pub fn advance(&mut self, doc: &Incident) -> Vec<(String, TimelineUpdate)> {
        let fresh: Vec<TimelineUpdate> =
            doc.timeline().filter(|u| self.0.get(&u.at.node).is_none_or(|seen| u.at > *seen)).cloned().collect();
        fresh
            .into_iter()
            .map(|u| {
                let seen = self.0.entry(u.at.node).or_insert(u.at);
                *seen = (*seen).max(u.at);
                (self.id(), u)
            })
            .collect()
    }
}

/// Open streams per client IP, refusing beyond the limit.
#[derive(Debug, Default)]
pub struct Connections {
    open: BTreeMap<String, usize>,
}

impl Connections {
    /// Admits one more stream from `ip` unless it already has `limit` open.
    pub fn admit(&mut self, ip: &str, limit: usize) -> bool {
        let open = self.open.entry(ip.to_string()).or_default();
        let admitted = *open < limit;
        if admitted {
            *open += 1;
        }
        admitted
    }

    pub fn close(&mut self, ip: &str) {
        if let Some(open) = self.open.get_mut(ip) {
            *open = open.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Merge;
    use crate::status::hlc::Hlc;

    #[test]
    fn a_cursor_resumes_on_another_replica_without_gaps_or_repeats() {
        let (mut a, mut b) = (Hlc::new(0, 1000), Hlc::new(1, 1000));
        let mut first = Incident::new();
        first.post_update(a.now(10), "a1", false);
        first.post_update(b.now(12), "b1", false);
        let mut cursor = Cursor::default();
        assert_eq!(cursor.advance(&first).len(), 2);
        let mut second = first.clone();
        second.post_update(a.now(20), "a2", true);
        second.post_update(b.now(15), "b2", false);
        let mut resumed = Cursor::parse(&cursor.id()).unwrap();
        assert_eq!(resumed, cursor);
        let sent = resumed.advance(&second);
        let texts: Vec<&str> = sent.iter().map(|(_, u)| u.text.as_str()).collect();
        assert_eq!(texts, vec!["b2", "a2"], "oldest first");
        let mut after_first = Cursor::parse(&sent[0].0).unwrap();
        let rest: Vec<String> = after_first.advance(&second).into_iter().map(|(_, u)| u.text).collect();
        assert_eq!(rest, vec!["a2"], "resuming after the first of a batch sends the rest");
        let mut merged = first.clone();
        merged.merge(&second);
        assert!(resumed.advance(&merged).is_empty());
    }

    #[test]
    fn malformed_event_ids_are_refused() {
        assert!(Cursor::parse("").unwrap().0.is_empty());
        for bad in ["x", "1.2", "1.2.3.4", "1.2.-3", "99999999999.1.1", "1.2.99999999999"] {
            assert!(Cursor::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn at_most_the_limit_per_ip() {
        let mut c = Connections::default();
        assert!((0..10).all(|_| c.admit("10.0.0.1", 10)));
        assert!(!c.admit("10.0.0.1", 10));
        assert!(c.admit("10.0.0.2", 10));
        c.close("10.0.0.1");
        assert!(c.admit("10.0.0.1", 10));
    }
}
