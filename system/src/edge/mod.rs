//! System A, the edge application platform (docs/DESIGN.md, System A): a primary with a standby, WAL
//! frames streamed through regional distributors to SQLite read replicas at each PoP, and
//! read-your-writes by position.

pub mod backoff;
pub mod batch;
pub mod config;
pub mod control;
pub mod distributor;
pub mod follower;
pub mod frame;
pub mod isr;
pub mod node;
pub mod pop;
pub mod primary;
pub mod proto;
pub mod queue;
pub mod region_lock;
pub mod replication;
pub mod runtime;
pub mod ssr;
pub mod store;
pub mod upstream;
