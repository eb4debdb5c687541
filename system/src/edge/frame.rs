//! WAL frames and the compressed batches that carry them (docs/DESIGN.md, WAL frames and batches:
//! every committed write transaction is a frame of generation, LSN, checksum and payload; frames
//! travel in LZ4-compressed batches).
//!
//! A frame is one committed write transaction. Its payload is the SQLite session changeset of that
//! transaction. Checksums chain, `checksum(n) = xxh3(checksum(n-1), generation, lsn, payload)`, so a
//! replica that applied frame n with the expected checksum holds the primary's exact history: the
//! same lineage test LiteFS makes with its TXID and checksum.
//!
//! Batch layout (all integers little-endian):
//! `b"ESB1" | raw_len u32 | xxh3(compressed, seed raw_len) u64 | lz4 block of raw`, where raw is
//! `count u32 | count * (generation u64, lsn u64, checksum u64, len u32, payload)`.

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Log sequence number: the position of a committed transaction in the primary's history.
pub type Lsn = u64;

/// A point in the primary's history: a position, and the generation that wrote it. Points order by
/// generation first, so a position written by a newer primary is later than any position of an
/// older one even where the newer primary reused the number (after an asynchronous failover).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Point {
    pub generation: u64,
    pub lsn: Lsn,
}

/// The checksum of the empty history, the chain's starting point.
pub(crate) const GENESIS_CHECKSUM: u64 = 0x6564_6765_7369_6d00;

const MAGIC: &[u8; 4] = b"ESB1";
const HEADER: usize = 4 + 4 + 8;
const FRAME_HEADER: usize = 8 + 8 + 8 + 4;
/// The largest decompressed batch accepted.
pub(crate) const MAX_BATCH_RAW: usize = 64 << 20;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    pub generation: u64,
    pub lsn: Lsn,
    pub checksum: u64,
    pub payload: Vec<u8>,
}

/// The chained checksum of a frame that follows a history ending in `prev`.
pub fn chain(prev: u64, generation: u64, lsn: Lsn, payload: &[u8]) -> u64 {
    let mut buf = Vec::with_capacity(24 + payload.len());
    buf.extend_from_slice(&prev.to_le_bytes());
    buf.extend_from_slice(&generation.to_le_bytes());
    buf.extend_from_slice(&lsn.to_le_bytes());
    buf.extend_from_slice(payload);
    xxh3_64(&buf)
}

impl Frame {
    /// The frame that follows a history ending at checksum `prev`.
    pub fn after(prev: u64, generation: u64, lsn: Lsn, payload: Vec<u8>) -> Frame {
        let checksum = chain(prev, generation, lsn, &payload);
        Frame { generation, lsn, checksum, payload }
    }

    /// Whether this frame continues a history ending at checksum `prev`.
    pub fn follows(&self, prev: u64) -> bool {
        self.checksum == chain(prev, self.generation, self.lsn, &self.payload)
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("batch of {len} bytes is shorter than its {HEADER}-byte header")]
    TooShort { len: usize },
    #[error("batch does not start with the ESB1 magic")]
    BadMagic,
    #[error("batch claims {raw_len} decompressed bytes, over the {MAX_BATCH_RAW}-byte limit")]
    TooLarge { raw_len: usize },
    #[error("batch checksum mismatch: header says {expected:#018x}, content hashes to {found:#018x}")]
    Checksum { expected: u64, found: u64 },
    #[error("batch does not decompress: {0}")]
    Decompress(String),
    #[error("batch is truncated at byte {at} of {len} while reading {what}")]
    Truncated { at: usize, len: usize, what: &'static str },
    #[error("batch has {extra} trailing bytes after its last frame")]
    Trailing { extra: usize },
    #[error("batch frames are not contiguous: LSN {found} follows LSN {prev}")]
    NotContiguous { prev: Lsn, found: Lsn },
}

/// Encodes frames as one compressed batch.
pub fn encode_batch(frames: &[Frame]) -> Vec<u8> {
    let raw_len = 4 + frames.iter().map(|f| FRAME_HEADER + f.payload.len()).sum::<usize>();
    let mut raw = Vec::with_capacity(raw_len);
    raw.extend_from_slice(&(frames.len() as u32).to_le_bytes());
    for f in frames {
        raw.extend_from_slice(&f.generation.to_le_bytes());
        raw.extend_from_slice(&f.lsn.to_le_bytes());
        raw.extend_from_slice(&f.checksum.to_le_bytes());
        raw.extend_from_slice(&(f.payload.len() as u32).to_le_bytes());
        raw.extend_from_slice(&f.payload);
    }
    let compressed = lz4_flex::block::compress(&raw);
    let mut out = Vec::with_capacity(HEADER + compressed.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    out.extend_from_slice(&batch_checksum(raw.len(), &compressed).to_le_bytes());
    out.extend_from_slice(&compressed);
    out
}

/// Decodes and verifies a batch: magic, size bound, content checksum, decompression, layout, and
/// LSN contiguity. Chained frame checksums are verified where frames are applied, against the
/// applier's own history.
pub fn decode_batch(bytes: &[u8]) -> Result<Vec<Frame>, FrameError> {
    if bytes.len() < HEADER {
        return Err(FrameError::TooShort { len: bytes.len() });
    }
    if &bytes[..4] != MAGIC {
        return Err(FrameError::BadMagic);
    }
    let raw_len = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes")) as usize;
    if raw_len > MAX_BATCH_RAW {
        return Err(FrameError::TooLarge { raw_len });
    }
    let expected = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    let compressed = &bytes[HEADER..];
    let found = batch_checksum(raw_len, compressed);
    if found != expected {
        return Err(FrameError::Checksum { expected, found });
    }
    let raw = lz4_flex::block::decompress(compressed, raw_len).map_err(|e| FrameError::Decompress(e.to_string()))?;
    if raw.len() != raw_len {
        return Err(FrameError::Decompress(format!("{} bytes decompressed, header says {raw_len}", raw.len())));
    }
    parse_raw(&raw)
}

/// The batch checksum covers the declared size and the compressed bytes.
fn batch_checksum(raw_len: usize, compressed: &[u8]) -> u64 {
    xxh3_64_with_seed(compressed, raw_len as u64)
}

fn parse_raw(raw: &[u8]) -> Result<Vec<Frame>, FrameError> {
    let mut r = Reader { buf: raw, at: 0 };
    let count = r.u32("frame count")? as usize;
    let mut frames = Vec::with_capacity(count.min(raw.len() / FRAME_HEADER));
    for _ in 0..count {
        let generation = r.u64("generation")?;
        let lsn = r.u64("lsn")?;
        let checksum = r.u64("checksum")?;
        let len = r.u32("payload length")? as usize;
        let payload = r.bytes(len, "payload")?.to_vec();
        if let Some(prev) = frames.last().map(|f: &Frame| f.lsn)
            && lsn != prev + 1
        {
            return Err(FrameError::NotContiguous { prev, found: lsn });
        }
        frames.push(Frame { generation, lsn, checksum, payload });
    }
    if r.at != raw.len() {
        return Err(FrameError::Trailing { extra: raw.len() - r.at });
    }
    Ok(frames)
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FrameError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(FrameError::Truncated { at: self.at, len: self.buf.len(), what })?;
        let out = &self.buf[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, FrameError> {
        Ok(u32::from_le_bytes(self.bytes(4, what)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, FrameError> {
        Ok(u64::from_le_bytes(self.bytes(8, what)?.try_into().expect("8 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn history(payloads: &[Vec<u8>]) -> Vec<Frame> {
        let mut prev = GENESIS_CHECKSUM;
        let mut out = Vec::new();
        for (i, p) in payloads.iter().enumerate() {
            let f = Frame::after(prev, 1, i as u64 + 1, p.clone());
            prev = f.checksum;
            out.push(f);
        }
        out
    }

    proptest! {
        #[test]
        fn batches_round_trip(payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..40)) {
            let frames = history(&payloads);
            let decoded = decode_batch(&encode_batch(&frames)).unwrap();
            prop_assert_eq!(&decoded, &frames);
            let mut prev = GENESIS_CHECKSUM;
            for f in &decoded {
                prop_assert!(f.follows(prev));
                prev = f.checksum;
            }
        }

        #[test]
        fn any_flipped_bit_is_detected(
            payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..100), 1..10),
            pos in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let mut bytes = encode_batch(&history(&payloads));
            let i = pos.index(bytes.len());
            bytes[i] ^= 1 << bit;
            prop_assert!(decode_batch(&bytes).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_batch(&bytes);
        }
    }

    #[test]
    fn compresses_repetitive_payloads() {
        let frames = history(&vec![b"session=1 seq=1 value=aaaaaaaaaaaaaaaa".repeat(20); 50]);
        let raw: usize = frames.iter().map(|f| f.payload.len()).sum();
        assert!(encode_batch(&frames).len() < raw / 4);
    }

    #[test]
    fn each_corruption_is_named() {
        let frames = history(&[b"a".to_vec(), b"b".to_vec()]);
        let good = encode_batch(&frames);
        assert_eq!(decode_batch(&good[..3]), Err(FrameError::TooShort { len: 3 }));
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(decode_batch(&bad), Err(FrameError::BadMagic));
        let mut bad = good.clone();
        bad[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode_batch(&bad), Err(FrameError::TooLarge { .. })));
        let mut bad = good.clone();
        *bad.last_mut().unwrap() ^= 0xff;
        assert!(matches!(decode_batch(&bad), Err(FrameError::Checksum { .. })));

        let gap = vec![frames[0].clone(), Frame { lsn: 5, ..frames[1].clone() }];
        assert_eq!(decode_batch(&encode_batch(&gap)), Err(FrameError::NotContiguous { prev: 1, found: 5 }));
    }

    #[test]
    fn a_frame_from_another_history_does_not_follow() {
        let frames = history(&[b"a".to_vec(), b"b".to_vec()]);
        assert!(frames[1].follows(frames[0].checksum));
        assert!(!frames[1].follows(GENESIS_CHECKSUM));
        let forged = Frame { payload: b"c".to_vec(), ..frames[1].clone() };
        assert!(!forged.follows(frames[0].checksum));
    }
}
