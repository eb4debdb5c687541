//! Applies scheduled faults to the running simulation (partitions, crashes, restarts, holds, latency
//! and loss; docs/SCENARIOS.md, `[[fault]]`). A silent crash partitions the host from every other host
//! before stopping it, so peers learn of it only by silence; its restart repairs those links. A
//! heal ends every fault at once: it restarts the hosts that are down, mends every cut link,
//! releases every held one and clears every link's loss; the world sets its latencies again.

use std::collections::BTreeSet;
use std::fmt;

use turmoil::Sim;

use crate::scenario::Action;
use crate::turmoil_net::Cuts;

/// Hosts currently cut off by a silent crash, every cut link, which the hosts' sockets read, and
/// the links held or made lossy, for a heal to undo.
#[derive(Default)]
pub struct FaultState {
    silenced: BTreeSet<String>,
    pub cuts: Cuts,
    held: BTreeSet<(String, String)>,
    lossy: BTreeSet<(String, String)>,
}

impl FaultState {
    /// Applies `action` in a world of `hosts` whose node hosts are `nodes`; a heal does not set
    /// the world's latencies (its caller does).
    pub fn apply(&mut self, sim: &mut Sim<'_>, action: &Action, hosts: &[String], nodes: &[String]) {
        match action {
            Action::Partition { a, b, oneway } => pairs(a, b, |x, y| self.cut(sim, x, y, *oneway)),
            Action::Repair { a, b, oneway } => pairs(a, b, |x, y| self.mend(sim, x, y, *oneway)),
            Action::Crash { host } => sim.crash(host.as_str()),
            Action::SilentCrash { host } => {
                for other in hosts.iter().filter(|h| *h != host) {
                    self.cut(sim, host, other, false);
                }
                sim.crash(host.as_str());
                self.silenced.insert(host.clone());
            }
            Action::Restart { host } => {
                if self.silenced.remove(host) {
                    for other in hosts.iter().filter(|h| *h != host) {
                        self.mend(sim, host, other, false);
                    }
                }
                sim.bounce(host.as_str());
            }
            Action::Hold { a, b } => pairs(a, b, |x, y| {
                sim.hold(x, y);
                self.held.insert((x.to_string(), y.to_string()));
            }),
            Action::Release { a, b } => pairs(a, b, |x, y| {
                sim.release(x, y);
                self.held.remove(&(x.to_string(), y.to_string()));
            }),
            Action::Latency { a, b, latency } => pairs(a, b, |x, y| sim.set_link_latency(x, y, *latency)),
            Action::Loss { a, b, rate } => {
                let mut links = Vec::new();
                pairs(a, b, |x, y| links.push((x.to_string(), y.to_string())));
                for (x, y) in links {
                    sim.set_link_fail_rate(x.as_str(), y.as_str(), *rate);
                    if *rate > 0.0 {
                        self.lossy.insert((x, y));
                    } else {
                        self.lossy.remove(&(x, y));
                    }
                }
            }
            Action::Heal => {
                for host in nodes {
                    if self.silenced.contains(host) || !sim.is_host_running(host.as_str()) {
                        self.apply(sim, &Action::Restart { host: host.clone() }, hosts, nodes);
                    }
                }
                for (x, y) in self.cuts.all() {
                    self.mend(sim, &x, &y, true);
                }
                for (x, y) in std::mem::take(&mut self.held) {
                    sim.release(x.as_str(), y.as_str());
                }
                for (x, y) in std::mem::take(&mut self.lossy) {
                    sim.set_link_fail_rate(x.as_str(), y.as_str(), 0.0);
                }
            }
        }
    }
}

impl FaultState {
    /// Cuts the link from `x` to `y` (both ways unless `oneway`) in turmoil and in `cuts`, the view
    /// the hosts' sockets read: the two must always agree.
    fn cut(&self, sim: &mut Sim<'_>, x: &str, y: &str, oneway: bool) {
        self.cuts.cut(x, y);
        if oneway {
            sim.partition_oneway(x, y);
        } else {
            self.cuts.cut(y, x);
            sim.partition(x, y);
        }
    }

    /// Undoes [`FaultState::cut`].
    fn mend(&self, sim: &mut Sim<'_>, x: &str, y: &str, oneway: bool) {
        self.cuts.repair(x, y);
        if oneway {
            sim.repair_oneway(x, y);
        } else {
            self.cuts.repair(y, x);
            sim.repair(x, y);
        }
    }
}

/// Calls `f` for every pair of distinct hosts across the two groups.
fn pairs<'a>(a: &'a [String], b: &'a [String], mut f: impl FnMut(&'a str, &'a str)) {
    for x in a {
        for y in b.iter().filter(|y| *y != x) {
            f(x, y);
        }
    }
}

impl Action {
    /// Every host the fault names.
    pub fn hosts(&self) -> Vec<String> {
        match self {
            Action::Partition { a, b, .. }
            | Action::Repair { a, b, .. }
            | Action::Hold { a, b }
            | Action::Release { a, b }
            | Action::Latency { a, b, .. }
            | Action::Loss { a, b, .. } => a.iter().chain(b).cloned().collect(),
            Action::Crash { host } | Action::SilentCrash { host } | Action::Restart { host } => vec![host.clone()],
            Action::Heal => Vec::new(),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = |g: &[String]| if g.len() == 1 { g[0].clone() } else { format!("{{{}}}", g.join(",")) };
        match self {
            Action::Partition { a, b, oneway } => {
                write!(f, "partition {} {} {}", group(a), if *oneway { "->" } else { "<->" }, group(b))
            }
            Action::Repair { a, b, oneway } => {
                write!(f, "repair {} {} {}", group(a), if *oneway { "->" } else { "<->" }, group(b))
            }
            Action::Crash { host } => write!(f, "crash {host}"),
            Action::SilentCrash { host } => write!(f, "silent crash {host}"),
            Action::Restart { host } => write!(f, "restart {host}"),
            Action::Hold { a, b } => write!(f, "hold {} <-> {}", group(a), group(b)),
            Action::Release { a, b } => write!(f, "release {} <-> {}", group(a), group(b)),
            Action::Latency { a, b, latency } => write!(f, "latency {} <-> {} = {latency:?}", group(a), group(b)),
            Action::Loss { a, b, rate } => write!(f, "loss {} <-> {} rate {rate}", group(a), group(b)),
            Action::Heal => write!(f, "heal every fault"),
        }
    }
}
