//! Writes during failover at a PoP (issue 3: "fail fast or queue at the edge and replay"). In queue
//! mode a write no primary acknowledges (no route, connection refused or lost, not the primary,
//! fenced, an older generation refused) is held in a bounded queue and replayed in arrival order,
//! at once when a newer route arrives from the control plane and otherwise with backoff. Its
//! client is answered only when a primary acknowledged it; a write that waited past the queue
//! timeout, or found the queue full, fails. Replay is idempotent: a write carries its session and
//! sequence number, and a primary that already holds it acknowledges it again.

use std::cell::Cell;
use std::future::Future;

use tokio::sync::Mutex;
use tokio::time::{Instant, sleep, timeout_at};

use super::backoff::Backoff;
use super::node::Ctx;
use super::proto::Response;
use crate::net::Net;
use crate::telemetry::Telemetry;

/// A PoP's held writes.
#[derive(Default)]
pub(crate) struct EdgeQueue {
    held: Cell<usize>,
    /// Replay turns, granted in arrival order (tokio's mutex is fair).
    turn: Mutex<()>,
}

impl EdgeQueue {
    /// Answers a write: `attempt` sends it to the primary as the route names it now.
    pub async fn write<N: Net, T: Telemetry, F: Future<Output = Response>>(
        &self,
        ctx: &Ctx<N, T>,
        mut attempt: impl FnMut() -> F,
    ) -> Response {
        let arrived = Instant::now();
        if self.held.get() == 0 {
            let response = attempt().await;
            if matches!(response, Response::Write { .. }) {
                return response;
            }
        }
        let (limit, wait) = (ctx.config.failover.queue_limit, ctx.config.failover.queue_timeout);
        if self.held.get() >= limit {
            return Response::Error(format!("no primary acknowledges and the edge write queue is full ({limit})"));
        }
        self.held.set(self.held.get() + 1);
        let replayed = timeout_at(arrived + wait, self.replay(ctx, &mut attempt)).await;
        self.held.set(self.held.get() - 1);
        replayed.unwrap_or_else(|_| Response::Error(format!("held at the edge {wait:?}: no primary acknowledged")))
    }

    /// Sends the write, in its turn, until a primary acknowledges it.
    async fn replay<N: Net, T: Telemetry, F: Future<Output = Response>>(
        &self,
        ctx: &Ctx<N, T>,
        attempt: &mut impl FnMut() -> F,
    ) -> Response {
        let _turn = self.turn.lock().await;
        let mut route = ctx.route.subscribe();
        let mut backoff = Backoff::new(ctx.config.backoff_min, ctx.config.backoff_max);
        loop {
            route.borrow_and_update();
            let response = attempt().await;
            if matches!(response, Response::Write { .. }) {
                return response;
            }
            let (delay, _) = backoff.next(&mut *ctx.rng.borrow_mut());
            tokio::select! {
                biased;
                _ = route.changed() => backoff.reset(),
                _ = sleep(delay) => {}
            }
        }
    }
}
