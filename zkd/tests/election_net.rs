//! Leader election over real sockets on loopback: zkd election endpoints
//! among themselves, and beside Apache ZooKeeper 3.8 servers (skipped with a
//! printed reason when `java` or the ZooKeeper jars are missing).
//!
//! Apache's side of an outcome is read from what it does, not from its log:
//! a serving ensemble answers `srvr` with its mode, and a server that
//! decided to follow zkd connects to zkd's quorum port and introduces itself
//! with a FOLLOWERINFO packet carrying its id.

mod common;

use bytes::Bytes;
use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::timeout;
use zkd::config::ServerSpec;
use zkd::quorum::election::{Election, ElectionConfig, ServerState};
use zkd::server::election_links::{answer_while_settled, run_election_once, ElectionLinks};

const ELECTION_TIMEOUT: Duration = Duration::from_secs(20);
const JARS: [&str; 6] = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/zookeeper-jute.jar",
    "/usr/share/java/slf4j-api.jar",
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
    "/usr/share/java/commons-cli.jar",
];
/// Leader.FOLLOWERINFO, the first packet a follower sends its leader.
const FOLLOWERINFO: i32 = 11;

/// One JVM pair at a time: the machine has two cores.
static APACHE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A server of the test ensemble: its own loopback address, ports picked free.
#[derive(Clone)]
struct Member {
    id: u64,
    host: String,
    quorum_port: u16,
    election_port: u16,
    client_port: u16,
}

fn ensemble(ids: &[u64]) -> Vec<Member> {
    ids.iter()
        .map(|&id| {
            let host = format!("127.0.0.{id}");
            Member {
                id,
                quorum_port: common::free_port_below_ephemeral(&host),
                election_port: common::free_port_below_ephemeral(&host),
                client_port: common::free_port_below_ephemeral(&host),
                host,
            }
        })
        .collect()
}

fn specs(members: &[Member]) -> Vec<ServerSpec> {
    members
        .iter()
        .map(|m| ServerSpec::new(m.id, m.host.clone(), m.quorum_port, m.election_port))
        .collect()
}

struct Endpoint {
    election: Election,
    links: ElectionLinks,
    rx: UnboundedReceiver<(u64, Bytes)>,
}

async fn zkd_endpoint(my_id: u64, members: &[Member]) -> Endpoint {
    let me = members.iter().find(|m| m.id == my_id).unwrap();
    let ip: IpAddr = me.host.parse().unwrap();
    let peers: HashMap<u64, Vec<(String, u16)>> = members
        .iter()
        .filter(|m| m.id != my_id)
        .map(|m| (m.id, vec![(m.host.clone(), m.election_port)]))
        .collect();
    let (links, rx) = ElectionLinks::start(
        my_id,
        SocketAddr::new(ip, me.election_port),
        format!("{}:{}", me.host, me.election_port),
        peers,
        Duration::from_secs(5),
    )
    .await
    .expect("election port");
    let election = Election::new(ElectionConfig::new(my_id, &specs(members), 0));
    Endpoint {
        election,
        links,
        rx,
    }
}

impl Endpoint {
    async fn elect(&mut self, zxid: i64, epoch: i64) -> (u64, ServerState) {
        let (vote, state) = timeout(
            ELECTION_TIMEOUT,
            run_election_once(&mut self.election, &self.links, &mut self.rx, zxid, epoch),
        )
        .await
        .expect("an election outcome in time");
        (vote.leader, state)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_zkd_endpoints_elect_the_best_server() {
    let members = ensemble(&[1, 2, 3]);
    let mut endpoints = Vec::new();
    for id in [1, 2, 3] {
        endpoints.push(zkd_endpoint(id, &members).await);
    }
    // Server 2 has the longest history, so it must win despite the lower id.
    let histories = [(1, 4), (9, 4), (3, 4)];
    let runs = endpoints
        .into_iter()
        .zip(histories)
        .map(|(mut endpoint, (zxid, epoch))| {
            tokio::spawn(async move {
                let outcome = endpoint.elect(zxid, epoch).await;
                (outcome, endpoint)
            })
        })
        .collect::<Vec<_>>();
    let mut outcomes = Vec::new();
    for run in runs {
        outcomes.push(run.await.unwrap().0);
    }
    assert_eq!(
        outcomes,
        vec![
            (2, ServerState::Following),
            (2, ServerState::Leading),
            (2, ServerState::Following)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_zkd_endpoint_learns_the_leader_from_settled_ones() {
    let members = ensemble(&[4, 5, 6]);
    let mut first = zkd_endpoint(4, &members).await;
    let mut second = zkd_endpoint(5, &members).await;
    let (a, b) = tokio::join!(first.elect(0, 0), second.elect(0, 0));
    assert_eq!(
        (a, b),
        ((5, ServerState::Following), (5, ServerState::Leading))
    );
    // The settled pair keeps answering lookers.
    let keep_answering = |mut e: Endpoint| {
        tokio::spawn(
            async move { answer_while_settled(&mut e.election, &e.links, &mut e.rx).await },
        )
    };
    let answering = [keep_answering(first), keep_answering(second)];
    let mut late = zkd_endpoint(6, &members).await;
    assert_eq!(
        late.elect(0, 0).await,
        (5, ServerState::Following),
        "the best id joins the existing leader instead of taking over"
    );
    for task in answering {
        task.abort();
    }
}

// ------------------------------------------------------ Apache ZooKeeper

fn apache_available() -> bool {
    let java = Command::new("java")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let reason = if !java.is_ok_and(|s| s.success()) {
        Some("no working `java` on PATH".to_string())
    } else {
        JARS.iter()
            .find(|j| !Path::new(j).exists())
            .map(|jar| format!("{jar} is missing (apt-get install zookeeper)"))
    };
    if let Some(reason) = &reason {
        eprintln!("skipping the Apache ZooKeeper election test: {reason}");
    }
    reason.is_none()
}

/// An Apache ZooKeeper server process, killed when dropped.
struct Apache {
    child: Child,
    log: PathBuf,
    member: Member,
}

impl Apache {
    fn start(dir: &Path, id: u64, members: &[Member]) -> Apache {
        let me = members.iter().find(|m| m.id == id).unwrap().clone();
        let home = dir.join(format!("apache{id}"));
        let data = home.join("data");
        fs::create_dir_all(&data).unwrap();
        fs::write(data.join("myid"), format!("{id}\n")).unwrap();
        let mut cfg = format!(
            "tickTime=500\ninitLimit=20\nsyncLimit=5\ndataDir={}\nclientPort={}\n\
             clientPortAddress={}\nadmin.enableServer=false\n4lw.commands.whitelist=*\n",
            data.display(),
            me.client_port,
            me.host
        );
        for spec in specs(members) {
            cfg.push_str(&format!("server.{}={spec}\n", spec.id));
        }
        let cfg_path = home.join("zoo.cfg");
        fs::write(&cfg_path, cfg).unwrap();
        let log4j = home.join("log4j.properties");
        fs::write(
            &log4j,
            "log4j.rootLogger=INFO, CONSOLE\n\
             log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n\
             log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n\
             log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{1} - %m%n\n",
        )
        .unwrap();
        let log = home.join("server.log");
        let out = fs::File::create(&log).unwrap();
        let child = Command::new("java")
            .arg(format!("-Dlog4j.configuration=file:{}", log4j.display()))
            .args(["-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
            .arg("-cp")
            .arg(JARS.join(":"))
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start java");
        Apache {
            child,
            log,
            member: me,
        }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `srvr` reports `mode` (e.g. "leader"); panics with the
    /// server's log if it does not within the election timeout.
    async fn wait_for_mode(&mut self, mode: &str) {
        let wanted = format!("Mode: {mode}");
        let deadline = tokio::time::Instant::now() + ELECTION_TIMEOUT;
        while tokio::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "Apache server {} exited ({status}):\n{}",
                    self.member.id,
                    self.log_text()
                );
            }
            if srvr(&self.member).await.contains(&wanted) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "Apache server {} never reported {wanted}:\n{}",
            self.member.id,
            self.log_text()
        );
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn srvr(member: &Member) -> String {
    let attempt = async {
        let mut s = TcpStream::connect((member.host.as_str(), member.client_port)).await?;
        s.write_all(b"srvr").await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        Ok::<_, std::io::Error>(out)
    };
    match timeout(Duration::from_secs(2), attempt).await {
        Ok(Ok(out)) => out,
        _ => String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zkd_agrees_with_apache_and_joins_a_settled_apache_ensemble() {
    if !apache_available() {
        return;
    }
    let _one_pair_at_a_time = APACHE.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let members = ensemble(&[1, 2, 3]);
    let mut apache2 = Apache::start(dir.path(), 2, &members);
    let mut apache3 = Apache::start(dir.path(), 3, &members);

    // zkd (server 1, the weakest candidate) looks while the JVMs start.
    // Whichever Apache server first has a majority with zkd wins (3 if
    // both are up in time, 2 if it is first), and zkd must agree with
    // what the Apache pair then reports.
    let mut zkd = zkd_endpoint(1, &members).await;
    let (leader, state) = zkd.elect(0, 0).await;
    assert_eq!(state, ServerState::Following);
    let (leading, following) = match leader {
        2 => (&mut apache2, &mut apache3),
        3 => (&mut apache3, &mut apache2),
        other => panic!("zkd follows {other}, which is not an Apache server"),
    };
    leading.wait_for_mode("leader").await;
    following.wait_for_mode("follower").await;

    // A fresh zkd joins the now settled Apache pair.
    zkd.links.close().await;
    drop(zkd);
    let mut rejoining = zkd_endpoint(1, &members).await;
    assert_eq!(
        rejoining.elect(0, 0).await,
        (leader, ServerState::Following)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apache_servers_follow_a_zkd_leader() {
    if !apache_available() {
        return;
    }
    let _one_pair_at_a_time = APACHE.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let members = ensemble(&[1, 2, 3]);
    let me = members[2].clone();
    // Followers of zkd connect here once they decide.
    let quorum_port = TcpListener::bind((me.host.as_str(), me.quorum_port))
        .await
        .unwrap();
    let zkd = zkd_endpoint(3, &members).await;
    let apache1 = Apache::start(dir.path(), 1, &members);
    let apache2 = Apache::start(dir.path(), 2, &members);

    // A higher accepted epoch makes zkd the best candidate whatever the ids.
    let election = tokio::spawn(async move {
        let mut zkd = zkd;
        let outcome = zkd.elect(0, 1).await;
        let answering = tokio::spawn(async move {
            answer_while_settled(&mut zkd.election, &zkd.links, &mut zkd.rx).await
        });
        (outcome, answering)
    });
    let mut followers = BTreeSet::new();
    // Held open until the end: a follower whose leader hangs up looks again,
    // and could then elect another leader with the server still starting.
    let mut follower_streams = Vec::new();
    let accepting = async {
        while followers.len() < 2 {
            let (mut stream, _) = quorum_port.accept().await.unwrap();
            let mut head = [0u8; 24];
            if stream.read_exact(&mut head).await.is_err() {
                continue;
            }
            let packet_type = i32::from_be_bytes(head[0..4].try_into().unwrap());
            assert_eq!(packet_type, FOLLOWERINFO, "a follower's first packet");
            followers.insert(i64::from_be_bytes(head[16..24].try_into().unwrap()));
            follower_streams.push(stream);
        }
    };
    if timeout(ELECTION_TIMEOUT, accepting).await.is_err() {
        panic!(
            "Apache servers did not follow zkd; followers seen: {followers:?}\n\
             --- server 1:\n{}\n--- server 2:\n{}",
            apache1.log_text(),
            apache2.log_text()
        );
    }
    assert_eq!(followers, BTreeSet::from([1, 2]));
    let (outcome, answering) = election.await.unwrap();
    assert_eq!(outcome, (3, ServerState::Leading));
    answering.abort();
    drop(follower_streams);
}
