//! The quorum-port links over loopback: packets both ways, a snapshot
//! stream, bad input, close, failed connects, read timeouts.

use bytes::Bytes;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use zkd::jute::records::{perms, Acl, Id, StatPersisted};
use zkd::proto::quorum::{LearnerInfo, PacketType, QuorumPacket, ZAB_PROTOCOL_VERSION};
use zkd::server::quorum_links::{LinkEvent, LinkId, Outbound, QuorumLinks};
use zkd::tree::{DataTree, TreeOptions};

const MAX_PACKET: usize = 2 * 0xfffff;
/// Only a bound on a broken test: every wait below ends on an event.
const WAIT: Duration = Duration::from_secs(30);

struct Side {
    links: QuorumLinks,
    events: UnboundedReceiver<LinkEvent>,
}

fn side() -> Side {
    let (tx, events) = unbounded_channel();
    Side {
        links: QuorumLinks::new(tx, MAX_PACKET),
        events,
    }
}

impl Side {
    async fn next(&mut self) -> LinkEvent {
        tokio::time::timeout(WAIT, self.events.recv())
            .await
            .expect("an event within the bound")
            .expect("the channel is open")
    }

    async fn accepted(&mut self) -> LinkId {
        match self.next().await {
            LinkEvent::Accepted { link, .. } => link,
            other => panic!("expected Accepted, got {other:?}"),
        }
    }

    async fn connected(&mut self, link: LinkId) {
        match self.next().await {
            LinkEvent::Connected { link: l } if l == link => {}
            other => panic!("expected Connected({link}), got {other:?}"),
        }
    }

    async fn packet(&mut self, link: LinkId) -> QuorumPacket {
        match self.next().await {
            LinkEvent::Packet { link: l, packet } if l == link => packet,
            other => panic!("expected a packet on {link}, got {other:?}"),
        }
    }

    async fn closed(&mut self, link: LinkId) -> String {
        match self.next().await {
            LinkEvent::Closed { link: l, reason } if l == link => reason,
            other => panic!("expected Closed({link}), got {other:?}"),
        }
    }
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A leader side listening and a learner side connected to it.
async fn pair() -> (
    Side,
    Side,
    LinkId,
    LinkId,
    zkd::server::quorum_links::ListenerHandle,
) {
    let mut leader = side();
    let mut learner = side();
    let listener = leader.links.listen(loopback()).unwrap();
    let to_leader = learner
        .links
        .connect(vec![listener.local_addr()], Duration::from_secs(5));
    learner.connected(to_leader).await;
    let to_learner = leader.accepted().await;
    (leader, learner, to_learner, to_leader, listener)
}

fn proposal(zxid: i64) -> QuorumPacket {
    QuorumPacket::new(
        PacketType::Proposal,
        zxid,
        Some(Bytes::from(format!("txn {zxid}").into_bytes())),
    )
}

#[tokio::test]
async fn packets_flow_both_ways_in_order() {
    let (mut leader, mut learner, to_learner, to_leader, _l) = pair().await;
    let info = LearnerInfo {
        sid: 3,
        protocol_version: ZAB_PROTOCOL_VERSION,
        config_version: Some(0),
    };
    let hello = QuorumPacket::new(PacketType::FollowerInfo, 0, Some(info.encode()));
    learner
        .links
        .send(to_leader, Outbound::Packet(hello.clone()));
    assert_eq!(leader.packet(to_learner).await, hello);

    // A burst: all of it arrives, in order.
    for zxid in 1..=500 {
        leader
            .links
            .send(to_learner, Outbound::Packet(proposal(zxid)));
    }
    for zxid in 1..=500 {
        assert_eq!(learner.packet(to_leader).await, proposal(zxid));
    }
    let ack = QuorumPacket {
        kind: PacketType::Request.code(),
        zxid: -1,
        data: Some(Bytes::from_static(b"body")),
        auth: Some(vec![Id::new("digest", "user:hash")]),
    };
    learner.links.send(to_leader, Outbound::Packet(ack.clone()));
    assert_eq!(leader.packet(to_learner).await, ack);
}

fn big_tree(nodes: usize) -> DataTree {
    let mut tree = DataTree::new(TreeOptions::default());
    let read_only = vec![Acl {
        perms: perms::READ,
        id: Id::new("world", "anyone"),
    }];
    let digest = vec![Acl {
        perms: perms::ALL,
        id: Id::new("digest", "u:0123456789abcdefghijklmnop="),
    }];
    for i in 0..nodes {
        let parent = format!("/d{}", i % 50);
        if tree.node(&parent).is_none() {
            tree.insert_raw(&parent, None, -1, StatPersisted::default());
        }
        let acl = match i % 3 {
            0 => -1,
            1 => tree.acls.intern(&read_only),
            _ => tree.acls.intern(&digest),
        };
        let stat = StatPersisted {
            czxid: i as i64 + 1,
            mzxid: i as i64 + 2,
            ctime: 1_700_000_000_000 + i as i64,
            mtime: 1_700_000_000_001 + i as i64,
            version: (i % 7) as i32,
            cversion: 0,
            aversion: (i % 2) as i32,
            ephemeral_owner: if i % 11 == 0 { 0x1234 } else { 0 },
            pzxid: i as i64 + 1,
        };
        let data = (i % 5 != 0).then(|| Bytes::from(vec![(i % 251) as u8; i % 300]));
        tree.insert_raw(&format!("{parent}/n{i}"), data, acl, stat);
    }
    tree.last_zxid = nodes as i64 + 2;
    tree
}

#[tokio::test]
async fn a_snapshot_streams_and_decodes_to_the_same_tree() {
    let (leader, mut learner, to_learner, to_leader, _l) = pair().await;
    let source = big_tree(20_000);
    let sessions = vec![(0x1234, 30_000), (0x99, 4000)];
    leader.links.send(
        to_learner,
        Outbound::Snapshot {
            zxid: 0x1_0000_0007,
            tree: Box::new(source.snapshot_copy()),
            sessions: sessions.clone(),
        },
    );
    // The next packet on the socket comes after the stream.
    leader.links.send(
        to_learner,
        Outbound::Packet(QuorumPacket::new(
            PacketType::NewLeader,
            0x2_0000_0000,
            None,
        )),
    );
    let (zxid, tree, got_sessions) = match learner.next().await {
        LinkEvent::Snapshot {
            link,
            zxid,
            tree,
            sessions,
        } if link == to_leader => (zxid, tree, sessions),
        other => panic!("expected a snapshot, got {other:?}"),
    };
    assert_eq!(zxid, 0x1_0000_0007);
    assert_eq!(tree.last_zxid, zxid);
    assert_eq!(got_sessions, {
        let mut s = sessions;
        s.sort();
        s
    });
    assert_eq!(tree.node_count(), source.node_count());
    for (path, node) in source.iter() {
        let got = tree
            .node(path)
            .unwrap_or_else(|| panic!("{path} is missing"));
        assert_eq!(got.data, node.data, "data of {path}");
        assert_eq!(got.stat, node.stat, "stat of {path}");
        assert_eq!(tree.acl_of(got), source.acl_of(node), "acl of {path}");
        assert_eq!(got.children, node.children, "children of {path}");
    }
    assert_eq!(
        learner.packet(to_leader).await.kind,
        PacketType::NewLeader.code()
    );
}

#[tokio::test]
async fn garbage_closes_only_the_link_it_came_on() {
    let (mut leader, mut learner, to_learner, to_leader, listener) = pair().await;
    let mut raw = TcpStream::connect(listener.local_addr()).unwrap();
    let bad = leader.accepted().await;
    // A PROPOSAL claiming 2 GiB of data.
    let mut garbage = Vec::new();
    garbage.extend_from_slice(&2i32.to_be_bytes());
    garbage.extend_from_slice(&0i64.to_be_bytes());
    garbage.extend_from_slice(&i32::MAX.to_be_bytes());
    raw.write_all(&garbage).unwrap();
    let reason = leader.closed(bad).await;
    assert!(
        reason.contains("the packet data has length 2147483647"),
        "{reason}"
    );

    leader.links.send(to_learner, Outbound::Packet(proposal(7)));
    assert_eq!(learner.packet(to_leader).await, proposal(7));
    learner.links.send(to_leader, Outbound::Packet(proposal(8)));
    assert_eq!(leader.packet(to_learner).await, proposal(8));
}

#[tokio::test]
async fn close_ends_a_link_with_one_closed_event_on_each_side() {
    let (mut leader, mut learner, to_learner, to_leader, _l) = pair().await;
    leader.links.close(to_learner);
    leader.links.close(to_learner);
    assert_eq!(leader.closed(to_learner).await, "closed by this server");
    assert_eq!(
        learner.closed(to_leader).await,
        "the peer closed the connection"
    );
    // Sending on an ended link is a no-op, not an error or an event.
    leader.links.send(to_learner, Outbound::Packet(proposal(1)));
    learner.links.close(to_leader);

    // A second link's events come after anything the first could still
    // have produced; none of them may be from the first.
    let listener = leader.links.listen(loopback()).unwrap();
    let second = learner
        .links
        .connect(vec![listener.local_addr()], Duration::from_secs(5));
    learner.connected(second).await;
    let accepted = leader.accepted().await;
    leader.links.close(accepted);
    assert_eq!(leader.closed(accepted).await, "closed by this server");
    assert!(leader.events.try_recv().is_err());
    learner.closed(second).await;
    assert!(learner.events.try_recv().is_err());
}

#[tokio::test]
async fn connecting_to_a_closed_port_fails_and_other_addresses_are_tried() {
    let mut learner = side();
    let closed_port = {
        let l = TcpListener::bind(loopback()).unwrap();
        l.local_addr().unwrap()
    };
    let link = learner
        .links
        .connect(vec![closed_port], Duration::from_secs(5));
    match learner.next().await {
        LinkEvent::ConnectFailed { link: l, error } => {
            assert_eq!(l, link);
            assert!(error.contains(&closed_port.to_string()), "{error}");
        }
        other => panic!("expected ConnectFailed, got {other:?}"),
    }

    let mut leader = side();
    let listener = leader.links.listen(loopback()).unwrap();
    let link = learner.links.connect(
        vec![closed_port, listener.local_addr()],
        Duration::from_secs(5),
    );
    learner.connected(link).await;
    leader.accepted().await;
}

#[tokio::test]
async fn a_stopped_listener_accepts_no_more() {
    let mut leader = side();
    let mut learner = side();
    let listener = leader.links.listen(loopback()).unwrap();
    let addr = listener.local_addr();
    drop(listener);
    let link = learner.links.connect(vec![addr], Duration::from_secs(5));
    assert!(matches!(
        learner.next().await,
        LinkEvent::ConnectFailed { link: l, .. } if l == link
    ));
    assert!(leader.events.try_recv().is_err());
}

#[tokio::test]
async fn a_silent_peer_is_dropped_after_the_read_timeout() {
    let (mut leader, mut learner, to_learner, to_leader, _l) = pair().await;
    leader
        .links
        .set_read_timeout(to_learner, Some(Duration::from_millis(300)));
    let reason = leader.closed(to_learner).await;
    assert!(reason.contains("read timeout"), "{reason}");
    learner.closed(to_leader).await;
}

#[tokio::test]
async fn a_bad_snapshot_stream_closes_the_learner_link() {
    let mut learner = side();
    let server = TcpListener::bind(loopback()).unwrap();
    let link = learner
        .links
        .connect(vec![server.local_addr().unwrap()], Duration::from_secs(5));
    learner.connected(link).await;
    let (mut raw, _) = server.accept().unwrap();
    let mut bytes = Vec::new();
    QuorumPacket::new(PacketType::Snap, 5, None).encode(&mut bytes);
    // No sessions, no ACLs, then a node that is not the root.
    bytes.extend_from_slice(&0i32.to_be_bytes());
    bytes.extend_from_slice(&0i32.to_be_bytes());
    bytes.extend_from_slice(&2i32.to_be_bytes());
    bytes.extend_from_slice(b"/x");
    bytes.extend_from_slice(&(-1i32).to_be_bytes());
    bytes.extend_from_slice(&(-1i64).to_be_bytes());
    bytes.extend_from_slice(&[0u8; 60]);
    raw.write_all(&bytes).unwrap();
    let reason = learner.closed(link).await;
    assert!(reason.contains("comes before its parent"), "{reason}");
}
