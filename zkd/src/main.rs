//! `zkd`: the ZooKeeper-compatible server daemon.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use zkd::config::{read_myid, ZooCfg};
use zkd::server::Server;

/// A ZooKeeper 3.8-compatible coordination server.
#[derive(Parser, Debug)]
#[command(name = "zkd", version, about, long_about = None)]
struct Cli {
    /// A ZooKeeper zoo.cfg. Without it, zkd runs standalone on
    /// 127.0.0.1:2181 with its data in ./zkd-data.
    #[arg(long, short = 'c', value_name = "PATH", global = true)]
    config: Option<PathBuf>,

    /// Log level (error, warn, info, debug, trace) or a tracing filter;
    /// RUST_LOG takes precedence when set.
    #[arg(long, default_value = "info", value_name = "LEVEL", global = true)]
    log_level: String,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Remove old snapshots and the transaction logs only they need, keeping
    /// the newest COUNT snapshots (what zkCleanup.sh does). Safe while the
    /// server runs.
    Purge {
        /// Snapshots to keep (at least 3); default autopurge.snapRetainCount.
        #[arg(long, short = 'n', value_name = "COUNT")]
        count: Option<usize>,
    },
}

fn purge(cfg: &ZooCfg, count: Option<usize>) -> Result<(), String> {
    let dirs = zkd::storage::DataDirs::from_config(cfg);
    let retain = count.unwrap_or(cfg.autopurge_snap_retain_count as usize);
    let removed = zkd::storage::purge(&dirs.snap_dir(), &dirs.log_dir(), retain)
        .map_err(|e| e.to_string())?;
    for path in &removed {
        println!("removed {}", path.display());
    }
    println!(
        "kept the newest {retain} snapshots; removed {} files",
        removed.len()
    );
    Ok(())
}

fn init_logging(level: &str) {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| level.to_owned());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn load(cli: &Cli) -> Result<ZooCfg, String> {
    let cfg = match &cli.config {
        Some(path) => {
            let loaded = ZooCfg::from_file(path).map_err(|e| e.to_string())?;
            for warning in &loaded.warnings {
                tracing::warn!("{warning}");
            }
            let myid = read_myid(&loaded.cfg.data_dir).map_err(|e| e.to_string())?;
            for warning in loaded.check_myid(myid).map_err(|e| e.to_string())? {
                tracing::warn!("{warning}");
            }
            loaded.cfg
        }
        None => ZooCfg::standalone_default(PathBuf::from("zkd-data")),
    };
    std::fs::create_dir_all(&cfg.data_dir)
        .map_err(|e| format!("{}: cannot create dataDir: {e}", cfg.data_dir.display()))?;
    Ok(cfg)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_level);
    let cfg = match load(&cli) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("zkd: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Purge { count }) = cli.command {
        return match purge(&cfg, count) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("zkd purge: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("zkd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let server = match Server::start(cfg).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("zkd: {e}");
                return ExitCode::FAILURE;
            }
        };
        wait_for_signal().await;
        tracing::info!("shutting down");
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
