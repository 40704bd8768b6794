//! The core task: owns the engine, feeds it requests and time, persists
//! what it prepares, and routes replies and events to connections.

use crate::config::ZooCfg;
use crate::engine::{ConnId, Engine, Output};
use crate::jute::Writer;
use crate::proto::connect::ConnectRequest;
use crate::proto::request::{DecodeError, Request};
use crate::proto::response::{write_event, write_reply};
use crate::proto::{xid, OpCode};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

use super::Clock;

pub enum CoreMsg {
    Connect {
        conn: ConnId,
        peer: SocketAddr,
        req: ConnectRequest,
        out: mpsc::UnboundedSender<ToConn>,
    },
    Request {
        conn: ConnId,
        xid: i32,
        op: i32,
        request: Result<Request, DecodeError>,
        received: Instant,
    },
    Disconnected {
        conn: ConnId,
    },
    FourLetter {
        word: [u8; 4],
        extra: Vec<u8>,
        peer: SocketAddr,
        reply: oneshot::Sender<String>,
    },
}

pub enum ToConn {
    Frames(Bytes),
    Close,
}

/// What the core knows about a connection, beyond the engine's view:
/// where to send its frames, and the figures `cons` reports.
pub(super) struct ConnEntry {
    pub out: mpsc::UnboundedSender<ToConn>,
    pub peer: SocketAddr,
    pub buf: Writer,
    pub close_after_flush: bool,
    /// Arrival times of requests not yet answered, in order.
    pub waiting: VecDeque<(i32, Instant, OpCode)>,
    pub stats: ConnStats,
}

#[derive(Default, Clone)]
pub(super) struct ConnStats {
    pub established_ms: i64,
    pub received: u64,
    pub sent: u64,
    pub last_op: Option<OpCode>,
    pub last_cxid: i32,
    pub last_zxid: i64,
    pub last_response_ms: i64,
    pub last_latency_ms: u64,
    pub min_latency_ms: u64,
    pub max_latency_ms: u64,
    pub total_latency_ms: u64,
    pub latency_count: u64,
}

impl ConnStats {
    fn record(&mut self, latency_ms: u64) {
        if self.latency_count == 0 || latency_ms < self.min_latency_ms {
            self.min_latency_ms = latency_ms;
        }
        self.max_latency_ms = self.max_latency_ms.max(latency_ms);
        self.total_latency_ms += latency_ms;
        self.latency_count += 1;
        self.last_latency_ms = latency_ms;
    }
}

pub(super) struct Core {
    pub engine: Engine,
    pub cfg: ZooCfg,
    pub clock: Clock,
    pub conns: HashMap<ConnId, ConnEntry>,
    pub client_addr: SocketAddr,
    pub throttle: Arc<Semaphore>,
    pub stats: super::fourletter_glue::ServerStats,
    dirty: Vec<ConnId>,
}

impl Core {
    pub fn new(cfg: &ZooCfg, clock: Clock, client_addr: SocketAddr, throttle: Arc<Semaphore>) -> Self {
        let engine = Engine::new(super::engine_config(cfg), clock.now());
        Core {
            engine,
            cfg: cfg.clone(),
            clock,
            conns: HashMap::new(),
            client_addr,
            throttle,
            stats: Default::default(),
            dirty: Vec::new(),
        }
    }

    pub async fn run(mut self, mut rx: mpsc::UnboundedReceiver<CoreMsg>, mut shutdown: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(Duration::from_millis(50));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = rx.recv() => {
                    let Some(msg) = msg else { break };
                    self.handle(msg);
                    // Take what else is queued before flushing, so one
                    // wake-up answers many requests.
                    for _ in 0..4096 {
                        match rx.try_recv() {
                            Ok(msg) => self.handle(msg),
                            Err(_) => break,
                        }
                    }
                }
                _ = ticker.tick() => self.engine.tick(self.clock.now()),
                _ = shutdown.changed() => break,
            }
            self.process_outputs();
            self.flush();
        }
        for (_, c) in self.conns.drain() {
            let _ = c.out.send(ToConn::Close);
        }
    }

    fn handle(&mut self, msg: CoreMsg) {
        let now = self.clock.now();
        match msg {
            CoreMsg::Connect {
                conn,
                peer,
                req,
                out,
            } => {
                self.conns.insert(
                    conn,
                    ConnEntry {
                        out,
                        peer,
                        buf: Writer::new(),
                        close_after_flush: false,
                        waiting: VecDeque::new(),
                        stats: ConnStats {
                            established_ms: now.wall_ms,
                            received: 1,
                            ..Default::default()
                        },
                    },
                );
                self.stats.packet_received();
                self.engine.connect(conn, peer.ip(), req, now);
            }
            CoreMsg::Request {
                conn,
                xid: request_xid,
                op,
                request,
                received,
            } => {
                self.stats.packet_received();
                let Some(entry) = self.conns.get_mut(&conn) else {
                    self.throttle.add_permits(1);
                    return;
                };
                entry.stats.received += 1;
                let code = OpCode::from_i32(op).unwrap_or(OpCode::Error);
                entry.waiting.push_back((request_xid, received, code));
                match request {
                    Ok(r) => self.engine.request(conn, request_xid, r, now),
                    Err(DecodeError::UnknownOp(_)) => self.engine.unknown_request(conn, request_xid),
                    Err(DecodeError::Malformed(..)) => self.engine.malformed_request(conn, request_xid),
                }
            }
            CoreMsg::Disconnected { conn } => {
                if let Some(entry) = self.conns.remove(&conn) {
                    self.throttle.add_permits(entry.waiting.len());
                }
                self.engine.disconnected(conn);
            }
            CoreMsg::FourLetter {
                word,
                extra,
                peer,
                reply,
            } => {
                let text = super::fourletter_glue::respond(self, word, &extra, peer);
                let _ = reply.send(text);
            }
        }
    }

    fn process_outputs(&mut self) {
        loop {
            let outputs: Vec<Output> = self.engine.drain().collect();
            if outputs.is_empty() {
                return;
            }
            let mut durable_up_to = None;
            for output in outputs {
                match output {
                    // No storage yet in this layer: durable once prepared.
                    Output::Persist { header, .. } => durable_up_to = Some(header.zxid),
                    other => self.route(other),
                }
            }
            if let Some(zxid) = durable_up_to {
                self.engine.persisted(zxid, self.clock.now());
            }
        }
    }

    fn route(&mut self, output: Output) {
        let now = self.clock.now();
        match output {
            Output::Connected {
                conn,
                response,
                close,
            } => {
                let Some(entry) = self.conns.get_mut(&conn) else {
                    return;
                };
                let start = entry.buf.len();
                entry.buf.i32(0);
                response.encode(&mut entry.buf);
                let len = (entry.buf.len() - start - 4) as i32;
                entry.buf.patch_i32(start, len);
                entry.close_after_flush |= close;
                entry.stats.sent += 1;
                self.stats.packet_sent();
                self.dirty.push(conn);
            }
            Output::Reply {
                conn,
                xid: reply_xid,
                zxid,
                err,
                body,
            } => {
                let Some(entry) = self.conns.get_mut(&conn) else {
                    return;
                };
                write_reply(&mut entry.buf, reply_xid, zxid, err, &body);
                entry.stats.sent += 1;
                entry.stats.last_cxid = reply_xid;
                entry.stats.last_zxid = zxid;
                entry.stats.last_response_ms = now.wall_ms;
                if reply_xid != xid::AUTH {
                    if let Some(pos) = entry.waiting.iter().position(|(x, _, _)| *x == reply_xid) {
                        let (_, received, op) = entry.waiting.remove(pos).expect("found");
                        let latency = received.elapsed().as_millis() as u64;
                        entry.stats.record(latency);
                        entry.stats.last_op = Some(op);
                        self.stats.record_latency(latency);
                        self.throttle.add_permits(1);
                    }
                } else if let Some(pos) = entry.waiting.iter().position(|(x, _, _)| *x == reply_xid) {
                    entry.waiting.remove(pos);
                    self.throttle.add_permits(1);
                }
                self.stats.packet_sent();
                self.dirty.push(conn);
            }
            Output::Event { conn, event } => {
                let Some(entry) = self.conns.get_mut(&conn) else {
                    return;
                };
                write_event(&mut entry.buf, &event);
                entry.stats.sent += 1;
                self.stats.packet_sent();
                self.dirty.push(conn);
            }
            Output::Close { conn, reason } => {
                tracing::debug!(conn, ?reason, "closing connection");
                if let Some(entry) = self.conns.get_mut(&conn) {
                    entry.close_after_flush = true;
                    self.dirty.push(conn);
                }
            }
            Output::Persist { .. } => unreachable!("handled by process_outputs"),
        }
    }

    fn flush(&mut self) {
        for conn in std::mem::take(&mut self.dirty) {
            let Some(entry) = self.conns.get_mut(&conn) else {
                continue;
            };
            if !entry.buf.is_empty() {
                let bytes = std::mem::take(&mut entry.buf).into_vec();
                let _ = entry.out.send(ToConn::Frames(Bytes::from(bytes)));
            }
            if entry.close_after_flush {
                let _ = entry.out.send(ToConn::Close);
                let entry = self.conns.remove(&conn).expect("present");
                self.throttle.add_permits(entry.waiting.len());
                self.engine.disconnected(conn);
            }
        }
    }
}
