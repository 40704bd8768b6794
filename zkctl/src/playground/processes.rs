//! The members as child processes: start, notice an exit, stop.

use std::fs::{self, File};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::model::Member;

pub struct RunningMember {
    pub member: Member,
    pub log: PathBuf,
    child: Child,
    /// Set once the exit has been seen (and reported).
    exited: Option<ExitStatus>,
}

impl RunningMember {
    /// Starts `zkd --config <config>`, its output appended to `log`.
    ///
    /// The child gets its own process group, so a Ctrl-C in the terminal
    /// reaches only zkctl, which then stops the members in order. On Linux
    /// it is also told to receive SIGTERM if zkctl dies without stopping
    /// it, so no member outlives a killed playground.
    pub fn start(zkd: &Path, config: &Path, log: PathBuf, member: &Member) -> Result<Self, String> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("{}: cannot open: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("{}: cannot open: {e}", log.display()))?;
        let mut command = Command::new(zkd);
        command
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Those belong to whatever runs zkctl, not to the members.
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env_remove("JOURNAL_STREAM")
            // The log is a file: no terminal colour codes in it.
            .env("NO_COLOR", "1")
            .process_group(0);
        die_with_parent(&mut command);
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {} for {}: {e}", zkd.display(), member.name))?;
        Ok(RunningMember {
            member: member.clone(),
            log,
            child,
            exited: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn is_running(&self) -> bool {
        self.exited.is_none()
    }

    /// The exit status, the first time an exit is seen.
    pub fn newly_exited(&mut self) -> Option<ExitStatus> {
        if self.exited.is_some() {
            return None;
        }
        let status = self.child.try_wait().ok().flatten()?;
        self.exited = Some(status);
        Some(status)
    }

    fn signal(&self, signal: libc::c_int) {
        // The child is not reaped until `exited` is set, so its pid cannot
        // have been reused by another process.
        if self.exited.is_none() {
            // SAFETY: kill(2) takes plain integers and touches no memory.
            unsafe {
                libc::kill(self.child.id() as libc::pid_t, signal);
            }
        }
    }
}

#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: runs in the forked child before exec; prctl and getppid are
    // async-signal-safe and nothing is allocated.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(io::Error::last_os_error());
            }
            // zkctl may have died before the prctl took effect.
            if libc::getppid() != parent {
                return Err(io::Error::other("zkctl exited while starting a member"));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_: &mut Command) {}

/// Stops every running member: SIGTERM (zkd flushes and exits), then
/// SIGKILL for any still there after `grace`. Returns the names of those
/// that had to be killed.
pub fn stop_all(members: &mut [RunningMember], grace: Duration) -> Vec<String> {
    for m in members.iter() {
        m.signal(libc::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while members.iter_mut().any(|m| {
        m.newly_exited();
        m.is_running()
    }) && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut killed = Vec::new();
    for m in members.iter_mut().filter(|m| m.is_running()) {
        killed.push(m.member.name.clone());
        m.signal(libc::SIGKILL);
        if let Ok(status) = m.child.wait() {
            m.exited = Some(status);
        }
    }
    killed
}

/// The last `lines` lines of a log file, or why it cannot be read.
pub fn log_tail(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("({}: {e})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str) -> Member {
        Member {
            name: name.into(),
            address: "127.0.0.1".into(),
            myid: 1,
            observer: false,
            client_port: 1,
            quorum_port: 2,
            election_port: 3,
        }
    }

    /// A shell script stands in for zkd: the wrapper is handed
    /// `--config <path>` as zkd would be, and runs the script at that path.
    fn start_script(dir: &Path, name: &str, script: &str) -> RunningMember {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("script.sh");
        fs::write(&path, script).unwrap();
        let wrapper = dir.join("fake-zkd");
        fs::write(&wrapper, "#!/bin/sh\nexec /bin/sh \"$2\"\n").unwrap();
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
        RunningMember::start(&wrapper, &path, dir.join("log"), &member(name)).unwrap()
    }

    fn wait_for_line(log: &Path, line: &str) {
        while !log_tail(log, 1).contains(line) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn stops_with_sigterm_and_kills_what_ignores_it() {
        let (polite_dir, stubborn_dir) =
            (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let polite = start_script(polite_dir.path(), "zk1", "echo started; exec sleep 30\n");
        let stubborn = start_script(
            stubborn_dir.path(),
            "zk2",
            "trap '' TERM; echo started; while :; do sleep 0.05; done\n",
        );
        // Signal only once both scripts run (and the trap is set).
        wait_for_line(&polite_dir.path().join("log"), "started");
        wait_for_line(&stubborn_dir.path().join("log"), "started");
        let mut members = vec![polite, stubborn];
        let killed = stop_all(&mut members, Duration::from_secs(3));
        assert_eq!(killed, ["zk2"], "only the one ignoring SIGTERM is killed");
        assert!(members.iter().all(|m| !m.is_running()));
    }

    #[test]
    fn an_exit_is_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = start_script(dir.path(), "zk1", "echo bye; exit 3\n");
        let status = loop {
            if let Some(status) = m.newly_exited() {
                break status;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(status.code(), Some(3));
        assert_eq!(m.newly_exited(), None);
        assert!(!m.is_running());
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(&path, "a\nb\nc\nd\n").unwrap();
        assert_eq!(log_tail(&path, 2), "c\nd");
        assert_eq!(log_tail(&path, 10), "a\nb\nc\nd");
        assert!(log_tail(&dir.path().join("none"), 2).contains("No such file"));
    }
}
