//! What nodes report about themselves. The harness stamps each report with simulated time and the
//! node's name. Checkers use these reports only for what a node alone can know (when it committed
//! or applied a frame); correctness is judged from the data clients saw.

use serde::Serialize;

use crate::edge::config::StandbyLoss;
use crate::edge::frame::Lsn;
use crate::edge::proto::Role;
use crate::status::sse::SseEventKind;

/// Receives a node's reports.
pub trait Telemetry: Clone + 'static {
    fn emit(&self, event: NodeEvent);
}

/// What a node started as (`NodeEvent::Started`); a database node's role as it runs is `proto::Role`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeRole {
    Primary,
    Standby,
    Control,
    Distributor,
    Pop,
    /// The upstream service streamed pages call (`edge::upstream`).
    Upstream,
    Cdn,
    Dns,
    Notifier,
    StatusRegion,
}

/// What the notification pipeline did with a copy of a timeline update (`NodeEvent::NoticeTaken`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeOutcome {
    Queued,
    /// Event dedup: the pipeline had taken this event before.
    Duplicate,
    /// The dedup-key window folded it into an earlier update.
    DedupWindow,
    /// The operators suppress non-critical updates: nobody is notified of it.
    Suppressed,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NodeEvent {
    /// The node's software started, holding the database at `lsn`.
    Started {
        role: NodeRole,
        lsn: Lsn,
    },
    /// The primary committed a write transaction as frame `lsn`.
    Committed {
        lsn: Lsn,
        generation: u64,
        session: u64,
        seq: u64,
        payload_bytes: usize,
    },
    /// A batch of frames left for `to`.
    BatchSent {
        to: String,
        first_lsn: Lsn,
        last_lsn: Lsn,
        frames: usize,
        payload_bytes: usize,
        wire_bytes: usize,
    },
    /// A follower applied frame `lsn` to its database.
    Applied {
        lsn: Lsn,
        generation: u64,
    },
    /// A follower saw frames after `to` before `from..=to` and asked for the missing ones.
    GapDetected {
        from: Lsn,
        to: Lsn,
    },
    /// A follower was told its frames are no longer retained upstream, or do not match upstream.
    Behind {
        from: Lsn,
        reason: String,
    },
    SnapshotServed {
        lsn: Lsn,
        bytes: usize,
    },
    SnapshotRestored {
        lsn: Lsn,
        bytes: usize,
    },
    Connected {
        peer: String,
    },
    Disconnected {
        peer: String,
        reason: String,
    },
    Reconnecting {
        peer: String,
        attempt: u32,
        backoff_ms: u64,
    },
    /// The node learned that `primary` is the primary under `generation`.
    RouteChanged {
        primary: String,
        generation: u64,
    },
    /// The node changed role (a standby promoted, a primary fenced or rejoining as a follower).
    RoleChanged {
        role: Role,
        generation: u64,
        reason: String,
    },
    /// The control plane's health check of the primary failed.
    HealthMissed {
        primary: String,
        misses: u32,
        of: u32,
        reason: String,
    },
    /// The primary answered again before failover.
    HealthRecovered {
        primary: String,
    },
    FailureConfirmed {
        primary: String,
    },
    /// Alert: the primary lost its synchronous standby `peer` (its stream broke, or its
    /// acknowledgements stopped advancing for a peer timeout while frames waited for them) and,
    /// under `policy`, now acknowledges writes alone (`degrade`) or refuses them (`block`).
    StandbyLost {
        peer: String,
        reason: String,
        policy: StandbyLoss,
    },
    /// A synchronous standby attached again after a loss: writes wait for it again.
    StandbyRestored {
        peer: String,
    },
    /// The control plane fenced `generation` (`acknowledged`: the old primary heard it).
    Fenced {
        primary: String,
        generation: u64,
        acknowledged: bool,
    },
    Promoted {
        host: String,
        generation: u64,
    },
    /// Failover was due but no node could be promoted: writes stay unavailable.
    PromotionImpossible {
        reason: String,
    },
    /// The new route reached `reached` of `of` nodes.
    RouteAnnounced {
        generation: u64,
        reached: usize,
        of: usize,
    },
    /// The status page's DNS marked a CDN healthy or unhealthy.
    CdnHealth {
        cdn: String,
        healthy: bool,
    },
    /// A channel's provider answered "slow down": the notifier sends nothing more on it for
    /// `retry_in_ms`.
    Throttled {
        channel: String,
        retry_in_ms: u64,
    },
    /// The status page's GeoDNS marked a region's origin healthy or unhealthy.
    OriginHealth {
        region: String,
        healthy: bool,
    },
    /// The notification pipeline took a copy of a timeline update: `queued`, `duplicate` (event
    /// dedup) or `dedup_window`.
    NoticeTaken {
        event: String,
        outcome: NoticeOutcome,
    },
    /// The notifier started from its durable queue, holding `jobs` notifications still to send
    /// (those it was sending when it stopped among them).
    QueueRestored {
        jobs: u64,
    },
    /// The pipeline held back `event` for a subscriber's channel over its hourly limit.
    RateLimited {
        event: String,
        subscriber: u32,
        channel: String,
    },
    /// A delivery failed; `retry_in_ms` is `None` when the pipeline gave up on it.
    DeliveryFailed {
        key: String,
        event: String,
        subscriber: u32,
        channel: String,
        attempt: u32,
        reason: String,
        retry_in_ms: Option<u64>,
    },
    /// A PoP started an isolate for a request of `session` that found none warm, at `cost_us`
    /// before its service time.
    ColdStart {
        cost_us: u64,
        session: u64,
    },
    /// The origin rendered `key`'s page for `pop` as render `render` (a number unique across the
    /// run: a random base drawn at the origin's first render of its boot, plus a count).
    PageRendered {
        key: String,
        pop: String,
        render: u64,
    },
    /// A PoP began regenerating `key`'s page (its `id`-th regeneration).
    RegenerationStarted {
        key: String,
        id: u64,
    },
    /// A PoP's regeneration `id` of `key` ended; `error` when it failed and the last good page stays.
    RegenerationEnded {
        key: String,
        id: u64,
        error: Option<String>,
    },
    /// A PoP could not ask its region's lock holder (`holder`) for `key` (`reason`) and
    /// regenerates the page on its own lock.
    RegionLockMissed {
        key: String,
        holder: String,
        reason: String,
    },
    /// A CDN's SSE hub sent a live viewer an event of `kind`.
    SsePushed {
        kind: SseEventKind,
    },
    /// A CDN's SSE hub sent a live viewer its `seq`-th heartbeat since it started.
    SseHeartbeat {
        seq: u64,
    },
    /// A status region's origin answered a CDN's request for the page's document.
    OriginServed {
        cdn: String,
    },
    /// Input from `peer` was refused as malformed.
    Rejected {
        peer: String,
        problem: String,
    },
}
