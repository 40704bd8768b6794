//! One load scenario: connect the sessions, prepare their key spaces (unmeasured), then keep
//! `inflight` requests outstanding per session until the duration, count or key space ends.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{sleep, timeout, Instant};
use zookeeper_client as zk;

use crate::procinfo::read_rss;
use crate::report::{Outcome, Stats};
use crate::util::Rng;
use crate::{LoadArgs, OpKind};

/// Default length of the duration-bound scenarios (set, get, children, mixed).
const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// Share of setData in the mixed scenario, in percent.
const MIXED_SET_PERCENT: u64 = 10;
/// While a session reconnects every request fails at once; pausing keeps a worker from
/// spinning and from inflating the error count with one outage.
const CONNECTION_LOSS_BACKOFF: Duration = Duration::from_millis(10);

pub async fn run(args: &LoadArgs) -> Result<(), String> {
    check_root(&args.root)?;
    let rss_before = args.rss_pid.map(read_rss).transpose()?;
    let clients = connect_all(args).await?;
    let payload: Arc<[u8]> = payload_bytes(args.payload as usize).into();
    create_ignoring_exists(&clients[0], &args.root, &[], args.op_timeout).await?;
    prepare_all(args, &clients, &payload).await?;

    let limits = Arc::new(Limits::new(args));
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for (session, client) in clients.iter().enumerate() {
        let next_key = Arc::new(AtomicUsize::new(0));
        for slot in 0..args.inflight {
            let worker = Worker {
                client: client.clone(),
                kind: args.ops,
                dir: session_dir(&args.root, session),
                znodes: args.znodes as usize,
                payload: payload.clone(),
                next_key: next_key.clone(),
                limits: limits.clone(),
                op_timeout: args.op_timeout,
                rng: Rng::new(((session as u64) << 32) | u64::from(slot)),
            };
            workers.spawn(worker.run());
        }
    }
    let mut stats = Stats::new();
    while let Some(joined) = workers.join_next().await {
        stats.merge(joined.map_err(|e| format!("a load worker panicked: {e}"))?);
    }
    let elapsed = started.elapsed();
    let rss_after = args.rss_pid.map(read_rss).transpose()?;

    let outcome = Outcome {
        label: args.label.as_deref().unwrap_or(args.ops.name()),
        server: &args.server,
        ops: args.ops.name(),
        sessions: args.sessions,
        inflight: args.inflight,
        payload: args.payload,
        znodes_per_session: args.znodes,
        elapsed,
        stats: &stats,
        rss_before,
        rss_after,
    };
    if args.json {
        println!("{}", outcome.to_json());
    } else {
        println!("{}", outcome.to_text());
    }
    if stats.ok_count() == 0 {
        return Err(format!(
            "no {} request succeeded against {}",
            args.ops.name(),
            args.server
        ));
    }
    Ok(())
}

fn check_root(root: &str) -> Result<(), String> {
    if !root.starts_with('/') || root.len() < 2 || root.ends_with('/') || root.contains("//") {
        return Err(format!(
            "--root '{root}' must be an absolute znode path below / (like /zkbench)"
        ));
    }
    Ok(())
}

fn session_dir(root: &str, session: usize) -> String {
    format!("{root}/s{session}")
}

fn key_path(dir: &str, index: usize) -> String {
    format!("{dir}/n{index}")
}

/// Printable, so that a dump of the tree stays readable.
fn payload_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

fn create_options() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

async fn connect_all(args: &LoadArgs) -> Result<Vec<zk::Client>, String> {
    let mut pending = JoinSet::new();
    for session in 0..args.sessions as usize {
        let server = args.server.clone();
        let session_timeout = args.session_timeout;
        pending.spawn(async move {
            let connect = zk::Client::connector()
                .with_session_timeout(session_timeout)
                .with_fail_eagerly()
                .connect(&server);
            let client = timeout(Duration::from_secs(15), connect)
                .await
                .map_err(|_| format!("session {session}: no session with {server} within 15s"))?
                .map_err(|e| format!("session {session}: cannot connect to {server}: {e}"))?;
            Ok::<_, String>((session, client))
        });
    }
    let mut clients: Vec<Option<zk::Client>> = vec![None; args.sessions as usize];
    while let Some(joined) = pending.join_next().await {
        let (session, client) = joined.map_err(|e| format!("connect task panicked: {e}"))??;
        clients[session] = Some(client);
    }
    Ok(clients.into_iter().flatten().collect())
}

async fn create_ignoring_exists(
    client: &zk::Client,
    path: &str,
    data: &[u8],
    op_timeout: Duration,
) -> Result<(), String> {
    let options = create_options();
    match timeout(op_timeout, client.create(path, data, &options)).await {
        Err(_) => Err(format!("create {path}: no answer within {op_timeout:?}")),
        Ok(Ok(_)) | Ok(Err(zk::Error::NodeExists)) => Ok(()),
        Ok(Err(e)) => Err(format!("create {path}: {e}")),
    }
}

/// Brings every session's directory into the state its scenario starts from: empty for
/// create, holding all of its keys for the others. Not measured.
async fn prepare_all(
    args: &LoadArgs,
    clients: &[zk::Client],
    payload: &Arc<[u8]>,
) -> Result<(), String> {
    let mut pending = JoinSet::new();
    for (session, client) in clients.iter().enumerate() {
        let client = client.clone();
        let dir = session_dir(&args.root, session);
        let kind = args.ops;
        let znodes = args.znodes as usize;
        let width = args.inflight as usize;
        let op_timeout = args.op_timeout;
        let payload = payload.clone();
        pending.spawn(async move {
            prepare_session(client, dir, kind, znodes, width, op_timeout, payload).await
        });
    }
    while let Some(joined) = pending.join_next().await {
        joined.map_err(|e| format!("prepare task panicked: {e}"))??;
    }
    Ok(())
}

async fn prepare_session(
    client: zk::Client,
    dir: String,
    kind: OpKind,
    znodes: usize,
    width: usize,
    op_timeout: Duration,
    payload: Arc<[u8]>,
) -> Result<(), String> {
    create_ignoring_exists(&client, &dir, &[], op_timeout).await?;
    let existing = timeout(op_timeout, client.list_children(&dir))
        .await
        .map_err(|_| format!("getChildren {dir}: no answer within {op_timeout:?}"))?
        .map_err(|e| format!("getChildren {dir}: {e}"))?;
    let paths: Vec<String> = if kind == OpKind::Create {
        existing
            .iter()
            .map(|name| format!("{dir}/{name}"))
            .collect()
    } else {
        let existing: std::collections::HashSet<&str> =
            existing.iter().map(String::as_str).collect();
        (0..znodes)
            .filter(|i| !existing.contains(format!("n{i}").as_str()))
            .map(|i| key_path(&dir, i))
            .collect()
    };
    let paths = Arc::new(paths);
    pipelined(width, paths.len(), move |i| {
        let client = client.clone();
        let paths = paths.clone();
        let payload = payload.clone();
        async move {
            let path = &paths[i];
            let answer = if kind == OpKind::Create {
                timeout(op_timeout, client.delete(path, None)).await
            } else {
                timeout(op_timeout, client.create(path, &payload, &create_options()))
                    .await
                    .map(|r| r.map(|_| ()))
            };
            match answer {
                Err(_) => Err(format!("prepare {path}: no answer within {op_timeout:?}")),
                Ok(Ok(())) | Ok(Err(zk::Error::NodeExists)) | Ok(Err(zk::Error::NoNode)) => Ok(()),
                Ok(Err(e)) => Err(format!("prepare {path}: {e}")),
            }
        }
    })
    .await
}

/// Runs `op(0..n)` with at most `width` calls outstanding; stops at the first error.
async fn pipelined<F, Fut>(width: usize, n: usize, op: F) -> Result<(), String>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let mut lanes = JoinSet::new();
    for _ in 0..width.max(1) {
        let (op, next, failed) = (op.clone(), next.clone(), failed.clone());
        lanes.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || failed.load(Ordering::Relaxed) {
                    return Ok(());
                }
                if let Err(e) = op(i).await {
                    failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        });
    }
    let mut first_error = None;
    while let Some(joined) = lanes.join_next().await {
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(format!("prepare lane panicked: {e}"));
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// When the measured phase ends: at a deadline, after a total number of operations, or (for
/// create and delete) when every key has been used.
struct Limits {
    deadline: Option<Instant>,
    remaining: Option<AtomicU64>,
}

impl Limits {
    fn new(args: &LoadArgs) -> Limits {
        let duration = match (args.duration, args.count) {
            (Some(d), _) => Some(d),
            (None, Some(_)) => None,
            (None, None) if args.ops.consumes_keys() => None,
            (None, None) => Some(DEFAULT_DURATION),
        };
        Limits {
            deadline: duration.map(|d| Instant::now() + d),
            remaining: args.count.map(AtomicU64::new),
        }
    }

    /// Claims one operation; false once the run is over.
    fn claim(&self) -> bool {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        match &self.remaining {
            None => true,
            Some(left) => left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }
}

struct Worker {
    client: zk::Client,
    kind: OpKind,
    dir: String,
    znodes: usize,
    payload: Arc<[u8]>,
    next_key: Arc<AtomicUsize>,
    limits: Arc<Limits>,
    op_timeout: Duration,
    rng: Rng,
}

impl Worker {
    async fn run(mut self) -> Stats {
        let mut stats = Stats::new();
        while self.limits.claim() {
            let Some(path) = self.next_path() else { break };
            let started = Instant::now();
            let answer = timeout(self.op_timeout, self.issue(&path)).await;
            match answer {
                Ok(Ok(())) => stats.record_ok(started.elapsed()),
                Ok(Err(e)) => {
                    let terminal = matches!(
                        e,
                        zk::Error::SessionExpired | zk::Error::ClientClosed | zk::Error::AuthFailed
                    );
                    let lost = matches!(e, zk::Error::ConnectionLoss);
                    stats.record_error(error_kind(&e));
                    if terminal {
                        break;
                    }
                    if lost {
                        sleep(CONNECTION_LOSS_BACKOFF).await;
                    }
                }
                Err(_) => {
                    // A server that leaves a request unanswered this long is broken for
                    // benchmarking; waiting out the rest of the key space would only
                    // stretch the run.
                    stats.record_error(format!("no answer within {:?}", self.op_timeout));
                    break;
                }
            }
        }
        stats
    }

    /// Create and delete walk the key space once per session; the others pick at random.
    fn next_path(&mut self) -> Option<String> {
        match self.kind {
            OpKind::Create | OpKind::Delete => {
                let i = self.next_key.fetch_add(1, Ordering::Relaxed);
                (i < self.znodes).then(|| key_path(&self.dir, i))
            }
            OpKind::Children => Some(self.dir.clone()),
            OpKind::Set | OpKind::Get | OpKind::Mixed => {
                let i = self.rng.below(self.znodes as u64) as usize;
                Some(key_path(&self.dir, i))
            }
        }
    }

    async fn issue(&mut self, path: &str) -> Result<(), zk::Error> {
        match self.kind {
            OpKind::Create => self
                .client
                .create(path, &self.payload, &create_options())
                .await
                .map(drop),
            OpKind::Delete => self.client.delete(path, None).await,
            OpKind::Set => self
                .client
                .set_data(path, &self.payload, None)
                .await
                .map(drop),
            OpKind::Get => self.client.get_data(path).await.map(drop),
            OpKind::Children => self.client.list_children(path).await.map(drop),
            OpKind::Mixed => {
                if self.rng.below(100) < MIXED_SET_PERCENT {
                    self.client
                        .set_data(path, &self.payload, None)
                        .await
                        .map(drop)
                } else {
                    self.client.get_data(path).await.map(drop)
                }
            }
        }
    }
}

/// Error kinds group the counts: the variant name, which is stable where messages vary,
/// except for the client's catch-all variants, whose message is the only information.
fn error_kind(e: &zk::Error) -> String {
    let debug = format!("{e:?}");
    let name: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    match name.as_str() {
        "" | "Custom" | "UnexpectedError" | "UnexpectedErrorCode" => e.to_string(),
        _ => name,
    }
}
