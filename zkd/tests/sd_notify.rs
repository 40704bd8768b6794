//! What zkd tells systemd, read from a fake NOTIFY_SOCKET: the exact
//! sequence for a standalone start, a reload and a stop; an ensemble member
//! that waits for its peers (extending the start timeout, not READY), gets
//! READY once it follows or leads, and reports a leader's loss in STATUS.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Socket {
    sock: UnixDatagram,
    path: PathBuf,
}

impl Socket {
    fn bind(dir: &Path, name: &str) -> Socket {
        let path = dir.join(name);
        let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Socket { sock, path }
    }

    /// Messages until one satisfies `want`, or panics after `within`.
    fn until(&self, within: Duration, want: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.sock.recv(&mut buf) {
                let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                let done = want(&msg);
                seen.push(msg);
                if done {
                    return seen;
                }
            }
        }
        panic!("no matching notification within {within:?}; got {seen:#?}");
    }

    fn drain(&self, for_: Duration) -> Vec<String> {
        let deadline = Instant::now() + for_;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.sock.recv(&mut buf) {
                seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        seen
    }
}

struct Zkd(Child);

impl Drop for Zkd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(cfg: &Path, socket: &Socket, watchdog_usec: Option<u64>) -> Zkd {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zkd"));
    cmd.arg("--config")
        .arg(cfg)
        .env("NOTIFY_SOCKET", &socket.path)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(usec) = watchdog_usec {
        cmd.env("WATCHDOG_USEC", usec.to_string());
    }
    Zkd(cmd.spawn().expect("spawn zkd"))
}

fn signal(child: &Child, sig: i32) {
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

#[test]
fn standalone_start_reload_and_stop_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port_below_ephemeral("127.0.0.1");
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=srvr\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let sock = Socket::bind(dir.path(), "notify");
    let mut zkd = spawn(&cfg, &sock, Some(400_000));
    let start = sock.until(Duration::from_secs(20), |m| m.contains("READY=1"));
    let ready = start.last().unwrap();
    assert_eq!(
        ready,
        "READY=1\nSTATUS=mode=standalone zxid=0x0 clients=0\n"
    );
    // Before READY, only requests for more start time.
    for m in &start[..start.len() - 1] {
        assert!(m.starts_with("EXTEND_TIMEOUT_USEC="), "{m:?} before READY");
    }
    // The client port answers once READY has been sent.
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("serving after READY");
    // Watchdog pings at half of WatchdogSec (400 ms) keep coming.
    let pings = sock
        .drain(Duration::from_millis(1_100))
        .iter()
        .filter(|m| *m == "WATCHDOG=1\n")
        .count();
    assert!((3..=8).contains(&pings), "{pings} watchdog pings in 1.1 s");

    // Reload: RELOADING=1 with the monotonic time, then READY=1 again.
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=srvr,ruok\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    signal(&zkd.0, libc::SIGHUP);
    let reload = sock.until(Duration::from_secs(10), |m| m.starts_with("READY=1"));
    let reloading = reload
        .iter()
        .find(|m| m.starts_with("RELOADING=1"))
        .expect("RELOADING=1 before READY=1");
    assert!(reloading.contains("\nMONOTONIC_USEC="), "{reloading:?}");
    // The reloaded whitelist applies: ruok now answers.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    use std::io::{Read, Write};
    s.write_all(b"ruok").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, "imok");

    signal(&zkd.0, libc::SIGTERM);
    let stop = sock.until(Duration::from_secs(10), |m| m.starts_with("STOPPING=1"));
    assert_eq!(stop.last().unwrap(), "STOPPING=1\nSTATUS=mode=stopping\n");
    let status = zkd.0.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");
}

#[test]
fn ensemble_member_is_ready_only_with_a_quorum_and_reports_leader_loss() {
    let dir = tempfile::tempdir().unwrap();
    let hosts: Vec<String> = (1..=3).map(|i| format!("127.0.2.{i}")).collect();
    let ports: Vec<(u16, u16, u16)> = hosts
        .iter()
        .map(|h| {
            (
                common::free_port_below_ephemeral(h),
                common::free_port_below_ephemeral(h),
                common::free_port_below_ephemeral(h),
            )
        })
        .collect();
    let servers: String = (0..3)
        .map(|i| {
            format!(
                "server.{}={}:{}:{};{}:{}\n",
                i + 1,
                hosts[i],
                ports[i].0,
                ports[i].1,
                hosts[i],
                ports[i].2
            )
        })
        .collect();
    let mut cfgs = Vec::new();
    for i in 0..3 {
        let data = dir.path().join(format!("data{}", i + 1));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("myid"), format!("{}\n", i + 1)).unwrap();
        let cfg = dir.path().join(format!("zoo{}.cfg", i + 1));
        std::fs::write(
            &cfg,
            format!(
                "tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir={}\n{servers}",
                data.display()
            ),
        )
        .unwrap();
        cfgs.push(cfg);
    }
    let socks: Vec<Socket> = (1..=3)
        .map(|i| Socket::bind(dir.path(), &format!("n{i}")))
        .collect();

    // Alone, member 3 looks for a quorum: it asks for more start time and
    // says so in STATUS, but is not READY.
    let mut members: Vec<Option<Zkd>> = vec![None, None, None];
    members[2] = Some(spawn(&cfgs[2], &socks[2], None));
    let alone = socks[2].until(Duration::from_secs(20), |m| m.contains("mode=looking"));
    assert!(
        alone.iter().any(|m| m.starts_with("EXTEND_TIMEOUT_USEC=")),
        "{alone:?}"
    );
    let more = socks[2].drain(Duration::from_millis(800));
    assert!(
        alone.iter().chain(&more).all(|m| !m.contains("READY=1")),
        "READY without a quorum: {alone:?} {more:?}"
    );

    // Peers arrive: READY=1 with the mode and the leader in STATUS.
    members[0] = Some(spawn(&cfgs[0], &socks[0], None));
    members[1] = Some(spawn(&cfgs[1], &socks[1], None));
    let mut leader = None;
    for (i, sock) in socks.iter().enumerate() {
        let seen = sock.until(Duration::from_secs(20), |m| m.contains("READY=1"));
        let ready = seen.last().unwrap();
        let status = ready.lines().find(|l| l.starts_with("STATUS=")).unwrap();
        assert!(
            status.contains("mode=leader") || status.contains("mode=follower"),
            "member {}: {status}",
            i + 1
        );
        let id: u64 = status
            .split_whitespace()
            .find_map(|w| w.strip_prefix("leader="))
            .expect("leader= in STATUS")
            .parse()
            .unwrap();
        assert_eq!(
            *leader.get_or_insert(id),
            id,
            "members disagree on the leader"
        );
    }
    let leader = leader.unwrap();
    assert_eq!(
        leader, 3,
        "with equal histories the highest id of the first majority leads"
    );

    // The leader dies: the survivors say they are looking, then who leads now.
    drop(members[2].take());
    for sock in &socks[..2] {
        let seen = sock.until(Duration::from_secs(20), |m| {
            m.contains("STATUS=mode=leader") || m.contains("STATUS=mode=follower leader=2")
        });
        assert!(
            seen.iter().any(|m| m.contains("mode=looking")),
            "no looking STATUS before the new role: {seen:?}"
        );
    }
}
