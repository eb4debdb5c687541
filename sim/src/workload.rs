//! The users: each region's client host runs that region's sessions against their home PoP. A
//! session sends requests at exponential intervals, one write per `read_write_ratio` reads, every
//! write carrying the session and its sequence number so that checkers can judge reads by content.
//! It carries the position of its last acknowledged write on every read (docs/DESIGN.md, Read-your-writes).
//! All randomness comes from the scenario seed.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use edgesim_system::edge::backoff::Backoff;
use edgesim_system::edge::frame::Point;
use edgesim_system::edge::proto::{POP_PORT, Request, Response};
use edgesim_system::edge::store::WriteOp;
use edgesim_system::net::Net;
use edgesim_system::wire;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::task::spawn_local;
use tokio::time::{sleep, timeout};
use turmoil::net::TcpStream;

use crate::events::{HarnessEvent, HostTelemetry, Op, Outcome};
use crate::scenario::Workload;
use crate::turmoil_net::TurmoilNet;

/// Everything a region's client host needs.
pub struct Clients {
    pub workload: Workload,
    /// (session id, home PoP) for each session of the region.
    pub sessions: Vec<(u64, String)>,
    pub end: Duration,
    pub seed: u64,
    pub telemetry: HostTelemetry,
    /// The client host's sockets.
    pub net: TurmoilNet,
    /// Request ids, unique across the run.
    pub next_req: Rc<Cell<u64>>,
}

pub async fn run(clients: Rc<Clients>) -> turmoil::Result {
    let tasks: Vec<_> =
        clients.sessions.iter().map(|(id, pop)| spawn_local(session(clients.clone(), *id, pop.clone()))).collect();
    for t in tasks {
        t.await?;
    }
    Ok(())
}

/// The longest wait between two attempts of a write.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(8);

fn now() -> Duration {
    turmoil::sim_elapsed().unwrap_or_default()
}

/// A seed for one stream of randomness, derived from the run's seed.
pub fn derive_seed(seed: u64, stream: &str, n: u64) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(format!("{stream}/{n}").as_bytes(), seed)
}

struct Session {
    clients: Rc<Clients>,
    id: u64,
    pop: String,
    conn: Option<TcpStream>,
}

async fn session(clients: Rc<Clients>, id: u64, pop: String) {
    let w = clients.workload.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(clients.seed, "session", id));
    let mut s = Session { clients: clients.clone(), id, pop, conn: None };
    let (mut seq, mut min) = (0, Point::default());
    sleep(w.warmup.0).await;
    loop {
        let gap = -rng.random_range(f64::EPSILON..1.0f64).ln() / w.session_rate;
        sleep(Duration::from_secs_f64(gap)).await;
        if now() >= clients.end {
            return;
        }
        let key = format!("k{}", rng.random_range(0..w.keys));
        if rng.random_range(0..=w.read_write_ratio) == 0 {
            seq += 1;
            let value = (0..w.value_bytes).map(|_| rng.random()).collect();
            let op = WriteOp { session: id, seq, key: key.clone(), value };
            let mut backoff = Backoff::new(w.retry_backoff.0, MAX_RETRY_BACKOFF);
            let mut outcome = s.request(Request::Write(op.clone()), Op::Write, &key, seq, min).await;
            for _ in 0..w.write_retries {
                if matches!(outcome, Outcome::Write { .. }) || now() >= clients.end {
                    break;
                }
                sleep(backoff.next(&mut rng).0).await;
                outcome = s.request(Request::Write(op.clone()), Op::Write, &key, seq, min).await;
            }
            if let Outcome::Write { lsn, generation } = outcome {
                min = min.max(Point { generation, lsn });
                if w.read_after_write {
                    s.read(&key, min).await;
                }
            }
        } else {
            s.read(&key, min).await;
        }
    }
}

impl Session {
    async fn read(&mut self, key: &str, min: Point) -> Outcome {
        let w = &self.clients.workload;
        let request = Request::Read { session: self.id, key: key.to_string(), min, consistency: w.consistency };
        self.request(request, Op::Read, key, 0, min).await
    }

    async fn request(&mut self, request: Request, op: Op, key: &str, seq: u64, min: Point) -> Outcome {
        let c = self.clients.clone();
        let req = c.next_req.get() + 1;
        c.next_req.set(req);
        c.telemetry.harness(HarnessEvent::RequestStarted { req, session: self.id, op, key: key.to_string(), seq, min });
        let outcome = match timeout(c.workload.request_timeout.0, self.exchange(&request)).await {
            Ok(Ok(Response::Read { row, path, lsn })) => {
                Outcome::Read { own_seq: row.own_seq, version: row.version, writer: row.writer, path, lsn }
            }
            Ok(Ok(Response::Write { lsn, generation })) => Outcome::Write { lsn, generation },
            Ok(Ok(Response::Error(message))) => Outcome::Error { message },
            Ok(Ok(Response::Dump { .. })) => Outcome::Error { message: "unexpected dump".into() },
            Ok(Err(message)) => {
                self.conn = None;
                Outcome::Error { message }
            }
            Err(_) => {
                self.conn = None;
                Outcome::Timeout
            }
        };
        c.telemetry.harness(HarnessEvent::RequestEnded { req, session: self.id, outcome: outcome.clone() });
        outcome
    }

    async fn exchange(&mut self, request: &Request) -> Result<Response, String> {
        if self.conn.is_none() {
            let conn = self.clients.net.connect(&self.pop, POP_PORT).await;
            self.conn = Some(conn.map_err(|e| format!("connect {}: {e}", self.pop))?);
        }
        let conn = self.conn.as_mut().expect("connected above");
        wire::send(conn, request).await.map_err(|e| e.to_string())?;
        wire::recv(conn).await.map_err(|e| e.to_string())
    }
}
