//! The quorum port's I/O shell: TCP links between a leader and its
//! learners, carrying [`QuorumPacket`]s and, after a SNAP packet, the
//! snapshot stream. Each link has a reader thread and a writer thread
//! (blocking I/O keeps the snapshot stream simple, and an ensemble has a
//! handful of peers); both report to one tokio channel of [`LinkEvent`]s
//! that the Zab core reads. Nothing here knows the protocol's states.
//!
//! Every link ends with exactly one event: `Closed`, or `ConnectFailed`
//! for a `connect` that never got a socket. No event of a link follows it.

mod listen;
mod threads;

use crate::proto::quorum::QuorumPacket;
use crate::tree::{DataTree, TreeOptions};
use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

pub use listen::ListenerHandle;

pub type LinkId = u64;

/// What happened on the links, in order per link.
pub enum LinkEvent {
    /// Leader side: a learner connected to our quorum port.
    Accepted {
        link: LinkId,
        remote: SocketAddr,
    },
    /// Learner side: `connect` reached the leader.
    Connected {
        link: LinkId,
    },
    /// `connect` reached none of the addresses; the link is gone.
    ConnectFailed {
        link: LinkId,
        error: String,
    },
    Packet {
        link: LinkId,
        packet: QuorumPacket,
    },
    /// Learner side: a SNAP packet and the snapshot stream after it,
    /// decoded by the reader thread. `tree.last_zxid` is `zxid`. Boxed,
    /// as in [`Outbound`], so every other event stays small in the queue.
    Snapshot {
        link: LinkId,
        zxid: i64,
        tree: Box<DataTree>,
        sessions: Vec<(i64, u32)>,
    },
    /// The link is gone: end of stream, a read or write error, a read
    /// timeout, a bad packet, or [`QuorumLinks::close`].
    Closed {
        link: LinkId,
        reason: String,
    },
}

impl LinkEvent {
    pub fn link(&self) -> LinkId {
        match self {
            LinkEvent::Accepted { link, .. }
            | LinkEvent::Connected { link }
            | LinkEvent::ConnectFailed { link, .. }
            | LinkEvent::Packet { link, .. }
            | LinkEvent::Snapshot { link, .. }
            | LinkEvent::Closed { link, .. } => *link,
        }
    }
}

impl std::fmt::Debug for LinkEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkEvent::Accepted { link, remote } => write!(f, "Accepted({link} from {remote})"),
            LinkEvent::Connected { link } => write!(f, "Connected({link})"),
            LinkEvent::ConnectFailed { link, error } => {
                write!(f, "ConnectFailed({link}: {error})")
            }
            LinkEvent::Packet { link, packet } => write!(
                f,
                "Packet({link}: {} zxid 0x{:x}, {} data bytes)",
                packet.type_name(),
                packet.zxid,
                packet.data.as_ref().map_or(0, |d| d.len())
            ),
            LinkEvent::Snapshot {
                link,
                zxid,
                tree,
                sessions,
            } => write!(
                f,
                "Snapshot({link}: zxid 0x{zxid:x}, {} nodes, {} sessions)",
                tree.node_count(),
                sessions.len()
            ),
            LinkEvent::Closed { link, reason } => write!(f, "Closed({link}: {reason})"),
        }
    }
}

/// What to send on a link.
pub enum Outbound {
    Packet(QuorumPacket),
    /// Leader side: a SNAP packet with this zxid, then the snapshot stream
    /// of `tree` (a [`DataTree::snapshot_copy`]), written by the writer
    /// thread so the caller does not wait for it. Boxed: a queued packet
    /// should not take a tree's room.
    Snapshot {
        zxid: i64,
        tree: Box<DataTree>,
        sessions: Vec<(i64, u32)>,
    },
}

/// The links of one server. Cloning shares them.
#[derive(Clone)]
pub struct QuorumLinks {
    shared: Arc<Shared>,
}

struct Shared {
    events: UnboundedSender<LinkEvent>,
    max_packet: usize,
    tree_options: TreeOptions,
    next_id: AtomicU64,
    links: Mutex<HashMap<LinkId, Registered>>,
}

struct Registered {
    link: Arc<Link>,
    outbound: std_mpsc::Sender<Outbound>,
}

/// One link's state, shared by its threads and the registry.
struct Link {
    id: LinkId,
    /// Held while an event of this link is sent, so that none follows the
    /// final one.
    state: Mutex<LinkState>,
    read_timeout: Mutex<Option<Duration>>,
}

struct LinkState {
    ended: bool,
    /// A handle on the socket once there is one, to shut it down from
    /// outside the threads blocked on it.
    stream: Option<TcpStream>,
    /// The peer's address, for logs.
    peer: String,
}

impl QuorumLinks {
    /// `max_packet` bounds every length field read (3.8: `jute.maxbuffer`
    /// plus `zookeeper.jute.maxbuffer.extrasize`, twice 0xfffff by default).
    pub fn new(events: UnboundedSender<LinkEvent>, max_packet: usize) -> Self {
        QuorumLinks::with_tree_options(events, max_packet, TreeOptions::default())
    }

    /// As [`QuorumLinks::new`], building received snapshots with `options`.
    pub fn with_tree_options(
        events: UnboundedSender<LinkEvent>,
        max_packet: usize,
        tree_options: TreeOptions,
    ) -> Self {
        QuorumLinks {
            shared: Arc::new(Shared {
                events,
                max_packet,
                tree_options,
                next_id: AtomicU64::new(1),
                links: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Listens on `addr`; every connection becomes a link announced by
    /// `Accepted`. Dropping the handle (or `stop`) stops accepting.
    pub fn listen(&self, addr: SocketAddr) -> std::io::Result<ListenerHandle> {
        listen::start_listener(self.shared.clone(), addr)
    }

    /// Connects to the first of `addrs` that answers within `timeout`,
    /// trying them in order, on a thread of its own. The outcome is an
    /// event: `Connected` (then the link carries packets) or
    /// `ConnectFailed`. Packets sent before that wait for the connection.
    pub fn connect(&self, addrs: Vec<SocketAddr>, timeout: Duration) -> LinkId {
        let peer = addrs
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join("|");
        let (link, outbound) = self.shared.register(peer);
        let id = link.id;
        let shared = self.shared.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("quorum-connect-{id}"))
            .spawn({
                let link = link.clone();
                move || threads::connect(shared, link, addrs, timeout, outbound)
            });
        if let Err(e) = spawned {
            self.shared.end(
                &link,
                End::ConnectFailed(format!("cannot start a connect thread: {e}")),
            );
        }
        id
    }

    /// Queues `out` for the link's writer; never blocks. Sending on a link
    /// that has ended does nothing: its `Closed` event is on its way.
    pub fn send(&self, link: LinkId, out: Outbound) {
        let sender = self
            .shared
            .registry()
            .get(&link)
            .map(|r| r.outbound.clone());
        match sender {
            Some(s) => {
                // Fails only once the writer has gone, i.e. the link ended.
                let _ = s.send(out);
            }
            None => tracing::debug!(link, "dropping a packet for an ended quorum link"),
        }
    }

    /// How long a read may wait for data before the link is closed (3.8:
    /// initLimit ticks while a learner syncs, syncLimit ticks after).
    /// `None` or zero waits forever. Takes effect within a fraction of a
    /// second, even for a read already waiting.
    pub fn set_read_timeout(&self, link: LinkId, timeout: Option<Duration>) {
        if let Some(l) = self.shared.link(link) {
            *lock(&l.read_timeout) = timeout.filter(|t| !t.is_zero());
        }
    }

    /// Ends the link: its socket is shut down, its threads end, and a
    /// `Closed` event follows unless it had already ended.
    pub fn close(&self, link: LinkId) {
        if let Some(l) = self.shared.link(link) {
            self.shared
                .end(&l, End::Closed("closed by this server".into()));
        }
    }
}

/// How a link ends, and so which event reports it.
enum End {
    Closed(String),
    ConnectFailed(String),
}

impl Shared {
    fn registry(&self) -> MutexGuard<'_, HashMap<LinkId, Registered>> {
        lock(&self.links)
    }

    fn link(&self, id: LinkId) -> Option<Arc<Link>> {
        self.registry().get(&id).map(|r| r.link.clone())
    }

    fn register(&self, peer: String) -> (Arc<Link>, std_mpsc::Receiver<Outbound>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let link = Arc::new(Link {
            id,
            state: Mutex::new(LinkState {
                ended: false,
                stream: None,
                peer,
            }),
            read_timeout: Mutex::new(None),
        });
        let (tx, rx) = std_mpsc::channel();
        self.registry().insert(
            id,
            Registered {
                link: link.clone(),
                outbound: tx,
            },
        );
        (link, rx)
    }

    /// Sends an event of a link that has not ended; `false` when it has
    /// (or nobody listens any more), which tells its thread to stop.
    fn emit(&self, link: &Link, event: LinkEvent) -> bool {
        let state = lock(&link.state);
        !state.ended && self.events.send(event).is_ok()
    }

    /// Attaches the connected socket to the link and announces it with
    /// `event`; `false` if the link ended meanwhile (the socket is shut).
    fn attach(&self, link: &Link, stream: TcpStream, peer: String, event: LinkEvent) -> bool {
        let mut state = lock(&link.state);
        if state.ended {
            let _ = stream.shutdown(Shutdown::Both);
            return false;
        }
        state.stream = Some(stream);
        state.peer = peer;
        self.events.send(event).is_ok()
    }

    /// Ends a link once: shuts its socket (waking both threads), forgets
    /// it (so its writer's queue closes), and sends the final event.
    fn end(&self, link: &Link, how: End) {
        let mut state = lock(&link.state);
        if state.ended {
            return;
        }
        state.ended = true;
        if let Some(s) = &state.stream {
            let _ = s.shutdown(Shutdown::Both);
        }
        self.registry().remove(&link.id);
        let event = match how {
            End::Closed(reason) => {
                tracing::info!(link = link.id, peer = %state.peer, %reason, "quorum link closed");
                LinkEvent::Closed {
                    link: link.id,
                    reason,
                }
            }
            End::ConnectFailed(error) => {
                tracing::warn!(link = link.id, peer = %state.peer, %error, "quorum connect failed");
                LinkEvent::ConnectFailed {
                    link: link.id,
                    error,
                }
            }
        };
        let _ = self.events.send(event);
    }
}

impl Link {
    fn read_timeout(&self) -> Option<Duration> {
        *lock(&self.read_timeout)
    }

    fn peer(&self) -> String {
        lock(&self.state).peer.clone()
    }
}

/// A poisoned lock here means a thread panicked mid-update of plain
/// bookkeeping that stays consistent; carry on with it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
