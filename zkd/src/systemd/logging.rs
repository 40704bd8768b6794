//! Where logs go. Under systemd, when stderr *is* the journal stream
//! (`JOURNAL_STREAM` names stderr's device and inode), events go to the
//! journal natively, each with its fields as journal fields (MYID on every
//! line; MODE, ZXID, SESSION_ID where an event has them). Anywhere else,
//! human-readable lines on stderr. The level can change while running.

use std::os::unix::fs::MetadataExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// Changes the log filter of a running process (SIGHUP reload).
pub struct LogHandle {
    reload: reload::Handle<EnvFilter, Registry>,
    journal: bool,
}

impl LogHandle {
    /// `spec` is a level (`info`) or a RUST_LOG-style filter.
    pub fn set_filter(&self, spec: &str) -> Result<(), String> {
        let filter = EnvFilter::try_new(spec).map_err(|e| format!("log level '{spec}': {e}"))?;
        self.reload.reload(filter).map_err(|e| e.to_string())
    }

    /// Whether events go to the journal.
    pub fn is_journal(&self) -> bool {
        self.journal
    }
}

/// Whether stderr is connected to the journal, as sd_journal_stream_fd(3)
/// documents the check.
fn stderr_is_journal() -> bool {
    let Ok(stream) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = stream.split_once(':') else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    match std::fs::metadata("/proc/self/fd/2") {
        Ok(m) => m.dev() == dev && m.ino() == ino,
        Err(_) => false,
    }
}

/// Installs the global subscriber. `RUST_LOG`, when set, wins over `level`.
/// `myid` goes on every journal entry.
pub fn init_logging(level: &str, myid: Option<u64>) -> LogHandle {
    let spec = std::env::var("RUST_LOG").unwrap_or_else(|_| level.to_owned());
    let filter = EnvFilter::try_new(&spec).unwrap_or_else(|_| EnvFilter::new("info"));
    let (filter, reload) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    if stderr_is_journal() {
        match tracing_journald::layer() {
            Ok(journal) => {
                let mut journal = journal
                    .with_field_prefix(None)
                    .with_syslog_identifier("zkd".into());
                if let Some(id) = myid {
                    journal = journal.with_custom_fields([("MYID", id.to_string())]);
                }
                registry.with(journal).init();
                return LogHandle {
                    reload,
                    journal: true,
                };
            }
            Err(e) => eprintln!("zkd: cannot reach the journal ({e}); logging to stderr"),
        }
    }
    registry
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .init();
    LogHandle {
        reload,
        journal: false,
    }
}
