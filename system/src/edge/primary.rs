//! The primary (DESIGN.md, System A): the single writer. Each write commits as one SQLite
//! transaction and becomes a frame; with a synchronous standby the write is acknowledged only once
//! the standby holds the frame. It serves PoPs' forwarded writes and fallback reads, and feeds the
//! replication manager.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use tokio::io::split;
use tokio::sync::{broadcast, watch};
use tokio::task::spawn_local;
use tokio::time::timeout;

use super::batch::BatchPolicy;
use super::config::StandbyMode;
use super::frame::{Frame, Lsn};
use super::node::{Ctx, dump, reject};
use super::proto::{PRIMARY_PORT, REPL_PORT, ReadPath, ReplMessage, ReplRequest, Request, Response};
use super::replication::{self, send_batch};
use super::store::{Store, WriteOp};
use crate::net::{Listener, Net};
use crate::telemetry::{NodeEvent, Telemetry};
use crate::wire;

pub struct Primary<N, T> {
    pub ctx: Ctx<N, T>,
    pub store: Rc<RefCell<Store>>,
    generation: u64,
    pub frames: broadcast::Sender<Frame>,
    standby_acked: watch::Sender<Lsn>,
}

impl<N: Net, T: Telemetry> Primary<N, T> {
    pub fn head(&self) -> Lsn {
        self.store.borrow().position().map(|p| p.lsn).unwrap_or(0)
    }
}

/// Runs the primary on `store` until its host stops.
pub async fn run<N: Net, T: Telemetry>(ctx: Ctx<N, T>, store: Rc<RefCell<Store>>) -> io::Result<()> {
    let position = store.borrow().position().map_err(io::Error::other)?;
    ctx.emit(NodeEvent::Started { role: "primary", lsn: position.lsn });
    let clients = ctx.net.bind(PRIMARY_PORT).await?;
    let followers = ctx.net.bind(REPL_PORT).await?;
    let p = Rc::new(Primary {
        ctx,
        store,
        generation: position.generation,
        frames: broadcast::channel(4096).0,
        standby_acked: watch::channel(position.lsn).0,
    });
    spawn_local(serve_followers(p.clone(), followers));
    serve_clients(p, clients).await
}

async fn serve_clients<N: Net, T: Telemetry>(p: Rc<Primary<N, T>>, mut listener: N::Listener) -> io::Result<()> {
    loop {
        let (mut stream, peer) = listener.accept().await?;
        let p = p.clone();
        spawn_local(async move {
            loop {
                let request = match wire::recv::<_, Request>(&mut stream).await {
                    Ok(r) => r,
                    Err(e) => return reject(&p.ctx, &peer, e),
                };
                let response = handle(&p, request).await;
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
            let store = p.store.borrow();
            match (store.read(session, &key), store.position()) {
                (Ok(row), Ok(at)) => Response::Read { row, path: ReadPath::Primary, lsn: at.lsn },
                (Err(e), _) | (_, Err(e)) => Response::Error(e.to_string()),
            }
        }
        Request::Dump => dump(&p.store.borrow()),
    }
}

async fn write<N: Net, T: Telemetry>(p: &Primary<N, T>, op: WriteOp) -> Response {
    let frame = match p.store.borrow_mut().commit(&op, p.generation) {
        Ok(f) => f,
        Err(e) => return Response::Error(e.to_string()),
    };
    let (lsn, generation) = (frame.lsn, frame.generation);
    p.ctx.emit(NodeEvent::Committed {
        lsn,
        generation,
        session: op.session,
        seq: op.seq,
        payload_bytes: frame.payload.len(),
    });
    let _ = p.frames.send(frame);
    if p.ctx.config.standby_mode == StandbyMode::Sync {
        let mut acked = p.standby_acked.subscribe();
        let confirmed = timeout(p.ctx.config.request_timeout, acked.wait_for(|a| *a >= lsn)).await;
        if !matches!(confirmed, Ok(Ok(_))) {
            return Response::Error(format!("standby did not confirm frame {lsn}; write not acknowledged"));
        }
    }
    Response::Write { lsn, generation }
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
                let next = match replication::start_of(&p, from, prev_checksum) {
                    Ok(next) => next,
                    Err(reason) => {
                        let from = from.unwrap_or(0);
                        let _ = wire::send(&mut w, &ReplMessage::Behind { from, reason }).await;
                        return;
                    }
                };
                let policy = if standby {
                    spawn_local(read_standby_acks(p.clone(), r, peer.clone()));
                    BatchPolicy::IMMEDIATE
                } else {
                    p.ctx.config.batch
                };
                let _ = replication::stream(p.clone(), &mut w, &peer, next, policy).await;
                return;
            }
            ReplRequest::Fetch { from, to } => {
                let frames = p.store.borrow().frames(from, to).ok().flatten();
                match frames {
                    Some(frames) => send_batch(&mut w, &p.ctx.telemetry, &peer, &frames).await,
                    None => {
                        let reason = format!("frames {from}..={to} are no longer retained");
                        wire::send(&mut w, &ReplMessage::Behind { from, reason }).await
                    }
                }
            }
            ReplRequest::Snapshot => {
                let snapshot = p.store.borrow_mut().snapshot();
                match snapshot {
                    Ok(s) => {
                        p.ctx.emit(NodeEvent::SnapshotServed { lsn: s.position.lsn, bytes: s.db.len() });
                        wire::send(&mut w, &ReplMessage::Snapshot(s)).await
                    }
                    Err(_) => return,
                }
            }
            ReplRequest::StandbyAck { .. } => Ok(()),
        };
        if sent.is_err() {
            return;
        }
    }
}

async fn read_standby_acks<N: Net, T: Telemetry, R: tokio::io::AsyncRead + Unpin>(
    p: Rc<Primary<N, T>>,
    mut r: R,
    peer: String,
) {
    loop {
        match wire::recv::<_, ReplRequest>(&mut r).await {
            Ok(ReplRequest::StandbyAck { lsn }) => {
                p.standby_acked.send_if_modified(|acked| {
                    let newer = lsn > *acked;
                    *acked = (*acked).max(lsn);
                    newer
                });
            }
            Ok(_) => {}
            Err(e) => return reject(&p.ctx, &peer, e),
        }
    }
}
