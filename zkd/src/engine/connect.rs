//! The handshake, and the submission of writes into the pipeline.

use super::{CloseReason, Conn, ConnId, Engine, InFlight, Now, Origin, Output, Queued};
use crate::jute::records::Id;
use crate::proto::connect::{ConnectRequest, ConnectResponse};
use crate::proto::request::Request;
use crate::proto::txn::{Txn, TxnHeader};
use crate::proto::{ErrorCode, OpCode};
use crate::session::password_for;
use std::net::IpAddr;

impl Engine {
    /// A client's first frame: create a session or resume one.
    pub fn connect(&mut self, conn: ConnId, remote: IpAddr, req: ConnectRequest, now: Now) {
        if req.last_zxid_seen > self.tree.last_zxid {
            // The client has seen more than this server knows; 3.8 drops
            // the connection so the client tries another server.
            tracing::info!(
                client_zxid = format_args!("0x{:x}", req.last_zxid_seen),
                our_zxid = format_args!("0x{:x}", self.tree.last_zxid),
                "refusing session: client has seen a newer zxid"
            );
            self.outputs.push(Output::Close {
                conn,
                reason: CloseReason::StaleServer,
            });
            return;
        }
        let timeout = (req.timeout_ms.max(0) as u32).clamp(
            self.cfg.min_session_timeout_ms,
            self.cfg.max_session_timeout_ms,
        );
        let ids = vec![Id::new("ip", &remote.to_string())];
        self.remote_ips.insert(conn, remote);
        if req.session_id == 0 {
            let session = self.sessions.next_session_id();
            // A learner's session exists once the leader commits it.
            if self.role != super::EngineRole::Learner {
                self.sessions.add(session, timeout, now.mono_ms);
            }
            self.conns
                .insert(conn, Conn::new(session, ids, false, req.read_only));
            self.session_conn.insert(session, conn);
            if self.role == super::EngineRole::Learner {
                self.forward_create_session(conn, session, timeout);
                return;
            }
            let zxid = self.submit(
                session,
                0,
                OpCode::CreateSession.code(),
                Txn::CreateSession {
                    timeout_ms: timeout as i32,
                },
                Some(conn),
                0,
                now,
            );
            self.conns
                .get_mut(&conn)
                .expect("just inserted")
                .queue
                .push_back(Queued::Write(zxid));
            return;
        }
        let session = req.session_id;
        if self.role == super::EngineRole::Learner && req.passwd == password_for(session) {
            // Only the leader knows whether the session is still alive.
            self.conns
                .insert(conn, Conn::new(session, ids, false, req.read_only));
            self.ask_revalidation(conn, session, timeout);
            return;
        }
        let valid =
            req.passwd == password_for(session) && self.sessions.touch(session, now.mono_ms);
        if valid {
            self.own_locally(session);
        } else {
            tracing::info!(
                session_id = format_args!("0x{session:x}"),
                "refusing reconnect: session expired or wrong password"
            );
            self.outputs.push(Output::Connected {
                conn,
                response: ConnectResponse::rejected(req.read_only),
                close: true,
            });
            return;
        }
        if let Some(old) = self.session_conn.insert(session, conn) {
            if old != conn {
                self.disconnected(old);
                self.outputs.push(Output::Close {
                    conn: old,
                    reason: CloseReason::SessionMoved,
                });
            }
        }
        self.sessions.add(session, timeout, now.mono_ms);
        self.conns
            .insert(conn, Conn::new(session, ids, true, req.read_only));
        self.outputs.push(Output::Connected {
            conn,
            response: self.connect_response(session, timeout, req.read_only),
            close: false,
        });
    }

    pub(super) fn connect_response(
        &self,
        session: i64,
        timeout: u32,
        read_only: Option<bool>,
    ) -> ConnectResponse {
        ConnectResponse {
            protocol_version: 0,
            timeout_ms: timeout as i32,
            session_id: session,
            passwd: password_for(session).to_vec(),
            read_only: read_only.map(|_| false),
        }
    }

    /// Assigns the next zxid and sends a prepared transaction to storage.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn submit(
        &mut self,
        session: i64,
        cxid: i32,
        kind: i32,
        txn: Txn,
        conn: Option<ConnId>,
        xid: i32,
        now: Now,
    ) -> i64 {
        let zxid = self.next_zxid;
        self.next_zxid += 1;
        self.push_txn(session, cxid, zxid, kind, txn, conn, xid, now);
        zxid
    }

    #[allow(clippy::too_many_arguments)]
    fn push_txn(
        &mut self,
        session: i64,
        cxid: i32,
        zxid: i64,
        kind: i32,
        txn: Txn,
        conn: Option<ConnId>,
        xid: i32,
        now: Now,
    ) {
        let header = TxnHeader {
            client_id: session,
            cxid,
            zxid,
            time: now.wall_ms,
            kind,
        };
        self.outputs.push(Output::Persist {
            header,
            txn: txn.clone(),
        });
        self.in_flight.push_back(InFlight {
            header,
            txn,
            origin: Origin { conn, xid },
        });
    }

    /// Prepares a client write and queues it in its session's order. A
    /// failed check still becomes an error transaction with its own zxid,
    /// as in 3.8, so the log records it and the reply keeps its place.
    pub(super) fn submit_write(&mut self, conn: ConnId, xid: i32, request: &Request, now: Now) {
        let (session, ids) = match self.conns.get(&conn) {
            Some(c) => (c.session, c.ids.clone()),
            None => return,
        };
        self.submit_write_as(session, &ids, xid, request, Some(conn), xid, now);
    }

    /// Prepares a write of `session` (from a local connection, or, on a
    /// leader, from a learner when `conn` is `None`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn submit_write_as(
        &mut self,
        session: i64,
        ids: &[Id],
        cxid: i32,
        request: &Request,
        conn: Option<ConnId>,
        xid: i32,
        now: Now,
    ) {
        let zxid = self.next_zxid;
        self.next_zxid += 1;
        // A learner's request had its owner checked in learner_request.
        let prepared = match conn {
            Some(_) => self.check_owner(session, None),
            None => Ok(()),
        }
        .and_then(|_| self.prepare(session, ids, request, zxid, now.wall_ms));
        let (kind, txn) = match prepared {
            Ok(prepared) => prepared,
            Err(err) => {
                if err.code() > ErrorCode::ApiError.code() {
                    tracing::debug!(?err, path = request.path(), "write refused");
                }
                (OpCode::Error.code(), Txn::Error { err: err.code() })
            }
        };
        self.push_txn(session, cxid, zxid, kind, txn, conn, xid, now);
        if let Some(c) = conn.and_then(|conn| self.conns.get_mut(&conn)) {
            c.queue.push_back(Queued::Write(zxid));
        }
    }

    /// Closes a session through the pipeline (client close or expiry).
    pub(super) fn submit_close_session(
        &mut self,
        session: i64,
        conn: Option<ConnId>,
        xid: i32,
        now: Now,
    ) {
        self.submit_close_session_as(session, conn, xid, xid, now);
    }

    pub(super) fn submit_close_session_as(
        &mut self,
        session: i64,
        conn: Option<ConnId>,
        cxid: i32,
        xid: i32,
        now: Now,
    ) {
        let zxid = self.next_zxid;
        self.next_zxid += 1;
        let (kind, txn) = self
            .prepare(session, &[], &Request::CloseSession, zxid, now.wall_ms)
            .expect("closeSession always prepares");
        self.push_txn(session, cxid, zxid, kind, txn, conn, xid, now);
        if let Some(c) = conn.and_then(|c| self.conns.get_mut(&c)) {
            c.queue.push_back(Queued::Write(zxid));
        }
    }

    pub(super) fn submit_delete_container(&mut self, path: String, now: Now) {
        let zxid = self.next_zxid;
        match self.prep_delete_container(&path, zxid) {
            Ok((kind, txn)) => {
                self.next_zxid += 1;
                tracing::debug!(%path, "removing empty container or expired TTL node");
                self.push_txn(0, 0, zxid, kind, txn, None, 0, now);
            }
            Err(err) => tracing::debug!(%path, ?err, "container no longer removable"),
        }
    }
}
