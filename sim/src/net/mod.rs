//! The harness's side of the network seam: the two simulated networks a run can use, and what
//! the worlds and the fault schedule need of either.
//!
//! ```text
//! mod.rs      Backend (the scenario's or the command line's choice) and Simulation, the
//!             operations a world and the fault schedule use, whichever backend runs them
//! turmoil.rs  turmoil 0.7.2: every host ticked every step, its sockets from `turmoil_net`
//! stack.rs    the event-driven backend: turmoil-net's socket stack, driven by edgesim, which
//!             runs a host only when a timer or a packet wakes it and skips idle time
//! links.rs    the links of the event-driven backend: latency, jitter, cuts, holds and loss,
//!             and when each packet arrives (pure logic)
//! sockets.rs  the node-facing `Net` on turmoil-net's sockets
//! ```

pub mod links;
pub mod sockets;
pub mod stack;
pub mod turmoil;

use std::error::Error;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use edgesim_system::net::Net;
use serde::{Deserialize, Serialize};

/// Simulated time of the simulation running on this thread, on either backend (zero outside one).
pub fn elapsed() -> Duration {
    stack::elapsed().unwrap_or_else(|| ::turmoil::sim_elapsed().unwrap_or_default())
}

/// A run that could not go on: a host's software failed, or the run passed its time limit.
#[derive(Debug, thiserror::Error)]
#[error("simulation failed at {at:?}: {message}")]
pub struct SimError {
    pub at: Duration,
    pub message: String,
}

/// What a host's software returns when it stops; an error fails the run.
pub type HostResult = Result<(), Box<dyn Error>>;

/// The simulated network a run uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// turmoil 0.7.2: every host and every link ticked each step (the second opinion).
    Turmoil,
    /// turmoil-net's socket stack driven event by event (`stack`): the default.
    #[default]
    Net,
}

impl Backend {
    /// Whether this is the default backend (which `run_started` leaves unnamed).
    pub fn is_default(&self) -> bool {
        *self == Backend::default()
    }

    pub const ALL: [Backend; 2] = [Backend::Turmoil, Backend::Net];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Turmoil => "turmoil",
            Backend::Net => "net",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Backend, String> {
        Backend::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| format!("unknown backend `{s}` (expected `turmoil` or `net`)"))
    }
}

/// One simulated network with its hosts: what a world registers and the fault schedule does,
/// with the same meaning on every backend.
pub trait Simulation {
    /// A host's sockets.
    type Net: Net;

    /// The sockets of the status page's harness hosts (its users, probes, subscriber endpoints,
    /// the monitored platform): on turmoil, turmoil's own, as they have always been; on the
    /// event-driven backend, the same as every host's.
    type PlainNet: Net;

    /// The sockets of `host`.
    fn net(&self, host: &str) -> Self::Net;
    fn plain_net(&self, host: &str) -> Self::PlainNet;
    /// Registers a host whose software `boot` starts, again after every restart.
    fn host<F, Fut>(&mut self, name: &str, boot: F)
    where
        F: Fn() -> Fut + 'static,
        Fut: Future<Output = HostResult> + 'static;
    /// Registers a client host: the run ends when every client's future has finished.
    fn client<Fut>(&mut self, name: &str, run: Fut)
    where
        Fut: Future<Output = HostResult> + 'static;
    /// Sets the one-way latency of the link between `a` and `b` (both ways); each message takes
    /// between `latency` and `latency + jitter`, drawn from the seed.
    fn link(&mut self, a: &str, b: &str, latency: Duration, jitter: Duration);

    /// Simulated time since the start.
    fn elapsed(&self) -> Duration;
    /// Runs until simulated time reaches `until` (or a little past it, by at most a step) or
    /// every client has finished; true when they have.
    fn run_until(&mut self, until: Duration) -> Result<bool, SimError>;
    fn is_running(&mut self, host: &str) -> bool;

    /// Cuts the link from `x` to `y`, and from `y` to `x` unless `oneway`: messages are lost.
    fn cut(&mut self, x: &str, y: &str, oneway: bool);
    /// Undoes [`Simulation::cut`].
    fn mend(&mut self, x: &str, y: &str, oneway: bool);
    /// Stops the host's software: its tasks and connections end.
    fn crash(&mut self, host: &str);
    /// Starts a stopped host's software again.
    fn restart(&mut self, host: &str);
    /// Holds the messages from `x` to `y` until released.
    fn hold(&mut self, x: &str, y: &str);
    fn release(&mut self, x: &str, y: &str);
    /// Sets the one-way latency from `x` to `y` (its jitter unchanged).
    fn set_latency(&mut self, x: &str, y: &str, latency: Duration);
    /// Sets the share of segments lost from `x` to `y` and back; lost segments arrive late, as
    /// TCP retransmits them. 0 ends the loss.
    fn set_loss(&mut self, x: &str, y: &str, rate: f64);
    /// Ends the loss on every link.
    fn clear_loss(&mut self);
}
