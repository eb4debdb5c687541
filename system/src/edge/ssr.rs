//! Streaming SSR at a PoP (docs/DESIGN.md, Streaming SSR): a personalized page is a shell plus
//! Suspense boundaries, each waiting on its own data. The PoP renders the shell on one of its
//! isolates (the render service time, taken before this module runs) and sends it at once; it
//! then fetches every boundary's data at the same time and sends each boundary's chunk, as its own
//! message on the response, as soon as that data arrives, so the client sees the page fill in as
//! its data lands. A boundary's data is the key's row from the PoP's replica (a read on an
//! isolate), the row as read-your-writes serves it (the replica once it holds the session's
//! position, after a bounded wait, else the primary: during a failover it waits, or fails), or a
//! call over the network to the upstream service (`upstream`, a host of its own; the call holds no
//! isolate), given up after the upstream timeout. A boundary whose data fails is sent as its
//! error fallback; the page still ends.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use tokio::io::{AsyncRead, AsyncWrite};

use super::config::{Boundary, Data};
use super::frame::Point;
use super::node::Ctx;
use super::proto::{Consistency, Filled, Request, Response};
use super::runtime::Workers;
use crate::net::Net;
use crate::telemetry::Telemetry;
use crate::wire::{self, WireError};

/// Where the PoP (`pop`) gets a boundary's data: a row read as a client's would be, or the
/// upstream service's answer (the error: why the boundary gets its fallback).
pub trait Sources {
    fn read(&self, request: Request) -> impl Future<Output = Response>;
    fn call(&self, boundary: usize) -> impl Future<Output = Result<(), String>>;
}

/// The page a session asked for: whose, which key, and the session's position.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StreamedView<'a> {
    pub session: u64,
    pub key: &'a str,
    pub min: Point,
}

/// A boundary's data on its way.
type Arriving<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Streams `view`'s page on `out`: the shell, then each of `boundaries`' chunks as its data
/// arrives. An error is the client's connection failing.
pub async fn stream<S, N, T, R>(
    ctx: &Ctx<N, T>,
    isolates: &Workers,
    sources: &R,
    out: &mut S,
    boundaries: &[Boundary],
    view: StreamedView<'_>,
) -> Result<(), WireError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    N: Net,
    T: Telemetry,
    R: Sources,
{
    wire::send(out, &Response::Shell { boundaries: boundaries.len() }).await?;
    let mut pending: Vec<(usize, Arriving<'_, Filled>)> = boundaries
        .iter()
        .enumerate()
        .map(|(i, b)| (i, Box::pin(fill(ctx, isolates, sources, (i, b.data), view)) as _))
        .collect();
    while !pending.is_empty() {
        let (boundary, filled) = first_ready(&mut pending).await;
        wire::send(out, &Response::Chunk { boundary, filled }).await?;
    }
    Ok(())
}

/// Fetches the data of the page's `boundary` (its index and data).
async fn fill<N: Net, T: Telemetry, R: Sources>(
    ctx: &Ctx<N, T>,
    isolates: &Workers,
    sources: &R,
    (boundary, data): (usize, Data),
    view: StreamedView<'_>,
) -> Filled {
    let consistency = match data {
        Data::Upstream { .. } => {
            return sources.call(boundary).await.map_or_else(Filled::Failed, |()| Filled::Upstream);
        }
        Data::Replica => Consistency::Eventual,
        Data::ReadYourWrites => Consistency::ReadYourWrites,
    };
    let request = Request::Read { session: view.session, key: view.key.to_string(), min: view.min, consistency };
    if let Some(turned_away) = isolates.admit(ctx, &request).await {
        return failed(turned_away);
    }
    match sources.read(request).await {
        Response::Read { row, path, at } => Filled::Row { row, path, at },
        other => failed(other),
    }
}

/// The error fallback for a read answered with `response` instead of a row.
fn failed(response: Response) -> Filled {
    Filled::Failed(match response {
        Response::Error(e) => e,
        Response::Shed { host, waiting } => format!("{host} shed the read ({waiting} waiting)"),
        other => format!("unexpected answer {other:?}"),
    })
}

/// Waits until one of `pending` finishes and takes it out; of several finished at once, the
/// first in page order.
async fn first_ready<F: Future + Unpin>(pending: &mut Vec<(usize, F)>) -> (usize, F::Output) {
    poll_fn(|cx| {
        for j in 0..pending.len() {
            if let Poll::Ready(out) = Pin::new(&mut pending[j].1).poll(cx) {
                return Poll::Ready((pending.remove(j).0, out));
            }
        }
        Poll::Pending
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::sleep;

    use super::*;

    /// Goal: data is taken in the order it arrives, not in page order, and of two arriving at the
    /// same time the first in page order goes first.
    #[tokio::test(start_paused = true)]
    async fn boundaries_are_taken_as_their_data_arrives() {
        let ms = [30, 10, 20, 10];
        let mut pending: Vec<(usize, Arriving<'_, u64>)> = ms
            .iter()
            .enumerate()
            .map(|(i, ms)| {
                let arrives = async move {
                    sleep(Duration::from_millis(*ms)).await;
                    *ms
                };
                (i, Box::pin(arrives) as _)
            })
            .collect();
        let mut order = Vec::new();
        while !pending.is_empty() {
            order.push(first_ready(&mut pending).await);
        }
        assert_eq!(order, [(1, 10), (3, 10), (2, 20), (0, 30)]);
    }
}
