//! zkctl's command line, alone in this file so that the packaging generator
//! (packaging/assets) can build man pages and shell completions from it: it
//! may use only clap and std.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// The playground's first client port (ZooKeeper's 2181).
pub const DEFAULT_PLAYGROUND_BASE_PORT: u16 = 2181;

#[derive(Parser, Debug)]
#[command(name = "zkctl", version, about = "Operate zkd and ZooKeeper servers")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Send a four-letter word (srvr, mntr, ruok, conf, ...) and print the answer.
    #[command(name = "4lw")]
    FourLetter {
        /// The word, e.g. srvr.
        word: String,
        /// host:port of the server's client port.
        #[arg(long, default_value = "127.0.0.1:2181")]
        server: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
    /// Check a zoo.cfg as zkd reads it: errors name file, line and key;
    /// prints warnings, and the canonical form with --render.
    CheckConfig {
        path: PathBuf,
        /// Print the configuration as zkd would write it.
        #[arg(long)]
        render: bool,
    },
    /// Check an inventory.toml without touching any host: prints the
    /// members it describes and its warnings, or every error at
    /// file:line:column (exit status 2).
    Validate {
        inventory: PathBuf,
        /// Print the zoo.cfg zkctl would write on host NAME instead.
        #[arg(long, value_name = "NAME")]
        zoo_cfg: Option<String>,
    },
    /// Pre-flight checks on every host over SSH: reachable, sudo, OS and
    /// architecture, systemd, ports, dataDir space, clock, names.
    Check { inventory: PathBuf },
    /// Install zkd on every host of the inventory, start the ensemble, and
    /// prove exactly one member leads (exit 0 only then). Safe to run again:
    /// unchanged hosts are not touched; changed ones restart one at a time,
    /// the leader last.
    Deploy {
        inventory: PathBuf,
        /// The zkd binary to install (default: the one beside zkctl).
        #[arg(long, value_name = "PATH")]
        zkd: Option<PathBuf>,
        /// Install this .deb or .rpm (packaging/build.sh) with the hosts'
        /// package manager instead of copying binaries and units.
        #[arg(long, value_name = "FILE", conflicts_with = "zkd")]
        package: Option<PathBuf>,
        /// Seconds the ensemble may take to become healthy.
        #[arg(long, default_value_t = 120)]
        wait: u64,
    },
    /// Start zkd on every host (or --host), without waiting on each.
    Start {
        inventory: PathBuf,
        #[arg(long, value_name = "NAME")]
        host: Option<String>,
        #[arg(long, default_value_t = 120)]
        wait: u64,
    },
    /// Stop zkd on every host (or --host).
    Stop {
        inventory: PathBuf,
        #[arg(long, value_name = "NAME")]
        host: Option<String>,
    },
    /// Restart zkd; --rolling goes one member at a time, the leader last.
    Restart {
        inventory: PathBuf,
        #[arg(long)]
        rolling: bool,
        #[arg(long, value_name = "NAME")]
        host: Option<String>,
        #[arg(long, default_value_t = 120)]
        wait: u64,
    },
    /// How an ensemble is doing: one row per member (srvr and mntr on its
    /// client port) and a summary. Exits 0 only when healthy: one leader,
    /// every other voter following, observers observing, one epoch.
    Status {
        /// The inventory.toml of the ensemble (systemd columns come over SSH).
        inventory: Option<PathBuf>,
        /// Or a zoo.cfg listing the members (server.N lines), e.g. any member's.
        #[arg(long, value_name = "PATH", conflicts_with = "inventory")]
        config: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Seconds each member may take to connect and to answer.
        #[arg(long, default_value_t = 2)]
        timeout: u64,
    },
    /// Run a local ensemble of zkd processes on 127.0.0.1 (no root, no
    /// SSH) until Ctrl-C.
    Playground {
        /// Voting members.
        #[arg(long, default_value_t = 3)]
        members: usize,
        /// Non-voting members, after the voters.
        #[arg(long, default_value_t = 0)]
        observers: usize,
        /// The first client port; quorum and election ports keep the
        /// standard distance (2181, 2888, 3888).
        #[arg(long, default_value_t = DEFAULT_PLAYGROUND_BASE_PORT)]
        base_port: u16,
        /// The zkd binary (default: the one beside zkctl).
        #[arg(long, value_name = "PATH")]
        zkd: Option<PathBuf>,
        /// Keep the members' files here instead of a temporary directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Leave the files in place on exit.
        #[arg(long)]
        keep: bool,
        /// Seconds to wait for a healthy ensemble.
        #[arg(long, default_value_t = 30)]
        wait: u64,
    },
}
