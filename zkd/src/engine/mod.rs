//! The request engine: a deterministic state machine that turns client
//! requests into replies, watch events and transactions.
//!
//! Writes go through one ordered pipeline, as in 3.8's request processors:
//! *prepare* checks a request against the tree plus the changes still in
//! flight and turns it into a transaction with the next zxid; the shell
//! persists it and reports back with [`Engine::persisted`]; *commit* then
//! applies it to the tree and answers. Reads are answered from the tree at
//! once, except that a session's read waits behind its own earlier writes,
//! so every client sees its own writes in order.
//!
//! The engine never does I/O and never reads a clock: the shell passes
//! [`Now`] in and drains [`Output`]s.

mod commit;
mod connect;
mod ensemble;
mod prep;
mod read;

pub use ensemble::EngineRole;

use crate::jute::records::Id;
use crate::proto::connect::ConnectResponse;
use crate::proto::request::Request;
use crate::proto::response::{Response, WatchEvent};
use crate::proto::txn::{Txn, TxnHeader};
use crate::proto::ErrorCode;
use crate::session::SessionTracker;
use crate::tree::{DataTree, TreeOptions};
use prep::Outstanding;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// A client connection, as the shell numbers them.
pub type ConnId = u64;

/// The two clocks the engine needs: wall time for znode times, monotonic
/// milliseconds for session expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub wall_ms: i64,
    pub mono_ms: u64,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub server_id: u64,
    pub tick_ms: u32,
    pub min_session_timeout_ms: u32,
    pub max_session_timeout_ms: u32,
    pub super_digest: Option<String>,
    pub extended_types: bool,
    pub reconfig_enabled: bool,
    pub container_check_interval_ms: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            server_id: 1,
            tick_ms: 2000,
            min_session_timeout_ms: 4000,
            max_session_timeout_ms: 40000,
            super_digest: None,
            extended_types: false,
            reconfig_enabled: false,
            container_check_interval_ms: 60_000,
        }
    }
}

/// What the shell must do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Answer a handshake; `close` means the session was refused and the
    /// connection ends once the answer is sent.
    Connected {
        conn: ConnId,
        response: ConnectResponse,
        close: bool,
    },
    Reply {
        conn: ConnId,
        xid: i32,
        zxid: i64,
        err: ErrorCode,
        body: Response,
    },
    Event {
        conn: ConnId,
        event: WatchEvent,
    },
    /// Close the connection after what was queued for it is sent.
    Close {
        conn: ConnId,
        reason: CloseReason,
    },
    /// Make this transaction durable, then call [`Engine::persisted`]. In
    /// an ensemble the leader proposes it instead, and calls `persisted`
    /// once a quorum has it.
    Persist {
        header: TxnHeader,
        txn: Txn,
    },
    /// Learner: hand this client request to the leader.
    Forward(crate::quorum::messages::ForwardedRequest),
    /// Learner: ask the leader whether a session a client resumes here is
    /// still alive; answer with [`Engine::revalidated`].
    Revalidate {
        session: i64,
        timeout_ms: u32,
    },
    /// Leader: every write learner `learner` forwarded before its sync has
    /// committed; tell it so.
    SyncDone {
        learner: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    SessionClosed,
    SessionExpired,
    SessionMoved,
    AuthFailed,
    /// The client has seen a newer zxid than this server has.
    StaleServer,
    /// The session could not be made durable.
    StorageFailed,
}

/// A request waiting for its turn in its session's order.
#[derive(Debug)]
enum Queued {
    /// A write in the pipeline; answered when its zxid commits.
    Write(i64),
    Read {
        xid: i32,
        request: Request,
    },
    /// A request that could not be decoded, answered with this error in turn.
    Refused {
        xid: i32,
        err: ErrorCode,
    },
    /// Learner: a write handed to the leader, answered when the
    /// transaction with this cxid commits.
    Forwarded(i32),
    /// Learner: a sync handed to the leader, answered once the leader says
    /// so (`done`) and the requests before it are answered.
    Sync {
        xid: i32,
        path: String,
        done: bool,
    },
}

#[derive(Debug)]
struct Conn {
    session: i64,
    ids: Vec<Id>,
    queue: VecDeque<Queued>,
    /// Set once the session is established (createSession committed).
    ready: bool,
    /// Requests that arrived before the session was established. 3.8 stops
    /// reading such a connection until it has answered the handshake; they
    /// are dispatched, in order, right after the answer.
    held: VecDeque<(i32, Result<Request, ErrorCode>)>,
    read_only_flag: Option<bool>,
}

impl Conn {
    fn new(session: i64, ids: Vec<Id>, ready: bool, read_only_flag: Option<bool>) -> Conn {
        Conn {
            session,
            ids,
            queue: VecDeque::new(),
            ready,
            held: VecDeque::new(),
            read_only_flag,
        }
    }
}

/// Who is waiting for a transaction.
#[derive(Debug)]
struct Origin {
    conn: Option<ConnId>,
    xid: i32,
}

#[derive(Debug)]
struct InFlight {
    header: TxnHeader,
    txn: Txn,
    origin: Origin,
}

pub struct Engine {
    cfg: EngineConfig,
    tree: DataTree,
    sessions: SessionTracker,
    conns: HashMap<ConnId, Conn>,
    remote_ips: HashMap<ConnId, IpAddr>,
    session_conn: HashMap<i64, ConnId>,
    next_zxid: i64,
    in_flight: VecDeque<InFlight>,
    outstanding: Outstanding,
    outputs: Vec<Output>,
    last_container_check: u64,
    role: EngineRole,
    /// Learner: sessions touched since the last ping, with their timeouts.
    touched: HashMap<i64, u32>,
    /// Learner: resumed sessions waiting for the leader's word.
    revalidating: HashMap<i64, (ConnId, u32)>,
    /// Learner: syncs handed to the leader, oldest first.
    syncs_sent: VecDeque<ConnId>,
    /// Leader: sessions whose client is connected to a learner, by its id.
    learner_owned: HashMap<i64, u64>,
    /// Leader: (last zxid in flight when it asked, learner) per pending sync.
    learner_syncs: VecDeque<(i64, u64)>,
}

impl Engine {
    pub fn new(cfg: EngineConfig, now: Now) -> Self {
        let tree = DataTree::new(TreeOptions {
            extended_types: cfg.extended_types,
        });
        Self::with_tree(cfg, tree, Vec::new(), now)
    }

    /// Starts from a recovered tree and its sessions (id, timeout).
    pub fn with_tree(
        cfg: EngineConfig,
        tree: DataTree,
        sessions: Vec<(i64, u32)>,
        now: Now,
    ) -> Self {
        let first = crate::session::initial_session_id(cfg.server_id, now.wall_ms);
        let mut tracker = SessionTracker::new(cfg.tick_ms, first);
        for (id, timeout) in sessions {
            tracker.add(id, timeout, now.mono_ms);
        }
        Engine {
            next_zxid: tree.last_zxid + 1,
            tree,
            sessions: tracker,
            conns: HashMap::new(),
            remote_ips: HashMap::new(),
            session_conn: HashMap::new(),
            in_flight: VecDeque::new(),
            outstanding: Outstanding::default(),
            outputs: Vec::new(),
            last_container_check: now.mono_ms,
            cfg,
            role: EngineRole::Standalone,
            touched: HashMap::new(),
            revalidating: HashMap::new(),
            syncs_sent: VecDeque::new(),
            learner_owned: HashMap::new(),
            learner_syncs: VecDeque::new(),
        }
    }

    /// Hands the tree and the sessions over, for an engine in another role.
    pub fn into_parts(self) -> (DataTree, Vec<(i64, u32)>) {
        let sessions = self.sessions.all();
        (self.tree, sessions)
    }

    pub fn tree(&self) -> &DataTree {
        &self.tree
    }

    pub fn sessions(&self) -> &SessionTracker {
        &self.sessions
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Transactions prepared but not yet committed.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Requests waiting on their session's order, plus writes in flight.
    pub fn outstanding_requests(&self) -> usize {
        self.conns.values().map(|c| c.queue.len()).sum()
    }

    /// Takes the outputs produced so far, in order.
    pub fn drain(&mut self) -> std::vec::Drain<'_, Output> {
        self.outputs.drain(..)
    }

    pub fn session_of(&self, conn: ConnId) -> Option<i64> {
        self.conns.get(&conn).map(|c| c.session)
    }

    /// A connection went away: its watches die; its session lives on until
    /// it expires or the client reconnects.
    pub fn disconnected(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            if self.session_conn.get(&c.session) == Some(&conn) {
                self.session_conn.remove(&c.session);
            }
        }
        self.remote_ips.remove(&conn);
        self.tree.data_watches.remove_watcher(conn);
        self.tree.child_watches.remove_watcher(conn);
    }

    /// Time passes: expire sessions and clean up containers and TTL nodes.
    pub fn tick(&mut self, now: Now) {
        if self.role == EngineRole::Learner {
            // The leader expires sessions and removes containers.
            return;
        }
        for session in self.sessions.expired(now.mono_ms) {
            tracing::info!(
                session_id = format_args!("0x{session:x}"),
                "session expired"
            );
            self.submit_close_session(session, None, 0, now);
        }
        if now.mono_ms >= self.last_container_check + self.cfg.container_check_interval_ms {
            self.last_container_check = now.mono_ms;
            self.check_containers(now);
        }
    }

    fn check_containers(&mut self, now: Now) {
        let mut doomed = Vec::new();
        for p in self.tree.containers() {
            let node = self.tree.node(p).expect("indexed nodes exist");
            // Only containers that once had children go: a fresh container
            // must survive until its first child arrives.
            if node.children.is_empty() && node.stat.cversion > 0 {
                doomed.push(p.clone());
            }
        }
        for p in self.tree.ttl_nodes() {
            let node = self.tree.node(p).expect("indexed nodes exist");
            if let crate::tree::OwnerKind::Ttl(ttl) =
                self.tree.owner_kind(node.stat.ephemeral_owner)
            {
                if node.children.is_empty() && now.wall_ms - node.stat.mtime > ttl {
                    doomed.push(p.clone());
                }
            }
        }
        for p in doomed {
            self.submit_delete_container(p, now);
        }
    }
}

#[cfg(test)]
mod tests;
