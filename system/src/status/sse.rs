//! The SSE hub's bookkeeping (docs/DESIGN.md, Live updates: the design's event types, event ids,
//! Last-Event-ID catch-up, at most 10 connections per IP and a cap per edge). An event id is a
//! cursor: per writing region, the latest write (timeline update or component status) the viewer
//! has been sent. A region's writes reach any replica in the order it wrote them (every state a
//! region sends holds all its earlier writes), so "after the cursor" is exactly "not yet sent",
//! whichever CDN's hub the viewer reconnects to. A component's status is sent as it stands (a
//! status a later write replaced before the edge saw it is never sent), and the incident's
//! resolution right after the status change that resolved it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::NodeId;
use super::hlc::Timestamp;
use super::incident::{ComponentStatus, Incident, TimelineUpdate};

/// One event a hub pushes to a live viewer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SseEvent {
    TimelineUpdate(TimelineUpdate),
    /// `component` now has `status`, written at `at`.
    ComponentStatusChanged {
        component: String,
        status: ComponentStatus,
        at: Timestamp,
    },
    /// Every component is operational again, since the status change written at `at`.
    IncidentResolved {
        at: Timestamp,
    },
}

/// The design's event types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SseEventKind {
    TimelineUpdate,
    ComponentStatusChanged,
    IncidentResolved,
}

impl SseEventKind {
    pub const ALL: [SseEventKind; 3] =
        [SseEventKind::TimelineUpdate, SseEventKind::ComponentStatusChanged, SseEventKind::IncidentResolved];

    pub fn name(self) -> &'static str {
        match self {
            SseEventKind::TimelineUpdate => "timeline_update",
            SseEventKind::ComponentStatusChanged => "component_status_changed",
            SseEventKind::IncidentResolved => "incident_resolved",
        }
    }
}

impl SseEvent {
    pub fn kind(&self) -> SseEventKind {
        match self {
            SseEvent::TimelineUpdate(_) => SseEventKind::TimelineUpdate,
            SseEvent::ComponentStatusChanged { .. } => SseEventKind::ComponentStatusChanged,
            SseEvent::IncidentResolved { .. } => SseEventKind::IncidentResolved,
        }
    }

    /// The write the event reports.
    pub fn at(&self) -> Timestamp {
        match self {
            SseEvent::TimelineUpdate(u) => u.at,
            SseEvent::ComponentStatusChanged { at, .. } | SseEvent::IncidentResolved { at } => *at,
        }
    }
}

/// What a viewer has been sent: per region, the timestamp of its latest write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cursor(BTreeMap<NodeId, Timestamp>);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed Last-Event-ID `{id}`: {problem}")]
pub(crate) struct BadEventId {
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

    /// Writes of `doc` not yet sent (timeline updates, and component statuses with `statuses`),
    /// oldest first, each with the event id that resumes after it; the cursor advances past them
    /// all.
    pub(crate) fn advance(&mut self, doc: &Incident, statuses: bool) -> Vec<(String, SseEvent)> {
        let new = |at: &Timestamp| self.0.get(&at.node).is_none_or(|seen| at > seen);
        let mut fresh: Vec<SseEvent> =
            doc.timeline().filter(|u| new(&u.at)).map(|u| SseEvent::TimelineUpdate(u.clone())).collect();
        if statuses {
            fresh.extend(doc.statuses().filter(|(_, _, at)| new(at)).map(|(component, status, at)| {
                SseEvent::ComponentStatusChanged { component: component.to_string(), status, at }
            }));
        }
        fresh.sort_by_key(SseEvent::at);
        fresh
            .into_iter()
            .map(|event| {
                let at = event.at();
                let seen = self.0.entry(at.node).or_insert(at);
                *seen = (*seen).max(at);
                (self.id(), event)
            })
            .collect()
    }
}

/// One viewer's stream: its cursor, and whether it knows the incident as resolved (unknown after
/// a resume, until the stream has looked at a document).
#[derive(Debug)]
pub(crate) struct Feed {
    cursor: Cursor,
    resolved: Option<bool>,
    statuses: bool,
}

impl Feed {
    /// A stream resuming after `last_event_id`, or, without one, from `doc` (the page the viewer
    /// loaded showed the rest). With `statuses` false it carries timeline updates only.
    pub fn open(last_event_id: Option<&str>, doc: &Incident, statuses: bool) -> Result<Feed, BadEventId> {
        match last_event_id {
            Some(id) => Ok(Feed { cursor: Cursor::parse(id)?, resolved: None, statuses }),
            None => {
                let mut cursor = Cursor::default();
                cursor.advance(doc, true);
                Ok(Feed { cursor, resolved: Some(doc.resolved()), statuses })
            }
        }
    }

    /// The events `doc` holds that the viewer has not been sent, oldest first; the resolution
    /// follows the last status change of the batch when it resolved the incident.
    pub fn next(&mut self, doc: &Incident) -> Vec<(String, SseEvent)> {
        let mut events = self.cursor.advance(doc, self.statuses);
        if !self.statuses {
            return events;
        }
        let resolved = doc.resolved();
        let last_change = events.iter().rposition(|(_, e)| e.kind() == SseEventKind::ComponentStatusChanged);
        if let Some(i) = last_change
            && resolved
            && self.resolved != Some(true)
        {
            let (id, at) = (events[i].0.clone(), events[i].1.at());
            events.insert(i + 1, (id, SseEvent::IncidentResolved { at }));
        }
        self.resolved = Some(resolved);
        events
    }
}

/// Why a hub refused a stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    #[error("{0}")]
    BadEventId(String),
    #[error("the client IP already has {limit} streams open")]
    PerIp { limit: usize },
    #[error("the edge already holds its {limit} streams")]
    EdgeFull { limit: usize },
}

/// Open streams, per client IP and in all, refusing beyond the limits.
#[derive(Debug, Default)]
pub struct Connections {
    open: BTreeMap<String, usize>,
    total: usize,
}

impl Connections {
    /// Admits one more stream from `ip` unless the edge holds `per_edge` or `ip` has `per_ip`.
    pub(crate) fn admit(&mut self, ip: &str, per_ip: usize, per_edge: usize) -> Result<(), Refusal> {
        if self.total >= per_edge {
            return Err(Refusal::EdgeFull { limit: per_edge });
        }
        let open = self.open.entry(ip.to_string()).or_default();
        if *open >= per_ip {
            return Err(Refusal::PerIp { limit: per_ip });
        }
        *open += 1;
        self.total += 1;
        Ok(())
    }

    pub fn close(&mut self, ip: &str) {
        if let Some(open) = self.open.get_mut(ip).filter(|open| **open > 0) {
            *open -= 1;
            self.total -= 1;
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
        assert_eq!(cursor.advance(&first, true).len(), 2);
        let mut second = first.clone();
        second.post_update(a.now(20), "a2", true);
        second.post_update(b.now(15), "b2", false);
        let mut resumed = Cursor::parse(&cursor.id()).unwrap();
        assert_eq!(resumed, cursor);
        let sent = resumed.advance(&second, true);
        let texts: Vec<&str> = sent.iter().map(|(_, e)| text(e)).collect();
        assert_eq!(texts, vec!["b2", "a2"], "oldest first");
        let mut after_first = Cursor::parse(&sent[0].0).unwrap();
        let rest = after_first.advance(&second, true);
        let rest: Vec<&str> = rest.iter().map(|(_, e)| text(e)).collect();
        assert_eq!(rest, vec!["a2"], "resuming after the first of a batch sends the rest");
        let mut merged = first.clone();
        merged.merge(&second);
        assert!(resumed.advance(&merged, true).is_empty());
    }

    fn text(e: &SseEvent) -> &str {
        match e {
            SseEvent::TimelineUpdate(u) => &u.text,
            _ => "a status",
        }
    }

    #[test]
    fn status_changes_and_the_resolution_are_pushed_in_write_order() {
        // Goal: a hub pushes `component_status_changed` for each status a document newly shows,
        // interleaved with timeline updates by write time, and `incident_resolved` right after the
        // change that made every component operational; a resumed stream catches up on them,
        // and a feed without status events sends timeline updates only.
        let mut a = Hlc::new(0, 1000);
        let mut doc = Incident::new();
        doc.set_status(a.now(10), "api", ComponentStatus::MajorOutage);
        let mut feed = Feed::open(None, &doc, true).unwrap();
        let mut plain = Feed::open(None, &doc, false).unwrap();
        doc.post_update(a.now(20), "Investigating", false);
        doc.set_status(a.now(30), "api", ComponentStatus::Operational);
        doc.post_update(a.now(40), "Resolved", false);
        let kinds = |events: &[(String, SseEvent)]| events.iter().map(|(_, e)| e.kind().name()).collect::<Vec<_>>();
        let sent = feed.next(&doc);
        assert_eq!(
            kinds(&sent),
            ["timeline_update", "component_status_changed", "incident_resolved", "timeline_update"]
        );
        assert_eq!(sent[1].0, sent[2].0, "the resolution resumes where its status change does");
        assert_eq!(kinds(&plain.next(&doc)), ["timeline_update", "timeline_update"]);
        let mut resumed = Feed::open(Some(&sent[0].0), &Incident::new(), true).unwrap();
        assert_eq!(kinds(&resumed.next(&doc))[..2], ["component_status_changed", "incident_resolved"]);
        doc.set_status(a.now(50), "api", ComponentStatus::Operational);
        assert_eq!(kinds(&feed.next(&doc)), ["component_status_changed"], "already resolved: no second resolution");
    }

    #[test]
    fn malformed_event_ids_are_refused() {
        assert!(Cursor::parse("").unwrap().0.is_empty());
        for bad in ["x", "1.2", "1.2.3.4", "1.2.-3", "99999999999.1.1", "1.2.99999999999"] {
            assert!(Cursor::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn at_most_the_limit_per_ip_and_per_edge() {
        // Goal: the hub refuses an IP's stream past 10 and any stream past the edge's cap, and a
        // closed stream frees its place in both.
        let mut c = Connections::default();
        assert!((0..10).all(|_| c.admit("10.0.0.1", 10, 15).is_ok()));
        assert_eq!(c.admit("10.0.0.1", 10, 15), Err(Refusal::PerIp { limit: 10 }));
        assert!((0..5).all(|_| c.admit("10.0.0.2", 10, 15).is_ok()));
        assert_eq!(c.admit("10.0.0.3", 10, 15), Err(Refusal::EdgeFull { limit: 15 }));
        c.close("10.0.0.1");
        assert!(c.admit("10.0.0.3", 10, 15).is_ok());
        assert_eq!(c.admit("10.0.0.1", 10, 15), Err(Refusal::EdgeFull { limit: 15 }));
    }
}
