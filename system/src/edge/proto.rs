//! The messages of the edge platform: client requests (client to PoP, PoP to primary) and the
//! replication protocol (primary to distributor and standby, distributor to replicas).

use serde::{Deserialize, Serialize};

use super::frame::{Lsn, Point};
use super::store::{Content, Position, ReadRow, Snapshot, WriteOp};

/// Client-facing port of a PoP.
pub const POP_PORT: u16 = 8000;
/// Request port of the primary (PoPs forward writes and fallback reads here).
pub const PRIMARY_PORT: u16 = 7000;
/// Replication port of the primary.
pub(crate) const REPL_PORT: u16 = 7100;
/// Replication port of a regional distributor.
pub(crate) const DISTRIBUTOR_PORT: u16 = 7200;
/// Control port of every node, and of the control plane itself.
pub const CONTROL_PORT: u16 = 7300;
/// The region lock's port at a regional distributor (`region_lock`).
pub(crate) const REGION_LOCK_PORT: u16 = 7400;
/// The upstream service's port (`upstream`).
pub(crate) const UPSTREAM_PORT: u16 = 7500;

/// Which host is the primary, and under which generation. A higher generation supersedes a lower.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub primary: String,
    pub generation: u64,
}

/// What the control plane sends nodes, and nodes send the control plane.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ControlMsg {
    /// A health check of a database node, carrying the current route.
    Health(Route),
    /// Stop acknowledging writes under this generation.
    Fence { generation: u64 },
    /// Become the primary under this generation.
    Promote { generation: u64 },
    /// The route changed.
    Route(Route),
    /// Which host is the primary? (asked by a node when it starts)
    GetRoute,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Primary,
    Standby,
    /// A primary whose generation was retired; it acknowledges nothing until it rejoins.
    Fenced,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ControlReply {
    Healthy { role: Role, generation: u64, lsn: Lsn },
    Done,
    Refused(String),
    Route(Route),
}

/// How a read may be served (docs/DESIGN.md, Read-your-writes: by position).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Consistency {
    /// From the local replica, whatever it holds.
    Eventual,
    /// From the local replica once it holds the client's position, else from the primary.
    ReadYourWrites,
    /// Always from the primary.
    Primary,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadPath {
    Local,
    AfterWait,
    Primary,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Request {
    /// `min`: the session's position (its cookie): the latest point of its acknowledged writes
    /// and of the positions its reads were served at.
    Read {
        session: u64,
        key: String,
        min: Point,
        consistency: Consistency,
    },
    Write(WriteOp),
    /// A product page (ISR): served from the PoP's cache (`isr`).
    Page {
        session: u64,
        key: String,
    },
    /// A PoP asks the origin (the primary) to render `key`'s page.
    Render {
        key: String,
        pop: String,
    },
    /// The replicated content of the node's database, for the harness's final audit.
    Dump,
    /// A personalized page streamed with SSR (`ssr`) for a session at position `min`: answered
    /// by a `Shell`, then one `Chunk` per Suspense boundary as its data arrives.
    Stream {
        session: u64,
        key: String,
        min: Point,
    },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Response {
    /// `at`: the position the read was served at (what the replica had applied, or the primary's
    /// head), which a session carries on so that its next read shows no less.
    Read {
        row: ReadRow,
        path: ReadPath,
        at: Point,
    },
    Write {
        lsn: Lsn,
        generation: u64,
    },
    Dump {
        content: Content,
        position: Position,
    },
    /// A rendered page; `stale`: served past its revalidate interval.
    Page {
        page: Page,
        stale: bool,
    },
    Error(String),
    /// `host` turned the request away: `waiting` requests already waited for its workers.
    Shed {
        host: String,
        waiting: usize,
    },
    /// A streamed page's shell; `boundaries` chunks follow.
    Shell {
        boundaries: usize,
    },
    /// The chunk of a streamed page's `boundary` (its index in page order).
    Chunk {
        boundary: usize,
        filled: Filled,
    },
}

/// What a Suspense boundary's chunk was filled with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Filled {
    /// What the read returned (the session's own rows and the key's row, as a read's), how it was
    /// served and at which position.
    Row { row: ReadRow, path: ReadPath, at: Point },
    /// The upstream service's answer.
    Upstream,
    /// The data failed: the boundary's error fallback, and why.
    Failed(String),
}

/// A page as the origin rendered it: which origin, its render number there, and the version of
/// the key's row it shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    pub origin: String,
    pub render: u64,
    pub version: u64,
}

/// What a PoP sends its region's lock holder (`region_lock`): one regeneration per connection.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum LockRequest {
    /// May this PoP regenerate `key`'s page?
    Acquire { key: String },
    /// The granted regeneration ended: its page, or `None` when it failed.
    Release { page: Option<Page> },
}

/// What the region's lock holder answers an `Acquire`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum LockReply {
    /// Regenerate it, then `Release`.
    Granted,
    /// A PoP of the region regenerated it within the revalidate interval: its page, `age_us` old
    /// when the holder sent it.
    Page { page: Page, age_us: u64 },
}

/// A PoP's call to the upstream service (`upstream`) for the data of the page's `boundary` (its
/// index in page order).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct UpstreamCall {
    pub boundary: usize,
}

/// The upstream service's answer to an `UpstreamCall`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum UpstreamReply {
    /// The boundary's data.
    Answered,
    /// Turned away: `waiting` calls already waited for its workers.
    Shed { waiting: usize },
    /// It has no such boundary.
    Unknown,
}

/// What a follower sends upstream.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum ReplRequest {
    /// Stream frames from `from` on. `prev_checksum` is the checksum of frame `from - 1` as the
    /// follower holds it, so upstream can refuse a follower whose history differs from its own.
    /// `from: None` joins the live stream wherever it is.
    Subscribe { from: Option<Lsn>, prev_checksum: u64, standby: bool },
    /// Resend the frames `from..=to`.
    Fetch { from: Lsn, to: Lsn },
    /// Send the whole database (to a replica, once it is durable).
    Snapshot { standby: bool },
    /// The standby holds every frame up to `lsn`.
    StandbyAck { lsn: Lsn },
}

/// What upstream sends a follower.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum ReplMessage {
    /// An encoded batch of frames (see `frame::encode_batch`).
    Batch(Vec<u8>),
    /// Upstream is alive and its history reaches `head`.
    Heartbeat {
        head: Lsn,
    },
    /// The frames from `from` are not retained, or the follower's history does not match:
    /// it must rebuild from a snapshot.
    Behind {
        from: Lsn,
        reason: String,
    },
    Snapshot(Snapshot),
}
