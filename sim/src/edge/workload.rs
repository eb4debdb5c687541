//! The users: each region's client host runs that region's sessions against their home PoP. A
//! session's requests arrive at exponential intervals, one write per `read_write_ratio` reads, every
//! write carrying the session and its sequence number so that checkers can judge reads by content.
//! Arrivals are open-loop by default: each is sent when it is due, whatever earlier requests are
//! still waiting for, so an outage meets the load a real population would send (no coordinated
//! omission) and a request's latency runs from its due time; `arrivals = "closed"` makes a session
//! wait for each answer before its next arrival.
//! `load_steps` multiply the session rate step by step. With `[isr]`, reads are views of the key's
//! product page (`page_loaded`). With `[ssr]`, a share of reads are views of the session's
//! personalized page streamed with SSR: the shell and each boundary's chunk are logged as they
//! reach the client (`ssr_shell`, `ssr_chunk`), timed from when the view was due (`ssr_requested`).
//! It carries the position of its last acknowledged write on every read (docs/DESIGN.md, Read-your-writes).
//! Under `[anycast]` a session's home PoP is its place, and each request goes where the network's
//! routes lead from there (`anycast`), the position travelling with the session.
//! All randomness comes from the scenario seed.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use edgesim_system::edge::backoff::Backoff;
use edgesim_system::edge::frame::Point;
use edgesim_system::edge::proto::{Filled, POP_PORT, Request, Response};
use edgesim_system::edge::store::WriteOp;
use edgesim_system::net::Net;
use edgesim_system::wire;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::task::{JoinSet, spawn_local};
use tokio::time::{sleep, timeout};

use crate::edge::anycast::Routing;
use crate::events::{ChunkOutcome, HarnessEvent, PageOutcome, RequestOp, RequestOutcome, StreamOutcome};
use crate::log::{HostTelemetry, now};
use crate::net::HostResult;
use crate::scenario::ssr::Ssr;
use crate::scenario::{Arrivals, Workload};
use crate::seed::Seed;

/// Everything a region's client host needs.
pub struct Clients<N: Net> {
    pub workload: Workload,
    /// (session id, home PoP) for each session of the region.
    pub sessions: Vec<(u64, String)>,
    pub end: Duration,
    pub seed: Seed,
    pub telemetry: HostTelemetry,
    /// The client host's sockets.
    pub net: N,
    /// Request ids, unique across the run.
    pub next_req: Rc<Cell<u64>>,
    /// This host logs when each load step begins (one host of the run does).
    pub announces_steps: bool,
    /// Reads are product page views (`[isr]`).
    pub pages: bool,
    /// The network's anycast routes (`[anycast]`); `None`: each session uses its home PoP.
    pub routing: Option<Rc<Routing>>,
    /// A share of reads are views of the personalized page streamed with SSR (`[ssr]`).
    pub ssr: Option<Ssr>,
}

pub async fn run<N: Net>(clients: Rc<Clients<N>>) -> HostResult {
    if clients.announces_steps {
        spawn_local(announce_steps(clients.clone()));
    }
    if clients.routing.is_some() {
        spawn_local(announce_routes(clients.clone()));
    }
    let tasks: Vec<_> =
        clients.sessions.iter().map(|(id, pop)| spawn_local(session(clients.clone(), *id, pop.clone()))).collect();
    for t in tasks {
        t.await?;
    }
    Ok(())
}

/// Logs each load step as it begins, so that figures per step come from the log.
async fn announce_steps<N: Net>(clients: Rc<Clients<N>>) {
    for (step, factor, start) in clients.workload.step_starts(clients.end) {
        sleep(start.saturating_sub(now())).await;
        clients.telemetry.harness(HarnessEvent::LoadStep { step, factor });
    }
}

/// Logs each change of the routes from this region's places as it happens.
async fn announce_routes<N: Net>(clients: Rc<Clients<N>>) {
    let Some(routing) = &clients.routing else { return };
    for c in routing.changes(&clients.telemetry.node) {
        sleep(c.at.saturating_sub(now())).await;
        clients.telemetry.harness(HarnessEvent::RouteChanged { pop: c.pop.clone(), change: c.change });
    }
}

/// The longest wait between two attempts of a write.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(8);

/// One session: its PoP, its idle connections by PoP (one is opened per request in flight when
/// none is idle), its write sequence and the point of its last acknowledged write.
struct Session<N: Net> {
    clients: Rc<Clients<N>>,
    id: u64,
    /// Where the session's user is: its home PoP's site.
    place: String,
    /// The PoP its requests go to: the home PoP, or under anycast the one the routes lead to.
    pop: RefCell<String>,
    idle: RefCell<Vec<(String, N::Stream)>>,
    seq: Cell<u64>,
    /// The session's position (its cookie): the latest of its acknowledged writes' points and of
    /// the positions its reads were served at, so that no read shows less than the session saw.
    min: Cell<Point>,
}

/// What a session does at one arrival, drawn when it is due.
enum Arrival {
    Read { key: String },
    Page { key: String },
    Stream { key: String },
    Write { op: WriteOp, retry_seed: u64 },
}

async fn session<N: Net>(clients: Rc<Clients<N>>, id: u64, pop: String) {
    let w = clients.workload.clone();
    let mut rng = clients.seed.child("session", id);
    let start = clients.routing.as_ref().and_then(|r| r.route(&pop, now())).map_or(pop.clone(), str::to_string);
    if clients.routing.is_some() {
        clients.telemetry.harness(HarnessEvent::SessionPlaced { session: id, place: pop.clone(), pop: start.clone() });
    }
    let s = Rc::new(Session {
        clients: clients.clone(),
        id,
        place: pop,
        pop: RefCell::new(start),
        idle: RefCell::default(),
        seq: Cell::new(0),
        min: Cell::default(),
    });
    let mut in_flight = JoinSet::new();
    sleep(w.warmup.0).await;
    loop {
        let rate = w.session_rate * w.step_at(now(), clients.end).1;
        let gap = -rng.random_range(f64::EPSILON..1.0f64).ln() / rate;
        sleep(Duration::from_secs_f64(gap)).await;
        if now() >= clients.end {
            break;
        }
        let key = format!("k{}", rng.random_range(0..w.keys));
        let arrival = if rng.random_range(0..=w.read_write_ratio) == 0 {
            s.seq.set(s.seq.get() + 1);
            let value = (0..w.value_bytes).map(|_| rng.random()).collect();
            Arrival::Write { op: WriteOp { session: id, seq: s.seq.get(), key, value }, retry_seed: rng.random() }
        } else if clients.ssr.as_ref().is_some_and(|ssr| rng.random::<f64>() < ssr.share) {
            Arrival::Stream { key }
        } else if clients.pages {
            Arrival::Page { key }
        } else {
            Arrival::Read { key }
        };
        match w.arrivals {
            Arrivals::Closed => s.arrive(arrival).await,
            Arrivals::Open => {
                while in_flight.try_join_next().is_some() {}
                in_flight.spawn_local(s.clone().arrive_owned(arrival));
            }
        }
    }
    in_flight.join_all().await;
}

impl<N: Net> Session<N> {
    async fn arrive_owned(self: Rc<Self>, arrival: Arrival) {
        self.arrive(arrival).await
    }

    /// Sends the arrival's request at once; a write is retried, and read back once acknowledged.
    async fn arrive(&self, arrival: Arrival) {
        let w = &self.clients.workload;
        match arrival {
            Arrival::Read { key } => {
                self.read(&key).await;
            }
            Arrival::Page { key } => self.page(key).await,
            Arrival::Stream { key } => self.stream(key).await,
            Arrival::Write { op, retry_seed } => {
                let mut rng = ChaCha8Rng::seed_from_u64(retry_seed);
                let mut backoff = Backoff::new(w.retry_backoff.0, MAX_RETRY_BACKOFF);
                let (key, seq) = (op.key.clone(), op.seq);
                let write = |_| Request::Write(op.clone());
                let mut outcome = self.request(write, RequestOp::Write, &key, seq).await;
                for _ in 0..w.write_retries {
                    if matches!(outcome, RequestOutcome::Write { .. }) || now() >= self.clients.end {
                        break;
                    }
                    sleep(backoff.next(&mut rng).0).await;
                    outcome = self.request(write, RequestOp::Write, &key, seq).await;
                }
                if let RequestOutcome::Write { lsn, generation } = outcome {
                    self.min.set(self.min.get().max(Point { generation, lsn }));
                    if w.read_after_write {
                        self.read(&key).await;
                    }
                }
            }
        }
    }

    async fn read(&self, key: &str) -> RequestOutcome {
        let consistency = self.clients.workload.consistency;
        let read = |min| Request::Read { session: self.id, key: key.to_string(), min, consistency };
        self.request(read, RequestOp::Read, key, 0).await
    }

    /// One request, made from the session's position when it is sent (`build`), on an idle
    /// connection or a new one.
    async fn request(&self, build: impl Fn(Point) -> Request, op: RequestOp, key: &str, seq: u64) -> RequestOutcome {
        let c = &self.clients;
        let routed = self.follow_route();
        let req = c.next_req.get() + 1;
        c.next_req.set(req);
        let min = self.min.get();
        c.telemetry.harness(HarnessEvent::RequestStarted { req, session: self.id, op, key: key.to_string(), seq, min });
        let answer = match routed {
            Ok(()) => self.call(&build(min)).await,
            Err(message) => Err(Some(message)),
        };
        let outcome = match answer {
            Ok(Response::Read { row, path, at }) => {
                self.min.set(self.min.get().max(at));
                RequestOutcome::Read { own: row.own, version: row.version, writer: row.writer, path, lsn: at.lsn }
            }
            Ok(Response::Write { lsn, generation }) => RequestOutcome::Write { lsn, generation },
            Ok(Response::Error(message)) => RequestOutcome::Error { message },
            Ok(Response::Shed { host, waiting }) => RequestOutcome::Shed { host, waiting },
            Ok(other) => RequestOutcome::Error { message: format!("unexpected answer {other:?}") },
            Err(None) => RequestOutcome::Timeout,
            Err(Some(message)) => RequestOutcome::Error { message },
        };
        c.telemetry.harness(HarnessEvent::RequestEnded { req, session: self.id, outcome: outcome.clone() });
        outcome
    }

    /// One view of `key`'s product page, logged when it ends.
    async fn page(&self, key: String) {
        let started_us = now().as_micros() as u64;
        let answer = match self.follow_route() {
            Ok(()) => self.call(&Request::Page { session: self.id, key: key.clone() }).await,
            Err(message) => Err(Some(message)),
        };
        let outcome = match answer {
            Ok(Response::Page { page, stale }) => {
                PageOutcome::Page { origin: page.origin, render: page.render, version: page.version, stale }
            }
            Ok(Response::Error(message)) => PageOutcome::Error { message },
            Ok(Response::Shed { host, waiting }) => PageOutcome::Shed { host, waiting },
            Ok(other) => PageOutcome::Error { message: format!("unexpected answer {other:?}") },
            Err(None) => PageOutcome::Timeout,
            Err(Some(message)) => PageOutcome::Error { message },
        };
        let pop = self.pop.borrow().clone();
        self.clients.telemetry.harness(HarnessEvent::PageLoaded { session: self.id, key, pop, started_us, outcome });
    }

    /// One view of the session's personalized page streamed with SSR, logged when it is due, as
    /// its shell and chunks arrive, and when it ends; a view without every chunk within the
    /// request timeout timed out.
    async fn stream(&self, key: String) {
        let c = &self.clients;
        let view = c.next_req.get() + 1;
        c.next_req.set(view);
        let routed = self.follow_route();
        let (session, pop) = (self.id, self.pop.borrow().clone());
        c.telemetry.harness(HarnessEvent::SsrRequested { view, session, pop: pop.clone(), key: key.clone() });
        let outcome = match routed {
            Ok(()) => {
                let request = Request::Stream { session, key, min: self.min.get() };
                let mut conn = {
                    let mut idle = self.idle.borrow_mut();
                    idle.retain(|(to, _)| *to == pop);
                    idle.pop().map(|(_, conn)| conn)
                };
                let outcome = timeout(c.workload.request_timeout.0, self.chunks(&pop, &mut conn, &request, view))
                    .await
                    .unwrap_or(StreamOutcome::Timeout);
                if let (Some(conn), StreamOutcome::Streamed) = (conn, &outcome) {
                    self.idle.borrow_mut().push((pop, conn));
                }
                outcome
            }
            Err(message) => StreamOutcome::Error { message },
        };
        c.telemetry.harness(HarnessEvent::SsrEnded { view, outcome });
    }

    /// Sends a stream request to `pop` and logs the shell and each chunk as it arrives.
    async fn chunks(&self, pop: &str, conn: &mut Option<N::Stream>, request: &Request, view: u64) -> StreamOutcome {
        let boundaries = match self.exchange(pop, conn, request).await {
            Ok(Response::Shell { boundaries }) => boundaries,
            Ok(Response::Shed { host, waiting }) => return StreamOutcome::Shed { host, waiting },
            Ok(Response::Error(message)) | Err(message) => return StreamOutcome::Error { message },
            Ok(other) => return StreamOutcome::Error { message: format!("unexpected answer {other:?}") },
        };
        let log = &self.clients.telemetry;
        log.harness(HarnessEvent::SsrShell { view });
        let stream = conn.as_mut().expect("the exchange connected");
        for _ in 0..boundaries {
            let (boundary, filled) = match wire::recv(stream).await {
                Ok(Response::Chunk { boundary, filled }) => (boundary, filled),
                Ok(other) => return StreamOutcome::Error { message: format!("unexpected answer {other:?}") },
                Err(e) => return StreamOutcome::Error { message: e.to_string() },
            };
            let filled = match filled {
                Filled::Row { version, path, at } => {
                    self.min.set(self.min.get().max(at));
                    ChunkOutcome::Row { version, path, lsn: at.lsn }
                }
                Filled::Upstream => ChunkOutcome::Upstream,
                Filled::Failed(message) => ChunkOutcome::Failed { message },
            };
            let named = self.clients.ssr.as_ref().and_then(|s| s.boundaries.get(boundary));
            let name = named.map_or_else(String::new, |b| b.name.clone());
            log.harness(HarnessEvent::SsrChunk { view, boundary, name, filled });
        }
        StreamOutcome::Streamed
    }

    /// Sends `request` on an idle connection or a new one and waits for the answer up to the
    /// request timeout: `Err(None)` when it timed out, `Err(Some(why))` when the connection failed
    /// (either way the connection is dropped).
    async fn call(&self, request: &Request) -> Result<Response, Option<String>> {
        let pop = self.pop.borrow().clone();
        let mut conn = {
            let mut idle = self.idle.borrow_mut();
            idle.retain(|(to, _)| *to == pop);
            idle.pop().map(|(_, conn)| conn)
        };
        let exchange = self.exchange(&pop, &mut conn, request);
        let answer = match timeout(self.clients.workload.request_timeout.0, exchange).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(message)) => Err(Some(message)),
            Err(_) => Err(None),
        };
        if let (Some(conn), Ok(_)) = (conn, &answer) {
            self.idle.borrow_mut().push((pop, conn));
        }
        answer
    }

    /// One request and its answer with `pop`; under anycast each way also crosses the distance
    /// from the session's place beyond its client host's last-mile link.
    async fn exchange(&self, pop: &str, conn: &mut Option<N::Stream>, request: &Request) -> Result<Response, String> {
        if conn.is_none() {
            let opened = self.clients.net.connect(pop, POP_PORT).await;
            *conn = Some(opened.map_err(|e| format!("connect {pop}: {e}"))?);
        }
        let stream = conn.as_mut().expect("connected above");
        let beyond =
            self.clients.routing.as_ref().map(|r| r.beyond_last_mile(&self.place, pop)).filter(|d| !d.is_zero());
        if let Some(d) = beyond {
            sleep(d).await;
        }
        wire::send(stream, request).await.map_err(|e| e.to_string())?;
        let response = wire::recv(stream).await.map_err(|e| e.to_string())?;
        if let Some(d) = beyond {
            sleep(d).await;
        }
        Ok(response)
    }

    /// Under anycast, points the session at the PoP the network routes its place to now, logging
    /// a move (without its position under the negative control `carry_position = false`); an
    /// error when no route is announced.
    fn follow_route(&self) -> Result<(), String> {
        let Some(routing) = &self.clients.routing else { return Ok(()) };
        let to = routing.route(&self.place, now()).ok_or_else(|| format!("no route from {} to a PoP", self.place))?;
        if *self.pop.borrow() == to {
            return Ok(());
        }
        let from = self.pop.replace(to.to_string());
        let (position, carried) = (self.min.get(), routing.settings.carry_position);
        if !carried {
            self.min.set(Point::default());
        }
        let moved = HarnessEvent::SessionMoved { session: self.id, from, to: to.to_string(), position, carried };
        self.clients.telemetry.harness(moved);
        Ok(())
    }
}
