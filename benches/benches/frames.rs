//! Criterion benchmarks of the replication data path's pure parts: encoding and decoding a batch
//! of frames (LZ4 and checksums), committing and applying a write as a SQLite changeset, and a
//! PoP's read; the last two beside raw rusqlite doing the same rows with cached statements.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use edgesim_system::edge::frame::{Frame, decode_batch, encode_batch};
use edgesim_system::edge::store::{Lineage, SCHEMA, Store, WriteOp};
use rusqlite::session::{ConflictAction, ConflictType};
use rusqlite::{Connection, params};

/// The `i`-th write of the benchmarks' history: 16 sessions over 64 keys.
fn write(i: u64) -> WriteOp {
    WriteOp { session: i % 16, seq: i, key: format!("k{}", i % 64), value: vec![(i % 251) as u8; 64] }
}

fn history(n: u64) -> Vec<Frame> {
    let mut primary = Store::new(n).expect("store opens");
    (1..=n).map(|i| primary.commit(&write(i), 1).expect("commit")).collect()
}

/// What applying frame `i` writes, done by hand: one transaction of the `writes` row, the `kv`
/// upsert and the position, with cached statements.
fn raw_apply(conn: &mut Connection, i: u64) {
    let op = write(i);
    let tx = conn.transaction().expect("begin");
    tx.prepare_cached("INSERT INTO writes(session, seq, key, value, generation, lsn) VALUES (?1, ?2, ?3, ?4, 1, ?2)")
        .expect("prepare")
        .execute(params![op.session, op.seq, op.key, op.value])
        .expect("insert");
    tx.prepare_cached(
        "INSERT INTO kv(key, version, writer_session, writer_seq, writer_generation, writer_lsn, value)
         VALUES (?1, 1, ?2, ?3, 1, ?3, ?4)
         ON CONFLICT(key) DO UPDATE SET version = version + 1, writer_session = excluded.writer_session,
           writer_seq = excluded.writer_seq, writer_lsn = excluded.writer_lsn, value = excluded.value",
    )
    .expect("prepare")
    .execute(params![op.key, op.session, op.seq, op.value])
    .expect("upsert");
    tx.prepare_cached("UPDATE _position SET lsn = ?1").expect("prepare").execute([i]).expect("position");
    tx.commit().expect("commit");
}

fn raw_db() -> Connection {
    let conn = Connection::open_in_memory().expect("opens");
    conn.execute_batch(SCHEMA).expect("schema");
    conn.execute("INSERT INTO _position(id, generation, lsn, checksum) VALUES (0, 1, 0, 0)", []).expect("position");
    conn
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
    g.bench_function("the same 256 changesets by sqlite3changeset_apply (the applier before)", |b| {
        b.iter(|| {
            let mut conn = raw_db();
            for f in &frames {
                let tx = conn.transaction().expect("begin");
                tx.apply_strm(&mut &f.payload[..], None::<fn(&str) -> bool>, |_: ConflictType, _| {
                    ConflictAction::SQLITE_CHANGESET_ABORT
                })
                .expect("apply");
                tx.prepare_cached("UPDATE _position SET lsn = ?1")
                    .expect("prepare")
                    .execute([f.lsn])
                    .expect("position");
                tx.commit().expect("commit");
            }
        })
    });
    g.bench_function("raw rusqlite: the same 256 writes' rows, cached statements", |b| {
        b.iter(|| {
            let mut conn = raw_db();
            for i in 1..=256 {
                raw_apply(&mut conn, i);
            }
        })
    });
    g.finish();
}

fn reads(c: &mut Criterion) {
    let frames = history(256);
    let mut replica = Store::new(0).expect("store opens");
    for f in &frames {
        replica.apply(f, Lineage::Check).expect("apply");
    }
    let mut raw = raw_db();
    for i in 1..=256 {
        raw_apply(&mut raw, i);
    }
    let mut g = c.benchmark_group("a read of a session's 16 rows and one key");
    g.bench_function("Store::read", |b| b.iter(|| replica.read(5, "k5").expect("read")));
    g.bench_function("raw rusqlite: the same two queries, cached statements", |b| {
        b.iter(|| {
            let mut seqs = raw
                .prepare_cached("SELECT seq, generation, lsn FROM writes WHERE session = ?1 ORDER BY seq")
                .expect("prepare");
            let own: Vec<(u64, u64, u64)> = seqs
                .query_map([5], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows");
            let key = raw
                .prepare_cached(
                    "SELECT version, writer_session, writer_seq, writer_generation, writer_lsn FROM kv WHERE key = ?1",
                )
                .expect("prepare")
                .query_row(["k5"], |r| {
                    Ok((
                        r.get::<_, u64>(0)?,
                        r.get::<_, u64>(1)?,
                        r.get::<_, u64>(2)?,
                        r.get::<_, u64>(3)?,
                        r.get::<_, u64>(4)?,
                    ))
                })
                .expect("row");
            (own, key)
        })
    });
    g.finish();
}

criterion_group!(benches, batches, store, reads);
criterion_main!(benches);
