//! `zkctl deploy`: check every host, apply the files to all of them in
//! parallel, start what is not running without waiting on each, restart
//! what changed one member at a time with the leader last, then prove the
//! ensemble healthy: exactly one leader, everyone else following or
//! observing in the same epoch.

use super::apply::{apply_host, plan_host, Applied, StepError};
use super::check::{check_host, CheckLine, Verdict};
use super::files::Source;
use super::host::{run_ok, RemoteHost};
use super::progress::Progress;
use crate::inventory::{Host, Inventory};
use crate::status::{self, Mode, StatusOptions, StatusReport};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Opens a session to a host (SSH in zkctl, a fake in tests).
pub type Connect<'a> = dyn Fn(&Host) -> Result<Box<dyn RemoteHost + Send>, String> + Sync + 'a;

/// Set by Ctrl-C: every host stops after its current step.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

pub struct DeployOptions {
    pub source: Source,
}

/// What happened on one host.
pub enum HostOutcome {
    Failed(StepError),
    Applied(Applied),
}

/// Runs `work` for every host of the inventory at once, one thread each,
/// and returns the results in inventory order.
fn on_every_host<T: Send>(inv: &Inventory, work: impl Fn(&Host) -> T + Sync) -> Vec<(String, T)> {
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = inv
            .hosts()
            .iter()
            .map(|host| scope.spawn(move || (host.name.clone(), work(host))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a host's thread does not panic"))
            .collect()
    })
}

/// Runs the checks on every host at once (with `source`'s own, for deploy).
pub fn check_all(
    inv: &Inventory,
    connect: &Connect<'_>,
    source: Option<&Source>,
) -> Vec<(String, Vec<CheckLine>)> {
    on_every_host(inv, |host| match connect(host) {
        Ok(mut remote) => {
            let mut lines = check_host(remote.as_mut(), inv, host);
            if let Some(Source::Package(package)) = source {
                lines.push(package.check(remote.as_mut()));
            }
            lines
        }
        Err(e) => vec![CheckLine {
            what: "reachable",
            verdict: Verdict::Fail,
            detail: e,
        }],
    })
}

/// What deploy would change on every host, read in parallel.
pub fn plan_all(
    inv: &Inventory,
    opts: &DeployOptions,
    connect: &Connect<'_>,
) -> Vec<(String, Result<Vec<String>, String>)> {
    on_every_host(inv, |host| {
        connect(host).and_then(|mut remote| plan_host(remote.as_mut(), inv, host, &opts.source))
    })
}

/// Applies the files on every host at once; a host that fails stops the
/// others after their current step.
pub fn apply_all(
    inv: &Inventory,
    opts: &DeployOptions,
    connect: &Connect<'_>,
) -> Vec<(String, HostOutcome)> {
    let progress = Progress::new();
    // Lines are made up front so that they appear in inventory order.
    let lines: std::collections::HashMap<&str, _> = inv
        .hosts()
        .iter()
        .map(|h| (h.name.as_str(), progress.host(&h.name)))
        .collect();
    on_every_host(inv, |host| {
        let line = &lines[host.name.as_str()];
        let outcome = match connect(host) {
            Err(e) => HostOutcome::Failed(StepError {
                step: "connect".into(),
                error: e,
                done: Applied::default(),
            }),
            Ok(mut remote) => {
                match apply_host(remote.as_mut(), inv, host, &opts.source, line, &INTERRUPTED) {
                    Ok(applied) => HostOutcome::Applied(applied),
                    Err(e) => HostOutcome::Failed(e),
                }
            }
        };
        match &outcome {
            HostOutcome::Failed(e) => {
                INTERRUPTED.store(true, Ordering::SeqCst);
                line.done(&format!("FAILED at {e}"));
            }
            HostOutcome::Applied(a) if a.changed.is_empty() => line.done("up to date"),
            HostOutcome::Applied(a) => line.done(&format!("{} files changed", a.changed.len())),
        }
        outcome
    })
}

fn is_active(remote: &mut dyn RemoteHost) -> Result<String, String> {
    Ok(remote
        .run("systemctl is-active zkd", false)?
        .stdout
        .trim()
        .to_owned())
}

/// Polls the ensemble until it is healthy or `wait` runs out.
pub fn wait_healthy(inv: &Inventory, wait: Duration) -> StatusReport {
    let deadline = Instant::now() + wait;
    let opts = StatusOptions {
        timeout: Duration::from_secs(2),
    };
    loop {
        let report = status::status(&inv.members(), &opts);
        if report.healthy() || Instant::now() >= deadline || INTERRUPTED.load(Ordering::SeqCst) {
            return report;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Starts members that do not run (all at once, no waiting on each), and
/// restarts those in `to_restart` one at a time, followers first, each
/// back in the ensemble before the next, the leader last.
pub fn start_and_roll(
    inv: &Inventory,
    to_restart: &[String],
    connect: &Connect<'_>,
    wait: Duration,
) -> Result<(), String> {
    let mut running = Vec::new();
    for host in inv.hosts() {
        let mut remote = connect(host).map_err(|e| format!("{}: {e}", host.name))?;
        let state = is_active(remote.as_mut()).map_err(|e| format!("{}: {e}", host.name))?;
        if state == "active" || state == "activating" {
            running.push(host.name.clone());
        } else {
            eprintln!("{}: starting zkd", host.name);
            run_ok(remote.as_mut(), "systemctl start --no-block zkd", true)
                .map_err(|e| format!("{}: {e}", host.name))?;
        }
    }
    let rolling: Vec<&String> = to_restart.iter().filter(|h| running.contains(h)).collect();
    if rolling.is_empty() {
        return Ok(());
    }
    let report = wait_healthy(inv, wait);
    if !report.healthy() {
        return Err(format!(
            "not restarting anything: the ensemble is not healthy first\n{}",
            report.summary_line()
        ));
    }
    let leader = report
        .members
        .iter()
        .find(|m| m.mode == Mode::Leader)
        .map(|m| m.name.clone());
    let mut order: Vec<&String> = rolling
        .iter()
        .copied()
        .filter(|h| Some(*h) != leader.as_ref())
        .collect();
    order.extend(
        rolling
            .iter()
            .copied()
            .filter(|h| Some(*h) == leader.as_ref()),
    );
    for name in order {
        let host = inv.host(name).expect("a host of the inventory");
        let is_leader = Some(name) == leader.as_ref();
        eprintln!(
            "{name}: restarting{} (zkd.service is ready again only once it serves)",
            if is_leader { ", the leader, last" } else { "" }
        );
        let mut remote = connect(host).map_err(|e| format!("{name}: {e}"))?;
        // Blocks until READY=1: the member is back in sync with a leader.
        run_ok(remote.as_mut(), "systemctl restart zkd", true)
            .map_err(|e| format!("{name}: {e}"))?;
        let report = wait_healthy(inv, wait);
        if !report.healthy() {
            return Err(format!(
                "{name} restarted but the ensemble is not healthy; stopping the rolling restart\n{}",
                report.summary_line()
            ));
        }
    }
    Ok(())
}

/// Fills in the systemd columns of a report from each host.
pub fn add_systemd(report: &mut StatusReport, inv: &Inventory, connect: &Connect<'_>) {
    for host in inv.hosts() {
        let Ok(mut remote) = connect(host) else {
            continue;
        };
        let Ok(out) = remote.run("systemctl show -p ActiveState -p StatusText zkd", false) else {
            continue;
        };
        // KEY=value lines; systemctl orders them its own way.
        let value = |key: &str| {
            out.stdout
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_owned)
                .filter(|s| !s.is_empty())
        };
        let (state, text) = (value("ActiveState"), value("StatusText"));
        report.set_systemd(&host.name, state, text);
    }
}
