//! Client requests, decoded from a frame's body after the request header.

use super::multi::{self, MultiOp};
use super::{OpCode, WatcherType};
use crate::jute::records::Acl;
use crate::jute::{JuteError, Reader, Writer};

/// The header every request frame after the handshake starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHeader {
    pub xid: i32,
    pub op: i32,
}

/// A create of any flavour; `op` says which reply shape the client expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    pub op: OpCode,
    pub path: String,
    /// `None` when the client sent a null buffer: 3.8 keeps null data
    /// null, distinct from empty.
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
    pub flags: i32,
    /// -1 unless the request is a createTTL.
    pub ttl: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetWatches {
    /// Sent as setWatches2 (with the two persistent lists).
    pub v2: bool,
    pub relative_zxid: i64,
    pub data: Vec<String>,
    pub exist: Vec<String>,
    pub child: Vec<String>,
    pub persistent: Vec<String>,
    pub persistent_recursive: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Create(CreateRequest),
    Delete {
        path: String,
        version: i32,
    },
    Exists {
        path: String,
        watch: bool,
    },
    GetData {
        path: String,
        watch: bool,
    },
    SetData {
        path: String,
        data: Option<Vec<u8>>,
        version: i32,
    },
    GetAcl {
        path: String,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
    },
    GetChildren {
        path: String,
        watch: bool,
    },
    GetChildren2 {
        path: String,
        watch: bool,
    },
    Sync {
        path: String,
    },
    Ping,
    Check {
        path: String,
        version: i32,
    },
    Multi(Vec<MultiOp>),
    MultiRead(Vec<MultiOp>),
    Reconfig,
    CheckWatches {
        path: String,
        kind: i32,
    },
    RemoveWatches {
        path: String,
        kind: i32,
    },
    Auth {
        scheme: String,
        auth: Vec<u8>,
    },
    SetWatches(SetWatches),
    Sasl,
    GetEphemerals {
        prefix: String,
    },
    GetAllChildrenNumber {
        path: String,
    },
    AddWatch {
        path: String,
        mode: i32,
    },
    WhoAmI,
    CloseSession,
}

/// Why a request frame could not be turned into a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The opcode is not one 3.8 serves to clients.
    UnknownOp(i32),
    /// The body does not parse as the opcode's record.
    Malformed(OpCode, JuteError),
}

impl Request {
    /// Decodes a request body for `op`.
    pub fn decode(op: i32, body: &[u8]) -> Result<Request, DecodeError> {
        let code = OpCode::from_i32(op).ok_or(DecodeError::UnknownOp(op))?;
        let mut r = Reader::new(body);
        Self::decode_body(code, &mut r).map_err(|e| DecodeError::Malformed(code, e))
    }

    pub(crate) fn decode_body(op: OpCode, r: &mut Reader<'_>) -> Result<Request, JuteError> {
        Ok(match op {
            OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                let path = r.string()?;
                let data = r.opt_buffer()?.map(<[u8]>::to_vec);
                let acl = r.vec()?;
                let flags = r.i32()?;
                let ttl = if op == OpCode::CreateTtl {
                    r.i64()?
                } else {
                    -1
                };
                Request::Create(CreateRequest {
                    op,
                    path,
                    data,
                    acl,
                    flags,
                    ttl,
                })
            }
            OpCode::Delete => Request::Delete {
                path: r.string()?,
                version: r.i32()?,
            },
            OpCode::Exists => Request::Exists {
                path: r.string()?,
                watch: r.bool()?,
            },
            OpCode::GetData => Request::GetData {
                path: r.string()?,
                watch: r.bool()?,
            },
            OpCode::SetData => Request::SetData {
                path: r.string()?,
                data: r.opt_buffer()?.map(<[u8]>::to_vec),
                version: r.i32()?,
            },
            OpCode::GetAcl => Request::GetAcl { path: r.string()? },
            OpCode::SetAcl => Request::SetAcl {
                path: r.string()?,
                acl: r.vec()?,
                version: r.i32()?,
            },
            OpCode::GetChildren => Request::GetChildren {
                path: r.string()?,
                watch: r.bool()?,
            },
            OpCode::GetChildren2 => Request::GetChildren2 {
                path: r.string()?,
                watch: r.bool()?,
            },
            OpCode::Sync => Request::Sync { path: r.string()? },
            OpCode::Ping => Request::Ping,
            OpCode::Check => Request::Check {
                path: r.string()?,
                version: r.i32()?,
            },
            OpCode::Multi => Request::Multi(multi::decode_ops(r)?),
            OpCode::MultiRead => Request::MultiRead(multi::decode_ops(r)?),
            OpCode::Reconfig => {
                // joiningServers, leavingServers, newMembers (all nullable), curConfigId.
                r.opt_string()?;
                r.opt_string()?;
                r.opt_string()?;
                r.i64()?;
                Request::Reconfig
            }
            OpCode::CheckWatches => Request::CheckWatches {
                path: r.string()?,
                kind: r.i32()?,
            },
            OpCode::RemoveWatches => Request::RemoveWatches {
                path: r.string()?,
                kind: r.i32()?,
            },
            OpCode::Auth => {
                let _type = r.i32()?;
                Request::Auth {
                    scheme: r.string()?,
                    auth: r.buffer()?.to_vec(),
                }
            }
            OpCode::SetWatches | OpCode::SetWatches2 => {
                let mut sw = SetWatches {
                    v2: op == OpCode::SetWatches2,
                    relative_zxid: r.i64()?,
                    data: r.vec()?,
                    exist: r.vec()?,
                    child: r.vec()?,
                    ..SetWatches::default()
                };
                if op == OpCode::SetWatches2 {
                    sw.persistent = r.vec()?;
                    sw.persistent_recursive = r.vec()?;
                }
                Request::SetWatches(sw)
            }
            OpCode::Sasl => Request::Sasl,
            OpCode::GetEphemerals => Request::GetEphemerals {
                prefix: r.opt_string()?.unwrap_or_default(),
            },
            OpCode::GetAllChildrenNumber => Request::GetAllChildrenNumber { path: r.string()? },
            OpCode::AddWatch => Request::AddWatch {
                path: r.string()?,
                mode: r.i32()?,
            },
            OpCode::WhoAmI => Request::WhoAmI,
            OpCode::CloseSession => Request::CloseSession,
            OpCode::Notification
            | OpCode::DeleteContainer
            | OpCode::CreateSession
            | OpCode::Error => {
                return Err(JuteError::Invalid(format!(
                    "opcode {} is not a client request",
                    op.code()
                )))
            }
        })
    }

    /// The opcode this request was sent with.
    pub fn op(&self) -> OpCode {
        match self {
            Request::Create(c) => c.op,
            Request::Delete { .. } => OpCode::Delete,
            Request::Exists { .. } => OpCode::Exists,
            Request::GetData { .. } => OpCode::GetData,
            Request::SetData { .. } => OpCode::SetData,
            Request::GetAcl { .. } => OpCode::GetAcl,
            Request::SetAcl { .. } => OpCode::SetAcl,
            Request::GetChildren { .. } => OpCode::GetChildren,
            Request::GetChildren2 { .. } => OpCode::GetChildren2,
            Request::Sync { .. } => OpCode::Sync,
            Request::Ping => OpCode::Ping,
            Request::Check { .. } => OpCode::Check,
            Request::Multi(_) => OpCode::Multi,
            Request::MultiRead(_) => OpCode::MultiRead,
            Request::Reconfig => OpCode::Reconfig,
            Request::CheckWatches { .. } => OpCode::CheckWatches,
            Request::RemoveWatches { .. } => OpCode::RemoveWatches,
            Request::Auth { .. } => OpCode::Auth,
            Request::SetWatches(sw) if sw.v2 => OpCode::SetWatches2,
            Request::SetWatches(_) => OpCode::SetWatches,
            Request::Sasl => OpCode::Sasl,
            Request::GetEphemerals { .. } => OpCode::GetEphemerals,
            Request::GetAllChildrenNumber { .. } => OpCode::GetAllChildrenNumber,
            Request::AddWatch { .. } => OpCode::AddWatch,
            Request::WhoAmI => OpCode::WhoAmI,
            Request::CloseSession => OpCode::CloseSession,
        }
    }

    /// The path a request names, for logs and `cons`.
    pub fn path(&self) -> Option<&str> {
        match self {
            Request::Create(c) => Some(&c.path),
            Request::Delete { path, .. }
            | Request::Exists { path, .. }
            | Request::GetData { path, .. }
            | Request::SetData { path, .. }
            | Request::GetAcl { path }
            | Request::SetAcl { path, .. }
            | Request::GetChildren { path, .. }
            | Request::GetChildren2 { path, .. }
            | Request::Sync { path }
            | Request::Check { path, .. }
            | Request::CheckWatches { path, .. }
            | Request::RemoveWatches { path, .. }
            | Request::GetAllChildrenNumber { path }
            | Request::AddWatch { path, .. } => Some(path),
            _ => None,
        }
    }

    /// Encodes the body, as a client would: used by tests and the fuzzers'
    /// seed corpora.
    pub fn encode_body(&self, w: &mut Writer) {
        match self {
            Request::Create(c) => {
                w.string(&c.path);
                w.opt_buffer(c.data.as_deref());
                w.vec(&c.acl);
                w.i32(c.flags);
                if c.op == OpCode::CreateTtl {
                    w.i64(c.ttl);
                }
            }
            Request::Delete { path, version } | Request::Check { path, version } => {
                w.string(path);
                w.i32(*version);
            }
            Request::Exists { path, watch }
            | Request::GetData { path, watch }
            | Request::GetChildren { path, watch }
            | Request::GetChildren2 { path, watch } => {
                w.string(path);
                w.bool(*watch);
            }
            Request::SetData {
                path,
                data,
                version,
            } => {
                w.string(path);
                w.opt_buffer(data.as_deref());
                w.i32(*version);
            }
            Request::GetAcl { path }
            | Request::Sync { path }
            | Request::GetAllChildrenNumber { path } => w.string(path),
            Request::SetAcl { path, acl, version } => {
                w.string(path);
                w.vec(acl);
                w.i32(*version);
            }
            Request::Multi(ops) | Request::MultiRead(ops) => multi::encode_ops(ops, w),
            Request::CheckWatches { path, kind } | Request::RemoveWatches { path, kind } => {
                w.string(path);
                w.i32(*kind);
            }
            Request::Auth { scheme, auth } => {
                w.i32(0);
                w.string(scheme);
                w.buffer(auth);
            }
            Request::SetWatches(sw) => {
                w.i64(sw.relative_zxid);
                w.vec(&sw.data);
                w.vec(&sw.exist);
                w.vec(&sw.child);
                if sw.v2 {
                    w.vec(&sw.persistent);
                    w.vec(&sw.persistent_recursive);
                }
            }
            Request::GetEphemerals { prefix } => w.string(prefix),
            Request::AddWatch { path, mode } => {
                w.string(path);
                w.i32(*mode);
            }
            Request::Reconfig => {
                w.opt_buffer(None);
                w.opt_buffer(None);
                w.opt_buffer(None);
                w.i64(-1);
            }
            Request::Ping | Request::Sasl | Request::WhoAmI | Request::CloseSession => {}
        }
    }
}

/// Maps a checkWatches/removeWatches type, defaulting like 3.8 does for
/// unknown values (it rejects them as bad arguments).
pub fn watcher_type(kind: i32) -> Option<WatcherType> {
    WatcherType::from_i32(kind)
}
