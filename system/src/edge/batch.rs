//! Batching of frames by size and time (docs/DESIGN.md, WAL frames and batches): a batch is sent
//! when it holds `max_bytes` of payload or its oldest frame has waited `max_delay`.
//! Pure logic; the replication streams drive it with the clock.

use std::time::Duration;

use tokio::time::Instant;

use super::frame::Frame;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchPolicy {
    pub max_bytes: usize,
    pub max_delay: Duration,
}

impl BatchPolicy {
    /// Every frame is sent on its own, at once (the synchronous standby's stream).
    pub(crate) const IMMEDIATE: BatchPolicy = BatchPolicy { max_bytes: 0, max_delay: Duration::ZERO };
}

#[derive(Debug)]
pub(crate) struct Batcher {
    policy: BatchPolicy,
    pending: Vec<Frame>,
    bytes: usize,
    oldest: Option<Instant>,
}

impl Batcher {
    pub fn new(policy: BatchPolicy) -> Batcher {
        Batcher { policy, pending: Vec::new(), bytes: 0, oldest: None }
    }

    /// Adds a frame; returns a full batch when the size bound is reached.
    pub fn push(&mut self, frame: Frame, now: Instant) -> Option<Vec<Frame>> {
        self.bytes += frame.payload.len();
        self.oldest.get_or_insert(now);
        self.pending.push(frame);
        if self.bytes >= self.policy.max_bytes || self.policy.max_delay.is_zero() {
            return self.take();
        }
        None
    }

    /// When the pending batch must go out, if any frame is pending.
    pub fn deadline(&self) -> Option<Instant> {
        self.oldest.map(|t| t + self.policy.max_delay)
    }

    /// Takes whatever is pending.
    pub fn take(&mut self) -> Option<Vec<Frame>> {
        self.oldest = None;
        self.bytes = 0;
        (!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::frame::GENESIS_CHECKSUM;

    fn frame(lsn: u64, len: usize) -> Frame {
        Frame::after(GENESIS_CHECKSUM, 1, lsn, vec![0; len])
    }

    #[test]
    fn flushes_on_size_and_reports_deadline() {
        let policy = BatchPolicy { max_bytes: 100, max_delay: Duration::from_millis(20) };
        let mut b = Batcher::new(policy);
        let t0 = Instant::now();
        assert_eq!(b.deadline(), None);
        assert!(b.push(frame(1, 60), t0).is_none());
        assert_eq!(b.deadline(), Some(t0 + Duration::from_millis(20)));
        let full = b.push(frame(2, 60), t0 + Duration::from_millis(5)).unwrap();
        assert_eq!(full.iter().map(|f| f.lsn).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(b.deadline(), None);
        assert!(b.take().is_none());
    }

    #[test]
    fn immediate_policy_sends_every_frame() {
        let mut b = Batcher::new(BatchPolicy::IMMEDIATE);
        assert_eq!(b.push(frame(1, 10), Instant::now()).unwrap().len(), 1);
    }
}
