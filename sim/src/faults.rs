//! Applies scheduled faults to the running simulation (partitions, crashes, restarts, holds, latency
//! and loss; docs/SCENARIOS.md, `[[fault]]`), with the same meaning on every backend
//! ([`Simulation`]). A silent crash partitions the host from every other host before stopping it,
//! so peers learn of it only by silence; its restart repairs those links. A heal ends every fault
//! at once: it restarts the hosts that are down, mends every cut link, releases every held one and
//! clears every link's loss; the world sets its latencies again.

use std::collections::BTreeSet;
use std::fmt;

use crate::net::Simulation;
use crate::scenario::Action;

/// Hosts currently cut off by a silent crash, every cut link and the links held, for a heal to
/// undo.
#[derive(Default)]
pub(crate) struct FaultState {
    silenced: BTreeSet<String>,
    cut: BTreeSet<(String, String)>,
    held: BTreeSet<(String, String)>,
}

impl FaultState {
    /// Applies `action` in a world of `hosts` whose node hosts are `nodes`; a heal does not set
    /// the world's latencies (its caller does).
    pub fn apply<S: Simulation>(&mut self, sim: &mut S, action: &Action, hosts: &[String], nodes: &[String]) {
        match action {
            Action::Partition { a, b, oneway } => pairs(a, b, |x, y| self.cut(sim, x, y, *oneway)),
            Action::Repair { a, b, oneway } => pairs(a, b, |x, y| self.mend(sim, x, y, *oneway)),
            Action::Crash { host } => sim.crash(host),
            Action::SilentCrash { host } => {
                for other in hosts.iter().filter(|h| *h != host) {
                    self.cut(sim, host, other, false);
                }
                sim.crash(host);
                self.silenced.insert(host.clone());
            }
            // A running host is left alone: the scenario check refuses such a restart, and one
            // that reaches here anyway (a schedule built in code) must not bounce a live node.
            Action::Restart { host } if sim.is_running(host) => {}
            Action::Restart { host } => {
                if self.silenced.remove(host) {
                    for other in hosts.iter().filter(|h| *h != host) {
                        self.mend(sim, host, other, false);
                    }
                }
                sim.restart(host);
            }
            Action::Hold { a, b } => pairs(a, b, |x, y| {
                sim.hold(x, y);
                self.held.insert((x.to_string(), y.to_string()));
            }),
            Action::Release { a, b } => pairs(a, b, |x, y| {
                sim.release(x, y);
                self.held.remove(&(x.to_string(), y.to_string()));
            }),
            Action::Latency { a, b, latency } => pairs(a, b, |x, y| sim.set_latency(x, y, *latency)),
            Action::Loss { a, b, rate } => pairs(a, b, |x, y| sim.set_loss(x, y, *rate)),
            Action::Heal => {
                for host in nodes {
                    if self.silenced.contains(host) || !sim.is_running(host) {
                        self.apply(sim, &Action::Restart { host: host.clone() }, hosts, nodes);
                    }
                }
                for (x, y) in self.cut.clone() {
                    self.mend(sim, &x, &y, true);
                }
                for (x, y) in std::mem::take(&mut self.held) {
                    sim.release(&x, &y);
                }
                sim.clear_loss();
            }
        }
    }

    /// Cuts the link from `x` to `y` (both ways unless `oneway`).
    fn cut<S: Simulation>(&mut self, sim: &mut S, x: &str, y: &str, oneway: bool) {
        self.cut.insert((x.to_string(), y.to_string()));
        if !oneway {
            self.cut.insert((y.to_string(), x.to_string()));
        }
        sim.cut(x, y, oneway);
    }

    /// Undoes [`FaultState::cut`].
    fn mend<S: Simulation>(&mut self, sim: &mut S, x: &str, y: &str, oneway: bool) {
        self.cut.remove(&(x.to_string(), y.to_string()));
        if !oneway {
            self.cut.remove(&(y.to_string(), x.to_string()));
        }
        sim.mend(x, y, oneway);
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

impl Action {
    /// What the fault does, as the narrated timeline tells it.
    pub fn narrated(&self) -> String {
        let group = |g: &[String]| g.join(", ");
        match self {
            Action::Partition { a, b, oneway: false } => format!("partition between {} and {}", group(a), group(b)),
            Action::Partition { a, b, oneway: true } => {
                format!("one-way partition: {} cannot send to {}", group(a), group(b))
            }
            Action::Repair { a, b, oneway: false } => {
                format!("partition between {} and {} repaired", group(a), group(b))
            }
            Action::Repair { a, b, oneway: true } => {
                format!("one-way partition repaired: {} can send to {} again", group(a), group(b))
            }
            Action::Crash { host } => format!("crash of {host}"),
            Action::SilentCrash { host } => format!("silent crash of {host} (cut off, then stopped)"),
            Action::Restart { host } => format!("restart of {host}"),
            Action::Hold { a, b } => format!("messages between {} and {} held", group(a), group(b)),
            Action::Release { a, b } => format!("held messages between {} and {} released", group(a), group(b)),
            Action::Latency { a, b, latency } => {
                format!("latency change between {} and {}: now {latency:?}", group(a), group(b))
            }
            Action::Loss { a, b, rate } => format!("message loss between {} and {} now {rate}", group(a), group(b)),
            Action::Heal => "heal: every fault ends".to_string(),
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
