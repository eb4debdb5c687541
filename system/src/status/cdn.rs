//! A CDN serving the status page (docs/DESIGN.md, Edge KV and degradation tiers): its edge KV holds the incident as the
//! regions publish it (a write becomes visible after the KV's propagation delay), its edge worker
//! renders pages through the degradation tiers (edge KV, then the origin API of each region in
//! turn, then the stale cached page, then the static fallback page) and answers DNS health
//! checks, and its SSE hub streams timeline updates to live viewers, resuming from Last-Event-ID.
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
use super::sse::{Connections, Cursor};
use crate::net::Net;
use crate::telemetry::{NodeEvent, NodeRole, Telemetry};
use crate::wire;

/// The edge's state: the KV's visible value and when a region last refreshed it, the last page
/// rendered, and the SSE streams open per IP.
#[derive(Default)]
struct Edge {
    kv: Option<(Incident, Instant)>,
    cached: Option<Incident>,
    streams: Connections,
}

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

/// Renders a page through the degradation tiers.
async fn page<N: Net, T: Telemetry>(node: &Node<N, T>, edge: &RefCell<Edge>) -> EdgeReply {
    let fresh_kv = edge.borrow().kv.as_ref().filter(|(_, at)| at.elapsed() <= node.config.kv_max_age).cloned();
    if let Some((doc, _)) = fresh_kv {
        edge.borrow_mut().cached = Some(doc.clone());
        return EdgeReply::Page { tier: Tier::EdgeKv, doc: Some(doc) };
    }
    if let Some(doc) = from_origins(node).await {
        edge.borrow_mut().cached = Some(doc.clone());
        return EdgeReply::Page { tier: Tier::Origin, doc: Some(doc) };
    }
    match edge.borrow().cached.clone() {
        Some(doc) => EdgeReply::Page { tier: Tier::StaleCache, doc: Some(doc) },
        None => EdgeReply::Page { tier: Tier::Fallback, doc: None },
    }
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

/// Streams timeline updates to one viewer: first what it missed after `last_event_id` (nothing
/// without one: the page it loaded showed the rest), then each new one as the KV shows it, with a
/// heartbeat when there is nothing to say.
async fn subscribe<N: Net, T: Telemetry>(
    node: &Node<N, T>,
    edge: &RefCell<Edge>,
    mut kv: watch::Receiver<Incident>,
    mut stream: N::Stream,
    last_event_id: Option<String>,
    client_ip: String,
) {
    let mut cursor = match last_event_id.as_deref().map(Cursor::parse).transpose() {
        Ok(Some(cursor)) => cursor,
        Ok(None) => {
            let mut now = Cursor::default();
            now.advance(&kv.borrow());
            now
        }
        Err(e) => {
            let _ = wire::send(&mut stream, &EdgeReply::Refused(e.to_string())).await;
            return;
        }
    };
    if !edge.borrow_mut().streams.admit(&client_ip, node.config.sse_max_per_ip) {
        let refusal = format!("{client_ip} already has {} streams open", node.config.sse_max_per_ip);
        let _ = wire::send(&mut stream, &EdgeReply::Refused(refusal)).await;
        return;
    }
    let mut heartbeat = interval(node.config.sse_heartbeat);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    heartbeat.tick().await;
    let mut doc = kv.borrow_and_update().clone();
    loop {
        let mut sent = Ok(());
        for (id, update) in cursor.advance(&doc) {
            if sent.is_ok() {
                let message = SseMessage::Update { id, update };
                sent = wire::send(&mut stream, &EdgeReply::Sse(message)).await;
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
                if wire::send(&mut stream, &EdgeReply::Sse(SseMessage::Heartbeat)).await.is_err() {
                    break;
                }
            }
        }
    }
    edge.borrow_mut().streams.close(&client_ip);
}
