//! Typed Zab messages to and from 3.8's QuorumPacket. The snapshot that
//! follows SNAP is not a packet: the link's writer streams it and the
//! learner's reader decodes it, so SNAP only meets this module as an error.

use super::messages::{make_zxid, ForwardedRequest, LeaderMsg, LearnerMsg, Proposal};
use crate::proto::quorum::{
    decode_leader_info, decode_txn, encode_leader_info, encode_txn, epoch_of, AckEpoch,
    LearnerInfo, LearnerRequest, PacketType, QuorumPacket, Revalidate, RevalidateReply,
    SessionTouch, ACK_EPOCH_NOT_AN_ACK, ZAB_PROTOCOL_VERSION,
};
use bytes::Bytes;

/// A transaction as PROPOSAL and INFORM carry it.
pub fn txn_data(p: &Proposal) -> Bytes {
    encode_txn(&p.header, &p.txn, None)
}

fn proposal(packet: &QuorumPacket) -> Result<Proposal, String> {
    let entry = decode_txn(packet.data.as_deref()).map_err(|e| e.to_string())?;
    Ok(Proposal {
        header: entry.header,
        txn: entry.txn,
    })
}

/// A leader's message as a packet; `None` for SNAP (see the module doc).
pub fn leader_packet(msg: &LeaderMsg) -> Option<QuorumPacket> {
    use PacketType as T;
    let p = |kind, zxid, data| QuorumPacket::new(kind, zxid, data);
    Some(match msg {
        LeaderMsg::LeaderInfo { new_epoch } => p(
            T::LeaderInfo,
            make_zxid(*new_epoch, 0),
            Some(encode_leader_info(ZAB_PROTOCOL_VERSION)),
        ),
        LeaderMsg::Diff { zxid } => p(T::Diff, *zxid, None),
        LeaderMsg::Trunc { zxid } => p(T::Trunc, *zxid, None),
        LeaderMsg::Snap { .. } => return None,
        LeaderMsg::Proposal(prop) => p(T::Proposal, prop.zxid(), Some(txn_data(prop))),
        LeaderMsg::Commit { zxid } => p(T::Commit, *zxid, None),
        LeaderMsg::Inform(prop) => p(T::Inform, prop.zxid(), Some(txn_data(prop))),
        LeaderMsg::NewLeader { zxid, config } => p(T::NewLeader, *zxid, Some(config.clone())),
        LeaderMsg::UpToDate => p(T::UpToDate, -1, None),
        LeaderMsg::Ping { zxid } => p(T::Ping, *zxid, None),
        LeaderMsg::Revalidate { session, valid } => p(
            T::Revalidate,
            -1,
            Some(
                RevalidateReply {
                    session_id: *session,
                    valid: *valid,
                }
                .encode(),
            ),
        ),
        LeaderMsg::Sync => p(T::Sync, 0, None),
    })
}

/// A packet from the leader. `Ok(None)` for types a learner skips (3.8
/// logs and ignores them); `Err` for a packet that does not decode.
pub fn leader_msg(packet: &QuorumPacket) -> Result<Option<LeaderMsg>, String> {
    use PacketType as T;
    let Some(kind) = packet.packet_type() else {
        tracing::warn!(
            kind = packet.kind,
            "skipping a packet of unknown type from the leader"
        );
        return Ok(None);
    };
    let data = packet.data.as_deref();
    Ok(Some(match kind {
        T::LeaderInfo => {
            let version = decode_leader_info(data).map_err(|e| e.to_string())?;
            if version < ZAB_PROTOCOL_VERSION {
                return Err(format!(
                    "leader speaks protocol 0x{version:x}, older than 0x10000"
                ));
            }
            LeaderMsg::LeaderInfo {
                new_epoch: epoch_of(packet.zxid),
            }
        }
        T::Diff => LeaderMsg::Diff { zxid: packet.zxid },
        T::Trunc => LeaderMsg::Trunc { zxid: packet.zxid },
        T::Proposal => LeaderMsg::Proposal(proposal(packet)?),
        T::Commit => LeaderMsg::Commit { zxid: packet.zxid },
        T::Inform => LeaderMsg::Inform(proposal(packet)?),
        T::NewLeader => LeaderMsg::NewLeader {
            zxid: packet.zxid,
            config: packet.data.clone().unwrap_or_default(),
        },
        T::UpToDate => LeaderMsg::UpToDate,
        T::Ping => LeaderMsg::Ping { zxid: packet.zxid },
        T::Revalidate => {
            let r = RevalidateReply::decode(data).map_err(|e| e.to_string())?;
            LeaderMsg::Revalidate {
                session: r.session_id,
                valid: r.valid,
            }
        }
        T::Sync => LeaderMsg::Sync,
        T::Snap => return Err("a SNAP packet outside the snapshot stream".into()),
        T::CommitAndActivate | T::InformAndActivate => {
            return Err(format!(
                "{} (dynamic reconfiguration) is not supported by zkd",
                kind.name()
            ))
        }
        other => return Err(format!("{} is not something a leader sends", other.name())),
    }))
}

pub fn learner_packet(msg: &LearnerMsg) -> QuorumPacket {
    use PacketType as T;
    match msg {
        LearnerMsg::Info {
            sid,
            accepted_epoch,
            observer,
        } => QuorumPacket::new(
            if *observer {
                T::ObserverInfo
            } else {
                T::FollowerInfo
            },
            make_zxid(*accepted_epoch, 0),
            Some(
                LearnerInfo {
                    sid: *sid as i64,
                    protocol_version: ZAB_PROTOCOL_VERSION,
                    config_version: Some(0),
                }
                .encode(),
            ),
        ),
        LearnerMsg::AckEpoch {
            last_zxid,
            current_epoch,
        } => QuorumPacket::new(
            T::AckEpoch,
            *last_zxid,
            Some(
                AckEpoch {
                    current_epoch: *current_epoch as i32,
                }
                .encode(),
            ),
        ),
        LearnerMsg::Ack { zxid } => QuorumPacket::new(T::Ack, *zxid, None),
        LearnerMsg::Ping { zxid, touches } => {
            let touches: Vec<SessionTouch> = touches
                .iter()
                .map(|(id, t)| SessionTouch {
                    session_id: *id,
                    timeout_ms: *t as i32,
                })
                .collect();
            QuorumPacket::new(T::Ping, *zxid, Some(SessionTouch::encode_all(&touches)))
        }
        LearnerMsg::Revalidate {
            session,
            timeout_ms,
        } => QuorumPacket::new(
            T::Revalidate,
            -1,
            Some(
                Revalidate {
                    session_id: *session,
                    timeout_ms: *timeout_ms as i32,
                }
                .encode(),
            ),
        ),
        LearnerMsg::Request(r) => QuorumPacket {
            kind: T::Request.code(),
            zxid: -1,
            data: Some(
                LearnerRequest {
                    session_id: r.session,
                    cxid: r.cxid,
                    kind: r.op,
                    request: r.body.clone(),
                }
                .encode(),
            ),
            auth: Some(r.auth.clone()),
        },
    }
}

/// A packet from a learner; `Ok(None)` for types the leader skips.
pub fn learner_msg(packet: &QuorumPacket) -> Result<Option<LearnerMsg>, String> {
    use PacketType as T;
    let Some(kind) = packet.packet_type() else {
        tracing::warn!(
            kind = packet.kind,
            "skipping a packet of unknown type from a learner"
        );
        return Ok(None);
    };
    let data = packet.data.as_deref();
    Ok(Some(match kind {
        T::FollowerInfo | T::ObserverInfo => {
            let info = LearnerInfo::decode(data)
                .map_err(|e| e.to_string())?
                .ok_or("a learner info without its server id")?;
            if info.protocol_version < ZAB_PROTOCOL_VERSION {
                return Err(format!(
                    "learner {} speaks protocol 0x{:x}, older than 0x10000",
                    info.sid, info.protocol_version
                ));
            }
            LearnerMsg::Info {
                sid: info.sid as u64,
                accepted_epoch: epoch_of(packet.zxid),
                observer: kind == T::ObserverInfo,
            }
        }
        T::AckEpoch => {
            let a = AckEpoch::decode(data).map_err(|e| e.to_string())?;
            LearnerMsg::AckEpoch {
                last_zxid: packet.zxid,
                current_epoch: if a.current_epoch == ACK_EPOCH_NOT_AN_ACK {
                    -1
                } else {
                    a.current_epoch as i64
                },
            }
        }
        T::Ack => LearnerMsg::Ack { zxid: packet.zxid },
        T::Ping => LearnerMsg::Ping {
            zxid: packet.zxid,
            touches: SessionTouch::decode_all(data)
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|t| (t.session_id, t.timeout_ms.max(0) as u32))
                .collect(),
        },
        T::Revalidate => {
            let r = Revalidate::decode(data).map_err(|e| e.to_string())?;
            LearnerMsg::Revalidate {
                session: r.session_id,
                timeout_ms: r.timeout_ms.max(0) as u32,
            }
        }
        T::Request => {
            let r = LearnerRequest::decode(data).map_err(|e| e.to_string())?;
            LearnerMsg::Request(ForwardedRequest {
                session: r.session_id,
                cxid: r.cxid,
                op: r.kind,
                body: r.request,
                auth: packet.auth.clone().unwrap_or_default(),
            })
        }
        other => {
            tracing::warn!(
                kind = other.name(),
                "unexpected packet from a learner; skipping it"
            );
            return Ok(None);
        }
    }))
}
