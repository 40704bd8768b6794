use super::payload::*;
use super::*;
use crate::jute::records::Acl;
use crate::proto::txn::{Txn, TxnHeader};
use crate::proto::OpCode;
use crate::storage::TxnDigest;

const MAX: usize = 1 << 20;

/// Big-endian bytes of a sequence of fields, the way Java's
/// `DataOutputStream` would write them.
enum F<'a> {
    I(i32),
    L(i64),
    B(u8),
    Raw(&'a [u8]),
}

fn bytes(fields: &[F]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        match f {
            F::I(v) => out.extend_from_slice(&v.to_be_bytes()),
            F::L(v) => out.extend_from_slice(&v.to_be_bytes()),
            F::B(v) => out.push(*v),
            F::Raw(b) => out.extend_from_slice(b),
        }
    }
    out
}

fn read(b: &[u8]) -> Result<QuorumPacket, QuorumReadError> {
    QuorumPacket::read_from(&mut &b[..], MAX)
}

#[test]
fn packet_numbers_are_leader_javas() {
    let expected = [
        (1, "REQUEST"),
        (2, "PROPOSAL"),
        (3, "ACK"),
        (4, "COMMIT"),
        (5, "PING"),
        (6, "REVALIDATE"),
        (7, "SYNC"),
        (8, "INFORM"),
        (9, "COMMITANDACTIVATE"),
        (10, "NEWLEADER"),
        (11, "FOLLOWERINFO"),
        (12, "UPTODATE"),
        (13, "DIFF"),
        (14, "TRUNC"),
        (15, "SNAP"),
        (16, "OBSERVERINFO"),
        (17, "LEADERINFO"),
        (18, "ACKEPOCH"),
        (19, "INFORMANDACTIVATE"),
    ];
    for (code, name) in expected {
        let t = PacketType::from_i32(code).unwrap();
        assert_eq!(t.code(), code);
        assert_eq!(t.name(), name);
    }
    for bad in [0, 20, -1, i32::MIN, i32::MAX] {
        assert_eq!(PacketType::from_i32(bad), None);
    }
    let unknown = QuorumPacket {
        kind: 42,
        zxid: 0,
        data: None,
        auth: None,
    };
    assert_eq!(unknown.type_name(), "UNKNOWN(42)");
}

#[test]
fn a_ping_is_type_zxid_and_two_nulls() {
    let p = QuorumPacket::new(PacketType::Ping, 0x1_0000_0003, None);
    let mut out = Vec::new();
    p.encode(&mut out);
    assert_eq!(
        out,
        bytes(&[F::I(5), F::L(0x1_0000_0003), F::I(-1), F::I(-1)])
    );
    assert_eq!(read(&out).unwrap(), p);
}

#[test]
fn a_request_carries_data_and_auth_ids() {
    let body = LearnerRequest {
        session_id: 0x77,
        cxid: 9,
        kind: OpCode::Create.code(),
        request: Bytes::from_static(b"rq"),
    };
    let p = QuorumPacket {
        kind: PacketType::Request.code(),
        zxid: -1,
        data: Some(body.encode()),
        auth: Some(vec![Id::new("digest", "u:x"), Id::new("ip", "")]),
    };
    let mut out = Vec::new();
    p.encode(&mut out);
    let data = bytes(&[F::L(0x77), F::I(9), F::I(1), F::Raw(b"rq")]);
    let expected = bytes(&[
        F::I(1),
        F::L(-1),
        F::I(data.len() as i32),
        F::Raw(&data),
        F::I(2),
        F::I(6),
        F::Raw(b"digest"),
        F::I(3),
        F::Raw(b"u:x"),
        F::I(2),
        F::Raw(b"ip"),
        F::I(0),
    ]);
    assert_eq!(out, expected);
    let back = read(&out).unwrap();
    assert_eq!(back, p);
    assert_eq!(LearnerRequest::decode(back.data.as_deref()).unwrap(), body);
}

#[test]
fn empty_data_and_an_empty_auth_vector_are_not_null() {
    let p = QuorumPacket {
        kind: PacketType::Ping.code(),
        zxid: 1,
        data: Some(Bytes::new()),
        auth: Some(vec![]),
    };
    let mut out = Vec::new();
    p.encode(&mut out);
    assert_eq!(out, bytes(&[F::I(5), F::L(1), F::I(0), F::I(0)]));
    assert_eq!(read(&out).unwrap(), p);
}

#[test]
fn packets_read_back_to_back_then_a_clean_close() {
    let mut stream = Vec::new();
    let a = QuorumPacket::new(PacketType::Ack, 5, None);
    let b = QuorumPacket::new(PacketType::Commit, 6, Some(Bytes::from_static(b"x")));
    a.encode(&mut stream);
    b.encode(&mut stream);
    let mut r = &stream[..];
    assert_eq!(QuorumPacket::read_from(&mut r, MAX).unwrap(), a);
    assert_eq!(QuorumPacket::read_from(&mut r, MAX).unwrap(), b);
    assert!(matches!(
        QuorumPacket::read_from(&mut r, MAX),
        Err(QuorumReadError::Closed)
    ));
}

#[test]
fn every_cut_inside_a_packet_is_truncation_not_a_clean_close() {
    let p = QuorumPacket {
        kind: 1,
        zxid: 2,
        data: Some(Bytes::from_static(b"abc")),
        auth: Some(vec![Id::new("world", "anyone")]),
    };
    let mut out = Vec::new();
    p.encode(&mut out);
    assert!(matches!(read(&[]), Err(QuorumReadError::Closed)));
    for cut in 1..out.len() {
        match read(&out[..cut]) {
            Err(QuorumReadError::Truncated { what }) => assert!(!what.is_empty()),
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn lengths_beyond_the_bound_or_negative_are_refused() {
    let oversize = bytes(&[F::I(2), F::L(0), F::I(MAX as i32 + 1)]);
    match read(&oversize) {
        Err(QuorumReadError::BadLength { what, len, max }) => {
            assert_eq!(what, "the packet data");
            assert_eq!(len, MAX as i64 + 1);
            assert_eq!(max, MAX);
        }
        other => panic!("{other:?}"),
    }
    let negative = bytes(&[F::I(2), F::L(0), F::I(-2)]);
    assert!(matches!(
        read(&negative),
        Err(QuorumReadError::BadLength { len: -2, .. })
    ));
    let many_ids = bytes(&[F::I(1), F::L(0), F::I(-1), F::I(i32::MAX)]);
    assert!(matches!(
        read(&many_ids),
        Err(QuorumReadError::BadLength {
            what: "the auth id count",
            ..
        })
    ));
    let long_scheme = bytes(&[F::I(1), F::L(0), F::I(-1), F::I(1), F::I(i32::MAX)]);
    assert!(matches!(
        read(&long_scheme),
        Err(QuorumReadError::BadLength {
            what: "an auth id scheme",
            ..
        })
    ));
}

#[test]
fn garbage_gives_errors_or_packets_never_panics() {
    // A fixed xorshift sequence: many shapes of garbage, same every run.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..2000 {
        let len = (state % 64) as usize;
        let mut buf = Vec::with_capacity(len);
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            buf.push(state as u8);
        }
        let _ = QuorumPacket::read_from(&mut &buf[..], 4096);
    }
}

#[test]
fn zxids_split_into_epoch_and_counter() {
    let z = make_zxid(3, 7);
    assert_eq!(z, 0x3_0000_0007);
    assert_eq!(epoch_of(z), 3);
    assert_eq!(counter_of(z), 7);
    assert_eq!(make_zxid(1, 0x1_2345_6789), 0x1_2345_6789);
    // UPTODATE and REQUEST carry -1: epoch -1 as Java's arithmetic shift says.
    assert_eq!(epoch_of(-1), -1);
    assert_eq!(counter_of(-1), 0xffff_ffff);
}

#[test]
fn learner_info_is_the_20_byte_record_and_shorter_forms_are_accepted() {
    let li = LearnerInfo {
        sid: 3,
        protocol_version: ZAB_PROTOCOL_VERSION,
        config_version: Some(0x1_0000_0000),
    };
    let full = li.encode();
    assert_eq!(
        full.as_ref(),
        bytes(&[F::L(3), F::I(0x10000), F::L(0x1_0000_0000)])
    );
    assert_eq!(LearnerInfo::decode(Some(&full)).unwrap(), Some(li));
    assert_eq!(
        LearnerInfo::decode(Some(&full[..12])).unwrap(),
        Some(LearnerInfo {
            config_version: None,
            ..li
        })
    );
    assert_eq!(
        LearnerInfo::decode(Some(&full[..8])).unwrap(),
        Some(LearnerInfo {
            sid: 3,
            protocol_version: PRE_ZAB_1_0_VERSION,
            config_version: None
        })
    );
    assert_eq!(LearnerInfo::decode(None).unwrap(), None);
    assert_eq!(
        LearnerInfo::decode(Some(&full[..5])),
        Err(PayloadError::TooShort {
            what: "the learner info",
            needed: 8,
            got: 5
        })
    );
}

#[test]
fn epoch_handshake_bodies_are_single_ints() {
    assert_eq!(
        encode_leader_info(ZAB_PROTOCOL_VERSION).as_ref(),
        [0, 1, 0, 0]
    );
    assert_eq!(decode_leader_info(Some(&[0, 1, 0, 0])).unwrap(), 0x10000);
    assert!(matches!(
        decode_leader_info(None),
        Err(PayloadError::Missing { .. })
    ));
    let not_ack = AckEpoch {
        current_epoch: ACK_EPOCH_NOT_AN_ACK,
    };
    assert_eq!(not_ack.encode().as_ref(), [0xff; 4]);
    assert!(!AckEpoch::decode(Some(&[0xff; 4])).unwrap().is_ack());
    let ack = AckEpoch::decode(Some(&[0, 0, 0, 2])).unwrap();
    assert_eq!(ack.current_epoch, 2);
    assert!(ack.is_ack());
    assert!(matches!(
        AckEpoch::decode(Some(&[0, 0])),
        Err(PayloadError::TooShort { needed: 4, .. })
    ));
}

#[test]
fn ping_replies_are_repeated_session_and_timeout() {
    let touches = vec![
        SessionTouch {
            session_id: 0x100,
            timeout_ms: 30_000,
        },
        SessionTouch {
            session_id: -5,
            timeout_ms: 4000,
        },
    ];
    let b = SessionTouch::encode_all(&touches);
    assert_eq!(
        b.as_ref(),
        bytes(&[F::L(0x100), F::I(30_000), F::L(-5), F::I(4000)])
    );
    assert_eq!(SessionTouch::decode_all(Some(&b)).unwrap(), touches);
    assert_eq!(SessionTouch::encode_all(&[]).as_ref(), b"");
    assert_eq!(SessionTouch::decode_all(None).unwrap(), vec![]);
    assert_eq!(
        SessionTouch::decode_all(Some(&b[..13])),
        Err(PayloadError::Ragged {
            what: "the PING reply body",
            len: 13,
            entry: 12
        })
    );
}

#[test]
fn revalidation_request_and_reply() {
    let rq = Revalidate {
        session_id: 0x55,
        timeout_ms: 6000,
    };
    assert_eq!(rq.encode().as_ref(), bytes(&[F::L(0x55), F::I(6000)]));
    assert_eq!(Revalidate::decode(Some(&rq.encode())).unwrap(), rq);
    let reply = RevalidateReply {
        session_id: 0x55,
        valid: true,
    };
    assert_eq!(reply.encode().as_ref(), bytes(&[F::L(0x55), F::B(1)]));
    let mut any_nonzero = bytes(&[F::L(0x55), F::B(7)]);
    assert!(RevalidateReply::decode(Some(&any_nonzero)).unwrap().valid);
    any_nonzero[8] = 0;
    assert!(!RevalidateReply::decode(Some(&any_nonzero)).unwrap().valid);
    assert!(RevalidateReply::decode(Some(&any_nonzero[..8])).is_err());
    assert!(Revalidate::decode(Some(&[1, 2, 3])).is_err());
}

#[test]
fn a_request_body_is_session_cxid_type_then_the_request() {
    assert!(matches!(
        LearnerRequest::decode(Some(&[0; 15])),
        Err(PayloadError::TooShort { needed: 16, .. })
    ));
    let bare = LearnerRequest::decode(Some(&bytes(&[F::L(1), F::I(2), F::I(11)]))).unwrap();
    assert_eq!(bare.kind, 11);
    assert!(bare.request.is_empty());
}

#[test]
fn a_proposal_body_is_header_txn_and_digest_as_serialize_request_writes_it() {
    let hdr = TxnHeader {
        client_id: 0x11,
        cxid: 2,
        zxid: 0x1_0000_0004,
        time: 1000,
        kind: OpCode::Create.code(),
    };
    let txn = Txn::Create {
        path: "/a".into(),
        data: Some(Bytes::from_static(b"v")),
        acl: Acl::open_unsafe(),
        ephemeral: false,
        parent_cversion: 1,
    };
    let digest = TxnDigest {
        version: 2,
        tree_digest: 0x1234,
    };
    let body = encode_txn(&hdr, &txn, Some(digest));
    // TxnHeader, CreateTxn (path, data, acl vector, ephemeral, parentCVersion), TxnDigest.
    let expected = bytes(&[
        F::L(0x11),
        F::I(2),
        F::L(0x1_0000_0004),
        F::L(1000),
        F::I(1),
        F::I(2),
        F::Raw(b"/a"),
        F::I(1),
        F::Raw(b"v"),
        F::I(1),
        F::I(31),
        F::I(5),
        F::Raw(b"world"),
        F::I(6),
        F::Raw(b"anyone"),
        F::B(0),
        F::I(1),
        F::I(2),
        F::L(0x1234),
    ]);
    assert_eq!(body.as_ref(), expected);
    let back = decode_txn(Some(&body)).unwrap();
    assert_eq!(
        (back.header, back.txn.clone(), back.digest),
        (hdr, txn, Some(digest))
    );

    let activate = encode_inform_and_activate(2, &body);
    assert_eq!(&activate[..8], &2i64.to_be_bytes());
    let (leader, entry) = decode_inform_and_activate(Some(&activate)).unwrap();
    assert_eq!((leader, entry), (2, back));
    assert!(matches!(
        decode_txn(Some(&body[..10])),
        Err(PayloadError::Txn { .. })
    ));
    assert!(matches!(
        decode_txn(None),
        Err(PayloadError::Missing { .. })
    ));
    assert_eq!(
        decode_commit_and_activate(Some(&encode_commit_and_activate(3))).unwrap(),
        3
    );
}
