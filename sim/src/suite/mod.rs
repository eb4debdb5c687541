//! Suites: many scenarios x seeds, reported as one summary (`render::summary`). `list` says which
//! runs a suite has, `run` runs them, `shard` splits them between CI jobs, and `determinism` runs
//! one seed twice.

pub mod determinism;
mod list;
pub mod run;
pub mod shard;

pub use list::{SuiteError, collect, files, name, plan, runs};
