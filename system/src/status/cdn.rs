//! A CDN serving the status page (docs/DESIGN.md, Edge KV and degradation tiers): its edge KV holds the incident as the
//! regions publish it (a write becomes visible after the KV's propagation delay), its edge worker
//! renders pages through the degradation tiers (edge KV, then the origin API of each region in
//! turn, then the stale cached page, then the static fallback page) and answers DNS health
//! checks, and its SSE hub streams the design's events (timeline updates, component status changes,
//! the incident's resolution) to live viewers, resuming from Last-Event-ID, up to its cap of
//! streams. Origin misses are coalesced (concurrent views share one request to the origins), a
//! page from the origins is served for `page_ttl`, and past that its stale copy is served at once
//! while one refresh goes to the origins in the background (stale-while-revalidate).
//! An [`ErrorRate`] set from outside makes the edge answer a share of page views and SSE
//! subscriptions with a server error while the host is up (a bad deploy, an overloaded edge).

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;

use rand::Rng;
use tokio::sync::watch;
use tokio::task::{JoinSet, spawn_local};
use tokio::time::{Instant, MissedTickBehavior, interval, sleep};

use super::Merge;
use super::incident::Incident;
use super::node::Node;
use super::proto::{EDGE_PORT, EdgeReply, EdgeRequest, ORIGIN_PORT, OriginReply, OriginRequest, SseMessage, Tier};
use super::sse::{Connections, Feed, Refusal};
use crate::net::Net;
use crate::telemetry::{NodeEvent, NodeRole, Telemetry};
use crate::wire;

/// The edge's state: the KV's visible value and when a region last refreshed it, the last page
/// rendered (and when the origins answered it, if they did), the origin request in flight, the
/// SSE streams open and the heartbeats sent on them since the edge started.
#[derive(Default)]
struct Edge {
    kv: Option<(Incident, Instant)>,
    cached: Option<Incident>,
    from_origins_at: Option<Instant>,
    fetching: Option<Fetch>,
    streams: Connections,
    heartbeats: u64,
}

/// An origin request in flight: its document once it is done (`Some(None)`: no origin answered).
type Fetch = watch::Receiver<Option<Option<Incident>>>;

/// The share of page views and SSE subscriptions the edge answers with a 503 while its host is up;
/// 0 normally. Whoever runs the node holds it across restarts and changes it.
#[derive(Clone, Default)]
pub struct ErrorRate(Rc<Cell<f64>>);

impl ErrorRate {
    pub fn set(&self, rate: f64) {
        self.0.set(rate);
    }

    /// Whether this request fails, drawn from the node's seeded stream (nothing is drawn at 0).
    fn fails<N, T>(&self, node: &Node<N, T>) -> bool {
        let rate = self.0.get();
        rate > 0.0 && node.rng.borrow_mut().random::<f64>() < rate
    }
}

/// Runs the CDN until the host stops.
pub async fn run<N: Net, T: Telemetry>(node: Node<N, T>, errors: ErrorRate) -> io::Result<()> {
    let edge = Rc::new(RefCell::new(Edge::default()));
    let (kv_changed, _) = watch::channel(Incident::new());
    let kv_changed = Rc::new(kv_changed);
    node.emit(NodeEvent::Started { role: NodeRole::Cdn, lsn: 0 });
    let serving = node.clone();
    serving
        .serve(EDGE_PORT, move |request: EdgeRequest, mut stream, _peer| {
            let (node, edge, kv_changed, errors) = (node.clone(), edge.clone(), kv_changed.clone(), errors.clone());
            async move {
                let failing =
                    matches!(request, EdgeRequest::Page | EdgeRequest::Subscribe { .. }) && errors.fails(&node);
                let reply = match request {
                    _ if failing => EdgeReply::ServerError(503),
                    EdgeRequest::Health => EdgeReply::Healthy,
                    EdgeRequest::Page => page(&node, &edge).await,
                    EdgeRequest::KvPut(doc) => {
                        spawn_local(propagate(node.clone(), edge.clone(), kv_changed.clone(), doc));
                        EdgeReply::Stored
                    }
                    EdgeRequest::Subscribe { last_event_id, client_ip } => {
                        return subscribe(&node, &edge, kv_changed.subscribe(), stream, last_event_id, client_ip).await;
                    }
                };
                let _ = wire::send(&mut stream, &reply).await;
            }
        })
        .await
}

/// Makes a region's write visible in this edge's KV after the propagation delay.
async fn propagate<N: Net, T: Telemetry>(
    node: Node<N, T>,
    edge: Rc<RefCell<Edge>>,
    kv_changed: Rc<watch::Sender<Incident>>,
    doc: Incident,
) {
    sleep(node.config.kv_propagation).await;
    let merged = {
        let mut edge = edge.borrow_mut();
        let mut merged = edge.kv.take().map(|(held, _)| held).unwrap_or_default();
        merged.merge(&doc);
        edge.kv = Some((merged.clone(), Instant::now()));
        merged
    };
    kv_changed.send_if_modified(|held| std::mem::replace(held, merged.clone()) != merged);
}

/// Renders a page through the degradation tiers: the KV while trusted; the page the origins
/// answered within `page_ttl`; past it, with stale-while-revalidate, the cached page at once
/// (a refresh going to the origins behind it); else the origins (a request in flight shared),
/// then the cached page, then the fallback.
async fn page<N: Net, T: Telemetry>(node: &Node<N, T>, edge: &Rc<RefCell<Edge>>) -> EdgeReply {
    let fresh_kv = edge.borrow().kv.as_ref().filter(|(_, at)| at.elapsed() <= node.config.kv_max_age).cloned();
    if let Some((doc, _)) = fresh_kv {
        let mut edge = edge.borrow_mut();
        (edge.cached, edge.from_origins_at) = (Some(doc.clone()), None);
        return EdgeReply::Page { tier: Tier::EdgeKv, doc: Some(doc) };
    }
    let (cached, fresh) = {
        let edge = edge.borrow();
        let fresh = edge.from_origins_at.is_some_and(|at| at.elapsed() <= node.config.page_ttl);
        (edge.cached.clone(), fresh)
    };
    match cached {
        Some(doc) if fresh => return EdgeReply::Page { tier: Tier::Origin, doc: Some(doc) },
        Some(doc) if node.config.stale_while_revalidate => {
            drop(fetch(node, edge));
            return EdgeReply::Page { tier: Tier::StaleCache, doc: Some(doc) };
        }
        _ => {}
    }
    let mut asked = fetch(node, edge);
    let answered = asked.wait_for(Option::is_some).await.ok().and_then(|done| done.clone()).flatten();
    if let Some(doc) = answered {
        return EdgeReply::Page { tier: Tier::Origin, doc: Some(doc) };
    }
    match edge.borrow().cached.clone() {
        Some(doc) => EdgeReply::Page { tier: Tier::StaleCache, doc: Some(doc) },
        None => EdgeReply::Page { tier: Tier::Fallback, doc: None },
    }
}

/// The origin request this view waits for: the one in flight when coalescing, else a new one,
/// which caches what the origins answer.
fn fetch<N: Net, T: Telemetry>(node: &Node<N, T>, edge: &Rc<RefCell<Edge>>) -> Fetch {
    if node.config.coalescing
        && let Some(in_flight) = edge.borrow().fetching.clone()
    {
        return in_flight;
    }
    let (done, asked) = watch::channel(None);
    if node.config.coalescing {
        edge.borrow_mut().fetching = Some(asked.clone());
    }
    let (node, edge) = (node.clone(), edge.clone());
    spawn_local(async move {
        let answered = from_origins(&node).await;
        {
            let mut edge = edge.borrow_mut();
            if let Some(doc) = &answered {
                (edge.cached, edge.from_origins_at) = (Some(doc.clone()), Some(Instant::now()));
            }
            edge.fetching = None;
        }
        let _ = done.send(Some(answered));
    });
    asked
}

/// Asks every region's origin at once and takes the first document, all within one origin
/// timeout: asked one after another, silent origins would each take the whole timeout; and the
/// origin timeout is shorter than a viewer waits, or the page would reach the stale-cache tier
/// only after the viewer had given up (a crashed origin answers nothing, like a cut one).
async fn from_origins<N: Net, T: Telemetry>(node: &Node<N, T>) -> Option<Incident> {
    let mut asks = JoinSet::new();
    for region in &node.config.regions {
        let (node, region) = (node.clone(), region.clone());
        asks.spawn_local(async move {
            node.exchange::<_, OriginReply>(&region, ORIGIN_PORT, &OriginRequest::Get, node.config.origin_timeout).await
        });
    }
    while let Some(answer) = asks.join_next().await {
        if let Ok(Ok(OriginReply::Doc(doc))) = answer {
            return Some(doc);
        }
    }
    None
}

/// Streams events to one viewer: first what it missed after `last_event_id` (nothing without one:
/// the page it loaded showed the rest), then each new one as the KV shows it, with a heartbeat
/// (numbered across the edge's streams) when there is nothing to say; each one sent is reported.
/// Refused past the streams its IP or the edge may hold.
async fn subscribe<N: Net, T: Telemetry>(
    node: &Node<N, T>,
    edge: &RefCell<Edge>,
    mut kv: watch::Receiver<Incident>,
    mut stream: N::Stream,
    last_event_id: Option<String>,
    client_ip: String,
) {
    let config = &node.config;
    let opened = Feed::open(last_event_id.as_deref(), &kv.borrow(), config.sse_status_events)
        .map_err(|e| Refusal::BadEventId(e.to_string()))
        .and_then(|feed| {
            edge.borrow_mut().streams.admit(&client_ip, config.sse_max_per_ip, config.sse_max_per_edge)?;
            Ok(feed)
        });
    let mut feed = match opened {
        Ok(feed) => feed,
        Err(refusal) => {
            let _ = wire::send(&mut stream, &EdgeReply::Refused(refusal)).await;
            return;
        }
    };
    let mut heartbeat = interval(config.sse_heartbeat);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    heartbeat.tick().await;
    let mut doc = kv.borrow_and_update().clone();
    loop {
        let mut sent = Ok(());
        for (id, event) in feed.next(&doc) {
            if sent.is_ok() {
                let kind = event.kind();
                let message = SseMessage::Event { id, event };
                sent = wire::send(&mut stream, &EdgeReply::Sse(message)).await;
                if sent.is_ok() {
                    node.emit(NodeEvent::SsePushed { kind });
                }
            }
        }
        if sent.is_err() {
            break;
        }
        tokio::select! {
            biased;
            r = kv.changed() => match r {
                Ok(()) => doc = kv.borrow_and_update().clone(),
                Err(_) => break,
            },
            _ = heartbeat.tick() => {
                let seq = {
                    let mut edge = edge.borrow_mut();
                    edge.heartbeats += 1;
                    edge.heartbeats
                };
                if wire::send(&mut stream, &EdgeReply::Sse(SseMessage::Heartbeat { seq })).await.is_err() {
                    break;
                }
                node.emit(NodeEvent::SseHeartbeat { seq });
            }
        }
    }
    edge.borrow_mut().streams.close(&client_ip);
}
