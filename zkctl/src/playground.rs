//! `zkctl playground`: a local ensemble of zkd processes on 127.0.0.1, no
//! SSH and no root, for trying zkd out.
//!
//! It writes one zoo.cfg and dataDir per member into a fresh temporary
//! directory (or `--dir`), starts the members, waits for a healthy
//! ensemble, prints the status table and how to connect, then watches:
//! the table is printed again whenever a member's mode or the leader
//! changes, and a member that exits is reported with the end of its log.
//! SIGINT or SIGTERM stops every member and removes the temporary
//! directory (unless `--keep`).
//!
//! Module map: `layout` (ports and files), `binary` (finding zkd),
//! `processes` (the children).

mod binary;
mod layout;
mod processes;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::model::Member;
use crate::status::{status, Mode, StatusOptions, StatusReport};
use processes::{log_tail, stop_all, RunningMember};

#[derive(Debug, Clone)]
pub struct PlaygroundOptions {
    /// Voting members.
    pub voters: usize,
    pub observers: usize,
    /// The first member's client port; quorum and election ports follow
    /// at the standard distance (2181 → 2888, 3888).
    pub base_port: u16,
    pub zkd: Option<PathBuf>,
    /// Where the members' files go; a fresh temporary directory if unset.
    pub dir: Option<PathBuf>,
    /// Keep the directory when stopping.
    pub keep: bool,
    /// How long the ensemble may take to become healthy.
    pub wait: Duration,
    /// How often the members are checked once running.
    pub poll: Duration,
}

/// How long members get to stop after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// Log lines shown for a member that failed.
const LOG_TAIL_LINES: usize = 15;

/// The members and their directory; dropping it stops the members and
/// removes the directory if it is ours, so an early error leaves nothing
/// behind.
struct Playground {
    dir: PathBuf,
    remove_dir: bool,
    members: Vec<Member>,
    running: Vec<RunningMember>,
    started: Instant,
}

impl Drop for Playground {
    fn drop(&mut self) {
        stop_all(&mut self.running, STOP_GRACE);
        if self.remove_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

pub fn run(opts: &PlaygroundOptions) -> Result<(), String> {
    let members = layout::plan(opts.voters, opts.observers, opts.base_port)?;
    let zkd = binary::find_zkd(opts.zkd.as_deref())?;
    layout::check_ports_free(&members, opts.base_port)?;
    let signals = stop_signals()?;
    let (dir, ours) = make_dir(opts.dir.as_deref())?;
    let mut pg = Playground {
        dir,
        remove_dir: ours && !opts.keep,
        members,
        running: Vec::new(),
        started: Instant::now(),
    };
    layout::write_files(&pg.dir, &pg.members)?;
    let count = match pg.members.len() {
        1 => "a standalone zkd".to_string(),
        n => format!("{n} zkd members"),
    };
    println!(
        "starting {count} ({}) in {}",
        zkd.display(),
        pg.dir.display()
    );
    for member in &pg.members {
        let config = layout::config_path(&pg.dir, member);
        let log = layout::log_path(&pg.dir, member);
        pg.running
            .push(RunningMember::start(&zkd, &config, log, member)?);
    }
    println!("waiting until the ensemble is healthy");

    let status_opts = StatusOptions {
        timeout: Duration::from_secs(1),
    };
    let report = match wait_healthy(&mut pg, &signals, &status_opts, opts.wait) {
        Waited::Healthy(report) => report,
        Waited::Signal(name) => return shut_down(pg, name),
        Waited::Failed(why) => {
            // Keep the logs for a look at what went wrong.
            pg.remove_dir = false;
            return Err(format!(
                "{why}\nthe members' files and logs are kept in {}",
                pg.dir.display()
            ));
        }
    };
    print!("{}", report.table());
    print_how_to_connect(&pg, opts.keep);

    let mut last = View::of(&report);
    loop {
        match signals.recv_timeout(opts.poll) {
            Ok(name) => return shut_down(pg, name),
            Err(RecvTimeoutError::Disconnected) => {
                return Err("lost the signal watcher; stopping".into())
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        report_exits(&mut pg);
        if pg.running.iter().all(|m| !m.is_running()) {
            pg.remove_dir = false;
            return Err(format!(
                "every member has exited; their files and logs are kept in {}",
                pg.dir.display()
            ));
        }
        let report = status(&pg.members, &status_opts);
        let view = View::of(&report);
        if view != last {
            println!();
            println!(
                "[+{}s] {}",
                pg.started.elapsed().as_secs(),
                last.changes_to(&view)
            );
            print!("{}", report.table());
            last = view;
        }
    }
}

enum Waited {
    Healthy(StatusReport),
    Signal(&'static str),
    Failed(String),
}

fn wait_healthy(
    pg: &mut Playground,
    signals: &Receiver<&'static str>,
    opts: &StatusOptions,
    wait: Duration,
) -> Waited {
    let deadline = Instant::now() + wait;
    loop {
        for m in &mut pg.running {
            if let Some(exit) = m.newly_exited() {
                return Waited::Failed(format!(
                    "{} exited while starting ({exit}); the end of {}:\n{}",
                    m.member.name,
                    m.log.display(),
                    log_tail(&m.log, LOG_TAIL_LINES)
                ));
            }
        }
        let report = status(&pg.members, opts);
        if report.healthy() {
            return Waited::Healthy(report);
        }
        if Instant::now() >= deadline {
            return Waited::Failed(format!(
                "the ensemble was not healthy after {} s:\n{}",
                wait.as_secs(),
                report.table()
            ));
        }
        match signals.recv_timeout(Duration::from_millis(200)) {
            Ok(name) => return Waited::Signal(name),
            Err(RecvTimeoutError::Disconnected) => {
                return Waited::Failed("lost the signal watcher".into())
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

/// Says which members exited since the last look, with their logs' ends.
fn report_exits(pg: &mut Playground) {
    for m in &mut pg.running {
        if let Some(status) = m.newly_exited() {
            println!();
            println!(
                "[+{}s] {} (pid {}) exited unexpectedly ({status}); the end of {}:",
                pg.started.elapsed().as_secs(),
                m.member.name,
                m.pid(),
                m.log.display()
            );
            for line in log_tail(&m.log, LOG_TAIL_LINES).lines() {
                println!("    {line}");
            }
        }
    }
}

fn shut_down(mut pg: Playground, signal: &str) -> Result<(), String> {
    let running = pg.running.iter().filter(|m| m.is_running()).count();
    println!();
    println!("{signal}: stopping {running} members");
    let killed = stop_all(&mut pg.running, STOP_GRACE);
    if !killed.is_empty() {
        println!(
            "killed {} after {} s without stopping",
            killed.join(", "),
            STOP_GRACE.as_secs()
        );
    }
    if pg.remove_dir {
        std::fs::remove_dir_all(&pg.dir)
            .map_err(|e| format!("{}: cannot remove: {e}", pg.dir.display()))?;
        pg.remove_dir = false;
        println!("all members stopped; removed {}", pg.dir.display());
    } else {
        println!("all members stopped; files kept in {}", pg.dir.display());
    }
    Ok(())
}

/// What the watch loop compares to decide whether to print again.
#[derive(Debug, Clone, PartialEq, Eq)]
struct View {
    leader: Option<String>,
    modes: Vec<(String, Mode)>,
}

impl View {
    fn of(report: &StatusReport) -> View {
        View {
            leader: report.summary.leader.as_ref().map(|l| l.name.clone()),
            modes: report
                .members
                .iter()
                .map(|m| (m.name.clone(), m.mode))
                .collect(),
        }
    }

    /// One line: the leader change first, then each member's.
    fn changes_to(&self, next: &View) -> String {
        let mut parts = Vec::new();
        if self.leader != next.leader {
            let name = |l: &Option<String>| l.clone().unwrap_or_else(|| "none".into());
            parts.push(format!(
                "leader: {} → {}",
                name(&self.leader),
                name(&next.leader)
            ));
        }
        for ((name, before), (_, after)) in self.modes.iter().zip(&next.modes) {
            if before != after {
                parts.push(format!("{name}: {} → {}", before.as_str(), after.as_str()));
            }
        }
        parts.join("; ")
    }
}

fn print_how_to_connect(pg: &Playground, keep: bool) {
    let hosts: Vec<String> = pg.members.iter().map(Member::client_endpoint).collect();
    let hosts = hosts.join(",");
    let zkcli = Path::new("/usr/share/zookeeper/bin/zkCli.sh");
    let zkcli = if zkcli.is_file() {
        zkcli.display().to_string()
    } else {
        "zkCli.sh".into()
    };
    println!();
    println!("Connect with any ZooKeeper client:");
    println!("  {zkcli} -server {hosts}");
    println!("  kazoo:   KazooClient(hosts=\"{hosts}\")");
    println!(
        "  Curator: CuratorFrameworkFactory.newClient(\"{hosts}\", new ExponentialBackoffRetry(1000, 3))"
    );
    println!(
        "  status:  zkctl status --config {}",
        layout::config_path(&pg.dir, &pg.members[0]).display()
    );
    println!();
    println!("Files: {}", pg.dir.display());
    for m in &pg.running {
        println!(
            "  {}  pid {}  {}  log {}",
            m.member.name,
            m.pid(),
            if m.member.observer {
                "observer"
            } else {
                "voter"
            },
            m.log.display()
        );
    }
    println!();
    if pg.remove_dir {
        println!(
            "Ctrl-C stops every member and removes {}.",
            pg.dir.display()
        );
    } else if keep {
        println!("Ctrl-C stops every member; --keep leaves the files in place.");
    } else {
        println!("Ctrl-C stops every member; the files stay in --dir.");
    }
}

/// A fresh directory under the system's temporary directory, or `dir`
/// (created if needed, reused if it exists). Returns it absolute, and
/// whether we created it (and so may remove it).
fn make_dir(dir: Option<&Path>) -> Result<(PathBuf, bool), String> {
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
        let dir = std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        return Ok((dir, false));
    }
    let base = std::env::temp_dir();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = base.join(format!("zkd-playground-{}-{stamp:08x}", std::process::id()));
    std::fs::create_dir(&dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    Ok((dir, true))
}

/// SIGINT and SIGTERM, delivered as their names on a channel. The
/// handlers are in place when this returns, so a Ctrl-C from then on
/// stops the playground cleanly instead of killing zkctl.
fn stop_signals() -> Result<Receiver<&'static str>, String> {
    use tokio::signal::unix::{signal, SignalKind};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot watch for signals: {e}"))?;
    let (mut interrupt, mut terminate) = {
        let _context = runtime.enter();
        let listen = |kind| signal(kind).map_err(|e| format!("cannot watch for signals: {e}"));
        (
            listen(SignalKind::interrupt())?,
            listen(SignalKind::terminate())?,
        )
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        runtime.block_on(async {
            loop {
                let name = tokio::select! {
                    _ = interrupt.recv() => "SIGINT",
                    _ = terminate.recv() => "SIGTERM",
                };
                if tx.send(name).is_err() {
                    break;
                }
            }
        })
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::MemberStatus;

    fn report(modes: &[Mode]) -> StatusReport {
        let rows = modes
            .iter()
            .enumerate()
            .map(|(i, mode)| {
                let member = Member {
                    name: format!("zk{}", i + 1),
                    address: "127.0.0.1".into(),
                    myid: i as u64 + 1,
                    observer: false,
                    client_port: 2181 + i as u16,
                    quorum_port: 2888 + i as u16,
                    election_port: 3888 + i as u16,
                };
                MemberStatus::new(&member, *mode)
            })
            .collect();
        StatusReport::new(rows)
    }

    #[test]
    fn a_new_leader_is_a_change_worth_printing() {
        use Mode::*;
        let before = View::of(&report(&[Leader, Follower, Follower]));
        let same = View::of(&report(&[Leader, Follower, Follower]));
        assert_eq!(before, same);
        let after = View::of(&report(&[Unreachable, Leader, Follower]));
        assert_eq!(
            before.changes_to(&after),
            "leader: zk1 → zk2; zk1: leader → unreachable; zk2: follower → leader"
        );
        let electing = View::of(&report(&[Unreachable, NotServing, NotServing]));
        assert!(before
            .changes_to(&electing)
            .starts_with("leader: zk1 → none"));
    }
}
