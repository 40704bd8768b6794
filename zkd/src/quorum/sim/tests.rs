use super::{SimOptions, World};
use crate::quorum::election::ServerState;

fn start_all(w: &mut World, n: u64) {
    for id in 1..=n {
        w.start(id);
    }
}

#[test]
fn three_members_elect_one_leader_and_serve_writes() {
    let mut w = World::new(1, SimOptions::default());
    start_all(&mut w, 3);
    w.run(3_000, false);
    assert!(w.leader().is_some(), "{}", w.describe());
    w.run(5_000, false);
    w.settle_and_check();
    assert!(
        w.history.acked_writes() > 10,
        "only {} writes acknowledged",
        w.history.acked_writes()
    );
}

#[test]
fn a_killed_leader_is_replaced_and_nothing_acknowledged_is_lost() {
    let mut w = World::new(7, SimOptions::default());
    start_all(&mut w, 3);
    w.run(3_000, false);
    let leader = w.leader().expect("a leader");
    w.run(2_000, false);
    w.crash(leader);
    w.run(3_000, false);
    let next = w.leader().expect("a new leader");
    assert_ne!(next, leader);
    w.run(2_000, false);
    w.settle_and_check();
}

#[test]
fn five_members_keep_serving_with_two_down() {
    let opts = SimOptions {
        members: 5,
        ..SimOptions::default()
    };
    let mut w = World::new(3, opts);
    start_all(&mut w, 5);
    w.run(3_000, false);
    let leader = w.leader().expect("a leader");
    let others: Vec<u64> = (1..=5).filter(|i| *i != leader).take(2).collect();
    for id in &others {
        w.crash(*id);
    }
    w.run(3_000, false);
    assert_eq!(w.leader(), Some(leader));
    w.settle_and_check();
}

#[test]
fn an_observer_follows_without_voting() {
    let opts = SimOptions {
        observers: 1,
        ..SimOptions::default()
    };
    let mut w = World::new(5, opts);
    start_all(&mut w, 4);
    w.run(4_000, false);
    assert_eq!(
        w.state_of(4),
        (ServerState::Observing, true),
        "{}",
        w.describe()
    );
    w.settle_and_check();
}

fn seeds(env: &str, default: u64) -> std::ops::Range<u64> {
    let n = std::env::var(env)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    let first = std::env::var("ZKD_SIM_FIRST_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    first..first + n
}

/// Random faults for a few simulated seconds per seed, then calm, then the
/// checks. `ZKD_SIM_SEEDS=N` runs more; `ZKD_SIM_FIRST_SEED=S ZKD_SIM_SEEDS=1`
/// replays one.
#[test]
fn random_faults_three_members() {
    for seed in seeds("ZKD_SIM_SEEDS", 40) {
        let mut w = World::new(seed, SimOptions::default());
        start_all(&mut w, 3);
        w.run(6_000, true);
        w.settle_and_check();
    }
}

#[test]
fn random_faults_five_members_and_an_observer() {
    for seed in seeds("ZKD_SIM_SEEDS", 20) {
        let opts = SimOptions {
            members: 5,
            observers: 1,
            ..SimOptions::default()
        };
        let mut w = World::new(seed, opts);
        start_all(&mut w, 6);
        w.run(6_000, true);
        w.settle_and_check();
    }
}
