//! The `[ssr]` table: personalized pages streamed with SSR (docs/DESIGN.md, Streaming SSR). A share
//! of the sessions' reads are views of a personalized page: a shell the PoP's isolate renders in
//! `render_service` on average, plus the page's Suspense boundaries (`[[ssr.boundary]]`), each
//! named, with its data (`replica`, `read_your_writes`, or `upstream` with the upstream service's
//! mean `service` time for it); whether a view carries the session's position (`carry_position`,
//! the negative control's switch); and the upstream service's host (`[ssr.upstream]`: its distance
//! from the PoPs, workers, queue, and how long a PoP waits for it). Value bounds are in `limits`;
//! what they cannot say (a boundary's service time where its data needs one, names unique, an
//! upstream table only for a page that calls it) is checked here.

use std::time::Duration;

use edgesim_system::edge::config::{Boundary, Data, EdgeConfig, UpstreamConfig};
use serde::{Deserialize, Serialize};

use crate::units::Dur;

/// Streaming SSR's personalized page and how often sessions view it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Ssr {
    /// Of the sessions' reads, the share that are views of the page.
    pub share: f64,
    /// Mean time an isolate takes to render the page's shell.
    #[serde(default = "default_render_service")]
    pub render_service: Dur,
    /// The page's Suspense boundaries, in page order.
    #[serde(default, rename = "boundary")]
    pub boundaries: Vec<SsrBoundary>,
    /// Whether a view carries the session's read-your-writes position to the PoP; `false` is the
    /// negative control: its `read_your_writes` boundaries read whatever the replica holds.
    #[serde(default = "carried")]
    pub carry_position: bool,
    /// The upstream service the `upstream` boundaries call; `None`: its defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamSettings>,
}

/// `[ssr.upstream]`: the upstream service's host. One for the whole world, the same distance from
/// every PoP (docs/DESIGN.md, Streaming SSR: the upstream service).
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamSettings {
    /// One-way latency between every PoP and the service (the WAN's jitter added).
    pub latency: Dur,
    pub workers: usize,
    /// Calls that may wait for a worker; one more is shed.
    pub queue_limit: usize,
    /// How long a PoP waits for a call's answer before it sends the boundary's error fallback.
    pub timeout: Dur,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        let service = EdgeConfig::default().upstream;
        UpstreamSettings {
            latency: Dur(Duration::from_millis(20)),
            workers: service.workers,
            queue_limit: service.queue_limit,
            timeout: Dur(service.timeout),
        }
    }
}

/// One Suspense boundary of the page.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SsrBoundary {
    pub name: String,
    pub data: DataKind,
    /// The upstream service's mean service time for this boundary's call; only for `upstream`
    /// data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Dur>,
}

/// Where a boundary's data comes from, as a scenario file names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    /// The key's row from the PoP's replica, whatever it holds.
    Replica,
    /// The key's row once the replica holds the session's position, else from the primary.
    ReadYourWrites,
    /// A call to the upstream service, over the network.
    Upstream,
}

fn carried() -> bool {
    true
}

fn default_render_service() -> Dur {
    Dur::parse("2ms").expect("a valid duration")
}

impl Ssr {
    /// The first problem of the table: the index of the boundary it is in (`None`: the table's),
    /// and what it is.
    pub fn problem(&self) -> Option<(Option<usize>, String)> {
        if self.boundaries.is_empty() {
            return Some((None, "[ssr] needs at least one [[ssr.boundary]]".into()));
        }
        if self.upstream.is_some() && !self.calls_upstream() {
            return Some((None, "[ssr.upstream] is set, but no [[ssr.boundary]] has `upstream` data".into()));
        }
        self.boundaries.iter().enumerate().find_map(|(i, b)| {
            let name = &b.name;
            let problem = if name.is_empty() || name.chars().any(char::is_control) {
                Some(format!("boundary name `{name}` must be non-empty, without control characters"))
            } else if self.boundaries[..i].iter().any(|x| x.name == *name) {
                Some(format!("boundary `{name}` is defined twice"))
            } else {
                match (b.data, b.service) {
                    (DataKind::Upstream, None) => Some(format!("boundary `{name}`: `upstream` data needs a `service`")),
                    (DataKind::Replica | DataKind::ReadYourWrites, Some(_)) => {
                        Some(format!("boundary `{name}`: only `upstream` data has a `service`"))
                    }
                    _ => None,
                }
            };
            problem.map(|p| (Some(i), p))
        })
    }

    /// The page's boundaries as the PoPs' settings hold them.
    pub fn boundaries(&self) -> Vec<Boundary> {
        let data = |b: &SsrBoundary| match b.data {
            DataKind::Replica => Data::Replica,
            DataKind::ReadYourWrites => Data::ReadYourWrites,
            DataKind::Upstream => Data::Upstream { service: b.service.map_or_else(Default::default, |l| l.0) },
        };
        self.boundaries.iter().map(|b| Boundary { name: b.name.clone(), data: data(b) }).collect()
    }

    /// Whether a boundary calls the upstream service, which then is a host of the world.
    pub fn calls_upstream(&self) -> bool {
        self.boundaries.iter().any(|b| b.data == DataKind::Upstream)
    }

    /// The upstream service's settings, as written or by default.
    pub fn upstream(&self) -> UpstreamSettings {
        self.upstream.unwrap_or_default()
    }

    /// The upstream service as the nodes' settings hold it, on host `host`.
    pub fn upstream_config(&self, host: &str) -> UpstreamConfig {
        let u = self.upstream();
        UpstreamConfig { host: host.to_string(), workers: u.workers, queue_limit: u.queue_limit, timeout: u.timeout.0 }
    }
}
