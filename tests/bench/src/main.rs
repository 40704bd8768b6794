//! zkbench: a load generator for ZooKeeper-protocol servers (zkd, Apache ZooKeeper).
//!
//! `zkbench load` drives one scenario (create, set, get, children, mixed, mixed-split,
//! delete) with several sessions, each keeping a fixed number of requests in flight, and
//! reports throughput and latency percentiles. `zkbench ready` measures how long a freshly
//! spawned (or restarted) server takes to start serving. `zkbench failover` kills an
//! ensemble's leader and measures how long until writes are acknowledged again. See
//! tests/bench/README.md.

mod failover;
mod layout;
mod load;
mod prepare;
mod procinfo;
mod ready;
mod report;
mod util;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "zkbench",
    version,
    about = "Load generator for ZooKeeper-protocol servers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one load scenario and report throughput and latency.
    Load(LoadArgs),
    /// Poll a server until it serves; report the time since a given spawn instant.
    Ready(ReadyArgs),
    /// SIGKILL an ensemble's leader, round after round, and time the way back to writes.
    Failover(FailoverArgs),
}

/// The operation mix of a load scenario.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Create each session's znodes (existing ones are deleted first, unmeasured).
    Create,
    /// setData on random existing znodes.
    Set,
    /// getData on random existing znodes.
    Get,
    /// getChildren of each session's directory (which holds --znodes children).
    Children,
    /// 90% getData / 10% setData on random existing znodes, both on the same session.
    Mixed,
    /// As mixed, but each session's setData go out on a second session of their own, so
    /// that no read waits behind a write in the server's per-session order.
    MixedSplit,
    /// Delete each session's znodes (missing ones are created first, unmeasured).
    Delete,
}

impl OpKind {
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Create => "create",
            OpKind::Set => "set",
            OpKind::Get => "get",
            OpKind::Children => "children",
            OpKind::Mixed => "mixed",
            OpKind::MixedSplit => "mixed-split",
            OpKind::Delete => "delete",
        }
    }

    /// Create and delete consume the key space once; the others run for a duration.
    pub fn consumes_keys(self) -> bool {
        matches!(self, OpKind::Create | OpKind::Delete)
    }

    /// Connections per session: mixed-split gives each session a companion for its writes.
    pub fn connections_per_session(self) -> u32 {
        if self == OpKind::MixedSplit {
            2
        } else {
            1
        }
    }
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Server address, host:port; several, comma-separated, spread the sessions over them
    /// (session i on server i mod N), as over an ensemble's members.
    #[arg(long, default_value = "127.0.0.1:2181")]
    pub server: String,
    /// Number of ZooKeeper sessions (one TCP connection each).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub sessions: u32,
    /// Requests kept in flight per session.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub inflight: u32,
    /// Operation mix.
    #[arg(long, value_enum, default_value_t = OpKind::Mixed)]
    pub ops: OpKind,
    /// Payload size in bytes for create and setData.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(0..=1_048_000))]
    pub payload: u32,
    /// Znodes per session (the key space).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub znodes: u32,
    /// Spread each session's znodes over this many parents ROOT/s<N>/p<K> (key i goes to
    /// parent i mod PARENTS); 1 keeps them directly in ROOT/s<N>.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub parents: u32,
    /// Stop after this long (e.g. 10s, 500ms, 2m). Default for set/get/children/mixed: 10s;
    /// create and delete stop when the key space is done.
    #[arg(long, value_parser = util::parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many operations in total (across sessions).
    #[arg(long)]
    pub count: Option<u64>,
    /// Parent of the per-session directories ROOT/s<N>.
    #[arg(long, default_value = "/zkbench")]
    pub root: String,
    /// Report this process's resident memory (VmRSS) before and after the run.
    #[arg(long)]
    pub rss_pid: Option<u32>,
    /// Give up on a single request after this long (counted as an error).
    #[arg(long, default_value = "30s", value_parser = util::parse_duration)]
    pub op_timeout: Duration,
    /// Session timeout asked of the server.
    #[arg(long, default_value = "30s", value_parser = util::parse_duration)]
    pub session_timeout: Duration,
    /// Worker threads of the client runtime.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub threads: u32,
    /// Label printed with the result (defaults to the --ops name).
    #[arg(long)]
    pub label: Option<String>,
    /// Print one JSON object instead of a text line.
    #[arg(long)]
    pub json: bool,
}

/// How `ready` decides that the server serves.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The four-letter word `ruok` answers `imok`.
    Ruok,
    /// A ZooKeeper session can be established.
    Session,
}

#[derive(Args, Debug)]
pub struct ReadyArgs {
    /// Server address, host:port.
    #[arg(long, default_value = "127.0.0.1:2181")]
    pub server: String,
    /// The spawn instant, in nanoseconds since the Unix epoch (`date +%s%N`); default: now.
    #[arg(long)]
    pub since_ns: Option<u128>,
    /// Give up after this long since the spawn instant.
    #[arg(long, default_value = "60s", value_parser = util::parse_duration)]
    pub timeout: Duration,
    /// Pause between probes.
    #[arg(long, default_value = "5ms", value_parser = util::parse_duration)]
    pub interval: Duration,
    /// Readiness probe.
    #[arg(long, value_enum, default_value_t = Probe::Ruok)]
    pub probe: Probe,
    /// Stop polling when this process is gone (the server died during start-up).
    #[arg(long)]
    pub pid: Option<u32>,
    /// Once the probe succeeds, go on until a new session can getData this znode, and
    /// report that time too (a restarted server must have loaded its data by then). A
    /// server that answers "no node" fails the run at once: it serves without the data.
    #[arg(long)]
    pub get: Option<String>,
    /// Print one JSON object instead of a text line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct FailoverArgs {
    /// The ensemble's client addresses, comma-separated, in member order.
    #[arg(long)]
    pub servers: String,
    /// The members' pid files, comma-separated, in the same order as --servers.
    #[arg(long)]
    pub pid_files: String,
    /// Shell command that starts a killed member again; {index} is its position in
    /// --servers (0-based). It must return once the member runs.
    #[arg(long)]
    pub restart: String,
    /// Leader kills to measure.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rounds: u32,
    /// Pause between a writer's attempts.
    #[arg(long, default_value = "2ms", value_parser = util::parse_duration)]
    pub interval: Duration,
    /// Give up when the ensemble has no single leader, or takes no write, for this long.
    #[arg(long, default_value = "60s", value_parser = util::parse_duration)]
    pub settle_timeout: Duration,
    /// Label printed with the result (default "failover").
    #[arg(long)]
    pub label: Option<String>,
    /// Print one JSON object instead of a text line.
    #[arg(long)]
    pub json: bool,
}

fn runtime(threads: u32) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads as usize)
        .enable_all()
        .build()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Load(args) => runtime(args.threads)
            .map_err(|e| format!("cannot start the tokio runtime: {e}"))
            .and_then(|rt| rt.block_on(load::run(&args))),
        Command::Ready(args) => runtime(1)
            .map_err(|e| format!("cannot start the tokio runtime: {e}"))
            .and_then(|rt| rt.block_on(ready::run(&args))),
        Command::Failover(args) => runtime(2)
            .map_err(|e| format!("cannot start the tokio runtime: {e}"))
            .and_then(|rt| rt.block_on(failover::run(&args))),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("zkbench: {message}");
            ExitCode::FAILURE
        }
    }
}
