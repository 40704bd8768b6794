//! A follower's or observer's side of Zab, as 3.8's Learner runs it:
//! register with the leader (FOLLOWERINFO/OBSERVERINFO, LEADERINFO,
//! ACKEPOCH), take its sync (DIFF, TRUNC or SNAP, proposals and commits,
//! NEWLEADER, UPTODATE), then log proposals and acknowledge them once
//! durable, apply commits in order, answer pings with session touches.

use super::messages::{make_zxid, LeaderMsg, LearnerMsg, Proposal};
use super::peer::{Action, Ctx, LinkId};
use crate::engine::Output;
use std::collections::VecDeque;

/// Pause between attempts to reach the leader, and how many failed
/// attempts end the term (3.8 gives up after 5 too): a leader that is
/// gone must not keep its followers from electing another for initLimit.
const CONNECT_RETRY_MS: u64 = 200;
const CONNECT_ATTEMPTS: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Connecting,
    AwaitLeaderInfo,
    /// ACKEPOCH sent; the sync's first packet comes next.
    AwaitSync,
    /// Proposals and commits of the sync, until NEWLEADER.
    Syncing,
    /// Cutting the log back (TRUNC); packets wait in `held`.
    Truncating,
    /// NEWLEADER received; acknowledged once the sync's proposals are durable.
    AwaitNewLeaderDurable,
    AwaitUpToDate,
    Serving,
}

pub struct Learner {
    pub leader: u64,
    pub observer: bool,
    pub link: Option<LinkId>,
    pub phase: Phase,
    new_epoch: i64,
    /// SNAP syncs must write a snapshot at NEWLEADER: the log does not hold
    /// the history the tree now has.
    snapshot_needed: bool,
    /// Before NEWLEADER in a SNAP sync, commits are applied straight away.
    logging: bool,
    /// Proposals received and not yet committed, in zxid order.
    uncommitted: VecDeque<Proposal>,
    /// Commits received during the sync, applied at UPTODATE.
    sync_commits: Vec<i64>,
    /// Proposals handed to the log and not yet acknowledged.
    unacked: VecDeque<i64>,
    /// The highest zxid handed to the log.
    pub last_logged: i64,
    held: Vec<LeaderMsg>,
    last_heard: u64,
    connect_deadline: u64,
    /// When to try connecting to the leader again after a failed attempt.
    retry_at: Option<u64>,
    failed_connects: u32,
}

impl Learner {
    pub fn new(ctx: &mut Ctx<'_>, leader: u64, observer: bool) -> Learner {
        ctx.actions.push(Action::ConnectLeader { sid: leader });
        Learner {
            leader,
            observer,
            link: None,
            phase: Phase::Connecting,
            new_epoch: 0,
            snapshot_needed: false,
            logging: true,
            uncommitted: VecDeque::new(),
            sync_commits: Vec::new(),
            unacked: VecDeque::new(),
            last_logged: ctx.engine.tree().last_zxid,
            held: Vec::new(),
            last_heard: ctx.now.mono_ms,
            connect_deadline: ctx.now.mono_ms + ctx.cfg.init_ms(),
            retry_at: None,
            failed_connects: 0,
        }
    }

    /// A connection attempt failed; 3.8 retries until initLimit runs out.
    pub fn connect_failed(&mut self, now: crate::engine::Now, reason: &str) {
        tracing::info!(
            leader = self.leader,
            "cannot reach the leader yet: {reason}"
        );
        self.retry_at = Some(now.mono_ms + CONNECT_RETRY_MS);
    }

    pub fn is_serving(&self) -> bool {
        self.phase == Phase::Serving
    }

    fn send(&self, ctx: &mut Ctx<'_>, msg: LearnerMsg) {
        if let Some(link) = self.link {
            ctx.actions.push(Action::ToLeader { link, msg });
        }
    }

    pub fn connected(&mut self, ctx: &mut Ctx<'_>, link: LinkId) {
        self.link = Some(link);
        self.phase = Phase::AwaitLeaderInfo;
        self.last_heard = ctx.now.mono_ms;
        ctx.actions.push(Action::LinkTimeout {
            link,
            ms: ctx.cfg.init_ms(),
        });
        let msg = LearnerMsg::Info {
            sid: ctx.cfg.my_id,
            accepted_epoch: ctx.epochs.accepted,
            observer: self.observer,
        };
        self.send(ctx, msg);
    }

    /// Handles one packet from the leader. `Err` ends the learner's term:
    /// the peer goes back to looking.
    pub fn from_leader(&mut self, ctx: &mut Ctx<'_>, msg: LeaderMsg) -> Result<(), String> {
        self.last_heard = ctx.now.mono_ms;
        if self.phase == Phase::Truncating {
            self.held.push(msg);
            return Ok(());
        }
        match (self.phase, msg) {
            (Phase::AwaitLeaderInfo, LeaderMsg::LeaderInfo { new_epoch }) => {
                let accepted = ctx.epochs.accepted;
                let current_epoch = if new_epoch > accepted {
                    ctx.epochs.accepted = new_epoch;
                    ctx.actions.push(Action::SaveAcceptedEpoch(new_epoch));
                    ctx.epochs.current
                } else if new_epoch == accepted {
                    -1
                } else {
                    return Err(format!(
                        "the leader's epoch {new_epoch} is older than our accepted epoch {accepted}"
                    ));
                };
                self.new_epoch = new_epoch;
                self.phase = Phase::AwaitSync;
                let last_zxid = ctx.engine.tree().last_zxid;
                self.send(
                    ctx,
                    LearnerMsg::AckEpoch {
                        last_zxid,
                        current_epoch,
                    },
                );
            }
            (Phase::AwaitLeaderInfo, LeaderMsg::NewLeader { .. }) => {
                return Err(
                    "the leader speaks the pre-3.4 protocol, which is not supported".into(),
                );
            }
            (Phase::AwaitSync, LeaderMsg::Diff { zxid }) => {
                tracing::info!(
                    zxid = format_args!("0x{zxid:x}"),
                    "syncing with the leader by DIFF"
                );
                self.phase = Phase::Syncing;
                self.logging = true;
            }
            (
                Phase::AwaitSync,
                LeaderMsg::Snap {
                    zxid,
                    tree,
                    sessions,
                },
            ) => {
                tracing::info!(
                    zxid = format_args!("0x{zxid:x}"),
                    nodes = tree.node_count(),
                    "syncing with the leader by SNAP"
                );
                let mut tree = tree.snapshot_copy();
                tree.last_zxid = zxid;
                ctx.replace_tree(tree, sessions);
                self.last_logged = zxid;
                self.snapshot_needed = true;
                self.logging = false;
                self.phase = Phase::Syncing;
            }
            (Phase::AwaitSync, LeaderMsg::Trunc { zxid }) => {
                tracing::warn!(
                    zxid = format_args!("0x{zxid:x}"),
                    "truncating the log to match the leader"
                );
                self.phase = Phase::Truncating;
                ctx.actions.push(Action::TruncateAndReload { zxid });
            }
            (Phase::Syncing, LeaderMsg::Proposal(p)) => {
                self.uncommitted.push_back(p);
            }
            (Phase::Syncing, LeaderMsg::Commit { zxid }) => {
                if self.logging {
                    self.sync_commits.push(zxid);
                } else {
                    self.apply_in_order(ctx, zxid)?;
                }
            }
            (Phase::Syncing, LeaderMsg::NewLeader { zxid, .. }) => {
                if zxid != make_zxid(self.new_epoch, 0) {
                    return Err(format!(
                        "NEWLEADER for 0x{zxid:x} in epoch {}",
                        self.new_epoch
                    ));
                }
                if self.snapshot_needed {
                    ctx.actions.push(Action::TakeSnapshot);
                }
                ctx.epochs.current = self.new_epoch;
                ctx.actions.push(Action::SaveCurrentEpoch(self.new_epoch));
                self.logging = true;
                let pending: Vec<Proposal> = self.uncommitted.iter().cloned().collect();
                for p in pending {
                    self.log(ctx, p);
                }
                self.phase = Phase::AwaitNewLeaderDurable;
                self.ack_newleader_when_durable(ctx);
            }
            (Phase::AwaitNewLeaderDurable | Phase::AwaitUpToDate, LeaderMsg::Proposal(p)) => {
                self.uncommitted.push_back(p.clone());
                self.log(ctx, p);
            }
            (Phase::AwaitNewLeaderDurable | Phase::AwaitUpToDate, LeaderMsg::Commit { zxid }) => {
                self.sync_commits.push(zxid);
            }
            (Phase::AwaitUpToDate, LeaderMsg::UpToDate) => {
                for zxid in std::mem::take(&mut self.sync_commits) {
                    self.apply_in_order(ctx, zxid)?;
                }
                self.phase = Phase::Serving;
                if let Some(link) = self.link {
                    ctx.actions.push(Action::LinkTimeout {
                        link,
                        ms: ctx.cfg.sync_ms(),
                    });
                }
                let ack = LearnerMsg::Ack {
                    zxid: make_zxid(self.new_epoch, 0),
                };
                self.send(ctx, ack);
                tracing::info!(
                    leader = self.leader,
                    epoch = self.new_epoch,
                    "{}: in sync with the leader, serving clients",
                    if self.observer {
                        "observing"
                    } else {
                        "following"
                    }
                );
                ctx.actions.push(Action::Serving);
            }
            (
                Phase::AwaitUpToDate | Phase::AwaitNewLeaderDurable | Phase::Serving,
                LeaderMsg::Ping { zxid },
            ) => {
                let touches = ctx.engine.take_touched();
                self.send(ctx, LearnerMsg::Ping { zxid, touches });
            }
            (Phase::Serving, LeaderMsg::Proposal(p)) => {
                if self.observer {
                    tracing::warn!("observer got a PROPOSAL; ignoring it");
                } else {
                    self.uncommitted.push_back(p.clone());
                    self.log(ctx, p);
                }
            }
            (Phase::Serving, LeaderMsg::Commit { zxid }) => self.apply_in_order(ctx, zxid)?,
            (Phase::Serving | Phase::Syncing | Phase::AwaitUpToDate, LeaderMsg::Inform(p)) => {
                let zxid = p.zxid();
                if self.phase == Phase::Serving || self.logging {
                    self.log(ctx, p.clone());
                }
                if self.phase == Phase::Serving || !self.logging {
                    self.uncommitted.push_back(p);
                    self.apply_in_order(ctx, zxid)?;
                } else {
                    self.uncommitted.push_back(p);
                    self.sync_commits.push(zxid);
                }
            }
            (Phase::Serving, LeaderMsg::Revalidate { session, valid }) => {
                ctx.engine.revalidated(session, valid, ctx.now);
            }
            (Phase::Serving, LeaderMsg::Sync) => ctx.engine.sync_done(ctx.now),
            (phase, msg) => {
                return Err(format!(
                    "unexpected {msg:?} from the leader while {phase:?}"
                ));
            }
        }
        Ok(())
    }

    fn log(&mut self, ctx: &mut Ctx<'_>, p: Proposal) {
        if p.zxid() <= self.last_logged {
            return;
        }
        self.last_logged = p.zxid();
        if !self.observer {
            self.unacked.push_back(p.zxid());
        }
        ctx.actions.push(Action::Persist(p));
    }

    /// 3.8's follower commits strictly in the order proposed; a commit for
    /// anything but the oldest uncommitted proposal means we missed one.
    fn apply_in_order(&mut self, ctx: &mut Ctx<'_>, zxid: i64) -> Result<(), String> {
        match self.uncommitted.front() {
            Some(p) if p.zxid() == zxid => {
                let p = self.uncommitted.pop_front().expect("non-empty");
                ctx.engine.apply_committed(p.header, p.txn, ctx.now);
                Ok(())
            }
            Some(p) if p.zxid() > zxid => {
                // Already applied (it came with the snapshot).
                Ok(())
            }
            Some(p) => Err(format!(
                "commit of 0x{zxid:x} while 0x{:x} is the oldest uncommitted proposal",
                p.zxid()
            )),
            None if zxid <= ctx.engine.tree().last_zxid => Ok(()),
            None => Err(format!("commit of 0x{zxid:x}, which was never proposed")),
        }
    }

    fn ack_newleader_when_durable(&mut self, ctx: &mut Ctx<'_>) {
        if self.phase != Phase::AwaitNewLeaderDurable {
            return;
        }
        if self.unacked.is_empty() || ctx.durable >= self.last_logged {
            // Observers acknowledge NEWLEADER too: their leader waits for it.
            self.phase = Phase::AwaitUpToDate;
            self.send(
                ctx,
                LearnerMsg::Ack {
                    zxid: make_zxid(self.new_epoch, 0),
                },
            );
            self.ack_durable(ctx);
        }
    }

    fn ack_durable(&mut self, ctx: &mut Ctx<'_>) {
        while let Some(&z) = self.unacked.front() {
            if z > ctx.durable {
                break;
            }
            self.unacked.pop_front();
            self.send(ctx, LearnerMsg::Ack { zxid: z });
        }
    }

    /// The log has everything up to `ctx.durable`.
    pub fn persisted(&mut self, ctx: &mut Ctx<'_>) {
        if self.phase == Phase::AwaitNewLeaderDurable {
            self.ack_newleader_when_durable(ctx);
        } else if matches!(self.phase, Phase::AwaitUpToDate | Phase::Serving) {
            self.ack_durable(ctx);
        }
    }

    /// The log was cut back and the tree reloaded: go on with the sync.
    pub fn reloaded(&mut self, ctx: &mut Ctx<'_>) -> Result<(), String> {
        self.phase = Phase::Syncing;
        self.logging = true;
        self.last_logged = ctx.engine.tree().last_zxid;
        for msg in std::mem::take(&mut self.held) {
            self.from_leader(ctx, msg)?;
        }
        Ok(())
    }

    pub fn engine_output(&mut self, ctx: &mut Ctx<'_>, output: Output) {
        match output {
            Output::Forward(request) => self.send(ctx, LearnerMsg::Request(request)),
            Output::Revalidate {
                session,
                timeout_ms,
            } => self.send(
                ctx,
                LearnerMsg::Revalidate {
                    session,
                    timeout_ms,
                },
            ),
            other => tracing::error!(?other, "learner engine produced a leader's output"),
        }
    }

    /// `Err` when the leader went quiet for too long.
    pub fn tick(&mut self, ctx: &mut Ctx<'_>) -> Result<(), String> {
        let now = ctx.now.mono_ms;
        if self.phase == Phase::Connecting {
            if self.failed_connects >= CONNECT_ATTEMPTS {
                return Err(format!(
                    "leader {} refused {} connection attempts",
                    self.leader, self.failed_connects
                ));
            }
            if self.retry_at.is_some_and(|t| now >= t) {
                self.retry_at = None;
                ctx.actions.push(Action::ConnectLeader { sid: self.leader });
            }
            if now >= self.connect_deadline {
                return Err(format!(
                    "could not connect to leader {} within initLimit",
                    self.leader
                ));
            }
            return Ok(());
        }
        let limit = if self.phase == Phase::Serving {
            ctx.cfg.sync_ms()
        } else {
            ctx.cfg.init_ms()
        };
        if now.saturating_sub(self.last_heard) > limit {
            return Err(format!(
                "nothing from leader {} for {} ms",
                self.leader,
                now - self.last_heard
            ));
        }
        Ok(())
    }

    /// Proposals in the log but never committed, for the drain on exit.
    pub fn uncommitted(&self) -> impl Iterator<Item = &Proposal> {
        self.uncommitted.iter()
    }
}
