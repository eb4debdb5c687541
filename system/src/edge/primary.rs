//! A database node: the primary or its standby, one program in two roles (docs/DESIGN.md, System A).
//!
//! As **primary** it is the single writer: each write commits as one SQLite transaction and becomes
//! a frame; with a synchronous standby attached, a write is acknowledged only once the standby
//! holds the frame. It acknowledges writes only while its lease, renewed by the control plane's
//! health checks, is fresh: a primary cut off from the control plane stops on its own before
//! another is promoted. As **standby** it follows the primary's stream unbatched and acknowledges
//! each frame. The control plane promotes a standby, fences a primary, and tells a fenced or
//! returning primary the new route, on which it rejoins as a follower of the new primary.
//!
//! A synchronous standby is lost when its stream breaks, or when its acknowledgements stop
//! advancing for a peer timeout while frames wait for them (a stream can look alive, heartbeats
//! and all, while the acknowledgements behind it never arrive): the primary ends that stream so
//! the standby reconnects, raises the `standby_lost` alert, and then acknowledges writes alone or
//! refuses them until a standby attaches again, as the standby-loss policy says.

use std::cell::{Cell, OnceCell, RefCell};
use std::io;
use std::rc::Rc;

use rand::Rng;
use tokio::io::{ReadHalf, WriteHalf, split};
use tokio::sync::watch;
use tokio::task::{JoinHandle, spawn_local};
use tokio::time::{Instant, sleep, timeout};

use super::batch::BatchPolicy;
use super::config::{StandbyLoss, StandbyMode};
use super::follower::{Follower, Upstream};
use super::frame::{Lsn, Point};
use super::node::{Ctx, dump, raise, reject};
use super::proto::{
    ControlMsg, ControlReply, PRIMARY_PORT, Page, REPL_PORT, ReadPath, ReplMessage, ReplRequest, Request, Response,
    Role,
};
use super::replication::{self, Source, send_batch};
use super::runtime::Workers;
use super::store::{Store, WriteOp};
use crate::net::{Listener, Net};
use crate::telemetry::{NodeEvent, NodeRole, Telemetry};
use crate::wire;

pub struct Primary<N, T> {
    pub ctx: Ctx<N, T>,
    pub store: Rc<RefCell<Store>>,
    role: Cell<Role>,
    generation: Cell<u64>,
    lease_until: Cell<Instant>,
    /// The follower task while this node is a standby.
    following: RefCell<Option<JoinHandle<()>>>,
    /// The last LSN this node committed as primary; streams to the standby follow it.
    committed: watch::Sender<Lsn>,
    /// The last LSN durable as the standby mode requires: held by the synchronous standby, or
    /// committed when no synchronous standby is attached (async mode, or none attached). Writes are
    /// acknowledged, and frames streamed to distributors and served to replicas, only up to it.
    durable: watch::Sender<Lsn>,
    standbys_attached: Cell<usize>,
    /// Whether the synchronous standby was lost and none has attached since.
    standby_lost: Cell<bool>,
    /// Pages rendered this boot, and the random base of their numbers.
    renders: Cell<u64>,
    render_base: OnceCell<u64>,
}

impl<N: Net, T: Telemetry> Primary<N, T> {
    pub fn head(&self) -> Lsn {
        self.store.borrow().position().map(|p| p.lsn).unwrap_or(0)
    }

    /// The LSN a subscriber's stream may reach: the standby gets every committed frame, any other
    /// follower only durable ones, so that no replica serves a row the primary's loss could take.
    pub fn released(&self, standby: bool) -> &watch::Sender<Lsn> {
        if standby { &self.committed } else { &self.durable }
    }

    /// Whether a committed frame must wait for the standby before it is durable: in sync mode while
    /// a standby is attached, and under the `block` policy also while the one attached was lost.
    /// Before a standby first attaches (a fresh or newly promoted primary) there is none to wait for.
    fn waits_for_standby(&self) -> bool {
        let c = &self.ctx.config;
        let blocked = self.standby_lost.get() && c.standby_loss == StandbyLoss::Block;
        c.standby_mode == StandbyMode::Sync && (self.standbys_attached.get() > 0 || blocked)
    }

    fn attach_standby(&self, peer: &str) {
        self.standbys_attached.set(self.standbys_attached.get() + 1);
        if self.standby_lost.replace(false) {
            self.ctx.emit(NodeEvent::StandbyRestored { peer: peer.to_string() });
        }
    }

    /// Ends a standby's session; the last synchronous one ending is the standby's loss.
    fn detach_standby(&self, peer: &str, reason: String) {
        self.standbys_attached.set(self.standbys_attached.get() - 1);
        let c = &self.ctx.config;
        if c.standby_mode != StandbyMode::Sync || self.standbys_attached.get() > 0 || self.role.get() != Role::Primary {
            return;
        }
        self.standby_lost.set(true);
        self.ctx.emit(NodeEvent::StandbyLost { peer: peer.to_string(), reason, policy: c.standby_loss });
        if !self.waits_for_standby() {
            // Degraded: what waited for the standby is durable on the primary alone now.
            raise(&self.durable, *self.committed.borrow());
        }
    }

    /// Whether this node may acknowledge a write now, and if not, why.
    fn may_acknowledge(&self) -> Result<(), String> {
        match self.role.get() {
            Role::Primary if !self.ctx.config.failover.fencing => Ok(()),
            Role::Primary if Instant::now() < self.lease_until.get() => Ok(()),
            Role::Primary => Err("lease expired: not confirmed as primary by the control plane".into()),
            Role::Standby | Role::Fenced => {
                Err(format!("not the primary (generation {} is {:?})", self.generation.get(), self.role.get()))
            }
        }
    }

    fn become_role(self: &Rc<Self>, role: Role, generation: u64, reason: &str) {
        if let Some(task) = self.following.borrow_mut().take() {
            task.abort();
        }
        self.role.set(role);
        self.generation.set(generation);
        self.ctx.emit(NodeEvent::RoleChanged { role, generation, reason: reason.to_string() });
        match role {
            Role::Primary => {
                self.lease_until.set(Instant::now() + self.ctx.config.failover.lease);
                // What a promoted standby holds is the new lineage: durable by definition.
                self.committed.send_replace(self.head());
                self.durable.send_replace(self.head());
            }
            Role::Standby => {
                let follower = Follower::new(self.ctx.clone(), self.store.clone(), Upstream::Primary, true);
                *self.following.borrow_mut() = Some(spawn_local(follower.run()));
            }
            Role::Fenced => {}
        }
    }

    /// Answers the control plane.
    fn control(self: &Rc<Self>, msg: ControlMsg) -> ControlReply {
        let me = &*self.ctx.host;
        match msg {
            ControlMsg::Health(route) => {
                self.ctx.learn(route.clone());
                if route.primary == me && self.role.get() == Role::Primary {
                    self.lease_until.set(Instant::now() + self.ctx.config.failover.lease);
                }
                self.rejoin_if_superseded();
                ControlReply::Healthy { role: self.role.get(), generation: self.generation.get(), lsn: self.head() }
            }
            ControlMsg::Fence { generation } => {
                if self.ctx.config.failover.fencing
                    && self.role.get() == Role::Primary
                    && generation >= self.generation.get()
                {
                    self.become_role(Role::Fenced, generation, "fenced by the control plane");
                }
                ControlReply::Done
            }
            ControlMsg::Promote { generation } => match self.role.get() {
                Role::Standby if generation > self.generation.get() => {
                    self.become_role(Role::Primary, generation, "promoted by the control plane");
                    ControlReply::Done
                }
                role => ControlReply::Refused(format!("cannot promote a {role:?} node to generation {generation}")),
            },
            ControlMsg::Route(route) => {
                self.ctx.learn(route);
                self.rejoin_if_superseded();
                ControlReply::Done
            }
            ControlMsg::GetRoute => ControlReply::Route(self.ctx.route.borrow().clone()),
        }
    }

    /// A primary (or fenced primary) that learns of a newer primary follows it from now on.
    fn rejoin_if_superseded(self: &Rc<Self>) {
        let route = self.ctx.route.borrow().clone();
        let superseded = route.primary != *self.ctx.host && route.generation > self.generation.get();
        if superseded && self.role.get() != Role::Standby {
            self.become_role(Role::Standby, route.generation, &format!("{} is primary now", route.primary));
        }
    }
}

/// Runs a database node in `role` until its host stops.
pub async fn run<N: Net, T: Telemetry>(ctx: Ctx<N, T>, store: Rc<RefCell<Store>>, role: Role) -> io::Result<()> {
    let position = store.borrow().position().map_err(io::Error::other)?;
    ctx.emit(NodeEvent::Started {
        role: if role == Role::Primary { NodeRole::Primary } else { NodeRole::Standby },
        lsn: position.lsn,
    });
    let clients = ctx.net.bind(PRIMARY_PORT).await?;
    let followers = ctx.net.bind(REPL_PORT).await?;
    let p = Rc::new(Primary {
        ctx: ctx.clone(),
        store,
        role: Cell::new(role),
        generation: Cell::new(position.generation),
        // A booting primary acknowledges nothing until the control plane confirms it.
        lease_until: Cell::new(Instant::now()),
        following: RefCell::new(None),
        committed: watch::channel(position.lsn).0,
        durable: watch::channel(position.lsn).0,
        standbys_attached: Cell::new(0),
        standby_lost: Cell::new(false),
        renders: Cell::new(0),
        render_base: OnceCell::new(),
    });
    if role == Role::Standby {
        p.become_role(Role::Standby, position.generation, "started as standby");
    }
    spawn_local(serve_followers(p.clone(), followers));
    let control = p.clone();
    spawn_local(ctx.serve_control(move |msg| control.control(msg)));
    serve_clients(p, clients).await
}

async fn serve_clients<N: Net, T: Telemetry>(p: Rc<Primary<N, T>>, mut listener: N::Listener) -> io::Result<()> {
    let workers = Rc::new(Workers::new(p.ctx.config.primary_runtime));
    loop {
        let (mut stream, peer) = listener.accept().await?;
        let (p, workers) = (p.clone(), workers.clone());
        spawn_local(async move {
            loop {
                let request = match wire::recv::<_, Request>(&mut stream).await {
                    Ok(r) => r,
                    Err(e) => return reject(&p.ctx, &peer, e),
                };
                let response = match workers.admit(&p.ctx, &request).await {
                    Some(shed) => shed,
                    None => handle(&p, request).await,
                };
                if wire::send(&mut stream, &response).await.is_err() {
                    return;
                }
            }
        });
    }
}

async fn handle<N: Net, T: Telemetry>(p: &Primary<N, T>, request: Request) -> Response {
    match request {
        Request::Write(op) => write(p, op).await,
        Request::Read { session, key, .. } => {
            // A primary whose lease ran out may already be replaced: what it holds past the
            // standby's confirmation may be discarded, so it serves no reads either.
            if let Err(why) = p.may_acknowledge() {
                return Response::Error(why);
            }
            let store = p.store.borrow();
            match (store.read(session, &key), store.position()) {
                (Ok(row), Ok(at)) => {
                    let at = Point { generation: at.generation, lsn: at.lsn };
                    Response::Read { row, path: ReadPath::Primary, at }
                }
                (Err(e), _) | (_, Err(e)) => Response::Error(e.to_string()),
            }
        }
        Request::Render { key, pop } => render(p, key, pop),
        Request::Page { .. } | Request::Stream { .. } => Response::Error("pages are served by PoPs".into()),
        Request::Dump => dump(&p.store.borrow()),
    }
}

/// Renders `key`'s product page for `pop`'s ISR regeneration from the key's row as this node
/// holds it; its render number is unique across the run (`NodeEvent::PageRendered`).
fn render<N: Net, T: Telemetry>(p: &Primary<N, T>, key: String, pop: String) -> Response {
    if let Err(why) = p.may_acknowledge() {
        return Response::Error(why);
    }
    let version = match p.store.borrow().read(0, &key) {
        Ok(row) => row.version,
        Err(e) => return Response::Error(e.to_string()),
    };
    let base = *p.render_base.get_or_init(|| p.ctx.rng.borrow_mut().random::<u64>() >> 1);
    let render = base + p.renders.get();
    p.renders.set(p.renders.get() + 1);
    p.ctx.emit(NodeEvent::PageRendered { key, pop, render });
    Response::Page { page: Page { origin: p.ctx.host.to_string(), render, version }, stale: false }
}

async fn write<N: Net, T: Telemetry>(p: &Primary<N, T>, op: WriteOp) -> Response {
    if let Err(why) = p.may_acknowledge() {
        return Response::Error(why);
    }
    let retried = p.store.borrow().holds(op.session, op.seq);
    let (lsn, generation) = match retried {
        // A retry of a write already committed: acknowledge it at the current head, a point at or
        // after the write, once durable like any other.
        Ok(true) => (p.head(), p.generation.get()),
        Ok(false) => match commit(p, &op) {
            Ok(at) => at,
            Err(e) => return Response::Error(e),
        },
        Err(e) => return Response::Error(e.to_string()),
    };
    if p.waits_for_standby() {
        let mut durable = p.durable.subscribe();
        let confirmed = timeout(p.ctx.config.request_timeout, durable.wait_for(|a| *a >= lsn)).await;
        if !matches!(confirmed, Ok(Ok(_))) {
            return Response::Error(format!("standby did not confirm frame {lsn}; write not acknowledged"));
        }
    }
    // The lease may have run out while the standby confirmed.
    match p.may_acknowledge() {
        Ok(()) => Response::Write { lsn, generation },
        Err(why) => Response::Error(why),
    }
}

/// Commits a write as a frame, reports it and releases it to the replication streams (to all of
/// them at once unless a synchronous standby must hold it first).
fn commit<N: Net, T: Telemetry>(p: &Primary<N, T>, op: &WriteOp) -> Result<(Lsn, u64), String> {
    let frame = p.store.borrow_mut().commit(op, p.generation.get()).map_err(|e| e.to_string())?;
    let at = (frame.lsn, frame.generation);
    p.ctx.emit(NodeEvent::Committed {
        lsn: frame.lsn,
        generation: frame.generation,
        session: op.session,
        seq: op.seq,
        payload_bytes: frame.payload.len(),
    });
    raise(&p.committed, frame.lsn);
    if !p.waits_for_standby() {
        raise(&p.durable, frame.lsn);
    }
    Ok(at)
}

async fn serve_followers<N: Net, T: Telemetry>(p: Rc<Primary<N, T>>, mut listener: N::Listener) -> io::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        spawn_local(serve_follower(p.clone(), stream, peer));
    }
}

async fn serve_follower<N: Net, T: Telemetry>(p: Rc<Primary<N, T>>, stream: N::Stream, peer: String) {
    let (mut r, mut w) = split(stream);
    loop {
        let request = match wire::recv::<_, ReplRequest>(&mut r).await {
            Ok(req) => req,
            Err(e) => return reject(&p.ctx, &peer, e),
        };
        let sent = match request {
            ReplRequest::Subscribe { from, prev_checksum, standby } => {
                return stream_to(p, r, w, peer, from, prev_checksum, standby).await;
            }
            // Re-requests come from distributors (a standby re-subscribes instead): durable frames
            // only, and none at all before they are.
            ReplRequest::Fetch { from, .. } if from > *p.durable.borrow() => Ok(()),
            ReplRequest::Fetch { from, to } => {
                let to = to.min(*p.durable.borrow());
                let frames = p.store.borrow().frames(from, to).ok().flatten();
                match frames {
                    Some(frames) => send_batch(&mut w, &p.ctx.telemetry, &peer, &frames).await,
                    None => {
                        let reason = format!("frames {from}..={to} are no longer retained");
                        wire::send(&mut w, &ReplMessage::Behind { from, reason }).await
                    }
                }
            }
            ReplRequest::Snapshot { standby } => {
                let Ok(s) = p.store.borrow_mut().snapshot() else { return };
                if !standby && !durable_within(&p, s.position.lsn).await {
                    return;
                }
                p.ctx.emit(NodeEvent::SnapshotServed { lsn: s.position.lsn, bytes: s.db.len() });
                wire::send(&mut w, &ReplMessage::Snapshot(s)).await
            }
            ReplRequest::StandbyAck { .. } => Ok(()),
        };
        if sent.is_err() {
            return;
        }
    }
}

/// Serves a follower that subscribed from `from` (the LSN and checksum its history ends at): the
/// frames from there on, streamed until the stream breaks; a standby's acknowledgements are read
/// alongside and, in sync mode, watched for stalling. A primary that cannot serve the history
/// (not the primary, or a history that differs) says so (`Behind`).
async fn stream_to<N: Net, T: Telemetry>(
    p: Rc<Primary<N, T>>,
    r: ReadHalf<N::Stream>,
    mut w: WriteHalf<N::Stream>,
    peer: String,
    from: Option<Lsn>,
    prev_checksum: u64,
    standby: bool,
) {
    let start = match p.role.get() {
        Role::Primary => {
            let lineage_check = p.ctx.config.failover.lineage_check;
            replication::start_of(&p.store.borrow(), from, prev_checksum, lineage_check)
        }
        role => Err(format!("{} is not the primary ({role:?})", p.ctx.host)),
    };
    let next = match start {
        Ok(next) => next,
        Err(reason) => {
            let from = from.unwrap_or(0);
            let _ = wire::send(&mut w, &ReplMessage::Behind { from, reason }).await;
            return;
        }
    };
    // A synchronous standby gets every frame at once; an asynchronous one is streamed
    // like any follower, batched.
    let sync = p.ctx.config.standby_mode == StandbyMode::Sync;
    let policy = if standby && sync { BatchPolicy::IMMEDIATE } else { p.ctx.config.batch };
    let source = Source {
        store: &p.store,
        released: p.released(standby).subscribe(),
        telemetry: &p.ctx.telemetry,
        heartbeat: p.ctx.config.heartbeat,
    };
    let streamed = replication::stream(source, &mut w, &peer, next, policy);
    if !standby {
        let _ = streamed.await;
        return;
    }
    p.attach_standby(&peer);
    let (acked, _) = watch::channel(next.saturating_sub(1));
    let acked = Rc::new(acked);
    let mut acks = spawn_local(read_standby_acks(p.clone(), r, peer.clone(), acked.clone()));
    let reason = tokio::select! {
        biased;
        r = streamed => r.err().map_or("the stream ended".to_string(), |e| e.to_string()),
        _ = &mut acks => "the standby closed its side of the stream".to_string(),
        stalled = acks_stalled(&p, &acked), if sync && p.ctx.config.failover.standby_ack_check => stalled,
    };
    acks.abort();
    p.detach_standby(&peer, reason);
}

/// Whether frame `lsn` becomes durable within the request timeout (a snapshot for a replica is
/// sent only then).
async fn durable_within<N: Net, T: Telemetry>(p: &Primary<N, T>, lsn: Lsn) -> bool {
    let mut durable = p.durable.subscribe();
    matches!(timeout(p.ctx.config.request_timeout, durable.wait_for(|d| *d >= lsn)).await, Ok(Ok(_)))
}

/// Returns, saying why, once the standby's acknowledgements (`acked`) have not advanced for a peer
/// timeout while committed frames waited for them.
async fn acks_stalled<N: Net, T: Telemetry>(p: &Primary<N, T>, acked: &watch::Sender<Lsn>) -> String {
    let (mut acked, mut committed) = (acked.subscribe(), p.committed.subscribe());
    let limit = p.ctx.config.peer_timeout;
    loop {
        let held = *acked.borrow_and_update();
        if *committed.borrow_and_update() <= held {
            // Nothing owed: wait for a commit (an acknowledgement cannot pass what is committed).
            let _ = committed.changed().await;
            continue;
        }
        tokio::select! {
            biased;
            _ = acked.changed() => {}
            _ = sleep(limit) => {
                let owed = *committed.borrow();
                return format!("acknowledgements stuck at frame {held} for {limit:?} while frames up to {owed} waited");
            }
        }
    }
}

async fn read_standby_acks<N: Net, T: Telemetry, R: tokio::io::AsyncRead + Unpin>(
    p: Rc<Primary<N, T>>,
    mut r: R,
    peer: String,
    acked: Rc<watch::Sender<Lsn>>,
) {
    loop {
        match wire::recv::<_, ReplRequest>(&mut r).await {
            Ok(ReplRequest::StandbyAck { lsn }) => {
                raise(&acked, lsn);
                raise(&p.durable, lsn);
            }
            Ok(_) => {}
            Err(e) => return reject(&p.ctx, &peer, e),
        }
    }
}
