//! The records both file kinds are made of: the 16-byte file header and a
//! log entry (TxnHeader, the transaction, and 3.8's optional TxnDigest).

use crate::jute::{JuteError, Reader, Record, Writer};
use crate::proto::txn::{Txn, TxnHeader};
use crate::proto::OpCode;

/// "ZKLG" read as a big-endian int: the first bytes of every log file.
pub const TXNLOG_MAGIC: i32 = i32::from_be_bytes(*b"ZKLG");
/// "ZKSN": the first bytes of every snapshot.
pub const SNAP_MAGIC: i32 = i32::from_be_bytes(*b"ZKSN");
/// The format version 3.8 writes in both headers (and names `version-2` after).
pub const FORMAT_VERSION: i32 = 2;
pub const FILE_HEADER_LEN: u64 = 16;
/// The byte after every log record ('B'); a record without it was cut short.
pub const END_OF_RECORD: u8 = b'B';

/// `org.apache.zookeeper.server.persistence.FileHeader`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHeader {
    pub magic: i32,
    pub version: i32,
    /// 0 in logs (3.8's FileTxnLog never sets it), -1 in snapshots.
    pub dbid: i64,
}

impl FileHeader {
    pub fn encode(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..4].copy_from_slice(&self.magic.to_be_bytes());
        out[4..8].copy_from_slice(&self.version.to_be_bytes());
        out[8..].copy_from_slice(&self.dbid.to_be_bytes());
        out
    }

    pub fn decode(b: &[u8; 16]) -> Self {
        FileHeader {
            magic: i32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            version: i32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            dbid: i64::from_be_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]),
        }
    }
}

/// `org.apache.zookeeper.txn.TxnDigest`: the tree digest (see
/// [`super::digest`]) after the transaction is applied. 3.8 writes one
/// after every transaction while `zookeeper.digest.enabled` (the default)
/// and compares it on replay; a record without one is never compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnDigest {
    pub version: i32,
    pub tree_digest: i64,
}

const TXN_DIGEST_LEN: usize = 12;

/// One decoded log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub header: TxnHeader,
    pub txn: Txn,
    pub digest: Option<TxnDigest>,
}

/// The record body 3.8's `Util.marshallTxnEntry` builds: header, txn, and
/// the digest when there is one.
pub fn marshal_entry(hdr: &TxnHeader, txn: &Txn, digest: Option<TxnDigest>, out: &mut Vec<u8>) {
    let mut w = Writer::from_vec(std::mem::take(out));
    hdr.encode(&mut w);
    txn.encode(&mut w);
    if let Some(d) = digest {
        w.i32(d.version);
        w.i64(d.tree_digest);
    }
    *out = w.into_vec();
}

/// Decodes a record body. As 3.8's `SerializeUtils.deserializeTxn` does,
/// a digest is read when at least its 12 bytes follow the transaction, and
/// a closeSession whose body does not parse is taken as one written with
/// `closeSessionTxn.enabled=false` (no body: the session's ephemerals go).
pub fn unmarshal_entry(bytes: &[u8]) -> Result<LogEntry, JuteError> {
    let mut r = Reader::new(bytes);
    let header = TxnHeader::decode(&mut r)?;
    let body = r.rest();
    let (txn, rest) = match decode_txn(header.kind, body) {
        Ok(v) => v,
        Err(_) if header.kind == OpCode::CloseSession.code() => (
            Txn::CloseSession {
                paths_to_delete: Vec::new(),
            },
            body,
        ),
        Err(e) => return Err(e),
    };
    let digest = (rest.len() >= TXN_DIGEST_LEN).then(|| {
        let mut d = Reader::new(rest);
        TxnDigest {
            version: d.i32().expect("length checked"),
            tree_digest: d.i64().expect("length checked"),
        }
    });
    Ok(LogEntry {
        header,
        txn,
        digest,
    })
}

fn decode_txn(kind: i32, body: &[u8]) -> Result<(Txn, &[u8]), JuteError> {
    // A closeSession without body but with a digest would otherwise be
    // read as a path vector: exactly a digest's length left means no body.
    if kind == OpCode::CloseSession.code() && body.len() == TXN_DIGEST_LEN {
        let mut r = Reader::new(body);
        if let Ok(txn) = Txn::decode(kind, &mut r) {
            if r.is_empty() && !closes_with_empty_paths(&txn) {
                return Ok((txn, r.rest()));
            }
        }
        return Ok((
            Txn::CloseSession {
                paths_to_delete: Vec::new(),
            },
            body,
        ));
    }
    let mut r = Reader::new(body);
    let txn = Txn::decode(kind, &mut r)?;
    Ok((txn, r.rest()))
}

fn closes_with_empty_paths(txn: &Txn) -> bool {
    matches!(txn, Txn::CloseSession { paths_to_delete } if paths_to_delete.iter().any(String::is_empty))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jute::records::Acl;
    use bytes::Bytes;

    fn hdr(kind: OpCode, zxid: i64) -> TxnHeader {
        TxnHeader {
            client_id: 0x1234,
            cxid: 7,
            zxid,
            time: 1_700_000_000_000,
            kind: kind.code(),
        }
    }

    #[test]
    fn magic_numbers_spell_the_file_kinds() {
        assert_eq!(TXNLOG_MAGIC, 0x5a4b_4c47);
        assert_eq!(SNAP_MAGIC, 0x5a4b_534e);
        let h = FileHeader {
            magic: TXNLOG_MAGIC,
            version: 2,
            dbid: 0,
        };
        assert_eq!(&h.encode()[..4], b"ZKLG");
        assert_eq!(FileHeader::decode(&h.encode()), h);
    }

    #[test]
    fn entries_round_trip_with_and_without_digest() {
        let txn = Txn::Create {
            path: "/a".into(),
            data: Some(Bytes::from_static(b"v")),
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: 3,
        };
        for digest in [
            None,
            Some(TxnDigest {
                version: 2,
                tree_digest: -5,
            }),
        ] {
            let mut buf = Vec::new();
            marshal_entry(&hdr(OpCode::Create, 9), &txn, digest, &mut buf);
            let e = unmarshal_entry(&buf).unwrap();
            assert_eq!(e.header, hdr(OpCode::Create, 9));
            assert_eq!(e.txn, txn);
            assert_eq!(e.digest, digest);
        }
    }

    #[test]
    fn close_session_without_body_keeps_its_digest() {
        let mut w = Writer::new();
        hdr(OpCode::CloseSession, 4).encode(&mut w);
        w.i32(2);
        w.i64(99);
        let e = unmarshal_entry(w.as_slice()).unwrap();
        assert_eq!(
            e.txn,
            Txn::CloseSession {
                paths_to_delete: vec![]
            }
        );
        assert_eq!(
            e.digest,
            Some(TxnDigest {
                version: 2,
                tree_digest: 99
            })
        );
        // A real one-path closeSession of the same length still decodes.
        let txn = Txn::CloseSession {
            paths_to_delete: vec!["/eph".into()],
        };
        let mut buf = Vec::new();
        marshal_entry(&hdr(OpCode::CloseSession, 5), &txn, None, &mut buf);
        assert_eq!(unmarshal_entry(&buf).unwrap().txn, txn);
    }

    #[test]
    fn a_short_tail_after_the_txn_is_no_digest() {
        let mut buf = Vec::new();
        marshal_entry(
            &hdr(OpCode::Delete, 3),
            &Txn::Delete { path: "/x".into() },
            None,
            &mut buf,
        );
        buf.extend_from_slice(&[0, 0, 0]);
        assert_eq!(unmarshal_entry(&buf).unwrap().digest, None);
    }
}
