//! The network seam: a small tokio-shaped socket interface that the harness implements for each
//! backend (the harness's simulated network today; a real one, such as tokio TCP, later) so node code never changes.

use std::future::Future;
use std::io;

use tokio::io::{AsyncRead, AsyncWrite};

/// A TCP-like byte stream.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + 'static> Stream for T {}

/// Accepts inbound streams on a bound port.
pub trait Listener: 'static {
    type Stream: Stream;
    /// Waits for the next inbound connection and names the peer host.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Stream, String)>>;
}

/// Opens listeners and outbound streams for one host.
pub trait Net: Clone + 'static {
    type Stream: Stream;
    type Listener: Listener<Stream = Self::Stream>;
    /// Binds `port` on every address of this host.
    fn bind(&self, port: u16) -> impl Future<Output = io::Result<Self::Listener>>;
    /// Connects to `host:port`.
    fn connect(&self, host: &str, port: u16) -> impl Future<Output = io::Result<Self::Stream>>;
}
