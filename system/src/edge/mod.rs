//! System A, the edge application platform (DESIGN.md "System A"): a primary with a standby, WAL
//! frames streamed through regional distributors to SQLite read replicas at each PoP, and
//! read-your-writes by position.

pub mod batch;
pub mod frame;
pub mod store;
