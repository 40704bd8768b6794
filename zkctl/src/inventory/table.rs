//! The inventory as `zkctl validate` shows it: a members table and the SSH
//! settings, so an operator sees what zkctl understood.

use std::fmt::Write as _;
use std::time::Duration;

use super::Inventory;
use crate::model::HostKeyPolicy;

impl Inventory {
    /// One row per host, plus a line about voters and one about SSH.
    pub fn describe(&self) -> String {
        let header = [
            "NAME", "ADDRESS", "MYID", "ROLE", "CLIENT", "QUORUM", "ELECTION", "DATA DIR",
        ];
        let rows: Vec<[String; 8]> = self
            .hosts()
            .iter()
            .map(|h| {
                let dirs = match &h.data_log_dir {
                    Some(log) if *log != h.data_dir => {
                        format!("{} (log {})", h.data_dir.display(), log.display())
                    }
                    _ => h.data_dir.display().to_string(),
                };
                [
                    h.name.clone(),
                    h.address.clone(),
                    h.myid.to_string(),
                    h.role.to_string(),
                    h.client_port.to_string(),
                    h.quorum_port.to_string(),
                    h.election_port.to_string(),
                    dirs,
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cells: &[String]| {
            let mut text = String::new();
            for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
                if i + 1 == cells.len() {
                    text.push_str(cell);
                } else {
                    let _ = write!(text, "{cell:<w$}  ");
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&header.map(String::from));
        for row in &rows {
            line(row);
        }
        let voters = self.hosts().iter().filter(|h| !h.is_observer()).count();
        let observers = self.hosts().len() - voters;
        let _ = writeln!(
            out,
            "\nensemble {}: {voters} voter{}, {observers} observer{}; survives {} failure{}",
            self.ensemble_name(),
            plural(voters),
            plural(observers),
            voters.saturating_sub(1) / 2,
            plural(voters.saturating_sub(1) / 2),
        );
        let ssh = self.ssh_settings();
        let auth = match (&ssh.identity, ssh.use_agent) {
            (Some(key), true) => format!("key {} or agent", key.display()),
            (Some(key), false) => format!("key {}", key.display()),
            (None, _) => "agent".to_string(),
        };
        let policy = match ssh.host_key_policy {
            HostKeyPolicy::Strict => "strict",
            HostKeyPolicy::AcceptNew => "accept-new",
        };
        let _ = writeln!(
            out,
            "ssh: {}@<address>:{} via {auth}; host keys {policy} ({}){}; timeouts {} connect, {} per command",
            ssh.user,
            ssh.port,
            ssh.known_hosts.display(),
            if ssh.sudo { "; sudo" } else { "" },
            show(ssh.connect_timeout),
            show(ssh.command_timeout),
        );
        out
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn show(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        format!("{ms}ms")
    } else if !ms.is_multiple_of(60_000) || ms == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{}m", ms / 60_000)
    }
}
