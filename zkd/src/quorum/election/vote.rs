//! Votes, the order that ranks them, and the roles a server can be in.

use std::collections::BTreeSet;
use std::fmt;

/// The vote id an observer proposes: observers never stand for election, so
/// 3.8 fills their own vote with `Long.MIN_VALUE`, which no voter's vote can
/// lose to.
pub const NO_CANDIDATE: u64 = i64::MIN as u64;

/// A server's choice of leader.
///
/// `zxid` and `peer_epoch` describe the candidate's history (its last logged
/// transaction and its accepted epoch); `election_epoch` is the round of the
/// election the vote was cast in (the sender's logical clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Vote {
    pub leader: u64,
    pub zxid: i64,
    pub election_epoch: i64,
    pub peer_epoch: i64,
}

impl Vote {
    /// Whether a candidate with history `(peer_epoch, zxid, id)` of `challenger`
    /// must replace the one of `self`: a higher peer epoch wins, then a higher
    /// zxid, then a higher server id. Only voters can win; the election
    /// epoch plays no part.
    pub fn is_beaten_by(&self, challenger: &Vote, voters: &BTreeSet<u64>) -> bool {
        if !voters.contains(&challenger.leader) {
            return false;
        }
        // Ids compare as Java longs so that an observer's NO_CANDIDATE (the
        // most negative long) loses to every real id.
        let rank = |v: &Vote| (v.peer_epoch, v.zxid, v.leader as i64);
        rank(challenger) > rank(self)
    }
}

impl fmt::Display for Vote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(leader {}, zxid 0x{:x}, round 0x{:x}, peer epoch 0x{:x})",
            self.leader as i64, self.zxid, self.election_epoch, self.peer_epoch
        )
    }
}

/// What a server is doing, as 3.8's `QuorumPeer.ServerState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerState {
    Looking,
    Following,
    Leading,
    Observing,
}

impl ServerState {
    /// The number notifications carry (the Java enum's ordinal).
    pub fn wire(self) -> i32 {
        match self {
            ServerState::Looking => 0,
            ServerState::Following => 1,
            ServerState::Leading => 2,
            ServerState::Observing => 3,
        }
    }

    /// The state a wire number stands for, or `None` for a number 3.8 does
    /// not know.
    pub fn from_wire(n: i32) -> Option<ServerState> {
        match n {
            0 => Some(ServerState::Looking),
            1 => Some(ServerState::Following),
            2 => Some(ServerState::Leading),
            3 => Some(ServerState::Observing),
            _ => None,
        }
    }

    /// The upper-case name 3.8 logs and reports (`LEADING`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ServerState::Looking => "LOOKING",
            ServerState::Following => "FOLLOWING",
            ServerState::Leading => "LEADING",
            ServerState::Observing => "OBSERVING",
        }
    }
}

impl fmt::Display for ServerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(leader: u64, zxid: i64, peer_epoch: i64) -> Vote {
        Vote {
            leader,
            zxid,
            election_epoch: 1,
            peer_epoch,
        }
    }

    fn voters() -> BTreeSet<u64> {
        [1, 2, 3].into()
    }

    #[test]
    fn order_is_peer_epoch_then_zxid_then_id() {
        let v = voters();
        assert!(vote(1, 5, 1).is_beaten_by(&vote(2, 5, 1), &v));
        assert!(!vote(2, 5, 1).is_beaten_by(&vote(1, 5, 1), &v));
        assert!(vote(3, 5, 1).is_beaten_by(&vote(1, 6, 1), &v));
        assert!(vote(3, 9, 1).is_beaten_by(&vote(1, 2, 2), &v));
        assert!(
            !vote(2, 5, 1).is_beaten_by(&vote(2, 5, 1), &v),
            "a tie is not a win"
        );
    }

    #[test]
    fn only_voters_can_win_and_any_voter_beats_no_candidate() {
        let v = voters();
        assert!(!vote(1, 0, 0).is_beaten_by(&vote(9, 100, 100), &v));
        let nobody = vote(NO_CANDIDATE, i64::MIN, i64::MIN);
        assert!(nobody.is_beaten_by(&vote(1, -1, 0), &v));
        assert!(!vote(1, -1, 0).is_beaten_by(&nobody, &v));
    }

    #[test]
    fn state_numbers_match_the_java_enum() {
        for (state, n) in [
            (ServerState::Looking, 0),
            (ServerState::Following, 1),
            (ServerState::Leading, 2),
            (ServerState::Observing, 3),
        ] {
            assert_eq!(state.wire(), n);
            assert_eq!(ServerState::from_wire(n), Some(state));
        }
        assert_eq!(ServerState::from_wire(4), None);
        assert_eq!(ServerState::from_wire(-1), None);
    }
}
