//! What both systems' worlds share when they register hosts: a node host (its telemetry sink, its
//! network, a fresh random stream per boot, and one for its service times).

use std::cell::Cell;

use rand_chacha::ChaCha8Rng;

use crate::log::{EventLog, HostTelemetry};
use crate::seed::Seed;

/// What every boot of a node host is handed by the harness: its telemetry sink, its network and
/// a fresh random stream per boot (`Seed::node`), so a restarted node draws anew and no other
/// host's draws move.
pub(crate) struct NodeHost<N> {
    pub telemetry: HostTelemetry,
    pub net: N,
    seed: Seed,
    host: String,
    boots: Cell<u64>,
}

impl<N> NodeHost<N> {
    pub fn new(host: &str, seed: Seed, log: &EventLog, net: N) -> NodeHost<N> {
        NodeHost { telemetry: telemetry(log, host), net, seed, host: host.to_string(), boots: Cell::new(0) }
    }

    /// Counts a boot of the host and returns that boot's random stream.
    pub(crate) fn boot(&self) -> ChaCha8Rng {
        self.boots.set(self.boots.get() + 1);
        self.seed.node(&self.host, self.boots.get())
    }

    /// The service-time stream of the host's latest boot (`Seed::service`).
    pub fn service(&self) -> ChaCha8Rng {
        self.seed.service(&self.host, self.boots.get())
    }
}

/// The telemetry sink of `host`: its events stamped with its name.
pub(crate) fn telemetry(log: &EventLog, host: &str) -> HostTelemetry {
    HostTelemetry { node: host.into(), log: log.clone() }
}
