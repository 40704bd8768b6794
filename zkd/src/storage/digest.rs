//! 3.8's tree digest (`DigestCalculator` version 2 summed by `AdHash`):
//! the wrapping sum over every znode outside `/zookeeper/` of the CRC-32
//! of its path (the root as ""), its data, and 60 bytes of its persisted
//! Stat (czxid, mzxid, pzxid, ctime, mtime, version, cversion, aversion,
//! ephemeralOwner, big-endian). 3.8 writes it after each snapshot and
//! each log record and, on load, compares it with the tree it rebuilt,
//! logging "Digests are not matching" on a difference.
//!
//! Java hashes the path with `String.getBytes()`, the JVM's default
//! charset: UTF-8 unless the JVM runs under a non-UTF-8 locale (Java 17
//! under `LANG=C` uses ASCII), where a path outside ASCII hashes
//! differently on its side. We always use UTF-8.

use super::checksum::Crc32;
use crate::proto::path;
use crate::proto::txn::{Txn, TxnHeader};
use crate::tree::{DataTree, Node};
use std::collections::BTreeSet;

/// `DigestCalculator.DIGEST_VERSION` in 3.8.
pub const DIGEST_VERSION: i32 = 2;

/// 3.8 leaves this subtree out of the digest (quota nodes change locally).
const EXCLUDED_PREFIX: &str = "/zookeeper/";

/// One node's share of the digest; 0 for nodes 3.8 leaves out.
pub fn node_digest(p: &str, node: &Node) -> i64 {
    if p.starts_with(EXCLUDED_PREFIX) {
        return 0;
    }
    let p = if p == "/" { "" } else { p };
    let s = &node.stat;
    let mut stat = [0u8; 60];
    let mut at = 0;
    for v in [s.czxid, s.mzxid, s.pzxid, s.ctime, s.mtime] {
        stat[at..at + 8].copy_from_slice(&v.to_be_bytes());
        at += 8;
    }
    for v in [s.version, s.cversion, s.aversion] {
        stat[at..at + 4].copy_from_slice(&v.to_be_bytes());
        at += 4;
    }
    stat[at..].copy_from_slice(&s.ephemeral_owner.to_be_bytes());
    let mut crc = Crc32::new();
    crc.update(p.as_bytes());
    if let Some(data) = &node.data {
        crc.update(data);
    }
    crc.update(&stat);
    crc.value()
}

/// The digest of a whole tree, computed from scratch.
pub fn tree_digest(tree: &DataTree) -> i64 {
    tree.iter()
        .fold(0i64, |acc, (p, n)| acc.wrapping_add(node_digest(p, n)))
}

/// Keeps a tree's digest current across [`DataTree::apply`] without
/// rehashing the tree: before a transaction, take away the share of every
/// node it can change; after it, add their new shares back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestTracker {
    value: i64,
}

/// The nodes one transaction may change, captured before it is applied.
pub struct Touched(BTreeSet<String>);

impl DigestTracker {
    pub fn new(tree: &DataTree) -> Self {
        DigestTracker {
            value: tree_digest(tree),
        }
    }

    pub fn value(&self) -> i64 {
        self.value
    }

    /// Call before applying `txn`; pass the result to [`after`](Self::after).
    pub fn before(&mut self, tree: &DataTree, hdr: &TxnHeader, txn: &Txn) -> Touched {
        let mut paths = BTreeSet::new();
        touched_paths(tree, hdr.client_id, txn, &mut paths);
        self.value = self.value.wrapping_sub(share(tree, &paths));
        Touched(paths)
    }

    pub fn after(&mut self, tree: &DataTree, touched: Touched) {
        self.value = self.value.wrapping_add(share(tree, &touched.0));
    }
}

fn share(tree: &DataTree, paths: &BTreeSet<String>) -> i64 {
    paths
        .iter()
        .filter_map(|p| tree.node(p).map(|n| node_digest(p, n)))
        .fold(0i64, i64::wrapping_add)
}

fn touched_paths(tree: &DataTree, session: i64, txn: &Txn, out: &mut BTreeSet<String>) {
    let mut with_parent = |p: &str| {
        out.insert(p.to_owned());
        if p != "/" {
            out.insert(path::parent(p).to_owned());
        }
    };
    match txn {
        Txn::Create { path, .. }
        | Txn::CreateContainer { path, .. }
        | Txn::CreateTtl { path, .. }
        | Txn::Delete { path } => with_parent(path),
        Txn::SetData { path, .. } | Txn::SetAcl { path, .. } => {
            out.insert(path.clone());
        }
        Txn::CloseSession { paths_to_delete } => {
            // An empty list means "whatever the session owns", as the tree reads it.
            let owned;
            let paths = if paths_to_delete.is_empty() {
                owned = tree.ephemerals_of(session);
                &owned
            } else {
                paths_to_delete
            };
            for p in paths {
                with_parent(p);
            }
        }
        Txn::Multi(subs) => {
            for (_, sub) in subs {
                touched_paths(tree, session, sub, out);
            }
        }
        Txn::Check { .. } | Txn::CreateSession { .. } | Txn::Error { .. } => {}
    }
}
