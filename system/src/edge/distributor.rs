//! A regional distributor (docs/DESIGN.md, Replication: frames travel through one distributor per
//! region to every PoP): one stream from the primary, relayed as received to every replica of its region.
//! It keeps the last frames it relayed to serve re-requests, and passes older re-requests on to the
//! primary. It holds no database: a replica whose history it cannot check or extend is sent on to
//! the primary for a snapshot.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;

use tokio::io::{AsyncWrite, split};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::spawn_local;
use tokio::time::{MissedTickBehavior, interval, timeout};

use super::backoff::Backoff;
use super::frame::{Frame, GENESIS_CHECKSUM, Lsn, decode_batch};
use super::node::{Ctx, raise, reject, route_only};
use super::proto::{DISTRIBUTOR_PORT, REPL_PORT, ReplMessage, ReplRequest};
use super::region_lock;
use super::replication::{chunks, send_batch};
use crate::net::{Listener, Net};
use crate::telemetry::{NodeEvent, NodeRole, Telemetry};
use crate::wire::{self, WireError};

pub struct Distributor<N, T> {
    ctx: Ctx<N, T>,
    /// The frames last relayed, oldest first, contiguous.
    ring: RefCell<VecDeque<Frame>>,
    /// The primary's head as last heard.
    head: watch::Sender<Lsn>,
    live: broadcast::Sender<Rc<[Frame]>>,
}

/// Runs a distributor until its host stops.
pub async fn run<N: Net, T: Telemetry>(ctx: Ctx<N, T>) -> io::Result<()> {
    ctx.emit(NodeEvent::Started { role: NodeRole::Distributor, lsn: 0 });
    let mut listener = ctx.net.bind(DISTRIBUTOR_PORT).await?;
    spawn_local(ctx.clone().serve_control(route_only(ctx.clone())));
    spawn_local(ctx.clone().discover_route());
    spawn_local(region_lock::serve(ctx.clone()));
    let d = Rc::new(Distributor {
        ctx,
        ring: RefCell::new(VecDeque::new()),
        head: watch::channel(0).0,
        live: broadcast::channel(1024).0,
    });
    spawn_local(follow_primary(d.clone()));
    loop {
        let (stream, peer) = listener.accept().await?;
        spawn_local(serve_replica(d.clone(), stream, peer));
    }
}

async fn follow_primary<N: Net, T: Telemetry>(d: Rc<Distributor<N, T>>) {
    let mut backoff = Backoff::new(d.ctx.config.backoff_min, d.ctx.config.backoff_max);
    loop {
        let primary = d.ctx.primary();
        let reason = match relay_session(&d, &primary, &mut backoff).await {
            Ok(()) => "primary closed the stream".to_string(),
            Err(e) => e,
        };
        d.ctx.emit(NodeEvent::Disconnected { peer: primary.clone(), reason });
        d.ctx.back_off(&mut backoff, &primary).await;
    }
}

async fn relay_session<N: Net, T: Telemetry>(
    d: &Distributor<N, T>,
    primary: &str,
    backoff: &mut Backoff,
) -> Result<(), String> {
    let mut stream = d.ctx.connect(primary, REPL_PORT).await.map_err(|e| e.to_string())?;
    d.ctx.emit(NodeEvent::Connected { peer: primary.to_string() });
    backoff.reset();
    let subscribe = match d.ring.borrow().back() {
        Some(last) => ReplRequest::Subscribe { from: Some(last.lsn + 1), prev_checksum: last.checksum, standby: false },
        None => ReplRequest::Subscribe { from: None, prev_checksum: GENESIS_CHECKSUM, standby: false },
    };
    wire::send(&mut stream, &subscribe).await.map_err(|e| e.to_string())?;
    let mut route = d.ctx.route.subscribe();
    loop {
        let received = tokio::select! {
            biased;
            _ = route.changed() => return Err(format!("the primary is {} now", d.ctx.primary())),
            r = timeout(d.ctx.config.peer_timeout, wire::recv(&mut stream)) => r,
        };
        let message = match received {
            Err(_) => return Err(format!("no message for {:?}", d.ctx.config.peer_timeout)),
            Ok(Err(e)) => {
                let reason = e.to_string();
                reject(&d.ctx, primary, e);
                return Err(reason);
            }
            Ok(Ok(m)) => m,
        };
        match message {
            ReplMessage::Batch(bytes) => {
                let frames = decode_batch(&bytes).map_err(|e| {
                    d.ctx.emit(NodeEvent::Rejected { peer: primary.to_string(), problem: e.to_string() });
                    format!("corrupt batch: {e}")
                })?;
                d.keep(&frames);
                let _ = d.live.send(frames.into());
            }
            ReplMessage::Heartbeat { head } => {
                raise(&d.head, head);
            }
            ReplMessage::Behind { reason, .. } => {
                d.ring.borrow_mut().clear();
                return Err(format!("primary cannot continue the relayed stream: {reason}"));
            }
            ReplMessage::Snapshot(_) => {}
        }
    }
}

impl<N: Net, T: Telemetry> Distributor<N, T> {
    /// Adds relayed frames to the ring, keeping it contiguous and bounded.
    fn keep(&self, frames: &[Frame]) {
        let mut ring = self.ring.borrow_mut();
        for f in frames {
            if ring.back().is_some_and(|last| f.lsn != last.lsn + 1) {
                ring.clear();
            }
            ring.push_back(f.clone());
            raise(&self.head, f.lsn);
        }
        while ring.len() as u64 > self.ctx.config.distributor_frames {
            ring.pop_front();
        }
    }

    /// The ring's frames `from..=to`, if it holds all of them.
    fn retained(&self, from: Lsn, to: Lsn) -> Option<Vec<Frame>> {
        let ring = self.ring.borrow();
        let first = ring.front()?.lsn;
        let last = ring.back()?.lsn;
        (from >= first && to <= last && from <= to)
            .then(|| ring.range((from - first) as usize..=(to - first) as usize).cloned().collect())
    }

    /// The checksum of frame `lsn` if the ring holds it.
    fn checksum_of(&self, lsn: Lsn) -> Option<u64> {
        self.retained(lsn, lsn).map(|f| f[0].checksum)
    }
}

async fn serve_replica<N: Net, T: Telemetry>(d: Rc<Distributor<N, T>>, stream: N::Stream, peer: String) {
    let (mut r, mut w) = split(stream);
    let (from, prev_checksum) = match wire::recv::<_, ReplRequest>(&mut r).await {
        Ok(ReplRequest::Subscribe { from: Some(from), prev_checksum, .. }) => (from, prev_checksum),
        Ok(other) => {
            d.ctx.emit(NodeEvent::Rejected {
                peer,
                problem: format!("expected a subscription from an LSN, got {other:?}"),
            });
            return;
        }
        Err(e) => return reject(&d.ctx, &peer, e),
    };
    let (requests, mut incoming) = mpsc::channel(16);
    spawn_local(async move {
        while let Ok(request) = wire::recv::<_, ReplRequest>(&mut r).await {
            if requests.send(request).await.is_err() {
                return;
            }
        }
    });
    let _ = relay_to(&d, &mut w, &peer, from, prev_checksum, &mut incoming).await;
}

/// Streams to one replica: the ring's frames from `from`, then every relayed batch, answering the
/// replica's re-requests from the ring or, for older frames, from the primary.
async fn relay_to<N: Net, T: Telemetry, W: AsyncWrite + Unpin>(
    d: &Distributor<N, T>,
    w: &mut W,
    peer: &str,
    from: Lsn,
    prev_checksum: u64,
    incoming: &mut mpsc::Receiver<ReplRequest>,
) -> Result<(), WireError> {
    let held = match from.checked_sub(1) {
        Some(0) => Some(GENESIS_CHECKSUM),
        Some(prev) => d.checksum_of(prev),
        None => None,
    };
    if d.ctx.config.failover.lineage_check && held.is_some_and(|c| c != prev_checksum) {
        let reason = format!("replica's frame {} differs from the relayed stream", from - 1);
        return wire::send(w, &ReplMessage::Behind { from, reason }).await;
    }
    let mut live = d.live.subscribe();
    let mut next = from;
    let last = d.ring.borrow().back().map(|f| f.lsn);
    if let Some(last) = last
        && let Some(frames) = d.retained(from, last)
    {
        for chunk in chunks(&frames, d.ctx.config.batch.max_bytes) {
            send_batch(w, &d.ctx.telemetry, peer, chunk).await?;
        }
        next = last + 1;
    }
    let (fetched_tx, mut fetched) = mpsc::channel(4);
    let mut heartbeat = interval(d.ctx.config.heartbeat);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            relayed = live.recv() => match relayed {
                Ok(frames) => {
                    if let Some(last) = frames.last().filter(|f| f.lsn >= next) {
                        next = last.lsn + 1;
                        send_batch(w, &d.ctx.telemetry, peer, &frames).await?;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            request = incoming.recv() => match request {
                None => return Ok(()),
                Some(ReplRequest::Fetch { from, to }) => match d.retained(from, to) {
                    Some(frames) => send_batch(w, &d.ctx.telemetry, peer, &frames).await?,
                    None => {
                        spawn_local(fetch_from_primary(d.ctx.clone(), from, to, fetched_tx.clone()));
                    }
                },
                Some(_) => {}
            },
            Some(message) = fetched.recv() => wire::send(w, &message).await?,
            _ = heartbeat.tick() => {
                let head = *d.head.borrow();
                wire::send(w, &ReplMessage::Heartbeat { head }).await?;
            }
        }
    }
}

/// Asks the primary for frames the ring no longer holds; the answer (frames, or "rebuild") goes
/// back to the replica as is. A failed attempt sends nothing: the replica asks again.
async fn fetch_from_primary<N: Net, T: Telemetry>(
    ctx: Ctx<N, T>,
    from: Lsn,
    to: Lsn,
    reply: mpsc::Sender<ReplMessage>,
) {
    let primary = ctx.primary();
    let Ok(mut stream) = ctx.connect(&primary, REPL_PORT).await else { return };
    if wire::send(&mut stream, &ReplRequest::Fetch { from, to }).await.is_err() {
        return;
    }
    if let Ok(Ok(message)) = timeout(ctx.config.request_timeout, wire::recv::<_, ReplMessage>(&mut stream)).await {
        let _ = reply.send(message).await;
    }
}
