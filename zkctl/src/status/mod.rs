//! `zkctl status`: how an ensemble is doing, from `srvr` and `mntr` on
//! every member's client port.
//!
//! [`status`] probes all members at once and returns a [`StatusReport`]:
//! one row per member (unreachable and not-serving members included) and a
//! summary with the quorum, the leader, how many more failures the
//! ensemble survives and the problems found. The report renders as a table
//! ([`StatusReport::table`]) or JSON ([`StatusReport::to_json`]).
//!
//! Module map: `answers` (reading srvr/mntr), `probe` (one member),
//! `report` (the types), `summary` (the verdict), `table`, `zoo_cfg`
//! (members from a zoo.cfg's server lines).

mod answers;
mod probe;
mod report;
mod summary;
mod table;
#[cfg(test)]
mod tests;
mod zoo_cfg;

use std::time::Duration;

use crate::model::Member;

// The API `zkctl status inventory.toml` and deploy build on.
#[allow(unused_imports)]
pub use answers::Latency;
pub use probe::probe_with;
#[allow(unused_imports)]
pub use report::{LeaderRef, MemberStatus, Mode, Problem, ProblemKind, StatusReport, Summary};
pub use zoo_cfg::members_from_zoo_cfg;

/// How to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusOptions {
    /// The longest each connect, and each answer, may take.
    pub timeout: Duration,
}

impl Default for StatusOptions {
    fn default() -> Self {
        StatusOptions {
            timeout: Duration::from_secs(2),
        }
    }
}

/// Probes every member at once and sums up.
pub fn status(members: &[Member], opts: &StatusOptions) -> StatusReport {
    let rows = std::thread::scope(|scope| {
        let probes: Vec<_> = members
            .iter()
            .map(|m| (m, scope.spawn(|| probe::probe(m, opts.timeout))))
            .collect();
        probes
            .into_iter()
            .map(|(member, probe)| {
                probe.join().unwrap_or_else(|_| {
                    let mut row = MemberStatus::new(member, Mode::BadAnswer);
                    row.error = Some("probing it failed unexpectedly".into());
                    row
                })
            })
            .collect()
    });
    StatusReport::new(rows)
}
