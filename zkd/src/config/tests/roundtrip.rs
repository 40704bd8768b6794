//! render() output, and parse(render(x)) == x, by example and by proptest.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::{cfg, src, ENSEMBLE};
use crate::config::{
    FourLetterWhitelist, PeerAddr, PeerRole, ServerSpec, ZooCfg, KNOWN_FOUR_LETTER_WORDS,
};

fn reparse(c: &ZooCfg) -> ZooCfg {
    let text = c.render();
    ZooCfg::parse_str(&text, src())
        .unwrap_or_else(|e| panic!("{e}\n--- rendered ---\n{text}"))
        .cfg
}

#[test]
fn standalone_default_renders_tersely() {
    let c = ZooCfg::standalone_default(PathBuf::from("/var/lib/zkd"));
    assert_eq!(
        c.render(),
        "# Time and storage\ntickTime=3000\ndataDir=/var/lib/zkd\n\n# Clients\nclientPort=2181\nclientPortAddress=127.0.0.1\n"
    );
    assert_eq!(reparse(&c), c);
    assert!(c.validate(Path::new("generated")).unwrap().is_empty());
}

#[test]
fn ensemble_with_everything_renders_and_reads_back() {
    let mut c = cfg(ENSEMBLE);
    c.data_log_dir = Some(PathBuf::from("/srv/zk log/é"));
    c.four_letter_words = FourLetterWhitelist::parse("ruok,stat,mntr").0;
    c.force_sync = false;
    c.super_digest = Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=".into());
    c.multi_address_enabled = true;
    let mut s4 = ServerSpec::new(4, "fd00::4", 2888, 3888);
    s4.alt_addrs.push(PeerAddr {
        host: "zk4-b".into(),
        quorum_port: 2889,
        election_port: 3889,
    });
    s4.role = PeerRole::Observer;
    s4.client_addr = Some((Some("fd00::4".into()), 2181));
    c.servers.insert(4, s4);
    c.extra = vec![
        (
            "metricsProvider.className".into(),
            "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider".into(),
        ),
        ("x weird=key".into(), "C:\\zk\\data".into()),
    ];
    let text = c.render();
    assert!(
        text.contains("server.4=[fd00::4]:2888:3888|zk4-b:2889:3889:observer;[fd00::4]:2181\n"),
        "{text}"
    );
    assert!(text.contains("dataLogDir=/srv/zk log/\\u00E9\n"), "{text}");
    assert!(
        text.contains("forceSync=no\n4lw.commands.whitelist=mntr,ruok,stat\n")
            || text.contains("4lw.commands.whitelist=mntr,ruok,stat\n"),
        "{text}"
    );
    assert!(
        text.contains("x\\ weird\\=key=C:\\\\zk\\\\data\n"),
        "{text}"
    );
    assert!(text.is_ascii());
    assert_eq!(reparse(&c), c);
}

#[test]
fn dynamic_config_file_keeps_servers_out_of_the_main_file() {
    let mut c = cfg(ENSEMBLE);
    c.dynamic_config_file = Some(PathBuf::from("/etc/zk/zoo.cfg.dynamic.100000000"));
    let text = c.render();
    assert!(!text.contains("server."), "{text}");
    assert!(text.contains("dynamicConfigFile=/etc/zk/zoo.cfg.dynamic.100000000\n"));
    assert_eq!(c.render_dynamic().lines().count(), 3);
    c.validate(Path::new("generated")).unwrap();
}

#[test]
fn validate_refuses_what_would_not_read_back() {
    let mut c = ZooCfg::standalone_default(PathBuf::from("/d"));
    c.autopurge_snap_retain_count = 1;
    let e = c
        .validate(Path::new("gen/zoo.cfg"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("gen/zoo.cfg: does not read back as built (autopurge_snap_retain_count: 1 reads back as 3)"), "{e}");

    let mut c = ZooCfg::standalone_default(PathBuf::from("/d"));
    c.extra.push(("tickTime".into(), "5".into()));
    assert!(c
        .validate(Path::new("g"))
        .unwrap_err()
        .to_string()
        .contains("does not read back"));

    let mut c = ZooCfg::standalone_default(PathBuf::from("/d"));
    c.tick_time_ms = u32::MAX;
    assert_eq!(
        c.validate(Path::new("g")).unwrap_err().to_string(),
        "g:2: tickTime: 4294967295 is out of range (1 to 2147483647)"
    );

    let mut c = cfg(ENSEMBLE);
    c.init_limit = 0;
    assert_eq!(
        c.validate(Path::new("g")).unwrap_err().to_string(),
        "g: initLimit: not set; it is required when server.N lines form an ensemble"
    );
    assert!(c.check_myid(Path::new("g"), Some(1)).is_ok());
}

fn path() -> impl Strategy<Value = PathBuf> {
    "/[a-z]{1,8}(/[a-z0-9é_.:=#-]{1,6}( [a-z]{1,3})?){0,3}".prop_map(PathBuf::from)
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o))),
        any::<[u16; 8]>().prop_map(|s| IpAddr::V6(Ipv6Addr::from(s))),
    ]
}

fn port() -> impl Strategy<Value = u16> {
    1..=u16::MAX
}

fn int() -> impl Strategy<Value = u32> {
    0..=i32::MAX as u32
}

fn whitelist() -> impl Strategy<Value = FourLetterWhitelist> {
    let word = prop_oneof![
        proptest::sample::select(KNOWN_FOUR_LETTER_WORDS.to_vec()).prop_map(String::from),
        "[a-z]{4}"
    ];
    prop_oneof![
        Just(FourLetterWhitelist::All),
        proptest::collection::btree_set(word, 0..5).prop_map(FourLetterWhitelist::Only),
    ]
}

/// Ensembles that ZooKeeper's rules accept: unique hosts per server, and a
/// participant count that fits `standalone_enabled`.
fn servers() -> impl Strategy<Value = (BTreeMap<u64, ServerSpec>, bool, bool)> {
    let participants = prop_oneof![Just(0usize), Just(1), Just(3), Just(4), Just(5)];
    (
        participants,
        0usize..3,
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec((any::<bool>(), 0u8..3, port()), 8),
    )
        .prop_map(|(p, o, multi, standalone, shapes)| {
            let o = if p == 0 { 0 } else { o };
            let standalone = standalone && !(p == 1 && o > 0) || p == 0;
            let mut map = BTreeMap::new();
            for (i, (v6, client, cport)) in shapes.into_iter().take(p + o).enumerate() {
                let id = (i as u64) * 7 + 1;
                let host = if v6 {
                    format!("fd00::{id:x}")
                } else {
                    format!("zk{id}.example")
                };
                let mut s = ServerSpec::new(id, host.clone(), 2888, 3888);
                if i >= p {
                    s.role = PeerRole::Observer;
                }
                if multi {
                    s.alt_addrs.push(PeerAddr {
                        host: format!("zk{id}-b"),
                        quorum_port: 2888,
                        election_port: 3888,
                    });
                }
                let cport = if cport == 2888 || cport == 3888 {
                    2181
                } else {
                    cport
                };
                s.client_addr = match client {
                    0 => None,
                    1 => Some((None, cport)),
                    _ => Some((Some(host), cport)),
                };
                map.insert(id, s);
            }
            (map, multi, standalone)
        })
}

/// Unknown keys (ZooKeeper trims keys and values, so neither may start or
/// end with a blank).
fn extra() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::btree_map(
        "x-[a-zA-Z0-9.:= #!\\\\é]{0,9}[a-zA-Z0-9]",
        "[!-~]([ -~é\t]{0,10}[!-~])?",
        0..4,
    )
    .prop_map(|m| m.into_iter().collect())
}

prop_compose! {
    fn zoo_cfg()(
        (tick, init, sync, clm, data_dir, data_log_dir) in (1..=i32::MAX as u32, 1..1000u32, 1..1000u32, 0..100u32, path(), proptest::option::of(path())),
        (client_port, client_ip, secure, secure_ip, backlog, omp) in (port(), proptest::option::of(ip()), proptest::option::of(port()), proptest::option::of(ip()), proptest::option::of(1..=i32::MAX as u32), proptest::option::of(port())),
        (max_cc, max_c, min_to, max_to) in (int(), int(), proptest::option::of(int()), proptest::option::of(int())),
        (gol, snap, snap_kb, txn_kb, prealloc, fsync_ms) in (1..=i32::MAX as u32, 2..=i32::MAX as u64, 0..=i64::MAX as u64 / 1024, 0..=i64::MAX as u64 / 1024, 1..=i64::MAX as u64 / 1024, 0..=i64::MAX as u64),
        (retain, purge, jute, fourlw, check_ms, per_min, never_ms) in (3..=i32::MAX as u32, int(), 1..=i32::MAX as u32, whitelist(), 1..=i32::MAX as u64, 1..=i32::MAX as u32, 0..=i64::MAX as u64),
        (digest, admin_ip, admin_port) in (proptest::option::of(("[a-z]{1,8}", any::<[u8; 20]>())), ip(), port()),
        flags in proptest::collection::vec(any::<bool>(), 14),
        (peer_observer, (servers, multi, standalone), extra) in (any::<bool>(), servers(), extra()),
    ) -> ZooCfg {
        use base64::Engine as _;
        let cap = |n: u32| tick.saturating_mul(n).min(i32::MAX as u32);
        let min_eff = min_to.unwrap_or(cap(2));
        let max_to = match max_to { Some(m) if m < min_eff => Some(min_eff), None if cap(20) < min_eff => Some(min_eff), other => other };
        ZooCfg {
            tick_time_ms: tick, init_limit: init, sync_limit: sync, connect_to_learner_master_limit: clm,
            data_dir, data_log_dir,
            client_port: Some(client_port), client_port_address: client_ip,
            secure_client_port: secure, secure_client_port_address: secure.and(secure_ip),
            client_port_listen_backlog: backlog, observer_master_port: omp,
            max_client_cnxns: max_cc, max_cnxns: max_c, min_session_timeout_ms: min_to, max_session_timeout_ms: max_to,
            local_sessions_enabled: flags[0], local_sessions_upgrading_enabled: flags[1],
            global_outstanding_limit: gol, snap_count: snap, snap_size_limit_kb: snap_kb, txn_log_size_limit_kb: txn_kb,
            pre_alloc_size_kb: prealloc, force_sync: flags[2], fsync_warning_threshold_ms: fsync_ms,
            autopurge_snap_retain_count: retain, autopurge_purge_interval_hours: purge, jute_max_buffer: jute,
            four_letter_words: fourlw, extended_types_enabled: flags[3],
            container_check_interval_ms: check_ms, container_max_per_minute: per_min, container_max_never_used_interval_ms: never_ms,
            super_digest: digest.map(|(user, d)| format!("{user}:{}", base64::engine::general_purpose::STANDARD.encode(d))),
            digest_auth_enabled: flags[4], skip_acl: flags[5],
            admin_enable_server: flags[6], admin_server_address: admin_ip, admin_server_port: admin_port,
            servers, peer_type: if peer_observer { PeerRole::Observer } else { PeerRole::Participant },
            standalone_enabled: standalone, reconfig_enabled: flags[7], quorum_listen_on_all_ips: flags[8],
            multi_address_enabled: multi || flags[9], leader_serves: flags[10], sync_enabled: flags[11],
            dynamic_config_file: None,
            extra,
        }
    }
}

proptest! {
    // No regression files: they would land outside this module's directory.
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn render_then_parse_is_identity(c in zoo_cfg()) {
        let text = c.render();
        let back = ZooCfg::parse_str(&text, src()).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back.cfg, &c, "{}", text);
        prop_assert!(text.is_ascii());
        prop_assert_eq!(back.cfg.render(), text);
    }

    #[test]
    fn whitelist_render_parses_back(w in whitelist()) {
        prop_assert_eq!(FourLetterWhitelist::parse(&w.render()).0, w);
    }

    #[test]
    fn parser_never_panics(text in "([a-zA-Z.]{0,12}[=: ]?[ -~\\\\]{0,20}\n){0,8}") {
        let _ = ZooCfg::parse_str(&text, src());
    }
}

#[test]
fn whitelist_words_are_distinct() {
    let set: BTreeSet<&str> = KNOWN_FOUR_LETTER_WORDS.iter().copied().collect();
    assert_eq!(set.len(), KNOWN_FOUR_LETTER_WORDS.len());
}
