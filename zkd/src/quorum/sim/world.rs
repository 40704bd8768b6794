//! The simulated world: members, links, disks, clients and the clock.

use super::check::{History, Op, OpKind};
use super::Rng;
use crate::config::ServerSpec;
use crate::engine::{ConnId, Engine, EngineConfig, Now, Output};
use crate::proto::connect::ConnectRequest;
use crate::proto::request::{CreateRequest, Request};
use crate::proto::response::Response;
use crate::proto::{ErrorCode, OpCode};
use crate::quorum::election::ServerState;
use crate::quorum::messages::{LeaderMsg, LearnerMsg, Proposal};
use crate::quorum::peer::{Action, Epochs, LinkId, Peer, PeerConfig};
use crate::tree::DataTree;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

#[derive(Debug, Clone)]
pub struct SimOptions {
    pub members: usize,
    pub observers: usize,
    pub clients: usize,
    pub keys: usize,
    /// Per mille of election messages lost.
    pub drop_per_mille: u64,
    /// Per mille per 10 ms step: a crash, a restart, a partition, a heal,
    /// a quorum link broken.
    pub crash_per_mille: u64,
    pub partition_per_mille: u64,
    pub link_break_per_mille: u64,
    pub max_delay_ms: u64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            members: 3,
            observers: 0,
            clients: 3,
            keys: 3,
            drop_per_mille: 50,
            crash_per_mille: 4,
            partition_per_mille: 3,
            link_break_per_mille: 2,
            max_delay_ms: 15,
        }
    }
}

/// What one member keeps across crashes.
#[derive(Default)]
struct Disk {
    log: Vec<Proposal>,
    snapshot: Option<(DataTree, Vec<(i64, u32)>)>,
    epochs: Epochs,
}

struct Member {
    id: u64,
    up: bool,
    /// Bumped on every restart: events for an older life are dropped.
    life: u64,
    disk: Disk,
    /// Handed to the log, not yet synced: lost in a crash.
    unsynced: Vec<Proposal>,
    engine: Engine,
    peer: Peer,
    /// Client connection -> client index.
    conns: BTreeMap<ConnId, usize>,
}

#[derive(Debug)]
enum Event {
    Elect { from: u64, body: bytes::Bytes },
    Accepted { link: LinkId },
    LinkUp { link: LinkId },
    LinkClosed { link: LinkId, why: &'static str },
    ToLearner { link: LinkId, msg: LeaderMsg },
    ToLeader { link: LinkId, msg: LearnerMsg },
    Synced { zxid: i64 },
}

struct Scheduled {
    at: u64,
    seq: u64,
    node: u64,
    life: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

struct Link {
    learner: u64,
    leader: u64,
    open: bool,
    /// Delivery times keep TCP's order per direction.
    last_to_leader: u64,
    last_to_learner: u64,
}

struct Client {
    session: i64,
    member: Option<(u64, ConnId)>,
    /// The request in flight: (xid, op index in the history).
    pending: Option<(i32, usize)>,
    /// Step of a sync-then-read op.
    sync_then_read: bool,
    next_xid: i32,
    last_zxid: i64,
    /// Versions this client last read per key.
    seen_versions: HashMap<usize, i32>,
    waiting_connect: bool,
}

pub struct World {
    pub seed: u64,
    opts: SimOptions,
    rng: Rng,
    pub now: u64,
    members: Vec<Member>,
    servers: Vec<ServerSpec>,
    queue: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    links: BTreeMap<LinkId, Link>,
    next_link: LinkId,
    next_conn: ConnId,
    /// Members cut off from all others.
    isolated: HashSet<u64>,
    clients: Vec<Client>,
    pub history: History,
    /// Every proposal ever handed to a log, by zxid: no two may differ.
    proposals: BTreeMap<i64, String>,
    /// epoch -> leader that reached broadcast in it.
    leaders: BTreeMap<i64, u64>,
    pub trace: Vec<String>,
}

fn engine_config(id: u64) -> EngineConfig {
    EngineConfig {
        server_id: id,
        tick_ms: 100,
        min_session_timeout_ms: 2_000,
        max_session_timeout_ms: 20_000,
        ..EngineConfig::default()
    }
}

impl World {
    pub fn new(seed: u64, opts: SimOptions) -> World {
        let mut servers = Vec::new();
        for i in 1..=(opts.members + opts.observers) as u64 {
            let mut s = ServerSpec::new(i, format!("10.0.0.{i}"), 2888, 3888);
            if i as usize > opts.members {
                s.role = crate::config::PeerRole::Observer;
            }
            servers.push(s);
        }
        let mut world = World {
            seed,
            rng: Rng::new(seed),
            now: 1_000,
            members: Vec::new(),
            servers: servers.clone(),
            queue: BinaryHeap::new(),
            seq: 0,
            links: BTreeMap::new(),
            next_link: 1,
            next_conn: 1,
            isolated: HashSet::new(),
            clients: (0..opts.clients)
                .map(|_| Client {
                    session: 0,
                    member: None,
                    pending: None,
                    sync_then_read: false,
                    next_xid: 1,
                    last_zxid: 0,
                    seen_versions: HashMap::new(),
                    waiting_connect: false,
                })
                .collect(),
            history: History::default(),
            proposals: BTreeMap::new(),
            leaders: BTreeMap::new(),
            trace: Vec::new(),
            opts,
        };
        for s in &servers {
            let engine = Engine::new(engine_config(s.id), world.clock());
            let peer = Peer::new(world.peer_config(s.id), Epochs::default(), &engine);
            world.members.push(Member {
                id: s.id,
                up: false,
                life: 0,
                disk: Disk::default(),
                unsynced: Vec::new(),
                engine,
                peer,
                conns: BTreeMap::new(),
            });
        }
        world
    }

    fn peer_config(&self, id: u64) -> PeerConfig {
        PeerConfig {
            my_id: id,
            servers: self.servers.clone(),
            tick_ms: 100,
            init_limit: 10,
            sync_limit: 5,
            engine: engine_config(id),
            finalize_wait_ms: 50,
            max_notification_interval_ms: 800,
        }
    }

    fn clock(&self) -> Now {
        Now {
            wall_ms: 1_700_000_000_000 + self.now as i64,
            mono_ms: self.now,
        }
    }

    fn log(&mut self, line: String) {
        if self.trace.len() > 4000 {
            self.trace.drain(..1000);
        }
        self.trace.push(format!("{:>7} {line}", self.now));
    }

    fn idx(&self, id: u64) -> usize {
        (id - 1) as usize
    }

    fn schedule(&mut self, delay: u64, node: u64, event: Event) {
        let life = self.members[self.idx(node)].life;
        self.seq += 1;
        self.queue.push(Reverse(Scheduled {
            at: self.now + delay,
            seq: self.seq,
            node,
            life,
            event,
        }));
    }

    fn delay(&mut self) -> u64 {
        self.rng.range(1, self.opts.max_delay_ms)
    }

    fn reachable(&self, a: u64, b: u64) -> bool {
        a == b || (!self.isolated.contains(&a) && !self.isolated.contains(&b))
    }

    /// Starts (or restarts) a member from what its disk holds.
    pub fn start(&mut self, id: u64) {
        let now = self.clock();
        let i = self.idx(id);
        let (tree, sessions) = recover(&self.members[i].disk);
        let engine = Engine::with_tree(engine_config(id), tree, sessions, now);
        let peer = Peer::new(self.peer_config(id), self.members[i].disk.epochs, &engine);
        let m = &mut self.members[i];
        m.life += 1;
        m.up = true;
        m.engine = engine;
        m.peer = peer;
        m.unsynced.clear();
        m.conns.clear();
        let zxid = m.engine.tree().last_zxid;
        self.log(format!("start {id} at 0x{zxid:x}"));
        let m = &mut self.members[i];
        m.peer.start(&mut m.engine, now);
        self.drive(id);
    }

    /// kill -9: the unsynced tail of the log is lost, links and clients drop.
    pub fn crash(&mut self, id: u64) {
        let i = self.idx(id);
        if !self.members[i].up {
            return;
        }
        self.log(format!("crash {id}"));
        let m = &mut self.members[i];
        m.up = false;
        m.unsynced.clear();
        let conns: Vec<usize> = std::mem::take(&mut m.conns).into_values().collect();
        for c in conns {
            self.client_lost(c);
        }
        let mine: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, l)| l.open && (l.learner == id || l.leader == id))
            .map(|(k, _)| *k)
            .collect();
        for link in mine {
            self.break_link(link, "peer crashed");
        }
    }

    pub fn isolate(&mut self, id: u64) {
        self.log(format!("isolate {id}"));
        self.isolated.insert(id);
        let cut: Vec<LinkId> = self
            .links
            .iter()
            .filter(|(_, l)| l.open && (l.learner == id || l.leader == id))
            .map(|(k, _)| *k)
            .collect();
        for link in cut {
            self.break_link(link, "partitioned");
        }
    }

    pub fn heal(&mut self) {
        if !self.isolated.is_empty() {
            self.log("heal".into());
        }
        self.isolated.clear();
    }

    fn break_link(&mut self, link: LinkId, why: &'static str) {
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        if !l.open {
            return;
        }
        l.open = false;
        let (a, b) = (l.learner, l.leader);
        let d = self.delay();
        self.schedule(d, a, Event::LinkClosed { link, why });
        let d = self.delay();
        self.schedule(d, b, Event::LinkClosed { link, why });
    }

    /// Runs `ms` of simulated time with random faults when `faults`.
    pub fn run(&mut self, ms: u64, faults: bool) {
        let end = self.now + ms;
        while self.now < end {
            self.step(faults);
        }
    }

    fn step(&mut self, faults: bool) {
        let step_end = self.now + 10;
        while let Some(Reverse(next)) = self.queue.peek() {
            if next.at > step_end {
                break;
            }
            let Reverse(ev) = self.queue.pop().expect("peeked");
            self.now = self.now.max(ev.at);
            let i = self.idx(ev.node);
            if !self.members[i].up || self.members[i].life != ev.life {
                continue;
            }
            self.deliver(ev.node, ev.event);
            self.check_step();
        }
        self.now = step_end;
        let now = self.clock();
        for i in 0..self.members.len() {
            if self.members[i].up {
                let m = &mut self.members[i];
                m.peer.tick(&mut m.engine, now);
                let id = m.id;
                self.drive(id);
            }
        }
        self.clients_act();
        if faults {
            self.inject_faults();
        }
        self.check_step();
    }

    fn inject_faults(&mut self) {
        let n = self.members.len() as u64;
        if self.rng.chance(self.opts.crash_per_mille) {
            let id = self.rng.range(1, n);
            if self.members[self.idx(id)].up {
                self.crash(id);
            } else {
                self.start(id);
            }
        }
        // Crashed members come back after a while.
        if self.rng.chance(30) {
            let id = self.rng.range(1, n);
            if !self.members[self.idx(id)].up {
                self.start(id);
            }
        }
        if self.rng.chance(self.opts.partition_per_mille) {
            if self.isolated.is_empty() {
                let id = self.rng.range(1, n);
                self.isolate(id);
            } else {
                self.heal();
            }
        }
        if self.rng.chance(self.opts.link_break_per_mille) {
            let open: Vec<LinkId> = self
                .links
                .iter()
                .filter(|(_, l)| l.open)
                .map(|(k, _)| *k)
                .collect();
            if !open.is_empty() {
                let link = open[self.rng.range(0, open.len() as u64 - 1) as usize];
                self.break_link(link, "connection reset");
            }
        }
    }

    fn deliver(&mut self, node: u64, event: Event) {
        let now = self.clock();
        let i = self.idx(node);
        match event {
            Event::Elect { from, body, .. } => {
                let m = &mut self.members[i];
                m.peer.election_message(&mut m.engine, from, &body, now);
            }
            Event::Accepted { link, .. } => {
                if self.links.get(&link).is_some_and(|l| l.open) {
                    self.members[i].peer.link_accepted(link, now);
                }
            }
            Event::LinkUp { link, .. } => {
                if self.links.get(&link).is_some_and(|l| l.open) {
                    let m = &mut self.members[i];
                    m.peer.link_up(&mut m.engine, link, now);
                } else {
                    let m = &mut self.members[i];
                    m.peer.link_closed(&mut m.engine, link, "refused", now);
                }
            }
            Event::LinkClosed { link, why, .. } => {
                let m = &mut self.members[i];
                m.peer.link_closed(&mut m.engine, link, why, now);
            }
            Event::ToLearner { link, msg, .. } => {
                if self.links.get(&link).is_some_and(|l| l.open) {
                    let m = &mut self.members[i];
                    m.peer.from_leader(&mut m.engine, link, msg, now);
                }
            }
            Event::ToLeader { link, msg, .. } => {
                if self.links.get(&link).is_some_and(|l| l.open) {
                    let m = &mut self.members[i];
                    m.peer.from_learner(&mut m.engine, link, msg, now);
                }
            }
            Event::Synced { zxid, .. } => {
                let m = &mut self.members[i];
                let (done, rest): (Vec<Proposal>, Vec<Proposal>) =
                    m.unsynced.drain(..).partition(|p| p.zxid() <= zxid);
                m.unsynced = rest;
                m.disk.log.extend(done);
                m.peer.persisted(&mut m.engine, zxid, now);
            }
        }
        self.drive(node);
    }

    /// Carries out what the member's engine and peer asked for, until
    /// neither has anything left.
    fn drive(&mut self, id: u64) {
        let now = self.clock();
        let i = self.idx(id);
        loop {
            let m = &mut self.members[i];
            let outputs: Vec<Output> = m.engine.drain().collect();
            let mut client_outputs = Vec::new();
            for out in outputs {
                match out {
                    Output::Persist { .. }
                    | Output::Forward(_)
                    | Output::Revalidate { .. }
                    | Output::SyncDone { .. } => m.peer.engine_output(&mut m.engine, out, now),
                    other => client_outputs.push(other),
                }
            }
            let actions = m.peer.take_actions();
            if client_outputs.is_empty() && actions.is_empty() {
                break;
            }
            for out in client_outputs {
                self.client_output(id, out);
            }
            for action in actions {
                self.act(id, action);
            }
        }
    }

    fn act(&mut self, id: u64, action: Action) {
        let i = self.idx(id);
        match action {
            Action::Elect { to, body } => {
                if self.reachable(id, to) && !self.rng.chance(self.opts.drop_per_mille) {
                    let d = self.delay();
                    self.schedule(d, to, Event::Elect { from: id, body });
                }
            }
            Action::ConnectLeader { sid } => {
                let link = self.next_link;
                self.next_link += 1;
                let ok = self.reachable(id, sid) && self.members[self.idx(sid)].up && sid != id;
                self.links.insert(
                    link,
                    Link {
                        learner: id,
                        leader: sid,
                        open: ok,
                        last_to_leader: 0,
                        last_to_learner: 0,
                    },
                );
                let d = self.delay();
                if ok {
                    self.schedule(d, sid, Event::Accepted { link });
                    self.schedule(d + 1, id, Event::LinkUp { link });
                } else {
                    self.schedule(d, id, Event::LinkUp { link });
                }
            }
            Action::ToLearner { link, msg } => self.send_on(link, false, Some(msg), None),
            Action::ToLeader { link, msg } => self.send_on(link, true, None, Some(msg)),
            Action::CloseLink { link } => self.break_link(link, "closed"),
            Action::LinkTimeout { .. } => {}
            Action::Persist(p) => {
                let text = format!("{:?} {:?}", p.header, p.txn);
                let mut header = p.header;
                header.time = 0;
                let key = format!("{} {:?}", p.header.client_id, (header, &p.txn));
                match self.proposals.get(&p.zxid()) {
                    Some(existing) if *existing != key => panic!(
                        "seed {}: two different transactions with zxid 0x{:x}:\n  {existing}\n  {key}",
                        self.seed,
                        p.zxid()
                    ),
                    _ => {
                        self.proposals.insert(p.zxid(), key);
                    }
                }
                let _ = text;
                let zxid = p.zxid();
                self.members[i].unsynced.push(p);
                let d = self.rng.range(1, 4);
                self.schedule(d, id, Event::Synced { zxid });
            }
            Action::SaveAcceptedEpoch(e) => self.members[i].disk.epochs.accepted = e,
            Action::SaveCurrentEpoch(e) => self.members[i].disk.epochs.current = e,
            Action::TakeSnapshot => {
                let m = &mut self.members[i];
                let tree = m.engine.tree().snapshot_copy();
                let sessions = m.engine.sessions().all();
                m.disk.snapshot = Some((tree, sessions));
            }
            Action::TruncateAndReload { zxid } => {
                let now = self.clock();
                let m = &mut self.members[i];
                m.disk.log.retain(|p| p.zxid() <= zxid);
                m.unsynced.retain(|p| p.zxid() <= zxid);
                if m.disk
                    .snapshot
                    .as_ref()
                    .is_some_and(|(t, _)| t.last_zxid > zxid)
                {
                    m.disk.snapshot = None;
                }
                let (tree, sessions) = recover(&m.disk);
                m.engine = Engine::with_tree(engine_config(id), tree, sessions, now);
                m.peer.reloaded(&mut m.engine, now);
            }
            Action::ClientsReset => {
                let conns: Vec<usize> = std::mem::take(&mut self.members[i].conns)
                    .into_values()
                    .collect();
                for c in conns {
                    self.client_lost(c);
                }
            }
            Action::Serving => {
                let m = &self.members[i];
                let state = m.peer.state();
                if state == ServerState::Leading {
                    let epoch = m.peer.epochs().current;
                    if let Some(other) = self.leaders.insert(epoch, id) {
                        assert_eq!(
                            other, id,
                            "seed {}: two leaders in epoch {epoch}: {other} and {id}",
                            self.seed
                        );
                    }
                }
                self.log(format!("{id} serving as {state:?}"));
            }
            Action::Looking => self.log(format!("{id} looking")),
        }
    }

    fn send_on(
        &mut self,
        link: LinkId,
        to_leader: bool,
        down: Option<LeaderMsg>,
        up: Option<LearnerMsg>,
    ) {
        let d = self.delay();
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        if !l.open {
            return;
        }
        let (node, last) = if to_leader {
            (l.leader, &mut l.last_to_leader)
        } else {
            (l.learner, &mut l.last_to_learner)
        };
        let at = (self.now + d).max(*last);
        *last = at;
        let delay = at - self.now;
        let event = match (down, up) {
            (Some(msg), _) => Event::ToLearner { link, msg },
            (_, Some(msg)) => Event::ToLeader { link, msg },
            _ => return,
        };
        self.schedule(delay, node, event);
    }

    // ----- clients -----

    fn client_lost(&mut self, c: usize) {
        let client = &mut self.clients[c];
        client.member = None;
        client.waiting_connect = false;
        if let Some((_, op)) = client.pending.take() {
            self.history.ops[op].outcome_unknown(self.now);
        }
        client.sync_then_read = false;
    }

    fn clients_act(&mut self) {
        for c in 0..self.clients.len() {
            if self.clients[c].pending.is_some() || self.clients[c].waiting_connect {
                continue;
            }
            if !self.rng.chance(300) {
                continue;
            }
            match self.clients[c].member {
                None => self.client_connect(c),
                Some(_) => self.client_issue(c),
            }
        }
    }

    fn client_connect(&mut self, c: usize) {
        let n = self.members.len() as u64;
        let id = self.rng.range(1, n);
        let i = self.idx(id);
        if !self.members[i].up || !self.members[i].peer.is_serving() {
            return;
        }
        let conn = self.next_conn;
        self.next_conn += 1;
        let client = &mut self.clients[c];
        client.member = Some((id, conn));
        client.waiting_connect = true;
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: client.last_zxid,
            timeout_ms: 6_000,
            session_id: client.session,
            passwd: crate::session::password_for(client.session).to_vec(),
            read_only: Some(false),
        };
        let now = self.clock();
        let m = &mut self.members[i];
        m.conns.insert(conn, c);
        m.engine
            .connect(conn, IpAddr::V4(Ipv4Addr::LOCALHOST), req, now);
        self.drive(id);
    }

    fn client_issue(&mut self, c: usize) {
        let key = self.rng.range(0, self.opts.keys as u64 - 1) as usize;
        let path = format!("/k{key}");
        let roll = self.rng.range(0, 99);
        let client = &mut self.clients[c];
        let xid = client.next_xid;
        client.next_xid += 1;
        let (kind, request) = if roll < 15 {
            (
                OpKind::Create,
                Request::Create(CreateRequest {
                    op: OpCode::Create,
                    path: path.clone(),
                    data: Some(b"0".to_vec()),
                    acl: crate::jute::records::Acl::open_unsafe(),
                    flags: 0,
                    ttl: -1,
                }),
            )
        } else if roll < 55 {
            let version = client.seen_versions.get(&key).copied().unwrap_or(-1);
            let data = format!("c{c}x{xid}");
            (
                OpKind::Set {
                    expected: version,
                    data: data.clone(),
                },
                Request::SetData {
                    path: path.clone(),
                    data: Some(data.into_bytes()),
                    version,
                },
            )
        } else if roll < 80 {
            (
                OpKind::Read { synced: false },
                Request::GetData {
                    path: path.clone(),
                    watch: false,
                },
            )
        } else {
            client.sync_then_read = true;
            (
                OpKind::Read { synced: true },
                Request::Sync { path: path.clone() },
            )
        };
        let (id, conn) = client.member.expect("connected");
        let op = self.history.invoke(c, key, kind, self.now);
        self.clients[c].pending = Some((xid, op));
        let now = self.clock();
        let i = self.idx(id);
        let m = &mut self.members[i];
        m.engine.request(conn, xid, request, now);
        self.drive(id);
    }

    fn client_output(&mut self, id: u64, out: Output) {
        let i = self.idx(id);
        match out {
            Output::Connected {
                conn,
                response,
                close,
            } => {
                let Some(&c) = self.members[i].conns.get(&conn) else {
                    return;
                };
                let client = &mut self.clients[c];
                client.waiting_connect = false;
                if close || response.session_id == 0 {
                    // Expired: start over with a new session.
                    client.session = 0;
                    client.member = None;
                    self.members[i].conns.remove(&conn);
                } else {
                    client.session = response.session_id;
                }
            }
            Output::Reply {
                conn,
                xid,
                zxid,
                err,
                body,
            } => {
                let Some(&c) = self.members[i].conns.get(&conn) else {
                    return;
                };
                let client = &mut self.clients[c];
                client.last_zxid = client.last_zxid.max(zxid);
                let Some((pxid, op)) = client.pending else {
                    return;
                };
                if pxid != xid {
                    panic!(
                        "seed {}: client {c} got a reply for xid {xid} while waiting for {pxid}",
                        self.seed
                    );
                }
                if client.sync_then_read
                    && err == ErrorCode::Ok
                    && matches!(body, Response::Sync { .. })
                {
                    // The sync is done; now the read, on the same member.
                    client.sync_then_read = false;
                    let key = self.history.ops[op].key;
                    let xid = client.next_xid;
                    client.next_xid += 1;
                    client.pending = Some((xid, op));
                    let now = self.clock();
                    let m = &mut self.members[i];
                    m.engine.request(
                        conn,
                        xid,
                        Request::GetData {
                            path: format!("/k{key}"),
                            watch: false,
                        },
                        now,
                    );
                    return;
                }
                client.pending = None;
                client.sync_then_read = false;
                let key = self.history.ops[op].key;
                let (version, data) = match &body {
                    Response::GetData { data, stat } => (
                        Some(stat.version),
                        data.as_ref()
                            .map(|d| String::from_utf8_lossy(d).into_owned()),
                    ),
                    Response::Stat(stat) => (Some(stat.version), None),
                    _ => (None, None),
                };
                if let Some(v) = version {
                    client.seen_versions.insert(key, v);
                }
                if err == ErrorCode::BadVersion {
                    client.seen_versions.remove(&key);
                }
                if err == ErrorCode::SessionExpired || err == ErrorCode::SessionMoved {
                    client.session = 0;
                }
                self.history.ops[op].complete(self.now, err, zxid, version, data);
            }
            Output::Close { conn, .. } => {
                if let Some(c) = self.members[i].conns.remove(&conn) {
                    self.client_lost(c);
                }
            }
            Output::Event { .. } => {}
            other => panic!("seed {}: unexpected client output {other:?}", self.seed),
        }
    }

    // ----- checks -----

    fn check_step(&self) {
        for m in &self.members {
            if m.up && m.engine.tree().last_zxid > 0 {
                // Every applied transaction was proposed with exactly this content.
                let z = m.engine.tree().last_zxid;
                assert!(
                    self.proposals.contains_key(&z) || z == 0,
                    "seed {}: member {} applied 0x{z:x}, which nobody proposed",
                    self.seed,
                    m.id
                );
            }
        }
    }

    /// Heals, restarts everyone, and runs until all members serve the same
    /// tree; then judges the history.
    pub fn settle_and_check(&mut self) {
        self.heal();
        for id in 1..=self.members.len() as u64 {
            if !self.members[self.idx(id)].up {
                self.start(id);
            }
        }
        let mut waited = 0;
        loop {
            self.run(200, false);
            waited += 200;
            if self.converged() {
                break;
            }
            assert!(
                waited < 60_000,
                "seed {}: no convergence after 60 s of calm:\n{}\n{}",
                self.seed,
                self.describe(),
                self.trace
                    .iter()
                    .rev()
                    .take(60)
                    .rev()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        let trees: Vec<&DataTree> = self.members.iter().map(|m| m.engine.tree()).collect();
        super::check::same_trees(self.seed, &trees);
        self.history.check(self.seed, trees[0]);
    }

    fn converged(&self) -> bool {
        let serving = self.members.iter().all(|m| m.up && m.peer.is_serving());
        let leaders = self
            .members
            .iter()
            .filter(|m| m.peer.state() == ServerState::Leading)
            .count();
        if !serving || leaders != 1 {
            return false;
        }
        let last: HashSet<i64> = self
            .members
            .iter()
            .map(|m| m.engine.tree().last_zxid)
            .collect();
        let in_flight = self.members.iter().any(|m| m.engine.in_flight() > 0);
        last.len() == 1 && !in_flight && self.clients.iter().all(|c| c.pending.is_none())
    }

    pub fn describe(&self) -> String {
        self.members
            .iter()
            .map(|m| {
                format!(
                    "member {}: up={} state={:?} serving={} zxid=0x{:x} epochs={:?} log={} vote={} election={:?} clock={}",
                    m.id,
                    m.up,
                    m.peer.state(),
                    m.peer.is_serving(),
                    m.engine.tree().last_zxid,
                    m.peer.epochs(),
                    m.disk.log.len(),
                    m.peer.election().current_vote(),
                    m.peer.election().state(),
                    m.peer.election().logical_clock()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn leader(&self) -> Option<u64> {
        let l: Vec<u64> = self
            .members
            .iter()
            .filter(|m| m.up && m.peer.state() == ServerState::Leading && m.peer.is_serving())
            .map(|m| m.id)
            .collect();
        (l.len() == 1).then(|| l[0])
    }

    pub fn state_of(&self, id: u64) -> (ServerState, bool) {
        let m = &self.members[self.idx(id)];
        (m.peer.state(), m.peer.is_serving())
    }

    pub fn last_zxid(&self, id: u64) -> i64 {
        self.members[self.idx(id)].engine.tree().last_zxid
    }

    pub fn set_clients_active(&mut self, n: usize) {
        self.clients.truncate(n);
    }

    pub fn op(&self, i: usize) -> &Op {
        &self.history.ops[i]
    }
}

/// Rebuilds the tree from the snapshot and the log, as recovery does.
fn recover(disk: &Disk) -> (DataTree, Vec<(i64, u32)>) {
    let (tree, sessions) = match &disk.snapshot {
        Some((t, s)) => (t.snapshot_copy(), s.clone()),
        None => (DataTree::new(Default::default()), Vec::new()),
    };
    let mut engine = Engine::with_tree(
        engine_config(0),
        tree,
        sessions,
        Now {
            wall_ms: 0,
            mono_ms: 0,
        },
    );
    let mut log: Vec<&Proposal> = disk.log.iter().collect();
    log.sort_by_key(|p| p.zxid());
    for p in log {
        if p.zxid() > engine.tree().last_zxid {
            engine.apply_silently(
                &p.header,
                &p.txn,
                Now {
                    wall_ms: 0,
                    mono_ms: 0,
                },
            );
        }
    }
    engine.into_parts()
}
