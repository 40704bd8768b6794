//! The rules around the words: recognition, the whitelist, the trace mask,
//! resets, packet accounting, and the cases the captures do not cover.

use super::fake::FakeSource;
use crate::config::FourLetterWhitelist;
use crate::fourletter::metrics::{Counter, Summary};
use crate::fourletter::*;
use std::path::PathBuf;

#[test]
fn recognises_exactly_the_18_words() {
    for w in Word::ALL {
        assert_eq!(is_four_letter_word(w.as_str().as_bytes()), Some(w));
    }
    assert_eq!(is_four_letter_word(b"ruokXYZ"), Some(Word::Ruok));
    assert_eq!(is_four_letter_word(b"RUOK"), None);
    assert_eq!(is_four_letter_word(b"ruo"), None);
    assert_eq!(
        is_four_letter_word(&[0, 0, 0, 45]),
        None,
        "a connect request's length prefix"
    );
    let names: Vec<&str> = Word::ALL.iter().map(|w| w.as_str()).collect();
    assert_eq!(names, crate::config::KNOWN_FOUR_LETTER_WORDS);
}

#[test]
fn whitelist_refuses_everything_but_srvr_by_default() {
    let whitelist = FourLetterWhitelist::default();
    for w in Word::ALL {
        let mut src = FakeSource::standalone();
        let answer = respond(w, &[0; 8], &mut src, &whitelist);
        if w == Word::Srvr {
            assert!(answer.starts_with("Zookeeper version: "), "{answer}");
        } else {
            assert_eq!(
                answer,
                format!("{w} is not executed because it is not in the whitelist.\n")
            );
        }
    }
    // A refused stmk must not change the mask, a refused srst not reset.
    let mut src = FakeSource::standalone();
    src.stats.count(Counter::CommitCount, 5);
    respond(Word::Stmk, &7i64.to_be_bytes(), &mut src, &whitelist);
    respond(Word::Srst, &[], &mut src, &whitelist);
    assert_eq!(src.trace_mask, DEFAULT_TRACE_MASK);
    assert_eq!(src.stats.counter(Counter::CommitCount), 5);
}

#[test]
fn listed_words_are_allowed() {
    let (whitelist, _) = FourLetterWhitelist::parse("ruok, mntr");
    let mut src = FakeSource::standalone();
    assert_eq!(respond(Word::Ruok, &[], &mut src, &whitelist), "imok");
    assert!(respond(Word::Mntr, &[], &mut src, &whitelist).starts_with("zk_version\t"));
    assert!(respond(Word::Conf, &[], &mut src, &whitelist).starts_with("conf is not executed"));
}

#[test]
fn trace_mask_is_read_and_set() {
    let mut src = FakeSource::standalone();
    assert_eq!(src.ask(Word::Gtmk), "306");
    assert_eq!(
        src.ask_with(Word::Stmk, &[0, 0, 0, 0, 0, 0, 1, 0x32]),
        "306"
    );
    assert_eq!(src.ask_with(Word::Stmk, &(-2i64).to_be_bytes()), "-2");
    assert_eq!(src.ask(Word::Gtmk), "-2");
    // Too few bytes: 3.8 fails reading the mask and answers nothing.
    assert_eq!(src.ask_with(Word::Stmk, &[1, 2, 3]), "");
    assert_eq!(src.trace_mask, -2);
}

#[test]
fn answers_that_do_not_depend_on_serving() {
    let mut src = FakeSource::standalone();
    src.role = None;
    assert_eq!(src.ask(Word::Ruok), "imok");
    assert_eq!(src.ask(Word::Gtmk), "306");
    assert!(src
        .ask(Word::Envi)
        .starts_with("Environment:\nzookeeper.version=3.8.0-"));
    for w in [
        Word::Conf,
        Word::Cons,
        Word::Crst,
        Word::Dirs,
        Word::Dump,
        Word::Mntr,
        Word::Srst,
        Word::Stat,
        Word::Wchc,
    ] {
        assert_eq!(src.ask(w), format!("{ZK_NOT_SERVING}\n"), "{w}");
    }
    assert_eq!(src.connection_stat_resets, 0);
}

#[test]
fn isro_tells_read_only_from_read_write() {
    let mut src = FakeSource::standalone();
    assert_eq!(src.ask(Word::Isro), "rw");
    src.role = Some(ServerRole::ReadOnly);
    assert_eq!(src.ask(Word::Isro), "ro");
    let srvr = src.ask(Word::Srvr);
    assert!(
        srvr.contains("\nREAD-ONLY mode; serving only read-only clients\nLatency"),
        "{srvr}"
    );
    assert!(srvr.contains("\nMode: read-only\n"), "{srvr}");
}

#[test]
fn srst_resets_server_stats_and_leader_proposals() {
    let mut src = FakeSource::standalone();
    src.stats.request_latency().add(9);
    src.stats.observe(Summary::FsyncTime, 3);
    assert_eq!(src.ask(Word::Srst), "Server stats reset.\n");
    assert_eq!(src.stats.request_latency().count(), 0);
    assert_eq!(src.stats.summary(Summary::FsyncTime).count, 0);
    assert_eq!(src.proposal_stat_resets, 0);
    // The reset is counted from zero: only srst's own answer.
    assert_eq!(
        (src.stats.packets_received(), src.stats.packets_sent()),
        (0, 1)
    );

    src.role = Some(leader());
    src.ask(Word::Srst);
    assert_eq!(src.proposal_stat_resets, 1);
}

#[test]
fn crst_resets_connection_stats() {
    let mut src = FakeSource::standalone();
    let mut stats = ConnStats::default();
    stats.record_response(4, 9, "GETD", 10, 12);
    src.connections.push(ConnInfo {
        remote: "10.0.0.7:40000".parse().unwrap(),
        interest_ops: interest::READ | interest::WRITE,
        outstanding_requests: 2,
        stats,
        session: Some(ConnSession {
            session_id: 0x7f,
            established_ms: 5,
            timeout_ms: 30000,
        }),
    });
    assert_eq!(
        src.ask(Word::Cons),
        " /10.0.0.7:40000[5](queued=2,recved=0,sent=0,sid=0x7f,lop=GETD,est=5,to=30000,\
         lcxid=0x4,lzxid=0x9,lresp=12,llat=2,minlat=2,avglat=2,maxlat=2)\n\n"
    );
    assert_eq!(src.ask(Word::Crst), "Connection stats reset.\n");
    assert_eq!(src.connection_stat_resets, 1);
    // After a reset there is no last cxid, so lcxid is left out.
    assert_eq!(
        src.ask(Word::Cons),
        " /10.0.0.7:40000[5](queued=2,recved=0,sent=0,sid=0x7f,lop=NA,est=5,to=30000,\
         lzxid=0xffffffffffffffff,lresp=0,llat=0,minlat=0,avglat=0,maxlat=0)\n\n"
    );
}

#[test]
fn each_word_counts_one_packet_in_and_its_writes_out() {
    let mut src = FakeSource::standalone();
    src.ask(Word::Ruok);
    assert_eq!(
        (src.stats.packets_received(), src.stats.packets_sent()),
        (1, 1)
    );
    assert_eq!(src.stats.counter(Counter::BytesReceivedCount), 4);
    // An empty answer writes nothing.
    src.ask(Word::Hash);
    assert_eq!(
        (src.stats.packets_received(), src.stats.packets_sent()),
        (2, 1)
    );
    // 3.8 writes long answers 8192 characters at a time.
    let mntr = src.ask(Word::Mntr);
    assert!(mntr.len() > 8192, "{}", mntr.len());
    assert_eq!(
        src.stats.packets_sent(),
        1 + mntr.len().div_ceil(8192) as u64
    );
}

#[test]
fn hash_prints_the_digest_history() {
    let mut src = FakeSource::standalone();
    assert_eq!(
        src.ask(Word::Hash),
        "",
        "no digests: 3.8 with digests disabled prints nothing"
    );
    src.digests = vec![
        ZxidDigest {
            zxid: 0x100000080,
            digest: 1_234_567_890,
        },
        ZxidDigest {
            zxid: 0x100000100,
            digest: -42,
        },
    ];
    assert_eq!(
        src.ask(Word::Hash),
        "100000080: 1234567890\n100000100: -42\n"
    );
}

fn leader() -> ServerRole {
    ServerRole::Leader(
        QuorumFigures {
            peer_state: "leading - broadcast".into(),
            quorum_size: 3,
            synced_observers: Some(1),
        },
        LeaderFigures {
            learners: 3,
            synced_followers: 2,
            synced_non_voting_followers: 0,
            pending_syncs: 0,
            leader_uptime_ms: 1000,
            proposal_sizes: BufferSizes {
                last: 90,
                min: 36,
                max: 1200,
            },
        },
    )
}

#[test]
fn srvr_on_a_leader_reports_proposal_sizes() {
    let mut src = FakeSource::standalone();
    src.role = Some(leader());
    let srvr = src.ask(Word::Srvr);
    assert!(
        srvr.ends_with("Mode: leader\nNode count: 5\nProposal sizes last/min/max: 90/36/1200\n"),
        "{srvr}"
    );
}

fn mntr_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("zk_{key}\t")).map(str::to_string))
}

#[test]
fn mntr_observer_has_quorum_gauges_only() {
    let mut src = FakeSource::standalone();
    src.role = Some(ServerRole::Observer(QuorumFigures {
        peer_state: "observing - broadcast".into(),
        quorum_size: 3,
        synced_observers: Some(4),
    }));
    let m = src.ask(Word::Mntr);
    assert_eq!(mntr_value(&m, "server_state").as_deref(), Some("observer"));
    assert_eq!(
        mntr_value(&m, "peer_state").as_deref(),
        Some("observing - broadcast")
    );
    assert_eq!(mntr_value(&m, "quorum_size").as_deref(), Some("3"));
    assert_eq!(mntr_value(&m, "synced_observers"), None);
    assert_eq!(mntr_value(&m, "learners"), None);
}

#[test]
fn mntr_leader_prints_leader_gauges() {
    let mut src = FakeSource::standalone();
    src.role = Some(leader());
    let m = src.ask(Word::Mntr);
    assert_eq!(mntr_value(&m, "synced_observers").as_deref(), Some("1"));
    assert_eq!(mntr_value(&m, "max_proposal_size").as_deref(), Some("1200"));
    assert_eq!(mntr_value(&m, "leader_uptime").as_deref(), Some("1000"));
}

#[test]
fn mntr_quota_lines_per_namespace() {
    let mut src = FakeSource::standalone();
    src.quotas = vec![QuotaUsage {
        namespace: "app".into(),
        count_limit: 100,
        bytes_limit: -1,
        count_usage: 7,
        bytes_usage: 512,
    }];
    src.stats.count_quota_exceeded("app");
    let m = src.ask(Word::Mntr);
    assert_eq!(
        mntr_value(&m, "app_quota_count_limit_per_namespace").as_deref(),
        Some("100")
    );
    assert_eq!(
        mntr_value(&m, "app_quota_bytes_limit_per_namespace").as_deref(),
        Some("-1")
    );
    assert_eq!(
        mntr_value(&m, "app_quota_count_usage_per_namespace").as_deref(),
        Some("7")
    );
    assert_eq!(
        mntr_value(&m, "app_quota_bytes_usage_per_namespace").as_deref(),
        Some("512")
    );
    assert_eq!(
        mntr_value(&m, "app_quota_exceeded_error_per_namespace").as_deref(),
        Some("1")
    );
    // Gauge sets come after the gauges and before the counters.
    let keys: Vec<&str> = m
        .lines()
        .map(|l| l.split('\t').next().unwrap_or_default())
        .collect();
    let pos = |k: &str| keys.iter().position(|x| *x == k).unwrap();
    assert!(pos("zk_non_mtls_local_conn_count") < pos("zk_app_quota_count_limit_per_namespace"));
    assert!(pos("zk_app_quota_bytes_usage_per_namespace") < pos("zk_proposal_count"));
}

#[test]
fn mntr_values_are_java_numbers() {
    let mut src = FakeSource::standalone();
    src.figures.connection_drop_probability = 0.25;
    src.stats.request_latency().add(1);
    src.stats.request_latency().add(0);
    src.stats.request_latency().add(0);
    let m = src.ask(Word::Mntr);
    assert_eq!(
        mntr_value(&m, "connection_drop_probability").as_deref(),
        Some("0.25")
    );
    assert_eq!(mntr_value(&m, "avg_latency").as_deref(), Some("0.3333"));
    assert_eq!(mntr_value(&m, "avg_fsynctime").as_deref(), Some("0.0"));
    assert_eq!(mntr_value(&m, "p999_readlatency").as_deref(), Some("0"));
    assert!(
        m.lines()
            .all(|l| l.starts_with("zk_") && l.matches('\t').count() == 1),
        "{m}"
    );
}

#[test]
fn conf_member_lines_follow_quorum_server_to_string() {
    let text = "tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir=/d\nclientPort=2181\n\
                multiAddress.enabled=true\n\
                server.1=zk1:2888:3888|10.0.0.1:2889:3889\n\
                server.2=zk2:2888:3888;2181\n\
                server.3=[::1]:2888:3888:observer;[::1]:2181\n";
    let cfg = crate::config::ZooCfg::parse_str(text, std::path::Path::new("zoo.cfg"))
        .unwrap()
        .cfg;
    let mut src = FakeSource::standalone();
    src.conf = ConfInfo::from_cfg(
        &cfg,
        Some(3),
        Some(2181),
        PathBuf::from("/d/version-2"),
        PathBuf::from("/d/version-2"),
    );
    let conf = src.ask(Word::Conf);
    let tail = conf.split_once("serverId=").unwrap().1;
    assert_eq!(
        tail,
        "3\ninitLimit=5\nsyncLimit=2\nelectionAlg=3\nelectionPort=3888\nquorumPort=2888\npeerType=1\n\
         membership: \n\
         server.1=10.0.0.1:2889:3889|zk1:2888:3888:participant\n\
         server.2=zk2:2888:3888:participant;0.0.0.0:2181\n\
         server.3=[::1]:2888:3888:observer;[::1]:2181\n\
         version=0"
    );
}

#[test]
fn conf_reports_unset_ports_and_backlog_as_minus_one() {
    let mut src = FakeSource::standalone();
    src.conf.client_port = None;
    src.conf.client_port_listen_backlog = Some(128);
    let conf = src.ask(Word::Conf);
    assert!(
        conf.starts_with("clientPort=-1\nsecureClientPort=-1\n"),
        "{conf}"
    );
    assert!(
        conf.contains("\nclientPortListenBacklog=128\nserverId=0\n"),
        "{conf}"
    );
}

#[test]
fn dump_with_local_sessions_and_learner_sessions() {
    let mut src = FakeSource::standalone();
    src.session_dump = SessionDump::Expiry {
        local: Some(vec![ExpiryBucket {
            expires_at_ms: 0,
            items: vec![5],
        }]),
        sessions: Vec::new(),
    };
    let dump = src.ask(Word::Dump);
    assert!(dump.starts_with(
        "SessionTracker dump:\nLocal Session Sets (1)/(1):\n1 expire at Thu Jan 01 00:00:00 UTC 1970:\n\t0x5\n\
         Global Session Sets (0)/(0):\nephemeral nodes dump:\n"
    ), "{dump}");
    src.session_dump = SessionDump::Learner {
        local: None,
        sessions: vec![(0x20, 30000), (0x10, 4000)],
    };
    let dump = src.ask(Word::Dump);
    assert!(
        dump.starts_with(
            "SessionTracker dump:\nGlobal Sessions(2):\n0x10\t4000ms\n0x20\t30000ms\n"
        ),
        "{dump}"
    );
    // An emptied bucket still prints, as in 3.8's expiry queue.
    src.connection_expiry = vec![ExpiryBucket {
        expires_at_ms: 86_400_000,
        items: vec![],
    }];
    let dump = src.ask(Word::Dump);
    assert!(
        dump.ends_with("Connections Sets (1)/(0):\n0 expire at Fri Jan 02 00:00:00 UTC 1970:\n"),
        "{dump}"
    );
}

#[test]
fn ipv6_connections_print_like_java() {
    let mut src = FakeSource::standalone();
    src.connections.push(ConnInfo {
        remote: "[::1]:5000".parse().unwrap(),
        interest_ops: 0,
        outstanding_requests: 0,
        stats: ConnStats::default(),
        session: None,
    });
    assert_eq!(
        src.ask(Word::Cons),
        " /[0:0:0:0:0:0:0:1]:5000[0](queued=0,recved=0,sent=0)\n\n"
    );
}
