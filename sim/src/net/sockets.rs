//! The node-facing sockets of the event-driven backend: turmoil-net's simulated TCP (a socket
//! table per host, handshakes, flow control, FIN and RST) behind the system's `Net` seam. The
//! wire (`links`) decides when each packet arrives; this side names hosts and bounds the waits a
//! real stack bounds.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use edgesim_system::net::{Listener, Net};
use tokio::time::{sleep, timeout};
use turmoil_net::shim::tokio::net::{TcpListener, TcpStream};

/// How long a connection waits for its handshake: Linux's SYN retries (1 s doubling, six times)
/// and the wait after the last, about 127 s.
const SYN_GIVE_UP: Duration = Duration::from_secs(127);
/// How long a restarted host retries binding a port its previous boot's connections still hold
/// while they finish closing (turmoil-net has no `SO_REUSEADDR`).
const REBIND_FOR: Duration = Duration::from_secs(5);
const REBIND_EVERY: Duration = Duration::from_millis(10);

/// Host names by address, for naming the peer of an accepted connection.
pub type Names = Rc<RefCell<BTreeMap<IpAddr, Rc<str>>>>;

/// One host's sockets on the event-driven backend.
#[derive(Clone, Debug)]
pub struct StackNet {
    names: Names,
}

impl StackNet {
    pub fn new(names: &Names) -> StackNet {
        StackNet { names: names.clone() }
    }
}

pub struct StackListener {
    listener: TcpListener,
    names: Names,
}

impl Listener for StackListener {
    type Stream = TcpStream;
    async fn accept(&mut self) -> io::Result<(TcpStream, String)> {
        let (stream, addr) = self.listener.accept().await?;
        let peer = self.names.borrow().get(&addr.ip()).map_or_else(|| addr.ip().to_string(), |n| n.to_string());
        Ok((stream, peer))
    }
}

impl Net for StackNet {
    type Stream = TcpStream;
    type Listener = StackListener;

    async fn bind(&self, port: u16) -> io::Result<StackListener> {
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
        let mut waited = Duration::ZERO;
        loop {
            match TcpListener::bind(addr).await {
                Ok(listener) => return Ok(StackListener { listener, names: self.names.clone() }),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse && waited < REBIND_FOR => {
                    sleep(REBIND_EVERY).await;
                    waited += REBIND_EVERY;
                }
                Err(e) => return Err(io::Error::new(e.kind(), format!("binding port {port}: {e}"))),
            }
        }
    }

    async fn connect(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        let ip = turmoil_net::lookup_host(host)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no host named {host}")))?;
        match timeout(SYN_GIVE_UP, TcpStream::connect(SocketAddr::new(ip, port))).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(io::Error::new(e.kind(), format!("connection to {host}:{port} refused"))),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connection to {host}:{port} timed out (no answer to SYN)"),
            )),
        }
    }
}
