//! zkd: a ZooKeeper 3.8-compatible coordination service.
//!
//! The protocol, data tree and session layers are deterministic: they take
//! inputs (a decoded request, "now is T") and return outputs (replies, watch
//! events, transactions to persist). Only [`server`] touches sockets, files
//! and clocks, which keeps everything else testable without I/O.

pub mod config;
pub mod engine;
pub mod fourletter;
pub mod jute;
pub mod proto;
pub mod quorum;
pub mod server;
pub mod session;
pub mod storage;
pub mod storage_paths;
pub mod systemd;
pub mod tree;
