//! The bodies quorum packets carry in their data buffer, and zxid
//! arithmetic. 3.8 builds most bodies with `DataOutputStream` (big-endian,
//! no lengths) and reads them with `ByteBuffer`/`DataInputStream`, which
//! ignore bytes after the fields they want; the decoders here do the same.

use crate::proto::txn::{Txn, TxnHeader};
use crate::storage::{marshal_entry, unmarshal_entry, LogEntry, TxnDigest};
use bytes::Bytes;

/// The Zab protocol version 3.4 and later speak (`0x10000`), sent in
/// LEADERINFO and in [`LearnerInfo::protocol_version`].
pub const ZAB_PROTOCOL_VERSION: i32 = 0x10000;

/// The protocol version 3.8's leader assumes for a learner whose info
/// does not carry one: a pre-3.4 peer, which skips LEADERINFO/ACKEPOCH.
pub const PRE_ZAB_1_0_VERSION: i32 = 0x1;

/// The epoch in an ACKEPOCH body that says "I already accepted this
/// epoch, this is not an ack for it" (3.8's `Learner.registerWithLeader`).
pub const ACK_EPOCH_NOT_AN_ACK: i32 = -1;

/// A zxid: the epoch in the high 32 bits, a counter in the low 32.
pub fn make_zxid(epoch: i64, counter: i64) -> i64 {
    (epoch << 32) | (counter & 0xffff_ffff)
}

/// The epoch of a zxid. An arithmetic shift, as 3.8's `zxid >> 32L`.
pub fn epoch_of(zxid: i64) -> i64 {
    zxid >> 32
}

pub fn counter_of(zxid: i64) -> i64 {
    zxid & 0xffff_ffff
}

/// Why a packet body could not be decoded. `what` names the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("{what} has no data")]
    Missing { what: &'static str },
    #[error("{what} is {got} bytes, it needs at least {needed}")]
    TooShort {
        what: &'static str,
        needed: usize,
        got: usize,
    },
    #[error("{what} is {len} bytes, not a whole number of {entry}-byte entries")]
    Ragged {
        what: &'static str,
        len: usize,
        entry: usize,
    },
    #[error("{what}: the transaction does not decode: {detail}")]
    Txn { what: &'static str, detail: String },
}

/// The fields a body decoder reads, in order, from a byte slice.
struct Fields<'a> {
    what: &'static str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn new(what: &'static str, data: Option<&'a [u8]>) -> Result<Self, PayloadError> {
        let bytes = data.ok_or(PayloadError::Missing { what })?;
        Ok(Fields {
            what,
            bytes,
            pos: 0,
        })
    }

    /// Checks up front that the fixed fields fit, so the error names the
    /// whole body's shortfall rather than the field that ran out.
    fn need(self, needed: usize) -> Result<Self, PayloadError> {
        if self.bytes.len() < needed {
            return Err(PayloadError::TooShort {
                what: self.what,
                needed,
                got: self.bytes.len(),
            });
        }
        Ok(self)
    }

    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        b.copy_from_slice(&self.bytes[self.pos..self.pos + N]);
        self.pos += N;
        b
    }

    fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.take())
    }

    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take())
    }

    fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos..]
    }
}

/// `LearnerInfo`, the body of FOLLOWERINFO and OBSERVERINFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnerInfo {
    pub sid: i64,
    pub protocol_version: i32,
    /// The version of the learner's last activated configuration; `None`
    /// for the 12-byte form, which 3.8 accepts and then checks nothing.
    pub config_version: Option<i64>,
}

impl LearnerInfo {
    /// What 3.8's learner sends: the 20-byte record (12 bytes when
    /// `config_version` is `None`).
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(20);
        out.extend_from_slice(&self.sid.to_be_bytes());
        out.extend_from_slice(&self.protocol_version.to_be_bytes());
        if let Some(v) = self.config_version {
            out.extend_from_slice(&v.to_be_bytes());
        }
        Bytes::from(out)
    }

    /// Reads the forms 3.8's `LearnerHandler` accepts: 8 bytes (the sid
    /// only: a pre-3.4 learner, [`PRE_ZAB_1_0_VERSION`]), 12 (no config
    /// version) or 20. `Ok(None)` for null data, to which 3.8 answers by
    /// giving the learner a made-up negative sid.
    pub fn decode(data: Option<&[u8]>) -> Result<Option<LearnerInfo>, PayloadError> {
        if data.is_none() {
            return Ok(None);
        }
        let mut f = Fields::new("the learner info", data)?.need(8)?;
        let sid = f.i64();
        let protocol_version = if f.rest().len() >= 4 {
            f.i32()
        } else {
            PRE_ZAB_1_0_VERSION
        };
        let config_version = (f.rest().len() >= 8).then(|| f.i64());
        Ok(Some(LearnerInfo {
            sid,
            protocol_version,
            config_version,
        }))
    }
}

/// The LEADERINFO body: the leader's protocol version.
pub fn encode_leader_info(protocol_version: i32) -> Bytes {
    Bytes::copy_from_slice(&protocol_version.to_be_bytes())
}

pub fn decode_leader_info(data: Option<&[u8]>) -> Result<i32, PayloadError> {
    Ok(Fields::new("the LEADERINFO body", data)?.need(4)?.i32())
}

/// The ACKEPOCH body: the learner's current epoch, or
/// [`ACK_EPOCH_NOT_AN_ACK`]. The packet's zxid is its last logged zxid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckEpoch {
    /// An int on the wire: 3.8 casts the epoch down to 32 bits.
    pub current_epoch: i32,
}

impl AckEpoch {
    pub fn encode(&self) -> Bytes {
        Bytes::copy_from_slice(&self.current_epoch.to_be_bytes())
    }

    pub fn decode(data: Option<&[u8]>) -> Result<AckEpoch, PayloadError> {
        let current_epoch = Fields::new("the ACKEPOCH body", data)?.need(4)?.i32();
        Ok(AckEpoch { current_epoch })
    }

    /// Whether this counts as an ack of the proposed epoch.
    pub fn is_ack(&self) -> bool {
        self.current_epoch != ACK_EPOCH_NOT_AN_ACK
    }
}

/// The REQUEST body: a client request a learner forwards to the leader.
/// The packet's auth ids are the client's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnerRequest {
    pub session_id: i64,
    pub cxid: i32,
    /// The opcode.
    pub kind: i32,
    /// The request record as the client sent it (after its header).
    pub request: Bytes,
}

impl LearnerRequest {
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(16 + self.request.len());
        out.extend_from_slice(&self.session_id.to_be_bytes());
        out.extend_from_slice(&self.cxid.to_be_bytes());
        out.extend_from_slice(&self.kind.to_be_bytes());
        out.extend_from_slice(&self.request);
        Bytes::from(out)
    }

    pub fn decode(data: Option<&[u8]>) -> Result<LearnerRequest, PayloadError> {
        let mut f = Fields::new("the REQUEST body", data)?.need(16)?;
        Ok(LearnerRequest {
            session_id: f.i64(),
            cxid: f.i32(),
            kind: f.i32(),
            request: Bytes::copy_from_slice(f.rest()),
        })
    }
}

/// One entry of a learner's PING reply: a session it saw activity on,
/// with the session's timeout in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTouch {
    pub session_id: i64,
    pub timeout_ms: i32,
}

const TOUCH_LEN: usize = 12;

impl SessionTouch {
    /// A learner's PING reply body; empty (not null) when it has nothing,
    /// as 3.8 sends it.
    pub fn encode_all(touches: &[SessionTouch]) -> Bytes {
        let mut out = Vec::with_capacity(touches.len() * TOUCH_LEN);
        for t in touches {
            out.extend_from_slice(&t.session_id.to_be_bytes());
            out.extend_from_slice(&t.timeout_ms.to_be_bytes());
        }
        Bytes::from(out)
    }

    /// Null data reads as no touches (the leader's own PINGs carry none).
    pub fn decode_all(data: Option<&[u8]>) -> Result<Vec<SessionTouch>, PayloadError> {
        let Some(bytes) = data else {
            return Ok(Vec::new());
        };
        if bytes.len() % TOUCH_LEN != 0 {
            return Err(PayloadError::Ragged {
                what: "the PING reply body",
                len: bytes.len(),
                entry: TOUCH_LEN,
            });
        }
        let mut f = Fields::new("the PING reply body", data)?;
        let mut out = Vec::with_capacity(bytes.len() / TOUCH_LEN);
        while !f.rest().is_empty() {
            out.push(SessionTouch {
                session_id: f.i64(),
                timeout_ms: f.i32(),
            });
        }
        Ok(out)
    }
}

/// A learner's REVALIDATE request: may this client reattach its session?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revalidate {
    pub session_id: i64,
    pub timeout_ms: i32,
}

impl Revalidate {
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(12);
        out.extend_from_slice(&self.session_id.to_be_bytes());
        out.extend_from_slice(&self.timeout_ms.to_be_bytes());
        Bytes::from(out)
    }

    pub fn decode(data: Option<&[u8]>) -> Result<Revalidate, PayloadError> {
        let mut f = Fields::new("the REVALIDATE request", data)?.need(12)?;
        Ok(Revalidate {
            session_id: f.i64(),
            timeout_ms: f.i32(),
        })
    }
}

/// The leader's answer to [`Revalidate`], sent back as a REVALIDATE packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevalidateReply {
    pub session_id: i64,
    pub valid: bool,
}

impl RevalidateReply {
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(9);
        out.extend_from_slice(&self.session_id.to_be_bytes());
        out.push(self.valid as u8);
        Bytes::from(out)
    }

    pub fn decode(data: Option<&[u8]>) -> Result<RevalidateReply, PayloadError> {
        let mut f = Fields::new("the REVALIDATE reply", data)?.need(9)?;
        let session_id = f.i64();
        // Java's readBoolean: any byte but zero is true.
        let valid = f.take::<1>()[0] != 0;
        Ok(RevalidateReply { session_id, valid })
    }
}

/// The PROPOSAL / INFORM body: the transaction as 3.8's
/// `SerializeUtils.serializeRequest` writes it, which is the log record
/// body (`Util.marshallTxnEntry`: header, txn, optional digest).
pub fn encode_txn(hdr: &TxnHeader, txn: &Txn, digest: Option<TxnDigest>) -> Bytes {
    let mut out = Vec::new();
    marshal_entry(hdr, txn, digest, &mut out);
    Bytes::from(out)
}

pub fn decode_txn(data: Option<&[u8]>) -> Result<LogEntry, PayloadError> {
    const WHAT: &str = "the proposed transaction";
    let bytes = data.ok_or(PayloadError::Missing { what: WHAT })?;
    unmarshal_entry(bytes).map_err(|e| PayloadError::Txn {
        what: WHAT,
        detail: e.to_string(),
    })
}

/// The COMMITANDACTIVATE body: the leader the new configuration designates.
pub fn encode_commit_and_activate(designated_leader: i64) -> Bytes {
    Bytes::copy_from_slice(&designated_leader.to_be_bytes())
}

pub fn decode_commit_and_activate(data: Option<&[u8]>) -> Result<i64, PayloadError> {
    Ok(Fields::new("the COMMITANDACTIVATE body", data)?
        .need(8)?
        .i64())
}

/// The INFORMANDACTIVATE body: the designated leader, then the
/// transaction as in [`encode_txn`].
pub fn encode_inform_and_activate(designated_leader: i64, txn_body: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(8 + txn_body.len());
    out.extend_from_slice(&designated_leader.to_be_bytes());
    out.extend_from_slice(txn_body);
    Bytes::from(out)
}

pub fn decode_inform_and_activate(data: Option<&[u8]>) -> Result<(i64, LogEntry), PayloadError> {
    let mut f = Fields::new("the INFORMANDACTIVATE body", data)?.need(8)?;
    let leader = f.i64();
    Ok((leader, decode_txn(Some(f.rest()))?))
}
