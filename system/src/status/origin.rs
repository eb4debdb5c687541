//! A status region (docs/DESIGN.md, Incident CRDTs): its origin API accepts operators' edits and serves the
//! incident document; every `sync_interval` it sends its state to each peer region that lacks
//! something, so concurrent edits in different regions converge without coordination. It
//! publishes its state to every CDN's edge KV on change and at least every `kv_refresh`, and hands
//! every timeline update it learns (its own and its peers') to the notification pipeline, which
//! drops the copies.
//!
//! A region keeps its document on its own disk ([`RegionDisk`]), written before an edit is acknowledged
//! and after every merge, and starts from it: a region that crashes and restarts still holds every
//! update it acknowledged, and its version-vector counter and clock continue where they stopped,
//! so its next update is new to every peer and CDN rather than a repeat of one they already hold.
//! With `backup_every` set, a region also ships its document to off-site storage (a second
//! [`RegionDisk`]) at that interval, from which whoever runs it can rebuild a region whose disk was lost.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::io;
use std::rc::Rc;

use tokio::sync::watch;
use tokio::task::spawn_local;
use tokio::time::{Instant, MissedTickBehavior, interval, interval_at, sleep_until};

use super::config::ClockMode;
use super::hlc::{Hlc, Timestamp};
use super::incident::{Incident, TimelineUpdate};
use super::node::Node;
use super::proto::{
    EDGE_PORT, EdgeReply, EdgeRequest, Edit, NOTIFY_PORT, Notice, ORIGIN_PORT, OriginReply, OriginRequest,
};
use super::vclock::{Causality, VClock};
use super::{Merge, NodeId};
use crate::net::Net;
use crate::telemetry::{NodeEvent, NodeRole, Telemetry};
use crate::wire;

/// A region's durable storage: the document as last written, kept by whoever runs the node
/// across its crashes and restarts.
pub type RegionDisk = Rc<RefCell<Incident>>;

/// A region's replica and clock; shared by its tasks.
struct RegionReplica {
    id: NodeId,
    doc: Incident,
    hlc: Hlc,
    mode: ClockMode,
    disk: RegionDisk,
}

impl RegionReplica {
    /// Writes the document to disk.
    fn save(&self) {
        self.disk.replace(self.doc.clone());
    }

    /// The timestamp of a local edit at wall time `wall_ms`.
    fn stamp(&mut self, wall_ms: u64) -> Timestamp {
        match self.mode {
            ClockMode::Hlc => self.hlc.now(wall_ms),
            ClockMode::Wall => Timestamp { l: wall_ms, c: 0, node: self.id },
        }
    }

    /// Applies `edit` under a fresh timestamp; returns it, and the timestamps of the updates a
    /// retraction took off the timeline.
    fn edit(&mut self, edit: Edit, wall_ms: u64) -> (Timestamp, Vec<Timestamp>) {
        let at = self.stamp(wall_ms);
        let mut retracted = Vec::new();
        match edit {
            Edit::Post { text, critical } => {
                self.doc.post_update(at, text, critical);
            }
            Edit::Status { component, status } => self.doc.set_status(at, &component, status),
            Edit::AddComponent { component } => self.doc.add_component(self.id, &component),
            Edit::RemoveComponent { component } => self.doc.remove_component(self.id, &component),
            Edit::Retract { text } => {
                let matching: Vec<TimelineUpdate> = self.doc.timeline().filter(|u| u.text == text).cloned().collect();
                for update in matching {
                    if self.doc.retract_update(self.id, &update) {
                        retracted.push(update.at);
                    }
                }
            }
        }
        (at, retracted)
    }
}

/// Runs status region `id` (its index in `config.regions`) from the document on `disk`, shipping
/// it to `backup` every `backup_every`, until the host stops.
pub async fn run<N: Net, T: Telemetry>(
    node: Node<N, T>,
    id: NodeId,
    disk: RegionDisk,
    backup: RegionDisk,
) -> io::Result<()> {
    let max_drift = node.config.max_drift.as_millis() as u64;
    let doc = disk.borrow().clone();
    let mut hlc = Hlc::new(id, max_drift);
    // The clock follows everything the document holds. A stamp too far ahead of this host's clock
    // (its clock was set back across the restart) is refused as a peer's would be, and the
    // clock runs on from physical time.
    if let Some(latest) = doc.latest() {
        let _ = hlc.receive(latest, (node.clock)());
    }
    let region = Rc::new(RefCell::new(RegionReplica { id, doc, hlc, mode: node.config.clock, disk }));
    let (changed, _) = watch::channel(VClock::new());
    let changed = Rc::new(changed);
    node.emit(NodeEvent::Started { role: NodeRole::StatusRegion, lsn: 0 });
    for peer in node.config.regions.iter().filter(|p| **p != *node.host) {
        spawn_local(sync_to(node.clone(), region.clone(), peer.clone()));
    }
    for cdn in &node.config.cdns {
        spawn_local(publish_to(node.clone(), region.clone(), changed.subscribe(), cdn.clone()));
    }
    spawn_local(notify(node.clone(), region.clone(), changed.subscribe()));
    if let Some(every) = node.config.backup_every {
        spawn_local(back_up(region.clone(), backup, every));
    }
    let serving = node.clone();
    serving
        .serve(ORIGIN_PORT, move |request: OriginRequest, mut stream, peer| {
            let (node, region, changed) = (node.clone(), region.clone(), changed.clone());
            async move {
                let reply = answer(&node, &region, request, &peer);
                let now = region.borrow().doc.clock().clone();
                changed.send_if_modified(|held| std::mem::replace(held, now.clone()) != now);
                let _ = wire::send(&mut stream, &reply).await;
            }
        })
        .await
}

fn answer<N: Net, T: Telemetry>(
    node: &Node<N, T>,
    region: &RefCell<RegionReplica>,
    request: OriginRequest,
    peer: &str,
) -> OriginReply {
    let mut region = region.borrow_mut();
    match request {
        OriginRequest::Edit(edit) => {
            let (at, retracted) = region.edit(edit, (node.clock)());
            region.save();
            OriginReply::Written { at, history: region.doc.clock().clone(), retracted }
        }
        OriginRequest::Get => {
            if node.config.cdns.iter().any(|c| c == peer) {
                node.emit(NodeEvent::OriginServed { cdn: peer.to_string() });
            }
            OriginReply::Doc(region.doc.clone())
        }
        OriginRequest::Sync(theirs) => {
            if let Some(latest) = theirs.latest()
                && let Err(e) = region.hlc.receive(latest, (node.clock)())
            {
                node.emit(NodeEvent::Rejected { peer: peer.to_string(), problem: e.to_string() });
                return OriginReply::Synced(region.doc.clock().clone());
            }
            region.doc.merge_by(&theirs, node.config.merge);
            region.save();
            OriginReply::Synced(region.doc.clock().clone())
        }
    }
}

/// Copies the document to `backup` every `every`, from one interval after the start: regions that
/// start together back up at the same instants, so no region's backup holds a peer's write that
/// the peer's own backup lacks.
async fn back_up(region: Rc<RefCell<RegionReplica>>, backup: RegionDisk, every: std::time::Duration) {
    let mut tick = interval_at(Instant::now() + every, every);
    loop {
        tick.tick().await;
        backup.replace(region.borrow().doc.clone());
    }
}

/// Sends this region's state to `peer` every sync interval while the peer lacks some of it,
/// without waiting for earlier sends (one lost in a partition must not hold back the next; at most
/// a timeout's worth are outstanding).
async fn sync_to<N: Net, T: Telemetry>(node: Node<N, T>, region: Rc<RefCell<RegionReplica>>, peer: String) {
    let mut tick = interval(node.config.sync_interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let theirs = Rc::new(RefCell::new(VClock::new()));
    let in_flight = Rc::new(Cell::new(0usize));
    let most_in_flight =
        (node.config.peer_timeout.as_millis() / node.config.sync_interval.as_millis().max(1)) as usize + 1;
    loop {
        tick.tick().await;
        let doc = region.borrow().doc.clone();
        let behind = !matches!(doc.clock().compare(&theirs.borrow()), Causality::Before | Causality::Equal);
        if !behind || in_flight.get() >= most_in_flight {
            continue;
        }
        in_flight.set(in_flight.get() + 1);
        let (node, peer, theirs, in_flight) = (node.clone(), peer.clone(), theirs.clone(), in_flight.clone());
        spawn_local(async move {
            let limit = node.config.peer_timeout;
            let reply = node.exchange(&peer, ORIGIN_PORT, &OriginRequest::Sync(doc), limit).await;
            if let Ok(OriginReply::Synced(clock)) = reply {
                theirs.borrow_mut().merge(&clock);
            }
            in_flight.set(in_flight.get() - 1);
        });
    }
}

/// Publishes this region's state to `cdn`'s edge KV on every change and at least every refresh.
async fn publish_to<N: Net, T: Telemetry>(
    node: Node<N, T>,
    region: Rc<RefCell<RegionReplica>>,
    mut changed: watch::Receiver<VClock>,
    cdn: String,
) {
    let refresh = node.config.kv_refresh;
    let mut next = Instant::now();
    loop {
        tokio::select! {
            biased;
            r = changed.changed() => if r.is_err() { return },
            _ = sleep_until(next) => {}
        }
        let doc = region.borrow().doc.clone();
        let put = EdgeRequest::KvPut(doc);
        let _: Result<EdgeReply, _> = node.exchange(&cdn, EDGE_PORT, &put, node.config.peer_timeout).await;
        next = Instant::now() + refresh;
    }
}

/// Hands every timeline update this region holds to the notification pipeline once, retrying
/// until the pipeline takes it.
async fn notify<N: Net, T: Telemetry>(
    node: Node<N, T>,
    region: Rc<RefCell<RegionReplica>>,
    mut changed: watch::Receiver<VClock>,
) {
    let mut handed = BTreeSet::new();
    let mut retry = interval(node.config.sync_interval * 10);
    retry.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            r = changed.changed() => if r.is_err() { return },
            _ = retry.tick() => {}
        }
        let fresh: Vec<_> = region.borrow().doc.timeline().filter(|u| !handed.contains(&u.at)).cloned().collect();
        for update in fresh {
            let at = update.at;
            let notice = Notice { update };
            let reply: Result<bool, _> =
                node.exchange(&node.config.notifier, NOTIFY_PORT, &notice, node.config.peer_timeout).await;
            if reply.is_ok() {
                handed.insert(at);
            }
        }
    }
}
