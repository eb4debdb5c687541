//! A follower applies the primary's frames strictly in LSN order: a PoP's read replica (fed by its
//! regional distributor) and the standby (fed by the primary directly, acknowledging what it holds).
//! docs/DESIGN.md, Gaps and snapshots: a replica that receives LSN n+2 before n+1 asks for the missing
//! frames; one too far behind (frames no longer retained) rebuilds from a snapshot, then resumes.
//! A lost segment stalls a stream without an error, so silence longer than the peer timeout ends
//! the session and the follower reconnects with backoff.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use tokio::io::{AsyncWrite, split};
use tokio::sync::watch;
use tokio::time::{Instant, timeout};

use super::backoff::Backoff;
use super::frame::{Frame, Lsn, Point, decode_batch};
use super::node::{Ctx, reject};
use super::proto::{DISTRIBUTOR_PORT, REPL_PORT, ReplMessage, ReplRequest};
use super::store::{Lineage, Store};
use crate::net::Net;
use crate::telemetry::{NodeEvent, Telemetry};
use crate::wire::{self, WireError};

pub(crate) struct Follower<N, T> {
    pub ctx: Ctx<N, T>,
    pub store: Rc<RefCell<Store>>,
    /// The last point applied; reads wait on it.
    pub applied: watch::Sender<Point>,
    /// Where frames come from.
    pub upstream: Upstream,
    /// A standby acknowledges every batch it applied and gets frames unbatched.
    pub standby: bool,
}

/// A PoP replica follows its region's distributor; a standby follows whichever node is primary.
#[derive(Clone, Debug)]
pub enum Upstream {
    Distributor(String),
    Primary,
}

/// Why a replication session ended.
enum SessionEnd {
    /// The stream broke or went silent; reconnect.
    Lost(String),
    /// Upstream cannot continue this follower's history; rebuild from a snapshot.
    Rebuild { from: Lsn, reason: String },
}

impl<N: Net, T: Telemetry> Follower<N, T> {
    pub fn new(ctx: Ctx<N, T>, store: Rc<RefCell<Store>>, upstream: Upstream, standby: bool) -> Rc<Self> {
        let at = store.borrow().position().map(|p| Point { generation: p.generation, lsn: p.lsn }).unwrap_or_default();
        Rc::new(Follower { ctx, store, applied: watch::channel(at).0, upstream, standby })
    }

    /// Follows upstream until the host stops.
    pub async fn run(self: Rc<Self>) {
        let mut backoff = Backoff::new(self.ctx.config.backoff_min, self.ctx.config.backoff_max);
        loop {
            let (peer, port) = self.source();
            let end = self.session(&peer, port, &mut backoff).await;
            let reason = match end {
                SessionEnd::Rebuild { from, reason } => {
                    self.ctx.emit(NodeEvent::Behind { from, reason });
                    match self.rebuild().await {
                        Ok(()) => continue,
                        Err(e) => format!("snapshot failed: {e}"),
                    }
                }
                SessionEnd::Lost(reason) => reason,
            };
            self.ctx.emit(NodeEvent::Disconnected { peer: peer.clone(), reason });
            self.ctx.back_off(&mut backoff, &peer).await;
        }
    }

    fn source(&self) -> (String, u16) {
        match &self.upstream {
            Upstream::Distributor(host) => (host.clone(), DISTRIBUTOR_PORT),
            Upstream::Primary => (self.ctx.primary(), REPL_PORT),
        }
    }

    async fn session(&self, host: &str, port: u16, backoff: &mut Backoff) -> SessionEnd {
        let stream = match self.ctx.connect(host, port).await {
            Ok(s) => s,
            Err(e) => return SessionEnd::Lost(e.to_string()),
        };
        self.ctx.emit(NodeEvent::Connected { peer: host.to_string() });
        backoff.reset();
        let (mut r, mut w) = split(stream);
        let at = match self.store.borrow().position() {
            Ok(p) => p,
            Err(e) => return SessionEnd::Lost(e.to_string()),
        };
        let subscribe =
            ReplRequest::Subscribe { from: Some(at.lsn + 1), prev_checksum: at.checksum, standby: self.standby };
        if let Err(e) = wire::send(&mut w, &subscribe).await {
            return SessionEnd::Lost(e.to_string());
        }
        let mut gaps = Gaps::default();
        loop {
            let message = match timeout(self.ctx.config.peer_timeout, wire::recv(&mut r)).await {
                Err(_) => return SessionEnd::Lost(format!("no message for {:?}", self.ctx.config.peer_timeout)),
                Ok(Err(e)) => return self.lost(host, e),
                Ok(Ok(m)) => m,
            };
            let outcome = match message {
                ReplMessage::Batch(bytes) => match decode_batch(&bytes) {
                    Ok(frames) => self.receive(frames, &mut gaps, &mut w).await,
                    Err(e) => {
                        self.ctx.emit(NodeEvent::Rejected { peer: host.to_string(), problem: e.to_string() });
                        return SessionEnd::Lost(format!("corrupt batch: {e}"));
                    }
                },
                ReplMessage::Heartbeat { head } => {
                    // Frames the previous heartbeat announced have had a whole interval to arrive.
                    let due = std::mem::replace(&mut gaps.announced, head);
                    gaps.check(self, due.min(head), &mut w).await
                }
                ReplMessage::Behind { from, reason } => return SessionEnd::Rebuild { from, reason },
                ReplMessage::Snapshot(_) => Ok(()),
            };
            if let Err(end) = outcome {
                return end;
            }
        }
    }

    fn lost(&self, host: &str, e: WireError) -> SessionEnd {
        let reason = e.to_string();
        reject(&self.ctx, host, e);
        SessionEnd::Lost(reason)
    }

    /// Applies what can be applied in order and holds the rest until the gap before it fills.
    async fn receive<W: AsyncWrite + Unpin>(
        &self,
        frames: Vec<Frame>,
        gaps: &mut Gaps,
        w: &mut W,
    ) -> Result<(), SessionEnd> {
        let at = *self.applied.borrow();
        // A newer generation rewriting a position this follower holds: its history diverged there.
        if let Some(f) = frames.iter().find(|f| f.lsn <= at.lsn && f.generation > at.generation)
            && self.ctx.config.failover.lineage_check
        {
            let reason =
                format!("generation {} rewrote LSN {} held from generation {}", f.generation, f.lsn, at.generation);
            return Err(SessionEnd::Rebuild { from: f.lsn, reason });
        }
        gaps.pending.extend(frames.into_iter().filter(|f| f.lsn > at.lsn).map(|f| (f.lsn, f)));
        let (mut applied, mut generation) = (at.lsn, at.generation);
        while let Some(frame) = gaps.pending.remove(&(applied + 1)) {
            let lineage = if self.ctx.config.failover.lineage_check { Lineage::Check } else { Lineage::Ignore };
            let result = self.store.borrow_mut().apply(&frame, lineage);
            if let Err(e) = result {
                return Err(SessionEnd::Rebuild { from: frame.lsn, reason: e.to_string() });
            }
            (applied, generation) = (frame.lsn, frame.generation);
            self.ctx.emit(NodeEvent::Applied { lsn: frame.lsn, generation: frame.generation });
        }
        self.applied.send_replace(Point { generation, lsn: applied });
        if self.standby {
            send(w, &ReplRequest::StandbyAck { lsn: applied }).await?;
        }
        if gaps.pending.len() > self.ctx.config.max_pending_frames {
            return Err(SessionEnd::Rebuild {
                from: applied + 1,
                reason: "too many frames waiting for a gap to fill".into(),
            });
        }
        let head = gaps.pending.keys().next_back().copied().unwrap_or(applied);
        gaps.check(self, head, w).await
    }

    /// Replaces the database with the primary's snapshot.
    async fn rebuild(&self) -> Result<(), String> {
        let primary = self.ctx.primary();
        let mut stream = self.ctx.connect(&primary, REPL_PORT).await.map_err(|e| e.to_string())?;
        wire::send(&mut stream, &ReplRequest::Snapshot { standby: self.standby }).await.map_err(|e| e.to_string())?;
        let reply = timeout(self.ctx.config.request_timeout, wire::recv(&mut stream)).await;
        let snapshot = match reply {
            Ok(Ok(ReplMessage::Snapshot(s))) => s,
            Ok(Ok(other)) => return Err(format!("expected a snapshot, got {other:?}")),
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("no snapshot within the request timeout".into()),
        };
        let retain = self.store.borrow().retain();
        let store = Store::restore(&snapshot, retain).map_err(|e| e.to_string())?;
        *self.store.borrow_mut() = store;
        let position = snapshot.position;
        self.applied.send_replace(Point { generation: position.generation, lsn: position.lsn });
        self.ctx.emit(NodeEvent::SnapshotRestored { lsn: snapshot.position.lsn, bytes: snapshot.db.len() });
        Ok(())
    }
}

/// Frames held out of order, the head upstream last announced, and the re-request in flight for
/// the gap before them.
#[derive(Default)]
struct Gaps {
    pending: BTreeMap<Lsn, Frame>,
    announced: Lsn,
    asked: Option<(Lsn, Instant)>,
}

impl Gaps {
    /// Asks for missing frames when upstream's history reaches `head` beyond what is applied, unless
    /// a re-request for them is still fresh.
    async fn check<N: Net, T: Telemetry, W: AsyncWrite + Unpin>(
        &mut self,
        f: &Follower<N, T>,
        head: Lsn,
        w: &mut W,
    ) -> Result<(), SessionEnd> {
        let applied = f.applied.borrow().lsn;
        let to = self.pending.keys().next().map_or(head, |first| first - 1);
        let fresh = self.asked.is_some_and(|(asked_to, at)| asked_to >= to && at.elapsed() < f.ctx.config.peer_timeout);
        if to <= applied || fresh {
            return Ok(());
        }
        f.ctx.emit(NodeEvent::GapDetected { from: applied + 1, to });
        self.asked = Some((to, Instant::now()));
        send(w, &ReplRequest::Fetch { from: applied + 1, to }).await
    }
}

async fn send<W: AsyncWrite + Unpin>(w: &mut W, request: &ReplRequest) -> Result<(), SessionEnd> {
    wire::send(w, request).await.map_err(|e| SessionEnd::Lost(e.to_string()))
}
