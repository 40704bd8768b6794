//! Applying transactions to the tree, with 3.8's Stat bookkeeping and the
//! watch events each change fires.

use super::watch::{WatchTable, WatcherId};
use super::{DataTree, Node, CONTAINER_OWNER};
use crate::jute::records::{Acl, Stat, StatPersisted};
use crate::proto::path;
use crate::proto::response::WatchEvent;
use crate::proto::txn::{Txn, TxnHeader};
use crate::proto::{ErrorCode, EventType, KeeperState, OpCode};
use bytes::Bytes;
use std::collections::{BTreeSet, HashSet};

/// A watch event for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub watcher: WatcherId,
    pub event: WatchEvent,
}

/// What applying one transaction did, for the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnResult {
    /// The transaction type actually applied (error for failed sub-ops).
    pub kind: i32,
    pub err: ErrorCode,
    pub path: Option<String>,
    pub stat: Option<Stat>,
    pub multi: Vec<TxnResult>,
}

impl TxnResult {
    fn new(kind: i32) -> Self {
        TxnResult {
            kind,
            err: ErrorCode::Ok,
            path: None,
            stat: None,
            multi: Vec::new(),
        }
    }
}

impl DataTree {
    /// Applies one transaction. Errors are values: replaying a log may
    /// legitimately meet a create whose node a fuzzy snapshot already has.
    pub fn apply(
        &mut self,
        hdr: &TxnHeader,
        txn: &Txn,
        events: &mut Vec<Notification>,
    ) -> TxnResult {
        let result = self.apply_one(hdr, hdr.kind, txn, events);
        if hdr.zxid > self.last_zxid {
            self.last_zxid = hdr.zxid;
        }
        result
    }

    fn apply_one(
        &mut self,
        hdr: &TxnHeader,
        kind: i32,
        txn: &Txn,
        events: &mut Vec<Notification>,
    ) -> TxnResult {
        let mut rc = TxnResult::new(kind);
        let outcome: Result<(), ErrorCode> = match txn {
            Txn::Create {
                path,
                data,
                acl,
                ephemeral,
                parent_cversion,
            } => {
                rc.path = Some(path.clone());
                let owner = if *ephemeral { hdr.client_id } else { 0 };
                // 3.8 repairs the parent's counters on a replayed create
                // that meets its node only for plain creates.
                let repair = kind == OpCode::Create.code();
                self.create_node(
                    path,
                    data,
                    acl,
                    owner,
                    *parent_cversion,
                    repair,
                    hdr,
                    events,
                )
                .map(|s| rc.stat = Some(s))
            }
            Txn::CreateContainer {
                path,
                data,
                acl,
                parent_cversion,
            } => {
                rc.path = Some(path.clone());
                self.create_node(
                    path,
                    data,
                    acl,
                    CONTAINER_OWNER,
                    *parent_cversion,
                    false,
                    hdr,
                    events,
                )
                .map(|s| rc.stat = Some(s))
            }
            Txn::CreateTtl {
                path,
                data,
                acl,
                parent_cversion,
                ttl,
            } => {
                rc.path = Some(path.clone());
                let owner = super::ttl_owner(*ttl).unwrap_or(0);
                self.create_node(path, data, acl, owner, *parent_cversion, false, hdr, events)
                    .map(|s| rc.stat = Some(s))
            }
            Txn::Delete { path } => {
                rc.path = Some(path.clone());
                self.delete_node(path, hdr.zxid, events)
            }
            Txn::SetData {
                path,
                data,
                version,
            } => {
                rc.path = Some(path.clone());
                self.set_data(path, data, *version, hdr, events)
                    .map(|s| rc.stat = Some(s))
            }
            Txn::SetAcl { path, acl, version } => {
                rc.path = Some(path.clone());
                self.set_acl(path, acl, *version).map(|s| rc.stat = Some(s))
            }
            Txn::Check { path, .. } => {
                rc.path = Some(path.clone());
                Ok(())
            }
            Txn::CreateSession { .. } => Ok(()),
            Txn::CloseSession { paths_to_delete } => {
                self.kill_session(hdr.client_id, paths_to_delete, hdr.zxid, events);
                Ok(())
            }
            Txn::Error { err } => Err(ErrorCode::from_i32(*err).unwrap_or(ErrorCode::SystemError)),
            Txn::Multi(txns) => {
                self.apply_multi(hdr, txns, &mut rc, events);
                Ok(())
            }
        };
        if let Err(e) = outcome {
            rc.err = e;
        }
        rc
    }

    /// 3.8's rule: if any sub-op failed, every sub-op is applied as an error
    /// (Ok before the failure, RuntimeInconsistency after it).
    fn apply_multi(
        &mut self,
        hdr: &TxnHeader,
        txns: &[(i32, Txn)],
        rc: &mut TxnResult,
        events: &mut Vec<Notification>,
    ) {
        let error = OpCode::Error.code();
        let failed = txns.iter().any(|(k, _)| *k == error);
        let mut past_failure = false;
        for (kind, sub) in txns {
            let (kind, sub) = if failed && *kind != error {
                let err = if past_failure {
                    ErrorCode::RuntimeInconsistency
                } else {
                    ErrorCode::Ok
                };
                (error, Txn::Error { err: err.code() })
            } else {
                if *kind == error {
                    past_failure = true;
                }
                (*kind, sub.clone())
            };
            let sub_hdr = TxnHeader { kind, ..*hdr };
            rc.multi.push(self.apply_one(&sub_hdr, kind, &sub, events));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create_node(
        &mut self,
        p: &str,
        data: &Option<Bytes>,
        acl: &[Acl],
        owner: i64,
        parent_cversion: i32,
        repair_on_exists: bool,
        hdr: &TxnHeader,
        events: &mut Vec<Notification>,
    ) -> Result<Stat, ErrorCode> {
        if p == "/" {
            return Err(ErrorCode::NodeExists);
        }
        let parent_path = path::parent(p);
        let name = path::basename(p);
        let zxid = hdr.zxid;
        let parent = self.node_mut(parent_path).ok_or(ErrorCode::NoNode)?;
        if parent.children.contains(name) {
            if !repair_on_exists {
                return Err(ErrorCode::NodeExists);
            }
            // Replaying over a fuzzy snapshot: the node is there already,
            // but the parent's counters must still move forward.
            let cv = if parent_cversion == -1 {
                parent.stat.cversion + 1
            } else {
                parent_cversion
            };
            if cv > parent.stat.cversion {
                parent.stat.cversion = cv;
                parent.stat.pzxid = zxid;
            }
            return Err(ErrorCode::NodeExists);
        }
        let cv = if parent_cversion == -1 {
            parent.stat.cversion + 1
        } else {
            parent_cversion
        };
        if cv > parent.stat.cversion {
            parent.stat.cversion = cv;
            parent.stat.pzxid = zxid;
        }
        parent.children.insert(name.to_owned());
        let acl_id = self.acls.intern(acl);
        let stat = StatPersisted {
            czxid: zxid,
            mzxid: zxid,
            ctime: hdr.time,
            mtime: hdr.time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            pzxid: zxid,
        };
        self.data_bytes += (p.len() + data.as_ref().map_or(0, Bytes::len)) as u64;
        self.index_owner(p, owner);
        let node = Node {
            data: data.clone(),
            acl: acl_id,
            stat,
            children: BTreeSet::new(),
        };
        let client_stat = self.client_stat(&node);
        let data_len = node.data_len();
        self.nodes
            .insert(std::sync::Arc::from(p), std::sync::Arc::new(node));
        self.quota_created(p, data_len);
        fire(
            &mut self.data_watches,
            p,
            EventType::NodeCreated,
            None,
            events,
        );
        fire(
            &mut self.child_watches,
            parent_path,
            EventType::NodeChildrenChanged,
            None,
            events,
        );
        Ok(client_stat)
    }

    fn delete_node(
        &mut self,
        p: &str,
        zxid: i64,
        events: &mut Vec<Notification>,
    ) -> Result<(), ErrorCode> {
        if p == "/" {
            return Err(ErrorCode::BadArguments);
        }
        let parent_path = path::parent(p);
        let parent = self.node_mut(parent_path).ok_or(ErrorCode::NoNode)?;
        parent.children.remove(path::basename(p));
        // A replayed delete may be older than a create a fuzzy snapshot
        // already reflects; pzxid only moves forward.
        if zxid > parent.stat.pzxid {
            parent.stat.pzxid = zxid;
        }
        let node = self.nodes.remove(p).ok_or(ErrorCode::NoNode)?;
        self.acls.release(node.acl);
        self.data_bytes = self
            .data_bytes
            .saturating_sub((p.len() + node.data_len()) as u64);
        self.unindex_owner(p, node.stat.ephemeral_owner);
        self.quota_deleted(p, node.data_len());
        let notified = fire(
            &mut self.data_watches,
            p,
            EventType::NodeDeleted,
            None,
            events,
        );
        fire(
            &mut self.child_watches,
            p,
            EventType::NodeDeleted,
            Some(&notified),
            events,
        );
        fire(
            &mut self.child_watches,
            parent_path,
            EventType::NodeChildrenChanged,
            None,
            events,
        );
        Ok(())
    }

    fn set_data(
        &mut self,
        p: &str,
        data: &Option<Bytes>,
        version: i32,
        hdr: &TxnHeader,
        events: &mut Vec<Notification>,
    ) -> Result<Stat, ErrorCode> {
        let node = self.node_mut(p).ok_or(ErrorCode::NoNode)?;
        let old_len = node.data_len() as u64;
        node.data = data.clone();
        node.stat.mtime = hdr.time;
        node.stat.mzxid = hdr.zxid;
        node.stat.version = version;
        self.data_bytes =
            self.data_bytes.saturating_sub(old_len) + data.as_ref().map_or(0, Bytes::len) as u64;
        self.quota_data_changed(p, old_len as usize, data.as_ref().map_or(0, Bytes::len));
        let stat = self.client_stat(&self.nodes[p]);
        fire(
            &mut self.data_watches,
            p,
            EventType::NodeDataChanged,
            None,
            events,
        );
        Ok(stat)
    }

    fn set_acl(&mut self, p: &str, acl: &[Acl], version: i32) -> Result<Stat, ErrorCode> {
        let old = self.nodes.get(p).ok_or(ErrorCode::NoNode)?.acl;
        self.acls.release(old);
        let id = self.acls.intern(acl);
        let node = self.node_mut(p).expect("checked above");
        node.acl = id;
        node.stat.aversion = version;
        Ok(self.client_stat(&self.nodes[p]))
    }

    /// Removes a session's ephemerals. The transaction names them (3.8's
    /// closeSessionTxn); an old-style empty list means "whatever it owns".
    fn kill_session(
        &mut self,
        session: i64,
        listed: &[String],
        zxid: i64,
        events: &mut Vec<Notification>,
    ) {
        let mut paths: Vec<String> = if listed.is_empty() {
            self.ephemerals_of(session)
        } else {
            listed.to_vec()
        };
        // Children before parents cannot happen for ephemerals (they have
        // none), but a stable order keeps replays identical.
        paths.sort();
        for p in paths {
            let _ = self.delete_node(&p, zxid, events);
        }
        self.ephemerals.remove(&session);
    }
}

/// Fires `kind` on `p` in one watch table (data or child), skipping the
/// connections in `suppress`; returns the connections notified.
fn fire(
    table: &mut WatchTable,
    p: &str,
    kind: EventType,
    suppress: Option<&HashSet<WatcherId>>,
    events: &mut Vec<Notification>,
) -> HashSet<WatcherId> {
    let mut hit = Vec::new();
    table.trigger(p, kind, &mut hit);
    let mut notified = HashSet::with_capacity(hit.len());
    for w in hit {
        if suppress.is_some_and(|s| s.contains(&w)) {
            continue;
        }
        notified.insert(w);
        events.push(Notification {
            watcher: w,
            event: WatchEvent {
                kind,
                state: KeeperState::SyncConnected,
                path: p.to_owned(),
            },
        });
    }
    notified
}
