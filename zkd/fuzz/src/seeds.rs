//! Seed inputs for each target: small, valid examples of every record
//! shape, so the fuzzer starts from inputs that get past the first length
//! check. `examples/gen_seeds.rs` writes them under `seeds/<target>/`.

use crate::decode::{encode_request, encode_txn, frame, sample_acls, TXN_KINDS};
use crate::script::op;
use bytes::Bytes;
use zkd::jute::records::Acl;
use zkd::jute::{Record, Writer};
use zkd::proto::connect::ConnectRequest;
use zkd::proto::request::{CreateRequest, Request, SetWatches};
use zkd::proto::txn::{Txn, TxnHeader};
use zkd::proto::{xid, OpCode};

/// One request of every shape a client sends, with the xid it goes with.
pub fn sample_requests() -> Vec<(i32, Request)> {
    let create = |op: OpCode, path: &str, flags: i32, ttl: i64| {
        Request::Create(CreateRequest {
            op,
            path: path.into(),
            data: Some(b"seed".to_vec()),
            acl: Acl::open_unsafe(),
            flags,
            ttl,
        })
    };
    let p = |s: &str| s.to_owned();
    vec![
        (1, create(OpCode::Create, "/a", 0, -1)),
        (2, create(OpCode::Create2, "/a/b-", 3, -1)),
        (3, create(OpCode::CreateContainer, "/c", 4, -1)),
        (4, create(OpCode::CreateTtl, "/t", 5, 5000)),
        (
            5,
            Request::Delete {
                path: p("/a"),
                version: -1,
            },
        ),
        (
            6,
            Request::Exists {
                path: p("/a"),
                watch: true,
            },
        ),
        (
            7,
            Request::GetData {
                path: p("/a"),
                watch: false,
            },
        ),
        (
            8,
            Request::SetData {
                path: p("/a"),
                data: Some(vec![1, 2]),
                version: 0,
            },
        ),
        (9, Request::GetAcl { path: p("/a") }),
        (
            10,
            Request::SetAcl {
                path: p("/a"),
                acl: sample_acls()[2].clone(),
                version: -1,
            },
        ),
        (
            11,
            Request::GetChildren {
                path: p("/"),
                watch: true,
            },
        ),
        (
            12,
            Request::GetChildren2 {
                path: p("/"),
                watch: false,
            },
        ),
        (13, Request::Sync { path: p("/") }),
        (xid::PING, Request::Ping),
        (
            14,
            Request::Check {
                path: p("/a"),
                version: 3,
            },
        ),
        (
            15,
            Request::Multi(vec![
                create(OpCode::Create, "/m", 0, -1),
                Request::Check {
                    path: p("/m"),
                    version: 0,
                },
                Request::SetData {
                    path: p("/m"),
                    data: None,
                    version: -1,
                },
                Request::Delete {
                    path: p("/m"),
                    version: -1,
                },
            ]),
        ),
        (
            16,
            Request::MultiRead(vec![
                Request::GetData {
                    path: p("/a"),
                    watch: false,
                },
                Request::GetChildren {
                    path: p("/"),
                    watch: false,
                },
            ]),
        ),
        (17, Request::Reconfig),
        (
            18,
            Request::CheckWatches {
                path: p("/a"),
                kind: 3,
            },
        ),
        (
            19,
            Request::RemoveWatches {
                path: p("/a"),
                kind: 1,
            },
        ),
        (
            xid::AUTH,
            Request::Auth {
                scheme: p("digest"),
                auth: b"alice:secret".to_vec(),
            },
        ),
        (
            xid::SET_WATCHES,
            Request::SetWatches(SetWatches {
                relative_zxid: 7,
                data: vec![p("/a")],
                exist: vec![p("/b")],
                child: vec![p("/")],
                ..SetWatches::default()
            }),
        ),
        (
            xid::SET_WATCHES,
            Request::SetWatches(SetWatches {
                v2: true,
                relative_zxid: 7,
                data: vec![p("/a")],
                persistent: vec![p("/p")],
                persistent_recursive: vec![p("/r")],
                ..SetWatches::default()
            }),
        ),
        (20, Request::Sasl),
        (21, Request::GetEphemerals { prefix: p("/") }),
        (22, Request::GetAllChildrenNumber { path: p("/") }),
        (
            23,
            Request::AddWatch {
                path: p("/a"),
                mode: 1,
            },
        ),
        (24, Request::WhoAmI),
        (25, Request::CloseSession),
    ]
}

fn handshake(read_only: Option<bool>) -> Vec<u8> {
    let mut w = Writer::new();
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms: 30_000,
        session_id: 0,
        passwd: vec![0; 16],
        read_only,
    }
    .encode(&mut w);
    frame(w.as_slice())
}

fn request_frame(xid: i32, op: i32, body: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(body.len() + 8);
    b.extend_from_slice(&xid.to_be_bytes());
    b.extend_from_slice(&op.to_be_bytes());
    b.extend_from_slice(body);
    frame(&b)
}

/// Client streams: a handshake, then a handful of requests each.
pub fn client_frames() -> Vec<(String, Vec<u8>)> {
    let requests = sample_requests();
    let mut out = Vec::new();
    for (i, chunk) in requests.chunks(4).enumerate() {
        let mut stream = handshake(if i % 2 == 0 { Some(false) } else { None });
        for (xid, req) in chunk {
            stream.extend(request_frame(*xid, req.op().code(), &encode_request(req)));
        }
        out.push((format!("stream-{i:02}"), stream));
    }
    out
}

/// Transaction bodies, each behind the selector byte the target reads.
pub fn txns() -> Vec<(String, Vec<u8>)> {
    let data = Some(Bytes::from_static(b"seed"));
    let acl = Acl::open_unsafe();
    let create = Txn::Create {
        path: "/a".into(),
        data: data.clone(),
        acl: acl.clone(),
        ephemeral: true,
        parent_cversion: 1,
    };
    let samples = vec![
        (OpCode::Create, create.clone()),
        (
            OpCode::CreateContainer,
            Txn::CreateContainer {
                path: "/c".into(),
                data: data.clone(),
                acl: acl.clone(),
                parent_cversion: 2,
            },
        ),
        (
            OpCode::CreateTtl,
            Txn::CreateTtl {
                path: "/t".into(),
                data: data.clone(),
                acl: acl.clone(),
                parent_cversion: 3,
                ttl: 5000,
            },
        ),
        (OpCode::Delete, Txn::Delete { path: "/a".into() }),
        (
            OpCode::SetData,
            Txn::SetData {
                path: "/a".into(),
                data,
                version: 4,
            },
        ),
        (
            OpCode::SetAcl,
            Txn::SetAcl {
                path: "/a".into(),
                acl,
                version: 1,
            },
        ),
        (
            OpCode::Check,
            Txn::Check {
                path: "/a".into(),
                version: 2,
            },
        ),
        (
            OpCode::CreateSession,
            Txn::CreateSession { timeout_ms: 30_000 },
        ),
        (
            OpCode::CloseSession,
            Txn::CloseSession {
                paths_to_delete: vec!["/e1".into(), "/e2".into()],
            },
        ),
        (OpCode::Error, Txn::Error { err: -101 }),
        (
            OpCode::Multi,
            Txn::Multi(vec![
                (OpCode::Create.code(), create),
                (OpCode::Delete.code(), Txn::Delete { path: "/a".into() }),
                (OpCode::Error.code(), Txn::Error { err: -110 }),
            ]),
        ),
    ];
    let mut out = Vec::new();
    for (op, txn) in samples {
        let selector = TXN_KINDS
            .iter()
            .position(|k| *k == op.code())
            .expect("every sample kind is in TXN_KINDS") as u8;
        let mut bytes = vec![selector];
        bytes.extend(encode_txn(&txn));
        out.push((format!("body-{}", op.code()), bytes));
        // The same transaction as a whole log record.
        let mut w = Writer::new();
        TxnHeader {
            client_id: 0x100,
            cxid: 7,
            zxid: 0x200,
            time: 1_700_000_000_000,
            kind: op.code(),
        }
        .encode(&mut w);
        txn.encode(&mut w);
        out.push((format!("record-{}", op.code()), w.into_vec()));
    }
    out
}

/// Engine scripts: a config byte, then steps (see `script.rs`).
pub fn engine_scripts() -> Vec<(String, Vec<u8>)> {
    use op::*;
    // Argument bytes follow the reads each step makes; see script.rs.
    let scripts: Vec<(&str, Vec<u8>)> = vec![
        (
            "create-read",
            vec![
                0, CONNECT, 1, 0, 0, 0, CREATE, 0, 0, 0, 1, 7, 0, 0, GET_DATA, 0, 0, 1, EXISTS, 0,
                1, 1,
            ],
        ),
        (
            "delayed-writes",
            vec![
                4,
                CONNECT,
                1,
                0,
                0,
                0,
                PERSIST,
                0,
                CREATE,
                0,
                0,
                0,
                0,
                0,
                0,
                CREATE,
                0,
                0,
                1,
                0,
                0,
                0,
                GET_CHILDREN,
                0,
                0,
                1,
                1,
                PERSIST,
                0,
                PERSIST,
                1,
                DELETE,
                0,
                1,
                0,
            ],
        ),
        (
            "ephemeral-expiry",
            vec![
                0, CONNECT, 1, 0, 0, 0, CONNECT, 1, 0, 0, 0, CREATE, 0, 0, 4, 0, 0, 1, EXISTS, 1,
                4, 1, TICK, 255, TICK, 255, PING, 1,
            ],
        ),
        (
            "multi-and-watches",
            vec![
                0,
                CONNECT,
                1,
                0,
                0,
                0,
                MULTI,
                0,
                2,
                0,
                0,
                0,
                0,
                0,
                0,
                3,
                1,
                0,
                6,
                0,
                0,
                ADD_WATCH,
                0,
                0,
                1,
                SET_WATCHES,
                0,
                1,
                1,
                3,
                0,
                0,
                3,
                1,
                4,
                2,
            ],
        ),
        (
            "auth-acl",
            vec![
                2, CONNECT, 1, 0, 0, 0, AUTH, 0, 0, 0, CREATE, 0, 0, 2, 0, 4, 0, ACL, 0, 2, 1,
                AUTH, 0, 0, 2, ACL, 0, 2, 0, 3, 0,
            ],
        ),
        (
            "close-and-resume",
            vec![
                4,
                CONNECT,
                1,
                0,
                0,
                0,
                CREATE,
                0,
                0,
                5,
                0,
                0,
                1,
                PERSIST,
                0,
                DISCONNECT,
                0,
                CONNECT,
                0,
                0,
                1,
                0,
                0,
                CLOSE_SESSION,
                0,
                TOGGLE_DELAY,
            ],
        ),
        (
            "containers-ttl",
            vec![
                1, CONNECT, 1, 0, 0, 0, CREATE, 0, 3, 2, 0, 0, 0, CREATE, 0, 0, 3, 0, 0, 0, DELETE,
                0, 3, 0, TICK, 40, CREATE, 0, 4, 4, 0, 0, 0, 0, TICK, 100,
            ],
        ),
        (
            "raw-frames",
            vec![
                0,
                CONNECT,
                1,
                0,
                0,
                0,
                RAW_FRAME,
                0,
                0,
                3,
                0,
                0,
                0,
                RAW_FRAME,
                0,
                29,
                0,
                SASL,
                0,
                MISC_READ,
                0,
                1,
                1,
                WATCH_ADMIN,
                0,
                0,
                2,
                1,
            ],
        ),
    ];
    scripts
        .into_iter()
        .map(|(name, bytes)| (name.to_owned(), bytes))
        .collect()
}
