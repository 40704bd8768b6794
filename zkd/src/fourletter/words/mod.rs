//! The answers, one module per group of words. Each function renders text
//! from plain values; [`super::respond`] fetches the values and applies the
//! rules shared by all words (whitelist, "not serving").

pub(crate) mod basic;
pub(crate) mod conf;
pub(crate) mod dump;
pub(crate) mod mntr;
pub(crate) mod stat;

/// 3.8's answer from most words while the server is not serving
/// (`AbstractFourLetterCommand.ZK_NOT_SERVING`).
pub const ZK_NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";
