//! Suites: many scenarios x seeds, reported as one summary (`render::summary`). `list` says which
//! runs a suite has, `run` runs them, `shard` splits them between CI jobs, `determinism` runs
//! one seed twice, and `explore` counts many seeds' failures and shrinks one to a small scenario.

pub mod determinism;
pub mod explore;
mod list;
pub mod run;
pub mod shard;

pub use list::{SuiteError, collect, files, name, plan, runs};
