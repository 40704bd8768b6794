//! The Zab packets servers exchange on the quorum port (2888), as 3.8's
//! `QuorumPacket` record and `Leader` constants define them: an int type, a
//! long zxid, a buffer (null allowed) and a vector of auth ids (null
//! allowed), written back to back with no frame length. The bodies some
//! types carry are in [`payload`].

pub mod payload;
#[cfg(test)]
mod tests;

use crate::jute::records::Id;
use bytes::Bytes;
use std::io::{self, Read};

pub use payload::{
    counter_of, decode_commit_and_activate, decode_inform_and_activate, decode_leader_info,
    decode_txn, encode_commit_and_activate, encode_inform_and_activate, encode_leader_info,
    encode_txn, epoch_of, make_zxid, AckEpoch, LearnerInfo, LearnerRequest, PayloadError,
    Revalidate, RevalidateReply, SessionTouch, ACK_EPOCH_NOT_AN_ACK, PRE_ZAB_1_0_VERSION,
    ZAB_PROTOCOL_VERSION,
};

/// The packet types of `org.apache.zookeeper.server.quorum.Leader`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum PacketType {
    Request = 1,
    Proposal = 2,
    Ack = 3,
    Commit = 4,
    Ping = 5,
    Revalidate = 6,
    Sync = 7,
    Inform = 8,
    CommitAndActivate = 9,
    NewLeader = 10,
    FollowerInfo = 11,
    UpToDate = 12,
    Diff = 13,
    Trunc = 14,
    Snap = 15,
    ObserverInfo = 16,
    LeaderInfo = 17,
    AckEpoch = 18,
    InformAndActivate = 19,
}

impl PacketType {
    pub const ALL: [PacketType; 19] = [
        PacketType::Request,
        PacketType::Proposal,
        PacketType::Ack,
        PacketType::Commit,
        PacketType::Ping,
        PacketType::Revalidate,
        PacketType::Sync,
        PacketType::Inform,
        PacketType::CommitAndActivate,
        PacketType::NewLeader,
        PacketType::FollowerInfo,
        PacketType::UpToDate,
        PacketType::Diff,
        PacketType::Trunc,
        PacketType::Snap,
        PacketType::ObserverInfo,
        PacketType::LeaderInfo,
        PacketType::AckEpoch,
        PacketType::InformAndActivate,
    ];

    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn from_i32(code: i32) -> Option<PacketType> {
        // The codes are 1..=19 in declaration order.
        usize::try_from(code.checked_sub(1)?)
            .ok()
            .and_then(|i| PacketType::ALL.get(i).copied())
    }

    /// The name 3.8 logs for the type (`LearnerHandler.packetToString`).
    pub fn name(self) -> &'static str {
        match self {
            PacketType::Request => "REQUEST",
            PacketType::Proposal => "PROPOSAL",
            PacketType::Ack => "ACK",
            PacketType::Commit => "COMMIT",
            PacketType::Ping => "PING",
            PacketType::Revalidate => "REVALIDATE",
            PacketType::Sync => "SYNC",
            PacketType::Inform => "INFORM",
            PacketType::CommitAndActivate => "COMMITANDACTIVATE",
            PacketType::NewLeader => "NEWLEADER",
            PacketType::FollowerInfo => "FOLLOWERINFO",
            PacketType::UpToDate => "UPTODATE",
            PacketType::Diff => "DIFF",
            PacketType::Trunc => "TRUNC",
            PacketType::Snap => "SNAP",
            PacketType::ObserverInfo => "OBSERVERINFO",
            PacketType::LeaderInfo => "LEADERINFO",
            PacketType::AckEpoch => "ACKEPOCH",
            PacketType::InformAndActivate => "INFORMANDACTIVATE",
        }
    }
}

impl std::fmt::Display for PacketType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `org.apache.zookeeper.server.quorum.QuorumPacket`. `kind` stays an int:
/// a peer may send a type this version does not know, and 3.8 logs and
/// skips those rather than dropping the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumPacket {
    pub kind: i32,
    pub zxid: i64,
    /// `None` is jute's null buffer (length -1), which 3.8 keeps apart
    /// from an empty one.
    pub data: Option<Bytes>,
    /// `None` is a null vector (count -1): every packet but REQUEST.
    pub auth: Option<Vec<Id>>,
}

impl QuorumPacket {
    /// A packet with no auth ids, as every type but REQUEST is sent.
    pub fn new(kind: PacketType, zxid: i64, data: Option<Bytes>) -> Self {
        QuorumPacket {
            kind: kind.code(),
            zxid,
            data,
            auth: None,
        }
    }

    pub fn packet_type(&self) -> Option<PacketType> {
        PacketType::from_i32(self.kind)
    }

    /// The type's name, or the number when it is not one we know.
    pub fn type_name(&self) -> String {
        match self.packet_type() {
            Some(t) => t.name().to_owned(),
            None => format!("UNKNOWN({})", self.kind),
        }
    }

    /// Appends the packet's jute encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.kind.to_be_bytes());
        out.extend_from_slice(&self.zxid.to_be_bytes());
        match &self.data {
            Some(d) => {
                out.extend_from_slice(&jute_len(d.len()).to_be_bytes());
                out.extend_from_slice(d);
            }
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
        match &self.auth {
            Some(ids) => {
                out.extend_from_slice(&jute_len(ids.len()).to_be_bytes());
                for id in ids {
                    for s in [&id.scheme, &id.id] {
                        out.extend_from_slice(&jute_len(s.len()).to_be_bytes());
                        out.extend_from_slice(s.as_bytes());
                    }
                }
            }
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }

    /// Reads one packet with blocking, exact reads. `max_data` bounds every
    /// length field (the data and each auth string), as 3.8's
    /// `BinaryInputArchive` bounds them by `jute.maxbuffer` plus
    /// `zookeeper.jute.maxbuffer.extrasize`. End of stream before the
    /// first byte is [`QuorumReadError::Closed`]; anywhere else it is
    /// [`QuorumReadError::Truncated`].
    pub fn read_from(r: &mut impl Read, max_data: usize) -> Result<QuorumPacket, QuorumReadError> {
        let mut head = [0u8; 4];
        if !read_first(r, &mut head)? {
            return Err(QuorumReadError::Closed);
        }
        let kind = i32::from_be_bytes(head);
        let zxid = i64::from_be_bytes(read_array(r, "the packet zxid")?);
        let data = read_buffer(r, "the packet data", max_data)?.map(Bytes::from);
        let auth = match read_i32(r, "the auth id count")? {
            -1 => None,
            n if n < 0 => {
                return Err(QuorumReadError::BadLength {
                    what: "the auth id count",
                    len: n as i64,
                    max: max_auth_ids(max_data),
                })
            }
            n => {
                // Each id takes at least its two 4-byte lengths; a count
                // beyond that many times the buffer bound is not a real one
                // and would only make us allocate for it.
                if n as usize > max_auth_ids(max_data) {
                    return Err(QuorumReadError::BadLength {
                        what: "the auth id count",
                        len: n as i64,
                        max: max_auth_ids(max_data),
                    });
                }
                let mut ids = Vec::with_capacity((n as usize).min(16));
                for _ in 0..n {
                    let scheme = read_string(r, "an auth id scheme", max_data)?;
                    let id = read_string(r, "an auth id", max_data)?;
                    ids.push(Id { scheme, id });
                }
                Some(ids)
            }
        };
        Ok(QuorumPacket {
            kind,
            zxid,
            data,
            auth,
        })
    }
}

fn max_auth_ids(max_data: usize) -> usize {
    max_data / 8
}

/// Lengths on the wire are ints; nothing we send comes near 2 GiB, so a
/// longer one is a bug upstream, not input to handle.
fn jute_len(n: usize) -> i32 {
    i32::try_from(n).expect("a quorum packet field longer than 2 GiB")
}

/// Why [`QuorumPacket::read_from`] returned no packet. Each variant names
/// the field it was reading.
#[derive(Debug, thiserror::Error)]
pub enum QuorumReadError {
    #[error("the peer closed the connection")]
    Closed,
    #[error("the connection ended inside {what}")]
    Truncated { what: &'static str },
    #[error("{what} has length {len}, outside 0..={max}")]
    BadLength {
        what: &'static str,
        len: i64,
        max: usize,
    },
    #[error("no data from the peer within the read timeout while reading {what}")]
    TimedOut { what: &'static str },
    #[error("reading {what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: io::Error,
    },
}

impl QuorumReadError {
    fn from_io(what: &'static str, e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::UnexpectedEof => QuorumReadError::Truncated { what },
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                QuorumReadError::TimedOut { what }
            }
            _ => QuorumReadError::Io { what, source: e },
        }
    }
}

/// Fills `buf`, or returns `false` when the stream ends before its first
/// byte: the one place where the end of the stream is a clean close.
fn read_first(r: &mut impl Read, buf: &mut [u8]) -> Result<bool, QuorumReadError> {
    const WHAT: &str = "the packet type";
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(QuorumReadError::Truncated { what: WHAT }),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(QuorumReadError::from_io(WHAT, e)),
        }
    }
    Ok(true)
}

fn read_array<const N: usize>(
    r: &mut impl Read,
    what: &'static str,
) -> Result<[u8; N], QuorumReadError> {
    let mut b = [0u8; N];
    r.read_exact(&mut b)
        .map_err(|e| QuorumReadError::from_io(what, e))?;
    Ok(b)
}

fn read_i32(r: &mut impl Read, what: &'static str) -> Result<i32, QuorumReadError> {
    Ok(i32::from_be_bytes(read_array(r, what)?))
}

fn read_buffer(
    r: &mut impl Read,
    what: &'static str,
    max: usize,
) -> Result<Option<Vec<u8>>, QuorumReadError> {
    let len = read_i32(r, what)?;
    if len == -1 {
        return Ok(None);
    }
    if len < 0 || len as usize > max {
        return Err(QuorumReadError::BadLength {
            what,
            len: len as i64,
            max,
        });
    }
    let mut v = vec![0u8; len as usize];
    r.read_exact(&mut v)
        .map_err(|e| QuorumReadError::from_io(what, e))?;
    Ok(Some(v))
}

/// A string as Java reads it: null as empty (an `Id` has no null), bytes
/// that are not UTF-8 replaced rather than refused (`new String(b, UTF_8)`).
fn read_string(
    r: &mut impl Read,
    what: &'static str,
    max: usize,
) -> Result<String, QuorumReadError> {
    Ok(read_buffer(r, what, max)?
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default())
}
