//! What every edge node is handed by whoever runs it: its network, its telemetry sink, its
//! settings and its seeded random source; plus the request/response and reconnect helpers the
//! nodes share.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;
use tokio::time::{sleep, timeout};

use super::backoff::Backoff;
use super::config::EdgeConfig;
use super::frame::Lsn;
use super::proto::{CONTROL_PORT, ControlMsg, ControlReply, Request, Response, Route};
use super::store::Store;
use crate::net::{Listener, Net};
use crate::telemetry::{NodeEvent, Telemetry};
use crate::wire::{self, WireError};

#[derive(Clone)]
pub struct Ctx<N, T> {
    /// This node's host name.
    pub host: Rc<str>,
    pub net: N,
    pub telemetry: T,
    pub config: Rc<EdgeConfig>,
    pub rng: Rc<RefCell<ChaCha8Rng>>,
    /// The stream the node's requests' service times are drawn from, apart from `rng` so that
    /// how many requests a node serves never moves its timers' and backoff's draws.
    pub service: Rc<RefCell<ChaCha8Rng>>,
    /// The route as this node last learned it.
    pub route: Rc<watch::Sender<Route>>,
}

impl<N: Net, T: Telemetry> Ctx<N, T> {
    /// A node's context; its route starts at the configured primary, generation 1. `rng` draws
    /// timer jitter and backoff, `service` the service times.
    pub fn new(host: &str, net: N, telemetry: T, config: Rc<EdgeConfig>, rng: ChaCha8Rng, service: ChaCha8Rng) -> Self {
        let route = Route { primary: config.primary.clone(), generation: 1 };
        Ctx {
            host: host.into(),
            net,
            telemetry,
            config,
            rng: Rc::new(RefCell::new(rng)),
            service: Rc::new(RefCell::new(service)),
            route: Rc::new(watch::channel(route).0),
        }
    }

    pub fn emit(&self, event: NodeEvent) {
        self.telemetry.emit(event);
    }

    /// The primary as this node knows it.
    pub fn primary(&self) -> String {
        self.route.borrow().primary.clone()
    }

    /// Adopts `route` if it is newer than the one held; returns whether it was.
    pub fn learn(&self, route: Route) -> bool {
        let newer = route.generation > self.route.borrow().generation;
        if newer {
            self.emit(NodeEvent::RouteChanged { primary: route.primary.clone(), generation: route.generation });
            self.route.send_replace(route);
        }
        newer
    }

    /// Asks the control plane for the route until it answers (a node that restarts may have
    /// missed a failover).
    pub(crate) async fn discover_route(self) {
        let mut backoff = Backoff::new(self.config.backoff_min, self.config.backoff_max);
        let control = self.config.control.clone();
        loop {
            if let Ok(ControlReply::Route(route)) = self.control(&control, &ControlMsg::GetRoute).await {
                self.learn(route);
                return;
            }
            self.back_off(&mut backoff, &control).await;
        }
    }

    /// Sends one control message and waits for the reply within the health timeout.
    pub async fn control(&self, host: &str, msg: &ControlMsg) -> Result<ControlReply, String> {
        wire::exchange(host, self.net.connect(host, CONTROL_PORT), msg, self.config.failover.health_timeout).await
    }

    /// Serves the control port: each message is answered by `handle`.
    pub(crate) async fn serve_control(self, handle: impl Fn(ControlMsg) -> ControlReply + 'static) -> io::Result<()> {
        let mut listener = self.net.bind(CONTROL_PORT).await?;
        let handle = Rc::new(handle);
        loop {
            let (mut stream, peer) = listener.accept().await?;
            let (ctx, handle) = (self.clone(), handle.clone());
            tokio::task::spawn_local(async move {
                match wire::recv::<_, ControlMsg>(&mut stream).await {
                    Ok(msg) => {
                        let _ = wire::send(&mut stream, &handle(msg)).await;
                    }
                    Err(e) => reject(&ctx, &peer, e),
                }
            });
        }
    }

    /// Connects with the configured timeout (a connect across a partition never completes).
    pub async fn connect(&self, host: &str, port: u16) -> io::Result<N::Stream> {
        match timeout(self.config.connect_timeout, self.net.connect(host, port)).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, format!("connect to {host}:{port} timed out"))),
        }
    }

    /// Waits out the next reconnect delay towards `peer`, reporting it.
    pub(crate) async fn back_off(&self, backoff: &mut Backoff, peer: &str) {
        let (delay, attempt) = backoff.next(&mut *self.rng.borrow_mut());
        self.emit(NodeEvent::Reconnecting { peer: peer.to_string(), attempt, backoff_ms: delay.as_millis() as u64 });
        sleep(delay).await;
    }

    /// Sends a request on an open stream and waits for its response within the request timeout.
    pub async fn call(&self, stream: &mut N::Stream, request: &Request) -> Result<Response, WireError> {
        let exchange = async {
            wire::send(stream, request).await?;
            wire::recv(stream).await
        };
        match timeout(self.config.request_timeout, exchange).await {
            Ok(r) => r,
            Err(_) => {
                Err(WireError::Io(io::Error::new(io::ErrorKind::TimedOut, "no response within the request timeout")))
            }
        }
    }
}

/// Reports input from `peer` that was refused as malformed (a closed or timed-out stream is not).
pub(crate) fn reject<N: Net, T: Telemetry>(ctx: &Ctx<N, T>, peer: &str, e: WireError) {
    if let WireError::Malformed(_) | WireError::TooLarge { .. } = e {
        ctx.emit(NodeEvent::Rejected { peer: peer.to_string(), problem: e.to_string() });
    }
}

/// The answer to [`Request::Dump`]: the database's replicated content and position.
pub fn dump(store: &Store) -> Response {
    match (store.content(), store.position()) {
        (Ok(content), Ok(position)) => Response::Dump { content, position },
        (Err(e), _) | (_, Err(e)) => Response::Error(e.to_string()),
    }
}

/// Raises a watched LSN to `lsn` if that is higher, waking waiters only when it moves.
pub(crate) fn raise(watched: &watch::Sender<Lsn>, lsn: Lsn) {
    watched.send_if_modified(|held| {
        let higher = lsn > *held;
        *held = (*held).max(lsn);
        higher
    });
}

/// The control-port handler of nodes that only need the route (PoPs, distributors).
pub(crate) fn route_only<N: Net, T: Telemetry>(ctx: Ctx<N, T>) -> impl Fn(ControlMsg) -> ControlReply + 'static {
    move |msg| match msg {
        ControlMsg::Route(route) => {
            ctx.learn(route);
            ControlReply::Done
        }
        ControlMsg::GetRoute => ControlReply::Route(ctx.route.borrow().clone()),
        other => ControlReply::Refused(format!("{} does not handle {other:?}", ctx.host)),
    }
}
