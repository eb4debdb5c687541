//! edgesim: a deterministic simulation and benchmarking harness for the edge application platform
//! and the status page of `edgesim-system`. `docs/ARCHITECTURE.md` says why each part is where it
//! is.
//!
//! # Layout
//!
//! A scenario file is read (`scenario/`), one run of it is driven on a simulated network
//! (`net/`: turmoil, or the event-driven backend) by `world` and `faults`
//! with the system's own world (`edge/` or `status/`) and logs events (`log` of `events`), folded
//! as they stream past (`observed`); each system's figures and checkers are computed from the log
//! alone (in its folder) into a `report`, whose budgets are judged by `verdict`. A suite runs many
//! (`suite/`) and renders one summary (`render/`).
//!
//! ```text
//! scenario/          scenario files: format, validation with file:line:column errors (`mod`);
//!                    `budget` budgets as the file says them (input only); `limits` the bound of
//!                    every value and the rule for host-making names; `compose` includes and
//!                    `--set` overrides
//! units.rs           durations, rates and sizes as typed values
//! seed.rs            the run's seed as named random streams
//! world.rs           one run: the backend, the system's world, the fault schedule, progress
//! hosts.rs           what both systems' worlds share: a node host's boots
//! faults.rs          partitions, crashes, restarts, holds, latency and loss, on either backend
//! net/               the backends: what a world and the faults need of one (`Simulation`),
//!                    turmoil (`turmoil`), the event-driven one on turmoil-net (`stack`, its
//!                    wire `links`, its sockets `sockets`)
//! turmoil_net.rs     the network seam on turmoil's simulated TCP
//! knobs.rs           test-only knobs that restore fixed bugs (`EDGESIM_TEST_BUG`)
//! events.rs          the event log's records (schema: docs/EVENTS.md)
//! log.rs             the event log: JSON Lines written and hashed as records are pushed, then
//!                    folded (`observed`); each host's telemetry sink
//! observed.rs        what the analysis keeps as records stream past
//! edge/              the edge platform: world, workload, audit, checkers (`check/`), timeline,
//!                    metrics, charts, its part of the report
//! status/            the status page: settings, world, users, probes, figures, checkers, charts
//! report.rs          a run's report: the shared header, the system's report, the charts
//! verdict.rs         budgets judged against a run's report; a run's verdict, its exit code, its
//!                    replay command
//! suite/             a suite: its runs (`list`), running them (`run`), `shard`, `determinism`
//! render/            a suite's summary (`summary`) and what is rendered from it: `table`,
//!                    `progress`, `junit`, `markdown`, `html` with `svg`, escaping (`markup`);
//!                    `outputs` writes the suite's files
//! cli/               the `edgesim` commands and flags, one function per command (`run`,
//!                    `suite`, `scenarios`); main.rs parses the command line and dispatches
//! ```

pub mod cli;
pub mod edge;
pub mod events;
pub mod faults;
pub mod hosts;
pub mod knobs;
pub mod log;
pub mod net;
pub mod observed;
pub mod render;
pub mod report;
pub mod scenario;
pub mod seed;
pub mod status;
pub mod suite;
pub(crate) mod turmoil_net;
pub(crate) mod units;
pub mod verdict;
pub mod world;
