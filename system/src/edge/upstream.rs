//! The upstream service a streamed page's `upstream` boundaries call (docs/DESIGN.md, Streaming
//! SSR: the upstream service), a host of its own beside the platform (recommendations, reviews: an
//! API the platform does not run). It answers each call on one of its workers for a service time
//! drawn from its seeded service stream between half and one and a half times the boundary's mean
//! (`runtime`); calls beyond its workers wait in arrival order, and one arriving while
//! `queue_limit` others wait is shed. A PoP calls it over the network on pooled connections and
//! waits at most `timeout` for the answer, connecting included: a call not answered by then,
//! refused or shed fails, and the PoP sends that boundary's error fallback. A pooled connection that
//! turns out broken (the service restarted) is dropped and the call tried once more on a new one,
//! as an HTTP client retries a request on a reused connection the server had closed.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use tokio::task::spawn_local;
use tokio::time::timeout;

use super::config::{Capacity, Data};
use super::node::{Ctx, reject};
use super::proto::{UPSTREAM_PORT, UpstreamCall, UpstreamReply};
use super::runtime::Workers;
use crate::net::{Listener, Net};
use crate::telemetry::{NodeEvent, NodeRole, Telemetry};
use crate::wire::{self, WireError};

/// Runs the upstream service until its host stops.
pub async fn run<N: Net, T: Telemetry>(ctx: Ctx<N, T>) -> io::Result<()> {
    let mut listener = ctx.net.bind(UPSTREAM_PORT).await?;
    ctx.emit(NodeEvent::Started { role: NodeRole::Upstream, lsn: 0 });
    let settings = &ctx.config.upstream;
    // A call's mean service time is its boundary's (`Workers::serve_for`), not a kind of work's.
    let capacity = Capacity::warm(settings.workers, settings.queue_limit, Duration::ZERO, Duration::ZERO);
    let workers = Rc::new(Workers::new(capacity));
    loop {
        let (stream, peer) = listener.accept().await?;
        spawn_local(serve(ctx.clone(), workers.clone(), stream, peer));
    }
}

/// Answers the calls of one connection, one at a time.
async fn serve<N: Net, T: Telemetry>(ctx: Ctx<N, T>, workers: Rc<Workers>, mut stream: N::Stream, peer: String) {
    loop {
        let call = match wire::recv::<_, UpstreamCall>(&mut stream).await {
            Ok(call) => call,
            Err(e) => return reject(&ctx, &peer, e),
        };
        let reply = match ctx.config.ssr.get(call.boundary).map(|b| b.data) {
            Some(Data::Upstream { service }) => match workers.serve_for(service, &ctx.service).await {
                Ok(_) => UpstreamReply::Answered,
                Err(shed) => UpstreamReply::Shed { waiting: shed.waiting },
            },
            _ => UpstreamReply::Unknown,
        };
        if wire::send(&mut stream, &reply).await.is_err() {
            return;
        }
    }
}

/// A PoP's idle connections to the upstream service, reused across calls.
pub type Idle<S> = RefCell<Vec<S>>;

/// Calls the upstream service for `boundary`'s data; the error says why the boundary gets its
/// error fallback.
pub async fn call<N: Net, T: Telemetry>(
    ctx: &Ctx<N, T>,
    idle: &Idle<N::Stream>,
    boundary: usize,
) -> Result<(), String> {
    let settings = &ctx.config.upstream;
    let host = &settings.host;
    let reply = match timeout(settings.timeout, exchange(ctx, idle, boundary)).await {
        Ok(reply) => reply,
        Err(_) => return Err(format!("the upstream service ({host}) did not answer within {:?}", settings.timeout)),
    };
    match reply {
        Ok(UpstreamReply::Answered) => Ok(()),
        Ok(UpstreamReply::Shed { waiting }) => {
            Err(format!("the upstream service ({host}) shed the call ({waiting} waiting)"))
        }
        Ok(UpstreamReply::Unknown) => Err(format!("the upstream service ({host}) has no boundary {boundary}")),
        Err(e) => Err(format!("the upstream service ({host}): {e}")),
    }
}

/// One call on an idle connection, or a new one if there is none or the idle one was broken.
async fn exchange<N: Net, T: Telemetry>(
    ctx: &Ctx<N, T>,
    idle: &Idle<N::Stream>,
    boundary: usize,
) -> Result<UpstreamReply, WireError> {
    let reused = idle.borrow_mut().pop();
    if let Some(mut stream) = reused
        && let Ok(reply) = ask(&mut stream, boundary).await
    {
        idle.borrow_mut().push(stream);
        return Ok(reply);
    }
    let mut stream = ctx.net.connect(&ctx.config.upstream.host, UPSTREAM_PORT).await?;
    let reply = ask(&mut stream, boundary).await?;
    idle.borrow_mut().push(stream);
    Ok(reply)
}

async fn ask<S: crate::net::Stream>(stream: &mut S, boundary: usize) -> Result<UpstreamReply, WireError> {
    wire::send(stream, &UpstreamCall { boundary }).await?;
    wire::recv(stream).await
}
