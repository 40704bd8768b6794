//! Counting support for a vote, with the notion of "same vote" 3.8 uses.

use super::vote::{ServerState, Vote};
use std::collections::{BTreeMap, BTreeSet};

/// A vote as received: with the sender's state and the notification format
/// version, both of which change what counts as agreeing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ballot {
    pub vote: Vote,
    pub version: i32,
    pub state: ServerState,
}

impl Ballot {
    /// 3.8's `Vote.equals`: while either side is looking, everything but the
    /// state must match. Between settled servers only the leader and its
    /// epoch must match, and only the leader when exactly one of the two
    /// ballots came in a versioned notification (older servers reported
    /// epochs differently).
    pub fn agrees_with(&self, other: &Ballot) -> bool {
        let (a, b) = (&self.vote, &other.vote);
        if self.state == ServerState::Looking || other.state == ServerState::Looking {
            return a == b;
        }
        if (self.version > 0) != (other.version > 0) {
            a.leader == b.leader
        } else {
            a.leader == b.leader && a.peer_epoch == b.peer_epoch
        }
    }
}

/// Whether more than half of the voters cast a ballot agreeing with `target`.
/// Ballots of non-voters never count.
pub(super) fn has_quorum(
    ballots: &BTreeMap<u64, Ballot>,
    target: &Ballot,
    voters: &BTreeSet<u64>,
) -> bool {
    let support = ballots
        .iter()
        .filter(|(sid, ballot)| voters.contains(sid) && target.agrees_with(ballot))
        .count();
    support > voters.len() / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ballot(
        leader: u64,
        round: i64,
        peer_epoch: i64,
        version: i32,
        state: ServerState,
    ) -> Ballot {
        Ballot {
            vote: Vote {
                leader,
                zxid: 7,
                election_epoch: round,
                peer_epoch,
            },
            version,
            state,
        }
    }

    #[test]
    fn looking_ballots_must_match_entirely() {
        let a = ballot(3, 1, 1, 2, ServerState::Looking);
        assert!(a.agrees_with(&ballot(3, 1, 1, 0, ServerState::Following)));
        assert!(!a.agrees_with(&ballot(3, 2, 1, 2, ServerState::Looking)));
    }

    #[test]
    fn settled_ballots_match_on_leader_and_epoch_or_leader_alone_across_versions() {
        let a = ballot(3, 1, 1, 2, ServerState::Following);
        assert!(a.agrees_with(&ballot(3, 9, 1, 2, ServerState::Leading)));
        assert!(!a.agrees_with(&ballot(3, 9, 2, 2, ServerState::Leading)));
        assert!(a.agrees_with(&ballot(3, 9, 2, 0, ServerState::Leading)));
        assert!(!a.agrees_with(&ballot(2, 1, 1, 0, ServerState::Leading)));
    }

    #[test]
    fn quorum_is_a_strict_majority_of_voters() {
        let voters: BTreeSet<u64> = [1, 2, 3, 4].into();
        let target = ballot(3, 1, 1, 2, ServerState::Looking);
        let mut ballots = BTreeMap::new();
        ballots.insert(1, target);
        ballots.insert(2, target);
        ballots.insert(9, target);
        assert!(
            !has_quorum(&ballots, &target, &voters),
            "2 of 4 voters plus a non-voter"
        );
        ballots.insert(4, target);
        assert!(has_quorum(&ballots, &target, &voters));
    }
}
