//! The status page's messages and ports: operators' edits and page reads at a region's origin API,
//! state sync between regions, edge KV writes, page requests and SSE streams at a CDN, DNS queries,
//! and the notification pipeline's hand-offs.

use serde::{Deserialize, Serialize};

use super::hlc::Timestamp;
use super::incident::{ComponentStatus, Incident, TimelineUpdate};
use super::sse::{Refusal, SseEvent};
use super::vclock::VClock;

/// A status region's origin API (edits, reads) and its sync port.
pub const ORIGIN_PORT: u16 = 9000;
/// A CDN's edge: page views, SSE streams, health checks, and its edge KV's writes.
pub const EDGE_PORT: u16 = 8080;
/// The authoritative DNS server.
pub const DNS_PORT: u16 = 53;
/// The notification pipeline's intake.
pub(crate) const NOTIFY_PORT: u16 = 9500;
/// A subscriber endpoint (webhook receiver, mail relay).
pub const RECEIVER_PORT: u16 = 9600;

/// An operator's edit of the incident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Edit {
    Post {
        text: String,
        critical: bool,
    },
    Status {
        component: String,
        status: ComponentStatus,
    },
    /// Lists a component on the page.
    AddComponent {
        component: String,
    },
    /// Takes a component off the page.
    RemoveComponent {
        component: String,
    },
    /// Retracts every timeline update with this text that the region holds.
    Retract {
        text: String,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum OriginRequest {
    Edit(Edit),
    /// The region's current document.
    Get,
    /// A peer region's state, to merge.
    Sync(Incident),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum OriginReply {
    /// The edit is applied here under this timestamp; the region's causal history with it; for
    /// a retraction, the timestamps of the updates it took off the timeline.
    Written {
        at: Timestamp,
        history: VClock,
        retracted: Vec<Timestamp>,
    },
    Doc(Incident),
    /// What the receiving region now holds.
    Synced(VClock),
}

/// Which degradation tier answered a page view, best first (docs/DESIGN.md, Edge KV and degradation tiers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    EdgeKv,
    Origin,
    StaleCache,
    Fallback,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::EdgeKv, Tier::Origin, Tier::StaleCache, Tier::Fallback];

    pub fn name(self) -> &'static str {
        match self {
            Tier::EdgeKv => "edge_kv",
            Tier::Origin => "origin",
            Tier::StaleCache => "stale_cache",
            Tier::Fallback => "fallback",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum EdgeRequest {
    Page,
    /// A DNS health check.
    Health,
    /// Opens an SSE stream; `last_event_id` resumes after what the viewer already saw.
    Subscribe {
        last_event_id: Option<String>,
        client_ip: String,
    },
    /// A region publishes its state to this CDN's edge KV.
    KvPut(Incident),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum EdgeReply {
    /// A rendered page; `doc` is absent on the static fallback page.
    Page {
        tier: Tier,
        doc: Option<Incident>,
    },
    Healthy,
    Stored,
    /// One SSE message on a subscribed stream.
    Sse(SseMessage),
    /// An SSE stream the hub would not open.
    Refused(Refusal),
    /// A server error (5xx): the edge is up but failing.
    ServerError(u16),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SseMessage {
    /// An event; `id` is the Last-Event-ID to resume after it.
    Event { id: String, event: SseEvent },
    /// Sent when there is nothing to say; `seq` numbers the hub's heartbeats since it started.
    Heartbeat { seq: u64 },
}

/// The names the status page's DNS answers for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DnsName {
    /// The page, which viewers load: the CDNs.
    Page,
    /// The origin API, which operators edit at: GeoDNS over the status regions.
    Origin,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DnsQuery {
    pub name: DnsName,
    /// The resolver's region, which sets the preference order (for the origin, its own region
    /// first).
    pub region: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DnsAnswer {
    /// CDN or region hosts, preferred first.
    pub hosts: Vec<String>,
    pub ttl_ms: u64,
}

/// A timeline update handed to the notification pipeline (by every region that learns it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Notice {
    pub update: TimelineUpdate,
}

/// One notification to a subscriber's endpoint; or, with `unreachable`, the notice telling the
/// subscriber that its endpoint on that channel could not be reached after the last retry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub idempotency_key: String,
    pub event: String,
    pub subscriber: u32,
    pub channel: String,
    pub unreachable: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DeliveryReply {
    Accepted,
    Failed(String),
    /// The provider's rate limit: send nothing more on this channel for this long.
    SlowDown {
        retry_after_ms: u64,
    },
}

/// The notification event id of the timeline update written at `at`: its writer and timestamp.
pub fn event_id(at: &Timestamp) -> String {
    format!("{}.{}.{}", at.node, at.l, at.c)
}
