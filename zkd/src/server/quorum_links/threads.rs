//! The threads behind a link: the connector (learner side), and per
//! connected link a reader and a writer.

use super::{lock, End, Link, LinkEvent, Outbound, Shared};
use crate::proto::quorum::{PacketType, QuorumPacket, QuorumReadError};
use crate::storage::{read_snapshot_stream, write_snapshot_stream};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

const READ_BUFFER: usize = 64 * 1024;
const WRITE_BUFFER: usize = 256 * 1024;
/// How often a blocked read wakes to look at the link's read timeout, so
/// that a timeout set while it waits applies to that wait too.
const TIMEOUT_POLL: Duration = Duration::from_millis(250);

/// Which end of the Zab conversation this link is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// We accepted it: the peer is a learner.
    Leader,
    /// We connected: the peer is the leader, who may send a SNAP stream.
    Learner,
}

pub(super) fn connect(
    shared: Arc<Shared>,
    link: Arc<Link>,
    addrs: Vec<SocketAddr>,
    timeout: Duration,
    outbound: Receiver<Outbound>,
) {
    let mut failures = Vec::new();
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(stream) => {
                let event = LinkEvent::Connected { link: link.id };
                start(
                    shared,
                    link,
                    stream,
                    addr.to_string(),
                    event,
                    Side::Learner,
                    outbound,
                );
                return;
            }
            Err(e) => failures.push(format!("{addr}: {e}")),
        }
    }
    let error = if failures.is_empty() {
        "no address to connect to".to_owned()
    } else {
        failures.join("; ")
    };
    shared.end(&link, End::ConnectFailed(error));
}

/// Puts a connected socket to work: announces the link with `event`,
/// then runs its reader and writer threads.
pub(super) fn start(
    shared: Arc<Shared>,
    link: Arc<Link>,
    stream: TcpStream,
    peer: String,
    event: LinkEvent,
    side: Side,
    outbound: Receiver<Outbound>,
) {
    let handles = stream.set_nodelay(true).and_then(|()| {
        stream.set_read_timeout(Some(TIMEOUT_POLL))?;
        Ok((stream.try_clone()?, stream.try_clone()?))
    });
    let (for_reader, for_writer) = match handles {
        Ok(h) => h,
        Err(e) => {
            shared.end(&link, End::Closed(format!("cannot set up the socket: {e}")));
            return;
        }
    };
    if !shared.attach(&link, stream, peer, event) {
        return;
    }
    let id = link.id;
    let reader = {
        let (shared, link) = (shared.clone(), link.clone());
        std::thread::Builder::new()
            .name(format!("quorum-read-{id}"))
            .spawn(move || read_loop(shared, link, for_reader, side))
    };
    let writer = {
        let (shared, link) = (shared.clone(), link.clone());
        std::thread::Builder::new()
            .name(format!("quorum-write-{id}"))
            .spawn(move || write_loop(shared, link, for_writer, outbound))
    };
    if let Err(e) = reader.and(writer) {
        // Ending the link shuts the socket, so a thread that did start ends too.
        shared.end(
            &link,
            End::Closed(format!("cannot start a link thread: {e}")),
        );
    }
}

fn read_loop(shared: Arc<Shared>, link: Arc<Link>, stream: TcpStream, side: Side) {
    let mut input = BufReader::with_capacity(
        READ_BUFFER,
        DeadlineReader {
            stream,
            link: link.clone(),
        },
    );
    let reason = loop {
        let packet = match QuorumPacket::read_from(&mut input, shared.max_packet) {
            Ok(p) => p,
            Err(QuorumReadError::Closed) => break "the peer closed the connection".to_owned(),
            Err(e @ QuorumReadError::BadLength { .. }) => {
                tracing::error!(link = link.id, peer = %link.peer(), "bad quorum packet: {e}");
                break format!("bad packet: {e}");
            }
            Err(e) => break e.to_string(),
        };
        let event = if side == Side::Learner && packet.kind == PacketType::Snap.code() {
            match read_snapshot_stream(&mut input, shared.tree_options) {
                Ok((mut tree, sessions)) => {
                    tree.last_zxid = packet.zxid;
                    LinkEvent::Snapshot {
                        link: link.id,
                        zxid: packet.zxid,
                        tree: Box::new(tree),
                        sessions,
                    }
                }
                Err(e) => {
                    tracing::error!(link = link.id, peer = %link.peer(), "{e}");
                    break e.to_string();
                }
            }
        } else {
            LinkEvent::Packet {
                link: link.id,
                packet,
            }
        };
        if !shared.emit(&link, event) {
            // Ended meanwhile, so end() below does nothing; or nobody
            // reads events any more, so the link has no use.
            break "the link's events are no longer read".to_owned();
        }
    };
    shared.end(&link, End::Closed(reason));
}

fn write_loop(
    shared: Arc<Shared>,
    link: Arc<Link>,
    stream: TcpStream,
    outbound: Receiver<Outbound>,
) {
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, stream);
    let mut scratch = Vec::with_capacity(1024);
    // The queue closes when the link ends and leaves the registry.
    while let Ok(first) = outbound.recv() {
        let mut next = Some(first);
        let mut result = Ok(());
        // Everything already queued goes out before one flush, so a burst
        // of packets costs one write when the socket keeps up.
        while let Some(item) = next {
            result = write_one(&mut out, &mut scratch, item, &link);
            if result.is_err() {
                break;
            }
            next = outbound.try_recv().ok();
        }
        if let Err(e) = result.and_then(|()| out.flush()) {
            shared.end(&link, End::Closed(format!("writing to the peer: {e}")));
            return;
        }
    }
}

fn write_one(
    out: &mut BufWriter<TcpStream>,
    scratch: &mut Vec<u8>,
    item: Outbound,
    link: &Link,
) -> io::Result<()> {
    scratch.clear();
    match item {
        Outbound::Packet(p) => {
            p.encode(scratch);
            out.write_all(scratch)
        }
        Outbound::Snapshot {
            zxid,
            tree,
            sessions,
        } => {
            QuorumPacket::new(PacketType::Snap, zxid, None).encode(scratch);
            out.write_all(scratch)?;
            let nodes = write_snapshot_stream(&tree, &sessions, out)?;
            tracing::info!(
                link = link.id,
                peer = %link.peer(),
                zxid = format_args!("0x{zxid:x}"),
                nodes,
                sessions = sessions.len(),
                "sent a snapshot"
            );
            Ok(())
        }
    }
}

/// The socket as the reader sees it: each `read` fails with `TimedOut`
/// once it has waited the link's read timeout without data (3.8's
/// `SO_TIMEOUT`), checked every [`TIMEOUT_POLL`].
struct DeadlineReader {
    stream: TcpStream,
    link: Arc<Link>,
}

impl Read for DeadlineReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let started = Instant::now();
        loop {
            match self.stream.read(buf) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if lock(&self.link.state).ended {
                        return Err(io::Error::new(
                            io::ErrorKind::ConnectionAborted,
                            "link closed",
                        ));
                    }
                    if let Some(limit) = self.link.read_timeout() {
                        if started.elapsed() >= limit {
                            return Err(io::Error::new(
                                io::ErrorKind::TimedOut,
                                format!("no data for {} ms", limit.as_millis()),
                            ));
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }
}
