//! The status of an ensemble: one row per member and a summary. Field
//! names are part of `--json`'s output: keep them stable.

use serde::Serialize;

use super::answers::{Latency, ServingMode};
use super::summary::summarize;

/// What a member is doing, as far as its client port tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Leader,
    Follower,
    Observer,
    Standalone,
    ReadOnly,
    /// Answers, but serves no clients: electing a leader or without a quorum.
    NotServing,
    /// No answer: nothing listening, a timeout, an unresolvable address.
    Unreachable,
    /// An answer that is not ZooKeeper's (see the row's `error`).
    BadAnswer,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Leader => "leader",
            Mode::Follower => "follower",
            Mode::Observer => "observer",
            Mode::Standalone => "standalone",
            Mode::ReadOnly => "read-only",
            Mode::NotServing => "not serving",
            Mode::Unreachable => "unreachable",
            Mode::BadAnswer => "bad answer",
        }
    }

    /// Leading or following: counted towards a quorum.
    pub fn in_quorum(self) -> bool {
        matches!(self, Mode::Leader | Mode::Follower)
    }
}

impl From<ServingMode> for Mode {
    fn from(mode: ServingMode) -> Mode {
        match mode {
            ServingMode::Leader => Mode::Leader,
            ServingMode::Follower => Mode::Follower,
            ServingMode::Observer => Mode::Observer,
            ServingMode::Standalone => Mode::Standalone,
            ServingMode::ReadOnly => Mode::ReadOnly,
        }
    }
}

/// One member's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberStatus {
    pub name: String,
    /// `host:port` of the client port probed.
    pub address: String,
    pub myid: u64,
    /// As configured: a voter unless an observer.
    pub observer: bool,
    pub mode: Mode,
    /// Why the member is unreachable or its answer unusable.
    pub error: Option<String>,
    /// The last transaction applied, `0x...` as ZooKeeper prints it.
    #[serde(serialize_with = "zxid_hex")]
    pub zxid: Option<u64>,
    /// The zxid's high 32 bits: the leader term that wrote it.
    pub epoch: Option<u32>,
    /// Client connections, not counting this probe's own.
    pub clients: Option<u64>,
    /// Requests queued and not yet answered.
    pub outstanding: Option<u64>,
    /// Request latency in ms since the counters were last reset.
    pub latency: Option<Latency>,
    pub znodes: Option<u64>,
    pub version: Option<String>,
    /// From `mntr`, e.g. `following - broadcast`.
    pub peer_state: Option<String>,
    /// From `mntr`: how many voters this member's configuration lists.
    pub quorum_size: Option<u64>,
    /// From a leader's `mntr`.
    pub synced_followers: Option<u64>,
    pub synced_observers: Option<u64>,
    /// Why `mntr` gave nothing (e.g. not whitelisted); the checks that
    /// need it are skipped for this member.
    pub mntr_error: Option<String>,
    /// The systemd unit's state (`active`, `activating`, `failed`, ...),
    /// when it was asked for over SSH.
    pub systemd_state: Option<String>,
    /// The unit's STATUS line (`mode=follower leader=3 zxid=... clients=...`).
    pub systemd_status: Option<String>,
}

fn zxid_hex<S: serde::Serializer>(zxid: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match zxid {
        Some(z) => s.serialize_str(&format!("0x{z:x}")),
        None => s.serialize_none(),
    }
}

impl MemberStatus {
    /// A row with only the member's identity and `mode`; the probe fills
    /// in what the member answers.
    pub fn new(member: &crate::model::Member, mode: Mode) -> MemberStatus {
        MemberStatus {
            name: member.name.clone(),
            address: member.client_endpoint(),
            myid: member.myid,
            observer: member.observer,
            mode,
            error: None,
            zxid: None,
            epoch: None,
            clients: None,
            outstanding: None,
            latency: None,
            znodes: None,
            version: None,
            peer_state: None,
            quorum_size: None,
            synced_followers: None,
            synced_observers: None,
            mntr_error: None,
            systemd_state: None,
            systemd_status: None,
        }
    }
}

/// Who leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaderRef {
    pub name: String,
    pub myid: u64,
}

/// The kinds of problem, for scripts that read `--json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    NoQuorum,
    NoLeader,
    SeveralLeaders,
    /// Unreachable, not serving, or an answer that could not be read.
    MemberDown,
    /// A voter that observes or runs standalone, an observer that votes.
    WrongRole,
    EpochMismatch,
    LeaderDisagreement,
    /// A member whose configuration lists other voters than ours.
    MembershipMismatch,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Whether a majority of the voters lead or follow.
    pub quorum: bool,
    pub voters: usize,
    /// Voters leading or following.
    pub voters_serving: usize,
    /// Voters needed for a quorum.
    pub majority: usize,
    /// The leader, when exactly one member leads.
    pub leader: Option<LeaderRef>,
    /// How many more voters may fail with the quorum kept; 0 without one.
    pub survives_failures: usize,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    pub members: Vec<MemberStatus>,
    pub summary: Summary,
    /// Exactly one leader, every other voter following, observers
    /// observing, all at the leader's epoch (see [`StatusReport::healthy`]).
    pub healthy: bool,
}

impl StatusReport {
    /// A report over `members`' rows, with the summary worked out from them.
    pub fn new(members: Vec<MemberStatus>) -> StatusReport {
        let summary = summarize(&members);
        let healthy = summary.problems.is_empty() && summary.leader.is_some();
        StatusReport {
            members,
            summary,
            healthy,
        }
    }

    /// Exactly one leader, every other voter following, observers
    /// observing, all at the leader's epoch: every problem the summary can
    /// find makes this false.
    pub fn healthy(&self) -> bool {
        self.healthy
    }

    /// Adds what systemd says about `name`'s unit and works the summary
    /// out again (a STATUS line naming another leader is a problem).
    /// Returns false when no member has that name.
    #[allow(dead_code)] // for status over SSH, which knows the units
    pub fn set_systemd(
        &mut self,
        name: &str,
        state: Option<String>,
        status_line: Option<String>,
    ) -> bool {
        let Some(row) = self.members.iter_mut().find(|m| m.name == name) else {
            return false;
        };
        row.systemd_state = state;
        row.systemd_status = status_line;
        *self = StatusReport::new(std::mem::take(&mut self.members));
        true
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a status report always serializes")
    }
}
