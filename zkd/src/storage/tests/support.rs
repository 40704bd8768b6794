//! A history of transactions applied to a tree as a server would produce
//! them, for writing logs and snapshots and checking what comes back.

use crate::jute::records::{perms, Acl, Id};
use crate::proto::path;
use crate::proto::txn::{Txn, TxnHeader};
use crate::proto::OpCode;
use crate::storage::digest::{tree_digest, DIGEST_VERSION};
use crate::storage::{LogOptions, TxnDigest, TxnLogWriter};
use crate::tree::acl::digest_id;
use crate::tree::{DataTree, TreeOptions};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::path::Path;

pub const SESSION: i64 = 0x0100_0000_0000_0001;
pub const OTHER_SESSION: i64 = 0x0100_0000_0000_0002;

pub struct History {
    pub tree: DataTree,
    pub entries: Vec<(TxnHeader, Txn, TxnDigest)>,
    pub sessions: BTreeMap<i64, u32>,
    next_zxid: i64,
}

impl History {
    pub fn new() -> Self {
        History {
            tree: DataTree::new(TreeOptions::default()),
            entries: Vec::new(),
            sessions: BTreeMap::new(),
            next_zxid: 1,
        }
    }

    /// Applies a transaction and records it with the digest after it.
    pub fn push(&mut self, client: i64, kind: OpCode, txn: Txn) -> TxnHeader {
        let hdr = TxnHeader {
            client_id: client,
            cxid: self.entries.len() as i32,
            zxid: self.next_zxid,
            time: 1_700_000_000_000 + self.next_zxid * 7,
            kind: kind.code(),
        };
        self.next_zxid += 1;
        match &txn {
            Txn::CreateSession { timeout_ms } => {
                self.sessions.insert(client, *timeout_ms as u32);
            }
            Txn::CloseSession { .. } => {
                self.sessions.remove(&client);
            }
            _ => {}
        }
        self.tree.apply(&hdr, &txn, &mut Vec::new());
        let digest = TxnDigest {
            version: DIGEST_VERSION,
            tree_digest: tree_digest(&self.tree),
        };
        self.entries.push((hdr, txn, digest));
        hdr
    }

    pub fn create_txn(&self, p: &str, data: &[u8], acl: Vec<Acl>, ephemeral: bool) -> Txn {
        let parent_cversion = self
            .tree
            .node(path::parent(p))
            .expect("parent")
            .stat
            .cversion
            + 1;
        Txn::Create {
            path: p.into(),
            data: Some(Bytes::copy_from_slice(data)),
            acl,
            ephemeral,
            parent_cversion,
        }
    }

    pub fn create(&mut self, client: i64, p: &str, data: &[u8]) {
        let txn = self.create_txn(p, data, Acl::open_unsafe(), false);
        self.push(client, OpCode::Create, txn);
    }

    /// A sequential child of `parent`, named as 3.8 names it.
    pub fn create_sequential(&mut self, client: i64, parent: &str, prefix: &str) -> String {
        let seq = self.tree.node(parent).expect("parent").stat.cversion;
        let p = format!("{parent}/{prefix}{seq:010}");
        let txn = self.create_txn(&p, b"seq", Acl::open_unsafe(), false);
        self.push(client, OpCode::Create2, txn);
        p
    }

    /// The mix of transactions the compatibility tests use: sessions,
    /// data, digest ACLs, sequential, ephemeral and container nodes, a
    /// multi, setData, setACL, delete, an error, and a closed session.
    pub fn workload(&mut self) {
        self.push(
            SESSION,
            OpCode::CreateSession,
            Txn::CreateSession { timeout_ms: 30_000 },
        );
        self.push(
            OTHER_SESSION,
            OpCode::CreateSession,
            Txn::CreateSession { timeout_ms: 4_000 },
        );
        self.create(SESSION, "/app", b"application root");
        self.create(SESSION, "/app/config", b"{\"k\": 1}");
        let secret = vec![
            Acl {
                perms: perms::ALL,
                id: Id::new("digest", &digest_id("alice:secret")),
            },
            Acl {
                perms: perms::READ,
                id: Id::new("world", "anyone"),
            },
        ];
        let txn = self.create_txn("/app/secret", b"s3cr3t", secret, false);
        self.push(SESSION, OpCode::Create, txn);
        for _ in 0..3 {
            self.create_sequential(SESSION, "/app", "job-");
        }
        let txn = self.create_txn("/app/lock", b"", Acl::open_unsafe(), true);
        self.push(SESSION, OpCode::Create, txn);
        let txn = self.create_txn("/app/gone", b"x", Acl::open_unsafe(), true);
        self.push(OTHER_SESSION, OpCode::Create, txn);
        self.push(
            SESSION,
            OpCode::CreateContainer,
            Txn::CreateContainer {
                path: "/box".into(),
                data: None,
                acl: Acl::open_unsafe(),
                parent_cversion: self.tree.node("/").unwrap().stat.cversion + 1,
            },
        );
        let multi = Txn::Multi(vec![
            (
                OpCode::Create.code(),
                self.create_txn("/multi", b"m", Acl::open_unsafe(), false),
            ),
            (
                OpCode::SetData.code(),
                Txn::SetData {
                    path: "/app".into(),
                    data: Some(Bytes::from_static(b"updated by multi")),
                    version: 1,
                },
            ),
            (
                OpCode::Check.code(),
                Txn::Check {
                    path: "/app/config".into(),
                    version: 0,
                },
            ),
        ]);
        self.push(SESSION, OpCode::Multi, multi);
        self.push(
            SESSION,
            OpCode::SetData,
            Txn::SetData {
                path: "/app/config".into(),
                data: Some(Bytes::from_static(b"{\"k\": 2}")),
                version: 1,
            },
        );
        self.push(
            SESSION,
            OpCode::SetAcl,
            Txn::SetAcl {
                path: "/app/config".into(),
                acl: Acl::read_unsafe(),
                version: 1,
            },
        );
        let first_job = "/app/job-0000000002".to_owned();
        self.push(SESSION, OpCode::Delete, Txn::Delete { path: first_job });
        self.push(SESSION, OpCode::Error, Txn::Error { err: -101 });
        self.push(
            OTHER_SESSION,
            OpCode::CloseSession,
            Txn::CloseSession {
                paths_to_delete: vec!["/app/gone".into()],
            },
        );
    }

    pub fn last_zxid(&self) -> i64 {
        self.next_zxid - 1
    }

    pub fn sessions_vec(&self) -> Vec<(i64, u32)> {
        self.sessions.iter().map(|(k, v)| (*k, *v)).collect()
    }

    /// Logs entries `range` into `dir`, with or without their digests.
    pub fn log(
        &self,
        dir: &Path,
        range: std::ops::Range<usize>,
        opts: LogOptions,
        with_digest: bool,
    ) -> TxnLogWriter {
        let mut w = TxnLogWriter::open(dir, opts).unwrap();
        for (hdr, txn, d) in &self.entries[range] {
            w.append(hdr, txn, with_digest.then_some(*d)).unwrap();
        }
        w.flush_and_sync(true).unwrap();
        w
    }
}

/// Every node of `a` and `b` agrees: paths, data, ACLs and Stats.
pub fn assert_same_tree(a: &DataTree, b: &DataTree) {
    let paths = |t: &DataTree| {
        let mut v: Vec<String> = t.iter().map(|(p, _)| p.to_owned()).collect();
        v.sort();
        v
    };
    assert_eq!(paths(a), paths(b), "node sets differ");
    for (p, na) in a.iter() {
        let nb = b.node(p).unwrap();
        assert_eq!(na.data, nb.data, "data of {p}");
        assert_eq!(na.stat, nb.stat, "stat of {p}");
        assert_eq!(a.client_stat(na), b.client_stat(nb), "client stat of {p}");
        assert_eq!(a.acl_of(na), b.acl_of(nb), "acl of {p}");
        assert_eq!(na.children, nb.children, "children of {p}");
    }
    assert_eq!(a.all_ephemerals(), b.all_ephemerals(), "ephemerals");
    assert_eq!(a.last_zxid, b.last_zxid, "last zxid");
}
