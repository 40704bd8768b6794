//! `zkctl`: tools for operating zkd (and Apache ZooKeeper) servers.

mod commands;
mod four_letter;
mod hosts_file;
mod inventory;
mod model;
mod playground;
mod remote;
mod ssh;
mod status;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use zkd::config::ZooCfg;

use inventory::Inventory;

#[derive(Parser, Debug)]
#[command(name = "zkctl", version, about = "Operate zkd and ZooKeeper servers")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
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
        #[arg(long, default_value_t = playground::DEFAULT_BASE_PORT)]
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

fn run_status(config: &std::path::Path, json: bool, timeout: u64) -> ExitCode {
    let members = ZooCfg::from_file(config)
        .map_err(|e| e.to_string())
        .and_then(|loaded| status::members_from_zoo_cfg(&loaded.cfg));
    let members = match members {
        Ok(members) => members,
        Err(e) => {
            eprintln!("zkctl: {}: {e}", config.display());
            return ExitCode::from(2);
        }
    };
    let opts = status::StatusOptions {
        timeout: Duration::from_secs(timeout),
    };
    commands::print_report(&status::status(&members, &opts), json)
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::FourLetter {
            word,
            server,
            timeout,
        } => match four_letter::ask(&server, &word, Duration::from_secs(timeout)) {
            Ok(answer) => {
                print!("{answer}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("zkctl: {server}: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Status {
            inventory,
            config,
            json,
            timeout,
        } => match (inventory, config) {
            (Some(inv), _) => commands::status(&inv, json, Duration::from_secs(timeout)),
            (None, Some(cfg)) => run_status(&cfg, json, timeout),
            (None, None) => {
                eprintln!("zkctl status: give an inventory.toml, or --config zoo.cfg");
                ExitCode::from(2)
            }
        },
        Command::Check { inventory } => commands::check(&inventory),
        Command::Deploy {
            inventory,
            zkd,
            wait,
        } => commands::deploy(&inventory, zkd, Duration::from_secs(wait)),
        Command::Start {
            inventory,
            host,
            wait,
        } => commands::lifecycle(
            &inventory,
            commands::Lifecycle::Start,
            false,
            host.as_deref(),
            Duration::from_secs(wait),
        ),
        Command::Stop { inventory, host } => commands::lifecycle(
            &inventory,
            commands::Lifecycle::Stop,
            false,
            host.as_deref(),
            Duration::from_secs(10),
        ),
        Command::Restart {
            inventory,
            rolling,
            host,
            wait,
        } => commands::lifecycle(
            &inventory,
            commands::Lifecycle::Restart,
            rolling,
            host.as_deref(),
            Duration::from_secs(wait),
        ),
        Command::Playground {
            members,
            observers,
            base_port,
            zkd,
            dir,
            keep,
            wait,
        } => {
            let opts = playground::PlaygroundOptions {
                voters: members,
                observers,
                base_port,
                zkd,
                dir,
                keep,
                wait: Duration::from_secs(wait),
                poll: Duration::from_secs(1),
            };
            match playground::run(&opts) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("zkctl playground: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::CheckConfig { path, render } => match ZooCfg::from_file(&path) {
            Ok(loaded) => {
                for warning in &loaded.warnings {
                    eprintln!("warning: {warning}");
                }
                if render {
                    print!("{}", loaded.cfg.render());
                } else {
                    let mode = if loaded.cfg.is_standalone() {
                        "standalone".to_owned()
                    } else {
                        format!("ensemble of {}", loaded.cfg.servers.len())
                    };
                    println!("{}: ok ({mode})", path.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("zkctl: {e}");
                ExitCode::from(2)
            }
        },
        Command::Validate { inventory, zoo_cfg } => validate(&inventory, zoo_cfg.as_deref()),
    }
}

fn validate(path: &std::path::Path, zoo_cfg_of: Option<&str>) -> ExitCode {
    let inventory = match Inventory::load(path) {
        Ok(inventory) => inventory,
        Err(refused) => {
            for warning in &refused.warnings {
                eprintln!("warning: {warning}");
            }
            for error in &refused.errors {
                eprintln!("error: {error}");
            }
            let n = refused.errors.len();
            eprintln!(
                "zkctl: {}: {n} error{}",
                path.display(),
                if n == 1 { "" } else { "s" }
            );
            return ExitCode::from(2);
        }
    };
    for warning in inventory.warnings() {
        eprintln!("warning: {warning}");
    }
    match zoo_cfg_of {
        None => print!("{}", inventory.describe()),
        Some(name) => match inventory.zoo_cfg_for(name) {
            Some(cfg) => print!("{}", cfg.render()),
            None => {
                let names: Vec<&str> = inventory.hosts().iter().map(|h| h.name.as_str()).collect();
                eprintln!(
                    "zkctl: {}: no host named {name} (hosts: {})",
                    path.display(),
                    names.join(", ")
                );
                return ExitCode::from(2);
            }
        },
    }
    ExitCode::SUCCESS
}
