//! The edge platform in the harness: its world (hosts, links, clients), the workload its clients
//! run, the final audit of every database, and every figure and checker computed from the event
//! log of one of its runs.
//!
//! ```text
//! world.rs      the platform's hosts and links on turmoil: primary, standby, control plane,
//!               a distributor per region, a host per PoP, a client host per region
//! workload.rs   the clients: seeded sessions per region, open-loop arrivals
//! anycast.rs    the network's anycast routes: each place to its nearest announced PoP
//! audit.rs      the final dump of every database, digested by the harness
//! check/        correctness checkers from the event log; `request` a request as its client
//!               saw it, and a checker's findings
//! history.rs    which frames each generation's history holds, from the commits
//! timeline.rs   the narrated failure timeline and the failover figures
//! availability.rs  write unavailability per region, from the writes clients attempted
//! metrics.rs    latency per region, replication lag; a distribution as text reports write it
//! load.rs       latency under load: per load step, read latency and requests shed
//! lag.rs        the lag chart's raw points, folded as frames are applied
//! moves.rs      sessions moved by anycast: requests failed while detecting, time to move
//! routes.rs     where anycast sent the requests: per PoP over time, with the route changes
//! pages.rs      product pages under ISR: age served, renders per key per window, regenerations
//! ssr.rs        personalized pages streamed with SSR: time to shell, to each boundary, to full page
//! regions.rs    per region of the PoPs: lag, read latency, read-your-writes violations, errors
//! charts.rs     a run's chart data: timeline lanes, latency quantiles, lag over time
//! report.rs     the edge platform's part of a run report: figures, checks, their text
//! ```

pub mod anycast;
pub mod audit;
pub(crate) mod availability;
pub mod charts;
pub mod check;
pub mod history;
pub mod lag;
pub mod load;
pub mod metrics;
pub mod moves;
pub mod pages;
pub mod regions;
pub mod report;
pub(crate) mod routes;
pub mod ssr;
pub mod timeline;
pub mod workload;
pub mod world;
