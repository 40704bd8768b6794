//! The ensemble: leader election and atomic broadcast (Zab) as
//! deterministic state machines. They take messages and "now is T" in and
//! hand messages to send, records to persist and timers out; the tokio
//! shell in `server` owns the sockets, the disk and the clock. Both are
//! wire-compatible with ZooKeeper 3.8, so zkd and Apache ZooKeeper can be
//! members of one ensemble.

pub mod election;
pub mod leader;
pub mod learner;
pub mod messages;
pub mod peer;
#[cfg(test)]
pub mod sim;
pub mod wire;
