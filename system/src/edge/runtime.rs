//! The edge runtime's compute (docs/DESIGN.md, System A, Service time and capacity): a node runs
//! each request on one of a bounded number of workers (V8 isolates at a PoP, database workers at
//! the primary) for a service time drawn per kind of work from the node's seeded service stream, uniformly
//! between half and one and a half times the work's mean. Requests beyond the workers wait for one
//! in arrival order; a request that arrives while `queue_limit` others already wait is shed at
//! once. A worker is held for the service time only, not while the request waits on the network:
//! an isolate awaits I/O without using its CPU.
//!
//! Isolates are started on demand: a request that finds no warm idle isolate pays a cold start
//! (about 5 ms for a V8 isolate, 500 ms for a container) before its service time. An idle isolate
//! is evicted after `evict_after`, except the `warm_pool`, which is started at boot and kept
//! however long it idles. The primary's workers are all warm (`Capacity::warm`).

use std::cell::{Cell, RefCell};
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep};

use super::config::{Capacity, Work};
use super::node::Ctx;
use super::proto::{Request, Response};
use crate::net::Net;
use crate::telemetry::{NodeEvent, Telemetry};

/// A request turned away because `waiting` requests already waited for a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shed {
    pub waiting: usize,
}

/// A request served: its service time and whether it paid a cold start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Served {
    pub service: Duration,
    pub cold: bool,
}

/// A node's workers and the requests waiting for them.
pub(crate) struct Workers {
    capacity: Capacity,
    free: Semaphore,
    waiting: Cell<usize>,
    /// Warm idle workers, by when each was last used, oldest first.
    idle: RefCell<Vec<Instant>>,
}

/// A place in the queue, given back when the request gets a worker or is dropped.
struct Waiting<'a>(&'a Cell<usize>);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

impl Workers {
    /// A node's workers at boot: the warm pool is started.
    pub fn new(capacity: Capacity) -> Self {
        let warm = vec![Instant::now(); capacity.warm_pool.min(capacity.workers)];
        Workers { capacity, free: Semaphore::new(capacity.workers), waiting: Cell::new(0), idle: RefCell::new(warm) }
    }

    /// Runs `work` on a worker: waits for one (or is shed), starts it if none is warm, then holds
    /// it for a service time drawn from `rng`.
    pub async fn serve(&self, work: Work, rng: &RefCell<ChaCha8Rng>) -> Result<Served, Shed> {
        self.serve_for(self.capacity.mean(work), rng).await
    }

    /// Runs work of mean service time `mean` on a worker, as [`Workers::serve`] does.
    pub async fn serve_for(&self, mean: Duration, rng: &RefCell<ChaCha8Rng>) -> Result<Served, Shed> {
        let service = mean.mul_f64(rng.borrow_mut().random_range(0.5..1.5));
        let _held = match self.free.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                let waiting = self.waiting.get();
                if waiting >= self.capacity.queue_limit {
                    return Err(Shed { waiting });
                }
                self.waiting.set(waiting + 1);
                let _place = Waiting(&self.waiting);
                self.free.acquire().await.expect("the semaphore is never closed")
            }
        };
        let cold = !self.take_warm();
        sleep(if cold { self.capacity.cold_start + service } else { service }).await;
        self.idle.borrow_mut().push(Instant::now());
        Ok(Served { service, cold })
    }

    /// Takes the most recently used warm idle worker, if there is one, after evicting those beyond
    /// the warm pool that idled longer than `evict_after`.
    fn take_warm(&self) -> bool {
        let now = Instant::now();
        let mut idle = self.idle.borrow_mut();
        let stale = idle.iter().take_while(|used| now.duration_since(**used) > self.capacity.evict_after).count();
        let evicted = stale.min(idle.len().saturating_sub(self.capacity.warm_pool));
        idle.drain(..evicted);
        idle.pop().is_some()
    }

    /// Runs `request`'s work on a worker of the node, reporting a cold start; the answer to send
    /// instead if it was shed. The harness's audit (`Dump`) takes no worker.
    pub(crate) async fn admit<N: Net, T: Telemetry>(&self, ctx: &Ctx<N, T>, request: &Request) -> Option<Response> {
        let (work, session) = match request {
            Request::Read { session, .. } | Request::Page { session, .. } => (Work::Read, *session),
            Request::Write(op) => (Work::Write, op.session),
            Request::Render { .. } => (Work::Render, 0),
            Request::Stream { session, .. } => (Work::Render, *session),
            Request::Dump => return None,
        };
        match self.serve(work, &ctx.service).await {
            Ok(Served { cold: true, .. }) => {
                ctx.emit(NodeEvent::ColdStart { cost_us: self.capacity.cold_start.as_micros() as u64, session });
                None
            }
            Ok(_) => None,
            Err(shed) => Some(Response::Shed { host: ctx.host.to_string(), waiting: shed.waiting }),
        }
    }

    #[cfg(test)]
    /// Requests waiting for a worker now.
    pub fn waiting(&self) -> usize {
        self.waiting.get()
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use rand::SeedableRng;
    use tokio::task::{LocalSet, spawn_local};
    use tokio::time::Instant;

    use super::*;
    use crate::edge::config::ISOLATE_COLD_START;

    fn capacity(workers: usize, queue_limit: usize) -> Capacity {
        Capacity::warm(workers, queue_limit, Duration::from_millis(10), Duration::from_millis(40))
    }

    /// Serves `n` reads that arrive at once; returns each one's result and when it finished.
    async fn burst(workers: Rc<Workers>, n: usize) -> Vec<(Result<Duration, Shed>, Duration)> {
        let rng = Rc::new(RefCell::new(ChaCha8Rng::seed_from_u64(7)));
        let start = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (workers, rng) = (workers.clone(), rng.clone());
                spawn_local(async move { (workers.serve(Work::Read, &rng).await.map(|s| s.service), start.elapsed()) })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    }

    /// Goal: a request holds a worker for a service time within half to one and a half times its
    /// work's mean, and requests beyond the workers wait for one in arrival order.
    #[tokio::test(start_paused = true)]
    async fn requests_beyond_the_workers_wait_in_order() {
        LocalSet::new()
            .run_until(async {
                let workers = Rc::new(Workers::new(capacity(2, 10)));
                let done = burst(workers, 4).await;
                for (result, _) in &done {
                    let service = result.unwrap();
                    assert!(service >= Duration::from_millis(5) && service < Duration::from_millis(15), "{service:?}");
                }
                // tokio's timer fires on whole milliseconds.
                let service: Vec<Duration> = done
                    .iter()
                    .map(|(r, _)| Duration::from_millis(r.unwrap().as_micros().div_ceil(1000) as u64))
                    .collect();
                assert_eq!(done[0].1, service[0]);
                assert_eq!(done[1].1, service[1]);
                // The third takes the first worker to come free, the fourth the next one.
                let first_free = service[0].min(service[1]);
                assert_eq!(done[2].1, first_free + service[2]);
                let next_free = service[0].max(service[1]).min(done[2].1);
                assert_eq!(done[3].1, next_free + service[3]);
            })
            .await;
    }

    /// Goal: a request that arrives while `queue_limit` others wait is shed at once, saying how
    /// many waited; the ones admitted are all served.
    #[tokio::test(start_paused = true)]
    async fn a_full_queue_sheds() {
        LocalSet::new()
            .run_until(async {
                let workers = Rc::new(Workers::new(capacity(1, 2)));
                let done = burst(workers.clone(), 5).await;
                let shed: Vec<_> = done.iter().filter_map(|(r, at)| r.err().map(|s| (s, *at))).collect();
                assert_eq!(shed, [(Shed { waiting: 2 }, Duration::ZERO), (Shed { waiting: 2 }, Duration::ZERO)]);
                assert_eq!(done.iter().filter(|(r, _)| r.is_ok()).count(), 3);
                assert_eq!(workers.waiting(), 0);
            })
            .await;
    }

    /// Goal: a waiting request that is dropped (its connection closed) gives its place back.
    #[tokio::test(start_paused = true)]
    async fn a_dropped_waiter_leaves_the_queue() {
        LocalSet::new()
            .run_until(async {
                let workers = Rc::new(Workers::new(capacity(1, 1)));
                let rng = Rc::new(RefCell::new(ChaCha8Rng::seed_from_u64(1)));
                let spawn = |work| {
                    let (workers, rng) = (workers.clone(), rng.clone());
                    spawn_local(async move { workers.serve(work, &rng).await })
                };
                let busy = spawn(Work::Write);
                tokio::task::yield_now().await;
                let waiter = spawn(Work::Read);
                tokio::task::yield_now().await;
                assert_eq!(workers.waiting(), 1);
                assert_eq!(workers.serve(Work::Read, &rng).await, Err(Shed { waiting: 1 }));
                waiter.abort();
                let _ = waiter.await;
                assert_eq!(workers.waiting(), 0);
                busy.await.unwrap().unwrap();
                assert!(workers.serve(Work::Read, &rng).await.is_ok());
            })
            .await;
    }

    /// Goal: without a warm pool the first request pays a cold start and the next finds the
    /// isolate warm; one idle past `evict_after` was evicted and pays again; the warm pool is
    /// never evicted (the negative control of the warm pool).
    #[tokio::test(start_paused = true)]
    async fn cold_starts_come_from_eviction_and_a_warm_pool_prevents_them() {
        let rng = RefCell::new(ChaCha8Rng::seed_from_u64(3));
        let isolates = |warm_pool| Capacity {
            cold_start: ISOLATE_COLD_START,
            evict_after: Duration::from_secs(30),
            warm_pool,
            ..capacity(4, 10)
        };
        let cold = Workers::new(isolates(0));
        let started = Instant::now();
        assert!(cold.serve(Work::Read, &rng).await.unwrap().cold);
        assert!(started.elapsed() >= ISOLATE_COLD_START + Duration::from_millis(5));
        assert!(!cold.serve(Work::Read, &rng).await.unwrap().cold);
        sleep(Duration::from_secs(29)).await;
        assert!(!cold.serve(Work::Read, &rng).await.unwrap().cold, "idle 29 s: still warm");
        sleep(Duration::from_secs(31)).await;
        assert!(cold.serve(Work::Read, &rng).await.unwrap().cold, "idle 31 s: evicted");

        let pooled = Workers::new(isolates(1));
        assert!(!pooled.serve(Work::Read, &rng).await.unwrap().cold);
        sleep(Duration::from_secs(3600)).await;
        assert!(!pooled.serve(Work::Read, &rng).await.unwrap().cold, "the warm pool is never evicted");
    }
}
