//! What nodes report about themselves. The harness stamps each report with simulated time and the
//! node's name. Checkers use these reports only for what a node alone can know (when it committed
//! or applied a frame); correctness is judged from the data clients saw.

use serde::Serialize;

use crate::edge::frame::Lsn;

/// Receives a node's reports.
pub trait Telemetry: Clone + 'static {
    fn emit(&self, event: NodeEvent);
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NodeEvent {
    /// The node's software started, holding the database at `lsn`.
    Started {
        role: &'static str,
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
    /// Input from `peer` was refused as malformed.
    Rejected {
        peer: String,
        problem: String,
    },
}
