//! What leader and learners say to each other, as typed values. The wire
//! form (3.8's QuorumPacket) is in `proto::quorum`; the state machines and
//! the simulation speak these.

use crate::jute::records::Id;
use crate::proto::txn::{Txn, TxnHeader};
use crate::tree::DataTree;
use bytes::Bytes;
use std::sync::Arc;

/// A transaction as it travels in PROPOSAL, INFORM and the sync stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub header: TxnHeader,
    pub txn: Txn,
}

impl Proposal {
    pub fn zxid(&self) -> i64 {
        self.header.zxid
    }
}

/// A client request a learner hands to the leader (3.8's REQUEST packet).
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardedRequest {
    pub session: i64,
    pub cxid: i32,
    pub op: i32,
    /// The request body as the client sent it (for createSession: the
    /// timeout as an int).
    pub body: Bytes,
    pub auth: Vec<Id>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LearnerMsg {
    /// FOLLOWERINFO or OBSERVERINFO: who we are and the epoch we accepted.
    Info {
        sid: u64,
        accepted_epoch: i64,
        observer: bool,
    },
    /// ACKEPOCH: our last logged zxid, and our current epoch (-1 when the
    /// leader's epoch was already accepted).
    AckEpoch {
        last_zxid: i64,
        current_epoch: i64,
    },
    Ack {
        zxid: i64,
    },
    /// The answer to a PING: sessions touched since the last one.
    Ping {
        zxid: i64,
        touches: Vec<(i64, u32)>,
    },
    Revalidate {
        session: i64,
        timeout_ms: u32,
    },
    Request(ForwardedRequest),
}

#[derive(Clone)]
pub enum LeaderMsg {
    LeaderInfo {
        new_epoch: i64,
    },
    Diff {
        zxid: i64,
    },
    Trunc {
        zxid: i64,
    },
    /// SNAP, followed on the wire by the serialised tree.
    Snap {
        zxid: i64,
        tree: Arc<DataTree>,
        sessions: Vec<(i64, u32)>,
    },
    Proposal(Proposal),
    Commit {
        zxid: i64,
    },
    /// A committed transaction, for observers.
    Inform(Proposal),
    NewLeader {
        zxid: i64,
        config: Bytes,
    },
    UpToDate,
    Ping {
        zxid: i64,
    },
    Revalidate {
        session: i64,
        valid: bool,
    },
    /// Every write the learner forwarded before its sync is committed.
    Sync,
}

impl std::fmt::Debug for LeaderMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeaderMsg::Snap { zxid, tree, .. } => {
                write!(f, "SNAP(0x{zxid:x}, {} nodes)", tree.node_count())
            }
            LeaderMsg::Proposal(p) | LeaderMsg::Inform(p) => {
                write!(f, "{}(0x{:x})", self.name(), p.zxid())
            }
            LeaderMsg::LeaderInfo { new_epoch: z }
            | LeaderMsg::Diff { zxid: z }
            | LeaderMsg::Trunc { zxid: z }
            | LeaderMsg::Commit { zxid: z }
            | LeaderMsg::NewLeader { zxid: z, .. }
            | LeaderMsg::Ping { zxid: z } => write!(f, "{}(0x{z:x})", self.name()),
            LeaderMsg::Revalidate { session, valid } => {
                write!(f, "REVALIDATE(0x{session:x}, {valid})")
            }
            _ => f.write_str(self.name()),
        }
    }
}

impl LeaderMsg {
    pub fn name(&self) -> &'static str {
        match self {
            LeaderMsg::LeaderInfo { .. } => "LEADERINFO",
            LeaderMsg::Diff { .. } => "DIFF",
            LeaderMsg::Trunc { .. } => "TRUNC",
            LeaderMsg::Snap { .. } => "SNAP",
            LeaderMsg::Proposal(_) => "PROPOSAL",
            LeaderMsg::Commit { .. } => "COMMIT",
            LeaderMsg::Inform(_) => "INFORM",
            LeaderMsg::NewLeader { .. } => "NEWLEADER",
            LeaderMsg::UpToDate => "UPTODATE",
            LeaderMsg::Ping { .. } => "PING",
            LeaderMsg::Revalidate { .. } => "REVALIDATE",
            LeaderMsg::Sync => "SYNC",
        }
    }
}

pub fn make_zxid(epoch: i64, counter: i64) -> i64 {
    (epoch << 32) | (counter & 0xffff_ffff)
}

pub fn epoch_of(zxid: i64) -> i64 {
    zxid >> 32
}

pub fn counter_of(zxid: i64) -> i64 {
    zxid & 0xffff_ffff
}
