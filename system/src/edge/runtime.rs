//! The edge runtime's compute (docs/DESIGN.md, System A, Service time and capacity): a node runs
//! each request on one of a bounded number of workers (V8 isolates at a PoP, database workers at
//! the primary) for a service time drawn per kind of work from the node's seeded stream, uniformly
//! between half and one and a half times the work's mean. Requests beyond the workers wait for one
//! in arrival order; a request that arrives while `queue_limit` others already wait is shed at
//! once. A worker is held for the service time only, not while the request waits on the network:
//! an isolate awaits I/O without using its CPU.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::Semaphore;
use tokio::time::sleep;

use super::proto::{Request, Response};

/// What a request asks of a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    Read,
    Write,
}

/// A node's workers, its queue and the mean service time of each kind of work.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Capacity {
    pub workers: usize,
    /// Requests that may wait for a worker; one more is shed.
    pub queue_limit: usize,
    pub read: Duration,
    pub write: Duration,
}

impl Capacity {
    pub fn mean(&self, work: Work) -> Duration {
        match work {
            Work::Read => self.read,
            Work::Write => self.write,
        }
    }
}

/// A request turned away because `waiting` requests already waited for a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shed {
    pub waiting: usize,
}

/// A node's workers and the requests waiting for them.
pub struct Workers {
    capacity: Capacity,
    free: Semaphore,
    waiting: Cell<usize>,
}

/// A place in the queue, given back when the request gets a worker or is dropped.
struct Waiting<'a>(&'a Cell<usize>);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

impl Workers {
    pub fn new(capacity: Capacity) -> Self {
        Workers { capacity, free: Semaphore::new(capacity.workers), waiting: Cell::new(0) }
    }

    /// Runs `work` on a worker: waits for one (or is shed), then holds it for a service time drawn
    /// from `rng`. Returns the service time.
    pub async fn serve(&self, work: Work, rng: &RefCell<ChaCha8Rng>) -> Result<Duration, Shed> {
        let service = self.capacity.mean(work).mul_f64(rng.borrow_mut().random_range(0.5..1.5));
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
        sleep(service).await;
        Ok(service)
    }

    /// Runs `request`'s work on a worker of `host`; the answer to send instead if it was shed.
    /// The harness's audit (`Dump`) takes no worker.
    pub async fn admit(&self, host: &str, request: &Request, rng: &RefCell<ChaCha8Rng>) -> Option<Response> {
        let work = match request {
            Request::Read { .. } => Work::Read,
            Request::Write(_) => Work::Write,
            Request::Dump => return None,
        };
        let shed = self.serve(work, rng).await.err()?;
        Some(Response::Shed { host: host.to_string(), waiting: shed.waiting })
    }

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

    fn capacity(workers: usize, queue_limit: usize) -> Capacity {
        Capacity { workers, queue_limit, read: Duration::from_millis(10), write: Duration::from_millis(40) }
    }

    /// Serves `n` reads that arrive at once; returns each one's result and when it finished.
    async fn burst(workers: Rc<Workers>, n: usize) -> Vec<(Result<Duration, Shed>, Duration)> {
        let rng = Rc::new(RefCell::new(ChaCha8Rng::seed_from_u64(7)));
        let start = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (workers, rng) = (workers.clone(), rng.clone());
                spawn_local(async move { (workers.serve(Work::Read, &rng).await, start.elapsed()) })
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
                let busy = {
                    let (workers, rng) = (workers.clone(), rng.clone());
                    spawn_local(async move { workers.serve(Work::Write, &rng).await })
                };
                tokio::task::yield_now().await;
                let waiter = {
                    let (workers, rng) = (workers.clone(), rng.clone());
                    spawn_local(async move { workers.serve(Work::Read, &rng).await })
                };
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
}
