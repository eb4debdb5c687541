//! A node's SQLite database: the application tables, the replication position and the retained
//! frame log, kept in one database so that a change and the position it moves to commit in the
//! same transaction (docs/DESIGN.md, Replication: replicas apply frames strictly in order).
//!
//! The primary turns each write transaction into a frame whose payload is the SQLite session
//! changeset of that transaction; replicas apply the changeset row by row with cached statements,
//! judging conflicts as `sqlite3changeset_apply` does (which would prepare its statements anew for
//! every frame). Snapshots are the serialized database (`sqlite3_serialize`).
//!
//! Each database is SQLite's private temporary database (opened with an empty name) with a page
//! cache of `PAGE_CACHE_KIB`: pages beyond the cache wait in a file SQLite creates unlinked and
//! deletes on close, as a real replica's pages wait on its disk. A node's memory is then its cache,
//! not its whole history, so a run's memory stays flat however long it simulates. Nothing about
//! the file reaches the simulation: SQLite reads its pages back the same, and no time is charged
//! for them (service time is modelled by the runtime, not measured).

use std::collections::BTreeMap;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::config::DbConfig;
use rusqlite::fallible_streaming_iterator::FallibleStreamingIterator;
use rusqlite::hooks::Action;
use rusqlite::session::{ChangesetItem, ChangesetIter, Session};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, MAIN_DB, OptionalExtension, params, params_from_iter};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use super::frame::{Frame, GENESIS_CHECKSUM, Lsn};

/// Every node's tables (public for the benchmarks' raw-rusqlite baseline).
pub const SCHEMA: &str = "
    CREATE TABLE writes(
        session INTEGER NOT NULL, seq INTEGER NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
        generation INTEGER NOT NULL, lsn INTEGER NOT NULL,
        PRIMARY KEY(session, seq));
    CREATE TABLE kv(
        key TEXT PRIMARY KEY, version INTEGER NOT NULL,
        writer_session INTEGER NOT NULL, writer_seq INTEGER NOT NULL,
        writer_generation INTEGER NOT NULL, writer_lsn INTEGER NOT NULL, value BLOB NOT NULL);
    CREATE TABLE _position(
        id INTEGER PRIMARY KEY CHECK (id = 0),
        generation INTEGER NOT NULL, lsn INTEGER NOT NULL, checksum INTEGER NOT NULL);
    CREATE TABLE _frames(
        lsn INTEGER PRIMARY KEY, generation INTEGER NOT NULL, checksum INTEGER NOT NULL,
        payload BLOB NOT NULL);
";

/// The tables whose changes replicate, with their columns in `SCHEMA`'s order (a changeset names
/// columns by position); the underscore tables are each node's own bookkeeping.
const REPLICATED: [(&str, &[&str]); 2] = [
    ("writes", &["session", "seq", "key", "value", "generation", "lsn"]),
    ("kv", &["key", "version", "writer_session", "writer_seq", "writer_generation", "writer_lsn", "value"]),
];

/// Prepared statements a database keeps: the bookkeeping's, and one per table, change kind and
/// set of changed columns a frame holds.
const STATEMENT_CACHE: usize = 64;

/// Each database's page cache, in KiB; pages beyond it are written to its temporary file.
const PAGE_CACHE_KIB: u32 = 256;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("frame {found} is out of order: the next frame to apply is {expected}")]
    OutOfOrder { expected: Lsn, found: Lsn },
    #[error("frame {lsn} (generation {generation}) does not continue this node's history")]
    Lineage { lsn: Lsn, generation: u64 },
    #[error("frame {lsn} conflicts with this node's content")]
    Conflict { lsn: Lsn },
    #[error("copying a snapshot into a database stopped before its end ({0:?})")]
    Unrestored(StepResult),
}

/// Where a database's history ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub generation: u64,
    pub lsn: Lsn,
    pub checksum: u64,
}

/// Whether applying a frame checks that it continues this database's history. `Ignore` exists only
/// as a negative control: it applies whatever arrives and skips rows that conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lineage {
    Check,
    Ignore,
}

/// One application write: a session's numbered write of a value under a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteOp {
    pub session: u64,
    pub seq: u64,
    pub key: String,
    pub value: Vec<u8>,
}

/// What a read returns: the session's own rows (its writes, every key) that this database holds,
/// and one key's row with the write that produced it. Checkers judge reads by these contents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadRow {
    pub own: OwnRows,
    pub key: String,
    /// How many writes the key's row has seen in this database's history (restarts with a history).
    pub version: u64,
    pub writer: Option<Writer>,
}

/// A write as a row names it: the session's numbered write, and the generation and LSN of the
/// frame that committed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Writer {
    pub session: u64,
    pub seq: u64,
    pub generation: u64,
    pub lsn: Lsn,
}

/// A session's rows in the `writes` table as a read returned them, bounded by the holes in them
/// rather than by their number: their sequence numbers as inclusive ranges, and a digest of which
/// commit each row came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnRows {
    pub count: u64,
    /// The rows' sequence numbers as ascending, disjoint, inclusive ranges `[first, last]`.
    pub seqs: Vec<(u64, u64)>,
    /// `xxh3_64` of the little-endian `(seq, generation, lsn)` of every row, in seq order.
    pub digest: u64,
}

impl OwnRows {
    /// Whether the rows hold the session's write `seq`.
    pub fn holds(&self, seq: u64) -> bool {
        let at = self.seqs.partition_point(|&(_, last)| last < seq);
        self.seqs.get(at).is_some_and(|&(first, _)| first <= seq)
    }
}

/// The replicated content of a database, in primary-key order, every row with the generation and
/// LSN of the frame that wrote it: two databases with the same values written by different
/// histories differ.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub writes: Vec<WriteRow>,
    pub kv: Vec<KvRow>,
}

/// A `writes` row: (session, seq, key, value, generation, lsn).
pub(crate) type WriteRow = (u64, u64, String, Vec<u8>, u64, Lsn);

/// A `kv` row: (key, version, writer session, writer seq, writer generation, writer LSN, value).
pub(crate) type KvRow = (String, u64, u64, u64, u64, Lsn, Vec<u8>);

/// A whole database as bytes, with the position it holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    pub position: Position,
    pub db: Vec<u8>,
}

pub struct Store {
    conn: Connection,
    retain: u64,
    changes: ChangeSql,
}

impl Store {
    /// An empty database at the start of history; it keeps the last `retain` frames.
    pub fn new(retain: u64) -> Result<Store, StoreError> {
        let conn = paged()?;
        conn.execute_batch(SCHEMA)?;
        conn.execute(
            "INSERT INTO _position(id, generation, lsn, checksum) VALUES (0, 1, 0, ?1)",
            [GENESIS_CHECKSUM as i64],
        )?;
        Ok(Store { conn, retain, changes: ChangeSql::default() })
    }

    /// How many frames this database keeps.
    pub fn retain(&self) -> u64 {
        self.retain
    }

    pub fn position(&self) -> Result<Position, StoreError> {
        position_in(&self.conn)
    }

    /// Whether this database holds the write `seq` of `session` (a client retrying a write whose
    /// acknowledgement it never got).
    pub fn holds(&self, session: u64, seq: u64) -> Result<bool, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT count(*) FROM writes WHERE session = ?1 AND seq = ?2")?;
        Ok(stmt.query_row([session, seq], |r| r.get::<_, u64>(0))? > 0)
    }

    /// Executes a write as one transaction and returns the frame it became.
    pub fn commit(&mut self, op: &WriteOp, generation: u64) -> Result<Frame, StoreError> {
        let tx = Tx::begin(&mut self.conn)?;
        let prev = position_in(&tx)?;
        let lsn = prev.lsn + 1;
        let mut changeset = Vec::new();
        {
            let mut session = Session::new(&tx)?;
            for (table, _) in REPLICATED {
                session.attach(Some(table))?;
            }
            tx.prepare_cached(
                "INSERT INTO writes(session, seq, key, value, generation, lsn) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![op.session, op.seq, op.key, op.value, generation, lsn])?;
            tx.prepare_cached(
                "INSERT INTO kv(key, version, writer_session, writer_seq, writer_generation, writer_lsn, value)
                 VALUES (?1, 1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(key) DO UPDATE SET version = version + 1,
                   writer_session = excluded.writer_session, writer_seq = excluded.writer_seq,
                   writer_generation = excluded.writer_generation, writer_lsn = excluded.writer_lsn,
                   value = excluded.value",
            )?
            .execute(params![op.key, op.session, op.seq, generation, lsn, op.value])?;
            session.changeset_strm(&mut changeset)?;
        }
        let frame = Frame::after(prev.checksum, generation, lsn, changeset);
        record(&tx, &frame, self.retain)?;
        tx.commit()?;
        Ok(frame)
    }

    /// Applies the next frame of the history, with its position, in one transaction.
    pub fn apply(&mut self, frame: &Frame, lineage: Lineage) -> Result<(), StoreError> {
        let tx = Tx::begin(&mut self.conn)?;
        let at = position_in(&tx)?;
        if frame.lsn != at.lsn + 1 {
            return Err(StoreError::OutOfOrder { expected: at.lsn + 1, found: frame.lsn });
        }
        let foreign = !frame.follows(at.checksum) || frame.generation < at.generation;
        if foreign && lineage == Lineage::Check {
            return Err(StoreError::Lineage { lsn: frame.lsn, generation: frame.generation });
        }
        if !apply_changeset(&tx, &mut self.changes, &frame.payload, lineage)? {
            return Err(StoreError::Conflict { lsn: frame.lsn });
        }
        record(&tx, frame, self.retain)?;
        tx.commit()?;
        Ok(())
    }

    /// The retained frames `from..=to`, or `None` if any of them is no longer retained.
    pub fn frames(&self, from: Lsn, to: Lsn) -> Result<Option<Vec<Frame>>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT generation, lsn, checksum, payload FROM _frames WHERE lsn BETWEEN ?1 AND ?2 ORDER BY lsn",
        )?;
        let frames = stmt
            .query_map([from, to], |r| {
                Ok(Frame {
                    generation: r.get(0)?,
                    lsn: r.get(1)?,
                    checksum: r.get::<_, i64>(2)? as u64,
                    payload: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let complete =
            frames.len() as u64 == to.saturating_sub(from) + 1 && frames.first().map(|f| f.lsn) == Some(from);
        Ok(complete.then_some(frames))
    }

    pub fn snapshot(&mut self) -> Result<Snapshot, StoreError> {
        let position = self.position()?;
        let db = self.conn.serialize(MAIN_DB)?.to_vec();
        Ok(Snapshot { position, db })
    }

    /// A database rebuilt from a snapshot, keeping the last `retain` frames it carried.
    pub fn restore(snapshot: &Snapshot, retain: u64) -> Result<Store, StoreError> {
        let mut image = Connection::open_in_memory()?;
        image.deserialize_read_exact(MAIN_DB, &snapshot.db[..], snapshot.db.len(), false)?;
        let mut conn = paged()?;
        let copied = Backup::new(&image, &mut conn)?.step(-1)?;
        if copied != StepResult::Done {
            return Err(StoreError::Unrestored(copied));
        }
        let store = Store { conn, retain, changes: ChangeSql::default() };
        let held = store.position()?;
        if held != snapshot.position {
            return Err(StoreError::Lineage { lsn: held.lsn, generation: held.generation });
        }
        prune(&store.conn, held.lsn, retain)?;
        Ok(store)
    }

    pub fn read(&self, session: u64, key: &str) -> Result<ReadRow, StoreError> {
        let mut own = OwnRows::default();
        let mut committed = Vec::new();
        let mut stmt =
            self.conn.prepare_cached("SELECT seq, generation, lsn FROM writes WHERE session = ?1 ORDER BY seq")?;
        let mut rows = stmt.query([session])?;
        while let Some(r) = rows.next()? {
            let (seq, generation, lsn): (u64, u64, u64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            match own.seqs.last_mut() {
                Some((_, last)) if *last + 1 == seq => *last = seq,
                _ => own.seqs.push((seq, seq)),
            }
            own.count += 1;
            committed.extend([seq, generation, lsn].iter().flat_map(|n| n.to_le_bytes()));
        }
        own.digest = xxh3_64(&committed);
        let row = self
            .conn
            .prepare_cached(
                "SELECT version, writer_session, writer_seq, writer_generation, writer_lsn FROM kv WHERE key = ?1",
            )?
            .query_row([key], |r| {
                let writer = Writer { session: r.get(1)?, seq: r.get(2)?, generation: r.get(3)?, lsn: r.get(4)? };
                Ok((r.get(0)?, writer))
            })
            .optional()?;
        let (version, writer) = match row {
            Some((v, w)) => (v, Some(w)),
            None => (0, None),
        };
        Ok(ReadRow { own, key: key.to_string(), version, writer })
    }

    pub fn content(&self) -> Result<Content, StoreError> {
        content_in(&self.conn)
    }
}

/// The replicated content of the database `conn` holds.
fn content_in(conn: &Connection) -> Result<Content, StoreError> {
    let mut writes =
        conn.prepare("SELECT session, seq, key, value, generation, lsn FROM writes ORDER BY session, seq")?;
    let writes = writes
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut kv = conn.prepare(
        "SELECT key, version, writer_session, writer_seq, writer_generation, writer_lsn, value FROM kv ORDER BY key",
    )?;
    let kv = kv
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Content { writes, kv })
}

/// A transaction begun and ended with cached statements: rusqlite's `Transaction` parses its
/// `BEGIN` and `COMMIT` anew each time, which was a tenth of applying a frame. Dropped without
/// `commit`, it rolls back.
struct Tx<'c> {
    conn: &'c mut Connection,
    open: bool,
}

impl<'c> Tx<'c> {
    fn begin(conn: &'c mut Connection) -> Result<Self, rusqlite::Error> {
        conn.prepare_cached("BEGIN")?.execute([])?;
        Ok(Tx { conn, open: true })
    }

    fn commit(mut self) -> Result<(), rusqlite::Error> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.open = false;
        Ok(())
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing to report to: the write this transaction held is already failing.
            let _ = self.conn.prepare_cached("ROLLBACK").and_then(|mut s| s.execute([]));
        }
    }
}

/// Applies a changeset's rows in order; false when a row conflicted and `lineage` checks (the
/// caller then drops the transaction), where `Ignore` skips the rows that conflict.
fn apply_changeset(
    conn: &Connection,
    sql: &mut ChangeSql,
    payload: &[u8],
    lineage: Lineage,
) -> Result<bool, rusqlite::Error> {
    let mut payload = payload;
    let input: &mut dyn std::io::Read = &mut payload;
    let mut changes = ChangesetIter::start_strm(&input)?;
    while let Some(change) = changes.next()? {
        if !apply_change(conn, sql, change)? && lineage == Lineage::Check {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Applies one row of a changeset as `sqlite3changeset_apply` does, and says whether it applied:
/// an insert whose key is taken, or an update or delete whose row is missing or holds other old
/// values than the change names, conflicts and changes nothing (as does a table not replicated).
fn apply_change(conn: &Connection, sql: &mut ChangeSql, change: &ChangesetItem) -> Result<bool, rusqlite::Error> {
    let op = change.op()?;
    let Some(table) = REPLICATED.iter().position(|(t, _)| *t == op.table_name()) else {
        return Ok(false);
    };
    let width = REPLICATED[table].1.len();
    // A value the change does not hold (an unchanged column of an update) reads as an error.
    let old: Vec<Option<ValueRef<'_>>> = (0..width).map(|c| change.old_value(c).ok()).collect();
    let new: Vec<Option<ValueRef<'_>>> = (0..width).map(|c| change.new_value(c).ok()).collect();
    let (kind, bound): (ChangeKind, Vec<ValueRef<'_>>) = match op.code() {
        Action::SQLITE_INSERT => (ChangeKind::Insert, new.iter().map(|v| v.unwrap_or(ValueRef::Null)).collect()),
        Action::SQLITE_DELETE => (ChangeKind::Delete { old: held(&old) }, old.iter().flatten().copied().collect()),
        Action::SQLITE_UPDATE => (
            ChangeKind::Update { new: held(&new), old: held(&old) },
            new.iter().chain(&old).flatten().copied().collect(),
        ),
        _ => return Ok(false),
    };
    let text = sql.text(table, kind);
    let changed = conn.prepare_cached(text)?.execute(params_from_iter(bound.into_iter().map(ToSqlOutput::Borrowed)))?;
    Ok(changed == 1)
}

/// Which of a change's columns hold a value, as a bit per column.
fn held(values: &[Option<ValueRef<'_>>]) -> u32 {
    values.iter().enumerate().filter(|(_, v)| v.is_some()).fold(0, |mask, (c, _)| mask | 1 << c)
}

/// A shape of change: the statement applying it binds the columns it holds a value for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum ChangeKind {
    /// Every column, missing ones as NULL.
    Insert,
    /// Matched on the old values held.
    Delete { old: u32 },
    /// The new values held set, matched on the old values held.
    Update { new: u32, old: u32 },
}

/// The SQL text applying each shape of change to each replicated table, built the first time a
/// database meets the shape (the statement cache is keyed by this text).
#[derive(Default)]
struct ChangeSql(BTreeMap<(usize, ChangeKind), String>);

impl ChangeSql {
    fn text(&mut self, table: usize, kind: ChangeKind) -> &str {
        self.0.entry((table, kind)).or_insert_with(|| {
            let (name, columns) = REPLICATED[table];
            match kind {
                ChangeKind::Insert => {
                    let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
                    format!("INSERT OR IGNORE INTO {name} VALUES ({})", marks.join(", "))
                }
                ChangeKind::Delete { old } => {
                    format!("DELETE FROM {name} WHERE {}", named(columns, old, "IS", " AND ", 1))
                }
                ChangeKind::Update { new, old } => {
                    let set = named(columns, new, "=", ", ", 1);
                    let filter = named(columns, old, "IS", " AND ", new.count_ones() as usize + 1);
                    format!("UPDATE {name} SET {set} WHERE {filter}")
                }
            }
        })
    }
}

/// The columns in `mask` as `name OP ?n`, numbered from `from` and joined by `joiner`.
fn named(columns: &[&str], mask: u32, op: &str, joiner: &str, from: usize) -> String {
    let names: Vec<String> = columns
        .iter()
        .enumerate()
        .filter(|(c, _)| mask & 1 << c != 0)
        .enumerate()
        .map(|(i, (_, name))| format!("{name} {op} ?{}", from + i))
        .collect();
    names.join(joiner)
}

/// An empty temporary database with this module's page cache and statement cache.
fn paged() -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open("")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // The bundled SQLite is built with STAT4, which re-prepares a statement each time a bound
    // value changes unless the query planner stability guarantee holds its plan: with it, a
    // cached statement is prepared once (same plans, as no table is ever analyzed).
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.execute_batch(&format!("PRAGMA cache_size = -{PAGE_CACHE_KIB};"))?;
    Ok(conn)
}

fn position_in(conn: &Connection) -> Result<Position, StoreError> {
    Ok(conn.prepare_cached("SELECT generation, lsn, checksum FROM _position")?.query_row([], |r| {
        Ok(Position { generation: r.get(0)?, lsn: r.get(1)?, checksum: r.get::<_, i64>(2)? as u64 })
    })?)
}

fn record(conn: &Connection, frame: &Frame, retain: u64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE _position SET generation = ?1, lsn = ?2, checksum = ?3")?.execute(params![
        frame.generation,
        frame.lsn,
        frame.checksum as i64
    ])?;
    if retain > 0 {
        conn.prepare_cached("INSERT INTO _frames(lsn, generation, checksum, payload) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![frame.lsn, frame.generation, frame.checksum as i64, frame.payload])?;
        prune(conn, frame.lsn, retain)?;
    }
    Ok(())
}

fn prune(conn: &Connection, head: Lsn, retain: u64) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM _frames WHERE lsn <= ?1")?.execute([head.saturating_sub(retain)])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(session: u64, seq: u64, key: &str) -> WriteOp {
        WriteOp { session, seq, key: key.to_string(), value: format!("v{session}.{seq}").into_bytes() }
    }

    fn primary_with(n: u64) -> (Store, Vec<Frame>) {
        let mut primary = Store::new(1000).unwrap();
        let frames = (1..=n).map(|i| primary.commit(&op(i % 3, i, &format!("k{}", i % 4)), 1).unwrap()).collect();
        (primary, frames)
    }

    #[test]
    fn a_replica_applying_the_stream_equals_the_primary() {
        let (primary, frames) = primary_with(25);
        let mut replica = Store::new(0).unwrap();
        for f in &frames {
            replica.apply(f, Lineage::Check).unwrap();
        }
        assert_eq!(replica.content().unwrap(), primary.content().unwrap());
        assert_eq!(replica.position().unwrap(), primary.position().unwrap());
        assert_eq!(replica.read(1, "k1").unwrap(), primary.read(1, "k1").unwrap());
        assert_eq!(primary.content().unwrap().writes.len(), 25);
    }

    #[test]
    fn payloads_are_sqlite_changesets_not_sql() {
        let (_, frames) = primary_with(1);
        assert!(!String::from_utf8_lossy(&frames[0].payload).contains("INSERT"));
        assert_eq!(frames[0].payload[0], b'T', "a changeset starts with a table record");
    }

    #[test]
    fn out_of_order_and_foreign_frames_are_refused() {
        let (_, frames) = primary_with(3);
        let mut replica = Store::new(0).unwrap();
        assert!(matches!(
            replica.apply(&frames[1], Lineage::Check),
            Err(StoreError::OutOfOrder { expected: 1, found: 2 })
        ));
        replica.apply(&frames[0], Lineage::Check).unwrap();
        let (_, other) = {
            let mut p = Store::new(10).unwrap();
            p.commit(&op(9, 1, "x"), 1).unwrap();
            let f = p.commit(&op(9, 2, "x"), 1).unwrap();
            (p, f)
        };
        assert!(matches!(replica.apply(&other, Lineage::Check), Err(StoreError::Lineage { lsn: 2, .. })));
        assert_eq!(replica.position().unwrap().lsn, 1);
    }

    #[test]
    fn a_conflicting_frame_changes_nothing_and_the_next_one_applies() {
        // Goal: a frame refused half-way is rolled back whole (no row, no position), and leaves no
        // transaction open to swallow the next frame.
        let (_, frames) = primary_with(2);
        let mut replica = Store::new(0).unwrap();
        replica.apply(&frames[0], Lineage::Check).unwrap();
        let before = replica.content().unwrap();
        let again = Frame::after(frames[0].checksum, 1, 2, frames[0].payload.clone());
        assert!(matches!(replica.apply(&again, Lineage::Check), Err(StoreError::Conflict { lsn: 2 })));
        assert_eq!((replica.content().unwrap(), replica.position().unwrap().lsn), (before, 1));
        replica.apply(&frames[1], Lineage::Check).unwrap();
        assert_eq!(replica.position().unwrap().lsn, 2);
    }

    /// A changeset of `sql` run on `store`, which is left as it was.
    fn changeset_of(store: &mut Store, sql: &str) -> Vec<u8> {
        let tx = store.conn.transaction().unwrap();
        let mut out = Vec::new();
        let mut session = Session::new(&tx).unwrap();
        session.attach(None::<&str>).unwrap();
        tx.execute_batch(sql).unwrap();
        session.changeset_strm(&mut out).unwrap();
        out
    }

    /// What `sqlite3changeset_apply` makes of `payload` on `store`, which is left as it was.
    fn sqlite_applies(store: &mut Store, payload: &[u8], lineage: Lineage) -> Option<Content> {
        use rusqlite::session::{ConflictAction, ConflictType};
        let tx = store.conn.transaction().unwrap();
        let applied =
            tx.apply_strm(&mut &payload[..], None::<fn(&str) -> bool>, move |_: ConflictType, _| match lineage {
                Lineage::Check => ConflictAction::SQLITE_CHANGESET_ABORT,
                Lineage::Ignore => ConflictAction::SQLITE_CHANGESET_OMIT,
            });
        applied.is_ok().then(|| content_in(&tx).unwrap())
    }

    /// What the row-by-row applier makes of `payload` on `store`, which is left as it was.
    fn rows_apply(store: &mut Store, payload: &[u8], lineage: Lineage) -> Option<Content> {
        let tx = store.conn.transaction().unwrap();
        apply_changeset(&tx, &mut ChangeSql::default(), payload, lineage).unwrap().then(|| content_in(&tx).unwrap())
    }

    #[test]
    fn rows_apply_as_sqlite3changeset_apply_does() {
        // Goal: the cached-statement applier agrees with SQLite's own on every kind of change and
        // conflict: inserts, updates and deletes that apply, an insert whose key is taken, an
        // update or delete of a missing row or of a row holding other values; checked and ignored.
        let (mut primary, frames) = primary_with(12);
        let mut other = Store::new(0).unwrap();
        for i in 1..=12 {
            other.commit(&op(i % 3, i, &format!("k{}", i % 5)), 2).unwrap();
        }
        let mut payloads: Vec<Vec<u8>> = frames.iter().map(|f| f.payload.clone()).collect();
        payloads.push(changeset_of(
            &mut primary,
            "DELETE FROM writes WHERE session = 1; UPDATE kv SET value = x'00' WHERE key = 'k1'",
        ));
        payloads.push(changeset_of(
            &mut primary,
            "DELETE FROM kv WHERE key = 'k2'; INSERT INTO writes VALUES (7, 7, 'k7', x'07', 1, 99)",
        ));
        let mut empty = Store::new(0).unwrap();
        let mut cases = 0;
        for target in [&mut primary, &mut other, &mut empty] {
            for payload in &payloads {
                for lineage in [Lineage::Check, Lineage::Ignore] {
                    assert_eq!(rows_apply(target, payload, lineage), sqlite_applies(target, payload, lineage));
                    cases += usize::from(rows_apply(target, payload, Lineage::Check).is_none());
                }
            }
        }
        assert!(cases > 0, "some changes conflict");
    }

    #[test]
    fn a_retried_write_is_recognised() {
        let (primary, _) = primary_with(3);
        assert!(primary.holds(2, 2).unwrap());
        assert!(!primary.holds(2, 3).unwrap());
    }

    #[test]
    fn a_read_returns_the_sessions_rows_and_the_commits_that_wrote_them() {
        // What read checkers judge by: the session's rows with their holes, and the key's writer.
        let mut db = Store::new(0).unwrap();
        db.commit(&op(1, 1, "a"), 1).unwrap();
        db.commit(&op(1, 2, "b"), 1).unwrap();
        db.commit(&op(2, 1, "a"), 1).unwrap();
        db.commit(&op(1, 4, "a"), 2).unwrap();
        let row = db.read(1, "a").unwrap();
        assert_eq!((row.own.count, row.own.seqs.clone()), (3, vec![(1, 2), (4, 4)]));
        assert!(row.own.holds(2) && !row.own.holds(3) && row.own.holds(4) && !row.own.holds(5));
        assert_eq!(row.writer, Some(Writer { session: 1, seq: 4, generation: 2, lsn: 4 }));
        assert_eq!(row.version, 3);
        assert_ne!(row.own.digest, db.read(2, "a").unwrap().own.digest);
    }

    #[test]
    fn retention_bounds_the_frame_log() {
        let mut primary = Store::new(5).unwrap();
        for i in 1..=12 {
            primary.commit(&op(1, i, "k"), 1).unwrap();
        }
        assert!(primary.frames(8, 12).unwrap().is_some());
        assert!(primary.frames(7, 12).unwrap().is_none());
    }

    #[test]
    fn snapshot_restores_content_and_position() {
        let (mut primary, _) = primary_with(10);
        let snap = primary.snapshot().unwrap();
        let mut restored = Store::restore(&snap, 0).unwrap();
        assert_eq!(restored.content().unwrap(), primary.content().unwrap());
        let next = primary.commit(&op(1, 99, "k"), 1).unwrap();
        restored.apply(&next, Lineage::Check).unwrap();
        assert_eq!(restored.content().unwrap(), primary.content().unwrap());
    }

    #[test]
    fn a_corrupt_snapshot_is_an_error() {
        let (mut primary, _) = primary_with(3);
        let mut snap = primary.snapshot().unwrap();
        snap.db.truncate(100);
        assert!(Store::restore(&snap, 0).is_err());
    }
}
