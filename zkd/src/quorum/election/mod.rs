//! Fast leader election, as ZooKeeper 3.8's `FastLeaderElection` runs it,
//! as a deterministic state machine: no sockets and no clock. Time comes in
//! as `now_ms`, received message bodies come in through
//! [`Election::on_message`], and what to send or what was decided comes out
//! of [`Election::poll_action`]. [`crate::server::election_links`] drives it
//! over 3.8's election connections.
//!
//! One [`Election`] lives as long as the server: between rounds it keeps
//! answering looking peers with the vote it settled on, as 3.8's receiver
//! thread does, so that a late server can learn who leads.
//!
//! The algorithm, in short: each looking server votes for itself and tells
//! every voter; on hearing a better candidate (higher peer epoch, then zxid,
//! then id) in the same round it switches and tells everyone again; a higher
//! round from anyone restarts its tally in that round. Once a quorum of
//! voters backs its own choice it waits `finalize_wait_ms` for anything
//! better and, hearing nothing, decides. Servers that are already following
//! or leading answer with their settled vote; a looking server adopts it
//! when a quorum reports the same leader and the leader itself says it leads.

mod config_text;
pub mod notification;
mod tally;
pub mod vote;

#[cfg(test)]
mod tests;

pub use config_text::quorum_config_text;
pub use notification::{Notification, NotificationError};
pub use vote::{ServerState, Vote, NO_CANDIDATE};

use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use tally::{has_quorum, Ballot};

/// Who takes part and how long to wait.
#[derive(Debug, Clone)]
pub struct ElectionConfig {
    pub my_id: u64,
    pub voters: BTreeSet<u64>,
    pub observers: BTreeSet<u64>,
    /// Sent in every notification (see [`quorum_config_text`]).
    pub config_bytes: Bytes,
    /// The `version` inside `config_bytes`.
    pub config_version: i64,
    /// How long a quorum must stand unchallenged before deciding; also the
    /// first resend interval (3.8: 200 ms for both).
    pub finalize_wait_ms: u64,
    /// The cap of the doubling resend interval (3.8: 60000 ms).
    pub max_notification_interval_ms: u64,
}

impl ElectionConfig {
    /// A configuration with 3.8's timings and the config text a 3.8 server
    /// of the same server list would send, e.g.
    /// `ElectionConfig::new(my_id, zoo_cfg.servers.values(), 0)`.
    pub fn new<'a>(
        my_id: u64,
        servers: impl IntoIterator<Item = &'a crate::config::ServerSpec>,
        config_version: i64,
    ) -> Self {
        use crate::config::PeerRole;
        let servers: Vec<&crate::config::ServerSpec> = servers.into_iter().collect();
        let ids = |role| {
            servers
                .iter()
                .filter(|s| s.role == role)
                .map(|s| s.id)
                .collect()
        };
        ElectionConfig {
            my_id,
            voters: ids(PeerRole::Participant),
            observers: ids(PeerRole::Observer),
            config_bytes: Bytes::from(quorum_config_text(servers.iter().copied(), config_version)),
            config_version,
            finalize_wait_ms: 200,
            max_notification_interval_ms: 60_000,
        }
    }
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElectionAction {
    /// Send a notification body to a peer; the shell adds the length prefix.
    Send { to: u64, message: Bytes },
    /// The round is over: this server now has `state` (leading, following
    /// or observing) under `vote`.
    Decided { vote: Vote, state: ServerState },
}

/// The votes and timers of one round (one call of 3.8's `lookForLeader`).
struct Round {
    /// Votes in this round, by sender (3.8's `recvset`).
    received: BTreeMap<u64, Ballot>,
    /// Votes of followers and leaders from any round (3.8's `outofelection`).
    out_of_election: BTreeMap<u64, Ballot>,
    /// How long to wait for a notification before resending ours.
    notification_timeout_ms: u64,
    poll_deadline: u64,
    /// Set while a quorum backs our proposal and we wait for anything better.
    finalize_deadline: Option<u64>,
}

/// One server's leader election.
pub struct Election {
    cfg: ElectionConfig,
    state: ServerState,
    logical_clock: i64,
    /// The candidate we vote for in this round (its `election_epoch` is
    /// unused: notifications carry the logical clock instead).
    proposal: Vote,
    /// Our own candidacy: ourselves, or nobody for an observer.
    own: Vote,
    /// The vote the server settled on (3.8's `QuorumPeer.currentVote`).
    settled: Vote,
    /// Whether `settled` holds a real vote yet.
    has_vote: bool,
    round: Option<Round>,
    /// Notifications received while looking but before the first round,
    /// kept (the latest per sender) for that round, as 3.8's queue keeps them.
    early: Vec<(u64, Notification)>,
    /// Our own notifications: 3.8 sends itself its votes and counts them
    /// like any other.
    loopback: VecDeque<Notification>,
    actions: VecDeque<ElectionAction>,
}

impl Election {
    pub fn new(cfg: ElectionConfig) -> Self {
        let unknown = Vote {
            leader: cfg.my_id,
            zxid: -1,
            election_epoch: -1,
            peer_epoch: -1,
        };
        Election {
            cfg,
            state: ServerState::Looking,
            logical_clock: 0,
            proposal: unknown,
            own: unknown,
            settled: unknown,
            has_vote: false,
            round: None,
            early: Vec::new(),
            loopback: VecDeque::new(),
            actions: VecDeque::new(),
        }
    }

    fn is_voter(&self) -> bool {
        self.cfg.voters.contains(&self.cfg.my_id)
    }

    /// Start (or restart) looking: new round, vote for self (observers: as
    /// 3.8 does), send to all.
    ///
    /// An observer (or a server in no list) proposes nobody
    /// ([`NO_CANDIDATE`], with the lowest zxid and epoch) and so adopts the
    /// first voter's candidate it hears of.
    pub fn look(&mut self, last_logged_zxid: i64, current_epoch: i64, now_ms: u64) {
        if !self.has_vote {
            // 3.8 starts with a vote for itself before any round; it is what
            // non-voters hear until a round ends.
            self.settled = Vote {
                leader: self.cfg.my_id,
                zxid: last_logged_zxid,
                election_epoch: -1,
                peer_epoch: current_epoch,
            };
            self.has_vote = true;
        }
        self.own = if self.is_voter() {
            Vote {
                leader: self.cfg.my_id,
                zxid: last_logged_zxid,
                election_epoch: -1,
                peer_epoch: current_epoch,
            }
        } else {
            Vote {
                leader: NO_CANDIDATE,
                zxid: i64::MIN,
                election_epoch: -1,
                peer_epoch: i64::MIN,
            }
        };
        self.logical_clock += 1;
        self.proposal = self.own;
        self.state = ServerState::Looking;
        self.loopback.clear();
        let timeout = self.cfg.finalize_wait_ms;
        self.round = Some(Round {
            received: BTreeMap::new(),
            out_of_election: BTreeMap::new(),
            notification_timeout_ms: timeout,
            poll_deadline: now_ms + timeout,
            finalize_deadline: None,
        });
        tracing::info!(
            my_id = self.cfg.my_id,
            round = self.logical_clock,
            zxid = format_args!("0x{:x}", last_logged_zxid),
            "new election"
        );
        self.send_notifications();
        for (from, n) in std::mem::take(&mut self.early) {
            self.receive(from, n, now_ms);
        }
        self.drain_loopback(now_ms);
    }

    /// The peer settled on a role outside election (e.g. it now LEADS/FOLLOWS);
    /// from here on notifications from LOOKING peers are answered with this
    /// vote and state, as 3.8's WorkerReceiver does.
    ///
    /// Ends any round in progress without a decision. `Looking` is not a
    /// settled state: to look, call [`Election::look`]; such a call is
    /// ignored with a warning.
    pub fn settle(&mut self, vote: Vote, state: ServerState) {
        if state == ServerState::Looking {
            tracing::warn!("settle(LOOKING) ignored: call look() to start a round");
            return;
        }
        self.settled = vote;
        self.has_vote = true;
        self.state = state;
        self.round = None;
        self.loopback.clear();
        self.early.clear();
    }

    /// Handles a notification body from peer `from`. A body that cannot be
    /// decoded is reported and otherwise ignored, as 3.8 skips it.
    pub fn on_message(
        &mut self,
        from: u64,
        body: &[u8],
        now_ms: u64,
    ) -> Result<(), NotificationError> {
        let n = notification::decode(body)?;
        self.receive(from, n, now_ms);
        self.drain_loopback(now_ms);
        Ok(())
    }

    /// Handles the passing of time: decides once the finalize wait is over,
    /// or resends our vote when no notification came for a while, doubling
    /// the wait each time up to `max_notification_interval_ms`.
    pub fn on_timer(&mut self, now_ms: u64) {
        let Some(round) = self.round.as_mut() else {
            return;
        };
        if let Some(deadline) = round.finalize_deadline {
            if now_ms >= deadline {
                let vote = self.proposal_with_clock();
                self.decide(vote);
            }
            return;
        }
        if now_ms < round.poll_deadline {
            return;
        }
        round.notification_timeout_ms = round
            .notification_timeout_ms
            .saturating_mul(2)
            .min(self.cfg.max_notification_interval_ms);
        round.poll_deadline = now_ms + round.notification_timeout_ms;
        tracing::debug!(
            my_id = self.cfg.my_id,
            next_ms = round.notification_timeout_ms,
            "no notification in time; sending ours again"
        );
        self.send_notifications();
        self.drain_loopback(now_ms);
    }

    /// When [`Election::on_timer`] must next be called, if a round is on.
    pub fn next_deadline(&self) -> Option<u64> {
        self.round
            .as_ref()
            .map(|r| r.finalize_deadline.unwrap_or(r.poll_deadline))
    }

    pub fn poll_action(&mut self) -> Option<ElectionAction> {
        self.actions.pop_front()
    }

    pub fn state(&self) -> ServerState {
        self.state
    }

    /// While looking, the candidate we currently vote for (in this round);
    /// otherwise the vote we decided or settled on.
    pub fn current_vote(&self) -> Vote {
        if self.round.is_some() {
            self.proposal_with_clock()
        } else {
            self.settled
        }
    }

    pub fn logical_clock(&self) -> i64 {
        self.logical_clock
    }

    fn proposal_with_clock(&self) -> Vote {
        Vote {
            election_epoch: self.logical_clock,
            ..self.proposal
        }
    }

    fn send(&mut self, to: u64, state: ServerState, vote: Vote) {
        let message = notification::encode(state, &vote, &self.cfg.config_bytes);
        self.actions.push_back(ElectionAction::Send { to, message });
    }

    /// Tells every voter (ourselves included) our proposal.
    fn send_notifications(&mut self) {
        let vote = self.proposal_with_clock();
        let voters: Vec<u64> = self.cfg.voters.iter().copied().collect();
        for to in voters {
            if to == self.cfg.my_id {
                self.loopback.push_back(Notification {
                    state: ServerState::Looking,
                    vote,
                    version: notification::CURRENT_VERSION,
                    config: Some(self.cfg.config_bytes.clone()),
                });
            } else {
                self.send(to, ServerState::Looking, vote);
            }
        }
    }

    fn drain_loopback(&mut self, now_ms: u64) {
        while let Some(n) = self.loopback.pop_front() {
            self.receive(self.cfg.my_id, n, now_ms);
        }
    }

    /// What 3.8's receiver thread does with every notification: answer
    /// non-voters and lagging or looking peers, and pass voters' votes to
    /// the round.
    fn receive(&mut self, from: u64, n: Notification, now_ms: u64) {
        if !self.cfg.voters.contains(&from) {
            // Observers learn the leader from these answers.
            let vote = Vote {
                election_epoch: self.logical_clock,
                ..self.settled
            };
            self.reply(from, self.state, vote);
            return;
        }
        if self.state != ServerState::Looking {
            if n.state == ServerState::Looking {
                self.reply(from, self.state, self.settled);
            }
            return;
        }
        if n.state == ServerState::Looking && n.vote.election_epoch < self.logical_clock {
            // Help a peer in an older round catch up.
            self.reply(from, ServerState::Looking, self.proposal_with_clock());
        }
        if self.round.is_some() {
            self.consider(from, n, now_ms);
        } else {
            self.early.retain(|(sid, _)| *sid != from);
            self.early.push((from, n));
        }
    }

    fn reply(&mut self, to: u64, state: ServerState, vote: Vote) {
        if to == self.cfg.my_id {
            self.loopback.push_back(Notification {
                state,
                vote,
                version: notification::CURRENT_VERSION,
                config: Some(self.cfg.config_bytes.clone()),
            });
        } else {
            self.send(to, state, vote);
        }
    }

    /// One pass of 3.8's `lookForLeader` loop over a voter's notification.
    fn consider(&mut self, from: u64, n: Notification, now_ms: u64) {
        let Some(round) = self.round.as_mut() else {
            return;
        };
        if round.finalize_deadline.is_some() {
            if !self.proposal.is_beaten_by(&n.vote, &self.cfg.voters) {
                // Nothing better: keep waiting, from now.
                round.finalize_deadline = Some(now_ms + self.cfg.finalize_wait_ms);
                return;
            }
            round.finalize_deadline = None;
        }
        round.poll_deadline = now_ms + round.notification_timeout_ms;
        if !self.cfg.voters.contains(&n.vote.leader) {
            tracing::debug!(
                from,
                leader = n.vote.leader,
                "ignoring a vote for a non-voter"
            );
            return;
        }
        match n.state {
            ServerState::Looking => self.consider_looking(from, n, now_ms),
            ServerState::Observing => {}
            ServerState::Following | ServerState::Leading => self.consider_settled(from, n),
        }
    }

    fn consider_looking(&mut self, from: u64, n: Notification, now_ms: u64) {
        // 3.8 will not elect with an unknown history on either side.
        if self.own.zxid == -1 || n.vote.zxid == -1 {
            return;
        }
        let voters = &self.cfg.voters;
        if n.vote.election_epoch > self.logical_clock {
            self.logical_clock = n.vote.election_epoch;
            if let Some(round) = self.round.as_mut() {
                round.received.clear();
            }
            self.proposal = if self.own.is_beaten_by(&n.vote, voters) {
                n.vote
            } else {
                self.own
            };
            self.send_notifications();
        } else if n.vote.election_epoch < self.logical_clock {
            return;
        } else if self.proposal.is_beaten_by(&n.vote, voters) {
            self.proposal = n.vote;
            self.send_notifications();
        }
        let target = Ballot {
            vote: self.proposal_with_clock(),
            version: 0,
            state: ServerState::Looking,
        };
        let Some(round) = self.round.as_mut() else {
            return;
        };
        round.received.insert(
            from,
            Ballot {
                vote: n.vote,
                version: 0,
                state: ServerState::Looking,
            },
        );
        if has_quorum(&round.received, &target, &self.cfg.voters) {
            round.finalize_deadline = Some(now_ms + self.cfg.finalize_wait_ms);
        }
    }

    /// A follower or leader told us its vote: join it once a quorum agrees
    /// and the leader is known to lead.
    fn consider_settled(&mut self, from: u64, n: Notification) {
        let target = Ballot {
            vote: n.vote,
            version: n.version,
            state: n.state,
        };
        let (my_id, clock) = (self.cfg.my_id, self.logical_clock);
        let voters = &self.cfg.voters;
        let Some(round) = self.round.as_mut() else {
            return;
        };
        if n.vote.election_epoch == clock {
            let ballot = Ballot {
                version: 0,
                ..target
            };
            round.received.insert(from, ballot);
            if has_quorum(&round.received, &target, voters)
                && leader_confirmed(my_id, clock, &round.received, &n.vote)
            {
                self.decide(n.vote);
                return;
            }
        }
        // Votes from earlier rounds count too: a server that comes late
        // joins the ensemble the others already formed.
        round.out_of_election.insert(from, target);
        if has_quorum(&round.out_of_election, &target, voters)
            && leader_confirmed(my_id, clock, &round.out_of_election, &n.vote)
        {
            self.logical_clock = n.vote.election_epoch;
            self.decide(n.vote);
        }
    }

    fn decide(&mut self, vote: Vote) {
        let state = if vote.leader == self.cfg.my_id {
            ServerState::Leading
        } else if self.is_voter() {
            ServerState::Following
        } else {
            ServerState::Observing
        };
        tracing::info!(my_id = self.cfg.my_id, %vote, %state, "election decided");
        self.state = state;
        self.settled = vote;
        self.has_vote = true;
        self.round = None;
        self.loopback.clear();
        self.actions
            .push_back(ElectionAction::Decided { vote, state });
    }
}

/// 3.8's `checkLeader`: another server must itself have said it leads; if we
/// are the leader, the vote must be from our current round.
fn leader_confirmed(my_id: u64, clock: i64, ballots: &BTreeMap<u64, Ballot>, vote: &Vote) -> bool {
    if vote.leader != my_id {
        ballots
            .get(&vote.leader)
            .is_some_and(|b| b.state == ServerState::Leading)
    } else {
        clock == vote.election_epoch
    }
}
