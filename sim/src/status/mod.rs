//! The status page under simulation (docs/DESIGN.md, System B): its scenario table, its world, its
//! users and instruments, and the figures and checkers computed from its event log.

pub mod charts;
pub mod check;
pub mod concurrent;
pub mod delivery;
pub mod liveness;
pub mod platform;
pub(crate) mod probes;
pub(crate) mod rates;
pub mod records;
pub mod recovery;
pub mod report;
pub mod settings;
pub mod shown;
pub mod spike;
pub(crate) mod users;
pub mod world;
