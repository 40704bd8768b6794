//! Behaviour seen through the `zookeeper-client` crate (a real Rust client) that the kazoo
//! suite does not reach: persistent and recursive watches, TTL and container nodes,
//! multiRead, getEphemerals, getAllChildrenNumber, whoAmI, exact Stat bookkeeping and
//! sequential naming.
//!
//! Each test spawns its own `zkd` on a free loopback port. With `ZK_TEST_SERVER=host:port`
//! the tests run against that server instead (which must have extended types enabled and a
//! short container check interval, see tests/bench/README.md); `ZK_TEST_SERVER_PLAIN` names a
//! server without extended types for the one test that needs it. Every test works under its
//! own unique path, so they can share a server and run in parallel.

use std::fs::File;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use zookeeper_client as zk;

/// Bound on any single request, event or connect.
const STEP: Duration = Duration::from_secs(10);
/// Bound on waiting for the server to delete an expired TTL node or an emptied container
/// (the test servers check every 100 ms).
const REAPING: Duration = Duration::from_secs(15);
/// The container check interval the test servers run with.
const CHECK_INTERVAL: Duration = Duration::from_millis(100);

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(STEP, fut).await {
        Ok(value) => value,
        Err(_) => panic!("{what}: nothing within {STEP:?}"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Flavor {
    /// extendedTypesEnabled (TTL nodes) on.
    Extended,
    /// Default settings: TTL creation is not implemented.
    Plain,
}

/// A server under test: a spawned zkd (killed on drop) or an external one from the env.
struct Server {
    addr: String,
    child: Option<Child>,
    log: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// None only when an external server was given for the extended flavor but none for the
    /// plain one: that test cannot run against a single external server.
    fn start(flavor: Flavor) -> Option<Server> {
        let var = match flavor {
            Flavor::Extended => "ZK_TEST_SERVER",
            Flavor::Plain => "ZK_TEST_SERVER_PLAIN",
        };
        if let Ok(addr) = std::env::var(var) {
            return Some(Server {
                addr,
                child: None,
                log: None,
                _dir: None,
            });
        }
        if std::env::var_os("ZK_TEST_SERVER").is_some() {
            return None;
        }
        Some(Server::spawn_zkd(flavor))
    }

    fn spawn_zkd(flavor: Flavor) -> Server {
        let dir = tempfile::tempdir().expect("create a temp dir for zkd");
        let port = free_port();
        let mut cfg = format!(
            "dataDir={data}\nclientPort={port}\nclientPortAddress=127.0.0.1\ntickTime=2000\n\
             4lw.commands.whitelist=*\nznode.container.checkIntervalMs={interval}\n",
            data = dir.path().join("data").display(),
            interval = CHECK_INTERVAL.as_millis(),
        );
        if flavor == Flavor::Extended {
            cfg.push_str("zookeeper.extendedTypesEnabled=true\n");
        }
        let cfg_path = dir.path().join("zoo.cfg");
        std::fs::write(&cfg_path, cfg).expect("write zoo.cfg");
        let log_path = dir.path().join("zkd.log");
        let log = File::create(&log_path).expect("create zkd.log");
        let child = Command::new(env!("CARGO_BIN_EXE_zkd"))
            .arg("--config")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn the zkd binary");
        let mut server = Server {
            addr: format!("127.0.0.1:{port}"),
            child: Some(child),
            log: Some(log_path),
            _dir: Some(dir),
        };
        server.wait_accepting(port);
        server
    }

    fn wait_accepting(&mut self, port: u16) {
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "zkd exited with {status} before accepting on {addr}; log:\n{}",
                    self.log_text()
                );
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "zkd did not accept on {addr} within 20s; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_else(|| "(no log)".into())
    }

    async fn client(&self) -> zk::Client {
        self.client_with(zk::Client::connector()).await
    }

    async fn client_with(&self, connector: zk::Connector) -> zk::Client {
        let connect = connector
            .with_session_timeout(Duration::from_secs(10))
            .connect(&self.addr);
        within(&format!("connect to {}", self.addr), connect)
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", self.addr))
    }

    /// A four-letter word's full reply (the server closes after answering).
    fn four_letter(&self, word: &str) -> String {
        let mut stream = TcpStream::connect(&self.addr)
            .unwrap_or_else(|e| panic!("{word}: connect to {}: {e}", self.addr));
        stream
            .set_read_timeout(Some(STEP))
            .expect("set read timeout");
        stream
            .write_all(word.as_bytes())
            .expect("send four-letter word");
        let mut reply = String::new();
        stream
            .read_to_string(&mut reply)
            .unwrap_or_else(|e| panic!("{word} reply from {}: {e}", self.addr));
        reply
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

fn with_mode(mode: zk::CreateMode) -> zk::CreateOptions<'static> {
    mode.with_acls(zk::Acls::anyone_all())
}

/// One test's server, session and private subtree.
struct Ctx {
    client: zk::Client,
    base: String,
    server: Server,
}

impl Ctx {
    async fn new(test: &str) -> Ctx {
        let server = Server::start(Flavor::Extended).expect("the extended server always exists");
        Ctx::on(server, test).await
    }

    async fn on(server: Server, test: &str) -> Ctx {
        let client = server.client().await;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos();
        let base = format!("/client-crate-{test}-{}-{nanos}", std::process::id());
        create(&client, &base, b"", &persistent()).await;
        Ctx {
            client,
            base,
            server,
        }
    }

    fn path(&self, rel: &str) -> String {
        format!("{}/{rel}", self.base)
    }

    /// Leaves a shared external server as it was found.
    async fn finish(self) {
        remove_tree(&self.client, &self.base).await;
    }
}

async fn create(
    client: &zk::Client,
    path: &str,
    data: &[u8],
    opts: &zk::CreateOptions<'_>,
) -> zk::Stat {
    within(&format!("create {path}"), client.create(path, data, opts))
        .await
        .unwrap_or_else(|e| panic!("create {path}: {e}"))
        .0
}

async fn get(client: &zk::Client, path: &str) -> (Vec<u8>, zk::Stat) {
    within(&format!("getData {path}"), client.get_data(path))
        .await
        .unwrap_or_else(|e| panic!("getData {path}: {e}"))
}

async fn exists(client: &zk::Client, path: &str) -> Option<zk::Stat> {
    within(&format!("exists {path}"), client.check_stat(path))
        .await
        .unwrap_or_else(|e| panic!("exists {path}: {e}"))
}

async fn delete(client: &zk::Client, path: &str) {
    within(&format!("delete {path}"), client.delete(path, None))
        .await
        .unwrap_or_else(|e| panic!("delete {path}: {e}"));
}

async fn children_sorted(client: &zk::Client, path: &str) -> Vec<String> {
    let mut names = within(&format!("getChildren {path}"), client.list_children(path))
        .await
        .unwrap_or_else(|e| panic!("getChildren {path}: {e}"));
    names.sort();
    names
}

async fn remove_tree(client: &zk::Client, root: &str) {
    // Depth-first without recursion: collect every path, then delete deepest first.
    let mut paths = vec![root.to_string()];
    let mut i = 0;
    while i < paths.len() {
        if let Ok(names) = within("cleanup getChildren", client.list_children(&paths[i])).await {
            let parent = paths[i].clone();
            paths.extend(names.into_iter().map(|n| format!("{parent}/{n}")));
        }
        i += 1;
    }
    for path in paths.iter().rev() {
        let _ = within("cleanup delete", client.delete(path, None)).await;
    }
}

async fn next_event(watcher: &mut zk::PersistentWatcher, what: &str) -> (zk::EventType, String) {
    let event = within(what, watcher.changed()).await;
    (event.event_type, event.path)
}

/// Polls until `path` is gone; false if it is still there after `REAPING`.
async fn gone_within(client: &zk::Client, path: &str, bound: Duration) -> bool {
    let deadline = Instant::now() + bound;
    loop {
        if exists(client, path).await.is_none() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(CHECK_INTERVAL / 2).await;
    }
}

/// Paths of one session's watches in a `wchc` reply ("0x<session>\n\t<path>\n...").
fn watched_paths(wchc: &str, session: zk::SessionId) -> Vec<String> {
    let header = format!("{:#x}", session.0);
    let mut paths = Vec::new();
    let mut ours = false;
    for line in wchc.lines() {
        if let Some(path) = line.strip_prefix('\t') {
            if ours {
                paths.push(path.trim().to_string());
            }
        } else {
            ours = line.trim() == header;
        }
    }
    paths
}

// ---------------------------------------------------------------------------------------
// Persistent and recursive watches (addWatch)
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn persistent_watch_fires_repeatedly_for_its_own_node_and_children() {
    let ctx = Ctx::new("persistent-watch").await;
    let c = &ctx.client;
    let node = ctx.path("w");
    let child = ctx.path("w/c");
    create(c, &node, b"", &persistent()).await;
    let mut w = within("addWatch", c.watch(&node, zk::AddWatchMode::Persistent))
        .await
        .expect("addWatch persistent");

    within("setData", c.set_data(&node, b"1", None))
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut w, "data change").await,
        (zk::EventType::NodeDataChanged, node.clone())
    );
    // The watch is not used up by the first event.
    within("setData", c.set_data(&node, b"2", None))
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut w, "second data change").await,
        (zk::EventType::NodeDataChanged, node.clone())
    );

    create(c, &child, b"", &persistent()).await;
    assert_eq!(
        next_event(&mut w, "child created").await,
        (zk::EventType::NodeChildrenChanged, node.clone())
    );
    // A plain persistent watch does not see a child's data; the next event must be the
    // child's deletion, seen as a change of the watched node's children.
    within("setData child", c.set_data(&child, b"x", None))
        .await
        .unwrap();
    delete(c, &child).await;
    assert_eq!(
        next_event(&mut w, "child deleted").await,
        (zk::EventType::NodeChildrenChanged, node.clone())
    );

    // It outlives the node itself.
    delete(c, &node).await;
    assert_eq!(
        next_event(&mut w, "node deleted").await,
        (zk::EventType::NodeDeleted, node.clone())
    );
    create(c, &node, b"", &persistent()).await;
    assert_eq!(
        next_event(&mut w, "node re-created").await,
        (zk::EventType::NodeCreated, node.clone())
    );
    drop(w);
    ctx.finish().await;
}

#[tokio::test]
async fn recursive_watch_sees_creates_changes_and_deletes_below_its_path() {
    let ctx = Ctx::new("recursive-watch").await;
    let c = &ctx.client;
    let top = ctx.path("r");
    let a = ctx.path("r/a");
    let b = ctx.path("r/a/b");
    create(c, &top, b"", &persistent()).await;
    let mut w = within(
        "addWatch",
        c.watch(&top, zk::AddWatchMode::PersistentRecursive),
    )
    .await
    .expect("addWatch recursive");

    create(c, &a, b"", &persistent()).await;
    assert_eq!(
        next_event(&mut w, "child created").await,
        (zk::EventType::NodeCreated, a.clone())
    );
    create(c, &b, b"", &persistent()).await;
    assert_eq!(
        next_event(&mut w, "grandchild created").await,
        (zk::EventType::NodeCreated, b.clone())
    );
    within("setData", c.set_data(&b, b"v", None)).await.unwrap();
    assert_eq!(
        next_event(&mut w, "grandchild data").await,
        (zk::EventType::NodeDataChanged, b.clone())
    );
    delete(c, &b).await;
    assert_eq!(
        next_event(&mut w, "grandchild deleted").await,
        (zk::EventType::NodeDeleted, b.clone())
    );
    within("setData", c.set_data(&top, b"t", None))
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut w, "own data").await,
        (zk::EventType::NodeDataChanged, top.clone())
    );

    // Nothing outside the subtree, and no NodeChildrenChanged in recursive mode: the next
    // event after these must be the create below.
    create(c, &ctx.path("outside"), b"", &persistent()).await;
    within("setData", c.set_data(&ctx.path("outside"), b"o", None))
        .await
        .unwrap();
    let z = ctx.path("r/z");
    create(c, &z, b"", &persistent()).await;
    assert_eq!(
        next_event(&mut w, "after unrelated changes").await,
        (zk::EventType::NodeCreated, z.clone())
    );
    drop(w);
    ctx.finish().await;
}

#[tokio::test]
async fn removed_persistent_watches_leave_the_server() {
    let ctx = Ctx::new("watch-removal").await;
    let c = &ctx.client;
    let plain = ctx.path("p");
    let recursive = ctx.path("r");
    create(c, &plain, b"", &persistent()).await;
    create(c, &recursive, b"", &persistent()).await;
    let session = c.session_id();

    let wp = within("addWatch", c.watch(&plain, zk::AddWatchMode::Persistent))
        .await
        .expect("addWatch persistent");
    let wr = within(
        "addWatch",
        c.watch(&recursive, zk::AddWatchMode::PersistentRecursive),
    )
    .await
    .expect("addWatch recursive");
    let mut listed = watched_paths(&ctx.server.four_letter("wchc"), session);
    listed.sort();
    assert_eq!(
        listed,
        vec![plain.clone(), recursive.clone()],
        "wchc before removal"
    );

    // An explicit removal is answered by the server (it says NoWatcher for a watch it
    // does not hold).
    #[allow(deprecated)]
    let removed = within("removeWatches", wr.remove()).await;
    removed.expect("removeWatches of the recursive watch");
    assert_eq!(
        watched_paths(&ctx.server.four_letter("wchc"), session),
        vec![plain.clone()],
        "wchc after removing the recursive watch"
    );

    // Dropping the watcher removes it too, without waiting for an answer.
    drop(wp);
    let deadline = Instant::now() + STEP;
    loop {
        let left = watched_paths(&ctx.server.four_letter("wchc"), session);
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "watches still listed: {left:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    ctx.finish().await;
}

// ---------------------------------------------------------------------------------------
// TTL and container nodes
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn ttl_node_expires_once_childless_and_untouched() {
    let ctx = Ctx::new("ttl").await;
    let c = &ctx.client;
    let ttl = Duration::from_millis(500);
    let opts = persistent().with_ttl(ttl);
    let node = ctx.path("ttl");
    let stat = create(c, &node, b"payload", &opts).await;
    // The server keeps the TTL in the owner field but shows clients 0 for anything that is
    // not a session-owned ephemeral.
    assert_eq!(stat.ephemeral_owner, 0, "create stat of a TTL node");
    assert_eq!(
        get(c, &node).await.1,
        stat,
        "getData stat equals the create stat"
    );
    create(c, &ctx.path("ttl/child"), b"", &persistent()).await;

    // Well past the TTL and many check intervals: a node with children is kept.
    tokio::time::sleep(ttl * 3).await;
    assert!(
        exists(c, &node).await.is_some(),
        "TTL node with a child was deleted"
    );

    delete(c, &ctx.path("ttl/child")).await;
    assert!(
        gone_within(c, &node, REAPING).await,
        "childless TTL node still there {REAPING:?} after its TTL"
    );

    // Sequential TTL nodes count from the parent's cversion like any other.
    let (seq_stat, seq) = within(
        "create sequential ttl",
        c.create(
            &ctx.path("seq-"),
            b"",
            &with_mode(zk::CreateMode::PersistentSequential).with_ttl(ttl),
        ),
    )
    .await
    .expect("create persistent sequential with TTL");
    assert_eq!(seq_stat.ephemeral_owner, 0);
    let seq_path = ctx.path(&format!("seq-{seq}"));
    assert!(exists(c, &seq_path).await.is_some(), "{seq_path} missing");
    assert!(
        gone_within(c, &seq_path, REAPING).await,
        "sequential TTL node still there {REAPING:?} after its TTL"
    );
    ctx.finish().await;
}

#[tokio::test]
async fn ttl_node_is_kept_while_it_is_modified() {
    let ctx = Ctx::new("ttl-touch").await;
    let c = &ctx.client;
    let ttl = Duration::from_millis(800);
    let node = ctx.path("ttl");
    create(c, &node, b"", &persistent().with_ttl(ttl)).await;
    // The TTL counts from the last modification: touching it every ttl/4 keeps it alive
    // for more than twice its TTL.
    let until = Instant::now() + ttl * 2 + ttl / 2;
    while Instant::now() < until {
        within("setData", c.set_data(&node, b"touch", None))
            .await
            .unwrap_or_else(|e| panic!("setData on a TTL node being kept alive: {e}"));
        tokio::time::sleep(ttl / 4).await;
    }
    assert!(
        gone_within(c, &node, REAPING).await,
        "TTL node still there {REAPING:?} after the last change"
    );
    ctx.finish().await;
}

#[tokio::test]
async fn ttl_create_is_unimplemented_without_extended_types() {
    let Some(server) = Server::start(Flavor::Plain) else {
        eprintln!("skipped: ZK_TEST_SERVER is set but ZK_TEST_SERVER_PLAIN is not");
        return;
    };
    let ctx = Ctx::on(server, "ttl-plain").await;
    let c = &ctx.client;
    let node = ctx.path("ttl");
    let result = within(
        "create ttl",
        c.create(&node, b"", &persistent().with_ttl(Duration::from_secs(5))),
    )
    .await;
    assert_eq!(result.unwrap_err(), zk::Error::Unimplemented);
    assert!(exists(c, &node).await.is_none(), "refused TTL node exists");
    // The session survives the refusal.
    create(c, &ctx.path("plain"), b"", &persistent()).await;
    ctx.finish().await;
}

#[tokio::test]
async fn container_is_deleted_after_its_last_child_goes() {
    let ctx = Ctx::new("container").await;
    let c = &ctx.client;
    let node = ctx.path("box");
    let stat = create(c, &node, b"", &with_mode(zk::CreateMode::Container)).await;
    // Like TTL nodes, containers are marked in the owner field, which clients see as 0.
    assert_eq!(stat.ephemeral_owner, 0, "container create stat");
    assert_eq!(get(c, &node).await.1, stat, "getData stat of a container");

    // A container that never had a child stays.
    tokio::time::sleep(CHECK_INTERVAL * 10).await;
    assert!(
        exists(c, &node).await.is_some(),
        "never-used container deleted"
    );

    create(c, &ctx.path("box/a"), b"", &persistent()).await;
    create(c, &ctx.path("box/b"), b"", &persistent()).await;
    delete(c, &ctx.path("box/a")).await;
    tokio::time::sleep(CHECK_INTERVAL * 5).await;
    assert!(
        exists(c, &node).await.is_some(),
        "container deleted while it still had a child"
    );

    let (_, watcher) = within("exists watch", c.check_and_watch_stat(&node))
        .await
        .expect("exists with watch");
    delete(c, &ctx.path("box/b")).await;
    let event = tokio::time::timeout(REAPING, watcher.changed())
        .await
        .unwrap_or_else(|_| panic!("emptied container not deleted within {REAPING:?}"));
    assert_eq!(
        (event.event_type, event.path),
        (zk::EventType::NodeDeleted, node.clone())
    );
    assert!(exists(c, &node).await.is_none());
    ctx.finish().await;
}

// ---------------------------------------------------------------------------------------
// multiRead, getEphemerals, getAllChildrenNumber, whoAmI
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn multi_read_answers_each_op_with_its_own_error() {
    let ctx = Ctx::new("multi-read").await;
    let c = &ctx.client;
    create(c, &ctx.path("a"), b"A", &persistent()).await;
    create(c, &ctx.path("b"), b"BB", &persistent()).await;
    create(c, &ctx.path("b/x"), b"", &persistent()).await;
    create(c, &ctx.path("b/y"), b"", &persistent()).await;
    let (_, a_stat) = get(c, &ctx.path("a")).await;
    let (_, b_stat) = get(c, &ctx.path("b")).await;

    let mut reader = c.new_multi_reader();
    reader.add_get_data(&ctx.path("a")).unwrap();
    reader.add_get_children(&ctx.path("missing")).unwrap();
    reader.add_get_data(&ctx.path("b")).unwrap();
    reader.add_get_children(&ctx.path("b")).unwrap();
    reader.add_get_data(&ctx.path("b/missing")).unwrap();
    reader.add_get_children(&ctx.path("a")).unwrap();
    let results = within("multiRead", reader.commit())
        .await
        .expect("multiRead as a whole succeeds");
    assert_eq!(results.len(), 6, "{results:?}");

    match &results[0] {
        zk::MultiReadResult::Data { data, stat } => {
            assert_eq!((data.as_slice(), *stat), (&b"A"[..], a_stat));
        }
        other => panic!("op 0: expected data, got {other:?}"),
    }
    match &results[1] {
        zk::MultiReadResult::Error { err } => assert_eq!(*err, zk::Error::NoNode),
        other => panic!("op 1: expected NoNode, got {other:?}"),
    }
    match &results[2] {
        zk::MultiReadResult::Data { data, stat } => {
            assert_eq!((data.as_slice(), *stat), (&b"BB"[..], b_stat));
        }
        other => panic!("op 2: expected data, got {other:?}"),
    }
    match &results[3] {
        zk::MultiReadResult::Children { children } => {
            let mut names = children.clone();
            names.sort();
            assert_eq!(names, vec!["x", "y"]);
        }
        other => panic!("op 3: expected children, got {other:?}"),
    }
    match &results[4] {
        zk::MultiReadResult::Error { err } => assert_eq!(*err, zk::Error::NoNode),
        other => panic!("op 4: expected NoNode, got {other:?}"),
    }
    match &results[5] {
        zk::MultiReadResult::Children { children } => assert!(children.is_empty()),
        other => panic!("op 5: expected no children, got {other:?}"),
    }
    ctx.finish().await;
}

#[tokio::test]
async fn get_ephemerals_lists_own_session_nodes_by_prefix() {
    let ctx = Ctx::new("ephemerals").await;
    let c = &ctx.client;
    let other = ctx.server.client().await;
    let eph = with_mode(zk::CreateMode::Ephemeral);
    create(c, &ctx.path("eph1"), b"", &eph).await;
    create(c, &ctx.path("eph2"), b"", &eph).await;
    create(c, &ctx.path("other"), b"", &eph).await;
    create(c, &ctx.path("ephP"), b"", &persistent()).await;
    let (_, seq) = within(
        "create ephemeral sequential",
        c.create(
            &ctx.path("eph-"),
            b"",
            &with_mode(zk::CreateMode::EphemeralSequential),
        ),
    )
    .await
    .expect("create ephemeral sequential");
    create(&other, &ctx.path("eph-foreign"), b"", &eph).await;

    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let by_prefix = within("getEphemerals", c.list_ephemerals(&ctx.path("eph")))
        .await
        .expect("getEphemerals with a name prefix");
    assert_eq!(
        sorted(by_prefix),
        vec![
            ctx.path(&format!("eph-{seq}")),
            ctx.path("eph1"),
            ctx.path("eph2")
        ],
        "the prefix matches names, not only whole path components"
    );
    let all_ours = within("getEphemerals /", c.list_ephemerals("/"))
        .await
        .expect("getEphemerals /");
    assert_eq!(
        sorted(all_ours),
        vec![
            ctx.path(&format!("eph-{seq}")),
            ctx.path("eph1"),
            ctx.path("eph2"),
            ctx.path("other")
        ]
    );
    let theirs = within("getEphemerals other", other.list_ephemerals(&ctx.base))
        .await
        .expect("getEphemerals of the other session");
    assert_eq!(theirs, vec![ctx.path("eph-foreign")]);
    let none = within(
        "getEphemerals none",
        c.list_ephemerals(&ctx.path("nothing")),
    )
    .await
    .expect("getEphemerals for a prefix nothing matches");
    assert!(none.is_empty(), "{none:?}");
    drop(other);
    ctx.finish().await;
}

#[tokio::test]
async fn get_all_children_number_counts_every_descendant() {
    let ctx = Ctx::new("all-children").await;
    let c = &ctx.client;
    for rel in ["t", "t/a", "t/a/b", "t/a/b/c", "t/d", "t/a/e"] {
        create(c, &ctx.path(rel), b"", &persistent()).await;
    }
    let count = |rel: &str| {
        let path = ctx.path(rel);
        async move { within("getAllChildrenNumber", c.count_descendants_number(&path)).await }
    };
    assert_eq!(count("t").await, Ok(5));
    assert_eq!(count("t/a").await, Ok(3));
    assert_eq!(count("t/a/b").await, Ok(1));
    assert_eq!(count("t/d").await, Ok(0));
    assert_eq!(count("t/none").await, Err(zk::Error::NoNode));
    delete(c, &ctx.path("t/a/b/c")).await;
    assert_eq!(count("t").await, Ok(4));
    ctx.finish().await;
}

#[tokio::test]
async fn who_am_i_lists_ip_and_digest_identities() {
    let ctx = Ctx::new("whoami").await;
    let c = &ctx.client;
    let users = |list: Vec<zk::AuthUser>| {
        let mut v: Vec<(String, String)> = list
            .iter()
            .map(|u| (u.scheme().to_string(), u.user().to_string()))
            .collect();
        v.sort();
        v
    };
    let ip = ("ip".to_string(), "127.0.0.1".to_string());

    let anonymous = within("whoAmI", c.list_auth_users()).await.expect("whoAmI");
    assert_eq!(users(anonymous), vec![ip.clone()]);

    within("addAuth", c.auth("digest", b"alice:secret"))
        .await
        .expect("addAuth digest");
    let authed = within("whoAmI", c.list_auth_users()).await.expect("whoAmI");
    assert_eq!(
        users(authed),
        vec![("digest".to_string(), "alice".to_string()), ip.clone()]
    );

    // Auth given at connect time shows up the same way.
    let bob = ctx
        .server
        .client_with(zk::Client::connector().with_auth("digest", b"bob:pw"))
        .await;
    let listed = within("whoAmI", bob.list_auth_users())
        .await
        .expect("whoAmI");
    assert_eq!(
        users(listed),
        vec![("digest".to_string(), "bob".to_string()), ip]
    );
    drop(bob);
    ctx.finish().await;
}

// ---------------------------------------------------------------------------------------
// Stat bookkeeping and sequential names
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn stat_fields_follow_a_create_set_delete_sequence() {
    let ctx = Ctx::new("stat").await;
    let c = &ctx.client;
    let parent = ctx.path("parent");
    let child = ctx.path("parent/child");
    let eph = ctx.path("parent/eph");

    let p0 = create(c, &parent, b"", &persistent()).await;
    assert_eq!(
        (p0.mzxid, p0.pzxid),
        (p0.czxid, p0.czxid),
        "fresh node: {p0:?}"
    );
    assert_eq!(
        (
            p0.version,
            p0.cversion,
            p0.aversion,
            p0.num_children,
            p0.data_length
        ),
        (0, 0, 0, 0, 0)
    );
    assert_eq!((p0.ephemeral_owner, p0.mtime), (0, p0.ctime));
    assert!(
        (p0.ctime - now_ms()).abs() < 60_000,
        "ctime {} is not the server's wall clock",
        p0.ctime
    );

    // create: the child's zxids are its own, the parent's pzxid follows it.
    let s1 = create(c, &child, b"abc", &persistent()).await;
    assert!(s1.czxid > p0.czxid, "{s1:?} after {p0:?}");
    assert_eq!((s1.mzxid, s1.pzxid), (s1.czxid, s1.czxid));
    assert_eq!(
        (
            s1.version,
            s1.cversion,
            s1.aversion,
            s1.data_length,
            s1.num_children
        ),
        (0, 0, 0, 3, 0)
    );
    assert_eq!((s1.ephemeral_owner, s1.mtime), (0, s1.ctime));
    let (data, g1) = get(c, &child).await;
    assert_eq!(
        (data.as_slice(), g1),
        (&b"abc"[..], s1),
        "getData after create"
    );
    assert_eq!(exists(c, &child).await, Some(s1), "exists after create");
    let p1 = get(c, &parent).await.1;
    assert_eq!(
        (p1.pzxid, p1.cversion, p1.num_children),
        (s1.czxid, 1, 1),
        "parent after create: {p1:?}"
    );
    assert_eq!(
        (p1.czxid, p1.mzxid, p1.version, p1.ctime, p1.mtime),
        (p0.czxid, p0.mzxid, 0, p0.ctime, p0.mtime),
        "a child create leaves the parent's data fields alone"
    );

    // setData: only mzxid, mtime, version and dataLength move.
    let s2 = within("setData", c.set_data(&child, b"hello!", Some(0)))
        .await
        .expect("setData with the right version");
    assert!(s2.mzxid > s1.mzxid, "{s2:?} after {s1:?}");
    assert_eq!(
        (
            s2.czxid,
            s2.pzxid,
            s2.ctime,
            s2.version,
            s2.cversion,
            s2.data_length
        ),
        (s1.czxid, s1.pzxid, s1.ctime, 1, 0, 6)
    );
    assert!(s2.mtime >= s1.mtime);
    assert_eq!(get(c, &child).await.1, s2, "getData after setData");
    assert_eq!(
        within("setData stale", c.set_data(&child, b"x", Some(0))).await,
        Err(zk::Error::BadVersion)
    );
    assert_eq!(
        get(c, &child).await,
        (b"hello!".to_vec(), s2),
        "a refused setData changed the node"
    );
    assert_eq!(
        get(c, &parent).await.1,
        p1,
        "setData on a child changed the parent"
    );

    // An ephemeral child carries the session id as owner.
    let e = create(c, &eph, b"", &with_mode(zk::CreateMode::Ephemeral)).await;
    assert_eq!(e.ephemeral_owner, c.session_id().0);
    assert!(e.czxid > s2.mzxid);
    let p2 = get(c, &parent).await.1;
    assert_eq!((p2.pzxid, p2.cversion, p2.num_children), (e.czxid, 2, 2));
    assert_eq!(
        within(
            "create under ephemeral",
            c.create(&format!("{eph}/x"), b"", &persistent())
        )
        .await
        .map(|_| ()),
        Err(zk::Error::NoChildrenForEphemerals)
    );

    // delete: version-checked; the parent's cversion, numChildren and pzxid move.
    assert_eq!(
        within("delete stale", c.delete(&child, Some(0))).await,
        Err(zk::Error::BadVersion)
    );
    assert_eq!(
        within("delete non-empty", c.delete(&parent, None)).await,
        Err(zk::Error::NotEmpty)
    );
    within("delete", c.delete(&child, Some(1)))
        .await
        .expect("delete with the right version");
    let p3 = get(c, &parent).await.1;
    assert_eq!(
        (p3.cversion, p3.num_children),
        (3, 1),
        "parent after delete: {p3:?}"
    );
    assert!(
        p3.pzxid > e.czxid,
        "pzxid must be the delete's zxid: {p3:?}"
    );
    assert_eq!(
        (p3.czxid, p3.mzxid, p3.version, p3.mtime),
        (p0.czxid, p0.mzxid, 0, p0.mtime)
    );
    let later = create(c, &ctx.path("later"), b"", &persistent()).await;
    assert!(
        later.czxid > p3.pzxid,
        "zxids go forward: {later:?} after {p3:?}"
    );
    assert_eq!(exists(c, &child).await, None);
    assert_eq!(
        within("getData deleted", c.get_data(&child)).await,
        Err(zk::Error::NoNode)
    );
    ctx.finish().await;
}

#[tokio::test]
async fn sequential_names_count_the_children_ever_created() {
    let ctx = Ctx::new("sequential").await;
    let c = &ctx.client;
    let dir = ctx.path("q");
    create(c, &dir, b"", &persistent()).await;
    let seq_create = |name: &str, mode: zk::CreateMode| {
        let path = format!("{dir}/{name}");
        async move { within("sequential create", c.create(&path, b"", &with_mode(mode))).await }
    };

    for expected in 0..3 {
        let (_, seq) = seq_create("item-", zk::CreateMode::PersistentSequential)
            .await
            .expect("persistent sequential create");
        assert_eq!(seq.into_i64(), expected);
        assert_eq!(seq.to_string(), format!("{expected:010}"));
    }
    // The counter is the number of children ever created, not the cversion clients see:
    // the server counts creates only and reports cversion as 2 * creates - numChildren
    // (each child still present has had no delete). A delete leaves the counter alone.
    create(c, &ctx.path("q/plain"), b"", &persistent()).await;
    delete(c, &ctx.path("q/plain")).await;
    let stat = get(c, &dir).await.1;
    assert_eq!(
        (stat.cversion, stat.num_children),
        (5, 3),
        "4 creates, 1 delete"
    );
    let (_, seq) = seq_create("item-", zk::CreateMode::EphemeralSequential)
        .await
        .expect("ephemeral sequential create");
    assert_eq!(seq.into_i64(), 4, "counter after 4 creates and a delete");
    // A bare counter as the name.
    let (_, seq) = seq_create("", zk::CreateMode::PersistentSequential)
        .await
        .expect("sequential create with an empty name prefix");
    assert_eq!(seq.into_i64(), 5);

    assert_eq!(
        children_sorted(c, &dir).await,
        vec![
            "0000000005",
            "item-0000000000",
            "item-0000000001",
            "item-0000000002",
            "item-0000000004"
        ]
    );
    let stat = get(c, &dir).await.1;
    assert_eq!(
        (stat.cversion, stat.num_children),
        (7, 5),
        "6 creates, 1 delete"
    );

    // The name comes from the counter alone: a node already holding the next name makes
    // the create fail, and the failure counts nothing.
    create(c, &ctx.path("q/item-0000000007"), b"", &persistent()).await;
    for _ in 0..2 {
        assert_eq!(
            seq_create("item-", zk::CreateMode::PersistentSequential)
                .await
                .map(|_| ()),
            Err(zk::Error::NodeExists)
        );
    }
    let stat = get(c, &dir).await.1;
    assert_eq!(
        (stat.cversion, stat.num_children),
        (8, 6),
        "failed sequential creates moved cversion"
    );
    ctx.finish().await;
}

#[test]
fn wchc_parser_picks_one_session() {
    let reply = "0x100\n\t/a\n\t/b\n0x2ab\n\t/c\n";
    assert_eq!(watched_paths(reply, zk::SessionId(0x100)), vec!["/a", "/b"]);
    assert_eq!(watched_paths(reply, zk::SessionId(0x2ab)), vec!["/c"]);
    assert!(watched_paths(reply, zk::SessionId(0x3)).is_empty());
}
