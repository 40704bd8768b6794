//! Election connections between servers, speaking 3.8's QuorumCnxManager
//! protocol on the election port, and a driver that runs an
//! [`Election`](crate::quorum::election::Election) over them.
//!
//! Between two servers only one connection is kept: the one the larger id
//! opened. A server that calls a larger id says hello and hangs up, and
//! the larger one calls back; a server called by a smaller id hangs up and
//! calls back. Messages are length-prefixed bodies. Each peer has a send
//! queue that keeps only the newest message (an election only ever needs
//! the sender's latest vote), and a new connection first repeats the last
//! message sent to that peer if nothing newer waits, since it may have been
//! lost with the old connection. Sending to a peer without a connection
//! starts one.

mod driver;
mod hello;
mod settings;

pub use driver::{answer_while_settled, run_election_once};
pub use hello::{Hello, HelloError, PROTOCOL_V1, PROTOCOL_V2};
pub use settings::{peers, LinkSettings};

use bytes::Bytes;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, Notify};
use tokio::task::AbortHandle;

/// The largest message 3.8 accepts on an election connection.
pub const MAX_MESSAGE_BYTES: usize = 512 * 1024;
/// Messages kept per peer while they cannot be sent (3.8 keeps one).
pub const SEND_QUEUE_CAPACITY: usize = 1;
/// 3.8's default `cnxTimeout` for opening election connections.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The id an observer without one sends (Java's `Long.MAX_VALUE`); 3.8
/// gives each such caller a fresh negative id.
const ANONYMOUS_OBSERVER_ID: i64 = i64::MAX;

/// Election connections of one server. Cheap to clone; when the last
/// clone is dropped, the links shut down.
#[derive(Clone)]
pub struct ElectionLinks {
    inner: Arc<Inner>,
    _shutdown_on_drop: Arc<ShutdownOnDrop>,
}

/// The background tasks hold `Inner` too, so its own lifetime cannot say
/// when the user is done with the links; this guard's can.
struct ShutdownOnDrop(Arc<Inner>);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

struct Inner {
    my_id: u64,
    my_addr_string: String,
    peers: HashMap<u64, Vec<(String, u16)>>,
    connect_timeout: Duration,
    local_addr: SocketAddr,
    inbound: mpsc::UnboundedSender<(u64, Bytes)>,
    next_anonymous_id: AtomicI64,
    state: Mutex<LinkState>,
}

#[derive(Default)]
struct LinkState {
    queues: HashMap<u64, PeerQueue>,
    connections: HashMap<u64, Connection>,
    /// Peers with a connection attempt under way.
    connecting: HashSet<u64>,
    next_connection_id: u64,
    /// The accepting task; kept after shutdown so `close` can wait for it.
    listener: Option<tokio::task::JoinHandle<()>>,
    shut_down: bool,
}

struct PeerQueue {
    pending: VecDeque<Bytes>,
    last_sent: Option<Bytes>,
    wake: Arc<Notify>,
}

impl PeerQueue {
    fn new() -> Self {
        PeerQueue {
            pending: VecDeque::new(),
            last_sent: None,
            wake: Arc::new(Notify::new()),
        }
    }
}

/// A live connection's reader and writer tasks; aborting both closes it.
struct Connection {
    id: u64,
    tasks: [AbortHandle; 2],
}

impl Connection {
    fn close(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

impl ElectionLinks {
    /// Listens on `listen` (the server's election address, or 0.0.0.0 with
    /// `quorumListenOnAllIPs=true`) and returns the links and the stream of
    /// received `(sender id, body)` messages. `my_addr_string` is what the
    /// hello tells peers (`host:port`, several joined by `|`); `peers` maps
    /// each other server's id to its election addresses, tried in order.
    pub async fn start(
        my_id: u64,
        listen: SocketAddr,
        my_addr_string: String,
        peers: HashMap<u64, Vec<(String, u16)>>,
        connect_timeout: Duration,
    ) -> io::Result<(ElectionLinks, mpsc::UnboundedReceiver<(u64, Bytes)>)> {
        let listener = bind(listen).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot bind election port {listen}: {e}"))
        })?;
        let local_addr = listener.local_addr()?;
        let (inbound, received) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            my_id,
            my_addr_string,
            peers,
            connect_timeout,
            local_addr,
            inbound,
            next_anonymous_id: AtomicI64::new(-1),
            state: Mutex::new(LinkState::default()),
        });
        let accepting = tokio::spawn(accept_loop(Arc::clone(&inner), listener));
        inner.lock().listener = Some(accepting);
        tracing::info!(my_id, %local_addr, "accepting election connections");
        let guard = Arc::new(ShutdownOnDrop(Arc::clone(&inner)));
        Ok((
            ElectionLinks {
                inner,
                _shutdown_on_drop: guard,
            },
            received,
        ))
    }

    /// Queues `body` for peer `to` and connects if there is no connection.
    /// Never blocks. A message to ourselves comes straight back on the
    /// receive stream, as 3.8 loops it back.
    pub fn send(&self, to: u64, body: Bytes) {
        let inner = &self.inner;
        if to == inner.my_id {
            let _ = inner.inbound.send((to, body));
            return;
        }
        let connected = {
            let mut state = inner.lock();
            if state.shut_down {
                return;
            }
            let queue = state.queues.entry(to).or_insert_with(PeerQueue::new);
            while queue.pending.len() >= SEND_QUEUE_CAPACITY {
                queue.pending.pop_front();
            }
            queue.pending.push_back(body);
            queue.wake.notify_one();
            state.connections.contains_key(&to)
        };
        if !connected {
            connect_one(inner, to, None);
        }
    }

    /// Closes the listener and every connection; later sends are dropped.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }

    /// Shuts down and returns once the election port is released, so that
    /// new links can bind it again.
    pub async fn close(&self) {
        self.inner.shutdown();
        let listener = self.inner.lock().listener.take();
        if let Some(listener) = listener {
            let _ = listener.await;
        }
    }

    /// The address the listener is bound to (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Whether a connection to `peer` is up.
    pub fn is_connected(&self, peer: u64) -> bool {
        self.inner.lock().connections.contains_key(&peer)
    }
}

impl Inner {
    fn shutdown(&self) {
        let mut state = self.lock();
        state.shut_down = true;
        if let Some(listener) = &state.listener {
            listener.abort();
        }
        for (_, connection) in state.connections.drain() {
            connection.close();
        }
    }

    fn lock(&self) -> MutexGuard<'_, LinkState> {
        // A panic elsewhere while holding the lock leaves plain data behind;
        // keep going with it rather than poisoning every later send.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes over `stream` as the connection to `sid`, replacing any other.
    fn adopt(self: &Arc<Self>, sid: u64, reader: BufReader<OwnedReadHalf>, writer: OwnedWriteHalf) {
        let mut state = self.lock();
        if state.shut_down {
            return;
        }
        if let Some(old) = state.connections.remove(&sid) {
            old.close();
        }
        state.next_connection_id += 1;
        let id = state.next_connection_id;
        let wake = Arc::clone(&state.queues.entry(sid).or_insert_with(PeerQueue::new).wake);
        let writing = tokio::spawn(write_loop(Arc::clone(self), sid, id, writer, wake));
        let reading = tokio::spawn(read_loop(Arc::clone(self), sid, id, reader));
        let tasks = [writing.abort_handle(), reading.abort_handle()];
        state.connections.insert(sid, Connection { id, tasks });
        tracing::info!(
            my_id = self.my_id,
            peer = sid as i64,
            "election connection up"
        );
    }

    /// Drops connection `id` to `sid` if it is still the current one.
    fn forget(&self, sid: u64, id: u64) {
        let mut state = self.lock();
        if state.connections.get(&sid).is_some_and(|c| c.id == id) {
            if let Some(connection) = state.connections.remove(&sid) {
                connection.close();
            }
        }
    }

    fn close_connection_to(&self, sid: u64) {
        if let Some(connection) = self.lock().connections.remove(&sid) {
            connection.close();
        }
    }
}

fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As 3.8 does, so a restart can rebind while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

/// Opens a connection to `sid` unless one is up or being opened. `addrs`
/// overrides the configured addresses (a caller's hello names its own).
fn connect_one(inner: &Arc<Inner>, sid: u64, addrs: Option<Vec<(String, u16)>>) {
    {
        let mut state = inner.lock();
        if state.shut_down || state.connections.contains_key(&sid) || !state.connecting.insert(sid)
        {
            return;
        }
    }
    let addrs = addrs
        .filter(|a| !a.is_empty())
        .or_else(|| inner.peers.get(&sid).cloned())
        .unwrap_or_default();
    let inner = Arc::clone(inner);
    tokio::spawn(async move {
        if addrs.is_empty() {
            tracing::warn!(peer = sid as i64, "no election address known for server");
        } else if let Err(e) = call(&inner, sid, &addrs).await {
            tracing::debug!(peer = sid as i64, error = %e, "cannot open election connection");
        }
        inner.lock().connecting.remove(&sid);
    });
}

/// Calls `sid` at the first address that answers and says hello. Only a
/// call to a smaller id is kept; a larger one will call back.
async fn call(inner: &Arc<Inner>, sid: u64, addrs: &[(String, u16)]) -> io::Result<()> {
    let mut last_error = None;
    for (host, port) in addrs {
        let attempt = tokio::time::timeout(
            inner.connect_timeout,
            TcpStream::connect((host.as_str(), *port)),
        )
        .await;
        let stream = match attempt {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                last_error = Some(io::Error::new(e.kind(), format!("{host}:{port}: {e}")));
                continue;
            }
            Err(_) => {
                last_error = Some(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{host}:{port}: connect timed out"),
                ));
                continue;
            }
        };
        stream.set_nodelay(true)?;
        let (reader, mut writer) = stream.into_split();
        writer
            .write_all(&hello::encode(inner.my_id, &inner.my_addr_string))
            .await?;
        writer.flush().await?;
        if (sid as i64) > (inner.my_id as i64) {
            tracing::debug!(
                peer = sid as i64,
                "larger id: hanging up for it to call back"
            );
            return Ok(());
        }
        inner.adopt(sid, BufReader::new(reader), writer);
        return Ok(());
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no address")))
}

async fn accept_loop(inner: Arc<Inner>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, from)) => {
                tokio::spawn(answer(Arc::clone(&inner), stream, from));
            }
            Err(e) => {
                // Out of descriptors and the like: wait rather than spin.
                tracing::warn!(error = %e, "accepting an election connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Handles a call: read the hello, then keep the connection only if the
/// caller has the larger id; otherwise hang up and call it back.
async fn answer(inner: Arc<Inner>, stream: TcpStream, from: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let (reader, writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let hello = match tokio::time::timeout(inner.connect_timeout, hello::read(&mut reader)).await {
        Ok(Ok(hello)) => hello,
        Ok(Err(e)) => {
            tracing::warn!(%from, error = %e, "refused an election connection");
            return;
        }
        Err(_) => {
            tracing::warn!(%from, "no hello in time on an election connection");
            return;
        }
    };
    let sid = if hello.sid == ANONYMOUS_OBSERVER_ID {
        inner.next_anonymous_id.fetch_sub(1, Ordering::Relaxed)
    } else {
        hello.sid
    };
    let my_id = inner.my_id as i64;
    if sid < my_id {
        // The caller may have restarted: its old connection is dead.
        inner.close_connection_to(sid as u64);
        drop((reader, writer));
        connect_one(&inner, sid as u64, Some(hello.election_addrs));
    } else if sid == my_id {
        tracing::warn!(%from, "election connection from a server with our own id; check the configuration");
    } else {
        inner.adopt(sid as u64, reader, writer);
    }
}

async fn write_loop(
    inner: Arc<Inner>,
    sid: u64,
    id: u64,
    mut writer: OwnedWriteHalf,
    wake: Arc<Notify>,
) {
    let repeat = {
        let mut state = inner.lock();
        let queue = state.queues.entry(sid).or_insert_with(PeerQueue::new);
        if queue.pending.is_empty() {
            queue.last_sent.clone()
        } else {
            None
        }
    };
    if let Some(body) = repeat {
        if let Err(e) = write_frame(&mut writer, &body).await {
            tracing::debug!(peer = sid as i64, error = %e, "election connection broke");
            inner.forget(sid, id);
            return;
        }
    }
    loop {
        let next = {
            let mut state = inner.lock();
            let queue = state.queues.entry(sid).or_insert_with(PeerQueue::new);
            let next = queue.pending.pop_front();
            if next.is_some() {
                queue.last_sent.clone_from(&next);
            }
            next
        };
        match next {
            Some(body) => {
                if let Err(e) = write_frame(&mut writer, &body).await {
                    tracing::debug!(peer = sid as i64, error = %e, "election connection broke");
                    inner.forget(sid, id);
                    return;
                }
            }
            None => wake.notified().await,
        }
    }
}

async fn write_frame(writer: &mut OwnedWriteHalf, body: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as i32).to_be_bytes());
    frame.extend_from_slice(body);
    writer.write_all(&frame).await
}

async fn read_loop(inner: Arc<Inner>, sid: u64, id: u64, mut reader: BufReader<OwnedReadHalf>) {
    loop {
        let len = match reader.read_i32().await {
            Ok(len) => len,
            Err(e) => {
                tracing::debug!(peer = sid as i64, error = %e, "election connection closed");
                break;
            }
        };
        if len <= 0 || len as usize > MAX_MESSAGE_BYTES {
            tracing::error!(
                peer = sid as i64,
                len,
                "election message length out of range (1..={MAX_MESSAGE_BYTES}); closing that connection"
            );
            break;
        }
        let mut body = vec![0u8; len as usize];
        if let Err(e) = reader.read_exact(&mut body).await {
            tracing::debug!(peer = sid as i64, error = %e, "election connection closed mid-message");
            break;
        }
        if inner.inbound.send((sid, Bytes::from(body))).is_err() {
            break;
        }
    }
    inner.forget(sid, id);
}

#[cfg(test)]
mod tests;
