//! zkd's command line, alone in this file so that the packaging generator
//! (packaging/assets) can build man pages and shell completions from it: it
//! may use only clap and std.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

// `about` is spelled out: without a value clap takes the description of the
// crate being compiled, which is the packaging generator's when it builds
// the man pages.
#[derive(Parser, Debug)]
#[command(
    name = "zkd",
    version,
    about = "A ZooKeeper 3.8-compatible coordination server",
    long_about = "A ZooKeeper 3.8-compatible coordination server: standalone, or a member \
of an ensemble (leader election, atomic broadcast, majority quorums). Clients, \
zoo.cfg, myid, the data directory and the four-letter words are Apache ZooKeeper's; \
under systemd it reports readiness and its mode through sd_notify and logs to journald."
)]
pub struct Cli {
    /// A ZooKeeper zoo.cfg. Without it, zkd runs standalone on
    /// 127.0.0.1:2181 with its data in ./zkd-data.
    #[arg(long, short = 'c', value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,

    /// Log level (error, warn, info, debug, trace) or a tracing filter;
    /// RUST_LOG takes precedence when set.
    #[arg(long, default_value = "info", value_name = "LEVEL", global = true)]
    pub log_level: String,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Remove old snapshots and the transaction logs only they need, keeping
    /// the newest COUNT snapshots (what zkCleanup.sh does). Safe while the
    /// server runs.
    Purge {
        /// Snapshots to keep (at least 3); default autopurge.snapRetainCount.
        #[arg(long, short = 'n', value_name = "COUNT")]
        count: Option<usize>,
    },
}
