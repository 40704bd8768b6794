//! The core task: owns the engine, feeds it requests and time, persists
//! what it prepares, and routes replies and events to connections.

use crate::config::ZooCfg;
use crate::engine::{ConnId, Engine, Output};
use crate::jute::Writer;
use crate::proto::connect::ConnectRequest;
use crate::proto::request::{DecodeError, Request};
use crate::proto::response::{write_event, write_reply};
use crate::proto::OpCode;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

use super::ensemble::Ensemble;
use super::quorum_links::Outbound;
use super::storage::{Snapshotter, StorageCmd, StorageThread};
use super::Clock;
use crate::fourletter::{ConnStats, ServerStats};
use crate::proto::txn::{Txn, TxnHeader};
use crate::quorum::peer::Action;
use crate::quorum::wire;
use crate::storage::EpochFile;

pub enum CoreMsg {
    Connect {
        conn: ConnId,
        peer: SocketAddr,
        req: ConnectRequest,
        bytes: usize,
        out: mpsc::UnboundedSender<ToConn>,
    },
    Request {
        conn: ConnId,
        xid: i32,
        op: i32,
        /// Frame size, length prefix included.
        bytes: usize,
        request: Result<Request, DecodeError>,
        received: Instant,
    },
    Disconnected {
        conn: ConnId,
    },
    /// The log holds every transaction up to `zxid` durably.
    Persisted {
        generation: u64,
        zxid: i64,
    },
    /// The log could not take the transactions from `zxid` on.
    PersistFailed {
        generation: u64,
        zxid: i64,
    },
    /// SIGHUP: apply what can change without a restart, then answer.
    Reload {
        cfg: Box<ZooCfg>,
        done: oneshot::Sender<()>,
    },
    FourLetter {
        word: crate::fourletter::Word,
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
    pub established_ms: i64,
    pub stats: ConnStats,
}

pub(super) struct Core {
    pub engine: Engine,
    pub cfg: ZooCfg,
    pub clock: Clock,
    pub conns: HashMap<ConnId, ConnEntry>,
    pub client_addr: SocketAddr,
    pub throttle: Arc<Semaphore>,
    pub stats: Arc<ServerStats>,
    pub started: Instant,
    pub trace_mask: i64,
    pub myid: Option<u64>,
    dirty: Vec<ConnId>,
    log: Option<StorageThread>,
    /// Bumped when the log fails, so stale acknowledgements are ignored.
    generation: u64,
    unlogged: Vec<(TxnHeader, Txn)>,
    snapshots: Snapshotter,
    txns_since_snapshot: u64,
    snapshot_after: u64,
    /// Present when this server is a quorum member.
    pub ensemble: Option<Ensemble>,
    /// For restarting the log thread after a truncation.
    core_tx: mpsc::UnboundedSender<CoreMsg>,
    /// Tells systemd how the server is doing.
    pub reporter: crate::systemd::Reporter,
}

impl Core {
    pub fn new(
        cfg: &ZooCfg,
        clock: Clock,
        client_addr: SocketAddr,
        throttle: Arc<Semaphore>,
        durable: super::Durable,
        ensemble: Option<Ensemble>,
        core_tx: mpsc::UnboundedSender<CoreMsg>,
    ) -> Self {
        Core {
            ensemble,
            core_tx,
            reporter: crate::systemd::Reporter::new(Default::default()),
            log: Some(durable.log),
            generation: 0,
            unlogged: Vec::new(),
            snapshots: durable.snapshots,
            txns_since_snapshot: 0,
            snapshot_after: snapshot_threshold(cfg.snap_count),
            engine: durable.engine,
            cfg: cfg.clone(),
            clock,
            conns: HashMap::new(),
            client_addr,
            throttle,
            stats: Arc::new(ServerStats::new()),
            started: Instant::now(),
            trace_mask: crate::fourletter::DEFAULT_TRACE_MASK,
            myid: crate::config::read_myid(&cfg.data_dir).ok().flatten(),
            dirty: Vec::new(),
        }
    }

    pub async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<CoreMsg>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        // A member's timers (election waits, pings) need a finer clock.
        let period = if self.ensemble.is_some() { 5 } else { 50 };
        let mut ticker = tokio::time::interval(Duration::from_millis(period));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        if let Some(ens) = &mut self.ensemble {
            ens.peer.start(&mut self.engine, self.clock.now());
            self.process_outputs();
        }
        loop {
            tokio::select! {
                input = recv_quorum(&mut self.ensemble) => {
                    let now = self.clock.now();
                    if let Some(ens) = &mut self.ensemble {
                        ens.handle(&mut self.engine, input, now);
                        for _ in 0..4096 {
                            let Some(more) = ens.try_recv() else { break };
                            ens.handle(&mut self.engine, more, now);
                        }
                    }
                    for _ in 0..4096 {
                        match rx.try_recv() {
                            Ok(msg) => self.handle(msg),
                            Err(_) => break,
                        }
                    }
                }
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
                _ = ticker.tick() => {
                    let now = self.clock.now();
                    match &mut self.ensemble {
                        Some(ens) => ens.peer.tick(&mut self.engine, now),
                        None => self.engine.tick(now),
                    }
                }
                _ = shutdown.changed() => break,
            }
            self.process_outputs();
            self.flush();
            self.report();
        }
        for (_, c) in self.conns.drain() {
            let _ = c.out.send(ToConn::Close);
        }
        if let Some(ens) = &self.ensemble {
            ens.shutdown();
        }
        if let Some(log) = self.log.take() {
            // Flushes what was queued; blocking is fine while shutting down.
            tokio::task::block_in_place(|| log.stop());
        }
    }

    fn handle(&mut self, msg: CoreMsg) {
        let now = self.clock.now();
        match msg {
            CoreMsg::Connect {
                conn,
                peer,
                req,
                bytes,
                out,
            } => {
                if self.ensemble.as_ref().is_some_and(|e| !e.peer.is_serving()) {
                    // 3.8 closes client connections while it has no quorum;
                    // the client moves on to another member.
                    let _ = out.send(ToConn::Close);
                    return;
                }
                self.conns.insert(
                    conn,
                    ConnEntry {
                        out,
                        peer,
                        buf: Writer::new(),
                        close_after_flush: false,
                        waiting: VecDeque::new(),
                        established_ms: now.wall_ms,
                        stats: ConnStats::default(),
                    },
                );
                if let Some(entry) = self.conns.get_mut(&conn) {
                    entry.stats.record_packet_received();
                }
                self.stats.record_packet_received(bytes as u64);
                self.engine.connect(conn, peer.ip(), req, now);
            }
            CoreMsg::Request {
                conn,
                xid: request_xid,
                op,
                bytes,
                request,
                received,
            } => {
                self.stats.record_packet_received(bytes as u64);
                let Some(entry) = self.conns.get_mut(&conn) else {
                    self.throttle.add_permits(1);
                    return;
                };
                entry.stats.record_packet_received();
                let code = OpCode::from_i32(op).unwrap_or(OpCode::Error);
                entry.waiting.push_back((request_xid, received, code));
                match request {
                    Ok(r) => self.engine.request(conn, request_xid, r, now),
                    Err(DecodeError::UnknownOp(_)) => {
                        self.engine.unknown_request(conn, request_xid)
                    }
                    Err(DecodeError::Malformed(..)) => {
                        self.engine.malformed_request(conn, request_xid)
                    }
                }
            }
            CoreMsg::Disconnected { conn } => {
                if let Some(entry) = self.conns.remove(&conn) {
                    self.throttle.add_permits(entry.waiting.len());
                }
                self.engine.disconnected(conn);
            }
            CoreMsg::Persisted { generation, zxid } => {
                if generation == self.generation {
                    match &mut self.ensemble {
                        Some(ens) => ens.peer.persisted(&mut self.engine, zxid, now),
                        None => self.engine.persisted(zxid, now),
                    }
                }
            }
            CoreMsg::PersistFailed { generation, zxid } => {
                if generation == self.generation && self.ensemble.is_some() {
                    // A member that cannot log cannot acknowledge anything;
                    // 3.8 exits, and so do we (systemd restarts us).
                    tracing::error!(
                        zxid = format_args!("0x{zxid:x}"),
                        "the transaction log failed; a quorum member cannot go on without it"
                    );
                    std::process::exit(3);
                }
                if generation == self.generation {
                    self.generation += 1;
                    self.engine.persist_failed(zxid, now);
                }
            }
            CoreMsg::Reload { cfg, done } => {
                self.reload(*cfg);
                let _ = done.send(());
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
            let actions = match &mut self.ensemble {
                Some(ens) => ens.peer.take_actions(),
                None => Vec::new(),
            };
            if outputs.is_empty() && actions.is_empty() {
                break;
            }
            let now = self.clock.now();
            for output in outputs {
                match output {
                    Output::Persist { .. }
                    | Output::Forward(_)
                    | Output::Revalidate { .. }
                    | Output::SyncDone { .. }
                        if self.ensemble.is_some() =>
                    {
                        let ens = self.ensemble.as_mut().expect("checked");
                        ens.peer.engine_output(&mut self.engine, output, now);
                    }
                    Output::Persist { header, txn } => self.unlogged.push((header, txn)),
                    other => self.route(other),
                }
            }
            for action in actions {
                self.act(action);
            }
        }
        if self.unlogged.is_empty() {
            return;
        }
        self.txns_since_snapshot += self.unlogged.len() as u64;
        let txns = std::mem::take(&mut self.unlogged);
        if let Some(log) = &self.log {
            log.send(StorageCmd::Append {
                generation: self.generation,
                txns,
            });
        }
        if self.txns_since_snapshot > self.snapshot_after && !self.snapshots.is_busy() {
            self.take_snapshot();
        }
    }

    /// The facts systemd's STATUS line shows; also pings the watchdog, so
    /// that pings stop when this loop stops turning.
    fn report(&mut self) {
        let zxid = self.engine.tree().last_zxid;
        let facts = match &self.ensemble {
            None => crate::systemd::StatusFacts {
                mode: "standalone",
                leader: None,
                zxid,
                clients: self.conns.len(),
                serving: true,
            },
            Some(ens) => {
                let serving = ens.peer.is_serving();
                crate::systemd::StatusFacts {
                    mode: if serving {
                        mode_word(ens.peer.state())
                    } else {
                        "looking"
                    },
                    leader: ens.peer.leader_id().filter(|_| serving),
                    zxid,
                    clients: self.conns.len(),
                    serving,
                }
            }
        };
        self.reporter.update(&facts, Instant::now());
    }

    /// SIGHUP: what can change without a restart.
    fn reload(&mut self, cfg: ZooCfg) {
        if cfg.four_letter_words != self.cfg.four_letter_words {
            tracing::info!("four-letter-word whitelist reloaded");
        }
        self.cfg.four_letter_words = cfg.four_letter_words.clone();
        self.cfg.max_client_cnxns = cfg.max_client_cnxns;
        let mut needs_restart = Vec::new();
        if cfg.servers != self.cfg.servers {
            needs_restart.push("server.N lines");
        }
        if cfg.data_dir != self.cfg.data_dir || cfg.data_log_dir() != self.cfg.data_log_dir() {
            needs_restart.push("dataDir/dataLogDir");
        }
        if cfg.client_addr() != self.cfg.client_addr() {
            needs_restart.push("client address");
        }
        if cfg.tick_time_ms != self.cfg.tick_time_ms {
            needs_restart.push("tickTime");
        }
        if !needs_restart.is_empty() {
            tracing::warn!(
                "reload: {} changed; that takes a restart (systemctl restart zkd)",
                needs_restart.join(", ")
            );
        }
    }

    /// Carries out one thing the quorum member asked for.
    fn act(&mut self, action: Action) {
        let Some(ens) = self.ensemble.as_mut() else {
            return;
        };
        match action {
            Action::Elect { to, body } => ens.send_election(to, body),
            Action::ConnectLeader { sid } => ens.connect_leader(sid),
            Action::ToLearner { link, msg } => ens.send_to_learner(link, msg),
            Action::ToLeader { link, msg } => ens
                .links
                .send(link, Outbound::Packet(wire::learner_packet(&msg))),
            Action::CloseLink { link } => ens.links.close(link),
            Action::LinkTimeout { link, ms } => ens
                .links
                .set_read_timeout(link, Some(Duration::from_millis(ms))),
            Action::Persist(p) => self.unlogged.push((p.header, p.txn)),
            Action::SaveAcceptedEpoch(e) => {
                if let Err(err) = ens.save_epoch(EpochFile::Accepted, e) {
                    fatal(&format!("cannot record acceptedEpoch {e}: {err}"));
                }
            }
            Action::SaveCurrentEpoch(e) => {
                if let Err(err) = ens.save_epoch(EpochFile::Current, e) {
                    fatal(&format!("cannot record currentEpoch {e}: {err}"));
                }
            }
            Action::TakeSnapshot => {
                // After a SNAP sync the log does not hold the history the
                // tree now has: it must be on disk before we acknowledge.
                let snap_dir = ens.dirs.snap_dir();
                let tree = self.engine.tree();
                let sessions = self.engine.sessions().all();
                let result = tokio::task::block_in_place(|| {
                    crate::storage::write_snapshot(&snap_dir, tree, &sessions, tree.last_zxid)
                });
                if let Err(err) = result {
                    fatal(&format!("cannot write the snapshot the leader sent: {err}"));
                }
                if let Some(log) = &self.log {
                    log.send(StorageCmd::Roll);
                }
            }
            Action::TruncateAndReload { zxid } => self.truncate_and_reload(zxid),
            Action::ClientsReset => {
                for (_, entry) in self.conns.drain() {
                    self.throttle.add_permits(entry.waiting.len());
                    let _ = entry.out.send(ToConn::Close);
                }
            }
            Action::Serving => {
                ens.serving_since = Some(Instant::now());
                tracing::info!(
                    mode = mode_word(ens.peer.state()),
                    leader = ens.peer.leader_id(),
                    zxid = format_args!("0x{:x}", self.engine.tree().last_zxid),
                    epoch = ens.peer.epochs().current,
                    "serving clients"
                );
            }
            Action::Looking => {
                ens.serving_since = None;
                tracing::info!(
                    mode = "looking",
                    zxid = format_args!("0x{:x}", self.engine.tree().last_zxid),
                    "not serving clients until a leader is elected"
                );
            }
        }
    }

    /// TRUNC from the leader: stop the log, cut it back, rebuild the tree
    /// from disk, start the log again.
    fn truncate_and_reload(&mut self, zxid: i64) {
        if let Some(log) = self.log.take() {
            tokio::task::block_in_place(|| log.stop());
        }
        self.generation += 1;
        self.unlogged.clear();
        let Some(ens) = self.ensemble.as_mut() else {
            return;
        };
        let dirs = ens.dirs.clone();
        let options = crate::storage::RecoverOptions::new(crate::tree::TreeOptions {
            extended_types: self.cfg.extended_types_enabled,
        });
        let result = tokio::task::block_in_place(|| {
            let cut = crate::storage::truncate_after(&dirs, zxid)?;
            tracing::warn!(
                cut,
                zxid = format_args!("0x{zxid:x}"),
                "log truncated for the leader"
            );
            let recovered = crate::storage::recover(&dirs, &options)?;
            let writer = crate::storage::TxnLogWriter::open(
                &dirs.log_dir(),
                crate::storage::LogOptions::from_config(&self.cfg),
            )?;
            Ok::<_, crate::storage::StorageError>((recovered, writer))
        });
        let (recovered, writer) = match result {
            Ok(r) => r,
            Err(err) => fatal(&format!("cannot truncate the log to 0x{zxid:x}: {err}")),
        };
        self.log = Some(StorageThread::start(
            writer,
            self.cfg.force_sync,
            self.core_tx.clone(),
        ));
        let now = self.clock.now();
        self.engine = Engine::with_tree(
            self.engine.config().clone(),
            recovered.tree,
            recovered.sessions,
            now,
        );
        if let Some(ens) = self.ensemble.as_mut() {
            ens.peer.reloaded(&mut self.engine, now);
        }
    }

    /// 3.8's rhythm: roll the log and snapshot the tree after a randomised
    /// number of transactions, so members of an ensemble do not all
    /// snapshot at once. The tree copy is O(1); writing it happens elsewhere.
    fn take_snapshot(&mut self) {
        if let Some(log) = &self.log {
            log.send(StorageCmd::Roll);
        }
        let tree = self.engine.tree().snapshot_copy();
        let sessions = self.engine.sessions().all();
        if self.snapshots.start(tree, sessions) {
            self.txns_since_snapshot = 0;
            self.snapshot_after = snapshot_threshold(self.cfg.snap_count);
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
                entry.stats.record_packet_sent();
                self.stats.record_packet_sent();
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
                let before = entry.buf.len();
                write_reply(&mut entry.buf, reply_xid, zxid, err, &body);
                self.stats
                    .record_client_response_size((entry.buf.len() - before) as i32);
                entry.stats.record_packet_sent();
                self.stats.record_packet_sent();
                if let Some(pos) = entry.waiting.iter().position(|(x, _, _)| *x == reply_xid) {
                    let (_, received, op) = entry.waiting.remove(pos).expect("found");
                    self.throttle.add_permits(1);
                    // Auth is answered outside the pipeline; 3.8 does not
                    // count it as a request.
                    if op != OpCode::Auth {
                        let latency = received.elapsed().as_millis() as i64;
                        let end = now.mono_ms as i64;
                        entry.stats.record_response(
                            reply_xid as i64,
                            zxid,
                            op.short_name(),
                            end - latency,
                            end,
                        );
                        self.stats.record_request_latency(latency, op.is_write());
                    }
                }
                self.dirty.push(conn);
            }
            Output::Event { conn, event } => {
                let Some(entry) = self.conns.get_mut(&conn) else {
                    return;
                };
                write_event(&mut entry.buf, &event);
                entry.stats.record_packet_sent();
                self.stats.record_packet_sent();
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
            Output::Forward(_) | Output::Revalidate { .. } | Output::SyncDone { .. } => {
                unreachable!("a standalone engine does not forward")
            }
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

/// The word `srvr` prints after `Mode:` for a member in `state`.
fn mode_word(state: crate::quorum::election::ServerState) -> &'static str {
    use crate::quorum::election::ServerState;
    match state {
        ServerState::Leading => "leader",
        ServerState::Following => "follower",
        ServerState::Observing => "observer",
        ServerState::Looking => "looking",
    }
}

/// A member that cannot keep its promises stops; 3.8 exits the same way
/// and systemd (or the operator) restarts it.
fn fatal(what: &str) -> ! {
    tracing::error!("{what}");
    std::process::exit(3)
}

async fn recv_quorum(ensemble: &mut Option<Ensemble>) -> super::ensemble::QuorumInput {
    match ensemble {
        Some(ens) => ens.recv().await,
        None => std::future::pending().await,
    }
}

/// snapCount/2 plus a random share of snapCount/2, as 3.8 draws it.
fn snapshot_threshold(snap_count: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let half = (snap_count / 2).max(1);
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    half + random % half
}
