//! Elections of several servers in one thread, over a simulated network whose
//! delivery order, losses and duplicates come from a seed.

use super::*;
use crate::config::{PeerRole, ServerSpec};
use std::collections::BTreeMap;

/// xorshift64*: a few lines, and runs depend on the seed alone.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
}

#[derive(Clone, Copy)]
struct Faults {
    loss_percent: u64,
    duplicate_percent: u64,
    max_latency_ms: u64,
}

const RELIABLE: Faults = Faults {
    loss_percent: 0,
    duplicate_percent: 0,
    max_latency_ms: 5,
};

struct Node {
    election: Election,
    zxid: i64,
    epoch: i64,
    up: bool,
}

struct Net {
    nodes: BTreeMap<u64, Node>,
    /// Messages by delivery time, then send order.
    in_flight: BTreeMap<(u64, u64), (u64, u64, Bytes)>,
    sent: u64,
    now: u64,
    rng: Rng,
    faults: Faults,
}

impl Net {
    /// Servers `1..=voters` vote; the ids in `observers` observe.
    fn new(voters: u64, observers: &[u64], seed: u64, faults: Faults) -> Net {
        let mut specs: Vec<ServerSpec> = (1..=voters)
            .map(|id| ServerSpec::new(id, format!("127.0.0.{id}"), 2888, 3888))
            .collect();
        for &id in observers {
            let mut s = ServerSpec::new(id, format!("127.0.0.{id}"), 2888, 3888);
            s.role = PeerRole::Observer;
            specs.push(s);
        }
        let nodes = specs
            .iter()
            .map(|s| {
                let node = Node {
                    election: Election::new(ElectionConfig::new(s.id, &specs, 0)),
                    zxid: 0,
                    epoch: 0,
                    up: false,
                };
                (s.id, node)
            })
            .collect();
        Net {
            nodes,
            in_flight: BTreeMap::new(),
            sent: 0,
            now: 0,
            rng: Rng::new(seed),
            faults,
        }
    }

    fn node(&mut self, id: u64) -> &mut Node {
        self.nodes.get_mut(&id).expect("no such server")
    }

    fn set_history(&mut self, id: u64, zxid: i64, epoch: i64) {
        let node = self.node(id);
        node.zxid = zxid;
        node.epoch = epoch;
    }

    /// Starts (or restarts) looking on `id`.
    fn look(&mut self, id: u64) {
        let now = self.now;
        let node = self.node(id);
        node.up = true;
        let (zxid, epoch) = (node.zxid, node.epoch);
        node.election.look(zxid, epoch, now);
        self.collect(id);
    }

    fn crash(&mut self, id: u64) {
        self.node(id).up = false;
    }

    fn collect(&mut self, id: u64) {
        while let Some(action) = self.node(id).election.poll_action() {
            if let ElectionAction::Send { to, message } = action {
                assert_ne!(to, id, "messages to self stay inside the state machine");
                let copies = if self.rng.percent(self.faults.loss_percent) {
                    0
                } else if self.rng.percent(self.faults.duplicate_percent) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let at = self.now + 1 + self.rng.below(self.faults.max_latency_ms);
                    self.sent += 1;
                    self.in_flight
                        .insert((at, self.sent), (id, to, message.clone()));
                }
            }
        }
    }

    /// Runs every message delivery and timer due within `ms` from now.
    fn run_for(&mut self, ms: u64) {
        let end = self.now + ms;
        loop {
            let next_message = self.in_flight.keys().next().map(|&(at, _)| at);
            let next_timer = self
                .nodes
                .iter()
                .filter(|(_, n)| n.up)
                .filter_map(|(&id, n)| n.election.next_deadline().map(|at| (at, id)))
                .min();
            match (next_message, next_timer) {
                (Some(at), timer) if at <= end && timer.is_none_or(|(t, _)| at <= t) => {
                    let ((at, _), (from, to, body)) = self.in_flight.pop_first().unwrap();
                    self.now = self.now.max(at);
                    let now = self.now;
                    let node = self.node(to);
                    if node.up {
                        node.election
                            .on_message(from, &body, now)
                            .expect("well-formed notification");
                        self.collect(to);
                    }
                }
                (_, Some((at, id))) if at <= end => {
                    self.now = self.now.max(at);
                    let now = self.now;
                    self.node(id).election.on_timer(now);
                    self.collect(id);
                }
                _ => break,
            }
        }
        self.now = end;
    }

    fn state(&self, id: u64) -> ServerState {
        self.nodes[&id].election.state()
    }

    /// The state of `id` and the leader it settled on.
    fn outcome(&self, id: u64) -> (ServerState, u64) {
        let e = &self.nodes[&id].election;
        (e.state(), e.current_vote().leader)
    }
}

#[test]
fn servers_started_one_by_one_elect_the_third_and_the_rest_join_it() {
    let mut net = Net::new(5, &[], 1, RELIABLE);
    net.look(1);
    net.run_for(5_000);
    assert_eq!(
        net.state(1),
        ServerState::Looking,
        "one of five is no quorum"
    );
    net.look(2);
    net.run_for(5_000);
    assert_eq!(
        net.state(1),
        ServerState::Looking,
        "two of five are no quorum"
    );
    assert_eq!(net.state(2), ServerState::Looking);
    net.look(3);
    net.run_for(5_000);
    assert_eq!(net.outcome(3), (ServerState::Leading, 3));
    assert_eq!(net.outcome(1), (ServerState::Following, 3));
    assert_eq!(net.outcome(2), (ServerState::Following, 3));
    net.look(4);
    net.run_for(5_000);
    assert_eq!(
        net.outcome(4),
        (ServerState::Following, 3),
        "4 beats 3 but joins it"
    );
    net.look(5);
    net.run_for(5_000);
    assert_eq!(net.outcome(5), (ServerState::Following, 3));
}

#[test]
fn survivors_of_a_failed_leader_elect_the_most_up_to_date() {
    let mut net = Net::new(5, &[], 2, RELIABLE);
    for (id, zxid) in [(1, 8), (2, 8), (3, 8), (4, 7), (5, 7)] {
        net.set_history(id, zxid, 1);
    }
    for id in 1..=5 {
        net.look(id);
    }
    net.run_for(5_000);
    assert_eq!(net.outcome(3), (ServerState::Leading, 3));
    net.crash(3);
    net.crash(5);
    for id in [1, 2, 4] {
        net.look(id);
    }
    net.run_for(5_000);
    assert_eq!(net.outcome(2), (ServerState::Leading, 2));
    assert_eq!(net.outcome(1), (ServerState::Following, 2));
    assert_eq!(net.outcome(4), (ServerState::Following, 2));
}

#[test]
fn observers_learn_the_leader_and_never_lead() {
    let mut net = Net::new(3, &[4, 5], 3, RELIABLE);
    for id in 1..=4 {
        // The observer has the best history and id; it must not matter.
        net.set_history(id, if id == 4 { 100 } else { 5 }, 1);
        net.look(id);
    }
    net.run_for(10_000);
    assert_eq!(net.outcome(3), (ServerState::Leading, 3));
    assert_eq!(net.outcome(4), (ServerState::Observing, 3));
    net.look(5);
    net.run_for(5_000);
    assert_eq!(
        net.outcome(5),
        (ServerState::Observing, 3),
        "a late observer"
    );
}

#[test]
fn a_higher_peer_epoch_beats_a_higher_zxid() {
    let mut net = Net::new(3, &[], 4, RELIABLE);
    net.set_history(1, 3, 5);
    net.set_history(2, 100, 4);
    net.set_history(3, 100, 4);
    for id in 1..=3 {
        net.look(id);
    }
    net.run_for(5_000);
    assert_eq!(net.outcome(1), (ServerState::Leading, 1));
    assert_eq!(net.outcome(2), (ServerState::Following, 1));
    assert_eq!(net.outcome(3), (ServerState::Following, 1));
}

fn three_voters(my_id: u64) -> Election {
    let specs: Vec<ServerSpec> = (1..=3)
        .map(|id| ServerSpec::new(id, "127.0.0.1", 2888 + id as u16, 3888 + id as u16))
        .collect();
    let mut cfg = ElectionConfig::new(my_id, &specs, 0);
    cfg.max_notification_interval_ms = 1_000;
    Election::new(cfg)
}

fn looking(leader: u64, zxid: i64, round: i64) -> Bytes {
    let vote = Vote {
        leader,
        zxid,
        election_epoch: round,
        peer_epoch: 0,
    };
    notification::encode(ServerState::Looking, &vote, b"version=0")
}

fn drain(e: &mut Election) -> Vec<ElectionAction> {
    std::iter::from_fn(|| e.poll_action()).collect()
}

fn sent_to(actions: &[ElectionAction]) -> Vec<(u64, Notification)> {
    actions
        .iter()
        .filter_map(|a| match a {
            ElectionAction::Send { to, message } => {
                Some((*to, notification::decode(message).unwrap()))
            }
            ElectionAction::Decided { .. } => None,
        })
        .collect()
}

#[test]
fn a_better_vote_during_the_finalize_wait_changes_the_outcome() {
    let mut e = three_voters(1);
    e.look(0, 0, 0);
    let first = drain(&mut e);
    assert_eq!(
        sent_to(&first)
            .iter()
            .map(|(to, _)| *to)
            .collect::<Vec<_>>(),
        vec![2, 3],
        "the vote for self goes to every other voter"
    );
    e.on_message(2, &looking(2, 0, 1), 10).unwrap();
    assert_eq!(e.current_vote().leader, 2, "adopts the higher id");
    assert_eq!(e.next_deadline(), Some(210), "1 and 2 agree: finalize wait");
    drain(&mut e);
    e.on_message(3, &looking(3, 0, 1), 100).unwrap();
    assert_eq!(e.current_vote().leader, 3, "a better vote within the wait");
    e.on_timer(210);
    assert_eq!(
        e.state(),
        ServerState::Looking,
        "the old quorum no longer decides"
    );
    e.on_message(2, &looking(3, 0, 1), 150).unwrap();
    assert_eq!(e.next_deadline(), Some(350));
    e.on_message(2, &looking(1, 0, 1), 300).unwrap();
    assert_eq!(
        e.next_deadline(),
        Some(500),
        "a worse vote restarts the wait"
    );
    drain(&mut e);
    e.on_timer(499);
    assert!(drain(&mut e).is_empty());
    e.on_timer(500);
    let vote = Vote {
        leader: 3,
        zxid: 0,
        election_epoch: 1,
        peer_epoch: 0,
    };
    assert_eq!(
        drain(&mut e),
        vec![ElectionAction::Decided {
            vote,
            state: ServerState::Following
        }]
    );
    assert_eq!(e.next_deadline(), None);
}

#[test]
fn silence_resends_with_a_doubling_interval_up_to_the_cap() {
    let mut e = three_voters(1);
    e.look(5, 1, 0);
    drain(&mut e);
    let mut deadlines = vec![e.next_deadline().unwrap()];
    for _ in 0..5 {
        let at = *deadlines.last().unwrap();
        e.on_timer(at - 1);
        assert!(drain(&mut e).is_empty(), "nothing before the deadline");
        e.on_timer(at);
        let resent = sent_to(&drain(&mut e));
        assert_eq!(resent.len(), 2, "our vote again to both peers");
        assert!(resent.iter().all(|(_, n)| n.vote.leader == 1));
        deadlines.push(e.next_deadline().unwrap());
    }
    let gaps: Vec<u64> = deadlines.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(deadlines[0], 200);
    assert_eq!(gaps, vec![400, 800, 1_000, 1_000, 1_000]);
}

#[test]
fn lagging_looking_peers_get_our_round_and_settled_servers_answer_lookers() {
    let mut e = three_voters(1);
    e.look(0, 0, 0);
    e.on_message(3, &looking(3, 0, 4), 1).unwrap();
    assert_eq!(e.logical_clock(), 4, "a higher round is joined");
    drain(&mut e);
    e.on_message(2, &looking(2, 0, 2), 2).unwrap();
    let replies = sent_to(&drain(&mut e));
    assert_eq!(replies.len(), 1);
    let (to, n) = &replies[0];
    assert_eq!(
        (*to, n.state, n.vote.leader, n.vote.election_epoch),
        (2, ServerState::Looking, 3, 4)
    );

    let settled = Vote {
        leader: 3,
        zxid: 9,
        election_epoch: 4,
        peer_epoch: 1,
    };
    e.settle(settled, ServerState::Following);
    assert_eq!(e.next_deadline(), None);
    e.on_message(2, &looking(2, 0, 7), 3).unwrap();
    let replies = sent_to(&drain(&mut e));
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].1.state, ServerState::Following);
    assert_eq!(replies[0].1.vote, settled);
    let following = notification::encode(ServerState::Following, &settled, b"");
    e.on_message(2, &following, 4).unwrap();
    assert!(
        drain(&mut e).is_empty(),
        "settled servers answer only lookers"
    );
    // A server outside the voter list (an observer) always gets an answer.
    e.on_message(7, &following, 5).unwrap();
    let replies = sent_to(&drain(&mut e));
    assert_eq!(replies[0].0, 7);
    assert_eq!(replies[0].1.vote.leader, 3);
}

#[test]
fn a_malformed_message_is_an_error_and_changes_nothing() {
    let mut e = three_voters(1);
    e.look(0, 0, 0);
    drain(&mut e);
    let before = (e.current_vote(), e.logical_clock(), e.next_deadline());
    assert_eq!(
        e.on_message(2, &[0u8; 10], 5),
        Err(NotificationError::TooShort { len: 10 })
    );
    let mut bad_state = looking(3, 0, 9).to_vec();
    bad_state[..4].copy_from_slice(&77i32.to_be_bytes());
    assert_eq!(
        e.on_message(2, &bad_state, 5),
        Err(NotificationError::UnknownState(77))
    );
    assert_eq!(
        (e.current_vote(), e.logical_clock(), e.next_deadline()),
        before
    );
    assert!(drain(&mut e).is_empty());
}

#[test]
fn notifications_before_the_first_round_are_kept_for_it() {
    let mut e = three_voters(1);
    e.on_message(3, &looking(3, 0, 1), 0).unwrap();
    e.look(0, 0, 1);
    assert_eq!(e.current_vote().leader, 3);
}

/// What the replication layer does around elections, reduced to its effect
/// on them: a follower whose leader does not lead, and a leader without a
/// quorum of followers, go back to looking (in 3.8 after failing to connect
/// or to gather followers within initLimit). Returns whether nobody had to.
fn settle_like_zab(net: &mut Net) -> bool {
    let voters: Vec<u64> = net
        .nodes
        .iter()
        .filter(|(_, n)| n.election.cfg.voters.contains(&n.election.cfg.my_id))
        .map(|(&id, _)| id)
        .collect();
    let mut relook = Vec::new();
    for (&id, node) in &net.nodes {
        let (state, leader) = (node.election.state(), node.election.current_vote().leader);
        match state {
            ServerState::Looking => {}
            ServerState::Following | ServerState::Observing => {
                if net
                    .nodes
                    .get(&leader)
                    .is_none_or(|l| l.election.state() != ServerState::Leading)
                {
                    relook.push(id);
                }
            }
            ServerState::Leading => {
                let backers = voters
                    .iter()
                    .filter(|v| net.outcome(**v) == (ServerState::Following, id) || **v == id)
                    .count();
                if backers <= voters.len() / 2 {
                    relook.push(id);
                }
            }
        }
    }
    for id in &relook {
        net.look(*id);
    }
    relook.is_empty()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    #[test]
    fn lossy_reordering_duplicating_networks_still_converge(
        seed: u64,
        voters in 3u64..=5,
        with_observer: bool,
        loss_percent in 0u64..30,
        duplicate_percent in 0u64..30,
        max_latency_ms in 1u64..300,
    ) {
        let observers: Vec<u64> = if with_observer { vec![voters + 1] } else { vec![] };
        let faults = Faults { loss_percent, duplicate_percent, max_latency_ms };
        let mut net = Net::new(voters, &observers, seed, faults);
        let mut rng = Rng::new(seed ^ 0xfeed);
        let ids: Vec<u64> = net.nodes.keys().copied().collect();
        for &id in &ids {
            net.set_history(id, rng.below(3) as i64, rng.below(2) as i64);
        }
        for &id in &ids {
            net.run_for(rng.below(500));
            net.look(id);
        }
        let mut settled = false;
        for _ in 0..30 {
            net.run_for(120_000);
            let stable = settle_like_zab(&mut net);
            if stable && ids.iter().all(|&id| net.state(id) != ServerState::Looking) {
                settled = true;
                break;
            }
        }
        proptest::prop_assert!(settled, "no stable leader after 30 rounds");
        let leaders: Vec<u64> = ids.iter().copied().filter(|&id| net.state(id) == ServerState::Leading).collect();
        proptest::prop_assert_eq!(leaders.len(), 1);
        let leader = leaders[0];
        proptest::prop_assert!(leader <= voters, "only voters lead");
        for &id in &ids {
            let expected = if id == leader {
                ServerState::Leading
            } else if id <= voters {
                ServerState::Following
            } else {
                ServerState::Observing
            };
            proptest::prop_assert_eq!(net.outcome(id), (expected, leader));
        }
    }
}
