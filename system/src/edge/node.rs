//! What every edge node is handed by whoever runs it: its network, its telemetry sink, its
//! settings and its seeded random source; plus the request/response and reconnect helpers the
//! nodes share.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use rand_chacha::ChaCha8Rng;
use tokio::time::{sleep, timeout};

use super::backoff::Backoff;
use super::config::EdgeConfig;
use super::proto::{Request, Response};
use super::store::Store;
use crate::net::Net;
use crate::telemetry::{NodeEvent, Telemetry};
use crate::wire::{self, WireError};

pub struct Ctx<N, T> {
    pub net: N,
    pub telemetry: T,
    pub config: Rc<EdgeConfig>,
    pub rng: Rc<RefCell<ChaCha8Rng>>,
}

impl<N: Clone, T: Clone> Clone for Ctx<N, T> {
    fn clone(&self) -> Self {
        Ctx {
            net: self.net.clone(),
            telemetry: self.telemetry.clone(),
            config: self.config.clone(),
            rng: self.rng.clone(),
        }
    }
}

impl<N: Net, T: Telemetry> Ctx<N, T> {
    pub fn emit(&self, event: NodeEvent) {
        self.telemetry.emit(event);
    }

    /// Connects with the configured timeout (a connect across a partition never completes).
    pub async fn connect(&self, host: &str, port: u16) -> io::Result<N::Stream> {
        match timeout(self.config.connect_timeout, self.net.connect(host, port)).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, format!("connect to {host}:{port} timed out"))),
        }
    }

    /// Waits out the next reconnect delay towards `peer`, reporting it.
    pub async fn back_off(&self, backoff: &mut Backoff, peer: &str) {
        let (delay, attempt) = backoff.next(&mut *self.rng.borrow_mut());
        self.emit(NodeEvent::Reconnecting { peer: peer.to_string(), attempt, backoff_ms: delay.as_millis() as u64 });
        sleep(delay).await;
    }

    /// Sends a request on an open stream and waits for its response within the request timeout.
    pub async fn call(&self, stream: &mut N::Stream, request: &Request) -> Result<Response, WireError> {
        let exchange = async {
            wire::send(stream, request).await?;
            wire::recv(stream).await
        };
        match timeout(self.config.request_timeout, exchange).await {
            Ok(r) => r,
            Err(_) => {
                Err(WireError::Io(io::Error::new(io::ErrorKind::TimedOut, "no response within the request timeout")))
            }
        }
    }
}

/// Reports input from `peer` that was refused as malformed (a closed or timed-out stream is not).
pub fn reject<N: Net, T: Telemetry>(ctx: &Ctx<N, T>, peer: &str, e: WireError) {
    if let WireError::Malformed(_) | WireError::TooLarge { .. } = e {
        ctx.emit(NodeEvent::Rejected { peer: peer.to_string(), problem: e.to_string() });
    }
}

/// The answer to [`Request::Dump`]: the database's replicated content and position.
pub fn dump(store: &Store) -> Response {
    match (store.content(), store.position()) {
        (Ok(content), Ok(position)) => Response::Dump { content, position },
        (Err(e), _) | (_, Err(e)) => Response::Error(e.to_string()),
    }
}
