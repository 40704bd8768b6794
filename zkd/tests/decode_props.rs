//! Properties of the client-facing decoders and the request engine that run
//! on every `cargo test`: arbitrary and mutated bytes never panic a decoder,
//! generated requests and transactions round-trip, frames cut anywhere are
//! refused, and random engine scripts keep the engine's invariants.
//!
//! The checks themselves live in `zkd/fuzz/src/` and are shared with the
//! libFuzzer targets there, which run the same properties for hours.

#[allow(dead_code)]
#[path = "../fuzz/src/decode.rs"]
mod decode;
#[allow(dead_code)]
#[path = "../fuzz/src/script.rs"]
mod script;

use bytes::Bytes;
use decode::*;
use proptest::prelude::*;
use zkd::jute::records::{Acl, Id};
use zkd::jute::{Reader, Writer};
use zkd::proto::connect::ConnectRequest;
use zkd::proto::request::{CreateRequest, Request, SetWatches};
use zkd::proto::txn::Txn;
use zkd::proto::OpCode;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/".to_owned()),
        Just("/a".to_owned()),
        Just(String::new()),
        "[/a-c.]{0,8}",
        ".{0,6}",
    ]
}

fn arb_data() -> impl Strategy<Value = Option<Vec<u8>>> {
    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8))
}

fn arb_acl() -> impl Strategy<Value = Vec<Acl>> {
    proptest::collection::vec(
        (any::<i32>(), arb_string(), arb_string()).prop_map(|(perms, scheme, id)| Acl {
            perms,
            id: Id { scheme, id },
        }),
        0..3,
    )
}

fn arb_create() -> impl Strategy<Value = Request> {
    (
        prop_oneof![
            Just(OpCode::Create),
            Just(OpCode::Create2),
            Just(OpCode::CreateContainer),
            Just(OpCode::CreateTtl)
        ],
        arb_string(),
        arb_data(),
        arb_acl(),
        any::<i32>(),
        any::<i64>(),
    )
        .prop_map(|(op, path, data, acl, flags, ttl)| {
            Request::Create(CreateRequest {
                op,
                path,
                data,
                acl,
                flags,
                // Only createTTL carries a ttl on the wire.
                ttl: if op == OpCode::CreateTtl { ttl } else { -1 },
            })
        })
}

/// The ops a multi or multiRead may carry.
fn arb_multi_op() -> impl Strategy<Value = Request> {
    prop_oneof![
        arb_create(),
        (arb_string(), any::<i32>()).prop_map(|(path, version)| Request::Delete { path, version }),
        (arb_string(), arb_data(), any::<i32>()).prop_map(|(path, data, version)| {
            Request::SetData {
                path,
                data,
                version,
            }
        }),
        (arb_string(), any::<i32>()).prop_map(|(path, version)| Request::Check { path, version }),
        (arb_string(), any::<bool>()).prop_map(|(path, watch)| Request::GetData { path, watch }),
        (arb_string(), any::<bool>())
            .prop_map(|(path, watch)| Request::GetChildren { path, watch }),
    ]
}

fn arb_strings() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(arb_string(), 0..3)
}

fn arb_request() -> impl Strategy<Value = Request> {
    let path_bool = || (arb_string(), any::<bool>());
    let path_int = || (arb_string(), any::<i32>());
    prop_oneof![
        arb_create(),
        arb_multi_op(),
        path_bool().prop_map(|(path, watch)| Request::Exists { path, watch }),
        path_bool().prop_map(|(path, watch)| Request::GetChildren2 { path, watch }),
        arb_string().prop_map(|path| Request::GetAcl { path }),
        (arb_string(), arb_acl(), any::<i32>()).prop_map(|(path, acl, version)| Request::SetAcl {
            path,
            acl,
            version
        }),
        arb_string().prop_map(|path| Request::Sync { path }),
        proptest::collection::vec(arb_multi_op(), 0..4).prop_map(Request::Multi),
        proptest::collection::vec(arb_multi_op(), 0..4).prop_map(Request::MultiRead),
        path_int().prop_map(|(path, kind)| Request::CheckWatches { path, kind }),
        path_int().prop_map(|(path, kind)| Request::RemoveWatches { path, kind }),
        (arb_string(), proptest::collection::vec(any::<u8>(), 0..8))
            .prop_map(|(scheme, auth)| Request::Auth { scheme, auth }),
        (any::<i64>(), arb_strings(), arb_strings(), arb_strings()).prop_map(
            |(relative_zxid, data, exist, child)| Request::SetWatches(SetWatches {
                relative_zxid,
                data,
                exist,
                child,
                ..SetWatches::default()
            })
        ),
        arb_string().prop_map(|prefix| Request::GetEphemerals { prefix }),
        arb_string().prop_map(|path| Request::GetAllChildrenNumber { path }),
        path_int().prop_map(|(path, mode)| Request::AddWatch { path, mode }),
        Just(Request::Ping),
        Just(Request::Reconfig),
        Just(Request::Sasl),
        Just(Request::WhoAmI),
        Just(Request::CloseSession),
    ]
}

fn bytes_of(data: Option<Vec<u8>>) -> Option<Bytes> {
    data.map(Bytes::from)
}

/// A transaction other than multi, with every type code that decodes to it.
fn arb_simple_txn() -> impl Strategy<Value = (Vec<i32>, Txn)> {
    prop_oneof![
        (
            arb_string(),
            arb_data(),
            arb_acl(),
            any::<bool>(),
            any::<i32>()
        )
            .prop_map(|(path, data, acl, ephemeral, parent_cversion)| (
                vec![1, 15],
                Txn::Create {
                    path,
                    data: bytes_of(data),
                    acl,
                    ephemeral,
                    parent_cversion
                }
            )),
        (arb_string(), arb_data(), arb_acl(), any::<i32>()).prop_map(
            |(path, data, acl, parent_cversion)| (
                vec![19],
                Txn::CreateContainer {
                    path,
                    data: bytes_of(data),
                    acl,
                    parent_cversion
                }
            )
        ),
        (
            arb_string(),
            arb_data(),
            arb_acl(),
            any::<i32>(),
            any::<i64>()
        )
            .prop_map(|(path, data, acl, parent_cversion, ttl)| (
                vec![21],
                Txn::CreateTtl {
                    path,
                    data: bytes_of(data),
                    acl,
                    parent_cversion,
                    ttl
                }
            )),
        arb_string().prop_map(|path| (vec![2, 20], Txn::Delete { path })),
        (arb_string(), arb_data(), any::<i32>()).prop_map(|(path, data, version)| (
            vec![5, 16],
            Txn::SetData {
                path,
                data: bytes_of(data),
                version
            }
        )),
        (arb_string(), arb_acl(), any::<i32>())
            .prop_map(|(path, acl, version)| (vec![7], Txn::SetAcl { path, acl, version })),
        (arb_string(), any::<i32>())
            .prop_map(|(path, version)| (vec![13], Txn::Check { path, version })),
        any::<i32>().prop_map(|timeout_ms| (vec![-10], Txn::CreateSession { timeout_ms })),
        arb_strings()
            .prop_map(|paths_to_delete| (vec![-11], Txn::CloseSession { paths_to_delete })),
        any::<i32>().prop_map(|err| (vec![-1], Txn::Error { err })),
    ]
}

/// A transaction of any type, with a type code it is logged under.
fn arb_txn() -> impl Strategy<Value = (i32, Txn)> {
    let pick = |(kinds, txn): (Vec<i32>, Txn), i: usize| (kinds[i % kinds.len()], txn);
    prop_oneof![
        3 => (arb_simple_txn(), any::<usize>()).prop_map(move |(t, i)| pick(t, i)),
        1 => proptest::collection::vec((arb_simple_txn(), any::<usize>()), 0..4).prop_map(
            move |subs| (14, Txn::Multi(subs.into_iter().map(|(t, i)| pick(t, i)).collect()))
        ),
    ]
}

fn arb_connect() -> impl Strategy<Value = ConnectRequest> {
    (
        any::<i32>(),
        any::<i64>(),
        any::<i32>(),
        any::<i64>(),
        proptest::collection::vec(any::<u8>(), 0..20),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(
            |(protocol_version, last_zxid_seen, timeout_ms, session_id, passwd, read_only)| {
                ConnectRequest {
                    protocol_version,
                    last_zxid_seen,
                    timeout_ms,
                    session_id,
                    passwd,
                    read_only,
                }
            },
        )
}

/// Byte edits a fuzzer would make: overwrite, insert, delete, truncate.
fn mutate(mut bytes: Vec<u8>, edits: &[(u8, usize, u8)]) -> Vec<u8> {
    for &(kind, at, value) in edits {
        let at = if bytes.is_empty() {
            0
        } else {
            at % bytes.len()
        };
        match kind % 4 {
            0 if !bytes.is_empty() => bytes[at] = value,
            1 => bytes.insert(at, value),
            2 if !bytes.is_empty() => {
                bytes.remove(at);
            }
            _ => bytes.truncate(at),
        }
    }
    bytes
}

fn edits() -> impl Strategy<Value = Vec<(u8, usize, u8)>> {
    proptest::collection::vec(
        (
            any::<u8>(),
            any::<usize>(),
            prop_oneof![Just(0xff), Just(0), Just(0x7f), any::<u8>()],
        ),
        1..4,
    )
}

fn tolerate_known() -> script::Tolerate {
    // Both deviations the fuzzer found are fixed: everything is strict.
    script::Tolerate::none()
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_bytes_never_panic_any_decoder(
        op_index in any::<usize>(),
        bytes in proptest::collection::vec(any::<u8>(), 0..96),
    ) {
        let op = REQUEST_OPS[op_index % REQUEST_OPS.len()];
        if let Err(e) = check_request(op, &bytes) {
            prop_assert!(known_lossy(op), "{}", e);
        }
        let kind = TXN_KINDS[op_index % TXN_KINDS.len()];
        check_txn(kind, &bytes).map_err(TestCaseError::fail)?;
        check_txn_record(&bytes).map_err(TestCaseError::fail)?;
        check_connect(&bytes).map_err(TestCaseError::fail)?;
        check_client_stream(&bytes).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn mutated_requests_never_panic_and_still_round_trip(
        req in arb_request(),
        edits in edits(),
        op_index in any::<usize>(),
    ) {
        let body = mutate(encode_request(&req), &edits);
        let ops = [req.op().code(), REQUEST_OPS[op_index % REQUEST_OPS.len()]];
        for op in ops {
            if let Err(e) = check_request(op, &body) {
                prop_assert!(known_lossy(op), "{}", e);
            }
        }
    }

    #[test]
    fn mutated_txns_never_panic_and_still_round_trip(
        (kind, txn) in arb_txn(),
        edits in edits(),
    ) {
        let body = mutate(encode_txn(&txn), &edits);
        check_txn(kind, &body).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn generated_requests_round_trip(req in arb_request()) {
        let body = encode_request(&req);
        let back = check_request(req.op().code(), &body).map_err(TestCaseError::fail)?;
        if let Request::Multi(_) | Request::MultiRead(_) = req {
            // Creates in a multi are rebuilt from their flags, as in 3.8;
            // once rebuilt they must round-trip exactly.
            let back = back.expect("a generated multi decodes");
            let again = check_request(back.op().code(), &encode_request(&back))
                .map_err(TestCaseError::fail)?;
            prop_assert_eq!(again, Some(back));
        } else {
            prop_assert_eq!(back, Some(req));
        }
    }

    #[test]
    fn generated_txns_round_trip((kind, txn) in arb_txn()) {
        let body = encode_txn(&txn);
        let back = check_txn(kind, &body).map_err(TestCaseError::fail)?;
        prop_assert_eq!(back, Some(txn));
    }

    #[test]
    fn generated_handshakes_round_trip(req in arb_connect()) {
        let mut w = Writer::new();
        req.encode(&mut w);
        let back = check_connect(w.as_slice()).map_err(TestCaseError::fail)?;
        prop_assert_eq!(back, Some(req));
        check_connect_prefixes(w.as_slice()).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn requests_cut_at_any_offset_are_refused(req in arb_request()) {
        check_request_prefixes(req.op().code(), &encode_request(&req))
            .map_err(TestCaseError::fail)?;
    }

    #[test]
    fn txns_cut_at_any_offset_are_refused((kind, txn) in arb_txn()) {
        check_txn_prefixes(kind, &encode_txn(&txn)).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn client_streams_cut_at_any_offset_never_panic(
        reqs in proptest::collection::vec(arb_request(), 1..4),
        cut in any::<usize>(),
    ) {
        let mut w = Writer::new();
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: 30_000,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: Some(false),
        }
        .encode(&mut w);
        let mut stream = frame(w.as_slice());
        for (xid, req) in reqs.iter().enumerate() {
            let mut body = (xid as i32).to_be_bytes().to_vec();
            body.extend_from_slice(&req.op().code().to_be_bytes());
            body.extend(encode_request(req));
            stream.extend(frame(&body));
        }
        let cut = cut % (stream.len() + 1);
        let (frames, end) = split_frames(&stream[..cut]);
        prop_assert!(frames.len() <= reqs.len() + 1);
        let framed: usize = frames.iter().map(|f| f.len() + 4).sum();
        prop_assert_eq!(end == StreamEnd::Clean, framed == cut);
        check_client_stream(&stream[..cut]).map_err(TestCaseError::fail)?;
    }
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn random_engine_scripts_keep_the_invariants(
        script in proptest::collection::vec(any::<u8>(), 1..600),
    ) {
        script::run_script(&script, tolerate_known()).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn engine_seed_scripts_keep_the_invariants() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/engine");
    let mut ran = 0;
    for entry in std::fs::read_dir(&dir).expect("zkd/fuzz/seeds/engine exists") {
        let path = entry.expect("readable seed dir").path();
        let bytes = std::fs::read(&path).expect("readable seed");
        if let Err(e) = script::run_script(&bytes, tolerate_known()) {
            panic!("{}: {e}", path.display());
        }
        ran += 1;
    }
    assert!(ran >= 5, "only {ran} seed scripts in {}", dir.display());
}

#[test]
fn requests_whose_body_is_not_the_opcodes_record_are_malformed() {
    // A getData body under the create opcode: path, then a bool where the
    // data length should be.
    let body = encode_request(&Request::GetData {
        path: "/a".into(),
        watch: true,
    });
    assert!(Request::decode(OpCode::Create.code(), &body).is_err());
    assert_eq!(check_request(OpCode::Create.code(), &body), Ok(None));
}

// Reproducers for what the fuzzers found. Each fails until its bug is
// fixed; the report to the lead names them.

/// setWatches2 carries persistent and persistentRecursive watch lists; the
/// decoded request must re-encode with them (today `op()` says setWatches
/// and `encode_body` drops both lists).
#[test]
fn set_watches2_round_trips_with_its_persistent_lists() {
    let mut w = Writer::new();
    w.i64(3);
    for list in [&["/d"][..], &[], &[], &["/p"], &["/r"]] {
        w.i32(list.len() as i32);
        for s in list {
            w.string(s);
        }
    }
    let body = w.into_vec();
    let req = Request::decode(OpCode::SetWatches2.code(), &body).expect("valid setWatches2");
    let Request::SetWatches(sw) = &req else {
        panic!("decoded as {req:?}");
    };
    assert_eq!(sw.persistent, vec!["/p".to_owned()]);
    assert_eq!(
        req.op(),
        OpCode::SetWatches2,
        "op() must name the opcode that carries persistent lists"
    );
    assert_eq!(
        encode_request(&req),
        body,
        "re-encoding loses the persistent lists"
    );
}

/// 3.8's DataTree refuses a multi transaction nested in a multi ("Invalid
/// type of op"); ours decodes it recursively, so a crafted log record or
/// proposal of ~12 bytes per level can nest deep enough to overflow the
/// stack.
#[test]
fn nested_multi_txn_is_refused() {
    let inner = encode_txn(&Txn::Multi(vec![(-1, Txn::Error { err: 0 })]));
    let mut w = Writer::new();
    w.i32(1);
    w.i32(OpCode::Multi.code());
    w.buffer(&inner);
    let outer = w.into_vec();
    let decoded = Txn::decode(OpCode::Multi.code(), &mut Reader::new(&outer));
    assert!(decoded.is_err(), "nested multi accepted: {decoded:?}");
}

/// `jute::from_bytes` documents that the record must span the whole
/// buffer, but trailing bytes are accepted silently.
#[test]
fn from_bytes_refuses_trailing_bytes() {
    let mut bytes = zkd::jute::to_bytes(&7i32);
    bytes.push(0);
    assert!(zkd::jute::from_bytes::<i32>(&bytes).is_err());
}

/// Minimal engine scripts for the deviations the fuzzer found (an early
/// reply during the handshake; a MarshallingError overtaking earlier
/// requests), run strictly: the engine must answer as 3.8 does.
#[test]
fn engine_regressions_pass_strictly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/engine");
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("zkd/fuzz/regressions/engine exists") {
        let path = entry.expect("readable regressions dir").path();
        let bytes = std::fs::read(&path).expect("readable script");
        if let Err(e) = script::run_script(&bytes, script::Tolerate::none()) {
            failures.push(format!("{}: {e}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
