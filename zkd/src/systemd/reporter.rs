//! What the core loop tells systemd, and when: READY=1 the first time the
//! server can serve clients, STATUS= whenever the one-line summary changes
//! (at once on a role change, otherwise at most once a second), WATCHDOG=1
//! from the loop itself, and EXTEND_TIMEOUT_USEC= while it legitimately
//! waits (for a quorum) so that systemd's start timeout does not kill it.

use super::Notifier;
use sd_notify::NotifyState;
use std::time::{Duration, Instant};

/// How much more start time each EXTEND_TIMEOUT_USEC asks for, and how
/// often it is sent while waiting.
const EXTEND_BY: Duration = Duration::from_secs(20);
const EXTEND_EVERY: Duration = Duration::from_secs(5);
/// A STATUS that only differs in figures waits this long after the last one.
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// The facts the STATUS line reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusFacts {
    /// looking, leader, follower, observer or standalone.
    pub mode: &'static str,
    pub leader: Option<u64>,
    pub zxid: i64,
    pub clients: usize,
    /// Whether clients are served now.
    pub serving: bool,
}

impl StatusFacts {
    /// `mode=follower leader=3 zxid=0x500000001a clients=12`.
    pub fn line(&self) -> String {
        let mut s = format!("mode={}", self.mode);
        if let Some(leader) = self.leader {
            s.push_str(&format!(" leader={leader}"));
        }
        s.push_str(&format!(" zxid=0x{:x} clients={}", self.zxid, self.clients));
        s
    }
}

pub struct Reporter {
    notifier: Notifier,
    ready_sent: bool,
    last_mode: &'static str,
    last_status: String,
    last_status_at: Option<Instant>,
    last_watchdog: Option<Instant>,
    last_extend: Option<Instant>,
}

impl Reporter {
    pub fn new(notifier: Notifier) -> Reporter {
        Reporter {
            notifier,
            ready_sent: false,
            last_mode: "",
            last_status: String::new(),
            last_status_at: None,
            last_watchdog: None,
            last_extend: None,
        }
    }

    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// Called on every turn of the core loop.
    pub fn update(&mut self, facts: &StatusFacts, now: Instant) {
        if !self.notifier.is_enabled() {
            return;
        }
        let line = facts.line();
        let mode_changed = facts.mode != self.last_mode;
        let due = self
            .last_status_at
            .is_none_or(|t| now.duration_since(t) >= STATUS_EVERY);
        if facts.serving && !self.ready_sent {
            self.ready_sent = true;
            self.send_status(line, facts.mode, now, true);
        } else if line != self.last_status && (mode_changed || due) {
            self.send_status(line, facts.mode, now, false);
        }
        if !self.ready_sent
            && self
                .last_extend
                .is_none_or(|t| now.duration_since(t) >= EXTEND_EVERY)
        {
            self.last_extend = Some(now);
            self.notifier
                .send(&[NotifyState::ExtendTimeoutUsec(EXTEND_BY.as_micros() as u32)]);
        }
        if let Some(interval) = self.notifier.watchdog() {
            // Half the interval, as sd_watchdog_enabled(3) advises.
            if self
                .last_watchdog
                .is_none_or(|t| now.duration_since(t) >= interval / 2)
            {
                self.last_watchdog = Some(now);
                self.notifier.send(&[NotifyState::Watchdog]);
            }
        }
    }

    fn send_status(&mut self, line: String, mode: &'static str, now: Instant, ready: bool) {
        if ready {
            self.notifier
                .send(&[NotifyState::Ready, NotifyState::Status(&line)]);
        } else {
            self.notifier.send(&[NotifyState::Status(&line)]);
        }
        self.last_status = line;
        self.last_mode = mode;
        self.last_status_at = Some(now);
    }

    /// SIGHUP: RELOADING=1 with the monotonic time, as Type=notify-reload wants.
    pub fn reloading(&self) {
        let monotonic = NotifyState::monotonic_usec_now().unwrap_or(NotifyState::MonotonicUsec(0));
        self.notifier.send(&[NotifyState::Reloading, monotonic]);
    }

    /// The reload is done.
    pub fn reloaded(&self) {
        self.notifier
            .send(&[NotifyState::Ready, NotifyState::Status(&self.last_status)]);
    }

    pub fn stopping(&self) {
        self.notifier
            .send(&[NotifyState::Stopping, NotifyState::Status("mode=stopping")]);
    }
}

/// Sends EXTEND_TIMEOUT_USEC every few seconds from its own thread until
/// dropped: for work that blocks before the core loop runs (recovering a
/// large dataDir).
pub struct ExtendWhile {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ExtendWhile {
    pub fn start(notifier: &Notifier) -> ExtendWhile {
        if !notifier.is_enabled() {
            return ExtendWhile {
                stop: None,
                thread: None,
            };
        }
        let notifier = notifier.clone();
        let (stop, rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || loop {
            notifier.send(&[NotifyState::ExtendTimeoutUsec(EXTEND_BY.as_micros() as u32)]);
            match rx.recv_timeout(EXTEND_EVERY) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                _ => return,
            }
        });
        ExtendWhile {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for ExtendWhile {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    fn socket() -> (tempfile::TempDir, UnixDatagram, Notifier) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_nonblocking(true).unwrap();
        let notifier = Notifier::to_socket(path, Some(Duration::from_millis(200)));
        (dir, sock, notifier)
    }

    fn received(sock: &UnixDatagram) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 1024];
        while let Ok(n) = sock.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }

    fn facts(mode: &'static str, serving: bool) -> StatusFacts {
        StatusFacts {
            mode,
            leader: None,
            zxid: 0,
            clients: 0,
            serving,
        }
    }

    #[test]
    fn watchdog_pings_come_only_from_loop_turns() {
        let (_dir, sock, notifier) = socket();
        let mut r = Reporter::new(notifier);
        let t0 = Instant::now();
        r.update(&facts("standalone", true), t0);
        let first = received(&sock);
        assert_eq!(
            first[0],
            "READY=1\nSTATUS=mode=standalone zxid=0x0 clients=0\n"
        );
        assert!(first.contains(&"WATCHDOG=1\n".to_string()));
        // Too soon for another ping (half of 200 ms has not passed).
        r.update(&facts("standalone", true), t0 + Duration::from_millis(60));
        assert!(received(&sock).is_empty());
        r.update(&facts("standalone", true), t0 + Duration::from_millis(110));
        assert_eq!(received(&sock), vec!["WATCHDOG=1\n".to_string()]);
        // A stalled loop makes no calls, so nothing is sent however long it stalls:
        // there is no timer thread that could ping on its behalf.
        std::thread::sleep(Duration::from_millis(250));
        assert!(received(&sock).is_empty());
    }

    #[test]
    fn waiting_extends_the_start_timeout_and_a_role_change_updates_status_at_once() {
        let (_dir, sock, notifier) = socket();
        let mut r = Reporter::new(notifier);
        let t0 = Instant::now();
        r.update(&facts("looking", false), t0);
        let msgs = received(&sock);
        assert!(msgs.contains(&"STATUS=mode=looking zxid=0x0 clients=0\n".to_string()));
        assert!(msgs
            .iter()
            .any(|m| m.starts_with("EXTEND_TIMEOUT_USEC=20000000")));
        assert!(!msgs.iter().any(|m| m.contains("READY=1")));
        let mut f = facts("follower", true);
        f.leader = Some(3);
        r.update(&f, t0 + Duration::from_millis(10));
        let msgs = received(&sock);
        assert_eq!(
            msgs[0],
            "READY=1\nSTATUS=mode=follower leader=3 zxid=0x0 clients=0\n"
        );
        // Only the figures changed, within a second: no new STATUS yet.
        f.zxid = 5;
        r.update(&f, t0 + Duration::from_millis(20));
        assert!(!received(&sock).iter().any(|m| m.starts_with("STATUS")));
        // The role changed: at once.
        r.update(&facts("looking", false), t0 + Duration::from_millis(30));
        assert!(received(&sock)
            .iter()
            .any(|m| m == "STATUS=mode=looking zxid=0x0 clients=0\n"));
    }

    #[test]
    fn status_line_reads_like_the_issue_says() {
        let f = StatusFacts {
            mode: "follower",
            leader: Some(3),
            zxid: 0x5_0000_001a,
            clients: 12,
            serving: true,
        };
        assert_eq!(
            f.line(),
            "mode=follower leader=3 zxid=0x50000001a clients=12"
        );
        let s = StatusFacts {
            mode: "standalone",
            leader: None,
            zxid: 0,
            clients: 0,
            serving: true,
        };
        assert_eq!(s.line(), "mode=standalone zxid=0x0 clients=0");
    }
}
