//! Settings of the edge platform's nodes. Defaults: docs/DESIGN.md, System A; the harness sets them
//! from the scenario file.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::batch::BatchPolicy;
use super::isr::Lock;

/// When the primary acknowledges a write relative to the standby (docs/DESIGN.md, Writes and the
/// standby: with an asynchronous standby up to ~1 s of acknowledged writes can be lost; with a
/// synchronous standby none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StandbyMode {
    /// Acknowledge once the standby holds the frame.
    Sync,
    /// Acknowledge at once; the standby catches up in the background.
    Async,
}

/// What a primary with a synchronous standby does once that standby is lost (docs/DESIGN.md,
/// Writes and the standby: standby loss). Either way it raises the `standby_lost` alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StandbyLoss {
    /// Acknowledge no write until a standby attaches again and holds it: no acknowledged write
    /// can be lost, and writes are unavailable meanwhile.
    Block,
    /// Acknowledge writes on the primary alone until a standby attaches again: writes stay
    /// available, and those acknowledged meanwhile are lost if the primary is lost too.
    Degrade,
}

/// What a PoP does with a write no primary acknowledges (issue 3: "writes during failover: fail
/// fast or queue at the edge and replay").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeWrites {
    /// The client gets the error at once (and may retry).
    FailFast,
    /// The PoP holds the write and replays it, in order, until a primary acknowledges it.
    Queue,
}

#[derive(Clone, Debug)]
pub struct EdgeConfig {
    /// The primary at the start (generation 1); later the control plane's route says.
    pub primary: String,
    pub standby: String,
    pub control: String,
    pub standby_mode: StandbyMode,
    pub standby_loss: StandbyLoss,
    /// Batching of the primary's stream to distributors.
    pub batch: BatchPolicy,
    /// Frames the primary (and standby) keep for followers that fall behind.
    pub retain_frames: u64,
    /// Frames a distributor keeps to serve re-requests.
    pub distributor_frames: u64,
    /// Frames a replica holds out of order while it waits for a gap to fill.
    pub max_pending_frames: usize,
    pub heartbeat: Duration,
    /// Silence on a stream after which the peer is considered gone; also how long a primary waits
    /// for a synchronous standby's acknowledgements to advance before it considers it lost.
    pub peer_timeout: Duration,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// How long a read-your-writes read waits for the local replica before going to the primary.
    pub ryw_wait: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub failover: FailoverConfig,
    /// Each PoP's isolates (docs/DESIGN.md, Service time and capacity).
    pub pop_runtime: Capacity,
    /// The primary's (and a promoted standby's) database workers.
    pub primary_runtime: Capacity,
    /// Page caching at the PoPs (`[isr]`).
    pub isr: IsrConfig,
    /// The Suspense boundaries of the personalized page a PoP streams (`[ssr]`), in page order;
    /// empty without streaming SSR.
    pub ssr: Vec<Boundary>,
    /// The upstream service the page's `upstream` boundaries call.
    pub upstream: UpstreamConfig,
}

/// One Suspense boundary of a page streamed with SSR (docs/DESIGN.md, Streaming SSR).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Boundary {
    pub name: String,
    pub data: Data,
}

/// Where a Suspense boundary's data comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Data {
    /// The key's row from the PoP's replica, whatever it holds.
    Replica,
    /// The key's row as read-your-writes serves it: from the replica once it holds the session's
    /// position (waiting up to `ryw_wait`), else from the primary.
    ReadYourWrites,
    /// A call to the upstream service (`upstream`), which takes `service` on average to answer it
    /// once one of its workers is free.
    Upstream { service: Duration },
}

/// The upstream service a streamed page's `upstream` boundaries call (docs/DESIGN.md, Streaming
/// SSR: the upstream service): its host, its workers and queue, and how long a PoP waits for its
/// answer before it sends the boundary's error fallback. Each call's mean service time is its
/// boundary's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamConfig {
    pub host: String,
    pub workers: usize,
    /// Calls that may wait for a worker; one more is shed.
    pub queue_limit: usize,
    /// How long a PoP waits for a call's answer, connecting included.
    pub timeout: Duration,
}

/// Incremental static regeneration (docs/DESIGN.md, ISR).
#[derive(Clone, Copy, Debug)]
pub struct IsrConfig {
    /// A cached page older than this is stale: still served, and regenerated in the background.
    pub revalidate: Duration,
    pub lock: Lock,
}

/// The control plane's timings (docs/DESIGN.md, Primary loss: health checks every 5 s, failure confirmed
/// at 15 s, failover at 30 s) and the safety mechanisms tests may switch off as negative controls.
#[derive(Clone, Debug)]
pub struct FailoverConfig {
    pub health_interval: Duration,
    pub health_timeout: Duration,
    /// Consecutive missed checks that confirm a failure.
    pub confirm_after: u32,
    /// Time from confirmation to failover.
    pub failover_after: Duration,
    /// A primary acknowledges writes only within this long of its last health check.
    pub lease: Duration,
    /// Test-only negative control: without fencing, a cut-off primary keeps acknowledging.
    pub fencing: bool,
    /// Test-only negative control: without the lineage check, a follower applies frames that do not
    /// continue its history.
    pub lineage_check: bool,
    /// Test-only negative control: without the acknowledgement-progress check, a primary never
    /// notices that its synchronous standby's acknowledgements stopped advancing while the stream
    /// to it still looks alive, and waits for them for good.
    pub standby_ack_check: bool,
    pub edge_writes: EdgeWrites,
    /// Writes a PoP holds at most in queue mode; one more fails at once.
    pub queue_limit: usize,
    /// How long a held write may wait for a primary's acknowledgement before it fails.
    pub queue_timeout: Duration,
}

impl Default for FailoverConfig {
    fn default() -> Self {
        FailoverConfig {
            health_interval: Duration::from_secs(5),
            health_timeout: Duration::from_secs(2),
            confirm_after: 3,
            failover_after: Duration::from_secs(15),
            lease: Duration::from_secs(10),
            fencing: true,
            lineage_check: true,
            standby_ack_check: true,
            edge_writes: EdgeWrites::FailFast,
            queue_limit: 256,
            queue_timeout: Duration::from_secs(60),
        }
    }
}

impl Default for EdgeConfig {
    fn default() -> Self {
        EdgeConfig {
            primary: "primary".into(),
            standby: "standby".into(),
            control: "control".into(),
            standby_mode: StandbyMode::Sync,
            standby_loss: StandbyLoss::Block,
            batch: BatchPolicy { max_bytes: 64 << 10, max_delay: Duration::from_millis(10) },
            retain_frames: 10_000,
            distributor_frames: 1_000,
            max_pending_frames: 10_000,
            heartbeat: Duration::from_millis(500),
            peer_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(2),
            ryw_wait: Duration::from_millis(100),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            failover: FailoverConfig::default(),
            pop_runtime: Capacity {
                workers: 16,
                queue_limit: 256,
                read: Duration::from_micros(500),
                write: Duration::from_micros(500),
                render: Duration::from_micros(500),
                cold_start: ISOLATE_COLD_START,
                evict_after: Duration::from_secs(30),
                warm_pool: 4,
            },
            primary_runtime: Capacity {
                render: Duration::from_millis(20),
                ..Capacity::warm(8, 1024, Duration::from_micros(500), Duration::from_millis(1))
            },
            isr: IsrConfig { revalidate: Duration::from_secs(300), lock: Lock::Pop },
            ssr: Vec::new(),
            upstream: UpstreamConfig {
                host: "upstream".into(),
                workers: 32,
                queue_limit: 256,
                timeout: Duration::from_secs(1),
            },
        }
    }
}

/// What a request asks of a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    Read,
    Write,
    /// Rendering a page: at the origin (ISR), or a streamed page's shell at a PoP (SSR).
    Render,
}

/// A node's workers, its queue and the mean service time of each kind of work.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Capacity {
    pub workers: usize,
    /// Requests that may wait for a worker; one more is shed.
    pub queue_limit: usize,
    pub read: Duration,
    pub write: Duration,
    pub render: Duration,
    /// What starting a worker that is not warm costs.
    pub cold_start: Duration,
    /// An idle worker beyond the warm pool is evicted after this long.
    pub evict_after: Duration,
    /// Workers started at boot and kept warm however long they idle.
    pub warm_pool: usize,
}

/// Cold start of a V8 isolate (docs/DESIGN.md, Service time and capacity).
pub const ISOLATE_COLD_START: Duration = Duration::from_millis(5);
/// Cold start of a container, the design's comparison.
pub const CONTAINER_COLD_START: Duration = Duration::from_millis(500);

impl Capacity {
    /// Workers that are always warm: every one is in the warm pool. A render costs as a write.
    pub fn warm(workers: usize, queue_limit: usize, read: Duration, write: Duration) -> Self {
        Capacity {
            workers,
            queue_limit,
            read,
            write,
            render: write,
            cold_start: Duration::ZERO,
            evict_after: Duration::MAX,
            warm_pool: workers,
        }
    }

    pub fn mean(&self, work: Work) -> Duration {
        match work {
            Work::Read => self.read,
            Work::Write => self.write,
            Work::Render => self.render,
        }
    }
}
