//! The run's seed and every random stream derived from it, as TigerBeetle's VOPR derives each
//! part of its world from one seed. A stream is named by what draws from it and an instance
//! number (a node's boot, a session id), so adding a host or a session never shifts another's
//! draws. `run_started` lists the stream families a run uses (`STREAMS`, in `streams`).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::net::Backend;

/// A run's seed: the root of every random stream of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seed(pub u64);

impl Seed {
    /// The `n`-th instance of the stream named `name` (ChaCha8).
    pub fn child(self, name: &str, n: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(xxhash_rust::xxh3::xxh3_64_with_seed(format!("{name}/{n}").as_bytes(), self.0))
    }

    /// The stream of the `boot`-th start of a node host: its timers' jitter, its backoff.
    pub fn node(self, host: &str, boot: u64) -> ChaCha8Rng {
        self.child(&format!("node/{host}"), boot)
    }

    /// The stream of the `boot`-th start of a node host that its requests' service times are
    /// drawn from, so that the load a node serves never moves its other draws.
    pub fn service(self, host: &str, boot: u64) -> ChaCha8Rng {
        self.child(&format!("service/{host}"), boot)
    }
}

/// The stream families a run on `backend` draws from, by name and what draws from them;
/// `run_started` lists them.
pub fn streams(backend: Backend) -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    let network = match backend {
        Backend::Turmoil => TURMOIL_STREAMS,
        Backend::Net => NET_STREAMS,
    };
    network.iter().chain(STREAMS)
}

/// turmoil's own generator (link delays within each link's jitter, host runtimes' scheduling)
/// is seeded with the run's seed itself.
const TURMOIL_STREAMS: &[(&str, &str)] = &[("turmoil", "link delays, host runtimes (the run's seed itself)")];

/// The event-driven backend draws link delays from its own stream; its runtime's scheduling
/// (tokio's generator) is seeded with the run's seed itself.
const NET_STREAMS: &[(&str, &str)] = &[
    ("links/0", "link delays within each link's jitter"),
    ("runtime", "the host runtime's scheduling (the run's seed itself)"),
];

/// The stream families every run draws from.
const STREAMS: &[(&str, &str)] = &[
    ("loss/0", "message loss on lossy links: which segments are retransmitted, and how often"),
    ("node/HOST/BOOT", "a node host's boot: timer jitter, backoff"),
    ("service/HOST/BOOT", "a node host's boot: its requests' service times (`[runtime]`)"),
    ("session/ID", "an edge session: arrivals, reads or writes, keys, values, each write's retry stream"),
    ("operator/REGION", "a status region's operator: edit times and components"),
    ("viewer/ID", "a status page viewer: view times"),
    ("receiver/HOST/0", "a subscriber endpoint: which deliveries it fails"),
    ("schedule/0", "the fault schedule: the time of each fault written with a range (`at = \"10s..40s\"`)"),
    ("schedule/1", "the fault schedule: a `[swarm]`'s faults, their kinds, targets, times, lengths, rates"),
];
