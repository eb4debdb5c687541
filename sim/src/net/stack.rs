//! The event-driven backend: every host's software on one paused tokio runtime, its sockets on
//! turmoil-net's simulated TCP, and a driver of edgesim's own between them.
//!
//! turmoil 0.7.2 ticks every host's runtime and walks every link of the full mesh each step,
//! whether or not anything happens. Here a host runs only when something wakes it (a timer, a
//! packet, a task it spawned), and simulated time jumps straight to the next timer or packet:
//! the runtime's clock is paused and tokio advances it when nothing is ready. Each host is a
//! `LocalSet` of its own (its tasks, scoped to its socket table while they run and when they
//! are dropped), polled by the driver when its waker fires; a crash drops the set, a restart
//! boots a new one. After the hosts run, the driver takes the packets their sockets produced
//! and hands them to the wire (`links`), which says when each arrives.
//!
//! Time has the runtime timer's resolution, 1 ms: a timer or an arrival due within a
//! millisecond is served at its end, as turmoil serves it at its next 1 ms tick. A scenario's
//! longer `tick` rounds arrivals up to it (`links`), as turmoil rounds delays to its step.

use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::future::{Future, poll_fn};
use std::net::IpAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tokio::runtime::{Builder, RngSeed, Runtime};
use tokio::task::{JoinHandle, LocalSet};
use tokio::time::{Instant, Sleep};
use turmoil_net::{EnterGuard, HostId, KernelConfig, Packet, TcpFlags, TcpSegment, Transport};

use super::links::Wire;
use super::sockets::{Names, StackNet};
use super::{HostResult, SimError, Simulation};
use crate::seed::Seed;

thread_local! {
    /// When the running event-driven simulation on this thread started, for `net::elapsed`.
    static ORIGIN: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Simulated time of the event-driven simulation running on this thread, if one is.
pub(super) fn elapsed() -> Option<Duration> {
    ORIGIN.get().map(|origin| Instant::now() - origin)
}

/// A connection one way: (source address and port, destination address and port).
type Connection = (IpAddr, u16, IpAddr, u16);

type Boot = Rc<dyn Fn() -> Pin<Box<dyn Future<Output = HostResult>>>>;

/// A run on the event-driven backend.
pub struct StackSim {
    rt: Runtime,
    world: World,
}

struct World {
    /// The socket stack before the run starts (hosts are added to it), then installed.
    stack: Stack,
    hosts: Vec<Host>,
    by_name: BTreeMap<String, usize>,
    by_ip: BTreeMap<IpAddr, usize>,
    names: Names,
    wire: Wire<Connection, Packet>,
    ready: Arc<Ready>,
    origin: Instant,
    now: Duration,
    limit: Duration,
    failure: Option<String>,
    /// Clients whose software has not finished yet: the run ends when none is left.
    clients_running: usize,
    sleep: Option<Pin<Box<Sleep>>>,
    outbound: Vec<Packet>,
    /// The hosts whose sockets may have produced packets since they were last drained: those that
    /// ran, were stopped, or were delivered a packet. No other host's sockets can have anything
    /// to send (the stack's own retransmission is off), so only these are drained.
    touched: Touched,
    next_prune: Duration,
}

enum Stack {
    Building(Box<turmoil_net::Net>),
    Running(EnterGuard),
}

struct Host {
    name: Rc<str>,
    id: HostId,
    ip: IpAddr,
    /// What starts the host's software; `None` for a client, which never restarts.
    boot: Option<Boot>,
    running: Option<Running>,
    waker: Waker,
}

/// A host's software while it runs.
struct Running {
    tasks: LocalSet,
    main: JoinHandle<HostResult>,
    finished: bool,
}

impl StackSim {
    /// An empty simulation that fails past `limit`, its arrivals rounded up to `tick`; link delays
    /// are drawn from the seed's `links` stream, losses from its `loss` stream, the runtime's
    /// scheduling from the seed.
    pub fn new(seed: Seed, tick: Duration, limit: Duration) -> StackSim {
        let rt = Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .rng_seed(RngSeed::from_bytes(&seed.0.to_le_bytes()))
            .build()
            .expect("a current-thread runtime builds");
        let origin = rt.block_on(async { Instant::now() });
        // turmoil-net retransmits by counting its own egress passes, which here follow events,
        // not time: the wire (`links`) retransmits by the clock instead, and never loses a
        // packet for good, so the stack's own retransmission stays off.
        let config = KernelConfig::default().retx_threshold(u32::MAX).retx_max(u32::MAX);
        let world = World {
            stack: Stack::Building(Box::new(turmoil_net::Net::with_config(config))),
            hosts: Vec::new(),
            by_name: BTreeMap::new(),
            by_ip: BTreeMap::new(),
            names: Names::default(),
            wire: Wire::new(seed.child("links", 0), seed.child("loss", 0), tick),
            ready: Arc::new(Ready::default()),
            origin,
            now: Duration::ZERO,
            limit,
            failure: None,
            clients_running: 0,
            sleep: None,
            outbound: Vec::new(),
            touched: Touched::default(),
            next_prune: Duration::from_secs(1),
        };
        StackSim { rt, world }
    }

    fn index(&self, host: &str) -> usize {
        *self.world.by_name.get(host).unwrap_or_else(|| panic!("no host named {host}"))
    }

    fn add(&mut self, name: &str, boot: Option<Boot>, main: Pin<Box<dyn Future<Output = HostResult>>>) {
        let world = &mut self.world;
        let Stack::Building(net) = &mut world.stack else { panic!("hosts are added before the run starts") };
        let id = net.add_host(name);
        let ip = net.lookup(name);
        let index = world.hosts.len();
        world.by_name.insert(name.to_string(), index);
        world.by_ip.insert(ip, index);
        world.names.borrow_mut().insert(ip, name.into());
        world.ready.add();
        world.touched.add();
        world.clients_running += usize::from(boot.is_none());
        let waker = Waker::from(Arc::new(HostWaker { host: index, ready: world.ready.clone() }));
        world.hosts.push(Host { name: name.into(), id, ip, boot, running: None, waker });
        world.start(index, main);
    }
}

impl Simulation for StackSim {
    type Net = StackNet;
    type PlainNet = StackNet;

    fn net(&self, _host: &str) -> StackNet {
        StackNet::new(&self.world.names)
    }

    fn plain_net(&self, host: &str) -> StackNet {
        self.net(host)
    }

    fn host<F, Fut>(&mut self, name: &str, boot: F)
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = HostResult> + 'static,
    {
        let boot: Boot = Rc::new(move || Box::pin(boot()));
        let main = boot();
        self.add(name, Some(boot), main);
    }

    fn client<Fut>(&mut self, name: &str, run: Fut)
    where
        Fut: Future<Output = HostResult> + 'static,
    {
        self.add(name, None, Box::pin(run));
    }

    fn link(&mut self, a: &str, b: &str, latency: Duration, jitter: Duration) {
        let (a, b) = (self.index(a), self.index(b));
        self.world.wire.set_link(a, b, latency, jitter);
        self.world.wire.set_link(b, a, latency, jitter);
    }

    fn elapsed(&self) -> Duration {
        self.world.now
    }

    fn run_until(&mut self, until: Duration) -> Result<bool, SimError> {
        let StackSim { rt, world } = self;
        world.install();
        rt.block_on(poll_fn(|cx| world.poll_run(cx, until)))
    }

    fn is_running(&mut self, host: &str) -> bool {
        self.world.hosts[self.index(host)].running.is_some()
    }

    fn cut(&mut self, x: &str, y: &str, oneway: bool) {
        let (x, y) = (self.index(x), self.index(y));
        self.world.wire.cut(x, y);
        if !oneway {
            self.world.wire.cut(y, x);
        }
    }

    fn mend(&mut self, x: &str, y: &str, oneway: bool) {
        let (x, y) = (self.index(x), self.index(y));
        self.world.wire.mend(x, y);
        if !oneway {
            self.world.wire.mend(y, x);
        }
    }

    /// The host's tasks are dropped, so its sockets close as a crashed process's do: the kernel
    /// sends each peer a FIN (or a RST where data was unread) and then tears the connections down
    /// at once, which frees their ports for the next boot (on Linux, `SO_REUSEADDR` and the orphan
    /// timeout do; turmoil-net has neither). What the host was still retransmitting is gone.
    fn crash(&mut self, host: &str) {
        let index = self.index(host);
        let _runtime = self.rt.enter();
        self.world.install();
        self.world.wire.forget_sender(index);
        self.world.stop(index);
        self.world.send_outbound();
        self.world.tear_down(index);
    }

    fn restart(&mut self, host: &str) {
        let index = self.index(host);
        let Some(boot) = self.world.hosts[index].boot.clone() else { return };
        let _runtime = self.rt.enter();
        self.world.install();
        self.world.wire.forget_sender(index);
        self.world.start(index, boot());
    }

    fn hold(&mut self, x: &str, y: &str) {
        let (x, y) = (self.index(x), self.index(y));
        self.world.wire.hold(x, y);
    }

    fn release(&mut self, x: &str, y: &str) {
        let (x, y) = (self.index(x), self.index(y));
        self.world.wire.release(self.world.now, x, y);
    }

    fn set_latency(&mut self, x: &str, y: &str, latency: Duration) {
        let (x, y) = (self.index(x), self.index(y));
        self.world.wire.set_latency(x, y, latency);
        self.world.wire.set_latency(y, x, latency);
    }

    fn set_loss(&mut self, x: &str, y: &str, rate: f64) {
        let (x, y) = (self.index(x), self.index(y));
        self.world.wire.set_loss(x, y, rate);
        self.world.wire.set_loss(y, x, rate);
    }

    fn clear_loss(&mut self) {
        self.world.wire.clear_loss();
    }
}

impl World {
    /// Installs the socket stack on this thread for the run (once).
    fn install(&mut self) {
        if let Stack::Building(net) = &mut self.stack {
            let net = std::mem::take(net.as_mut());
            self.stack = Stack::Running(net.enter());
            ORIGIN.set(Some(self.origin));
        }
    }

    fn guard(&self) -> &EnterGuard {
        match &self.stack {
            Stack::Running(guard) => guard,
            Stack::Building(_) => panic!("the socket stack is installed when the run starts"),
        }
    }

    /// Starts host `index`'s software `main` on a fresh set of tasks.
    fn start(&mut self, index: usize, main: Pin<Box<dyn Future<Output = HostResult>>>) {
        let tasks = LocalSet::new();
        let main = tasks.spawn_local(main);
        self.hosts[index].running = Some(Running { tasks, main, finished: false });
        self.ready.wake(index);
    }

    /// Drops host `index`'s tasks, inside its own socket table.
    fn stop(&mut self, index: usize) {
        let host = &mut self.hosts[index];
        if let Some(running) = host.running.take() {
            self.clients_running -= usize::from(host.boot.is_none() && !running.finished);
            self.scoped(index, move || drop(running));
        }
    }

    /// Resets every connection left in host `index`'s socket table (delivering it a RST from the
    /// peer), so that closing ones are reaped at the next pass instead of lingering.
    fn tear_down(&mut self, index: usize) {
        let ip = self.hosts[index].ip;
        let entries = turmoil_net::netstat(ip).entries;
        for entry in entries {
            let Some(peer) = entry.peer else { continue };
            let reset = TcpSegment {
                src_port: peer.port(),
                dst_port: entry.local.port(),
                seq: 0,
                ack: 0,
                flags: TcpFlags { rst: true, ..TcpFlags::default() },
                window: 0,
                payload: Default::default(),
            };
            self.deliver(Packet { src: peer.ip(), dst: ip, ttl: 64, payload: Transport::Tcp(reset) });
        }
        self.send_outbound();
    }

    /// Runs `f` with host `index` as the socket stack's current host, once the stack is
    /// installed (before, no socket exists), and marks the host to be drained after the instant.
    fn scoped<R>(&mut self, index: usize, f: impl FnOnce() -> R) -> R {
        if let Stack::Running(guard) = &self.stack {
            guard.set_current(self.hosts[index].id);
        }
        self.touched.mark(index);
        f()
    }

    /// Hands `packet` to the socket table of the host it is addressed to.
    fn deliver(&mut self, packet: Packet) {
        if let Some(&index) = self.by_ip.get(&packet.dst) {
            self.touched.mark(index);
        }
        self.guard().deliver(packet);
    }

    /// Runs the simulation until `until`, every client finished, or a failure.
    fn poll_run(&mut self, cx: &mut Context<'_>, until: Duration) -> Poll<Result<bool, SimError>> {
        self.ready.set_driver(cx.waker());
        loop {
            self.now = Instant::now() - self.origin;
            if self.now > self.limit {
                let message = format!("the run passed its time limit of {:?} before every client finished", self.limit);
                return Poll::Ready(Err(SimError { at: self.now, message }));
            }
            // What is due at this instant: the packets that arrive, then every host woken (by
            // them, by its timers, by its own tasks); then, once, what their sockets sent.
            let mut active = false;
            while let Some(packet) = self.wire.arrival(self.now) {
                self.deliver(packet);
                active = true;
            }
            while let Some(index) = self.ready.next() {
                self.poll_host(index);
                active = true;
            }
            if let Some(message) = self.failure.take() {
                return Poll::Ready(Err(SimError { at: self.now, message }));
            }
            if self.clients_running == 0 {
                return Poll::Ready(Ok(true));
            }
            if active {
                self.send_outbound();
                continue;
            }
            if self.now >= self.next_prune {
                self.wire.prune(self.now);
                self.next_prune = self.now + Duration::from_secs(1);
            }
            if self.now >= until {
                return Poll::Ready(Ok(false));
            }
            let next = self.wire.next_due().map_or(until, |at| at.min(until));
            let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(self.origin + next)));
            sleep.as_mut().reset(self.origin + next);
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }

    /// Polls host `index`'s tasks in its socket table; notes its software's end.
    fn poll_host(&mut self, index: usize) {
        let host = &mut self.hosts[index];
        let Some(running) = host.running.as_mut() else { return };
        self.touched.mark(index);
        if let Stack::Running(guard) = &self.stack {
            guard.set_current(host.id);
        }
        let mut cx = Context::from_waker(&host.waker);
        let _ = Pin::new(&mut running.tasks).poll(&mut cx);
        if running.finished || !running.main.is_finished() {
            return;
        }
        running.finished = true;
        self.clients_running -= usize::from(host.boot.is_none());
        let failure = match Pin::new(&mut running.main).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(Ok(()))) | Poll::Pending => return,
            Poll::Ready(Ok(Err(e))) => format!("host {} failed: {e}", host.name),
            Poll::Ready(Err(e)) => format!("host {} stopped: {e}", host.name),
        };
        self.failure.get_or_insert(failure);
    }

    /// Hands every packet the hosts' sockets produced to the wire, host by host in the order the
    /// hosts were added.
    fn send_outbound(&mut self) {
        let mut outbound = std::mem::take(&mut self.outbound);
        let Stack::Running(guard) = &self.stack else { panic!("the socket stack is installed when the run starts") };
        for index in self.touched.drain() {
            guard.egress(self.hosts[index].id, &mut outbound);
        }
        for packet in outbound.drain(..) {
            let Transport::Tcp(segment) = &packet.payload else { continue };
            let (Some(&from), Some(&to)) = (self.by_ip.get(&packet.src), self.by_ip.get(&packet.dst)) else { continue };
            let flow = (packet.src, segment.src_port, packet.dst, segment.dst_port);
            let syn = segment.flags.syn;
            self.wire.send(self.now, from, to, flow, packet, syn);
        }
        self.outbound = outbound;
    }
}

impl Drop for StackSim {
    /// Every host's tasks are dropped in its own socket table, inside the runtime, before the
    /// stack is uninstalled.
    fn drop(&mut self) {
        let _runtime = self.rt.enter();
        for index in 0..self.world.hosts.len() {
            self.world.stop(index);
        }
        self.world.sleep = None;
        ORIGIN.set(None);
    }
}

/// The hosts woken since the driver last looked, in the order they were woken, and the
/// driver's own waker.
#[derive(Default)]
struct Ready {
    state: Mutex<ReadyState>,
}

#[derive(Default)]
struct ReadyState {
    queue: VecDeque<usize>,
    queued: Vec<bool>,
    driver: Option<Waker>,
}

impl Ready {
    fn add(&self) {
        self.state.lock().expect("single-threaded").queued.push(false);
    }

    fn wake(&self, host: usize) {
        let mut state = self.state.lock().expect("single-threaded");
        if !state.queued[host] {
            state.queued[host] = true;
            state.queue.push_back(host);
        }
        if let Some(driver) = state.driver.take() {
            driver.wake();
        }
    }

    fn next(&self) -> Option<usize> {
        let mut state = self.state.lock().expect("single-threaded");
        let host = state.queue.pop_front()?;
        state.queued[host] = false;
        Some(host)
    }

    fn set_driver(&self, waker: &Waker) {
        self.state.lock().expect("single-threaded").driver = Some(waker.clone());
    }
}

/// The hosts marked since the last `drain`, each once.
#[derive(Default)]
struct Touched {
    marked: Vec<bool>,
    hosts: Vec<usize>,
}

impl Touched {
    fn add(&mut self) {
        self.marked.push(false);
    }

    fn mark(&mut self, host: usize) {
        if !std::mem::replace(&mut self.marked[host], true) {
            self.hosts.push(host);
        }
    }

    /// The marked hosts in ascending order, unmarked (the list keeps its allocation).
    fn drain(&mut self) -> std::vec::Drain<'_, usize> {
        self.hosts.sort_unstable();
        for &host in &self.hosts {
            self.marked[host] = false;
        }
        self.hosts.drain(..)
    }
}

/// Wakes the driver for one host.
struct HostWaker {
    host: usize,
    ready: Arc<Ready>,
}

impl Wake for HostWaker {
    fn wake(self: Arc<Self>) {
        self.ready.wake(self.host);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.ready.wake(self.host);
    }
}

#[cfg(test)]
mod tests {
    use super::Touched;

    #[test]
    fn touched_hosts_are_drained_once_each_in_the_order_they_were_added() {
        // Goal: the hosts drained after an instant are those marked, each once however often it
        // was marked, in ascending index (the order turmoil-net's `egress_all` visits them), and a
        // drain forgets them, so the next instant starts with none.
        let mut touched = Touched::default();
        (0..5).for_each(|_| touched.add());
        for host in [3, 1, 3, 4, 1] {
            touched.mark(host);
        }
        assert_eq!(touched.drain().collect::<Vec<_>>(), vec![1, 3, 4]);
        assert_eq!(touched.drain().collect::<Vec<_>>(), Vec::<usize>::new());
        touched.mark(0);
        assert_eq!(touched.drain().collect::<Vec<_>>(), vec![0]);
    }
}
