//! The status page's settings, defaults from docs/DESIGN.md, System B: sync every 100 ms; DNS health
//! checks every 10 s of each CDN's page, 2 failures mark a CDN unhealthy; GeoDNS for the origin
//! API (**project**, to meet the design's region RTO of 10 s): each region's origin checked every
//! second, answers cached 5 s; SSE heartbeat 30 s, at most 10 connections per IP and 100,000 per
//! edge; an edge's origin misses coalesced and its stale page served while one refresh runs; the
//! notification rules live in [`NotifyConfig`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::incident::MergeRules;
use super::notify::NotifyConfig;

/// What a DNS health check of a CDN asks (docs/DESIGN.md, DNS failover).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsCheck {
    /// The page itself: a server error or the static fallback page fails the check.
    #[default]
    Content,
    /// Only that the edge answers (negative control: a CDN that is up but failing stays in).
    Liveness,
}

/// How a region stamps its writes for last-writer-wins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockMode {
    /// Hybrid logical clock: a write follows everything its region has seen.
    #[default]
    Hlc,
    /// The region's own wall clock, skew and all (negative control: loses causally later writes).
    Wall,
}

#[derive(Clone, Debug)]
pub struct StatusConfig {
    /// Status region hosts; a region's index is its node id.
    pub regions: Vec<String>,
    /// CDN hosts, in the DNS's default preference order.
    pub cdns: Vec<String>,
    pub notifier: String,
    /// The endpoint host of each notification channel.
    pub channels: Vec<(String, String)>,
    pub sync_interval: Duration,
    pub clock: ClockMode,
    /// How merges resolve concurrent writes (the design's rules unless a negative control).
    pub merge: MergeRules,
    /// A region ships its document to off-site storage this often (never when absent).
    pub backup_every: Option<Duration>,
    /// A remote hybrid timestamp further ahead than this is refused.
    pub max_drift: Duration,
    /// A region republishes its state to the edge KV at least this often.
    pub kv_refresh: Duration,
    /// How long a KV write takes to become visible at an edge.
    pub kv_propagation: Duration,
    /// An edge stops trusting a KV entry no region has refreshed for this long.
    pub kv_max_age: Duration,
    /// How long a region waits for a peer region or a CDN.
    pub peer_timeout: Duration,
    /// How long an edge worker waits for the origins when its KV is stale: well under a viewer's
    /// patience, so that with every origin silent the stale-cache tier still answers in time.
    pub origin_timeout: Duration,
    pub dns_check: DnsCheck,
    pub dns_check_interval: Duration,
    pub dns_check_timeout: Duration,
    /// Consecutive failed checks that mark a CDN unhealthy.
    pub dns_unhealthy_after: u32,
    pub dns_ttl: Duration,
    /// GeoDNS for the origin API: the DNS checks each region's origin this often, within
    /// `geo_check_timeout`, `dns_unhealthy_after` failures taking it out of answers, which carry
    /// `geo_ttl`.
    pub geo_check_interval: Duration,
    pub geo_check_timeout: Duration,
    pub geo_ttl: Duration,
    pub sse_heartbeat: Duration,
    pub sse_max_per_ip: usize,
    /// Streams one edge's hub holds at once.
    pub sse_max_per_edge: usize,
    /// Whether hubs push component status changes and the resolution (else timeline updates only:
    /// a negative control).
    pub sse_status_events: bool,
    /// An edge serves a page it got from the origins for this long without asking them again.
    pub page_ttl: Duration,
    /// Concurrent misses at an edge share one origin request (else each asks for itself).
    pub coalescing: bool,
    /// Past `page_ttl`, the edge serves its cached page at once while a refresh goes to the origins
    /// in the background (else the view waits for the origins).
    pub stale_while_revalidate: bool,
    pub notify: NotifyConfig,
    pub notify_workers: usize,
}

impl Default for StatusConfig {
    fn default() -> Self {
        StatusConfig {
            regions: Vec::new(),
            cdns: Vec::new(),
            notifier: "notifier".into(),
            channels: Vec::new(),
            sync_interval: Duration::from_millis(100),
            clock: ClockMode::Hlc,
            merge: MergeRules::default(),
            backup_every: None,
            max_drift: Duration::from_secs(300),
            kv_refresh: Duration::from_secs(10),
            kv_propagation: Duration::from_secs(2),
            kv_max_age: Duration::from_secs(60),
            peer_timeout: Duration::from_secs(1),
            origin_timeout: Duration::from_millis(500),
            dns_check: DnsCheck::Content,
            dns_check_interval: Duration::from_secs(10),
            dns_check_timeout: Duration::from_secs(2),
            dns_unhealthy_after: 2,
            dns_ttl: Duration::from_secs(60),
            geo_check_interval: Duration::from_secs(1),
            geo_check_timeout: Duration::from_millis(500),
            geo_ttl: Duration::from_secs(5),
            sse_heartbeat: Duration::from_secs(30),
            sse_max_per_ip: 10,
            sse_max_per_edge: 100_000,
            sse_status_events: true,
            page_ttl: Duration::from_secs(5),
            coalescing: true,
            stale_while_revalidate: true,
            notify: NotifyConfig::default(),
            notify_workers: 8,
        }
    }
}
