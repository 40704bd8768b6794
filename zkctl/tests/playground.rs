//! The real `zkctl playground --members 3` with real zkd processes: one
//! leader, a new one after the leader is killed, and nothing left behind
//! after SIGINT.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

const ZKCTL: &str = env!("CARGO_BIN_EXE_zkctl");
/// How long to wait for any one expected line before giving up: a guard
/// against hanging, far above what each step needs.
const PATIENCE: Duration = Duration::from_secs(30);

/// Builds zkd's binary (`cargo test -p zkctl` builds only zkctl's) and
/// returns its path.
fn zkd_binary() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "-p", "zkd", "--bin", "zkd"])
        .current_dir(workspace)
        .status()
        .expect("run cargo build -p zkd");
    assert!(built.success(), "cargo build -p zkd failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    target.join("debug").join("zkd")
}

/// A base port whose client, quorum and election ports (base+0..3,
/// base+707.., base+1707..) are all free, below the ephemeral range.
fn free_base_port() -> u16 {
    let start = 20_000 + (std::process::id() % 400) as u16 * 20;
    (0..200)
        .map(|k| 20_000 + (start - 20_000 + k * 20) % 8_000)
        .find(|&base| {
            (0..3).all(|i| {
                [base + i, base + 707 + i, base + 1707 + i]
                    .iter()
                    .all(|&p| TcpListener::bind(("127.0.0.1", p)).is_ok())
            })
        })
        .expect("no free port range")
}

/// The running playground; killing it on drop (and its members, which
/// would die with it anyway) keeps a failed test from leaving processes.
struct Playground {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    member_pids: Vec<(String, u32)>,
    dir: Option<PathBuf>,
}

impl Drop for Playground {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for (_, pid) in &self.member_pids {
            signal(*pid, libc::SIGKILL);
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) with plain integers.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

impl Playground {
    fn start(base_port: u16, zkd: &Path) -> Playground {
        let mut child = Command::new(ZKCTL)
            .args(["playground", "--members", "3", "--wait", "20"])
            .arg("--base-port")
            .arg(base_port.to_string())
            .arg("--zkd")
            .arg(zkd)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start zkctl playground");
        let (tx, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Playground {
            child,
            lines,
            seen: Vec::new(),
            member_pids: Vec::new(),
            dir: None,
        }
    }

    /// Reads lines until `want` accepts one, which it returns.
    fn until(&mut self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if want(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no {what} from zkctl playground; its output:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Reads the rest of a status table whose header `header` was just
    /// read: the name on the leader's row, if one is marked.
    fn rest_of_table(&mut self) -> Option<String> {
        let mut leader = None;
        loop {
            let line = self.until("table row", |_| true);
            if line.starts_with("quorum:") {
                return leader;
            }
            if line.starts_with('*') {
                leader = line.split_whitespace().nth(1).map(str::to_string);
            }
        }
    }
}

fn is_table_header(line: &str) -> bool {
    line.trim_start().starts_with("NAME ")
}

fn srvr_mode(port: u16) -> String {
    let out = Command::new(ZKCTL)
        .args(["4lw", "srvr", "--server"])
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .expect("run zkctl 4lw");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .unwrap_or("not serving")
        .to_string()
}

#[test]
fn a_playground_elects_fails_over_and_stops_cleanly() {
    let zkd = zkd_binary();
    let base = free_base_port();
    let mut pg = Playground::start(base, &zkd);

    pg.until("status table", is_table_header);
    let first_leader = pg
        .rest_of_table()
        .expect("the first table, printed once healthy, names a leader");
    let files = pg.until("Files: line", |l| l.starts_with("Files: "));
    let dir = PathBuf::from(files.trim_start_matches("Files: "));
    pg.dir = Some(dir.clone());
    for _ in 0..3 {
        let line = pg.until("member line", |l| l.contains(" pid "));
        let fields: Vec<&str> = line.split_whitespace().collect();
        pg.member_pids
            .push((fields[0].to_string(), fields[2].parse().expect("a pid")));
    }
    pg.until("Ctrl-C hint", |l| l.starts_with("Ctrl-C"));
    assert!(dir.join("zk1/zoo.cfg").is_file());

    // Exactly one leader, as each member tells it.
    let modes: Vec<String> = (0..3).map(|i| srvr_mode(base + i)).collect();
    let leaders: Vec<usize> = (0..3).filter(|&i| modes[i] == "leader").collect();
    assert_eq!(leaders.len(), 1, "modes: {modes:?}");
    assert_eq!(first_leader, format!("zk{}", leaders[0] + 1));

    let (_, leader_pid) = pg
        .member_pids
        .iter()
        .find(|(name, _)| *name == first_leader)
        .cloned()
        .unwrap();
    signal(leader_pid, libc::SIGKILL);
    // The exit report and the reprinted tables come in either order,
    // depending on when in its polling the playground notices.
    let exit_line = format!("{first_leader} (pid {leader_pid}) exited unexpectedly");
    let (mut exit_reported, mut new_leader) = (false, None);
    while !exit_reported || new_leader.is_none() {
        let line = pg.until("the killed leader's report and a new leader", |l| {
            l.contains(&exit_line) || is_table_header(l)
        });
        if line.contains(&exit_line) {
            exit_reported = true;
        } else if let Some(leader) = pg.rest_of_table() {
            assert_ne!(leader, first_leader, "{}", pg.seen.join("\n"));
            new_leader = Some(leader);
        }
    }
    let new_leader = new_leader.unwrap();
    assert_eq!(
        srvr_mode(base + new_leader[2..].parse::<u16>().unwrap() - 1),
        "leader"
    );

    signal(pg.child.id(), libc::SIGINT);
    pg.until("stop report", |l| l.starts_with("all members stopped"));
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = pg.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "zkctl did not exit after SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}: {}", pg.seen.join("\n"));
    for (name, pid) in &pg.member_pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "{name} (pid {pid}) still exists"
        );
    }
    assert!(!dir.exists(), "{} was not removed", dir.display());
}
