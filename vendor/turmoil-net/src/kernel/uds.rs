//! Unix domain sockets.
//!
//! TODO: per-host path namespace, `SOCK_STREAM`/`SOCK_DGRAM`/`SOCK_SEQPACKET`,
//! ancillary data (fd passing, credentials).
