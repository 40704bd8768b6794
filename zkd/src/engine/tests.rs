//! The engine driven by hand: requests in, outputs checked, time passed in.

use super::*;
use crate::jute::records::{perms, Acl};
use crate::proto::connect::ConnectRequest;
use crate::proto::multi::OpResult;
use crate::proto::request::CreateRequest;
use crate::proto::{EventType, OpCode};
use std::net::Ipv4Addr;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

struct Harness {
    engine: Engine,
    now: Now,
    out: Vec<Output>,
    /// Transactions "on disk" but not yet acknowledged.
    unsynced: Vec<i64>,
    auto_persist: bool,
}

impl Harness {
    fn new() -> Self {
        let now = Now {
            wall_ms: 1_700_000_000_000,
            mono_ms: 0,
        };
        Harness {
            engine: Engine::new(EngineConfig::default(), now),
            now,
            out: Vec::new(),
            unsynced: Vec::new(),
            auto_persist: true,
        }
    }

    fn pump(&mut self) {
        loop {
            let batch: Vec<Output> = self.engine.drain().collect();
            if batch.is_empty() {
                return;
            }
            for o in batch {
                if let Output::Persist { header, .. } = &o {
                    self.unsynced.push(header.zxid);
                }
                self.out.push(o);
            }
            if self.auto_persist {
                self.sync();
            }
        }
    }

    fn sync(&mut self) {
        if let Some(z) = self.unsynced.drain(..).max() {
            self.engine.persisted(z, self.now);
        }
    }

    fn connect(&mut self, conn: ConnId) -> i64 {
        self.engine.connect(
            conn,
            LOCAL,
            ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: 0,
                timeout_ms: 10_000,
                session_id: 0,
                passwd: vec![0; 16],
                read_only: Some(false),
            },
            self.now,
        );
        self.pump();
        let resp = self.out.iter().rev().find_map(|o| match o {
            Output::Connected {
                conn: c, response, ..
            } if *c == conn => Some(response.clone()),
            _ => None,
        });
        resp.expect("connected").session_id
    }

    fn send(&mut self, conn: ConnId, xid: i32, r: Request) {
        self.engine.request(conn, xid, r, self.now);
        self.pump();
    }

    fn replies(&self, conn: ConnId) -> Vec<(i32, ErrorCode, Response)> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Reply {
                    conn: c,
                    xid,
                    err,
                    body,
                    ..
                } if *c == conn => Some((*xid, *err, body.clone())),
                _ => None,
            })
            .collect()
    }

    fn reply(&self, conn: ConnId, xid: i32) -> (ErrorCode, Response) {
        let (_, e, b) = self
            .replies(conn)
            .into_iter()
            .find(|(x, _, _)| *x == xid)
            .unwrap_or_else(|| panic!("no reply to xid {xid}"));
        (e, b)
    }

    fn events(&self, conn: ConnId) -> Vec<(EventType, String)> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Event { conn: c, event } if *c == conn => {
                    Some((event.kind, event.path.clone()))
                }
                _ => None,
            })
            .collect()
    }
}

fn create(path: &str, flags: i32) -> Request {
    Request::Create(CreateRequest {
        op: OpCode::Create,
        path: path.into(),
        data: Some(b"d".to_vec()),
        acl: Acl::open_unsafe(),
        flags,
        ttl: -1,
    })
}

#[test]
fn create_then_read_sees_the_write() {
    let mut h = Harness::new();
    h.connect(1);
    h.send(1, 1, create("/a", 0));
    h.send(
        1,
        2,
        Request::GetData {
            path: "/a".into(),
            watch: false,
        },
    );
    assert_eq!(
        h.reply(1, 1),
        (ErrorCode::Ok, Response::Create { path: "/a".into() })
    );
    let (err, body) = h.reply(1, 2);
    assert_eq!(err, ErrorCode::Ok);
    let Response::GetData { data, stat } = body else {
        panic!()
    };
    assert_eq!(data.as_deref(), Some(&b"d"[..]));
    assert_eq!(stat.czxid, 2, "zxid 1 was the session's creation");
}

#[test]
fn a_read_waits_behind_its_sessions_unsynced_write() {
    let mut h = Harness::new();
    h.connect(1);
    h.connect(2);
    h.auto_persist = false;
    h.send(1, 1, create("/a", 0));
    h.send(
        1,
        2,
        Request::Exists {
            path: "/a".into(),
            watch: false,
        },
    );
    // Another session's read is not held up, and sees nothing uncommitted.
    h.send(
        2,
        1,
        Request::Exists {
            path: "/a".into(),
            watch: false,
        },
    );
    assert!(
        h.replies(1).is_empty(),
        "nothing answered before the log is durable"
    );
    assert_eq!(h.reply(2, 1).0, ErrorCode::NoNode);
    h.sync();
    h.pump();
    let xids: Vec<i32> = h.replies(1).iter().map(|r| r.0).collect();
    assert_eq!(xids, vec![1, 2], "answers in request order");
    assert_eq!(h.reply(1, 2).0, ErrorCode::Ok);
}

#[test]
fn pipelined_writes_check_against_changes_in_flight() {
    let mut h = Harness::new();
    h.connect(1);
    h.auto_persist = false;
    h.send(1, 1, create("/p", 0));
    h.send(1, 2, create("/p/c", 0));
    h.send(1, 3, create("/p", 0));
    h.send(
        1,
        4,
        Request::Delete {
            path: "/p".into(),
            version: -1,
        },
    );
    h.sync();
    h.pump();
    assert_eq!(h.reply(1, 2).0, ErrorCode::Ok);
    assert_eq!(h.reply(1, 3).0, ErrorCode::NodeExists);
    assert_eq!(h.reply(1, 4).0, ErrorCode::NotEmpty);
}

#[test]
fn sequential_names_follow_the_parent_cversion() {
    let mut h = Harness::new();
    h.connect(1);
    h.send(1, 1, create("/q", 0));
    h.send(1, 2, create("/q/n-", 2));
    h.send(1, 3, create("/q/n-", 2));
    assert_eq!(
        h.reply(1, 2).1,
        Response::Create {
            path: "/q/n-0000000000".into()
        }
    );
    assert_eq!(
        h.reply(1, 3).1,
        Response::Create {
            path: "/q/n-0000000001".into()
        }
    );
}

#[test]
fn errors_consume_a_zxid_like_3_8() {
    let mut h = Harness::new();
    h.connect(1);
    h.send(
        1,
        1,
        Request::Delete {
            path: "/missing".into(),
            version: -1,
        },
    );
    assert_eq!(h.reply(1, 1).0, ErrorCode::NoNode);
    assert_eq!(h.engine.tree().last_zxid, 2);
}

#[test]
fn multi_is_all_or_nothing() {
    let mut h = Harness::new();
    h.connect(1);
    h.send(
        1,
        1,
        Request::Multi(vec![
            create("/m", 0),
            create("/m/x", 0),
            Request::Delete {
                path: "/nope".into(),
                version: -1,
            },
            create("/m/y", 0),
        ]),
    );
    let (err, body) = h.reply(1, 1);
    assert_eq!(err, ErrorCode::Ok);
    assert_eq!(
        body,
        Response::Multi(vec![
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::NoNode),
            OpResult::Error(ErrorCode::RuntimeInconsistency),
        ])
    );
    assert!(h.engine.tree().node("/m").is_none());
    h.send(
        1,
        2,
        Request::Multi(vec![create("/m", 0), create("/m/x", 0)]),
    );
    assert!(h.engine.tree().node("/m/x").is_some());
}

#[test]
fn watches_fire_before_the_writers_reply() {
    let mut h = Harness::new();
    h.connect(1);
    h.connect(2);
    h.send(
        2,
        1,
        Request::Exists {
            path: "/w".into(),
            watch: true,
        },
    );
    h.send(1, 1, create("/w", 0));
    assert_eq!(
        h.events(2),
        vec![(EventType::NodeCreated, "/w".to_string())]
    );
    let event_at = h
        .out
        .iter()
        .position(|o| matches!(o, Output::Event { .. }))
        .unwrap();
    let reply_at = h
        .out
        .iter()
        .position(|o| {
            matches!(
                o,
                Output::Reply {
                    conn: 1,
                    xid: 1,
                    ..
                }
            )
        })
        .unwrap();
    assert!(event_at < reply_at);
}

#[test]
fn acl_denies_and_getacl_masks_digests() {
    let mut h = Harness::new();
    h.connect(1);
    h.connect(2);
    h.send(
        1,
        -4,
        Request::Auth {
            scheme: "digest".into(),
            auth: b"alice:secret".to_vec(),
        },
    );
    let mut req = create("/s", 0);
    if let Request::Create(c) = &mut req {
        c.acl = vec![
            Acl {
                perms: perms::ALL,
                id: crate::jute::records::Id::new("auth", ""),
            },
            Acl {
                perms: perms::READ,
                id: crate::jute::records::Id::new("world", "anyone"),
            },
        ];
    }
    h.send(1, 1, req);
    assert_eq!(h.reply(1, 1).0, ErrorCode::Ok);
    h.send(
        2,
        1,
        Request::SetData {
            path: "/s".into(),
            data: None,
            version: -1,
        },
    );
    assert_eq!(h.reply(2, 1).0, ErrorCode::NoAuth);
    h.send(2, 2, Request::GetAcl { path: "/s".into() });
    let Response::GetAcl { acl, .. } = h.reply(2, 2).1 else {
        panic!()
    };
    assert_eq!(acl[0].id.id, "alice:x");
    h.send(1, 2, Request::GetAcl { path: "/s".into() });
    let Response::GetAcl { acl, .. } = h.reply(1, 2).1 else {
        panic!()
    };
    assert!(acl[0].id.id.starts_with("alice:") && acl[0].id.id != "alice:x");
}

#[test]
fn unknown_auth_scheme_fails_and_closes() {
    let mut h = Harness::new();
    h.connect(1);
    h.send(
        1,
        -4,
        Request::Auth {
            scheme: "kerberos".into(),
            auth: vec![],
        },
    );
    assert_eq!(h.reply(1, -4).0, ErrorCode::AuthFailed);
    assert!(h.out.iter().any(|o| matches!(
        o,
        Output::Close {
            conn: 1,
            reason: CloseReason::AuthFailed
        }
    )));
}

#[test]
fn expired_session_loses_its_ephemerals_and_cannot_resume() {
    let mut h = Harness::new();
    let session = h.connect(1);
    h.connect(2);
    h.send(1, 1, create("/e", 1));
    h.send(
        2,
        1,
        Request::Exists {
            path: "/e".into(),
            watch: true,
        },
    );
    h.engine.disconnected(1);
    // Session 2 keeps pinging; session 1 is silent.
    for t in (0..=14_000).step_by(1000) {
        h.now.mono_ms = t;
        h.send(2, -2, Request::Ping);
        h.engine.tick(h.now);
        h.pump();
    }
    assert!(h.engine.tree().node("/e").is_none());
    assert_eq!(
        h.events(2),
        vec![(EventType::NodeDeleted, "/e".to_string())]
    );
    h.engine.connect(
        3,
        LOCAL,
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: 10_000,
            session_id: session,
            passwd: crate::session::password_for(session).to_vec(),
            read_only: None,
        },
        h.now,
    );
    h.pump();
    let rejected = h.out.iter().any(|o| {
        matches!(o, Output::Connected { conn: 3, response, close: true } if response.session_id == 0)
    });
    assert!(rejected);
}

#[test]
fn close_session_removes_ephemerals_at_once() {
    let mut h = Harness::new();
    h.connect(1);
    h.send(1, 1, create("/e", 1));
    h.send(1, 2, Request::CloseSession);
    assert!(h.engine.tree().node("/e").is_none());
    assert_eq!(h.reply(1, 2).0, ErrorCode::Ok);
    assert_eq!(h.engine.sessions().len(), 0);
}

#[test]
fn reconnect_with_wrong_password_is_refused() {
    let mut h = Harness::new();
    let session = h.connect(1);
    h.engine.connect(
        2,
        LOCAL,
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: 10_000,
            session_id: session,
            passwd: vec![1; 16],
            read_only: None,
        },
        h.now,
    );
    h.pump();
    assert!(h.out.iter().any(|o| matches!(
        o,
        Output::Connected {
            conn: 2,
            close: true,
            ..
        }
    )));
}

#[test]
fn containers_go_once_their_last_child_does() {
    let mut h = Harness::new();
    h.connect(1);
    let mut c = create("/c", 4);
    if let Request::Create(r) = &mut c {
        r.op = OpCode::CreateContainer;
    }
    h.send(1, 1, c);
    h.now.mono_ms = 120_000;
    h.send(1, 2, Request::Ping);
    h.engine.tick(h.now);
    h.pump();
    assert!(
        h.engine.tree().node("/c").is_some(),
        "never-used containers stay"
    );
    h.send(1, 3, create("/c/x", 0));
    h.send(
        1,
        4,
        Request::Delete {
            path: "/c/x".into(),
            version: -1,
        },
    );
    h.now.mono_ms = 240_000;
    h.send(1, 5, Request::Ping);
    h.engine.tick(h.now);
    h.pump();
    assert!(h.engine.tree().node("/c").is_none());
}

#[test]
fn ttl_needs_extended_types() {
    let mut h = Harness::new();
    h.connect(1);
    h.send(
        1,
        1,
        Request::Create(CreateRequest {
            op: OpCode::CreateTtl,
            path: "/t".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 5,
            ttl: 1000,
        }),
    );
    assert_eq!(h.reply(1, 1).0, ErrorCode::Unimplemented);
}

#[test]
fn set_watches_fires_what_changed_while_away() {
    let mut h = Harness::new();
    h.connect(1);
    h.send(1, 1, create("/a", 0));
    h.send(1, 2, create("/b", 0));
    let seen = h.engine.tree().last_zxid;
    h.send(
        1,
        3,
        Request::SetData {
            path: "/a".into(),
            data: Some(vec![1]),
            version: -1,
        },
    );
    h.connect(2);
    h.send(
        2,
        -8,
        Request::SetWatches(crate::proto::request::SetWatches {
            relative_zxid: seen,
            data: vec!["/a".into(), "/b".into(), "/gone".into()],
            exist: vec!["/b".into()],
            ..Default::default()
        }),
    );
    assert_eq!(
        h.events(2),
        vec![
            (EventType::NodeDataChanged, "/a".to_string()),
            (EventType::NodeDeleted, "/gone".to_string()),
            (EventType::NodeCreated, "/b".to_string()),
        ]
    );
    assert!(h.engine.tree().data_watches.contains("/b", 2));
}

#[test]
fn requests_sent_before_the_handshake_completes_wait_for_it() {
    let mut h = Harness::new();
    h.auto_persist = false;
    h.engine.connect(
        1,
        LOCAL,
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: 10_000,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: None,
        },
        h.now,
    );
    h.pump();
    h.send(
        1,
        7,
        Request::Auth {
            scheme: "digest".into(),
            auth: b"bob:pw".to_vec(),
        },
    );
    h.send(1, 8, Request::WhoAmI);
    assert!(
        h.replies(1).is_empty(),
        "nothing answered before the handshake"
    );
    h.sync();
    h.pump();
    let connected_at = h
        .out
        .iter()
        .position(|o| matches!(o, Output::Connected { conn: 1, .. }))
        .expect("connected");
    let auth_at = h
        .out
        .iter()
        .position(|o| {
            matches!(
                o,
                Output::Reply {
                    conn: 1,
                    xid: 7,
                    ..
                }
            )
        })
        .expect("auth answered with its own xid");
    assert!(connected_at < auth_at);
    let Response::WhoAmI(infos) = h.reply(1, 8).1 else {
        panic!()
    };
    assert!(infos.iter().any(|i| i.auth_scheme == "digest"));
}

#[test]
fn child_lists_read_the_same_alone_and_in_multi_read() {
    let mut h = Harness::new();
    h.connect(1);
    h.send(1, 1, create("/k", 0));
    h.send(1, 2, create("/k/b", 0));
    h.send(1, 3, create("/k/a", 0));
    h.send(
        1,
        4,
        Request::GetChildren {
            path: "/k".into(),
            watch: false,
        },
    );
    let mut w = crate::jute::Writer::new();
    h.reply(1, 4).1.encode(&mut w);
    let names: Vec<String> = crate::jute::Reader::new(w.as_slice()).vec().unwrap();
    assert_eq!(names, vec!["a".to_string(), "b".to_string()]);
    h.send(
        1,
        5,
        Request::MultiRead(vec![Request::GetChildren {
            path: "/k".into(),
            watch: true,
        }]),
    );
    assert_eq!(
        h.reply(1, 5).1,
        Response::Multi(vec![OpResult::GetChildren(names)])
    );
    assert!(h.engine.tree().child_watches.contains("/k", 1));
}

#[test]
fn a_failed_disk_fails_the_writes_and_keeps_serving() {
    let mut h = Harness::new();
    h.connect(1);
    h.send(1, 1, create("/kept", 0));
    h.auto_persist = false;
    h.send(1, 2, create("/lost", 0));
    h.send(1, 3, create("/lost/child", 0));
    h.send(
        1,
        4,
        Request::Exists {
            path: "/kept".into(),
            watch: false,
        },
    );
    let first_failed = *h.unsynced.first().unwrap();
    h.unsynced.clear();
    h.engine.persist_failed(first_failed, h.now);
    h.pump();
    assert_eq!(h.reply(1, 2).0, ErrorCode::SystemError);
    assert_eq!(h.reply(1, 3).0, ErrorCode::SystemError);
    assert_eq!(h.reply(1, 4).0, ErrorCode::Ok, "reads go on");
    assert!(h.engine.tree().node("/lost").is_none());
    // Space is back: the next write reuses the failed zxid, keeping the log gapless.
    h.auto_persist = true;
    h.send(1, 5, create("/lost", 0));
    assert_eq!(h.reply(1, 5).0, ErrorCode::Ok);
    assert_eq!(h.engine.tree().stat("/lost").unwrap().czxid, first_failed);
}
