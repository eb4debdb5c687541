//! The primary's replication manager (docs/DESIGN.md, Replication: frames batched, LZ4-compressed,
//! and broadcast through regional distributors): one stream per subscriber, a backlog from the
//! retained frame log, then live frames batched by size and time, with heartbeats when idle.
//! A subscriber whose history does not continue the primary's, or who needs frames no longer
//! retained, is told so and must rebuild from a snapshot.

use std::cell::RefCell;
use std::time::Duration;

use tokio::io::AsyncWrite;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep_until};

use super::batch::{BatchPolicy, Batcher};
use super::frame::{Frame, GENESIS_CHECKSUM, Lsn, encode_batch};
use super::proto::ReplMessage;
use super::store::Store;
use crate::telemetry::{NodeEvent, Telemetry};
use crate::wire::{self, WireError};

/// Sends `frames` to `peer` as one batch and reports it.
pub(crate) async fn send_batch<W: AsyncWrite + Unpin, T: Telemetry>(
    w: &mut W,
    telemetry: &T,
    peer: &str,
    frames: &[Frame],
) -> Result<(), WireError> {
    let (Some(first), Some(last)) = (frames.first(), frames.last()) else { return Ok(()) };
    let bytes = encode_batch(frames);
    telemetry.emit(NodeEvent::BatchSent {
        to: peer.to_string(),
        first_lsn: first.lsn,
        last_lsn: last.lsn,
        frames: frames.len(),
        payload_bytes: frames.iter().map(|f| f.payload.len()).sum(),
        wire_bytes: bytes.len(),
    });
    wire::send(w, &ReplMessage::Batch(bytes)).await
}

/// What one subscriber's stream reads: the primary's retained frame log, and how far the
/// subscriber may go (`Primary::released`: every committed frame for the standby, durable ones for
/// anyone else).
pub(crate) struct Source<'a, T> {
    pub store: &'a RefCell<Store>,
    pub released: watch::Receiver<Lsn>,
    pub telemetry: &'a T,
    pub heartbeat: Duration,
}

/// Where a subscriber starts, after checking that its history is a prefix of the primary's
/// (`lineage_check`: refuse a follower whose history differs or runs ahead).
pub(crate) fn start_of(
    store: &Store,
    from: Option<Lsn>,
    prev_checksum: u64,
    lineage_check: bool,
) -> Result<Lsn, String> {
    let head = store.position().map_err(|e| e.to_string())?;
    let Some(from) = from else { return Ok(head.lsn + 1) };
    let held = match from.checked_sub(1) {
        None => return Err("LSN 0 does not exist".into()),
        Some(0) => Some(GENESIS_CHECKSUM),
        Some(prev) if prev == head.lsn => Some(head.checksum),
        Some(prev) if prev > head.lsn && lineage_check => {
            return Err(format!("follower holds LSN {prev}, beyond the primary's head {}", head.lsn));
        }
        Some(prev) if prev > head.lsn => return Ok(head.lsn + 1),
        Some(prev) => store.frames(prev, prev).map_err(|e| e.to_string())?.map(|f| f[0].checksum),
    };
    match held {
        Some(c) if c == prev_checksum || !lineage_check => Ok(from),
        Some(_) => Err(format!("follower's frame {} differs from the primary's", from - 1)),
        None => Err(format!("frames from {from} are no longer retained")),
    }
}

/// Streams the source's frames from `next` on until the subscriber goes away, up to what it may
/// have as that grows. Released frames are read from the retained log, so a subscriber never
/// misses one however far it lags.
pub async fn stream<T: Telemetry, W: AsyncWrite + Unpin>(
    source: Source<'_, T>,
    w: &mut W,
    peer: &str,
    mut next: Lsn,
    policy: BatchPolicy,
) -> Result<(), WireError> {
    let Source { store, mut released, telemetry, heartbeat } = source;
    let mut batcher = Batcher::new(policy);
    let mut heartbeat = interval(heartbeat);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let upto = *released.borrow_and_update();
    let Some(frames) = retained(store, w, next, upto).await? else { return Ok(()) };
    for chunk in chunks(&frames, policy.max_bytes) {
        send_batch(w, telemetry, peer, chunk).await?;
    }
    next = next.max(upto + 1);
    loop {
        let deadline = batcher.deadline();
        tokio::select! {
            biased;
            changed = released.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let upto = *released.borrow_and_update();
                let Some(frames) = retained(store, w, next, upto).await? else { return Ok(()) };
                next = next.max(upto + 1);
                for frame in frames {
                    if let Some(batch) = batcher.push(frame, Instant::now()) {
                        send_batch(w, telemetry, peer, &batch).await?;
                    }
                }
            },
            _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                if let Some(batch) = batcher.take() {
                    send_batch(w, telemetry, peer, &batch).await?;
                }
            }
            _ = heartbeat.tick() => {
                // Announces only what the subscriber may have: a replica asks again for frames
                // announced but not received.
                let head = *released.borrow();
                wire::send(w, &ReplMessage::Heartbeat { head }).await?;
            }
        }
    }
}

/// The retained frames `next..=upto` (none when `next` is beyond `upto`); `None` when they are no
/// longer retained, after telling the subscriber to rebuild.
async fn retained<W: AsyncWrite + Unpin>(
    store: &RefCell<Store>,
    w: &mut W,
    next: Lsn,
    upto: Lsn,
) -> Result<Option<Vec<Frame>>, WireError> {
    if next > upto {
        return Ok(Some(Vec::new()));
    }
    let frames = store.borrow().frames(next, upto).ok().flatten();
    if frames.is_none() {
        let reason = format!("frames from {next} are no longer retained");
        wire::send(w, &ReplMessage::Behind { from: next, reason }).await?;
    }
    Ok(frames)
}

/// Splits frames into runs of at most `max_bytes` payload (at least one frame each).
pub fn chunks(frames: &[Frame], max_bytes: usize) -> Vec<&[Frame]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, f) in frames.iter().enumerate() {
        if i > start && bytes + f.payload.len() > max_bytes {
            out.push(&frames[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += f.payload.len();
    }
    if start < frames.len() {
        out.push(&frames[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_the_size_bound_and_keep_every_frame() {
        let frames: Vec<Frame> = (1..=10).map(|i| Frame::after(0, 1, i, vec![0; 40])).collect();
        let parts = chunks(&frames, 100);
        assert_eq!(parts.iter().map(|c| c.len()).collect::<Vec<_>>(), vec![2, 2, 2, 2, 2]);
        assert_eq!(chunks(&frames, 0).len(), 10);
        assert!(chunks(&[], 100).is_empty());
    }
}
