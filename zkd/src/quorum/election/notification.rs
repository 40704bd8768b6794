//! The body of an election notification, as 3.8's FastLeaderElection sends
//! and accepts it (the connection layer adds the length prefix).
//!
//! Current form (version 2), all big-endian:
//! `state:i32 leader:i64 zxid:i64 electionEpoch:i64 peerEpoch:i64
//!  version:i32 configLength:i32 config:[u8]`, where the config is the
//! sender's quorum verifier text (`server.N=...` lines and `version=<hex>`).
//!
//! 3.8 also accepts two older forms, and so do we: 28 bytes (no peer epoch,
//! which is then taken from the zxid's high half) and exactly 40 bytes (a peer
//! epoch, and four bytes 3.8 ignores). Any other body must hold a version;
//! versions up to 1 carry no config, and bytes after the fields read are
//! ignored, as 3.8 ignores them.

use super::vote::{ServerState, Vote};
use bytes::{BufMut, Bytes, BytesMut};

/// The notification format version zkd sends.
pub const CURRENT_VERSION: i32 = 2;

/// The shortest body 3.8 reads: state, leader, zxid and election epoch.
const OLDEST_FORM_LEN: usize = 28;
/// The body that carries a peer epoch but no version.
const NO_VERSION_FORM_LEN: usize = 40;
/// Fixed fields of the current form, before the config bytes.
const CURRENT_HEADER_LEN: usize = 44;

/// A decoded notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The sender's state.
    pub state: ServerState,
    /// The sender's vote; `election_epoch` is its logical clock (or, from a
    /// server that is not looking, the round its vote was decided in).
    pub vote: Vote,
    /// Format version: 0 for the two old forms.
    pub version: i32,
    /// The sender's quorum configuration text, present from version 2 on.
    pub config: Option<Bytes>,
}

/// Why a notification body could not be read. 3.8 logs and skips such a
/// message; so do we, and the error says what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("notification of {len} bytes is shorter than the {OLDEST_FORM_LEN}-byte minimum")]
    TooShort { len: usize },
    #[error("notification of {len} bytes ends inside its {field} field")]
    Truncated { len: usize, field: &'static str },
    #[error("notification of {len} bytes claims {config_len} bytes of config")]
    BadConfigLength { len: usize, config_len: i32 },
    #[error("notification carries unknown server state {0}")]
    UnknownState(i32),
}

/// Encodes a notification in the current form.
pub fn encode(state: ServerState, vote: &Vote, config: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(CURRENT_HEADER_LEN + config.len());
    out.put_i32(state.wire());
    out.put_i64(vote.leader as i64);
    out.put_i64(vote.zxid);
    out.put_i64(vote.election_epoch);
    out.put_i64(vote.peer_epoch);
    out.put_i32(CURRENT_VERSION);
    out.put_i32(config.len() as i32);
    out.put_slice(config);
    out.freeze()
}

/// Decodes a notification body of any form 3.8 accepts.
pub fn decode(body: &[u8]) -> Result<Notification, NotificationError> {
    let len = body.len();
    if len < OLDEST_FORM_LEN {
        return Err(NotificationError::TooShort { len });
    }
    let mut fields = Fields { body, at: 0 };
    let state_number = fields.i32("state")?;
    let leader = fields.i64("leader")? as u64;
    let zxid = fields.i64("zxid")?;
    let election_epoch = fields.i64("election epoch")?;
    let (peer_epoch, version) = if len == OLDEST_FORM_LEN {
        // Before peer epochs were sent, the epoch was the zxid's high half.
        (zxid >> 32, 0)
    } else if len == NO_VERSION_FORM_LEN {
        (fields.i64("peer epoch")?, 0)
    } else {
        (fields.i64("peer epoch")?, fields.i32("version")?)
    };
    let config = if version > 1 {
        let config_len = fields.i32("config length")?;
        if config_len < 0 || config_len as usize > len {
            return Err(NotificationError::BadConfigLength { len, config_len });
        }
        Some(Bytes::copy_from_slice(
            fields.take(config_len as usize, "config")?,
        ))
    } else {
        None
    };
    let state = ServerState::from_wire(state_number)
        .ok_or(NotificationError::UnknownState(state_number))?;
    Ok(Notification {
        state,
        vote: Vote {
            leader,
            zxid,
            election_epoch,
            peer_epoch,
        },
        version,
        config,
    })
}

/// The `version=<hex>` of a quorum configuration text, if it has one.
pub fn config_version(config: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(config).ok()?;
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("version="))
        .next_back()
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .map(|v| v as i64)
}

/// Reads fixed-size fields, naming the one that runs past the end.
struct Fields<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], NotificationError> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.body.len());
        let end = end.ok_or(NotificationError::Truncated {
            len: self.body.len(),
            field,
        })?;
        let out = &self.body[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn i32(&mut self, field: &'static str) -> Result<i32, NotificationError> {
        let b = self.take(4, field)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i64(&mut self, field: &'static str) -> Result<i64, NotificationError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8, field)?);
        Ok(i64::from_be_bytes(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_vote() -> Vote {
        Vote {
            leader: 3,
            zxid: 0x1_0000_0007,
            election_epoch: 5,
            peer_epoch: 1,
        }
    }

    /// The fixed fields as 3.8 lays them out, written by hand so the test
    /// does not trust the encoder it checks.
    fn fixed(state: i32, leader: i64, zxid: i64, round: i64) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&state.to_be_bytes());
        b.extend_from_slice(&leader.to_be_bytes());
        b.extend_from_slice(&zxid.to_be_bytes());
        b.extend_from_slice(&round.to_be_bytes());
        b
    }

    #[test]
    fn current_form_round_trips_with_its_config() {
        let config = b"server.1=127.0.0.1:2888:3888:participant\nversion=0";
        let body = encode(ServerState::Following, &sample_vote(), config);
        assert_eq!(body.len(), 44 + config.len());
        let mut expected = fixed(1, 3, 0x1_0000_0007, 5);
        expected.extend_from_slice(&1i64.to_be_bytes());
        expected.extend_from_slice(&2i32.to_be_bytes());
        expected.extend_from_slice(&(config.len() as i32).to_be_bytes());
        expected.extend_from_slice(config);
        assert_eq!(&body[..], &expected[..]);
        let n = decode(&body).unwrap();
        assert_eq!(n.state, ServerState::Following);
        assert_eq!(n.vote, sample_vote());
        assert_eq!(n.version, 2);
        assert_eq!(n.config.as_deref(), Some(&config[..]));
    }

    #[test]
    fn oldest_form_takes_the_peer_epoch_from_the_zxid() {
        let n = decode(&fixed(0, 2, 0x0000_0004_0000_0009, 7)).unwrap();
        assert_eq!(n.vote.peer_epoch, 4);
        assert_eq!((n.version, n.config), (0, None));
        assert_eq!(n.state, ServerState::Looking);
    }

    #[test]
    fn forty_byte_form_has_a_peer_epoch_and_no_version() {
        let mut b = fixed(2, 1, 9, 3);
        b.extend_from_slice(&6i64.to_be_bytes());
        b.extend_from_slice(&1i32.to_be_bytes());
        let n = decode(&b).unwrap();
        assert_eq!((n.vote.peer_epoch, n.version), (6, 0));
        assert_eq!(n.state, ServerState::Leading);
    }

    #[test]
    fn version_one_carries_no_config_and_trailing_bytes_are_ignored() {
        let mut b = fixed(0, 1, 9, 3);
        b.extend_from_slice(&6i64.to_be_bytes());
        b.extend_from_slice(&1i32.to_be_bytes());
        b.extend_from_slice(b"junk");
        let n = decode(&b).unwrap();
        assert_eq!((n.version, n.config), (1, None));
    }

    #[test]
    fn malformed_bodies_are_errors_naming_the_problem() {
        assert_eq!(
            decode(&[0; 27]),
            Err(NotificationError::TooShort { len: 27 })
        );
        // 36 bytes: a peer epoch but no room for the version 3.8 then expects.
        let mut b = fixed(0, 1, 9, 3);
        b.extend_from_slice(&6i64.to_be_bytes());
        assert_eq!(
            decode(&b),
            Err(NotificationError::Truncated {
                len: 36,
                field: "version"
            })
        );
        let mut body = encode(ServerState::Looking, &sample_vote(), b"abc").to_vec();
        body.truncate(body.len() - 1);
        assert_eq!(
            decode(&body),
            Err(NotificationError::Truncated {
                len: 46,
                field: "config"
            })
        );
        let mut body = encode(ServerState::Looking, &sample_vote(), b"").to_vec();
        body[40..44].copy_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            decode(&body),
            Err(NotificationError::BadConfigLength {
                len: 44,
                config_len: -1
            })
        );
        body[40..44].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(
            decode(&body),
            Err(NotificationError::BadConfigLength { .. })
        ));
        body[40..44].copy_from_slice(&0i32.to_be_bytes());
        body[0..4].copy_from_slice(&9i32.to_be_bytes());
        assert_eq!(decode(&body), Err(NotificationError::UnknownState(9)));
    }

    #[test]
    fn config_version_is_the_hex_version_line() {
        assert_eq!(
            config_version(b"server.1=a:1:2:participant\nversion=1a"),
            Some(0x1a)
        );
        assert_eq!(config_version(b"version=0"), Some(0));
        assert_eq!(config_version(b"server.1=a:1:2"), None);
        assert_eq!(config_version(b"version=zz"), None);
    }

    proptest::proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(body in proptest::collection::vec(proptest::num::u8::ANY, 0..120)) {
            let _ = decode(&body);
        }

        #[test]
        fn encoded_votes_decode_unchanged(leader: u64, zxid: i64, round: i64, epoch: i64, state in 0i32..4,
                                          config in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let vote = Vote { leader, zxid, election_epoch: round, peer_epoch: epoch };
            let state = ServerState::from_wire(state).unwrap();
            let n = decode(&encode(state, &vote, &config)).unwrap();
            proptest::prop_assert_eq!(n.vote, vote);
            proptest::prop_assert_eq!(n.state, state);
            proptest::prop_assert_eq!(n.config.as_deref(), Some(&config[..]));
        }
    }
}
