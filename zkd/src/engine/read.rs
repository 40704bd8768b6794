//! Requests that do not change the tree: answered from it directly, in the
//! session's order, plus auth and the session-level requests.

use super::{CloseReason, ConnId, Engine, Now, Output, Queued};
use crate::jute::records::{perms, ClientInfo, Id};
use crate::proto::multi::OpResult;
use crate::proto::request::{Request, SetWatches};
use crate::proto::response::{Response, WatchEvent};
use crate::proto::{ErrorCode, EventType, KeeperState, WatcherType};
use crate::tree::acl;
use crate::tree::watch::WatchMode;

impl Engine {
    /// A decoded request from an established connection.
    pub fn request(&mut self, conn: ConnId, xid: i32, request: Request, now: Now) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.ready {
            c.held.push_back((xid, Ok(request)));
            return;
        }
        let session = c.session;
        self.note_touch(session);
        if !self.sessions.touch(session, now.mono_ms) {
            self.reply(conn, xid, ErrorCode::SessionExpired, Response::Empty);
            self.disconnected(conn);
            self.outputs.push(Output::Close {
                conn,
                reason: CloseReason::SessionExpired,
            });
            return;
        }
        match request {
            // 3.8 handles these as they arrive, outside the pipeline.
            Request::Auth { scheme, auth } => self.authenticate(conn, xid, scheme, auth),
            Request::Sasl => {
                // No SASL server is configured: 3.8 answers with an empty token.
                self.reply(conn, xid, ErrorCode::Ok, Response::Sasl);
            }
            r @ (Request::CloseSession | Request::Sync { .. })
                if self.role == super::EngineRole::Learner =>
            {
                self.forward(conn, xid, &r)
            }
            r if r.op().is_write() && self.role == super::EngineRole::Learner => {
                self.forward(conn, xid, &r)
            }
            Request::CloseSession => {
                self.submit_close_session(session, Some(conn), xid, now);
            }
            r if r.op().is_write() => self.submit_write(conn, xid, &r, now),
            r => {
                let c = self.conns.get_mut(&conn).expect("checked above");
                if c.queue.is_empty() {
                    self.answer_read(conn, xid, r, now);
                } else {
                    c.queue.push_back(Queued::Read { xid, request: r });
                }
            }
        }
    }

    /// A request with an opcode 3.8 does not know: answered Unimplemented
    /// at once, as 3.8's UnimplementedRequestProcessor does (but never
    /// before the handshake is answered).
    pub fn unknown_request(&mut self, conn: ConnId, xid: i32) {
        self.refuse(conn, xid, ErrorCode::Unimplemented, false);
    }

    /// A request whose body did not decode: MarshallingError, in its turn
    /// behind the session's earlier requests, as 3.8 decodes in its pipeline.
    pub fn malformed_request(&mut self, conn: ConnId, xid: i32) {
        self.refuse(conn, xid, ErrorCode::MarshallingError, true);
    }

    fn refuse(&mut self, conn: ConnId, xid: i32, err: ErrorCode, in_turn: bool) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if !c.ready {
            c.held.push_back((xid, Err(err)));
        } else if in_turn && !c.queue.is_empty() {
            c.queue.push_back(Queued::Refused { xid, err });
        } else {
            self.reply(conn, xid, err, Response::Empty);
        }
    }

    fn reply(&mut self, conn: ConnId, xid: i32, err: ErrorCode, body: Response) {
        self.outputs.push(Output::Reply {
            conn,
            xid,
            zxid: self.tree.last_zxid,
            err,
            body,
        });
    }

    /// 3.8 answers auth with the request's own xid (clients usually send -4)
    /// and zxid 0.
    fn authenticate(&mut self, conn: ConnId, xid: i32, scheme: String, auth: Vec<u8>) {
        let id = match scheme.as_str() {
            "digest" => {
                let user_password = String::from_utf8_lossy(&auth);
                Some(Id::new("digest", &acl::digest_id(&user_password)))
            }
            "ip" => self
                .remote_ips
                .get(&conn)
                .map(|ip| Id::new("ip", &ip.to_string())),
            _ => None,
        };
        let Some(id) = id else {
            tracing::warn!(%scheme, "authentication failed: no provider for scheme");
            self.outputs.push(Output::Reply {
                conn,
                xid,
                zxid: 0,
                err: ErrorCode::AuthFailed,
                body: Response::Empty,
            });
            self.disconnected(conn);
            self.outputs.push(Output::Close {
                conn,
                reason: CloseReason::AuthFailed,
            });
            return;
        };
        let is_super =
            id.scheme == "digest" && self.cfg.super_digest.as_deref() == Some(id.id.as_str());
        let c = self.conns.get_mut(&conn).expect("caller checked");
        if is_super && !c.ids.iter().any(|i| i.scheme == "super") {
            c.ids.push(Id::new("super", ""));
        }
        if !c.ids.contains(&id) {
            c.ids.push(id);
        }
        self.outputs.push(Output::Reply {
            conn,
            xid,
            zxid: 0,
            err: ErrorCode::Ok,
            body: Response::Empty,
        });
    }

    pub(super) fn answer_read(&mut self, conn: ConnId, xid: i32, request: Request, _now: Now) {
        let (err, body) = match self.read(conn, &request) {
            Ok(body) => (ErrorCode::Ok, body),
            Err(e) => (e, Response::Empty),
        };
        self.reply(conn, xid, err, body);
    }

    fn ids(&self, conn: ConnId) -> &[Id] {
        self.conns
            .get(&conn)
            .map(|c| c.ids.as_slice())
            .unwrap_or(&[])
    }

    fn readable(
        &self,
        conn: ConnId,
        path: &str,
        perm: i32,
    ) -> Result<&crate::tree::Node, ErrorCode> {
        let node = self.tree.node(path).ok_or(ErrorCode::NoNode)?;
        if acl::permits(
            self.tree.acls.get_ref_or_open(node.acl).as_ref(),
            perm,
            self.ids(conn),
        ) {
            Ok(node)
        } else {
            Err(ErrorCode::NoAuth)
        }
    }

    fn read(&mut self, conn: ConnId, request: &Request) -> Result<Response, ErrorCode> {
        match request {
            Request::Ping => Ok(Response::Empty),
            Request::Exists { path, watch } => {
                if path.contains('\0') {
                    return Err(ErrorCode::BadArguments);
                }
                // The watch is set whether or not the node exists: that is
                // how a client learns of its creation.
                if *watch {
                    self.tree.data_watches.add(path, conn, WatchMode::Standard);
                }
                self.tree
                    .stat(path)
                    .map(Response::Stat)
                    .ok_or(ErrorCode::NoNode)
            }
            Request::GetData { path, watch } => {
                let node = self.readable(conn, path, perms::READ)?;
                let data = node.data.clone();
                let stat = self.tree.client_stat(node);
                if *watch {
                    self.tree.data_watches.add(path, conn, WatchMode::Standard);
                }
                Ok(Response::GetData { data, stat })
            }
            Request::GetChildren { path, watch } | Request::GetChildren2 { path, watch } => {
                let node = self.readable(conn, path, perms::READ)?;
                let names: usize = node.children.iter().map(|c| c.len() + 4).sum();
                let mut w = crate::jute::Writer::with_capacity(4 + names + 68);
                w.i32(node.children.len() as i32);
                for child in &node.children {
                    w.string(child);
                }
                if matches!(request, Request::GetChildren2 { .. }) {
                    crate::jute::Record::encode(&self.tree.client_stat(node), &mut w);
                }
                if *watch {
                    self.tree.child_watches.add(path, conn, WatchMode::Standard);
                }
                Ok(Response::Encoded(w.into_vec()))
            }
            Request::GetAcl { path } => {
                let node = self.readable(conn, path, perms::READ | perms::ADMIN)?;
                let list = self.tree.acl_of(node);
                let stat = self.tree.client_stat(node);
                let admin = acl::permits(&list, perms::ADMIN, self.ids(conn));
                let acl = if admin { list } else { acl::mask_digests(list) };
                Ok(Response::GetAcl { acl, stat })
            }
            Request::GetAllChildrenNumber { path } => {
                self.readable(conn, path, perms::READ)?;
                Ok(Response::AllChildrenNumber(
                    self.tree.descendant_count(path) as i32,
                ))
            }
            Request::Sync { path } => Ok(Response::Sync { path: path.clone() }),
            Request::SetWatches(sw) => {
                self.set_watches(conn, sw);
                Ok(Response::Empty)
            }
            Request::CheckWatches { path, kind } | Request::RemoveWatches { path, kind } => {
                let kind = WatcherType::from_i32(*kind).ok_or(ErrorCode::MarshallingError)?;
                let remove = matches!(request, Request::RemoveWatches { .. });
                let mut found = false;
                if matches!(kind, WatcherType::Children | WatcherType::Any) {
                    found |= if remove {
                        self.tree.child_watches.remove(path, conn)
                    } else {
                        self.tree.child_watches.contains(path, conn)
                    };
                }
                if matches!(kind, WatcherType::Data | WatcherType::Any) {
                    found |= if remove {
                        self.tree.data_watches.remove(path, conn)
                    } else {
                        self.tree.data_watches.contains(path, conn)
                    };
                }
                if found {
                    Ok(Response::Empty)
                } else {
                    Err(ErrorCode::NoWatcher)
                }
            }
            Request::AddWatch { path, mode } => {
                let mode = match mode {
                    0 => WatchMode::Persistent,
                    1 => WatchMode::PersistentRecursive,
                    _ => return Err(ErrorCode::MarshallingError),
                };
                self.tree.data_watches.add(path, conn, mode);
                self.tree.child_watches.add(path, conn, mode);
                Ok(Response::ErrorRecord(0))
            }
            Request::WhoAmI => Ok(Response::WhoAmI(
                self.ids(conn)
                    .iter()
                    .map(|id| ClientInfo {
                        auth_scheme: id.scheme.clone(),
                        user: match id.scheme.as_str() {
                            "digest" => Some(id.id.split(':').next().unwrap_or("").to_owned()),
                            "ip" => Some(id.id.clone()),
                            _ => None,
                        },
                    })
                    .collect(),
            )),
            Request::GetEphemerals { prefix } => {
                let session = self.conns.get(&conn).map(|c| c.session).unwrap_or(0);
                let prefix = prefix.trim();
                let all = self.tree.ephemerals_of(session);
                Ok(Response::Ephemerals(
                    if prefix.is_empty() || prefix == "/" {
                        all
                    } else {
                        all.into_iter().filter(|p| p.starts_with(prefix)).collect()
                    },
                ))
            }
            Request::MultiRead(ops) => {
                let mut results = Vec::with_capacity(ops.len());
                for op in ops {
                    let result = match op {
                        Request::GetData { .. } => match self.read(conn, op) {
                            Ok(Response::GetData { data, stat }) => OpResult::GetData {
                                data: data.map(|d| d.to_vec()),
                                stat,
                            },
                            Ok(_) => OpResult::Error(ErrorCode::SystemError),
                            Err(e) => OpResult::Error(e),
                        },
                        Request::GetChildren { path, watch } => {
                            match self.readable(conn, path, perms::READ) {
                                Ok(node) => {
                                    let children = node.children.iter().cloned().collect();
                                    if *watch {
                                        self.tree.child_watches.add(
                                            path,
                                            conn,
                                            WatchMode::Standard,
                                        );
                                    }
                                    OpResult::GetChildren(children)
                                }
                                Err(e) => OpResult::Error(e),
                            }
                        }
                        _ => return Err(ErrorCode::MarshallingError),
                    };
                    results.push(result);
                }
                Ok(Response::Multi(results))
            }
            _ => Err(ErrorCode::MarshallingError),
        }
    }

    /// Re-registers a reconnecting client's watches, firing at once those
    /// whose condition changed after the zxid it last saw.
    fn set_watches(&mut self, conn: ConnId, sw: &SetWatches) {
        let fire = |events: &mut Vec<Output>, kind: EventType, path: &str| {
            events.push(Output::Event {
                conn,
                event: WatchEvent {
                    kind,
                    state: KeeperState::SyncConnected,
                    path: path.to_owned(),
                },
            });
        };
        let mut out = Vec::new();
        for p in &sw.data {
            match self.tree.node(p) {
                None => fire(&mut out, EventType::NodeDeleted, p),
                Some(n) if n.stat.mzxid > sw.relative_zxid => {
                    fire(&mut out, EventType::NodeDataChanged, p)
                }
                Some(_) => self.tree.data_watches.add(p, conn, WatchMode::Standard),
            }
        }
        for p in &sw.exist {
            if self.tree.node(p).is_some() {
                fire(&mut out, EventType::NodeCreated, p);
            } else {
                self.tree.data_watches.add(p, conn, WatchMode::Standard);
            }
        }
        for p in &sw.child {
            match self.tree.node(p) {
                None => fire(&mut out, EventType::NodeDeleted, p),
                Some(n) if n.stat.pzxid > sw.relative_zxid => {
                    fire(&mut out, EventType::NodeChildrenChanged, p)
                }
                Some(_) => self.tree.child_watches.add(p, conn, WatchMode::Standard),
            }
        }
        for (paths, mode) in [
            (&sw.persistent, WatchMode::Persistent),
            (&sw.persistent_recursive, WatchMode::PersistentRecursive),
        ] {
            for p in paths {
                self.tree.child_watches.add(p, conn, mode);
                self.tree.data_watches.add(p, conn, mode);
            }
        }
        self.outputs.extend(out);
    }
}
