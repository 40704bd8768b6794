//! One load scenario: connect the sessions, prepare their key spaces (unmeasured), then keep
//! `inflight` requests outstanding per session until the duration, count or key space ends.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::{sleep, timeout, Instant};
use zookeeper_client as zk;

use crate::layout::Layout;
use crate::prepare::{create_options, prepare_all, Plan};
use crate::procinfo::read_rss;
use crate::report::{Outcome, Stats};
use crate::util::Rng;
use crate::{LoadArgs, OpKind};

/// Default length of the duration-bound scenarios (set, get, children, mixed).
const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// Share of setData in the mixed scenarios, in percent.
const MIXED_SET_PERCENT: u64 = 10;
/// While a session reconnects every request fails at once; pausing keeps a worker from
/// spinning and from inflating the error count with one outage.
const CONNECTION_LOSS_BACKOFF: Duration = Duration::from_millis(10);

pub async fn run(args: &LoadArgs) -> Result<(), String> {
    let layout = Layout::new(&args.root, args.parents)?;
    let rss_before = args.rss_pid.map(read_rss).transpose()?;
    let per_session = args.ops.connections_per_session();
    let mut clients = connect_all(args, args.sessions * per_session).await?;
    // Sessions 0..N own the key spaces; a mixed-split run's companions N..2N only write.
    let writers = clients.split_off(args.sessions as usize);
    let payload: Arc<[u8]> = payload_bytes(args.payload as usize).into();
    let plan = Arc::new(Plan {
        layout: layout.clone(),
        kind: args.ops,
        znodes: args.znodes as usize,
        width: args.inflight as usize,
        op_timeout: args.op_timeout,
        payload: payload.clone(),
    });
    prepare_all(plan, &clients).await?;

    let limits = Arc::new(Limits::new(args));
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for (session, client) in clients.iter().enumerate() {
        let next_key = Arc::new(AtomicUsize::new(0));
        let writer = writers.get(session).unwrap_or(client);
        for slot in 0..args.inflight {
            let worker = Worker {
                client: client.clone(),
                writer: writer.clone(),
                kind: args.ops,
                layout: layout.clone(),
                session,
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
        connections: args.sessions * per_session,
        inflight: args.inflight,
        payload: args.payload,
        znodes_per_session: args.znodes,
        parents_per_session: args.parents,
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

/// Printable, so that a dump of the tree stays readable.
fn payload_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Session i (and its mixed-split companion, i + sessions) goes to server i mod the number
/// of servers, so that an ensemble's members share the sessions evenly.
async fn connect_all(args: &LoadArgs, count: u32) -> Result<Vec<zk::Client>, String> {
    let servers = server_list(&args.server)?;
    let mut pending = JoinSet::new();
    for session in 0..count as usize {
        let server = servers[(session % args.sessions as usize) % servers.len()].to_string();
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
    let mut clients: Vec<Option<zk::Client>> = vec![None; count as usize];
    while let Some(joined) = pending.join_next().await {
        let (session, client) = joined.map_err(|e| format!("connect task panicked: {e}"))??;
        clients[session] = Some(client);
    }
    Ok(clients.into_iter().flatten().collect())
}

/// "a:1,b:2" -> ["a:1", "b:2"]; each entry must be host:port.
pub fn server_list(text: &str) -> Result<Vec<&str>, String> {
    let servers: Vec<&str> = text.split(',').map(str::trim).collect();
    for server in &servers {
        let port = server
            .rsplit_once(':')
            .map(|(host, port)| (host, port.parse::<u16>()));
        if !matches!(port, Some((host, Ok(_))) if !host.is_empty()) {
            return Err(format!(
                "--server {text:?}: {server:?} is not host:port (servers are comma-separated)"
            ));
        }
    }
    Ok(servers)
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
    /// Where setData goes in a mixed run: `client` itself, or its mixed-split companion.
    writer: zk::Client,
    kind: OpKind,
    layout: Layout,
    session: usize,
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
                (i < self.znodes).then(|| self.layout.key_path(self.session, i))
            }
            OpKind::Children => Some(self.layout.session_dir(self.session)),
            OpKind::Set | OpKind::Get | OpKind::Mixed | OpKind::MixedSplit => {
                let i = self.rng.below(self.znodes as u64) as usize;
                Some(self.layout.key_path(self.session, i))
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
            OpKind::Mixed | OpKind::MixedSplit => {
                if self.rng.below(100) < MIXED_SET_PERCENT {
                    self.writer
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

#[cfg(test)]
mod tests {
    use super::server_list;

    #[test]
    fn server_lists_split_on_commas_and_need_ports() {
        assert_eq!(
            server_list("127.0.0.10:2181,127.0.0.11:2181").unwrap(),
            vec!["127.0.0.10:2181", "127.0.0.11:2181"]
        );
        assert_eq!(
            server_list("localhost:2181").unwrap(),
            vec!["localhost:2181"]
        );
        assert!(server_list("127.0.0.10").is_err());
        assert!(server_list("127.0.0.10:2181,").is_err());
        assert!(server_list(":2181").is_err());
        assert!(server_list("a:99999").is_err());
    }
}
