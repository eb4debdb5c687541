//! edgesim: a deterministic simulation and benchmarking harness for the edge application platform
//! and the status page of `edgesim-system`. `docs/ARCHITECTURE.md` says why each part is where it
//! is.
//!
//! # Layout
//!
//! A scenario file is read (`scenario`), its world runs on turmoil (`world`, `faults`,
//! `workload`, `audit`; `status/` for a status page) and logs events (`log` of `events`); figures and
//! checkers are computed from the log alone (`check/`, `timeline`, `metrics`, `charts`,
//! `report`) and judged (`budget`, `verdict`). A suite runs many (`suite/`) and renders one
//! summary (`render/`).
//!
//! ```text
//! scenario.rs        scenario files: format, validation with file:line:column errors
//! units.rs           durations, rates and sizes as typed values
//! limits.rs          the documented upper bound of every scenario value, checked at parse; the
//!                    rule for host-making names
//! budget.rs          budgets as a scenario says them: `METRIC OP VALUE` (input only)
//! verdict.rs         budgets judged against a run's report; a run's verdict, its exit code,
//!                    its replay command
//! world.rs           the edge platform's world: hosts, links, the fault schedule, one run
//! faults.rs          partitions, crashes, restarts, holds, latency and loss
//! workload.rs        the edge platform's clients: seeded sessions per region
//! audit.rs           the final dump of every database, digested by the harness
//! events.rs          the event log's records (schema: docs/EVENTS.md)
//! log.rs             the event log: JSON Lines written and hashed as records are pushed, then
//!                    folded (`observed`); each host's telemetry sink
//! observed.rs        what the analysis keeps as records stream past: requests and replication
//!                    records folded, every other record kept
//! turmoil_net.rs     the network seam on turmoil's simulated TCP
//! check/             correctness checkers of the edge platform, from the event log; `request`
//!                    a request as its client saw it, and a checker's findings
//! timeline.rs        the narrated failure timeline and the failover figures
//! metrics.rs         latency per region, replication lag; a distribution as text reports write it
//! charts.rs          a run's chart data: timeline lanes, latency quantiles, lag over time
//! lag.rs             the lag chart's raw points, folded as frames are applied
//! report.rs          the run report (text and JSON)
//! status/            the status page: settings, world, users, probes, figures, checkers, charts;
//!                    `records` the records two of its modules share (an acknowledged edit)
//! suite/             a suite: its runs (`list`), running them (`run`), `shard`, `determinism`
//! render/            a suite's summary (`summary`) and what is rendered from it: `table`,
//!                    `progress`, `junit`, `markdown`, `html` with `svg`, escaping (`markup`);
//!                    `outputs` writes the suite's files
//! main.rs            the `edgesim` command line
//! ```

pub mod audit;
pub mod budget;
pub mod charts;
pub mod check;
pub mod events;
pub mod faults;
pub mod lag;
pub mod limits;
pub mod log;
pub mod metrics;
pub mod observed;
pub mod render;
pub mod report;
pub mod scenario;
pub mod status;
pub mod suite;
pub mod timeline;
pub mod turmoil_net;
pub mod units;
pub mod verdict;
pub mod workload;
pub mod world;
