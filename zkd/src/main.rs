//! `zkd`: the ZooKeeper-compatible server daemon.

mod cli;

use clap::Parser;
use cli::{Cli, Command};
use std::path::PathBuf;
use std::process::ExitCode;
use zkd::config::{read_myid, ZooCfg};
use zkd::server::Server;

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

/// The configuration, with the warnings found reading it (logged once
/// logging is set up, which needs the myid the configuration names).
struct Loaded {
    cfg: ZooCfg,
    myid: Option<u64>,
    warnings: Vec<String>,
}

fn load(path: Option<&std::path::Path>) -> Result<Loaded, String> {
    let mut warnings = Vec::new();
    let (cfg, myid) = match path {
        Some(path) => {
            let loaded = ZooCfg::from_file(path).map_err(|e| e.to_string())?;
            warnings.extend(loaded.warnings.iter().map(|w| w.to_string()));
            let myid = read_myid(&loaded.cfg.data_dir).map_err(|e| e.to_string())?;
            for warning in loaded.check_myid(myid).map_err(|e| e.to_string())? {
                warnings.push(warning.to_string());
            }
            (loaded.cfg, myid)
        }
        None => (ZooCfg::standalone_default(PathBuf::from("zkd-data")), None),
    };
    std::fs::create_dir_all(&cfg.data_dir)
        .map_err(|e| format!("{}: cannot create dataDir: {e}", cfg.data_dir.display()))?;
    Ok(Loaded {
        cfg,
        myid,
        warnings,
    })
}

fn main() -> ExitCode {
    // SAFETY: first thing in main, before any thread exists.
    let notifier = unsafe { zkd::systemd::Notifier::take_from_env() };
    let cli = Cli::parse();
    let loaded = match load(cli.config.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("zkd: {e}");
            return ExitCode::from(2);
        }
    };
    let log = zkd::systemd::init_logging(&cli.log_level, loaded.myid);
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let cfg = loaded.cfg;
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
        let server = match Server::start_with(cfg, notifier.clone()).await {
            Ok(s) => s,
            Err(e) => {
                // One line, on stderr (the journal under systemd).
                eprintln!("zkd: {e}");
                return ExitCode::FAILURE;
            }
        };
        run_until_stopped(&server, &cli, &log).await;
        tracing::info!("shutting down");
        server.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// Serves until SIGTERM or SIGINT; SIGHUP re-reads zoo.cfg and applies
/// what can change without a restart.
async fn run_until_stopped(server: &Server, cli: &Cli, log: &zkd::systemd::LogHandle) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => reload(server, cli, log).await,
        }
    }
}

async fn reload(server: &Server, cli: &Cli, log: &zkd::systemd::LogHandle) {
    server.reloading();
    let result = match cli.config.as_deref() {
        Some(path) => load(Some(path)).map(|l| {
            for warning in &l.warnings {
                tracing::warn!("{warning}");
            }
            Some(l.cfg)
        }),
        None => Ok(None),
    };
    match result {
        Ok(cfg) => {
            let spec = cfg
                .as_ref()
                .and_then(|c| c.system_property("zkd.logLevel"))
                .unwrap_or(&cli.log_level)
                .to_owned();
            if std::env::var_os("RUST_LOG").is_none() {
                if let Err(e) = log.set_filter(&spec) {
                    tracing::warn!("reload: {e}");
                }
            }
            if let Some(cfg) = cfg {
                server.reload(cfg).await;
            }
            tracing::info!("configuration reloaded");
        }
        Err(e) => tracing::error!("reload refused, keeping the running configuration: {e}"),
    }
    server.reloaded();
}
