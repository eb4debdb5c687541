//! The systems edgesim simulates, as in-process nodes.
//!
//! Node code here never names a simulator: it is handed a [`net::Net`] to open sockets, a
//! [`telemetry::Telemetry`] to report what it observes, and spawns only with
//! `tokio::task::spawn_local`, so every task belongs to the host that started it (docs/DESIGN.md,
//! Seams).

pub mod edge;
pub mod net;
pub mod status;
pub mod telemetry;
pub mod wire;
