use super::watch::WatchMode;
use super::*;
use crate::proto::txn::{Txn, TxnHeader};
use crate::proto::{ErrorCode, EventType, OpCode};

fn hdr(zxid: i64, kind: OpCode) -> TxnHeader {
    TxnHeader {
        client_id: 0x100,
        cxid: 1,
        zxid,
        time: 1000 + zxid,
        kind: kind.code(),
    }
}

fn create(tree: &mut DataTree, zxid: i64, p: &str, ephemeral: bool) -> TxnResult {
    let parent_cv = tree.node(path::parent(p)).unwrap().stat.cversion + 1;
    tree.apply(
        &hdr(zxid, OpCode::Create),
        &Txn::Create {
            path: p.into(),
            data: Some(Bytes::from_static(b"hello")),
            acl: Acl::open_unsafe(),
            ephemeral,
            parent_cversion: parent_cv,
        },
        &mut vec![],
    )
}

#[test]
fn system_nodes_match_a_fresh_3_8_server() {
    let tree = DataTree::new(TreeOptions::default());
    let root = tree.stat("/").unwrap();
    assert_eq!((root.cversion, root.num_children), (-1, 1));
    let zk = tree.stat("/zookeeper").unwrap();
    assert_eq!((zk.cversion, zk.num_children), (-2, 2));
    let config = tree.stat("/zookeeper/config").unwrap();
    assert_eq!(config.aversion, -1);
    assert_eq!(
        tree.acl_of(tree.node("/zookeeper/config").unwrap()),
        Acl::read_unsafe()
    );
}

#[test]
fn cversion_counts_creates_and_deletes_as_clients_see_it() {
    let mut tree = DataTree::new(TreeOptions::default());
    create(&mut tree, 2, "/a", false);
    create(&mut tree, 3, "/a/s0000000000", false);
    tree.apply(
        &hdr(4, OpCode::Delete),
        &Txn::Delete {
            path: "/a/s0000000000".into(),
        },
        &mut vec![],
    );
    create(&mut tree, 5, "/a/s0000000001", false);
    let a = tree.stat("/a").unwrap();
    // Observed on Apache ZooKeeper 3.8 with the same sequence.
    assert_eq!((a.cversion, a.pzxid, a.num_children), (3, 5, 1));
    assert_eq!(tree.node("/a").unwrap().stat.cversion, 2);
}

#[test]
fn create_sets_stat_and_fires_watches() {
    let mut tree = DataTree::new(TreeOptions::default());
    tree.data_watches.add("/a", 1, WatchMode::Standard);
    tree.child_watches.add("/", 2, WatchMode::Standard);
    let mut events = vec![];
    let rc = tree.apply(
        &hdr(7, OpCode::Create2),
        &Txn::Create {
            path: "/a".into(),
            data: Some(Bytes::from_static(b"xy")),
            acl: Acl::open_unsafe(),
            ephemeral: true,
            parent_cversion: 1,
        },
        &mut events,
    );
    let stat = rc.stat.unwrap();
    assert_eq!((stat.czxid, stat.mzxid, stat.pzxid), (7, 7, 7));
    assert_eq!(
        (stat.ctime, stat.ephemeral_owner, stat.data_length),
        (1007, 0x100, 2)
    );
    assert_eq!(tree.last_zxid, 7);
    let kinds: Vec<_> = events.iter().map(|n| (n.watcher, n.event.kind)).collect();
    assert_eq!(
        kinds,
        vec![
            (1, EventType::NodeCreated),
            (2, EventType::NodeChildrenChanged)
        ]
    );
    assert_eq!(tree.ephemerals_of(0x100), vec!["/a".to_string()]);
}

#[test]
fn delete_notifies_a_connection_once() {
    let mut tree = DataTree::new(TreeOptions::default());
    create(&mut tree, 2, "/a", false);
    tree.data_watches.add("/a", 1, WatchMode::Standard);
    tree.child_watches.add("/a", 1, WatchMode::Standard);
    let mut events = vec![];
    tree.apply(
        &hdr(3, OpCode::Delete),
        &Txn::Delete { path: "/a".into() },
        &mut events,
    );
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event.kind, EventType::NodeDeleted);
    assert!(tree.data_watches.is_empty() && tree.child_watches.is_empty());
}

#[test]
fn failed_multi_reports_ok_then_error_then_rollback() {
    let mut tree = DataTree::new(TreeOptions::default());
    let txn = Txn::Multi(vec![
        (OpCode::Error.code(), Txn::Error { err: 0 }),
        (
            OpCode::Error.code(),
            Txn::Error {
                err: ErrorCode::NoNode.code(),
            },
        ),
        (
            OpCode::Error.code(),
            Txn::Error {
                err: ErrorCode::RuntimeInconsistency.code(),
            },
        ),
    ]);
    let rc = tree.apply(&hdr(2, OpCode::Multi), &txn, &mut vec![]);
    let errs: Vec<_> = rc.multi.iter().map(|r| r.err).collect();
    assert_eq!(
        errs,
        vec![
            ErrorCode::Ok,
            ErrorCode::NoNode,
            ErrorCode::RuntimeInconsistency
        ]
    );
}

#[test]
fn close_session_removes_its_ephemerals() {
    let mut tree = DataTree::new(TreeOptions::default());
    create(&mut tree, 2, "/e1", true);
    create(&mut tree, 3, "/e2", true);
    create(&mut tree, 4, "/p", false);
    let mut close = hdr(5, OpCode::CloseSession);
    close.client_id = 0x100;
    tree.apply(
        &close,
        &Txn::CloseSession {
            paths_to_delete: vec!["/e1".into(), "/e2".into()],
        },
        &mut vec![],
    );
    assert!(tree.node("/e1").is_none() && tree.node("/e2").is_none());
    assert!(tree.node("/p").is_some());
    assert_eq!(tree.ephemeral_count(), 0);
}

#[test]
fn ttl_and_container_owners_are_hidden_from_clients() {
    let mut tree = DataTree::new(TreeOptions {
        extended_types: true,
    });
    tree.apply(
        &hdr(2, OpCode::CreateTtl),
        &Txn::CreateTtl {
            path: "/t".into(),
            data: None,
            acl: Acl::open_unsafe(),
            parent_cversion: 1,
            ttl: 5000,
        },
        &mut vec![],
    );
    assert_eq!(tree.stat("/t").unwrap().ephemeral_owner, 0);
    assert_eq!(
        tree.owner_kind(tree.node("/t").unwrap().stat.ephemeral_owner),
        OwnerKind::Ttl(5000)
    );
    assert_eq!(tree.ttl_nodes().count(), 1);
    assert_eq!(tree.descendant_count("/"), 4);
}
