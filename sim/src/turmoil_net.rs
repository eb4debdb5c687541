//! The turmoil backend of the network seam: node code's sockets are turmoil's simulated TCP.
//!
//! turmoil refuses a connection at once when its SYN is dropped, so a node would learn of a
//! partition or a silent crash in the same instant it tried to connect. A real network answers a
//! SYN across a cut link with silence: the connecting side retransmits the SYN with exponential
//! backoff (Linux: after 1, 2, 4, 8, 16 and 32 s) and gives up about 127 s after the first, unless
//! the link comes back in between. [`Cuts`] tells the sockets which links the fault schedule has
//! cut, and a refused connection across one is retried on that schedule; every caller's own
//! timeout (health checks, requests) therefore fires as it would on a real network. A refusal
//! from a reachable host (a crashed process, no listener) still comes at once, as a TCP reset does.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::time::Duration;

use edgesim_system::net::{Listener, Net};
use turmoil::net::{TcpListener, TcpStream};

/// When a SYN across a cut link is sent again, after the first: Linux's `tcp_syn_retries = 6`.
const SYN_RETRIES: [Duration; 6] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
    Duration::from_secs(16),
    Duration::from_secs(32),
];
/// How long after the last SYN the connecting side gives up.
const SYN_GIVE_UP: Duration = Duration::from_secs(64);

/// The directed links (from, to) that partitions and silent crashes have cut and not yet repaired:
/// one set for the whole simulation, written by the fault schedule, read by every host's sockets.
#[derive(Clone, Debug, Default)]
pub struct Cuts(Rc<RefCell<BTreeSet<(String, String)>>>);

impl Cuts {
    pub fn cut(&self, from: &str, to: &str) {
        self.0.borrow_mut().insert((from.to_string(), to.to_string()));
    }

    pub fn repair(&self, from: &str, to: &str) {
        self.0.borrow_mut().remove(&(from.to_string(), to.to_string()));
    }

    /// Every cut link, as (from, to).
    pub fn all(&self) -> Vec<(String, String)> {
        self.0.borrow().iter().cloned().collect()
    }

    /// Whether a connection between the two hosts cannot complete: the SYN or the SYN-ACK is lost.
    fn blocks(&self, a: &str, b: &str) -> bool {
        let cuts = self.0.borrow();
        if cuts.is_empty() {
            return false;
        }
        [(a, b), (b, a)].iter().any(|(x, y)| cuts.contains(&(x.to_string(), y.to_string())))
    }
}

/// One host's view of the simulated network.
#[derive(Clone, Debug)]
pub struct TurmoilNet {
    host: Rc<str>,
    cuts: Cuts,
}

impl TurmoilNet {
    pub fn new(host: &str, cuts: &Cuts) -> TurmoilNet {
        TurmoilNet { host: host.into(), cuts: cuts.clone() }
    }
}

pub struct TurmoilListener(TcpListener);

impl Listener for TurmoilListener {
    type Stream = TcpStream;
    async fn accept(&mut self) -> io::Result<(TcpStream, String)> {
        let (stream, addr) = self.0.accept().await?;
        let peer = turmoil::reverse_lookup(addr.ip()).unwrap_or_else(|| addr.ip().to_string());
        Ok((stream, peer))
    }
}

impl Net for TurmoilNet {
    type Stream = TcpStream;
    type Listener = TurmoilListener;
    async fn bind(&self, port: u16) -> io::Result<TurmoilListener> {
        Ok(TurmoilListener(TcpListener::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)).await?))
    }
    async fn connect(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        let refused = |e: io::Error| io::Error::new(e.kind(), format!("connection to {host}:{port} refused"));
        let mut retries = SYN_RETRIES.into_iter();
        loop {
            if !self.cuts.blocks(&self.host, host) {
                return TcpStream::connect((host, port)).await.map_err(refused);
            }
            let Some(wait) = retries.next() else { break };
            tokio::time::sleep(wait).await;
        }
        tokio::time::sleep(SYN_GIVE_UP).await;
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connection to {host}:{port} timed out (no answer to SYN)"),
        ))
    }
}
