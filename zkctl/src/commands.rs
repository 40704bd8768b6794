//! The commands that work on an inventory's hosts over SSH: check,
//! deploy, status, start, stop and restart.

use crate::inventory::{Host, Inventory};
use crate::remote::check::Verdict;
use crate::remote::deploy::{self, Connect, DeployOptions, HostOutcome, INTERRUPTED};
use crate::remote::files::{Binaries, Source};
use crate::remote::host::{run_ok, RemoteHost};
use crate::remote::package::Package;
use crate::ssh::Session;
use crate::status::{self, StatusOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Loads an inventory, printing its warnings, or every error (exit 2).
pub fn load(path: &Path) -> Result<Inventory, ExitCode> {
    match Inventory::load(path) {
        Ok(inv) => {
            for w in inv.warnings() {
                eprintln!("warning: {w}");
            }
            Ok(inv)
        }
        Err(refused) => {
            eprintln!("{refused}");
            Err(ExitCode::from(2))
        }
    }
}

fn ssh_connect(
    inv: &Inventory,
) -> impl Fn(&Host) -> Result<Box<dyn RemoteHost + Send>, String> + Sync + '_ {
    move |host: &Host| {
        Session::connect(&host.name, &host.address, &inv.ssh_settings())
            .map(|s| Box::new(s) as Box<dyn RemoteHost + Send>)
            .map_err(|e| e.to_string())
    }
}

/// Ctrl-C: hosts finish their current step, then stop.
fn on_interrupt() {
    extern "C" fn handler(_: libc::c_int) {
        INTERRUPTED.store(true, Ordering::SeqCst);
    }
    unsafe {
        libc::signal(libc::SIGINT, handler as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, handler as *const () as libc::sighandler_t);
    }
}

pub fn check(path: &Path) -> ExitCode {
    let inv = match load(path) {
        Ok(inv) => inv,
        Err(code) => return code,
    };
    let connect = ssh_connect(&inv);
    let results = deploy::check_all(&inv, &connect, None);
    print!("{}", crate::remote::check::render(&results));
    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, lines)| lines.iter().any(|l| l.verdict == Verdict::Fail))
        .map(|(h, _)| h.as_str())
        .collect();
    if failed.is_empty() {
        println!("all {} hosts ready for deploy", results.len());
        ExitCode::SUCCESS
    } else {
        println!("not ready: {}", failed.join(", "));
        ExitCode::FAILURE
    }
}

/// zkd and zkctl as built beside this zkctl, unless given.
pub fn binaries(zkd: Option<PathBuf>) -> Result<Binaries, String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find zkctl itself: {e}"))?;
    let zkd = zkd.unwrap_or_else(|| me.with_file_name("zkd"));
    if !zkd.is_file() {
        return Err(format!(
            "no zkd binary at {} (cargo build --release, or --zkd PATH)",
            zkd.display()
        ));
    }
    Ok(Binaries { zkd, zkctl: me })
}

/// Where zkd comes from: the package when given, else the binaries.
fn source(zkd: Option<PathBuf>, package: Option<PathBuf>) -> Result<Source, String> {
    match package {
        Some(path) => Package::from_path(&path).map(Source::Package),
        None => binaries(zkd).map(Source::Binaries),
    }
}

pub fn deploy(
    path: &Path,
    zkd: Option<PathBuf>,
    package: Option<PathBuf>,
    wait: Duration,
) -> ExitCode {
    let inv = match load(path) {
        Ok(inv) => inv,
        Err(code) => return code,
    };
    let source = match source(zkd, package) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("zkctl: {e}");
            return ExitCode::from(2);
        }
    };
    on_interrupt();
    let connect = ssh_connect(&inv);
    let checks = deploy::check_all(&inv, &connect, Some(&source));
    let failing: Vec<_> = checks
        .iter()
        .filter(|(_, l)| l.iter().any(|c| c.verdict == Verdict::Fail))
        .collect();
    if !failing.is_empty() {
        print!("{}", crate::remote::check::render(&checks));
        eprintln!("zkctl: pre-flight checks failed; nothing was changed on any host");
        return ExitCode::FAILURE;
    }
    eprintln!(
        "deploying ensemble {} (tickTime {} ms) to {} hosts: {}",
        inv.ensemble_name(),
        inv.ensemble().tick_time_ms,
        inv.hosts().len(),
        inv.hosts()
            .iter()
            .map(|h| format!("{} ({})", h.name, h.address))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let opts = DeployOptions { source };
    println!("{:<12} WILL WRITE", "HOST");
    for (host, plan) in deploy::plan_all(&inv, &opts, &connect) {
        match plan {
            Ok(files) if files.is_empty() => println!("{host:<12} nothing"),
            Ok(files) => println!("{host:<12} {}", files.join(", ")),
            Err(e) => println!("{host:<12} (cannot tell: {e})"),
        }
    }
    let outcomes = deploy::apply_all(&inv, &opts, &connect);
    let mut to_restart = Vec::new();
    let mut failed = false;
    println!("{:<12} CHANGED", "HOST");
    for (host, outcome) in &outcomes {
        match outcome {
            HostOutcome::Applied(a) => {
                if a.needs_restart {
                    to_restart.push(host.clone());
                }
                let what = if a.changed.is_empty() {
                    "nothing (up to date)".to_owned()
                } else {
                    a.changed.join(", ")
                };
                println!("{host:<12} {what}");
            }
            HostOutcome::Failed(e) => {
                failed = true;
                let done = if e.done.changed.is_empty() {
                    "nothing written".to_owned()
                } else {
                    format!("written before: {}", e.done.changed.join(", "))
                };
                println!("{host:<12} FAILED at {} ({done})", e);
            }
        }
    }
    if failed || INTERRUPTED.load(Ordering::SeqCst) {
        eprintln!("zkctl: deploy stopped; nothing was started or restarted. Fix the cause and run deploy again: it continues from here.");
        return ExitCode::FAILURE;
    }
    if let Err(e) = deploy::start_and_roll(&inv, &to_restart, &connect, wait) {
        eprintln!("zkctl: {e}");
        return ExitCode::FAILURE;
    }
    finish_with_status(&inv, &connect, wait)
}

fn finish_with_status(inv: &Inventory, connect: &Connect<'_>, wait: Duration) -> ExitCode {
    let mut report = deploy::wait_healthy(inv, wait);
    deploy::add_systemd(&mut report, inv, connect);
    print_report(&report, false)
}

pub fn status(path: &Path, json: bool, timeout: Duration) -> ExitCode {
    let inv = match load(path) {
        Ok(inv) => inv,
        Err(code) => return code,
    };
    let mut report = status::status(&inv.members(), &StatusOptions { timeout });
    let connect = ssh_connect(&inv);
    via_ssh_where_unreachable(&mut report, &inv, &connect, timeout);
    deploy::add_systemd(&mut report, &inv, &connect);
    print_report(&report, json)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Start,
    Stop,
    Restart,
}

/// start/stop/restart on every host (or `only`); restart --rolling goes
/// one member at a time with the leader last.
pub fn lifecycle(
    path: &Path,
    action: Lifecycle,
    rolling: bool,
    only: Option<&str>,
    wait: Duration,
) -> ExitCode {
    let inv = match load(path) {
        Ok(inv) => inv,
        Err(code) => return code,
    };
    if let Some(name) = only {
        if inv.host(name).is_none() {
            eprintln!("zkctl: the inventory has no host {name}");
            return ExitCode::from(2);
        }
    }
    let connect = ssh_connect(&inv);
    let hosts: Vec<&Host> = inv
        .hosts()
        .iter()
        .filter(|h| only.is_none_or(|n| n == h.name))
        .collect();
    if action == Lifecycle::Restart && rolling {
        let names: Vec<String> = hosts.iter().map(|h| h.name.clone()).collect();
        if let Err(e) = deploy::start_and_roll(&inv, &names, &connect, wait) {
            eprintln!("zkctl: {e}");
            return ExitCode::FAILURE;
        }
        return finish_with_status(&inv, &connect, wait);
    }
    let cmd = match action {
        Lifecycle::Start => "systemctl start --no-block zkd",
        Lifecycle::Stop => "systemctl stop zkd",
        Lifecycle::Restart => "systemctl restart --no-block zkd",
    };
    let mut failed = false;
    for host in &hosts {
        let result = connect(host).and_then(|mut r| run_ok(r.as_mut(), cmd, true).map(|_| ()));
        match result {
            Ok(()) => eprintln!("{}: {cmd}", host.name),
            Err(e) => {
                failed = true;
                eprintln!("{}: FAILED: {e}", host.name);
            }
        }
    }
    if failed {
        return ExitCode::FAILURE;
    }
    if action == Lifecycle::Stop {
        return ExitCode::SUCCESS;
    }
    finish_with_status(&inv, &connect, wait)
}

/// Members whose client port cannot be reached from here (a firewall, a
/// private network) are asked on the host itself, over SSH, with the zkctl
/// deploy installed there.
fn via_ssh_where_unreachable(
    report: &mut status::StatusReport,
    inv: &Inventory,
    connect: &Connect<'_>,
    timeout: Duration,
) {
    let mut rows = report.members.clone();
    let mut changed = false;
    for row in rows.iter_mut() {
        if row.mode != status::Mode::Unreachable {
            continue;
        }
        let Some(host) = inv.host(&row.name) else {
            continue;
        };
        let Ok(mut remote) = connect(host) else {
            continue;
        };
        let member = host.member();
        let port = member.client_port;
        let mut ask = |word: &str| -> std::io::Result<String> {
            let cmd = format!(
                "zkctl 4lw {word} --server 127.0.0.1:{port} --timeout {}",
                timeout.as_secs().max(1)
            );
            match remote.run(&cmd, false) {
                Ok(out) if out.ok() => Ok(out.stdout),
                Ok(out) => Err(std::io::Error::other(out.stderr.trim().to_owned())),
                Err(e) => Err(std::io::Error::other(e)),
            }
        };
        let mut fresh = status::probe_with(&member, timeout, &mut ask);
        if fresh.mode != status::Mode::Unreachable {
            fresh.error = Some("client port unreachable from here; asked over SSH".into());
        }
        *row = fresh;
        changed = true;
    }
    if changed {
        let systemd: Vec<_> = report
            .members
            .iter()
            .map(|r| (r.systemd_state.clone(), r.systemd_status.clone()))
            .collect();
        *report = status::StatusReport::new(rows);
        for (row, (state, text)) in report.members.iter_mut().zip(systemd) {
            row.systemd_state = state;
            row.systemd_status = text;
        }
    }
}

/// Prints a status report as a table (or JSON); exit 0 only when healthy.
pub fn print_report(report: &status::StatusReport, json: bool) -> ExitCode {
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
