//! Replies and watch notifications, encoded as whole frames.

use super::multi::{self, OpResult};
use super::{xid, ErrorCode, EventType, KeeperState};
use crate::jute::records::{Acl, ClientInfo, Stat};
use crate::jute::{Record, Writer};
use bytes::Bytes;

/// The body of a successful reply; errors carry no body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Empty,
    Create {
        path: String,
    },
    Create2 {
        path: String,
        stat: Stat,
    },
    Stat(Stat),
    GetData {
        data: Option<Bytes>,
        stat: Stat,
    },
    GetAcl {
        acl: Vec<Acl>,
        stat: Stat,
    },
    Children(Vec<String>),
    Children2 {
        children: Vec<String>,
        stat: Stat,
    },
    Sync {
        path: String,
    },
    Multi(Vec<OpResult>),
    AllChildrenNumber(i32),
    Ephemerals(Vec<String>),
    WhoAmI(Vec<ClientInfo>),
    /// addWatch answers with an ErrorResponse record holding 0.
    ErrorRecord(i32),
    /// The answer to a SASL token when no SASL server is set up: a null token.
    Sasl,
    /// A body already encoded: child lists are written straight from the
    /// tree, without copying every name first.
    Encoded(Vec<u8>),
}

impl Response {
    pub fn encode(&self, w: &mut Writer) {
        match self {
            Response::Empty => {}
            Response::Create { path } | Response::Sync { path } => w.string(path),
            Response::Create2 { path, stat } => {
                w.string(path);
                stat.encode(w);
            }
            Response::Stat(stat) => stat.encode(w),
            Response::GetData { data, stat } => {
                w.opt_buffer(data.as_deref());
                stat.encode(w);
            }
            Response::GetAcl { acl, stat } => {
                w.vec(acl);
                stat.encode(w);
            }
            Response::Children(children) | Response::Ephemerals(children) => w.vec(children),
            Response::Children2 { children, stat } => {
                w.vec(children);
                stat.encode(w);
            }
            Response::Multi(results) => multi::encode_results(results, w),
            Response::AllChildrenNumber(n) | Response::ErrorRecord(n) => w.i32(*n),
            Response::WhoAmI(infos) => w.vec(infos),
            Response::Sasl => w.opt_buffer(None),
            Response::Encoded(bytes) => w.raw(bytes),
        }
    }
}

/// Appends a reply frame (length, ReplyHeader, body) to `w`. The body is
/// sent only when `err` is Ok, as 3.8 does.
pub fn write_reply(w: &mut Writer, xid: i32, zxid: i64, err: ErrorCode, body: &Response) {
    let start = w.len();
    w.i32(0);
    w.i32(xid);
    w.i64(zxid);
    w.i32(err.code());
    if err == ErrorCode::Ok {
        body.encode(w);
    }
    let len = (w.len() - start - 4) as i32;
    w.patch_i32(start, len);
}

/// A watch notification as sent to a client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WatchEvent {
    pub kind: EventType,
    pub state: KeeperState,
    pub path: String,
}

/// Appends a notification frame; 3.8 sends zxid -1 in its header.
pub fn write_event(w: &mut Writer, event: &WatchEvent) {
    let start = w.len();
    w.i32(0);
    w.i32(xid::NOTIFICATION);
    w.i64(-1);
    w.i32(0);
    w.i32(event.kind.code());
    w.i32(event.state.code());
    w.string(&event.path);
    let len = (w.len() - start - 4) as i32;
    w.patch_i32(start, len);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_replies_have_no_body() {
        let mut w = Writer::new();
        write_reply(
            &mut w,
            7,
            0x10,
            ErrorCode::NoNode,
            &Response::Stat(Stat::default()),
        );
        assert_eq!(
            w.as_slice(),
            &[0, 0, 0, 16, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0x10, 0xff, 0xff, 0xff, 0x9b]
        );
    }

    #[test]
    fn event_frame_layout() {
        let mut w = Writer::new();
        write_event(
            &mut w,
            &WatchEvent {
                kind: EventType::NodeCreated,
                state: KeeperState::SyncConnected,
                path: "/a".into(),
            },
        );
        let b = w.into_vec();
        assert_eq!(&b[0..4], &[0, 0, 0, 30]);
        assert_eq!(&b[4..8], &(-1i32).to_be_bytes());
        assert_eq!(&b[8..16], &(-1i64).to_be_bytes());
        assert_eq!(&b[20..24], &1i32.to_be_bytes());
        assert_eq!(&b[24..28], &3i32.to_be_bytes());
    }
}
