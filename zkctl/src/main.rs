//! `zkctl`: tools for operating zkd (and Apache ZooKeeper) servers.

mod four_letter;
#[allow(dead_code)] // used by the commands arriving with issue 6
mod model;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use zkd::config::ZooCfg;

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
    }
}
