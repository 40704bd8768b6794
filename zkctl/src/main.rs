//! `zkctl`: tools for operating zkd (and Apache ZooKeeper) servers.

mod cli;
mod commands;
mod four_letter;
mod hosts_file;
mod inventory;
mod model;
mod playground;
mod remote;
mod ssh;
mod status;

use clap::Parser;
use std::process::ExitCode;
use std::time::Duration;
use zkd::config::ZooCfg;

use cli::{Cli, Command};
use inventory::Inventory;

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
            package,
            wait,
        } => commands::deploy(&inventory, zkd, package, Duration::from_secs(wait)),
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
