//! A quorum member: election, then leading, following or observing, and
//! back to election when that ends. [`Peer`] is deterministic: the shell
//! (or a simulation) feeds it messages, storage reports and the time, and
//! carries out the [`Action`]s it queues, in order.

use super::election::{
    quorum_config_text, Election, ElectionAction, ElectionConfig, ServerState, Vote,
};
use super::leader::Leader;
use super::learner::{Learner, Phase as LearnerPhase};
use super::messages::{make_zxid, LeaderMsg, LearnerMsg, Proposal};
use crate::config::{PeerRole, ServerSpec};
use crate::engine::{Engine, EngineConfig, EngineRole, Now, Output};
use crate::tree::DataTree;
use bytes::Bytes;
use std::collections::BTreeSet;

/// A connection on the quorum port, as the shell numbers them.
pub type LinkId = u64;

#[derive(Debug, Clone)]
pub struct PeerConfig {
    pub my_id: u64,
    pub servers: Vec<ServerSpec>,
    pub tick_ms: u64,
    pub init_limit: u32,
    pub sync_limit: u32,
    pub engine: EngineConfig,
    /// FLE's finalize wait (3.8: 200 ms) and notification back-off cap.
    pub finalize_wait_ms: u64,
    pub max_notification_interval_ms: u64,
}

/// Derived once from [`PeerConfig`].
#[derive(Debug, Clone)]
pub struct Membership {
    pub my_id: u64,
    pub voters: BTreeSet<u64>,
    pub observers: BTreeSet<u64>,
    pub tick_ms: u64,
    pub init_limit: u32,
    pub sync_limit: u32,
    /// The quorum configuration text NEWLEADER carries (3.8: the static
    /// configuration, versioned with the leader's first zxid).
    pub config_bytes: Bytes,
}

impl Membership {
    pub fn init_ms(&self) -> u64 {
        self.tick_ms * self.init_limit as u64
    }

    pub fn sync_ms(&self) -> u64 {
        self.tick_ms * self.sync_limit as u64
    }

    pub fn is_observer(&self) -> bool {
        self.observers.contains(&self.my_id)
    }
}

/// acceptedEpoch and currentEpoch, as the files in dataDir hold them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Epochs {
    pub accepted: i64,
    pub current: i64,
}

/// What the shell must do, in order.
#[derive(Debug)]
pub enum Action {
    /// An election notification body for peer `to`.
    Elect {
        to: u64,
        body: Bytes,
    },
    /// Open a connection to this server's quorum port; report
    /// [`Peer::link_up`] or [`Peer::link_closed`].
    ConnectLeader {
        sid: u64,
    },
    ToLearner {
        link: LinkId,
        msg: LeaderMsg,
    },
    ToLeader {
        link: LinkId,
        msg: LearnerMsg,
    },
    CloseLink {
        link: LinkId,
    },
    /// Close the link if nothing arrives on it for this long.
    LinkTimeout {
        link: LinkId,
        ms: u64,
    },
    /// Append to the log; report [`Peer::persisted`].
    Persist(Proposal),
    SaveAcceptedEpoch(i64),
    SaveCurrentEpoch(i64),
    /// Write a snapshot of the tree now, before going on (after a SNAP sync).
    TakeSnapshot,
    /// Cut the log after `zxid`, reload the tree from disk and hand it to
    /// [`Peer::reloaded`].
    TruncateAndReload {
        zxid: i64,
    },
    /// The engine was replaced: every client connection must be closed.
    ClientsReset,
    /// The member now serves clients (leading, following or observing).
    Serving,
    /// The member stopped serving and is looking for a leader.
    Looking,
}

/// The state shared with the role in hand for one input.
pub struct Ctx<'a> {
    pub cfg: &'a Membership,
    pub engine: &'a mut Engine,
    pub engine_cfg: &'a EngineConfig,
    pub epochs: &'a mut Epochs,
    pub actions: &'a mut Vec<Action>,
    pub now: Now,
    /// Everything up to this zxid is in the local log.
    pub durable: i64,
}

impl Ctx<'_> {
    /// SNAP: the leader's tree replaces ours; clients are not served yet.
    pub fn replace_tree(&mut self, tree: DataTree, sessions: Vec<(i64, u32)>) {
        let mut engine = Engine::with_tree(self.engine_cfg.clone(), tree, sessions, self.now);
        engine.set_role(EngineRole::Learner, 0);
        *self.engine = engine;
    }
}

enum Role {
    Looking,
    Leading(Leader),
    Learning(Learner),
    /// The term ended; waiting for the log to take what was handed to it,
    /// so that the tree can be brought level with the log before voting.
    Draining {
        upto: i64,
    },
}

/// What every role reads or changes, apart from the role itself, so that
/// a [`Ctx`] can borrow it while the role is borrowed too.
struct Shared {
    membership: Membership,
    engine_cfg: EngineConfig,
    epochs: Epochs,
    actions: Vec<Action>,
    /// The highest zxid the log reported durable.
    durable: i64,
}

impl Shared {
    fn ctx<'a>(&'a mut self, engine: &'a mut Engine, now: Now) -> Ctx<'a> {
        Ctx {
            cfg: &self.membership,
            engine,
            engine_cfg: &self.engine_cfg,
            epochs: &mut self.epochs,
            actions: &mut self.actions,
            now,
            durable: self.durable,
        }
    }
}

pub struct Peer {
    shared: Shared,
    servers: Vec<ServerSpec>,
    election: Election,
    role: Role,
    /// The highest zxid handed to the log.
    handed: i64,
    /// Proposals a learner logged but never saw committed when its term ended.
    leftovers: Vec<Proposal>,
    serving: bool,
    current_vote: Option<(Vote, ServerState)>,
    /// Learners that connected before we knew we would lead: a follower
    /// may decide a moment before its leader does.
    early_learners: Vec<LinkId>,
}

impl Peer {
    /// A member whose tree was recovered from disk (the tree holds every
    /// logged transaction).
    pub fn new(cfg: PeerConfig, epochs: Epochs, engine: &Engine) -> Peer {
        let voters: BTreeSet<u64> = cfg
            .servers
            .iter()
            .filter(|s| s.role == PeerRole::Participant)
            .map(|s| s.id)
            .collect();
        let observers: BTreeSet<u64> = cfg
            .servers
            .iter()
            .filter(|s| s.role == PeerRole::Observer)
            .map(|s| s.id)
            .collect();
        let config_text = quorum_config_text(&cfg.servers, 0);
        let election = Election::new(ElectionConfig {
            my_id: cfg.my_id,
            voters: voters.clone(),
            observers: observers.clone(),
            config_bytes: Bytes::from(config_text),
            config_version: 0,
            finalize_wait_ms: cfg.finalize_wait_ms,
            max_notification_interval_ms: cfg.max_notification_interval_ms,
        });
        let last = engine.tree().last_zxid;
        Peer {
            shared: Shared {
                membership: Membership {
                    my_id: cfg.my_id,
                    voters,
                    observers,
                    tick_ms: cfg.tick_ms,
                    init_limit: cfg.init_limit,
                    sync_limit: cfg.sync_limit,
                    config_bytes: Bytes::new(),
                },
                engine_cfg: cfg.engine,
                epochs,
                actions: Vec::new(),
                durable: last,
            },
            servers: cfg.servers,
            election,
            role: Role::Looking,
            handed: last,
            leftovers: Vec::new(),
            serving: false,
            current_vote: None,
            early_learners: Vec::new(),
        }
    }

    pub fn my_id(&self) -> u64 {
        self.shared.membership.my_id
    }

    pub fn membership(&self) -> &Membership {
        &self.shared.membership
    }

    pub fn state(&self) -> ServerState {
        match &self.role {
            Role::Leading(_) => ServerState::Leading,
            Role::Learning(l) if l.observer => ServerState::Observing,
            Role::Learning(_) => ServerState::Following,
            Role::Looking | Role::Draining { .. } => ServerState::Looking,
        }
    }

    pub fn is_serving(&self) -> bool {
        self.serving
    }

    pub fn epochs(&self) -> Epochs {
        self.shared.epochs
    }

    /// The leader this member follows or is, once decided.
    pub fn leader_id(&self) -> Option<u64> {
        match &self.role {
            Role::Leading(_) => Some(self.shared.membership.my_id),
            Role::Learning(l) => Some(l.leader),
            _ => None,
        }
    }

    pub fn leader(&self) -> Option<&Leader> {
        match &self.role {
            Role::Leading(l) => Some(l),
            _ => None,
        }
    }

    pub fn election(&self) -> &Election {
        &self.election
    }

    /// The actions queued so far, in order.
    pub fn take_actions(&mut self) -> Vec<Action> {
        for action in &self.shared.actions {
            if let Action::Persist(p) = action {
                self.handed = self.handed.max(p.zxid());
            }
        }
        std::mem::take(&mut self.shared.actions)
    }

    /// Starts looking for a leader.
    pub fn start(&mut self, engine: &mut Engine, now: Now) {
        self.look(engine, now);
    }

    fn look(&mut self, engine: &mut Engine, now: Now) {
        self.role = Role::Looking;
        self.current_vote = None;
        let last = engine.tree().last_zxid;
        tracing::info!(
            last_zxid = format_args!("0x{last:x}"),
            epoch = self.shared.epochs.current,
            "LOOKING"
        );
        self.election
            .look(last, self.shared.epochs.current, now.mono_ms);
        self.pump_election(engine, now);
    }

    fn pump_election(&mut self, engine: &mut Engine, now: Now) {
        while let Some(action) = self.election.poll_action() {
            match action {
                ElectionAction::Send { to, message } => self
                    .shared
                    .actions
                    .push(Action::Elect { to, body: message }),
                ElectionAction::Decided { vote, state } => {
                    if matches!(self.role, Role::Looking) {
                        self.decided(engine, vote, state, now);
                    }
                }
            }
        }
    }

    fn decided(&mut self, engine: &mut Engine, vote: Vote, state: ServerState, now: Now) {
        self.current_vote = Some((vote, state));
        self.election.settle(vote, state);
        tracing::info!(%vote, ?state, "election decided");
        if state == ServerState::Looking {
            return;
        }
        if state != ServerState::Leading {
            let (tree, sessions) = take_engine(engine, &self.shared.engine_cfg, now).into_parts();
            *engine = Engine::with_tree(self.shared.engine_cfg.clone(), tree, sessions, now);
            engine.set_role(EngineRole::Learner, 0);
        }
        let mut ctx = self.shared.ctx(engine, now);
        let early = std::mem::take(&mut self.early_learners);
        self.role = match state {
            ServerState::Leading => {
                let mut leader = Leader::new(&mut ctx);
                for link in early {
                    leader.accepted(link, now);
                }
                Role::Leading(leader)
            }
            _ => {
                for link in early {
                    ctx.actions.push(Action::CloseLink { link });
                }
                Role::Learning(Learner::new(
                    &mut ctx,
                    vote.leader,
                    state == ServerState::Observing,
                ))
            }
        };
        self.fix_config_version();
    }

    /// NEWLEADER carries the configuration versioned with the new epoch's
    /// first zxid, as a 3.8 leader with a static configuration sends it.
    fn fix_config_version(&mut self) {
        if let Role::Leading(l) = &self.role {
            if let Some(epoch) = l.epoch() {
                self.shared.membership.config_bytes =
                    Bytes::from(quorum_config_text(&self.servers, make_zxid(epoch, 0)));
            }
        }
    }

    /// The term ends: links close, clients are dropped, and once the log
    /// has taken everything handed to it, the member looks again.
    fn end_term(&mut self, engine: &mut Engine, reason: &str, now: Now) {
        tracing::warn!("{:?} ends: {reason}", self.state());
        match std::mem::replace(&mut self.role, Role::Draining { upto: self.handed }) {
            Role::Leading(leader) => {
                for link in leader.links() {
                    self.shared.actions.push(Action::CloseLink { link });
                }
            }
            Role::Learning(learner) => {
                if let Some(link) = learner.link {
                    self.shared.actions.push(Action::CloseLink { link });
                }
                self.leftovers = learner.uncommitted().cloned().collect();
            }
            Role::Looking | Role::Draining { .. } => {}
        }
        if self.serving {
            self.serving = false;
        }
        self.shared.actions.push(Action::ClientsReset);
        self.shared.actions.push(Action::Looking);
        self.maybe_finish_drain(engine, now);
    }

    fn maybe_finish_drain(&mut self, engine: &mut Engine, now: Now) {
        let Role::Draining { upto } = self.role else {
            return;
        };
        if self.shared.durable < upto {
            return;
        }
        // Level the tree with the log: what was logged but not committed
        // counts for the next election exactly as 3.8 counts it after
        // reloading its database from disk.
        engine.apply_logged_silently(self.shared.durable, now);
        for p in std::mem::take(&mut self.leftovers) {
            if p.zxid() > engine.tree().last_zxid && p.zxid() <= self.shared.durable {
                engine.apply_silently(&p.header, &p.txn, now);
            }
        }
        let fresh = take_engine(engine, &self.shared.engine_cfg, now);
        let (tree, sessions) = fresh.into_parts();
        *engine = Engine::with_tree(self.shared.engine_cfg.clone(), tree, sessions, now);
        self.look(engine, now);
    }

    pub fn election_message(&mut self, engine: &mut Engine, from: u64, body: &[u8], now: Now) {
        if let Err(e) = self.election.on_message(from, body, now.mono_ms) {
            tracing::warn!(from, "bad election message: {e}");
        }
        self.pump_election(engine, now);
    }

    /// Leader side: a learner connected to our quorum port.
    pub fn link_accepted(&mut self, link: LinkId, now: Now) {
        match &mut self.role {
            Role::Leading(leader) => leader.accepted(link, now),
            Role::Looking | Role::Draining { .. } => self.early_learners.push(link),
            Role::Learning(_) => self.shared.actions.push(Action::CloseLink { link }),
        }
    }

    /// Learner side: our connection to the leader is up.
    pub fn link_up(&mut self, engine: &mut Engine, link: LinkId, now: Now) {
        let mut ctx = self.shared.ctx(engine, now);
        match &mut self.role {
            Role::Learning(l) if l.link.is_none() => l.connected(&mut ctx, link),
            _ => ctx.actions.push(Action::CloseLink { link }),
        }
    }

    /// A quorum link closed, or a connection attempt failed.
    pub fn link_closed(&mut self, engine: &mut Engine, link: LinkId, reason: &str, now: Now) {
        self.early_learners.retain(|l| *l != link);
        match &mut self.role {
            Role::Leading(leader) => leader.closed(link),
            Role::Learning(l)
                if l.link == Some(link) && l.phase == LearnerPhase::AwaitLeaderInfo =>
            {
                // The leader may not have known it leads yet; 3.8 retries
                // the connection until initLimit runs out.
                l.link = None;
                l.phase = LearnerPhase::Connecting;
                l.connect_failed(now, reason);
            }
            Role::Learning(l) if l.link == Some(link) => {
                let why = format!("connection to leader {} lost: {reason}", l.leader);
                self.end_term(engine, &why, now);
            }
            Role::Learning(l) if l.link.is_none() => l.connect_failed(now, reason),
            _ => {}
        }
    }

    pub fn from_learner(&mut self, engine: &mut Engine, link: LinkId, msg: LearnerMsg, now: Now) {
        let mut ctx = self.shared.ctx(engine, now);
        match &mut self.role {
            Role::Leading(leader) => {
                let had_epoch = leader.epoch().is_some();
                leader.from_learner(&mut ctx, link, msg);
                let serving = leader.is_serving();
                if !had_epoch && leader.epoch().is_some() {
                    self.fix_config_version();
                }
                self.note_serving(serving);
            }
            _ => ctx.actions.push(Action::CloseLink { link }),
        }
    }

    pub fn from_leader(&mut self, engine: &mut Engine, link: LinkId, msg: LeaderMsg, now: Now) {
        let mut ctx = self.shared.ctx(engine, now);
        let result = match &mut self.role {
            Role::Learning(l) if l.link == Some(link) => {
                let r = l.from_leader(&mut ctx, msg);
                let serving = l.is_serving();
                self.note_serving(serving);
                r
            }
            _ => Ok(()),
        };
        if let Err(why) = result {
            self.end_term(engine, &why, now);
        }
    }

    fn note_serving(&mut self, serving: bool) {
        if serving && !self.serving {
            // 3.8's updateElectionVote: every member of the new term now
            // answers newcomers with the established epoch, so a member
            // that joins later sees one consistent vote from all of them.
            if let Some((vote, state)) = self.current_vote {
                let vote = Vote {
                    peer_epoch: self.shared.epochs.current,
                    ..vote
                };
                self.current_vote = Some((vote, state));
                self.election.settle(vote, state);
            }
        }
        self.serving = serving;
    }

    /// The log holds every transaction up to `zxid`.
    pub fn persisted(&mut self, engine: &mut Engine, zxid: i64, now: Now) {
        self.shared.durable = self.shared.durable.max(zxid);
        let mut ctx = self.shared.ctx(engine, now);
        match &mut self.role {
            Role::Leading(leader) => leader.persisted(&mut ctx, zxid),
            Role::Learning(l) => l.persisted(&mut ctx),
            Role::Draining { .. } => self.maybe_finish_drain(engine, now),
            Role::Looking => {}
        }
    }

    /// After [`Action::TruncateAndReload`]: the shell put the reloaded tree
    /// into `engine`.
    pub fn reloaded(&mut self, engine: &mut Engine, now: Now) {
        let last = engine.tree().last_zxid;
        self.handed = last;
        self.shared.durable = last;
        engine.set_role(EngineRole::Learner, 0);
        let mut ctx = self.shared.ctx(engine, now);
        let result = match &mut self.role {
            Role::Learning(l) => l.reloaded(&mut ctx),
            _ => Ok(()),
        };
        if let Err(why) = result {
            self.end_term(engine, &why, now);
        }
    }

    /// The engine's outputs that concern the ensemble (transactions to
    /// propose, requests to forward, revalidations, syncs). The others
    /// (replies, events, closes) are the shell's.
    pub fn engine_output(&mut self, engine: &mut Engine, output: Output, now: Now) {
        let mut ctx = self.shared.ctx(engine, now);
        match &mut self.role {
            Role::Leading(leader) => leader.engine_output(&mut ctx, output),
            Role::Learning(l) => l.engine_output(&mut ctx, output),
            _ => tracing::debug!(?output, "engine output while not in a term; dropped"),
        }
    }

    /// Time passes: election timers, pings, liveness checks, and the
    /// engine's own clock when serving (sessions expire on the leader only).
    pub fn tick(&mut self, engine: &mut Engine, now: Now) {
        if self
            .election
            .next_deadline()
            .is_some_and(|d| d <= now.mono_ms)
        {
            self.election.on_timer(now.mono_ms);
            self.pump_election(engine, now);
        }
        let mut ctx = self.shared.ctx(engine, now);
        let result = match &mut self.role {
            Role::Leading(leader) => leader.tick(&mut ctx),
            Role::Learning(l) => l.tick(&mut ctx),
            _ => Ok(()),
        };
        if let Err(why) = result {
            self.end_term(engine, &why, now);
            return;
        }
        if self.serving {
            engine.tick(now);
        }
    }
}

/// Takes the engine out, leaving an empty one in its place.
fn take_engine(engine: &mut Engine, cfg: &EngineConfig, now: Now) -> Engine {
    std::mem::replace(engine, Engine::new(cfg.clone(), now))
}
