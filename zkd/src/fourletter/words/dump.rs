//! `dump` (sessions, ephemerals, connections) and the watch words `wchs`,
//! `wchc`, `wchp` (3.8's `DumpCommand`, `ExpiryQueue.dump`,
//! `DataTree.dumpEphemerals` and `WatchManager`'s dumps).

use crate::fourletter::java;
use crate::fourletter::source::{ConnRef, ExpiryBucket, SessionDump, WatchSummary};
use std::fmt::Write;

pub fn dump(
    sessions: &SessionDump,
    ephemerals: &[(i64, Vec<String>)],
    connections: &[ExpiryBucket<ConnRef>],
) -> String {
    let mut out = String::from("SessionTracker dump:\n");
    let session_text = |id: &i64| format!("0x{}", java::hex(*id));
    match sessions {
        SessionDump::Expiry { local, sessions } => {
            if let Some(local) = local {
                out.push_str("Local Session ");
                expiry_queue(&mut out, local, session_text);
                out.push_str("Global ");
            }
            out.push_str("Session ");
            expiry_queue(&mut out, sessions, session_text);
        }
        SessionDump::Learner { local, sessions } => {
            if let Some(local) = local {
                out.push_str("Local Session ");
                expiry_queue(&mut out, local, session_text);
            }
            let _ = writeln!(out, "Global Sessions({}):", sessions.len());
            let mut sorted = sessions.clone();
            sorted.sort_unstable();
            for (id, timeout_ms) in sorted {
                let _ = writeln!(out, "0x{}\t{}ms", java::hex(id), timeout_ms);
            }
        }
    }
    out.push_str("ephemeral nodes dump:\n");
    let _ = writeln!(out, "Sessions with Ephemerals ({}):", ephemerals.len());
    for (session, paths) in ephemerals {
        let _ = writeln!(out, "0x{}:", java::hex(*session));
        for path in paths {
            let _ = writeln!(out, "\t{path}");
        }
    }
    out.push_str("Connections dump:\nConnections ");
    expiry_queue(&mut out, connections, |c: &ConnRef| {
        format!(
            "ip: {} sessionId: 0x{}",
            java::socket_addr_to_string(&c.remote),
            java::hex(c.session_id)
        )
    });
    out
}

/// `ExpiryQueue.dump`: bucket and element counts, then each bucket in time
/// order with its expiry date and one tab-indented line per element.
fn expiry_queue<T>(out: &mut String, buckets: &[ExpiryBucket<T>], text: impl Fn(&T) -> String) {
    let elements: usize = buckets.iter().map(|b| b.items.len()).sum();
    let _ = writeln!(out, "Sets ({})/({}):", buckets.len(), elements);
    let mut sorted: Vec<&ExpiryBucket<T>> = buckets.iter().collect();
    sorted.sort_by_key(|b| b.expires_at_ms);
    for bucket in sorted {
        let _ = writeln!(
            out,
            "{} expire at {}:",
            bucket.items.len(),
            java::date_to_string(bucket.expires_at_ms)
        );
        for item in &bucket.items {
            let _ = writeln!(out, "\t{}", text(item));
        }
    }
}

/// `wchs`.
pub fn wchs(s: &WatchSummary) -> String {
    format!(
        "{} connections watching {} paths\nTotal watches:{}\n",
        s.connections, s.paths, s.watches
    )
}

/// `wchc`: each session, then its watched paths; an empty line at the end.
pub fn wchc(by_session: &[(i64, Vec<String>)]) -> String {
    let mut out = String::new();
    for (session, paths) in by_session {
        let _ = writeln!(out, "0x{}", java::hex(*session));
        for path in paths {
            let _ = writeln!(out, "\t{path}");
        }
    }
    out.push('\n');
    out
}

/// `wchp`: each path, then the sessions watching it; an empty line at the end.
pub fn wchp(by_path: &[(String, Vec<i64>)]) -> String {
    let mut out = String::new();
    for (path, sessions) in by_path {
        let _ = writeln!(out, "{path}");
        for session in sessions {
            let _ = writeln!(out, "\t0x{}", java::hex(*session));
        }
    }
    out.push('\n');
    out
}
