//! Prepare: check a write against the tree plus the changes still in
//! flight, and turn it into a transaction. Mirrors the checks (and their
//! order, which decides the error a client sees) of 3.8's
//! PrepRequestProcessor.

use super::Engine;
use crate::jute::records::{perms, Acl, Id, StatPersisted};
use crate::proto::request::{CreateRequest, Request};
use crate::proto::txn::Txn;
use crate::proto::{path, CreateMode, ErrorCode, OpCode};
use crate::tree::{acl, OwnerKind, CONFIG, QUOTA, ZOOKEEPER};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};

/// A node as it will be once the in-flight transactions commit.
#[derive(Debug, Clone)]
pub(super) struct PendingNode {
    pub stat: StatPersisted,
    pub child_count: i32,
    pub acl: Vec<Acl>,
}

#[derive(Debug, Clone)]
struct Change {
    zxid: i64,
    /// `None`: deleted by an in-flight transaction.
    node: Option<PendingNode>,
}

/// Changes made by prepared but uncommitted transactions, by path.
#[derive(Debug, Default, Clone)]
pub(super) struct Outstanding {
    by_path: HashMap<String, Change>,
    order: VecDeque<(i64, String)>,
}

impl Outstanding {
    fn record(&mut self, zxid: i64, p: &str, node: Option<PendingNode>) {
        self.by_path.insert(p.to_owned(), Change { zxid, node });
        self.order.push_back((zxid, p.to_owned()));
    }

    /// Forgets changes the tree now reflects.
    pub fn committed(&mut self, zxid: i64) {
        while let Some((z, _)) = self.order.front() {
            if *z > zxid {
                break;
            }
            let (z, p) = self.order.pop_front().expect("non-empty");
            if self.by_path.get(&p).is_some_and(|c| c.zxid == z) {
                self.by_path.remove(&p);
            }
        }
    }
}

fn is_special(p: &str) -> bool {
    matches!(p, "/" | ZOOKEEPER | QUOTA | CONFIG)
}

fn check_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

fn valid_path(p: &str) -> Result<(), ErrorCode> {
    path::validate(p).map_err(|reason| {
        tracing::debug!(%reason, "invalid path");
        ErrorCode::BadArguments
    })
}

/// The parent of a path as 3.8 finds it (text before the last slash),
/// refusing paths without one.
fn parent_of(p: &str) -> Result<&str, ErrorCode> {
    match p.rfind('/') {
        None => Err(ErrorCode::BadArguments),
        _ if p.contains('\0') => Err(ErrorCode::BadArguments),
        Some(0) => Ok("/"),
        Some(i) => Ok(&p[..i]),
    }
}

impl Engine {
    fn pending(&self, p: &str) -> Result<PendingNode, ErrorCode> {
        if let Some(change) = self.outstanding.by_path.get(p) {
            return change.node.clone().ok_or(ErrorCode::NoNode);
        }
        let node = self.tree.node(p).ok_or(ErrorCode::NoNode)?;
        Ok(PendingNode {
            stat: node.stat,
            child_count: node.children.len() as i32,
            acl: self.tree.acl_of(node),
        })
    }

    fn exists_pending(&self, p: &str) -> bool {
        match self.outstanding.by_path.get(p) {
            Some(change) => change.node.is_some(),
            None => self.tree.node(p).is_some(),
        }
    }

    fn check_acl(&self, acl: &[Acl], perm: i32, ids: &[Id]) -> Result<(), ErrorCode> {
        if acl::permits(acl, perm, ids) {
            Ok(())
        } else {
            Err(ErrorCode::NoAuth)
        }
    }

    fn check_session(&self, session: i64) -> Result<(), ErrorCode> {
        if session == 0 || self.sessions.is_live(session) {
            Ok(())
        } else {
            Err(ErrorCode::SessionExpired)
        }
    }

    /// Prepares one write. On error nothing in `outstanding` has changed.
    pub(super) fn prepare(
        &mut self,
        session: i64,
        ids: &[Id],
        request: &Request,
        zxid: i64,
        time: i64,
    ) -> Result<(i32, Txn), ErrorCode> {
        match request {
            Request::Create(c) => self.prep_create(session, ids, c, zxid, time),
            Request::Delete { path, version } => {
                self.check_session(session)?;
                let parent = parent_of(path)?;
                if is_special(path) {
                    return Err(ErrorCode::BadArguments);
                }
                let mut parent_node = self.pending(parent)?;
                self.check_acl(&parent_node.acl, perms::DELETE, ids)?;
                let node = self.pending(path)?;
                check_version(node.stat.version, *version)?;
                if node.child_count > 0 {
                    return Err(ErrorCode::NotEmpty);
                }
                parent_node.child_count -= 1;
                parent_node.stat.pzxid = zxid;
                self.outstanding.record(zxid, parent, Some(parent_node));
                self.outstanding.record(zxid, path, None);
                Ok((OpCode::Delete.code(), Txn::Delete { path: path.clone() }))
            }
            Request::SetData {
                path,
                data,
                version,
            } => {
                self.check_session(session)?;
                valid_path(path)?;
                let mut node = self.pending(path)?;
                self.check_acl(&node.acl, perms::WRITE, ids)?;
                let new_version = check_version(node.stat.version, *version)?;
                node.stat.version = new_version;
                node.stat.mtime = time;
                node.stat.mzxid = zxid;
                self.outstanding.record(zxid, path, Some(node));
                Ok((
                    OpCode::SetData.code(),
                    Txn::SetData {
                        path: path.clone(),
                        data: data.as_deref().map(Bytes::copy_from_slice),
                        version: new_version,
                    },
                ))
            }
            Request::SetAcl { path, acl, version } => {
                self.check_session(session)?;
                valid_path(path)?;
                let fixed = acl::fix_up(acl, ids).ok_or(ErrorCode::InvalidAcl)?;
                let mut node = self.pending(path)?;
                self.check_acl(&node.acl, perms::ADMIN, ids)?;
                let new_version = check_version(node.stat.aversion, *version)?;
                node.stat.aversion = new_version;
                node.acl = fixed.clone();
                self.outstanding.record(zxid, path, Some(node));
                Ok((
                    OpCode::SetAcl.code(),
                    Txn::SetAcl {
                        path: path.clone(),
                        acl: fixed,
                        version: new_version,
                    },
                ))
            }
            Request::Check { path, version } => {
                self.check_session(session)?;
                valid_path(path)?;
                let node = self.pending(path)?;
                self.check_acl(&node.acl, perms::READ, ids)?;
                let v = check_version(node.stat.version, *version)?;
                Ok((
                    OpCode::Check.code(),
                    Txn::Check {
                        path: path.clone(),
                        version: v,
                    },
                ))
            }
            Request::Reconfig => {
                if !self.cfg.reconfig_enabled {
                    return Err(ErrorCode::ReconfigDisabled);
                }
                self.check_session(session)?;
                // A standalone server cannot change membership.
                Err(ErrorCode::Unimplemented)
            }
            Request::Multi(ops) => self.prep_multi(session, ids, ops, zxid, time),
            Request::CloseSession => Ok(self.prep_close_session(session, zxid)),
            _ => Err(ErrorCode::MarshallingError),
        }
    }

    fn prep_create(
        &mut self,
        session: i64,
        ids: &[Id],
        c: &CreateRequest,
        zxid: i64,
        time: i64,
    ) -> Result<(i32, Txn), ErrorCode> {
        let mode = CreateMode::from_i32(c.flags).ok_or(ErrorCode::BadArguments)?;
        if mode.is_ttl() && !self.cfg.extended_types {
            return Err(ErrorCode::Unimplemented);
        }
        let ttl_ok = if mode.is_ttl() {
            crate::tree::ttl_owner(c.ttl).is_some()
        } else {
            c.ttl < 0
        };
        if !ttl_ok {
            return Err(ErrorCode::BadArguments);
        }
        self.check_session(session)?;
        let parent = parent_of(&c.path)?;
        let fixed = acl::fix_up(&c.acl, ids).ok_or(ErrorCode::InvalidAcl)?;
        let mut parent_node = self.pending(parent)?;
        self.check_acl(&parent_node.acl, perms::CREATE, ids)?;
        let mut p = c.path.clone();
        if mode.is_sequential() {
            p.push_str(&format!("{:010}", parent_node.stat.cversion));
        }
        valid_path(&p)?;
        if self.exists_pending(&p) {
            return Err(ErrorCode::NodeExists);
        }
        if let OwnerKind::Session(_) = self.tree.owner_kind(parent_node.stat.ephemeral_owner) {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let new_cversion = parent_node.stat.cversion + 1;
        let data = c.data.as_deref().map(Bytes::copy_from_slice);
        let (kind, txn, owner) = match c.op {
            OpCode::CreateContainer => (
                c.op,
                Txn::CreateContainer {
                    path: p.clone(),
                    data,
                    acl: fixed.clone(),
                    parent_cversion: new_cversion,
                },
                crate::tree::CONTAINER_OWNER,
            ),
            OpCode::CreateTtl => (
                c.op,
                Txn::CreateTtl {
                    path: p.clone(),
                    data,
                    acl: fixed.clone(),
                    parent_cversion: new_cversion,
                    ttl: c.ttl,
                },
                crate::tree::ttl_owner(c.ttl).unwrap_or(0),
            ),
            op => (
                op,
                Txn::Create {
                    path: p.clone(),
                    data,
                    acl: fixed.clone(),
                    ephemeral: mode.is_ephemeral(),
                    parent_cversion: new_cversion,
                },
                if mode.is_ephemeral() { session } else { 0 },
            ),
        };
        parent_node.child_count += 1;
        parent_node.stat.cversion = new_cversion;
        parent_node.stat.pzxid = zxid;
        self.outstanding.record(zxid, parent, Some(parent_node));
        let stat = StatPersisted {
            czxid: zxid,
            mzxid: zxid,
            ctime: time,
            mtime: time,
            ephemeral_owner: owner,
            pzxid: zxid,
            ..StatPersisted::default()
        };
        self.outstanding.record(
            zxid,
            &p,
            Some(PendingNode {
                stat,
                child_count: 0,
                acl: fixed,
            }),
        );
        Ok((kind.code(), txn))
    }

    fn prep_multi(
        &mut self,
        session: i64,
        ids: &[Id],
        ops: &[Request],
        zxid: i64,
        time: i64,
    ) -> Result<(i32, Txn), ErrorCode> {
        if ops.iter().any(|op| !op.op().is_write()) {
            // 3.8 refuses to decode a multi that mixes reads into writes.
            return Err(ErrorCode::MarshallingError);
        }
        let saved = self.outstanding.clone();
        let mut txns = Vec::with_capacity(ops.len());
        let mut failed = false;
        for op in ops {
            if failed {
                txns.push((
                    OpCode::Error.code(),
                    Txn::Error {
                        err: ErrorCode::RuntimeInconsistency.code(),
                    },
                ));
                continue;
            }
            match self.prepare(session, ids, op, zxid, time) {
                Ok(sub) => txns.push(sub),
                Err(e) => {
                    failed = true;
                    self.outstanding = saved.clone();
                    txns.push((OpCode::Error.code(), Txn::Error { err: e.code() }));
                }
            }
        }
        Ok((OpCode::Multi.code(), Txn::Multi(txns)))
    }

    /// Lists the session's ephemerals (committed and in flight) for the
    /// closeSession transaction, and marks them gone.
    fn prep_close_session(&mut self, session: i64, zxid: i64) -> (i32, Txn) {
        let mut paths: Vec<String> = self
            .tree
            .ephemerals_of(session)
            .into_iter()
            .filter(|p| self.exists_pending(p))
            .collect();
        for (p, change) in &self.outstanding.by_path {
            if let Some(node) = &change.node {
                if node.stat.ephemeral_owner == session && !paths.contains(p) {
                    paths.push(p.clone());
                }
            }
        }
        paths.sort();
        for p in &paths {
            if let Ok(mut parent) = self.pending(path::parent(p)) {
                parent.child_count -= 1;
                parent.stat.pzxid = zxid;
                self.outstanding.record(zxid, path::parent(p), Some(parent));
            }
            self.outstanding.record(zxid, p, None);
        }
        self.sessions.set_closing(session);
        (
            OpCode::CloseSession.code(),
            Txn::CloseSession {
                paths_to_delete: paths,
            },
        )
    }

    /// A container or expired TTL node to remove (3.8's deleteContainer).
    pub(super) fn prep_delete_container(
        &mut self,
        p: &str,
        zxid: i64,
    ) -> Result<(i32, Txn), ErrorCode> {
        let parent = parent_of(p)?;
        if is_special(p) {
            return Err(ErrorCode::BadArguments);
        }
        let node = self.pending(p)?;
        if node.child_count > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        if let OwnerKind::Session(_) | OwnerKind::Persistent =
            self.tree.owner_kind(node.stat.ephemeral_owner)
        {
            return Err(ErrorCode::BadVersion);
        }
        let mut parent_node = self.pending(parent)?;
        parent_node.child_count -= 1;
        parent_node.stat.pzxid = zxid;
        self.outstanding.record(zxid, parent, Some(parent_node));
        self.outstanding.record(zxid, p, None);
        Ok((
            OpCode::DeleteContainer.code(),
            Txn::Delete { path: p.to_owned() },
        ))
    }
}
