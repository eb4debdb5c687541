//! The records of a run's event log: one per meaningful event, stamped with simulated time and
//! node. Written as JSON Lines (`--events PATH`), schema in `docs/EVENTS.md`: every line is
//! `{"t_us": .., "node": .., "type": .., ...}`. Every figure edgesim reports is computed from
//! these records; the log itself, which hashes, writes and folds them, is `log`.

use std::rc::Rc;

use edgesim_system::edge::frame::{Lsn, Point};
use edgesim_system::edge::proto::{ReadPath, Route};
use edgesim_system::edge::store::{OwnRows, Writer};
use edgesim_system::status::hlc::Timestamp;
use edgesim_system::status::incident::ComponentStatus;
use edgesim_system::status::proto::Tier;
use edgesim_system::status::sse::{Refusal, SseEventKind};
use edgesim_system::status::vclock::VClock;
use edgesim_system::telemetry::NodeEvent;
use serde::Serialize;

use crate::scenario::Action;
use crate::scenario::resolved::Resolved;
use crate::status::shown::Shown;

/// Version of the JSON Lines schema; bump it when a record changes shape.
pub(crate) const SCHEMA_VERSION: u32 = 3;

#[derive(Clone, Debug, Serialize)]
pub struct Event {
    pub t_us: u64,
    pub node: Rc<str>,
    #[serde(flatten)]
    pub record: Record,
}

#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Record {
    Node(NodeEvent),
    Harness(HarnessEvent),
}

/// What the harness itself observes: the run, faults, and requests as clients saw them.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HarnessEvent {
    /// The run began: the event schema, the scenario's name, the seed, and the scenario as the
    /// run resolved it with the seed's stream families (`scenario::resolved`).
    RunStarted {
        schema: u32,
        scenario: String,
        seed: u64,
        #[serde(flatten)]
        resolved: Box<Resolved>,
        /// The fault schedule the seed drew (`world::schedule`), when the scenario draws one.
        #[serde(skip_serializing_if = "Option::is_none")]
        schedule: Option<Vec<String>>,
    },
    /// A scheduled fault was applied: `line` of the scenario file, `fault` as text, `hosts` every
    /// host it names, then its typed kind and parameters (`kind`, `a`, `b`, `oneway`, `host`,
    /// `latency`, `rate`: `scenario::Action`).
    Fault {
        line: usize,
        fault: String,
        hosts: Vec<String>,
        #[serde(flatten)]
        action: Action,
    },
    RequestStarted {
        req: u64,
        session: u64,
        op: RequestOp,
        key: String,
        seq: u64,
        /// The point of the session's last acknowledged write, carried with the request.
        min: Point,
    },
    RequestEnded {
        req: u64,
        session: u64,
        outcome: RequestOutcome,
    },
    /// A session's view of a product page (`[isr]`) from `pop`, sent at `started_us`.
    PageLoaded {
        session: u64,
        key: String,
        pop: String,
        started_us: u64,
        outcome: PageOutcome,
    },
    /// A session asked `pop` for its personalized page streamed with SSR (`[ssr]`), as view
    /// `view`, at the time the view was due.
    SsrRequested {
        view: u64,
        session: u64,
        pop: String,
        key: String,
    },
    /// The shell of view `view` reached its client.
    SsrShell {
        view: u64,
    },
    /// The chunk of boundary `boundary` (its index in page order, named `name`) of view `view`
    /// reached its client, filled with `filled`.
    SsrChunk {
        view: u64,
        boundary: usize,
        name: String,
        filled: ChunkOutcome,
    },
    /// View `view` ended: every chunk arrived (`streamed`), or why not.
    SsrEnded {
        view: u64,
        outcome: StreamOutcome,
    },
    /// The audit of a node's database at the end of the run: a digest of its replicated content
    /// computed by the harness, and the (session, seq) of every write it holds.
    FinalState {
        of: String,
        outcome: FinalOutcome,
    },
    /// The control plane's route at the audit (`None`: it did not answer).
    FinalRoute {
        route: Option<Route>,
    },
    /// A status page operator's edit, when its region answered (`stamp`) or failed (`error`).
    /// For a status change, `seen` and `after` are the timestamps of the component's status the
    /// operator read from the region just before the edit and just after its acknowledgement.
    Edited {
        write: u64,
        region: String,
        component: Option<String>,
        status: Option<ComponentStatus>,
        critical: bool,
        stamp: Option<Timestamp>,
        seen: Option<Timestamp>,
        after: Option<Timestamp>,
        error: Option<String>,
        /// A list edit: `true` listed `component` on the page, `false` took it off.
        #[serde(skip_serializing_if = "Option::is_none")]
        listed: Option<bool>,
        /// A scripted edit's causal history, as its region acknowledged it: per region id, how
        /// many of that region's writes the region held, this edit included.
        #[serde(skip_serializing_if = "Option::is_none")]
        history: Option<VClock>,
        /// A retraction: the acknowledged updates it took off its region's timeline, by id.
        #[serde(skip_serializing_if = "Option::is_none")]
        retracted: Option<Vec<u64>>,
        /// The region whose origin the edit went to, when GeoDNS had moved the operator off its
        /// own `region`.
        #[serde(skip_serializing_if = "Option::is_none")]
        moved_to: Option<String>,
    },
    /// A status page view: the CDNs tried in order, which one answered with which tier, and
    /// what the page showed. `started_us` is when the view began.
    PageViewed {
        viewer: u64,
        started_us: u64,
        tried: Vec<String>,
        cdn: Option<String>,
        tier: Option<Tier>,
        shown: Option<Shown>,
    },
    SseConnected {
        viewer: u64,
        cdn: String,
        resumed: bool,
    },
    SseDropped {
        viewer: u64,
        reason: String,
    },
    /// An SSE viewer received an event of `kind` about the write `event` (`write`: the harness's
    /// id, if acknowledged yet; for a resolution, the status change that resolved the incident;
    /// `component` for a status change).
    SseReceived {
        viewer: u64,
        kind: SseEventKind,
        event: String,
        write: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        component: Option<String>,
    },
    /// An SSE viewer received the `seq`-th heartbeat of `cdn`'s hub.
    SseHeartbeat {
        viewer: u64,
        cdn: String,
        seq: u64,
    },
    /// A CDN's SSE hub refused a viewer's stream.
    SseRefused {
        viewer: u64,
        cdn: String,
        refusal: Refusal,
    },
    /// An SSE viewer could not stream and polls instead.
    SseFallback {
        viewer: u64,
        reason: String,
    },
    /// The harness probed a CDN's page or a region's origin and it showed something new.
    Probed {
        of: String,
        shown: Shown,
    },
    /// A subscriber endpoint accepted a notification.
    Delivered {
        key: String,
        event: String,
        subscriber: u32,
        channel: String,
    },
    /// A channel's provider answered a delivery with "slow down": its per-second limit was
    /// reached.
    SlowedDown {
        key: String,
        subscriber: u32,
        channel: String,
    },
    /// A subscriber was told, on channel `by`, that its endpoint on `channel` was unreachable.
    ToldUnreachable {
        subscriber: u32,
        channel: String,
        by: String,
    },
    /// A CDN began answering `rate` of its page views with server errors while up (`rate` 0: it
    /// stopped), as `[[status.cdn_errors]]` scheduled.
    CdnErrors {
        cdn: String,
        rate: f64,
    },
    /// The operators' monitor saw the monitored platform go down (no host answered) or come back
    /// up; `report` is the id of the incident update the operator then posts (its `edited`).
    PlatformHealth {
        up: bool,
        report: u64,
    },
    /// The audit of a status region's or CDN's document at the end of the run.
    FinalDoc {
        of: String,
        shown: Option<Shown>,
        error: Option<String>,
        /// The components the document lists (absent: none).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        listed: Vec<String>,
    },
    /// Under `[anycast]`: `session` lives at `place` (the site of a PoP) and starts at `pop`, the
    /// nearest PoP the network routes it to.
    SessionPlaced {
        session: u64,
        place: String,
        pop: String,
    },
    /// Under `[anycast]`: the network routes `session`'s requests to `to` from now on, no longer to
    /// `from`; `position` is the read-your-writes position the session had, `carried` whether it
    /// kept it (`false` only under the negative control `carry_position = false`).
    SessionMoved {
        session: u64,
        from: String,
        to: String,
        position: Point,
        carried: bool,
    },
    /// Under `[anycast]`: `pop` as the network sees it from the places of the logging client
    /// host's region (`edge::anycast`).
    RouteChanged {
        pop: String,
        change: RouteChange,
    },
    /// The workload's load step `step` (from 0) began: sessions send `factor` times `session_rate`.
    LoadStep {
        step: usize,
        factor: f64,
    },
    /// `down`: node hosts whose software was not running at the end.
    RunEnded {
        sim_us: u64,
        down: Vec<String>,
    },
}

impl HarnessEvent {
    /// The record of `action`, scheduled at `line` of the scenario file, as it is applied.
    pub fn fault(line: usize, action: &Action) -> HarnessEvent {
        HarnessEvent::Fault { line, fault: action.to_string(), hosts: action.hosts(), action: action.clone() }
    }
}

/// A change of a PoP's route from a region's places: what happened to the PoP (`lost`, `back`:
/// it became unreachable or reachable again, the harness's knowledge of its fault schedule) and
/// what the network did about it `detection` later (`withdrawn`, `announced`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteChange {
    Lost,
    Withdrawn,
    Back,
    Announced,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestOp {
    Read,
    Write,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RequestOutcome {
    /// `own`: the session's rows the read returned (every key); `version`/`writer`: the key's
    /// row and the commit that wrote it (`None`: no row).
    Read {
        own: OwnRows,
        version: u64,
        writer: Option<Writer>,
        path: ReadPath,
        lsn: Lsn,
    },
    Write {
        lsn: Lsn,
        generation: u64,
    },
    Error {
        message: String,
    },
    /// `host` (the PoP or, through it, the primary) turned the request away: `waiting` requests
    /// already waited for its workers.
    Shed {
        host: String,
        waiting: usize,
    },
    Timeout,
}

/// What a page view got: the page (its origin and render number, the version of the key's row it
/// shows, and whether the PoP called it stale), or why not.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum PageOutcome {
    Page { origin: String, render: u64, version: u64, stale: bool },
    Error { message: String },
    Shed { host: String, waiting: usize },
    Timeout,
}

/// What a boundary's chunk held: what its read returned (as a read's `RequestOutcome::Read`: the
/// session's rows, the key's row and its writer, how it was read, at which LSN), the upstream
/// service's answer, or the boundary's error fallback and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ChunkOutcome {
    Row { own: OwnRows, version: u64, writer: Option<Writer>, path: ReadPath, lsn: Lsn },
    Upstream,
    Failed { message: String },
}

/// How a streamed view ended: every chunk arrived, or the stream failed (an error, shed by the
/// PoP, or no complete page within the request timeout).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum StreamOutcome {
    Streamed,
    Error { message: String },
    Shed { host: String, waiting: usize },
    Timeout,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FinalOutcome {
    Audited { lsn: Lsn, digest: String, rows: usize, writes: Vec<(u64, u64)> },
    Unreachable { reason: String },
}
