//! The data tree: znodes with data, ACL and Stat, the ephemeral, container
//! and TTL indexes, and the watch tables. Transactions are applied here in
//! zxid order and nothing else changes the tree, so replaying a log
//! rebuilds it exactly. Apply is deterministic: time comes in the header.

pub mod acl;
mod apply;
pub mod quota;
mod snapshot_support;
pub mod watch;

use crate::jute::records::{Acl, Stat, StatPersisted};
use crate::proto::path;
use acl::AclCache;
use bytes::Bytes;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use watch::WatchTable;

pub use apply::{Notification, TxnResult};

/// The ephemeralOwner of every container node.
pub const CONTAINER_OWNER: i64 = i64::MIN;
const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000u64 as i64;
const EXTENDED_VALUE_MASK: i64 = 0x0000_00ff_ffff_ffff;
const RESERVED_BITS_MASK: i64 = 0x00ff_ff00_0000_0000;

/// What an ephemeralOwner value means (3.8's `EphemeralType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    Persistent,
    Session(i64),
    Container,
    Ttl(i64),
}

/// The ephemeralOwner of a TTL node, or `None` for a TTL out of range.
pub fn ttl_owner(ttl_ms: i64) -> Option<i64> {
    (ttl_ms > 0 && ttl_ms <= EXTENDED_VALUE_MASK).then_some(EXTENDED_MASK | ttl_ms)
}

#[derive(Debug, Clone)]
pub struct Node {
    /// `None` for null data, which 3.8 keeps apart from empty data.
    pub data: Option<Bytes>,
    pub acl: i64,
    /// As stored: `cversion` counts child creations (3.8 derives the
    /// client-visible value from it and the child count).
    pub stat: StatPersisted,
    pub children: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct TreeOptions {
    /// `zookeeper.extendedTypesEnabled`: whether 0xff-prefixed owners are TTLs.
    pub extended_types: bool,
}

pub struct DataTree {
    /// Nodes are shared behind `Arc`s so that a snapshot's copy of the map
    /// costs reference counts, not node copies; a writer copies a node only
    /// while a snapshot still holds it (`Arc::make_mut`).
    nodes: HashMap<Arc<str>, Arc<Node>>,
    pub acls: AclCache,
    ephemerals: HashMap<i64, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    pub data_watches: WatchTable,
    pub child_watches: WatchTable,
    /// The zxid of the last transaction applied.
    pub last_zxid: i64,
    data_bytes: u64,
    options: TreeOptions,
    /// Paths with a quota (a `zookeeper_limits` node under /zookeeper/quota).
    quota_paths: BTreeSet<String>,
}

pub const ZOOKEEPER: &str = "/zookeeper";
pub const QUOTA: &str = "/zookeeper/quota";
pub const CONFIG: &str = "/zookeeper/config";

impl Node {
    pub fn data_len(&self) -> usize {
        self.data.as_ref().map_or(0, Bytes::len)
    }
}

impl DataTree {
    /// An empty tree with the system nodes every 3.8 server has.
    pub fn new(options: TreeOptions) -> Self {
        let mut tree = DataTree {
            nodes: HashMap::new(),
            acls: AclCache::default(),
            ephemerals: HashMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            data_watches: WatchTable::default(),
            child_watches: WatchTable::default(),
            last_zxid: 0,
            data_bytes: 0,
            options,
            quota_paths: BTreeSet::new(),
        };
        tree.insert_raw(
            "/",
            Some(Bytes::new()),
            acl::OPEN_UNSAFE_ACL_ID,
            StatPersisted::default(),
        );
        tree.insert_raw(
            ZOOKEEPER,
            Some(Bytes::new()),
            acl::OPEN_UNSAFE_ACL_ID,
            StatPersisted::default(),
        );
        tree.insert_raw(
            QUOTA,
            Some(Bytes::new()),
            acl::OPEN_UNSAFE_ACL_ID,
            StatPersisted::default(),
        );
        let read_only = tree.acls.intern(&Acl::read_unsafe());
        // 3.8 sets this ACL with version -1, which leaves aversion at -1.
        let config_stat = StatPersisted {
            aversion: -1,
            ..StatPersisted::default()
        };
        tree.insert_raw(CONFIG, Some(Bytes::new()), read_only, config_stat);
        tree
    }

    pub fn options(&self) -> TreeOptions {
        self.options
    }

    /// Inserts a node and links it to its parent, with no Stat bookkeeping:
    /// for system nodes and snapshot loading.
    pub fn insert_raw(&mut self, p: &str, data: Option<Bytes>, acl: i64, stat: StatPersisted) {
        if p != "/" {
            if let Some(parent) = self.node_mut(path::parent(p)) {
                parent.children.insert(path::basename(p).to_owned());
            }
        }
        self.data_bytes += (p.len() + data.as_ref().map_or(0, Bytes::len)) as u64;
        self.index_owner(p, stat.ephemeral_owner);
        self.nodes.insert(
            Arc::from(p),
            Arc::new(Node {
                data,
                acl,
                stat,
                children: BTreeSet::new(),
            }),
        );
    }

    pub fn owner_kind(&self, owner: i64) -> OwnerKind {
        if self.options.extended_types && owner & EXTENDED_MASK == EXTENDED_MASK {
            if owner & RESERVED_BITS_MASK == 0 {
                return OwnerKind::Ttl(owner & EXTENDED_VALUE_MASK);
            }
            // An unknown extended type: 3.8 refuses it; treat it as a
            // session so it is at least never deleted by mistake.
            return OwnerKind::Session(owner);
        }
        match owner {
            0 => OwnerKind::Persistent,
            CONTAINER_OWNER => OwnerKind::Container,
            s => OwnerKind::Session(s),
        }
    }

    fn index_owner(&mut self, p: &str, owner: i64) {
        match self.owner_kind(owner) {
            OwnerKind::Persistent => {}
            OwnerKind::Container => {
                self.containers.insert(p.to_owned());
            }
            OwnerKind::Ttl(_) => {
                self.ttls.insert(p.to_owned());
            }
            OwnerKind::Session(s) => {
                self.ephemerals.entry(s).or_default().insert(p.to_owned());
            }
        }
    }

    fn unindex_owner(&mut self, p: &str, owner: i64) {
        match self.owner_kind(owner) {
            OwnerKind::Persistent => {}
            OwnerKind::Container => {
                self.containers.remove(p);
            }
            OwnerKind::Ttl(_) => {
                self.ttls.remove(p);
            }
            OwnerKind::Session(s) => {
                if let Some(set) = self.ephemerals.get_mut(&s) {
                    set.remove(p);
                    if set.is_empty() {
                        self.ephemerals.remove(&s);
                    }
                }
            }
        }
    }

    pub fn node(&self, p: &str) -> Option<&Node> {
        self.nodes.get(p).map(Arc::as_ref)
    }

    pub fn acl_of(&self, node: &Node) -> Vec<Acl> {
        self.acls.get(node.acl)
    }

    /// The Stat a client sees.
    pub fn client_stat(&self, node: &Node) -> Stat {
        let s = &node.stat;
        let num_children = node.children.len() as i32;
        let owner = match self.owner_kind(s.ephemeral_owner) {
            OwnerKind::Session(id) => id,
            _ => 0,
        };
        Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: s.aversion,
            ephemeral_owner: owner,
            data_length: node.data_len() as i32,
            num_children,
            pzxid: s.pzxid,
        }
    }

    pub fn stat(&self, p: &str) -> Option<Stat> {
        self.nodes.get(p).map(|n| self.client_stat(n))
    }

    /// Paths of a session's ephemeral nodes, sorted.
    pub fn ephemerals_of(&self, session: i64) -> Vec<String> {
        self.ephemerals
            .get(&session)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every session that owns ephemerals, with their paths (for `dump`).
    pub fn all_ephemerals(&self) -> Vec<(i64, Vec<String>)> {
        let mut out: Vec<_> = self
            .ephemerals
            .iter()
            .map(|(s, p)| (*s, p.iter().cloned().collect()))
            .collect();
        out.sort();
        out
    }

    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(|s| s.len()).sum()
    }

    pub fn containers(&self) -> impl Iterator<Item = &String> {
        self.containers.iter()
    }

    pub fn ttl_nodes(&self) -> impl Iterator<Item = &String> {
        self.ttls.iter()
    }

    /// Number of nodes, the root included (3.8's `zk_znode_count`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Sum of path and data lengths (3.8's `zk_approximate_data_size`).
    pub fn approximate_data_size(&self) -> u64 {
        self.data_bytes
    }

    /// Number of nodes below `p` at any depth.
    pub fn descendant_count(&self, p: &str) -> usize {
        if p == "/" {
            return self.nodes.len() - 1;
        }
        let prefix = format!("{p}/");
        self.nodes.keys().filter(|k| k.starts_with(&prefix)).count()
    }

    /// Every path with its node, in no particular order (snapshots, dumps).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.nodes.iter().map(|(p, n)| (p.as_ref(), n.as_ref()))
    }

    /// A node to change; copied first if a snapshot still shares it.
    pub(crate) fn node_mut(&mut self, p: &str) -> Option<&mut Node> {
        self.nodes.get_mut(p).map(Arc::make_mut)
    }

    /// A consistent copy of the nodes and ACLs at this moment, for a
    /// snapshot written by another thread: the map is copied, the nodes
    /// are shared until the live tree changes them. Watches and the ephemeral,
    /// container and TTL indexes are not copied; the copy is for reading.
    pub fn snapshot_copy(&self) -> DataTree {
        DataTree {
            nodes: self.nodes.clone(),
            acls: self.acls.clone(),
            ephemerals: HashMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            data_watches: WatchTable::default(),
            child_watches: WatchTable::default(),
            last_zxid: self.last_zxid,
            data_bytes: self.data_bytes,
            options: self.options,
            quota_paths: BTreeSet::new(),
        }
    }

    /// Watch counts for `srvr`/`mntr`: (paths, total registrations).
    pub fn watch_summary(&self) -> (usize, usize, usize) {
        let conns: BTreeSet<u64> = self
            .data_watches
            .by_watcher()
            .into_iter()
            .chain(self.child_watches.by_watcher())
            .map(|(w, _)| w)
            .collect();
        let paths: BTreeSet<&str> = self
            .data_watches
            .by_path()
            .into_iter()
            .chain(self.child_watches.by_path())
            .map(|(p, _)| p)
            .collect();
        (
            conns.len(),
            paths.len(),
            self.data_watches.len() + self.child_watches.len(),
        )
    }
}

#[cfg(test)]
mod tests;
