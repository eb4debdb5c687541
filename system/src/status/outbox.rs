//! The notifier's durable queue (docs/DESIGN.md, Notifications): the pipeline's state in SQLite on
//! the notifier's disk, so that a crash loses neither a queued notification nor the hour's sends
//! the rate limit counts. Every decision the pipeline takes is committed here, in one transaction,
//! before the notifier acts on it: an offered update before the region is told it was taken, a
//! delivery's end (sent, rescheduled or given up) once the endpoint answered. A job being sent when
//! the notifier crashes is still queued here, so the restarted notifier sends it again under the
//! same idempotency key (at least once; the receiver drops the copy). A job given up after its
//! last retry leaves a notice to its subscriber that the endpoint is unreachable, committed in the
//! same transaction and kept until the notice is accepted or its tries are spent, so a crash
//! between the last retry and the notice does not lose it.
//!
//! Like the edge platform's databases, the database is created by whoever runs the node and
//! outlives the node's crashes (SQLite commits are durable).

use rusqlite::{Connection, Transaction, params};

use super::notify::{Job, NotifyEvent, Offered, Retry, Saved};

const SCHEMA: &str = "
    CREATE TABLE seen(event TEXT PRIMARY KEY);
    CREATE TABLE windows(dedup_key TEXT PRIMARY KEY, at_ms INTEGER NOT NULL, event TEXT NOT NULL);
    CREATE TABLE sent(subscriber INTEGER NOT NULL, channel TEXT NOT NULL, at_ms INTEGER NOT NULL);
    CREATE INDEX sent_at ON sent(at_ms);
    CREATE TABLE jobs(
        key TEXT PRIMARY KEY, event TEXT NOT NULL, subscriber INTEGER NOT NULL, channel TEXT NOT NULL,
        critical INTEGER NOT NULL, attempt INTEGER NOT NULL, due_ms INTEGER NOT NULL,
        enqueued_ms INTEGER NOT NULL, seq INTEGER NOT NULL);
    CREATE TABLE notices(key TEXT PRIMARY KEY, subscriber INTEGER NOT NULL, channel TEXT NOT NULL);
    CREATE TABLE counters(id INTEGER PRIMARY KEY CHECK (id = 0), offered INTEGER NOT NULL, seq INTEGER NOT NULL);
    INSERT INTO counters(id, offered, seq) VALUES (0, 0, 0);
";

/// A notice still to send: `subscriber`'s endpoint on `channel` was unreachable through the last
/// retry of the job whose idempotency key is `key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreachable {
    pub key: String,
    pub subscriber: u32,
    pub channel: String,
}

impl Unreachable {
    /// The notice a job given up after its last retry leaves.
    pub fn of(job: &Job) -> Unreachable {
        Unreachable { key: job.key.clone(), subscriber: job.subscriber, channel: job.channel.clone() }
    }
}

/// The notifier's database.
pub struct Outbox {
    conn: Connection,
}

impl Outbox {
    /// An empty queue.
    pub fn new() -> rusqlite::Result<Outbox> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(SCHEMA)?;
        Ok(Outbox { conn })
    }

    /// Records what the pipeline made of `event` offered at `now_ms`: the event id seen (with
    /// `event_dedup`), the dedup key's window, each job's first send and the job itself; sends
    /// older than `rate_window_ms` are forgotten.
    pub(crate) fn offered(
        &mut self,
        event: &NotifyEvent,
        now_ms: u64,
        offered: &Offered,
        event_dedup: bool,
        rate_window_ms: u64,
    ) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("UPDATE counters SET offered = offered + 1", [])?;
        if *offered != Offered::DuplicateEvent && event_dedup {
            tx.execute("INSERT OR IGNORE INTO seen(event) VALUES (?1)", [&event.id])?;
        }
        if let Offered::Queued { jobs, .. } = offered {
            tx.execute(
                "INSERT OR REPLACE INTO windows(dedup_key, at_ms, event) VALUES (?1, ?2, ?3)",
                params![event.dedup_key, now_ms as i64, event.id],
            )?;
            tx.execute("DELETE FROM sent WHERE at_ms <= ?1", [now_ms.saturating_sub(rate_window_ms) as i64])?;
            for job in jobs {
                tx.execute(
                    "INSERT INTO sent(subscriber, channel, at_ms) VALUES (?1, ?2, ?3)",
                    params![job.subscriber, job.channel, now_ms as i64],
                )?;
                insert(&tx, job)?;
            }
        }
        tx.commit()
    }

    /// Records a delivered job: it leaves the queue.
    pub fn delivered(&mut self, job: &Job) -> rusqlite::Result<()> {
        self.conn.execute("DELETE FROM jobs WHERE key = ?1", [&job.key]).map(drop)
    }

    /// Records a failed send of `job`: rescheduled as `retry` says, or dropped when given up, with
    /// the notice to its subscriber that the endpoint is unreachable kept in its place.
    pub fn failed(&mut self, job: &Job, retry: Retry) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        match retry {
            Retry::Scheduled { due_ms, attempt } => {
                tx.execute(
                    "UPDATE jobs SET attempt = ?2, due_ms = ?3, seq = (SELECT seq + 1 FROM counters) WHERE key = ?1",
                    params![job.key, attempt, due_ms as i64],
                )?;
                tx.execute("UPDATE counters SET seq = seq + 1", [])?;
            }
            Retry::GaveUp { .. } => {
                tx.execute("DELETE FROM jobs WHERE key = ?1", [&job.key])?;
                tx.execute(
                    "INSERT OR REPLACE INTO notices(key, subscriber, channel) VALUES (?1, ?2, ?3)",
                    params![job.key, job.subscriber, job.channel],
                )?;
            }
        }
        tx.commit()
    }

    /// Records that the notice left by the job `key` is done with: accepted, or its tries spent.
    pub fn told(&mut self, key: &str) -> rusqlite::Result<()> {
        self.conn.execute("DELETE FROM notices WHERE key = ?1", [key]).map(drop)
    }

    /// The notices of unreachable endpoints not yet done with, in the order their jobs were given up.
    pub fn notices(&self) -> rusqlite::Result<Vec<Unreachable>> {
        self.conn
            .prepare("SELECT key, subscriber, channel FROM notices ORDER BY rowid")?
            .query_map([], |r| Ok(Unreachable { key: r.get(0)?, subscriber: r.get(1)?, channel: r.get(2)? }))?
            .collect()
    }

    /// The pipeline's state as last committed: every job still queued, including one that was
    /// being sent, in the order to send them.
    pub(crate) fn saved(&self) -> rusqlite::Result<Saved> {
        let column = |sql: &str| -> rusqlite::Result<Vec<String>> {
            self.conn.prepare(sql)?.query_map([], |r| r.get(0))?.collect()
        };
        let seen = column("SELECT event FROM seen ORDER BY event")?;
        let windows = self
            .conn
            .prepare("SELECT dedup_key, at_ms, event FROM windows ORDER BY dedup_key")?
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let sent = self
            .conn
            .prepare("SELECT subscriber, channel, at_ms FROM sent ORDER BY subscriber, channel, at_ms, rowid")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64)))?
            .collect::<rusqlite::Result<_>>()?;
        let jobs = self
            .conn
            .prepare(
                "SELECT key, event, subscriber, channel, critical, attempt, due_ms, enqueued_ms FROM jobs
                 ORDER BY due_ms, seq",
            )?
            .query_map([], |r| {
                Ok(Job {
                    key: r.get(0)?,
                    event_id: r.get(1)?,
                    subscriber: r.get(2)?,
                    channel: r.get(3)?,
                    critical: r.get(4)?,
                    attempt: r.get(5)?,
                    due_ms: r.get::<_, i64>(6)? as u64,
                    enqueued_ms: r.get::<_, i64>(7)? as u64,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let offered = self.conn.query_row("SELECT offered FROM counters", [], |r| r.get::<_, i64>(0))? as u64;
        Ok(Saved { seen, windows, sent, jobs, offered })
    }
}

/// Queues `job` behind every job queued before it.
fn insert(tx: &Transaction<'_>, job: &Job) -> rusqlite::Result<()> {
    tx.execute("UPDATE counters SET seq = seq + 1", [])?;
    tx.execute(
        "INSERT INTO jobs(key, event, subscriber, channel, critical, attempt, due_ms, enqueued_ms, seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, (SELECT seq FROM counters))",
        params![
            job.key,
            job.event_id,
            job.subscriber,
            job.channel,
            job.critical,
            job.attempt,
            job.due_ms as i64,
            job.enqueued_ms as i64
        ],
    )
    .map(drop)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::status::notify::{NotifyConfig, Pipeline, Subscriber};

    fn config() -> NotifyConfig {
        NotifyConfig {
            rate_limit: 3,
            rate_window_ms: 60_000,
            retry_delays_ms: vec![1_000, 2_000],
            ..NotifyConfig::default()
        }
    }

    fn subscribers() -> Vec<Subscriber> {
        vec![
            Subscriber { id: 1, channels: vec!["email".into(), "sms".into()] },
            Subscriber { id: 2, channels: vec!["slack".into()] },
        ]
    }

    fn ev(id: u8, key: u8, critical: bool) -> NotifyEvent {
        NotifyEvent { id: id.to_string(), dedup_key: key.to_string(), critical }
    }

    /// Offers `event` to the pipeline and records it, as the notifier does.
    fn offer(p: &mut Pipeline, outbox: &mut Outbox, event: NotifyEvent, now: u64) -> Offered {
        let c = config();
        let offered = p.offer(event.clone(), now);
        outbox.offered(&event, now, &offered, c.event_dedup, c.rate_window_ms).unwrap();
        offered
    }

    #[test]
    fn a_job_being_sent_at_the_crash_is_queued_again_under_its_key() {
        // At least once: a job taken but not yet answered is still on disk, and the restarted
        // pipeline sends it again with the same idempotency key; a delivered one is gone.
        let (mut p, mut outbox) = (Pipeline::new(config(), subscribers()), Outbox::new().unwrap());
        offer(&mut p, &mut outbox, ev(1, 1, false), 0);
        let delivered = p.take(0).unwrap();
        outbox.delivered(&delivered).unwrap();
        let in_flight = p.take(0).unwrap();
        let mut restarted = Pipeline::restore(config(), subscribers(), outbox.saved().unwrap());
        let again: Vec<Job> = std::iter::from_fn(|| restarted.take(0)).collect();
        assert_eq!(again.len(), 2, "{again:?}");
        assert_eq!(again[0], in_flight);
        assert!(again.iter().all(|job| job.key != delivered.key));
    }

    #[test]
    fn a_notice_of_an_unreachable_endpoint_outlives_a_crash_until_it_is_told() {
        // Goal: the job's last retry failed and the notifier crashed before the notice went out:
        // the restarted notifier finds the notice on disk, once per given-up job, and not again
        // once it was accepted.
        let config = NotifyConfig { retry_delays_ms: vec![], ..config() };
        let (mut p, mut outbox) = (Pipeline::new(config.clone(), subscribers()), Outbox::new().unwrap());
        let c = &config;
        let event = ev(1, 1, false);
        let offered = p.offer(event.clone(), 0);
        outbox.offered(&event, 0, &offered, c.event_dedup, c.rate_window_ms).unwrap();
        let job = p.take(0).unwrap();
        let retry = p.failed(job.clone(), 0, 0.5);
        assert_eq!(retry, Retry::GaveUp { attempts: 1 });
        outbox.failed(&job, retry).unwrap();
        let pending = outbox.notices().unwrap();
        assert_eq!(pending, [Unreachable::of(&job)]);
        assert!(outbox.saved().unwrap().jobs.iter().all(|j| j.key != job.key), "the job itself is gone");
        outbox.told(&job.key).unwrap();
        assert_eq!(outbox.notices().unwrap(), []);
    }

    #[derive(Clone, Debug)]
    enum OutboxOp {
        Offer(u8, u8, bool),
        Advance(u64),
        /// Takes the job to send now: it fails with this jitter draw, or is delivered.
        Take(Option<f64>),
        /// The notifier crashes and restarts from its disk.
        Restart,
    }

    fn op() -> impl Strategy<Value = OutboxOp> {
        prop_oneof![
            (0..10u8, 0..3u8, any::<bool>()).prop_map(|(id, key, critical)| OutboxOp::Offer(id, key, critical)),
            (0..30_000u64).prop_map(OutboxOp::Advance),
            prop::option::of(0.0..1.0f64).prop_map(OutboxOp::Take),
            Just(OutboxOp::Restart),
        ]
    }

    proptest! {
        #[test]
        fn a_restarted_pipeline_decides_as_one_that_never_crashed(ops in prop::collection::vec(op(), 1..150)) {
            // Goal: with every decision committed before it is acted on and no send in flight
            // at the crash, a pipeline restored from the outbox offers, rate-limits, folds,
            // orders and retries exactly as the one that kept running.
            let mut kept = Pipeline::new(config(), subscribers());
            let mut restarted = Pipeline::new(config(), subscribers());
            let mut outbox = Outbox::new().unwrap();
            let mut now = 0;
            for op in ops {
                match op {
                    OutboxOp::Offer(id, key, critical) => {
                        let a = kept.offer(ev(id, key, critical), now);
                        let b = offer(&mut restarted, &mut outbox, ev(id, key, critical), now);
                        prop_assert_eq!(a, b);
                    }
                    OutboxOp::Advance(ms) => now += ms,
                    OutboxOp::Take(fail) => {
                        let (a, b) = (kept.take(now), restarted.take(now));
                        prop_assert_eq!(&a, &b);
                        let (Some(a), Some(b)) = (a, b) else { continue };
                        match fail {
                            Some(draw) => {
                                let retry = restarted.failed(b.clone(), now, draw);
                                prop_assert_eq!(kept.failed(a, now, draw), retry);
                                outbox.failed(&b, retry).unwrap();
                            }
                            None => {
                                kept.succeeded(&a);
                                outbox.delivered(&b).unwrap();
                            }
                        }
                    }
                    OutboxOp::Restart => restarted = Pipeline::restore(config(), subscribers(), outbox.saved().unwrap()),
                }
                prop_assert_eq!(kept.len(), restarted.len());
                prop_assert_eq!(outbox.saved().unwrap().jobs.len(), restarted.len());
                prop_assert_eq!(kept.next_due(), restarted.next_due());
            }
        }
    }
}
