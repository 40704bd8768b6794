//! systemd integration: what zkd tells its service manager through
//! sd_notify (readiness, a one-line status, watchdog pings, reloads, stops),
//! and where its logs go (the journal, with fields, or plain stderr).
//!
//! `NOTIFY_SOCKET` and the watchdog variables are taken out of the
//! environment at start-up, before any thread exists, so nothing zkd ever
//! starts could inherit them and speak for it.

mod logging;
mod reporter;

pub use logging::{init_logging, LogHandle};
pub use reporter::{ExtendWhile, Reporter, StatusFacts};

use sd_notify::NotifyState;
use std::ffi::OsString;
use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Arc;
use std::time::Duration;

/// Where notifications go; cheap to clone.
#[derive(Clone, Default)]
pub struct Notifier {
    target: Option<Arc<OsString>>,
    watchdog: Option<Duration>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("socket", &self.target)
            .field("watchdog", &self.watchdog)
            .finish()
    }
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`, then
    /// removes them from the environment.
    ///
    /// # Safety
    /// Changes the environment: call it before any other thread starts.
    pub unsafe fn take_from_env() -> Notifier {
        let watchdog = sd_notify::watchdog_enabled();
        let target = std::env::var_os("NOTIFY_SOCKET").filter(|s| !s.is_empty());
        // SAFETY: the caller guarantees no other thread runs yet.
        unsafe {
            std::env::remove_var("NOTIFY_SOCKET");
            std::env::remove_var("WATCHDOG_USEC");
            std::env::remove_var("WATCHDOG_PID");
        }
        Notifier {
            target: target.map(Arc::new),
            watchdog,
        }
    }

    /// A notifier that sends to `socket` (tests), with an optional watchdog.
    pub fn to_socket(socket: impl Into<OsString>, watchdog: Option<Duration>) -> Notifier {
        Notifier {
            target: Some(Arc::new(socket.into())),
            watchdog,
        }
    }

    /// Whether a service manager listens.
    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// WatchdogSec as systemd passed it, if set.
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Sends one message made of `states`; failures are logged, never fatal
    /// (a service manager that went away must not take zkd with it).
    pub fn send(&self, states: &[NotifyState<'_>]) {
        let Some(path) = &self.target else {
            return;
        };
        let mut msg = String::new();
        for s in states {
            msg.push_str(&s.to_string());
            msg.push('\n');
        }
        if let Err(e) = send_datagram(path, msg.as_bytes()) {
            tracing::warn!(error = %e, "cannot notify the service manager");
        }
    }
}

fn send_datagram(path: &OsString, msg: &[u8]) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)?
        }
        None => SocketAddr::from_pathname(std::path::Path::new(path))?,
    };
    let sock = UnixDatagram::unbound()?;
    let sent = sock.send_to_addr(msg, &addr)?;
    if sent != msg.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "incomplete notification",
        ));
    }
    Ok(())
}
