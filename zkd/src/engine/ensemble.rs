//! The engine's part in an ensemble. A learner hands writes, session
//! creation and syncs to the leader and applies what the leader commits,
//! answering its own clients when their transactions come back; the leader
//! prepares learners' requests alongside its own clients' and tracks which
//! member each session's client is connected to (3.8's session owner).

use super::{CloseReason, ConnId, Engine, InFlight, Now, Origin, Output, Queued};
use crate::jute::Writer;
use crate::proto::connect::ConnectResponse;
use crate::proto::request::Request;
use crate::proto::txn::{Txn, TxnHeader};
use crate::proto::{ErrorCode, OpCode};
use crate::quorum::messages::ForwardedRequest;
use bytes::Bytes;

/// Which part the engine plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineRole {
    /// Prepares, persists and commits on its own.
    Standalone,
    /// Prepares for the whole ensemble; commits what a quorum acknowledged.
    Leader,
    /// Follower or observer: forwards writes, applies the leader's commits.
    Learner,
}

impl Engine {
    pub fn role(&self) -> EngineRole {
        self.role
    }

    /// Sets the role of a fresh engine, before any client connects. A
    /// leader starts numbering at `next_zxid` (the first of its epoch).
    pub fn set_role(&mut self, role: EngineRole, next_zxid: i64) {
        self.role = role;
        self.next_zxid = next_zxid;
    }

    /// The zxid the next prepared transaction gets.
    pub fn next_zxid(&self) -> i64 {
        self.next_zxid
    }

    /// Learner: hands a client's write, close or sync to the leader.
    pub(super) fn forward(&mut self, conn: ConnId, xid: i32, request: &Request) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let mut w = Writer::new();
        request.encode_body(&mut w);
        let op = request.op();
        if let Request::Sync { path } = request {
            c.queue.push_back(Queued::Sync {
                xid,
                path: path.clone(),
                done: false,
            });
            self.syncs_sent.push_back(conn);
        } else {
            c.queue.push_back(Queued::Forwarded(xid));
        }
        self.outputs.push(Output::Forward(ForwardedRequest {
            session: c.session,
            cxid: xid,
            op: op.code(),
            body: Bytes::from(w.into_vec()),
            auth: c.ids.clone(),
        }));
    }

    /// Learner: a new session, created through the leader.
    pub(super) fn forward_create_session(&mut self, conn: ConnId, session: i64, timeout: u32) {
        self.outputs.push(Output::Forward(ForwardedRequest {
            session,
            cxid: 0,
            op: OpCode::CreateSession.code(),
            body: Bytes::copy_from_slice(&(timeout as i32).to_be_bytes()),
            auth: Vec::new(),
        }));
        if let Some(c) = self.conns.get_mut(&conn) {
            c.queue.push_back(Queued::Forwarded(0));
        }
    }

    /// Learner: a session resumed here; the leader decides if it lives.
    pub(super) fn ask_revalidation(&mut self, conn: ConnId, session: i64, timeout: u32) {
        self.revalidating.insert(session, (conn, timeout));
        self.outputs.push(Output::Revalidate {
            session,
            timeout_ms: timeout,
        });
    }

    /// Learner: the leader's answer to [`Output::Revalidate`].
    pub fn revalidated(&mut self, session: i64, valid: bool, now: Now) {
        let Some((conn, timeout)) = self.revalidating.remove(&session) else {
            tracing::warn!(
                session_id = format_args!("0x{session:x}"),
                "revalidation answer for a session nobody waits for"
            );
            return;
        };
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let read_only = c.read_only_flag;
        if !valid {
            self.outputs.push(Output::Connected {
                conn,
                response: ConnectResponse::rejected(read_only),
                close: true,
            });
            self.conns.remove(&conn);
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
        self.touched.insert(session, timeout);
        self.establish(conn, session, timeout, now);
    }

    /// Answers the handshake and lets through what the client sent
    /// meanwhile.
    pub(super) fn establish(&mut self, conn: ConnId, session: i64, timeout: u32, now: Now) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.ready = true;
        let read_only = c.read_only_flag;
        let response = self.connect_response(session, timeout, read_only);
        self.outputs.push(Output::Connected {
            conn,
            response,
            close: false,
        });
        let held = self
            .conns
            .get_mut(&conn)
            .map(|c| std::mem::take(&mut c.held))
            .unwrap_or_default();
        for (xid, held) in held {
            match held {
                Ok(request) => self.request(conn, xid, request, now),
                Err(ErrorCode::Unimplemented) => self.unknown_request(conn, xid),
                Err(_) => self.malformed_request(conn, xid),
            }
        }
    }

    /// Learner: the leader committed this transaction. Applied at once; the
    /// client that sent it, if connected here, gets its answer.
    pub fn apply_committed(&mut self, header: TxnHeader, txn: Txn, now: Now) {
        let session = header.client_id;
        if let Txn::CreateSession { timeout_ms } = txn {
            self.sessions
                .add(session, timeout_ms.max(0) as u32, now.mono_ms);
        }
        let conn = self.session_conn.get(&session).copied().filter(|conn| {
            self.conns.get(conn).is_some_and(
                |c| matches!(c.queue.front(), Some(Queued::Forwarded(x)) if *x == header.cxid),
            )
        });
        self.commit(
            InFlight {
                header,
                txn,
                origin: Origin {
                    conn,
                    xid: header.cxid,
                },
            },
            now,
        );
    }

    /// Learner: the leader's SYNC, answering our oldest sync.
    pub fn sync_done(&mut self, now: Now) {
        let Some(conn) = self.syncs_sent.pop_front() else {
            tracing::warn!("SYNC from the leader with no sync outstanding");
            return;
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            if let Some(Queued::Sync { done, .. }) = c
                .queue
                .iter_mut()
                .find(|q| matches!(q, Queued::Sync { done: false, .. }))
            {
                *done = true;
            }
        }
        self.release_reads(conn, now);
    }

    /// Learner: sessions touched since the last call, for the ping reply.
    pub fn take_touched(&mut self) -> Vec<(i64, u32)> {
        let mut v: Vec<(i64, u32)> = self.touched.drain().collect();
        v.sort_unstable();
        v
    }

    pub(super) fn note_touch(&mut self, session: i64) {
        if self.role == EngineRole::Learner {
            let timeout = self.sessions.get(session).map_or(0, |s| s.timeout_ms);
            self.touched.insert(session, timeout);
        }
    }

    /// Leader: a request a learner forwarded for one of its clients.
    pub fn learner_request(&mut self, learner: u64, fr: ForwardedRequest, now: Now) {
        let session = fr.session;
        match OpCode::from_i32(fr.op) {
            Some(OpCode::CreateSession) => {
                let timeout = fr
                    .body
                    .get(..4)
                    .map(|b| i32::from_be_bytes(b.try_into().expect("4 bytes")))
                    .unwrap_or(0)
                    .max(0) as u32;
                self.sessions.add(session, timeout, now.mono_ms);
                self.learner_owned.insert(session, learner);
                self.submit(
                    session,
                    fr.cxid,
                    OpCode::CreateSession.code(),
                    Txn::CreateSession {
                        timeout_ms: timeout as i32,
                    },
                    None,
                    0,
                    now,
                );
            }
            Some(OpCode::Sync) => match self.in_flight.back() {
                None => self.outputs.push(Output::SyncDone { learner }),
                Some(last) => self.learner_syncs.push_back((last.header.zxid, learner)),
            },
            Some(OpCode::CloseSession) => {
                self.sessions.set_closing(session);
                self.submit_close_session_as(session, None, fr.cxid, 0, now);
            }
            _ => {
                let prepared = match Request::decode(fr.op, &fr.body) {
                    Ok(request) if request.op().is_write() => {
                        self.check_owner(session, Some(learner)).map(|_| request)
                    }
                    Ok(_) => Err(ErrorCode::Unimplemented),
                    Err(e) => {
                        tracing::warn!(learner, op = fr.op, ?e, "undecodable forwarded request");
                        Err(ErrorCode::MarshallingError)
                    }
                };
                match prepared {
                    Ok(request) => {
                        self.submit_write_as(session, &fr.auth, fr.cxid, &request, None, 0, now)
                    }
                    Err(err) => {
                        self.submit(
                            session,
                            fr.cxid,
                            OpCode::Error.code(),
                            Txn::Error { err: err.code() },
                            None,
                            0,
                            now,
                        );
                    }
                }
            }
        }
    }

    /// Leader: 3.8's session owner check. A write through a member the
    /// session's client has since left is refused with SessionMoved.
    pub(super) fn check_owner(&self, session: i64, from: Option<u64>) -> Result<(), ErrorCode> {
        if session == 0 || self.role != EngineRole::Leader {
            return Ok(());
        }
        if self.learner_owned.get(&session).copied() != from
            && (from.is_some() || self.learner_owned.contains_key(&session))
        {
            return Err(ErrorCode::SessionMoved);
        }
        Ok(())
    }

    /// Leader: a local client took over a session (it reconnected here).
    pub(super) fn own_locally(&mut self, session: i64) {
        self.learner_owned.remove(&session);
    }

    /// Leader: a learner's ping reply, keeping its clients' sessions alive.
    pub fn learner_touches(&mut self, touches: &[(i64, u32)], now: Now) {
        for (session, _) in touches {
            self.sessions.touch(*session, now.mono_ms);
        }
    }

    /// Leader: a learner's client resumed `session` there. Alive sessions
    /// now belong to that learner.
    pub fn revalidate(&mut self, learner: u64, session: i64, now: Now) -> bool {
        let valid = self.sessions.touch(session, now.mono_ms);
        if valid {
            self.learner_owned.insert(session, learner);
        }
        valid
    }

    /// Leader: learners' syncs waiting for earlier writes to commit.
    pub fn pending_learner_syncs(&self) -> usize {
        self.learner_syncs.len()
    }

    /// Leader: syncs whose writes are now all committed.
    pub(super) fn release_learner_syncs(&mut self) {
        while let Some((zxid, learner)) = self.learner_syncs.front().copied() {
            if zxid > self.tree.last_zxid {
                break;
            }
            self.learner_syncs.pop_front();
            self.outputs.push(Output::SyncDone { learner });
        }
    }

    /// The transactions prepared but not committed, oldest first.
    pub fn in_flight_txns(&self) -> impl Iterator<Item = (&TxnHeader, &Txn)> {
        self.in_flight.iter().map(|t| (&t.header, &t.txn))
    }

    /// Leaving a role: applies the transactions up to `zxid` that are in
    /// the local log but were never committed, without answering anyone
    /// (their clients are about to be disconnected; only a quorum could
    /// make their outcome known). The tree then matches the log again,
    /// which is what the next election compares.
    pub fn apply_logged_silently(&mut self, zxid: i64, now: Now) {
        while self
            .in_flight
            .front()
            .is_some_and(|t| t.header.zxid <= zxid)
        {
            let item = self.in_flight.pop_front().expect("non-empty");
            self.apply_silently(&item.header, &item.txn, now);
        }
        self.in_flight.clear();
        self.outputs.clear();
    }

    /// Conns of this engine (for closing them when the role changes).
    pub fn conn_ids(&self) -> Vec<ConnId> {
        self.conns.keys().copied().collect()
    }

    /// Applies a transaction without answering anyone (see
    /// [`Engine::apply_logged_silently`]), keeping the sessions in step.
    pub fn apply_silently(&mut self, header: &TxnHeader, txn: &Txn, now: Now) {
        match txn {
            Txn::CreateSession { timeout_ms } => {
                self.sessions
                    .add(header.client_id, (*timeout_ms).max(0) as u32, now.mono_ms)
            }
            Txn::CloseSession { .. } => {
                self.sessions.remove(header.client_id);
            }
            _ => {}
        }
        let mut events = Vec::new();
        self.tree.apply(header, txn, &mut events);
    }
}
