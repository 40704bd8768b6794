//! Each word against what a live 3.8.0 printed, with the fake holding the
//! values that server had: the texts must match byte for byte (with our
//! version string in place of 3.8's).

use super::capture::{as_zkd, capture, source_from_mntr, Mntr};
use super::fake::FakeSource;
use crate::config::ZooCfg;
use crate::fourletter::*;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

fn assert_same(ours: &str, captured: &str) {
    let expected = as_zkd(captured);
    if ours != expected {
        for (i, (a, b)) in ours.lines().zip(expected.lines()).enumerate() {
            assert_eq!(a, b, "first difference at line {}", i + 1);
        }
        assert_eq!(ours, expected);
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn mntr_standalone_fresh() {
    let mut src = source_from_mntr(capture!("standalone_fresh.mntr"));
    assert_same(&src.ask(Word::Mntr), capture!("standalone_fresh.mntr"));
}

#[test]
fn mntr_standalone_with_sessions_watches_and_namespaces() {
    let mut src = source_from_mntr(capture!("standalone_busy.mntr"));
    assert_same(&src.ask(Word::Mntr), capture!("standalone_busy.mntr"));
}

#[test]
fn mntr_follower() {
    let mut src = source_from_mntr(capture!("follower.mntr"));
    assert_same(&src.ask(Word::Mntr), capture!("follower.mntr"));
}

#[test]
fn mntr_leader_with_learner_sets() {
    let mut src = source_from_mntr(capture!("leader.mntr"));
    assert_same(&src.ask(Word::Mntr), capture!("leader.mntr"));
}

#[test]
fn mntr_key_order_does_not_depend_on_values() {
    // The same keys in the same places with every figure at zero.
    let mut src = FakeSource::standalone();
    let ours = Mntr::parse(&src.ask(Word::Mntr));
    let theirs = Mntr::parse(capture!("standalone_fresh.mntr"));
    assert_eq!(ours.keys(), theirs.keys());
}

#[test]
fn srvr_standalone() {
    let mut src = FakeSource::standalone();
    for _ in 0..8 {
        src.stats.record_packet_received(4);
    }
    src.stats.record_packets_sent(8);
    assert_same(&src.ask(Word::Srvr), capture!("standalone_fresh.srvr"));
}

#[test]
fn srvr_follower_and_leader() {
    let mut follower = source_from_mntr(capture!("follower.mntr"));
    follower.stats = ServerStats::new();
    for _ in 0..2 {
        follower.stats.record_packet_received(4);
    }
    follower.stats.record_packets_sent(2);
    follower.figures.last_zxid = 0;
    assert_same(&follower.ask(Word::Srvr), capture!("follower.srvr"));

    let mut leader = source_from_mntr(capture!("leader.mntr"));
    leader.stats = ServerStats::new();
    for _ in 0..2 {
        leader.stats.record_packet_received(4);
    }
    leader.stats.record_packets_sent(2);
    leader.figures.last_zxid = 0x1_0000_0000;
    assert_same(&leader.ask(Word::Srvr), capture!("leader.srvr"));
}

fn traffic(received: u64, sent: u64) -> ConnStats {
    let mut stats = ConnStats::default();
    stats.packets_received = received;
    stats.packets_sent = sent;
    stats
}

/// The values of the busy standalone capture: two sessions, one connection
/// waiting for its handshake, and the 4lw connection itself.
fn busy_standalone() -> FakeSource {
    let mut src = FakeSource::standalone();
    let (s0, s1) = (0x100000e47a10000_i64, 0x100000e47a10001_i64);
    let session = |id, est| {
        Some(ConnSession {
            session_id: id,
            established_ms: est,
            timeout_ms: 10000,
        })
    };
    let mut first = traffic(3, 3);
    first.record_response(0, 7, "SESS", 978_100, 978_100);
    first.record_response(1, 7, "EXIS", 978_150, 978_150);
    first.record_response(2, 8, "CREA", 978_177, 978_178);
    let mut second = traffic(15, 15);
    second.record_response(0, 1, "SESS", 978_000, 978_006);
    for cxid in 10..=14 {
        second.record_response(cxid, 6, "GETD", 978_172, 978_172);
    }
    let four_letter = traffic(1, 0);
    src.connections = vec![
        ConnInfo {
            remote: addr("127.0.0.1:51248"),
            interest_ops: interest::READ,
            outstanding_requests: 0,
            stats: first,
            session: session(s1, 1_795_321_472_916),
        },
        ConnInfo {
            remote: addr("127.0.0.1:51262"),
            interest_ops: 0,
            outstanding_requests: 0,
            stats: four_letter,
            session: None,
        },
        ConnInfo {
            remote: addr("127.0.0.1:51236"),
            interest_ops: interest::READ,
            outstanding_requests: 0,
            stats: second,
            session: session(s0, 1_795_321_472_860),
        },
    ];
    src.session_dump = SessionDump::Expiry {
        local: None,
        sessions: vec![ExpiryBucket {
            expires_at_ms: 1_795_321_484_000,
            items: vec![s1, s0],
        }],
    };
    src.ephemerals = vec![
        (s1, vec!["/e2".into()]),
        (s0, vec!["/foo/eph2".into(), "/foo/eph".into()]),
    ];
    src.connection_expiry = vec![
        ExpiryBucket {
            expires_at_ms: 1_795_321_494_000,
            items: vec![ConnRef {
                remote: addr("127.0.0.1:51278"),
                session_id: 0,
            }],
        },
        ExpiryBucket {
            expires_at_ms: 1_795_321_484_000,
            items: vec![
                ConnRef {
                    remote: addr("127.0.0.1:51248"),
                    session_id: s1,
                },
                ConnRef {
                    remote: addr("127.0.0.1:51236"),
                    session_id: s0,
                },
            ],
        },
    ];
    src.watch_summary = WatchSummary {
        connections: 2,
        paths: 2,
        watches: 3,
    };
    src.watches_by_session = vec![
        (s1, vec!["/bar".into()]),
        (s0, vec!["/foo".into(), "/bar".into()]),
    ];
    src.watches_by_path = vec![("/foo".into(), vec![s0]), ("/bar".into(), vec![s1, s0])];
    src
}

#[test]
fn cons_lists_every_connection_in_full() {
    let mut src = busy_standalone();
    assert_same(&src.ask(Word::Cons), capture!("standalone_busy.cons"));
}

#[test]
fn stat_lists_connections_briefly() {
    let mut src = busy_standalone();
    src.connections[1].remote = addr("127.0.0.1:51294");
    for _ in 0..27 {
        src.stats.record_packet_received(4);
    }
    src.stats.record_packets_sent(28);
    // 25 ms over 18 requests: 1.3889 on average.
    for latency in [6, 6, 6, 6, 1].into_iter().chain([0; 13]) {
        src.stats.request_latency().add(latency);
    }
    src.figures = Figures {
        alive_connections: 3,
        last_zxid: 8,
        node_count: 11,
        ..src.figures
    };
    assert_same(&src.ask(Word::Stat), capture!("standalone_busy.stat"));
}

#[test]
fn dump_standalone() {
    let mut src = busy_standalone();
    assert_same(&src.ask(Word::Dump), capture!("standalone_busy.dump"));
}

#[test]
fn dump_follower_and_leader_sessions() {
    let conns = vec![ExpiryBucket {
        expires_at_ms: 1_795_322_154_000,
        items: vec![ConnRef {
            remote: addr("127.0.0.1:56362"),
            session_id: 0,
        }],
    }];
    let mut follower = FakeSource::standalone();
    follower.session_dump = SessionDump::Learner {
        local: None,
        sessions: Vec::new(),
    };
    follower.connection_expiry = conns.clone();
    assert_same(&follower.ask(Word::Dump), capture!("follower.dump"));

    let mut leader = FakeSource::standalone();
    leader.connection_expiry = conns;
    leader.connection_expiry[0].items[0].remote = addr("127.0.0.1:49916");
    assert_same(&leader.ask(Word::Dump), capture!("leader.dump"));
}

#[test]
fn watch_words() {
    let mut src = busy_standalone();
    assert_same(&src.ask(Word::Wchs), capture!("standalone_busy.wchs"));
    assert_same(&src.ask(Word::Wchc), capture!("standalone_busy.wchc"));
    assert_same(&src.ask(Word::Wchp), capture!("standalone_busy.wchp"));
}

fn cfg(text: &str) -> ZooCfg {
    ZooCfg::parse_str(text, Path::new("zoo.cfg"))
        .expect("test config parses")
        .cfg
}

#[test]
fn conf_and_dirs_standalone() {
    let c = cfg(
        "tickTime=2000\ndataDir=/tmp/fl-zk/data\nclientPort=22999\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n",
    );
    let dir = PathBuf::from("/tmp/fl-zk/data/version-2");
    let mut src = FakeSource::standalone();
    src.conf = ConfInfo::from_cfg(&c, Some(7), Some(22999), dir.clone(), dir);
    src.dir_sizes = DirSizes {
        txn_log_dir: 457,
        snapshot_dir: 457,
    };
    assert_same(&src.ask(Word::Conf), capture!("standalone_fresh.conf"));
    assert_same(&src.ask(Word::Dirs), capture!("standalone_fresh.dirs"));
}

#[test]
fn conf_quorum_members() {
    let servers = "server.1=127.0.0.1:23011:23021\n\
                   server.2=127.0.0.1:23012:23022\n\
                   server.3=127.0.0.1:23013:23023;127.0.0.1:23003\n";
    for (id, captured) in [(1, capture!("follower.conf")), (3, capture!("leader.conf"))] {
        let text = format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/tmp/fl-q/n{id}/data\n\
             clientPort=2300{id}\nclientPortAddress=127.0.0.1\n{servers}"
        );
        let dir = PathBuf::from(format!("/tmp/fl-q/n{id}/data/version-2"));
        let mut src = FakeSource::standalone();
        src.conf = ConfInfo::from_cfg(
            &cfg(&text),
            Some(id),
            Some(23000 + id as u16),
            dir.clone(),
            dir,
        );
        src.dir_sizes = DirSizes {
            txn_log_dir: 613,
            snapshot_dir: 613,
        };
        assert_same(&src.ask(Word::Conf), captured);
    }
}

#[test]
fn envi_has_3_8_keys_in_3_8_order() {
    let mut src = FakeSource::standalone();
    let ours = src.ask(Word::Envi);
    let keys = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| l.split('=').next().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(keys(&ours), keys(capture!("standalone_fresh.envi")));
    assert!(ours.ends_with("os.memory.total=12MB\n"));
    assert!(ours.contains(&format!(
        "\nzookeeper.version={}\n",
        version::full_version()
    )));
    assert!(ours.contains("\njava.version=<NA>\n"));
}

#[test]
fn not_serving_answers() {
    let mut src = FakeSource::standalone();
    src.role = None;
    assert_same(&src.ask(Word::Srvr), capture!("not_serving.srvr"));
    assert_same(&src.ask(Word::Hash), capture!("not_serving.hash"));
    assert_same(&src.ask(Word::Isro), capture!("not_serving.isro"));
}

#[test]
fn refusal_of_a_word_outside_the_whitelist() {
    let mut src = FakeSource::standalone();
    let whitelist = crate::config::FourLetterWhitelist::default();
    let answer = respond(Word::Ruok, &[], &mut src, &whitelist);
    assert_same(&answer, capture!("refused.ruok"));
}
