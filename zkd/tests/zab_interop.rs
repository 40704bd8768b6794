//! Our quorum-port codecs against Apache ZooKeeper 3.8 itself: two Apache
//! servers of a three-server ensemble elect a leader, and this test joins
//! the leader's quorum port as server 3 with [`QuorumLinks`], going
//! through the whole follower handshake: FOLLOWERINFO, LEADERINFO,
//! ACKEPOCH, SNAP and its stream (decoded and checked against znodes made
//! through Apache), NEWLEADER, ACK, UPTODATE, PINGs, then a PROPOSAL and
//! its COMMIT for a znode created through Apache.
//!
//! Skipped, with a printed reason, without java or ZooKeeper's jars.

use bytes::Bytes;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use zkd::proto::quorum::*;
use zkd::proto::txn::Txn;
use zkd::proto::OpCode;
use zkd::server::quorum_links::{LinkEvent, LinkId, Outbound, QuorumLinks};
use zookeeper_client as zk;

const JARS: &str = "/usr/share/java";
const TICK_MS: u64 = 500;
/// Bound on each step; the whole test normally takes a few seconds.
const STEP: Duration = Duration::from_secs(20);
const ZNODES: usize = 300;
const SID: i64 = 3;

struct Ports {
    client: u16,
    quorum: u16,
    election: u16,
}

/// An Apache ZooKeeper server process, killed on drop.
struct JavaServer {
    child: Child,
    log: PathBuf,
}

impl Drop for JavaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl JavaServer {
    fn start(dir: &Path, sid: usize, ports: &[Ports]) -> JavaServer {
        let data = dir.join(format!("data{sid}"));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("myid"), format!("{sid}\n")).unwrap();
        let mut cfg = format!(
            "tickTime={TICK_MS}\ninitLimit=10\nsyncLimit=10\ndataDir={}\n\
             clientPort={}\nclientPortAddress=127.0.0.1\nforceSync=no\n\
             admin.enableServer=false\n4lw.commands.whitelist=*\n",
            data.display(),
            ports[sid - 1].client
        );
        for (i, p) in ports.iter().enumerate() {
            cfg += &format!("server.{}=127.0.0.1:{}:{}\n", i + 1, p.quorum, p.election);
        }
        let cfg_path = dir.join(format!("zoo{sid}.cfg"));
        std::fs::write(&cfg_path, cfg).unwrap();
        let log = dir.join(format!("server{sid}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("java")
            .arg("-Xmx256m")
            .arg("-Dzookeeper.forceSnapshotSync=true")
            .arg(format!("-Dzookeeper.log.dir={}", dir.display()))
            .arg("-Dzookeeper.root.logger=INFO,CONSOLE")
            .arg("-cp")
            .arg(format!("{JARS}/*"))
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start java");
        JavaServer { child, log }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

fn skip_reason() -> Option<String> {
    if !Path::new(JARS).join("zookeeper.jar").exists() {
        return Some(format!("{JARS}/zookeeper.jar is missing"));
    }
    match Command::new("java").arg("-version").output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!("java -version failed: {}", o.status)),
        Err(e) => Some(format!("no java: {e}")),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A four-letter word's reply, or `None` while the server is not up.
fn four_letter(port: u16, word: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Polls until `f` gives a value; panics with the servers' logs after `STEP`.
async fn eventually<T>(what: &str, servers: &[JavaServer], mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + STEP;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            for s in servers {
                eprintln!("---- {} ----\n{}", s.log.display(), s.log_tail());
            }
            panic!("{what}: not within {STEP:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Server 3 as far as the leader can tell: our links plus the replies a
/// 3.8 follower gives to PINGs on its own.
struct Follower {
    links: QuorumLinks,
    events: UnboundedReceiver<LinkEvent>,
    link: LinkId,
    pings: usize,
}

impl Follower {
    fn send(&self, p: QuorumPacket) {
        self.links.send(self.link, Outbound::Packet(p));
    }

    /// The next event that is not a PING; PINGs are answered as
    /// `Learner.ping` does: same type and zxid, the session touches (none).
    async fn next(&mut self) -> LinkEvent {
        loop {
            let ev = tokio::time::timeout(STEP, self.events.recv())
                .await
                .expect("an event from the leader in time")
                .expect("channel open");
            match ev {
                LinkEvent::Packet { packet, .. } if packet.kind == PacketType::Ping.code() => {
                    self.pings += 1;
                    let reply = QuorumPacket {
                        kind: packet.kind,
                        zxid: packet.zxid,
                        data: Some(SessionTouch::encode_all(&[])),
                        auth: packet.auth,
                    };
                    self.send(reply);
                }
                other => return other,
            }
        }
    }

    async fn packet(&mut self, expected: PacketType) -> QuorumPacket {
        match self.next().await {
            LinkEvent::Packet { packet, .. } if packet.kind == expected.code() => packet,
            other => panic!("expected {expected}, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_an_apache_ensemble_as_a_follower() {
    if let Some(why) = skip_reason() {
        eprintln!("skipping the Apache ZooKeeper interop test: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<Ports> = (0..3)
        .map(|_| Ports {
            client: free_port(),
            quorum: free_port(),
            election: free_port(),
        })
        .collect();
    let servers = vec![
        JavaServer::start(dir.path(), 1, &ports),
        JavaServer::start(dir.path(), 2, &ports),
    ];

    // Two of three elect a leader (server 2: same zxid, higher sid).
    let leader = eventually("a leader is elected", &servers, || {
        (1..=2).find(|&sid| {
            four_letter(ports[sid - 1].client, "srvr").is_some_and(|r| r.contains("Mode: leader"))
        })
    })
    .await;
    let leader_ports = &ports[leader - 1];

    // Znodes made through Apache, which the snapshot must carry.
    let client = zk::Client::connector()
        .with_session_timeout(Duration::from_secs(20))
        .connect(&format!("127.0.0.1:{}", leader_ports.client))
        .await
        .expect("connect a client to the leader");
    let open = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let read_only = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_read());
    client.create("/interop", b"root", &open).await.unwrap();
    let paths: Vec<String> = (0..ZNODES).map(|i| format!("/interop/n{i}")).collect();
    let creates: Vec<_> = paths
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let opts = if i % 10 == 0 { &read_only } else { &open };
            client.create(p, format!("value {i}").as_bytes(), opts)
        })
        .collect();
    for c in creates {
        c.await.unwrap();
    }

    // FOLLOWERINFO: accepted epoch 0, nothing logged.
    let (tx, events) = unbounded_channel();
    let links = QuorumLinks::new(tx, 2 * 0xfffff);
    let quorum_addr: SocketAddr = format!("127.0.0.1:{}", leader_ports.quorum)
        .parse()
        .unwrap();
    let link = links.connect(vec![quorum_addr], Duration::from_secs(5));
    let mut me = Follower {
        links,
        events,
        link,
        pings: 0,
    };
    match me.next().await {
        LinkEvent::Connected { .. } => {}
        other => panic!("expected Connected, got {other:?}"),
    }
    me.links
        .set_read_timeout(link, Some(Duration::from_millis(TICK_MS * 10)));
    let info = LearnerInfo {
        sid: SID,
        protocol_version: ZAB_PROTOCOL_VERSION,
        config_version: Some(0),
    };
    me.send(QuorumPacket::new(
        PacketType::FollowerInfo,
        make_zxid(0, 0),
        Some(info.encode()),
    ));

    let leader_info = me.packet(PacketType::LeaderInfo).await;
    assert_eq!(
        decode_leader_info(leader_info.data.as_deref()).unwrap(),
        ZAB_PROTOCOL_VERSION
    );
    let new_leader_zxid = leader_info.zxid;
    let new_epoch = epoch_of(new_leader_zxid);
    assert!(new_epoch >= 1, "epoch {new_epoch}");
    assert_eq!(counter_of(new_leader_zxid), 0);
    me.send(QuorumPacket::new(
        PacketType::AckEpoch,
        0,
        Some(AckEpoch { current_epoch: 0 }.encode()),
    ));

    // SNAP (forced by zookeeper.forceSnapshotSync) and its stream.
    let (snap_zxid, tree, sessions) = match me.next().await {
        LinkEvent::Snapshot {
            zxid,
            tree,
            sessions,
            ..
        } => (zxid, tree, sessions),
        other => panic!("expected a snapshot, got {other:?}"),
    };
    // The leader's epoch is established already: its history is in it.
    assert_eq!(epoch_of(snap_zxid), new_epoch);
    assert_eq!(
        counter_of(snap_zxid),
        ZNODES as i64 + 2,
        "createSession, /interop, and one create per znode"
    );
    assert_eq!(
        tree.node("/interop").unwrap().data.as_deref(),
        Some(&b"root"[..])
    );
    assert_eq!(tree.node("/interop").unwrap().children.len(), ZNODES);
    for (i, p) in paths.iter().enumerate() {
        let node = tree
            .node(p)
            .unwrap_or_else(|| panic!("{p} not in the snapshot"));
        assert_eq!(node.data.as_deref(), Some(format!("value {i}").as_bytes()));
        assert_eq!(node.stat.version, 0);
        assert!(node.stat.czxid > 0 && node.stat.czxid <= snap_zxid);
        let acl = tree.acl_of(node);
        assert_eq!(acl.len(), 1);
        let expected_perms = if i % 10 == 0 { 1 } else { 31 };
        assert_eq!(acl[0].perms, expected_perms, "{p}");
        assert_eq!(
            (acl[0].id.scheme.as_str(), acl[0].id.id.as_str()),
            ("world", "anyone")
        );
    }
    assert!(tree.node("/zookeeper/config").is_some());
    let session = client.session_id().0;
    assert!(
        sessions.iter().any(|&(id, _)| id == session),
        "our client's session 0x{session:x} is in {sessions:x?}"
    );

    // NEWLEADER carries the configuration; its ACK ends the sync.
    let new_leader = me.packet(PacketType::NewLeader).await;
    assert_eq!(new_leader.zxid, new_leader_zxid);
    let config = String::from_utf8(new_leader.data.unwrap().to_vec()).unwrap();
    assert!(
        config.contains(&format!("server.3=127.0.0.1:{}", ports[2].quorum)),
        "{config}"
    );
    me.send(QuorumPacket::new(PacketType::Ack, new_leader_zxid, None));
    let up_to_date = me.packet(PacketType::UpToDate).await;
    assert_eq!(up_to_date.zxid, -1);
    me.send(QuorumPacket::new(
        PacketType::Ack,
        make_zxid(new_epoch, 0),
        None,
    ));
    me.links
        .set_read_timeout(link, Some(Duration::from_millis(TICK_MS * 10)));

    // The leader now counts us as a synced follower.
    eventually("the leader counts server 3 as synced", &servers, || {
        four_letter(leader_ports.client, "mntr").filter(|m| m.contains("zk_synced_followers\t2"))
    })
    .await;

    // A write through Apache is proposed to us; we ack, it commits.
    let creator = {
        let client = client.clone();
        tokio::spawn(async move {
            let opts = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
            client.create("/interop/after", b"late", &opts).await
        })
    };
    let proposal = me.packet(PacketType::Proposal).await;
    let entry = decode_txn(proposal.data.as_deref()).unwrap();
    assert_eq!(entry.header.zxid, proposal.zxid);
    assert_eq!(epoch_of(proposal.zxid), new_epoch);
    // The client crate creates with create2 (which returns the Stat).
    assert_eq!(entry.header.kind, OpCode::Create2.code());
    assert_eq!(entry.header.client_id, session);
    match &entry.txn {
        Txn::Create { path, data, .. } => {
            assert_eq!(path, "/interop/after");
            assert_eq!(data.as_ref(), Some(&Bytes::from_static(b"late")));
        }
        other => panic!("expected a create, got {other:?}"),
    }
    assert!(
        entry.digest.is_some(),
        "3.8 sends the tree digest with each txn"
    );
    me.send(QuorumPacket::new(PacketType::Ack, proposal.zxid, None));
    let commit = me.packet(PacketType::Commit).await;
    assert_eq!(commit.zxid, proposal.zxid);
    creator.await.unwrap().unwrap();

    // Pings keep flowing and are answered, and the link stays up.
    let seen = me.pings;
    let deadline = Instant::now() + STEP;
    while me.pings < seen + 2 {
        assert!(Instant::now() < deadline, "the leader stopped pinging");
        if let Ok(other) = tokio::time::timeout(Duration::from_millis(TICK_MS), me.next()).await {
            panic!("expected only pings, got {other:?}");
        }
    }
    me.links.close(link);
}

/// Reads a SNAP stream file with 3.8's own `SerializeUtils.deserializeSnapshot`
/// and signature check (as `Learner.syncWithLeader` does), then prints
/// what it loaded. Run with `java File.java` (no separate compile step).
const JAVA_STREAM_READER: &str = r#"
import java.io.*;
import java.util.*;
import org.apache.jute.BinaryInputArchive;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.server.DataTree;
import org.apache.zookeeper.server.util.SerializeUtils;

public class ReadSnapStream {
    public static void main(String[] args) throws Exception {
        try (InputStream in = new BufferedInputStream(new FileInputStream(args[0]))) {
            BinaryInputArchive ia = BinaryInputArchive.getArchive(in);
            DataTree tree = new DataTree();
            Map<Long, Integer> sessions = new TreeMap<>();
            SerializeUtils.deserializeSnapshot(tree, ia, sessions);
            System.out.println("signature=" + ia.readString("signature"));
            System.out.println("trailing=" + in.read());
            System.out.println("nodes=" + tree.getNodeCount());
            System.out.println("sessions=" + sessions);
            System.out.println("digest=" + tree.getTreeDigest());
            for (int i = 1; i < args.length; i++) {
                Stat stat = new Stat();
                byte[] data = tree.getData(args[i], stat, null);
                System.out.println("node " + args[i] + " data=" + (data == null ? "null" : new String(data))
                    + " mzxid=" + stat.getMzxid() + " owner=" + stat.getEphemeralOwner()
                    + " acl=" + describe(tree.getACL(args[i], null)));
            }
        }
    }

    static String describe(List<ACL> acls) {
        StringBuilder out = new StringBuilder();
        for (ACL acl : acls) {
            out.append(acl.getPerms()).append(':').append(acl.getId().getScheme())
                .append(':').append(acl.getId().getId()).append(';');
        }
        return out.toString();
    }
}
"#;

#[test]
fn apache_reads_our_snapshot_stream() {
    use zkd::jute::records::{perms, Acl, Id, StatPersisted};
    use zkd::storage::digest::tree_digest;
    use zkd::storage::write_snapshot_stream;
    use zkd::tree::{DataTree, TreeOptions};

    if let Some(why) = skip_reason() {
        eprintln!("skipping the Apache ZooKeeper interop test: {why}");
        return;
    }
    let mut tree = DataTree::new(TreeOptions::default());
    let digest_acl = vec![Acl {
        perms: perms::READ | perms::WRITE,
        id: Id::new("digest", "bob:N4QAHSwhpRxbNBbYQ5xVgFNHcA8="),
    }];
    for i in 0..2000i64 {
        let parent = format!("/p{}", i % 20);
        if tree.node(&parent).is_none() {
            tree.insert_raw(&parent, Some(Bytes::new()), -1, StatPersisted::default());
        }
        let acl = if i % 4 == 0 {
            tree.acls.intern(&digest_acl)
        } else {
            -1
        };
        let stat = StatPersisted {
            czxid: i + 1,
            mzxid: i + 5,
            ctime: 1_700_000_000_000 + i,
            mtime: 1_700_000_000_500 + i,
            version: (i % 3) as i32,
            cversion: 0,
            aversion: (i % 2) as i32,
            ephemeral_owner: if i % 9 == 0 { 0x77 } else { 0 },
            pzxid: i + 1,
        };
        let data = (i % 6 != 0).then(|| Bytes::from(format!("data-{i}")));
        tree.insert_raw(&format!("{parent}/c{i}"), data, acl, stat);
    }
    let sessions = [(0x77i64, 30_000u32), (0x78, 6000)];
    let dir = tempfile::tempdir().unwrap();
    let stream_path = dir.path().join("snap.stream");
    let mut bytes = Vec::new();
    let nodes = write_snapshot_stream(&tree, &sessions, &mut bytes).unwrap();
    assert_eq!(nodes as usize, tree.node_count());
    std::fs::write(&stream_path, &bytes).unwrap();
    let source = dir.path().join("ReadSnapStream.java");
    std::fs::write(&source, JAVA_STREAM_READER).unwrap();

    let out = Command::new("java")
        .arg("-cp")
        .arg(format!("{JARS}/*"))
        .arg(&source)
        .arg(&stream_path)
        .args(["/p0/c0", "/p1/c1", "/p6/c6"])
        .output()
        .expect("run java");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "java failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in {stdout}"))
            .to_owned()
    };
    assert_eq!(line("signature="), "BenWasHere");
    assert_eq!(
        line("trailing="),
        "-1",
        "3.8 reads the stream to its very end"
    );
    // 3.8 files a loaded root under both "" and "/", so it counts it twice.
    assert_eq!(line("nodes="), (tree.node_count() + 1).to_string());
    assert_eq!(line("sessions="), "{119=30000, 120=6000}");
    // 3.8 recomputes the digest over every node it loaded (path, data and
    // Stat), so an equal digest means equal content.
    assert_eq!(line("digest="), tree_digest(&tree).to_string());
    assert_eq!(
        line("node /p0/c0 "),
        "data=null mzxid=5 owner=119 acl=3:digest:bob:N4QAHSwhpRxbNBbYQ5xVgFNHcA8=;"
    );
    assert_eq!(
        line("node /p1/c1 "),
        "data=data-1 mzxid=6 owner=0 acl=31:world:anyone;"
    );
    assert_eq!(
        line("node /p6/c6 "),
        "data=null mzxid=11 owner=0 acl=31:world:anyone;"
    );
}
