//! The turmoil backend: turmoil 0.7.2 ticks every host's runtime and walks every link each step
//! (`scenario.tick`, 1 ms by default). Its sockets are `turmoil_net`'s, which add what turmoil's
//! TCP lacks (SYN retries across a cut link, retransmitted segments on a lossy one).

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use super::{HostResult, SimError, Simulation};
use crate::knobs::Bug;
use crate::seed::Seed;
use crate::turmoil_net::{Cuts, PlainTurmoilNet, TurmoilNet};

/// A run on turmoil.
pub struct TurmoilSim<'a> {
    sim: turmoil::Sim<'a>,
    /// The links the fault schedule cut or made lossy, as the hosts' sockets read them.
    cuts: Cuts,
    /// Links turmoil itself drops messages on, under the test-only knob that restores its stuck
    /// streams ([`Bug::LossStalls`]), for a heal to clear.
    stalling: BTreeSet<(String, String)>,
}

impl TurmoilSim<'_> {
    /// A simulation stepping `tick` at a time that fails past `limit`; message losses are drawn
    /// from the seed's `loss` stream.
    pub fn new(seed: Seed, tick: Duration, limit: Duration) -> Self {
        let sim = turmoil::Builder::new()
            .simulation_duration(limit)
            .tick_duration(tick)
            .rng_seed(seed.0)
            .epoch(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000))
            .min_message_latency(Duration::from_millis(50))
            .max_message_latency(Duration::from_millis(50))
            .repair_rate(0.5)
            .tcp_capacity(1 << 16)
            .build();
        TurmoilSim { sim, cuts: Cuts::new(seed.child("loss", 0)), stalling: BTreeSet::new() }
    }
}

impl Simulation for TurmoilSim<'_> {
    type Net = TurmoilNet;
    type PlainNet = PlainTurmoilNet;

    fn net(&self, host: &str) -> TurmoilNet {
        TurmoilNet::new(host, &self.cuts)
    }

    fn plain_net(&self, _host: &str) -> PlainTurmoilNet {
        PlainTurmoilNet
    }

    fn host<F, Fut>(&mut self, name: &str, boot: F)
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = HostResult> + 'static,
    {
        self.sim.host(name, boot);
    }

    fn client<Fut>(&mut self, name: &str, run: Fut)
    where
        Fut: Future<Output = HostResult> + 'static,
    {
        self.sim.client(name, run);
    }

    /// turmoil draws each message's delay between the latency and the latency plus the jitter.
    fn link(&mut self, a: &str, b: &str, latency: Duration, jitter: Duration) {
        self.sim.set_link_latency(a, b, latency);
        self.sim.set_link_max_message_latency(a, b, latency + jitter);
    }

    fn elapsed(&self) -> Duration {
        self.sim.elapsed()
    }

    fn run_until(&mut self, until: Duration) -> Result<bool, SimError> {
        loop {
            match self.sim.step() {
                Ok(true) => return Ok(true),
                Ok(false) if self.sim.elapsed() >= until => return Ok(false),
                Ok(false) => {}
                Err(e) => return Err(SimError { at: self.sim.elapsed(), message: e.to_string() }),
            }
        }
    }

    fn is_running(&mut self, host: &str) -> bool {
        self.sim.is_host_running(host)
    }

    fn cut(&mut self, x: &str, y: &str, oneway: bool) {
        self.cuts.cut(x, y);
        if oneway {
            self.sim.partition_oneway(x, y);
        } else {
            self.cuts.cut(y, x);
            self.sim.partition(x, y);
        }
    }

    fn mend(&mut self, x: &str, y: &str, oneway: bool) {
        self.cuts.repair(x, y);
        if oneway {
            self.sim.repair_oneway(x, y);
        } else {
            self.cuts.repair(y, x);
            self.sim.repair(x, y);
        }
    }

    fn crash(&mut self, host: &str) {
        self.sim.crash(host);
    }

    fn restart(&mut self, host: &str) {
        self.sim.bounce(host);
    }

    fn hold(&mut self, x: &str, y: &str) {
        self.sim.hold(x, y);
    }

    fn release(&mut self, x: &str, y: &str) {
        self.sim.release(x, y);
    }

    fn set_latency(&mut self, x: &str, y: &str, latency: Duration) {
        self.sim.set_link_latency(x, y, latency);
    }

    /// Loss as TCP shows it (late segments, never a stream stuck for good) is applied by the
    /// hosts' sockets, not by turmoil, whose TCP does not retransmit. Test only: turmoil's own
    /// loss, which leaves a stream stuck behind a dropped segment.
    fn set_loss(&mut self, x: &str, y: &str, rate: f64) {
        if Bug::LossStalls.restored() {
            self.sim.set_link_fail_rate(x, y, rate);
            self.stalling.insert((x.to_string(), y.to_string()));
        } else {
            self.cuts.set_loss(x, y, rate);
            self.cuts.set_loss(y, x, rate);
        }
    }

    fn clear_loss(&mut self) {
        self.cuts.clear_loss();
        for (x, y) in std::mem::take(&mut self.stalling) {
            self.sim.set_link_fail_rate(x.as_str(), y.as_str(), 0.0);
        }
    }
}
