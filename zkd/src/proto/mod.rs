//! The client protocol of ZooKeeper 3.8: opcodes, error codes, requests,
//! responses, watch events, transactions and path rules. Pure encoding and
//! decoding; what a request does lives in [`crate::engine`].

mod codes;
pub mod connect;
pub mod multi;
pub mod path;
pub mod quorum;
pub mod request;
pub mod response;
pub mod txn;

pub use codes::{CreateMode, ErrorCode, EventType, KeeperState, OpCode, WatcherType};

/// Reserved xids the client uses for requests that are not answered in order.
pub mod xid {
    pub const NOTIFICATION: i32 = -1;
    pub const PING: i32 = -2;
    pub const AUTH: i32 = -4;
    pub const SET_WATCHES: i32 = -8;
}
