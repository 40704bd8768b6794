//! Transactions: what a write request becomes once checked, and what the
//! log stores and the tree applies. Encodings are 3.8's `org.apache.zookeeper.txn`.

use super::OpCode;
use crate::jute::records::Acl;
use crate::jute::{JuteError, Reader, Record, Writer};
use bytes::Bytes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnHeader {
    pub client_id: i64,
    pub cxid: i32,
    pub zxid: i64,
    pub time: i64,
    /// The opcode, or -1 (`OpCode::Error`) for a failed request.
    pub kind: i32,
}

impl Record for TxnHeader {
    fn decode(r: &mut Reader<'_>) -> Result<Self, JuteError> {
        Ok(TxnHeader {
            client_id: r.i64()?,
            cxid: r.i32()?,
            zxid: r.i64()?,
            time: r.i64()?,
            kind: r.i32()?,
        })
    }
    fn encode(&self, w: &mut Writer) {
        w.i64(self.client_id);
        w.i32(self.cxid);
        w.i64(self.zxid);
        w.i64(self.time);
        w.i32(self.kind);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Txn {
    /// create and create2 (the header's type tells them apart).
    Create {
        path: String,
        data: Option<Bytes>,
        acl: Vec<Acl>,
        ephemeral: bool,
        parent_cversion: i32,
    },
    CreateContainer {
        path: String,
        data: Option<Bytes>,
        acl: Vec<Acl>,
        parent_cversion: i32,
    },
    CreateTtl {
        path: String,
        data: Option<Bytes>,
        acl: Vec<Acl>,
        parent_cversion: i32,
        ttl: i64,
    },
    /// delete and deleteContainer.
    Delete {
        path: String,
    },
    SetData {
        path: String,
        data: Option<Bytes>,
        version: i32,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
    },
    Check {
        path: String,
        version: i32,
    },
    CreateSession {
        timeout_ms: i32,
    },
    CloseSession {
        paths_to_delete: Vec<String>,
    },
    Error {
        err: i32,
    },
    /// Each sub-transaction with its own type code.
    Multi(Vec<(i32, Txn)>),
}

impl Txn {
    pub fn encode(&self, w: &mut Writer) {
        match self {
            Txn::Create {
                path,
                data,
                acl,
                ephemeral,
                parent_cversion,
            } => {
                w.string(path);
                w.opt_buffer(data.as_deref());
                w.vec(acl);
                w.bool(*ephemeral);
                w.i32(*parent_cversion);
            }
            Txn::CreateContainer {
                path,
                data,
                acl,
                parent_cversion,
            } => {
                w.string(path);
                w.opt_buffer(data.as_deref());
                w.vec(acl);
                w.i32(*parent_cversion);
            }
            Txn::CreateTtl {
                path,
                data,
                acl,
                parent_cversion,
                ttl,
            } => {
                w.string(path);
                w.opt_buffer(data.as_deref());
                w.vec(acl);
                w.i32(*parent_cversion);
                w.i64(*ttl);
            }
            Txn::Delete { path } => w.string(path),
            Txn::SetData {
                path,
                data,
                version,
            } => {
                w.string(path);
                w.opt_buffer(data.as_deref());
                w.i32(*version);
            }
            Txn::SetAcl { path, acl, version } => {
                w.string(path);
                w.vec(acl);
                w.i32(*version);
            }
            Txn::Check { path, version } => {
                w.string(path);
                w.i32(*version);
            }
            Txn::CreateSession { timeout_ms } => w.i32(*timeout_ms),
            Txn::CloseSession { paths_to_delete } => w.vec(paths_to_delete),
            Txn::Error { err } => w.i32(*err),
            Txn::Multi(txns) => {
                w.i32(txns.len() as i32);
                for (kind, txn) in txns {
                    w.i32(*kind);
                    let mut inner = Writer::new();
                    txn.encode(&mut inner);
                    w.buffer(inner.as_slice());
                }
            }
        }
    }

    /// Decodes the body of a transaction of type `kind`. A closeSession
    /// without body (written by servers with closeSessionTxn disabled)
    /// decodes as an empty path list.
    pub fn decode(kind: i32, r: &mut Reader<'_>) -> Result<Txn, JuteError> {
        let op = OpCode::from_i32(kind)
            .ok_or_else(|| JuteError::Invalid(format!("unknown transaction type {kind}")))?;
        Ok(match op {
            OpCode::Create | OpCode::Create2 => Txn::Create {
                path: r.string()?,
                data: r.opt_buffer()?.map(Bytes::copy_from_slice),
                acl: r.vec()?,
                ephemeral: r.bool()?,
                parent_cversion: r.i32()?,
            },
            OpCode::CreateContainer => Txn::CreateContainer {
                path: r.string()?,
                data: r.opt_buffer()?.map(Bytes::copy_from_slice),
                acl: r.vec()?,
                parent_cversion: r.i32()?,
            },
            OpCode::CreateTtl => Txn::CreateTtl {
                path: r.string()?,
                data: r.opt_buffer()?.map(Bytes::copy_from_slice),
                acl: r.vec()?,
                parent_cversion: r.i32()?,
                ttl: r.i64()?,
            },
            OpCode::Delete | OpCode::DeleteContainer => Txn::Delete { path: r.string()? },
            OpCode::SetData | OpCode::Reconfig => Txn::SetData {
                path: r.string()?,
                data: r.opt_buffer()?.map(Bytes::copy_from_slice),
                version: r.i32()?,
            },
            OpCode::SetAcl => Txn::SetAcl {
                path: r.string()?,
                acl: r.vec()?,
                version: r.i32()?,
            },
            OpCode::Check => Txn::Check {
                path: r.string()?,
                version: r.i32()?,
            },
            OpCode::CreateSession => Txn::CreateSession {
                timeout_ms: r.i32()?,
            },
            OpCode::CloseSession => Txn::CloseSession {
                paths_to_delete: if r.is_empty() { Vec::new() } else { r.vec()? },
            },
            OpCode::Error => Txn::Error { err: r.i32()? },
            OpCode::Multi => {
                let at = r.position();
                let n = r.i32()?;
                if n < 0 {
                    return Err(JuteError::BadLength { at, len: n });
                }
                let mut txns = Vec::new();
                for _ in 0..n {
                    let at = r.position();
                    let kind = r.i32()?;
                    if kind == OpCode::Multi.code() {
                        return Err(JuteError::Invalid(format!(
                            "multi transaction nested in a multi at offset {at}"
                        )));
                    }
                    let body = r.buffer()?;
                    let txn = Txn::decode(kind, &mut Reader::new(body))?;
                    txns.push((kind, txn));
                }
                Txn::Multi(txns)
            }
            other => {
                return Err(JuteError::Invalid(format!(
                    "opcode {} has no transaction",
                    other.code()
                )))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_round_trips() {
        let txn = Txn::Multi(vec![
            (
                OpCode::Create.code(),
                Txn::Create {
                    path: "/a".into(),
                    data: Some(Bytes::from_static(b"x")),
                    acl: Acl::open_unsafe(),
                    ephemeral: false,
                    parent_cversion: 1,
                },
            ),
            (OpCode::Error.code(), Txn::Error { err: -101 }),
        ]);
        let mut w = Writer::new();
        txn.encode(&mut w);
        let bytes = w.into_vec();
        let back = Txn::decode(OpCode::Multi.code(), &mut Reader::new(&bytes)).unwrap();
        assert_eq!(back, txn);
    }
}
