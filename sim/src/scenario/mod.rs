//! Scenario files: the world (regions, PoPs, link latencies), the replication settings, the
//! workload and the fault schedule, read from TOML and checked before anything runs. Every error
//! names the file, the line and the problem. `docs/SCENARIOS.md` documents each key.

pub mod budget;
pub mod compose;
pub mod limits;
pub mod resolved;
pub(crate) mod roles;
pub mod ssr;
pub mod swarm;

use std::path::Path;
use std::time::Duration;

use edgesim_system::edge::batch::BatchPolicy;
use edgesim_system::edge::config::{
    CONTAINER_COLD_START, Capacity, EdgeConfig, EdgeWrites, FailoverConfig, ISOLATE_COLD_START, IsrConfig, StandbyLoss,
    StandbyMode,
};
use edgesim_system::edge::isr::Lock;
use edgesim_system::edge::proto::Consistency;
use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeTable;

use crate::net::Backend;
use crate::seed::Seed;
use crate::status::settings::{CHANNELS, StatusSettings};
use crate::units::Dur;
use budget::Budget;
use limits::{
    MAX_EDGE_RATE, MAX_EDGE_REQUESTS, MAX_EDITS, MAX_HOSTS, MAX_NOTIFICATIONS, MAX_VIEW_RATE, MAX_VIEWS,
    host_name_problem,
};
use roles::EdgeRole;
pub use roles::{CONTROL, PRIMARY, STANDBY, UPSTREAM};
use ssr::Ssr;
use swarm::{Between, EVERYONE, EXCEPT, Episode, FaultStep, Liveness, LivenessFile, Swarm, SwarmFile};

/// Byte offsets of a piece of the scenario file.
type ByteSpan = std::ops::Range<usize>;

/// A problem with a scenario file; line 0 means the file as a whole.
#[derive(Debug, thiserror::Error)]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.file, self.message),
            line => write!(f, "{}:{line}:{}: {}", self.file, self.column, self.message),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: Spanned<String>,
    description: Option<Spanned<String>>,
    #[serde(default = "default_seed")]
    seed: u64,
    duration: Spanned<Dur>,
    #[serde(default = "default_settle")]
    settle: Dur,
    #[serde(default = "default_tick")]
    tick: Dur,
    #[serde(default)]
    backend: Backend,
    primary_region: Option<Spanned<String>>,
    #[serde(default)]
    budgets: Vec<Spanned<String>>,
    #[serde(default, rename = "region")]
    regions: Vec<RegionFile>,
    /// Present in a status page scenario, which has no edge platform.
    status: Option<Spanned<StatusSettings>>,
    #[serde(default)]
    network: Network,
    #[serde(default)]
    replication: ReplicationSettings,
    #[serde(default)]
    workload: Workload,
    #[serde(default)]
    failover: FailoverSettings,
    #[serde(default)]
    runtime: Runtime,
    isr: Option<Isr>,
    anycast: Option<Anycast>,
    ssr: Option<Ssr>,
    #[serde(default, rename = "fault")]
    faults: Vec<FaultFile>,
    swarm: Option<Spanned<SwarmFile>>,
    liveness: Option<Spanned<LivenessFile>>,
}

fn default_seed() -> u64 {
    1
}
fn default_settle() -> Dur {
    Dur(Duration::from_secs(10))
}
fn default_tick() -> Dur {
    Dur(Duration::from_millis(1))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegionFile {
    name: Spanned<String>,
    pops: Spanned<u32>,
    /// One-way latency between this region's hosts and the primary's region.
    to_primary: Dur,
}

/// One-way link latencies. Each message on a link takes between the latency and the latency plus
/// its jitter, drawn by turmoil from the seed.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    pub last_mile: Dur,
    pub last_mile_jitter: Dur,
    pub in_region: Dur,
    pub wan_jitter: Dur,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            last_mile: Dur(Duration::from_millis(3)),
            last_mile_jitter: Dur(Duration::from_millis(3)),
            in_region: Dur(Duration::from_millis(1)),
            wan_jitter: Dur(Duration::from_millis(4)),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicationSettings {
    pub standby: StandbyMode,
    /// What a primary does once its synchronous standby is lost: `degrade` or `block`.
    pub standby_loss: StandbyLoss,
    pub batch_max_bytes: usize,
    pub batch_max_delay: Dur,
    pub retain_frames: u64,
    pub distributor_frames: u64,
    pub heartbeat: Dur,
    pub peer_timeout: Dur,
    pub ryw_wait: Dur,
}

impl Default for ReplicationSettings {
    fn default() -> Self {
        let c = EdgeConfig::default();
        ReplicationSettings {
            standby: c.standby_mode,
            standby_loss: c.standby_loss,
            batch_max_bytes: c.batch.max_bytes,
            batch_max_delay: Dur(c.batch.max_delay),
            retain_frames: c.retain_frames,
            distributor_frames: c.distributor_frames,
            heartbeat: Dur(c.heartbeat),
            peer_timeout: Dur(c.peer_timeout),
            ryw_wait: Dur(c.ryw_wait),
        }
    }
}

/// The control plane's timings; defaults in docs/DESIGN.md, Primary loss.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FailoverSettings {
    pub health_interval: Dur,
    pub health_timeout: Dur,
    pub confirm_after: u32,
    pub failover_after: Dur,
    pub lease: Dur,
    /// Negative control only: `false` lets a cut-off primary keep acknowledging writes.
    pub fencing: bool,
    /// Negative control only: `false` lets followers apply frames that do not continue their history.
    pub lineage_check: bool,
    /// What a PoP does with a write no primary acknowledges: `fail_fast` or `queue` and replay.
    pub edge_writes: EdgeWrites,
    pub queue_limit: usize,
    pub queue_timeout: Dur,
}

impl Default for FailoverSettings {
    fn default() -> Self {
        let f = FailoverConfig::default();
        FailoverSettings {
            health_interval: Dur(f.health_interval),
            health_timeout: Dur(f.health_timeout),
            confirm_after: f.confirm_after,
            failover_after: Dur(f.failover_after),
            lease: Dur(f.lease),
            fencing: f.fencing,
            lineage_check: f.lineage_check,
            edge_writes: f.edge_writes,
            queue_limit: f.queue_limit,
            queue_timeout: Dur(f.queue_timeout),
        }
    }
}

/// The edge runtime's capacity: each PoP's isolates and the primary's workers, their queues and
/// mean service times; defaults in docs/DESIGN.md, Service time and capacity.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Runtime {
    /// What a PoP's workers are, and so what a cold start costs.
    pub kind: WorkerKind,
    pub isolates: usize,
    pub warm_pool: usize,
    pub evict_after: Dur,
    pub queue_limit: usize,
    pub read_service: Dur,
    pub write_service: Dur,
    pub primary_workers: usize,
    pub primary_queue_limit: usize,
    pub primary_read_service: Dur,
    pub primary_write_service: Dur,
    /// Mean time the origin (the primary) takes to render a page (`[isr]`).
    pub primary_render_service: Dur,
}

impl Default for Runtime {
    fn default() -> Self {
        let c = EdgeConfig::default();
        let (pop, primary) = (c.pop_runtime, c.primary_runtime);
        Runtime {
            kind: WorkerKind::Isolate,
            isolates: pop.workers,
            warm_pool: pop.warm_pool,
            evict_after: Dur(pop.evict_after),
            queue_limit: pop.queue_limit,
            read_service: Dur(pop.read),
            write_service: Dur(pop.write),
            primary_workers: primary.workers,
            primary_queue_limit: primary.queue_limit,
            primary_read_service: Dur(primary.read),
            primary_write_service: Dur(primary.write),
            primary_render_service: Dur(primary.render),
        }
    }
}

impl Runtime {
    fn pop(&self) -> Capacity {
        Capacity {
            workers: self.isolates,
            queue_limit: self.queue_limit,
            read: self.read_service.0,
            write: self.write_service.0,
            render: self.write_service.0,
            cold_start: match self.kind {
                WorkerKind::Isolate => ISOLATE_COLD_START,
                WorkerKind::Container => CONTAINER_COLD_START,
            },
            evict_after: self.evict_after.0,
            warm_pool: self.warm_pool,
        }
    }

    fn primary(&self) -> Capacity {
        Capacity {
            render: self.primary_render_service.0,
            ..Capacity::warm(
                self.primary_workers,
                self.primary_queue_limit,
                self.primary_read_service.0,
                self.primary_write_service.0,
            )
        }
    }
}

/// Product pages cached at the PoPs (docs/DESIGN.md, ISR). With this table, the sessions' reads
/// are page views of their key's product page.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Isr {
    /// A cached page older than this is stale: still served, and regenerated in the background.
    pub revalidate: Dur,
    /// `pop`: one regeneration per key per PoP at a time; `off`: the negative control.
    #[serde(default = "default_lock")]
    pub lock: Lock,
}

fn default_lock() -> Lock {
    Lock::Pop
}

/// Anycast routing (docs/DESIGN.md, Anycast): sessions belong to places (the site of a PoP) and
/// each request goes to the nearest PoP whose route the network announces; a PoP lost to a place
/// has its route withdrawn `detection` after the loss, and announced again `detection` after it
/// is back. Without this table each session always uses its home PoP.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Anycast {
    /// From a PoP's loss (or return) to the network's routes saying so.
    pub detection: Dur,
    /// The distance between neighbouring PoP sites of a region, added to `last_mile` per site.
    pub spacing: Dur,
    /// Negative control only: `false` drops a session's read-your-writes position when it moves.
    pub carry_position: bool,
}

impl Default for Anycast {
    fn default() -> Self {
        Anycast { detection: Dur(Duration::from_secs(3)), spacing: Dur(Duration::from_millis(5)), carry_position: true }
    }
}

/// What runs a PoP's requests (docs/DESIGN.md: V8 isolates, about 5 ms to start, against
/// containers, about 500 ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerKind {
    Isolate,
    Container,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Workload {
    /// Sessions start after this, once every stream of the topology is up, so that steady-state
    /// figures do not include the start-up race of distributors joining the primary's stream.
    pub warmup: Dur,
    pub arrivals: Arrivals,
    pub consistency: Consistency,
    pub sessions_per_region: u32,
    /// Requests per second of each session (exponential inter-arrival times).
    pub session_rate: f64,
    /// Reads per write.
    pub read_write_ratio: u32,
    pub keys: u32,
    /// After each acknowledged write the session reads the key it wrote.
    pub read_after_write: bool,
    pub value_bytes: usize,
    pub request_timeout: Dur,
    /// How many times a session retries a write that failed or timed out (same session and
    /// sequence number, so the primary recognises a write it already holds).
    pub write_retries: u32,
    /// The first retry's delay; each next one doubles, up to 8 s, scaled by a seeded factor in
    /// [0.5, 1.5).
    pub retry_backoff: Dur,
    /// Load steps: the time from `warmup` to the end is split into equal steps, in each of which
    /// sessions send `session_rate` times the step's factor. Empty: one step at factor 1.
    pub load_steps: Vec<f64>,
}

impl Workload {
    /// The load step in effect at `at` of a workload ending at `end`: its index and factor (step
    /// 0 at factor 1 without steps).
    pub(crate) fn step_at(&self, at: Duration, end: Duration) -> (usize, f64) {
        let n = self.load_steps.len();
        if n == 0 {
            return (0, 1.0);
        }
        let length = end.saturating_sub(self.warmup.0).as_secs_f64() / n as f64;
        let i = (at.saturating_sub(self.warmup.0).as_secs_f64() / length) as usize;
        let i = i.min(n - 1);
        (i, self.load_steps[i])
    }

    /// When each load step begins, with its factor.
    pub(crate) fn step_starts(&self, end: Duration) -> Vec<(usize, f64, Duration)> {
        let length = end.saturating_sub(self.warmup.0) / self.load_steps.len().max(1) as u32;
        self.load_steps.iter().enumerate().map(|(i, f)| (i, *f, self.warmup.0 + length * i as u32)).collect()
    }

    /// The largest and the mean load factor.
    fn factors(&self) -> (f64, f64) {
        if self.load_steps.is_empty() {
            return (1.0, 1.0);
        }
        let max = self.load_steps.iter().copied().fold(0.0, f64::max);
        (max, self.load_steps.iter().sum::<f64>() / self.load_steps.len() as f64)
    }
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            warmup: Dur(Duration::from_secs(1)),
            arrivals: Arrivals::Open,
            consistency: Consistency::ReadYourWrites,
            sessions_per_region: 8,
            session_rate: 5.0,
            read_write_ratio: 100,
            keys: 64,
            read_after_write: true,
            value_bytes: 64,
            request_timeout: Dur(Duration::from_secs(5)),
            write_retries: 0,
            retry_backoff: Dur(Duration::from_millis(500)),
            load_steps: Vec::new(),
        }
    }
}

/// When a session's requests are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// Each request when it is due, whether or not earlier ones were answered.
    Open,
    /// Each request when it is due or, if later, once the session's previous request ended.
    Closed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Partition,
    Repair,
    Crash,
    SilentCrash,
    Restart,
    Hold,
    Release,
    Latency,
    Loss,
    /// Every fault heals: crashed hosts restart, cut links mend, held links release, every link's
    /// latency and loss are the world's again.
    Heal,
}

impl FaultKind {
    /// As a scenario file writes it.
    pub fn written(self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::Repair => "repair",
            FaultKind::Crash => "crash",
            FaultKind::SilentCrash => "silent_crash",
            FaultKind::Restart => "restart",
            FaultKind::Hold => "hold",
            FaultKind::Release => "release",
            FaultKind::Latency => "latency",
            FaultKind::Loss => "loss",
            FaultKind::Heal => "heal",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultFile {
    at: Spanned<Between<Dur>>,
    kind: Spanned<FaultKind>,
    a: Option<Spanned<String>>,
    b: Option<Spanned<String>>,
    host: Option<Spanned<String>>,
    oneway: Option<Spanned<bool>>,
    latency: Option<Spanned<Dur>>,
    rate: Option<Spanned<f64>>,
}

/// A scheduled fault, its targets resolved to host names.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub at: Duration,
    /// The latest `at` a seed may draw (`at = "10s..40s"`); `at` itself for a fixed time.
    pub latest: Duration,
    pub action: Action,
    /// The scenario line that scheduled it.
    pub line: usize,
}

/// What a fault does, as the scheduled fault's event carries it (`kind` and its parameters).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    Partition {
        a: Vec<String>,
        b: Vec<String>,
        oneway: bool,
    },
    Repair {
        a: Vec<String>,
        b: Vec<String>,
        oneway: bool,
    },
    /// The host stops; its peers see its connections close.
    Crash {
        host: String,
    },
    /// The host is cut off from everyone, then stops: its peers notice only by silence.
    SilentCrash {
        host: String,
    },
    /// The host's software starts again (after a silent crash, its links are repaired too).
    Restart {
        host: String,
    },
    Hold {
        a: Vec<String>,
        b: Vec<String>,
    },
    Release {
        a: Vec<String>,
        b: Vec<String>,
    },
    Latency {
        a: Vec<String>,
        b: Vec<String>,
        #[serde(serialize_with = "crate::units::as_dur")]
        latency: Duration,
    },
    /// Each message on the links is lost with probability `rate` (turmoil breaks the link until a
    /// later message repairs it, so a TCP stream stalls).
    Loss {
        a: Vec<String>,
        b: Vec<String>,
        rate: f64,
    },
    /// Every fault heals (`FaultKind::Heal`).
    Heal,
}

#[derive(Clone, Debug, Serialize)]
pub struct Region {
    pub name: String,
    #[serde(serialize_with = "crate::units::as_dur")]
    pub to_primary: Duration,
    pub distributor: String,
    pub pops: Vec<String>,
    pub clients: String,
}

/// A checked scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub path: String,
    pub seed: u64,
    pub duration: Duration,
    pub settle: Duration,
    pub tick: Duration,
    /// The simulated network the run uses.
    pub backend: Backend,
    pub primary_region: String,
    pub regions: Vec<Region>,
    pub network: Network,
    pub replication: ReplicationSettings,
    pub workload: Workload,
    pub failover: FailoverSettings,
    pub runtime: Runtime,
    /// Product pages cached at the PoPs; `None`: sessions read rows, not pages.
    pub isr: Option<Isr>,
    /// Anycast routing to the nearest healthy PoP; `None`: each session uses its home PoP.
    pub anycast: Option<Anycast>,
    /// Personalized pages streamed with SSR; `None`: no session views one.
    pub ssr: Option<Ssr>,
    pub faults: Vec<Fault>,
    /// Limits every seed's run must stay within.
    pub budgets: Vec<Budget>,
    /// The status page's world, for a status page scenario (which then has no edge regions).
    pub status: Option<StatusSettings>,
    /// What may go wrong, drawn anew by each seed (`for_seed`).
    pub swarm: Option<Swarm>,
    /// The liveness phase after the faults.
    pub liveness: Option<Liveness>,
    /// The command line's `--set KEY=VALUE` overrides it was loaded with.
    pub overrides: Vec<String>,
}

impl Scenario {
    /// The scenario file at `path`, its includes spliced in (`compose`).
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Scenario::load_with(path, &[])
    }

    /// The scenario file at `path`, its includes spliced in and `overrides` applied (`compose`).
    pub(crate) fn load_with(path: &Path, overrides: &[compose::Override]) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let resolved = compose::apply(compose::resolve(path)?, &file, overrides)?;
        let mut scenario = Scenario::parse(&file, &resolved.text).map_err(|e| resolved.locate(e))?;
        scenario.overrides = overrides.iter().map(|o| o.text.clone()).collect();
        Ok(scenario)
    }

    pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
        let at = |span: ByteSpan, message: String| {
            let (line, column) = line_col(text, span.start);
            ScenarioError { file: file.to_string(), line, column, message: printable(&message) }
        };
        let doc = DeTable::parse(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            match e.message() {
                "duplicate key" => at(span.clone(), format!("duplicate key `{}`", text.get(span).unwrap_or_default())),
                other => at(span, other.to_string()),
            }
        })?;
        let doc = doc.get_ref();
        limits::check(doc, text).map_err(|(span, m)| at(span, m))?;
        applicable_sections(doc).map_err(|(span, m)| at(span, m))?;
        let raw: File = toml::from_str(text).map_err(|e| at(e.span().unwrap_or(0..0), in_user_words(e.message())))?;
        let (primary_region, regions) = match &raw.status {
            Some(status) => {
                status_problem(doc, status, raw.duration.get_ref().0).map_err(|(span, m)| at(span, m))?;
                (String::new(), Vec::new())
            }
            None => edge_regions(&raw, &at)?,
        };
        control_characters(&raw).map_err(|(span, m)| at(span, m))?;
        let duration = raw.duration.get_ref().0;
        workload_size(doc, &raw, regions.len()).map_err(|(span, m)| at(span, m))?;
        ssr_problem(doc, &raw).map_err(|(span, m)| at(span, m))?;
        let budgets = budgets(&raw).map_err(|(span, m)| at(span, m))?;
        let mut scenario = Scenario {
            name: raw.name.into_inner(),
            description: raw.description.map(Spanned::into_inner).unwrap_or_default(),
            path: file.to_string(),
            seed: raw.seed,
            duration,
            settle: raw.settle.0,
            tick: raw.tick.0,
            backend: raw.backend,
            primary_region,
            regions,
            network: raw.network,
            replication: raw.replication,
            workload: raw.workload,
            failover: raw.failover,
            runtime: raw.runtime,
            isr: raw.isr,
            anycast: raw.anycast,
            ssr: raw.ssr,
            faults: Vec::new(),
            budgets,
            status: raw.status.map(Spanned::into_inner),
            swarm: None,
            liveness: None,
            overrides: Vec::new(),
        };
        let (faults, liveness, swarm) = (&raw.faults, raw.liveness.as_ref(), raw.swarm.as_ref());
        scenario.schedule(faults, liveness, swarm, doc, text).map_err(|(span, m)| at(span, m))?;
        Ok(scenario)
    }

    /// The file's fault schedule, its liveness phase and its swarm, checked against the rest of
    /// the scenario and added to it.
    fn schedule(
        &mut self,
        faults: &[FaultFile],
        liveness: Option<&Spanned<LivenessFile>>,
        swarm: Option<&Spanned<SwarmFile>>,
        doc: &DeTable<'_>,
        text: &str,
    ) -> Result<(), (ByteSpan, String)> {
        for f in faults {
            let line = line_col(text, f.at.span().start).0;
            let fault = self.fault(f)?;
            self.faults.push(Fault { line, ..fault });
        }
        self.faults.sort_by_key(|f| (f.at, f.line));
        if let Some((line, message)) = restart_of_running_host(&self.faults) {
            let f = faults.iter().find(|f| line_col(text, f.at.span().start).0 == line);
            let span = f.and_then(|f| f.host.as_ref()).map_or(0..0, Spanned::span);
            return Err((span, message));
        }
        if let Some(l) = liveness {
            let line = line_col(text, l.span().start).0;
            self.liveness = Some(Liveness::check(l.get_ref(), line, self.duration).map_err(|m| (l.span(), m))?);
        }
        if let Some(s) = swarm {
            let line = line_col(text, s.span().start).0;
            let swarm = Swarm::check(s.get_ref(), line, self, self.liveness.as_ref()).map_err(|(key, m)| {
                let span = limits::find(doc, &format!("swarm.{key}")).first().map_or(s.span(), |v| v.span());
                (span, m)
            })?;
            self.swarm = Some(swarm);
        }
        Ok(())
    }

    /// Whether seeds draw this scenario's fault schedule (a `[swarm]`, or a fault at a range of
    /// times); then `run_started` logs the schedule each seed drew.
    pub fn draws(&self) -> bool {
        self.swarm.is_some() || self.faults.iter().any(|f| f.latest != f.at)
    }

    /// The faults a swarm draws for `seed` (stream `schedule/1`), none without a `[swarm]`.
    pub(crate) fn episodes(&self, seed: u64) -> Vec<Episode> {
        match (&self.swarm, &self.liveness) {
            (Some(swarm), Some(l)) => swarm.draw(self, l.heal, &mut Seed(seed).child("schedule", 1)),
            _ => Vec::new(),
        }
    }

    /// The scenario as `seed` runs it: fixed faults at their drawn times (stream `schedule/0`),
    /// the swarm's faults drawn (stream `schedule/1`), and the heal of the liveness phase; nothing
    /// left to draw.
    pub(crate) fn for_seed(&self, seed: u64) -> Scenario {
        let mut rng = Seed(seed).child("schedule", 0);
        let mut faults: Vec<Fault> = self
            .faults
            .iter()
            .map(|f| {
                let at = if f.latest == f.at { f.at } else { Between { lo: f.at, hi: f.latest }.draw(&mut rng) };
                Fault { at, latest: at, ..f.clone() }
            })
            .collect();
        if let Some(swarm) = &self.swarm {
            for step in self.episodes(seed).iter().flat_map(Episode::steps) {
                let fault = self.resolve(&step).expect("a drawn fault names the scenario's own hosts");
                faults.push(Fault { line: swarm.line, ..fault });
            }
        }
        if let Some(l) = &self.liveness {
            faults.push(Fault { at: l.heal, latest: l.heal, action: Action::Heal, line: l.line });
        }
        // The heal ends what else happens at its time.
        faults.sort_by_key(|f| (f.at, f.action == Action::Heal, f.line));
        Scenario { faults, swarm: None, ..self.clone() }
    }

    /// A fault with every value fixed, resolved as a `[[fault]]` of the file would be.
    pub fn resolve(&self, step: &FaultStep) -> Result<Fault, String> {
        fn spanned<T>(v: T) -> Spanned<T> {
            Spanned::new(0..0, v)
        }
        let file = FaultFile {
            at: spanned(Between { lo: step.at, hi: step.at }),
            kind: spanned(step.kind),
            a: step.a.clone().map(spanned),
            b: step.b.clone().map(spanned),
            host: step.host.clone().map(spanned),
            oneway: None,
            latency: step.latency.map(spanned),
            rate: step.rate.map(spanned),
        };
        self.fault(&file).map_err(|(_, m)| m)
    }

    fn fault(&self, f: &FaultFile) -> Result<Fault, (std::ops::Range<usize>, String)> {
        let (at, latest) = (f.at.get_ref().lo.0, f.at.get_ref().hi.0);
        let end = self.duration + self.settle;
        if latest > end {
            return Err((
                f.at.span(),
                format!("fault at {} is after the run ends at {} (duration + settle)", Dur(latest), Dur(end)),
            ));
        }
        let kind = *f.kind.get_ref();
        let kind_span = f.kind.span();
        let takes: &[&str] = match kind {
            FaultKind::Partition | FaultKind::Repair => &["a", "b", "oneway"],
            FaultKind::Crash | FaultKind::SilentCrash | FaultKind::Restart => &["host"],
            FaultKind::Hold | FaultKind::Release => &["a", "b"],
            FaultKind::Latency => &["a", "b", "latency"],
            FaultKind::Loss => &["a", "b", "rate"],
            FaultKind::Heal => &[],
        };
        let given = [
            ("a", f.a.as_ref().map(Spanned::span)),
            ("b", f.b.as_ref().map(Spanned::span)),
            ("host", f.host.as_ref().map(Spanned::span)),
            ("oneway", f.oneway.as_ref().map(Spanned::span)),
            ("latency", f.latency.as_ref().map(Spanned::span)),
            ("rate", f.rate.as_ref().map(Spanned::span)),
        ];
        if let Some((key, Some(span))) = given.into_iter().find(|(key, span)| span.is_some() && !takes.contains(key)) {
            return Err((span, format!("a {} fault has no `{key}`; it takes {}", kind.written(), takes.join(", "))));
        }
        let oneway = f.oneway.as_ref().is_some_and(|o| *o.get_ref());
        let group =
            |name: &str, field: &Option<Spanned<String>>| -> Result<Vec<String>, (std::ops::Range<usize>, String)> {
                let field =
                    field.as_ref().ok_or((kind_span.clone(), format!("a {} fault needs `{name}`", kind.written())))?;
                self.targets(field.get_ref()).map_err(|m| (field.span(), m))
            };
        let host = || -> Result<String, (std::ops::Range<usize>, String)> {
            let field =
                f.host.as_ref().ok_or((kind_span.clone(), format!("a {} fault needs `host`", kind.written())))?;
            let name = field.get_ref();
            if self.node_hosts().iter().any(|h| h == name) {
                Ok(name.clone())
            } else {
                Err((
                    field.span(),
                    format!("`{name}` is not a host that can crash; hosts are {}", self.node_hosts().join(", ")),
                ))
            }
        };
        let action = match kind {
            FaultKind::Partition => Action::Partition { a: group("a", &f.a)?, b: group("b", &f.b)?, oneway },
            FaultKind::Repair => Action::Repair { a: group("a", &f.a)?, b: group("b", &f.b)?, oneway },
            FaultKind::Crash => Action::Crash { host: host()? },
            FaultKind::SilentCrash => Action::SilentCrash { host: host()? },
            FaultKind::Restart => Action::Restart { host: host()? },
            FaultKind::Hold => Action::Hold { a: group("a", &f.a)?, b: group("b", &f.b)? },
            FaultKind::Release => Action::Release { a: group("a", &f.a)?, b: group("b", &f.b)? },
            FaultKind::Latency => {
                let latency =
                    f.latency.as_ref().ok_or((kind_span.clone(), "a latency fault needs `latency`".to_string()))?;
                Action::Latency { a: group("a", &f.a)?, b: group("b", &f.b)?, latency: latency.get_ref().0 }
            }
            FaultKind::Loss => {
                let rate = f.rate.as_ref().ok_or((kind_span.clone(), "a loss fault needs `rate`".to_string()))?;
                Action::Loss { a: group("a", &f.a)?, b: group("b", &f.b)?, rate: *rate.get_ref() }
            }
            FaultKind::Heal => Action::Heal,
        };
        Ok(Fault { at, latest, action, line: 0 })
    }

    /// Resolves a fault target: comma-separated host names, `region:NAME` (every host of a
    /// region), `provider:NAME` (a status page's platform's hosts on a provider, and the page's if
    /// it shares it), `everyone` (every host) and `except:TARGET` (every host but TARGET's).
    fn targets(&self, target: &str) -> Result<Vec<String>, String> {
        if target.contains(',') {
            let mut hosts = Vec::new();
            for part in target.split(',') {
                hosts.extend(self.targets(part.trim())?);
            }
            return Ok(hosts);
        }
        if target == EVERYONE {
            return Ok(self.hosts());
        }
        if let Some(rest) = target.strip_prefix(EXCEPT) {
            let but = self.targets(rest)?;
            return Ok(self.hosts().into_iter().filter(|h| !but.contains(h)).collect());
        }
        if let (Some(name), Some(status)) = (target.strip_prefix("provider:"), &self.status) {
            return status.provider_hosts(name);
        }
        if let (Some(name), Some(status)) = (target.strip_prefix("region:"), &self.status) {
            if !status.regions.iter().any(|r| r == name) {
                return Err(format!("`{name}` is not a status region; regions are {}", status.regions.join(", ")));
            }
            return Ok(vec![StatusSettings::region_host(name), StatusSettings::viewer_host(name)]);
        }
        if let Some(name) = target.strip_prefix("region:") {
            let region = self.regions.iter().find(|r| r.name == name).ok_or_else(|| {
                let known: Vec<_> = self.regions.iter().map(|r| r.name.as_str()).collect();
                format!("`{name}` is not a region; regions are {}", known.join(", "))
            })?;
            let mut hosts = vec![region.distributor.clone(), region.clients.clone()];
            hosts.extend(region.pops.iter().cloned());
            if region.name == self.primary_region {
                hosts.extend([PRIMARY.to_string(), STANDBY.to_string(), CONTROL.to_string()]);
            }
            return Ok(hosts);
        }
        if self.hosts().iter().any(|h| h == target) {
            Ok(vec![target.to_string()])
        } else {
            Err(format!("`{target}` is not a host or `region:NAME`; hosts are {}", self.hosts().join(", ")))
        }
    }

    /// Hosts that run system nodes (they can crash and restart).
    pub(crate) fn node_hosts(&self) -> Vec<String> {
        if let Some(status) = &self.status {
            return status.node_hosts();
        }
        let mut hosts = vec![PRIMARY.to_string(), STANDBY.to_string(), CONTROL.to_string()];
        for r in &self.regions {
            hosts.push(r.distributor.clone());
            hosts.extend(r.pops.iter().cloned());
        }
        if self.ssr.as_ref().is_some_and(Ssr::calls_upstream) {
            hosts.push(UPSTREAM.to_string());
        }
        hosts
    }

    /// Every host of the world, nodes then client hosts.
    pub fn hosts(&self) -> Vec<String> {
        let mut hosts = self.node_hosts();
        hosts.extend(self.regions.iter().map(|r| r.clients.clone()));
        hosts.extend(self.status.iter().flat_map(|s| s.viewer_hosts()));
        hosts
    }

    /// The nodes' settings.
    pub(crate) fn edge_config(&self) -> EdgeConfig {
        let r = &self.replication;
        EdgeConfig {
            standby_mode: r.standby,
            standby_loss: r.standby_loss,
            batch: BatchPolicy { max_bytes: r.batch_max_bytes, max_delay: r.batch_max_delay.0 },
            retain_frames: r.retain_frames,
            distributor_frames: r.distributor_frames,
            heartbeat: r.heartbeat.0,
            peer_timeout: r.peer_timeout.0,
            ryw_wait: r.ryw_wait.0,
            failover: FailoverConfig {
                health_interval: self.failover.health_interval.0,
                health_timeout: self.failover.health_timeout.0,
                confirm_after: self.failover.confirm_after,
                failover_after: self.failover.failover_after.0,
                lease: self.failover.lease.0,
                fencing: self.failover.fencing,
                lineage_check: self.failover.lineage_check,
                edge_writes: self.failover.edge_writes,
                queue_limit: self.failover.queue_limit,
                queue_timeout: self.failover.queue_timeout.0,
                ..FailoverConfig::default()
            },
            pop_runtime: match &self.ssr {
                Some(ssr) => Capacity { render: ssr.render_service.0, ..self.runtime.pop() },
                None => self.runtime.pop(),
            },
            primary_runtime: self.runtime.primary(),
            isr: self.isr.map_or(EdgeConfig::default().isr, |i| IsrConfig { revalidate: i.revalidate.0, lock: i.lock }),
            ssr: self.ssr.as_ref().map_or_else(Vec::new, Ssr::boundaries),
            upstream: self.ssr.as_ref().map_or(EdgeConfig::default().upstream, |s| s.upstream_config(UPSTREAM)),
            ..EdgeConfig::default()
        }
    }
}

/// The first restart of a host the schedule has not taken down (a crash or silent crash of it
/// since its last restart), in time order: its line and what is wrong. Restarting a running node
/// means nothing on a real fleet and is almost always a typo for another host.
fn restart_of_running_host(faults: &[Fault]) -> Option<(usize, String)> {
    let mut down = std::collections::BTreeSet::new();
    for f in faults {
        match &f.action {
            Action::Crash { host } | Action::SilentCrash { host } => {
                down.insert(host.as_str());
            }
            Action::Restart { host } if !down.remove(host.as_str()) => {
                return Some((
                    f.line,
                    format!(
                        "restart of `{host}` at {}, which is running then: no crash or silent_crash of it comes before",
                        Dur(f.at)
                    ),
                ));
            }
            _ => {}
        }
    }
    None
}

/// The edge world's regions and primary region, checked.
fn edge_regions(
    raw: &File,
    at: &impl Fn(std::ops::Range<usize>, String) -> ScenarioError,
) -> Result<(String, Vec<Region>), ScenarioError> {
    let Some(primary) = &raw.primary_region else {
        return Err(at(0..0, "an edge scenario needs `primary_region` (or a [status] table for a status page)".into()));
    };
    let primary_region = primary.get_ref().clone();
    let mut regions = Vec::new();
    let upstream = raw.ssr.as_ref().is_some_and(Ssr::calls_upstream);
    let mut hosts = [PRIMARY, STANDBY, CONTROL].len() + usize::from(upstream);
    for r in &raw.regions {
        let name = r.name.get_ref().clone();
        if let Some(problem) = host_name_problem(&name) {
            return Err(at(r.name.span(), format!("region name `{name}` {problem}")));
        }
        if regions.iter().any(|x: &Region| x.name == name) {
            return Err(at(r.name.span(), format!("region `{name}` is defined twice")));
        }
        hosts += 2 + *r.pops.get_ref() as usize;
        if hosts > MAX_HOSTS {
            return Err(at(
                r.pops.span(),
                format!(
                    "the world has more than {MAX_HOSTS} hosts (3, 4 with an upstream service, then 2 per region and \
                     one per PoP)"
                ),
            ));
        }
        regions.push(Region {
            pops: (1..=*r.pops.get_ref()).map(|n| EdgeRole::Pop { region: &name, n }.host()).collect(),
            distributor: EdgeRole::Distributor { region: &name }.host(),
            clients: EdgeRole::Clients { region: &name }.host(),
            to_primary: r.to_primary.0,
            name,
        });
    }
    if regions.is_empty() {
        return Err(at(0..0, "a scenario needs at least one [[region]]".into()));
    }
    if !regions.iter().any(|r| r.name == primary_region) {
        let known: Vec<_> = regions.iter().map(|r| r.name.as_str()).collect();
        return Err(at(
            primary.span(),
            format!("primary_region `{primary_region}` is not a region; regions are {}", known.join(", ")),
        ));
    }
    Ok((primary_region, regions))
}

/// Refuses the edge platform's sections in a status page scenario, at their keys.
/// A status page scenario's problems its fields do not show alone: the CDN error schedule, the
/// notification settings, the actions against the run's length.
fn status_problem(
    doc: &DeTable<'_>,
    status: &Spanned<StatusSettings>,
    duration: Duration,
) -> Result<(), (ByteSpan, String)> {
    let s = status.get_ref();
    if let Some((key, nth, problem)) = s
        .problems()
        .map(|(key, problem)| (key, 0, problem))
        .or_else(|| s.cdn_errors_problem())
        .or_else(|| s.notify_problem())
        .or_else(|| s.action_problem(duration))
    {
        let span = limits::find(doc, &format!("status.{key}")).get(nth).map_or(status.span(), |v| v.span());
        return Err((span, format!("status.{key}: {problem}")));
    }
    Ok(())
}

/// The name and the description hold no control characters (the description may break lines).
fn control_characters(raw: &File) -> Result<(), (ByteSpan, String)> {
    let texts = [("name", Some(&raw.name), ""), ("description", raw.description.as_ref(), "\r\n\t")];
    for (field, text, allowed) in texts.into_iter().filter_map(|(f, t, a)| Some((f, t?, a))) {
        if text.get_ref().chars().any(|c| c.is_control() && !allowed.contains(c)) {
            return Err((text.span(), format!("`{field}` has a control character")));
        }
    }
    Ok(())
}

/// The `[ssr]` table's problem, at the boundary it concerns (or the table).
fn ssr_problem(doc: &DeTable<'_>, raw: &File) -> Result<(), (ByteSpan, String)> {
    if let Some((nth, problem)) = raw.ssr.as_ref().and_then(Ssr::problem) {
        let names = limits::find(doc, "ssr.boundary.name");
        let span = nth.and_then(|n| names.get(n).copied()).or_else(|| limits::find(doc, "ssr").first().copied());
        return Err((span.map_or(0..0, |v| v.span()), problem));
    }
    if let Some(ssr) = &raw.ssr
        && ssr.upstream().timeout.0 >= raw.workload.request_timeout.0
    {
        let written = limits::find(doc, "ssr.upstream.timeout").first().map(|v| v.span());
        let span = written.or_else(|| limits::find(doc, "ssr").first().map(|v| v.span()));
        return Err((
            span.unwrap_or(0..0),
            format!(
                "`ssr.upstream.timeout` ({}) is not shorter than `workload.request_timeout` ({}): a view would \
                 time out before its boundary's error fallback reached it",
                ssr.upstream().timeout,
                raw.workload.request_timeout
            ),
        ));
    }
    Ok(())
}

/// The file's budgets, each of a metric of the scenario's own system.
fn budgets(raw: &File) -> Result<Vec<Budget>, (ByteSpan, String)> {
    raw.budgets
        .iter()
        .map(|b| {
            let budget = Budget::parse(b.get_ref()).map_err(|m| (b.span(), m))?;
            let (metric, other) = match (budget.metric.is_status(), raw.status.is_some()) {
                (true, false) => ("a status page", "the edge platform"),
                (false, true) => ("an edge platform", "the status page"),
                _ => return Ok(budget),
            };
            Err((b.span(), format!("`{}` is {metric} metric; this scenario is of {other}", budget.metric.name())))
        })
        .collect()
}

fn applicable_sections(doc: &DeTable<'_>) -> Result<(), (ByteSpan, String)> {
    if !doc.iter().any(|(k, _)| k.get_ref() == "status") {
        return Ok(());
    }
    for (key, _) in doc.iter() {
        let section = match &**key.get_ref() {
            "primary_region" => "`primary_region`".to_string(),
            "region" => "[[region]]".to_string(),
            k @ ("network" | "replication" | "workload" | "failover" | "runtime" | "isr" | "anycast" | "ssr") => {
                format!("[{k}]")
            }
            _ => continue,
        };
        return Err((
            key.span(),
            format!("a status page scenario has no {section}: its world and workload are set in [status]"),
        ));
    }
    Ok(())
}

/// Refuses workloads too large for one run on one machine, at the key that sizes them.
fn workload_size(doc: &DeTable<'_>, raw: &File, regions: usize) -> Result<(), (ByteSpan, String)> {
    let span_of = |keys: &[&str]| {
        keys.iter().find_map(|k| limits::find(doc, k).first().map(|v| v.span())).unwrap_or(raw.duration.span())
    };
    let duration = raw.duration.get_ref().0;
    let Some(status) = &raw.status else {
        let w = &raw.workload;
        let (highest, mean) = w.factors();
        let rate = regions as f64 * f64::from(w.sessions_per_region) * w.session_rate * highest;
        if rate > MAX_EDGE_RATE {
            return Err((
                span_of(&["workload.sessions_per_region", "workload.session_rate", "workload.load_steps"]),
                format!(
                    "the workload asks {rate} requests per second (regions x sessions_per_region x session_rate, \
                     times the highest load step); the most is {MAX_EDGE_RATE}"
                ),
            ));
        }
        let requests = rate / highest * mean * duration.saturating_sub(w.warmup.0).as_secs_f64();
        if requests > MAX_EDGE_REQUESTS {
            return Err((
                raw.duration.span(),
                format!("the workload asks {requests:.0} requests over the run; the most is {MAX_EDGE_REQUESTS}"),
            ));
        }
        return Ok(());
    };
    let s = status.get_ref();
    let views =
        s.regions.len() as f64 * f64::from(s.viewers_per_region) * s.spike_factor / s.view_every.0.as_secs_f64();
    if views > MAX_VIEW_RATE {
        return Err((
            span_of(&["status.viewers_per_region", "status.view_every", "status.spike_factor"]),
            format!(
                "{views:.0} page views per second at a spike's height (regions x viewers_per_region x spike_factor \
                 / view_every); the most is {MAX_VIEW_RATE}"
            ),
        ));
    }
    let base = s.regions.len() as f64 * f64::from(s.viewers_per_region) / s.view_every.0.as_secs_f64();
    let spiking =
        s.spike_until.map_or(duration, |u| u.0.min(duration)).saturating_sub(s.spike_from.map_or(duration, |f| f.0));
    let all_views = base * (duration.as_secs_f64() + (s.spike_factor - 1.0) * spiking.as_secs_f64());
    if all_views > MAX_VIEWS {
        return Err((
            span_of(&["status.viewers_per_region", "status.view_every", "status.spike_factor"]),
            format!("about {all_views:.0} page views over the run; the most is {MAX_VIEWS}"),
        ));
    }
    let editing = s.edits_until.map_or(duration, |u| u.0.min(duration)).saturating_sub(s.edits_from.0);
    let edits = editing.as_secs_f64() / s.edit_every.0.as_secs_f64();
    if edits > MAX_EDITS {
        return Err((
            span_of(&["status.edit_every", "status.edits_until", "status.edits_from"]),
            format!(
                "about {edits:.0} edits over the run (from edits_from to edits_until, one per edit_every); the most is {MAX_EDITS}"
            ),
        ));
    }
    let notifications = f64::from(s.subscribers) * CHANNELS.len() as f64 * edits;
    if notifications > MAX_NOTIFICATIONS {
        return Err((
            span_of(&["status.subscribers", "status.edit_every"]),
            format!(
                "about {notifications:.0} notifications over the run (subscribers x {} channels x edits); the most is \
                 {MAX_NOTIFICATIONS}",
                CHANNELS.len()
            ),
        ));
    }
    Ok(())
}

/// `message` with control characters escaped, so that an error cannot drive the terminal.
fn printable(message: &str) -> String {
    message.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// A deserialiser's message with Rust's type names in the user's words.
fn in_user_words(message: &str) -> String {
    let mut m = message.to_string();
    for (rust, words) in
        [("u32", "a whole number"), ("u64", "a whole number"), ("usize", "a whole number"), ("f64", "a number")]
    {
        m = m.replace(&format!("expected {rust}"), &format!("expected {words}"));
    }
    if let Some(i) = m.find("expected struct ") {
        m.truncate(i);
        m.push_str("expected a table");
    }
    m.replace("expected a sequence", "expected a list")
        .replace("wanted string or table", "expected one of the quoted words docs/SCENARIOS.md lists for this key")
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.len(), |i| before.len() - i - 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
name = "t"
duration = "10s"
primary_region = "a"

[[region]]
name = "a"
pops = 2
to_primary = "1ms"
"#;

    fn err(extra: &str) -> ScenarioError {
        Scenario::parse("t.toml", &format!("{BASE}{extra}")).unwrap_err()
    }

    #[test]
    fn a_minimal_scenario_loads_with_defaults() {
        let s = Scenario::parse("t.toml", BASE).unwrap();
        assert_eq!(s.regions[0].pops, vec!["pop-a-1", "pop-a-2"]);
        assert_eq!(s.settle, Duration::from_secs(10));
        assert_eq!(s.workload.read_write_ratio, 100);
    }

    #[test]
    fn errors_name_file_line_and_problem() {
        let e = err("\n[workload]\nsesions_per_region = 3\n");
        assert_eq!((e.file.as_str(), e.line), ("t.toml", 12));
        assert!(e.message.contains("unknown field `sesions_per_region`"), "{e}");

        let e = err("\n[replication]\nheartbeat = 500\n");
        assert_eq!(e.line, 12);
        assert!(e.message.contains("duration"), "{e}");

        let e = err("\n[replication]\nheartbeat = \"5 parsecs\"\n");
        assert!(e.message.contains("not a unit"), "{e}");

        let e = err("\n[[fault]]\nat = \"2s\"\nkind = \"crash\"\nhost = \"pop-b-1\"\n");
        assert_eq!(e.line, 14);
        assert!(e.message.contains("`pop-b-1` is not a host"), "{e}");

        let e = err("\n[[fault]]\nat = \"25s\"\nkind = \"crash\"\nhost = \"pop-a-1\"\n");
        assert_eq!(e.line, 12);
        assert!(e.message.contains("after the run ends at 20s"), "{e}");

        let e = err("\n[[fault]]\nat = \"2s\"\nkind = \"partition\"\na = \"region:zz\"\nb = \"primary\"\n");
        assert!(e.message.contains("`zz` is not a region"), "{e}");

        let e = err("\n[[fault]]\nat = \"2s\"\nkind = \"explode\"\n");
        assert!(e.message.contains("unknown variant `explode`"), "{e}");
        assert!(e.to_string().starts_with("t.toml:13:"), "{e}");

        let e = Scenario::parse(
            "t.toml",
            &format!("budgets = [\n  \"read_p99 < 15ms\",\n  \"read_p95 < 1ms\",\n]\n{BASE}"),
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (3, 3), "{e}");
        assert!(e.message.contains("unknown metric `read_p95`"), "{e}");
    }

    const SWARM: &str = "\n[liveness]\nheal = \"8s\"\nwithin = \"2s\"\n[swarm]\nfrom = \"1s\"\nfaults = \"1..3\"\n\
                         kinds = [\"crash\", \"loss\"]\nroles = [\"pop\", \"everyone\"]\nlasting = \"1s..5s\"\n\
                         loss = \"0.01..0.02\"\n";

    /// A seed draws the same schedule every time, seeds draw different ones, and every drawn
    /// fault is within its ranges and ends by the heal, which comes last.
    #[test]
    fn seeds_draw_their_schedules_within_the_swarms_ranges() {
        let s = Scenario::parse("t.toml", &format!("{BASE}{SWARM}")).unwrap();
        assert!(s.draws());
        let schedules: Vec<Vec<Fault>> = (1..=8).map(|seed| s.for_seed(seed).faults).collect();
        assert_eq!(schedules[0], s.for_seed(1).faults);
        assert!(schedules.iter().any(|f| *f != schedules[0]));
        for faults in &schedules {
            assert_eq!(faults.last().unwrap().action, Action::Heal);
            assert!(faults.iter().all(|f| f.at >= Duration::from_secs(1) && f.at <= Duration::from_secs(8)));
            for f in faults {
                if let Action::Loss { rate, .. } = f.action {
                    assert!(rate == 0.0 || (0.01..=0.02).contains(&rate), "{rate}");
                }
            }
        }
        let e = s.episodes(3);
        assert!((1..=3).contains(&e.len()));
        assert!(e.iter().all(|e| e.kind != FaultKind::Crash || e.target.starts_with("pop-")));
    }

    /// A fault at a range of times is drawn within it, and the scenario says it draws.
    #[test]
    fn a_fault_at_a_range_of_times_is_drawn_within_it() {
        let s = Scenario::parse(
            "t.toml",
            &format!("{BASE}\n[[fault]]\nat = \"2s..6s\"\nkind = \"crash\"\nhost = \"pop-a-1\"\n"),
        )
        .unwrap();
        assert!(s.draws());
        let times: Vec<Duration> = (1..=6).map(|seed| s.for_seed(seed).faults[0].at).collect();
        assert!(times.iter().all(|t| (Duration::from_secs(2)..=Duration::from_secs(6)).contains(t)));
        assert!(times.iter().any(|t| *t != times[0]));
        assert!(!Scenario::parse("t.toml", BASE).unwrap().draws());
    }

    /// A swarm's mistakes are refused where they are written.
    #[test]
    fn swarm_and_liveness_errors_name_their_place() {
        let e = err("\n[swarm]\nfrom = \"1s\"\nfaults = 1\nkinds = [\"crash\"]\nroles = [\"pop\"]\nlasting = \"1s\"\n");
        assert!(e.message.contains("needs a [liveness]"), "{e}");
        let e = err(&SWARM.replace("\"1..3\"", "\"3..1\""));
        assert_eq!(e.line, 16, "{e}");
        assert!(e.message.contains("ends before it starts"), "{e}");
        let e = err(&SWARM.replace("\"1s..5s\"", "\"1s..5h\""));
        assert!(e.message.contains("out of range"), "{e}");
        let e = err(&SWARM.replace("\"pop\", \"everyone\"", "\"cdn\""));
        assert_eq!((e.line, e.column), (18, 9), "{e}");
        assert!(e.message.contains("role `cdn` is of the status page"), "{e}");
        let e = err(&SWARM.replace("roles = [\"pop\", \"everyone\"]", "roles = [\"everyone\"]"));
        assert!(e.message.contains("no role of `roles` can take a crash fault"), "{e}");
        let e = err(&SWARM.replace("loss = \"0.01..0.02\"\n", ""));
        assert!(e.message.contains("needs `loss`"), "{e}");
        let e = err(&SWARM.replace("within = \"2s\"", "within = \"5s\""));
        assert!(e.message.contains("liveness deadline"), "{e}");
        let e = err("\n[[fault]]\nat = \"6s..2s\"\nkind = \"crash\"\nhost = \"pop-a-1\"\n");
        assert_eq!((e.line, e.column), (12, 6), "{e}");
    }

    #[test]
    fn region_targets_expand_to_their_hosts() {
        let s = Scenario::parse(
            "t.toml",
            &format!("{BASE}\n[[fault]]\nat = \"2s\"\nkind = \"partition\"\na = \"region:a\"\nb = \"pop-a-1\"\noneway = true\n"),
        )
        .unwrap();
        let Action::Partition { a, b, oneway } = &s.faults[0].action else { panic!() };
        assert!(a.contains(&"dist-a".to_string()) && a.contains(&"primary".to_string()));
        assert_eq!(b, &vec!["pop-a-1".to_string()]);
        assert!(oneway);
    }
}

#[cfg(test)]
mod doc_examples {
    /// Every TOML example in docs/SCENARIOS.md loads.
    #[test]
    fn the_documented_examples_load() {
        let doc = include_str!("../../../docs/SCENARIOS.md");
        let examples: Vec<&str> = doc.split("```toml").skip(1).map(|b| b.split("```").next().unwrap()).collect();
        assert!(!examples.is_empty());
        for e in examples {
            super::Scenario::parse("docs/SCENARIOS.md", e).unwrap();
        }
    }
}
