//! System A, the edge application platform (docs/DESIGN.md, System A): a primary with a standby, WAL
//! frames streamed through regional distributors to SQLite read replicas at each PoP, and
//! read-your-writes by position.

pub mod backoff;
pub mod batch;
pub mod config;
pub mod control;
pub mod distributor;
pub(crate) mod follower;
pub mod frame;
pub mod isr;
pub mod node;
pub mod pop;
pub mod primary;
pub mod proto;
pub(crate) mod queue;
pub(crate) mod region_lock;
pub(crate) mod replication;
pub(crate) mod runtime;
pub(crate) mod ssr;
pub mod store;
pub mod upstream;
