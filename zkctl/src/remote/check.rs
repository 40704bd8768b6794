//! `zkctl check`: what must hold on a host before deploy touches it, each
//! check a line with its verdict and the detail an operator needs.

use super::host::{quote, RemoteHost};
use crate::inventory::{Host, Inventory};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    Ok,
    /// Worth knowing; deploy goes on (it may even fix it).
    Warn,
    /// Deploy must not go on with this host.
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckLine {
    pub what: &'static str,
    pub verdict: Verdict,
    pub detail: String,
}

/// Free space below which the data directory is flagged.
const LOW_SPACE_KIB: u64 = 1024 * 1024;
/// Clock difference that starts to matter for session and TTL times.
const SKEW_WARN_MS: i64 = 1000;

fn line(what: &'static str, verdict: Verdict, detail: impl Into<String>) -> CheckLine {
    CheckLine {
        what,
        verdict,
        detail: detail.into(),
    }
}

/// The machine architecture zkd was built for, as `uname -m` prints it.
pub fn local_arch() -> &'static str {
    std::env::consts::ARCH
}

/// Runs every check on one connected host.
pub fn check_host(remote: &mut dyn RemoteHost, inv: &Inventory, host: &Host) -> Vec<CheckLine> {
    let mut out = vec![line("reachable", Verdict::Ok, "ssh works")];
    let run = |remote: &mut dyn RemoteHost, cmd: &str, privileged: bool| {
        remote
            .run(cmd, privileged)
            .unwrap_or_else(|e| super::host::Output {
                status: -1,
                stdout: String::new(),
                stderr: e,
            })
    };
    let sudo = run(remote, "true", true);
    if !sudo.ok() {
        out.push(line("sudo", Verdict::Fail, sudo.stderr.trim().to_owned()));
        return out;
    }
    out.push(line("sudo", Verdict::Ok, "privileged commands run"));

    let os = run(
        remote,
        ". /etc/os-release && echo \"$PRETTY_NAME\" && uname -m",
        false,
    );
    let mut lines = os.stdout.lines();
    let pretty = lines.next().unwrap_or("unknown").to_owned();
    let arch = lines.next().unwrap_or("unknown").trim().to_owned();
    if arch == local_arch() {
        out.push(line("os", Verdict::Ok, format!("{pretty}, {arch}")));
    } else {
        out.push(line(
            "os",
            Verdict::Fail,
            format!(
                "{pretty}, {arch}: the zkd binary is built for {}",
                local_arch()
            ),
        ));
    }

    let systemd = run(
        remote,
        "test -d /run/systemd/system && systemctl --version | head -n1",
        false,
    );
    out.push(if systemd.ok() {
        line("systemd", Verdict::Ok, systemd.stdout.trim().to_owned())
    } else {
        line(
            "systemd",
            Verdict::Fail,
            "systemd is not running as PID 1 here",
        )
    });

    let ports = [host.client_port, host.quorum_port, host.election_port];
    let filter = ports
        .iter()
        .map(|p| format!("sport = :{p}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let listening = run(remote, &format!("ss -Htlnp '( {filter} )'"), true);
    let foreign: Vec<&str> = listening
        .stdout
        .lines()
        .filter(|l| !l.contains("\"zkd\""))
        .collect();
    out.push(if !listening.ok() {
        line(
            "ports",
            Verdict::Warn,
            "could not list listening sockets (ss)",
        )
    } else if foreign.is_empty() {
        let held = if listening.stdout.trim().is_empty() {
            "free"
        } else {
            "held by zkd"
        };
        line("ports", Verdict::Ok, format!("{ports:?} {held}"))
    } else {
        line(
            "ports",
            Verdict::Fail,
            format!("taken by another program: {}", foreign.join("; ")),
        )
    });

    let dir = host.data_dir.display().to_string();
    let space = run(
        remote,
        &format!(
            "d={}; while [ ! -e \"$d\" ]; do d=$(dirname \"$d\"); done; test -w \"$d\" && df -Pk \"$d\" | awk 'NR==2 {{print $4}}'",
            quote(&dir)
        ),
        true,
    );
    out.push(match space.stdout.trim().parse::<u64>() {
        Ok(kib) if space.ok() && kib >= LOW_SPACE_KIB => line(
            "dataDir",
            Verdict::Ok,
            format!("{dir}: {} GiB free", kib / (1024 * 1024)),
        ),
        Ok(kib) if space.ok() => line(
            "dataDir",
            Verdict::Warn,
            format!("{dir}: only {} MiB free", kib / 1024),
        ),
        _ => line(
            "dataDir",
            Verdict::Fail,
            format!("{dir} (or its nearest parent) is not writable"),
        ),
    });

    let before = now_ms();
    let clock = run(remote, "date +%s%3N", false);
    let after = now_ms();
    out.push(match clock.stdout.trim().parse::<i64>() {
        Ok(remote_ms) => {
            let skew = remote_ms - (before + after) / 2;
            let verdict = if skew.abs() > SKEW_WARN_MS {
                Verdict::Warn
            } else {
                Verdict::Ok
            };
            line("clock", verdict, format!("{skew:+} ms from here"))
        }
        Err(_) => line("clock", Verdict::Warn, "could not read the host's clock"),
    });

    let mut wrong = Vec::new();
    for m in inv.hosts() {
        let got = run(remote, &format!("getent hosts {}", quote(&m.name)), false);
        let addr = got.stdout.split_whitespace().next().unwrap_or("");
        if addr != m.address {
            wrong.push(format!(
                "{} -> {}",
                m.name,
                if addr.is_empty() { "nothing" } else { addr }
            ));
        }
    }
    out.push(if wrong.is_empty() {
        line(
            "names",
            Verdict::Ok,
            "every member's name resolves to its inventory address",
        )
    } else {
        line(
            "names",
            Verdict::Warn,
            format!("{} (deploy fixes this in /etc/hosts)", wrong.join(", ")),
        )
    });
    out
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Renders the checks of several hosts as one aligned table.
pub fn render(results: &[(String, Vec<CheckLine>)]) -> String {
    let mut s = String::new();
    for (host, lines) in results {
        for l in lines {
            let mark = match l.verdict {
                Verdict::Ok => "ok  ",
                Verdict::Warn => "warn",
                Verdict::Fail => "FAIL",
            };
            s.push_str(&format!("{host:<12} {mark} {:<10} {}\n", l.what, l.detail));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::super::host::fake::FakeHost;
    use super::*;
    use std::path::Path;

    fn inv() -> Inventory {
        Inventory::parse(
            "[ensemble]\nname = \"t\"\n[[hosts]]\nname = \"zk1\"\naddress = \"10.0.0.1\"\nmyid = 1\n",
            Path::new("i.toml"),
        )
        .unwrap()
    }

    fn healthy_host() -> FakeHost {
        let mut h = FakeHost::default();
        h.answer(
            ". /etc/os-release",
            0,
            &format!("Debian GNU/Linux 12 (bookworm)\n{}\n", local_arch()),
        );
        h.answer(
            "test -d /run/systemd/system",
            0,
            "systemd 252 (252.39-1~deb12u2)\n",
        );
        h.answer("d=", 0, "52428800\n");
        h.answer("getent hosts 'zk1'", 0, "10.0.0.1  zk1\n");
        let now = now_ms();
        h.answer("date", 0, &format!("{now}\n"));
        h
    }

    fn verdicts(lines: &[CheckLine]) -> Vec<(&'static str, Verdict)> {
        lines.iter().map(|l| (l.what, l.verdict)).collect()
    }

    #[test]
    fn a_ready_host_passes_every_check() {
        let inv = inv();
        let mut h = healthy_host();
        let lines = check_host(&mut h, &inv, inv.host("zk1").unwrap());
        assert!(lines.iter().all(|l| l.verdict == Verdict::Ok), "{lines:#?}");
        assert_eq!(lines.len(), 8);
    }

    #[test]
    fn a_foreign_listener_a_wrong_arch_and_a_stale_name_are_reported() {
        let inv = inv();
        let mut h = FakeHost::default();
        h.answer(
            ". /etc/os-release",
            0,
            "Debian GNU/Linux 12 (bookworm)\naarch64\n",
        );
        h.answer(
            "ss -Htlnp",
            0,
            "LISTEN 0 50 *:2181 *:* users:((\"java\",pid=7,fd=40))\n",
        );
        h.answer("getent hosts 'zk1'", 0, "127.0.1.1 zk1\n");
        h.answer("test -d", 1, "");
        let lines = check_host(&mut h, &inv, inv.host("zk1").unwrap());
        let v = verdicts(&lines);
        assert!(v.contains(&("os", Verdict::Fail)) || local_arch() == "aarch64");
        assert!(v.contains(&("ports", Verdict::Fail)), "{lines:#?}");
        assert!(v.contains(&("systemd", Verdict::Fail)));
        assert!(v.contains(&("dataDir", Verdict::Fail)));
        assert!(v.contains(&("names", Verdict::Warn)));
        let ports = lines.iter().find(|l| l.what == "ports").unwrap();
        assert!(ports.detail.contains("java"), "{}", ports.detail);
    }

    #[test]
    fn refused_sudo_stops_the_checks_of_that_host() {
        let inv = inv();
        let mut h = FakeHost::default();
        h.answer("true", 1, "");
        let lines = check_host(&mut h, &inv, inv.host("zk1").unwrap());
        assert_eq!(
            verdicts(&lines),
            vec![("reachable", Verdict::Ok), ("sudo", Verdict::Fail)]
        );
    }
}
