//! What every status page node is handed by whoever runs it: its network, telemetry, settings,
//! seeded random source and wall clock (skewed as the harness likes); plus the one-shot exchange
//! and serving loop the nodes share.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::config::StatusConfig;
use crate::net::{Listener, Net};
use crate::telemetry::{NodeEvent, Telemetry};
use crate::wire::{self, WireError};

/// A node's wall clock in milliseconds.
pub(crate) type Clock = Rc<dyn Fn() -> u64>;

#[derive(Clone)]
pub struct Node<N, T> {
    pub host: Rc<str>,
    pub net: N,
    pub telemetry: T,
    pub config: Rc<StatusConfig>,
    pub rng: Rc<RefCell<ChaCha8Rng>>,
    pub clock: Clock,
}

impl<N: Net, T: Telemetry> Node<N, T> {
    pub fn emit(&self, event: NodeEvent) {
        self.telemetry.emit(event);
    }

    /// Connects to `host:port`, sends `request` and waits for one reply, all within `limit`.
    pub async fn exchange<Q: Serialize, R: DeserializeOwned>(
        &self,
        host: &str,
        port: u16,
        request: &Q,
        limit: Duration,
    ) -> Result<R, String> {
        wire::exchange(host, self.net.connect(host, port), request, limit).await
    }

    /// Serves `port`: each connection's first message goes to `handle` with the stream, which
    /// answers on it. Malformed input is reported and the connection dropped.
    pub async fn serve<Q, F, Fut>(&self, port: u16, handle: F) -> io::Result<()>
    where
        Q: DeserializeOwned + 'static,
        F: Fn(Q, N::Stream, String) -> Fut + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let mut listener = self.net.bind(port).await?;
        let handle = Rc::new(handle);
        loop {
            let (mut stream, peer) = listener.accept().await?;
            let (node, handle) = (self.clone(), handle.clone());
            tokio::task::spawn_local(async move {
                match wire::recv::<_, Q>(&mut stream).await {
                    Ok(request) => handle(request, stream, peer).await,
                    Err(e) => node.reject(&peer, e),
                }
            });
        }
    }

    /// Reports input from `peer` that was refused as malformed (a closed stream is not).
    pub(crate) fn reject(&self, peer: &str, e: WireError) {
        if let WireError::Malformed(_) | WireError::TooLarge { .. } = e {
            self.emit(NodeEvent::Rejected { peer: peer.to_string(), problem: e.to_string() });
        }
    }
}
