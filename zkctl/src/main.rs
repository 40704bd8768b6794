//! `zkctl`: tools for operating zkd (and Apache ZooKeeper) servers.

mod four_letter;
#[allow(dead_code)] // rewrite() is used by deploy, arriving with issue 6
mod hosts_file;
#[allow(dead_code)] // validate uses part; check, deploy and status (issue 6) the rest
mod inventory;
#[allow(dead_code)] // used by the commands arriving with issue 6
mod model;
#[allow(dead_code)] // used by check/deploy
mod remote;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
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
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::FourLetter {
            word,
            server,
            timeout,
        } => match four_letter::ask(&server, &word, std::time::Duration::from_secs(timeout)) {
            Ok(answer) => {
                print!("{answer}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("zkctl: {server}: {e}");
                ExitCode::FAILURE
            }
        },
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
