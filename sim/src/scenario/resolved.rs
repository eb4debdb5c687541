//! The scenario as a run resolved it, every default filled in and every fault target named as the
//! hosts it reaches, and the seed's stream families: what `run_started` carries, so that a tool
//! reading only the event log knows the world, the workload and the fault schedule it ran
//! (docs/EVENTS.md, `run_started`).

use serde::Serialize;

use crate::net::Backend;
use crate::scenario::ssr::Ssr;
use crate::scenario::{
    Action, Anycast, FailoverSettings, Isr, Network, Region, ReplicationSettings, Runtime, Scenario, Workload,
};
use crate::seed::streams;
use crate::status::settings::{CHANNELS, StatusSettings};
use crate::units::Dur;

#[derive(Clone, Debug, Serialize)]
pub struct Resolved {
    pub description: String,
    pub duration: Dur,
    pub settle: Dur,
    pub tick: Dur,
    /// The simulated network, unless it is the default (`net`).
    #[serde(skip_serializing_if = "Backend::is_default")]
    pub backend: Backend,
    /// Every host of the world: node hosts, then client (or viewer) hosts.
    pub hosts: Vec<String>,
    /// Hosts that run system nodes (they can crash and restart).
    pub node_hosts: Vec<String>,
    /// The edge platform's world and workload, for an edge platform run.
    pub edge: Option<EdgeWorld>,
    /// The status page's world and workload, for a status page run.
    pub status: Option<StatusWorld>,
    /// The fault schedule, in the order it is applied.
    pub faults: Vec<ScheduledFault>,
    /// The budgets as the scenario file writes them.
    pub budgets: Vec<String>,
    /// The random stream families the run draws from (`seed::streams`).
    pub streams: Vec<SeedStream>,
}

#[derive(Clone, Debug, Serialize)]
pub struct EdgeWorld {
    pub primary_region: String,
    /// Each region with its distributor, PoPs and client host.
    pub regions: Vec<Region>,
    pub network: Network,
    pub replication: ReplicationSettings,
    pub workload: Workload,
    pub failover: FailoverSettings,
    pub runtime: Runtime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isr: Option<Isr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anycast: Option<Anycast>,
    pub ssr: Option<Ssr>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StatusWorld {
    /// Every `[status]` setting, defaults filled in (`subscribers` is the subscriber count).
    #[serde(flatten)]
    pub settings: StatusSettings,
    /// Notification channels, each with the host of its subscriber endpoints; every subscriber
    /// is notified on each.
    pub channels: Vec<Channel>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Channel {
    pub name: String,
    pub host: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScheduledFault {
    pub at: Dur,
    pub line: usize,
    #[serde(flatten)]
    pub action: Action,
}

#[derive(Clone, Debug, Serialize)]
pub struct SeedStream {
    pub name: String,
    pub draws: String,
}

impl Resolved {
    pub fn of(s: &Scenario) -> Resolved {
        let edge = s.status.is_none().then(|| EdgeWorld {
            primary_region: s.primary_region.clone(),
            regions: s.regions.clone(),
            network: s.network.clone(),
            replication: s.replication.clone(),
            workload: s.workload.clone(),
            failover: s.failover.clone(),
            runtime: s.runtime.clone(),
            isr: s.isr,
            anycast: s.anycast,
            ssr: s.ssr.clone(),
        });
        let status = s.status.as_ref().map(|settings| StatusWorld {
            settings: settings.clone(),
            channels: CHANNELS
                .iter()
                .map(|(name, host)| Channel { name: name.to_string(), host: host.to_string() })
                .collect(),
        });
        Resolved {
            description: s.description.clone(),
            duration: Dur(s.duration),
            settle: Dur(s.settle),
            tick: Dur(s.tick),
            backend: s.backend,
            hosts: s.hosts(),
            node_hosts: s.node_hosts(),
            edge,
            status,
            faults: s
                .faults
                .iter()
                .map(|f| ScheduledFault { at: Dur(f.at), line: f.line, action: f.action.clone() })
                .collect(),
            budgets: s.budgets.iter().map(|b| b.text.clone()).collect(),
            streams: streams(s.backend)
                .map(|(name, draws)| SeedStream { name: name.to_string(), draws: draws.to_string() })
                .collect(),
        }
    }
}
