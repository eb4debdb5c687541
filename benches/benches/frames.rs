//! Criterion benchmarks of the replication data path's pure parts: encoding and decoding a batch
//! of frames (LZ4 and checksums), and committing and applying a write as a SQLite changeset.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use edgesim_system::edge::frame::{Frame, decode_batch, encode_batch};
use edgesim_system::edge::store::{Lineage, Store, WriteOp};

fn history(n: u64) -> Vec<Frame> {
    let mut primary = Store::new(n).expect("store opens");
    (1..=n)
        .map(|i| {
            let op = WriteOp { session: i % 16, seq: i, key: format!("k{}", i % 64), value: vec![(i % 251) as u8; 64] };
            primary.commit(&op, 1).expect("commit")
        })
        .collect()
}

fn batches(c: &mut Criterion) {
    let frames = history(64);
    let encoded = encode_batch(&frames);
    let payload: usize = frames.iter().map(|f| f.payload.len()).sum();
    let mut g = c.benchmark_group("batch of 64 changeset frames");
    g.throughput(Throughput::Bytes(payload as u64));
    g.bench_function("encode (lz4 + checksum)", |b| b.iter(|| encode_batch(&frames)));
    g.bench_function("decode and verify", |b| b.iter(|| decode_batch(&encoded).expect("valid")));
    g.finish();
}

fn store(c: &mut Criterion) {
    let frames = history(256);
    let mut g = c.benchmark_group("sqlite changesets");
    g.bench_function("commit one write on the primary", |b| {
        let mut primary = Store::new(1000).expect("store opens");
        let mut seq = 0;
        b.iter(|| {
            seq += 1;
            let op = WriteOp { session: 1, seq, key: format!("k{}", seq % 64), value: vec![7; 64] };
            primary.commit(&op, 1).expect("commit")
        })
    });
    g.bench_function("apply 256 frames on a replica", |b| {
        b.iter(|| {
            let mut replica = Store::new(0).expect("store opens");
            for f in &frames {
                replica.apply(f, Lineage::Check).expect("apply");
            }
        })
    });
    g.finish();
}

criterion_group!(benches, batches, store);
criterion_main!(benches);
