//! The `[ssr]` table: personalized pages streamed with SSR (docs/DESIGN.md, Streaming SSR). A share
//! of the sessions' reads are views of a personalized page: a shell the PoP's isolate renders in
//! `render_service` on average, plus the page's Suspense boundaries (`[[ssr.boundary]]`), each
//! named, with its data (`replica`, `read_your_writes`, or `upstream` with its mean `latency`);
//! whether a view carries the session's position (`carry_position`, the negative control's switch).
//! Value bounds are in `limits`; what they cannot say (a boundary's latency where its data needs
//! one, names unique) is checked here.

use edgesim_system::edge::config::{Boundary, Data};
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
}

/// One Suspense boundary of the page.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SsrBoundary {
    pub name: String,
    pub data: DataKind,
    /// The upstream call's mean latency; only for `upstream` data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Dur>,
}

/// Where a boundary's data comes from, as a scenario file names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    /// The key's row from the PoP's replica, whatever it holds.
    Replica,
    /// The key's row once the replica holds the session's position, else from the primary.
    ReadYourWrites,
    /// A call to a service outside the platform.
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
        self.boundaries.iter().enumerate().find_map(|(i, b)| {
            let name = &b.name;
            let problem = if name.is_empty() || name.chars().any(char::is_control) {
                Some(format!("boundary name `{name}` must be non-empty, without control characters"))
            } else if self.boundaries[..i].iter().any(|x| x.name == *name) {
                Some(format!("boundary `{name}` is defined twice"))
            } else {
                match (b.data, b.latency) {
                    (DataKind::Upstream, None) => Some(format!("boundary `{name}`: `upstream` data needs a `latency`")),
                    (DataKind::Replica | DataKind::ReadYourWrites, Some(_)) => {
                        Some(format!("boundary `{name}`: only `upstream` data has a `latency`"))
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
            DataKind::Upstream => Data::Upstream { latency: b.latency.map_or_else(Default::default, |l| l.0) },
        };
        self.boundaries.iter().map(|b| Boundary { name: b.name.clone(), data: data(b) }).collect()
    }
}
