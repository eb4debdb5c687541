//! An edge PoP (docs/DESIGN.md, System A): answers its region's users from a local SQLite replica,
//! forwards writes to the primary and returns their position, and serves read-your-writes by
//! position: a read that carries a position the replica has not applied waits up to `ryw_wait`
//! for it, and otherwise is served by the primary. A write no primary acknowledges fails at once
//! or is held and replayed (`queue`), as the failover settings say. Each request first takes one
//! of the PoP's isolates for its service time (`runtime`), or is shed when too many wait.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use tokio::task::spawn_local;
use tokio::time::timeout;

use super::config::EdgeWrites;
use super::follower::{Follower, Upstream};
use super::frame::Point;
use super::node::{Ctx, dump, reject, route_only};
use super::proto::{Consistency, POP_PORT, PRIMARY_PORT, ReadPath, Request, Response};
use super::queue::EdgeQueue;
use super::runtime::Workers;
use super::store::Store;
use crate::net::{Listener, Net};
use crate::telemetry::{NodeEvent, NodeRole, Telemetry};
use crate::wire;

/// Runs a PoP whose replica follows `distributor` until its host stops.
pub async fn run<N: Net, T: Telemetry>(
    ctx: Ctx<N, T>,
    store: Rc<RefCell<Store>>,
    distributor: String,
) -> io::Result<()> {
    let mut listener = ctx.net.bind(POP_PORT).await?;
    let replica = Follower::new(ctx.clone(), store, Upstream::Distributor(distributor), false);
    ctx.emit(NodeEvent::Started { role: NodeRole::Pop, lsn: replica.applied.borrow().lsn });
    spawn_local(replica.clone().run());
    spawn_local(ctx.clone().serve_control(route_only(ctx.clone())));
    spawn_local(ctx.clone().discover_route());
    let pool = Pool::default();
    spawn_local(warm(ctx.clone(), pool.clone()));
    let queue = Rc::new(EdgeQueue::default());
    let isolates = Rc::new(Workers::new(ctx.config.pop_runtime));
    loop {
        let (stream, peer) = listener.accept().await?;
        spawn_local(serve_client(replica.clone(), pool.clone(), queue.clone(), isolates.clone(), stream, peer));
    }
}

/// Idle connections to the primary, by host, reused across client connections so that a forwarded
/// request does not pay a connection handshake.
type Pool<S> = Rc<RefCell<Vec<(String, S)>>>;

/// One client connection.
async fn serve_client<N: Net, T: Telemetry>(
    replica: Rc<Follower<N, T>>,
    pool: Pool<N::Stream>,
    queue: Rc<EdgeQueue>,
    isolates: Rc<Workers>,
    mut stream: N::Stream,
    peer: String,
) {
    let upstream = &pool;
    loop {
        let request = match wire::recv::<_, Request>(&mut stream).await {
            Ok(r) => r,
            Err(e) => return reject(&replica.ctx, &peer, e),
        };
        if let Some(shed) = isolates.admit(&replica.ctx, &request).await {
            if wire::send(&mut stream, &shed).await.is_err() {
                return;
            }
            continue;
        }
        let response = match request {
            Request::Read { min, consistency, ref session, ref key } => match consistency {
                Consistency::Eventual => local_read(&replica, *session, key, ReadPath::Local),
                Consistency::Primary => forward(&replica.ctx, upstream, &request).await,
                Consistency::ReadYourWrites => match caught_up(&replica, min).await {
                    Some(path) => local_read(&replica, *session, key, path),
                    None => forward(&replica.ctx, upstream, &request).await,
                },
            },
            Request::Write(_) => match replica.ctx.config.failover.edge_writes {
                EdgeWrites::FailFast => forward(&replica.ctx, upstream, &request).await,
                EdgeWrites::Queue => queue.write(&replica.ctx, || forward(&replica.ctx, upstream, &request)).await,
            },
            Request::Dump => dump(&replica.store.borrow()),
        };
        if wire::send(&mut stream, &response).await.is_err() {
            return;
        }
    }
}

/// How the replica came to hold `min`, or `None` if it did not within the wait. Points compare
/// generation first: a replica holding a position from a superseded generation has not caught up.
async fn caught_up<N: Net, T: Telemetry>(replica: &Follower<N, T>, min: Point) -> Option<ReadPath> {
    if *replica.applied.borrow() >= min {
        return Some(ReadPath::Local);
    }
    let mut applied = replica.applied.subscribe();
    match timeout(replica.ctx.config.ryw_wait, applied.wait_for(|a| *a >= min)).await {
        Ok(Ok(_)) => Some(ReadPath::AfterWait),
        _ => None,
    }
}

fn local_read<N: Net, T: Telemetry>(replica: &Follower<N, T>, session: u64, key: &str, path: ReadPath) -> Response {
    let lsn = replica.applied.borrow().lsn;
    match replica.store.borrow().read(session, key) {
        Ok(row) => Response::Read { row, path, lsn },
        Err(e) => Response::Error(e.to_string()),
    }
}

/// Connections to the primary a PoP opens before any client needs them, so that a few concurrent
/// writes do not pay a handshake to a distant primary.
const WARM_CONNECTIONS: usize = 4;

/// Opens the warm connections to the primary.
async fn warm<N: Net, T: Telemetry>(ctx: Ctx<N, T>, pool: Pool<N::Stream>) {
    let primary = ctx.primary();
    for _ in 0..WARM_CONNECTIONS {
        if let Ok(stream) = ctx.connect(&primary, PRIMARY_PORT).await {
            pool.borrow_mut().push((primary.clone(), stream));
        }
    }
}

/// Sends a request to the primary on a pooled connection; a connection that failed, or leads to a
/// former primary, is dropped. An acknowledgement from a generation older than the route's is
/// refused: that primary has been fenced.
async fn forward<N: Net, T: Telemetry>(ctx: &Ctx<N, T>, pool: &Pool<N::Stream>, request: &Request) -> Response {
    let primary = ctx.primary();
    let idle = {
        let mut pool = pool.borrow_mut();
        pool.retain(|(host, _)| *host == primary);
        pool.pop()
    };
    let mut stream = match idle {
        Some((_, s)) => s,
        None => match ctx.connect(&primary, PRIMARY_PORT).await {
            Ok(s) => s,
            Err(e) => return Response::Error(format!("primary {primary} unreachable: {e}")),
        },
    };
    let response = match ctx.call(&mut stream, request).await {
        Ok(response) => response,
        Err(e) => return Response::Error(format!("primary {primary}: {e}")),
    };
    pool.borrow_mut().push((primary, stream));
    let current = ctx.route.borrow().generation;
    match response {
        Response::Write { generation, .. } if generation < current && ctx.config.failover.fencing => {
            Response::Error(format!("acknowledged under generation {generation}, fenced by generation {current}"))
        }
        other => other,
    }
}
