//! edgesim: a deterministic simulation and benchmarking harness for the edge application platform
//! and the status page of `edgesim-system`. See `docs/ARCHITECTURE.md` for what lives where.

pub mod audit;
pub mod budget;
pub mod charts;
pub mod check;
pub mod determinism;
pub mod events;
pub mod faults;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod metrics;
pub mod observed;
pub mod report;
pub mod scenario;
pub mod shard;
pub mod status;
pub mod suite;
pub mod summary;
pub mod svg;
pub mod timeline;
pub mod turmoil_net;
pub mod units;
pub mod verdict;
pub mod workload;
pub mod world;
