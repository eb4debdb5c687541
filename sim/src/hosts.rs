//! What both systems' worlds share when they register hosts on turmoil: a node host (its
//! telemetry sink, its network, a fresh random stream per boot, and one for its service times) and a link's latency.

use std::cell::Cell;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use turmoil::Sim;

use crate::log::{EventLog, HostTelemetry};
use crate::seed::Seed;
use crate::turmoil_net::{Cuts, TurmoilNet};

/// What every boot of a node host is handed by the harness: its telemetry sink, its network and
/// a fresh random stream per boot (`Seed::node`), so a restarted node draws anew and no other
/// host's draws move.
pub struct NodeHost {
    pub telemetry: HostTelemetry,
    pub net: TurmoilNet,
    seed: Seed,
    host: String,
    boots: Cell<u64>,
}

impl NodeHost {
    pub fn new(host: &str, seed: Seed, log: &EventLog, cuts: &Cuts) -> NodeHost {
        NodeHost {
            telemetry: telemetry(log, host),
            net: TurmoilNet::new(host, cuts),
            seed,
            host: host.to_string(),
            boots: Cell::new(0),
        }
    }

    /// Counts a boot of the host and returns that boot's random stream.
    pub fn boot(&self) -> ChaCha8Rng {
        self.boots.set(self.boots.get() + 1);
        self.seed.node(&self.host, self.boots.get())
    }

    /// The service-time stream of the host's latest boot (`Seed::service`).
    pub fn service(&self) -> ChaCha8Rng {
        self.seed.service(&self.host, self.boots.get())
    }
}

/// The telemetry sink of `host`: its events stamped with its name.
pub fn telemetry(log: &EventLog, host: &str) -> HostTelemetry {
    HostTelemetry { node: host.into(), log: log.clone() }
}

/// Sets the one-way latency of a link; turmoil draws each message's delay between the latency
/// and the latency plus the jitter.
pub fn link(sim: &Sim<'_>, a: &str, b: &str, latency: Duration, jitter: Duration) {
    sim.set_link_latency(a, b, latency);
    sim.set_link_max_message_latency(a, b, latency + jitter);
}
