//! A stateful harness for the request engine: bytes are read as a script of
//! client actions over a few connections and a small path alphabet, the
//! engine is driven as the server's core drives it, and invariants are
//! checked after every step. Shared by the `engine` fuzz target and by
//! `zkd/tests/decode_props.rs` (which includes this file by path, so it may
//! use nothing but `zkd` and `std`).
//!
//! The script format: the first byte configures the engine (bit 0
//! extended types, bit 1 a super digest, bit 2 start with delayed
//! persistence); then each step is an opcode byte ([`op`]) followed by the
//! argument bytes that step reads. Bytes past the end read as zero, so any
//! input is a valid script.
//!
//! What is checked, after every step:
//! - nothing panics, in the engine or in the encoders of what it outputs;
//! - every request is answered exactly once, in request order per
//!   connection, unless the connection is closed (auth, SASL and unknown
//!   opcodes are answered at once, as 3.8 answers them outside its
//!   pipeline); nothing is sent to a connection before its handshake
//!   answer, nor after it is closed; once nothing awaits persistence every
//!   request on an open connection has been answered;
//! - a write is answered, and a new session's handshake too, only after
//!   [`Engine::persisted`] covered its zxid; no reply carries a zxid that
//!   is not durable;
//! - zxids are handed out without gaps, the tree's `last_zxid` only grows
//!   and equals what storage acknowledged;
//! - the tree: every node's parent exists and lists it, every listed child
//!   exists, numChildren equals the number of nodes under it, every path
//!   is valid, ephemerals belong to sessions that are live or being closed
//!   and have no children, the ephemeral/container/TTL indexes, data size
//!   and ACL table agree with the nodes, watches belong to open
//!   connections;
//! - every transaction re-decodes from its log encoding to an equal value,
//!   and a replica tree built only from those decoded log records equals
//!   the engine's tree (recovery from the log rebuilds what clients saw);
//! - every successful reply has the body shape its request expects, and a
//!   multi's results are all-or-nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use zkd::engine::{CloseReason, ConnId, Engine, EngineConfig, Now, Output};
use zkd::jute::records::{perms, Acl, ClientInfo, Id, Stat};
use zkd::jute::{Reader, Record, Writer};
use zkd::proto::connect::ConnectRequest;
use zkd::proto::request::{CreateRequest, DecodeError, Request, SetWatches};
use zkd::proto::response::Response;
use zkd::proto::txn::{Txn, TxnHeader};
use zkd::proto::{path, xid, ErrorCode, OpCode};
use zkd::tree::{DataTree, OwnerKind, TreeOptions};

/// Step opcodes (the byte is taken modulo [`op::COUNT`]).
pub mod op {
    pub const CONNECT: u8 = 0;
    pub const CREATE: u8 = 1;
    pub const DELETE: u8 = 2;
    pub const SET_DATA: u8 = 3;
    pub const GET_DATA: u8 = 4;
    pub const EXISTS: u8 = 5;
    pub const GET_CHILDREN: u8 = 6;
    pub const MULTI: u8 = 7;
    pub const MULTI_READ: u8 = 8;
    pub const SET_WATCHES: u8 = 9;
    pub const ADD_WATCH: u8 = 10;
    pub const AUTH: u8 = 11;
    pub const CLOSE_SESSION: u8 = 12;
    pub const TICK: u8 = 13;
    pub const PERSIST: u8 = 14;
    pub const TOGGLE_DELAY: u8 = 15;
    pub const DISCONNECT: u8 = 16;
    pub const PING: u8 = 17;
    pub const ACL: u8 = 18;
    pub const WATCH_ADMIN: u8 = 19;
    pub const MISC_READ: u8 = 20;
    pub const RAW_FRAME: u8 = 21;
    pub const SASL: u8 = 22;
    pub const COUNT: u8 = 23;
}

/// Deviations the harness can be told to accept, by name, so a long run
/// keeps exploring past a finding that is already reported. Strict (none
/// accepted) by default; `ZKD_FUZZ_TOLERATE=a,b` sets them for the fuzz
/// target.
pub mod deviation {
    /// An unknown opcode or malformed body answered before the handshake
    /// answer. 3.8 stops reading a connection until its session is
    /// created, so it never does this.
    pub const EARLY_REPLY: &str = "early-reply";
    /// A malformed request answered at once, ahead of earlier requests
    /// still in the pipeline. 3.8 decodes bodies inside the pipeline and
    /// answers MarshallingError in order.
    pub const MALFORMED_ORDER: &str = "malformed-order";
    pub const ALL: &[&str] = &[EARLY_REPLY, MALFORMED_ORDER];
}

/// Which deviations to accept.
#[derive(Debug, Clone, Default)]
pub struct Tolerate(BTreeSet<&'static str>);

impl Tolerate {
    pub fn none() -> Self {
        Tolerate::default()
    }

    pub fn all() -> Self {
        Tolerate(deviation::ALL.iter().copied().collect())
    }

    /// Parses `ZKD_FUZZ_TOLERATE` (comma-separated names, or `all`).
    pub fn from_env() -> Self {
        let Ok(list) = std::env::var("ZKD_FUZZ_TOLERATE") else {
            return Tolerate::none();
        };
        let mut set = BTreeSet::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if name == "all" {
                return Tolerate::all();
            }
            match deviation::ALL.iter().find(|d| **d == name) {
                Some(d) => {
                    set.insert(*d);
                }
                None => panic!(
                    "ZKD_FUZZ_TOLERATE names unknown deviation {name:?}; known: {:?}",
                    deviation::ALL
                ),
            }
        }
        Tolerate(set)
    }

    fn allows(&self, name: &str) -> bool {
        self.0.contains(name)
    }
}

/// Runs a whole script; `Err` describes the first broken invariant.
/// On failure the script is run again with tracing on (it is
/// deterministic), so the error ends with what each step sent and got.
pub fn run_script(bytes: &[u8], tolerate: Tolerate) -> Result<(), String> {
    run(bytes, tolerate.clone(), false).map_err(|e| match run(bytes, tolerate, true) {
        Err(traced) => traced,
        Ok(()) => format!("{e}\n(the traced re-run passed: the harness is not deterministic)"),
    })
}

fn run(bytes: &[u8], tolerate: Tolerate, trace: bool) -> Result<(), String> {
    let mut input = Input {
        data: bytes,
        pos: 0,
    };
    let mut h = Harness::new(input.byte(), tolerate);
    if trace {
        h.trace = Some(vec![format!(
            "config {:?} auto_persist {}",
            h.cfg, h.auto_persist
        )]);
    }
    let mut steps = 0;
    let mut outcome = Ok(());
    while !input.done() && steps < MAX_STEPS {
        steps += 1;
        h.note(|| format!("-- step {steps} at byte {}", input.pos));
        if let Err(e) = h.step(&mut input) {
            outcome = Err(format!("step {steps} (byte {}): {e}", input.pos));
            break;
        }
    }
    if outcome.is_ok() {
        h.note(|| "-- finish: persist everything".to_owned());
        outcome = h.finish().map_err(|e| format!("after the last step: {e}"));
    }
    outcome.map_err(|e| match h.trace.take() {
        Some(lines) => format!("{e}\ntrace:\n  {}", lines.join("\n  ")),
        None => e,
    })
}

const MAX_STEPS: usize = 400;
const MAX_OPEN_CONNS: usize = 6;
const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Paths the script works on: a small tree, the system nodes, and a few
/// invalid spellings that must be refused.
const PATHS: &[&str] = &[
    "/a",
    "/a/b",
    "/c",
    "/a/b/c",
    "/c/d",
    "/e",
    "/",
    "/a/b-",
    "/zookeeper",
    "/zookeeper/quota",
    "/zookeeper/config",
    "/a/",
    "a",
    "//a",
    "/.",
    "/a\0",
];

const USERS: &[&str] = &["alice:secret", "bob:pw", "super:test", "alice:wrong"];

struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
    fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.byte() as usize % items.len()]
    }
    fn path(&mut self) -> String {
        self.pick(PATHS).to_owned()
    }
    fn version(&mut self) -> i32 {
        self.pick(&[-1, 0, 1, 2, -2])
    }
    /// Data of 0 to 3 bytes, or null (which 3.8 keeps apart from empty).
    fn data(&mut self) -> Option<Vec<u8>> {
        let n = self.byte() % 5;
        (n < 4).then(|| (0..n).map(|_| self.byte()).collect())
    }
    fn acl(&mut self) -> Vec<Acl> {
        let id = |s: &str, i: &str| Id::new(s, i);
        match self.byte() % 8 {
            0..=2 => Acl::open_unsafe(),
            3 => Acl::read_unsafe(),
            4 => vec![Acl {
                perms: perms::ALL,
                id: id("auth", ""),
            }],
            5 => vec![Acl {
                perms: perms::ALL,
                id: id("digest", &zkd::tree::acl::digest_id("alice:secret")),
            }],
            6 => vec![Acl {
                perms: perms::READ | perms::WRITE | perms::ADMIN,
                id: id("ip", "127.0.0.0/8"),
            }],
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnState {
    /// Handshake sent, answer not seen yet.
    Handshaking,
    Ready,
    /// The engine said Close; the shell drops it after this step.
    Closing,
    Closed,
}

/// What a reply to a request must look like.
#[derive(Debug, Clone)]
struct Pending {
    xid: i32,
    /// `None` for a frame that did not decode (answered with an error).
    request: Option<Request>,
}

#[derive(Debug)]
struct HConn {
    state: ConnState,
    /// Requests answered in order, oldest first.
    ordered: VecDeque<Pending>,
    /// Requests that must be answered within the step that sent them.
    immediate: Vec<Pending>,
    /// Auth and SASL sent during the handshake: the engine holds them, and
    /// they must be answered in the step that completes the handshake.
    deferred: Vec<Pending>,
    /// The session this connection asked to resume or was handed.
    session: Option<i64>,
    /// Whether the handshake resumes a session (answered at once).
    resuming: bool,
    /// Whether the handshake can be refused (stale zxid, bad password).
    may_refuse: bool,
    /// Replies seen out of order or before the handshake answer: tolerated
    /// only if the connection closes in the same step, as the client loses
    /// it anyway.
    disorder: Vec<String>,
}

struct Harness {
    engine: Engine,
    cfg: EngineConfig,
    tolerate: Tolerate,
    now: Now,
    conns: BTreeMap<ConnId, HConn>,
    next_conn: ConnId,
    next_xid: i32,
    sessions_seen: Vec<i64>,
    /// Transactions the engine asked to persist, not yet acknowledged.
    unsynced: VecDeque<(TxnHeader, Txn)>,
    /// The highest zxid acknowledged with `persisted`.
    durable: i64,
    last_persist_zxid: i64,
    auto_persist: bool,
    /// Client writes: cxid (our xids are unique) to zxid.
    write_zxid: HashMap<i32, i64>,
    create_session_zxid: HashMap<i64, i64>,
    /// A tree rebuilt from the decoded log records alone.
    replica: DataTree,
    last_zxid: i64,
    /// What happened, step by step, when re-running a failure.
    trace: Option<Vec<String>>,
}

fn fail<T>(msg: String) -> Result<T, String> {
    Err(msg)
}

impl Harness {
    fn new(config: u8, tolerate: Tolerate) -> Self {
        let cfg = EngineConfig {
            extended_types: config & 1 != 0,
            super_digest: (config & 2 != 0).then(|| zkd::tree::acl::digest_id("super:test")),
            container_check_interval_ms: 5_000,
            ..EngineConfig::default()
        };
        let now = Now {
            wall_ms: 1_700_000_000_000,
            mono_ms: 1_000,
        };
        Harness {
            engine: Engine::new(cfg.clone(), now),
            replica: DataTree::new(TreeOptions {
                extended_types: cfg.extended_types,
            }),
            cfg,
            tolerate,
            now,
            conns: BTreeMap::new(),
            next_conn: 1,
            next_xid: 1,
            sessions_seen: Vec::new(),
            unsynced: VecDeque::new(),
            durable: 0,
            last_persist_zxid: 0,
            auto_persist: config & 4 == 0,
            write_zxid: HashMap::new(),
            create_session_zxid: HashMap::new(),
            last_zxid: 0,
            trace: None,
        }
    }

    fn note(&mut self, line: impl FnOnce() -> String) {
        if let Some(t) = &mut self.trace {
            t.push(line());
        }
    }

    fn open_conns(&self) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, c)| matches!(c.state, ConnState::Handshaking | ConnState::Ready))
            .map(|(id, _)| *id)
            .collect()
    }

    fn pick_conn(&mut self, input: &mut Input<'_>) -> Option<ConnId> {
        let open = self.open_conns();
        if open.is_empty() {
            return None;
        }
        Some(open[input.byte() as usize % open.len()])
    }

    fn xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid += 1;
        x
    }

    fn step(&mut self, input: &mut Input<'_>) -> Result<(), String> {
        let code = input.byte() % op::COUNT;
        let conn_needed = !matches!(
            code,
            op::CONNECT | op::TICK | op::PERSIST | op::TOGGLE_DELAY
        );
        let conn = if conn_needed {
            match self.pick_conn(input) {
                Some(c) => c,
                None => {
                    self.connect(input);
                    return self.settle();
                }
            }
        } else {
            0
        };
        match code {
            op::CONNECT => {
                if self.open_conns().len() >= MAX_OPEN_CONNS {
                    let victim = self.open_conns()[0];
                    self.disconnect(victim);
                } else {
                    self.connect(input);
                }
            }
            op::CREATE => {
                let req = create_request(input);
                self.send(conn, req);
            }
            op::DELETE => {
                let req = Request::Delete {
                    path: input.path(),
                    version: input.version(),
                };
                self.send(conn, req);
            }
            op::SET_DATA => {
                let req = Request::SetData {
                    path: input.path(),
                    data: input.data(),
                    version: input.version(),
                };
                self.send(conn, req);
            }
            op::GET_DATA => {
                let req = Request::GetData {
                    path: input.path(),
                    watch: input.flag(),
                };
                self.send(conn, req);
            }
            op::EXISTS => {
                let req = Request::Exists {
                    path: input.path(),
                    watch: input.flag(),
                };
                self.send(conn, req);
            }
            op::GET_CHILDREN => {
                let (path, watch) = (input.path(), input.flag());
                let req = if input.flag() {
                    Request::GetChildren { path, watch }
                } else {
                    Request::GetChildren2 { path, watch }
                };
                self.send(conn, req);
            }
            op::MULTI => {
                let n = 1 + input.byte() % 4;
                let ops = (0..n).map(|_| multi_op(input)).collect();
                self.send(conn, Request::Multi(ops));
            }
            op::MULTI_READ => {
                let n = input.byte() % 4;
                let ops = (0..n)
                    .map(|_| {
                        let (path, watch) = (input.path(), input.flag());
                        match input.byte() % 5 {
                            0 | 1 => Request::GetData { path, watch },
                            2 | 3 => Request::GetChildren { path, watch },
                            _ => Request::Exists { path, watch },
                        }
                    })
                    .collect();
                self.send(conn, Request::MultiRead(ops));
            }
            op::SET_WATCHES => {
                let relative_zxid = match input.byte() % 3 {
                    0 => 0,
                    1 => self.durable,
                    _ => self.durable.saturating_sub(2),
                };
                let mut lists: [Vec<String>; 5] = Default::default();
                let v2 = input.flag();
                for _ in 0..input.byte() % 5 {
                    let which = input.byte() as usize % if v2 { 5 } else { 3 };
                    lists[which].push(input.path());
                }
                let [data, exist, child, persistent, persistent_recursive] = lists;
                let sw = SetWatches {
                    v2,
                    relative_zxid,
                    data,
                    exist,
                    child,
                    persistent,
                    persistent_recursive,
                };
                self.send_with_xid(conn, xid::SET_WATCHES, Request::SetWatches(sw));
            }
            op::ADD_WATCH => {
                let req = Request::AddWatch {
                    path: input.path(),
                    mode: input.pick(&[0, 1, 1, 0, 2]),
                };
                self.send(conn, req);
            }
            op::AUTH => {
                let (scheme, auth) = match input.byte() % 6 {
                    0..=3 => ("digest", input.pick(USERS).as_bytes().to_vec()),
                    4 => ("ip", b"127.0.0.1".to_vec()),
                    _ => ("kerberos", Vec::new()),
                };
                let req = Request::Auth {
                    scheme: scheme.to_owned(),
                    auth,
                };
                self.send_with_xid(conn, xid::AUTH, req);
            }
            op::CLOSE_SESSION => self.send(conn, Request::CloseSession),
            op::TICK => {
                let delta = input.byte() as u64 * 250;
                self.now.mono_ms += delta;
                self.now.wall_ms += delta as i64;
                let mono = self.now.mono_ms;
                self.note(|| format!("tick +{delta}ms to mono {mono}"));
                self.engine.tick(self.now);
            }
            op::PERSIST => {
                // Acknowledge a prefix of what is waiting, as a group commit
                // that covered only some of it.
                if !self.unsynced.is_empty() {
                    let k = input.byte() as usize % self.unsynced.len();
                    let zxid = self.unsynced[k].0.zxid;
                    self.persist(zxid)?;
                }
            }
            op::TOGGLE_DELAY => {
                self.auto_persist = !self.auto_persist;
                let on = self.auto_persist;
                self.note(|| format!("auto_persist {on}"));
            }
            op::DISCONNECT => self.disconnect(conn),
            op::PING => self.send_with_xid(conn, xid::PING, Request::Ping),
            op::ACL => {
                let path = input.path();
                let req = if input.flag() {
                    Request::GetAcl { path }
                } else {
                    Request::SetAcl {
                        path,
                        acl: input.acl(),
                        version: input.version(),
                    }
                };
                self.send(conn, req);
            }
            op::WATCH_ADMIN => {
                let (path, kind) = (input.path(), input.pick(&[1, 2, 3, 0, 9]));
                let req = if input.flag() {
                    Request::CheckWatches { path, kind }
                } else {
                    Request::RemoveWatches { path, kind }
                };
                self.send(conn, req);
            }
            op::MISC_READ => {
                let req = match input.byte() % 5 {
                    0 => Request::Sync { path: input.path() },
                    1 => Request::GetEphemerals {
                        prefix: input.pick(&["", "/", "/a", "/e", " /a "]).to_owned(),
                    },
                    2 => Request::GetAllChildrenNumber { path: input.path() },
                    3 => Request::WhoAmI,
                    _ => Request::Check {
                        path: input.path(),
                        version: input.version(),
                    },
                };
                self.send(conn, req);
            }
            op::RAW_FRAME => self.raw_frame(conn, input),
            op::SASL => {
                let xid = self.xid();
                self.expect(conn, xid, Some(Request::Sasl), true);
                self.note(|| format!("conn {conn} xid {xid}: Sasl"));
                self.engine.request(conn, xid, Request::Sasl, self.now);
            }
            _ => unreachable!("opcode taken modulo COUNT"),
        }
        self.settle()
    }

    fn connect(&mut self, input: &mut Input<'_>) {
        let conn = self.next_conn;
        self.next_conn += 1;
        let resume = !self.sessions_seen.is_empty() && input.byte().is_multiple_of(3);
        let (session_id, passwd) = if resume {
            let s = self.sessions_seen[input.byte() as usize % self.sessions_seen.len()];
            let mut pw = zkd::session::password_for(s).to_vec();
            if input.byte().is_multiple_of(4) {
                pw[0] ^= 1;
            }
            (s, pw)
        } else {
            (0, vec![0; 16])
        };
        let last_zxid_seen = match input.byte() % 6 {
            0 => self.durable + 1,
            1 => self.durable,
            _ => 0,
        };
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen,
            timeout_ms: input.pick(&[10_000, 4_000, 0, 1_000, 30_000, 100_000, -5]),
            session_id,
            passwd,
            read_only: input.pick(&[Some(false), None, Some(true)]),
        };
        self.conns.insert(
            conn,
            HConn {
                state: ConnState::Handshaking,
                ordered: VecDeque::new(),
                immediate: Vec::new(),
                deferred: Vec::new(),
                session: resume.then_some(session_id),
                resuming: resume,
                may_refuse: resume || last_zxid_seen > self.durable,
                disorder: Vec::new(),
            },
        );
        self.note(|| format!("connect conn {conn}: {req:?}"));
        self.engine.connect(conn, LOCAL, req, self.now);
        if !resume {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.session = self.engine.session_of(conn);
            }
        }
    }

    fn disconnect(&mut self, conn: ConnId) {
        self.note(|| format!("disconnected conn {conn}"));
        self.engine.disconnected(conn);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.state = ConnState::Closed;
            c.ordered.clear();
            c.immediate.clear();
            c.deferred.clear();
        }
    }

    fn send(&mut self, conn: ConnId, req: Request) {
        let xid = self.xid();
        self.send_with_xid(conn, xid, req);
    }

    fn send_with_xid(&mut self, conn: ConnId, xid: i32, req: Request) {
        // 3.8 handles auth and SASL as they arrive, outside the pipeline.
        let immediate = matches!(req, Request::Auth { .. } | Request::Sasl);
        self.expect(conn, xid, Some(req.clone()), immediate);
        self.note(|| format!("conn {conn} xid {xid}: {req:?}"));
        self.engine.request(conn, xid, req, self.now);
    }

    fn expect(&mut self, conn: ConnId, xid: i32, request: Option<Request>, immediate: bool) {
        let c = self.conns.get_mut(&conn).expect("picked from open conns");
        let p = Pending { xid, request };
        // Nothing is answered before the handshake: 3.8 does not read the
        // connection until its session exists.
        if immediate && c.state == ConnState::Handshaking {
            c.deferred.push(p);
        } else if immediate {
            c.immediate.push(p);
        } else {
            c.ordered.push_back(p);
        }
    }

    /// A request frame with any opcode and a short body, decoded and
    /// dispatched exactly as the server's core does.
    fn raw_frame(&mut self, conn: ConnId, input: &mut Input<'_>) {
        let op = input.pick(&[
            1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 100, 101,
            102, 103, 104, 105, 106, 107, 0, 10, 23, 99, 108, -1, -10, -11, 1000,
        ]);
        let n = input.byte() % 24;
        let body: Vec<u8> = (0..n).map(|_| input.byte()).collect();
        let xid = self.xid();
        self.note(|| format!("conn {conn} xid {xid}: raw frame op {op} body {body:02x?}"));
        match Request::decode(op, &body) {
            Ok(req) => self.send_with_xid(conn, xid, req),
            Err(DecodeError::UnknownOp(_)) => {
                // 3.8 answers unknown opcodes at once (UnimplementedRequestProcessor).
                self.expect(conn, xid, None, true);
                self.engine.unknown_request(conn, xid);
            }
            Err(DecodeError::Malformed(..)) => {
                let immediate = self.tolerate.allows(deviation::MALFORMED_ORDER);
                self.expect(conn, xid, None, immediate);
                self.engine.malformed_request(conn, xid);
            }
        }
    }

    fn persist(&mut self, zxid: i64) -> Result<(), String> {
        if zxid < self.durable {
            return fail(format!(
                "harness bug: persist {zxid} below {}",
                self.durable
            ));
        }
        self.note(|| format!("persisted up to zxid {zxid}"));
        self.durable = zxid;
        while self.unsynced.front().is_some_and(|(h, _)| h.zxid <= zxid) {
            let (header, txn) = self.unsynced.pop_front().expect("non-empty");
            self.replay(&header, &txn)?;
        }
        self.engine.persisted(zxid, self.now);
        Ok(())
    }

    /// Applies a log record to the replica the way recovery would: from
    /// its encoded bytes.
    fn replay(&mut self, header: &TxnHeader, txn: &Txn) -> Result<(), String> {
        let mut w = Writer::new();
        header.encode(&mut w);
        txn.encode(&mut w);
        let bytes = w.into_vec();
        let mut r = Reader::new(&bytes);
        let h2 = TxnHeader::decode(&mut r).map_err(|e| format!("log header {header:?}: {e}"))?;
        let t2 = Txn::decode(h2.kind, &mut r).map_err(|e| format!("log record {txn:?}: {e}"))?;
        if h2 != *header || t2 != *txn || !r.is_empty() {
            return fail(format!(
                "log record does not round-trip: {header:?} {txn:?} came back as {h2:?} {t2:?} \
                 with {} bytes left",
                r.remaining()
            ));
        }
        let mut events = Vec::new();
        self.replica.apply(&h2, &t2, &mut events);
        Ok(())
    }

    /// Routes the engine's outputs as the core does, acknowledging
    /// persistence at once when delay is off, then drops closed
    /// connections and checks every invariant.
    fn settle(&mut self) -> Result<(), String> {
        loop {
            let outputs: Vec<Output> = self.engine.drain().collect();
            let quiet = outputs.is_empty();
            for o in outputs {
                self.observe(o)?;
            }
            match self.unsynced.back() {
                Some((h, _)) if self.auto_persist => {
                    let z = h.zxid;
                    self.persist(z)?;
                }
                _ if quiet => break,
                _ => {}
            }
        }
        for (id, c) in self.conns.iter_mut() {
            if let Some(p) = c.immediate.first() {
                if matches!(c.state, ConnState::Handshaking | ConnState::Ready) {
                    return fail(format!(
                        "conn {id}: {:?} (xid {}) was not answered at once",
                        p.request, p.xid
                    ));
                }
            }
            c.immediate.clear();
            if let Some(d) = c.disorder.first() {
                if matches!(c.state, ConnState::Handshaking | ConnState::Ready) {
                    return fail(format!("conn {id}: {d}"));
                }
            }
            c.disorder.clear();
        }
        let closing: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.state == ConnState::Closing)
            .map(|(id, _)| *id)
            .collect();
        for conn in closing {
            // What the core does once it has flushed a closing connection.
            self.disconnect(conn);
        }
        if self.engine.drain().next().is_some() {
            return fail("dropping closed connections produced output".into());
        }
        self.check_invariants()
    }

    fn observe(&mut self, o: Output) -> Result<(), String> {
        self.note(|| format!("   <- {o:?}"));
        match o {
            Output::Persist { header, txn } => {
                if header.zxid != self.last_persist_zxid + 1 {
                    return fail(format!(
                        "zxid {} handed out after {}: zxids must not skip or repeat",
                        header.zxid, self.last_persist_zxid
                    ));
                }
                self.last_persist_zxid = header.zxid;
                if header.kind == OpCode::CreateSession.code() {
                    self.create_session_zxid
                        .insert(header.client_id, header.zxid);
                } else if header.cxid > 0 {
                    self.write_zxid.insert(header.cxid, header.zxid);
                }
                self.unsynced.push_back((header, txn));
                Ok(())
            }
            Output::Forward(_) | Output::Revalidate { .. } | Output::SyncDone { .. } => fail(
                format!("a standalone engine produced an ensemble output: {o:?}"),
            ),
            Output::Connected {
                conn,
                response,
                close,
            } => self.on_connected(conn, response, close),
            Output::Reply {
                conn,
                xid,
                zxid,
                err,
                body,
            } => self.on_reply(conn, xid, zxid, err, body),
            Output::Event { conn, event } => {
                let early_ok = self.tolerate.allows(deviation::EARLY_REPLY);
                let c = self.live_conn(conn, "watch event")?;
                if c.state == ConnState::Handshaking && !early_ok {
                    c.disorder
                        .push(format!("event {event:?} before the handshake answer"));
                }
                // The event must encode as a frame, whatever its path.
                let mut w = Writer::new();
                zkd::proto::response::write_event(&mut w, &event);
                Ok(())
            }
            Output::Close { conn, reason } => {
                let c = self.live_conn(conn, "close")?;
                if reason == CloseReason::StaleServer && !c.may_refuse {
                    return fail(format!("conn {conn}: closed as stale server without cause"));
                }
                c.state = ConnState::Closing;
                Ok(())
            }
        }
    }

    fn live_conn(&mut self, conn: ConnId, what: &str) -> Result<&mut HConn, String> {
        match self.conns.get_mut(&conn) {
            None => fail(format!("{what} for conn {conn}, which never connected")),
            Some(c) if matches!(c.state, ConnState::Handshaking | ConnState::Ready) => Ok(c),
            Some(c) => fail(format!("{what} for conn {conn}, which is {:?}", c.state)),
        }
    }

    fn on_connected(
        &mut self,
        conn: ConnId,
        response: zkd::proto::connect::ConnectResponse,
        close: bool,
    ) -> Result<(), String> {
        let durable = self.durable;
        let (min, max) = (
            self.cfg.min_session_timeout_ms,
            self.cfg.max_session_timeout_ms,
        );
        let created = self.create_session_zxid.get(&response.session_id).copied();
        let c = self.live_conn(conn, "handshake answer")?;
        if c.state != ConnState::Handshaking {
            return fail(format!("conn {conn}: second handshake answer {response:?}"));
        }
        if close {
            if !c.may_refuse {
                return fail(format!("conn {conn}: new session refused: {response:?}"));
            }
            if response.session_id != 0 || response.timeout_ms != 0 {
                return fail(format!(
                    "conn {conn}: refusal must carry zeros: {response:?}"
                ));
            }
            c.state = ConnState::Closing;
            return Ok(());
        }
        if c.session != Some(response.session_id) {
            return fail(format!(
                "conn {conn}: handshake answer for session {:x}, expected {:x?}",
                response.session_id, c.session
            ));
        }
        if !c.resuming {
            match created {
                Some(z) if z <= durable => {}
                other => {
                    return fail(format!(
                        "conn {conn}: session {:x} answered before its createSession \
                         (zxid {other:?}) was durable (durable {durable})",
                        response.session_id
                    ))
                }
            }
        }
        let t = response.timeout_ms;
        if t < min as i32 || t > max as i32 {
            return fail(format!("conn {conn}: timeout {t} outside [{min}, {max}]"));
        }
        if response.passwd != zkd::session::password_for(response.session_id) {
            return fail(format!("conn {conn}: wrong password handed out"));
        }
        c.state = ConnState::Ready;
        let released = std::mem::take(&mut c.deferred);
        c.immediate.extend(released);
        let session = response.session_id;
        if !self.sessions_seen.contains(&session) {
            self.sessions_seen.push(session);
        }
        Ok(())
    }

    fn on_reply(
        &mut self,
        conn: ConnId,
        xid: i32,
        zxid: i64,
        err: ErrorCode,
        body: Response,
    ) -> Result<(), String> {
        let durable = self.durable;
        if zxid > durable {
            return fail(format!(
                "conn {conn}: reply to xid {xid} carries zxid {zxid}, durable is only {durable}"
            ));
        }
        if let Some(&z) = self.write_zxid.get(&xid) {
            if z > durable {
                return fail(format!(
                    "conn {conn}: write xid {xid} (zxid {z}) answered before durable ({durable})"
                ));
            }
        }
        let early_ok = self.tolerate.allows(deviation::EARLY_REPLY);
        let c = self.live_conn(conn, "reply")?;
        if c.state == ConnState::Handshaking && !early_ok {
            c.disorder.push(format!(
                "reply to xid {xid} ({err:?}) before the handshake answer"
            ));
        }
        let pending = if let Some(i) = c.immediate.iter().position(|p| p.xid == xid) {
            c.immediate.remove(i)
        } else if let Some(i) = c.deferred.iter().position(|p| p.xid == xid) {
            // Answered during the handshake: recorded as early above.
            c.deferred.remove(i)
        } else {
            match c.ordered.iter().position(|p| p.xid == xid) {
                Some(0) => c.ordered.pop_front().expect("non-empty"),
                Some(i) => {
                    let waiting: Vec<i32> = c.ordered.iter().take(i).map(|p| p.xid).collect();
                    let p = c.ordered.remove(i).expect("found");
                    c.disorder.push(format!(
                        "reply to xid {xid} ({}, {err:?}) overtook earlier xids {waiting:?}",
                        p.request
                            .as_ref()
                            .map_or("undecodable frame", |r| r.op().short_name())
                    ));
                    p
                }
                None => {
                    return fail(format!(
                    "conn {conn}: reply to xid {xid} ({err:?}, {body:?}) answers nothing pending"
                ))
                }
            }
        };
        let mut w = Writer::new();
        zkd::proto::response::write_reply(&mut w, xid, zxid, err, &body);
        match &pending.request {
            Some(req) => check_shape(req, err, &body)
                .map_err(|e| format!("conn {conn}: xid {xid} {req:?}: {e}")),
            None if err == ErrorCode::Ok => fail(format!(
                "conn {conn}: undecodable frame xid {xid} answered Ok: {body:?}"
            )),
            None => Ok(()),
        }
    }

    fn check_invariants(&mut self) -> Result<(), String> {
        let tree = self.engine.tree();
        if tree.last_zxid < self.last_zxid {
            return fail(format!(
                "last_zxid went back from {} to {}",
                self.last_zxid, tree.last_zxid
            ));
        }
        self.last_zxid = tree.last_zxid;
        if tree.last_zxid != self.durable {
            return fail(format!(
                "tree is at zxid {} but storage acknowledged {}",
                tree.last_zxid, self.durable
            ));
        }
        if self.engine.in_flight() != self.unsynced.len() {
            return fail(format!(
                "engine has {} transactions in flight, storage holds {} unacknowledged",
                self.engine.in_flight(),
                self.unsynced.len()
            ));
        }
        let open: HashSet<ConnId> = self.open_conns().into_iter().collect();
        check_tree(tree, &self.engine, &open)?;
        compare_trees(tree, &self.replica)?;
        if self.unsynced.is_empty() {
            for (id, c) in &self.conns {
                if !matches!(c.state, ConnState::Handshaking | ConnState::Ready) {
                    continue;
                }
                if c.state == ConnState::Handshaking {
                    return fail(format!(
                        "conn {id}: handshake never answered though all is durable"
                    ));
                }
                if let Some(p) = c.ordered.front() {
                    return fail(format!(
                        "conn {id}: xid {} ({:?}) never answered though all is durable",
                        p.xid, p.request
                    ));
                }
            }
        }
        Ok(())
    }

    /// Lets everything become durable and checks that all is answered.
    fn finish(&mut self) -> Result<(), String> {
        self.auto_persist = true;
        if let Some((h, _)) = self.unsynced.back() {
            let z = h.zxid;
            self.persist(z)?;
        }
        self.settle()
    }
}

fn create_request(input: &mut Input<'_>) -> Request {
    let op = input.pick(&[
        OpCode::Create,
        OpCode::Create2,
        OpCode::Create,
        OpCode::CreateContainer,
        OpCode::CreateTtl,
    ]);
    let path = input.path();
    let data = input.data();
    let acl = input.acl();
    let flags = match op {
        OpCode::CreateContainer => input.pick(&[4, 4, 0]),
        OpCode::CreateTtl => input.pick(&[5, 6, 5, 0]),
        _ => input.pick(&[0, 1, 2, 3, 0, 1, 7]),
    };
    let ttl = if op == OpCode::CreateTtl {
        input.pick(&[1_000, 10_000, 0, -1, 1 << 41])
    } else {
        -1
    };
    Request::Create(CreateRequest {
        op,
        path,
        data,
        acl,
        flags,
        ttl,
    })
}

fn multi_op(input: &mut Input<'_>) -> Request {
    match input.byte() % 9 {
        0..=2 => create_request(input),
        3 | 4 => Request::Delete {
            path: input.path(),
            version: input.version(),
        },
        5 => Request::SetData {
            path: input.path(),
            data: input.data(),
            version: input.version(),
        },
        6 | 7 => Request::Check {
            path: input.path(),
            version: input.version(),
        },
        _ => Request::GetData {
            path: input.path(),
            watch: false,
        },
    }
}

/// Reads a successful reply's body as the client would, from its wire
/// encoding (whatever `Response` variant carried it), and checks it is the
/// record the request expects, with nothing left over.
fn check_shape(req: &Request, err: ErrorCode, body: &Response) -> Result<(), String> {
    // A standalone check and reconfig (never Ok here) have no fixed shape.
    if err != ErrorCode::Ok || matches!(req, Request::Check { .. } | Request::Reconfig) {
        return Ok(());
    }
    let mut w = Writer::new();
    body.encode(&mut w);
    let bytes = w.into_vec();
    let mut r = Reader::new(&bytes);
    read_reply(req, &mut r)
        .map_err(|e| format!("successful reply {body:?} does not read as expected: {e}"))?;
    if !r.is_empty() {
        return fail(format!(
            "successful reply {body:?} has {} bytes past its record",
            r.remaining()
        ));
    }
    Ok(())
}

fn read_reply(req: &Request, r: &mut Reader<'_>) -> Result<(), String> {
    let e = |e: zkd::jute::JuteError| e.to_string();
    match req {
        Request::Create(c) => {
            r.string().map_err(e)?;
            if c.op != OpCode::Create {
                Stat::decode(r).map_err(e)?;
            }
        }
        Request::Delete { .. }
        | Request::Ping
        | Request::SetWatches(_)
        | Request::CheckWatches { .. }
        | Request::RemoveWatches { .. }
        | Request::CloseSession
        | Request::Auth { .. } => {}
        Request::Exists { .. } | Request::SetData { .. } | Request::SetAcl { .. } => {
            Stat::decode(r).map_err(e)?;
        }
        Request::GetData { .. } => {
            r.opt_buffer().map_err(e)?;
            Stat::decode(r).map_err(e)?;
        }
        Request::GetAcl { .. } => {
            r.vec::<Acl>().map_err(e)?;
            Stat::decode(r).map_err(e)?;
        }
        Request::GetChildren { .. } | Request::GetEphemerals { .. } => {
            r.vec::<String>().map_err(e)?;
        }
        Request::GetChildren2 { .. } => {
            r.vec::<String>().map_err(e)?;
            Stat::decode(r).map_err(e)?;
        }
        Request::Sync { path } => {
            let back = r.string().map_err(e)?;
            if &back != path {
                return fail(format!("sync of {path:?} answered for {back:?}"));
            }
        }
        Request::Multi(ops) | Request::MultiRead(ops) => {
            read_multi_results(ops.len(), matches!(req, Request::Multi(_)), r)?
        }
        Request::GetAllChildrenNumber { .. } => {
            r.i32().map_err(e)?;
        }
        Request::AddWatch { .. } => {
            let code = r.i32().map_err(e)?;
            if code != 0 {
                return fail(format!("addWatch answered Ok with error record {code}"));
            }
        }
        Request::WhoAmI => {
            r.vec::<ClientInfo>().map_err(e)?;
        }
        Request::Sasl => {
            r.opt_buffer().map_err(e)?;
        }
        Request::Check { .. } | Request::Reconfig => {}
    }
    Ok(())
}

/// A multi's results: (type, done, err) headers, each followed by its
/// result record, closed by a header with `done` set. A multi (not a
/// multiRead) is all or nothing: one error makes every result an error.
fn read_multi_results(ops: usize, atomic: bool, r: &mut Reader<'_>) -> Result<(), String> {
    let e = |e: zkd::jute::JuteError| e.to_string();
    let mut kinds = Vec::new();
    loop {
        let (kind, done, _err) = (
            r.i32().map_err(e)?,
            r.bool().map_err(e)?,
            r.i32().map_err(e)?,
        );
        if done {
            break;
        }
        match OpCode::from_i32(kind) {
            Some(OpCode::Create) => {
                r.string().map_err(e)?;
            }
            Some(OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl) => {
                r.string().map_err(e)?;
                Stat::decode(r).map_err(e)?;
            }
            Some(OpCode::Delete | OpCode::Check) => {}
            Some(OpCode::SetData) => {
                Stat::decode(r).map_err(e)?;
            }
            Some(OpCode::GetData) => {
                r.opt_buffer().map_err(e)?;
                Stat::decode(r).map_err(e)?;
            }
            Some(OpCode::GetChildren) => {
                r.vec::<String>().map_err(e)?;
            }
            Some(OpCode::Error) => {
                r.i32().map_err(e)?;
            }
            _ => return fail(format!("multi result of type {kind}")),
        }
        kinds.push(kind);
    }
    if kinds.len() != ops {
        return fail(format!("{} results for {ops} ops", kinds.len()));
    }
    let error = OpCode::Error.code();
    if atomic && kinds.contains(&error) && kinds.iter().any(|k| *k != error) {
        return fail(format!("multi partly applied: result types {kinds:?}"));
    }
    Ok(())
}

fn check_tree(tree: &DataTree, engine: &Engine, open: &HashSet<ConnId>) -> Result<(), String> {
    let root = tree.node("/").ok_or("the root is gone")?;
    if root.stat.ephemeral_owner != 0 {
        return fail("the root has an owner".into());
    }
    let mut child_counts: HashMap<&str, usize> = HashMap::new();
    let mut ephemerals: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    let (mut containers, mut ttls) = (BTreeSet::new(), BTreeSet::new());
    let mut size = 0u64;
    let mut acl_refs: HashSet<i64> = HashSet::new();
    for (p, node) in tree.iter() {
        size += (p.len() + node.data_len()) as u64;
        acl_refs.insert(node.acl);
        path::validate(p).map_err(|e| format!("node {p:?} has an invalid path: {e}"))?;
        let s = &node.stat;
        if s.czxid > s.mzxid
            || s.czxid > s.pzxid
            || s.mzxid > tree.last_zxid
            || s.pzxid > tree.last_zxid
        {
            return fail(format!(
                "node {p}: zxids out of order: {s:?} (last {})",
                tree.last_zxid
            ));
        }
        for child in &node.children {
            let cp = path::join(p, child);
            if tree.node(&cp).is_none() {
                return fail(format!(
                    "node {p} lists child {child:?}, which does not exist"
                ));
            }
        }
        if p != "/" {
            let parent = path::parent(p);
            let pn = tree
                .node(parent)
                .ok_or_else(|| format!("node {p} has no parent {parent}"))?;
            if !pn.children.contains(path::basename(p)) {
                return fail(format!("parent {parent} does not list {p}"));
            }
            *child_counts.entry(parent).or_default() += 1;
        }
        match tree.owner_kind(s.ephemeral_owner) {
            OwnerKind::Persistent => {}
            OwnerKind::Container => {
                containers.insert(p.to_owned());
            }
            OwnerKind::Ttl(_) => {
                ttls.insert(p.to_owned());
            }
            OwnerKind::Session(id) => {
                if engine.sessions().get(id).is_none() {
                    return fail(format!(
                        "ephemeral {p} belongs to session {id:x}, which is gone"
                    ));
                }
                if !node.children.is_empty() {
                    return fail(format!("ephemeral {p} has children {:?}", node.children));
                }
                ephemerals.entry(id).or_default().push(p.to_owned());
            }
        }
    }
    for (p, node) in tree.iter() {
        let counted = child_counts.get(p).copied().unwrap_or(0);
        let stat = tree.client_stat(node);
        if counted != node.children.len() || stat.num_children as usize != counted {
            return fail(format!(
                "node {p}: {counted} nodes below it, child set {}, numChildren {}",
                node.children.len(),
                stat.num_children
            ));
        }
    }
    for list in ephemerals.values_mut() {
        list.sort();
    }
    let indexed: BTreeMap<i64, Vec<String>> = tree.all_ephemerals().into_iter().collect();
    if indexed != ephemerals {
        return fail(format!(
            "ephemeral index {indexed:?} but nodes say {ephemerals:?}"
        ));
    }
    if tree.ephemeral_count() != ephemerals.values().map(Vec::len).sum::<usize>() {
        return fail("ephemeral count disagrees with the nodes".into());
    }
    let c: BTreeSet<String> = tree.containers().cloned().collect();
    let t: BTreeSet<String> = tree.ttl_nodes().cloned().collect();
    if c != containers || t != ttls {
        return fail(format!(
            "container/TTL indexes {c:?} {t:?}, nodes say {containers:?} {ttls:?}"
        ));
    }
    if tree.approximate_data_size() != size {
        return fail(format!(
            "approximate data size {} but nodes add up to {size}",
            tree.approximate_data_size()
        ));
    }
    for (id, _) in tree.acls.entries() {
        if !acl_refs.contains(&id) {
            return fail(format!("ACL {id} is kept but no node uses it"));
        }
    }
    for id in &acl_refs {
        if *id != zkd::tree::acl::OPEN_UNSAFE_ACL_ID
            && !tree.acls.entries().iter().any(|(i, _)| i == id)
        {
            return fail(format!("a node uses ACL {id}, which is not in the table"));
        }
    }
    for (name, table) in [("data", &tree.data_watches), ("child", &tree.child_watches)] {
        let by_path: BTreeSet<(String, ConnId)> = table
            .by_path()
            .into_iter()
            .flat_map(|(p, ws)| ws.into_iter().map(move |w| (p.to_owned(), w)))
            .collect();
        let by_watcher: BTreeSet<(String, ConnId)> = table
            .by_watcher()
            .into_iter()
            .flat_map(|(w, ps)| ps.into_iter().map(move |p| (p.to_owned(), w)))
            .collect();
        if by_path != by_watcher {
            return fail(format!(
                "{name} watch table disagrees with itself: {by_path:?} vs {by_watcher:?}"
            ));
        }
        if let Some((p, w)) = by_path.iter().find(|(_, w)| !open.contains(w)) {
            return fail(format!("{name} watch on {p} for conn {w}, which is closed"));
        }
    }
    Ok(())
}

fn compare_trees(live: &DataTree, replica: &DataTree) -> Result<(), String> {
    if live.last_zxid != replica.last_zxid {
        return fail(format!(
            "replayed log reaches zxid {}, the tree {}",
            replica.last_zxid, live.last_zxid
        ));
    }
    if live.node_count() != replica.node_count() {
        let a: BTreeSet<&str> = live.iter().map(|(p, _)| p).collect();
        let b: BTreeSet<&str> = replica.iter().map(|(p, _)| p).collect();
        return fail(format!("tree has nodes {a:?}, replayed log has {b:?}"));
    }
    for (p, n) in live.iter() {
        let r = replica
            .node(p)
            .ok_or_else(|| format!("{p} is in the tree but not in the replayed log"))?;
        if n.data != r.data
            || n.stat != r.stat
            || n.children != r.children
            || live.acl_of(n) != replica.acl_of(r)
        {
            return fail(format!(
                "{p} differs after replaying the log: tree {:?} {:?} {:?}, replay {:?} {:?} {:?}",
                n.stat,
                n.data,
                live.acl_of(n),
                r.stat,
                r.data,
                replica.acl_of(r)
            ));
        }
    }
    Ok(())
}
