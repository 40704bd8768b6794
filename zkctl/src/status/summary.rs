//! From rows to a verdict: the quorum, the leader, how many failures the
//! ensemble survives, and what is wrong.

use super::answers::status_line_leader;
use super::report::{LeaderRef, MemberStatus, Mode, Problem, ProblemKind, Summary};

pub fn summarize(rows: &[MemberStatus]) -> Summary {
    let mut problems = Vec::new();
    let mut problem = |kind, message: String| problems.push(Problem { kind, message });

    let voters: Vec<&MemberStatus> = rows.iter().filter(|r| !r.observer).collect();
    let majority = voters.len() / 2 + 1;
    let leaders: Vec<&MemberStatus> = rows.iter().filter(|r| r.mode == Mode::Leader).collect();
    // A lone voter runs standalone (ZooKeeper's standaloneEnabled default):
    // it is its own quorum and leader.
    let lone_standalone = voters.len() == 1 && voters[0].mode == Mode::Standalone;
    let voters_serving = if lone_standalone {
        1
    } else {
        voters.iter().filter(|v| v.mode.in_quorum()).count()
    };
    let quorum = !voters.is_empty() && voters_serving >= majority;

    for row in rows {
        member_problems(row, rows.len(), voters.len(), &mut problem);
    }
    if !voters.is_empty() && !quorum {
        problem(
            ProblemKind::NoQuorum,
            format!(
                "no quorum: {voters_serving} of {} voters lead or follow, {majority} needed",
                voters.len()
            ),
        );
    }
    let leader = match leaders.as_slice() {
        [] if lone_standalone => Some(voters[0]),
        [] => {
            if !rows.is_empty() {
                problem(ProblemKind::NoLeader, "no member leads".into());
            }
            None
        }
        [leader] => Some(*leader),
        several => {
            let list: Vec<String> = several
                .iter()
                .map(|l| format!("{} ({})", l.name, epoch_text(l.epoch)))
                .collect();
            problem(
                ProblemKind::SeveralLeaders,
                format!("{} members lead: {}", several.len(), list.join(", ")),
            );
            None
        }
    };
    if let Some(leader) = leader {
        epoch_problems(leader, rows, &mut problem);
        agreement_problems(leader, rows, &mut problem);
    }
    Summary {
        quorum,
        voters: voters.len(),
        voters_serving,
        majority,
        leader: leader.map(|l| LeaderRef {
            name: l.name.clone(),
            myid: l.myid,
        }),
        survives_failures: if quorum { voters_serving - majority } else { 0 },
        problems,
    }
}

fn epoch_text(epoch: Option<u32>) -> String {
    epoch.map_or("epoch unknown".into(), |e| format!("epoch {e}"))
}

fn member_problems(
    row: &MemberStatus,
    members: usize,
    voters: usize,
    problem: &mut impl FnMut(ProblemKind, String),
) {
    let who = format!("{} ({})", row.name, row.address);
    let why = row.error.as_deref().unwrap_or("no details");
    match (row.mode, row.observer) {
        (Mode::Unreachable, _) => {
            problem(ProblemKind::MemberDown, format!("{who} unreachable: {why}"))
        }
        (Mode::BadAnswer, _) => problem(ProblemKind::MemberDown, format!("{who}: {why}")),
        (Mode::NotServing, _) => problem(
            ProblemKind::MemberDown,
            format!("{who} is not serving: electing a leader or cut off from the quorum"),
        ),
        (Mode::ReadOnly, _) => problem(
            ProblemKind::MemberDown,
            format!("{who} serves read-only: it is cut off from the quorum"),
        ),
        (Mode::Standalone, _) if members > 1 => problem(
            ProblemKind::WrongRole,
            format!(
                "{who} runs standalone, outside the ensemble (its zoo.cfg has no other members?)"
            ),
        ),
        (Mode::Observer, false) => problem(
            ProblemKind::WrongRole,
            format!("{who} is a voter here but observes (its zoo.cfg says observer)"),
        ),
        (Mode::Leader | Mode::Follower, true) => problem(
            ProblemKind::WrongRole,
            format!(
                "{who} should observe but is a {} (its zoo.cfg makes it a voter)",
                row.mode.as_str()
            ),
        ),
        _ => {}
    }
    let voters = voters as u64;
    if let Some(size) = row.quorum_size.filter(|&s| s != voters) {
        problem(
            ProblemKind::MembershipMismatch,
            format!(
                "{}'s configuration lists {size} voters, this member list {voters}",
                row.name
            ),
        );
    }
}

/// Every member serving under the leader should be at the leader's epoch.
///
/// `srvr`'s zxid is the last transaction applied, so its epoch is that of
/// the last write, not the term in force: a new leader that has written
/// nothing yet shows the previous epoch (zkd) or its new epoch with a zero
/// counter (Apache 3.8, whose followers then still show the old one until
/// the first write). So only a member ahead of the leader is always wrong;
/// one behind is wrong once the leader has written in its epoch, since
/// followers receive those writes when they sync.
fn epoch_problems(
    leader: &MemberStatus,
    rows: &[MemberStatus],
    problem: &mut impl FnMut(ProblemKind, String),
) {
    let (Some(leader_zxid), Some(leader_epoch)) = (leader.zxid, leader.epoch) else {
        return;
    };
    let leader_wrote = leader_zxid & 0xffff_ffff != 0;
    let under_leader = |r: &&MemberStatus| matches!(r.mode, Mode::Follower | Mode::Observer);
    for row in rows.iter().filter(under_leader) {
        let Some(epoch) = row.epoch else { continue };
        if epoch > leader_epoch {
            problem(
                ProblemKind::EpochMismatch,
                format!(
                    "{} is at epoch {epoch}, ahead of the leader {} (epoch {leader_epoch}): it has followed a newer leader",
                    row.name, leader.name
                ),
            );
        } else if epoch < leader_epoch && leader_wrote {
            problem(
                ProblemKind::EpochMismatch,
                format!(
                    "{} is at epoch {epoch}, behind the leader {} (epoch {leader_epoch})",
                    row.name, leader.name
                ),
            );
        }
    }
}

/// Whether the members that say they follow follow this leader: the
/// leader's own count of synced followers, and the systemd STATUS lines'
/// `leader=N` when present.
fn agreement_problems(
    leader: &MemberStatus,
    rows: &[MemberStatus],
    problem: &mut impl FnMut(ProblemKind, String),
) {
    let followers: Vec<&str> = rows
        .iter()
        .filter(|r| r.mode == Mode::Follower)
        .map(|r| r.name.as_str())
        .collect();
    if let Some(synced) = leader.synced_followers {
        // More synced followers than rows is fine: members outside our list.
        if (synced as usize) < followers.len() {
            problem(
                ProblemKind::LeaderDisagreement,
                format!(
                    "the leader {} has {synced} synced followers but {} members follow ({}): some follow another leader or are still syncing",
                    leader.name,
                    followers.len(),
                    followers.join(", ")
                ),
            );
        }
    }
    for row in rows {
        let named = row.systemd_status.as_deref().and_then(status_line_leader);
        if let Some(named) = named.filter(|&id| id != leader.myid) {
            problem(
                ProblemKind::LeaderDisagreement,
                format!(
                    "{}'s systemd status names leader {named}, but {} (myid {}) leads",
                    row.name, leader.name, leader.myid
                ),
            );
        }
    }
}
