//! The wire of the event-driven backend: the links as the world and the fault schedule set them
//! (latency and jitter, cut, held, lossy) and when each packet arrives. Pure logic over any
//! packet type, with no clock of its own: the driver (`stack`) says what time it is.
//!
//! What a connection sees is what TCP shows an application:
//! - A packet takes its link's latency plus a delay drawn within the link's jitter as turmoil
//!   draws it (so both backends agree): the jitter times an exponential draw of rate 5 (mean a
//!   fifth of the jitter), in whole milliseconds, at most the jitter. It never overtakes an
//!   earlier packet of its connection (TCP delivers bytes in order).
//! - A packet lost on a lossy link, or sent across a cut one, is sent again after the
//!   retransmission timeout (Linux's minimum, 200 ms, or 1 s for a SYN), the timeout doubling up
//!   to 120 s while the link still loses it; the connection's later packets wait behind it, as
//!   bytes behind a lost segment do. So a partition stalls a connection and its repair lets it
//!   go on, and loss makes segments late, never gone.
//! - A held link keeps its packets and sends them, in order, when released.
//! - Arrivals are rounded up to the run's step (`tick`), as turmoil rounds every delay to its
//!   step; the step is 1 ms unless a scenario sets it.
//!
//! Where this is simpler than TCP: a retransmission carries exactly the lost packet and those
//! queued behind it (no fast retransmit, no congestion window), and the sender's host keeps
//! retransmitting until the link comes back (Linux gives up after about 15 minutes).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::hash::Hash;
use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxBuildHasher;

/// The retransmission timeout of a lost data segment: Linux's `TCP_RTO_MIN`.
pub const DATA_RTO: Duration = Duration::from_millis(200);
/// The retransmission timeout of a lost SYN or SYN-ACK: Linux's `TCP_TIMEOUT_INIT`.
pub const SYN_RTO: Duration = Duration::from_secs(1);
/// The longest retransmission timeout: Linux's `TCP_RTO_MAX`.
pub const MAX_RTO: Duration = Duration::from_secs(120);
/// A link whose latency the world never set: turmoil's default, so both backends agree.
pub const DEFAULT_LATENCY: Duration = Duration::from_millis(50);

/// A directed link, by host index.
type Link = (usize, usize);

/// The links between hosts and the packets on them. `F` names a connection one way (its
/// endpoints), `P` is a packet.
pub struct Wire<F, P> {
    latency: BTreeMap<Link, (Duration, Duration)>,
    cut: BTreeSet<Link>,
    loss: BTreeMap<Link, f64>,
    held: BTreeMap<Link, Vec<(F, P, bool)>>,
    /// Keyed by connection, hashed with FxHash (a packet looks its flow up on every send and
    /// arrival); never iterated in an order that matters.
    flows: HashMap<F, Flow<P>, FxBuildHasher>,
    /// What is due, by (time, order of scheduling).
    due: BTreeMap<(Duration, u64), WireStep<F, P>>,
    scheduled: u64,
    jitter: ChaCha8Rng,
    losses: ChaCha8Rng,
    /// The step arrivals are rounded up to.
    tick: Duration,
}

enum WireStep<F, P> {
    /// The packet reaches its destination.
    Arrive { packet: P },
    /// The connection's stalled packets are sent again.
    Resend { flow: F },
}

struct Flow<P> {
    link: Link,
    /// When its last packet arrives: the next may not arrive earlier.
    last_arrival: Duration,
    /// The packets waiting for a retransmission, the lost one first.
    stall: Option<Stall<P>>,
}

struct Stall<P> {
    queue: VecDeque<(P, bool)>,
    timeout: Duration,
}

impl<F: Copy + Eq + Hash, P> Wire<F, P> {
    /// No link set, cut, held or lossy; jitter drawn from `jitter`, losses from `losses`,
    /// arrivals rounded up to `tick`.
    pub fn new(jitter: ChaCha8Rng, losses: ChaCha8Rng, tick: Duration) -> Self {
        Wire {
            latency: BTreeMap::new(),
            cut: BTreeSet::new(),
            loss: BTreeMap::new(),
            held: BTreeMap::new(),
            flows: HashMap::default(),
            due: BTreeMap::new(),
            scheduled: 0,
            jitter,
            losses,
            tick,
        }
    }

    /// Sets the latency and jitter of the link from `from` to `to`.
    pub fn set_link(&mut self, from: usize, to: usize, latency: Duration, jitter: Duration) {
        self.latency.insert((from, to), (latency, jitter));
    }

    /// Sets the latency from `from` to `to`, keeping its jitter.
    pub fn set_latency(&mut self, from: usize, to: usize, latency: Duration) {
        self.latency.entry((from, to)).or_insert((DEFAULT_LATENCY, Duration::ZERO)).0 = latency;
    }

    pub fn cut(&mut self, from: usize, to: usize) {
        self.cut.insert((from, to));
    }

    pub fn mend(&mut self, from: usize, to: usize) {
        self.cut.remove(&(from, to));
    }

    /// Sets the share of packets lost from `from` to `to`; 0 ends the loss.
    pub fn set_loss(&mut self, from: usize, to: usize, rate: f64) {
        if rate > 0.0 {
            self.loss.insert((from, to), rate.min(1.0));
        } else {
            self.loss.remove(&(from, to));
        }
    }

    pub fn clear_loss(&mut self) {
        self.loss.clear();
    }

    pub fn hold(&mut self, from: usize, to: usize) {
        self.held.entry((from, to)).or_default();
    }

    /// Sends what the link from `from` to `to` held, in order, and stops holding.
    pub fn release(&mut self, now: Duration, from: usize, to: usize) {
        for (flow, packet, syn) in self.held.remove(&(from, to)).unwrap_or_default() {
            self.send(now, from, to, flow, packet, syn);
        }
    }

    /// Host `host` stopped: what it was still to send (its retransmissions, its held packets)
    /// is gone with it.
    pub fn forget_sender(&mut self, host: usize) {
        self.flows.retain(|_, f| f.link.0 != host);
        for (link, held) in self.held.iter_mut() {
            if link.0 == host {
                held.clear();
            }
        }
    }

    /// Sends `packet` of connection `flow` from `from` to `to` at `now`; `syn` for a SYN or
    /// SYN-ACK (its retransmission timeout is longer).
    pub fn send(&mut self, now: Duration, from: usize, to: usize, flow: F, packet: P, syn: bool) {
        let state =
            self.flows.entry(flow).or_insert(Flow { link: (from, to), last_arrival: Duration::ZERO, stall: None });
        if let Some(stall) = &mut state.stall {
            stall.queue.push_back((packet, syn));
            return;
        }
        if let Some(held) = self.held.get_mut(&(from, to)) {
            held.push((flow, packet, syn));
            return;
        }
        if self.cut.contains(&(from, to)) || lost(&self.loss, &mut self.losses, (from, to)) {
            let timeout = if syn { SYN_RTO } else { DATA_RTO };
            state.stall = Some(Stall { queue: VecDeque::from([(packet, syn)]), timeout });
            self.schedule(now + timeout, WireStep::Resend { flow });
            return;
        }
        self.arrive(now, flow, packet);
    }

    /// Schedules the arrival of a packet that got through at `now`, in order behind its
    /// connection's earlier packets.
    fn arrive(&mut self, now: Duration, flow: F, packet: P) {
        let state = self.flows.get_mut(&flow).expect("a packet's connection is known");
        let (latency, jitter) = self.latency.get(&state.link).copied().unwrap_or((DEFAULT_LATENCY, Duration::ZERO));
        let at = round_up(now + latency + jittered(&mut self.jitter, jitter), self.tick).max(state.last_arrival);
        state.last_arrival = at;
        self.schedule(at, WireStep::Arrive { packet });
    }

    fn schedule(&mut self, at: Duration, due: WireStep<F, P>) {
        self.scheduled += 1;
        self.due.insert((at, self.scheduled), due);
    }

    /// When the next packet arrives or is sent again.
    pub fn next_due(&self) -> Option<Duration> {
        self.due.keys().next().map(|(at, _)| *at)
    }

    /// The next packet that arrives by `now`; retransmissions due by `now` are sent on the way.
    pub fn arrival(&mut self, now: Duration) -> Option<P> {
        while let Some(entry) = self.due.first_entry() {
            if entry.key().0 > now {
                return None;
            }
            let at = entry.key().0;
            match entry.remove() {
                WireStep::Arrive { packet } => return Some(packet),
                WireStep::Resend { flow } => self.resend(at, flow),
            }
        }
        None
    }

    /// A stalled connection's retransmission timer fired at `now`.
    fn resend(&mut self, now: Duration, flow: F) {
        let Some(state) = self.flows.get_mut(&flow) else { return };
        let link = state.link;
        let Some(mut stall) = state.stall.take() else { return };
        if self.cut.contains(&link) || lost(&self.loss, &mut self.losses, link) {
            stall.timeout = (stall.timeout * 2).min(MAX_RTO);
            let at = now + stall.timeout;
            state.stall = Some(stall);
            self.schedule(at, WireStep::Resend { flow });
            return;
        }
        let (packet, _) = stall.queue.pop_front().expect("a stall holds its lost packet");
        self.arrive(now, flow, packet);
        for (packet, syn) in stall.queue {
            self.send(now, link.0, link.1, flow, packet, syn);
        }
    }

    /// Forgets connections with nothing on the wire since before `now`.
    pub fn prune(&mut self, now: Duration) {
        self.flows.retain(|_, f| f.stall.is_some() || f.last_arrival >= now);
    }
}

/// `at` rounded up to a whole number of `tick`s.
fn round_up(at: Duration, tick: Duration) -> Duration {
    let (at_us, tick_us) = (at.as_micros() as u64, (tick.as_micros() as u64).max(1));
    Duration::from_micros(at_us.div_ceil(tick_us) * tick_us)
}

/// The delay a packet adds to its link's latency: `jitter` times an exponential draw of rate 5,
/// in whole milliseconds, at most `jitter` (turmoil's `Exp(5)` latency distribution).
fn jittered(rng: &mut ChaCha8Rng, jitter: Duration) -> Duration {
    if jitter.is_zero() {
        return Duration::ZERO;
    }
    let exp = -(1.0 - rng.random::<f64>()).ln() / 5.0;
    let ms = (jitter.as_millis() as f64 * exp) as u64;
    Duration::from_millis(ms).min(jitter)
}

/// Whether a packet on `link` is lost, drawn only on lossy links.
fn lost(loss: &BTreeMap<Link, f64>, rng: &mut ChaCha8Rng, link: Link) -> bool {
    match loss.get(&link) {
        Some(&rate) => rng.random_bool(rate),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    //! The wire's rules, without a simulator: latency and order, cuts and their repair, loss,
    //! holds, and a stopped sender.

    use rand::SeedableRng;

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn wire() -> Wire<u32, &'static str> {
        let mut wire = Wire::new(ChaCha8Rng::seed_from_u64(1), ChaCha8Rng::seed_from_u64(2), MS);
        wire.set_link(0, 1, 50 * MS, Duration::ZERO);
        wire
    }

    /// Every arrival up to `until`, as (time, packet), stepping to each due time.
    fn arrivals(wire: &mut Wire<u32, &'static str>, until: Duration) -> Vec<(Duration, &'static str)> {
        let mut out = Vec::new();
        while let Some(at) = wire.next_due().filter(|at| *at <= until) {
            while let Some(p) = wire.arrival(at) {
                out.push((at, p));
            }
        }
        out
    }

    #[test]
    fn a_packet_takes_its_latency_and_never_overtakes_an_earlier_one() {
        // Goal: arrival = send + latency; a later packet of the same connection sent on a faster
        // link arrives after the earlier one, a packet of another connection does not wait.
        let mut wire = wire();
        wire.send(Duration::ZERO, 0, 1, 7, "a", false);
        wire.set_latency(0, 1, 10 * MS);
        wire.send(MS, 0, 1, 7, "b", false);
        wire.send(MS, 0, 1, 8, "c", false);
        assert_eq!(arrivals(&mut wire, Duration::from_secs(1)), vec![(11 * MS, "c"), (50 * MS, "a"), (50 * MS, "b")]);
    }

    #[test]
    fn arrivals_are_rounded_up_to_the_step() {
        // Goal: with a 10 ms step, a packet sent at 3 ms over a 50 ms link arrives at 60 ms.
        let mut wire = Wire::new(ChaCha8Rng::seed_from_u64(1), ChaCha8Rng::seed_from_u64(2), 10 * MS);
        wire.set_link(0, 1, 50 * MS, Duration::ZERO);
        wire.send(3 * MS, 0, 1, 7, "a", false);
        assert_eq!(arrivals(&mut wire, Duration::from_secs(1)), vec![(60 * MS, "a")]);
    }

    #[test]
    fn a_cut_stalls_a_connection_until_a_retransmission_after_the_repair() {
        // Goal: packets sent across a cut are not lost for good: the first is retransmitted at
        // 200 ms, 600 ms, 1.4 s ... and, after the repair, arrives with those queued behind it.
        let mut wire = wire();
        wire.cut(0, 1);
        wire.send(Duration::ZERO, 0, 1, 7, "a", false);
        wire.send(MS, 0, 1, 7, "b", false);
        assert_eq!(arrivals(&mut wire, Duration::from_secs(1)), vec![]);
        wire.mend(0, 1);
        let expected = vec![(1400 * MS + 50 * MS, "a"), (1400 * MS + 50 * MS, "b")];
        assert_eq!(arrivals(&mut wire, Duration::from_secs(3)), expected);
    }

    #[test]
    fn a_syn_across_a_cut_is_retried_on_the_syn_schedule() {
        // Goal: a SYN's retransmission timeout starts at 1 s, not 200 ms.
        let mut wire = wire();
        wire.cut(0, 1);
        wire.send(Duration::ZERO, 0, 1, 7, "syn", true);
        wire.mend(0, 1);
        assert_eq!(arrivals(&mut wire, Duration::from_secs(3)), vec![(1050 * MS, "syn")]);
    }

    #[test]
    fn loss_makes_packets_late_not_gone() {
        // Goal: on a link losing half its packets every packet still arrives, in order, and some
        // arrive later than the latency by a retransmission timeout.
        let mut wire = wire();
        wire.set_loss(0, 1, 0.5);
        let names = ["p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"];
        for (i, p) in names.iter().enumerate() {
            wire.send(i as u32 * MS, 0, 1, 7, p, false);
        }
        let got = arrivals(&mut wire, Duration::from_secs(600));
        assert_eq!(got.iter().map(|(_, p)| *p).collect::<Vec<_>>(), names);
        assert!(got.iter().any(|(at, _)| *at >= 200 * MS), "{got:?}");
    }

    #[test]
    fn a_held_link_delivers_in_order_on_release() {
        // Goal: nothing crosses a held link until its release, then all of it, in order.
        let mut wire = wire();
        wire.hold(0, 1);
        wire.send(Duration::ZERO, 0, 1, 7, "a", false);
        wire.send(MS, 0, 1, 8, "b", false);
        assert_eq!(arrivals(&mut wire, Duration::from_secs(5)), vec![]);
        wire.release(Duration::from_secs(5), 0, 1);
        let at = Duration::from_secs(5) + 50 * MS;
        assert_eq!(arrivals(&mut wire, Duration::from_secs(6)), vec![(at, "a"), (at, "b")]);
    }

    #[test]
    fn a_stopped_sender_retransmits_nothing() {
        // Goal: a host that stopped while its packets were stalled never sends them.
        let mut wire = wire();
        wire.cut(0, 1);
        wire.send(Duration::ZERO, 0, 1, 7, "a", false);
        wire.forget_sender(0);
        wire.mend(0, 1);
        assert_eq!(arrivals(&mut wire, Duration::from_secs(5)), vec![]);
    }
}
