//! `zkctl`: tools for operating zkd (and Apache ZooKeeper) servers.

mod four_letter;
#[allow(dead_code)] // rewrite() is used by deploy, arriving with issue 6
mod hosts_file;
#[allow(dead_code)] // validate uses part; check, deploy and status (issue 6) the rest
mod inventory;
#[allow(dead_code)] // used by the commands arriving with issue 6
mod model;
mod playground;
#[allow(dead_code)] // used by check/deploy
mod remote;
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
    /// How an ensemble is doing: one row per member (srvr and mntr on its
    /// client port) and a summary. Exits 0 only when healthy: one leader,
    /// every other voter following, observers observing, one epoch.
    Status {
        /// A zoo.cfg listing the members (server.N lines), e.g. any member's.
        #[arg(long, value_name = "PATH")]
        config: PathBuf,
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
    let report = status::status(&members, &opts);
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.table());
    }
    if report.healthy() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
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
            config,
            json,
            timeout,
        } => run_status(&config, json, timeout),
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
