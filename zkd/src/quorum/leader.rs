//! The leader's side of Zab, as 3.8's Leader and LearnerHandler run it:
//! discovery (a quorum agrees on a new epoch), synchronisation of each
//! learner (DIFF, TRUNC or SNAP, then NEWLEADER), and broadcast (PROPOSAL,
//! ACK, COMMIT in zxid order; INFORM to observers).

use super::messages::{make_zxid, LeaderMsg, LearnerMsg, Proposal};
use super::peer::{Action, Ctx, LinkId};
use crate::engine::{EngineRole, Output};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// How many committed transactions the leader keeps to sync learners by
/// DIFF (3.8's `zookeeper.commitLogCount` default); further behind gets SNAP.
pub const COMMITTED_LOG_SIZE: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for a quorum's accepted epochs, then their ACKEPOCHs.
    Discovery,
    /// Epoch agreed; waiting for a quorum to acknowledge NEWLEADER.
    Synchronisation,
    Broadcast,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkState {
    AwaitInfo,
    /// Sent LEADERINFO (or will, once the epoch is known).
    AwaitAckEpoch,
    /// ACKEPOCH received; synced once the quorum has acked the epoch.
    AwaitSyncStart,
    /// Sync and NEWLEADER sent; waiting for its ACK.
    AwaitNewLeaderAck,
    /// NEWLEADER acked; gets UPTODATE once the leader serves.
    AwaitServing,
    Active,
}

#[derive(Debug)]
struct LearnerLink {
    sid: u64,
    observer: bool,
    state: LinkState,
    last_zxid: i64,
    /// Monotonic ms of the last packet from it (3.8's tickOfNextAckDeadline).
    last_heard: u64,
    /// Gets proposals (or informs) as they are made.
    forwarding: bool,
}

pub struct Leader {
    pub phase: Phase,
    epoch: Option<i64>,
    phase_deadline: u64,
    links: BTreeMap<LinkId, LearnerLink>,
    /// Accepted epochs of the voters that connected (self included).
    connecting: BTreeMap<u64, i64>,
    epoch_acks: BTreeSet<u64>,
    newleader_acks: BTreeSet<u64>,
    /// (currentEpoch, last zxid) at election: no learner may be ahead.
    state_summary: (i64, i64),
    /// Proposals being voted on: the proposal, who acked, when proposed.
    outstanding: BTreeMap<i64, (Proposal, BTreeSet<u64>, u64)>,
    last_proposed: i64,
    committed_log: VecDeque<Proposal>,
    next_ping: u64,
    next_check: u64,
}

impl Leader {
    pub fn new(ctx: &mut Ctx<'_>) -> Leader {
        let last = ctx.engine.tree().last_zxid;
        let mut connecting = BTreeMap::new();
        connecting.insert(ctx.cfg.my_id, ctx.epochs.accepted);
        let mut leader = Leader {
            phase: Phase::Discovery,
            epoch: None,
            phase_deadline: ctx.now.mono_ms + ctx.cfg.init_ms(),
            links: BTreeMap::new(),
            connecting,
            epoch_acks: BTreeSet::new(),
            newleader_acks: BTreeSet::new(),
            state_summary: (ctx.epochs.current, last),
            outstanding: BTreeMap::new(),
            last_proposed: last,
            committed_log: VecDeque::new(),
            next_ping: 0,
            next_check: 0,
        };
        leader.try_decide_epoch(ctx);
        leader
    }

    pub fn epoch(&self) -> Option<i64> {
        self.epoch
    }

    pub fn is_serving(&self) -> bool {
        self.phase == Phase::Broadcast
    }

    /// Learners (sid, observer, synced) for 4lw figures.
    pub fn learners(&self) -> Vec<(u64, bool, bool)> {
        self.links
            .values()
            .map(|l| (l.sid, l.observer, l.state == LinkState::Active))
            .collect()
    }

    pub fn accepted(&mut self, link: LinkId, now: crate::engine::Now) {
        self.links.insert(
            link,
            LearnerLink {
                sid: 0,
                observer: false,
                state: LinkState::AwaitInfo,
                last_zxid: 0,
                last_heard: now.mono_ms,
                forwarding: false,
            },
        );
    }

    pub fn closed(&mut self, link: LinkId) {
        if let Some(l) = self.links.remove(&link) {
            tracing::info!(sid = l.sid, "learner disconnected");
        }
    }

    fn send(ctx: &mut Ctx<'_>, link: LinkId, msg: LeaderMsg) {
        ctx.actions.push(Action::ToLearner { link, msg });
    }

    fn drop_link(&mut self, ctx: &mut Ctx<'_>, link: LinkId, why: &str) {
        if let Some(l) = self.links.remove(&link) {
            tracing::warn!(sid = l.sid, "dropping learner: {why}");
        }
        ctx.actions.push(Action::CloseLink { link });
    }

    pub fn from_learner(&mut self, ctx: &mut Ctx<'_>, link: LinkId, msg: LearnerMsg) {
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        l.last_heard = ctx.now.mono_ms;
        match (l.state, msg) {
            (
                LinkState::AwaitInfo,
                LearnerMsg::Info {
                    sid,
                    accepted_epoch,
                    observer,
                },
            ) => {
                let observer = observer || !ctx.cfg.voters.contains(&sid);
                if sid == ctx.cfg.my_id
                    || self
                        .links
                        .values()
                        .any(|o| o.sid == sid && o.state != LinkState::AwaitInfo)
                {
                    self.drop_link(ctx, link, "a second connection claims the same server id");
                    return;
                }
                let l = self.links.get_mut(&link).expect("present");
                l.sid = sid;
                l.observer = observer;
                l.state = LinkState::AwaitAckEpoch;
                tracing::info!(sid, observer, accepted_epoch, "learner connected");
                if let Some(epoch) = self.epoch {
                    Self::send(ctx, link, LeaderMsg::LeaderInfo { new_epoch: epoch });
                } else {
                    // 3.8 counts every learner's accepted epoch towards the
                    // new one, but only voters towards the quorum.
                    self.connecting.insert(sid, accepted_epoch);
                    self.try_decide_epoch(ctx);
                }
            }
            (
                LinkState::AwaitAckEpoch,
                LearnerMsg::AckEpoch {
                    last_zxid,
                    current_epoch,
                },
            ) => {
                let (our_epoch, our_zxid) = self.state_summary;
                if current_epoch > our_epoch || (current_epoch == our_epoch && last_zxid > our_zxid)
                {
                    self.drop_link(
                        ctx,
                        link,
                        &format!(
                            "it is ahead of this leader (epoch {current_epoch}, zxid 0x{last_zxid:x}; \
                             ours {our_epoch}, 0x{our_zxid:x})"
                        ),
                    );
                    return;
                }
                let l = self.links.get_mut(&link).expect("present");
                l.last_zxid = last_zxid;
                l.state = LinkState::AwaitSyncStart;
                let (sid, observer) = (l.sid, l.observer);
                if self.phase == Phase::Discovery {
                    if !observer {
                        self.epoch_acks.insert(sid);
                    }
                    self.try_finish_discovery(ctx);
                } else {
                    self.sync_learner(ctx, link);
                }
            }
            (LinkState::AwaitNewLeaderAck, LearnerMsg::Ack { zxid }) => {
                let l = self.links.get_mut(&link).expect("present");
                let (sid, observer) = (l.sid, l.observer);
                if Some(zxid) != self.epoch.map(|e| make_zxid(e, 0)) {
                    self.drop_link(ctx, link, "its first ACK is not for NEWLEADER");
                    return;
                }
                l.state = LinkState::AwaitServing;
                if self.phase == Phase::Broadcast {
                    self.start_learner(ctx, link);
                } else if !observer {
                    self.newleader_acks.insert(sid);
                    self.try_start_serving(ctx);
                }
            }
            (LinkState::AwaitServing | LinkState::Active, LearnerMsg::Ack { zxid }) => {
                let (sid, observer) = (l.sid, l.observer);
                if !observer {
                    self.ack(ctx, sid, zxid);
                }
            }
            (LinkState::Active, LearnerMsg::Ping { touches, .. }) => {
                ctx.engine.learner_touches(&touches, ctx.now);
            }
            (LinkState::Active, LearnerMsg::Revalidate { session, .. }) => {
                let sid = l.sid;
                let valid = ctx.engine.revalidate(sid, session, ctx.now);
                Self::send(ctx, link, LeaderMsg::Revalidate { session, valid });
            }
            (LinkState::Active, LearnerMsg::Request(request)) => {
                let sid = l.sid;
                ctx.engine.learner_request(sid, request, ctx.now);
            }
            (state, msg) => {
                let what = format!("unexpected {msg:?} while {state:?}");
                self.drop_link(ctx, link, &what);
            }
        }
    }

    fn has_quorum(ctx: &Ctx<'_>, sids: impl Iterator<Item = u64>) -> bool {
        let votes = sids.filter(|s| ctx.cfg.voters.contains(s)).count();
        votes * 2 > ctx.cfg.voters.len()
    }

    fn try_decide_epoch(&mut self, ctx: &mut Ctx<'_>) {
        if self.epoch.is_some() || !Self::has_quorum(ctx, self.connecting.keys().copied()) {
            return;
        }
        let epoch = self.connecting.values().copied().max().unwrap_or(0) + 1;
        self.epoch = Some(epoch);
        ctx.epochs.accepted = epoch;
        ctx.actions.push(Action::SaveAcceptedEpoch(epoch));
        tracing::info!(epoch, "quorum connected; proposing the new epoch");
        self.phase_deadline = ctx.now.mono_ms + ctx.cfg.init_ms();
        let links: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, l)| l.state == LinkState::AwaitAckEpoch)
            .map(|(k, _)| *k)
            .collect();
        for link in links {
            Self::send(ctx, link, LeaderMsg::LeaderInfo { new_epoch: epoch });
        }
        self.epoch_acks.insert(ctx.cfg.my_id);
        self.try_finish_discovery(ctx);
    }

    fn try_finish_discovery(&mut self, ctx: &mut Ctx<'_>) {
        let Some(epoch) = self.epoch else { return };
        if self.phase != Phase::Discovery || !Self::has_quorum(ctx, self.epoch_acks.iter().copied())
        {
            return;
        }
        ctx.epochs.current = epoch;
        ctx.actions.push(Action::SaveCurrentEpoch(epoch));
        self.phase = Phase::Synchronisation;
        self.phase_deadline = ctx.now.mono_ms + ctx.cfg.init_ms();
        let next = make_zxid(epoch, 1);
        ctx.engine.set_role(EngineRole::Leader, next);
        self.last_proposed = make_zxid(epoch, 0);
        self.newleader_acks.insert(ctx.cfg.my_id);
        let waiting: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, l)| l.state == LinkState::AwaitSyncStart)
            .map(|(k, _)| *k)
            .collect();
        for link in waiting {
            self.sync_learner(ctx, link);
        }
        self.try_start_serving(ctx);
    }

    /// 3.8's syncFollower: DIFF when the learner has a prefix of our
    /// committed log, TRUNC when it has more than we do in our epoch
    /// history, SNAP otherwise; then what is still being voted on, then
    /// NEWLEADER.
    fn sync_learner(&mut self, ctx: &mut Ctx<'_>, link: LinkId) {
        let epoch = self.epoch.expect("synchronising after discovery");
        let l = self.links.get_mut(&link).expect("present");
        let peer = l.last_zxid;
        let last = ctx.engine.tree().last_zxid;
        let plan = plan_sync(peer, last, &self.committed_log);
        let mut queued = match plan {
            SyncPlan::Snap => {
                tracing::info!(
                    sid = l.sid,
                    peer = format_args!("0x{peer:x}"),
                    "syncing learner by SNAP"
                );
                Self::send(
                    ctx,
                    link,
                    LeaderMsg::Snap {
                        zxid: last,
                        tree: Arc::new(ctx.engine.tree().snapshot_copy()),
                        sessions: ctx.engine.sessions().all(),
                    },
                );
                last
            }
            SyncPlan::Ops { first, from, to } => {
                tracing::info!(
                    sid = l.sid,
                    peer = format_args!("0x{peer:x}"),
                    ?first,
                    "syncing learner"
                );
                Self::send(ctx, link, first);
                for p in self
                    .committed_log
                    .iter()
                    .filter(|p| p.zxid() > from && p.zxid() <= to)
                {
                    Self::send(ctx, link, LeaderMsg::Proposal(p.clone()));
                    Self::send(ctx, link, LeaderMsg::Commit { zxid: p.zxid() });
                }
                to.max(from)
            }
        };
        // 3.8's startForwarding: the proposals still being voted on follow.
        let l = self.links.get_mut(&link).expect("present");
        l.forwarding = true;
        for (zxid, (p, _, _)) in &self.outstanding {
            if *zxid > queued && !l.observer {
                Self::send(ctx, link, LeaderMsg::Proposal(p.clone()));
                queued = *zxid;
            }
        }
        l.state = LinkState::AwaitNewLeaderAck;
        Self::send(
            ctx,
            link,
            LeaderMsg::NewLeader {
                zxid: make_zxid(epoch, 0),
                config: ctx.cfg.config_bytes.clone(),
            },
        );
        ctx.actions.push(Action::LinkTimeout {
            link,
            ms: ctx.cfg.init_ms(),
        });
    }

    fn try_start_serving(&mut self, ctx: &mut Ctx<'_>) {
        if self.phase != Phase::Synchronisation
            || !Self::has_quorum(ctx, self.newleader_acks.iter().copied())
        {
            return;
        }
        self.phase = Phase::Broadcast;
        let now = ctx.now.mono_ms;
        self.next_ping = now + ctx.cfg.tick_ms / 2;
        self.next_check = now + ctx.cfg.tick_ms;
        tracing::info!(
            epoch = self.epoch,
            "leading: a quorum is in sync, serving clients"
        );
        let ready: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, l)| l.state == LinkState::AwaitServing)
            .map(|(k, _)| *k)
            .collect();
        for link in ready {
            self.start_learner(ctx, link);
        }
        ctx.actions.push(Action::Serving);
    }

    fn start_learner(&mut self, ctx: &mut Ctx<'_>, link: LinkId) {
        let l = self.links.get_mut(&link).expect("present");
        l.state = LinkState::Active;
        l.last_heard = ctx.now.mono_ms;
        Self::send(ctx, link, LeaderMsg::UpToDate);
        ctx.actions.push(Action::LinkTimeout {
            link,
            ms: ctx.cfg.sync_ms(),
        });
    }

    /// A transaction the engine prepared: propose it.
    pub fn propose(&mut self, ctx: &mut Ctx<'_>, proposal: Proposal) {
        let zxid = proposal.zxid();
        self.last_proposed = zxid;
        for (link, l) in &self.links {
            if l.forwarding && !l.observer {
                ctx.actions.push(Action::ToLearner {
                    link: *link,
                    msg: LeaderMsg::Proposal(proposal.clone()),
                });
            }
        }
        ctx.actions.push(Action::Persist(proposal.clone()));
        self.outstanding
            .insert(zxid, (proposal, BTreeSet::new(), ctx.now.mono_ms));
    }

    /// Our own log has everything up to `zxid`.
    pub fn persisted(&mut self, ctx: &mut Ctx<'_>, zxid: i64) {
        let mine: Vec<i64> = self.outstanding.range(..=zxid).map(|(z, _)| *z).collect();
        let me = ctx.cfg.my_id;
        for z in mine {
            self.ack(ctx, me, z);
        }
    }

    fn ack(&mut self, ctx: &mut Ctx<'_>, sid: u64, zxid: i64) {
        let Some((_, acks, _)) = self.outstanding.get_mut(&zxid) else {
            return;
        };
        acks.insert(sid);
        // Commit in zxid order: a later proposal with a quorum waits for
        // the earlier ones.
        while let Some((&first, (_, acks, _))) = self.outstanding.iter().next() {
            if !Self::has_quorum(ctx, acks.iter().copied()) {
                break;
            }
            let (proposal, _, _) = self.outstanding.remove(&first).expect("present");
            self.commit(ctx, proposal);
        }
    }

    fn commit(&mut self, ctx: &mut Ctx<'_>, proposal: Proposal) {
        let zxid = proposal.zxid();
        for (link, l) in &self.links {
            if !l.forwarding {
                continue;
            }
            let msg = if l.observer {
                LeaderMsg::Inform(proposal.clone())
            } else {
                LeaderMsg::Commit { zxid }
            };
            ctx.actions.push(Action::ToLearner { link: *link, msg });
        }
        ctx.engine.persisted(zxid, ctx.now);
        self.committed_log.push_back(proposal);
        if self.committed_log.len() > COMMITTED_LOG_SIZE {
            self.committed_log.pop_front();
        }
    }

    pub fn engine_output(&mut self, ctx: &mut Ctx<'_>, output: Output) {
        match output {
            Output::Persist { header, txn } => self.propose(ctx, Proposal { header, txn }),
            Output::SyncDone { learner } => {
                if let Some(link) = self.link_of(learner) {
                    Self::send(ctx, link, LeaderMsg::Sync);
                }
            }
            other => tracing::error!(?other, "leader engine produced a learner's output"),
        }
    }

    fn link_of(&self, sid: u64) -> Option<LinkId> {
        self.links
            .iter()
            .find(|(_, l)| l.sid == sid && l.state == LinkState::Active)
            .map(|(k, _)| *k)
    }

    /// Pings, and 3.8's check that a quorum is still in step. `Err` means
    /// leadership is lost.
    pub fn tick(&mut self, ctx: &mut Ctx<'_>) -> Result<(), String> {
        let now = ctx.now.mono_ms;
        if self.phase != Phase::Broadcast {
            if now >= self.phase_deadline {
                return Err(format!(
                    "no quorum of followers within initLimit ({:?}; epoch acks from {:?}, NEWLEADER acks from {:?})",
                    self.phase, self.epoch_acks, self.newleader_acks
                ));
            }
            return Ok(());
        }
        if now >= self.next_ping {
            self.next_ping = now + ctx.cfg.tick_ms / 2;
            for (link, l) in &self.links {
                if l.state == LinkState::Active {
                    ctx.actions.push(Action::ToLearner {
                        link: *link,
                        msg: LeaderMsg::Ping {
                            zxid: self.last_proposed,
                        },
                    });
                }
            }
        }
        if now >= self.next_check {
            self.next_check = now + ctx.cfg.tick_ms;
            let deadline = ctx.cfg.sync_ms();
            let synced: Vec<u64> = self
                .links
                .values()
                .filter(|l| {
                    l.state == LinkState::Active && now.saturating_sub(l.last_heard) <= deadline
                })
                .map(|l| l.sid)
                .chain(std::iter::once(ctx.cfg.my_id))
                .collect();
            if !Self::has_quorum(ctx, synced.iter().copied()) {
                return Err(format!(
                    "not enough followers in step within syncLimit; only {synced:?}"
                ));
            }
            // 3.8's SyncLimitCheck: a follower that has not acknowledged
            // the oldest proposal within syncLimit is dropped.
            if let Some((zxid, (_, acks, at))) = self.outstanding.iter().next() {
                if now.saturating_sub(*at) > deadline {
                    let late: Vec<LinkId> = self
                        .links
                        .iter()
                        .filter(|(_, l)| {
                            l.state == LinkState::Active && !l.observer && !acks.contains(&l.sid)
                        })
                        .map(|(k, _)| *k)
                        .collect();
                    let why = format!("no ACK for 0x{zxid:x} within syncLimit");
                    for link in late {
                        self.drop_link(ctx, link, &why);
                    }
                }
            }
        }
        Ok(())
    }

    /// Links to close when leadership ends.
    pub fn links(&self) -> Vec<LinkId> {
        self.links.keys().copied().collect()
    }

    pub fn last_proposed(&self) -> i64 {
        self.last_proposed
    }

    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }
}

#[derive(Debug)]
enum SyncPlan {
    Snap,
    /// Send `first` (DIFF or TRUNC), then the committed proposals in
    /// (from, to].
    Ops {
        first: LeaderMsg,
        from: i64,
        to: i64,
    },
}

/// The learner's last zxid against what we can replay to it.
fn plan_sync(peer: i64, last: i64, log: &VecDeque<Proposal>) -> SyncPlan {
    let (min, max) = match (log.front(), log.back()) {
        (Some(a), Some(b)) => (a.zxid(), b.zxid()),
        _ => (last, last),
    };
    let new_epoch_zxid = super::messages::counter_of(peer) == 0;
    if peer == last {
        return SyncPlan::Ops {
            first: LeaderMsg::Diff { zxid: peer },
            from: peer,
            to: peer,
        };
    }
    if peer > max && !new_epoch_zxid {
        return SyncPlan::Ops {
            first: LeaderMsg::Trunc { zxid: max },
            from: max,
            to: max,
        };
    }
    if peer < min || peer > max {
        return SyncPlan::Snap;
    }
    // Within the log: the learner has everything up to `peer` if `peer`
    // is one of ours (or the start of an epoch); otherwise it has a
    // transaction we never committed, and must cut back to the one before.
    if new_epoch_zxid || log.iter().any(|p| p.zxid() == peer) {
        return SyncPlan::Ops {
            first: LeaderMsg::Diff { zxid: max },
            from: peer,
            to: max,
        };
    }
    let prev = log.iter().map(|p| p.zxid()).filter(|z| *z < peer).max();
    let next = log.iter().map(|p| p.zxid()).find(|z| *z > peer);
    match (prev, next) {
        (Some(prev), Some(next))
            if super::messages::epoch_of(next) == super::messages::epoch_of(peer) =>
        {
            SyncPlan::Ops {
                first: LeaderMsg::Trunc { zxid: prev },
                from: prev,
                to: max,
            }
        }
        _ => SyncPlan::Snap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::txn::{Txn, TxnHeader};

    fn log(zxids: &[i64]) -> VecDeque<Proposal> {
        zxids
            .iter()
            .map(|z| Proposal {
                header: TxnHeader {
                    client_id: 0,
                    cxid: 0,
                    zxid: *z,
                    time: 0,
                    kind: 1,
                },
                txn: Txn::Error { err: 0 },
            })
            .collect()
    }

    fn first(plan: &SyncPlan) -> String {
        match plan {
            SyncPlan::Snap => "SNAP".into(),
            SyncPlan::Ops { first, from, to } => format!("{first:?} ({from:x}..{to:x}]"),
        }
    }

    #[test]
    fn an_up_to_date_learner_gets_an_empty_diff() {
        assert_eq!(
            first(&plan_sync(0x105, 0x105, &log(&[]))),
            "DIFF(0x105) (105..105]"
        );
    }

    #[test]
    fn a_learner_behind_within_the_log_gets_the_missing_proposals() {
        let l = log(&[0x101, 0x102, 0x103, 0x104]);
        assert_eq!(
            first(&plan_sync(0x102, 0x104, &l)),
            "DIFF(0x104) (102..104]"
        );
    }

    #[test]
    fn a_learner_ahead_of_the_log_is_truncated() {
        let l = log(&[0x101, 0x102]);
        assert_eq!(
            first(&plan_sync(0x105, 0x102, &l)),
            "TRUNC(0x102) (102..102]"
        );
    }

    #[test]
    fn a_learner_with_an_uncommitted_txn_inside_the_log_is_cut_back() {
        // It has 0x103, which this leader never committed; ours goes 0x102, 0x104.
        let l = log(&[0x101, 0x102, 0x104]);
        assert_eq!(
            first(&plan_sync(0x103, 0x104, &l)),
            "TRUNC(0x102) (102..104]"
        );
    }

    #[test]
    fn a_learner_far_behind_or_in_another_epoch_gets_a_snapshot() {
        let l = log(&[0x200000001, 0x200000002]);
        assert_eq!(first(&plan_sync(0x5, 0x200000002, &l)), "SNAP");
        let l = log(&[0x100000001, 0x200000001]);
        assert_eq!(first(&plan_sync(0x100000002, 0x200000001, &l)), "SNAP");
    }

    #[test]
    fn a_learner_at_the_start_of_an_epoch_gets_a_diff() {
        let l = log(&[0x100000001, 0x200000001, 0x200000002]);
        assert_eq!(
            first(&plan_sync(0x200000000, 0x200000002, &l)),
            "DIFF(0x200000002) (200000000..200000002]"
        );
    }
}
