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
//!
//! turmoil's TCP never retransmits: a dropped segment leaves everything behind it on that stream
//! in the receiver's reorder buffer for good, so its own message loss (`set_link_fail_rate`) stalls
//! a stream forever where real TCP would deliver it late. Message loss is therefore modelled here,
//! as TCP shows it to the application: [`Cuts`] also holds each lossy link's rate, and a segment
//! (one write of a [`LossyStream`]) that is lost is sent again after the retransmission timeout
//! (Linux's minimum, 200 ms, doubling while the retransmission is lost too); the stream's later
//! writes wait behind it, as bytes behind a lost segment do. A lost SYN or SYN-ACK delays the
//! connection by the initial retransmission timeout (1 s, doubling). Draws come from the run's
//! `loss` stream, and only on lossy links.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use edgesim_system::net::{Listener, Net};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Sleep, sleep};
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
/// The retransmission timeout of a lost data segment: Linux's `TCP_RTO_MIN`.
const DATA_RTO: Duration = Duration::from_millis(200);
/// The retransmission timeout of a lost SYN or SYN-ACK: Linux's `TCP_TIMEOUT_INIT`.
const SYN_RTO: Duration = Duration::from_secs(1);

/// The state of the links as the fault schedule left it: the directed links (from, to) that
/// partitions and silent crashes have cut and not yet repaired, and the loss rate of each lossy
/// directed link with the random stream its losses are drawn from. One for the whole simulation,
/// written by the fault schedule, read by every host's sockets.
#[derive(Clone, Debug)]
pub struct Cuts(Rc<RefCell<Links>>);

#[derive(Debug)]
struct Links {
    cut: BTreeSet<(String, String)>,
    loss: BTreeMap<(String, String), f64>,
    rng: ChaCha8Rng,
}

impl Cuts {
    /// No link cut or lossy; losses will be drawn from `rng`.
    pub fn new(rng: ChaCha8Rng) -> Cuts {
        Cuts(Rc::new(RefCell::new(Links { cut: BTreeSet::new(), loss: BTreeMap::new(), rng })))
    }

    pub fn cut(&self, from: &str, to: &str) {
        self.0.borrow_mut().cut.insert((from.to_string(), to.to_string()));
    }

    pub fn repair(&self, from: &str, to: &str) {
        self.0.borrow_mut().cut.remove(&(from.to_string(), to.to_string()));
    }

    /// Sets the share of segments lost from `from` to `to` (0 ends the loss).
    pub(crate) fn set_loss(&self, from: &str, to: &str, rate: f64) {
        let key = (from.to_string(), to.to_string());
        let mut links = self.0.borrow_mut();
        if rate > 0.0 {
            links.loss.insert(key, rate);
        } else {
            links.loss.remove(&key);
        }
    }

    /// Every cut link, as (from, to).
    pub fn all(&self) -> Vec<(String, String)> {
        self.0.borrow().cut.iter().cloned().collect()
    }

    /// Ends the loss on every link.
    pub(crate) fn clear_loss(&self) {
        self.0.borrow_mut().loss.clear();
    }

    /// Whether a connection between the two hosts cannot complete: the SYN or the SYN-ACK is lost.
    fn blocks(&self, a: &str, b: &str) -> bool {
        let links = self.0.borrow();
        if links.cut.is_empty() {
            return false;
        }
        [(a, b), (b, a)].iter().any(|(x, y)| links.cut.contains(&(x.to_string(), y.to_string())))
    }

    /// How much later than sent a segment from `from` to `to` arrives because of loss: nothing,
    /// or `rto` for each time it was lost in a row, the timeout doubling each time.
    fn retransmission_delay(&self, from: &str, to: &str, rto: Duration) -> Duration {
        let mut links = self.0.borrow_mut();
        if links.loss.is_empty() {
            return Duration::ZERO;
        }
        let Some(&rate) = links.loss.get(&(from.to_string(), to.to_string())) else { return Duration::ZERO };
        let (mut delay, mut timeout) = (Duration::ZERO, rto);
        while links.rng.random_bool(rate.min(1.0)) && delay < SYN_GIVE_UP {
            delay += timeout;
            timeout *= 2;
        }
        delay
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

pub struct TurmoilListener {
    listener: TcpListener,
    net: TurmoilNet,
}

impl Listener for TurmoilListener {
    type Stream = LossyStream;
    async fn accept(&mut self) -> io::Result<(LossyStream, String)> {
        let (stream, addr) = self.listener.accept().await?;
        let peer = turmoil::reverse_lookup(addr.ip()).unwrap_or_else(|| addr.ip().to_string());
        Ok((self.net.stream(stream, &peer), peer))
    }
}

impl TurmoilNet {
    fn stream(&self, inner: TcpStream, peer: &str) -> LossyStream {
        LossyStream {
            inner,
            from: self.host.clone(),
            to: peer.into(),
            cuts: self.cuts.clone(),
            drawn: false,
            resend: None,
        }
    }
}

impl Net for TurmoilNet {
    type Stream = LossyStream;
    type Listener = TurmoilListener;
    async fn bind(&self, port: u16) -> io::Result<TurmoilListener> {
        let listener = TcpListener::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)).await?;
        Ok(TurmoilListener { listener, net: self.clone() })
    }
    async fn connect(&self, host: &str, port: u16) -> io::Result<LossyStream> {
        let refused = |e: io::Error| io::Error::new(e.kind(), format!("connection to {host}:{port} refused"));
        let mut retries = SYN_RETRIES.into_iter();
        loop {
            if !self.cuts.blocks(&self.host, host) {
                let handshake = self.cuts.retransmission_delay(&self.host, host, SYN_RTO)
                    + self.cuts.retransmission_delay(host, &self.host, SYN_RTO);
                if !handshake.is_zero() {
                    sleep(handshake).await;
                }
                let stream = TcpStream::connect((host, port)).await.map_err(refused)?;
                return Ok(self.stream(stream, host));
            }
            let Some(wait) = retries.next() else { break };
            sleep(wait).await;
        }
        sleep(SYN_GIVE_UP).await;
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connection to {host}:{port} timed out (no answer to SYN)"),
        ))
    }
}

/// A turmoil TCP stream whose writes (one segment each) on a lossy link arrive late, as TCP
/// retransmissions do: a lost segment is sent after the retransmission delay, and the stream's
/// next write waits behind it.
pub struct LossyStream {
    inner: TcpStream,
    from: Rc<str>,
    to: Rc<str>,
    cuts: Cuts,
    /// Whether the pending write's loss was drawn (when it was first tried).
    drawn: bool,
    /// The retransmission the pending write waits for, if it was lost.
    resend: Option<Pin<Box<Sleep>>>,
}

impl AsyncRead for LossyStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for LossyStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if !this.drawn {
            this.drawn = true;
            let delay = this.cuts.retransmission_delay(&this.from, &this.to, DATA_RTO);
            if !delay.is_zero() {
                this.resend = Some(Box::pin(sleep(delay)));
            }
        }
        if let Some(resend) = this.resend.as_mut() {
            ready!(resend.as_mut().poll(cx));
            this.resend = None;
        }
        let written = ready!(Pin::new(&mut this.inner).poll_write(cx, buf));
        this.drawn = false;
        Poll::Ready(written)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// turmoil's own sockets, without what [`TurmoilNet`] adds: a connection across a cut link is
/// refused at once and loss stalls a stream. The status page's harness hosts (its users, probes,
/// subscriber endpoints and the monitored platform) have always used them on turmoil.
#[derive(Clone, Copy, Debug)]
pub struct PlainTurmoilNet;

pub struct PlainListener(TcpListener);

impl Listener for PlainListener {
    type Stream = TcpStream;
    async fn accept(&mut self) -> io::Result<(TcpStream, String)> {
        let (stream, addr) = self.0.accept().await?;
        Ok((stream, turmoil::reverse_lookup(addr.ip()).unwrap_or_else(|| addr.ip().to_string())))
    }
}

impl Net for PlainTurmoilNet {
    type Stream = TcpStream;
    type Listener = PlainListener;
    async fn bind(&self, port: u16) -> io::Result<PlainListener> {
        Ok(PlainListener(TcpListener::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)).await?))
    }
    async fn connect(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        TcpStream::connect((host, port)).await
    }
}
