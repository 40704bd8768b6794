//! Commit: apply durable transactions to the tree, answer their clients,
//! and release reads that waited behind them.

use super::{CloseReason, ConnId, Engine, InFlight, Now, Output, Queued};
use crate::proto::multi::OpResult;
use crate::proto::response::Response;
use crate::proto::txn::Txn;
use crate::proto::{ErrorCode, OpCode};
use crate::tree::TxnResult;

impl Engine {
    /// Storage reports every transaction up to `zxid` durable.
    pub fn persisted(&mut self, zxid: i64, now: Now) {
        while self
            .in_flight
            .front()
            .is_some_and(|t| t.header.zxid <= zxid)
        {
            let item = self.in_flight.pop_front().expect("non-empty");
            self.commit(item, now);
        }
    }

    pub(super) fn commit(&mut self, item: InFlight, now: Now) {
        let mut events = Vec::new();
        let rc = self.tree.apply(&item.header, &item.txn, &mut events);
        self.outstanding.committed(item.header.zxid);
        if !self.learner_syncs.is_empty() {
            self.release_learner_syncs();
        }
        for n in events {
            if self.conns.contains_key(&n.watcher) {
                self.outputs.push(Output::Event {
                    conn: n.watcher,
                    event: n.event,
                });
            }
        }
        let session = item.header.client_id;
        match &item.txn {
            Txn::CloseSession { .. } => {
                self.sessions.remove(session);
                let conn = self.session_conn.remove(&session);
                if item.origin.conn.is_none() {
                    if let Some(conn) = conn {
                        self.disconnected(conn);
                        self.outputs.push(Output::Close {
                            conn,
                            reason: CloseReason::SessionExpired,
                        });
                    }
                }
            }
            Txn::CreateSession { timeout_ms } => {
                if let Some(conn) = item.origin.conn {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.queue.pop_front();
                        self.establish(conn, session, *timeout_ms as u32, now);
                    }
                }
                return;
            }
            _ => {}
        }
        let Some(conn) = item.origin.conn else {
            return;
        };
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        match c.queue.front() {
            Some(Queued::Write(z)) if *z == item.header.zxid => {
                c.queue.pop_front();
            }
            Some(Queued::Forwarded(x)) if *x == item.header.cxid => {
                c.queue.pop_front();
            }
            other => {
                // The pipeline keeps each session's writes in order, so this
                // is a bug: say so loudly rather than answer out of order.
                tracing::error!(?other, zxid = item.header.zxid, "session queue out of step");
            }
        }
        let op = match &item.txn {
            Txn::Error { .. } => None,
            _ => OpCode::from_i32(item.header.kind),
        };
        let (err, body) = reply_for(op, &rc);
        self.outputs.push(Output::Reply {
            conn,
            xid: item.origin.xid,
            zxid: self.tree.last_zxid,
            err,
            body,
        });
        if matches!(item.txn, Txn::CloseSession { .. }) {
            self.disconnected(conn);
            self.outputs.push(Output::Close {
                conn,
                reason: CloseReason::SessionClosed,
            });
            return;
        }
        self.release_reads(conn, now);
    }

    /// Storage could not make the transactions from `zxid` on durable (a
    /// full or failing disk). None of them is applied: each waiting client
    /// gets SystemError, later writes are prepared afresh from the tree, and
    /// zxids are reused so the log stays gapless. Reads go on meanwhile.
    pub fn persist_failed(&mut self, zxid: i64, now: Now) {
        let failed: Vec<InFlight> = self.in_flight.drain(..).collect();
        if failed.is_empty() {
            return;
        }
        tracing::error!(
            from_zxid = format_args!("0x{zxid:x}"),
            count = failed.len(),
            "transactions could not be made durable; failing them"
        );
        self.outstanding = Default::default();
        self.next_zxid = failed[0].header.zxid.min(zxid);
        for item in failed {
            let session = item.header.client_id;
            match &item.txn {
                Txn::CreateSession { .. } => {
                    self.sessions.remove(session);
                    if let Some(conn) = item.origin.conn {
                        self.disconnected(conn);
                        self.outputs.push(Output::Close {
                            conn,
                            reason: CloseReason::StorageFailed,
                        });
                    }
                    continue;
                }
                Txn::CloseSession { .. } => self.sessions.reopen(session, now.mono_ms),
                _ => {}
            }
            let Some(conn) = item.origin.conn else {
                continue;
            };
            let Some(c) = self.conns.get_mut(&conn) else {
                continue;
            };
            if matches!(c.queue.front(), Some(Queued::Write(z)) if *z == item.header.zxid) {
                c.queue.pop_front();
            }
            self.outputs.push(Output::Reply {
                conn,
                xid: item.origin.xid,
                zxid: self.tree.last_zxid,
                err: ErrorCode::SystemError,
                body: Response::Empty,
            });
            self.release_reads(conn, now);
        }
    }

    /// Answers the reads that were waiting on the writes just committed.
    pub(super) fn release_reads(&mut self, conn: ConnId, now: Now) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            match c.queue.front() {
                Some(Queued::Read { .. }) => {
                    let Some(Queued::Read { xid, request }) = c.queue.pop_front() else {
                        unreachable!()
                    };
                    self.answer_read(conn, xid, request, now);
                }
                Some(Queued::Sync { done: true, .. }) => {
                    let Some(Queued::Sync { xid, path, .. }) = c.queue.pop_front() else {
                        unreachable!()
                    };
                    self.outputs.push(Output::Reply {
                        conn,
                        xid,
                        zxid: self.tree.last_zxid,
                        err: ErrorCode::Ok,
                        body: Response::Sync { path },
                    });
                }
                Some(Queued::Refused { xid, err }) => {
                    let (xid, err) = (*xid, *err);
                    c.queue.pop_front();
                    self.outputs.push(Output::Reply {
                        conn,
                        xid,
                        zxid: self.tree.last_zxid,
                        err,
                        body: Response::Empty,
                    });
                }
                _ => return,
            }
        }
    }
}

fn reply_for(op: Option<OpCode>, rc: &TxnResult) -> (ErrorCode, Response) {
    if rc.err != ErrorCode::Ok {
        return (rc.err, Response::Empty);
    }
    let path = rc.path.clone().unwrap_or_default();
    let stat = rc.stat.unwrap_or_default();
    let body = match op {
        None => return (rc.err, Response::Empty),
        Some(OpCode::Create) => Response::Create { path },
        Some(OpCode::Create2 | OpCode::CreateTtl | OpCode::CreateContainer) => {
            Response::Create2 { path, stat }
        }
        Some(OpCode::SetData | OpCode::SetAcl | OpCode::Check) => Response::Stat(stat),
        Some(OpCode::Multi) => Response::Multi(rc.multi.iter().map(op_result).collect()),
        Some(_) => Response::Empty,
    };
    (ErrorCode::Ok, body)
}

fn op_result(rc: &TxnResult) -> OpResult {
    let path = rc.path.clone().unwrap_or_default();
    match OpCode::from_i32(rc.kind) {
        _ if rc.err != ErrorCode::Ok || rc.kind == OpCode::Error.code() => OpResult::Error(rc.err),
        Some(OpCode::Create) => OpResult::Create { path, stat: None },
        Some(OpCode::Create2 | OpCode::CreateTtl | OpCode::CreateContainer) => OpResult::Create {
            path,
            stat: rc.stat,
        },
        Some(OpCode::Delete | OpCode::DeleteContainer) => OpResult::Delete,
        Some(OpCode::SetData) => OpResult::SetData(rc.stat.unwrap_or_default()),
        _ => OpResult::Check,
    }
}
