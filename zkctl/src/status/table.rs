//! The report as an aligned text table with a summary under it.

use std::fmt::Write as _;

use super::report::{MemberStatus, Mode, StatusReport};

/// What marks the leader's row.
pub const LEADER_MARK: &str = "*";

struct Column {
    title: &'static str,
    cell: fn(&MemberStatus) -> Option<String>,
}

fn some<T: ToString>(value: &Option<T>) -> Option<String> {
    value.as_ref().map(T::to_string)
}

const COLUMNS: &[Column] = &[
    Column {
        title: "NAME",
        cell: |m| Some(m.name.clone()),
    },
    Column {
        title: "ADDRESS",
        cell: |m| Some(m.address.clone()),
    },
    Column {
        title: "MYID",
        cell: |m| Some(m.myid.to_string()),
    },
    Column {
        title: "MODE",
        cell: |m| {
            Some(match (m.observer, m.mode) {
                // A voter or observer shown in the wrong role says so.
                (true, Mode::Leader | Mode::Follower) => format!("{} (observer?)", m.mode.as_str()),
                (false, Mode::Observer) => "observer (voter?)".into(),
                _ => m.mode.as_str().into(),
            })
        },
    },
    Column {
        title: "ZXID",
        cell: |m| m.zxid.map(|z| format!("0x{z:x}")),
    },
    Column {
        title: "EPOCH",
        cell: |m| some(&m.epoch),
    },
    Column {
        title: "CLIENTS",
        cell: |m| some(&m.clients),
    },
    Column {
        title: "OUTSTANDING",
        cell: |m| some(&m.outstanding),
    },
    Column {
        title: "LATENCY(ms)",
        cell: |m| some(&m.latency),
    },
    Column {
        title: "ZNODES",
        cell: |m| some(&m.znodes),
    },
    Column {
        title: "VERSION",
        cell: |m| some(&m.version),
    },
    Column {
        title: "SYSTEMD",
        cell: |m| some(&m.systemd_state),
    },
    Column {
        title: "STATUS",
        cell: |m| some(&m.systemd_status),
    },
];

/// Columns shown even when no row has a value.
const ALWAYS_SHOWN: usize = 11;

impl StatusReport {
    /// The rows (the leader's marked with `*`), then the summary, the
    /// problems and any notes.
    pub fn table(&self) -> String {
        let columns: Vec<&Column> = COLUMNS
            .iter()
            .enumerate()
            .filter(|(i, c)| {
                *i < ALWAYS_SHOWN || self.members.iter().any(|m| (c.cell)(m).is_some())
            })
            .map(|(_, c)| c)
            .collect();
        let leader = self.summary.leader.as_ref().map(|l| l.name.as_str());
        let mut lines: Vec<Vec<String>> = vec![std::iter::once(String::new())
            .chain(columns.iter().map(|c| c.title.to_string()))
            .collect()];
        for member in &self.members {
            let mark = if Some(member.name.as_str()) == leader {
                LEADER_MARK
            } else {
                ""
            };
            lines.push(
                std::iter::once(mark.to_string())
                    .chain(
                        columns
                            .iter()
                            .map(|c| (c.cell)(member).unwrap_or_else(|| "-".into())),
                    )
                    .collect(),
            );
        }
        let widths: Vec<usize> = (0..lines[0].len())
            .map(|i| {
                lines
                    .iter()
                    .map(|l| l[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for line in &lines {
            let mut text = String::new();
            for (cell, width) in line.iter().zip(&widths) {
                let _ = write!(text, "{cell:<width$}  ");
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out.push_str(&self.summary_line());
        out.push('\n');
        if !self.summary.problems.is_empty() {
            out.push_str("problems:\n");
            for p in &self.summary.problems {
                let _ = writeln!(out, "  - {}", p.message);
            }
        }
        for m in &self.members {
            if let Some(why) = &m.mntr_error {
                let _ = writeln!(
                    out,
                    "note: {}: no mntr ({why}); its quorum checks skipped",
                    m.name
                );
            }
        }
        out
    }

    /// `quorum: yes (3 of 3 voters, 2 needed) · leader: zk2 (myid 2) · ...`
    pub fn summary_line(&self) -> String {
        let s = &self.summary;
        let mut line = format!(
            "quorum: {} ({} of {} voters serving, {} needed)",
            if s.quorum { "yes" } else { "no" },
            s.voters_serving,
            s.voters,
            s.majority
        );
        match &s.leader {
            Some(l) => {
                let _ = write!(line, " · leader: {} (myid {})", l.name, l.myid);
            }
            None => line.push_str(" · leader: none"),
        }
        if s.quorum {
            let n = s.survives_failures;
            let _ = write!(
                line,
                " · survives {n} more failure{}",
                if n == 1 { "" } else { "s" }
            );
        }
        line.push_str(if self.healthy() {
            " · healthy"
        } else {
            " · NOT healthy"
        });
        line
    }
}
