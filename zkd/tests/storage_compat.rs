//! zkd's dataDir format against Debian's Apache ZooKeeper 3.8, both ways:
//!
//! - a dataDir Apache wrote (snapshots, fuzzy ones included, and logs with
//!   their digests) is recovered by `zkd::storage::recover` to the tree
//!   Apache served, path for path: data, ACL and Stat;
//! - a dataDir zkd wrote (snapshot and logs) is loaded by Apache, which
//!   then serves the same tree, finds no digest mismatch, and keeps
//!   writing on it in a way zkd recovers again.
//!
//! Apache is started with `java` from Debian's jars and driven with kazoo
//! through `tests/storage/zk_client.py`. Each test prints why and passes
//! when Java, the jars or the kazoo virtualenv (tests/install-deps.sh) are
//! missing.

use bytes::Bytes;
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use zkd::jute::records::{perms, Acl, Id};
use zkd::proto::path;
use zkd::proto::txn::{Txn, TxnHeader};
use zkd::proto::OpCode;
use zkd::storage::digest::{tree_digest, DIGEST_VERSION};
use zkd::storage::{
    read_snapshot, recover, snapshot_file_name, write_snapshot, DataDirs, LogOptions,
    RecoverOptions, TxnDigest, TxnLogWriter,
};
use zkd::tree::acl::digest_id;
use zkd::tree::{ttl_owner, DataTree, TreeOptions};

const JARS: [&str; 3] = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
];
/// "super:test", as kazoo's harness sets it.
const SUPER_DIGEST: &str = "super:D/InIHSb7yEEbrWz8b9l71RjZJU=";
const START_TIMEOUT: Duration = Duration::from_secs(90);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

/// One JVM at a time: the machine has two cores.
static APACHE: Mutex<()> = Mutex::new(());

fn tree_options() -> TreeOptions {
    TreeOptions {
        extended_types: true,
    }
}

// ---------------------------------------------------------------- set-up

struct Tools {
    python: PathBuf,
    helper: PathBuf,
}

fn tools() -> Option<Tools> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let python = repo.join("tests/.venv/bin/python");
    let helper = repo.join("tests/storage/zk_client.py");
    let java = Command::new("java")
        .arg("-version")
        .stderr(Stdio::null())
        .status();
    let reason = if !java.is_ok_and(|s| s.success()) {
        Some("no working `java` on PATH".to_owned())
    } else if let Some(jar) = JARS.iter().find(|j| !Path::new(j).exists()) {
        Some(format!("{jar} is missing (apt-get install zookeeper)"))
    } else if !Command::new(&python)
        .args(["-c", "import kazoo"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        Some(format!(
            "{} cannot import kazoo (run tests/install-deps.sh)",
            python.display()
        ))
    } else {
        None
    };
    match reason {
        Some(r) => {
            eprintln!("skipping the Apache ZooKeeper compatibility test: {r}");
            None
        }
        None => Some(Tools { python, helper }),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Apache {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Apache {
    /// Runs ZooKeeperServerMain on `<dir>/data`, logging to `<dir>/server.log`.
    fn start(dir: &Path) -> Apache {
        let port = free_port();
        let data = dir.join("data");
        fs::create_dir_all(&data).unwrap();
        let cfg = dir.join("zoo.cfg");
        fs::write(
            &cfg,
            format!(
                "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 4lw.commands.whitelist=*\n",
                data.display()
            ),
        )
        .unwrap();
        let log4j = dir.join("log4j.properties");
        fs::write(
            &log4j,
            "log4j.rootLogger=INFO, CONSOLE\n\
             log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n\
             log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n\
             log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} - %-5p [%t:%C{1}@%L] - %m%n\n",
        )
        .unwrap();
        let log = dir.join("server.log");
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new("java")
            .arg(format!("-Dlog4j.configuration=file:{}", log4j.display()))
            .arg(format!("-Dzookeeper.log.dir={}", dir.display()))
            .arg("-Dzookeeper.admin.enableServer=false")
            // Small enough that the workload makes several snapshots (taken
            // while writes go on: fuzzy) and log files, and grows each log
            // file through several preallocation steps.
            .arg("-Dzookeeper.snapCount=20")
            .arg("-Dzookeeper.preAllocSize=64")
            .arg("-Dzookeeper.extendedTypesEnabled=true")
            .arg(format!(
                "-Dzookeeper.DigestAuthenticationProvider.superDigest={SUPER_DIGEST}"
            ))
            .arg("-Dfile.encoding=UTF-8")
            .arg("-Xmx256m")
            .arg("-cp")
            .arg(JARS.join(":"))
            .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start java");
        let mut apache = Apache { child, port, log };
        apache.wait_ready();
        apache
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "Apache ZooKeeper exited ({status}) during start-up:\n{}",
                    self.log_text()
                );
            }
            if four_letter(self.port, "ruok") == "imok"
                && four_letter(self.port, "srvr").contains("Mode: ")
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "Apache ZooKeeper did not start within {START_TIMEOUT:?}:\n{}",
            self.log_text()
        );
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, as a crash: nothing is flushed or snapshotted on the way out.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        self.kill();
    }
}

fn four_letter(port: u16, word: &str) -> String {
    let Ok(mut s) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2))
    else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(word.as_bytes()).is_err() {
        return String::new();
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

/// Runs the kazoo helper to completion, bounded by CLIENT_TIMEOUT.
fn helper(tools: &Tools, args: &[&str]) -> String {
    let mut child = Command::new(&tools.python)
        .arg(&tools.helper)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = read_lines(child.stdout.take().unwrap());
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("zk_client.py {args:?} did not finish within {CLIENT_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        status.success(),
        "zk_client.py {args:?} failed ({status}):\n{err}"
    );
    lines.into_iter().collect::<Vec<_>>().join("\n")
}

fn read_lines(out: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The workload client: it holds its session (and ephemerals) open until
/// dropped.
struct Workload {
    child: Child,
    stdin: Option<ChildStdin>,
    session: i64,
}

impl Workload {
    fn run(tools: &Tools, port: u16) -> Workload {
        let mut child = Command::new(&tools.python)
            .arg(&tools.helper)
            .args(["workload", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let lines = read_lines(child.stdout.take().unwrap());
        let line = lines
            .recv_timeout(CLIENT_TIMEOUT)
            .unwrap_or_else(|_| panic!("the workload did not finish within {CLIENT_TIMEOUT:?}"));
        let session = line
            .strip_prefix("READY ")
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected workload output {line:?}"));
        Workload {
            child,
            stdin,
            session,
        }
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- comparing

#[derive(Debug, PartialEq, Eq)]
struct Served {
    data: Option<Vec<u8>>,
    stat: Vec<i64>,
    acl: Vec<(i32, String, String)>,
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn utf8(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap()
}

/// Parses zk_client.py's dump.
fn parse_dump(text: &str) -> BTreeMap<String, Served> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("node ")) {
        let f: Vec<&str> = line.split(' ').collect();
        assert!(f.len() == 14 || f.len() == 15, "bad dump line {line:?}");
        let acl = f
            .get(14)
            .map(|a| {
                a.split(',')
                    .map(|e| {
                        let p: Vec<&str> = e.split('/').collect();
                        (p[0].parse().unwrap(), utf8(unhex(p[1])), utf8(unhex(p[2])))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let served = Served {
            data: (f[2] != "-").then(|| unhex(f[2])),
            stat: f[3..14].iter().map(|v| v.parse().unwrap()).collect(),
            acl,
        };
        out.insert(utf8(unhex(f[1])), served);
    }
    assert!(out.contains_key("/"), "the dump has no root:\n{text}");
    out
}

fn ours(tree: &DataTree) -> BTreeMap<String, Served> {
    tree.iter()
        .map(|(p, n)| {
            let s = tree.client_stat(n);
            let served = Served {
                // Apache (and kazoo) give null data to clients as null.
                data: n.data.as_ref().map(|d| d.to_vec()),
                stat: vec![
                    s.czxid,
                    s.mzxid,
                    s.ctime,
                    s.mtime,
                    s.version as i64,
                    s.cversion as i64,
                    s.aversion as i64,
                    s.ephemeral_owner,
                    s.data_length as i64,
                    s.num_children as i64,
                    s.pzxid,
                ],
                acl: tree
                    .acl_of(n)
                    .into_iter()
                    .map(|a| (a.perms, a.id.scheme, a.id.id))
                    .collect(),
            };
            (p.to_owned(), served)
        })
        .collect()
}

fn assert_matches(tree: &DataTree, served: &BTreeMap<String, Served>, what: &str) {
    let ours = ours(tree);
    let only_ours: Vec<_> = ours.keys().filter(|k| !served.contains_key(*k)).collect();
    let only_theirs: Vec<_> = served.keys().filter(|k| !ours.contains_key(*k)).collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "{what}: nodes only zkd has: {only_ours:?}; only Apache has: {only_theirs:?}"
    );
    for (p, theirs) in served {
        assert_eq!(
            &ours[p], theirs,
            "{what}: node {p} (zkd left, Apache right)"
        );
    }
}

fn copy_dir(from: &Path, to: &Path, keep: impl Fn(&str) -> bool) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if e.file_type().unwrap().is_file() && keep(&name) {
            fs::copy(e.path(), to.join(&name)).unwrap();
        }
    }
}

// ---------------------------------------------------------------- (a)

#[test]
fn a_data_dir_written_by_apache_is_recovered_to_what_apache_served() {
    let Some(tools) = tools() else { return };
    let _one_jvm = APACHE.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let mut apache = Apache::start(tmp.path());
    let workload = Workload::run(&tools, apache.port);
    let served = parse_dump(&helper(&tools, &["dump", &apache.port.to_string()]));
    apache.kill();
    let session = workload.session;
    drop(workload);
    assert_eq!(
        served["/app/lock"].stat[7], session,
        "the workload's ephemeral"
    );

    let dirs = DataDirs::new(tmp.path().join("data"), None);
    let version2 = dirs.snap_dir();
    let snapshots: Vec<String> = {
        let mut v: Vec<String> = fs::read_dir(&version2)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("snapshot."))
            .collect();
        v.sort();
        v
    };
    let logs = fs::read_dir(&version2)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("log.")
        })
        .count();
    assert!(
        snapshots.len() >= 3 && logs >= 2,
        "snapshots {snapshots:?}, {logs} log files"
    );

    // Recovery from each snapshot in turn, with the logs after it: the
    // startup snapshot (everything replayed from the logs, every record's
    // digest checked) and the fuzzy ones taken during the workload.
    let mut recovered_from = 0;
    for snap in &snapshots {
        let scratch = tmp.path().join(format!("from-{snap}"));
        copy_dir(&version2, &scratch.join("version-2"), |n| {
            n == snap || !n.starts_with("snapshot.")
        });
        if read_snapshot(&scratch.join("version-2").join(snap), tree_options()).is_err() {
            // SIGKILL may have cut off the snapshot being written.
            continue;
        }
        let r = recover(
            &DataDirs::new(&scratch, None),
            &RecoverOptions::new(tree_options()),
        )
        .unwrap_or_else(|e| panic!("recovering from {snap}: {e}"));
        assert_matches(&r.tree, &served, &format!("recovered from {snap}"));
        let s = &r.summary;
        assert_eq!(
            record_mismatches(s),
            0,
            "from {snap}: {s} {:?}",
            s.mismatch_zxids
        );
        assert!(s.digests_checked > 0, "from {snap}: {s}");
        assert!(
            r.sessions.iter().any(|(id, _)| *id == session),
            "{:?}",
            r.sessions
        );
        recovered_from += 1;
    }
    assert!(
        recovered_from >= 3,
        "only {recovered_from} snapshots loaded"
    );

    // And the dataDir as it is: the newest snapshot that loads, then logs.
    let r = recover(&dirs, &RecoverOptions::new(tree_options())).unwrap();
    assert_matches(&r.tree, &served, "recovered from the newest snapshot");
    assert_eq!(record_mismatches(&r.summary), 0, "{}", r.summary);
    assert!(r.summary.snapshot_zxid > 0, "{}", r.summary);
    eprintln!("recovered Apache's dataDir: {}", r.summary);
}

/// Digest mismatches in log records. 3.8 takes snapshots while it applies
/// transactions and records the digest of the last one it had finished
/// when the snapshot ended; a change applied during the write but not yet
/// counted leaves the snapshot's digest older than its content. 3.8 then
/// reports the same mismatch on loading that snapshot, so it is allowed
/// here, as long as every record's digest matches afterwards.
fn record_mismatches(s: &zkd::storage::RecoverySummary) -> u64 {
    s.digest_mismatches - u64::from(s.snapshot_digest_matched == Some(false))
}

// ---------------------------------------------------------------- (b)

/// Transactions as a server would log them, applied to a tree as we go.
struct History {
    tree: DataTree,
    sessions: BTreeMap<i64, u32>,
    next_zxid: i64,
    epoch: i64,
}

const SESSION: i64 = 0x0100_0000_0000_0001;
const CLOSED_SESSION: i64 = 0x0100_0000_0000_0002;

impl History {
    fn apply(&mut self, client: i64, kind: OpCode, txn: Txn) -> (TxnHeader, Txn, TxnDigest) {
        let hdr = TxnHeader {
            client_id: client,
            cxid: (self.next_zxid & 0xffff) as i32,
            zxid: (self.epoch << 32) | self.next_zxid,
            time: 1_700_000_000_000 + self.next_zxid * 1000,
            kind: kind.code(),
        };
        self.next_zxid += 1;
        match &txn {
            Txn::CreateSession { timeout_ms } => {
                self.sessions.insert(client, *timeout_ms as u32);
            }
            Txn::CloseSession { .. } => {
                self.sessions.remove(&client);
            }
            _ => {}
        }
        self.tree.apply(&hdr, &txn, &mut Vec::new());
        let digest = TxnDigest {
            version: DIGEST_VERSION,
            tree_digest: tree_digest(&self.tree),
        };
        (hdr, txn, digest)
    }

    fn create(&self, p: &str, data: Option<&[u8]>, acl: Vec<Acl>, ephemeral: bool) -> Txn {
        Txn::Create {
            path: p.into(),
            data: data.map(Bytes::copy_from_slice),
            acl,
            ephemeral,
            parent_cversion: self.tree.node(path::parent(p)).unwrap().stat.cversion + 1,
        }
    }

    fn seq(&self, parent: &str, prefix: &str) -> String {
        format!(
            "{parent}/{prefix}{:010}",
            self.tree.node(parent).unwrap().stat.cversion
        )
    }
}

fn step(h: &mut History, client: i64, kind: OpCode, txn: Txn, log: &mut TxnLogWriter) {
    let (hdr, txn, digest) = h.apply(client, kind, txn);
    // Every other record carries its digest, which Apache checks.
    log.append(&hdr, &txn, (hdr.zxid % 2 == 0).then_some(digest))
        .unwrap();
}

/// Our workload, in two halves around a snapshot.
fn our_history(dirs: &DataDirs) -> History {
    let mut h = History {
        tree: DataTree::new(tree_options()),
        sessions: BTreeMap::new(),
        next_zxid: 1,
        epoch: 0,
    };
    let log_opts = LogOptions {
        prealloc_bytes: 16 * 1024,
        size_limit_bytes: None,
    };
    let mut log = TxnLogWriter::open(&dirs.log_dir(), log_opts).unwrap();
    let open = Acl::open_unsafe;

    step(
        &mut h,
        SESSION,
        OpCode::CreateSession,
        Txn::CreateSession { timeout_ms: 30_000 },
        &mut log,
    );
    step(
        &mut h,
        CLOSED_SESSION,
        OpCode::CreateSession,
        Txn::CreateSession { timeout_ms: 6_000 },
        &mut log,
    );
    let t = h.create("/app", Some(b"application root"), open(), false);
    step(&mut h, SESSION, OpCode::Create, t, &mut log);
    let secret = vec![
        Acl {
            perms: perms::ALL,
            id: Id::new("digest", &digest_id("alice:secret")),
        },
        Acl {
            perms: perms::READ,
            id: Id::new("world", "anyone"),
        },
    ];
    let t = h.create("/app/secret", Some(b"s3cr3t"), secret, false);
    step(&mut h, SESSION, OpCode::Create, t, &mut log);
    let t = h.create("/app/null", None, open(), false);
    step(&mut h, SESSION, OpCode::Create2, t, &mut log);
    for _ in 0..3 {
        let p = h.seq("/app", "job-");
        let t = h.create(&p, Some(b"seq"), open(), false);
        step(&mut h, SESSION, OpCode::Create2, t, &mut log);
    }
    let t = h.create("/app/lock", Some(b""), open(), true);
    step(&mut h, SESSION, OpCode::Create, t, &mut log);
    let t = h.create("/app/gone", Some(b"x"), open(), true);
    step(&mut h, CLOSED_SESSION, OpCode::Create, t, &mut log);
    log.flush_and_sync(true).unwrap();

    // The snapshot, as a server takes one: roll the log, write the tree.
    log.roll().unwrap();
    let sessions: Vec<(i64, u32)> = h.sessions.iter().map(|(k, v)| (*k, *v)).collect();
    write_snapshot(&dirs.snap_dir(), &h.tree, &sessions, h.tree.last_zxid).unwrap();

    let box_cv = h.tree.node("/").unwrap().stat.cversion + 1;
    let t = Txn::CreateContainer {
        path: "/box".into(),
        data: Some(Bytes::from_static(b"c")),
        acl: open(),
        parent_cversion: box_cv,
    };
    step(&mut h, SESSION, OpCode::CreateContainer, t, &mut log);
    let t = h.create("/box/item", Some(b"i"), open(), false);
    step(&mut h, SESSION, OpCode::Create, t, &mut log);
    let ttl_cv = h.tree.node("/").unwrap().stat.cversion + 1;
    let t = Txn::CreateTtl {
        path: "/ttl".into(),
        data: Some(Bytes::from_static(b"t")),
        acl: open(),
        parent_cversion: ttl_cv,
        ttl: 3_600_000,
    };
    assert!(ttl_owner(3_600_000).is_some());
    step(&mut h, SESSION, OpCode::CreateTtl, t, &mut log);
    let multi = Txn::Multi(vec![
        (
            OpCode::Create.code(),
            h.create("/multi", Some(b"m"), open(), false),
        ),
        (
            OpCode::SetData.code(),
            Txn::SetData {
                path: "/app".into(),
                data: Some(Bytes::from_static(b"updated by multi")),
                version: 1,
            },
        ),
        (
            OpCode::Check.code(),
            Txn::Check {
                path: "/app/secret".into(),
                version: 0,
            },
        ),
    ]);
    step(&mut h, SESSION, OpCode::Multi, multi, &mut log);
    // A multi whose second op failed, logged as 3.8 logs it: the ops
    // before the failure as they were prepared, the failure as an error.
    let failed = Txn::Multi(vec![
        (
            OpCode::Create.code(),
            h.create("/never", Some(b"n"), open(), false),
        ),
        (OpCode::Error.code(), Txn::Error { err: -101 }),
    ]);
    step(&mut h, SESSION, OpCode::Multi, failed, &mut log);
    let t = Txn::SetAcl {
        path: "/app/secret".into(),
        acl: Acl::read_unsafe(),
        version: 1,
    };
    step(&mut h, SESSION, OpCode::SetAcl, t, &mut log);
    let first_job = "/app/job-0000000003".to_owned();
    assert!(h.tree.node(&first_job).is_some());
    step(
        &mut h,
        SESSION,
        OpCode::Delete,
        Txn::Delete { path: first_job },
        &mut log,
    );
    step(
        &mut h,
        SESSION,
        OpCode::Error,
        Txn::Error { err: -101 },
        &mut log,
    );
    let t = Txn::CloseSession {
        paths_to_delete: vec!["/app/gone".into()],
    };
    step(&mut h, CLOSED_SESSION, OpCode::CloseSession, t, &mut log);
    for i in 0..40 {
        let p = format!("/app/n{i:02}");
        let t = h.create(&p, Some(&vec![i as u8; i * 50]), open(), false);
        step(&mut h, SESSION, OpCode::Create, t, &mut log);
    }
    let t = Txn::SetData {
        path: "/app".into(),
        data: Some(Bytes::from_static(b"final")),
        version: 2,
    };
    step(&mut h, SESSION, OpCode::SetData, t, &mut log);
    log.close().unwrap();
    h
}

#[test]
fn a_data_dir_written_by_zkd_is_served_by_apache() {
    let Some(tools) = tools() else { return };
    let _one_jvm = APACHE.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let dirs = DataDirs::new(tmp.path().join("data"), None);
    dirs.prepare().unwrap();
    let h = our_history(&dirs);
    let snap_zxid = 10;
    assert!(dirs.snap_dir().join(snapshot_file_name(snap_zxid)).exists());

    let mut apache = Apache::start(tmp.path());
    let served = parse_dump(&helper(&tools, &["dump", &apache.port.to_string()]));
    assert_matches(&h.tree, &served, "Apache serving zkd's dataDir");
    let mntr = four_letter(apache.port, "mntr");
    assert!(
        mntr.lines().any(|l| l == "zk_digest_mismatches_count\t0"),
        "Apache found digest mismatches:\n{mntr}"
    );
    let log = apache.log_text();
    let ours = dirs.snap_dir().join(snapshot_file_name(snap_zxid));
    assert!(
        log.contains(&format!("Reading snapshot {}", ours.display())),
        "{log}"
    );
    assert!(
        log.contains(&format!("with zxid as 0x{snap_zxid:x}")),
        "Apache did not read our snapshot's digest:\n{log}"
    );
    for complaint in [
        "problem reading snap file",
        "CRC",
        "Digests are not matching",
        "digest mismatch",
        "Unable to load database",
        "partial",
        "Failed to process transaction",
        "highestZxid",
        "Unreasonable length",
        "Got EOF exception while reading the digest",
        "does not exist",
        "Digest version",
    ] {
        assert!(
            !log.contains(complaint),
            "Apache's log mentions {complaint:?}:\n{log}"
        );
    }

    for line in log
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
    {
        eprintln!("Apache: {line}");
    }

    // Apache keeps writing on our files; we recover what it served then.
    helper(&tools, &["more", &apache.port.to_string()]);
    let served_after = parse_dump(&helper(&tools, &["dump", &apache.port.to_string()]));
    apache.kill();

    // Apache's own start-up snapshot of our tree reads back as our tree.
    let startup = dirs.snap_dir().join(snapshot_file_name(h.tree.last_zxid));
    let reread = read_snapshot(&startup, tree_options()).unwrap();
    assert_matches(
        &reread.tree,
        &served,
        "Apache's start-up snapshot of zkd's tree",
    );

    let r = recover(&dirs, &RecoverOptions::new(tree_options())).unwrap();
    assert_matches(
        &r.tree,
        &served_after,
        "zkd recovering what Apache wrote on zkd's files",
    );
    assert_eq!(r.summary.digest_mismatches, 0, "{}", r.summary);
    assert!(r.summary.digests_checked > 0, "{}", r.summary);
    eprintln!("recovered the mixed dataDir: {}", r.summary);
}
