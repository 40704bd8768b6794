//! Single settings: defaults, spellings, ranges, and the one-line errors.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use super::{cfg, err, load, warnings, BASE};
use crate::config::{FourLetterWhitelist, PeerRole, ZooCfg};

#[test]
fn minimal_file_gets_zookeeper_defaults() {
    let got = load(BASE);
    let want = ZooCfg {
        client_port: Some(2181),
        ..ZooCfg::with_defaults(PathBuf::from("/var/lib/zk"))
    };
    assert_eq!(got.cfg, want);
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
    let c = got.cfg;
    assert_eq!(c.tick_time_ms, 3000);
    assert_eq!(
        (c.min_session_timeout(), c.max_session_timeout()),
        (6000, 60000)
    );
    assert_eq!(c.max_client_cnxns, 60);
    assert_eq!(c.global_outstanding_limit, 1000);
    assert_eq!(c.snap_count, 100_000);
    assert_eq!(c.pre_alloc_size_kb, 65_536);
    assert_eq!(c.jute_max_buffer, 0xfffff);
    assert!(c.force_sync && c.standalone_enabled && !c.reconfig_enabled);
    assert!(c.four_letter_words.allows("srvr") && !c.four_letter_words.allows("ruok"));
    assert_eq!(c.data_log_dir(), PathBuf::from("/var/lib/zk"));
    assert_eq!(c.client_addr(), Some("0.0.0.0:2181".parse().unwrap()));
    assert!(c.is_standalone());
}

#[test]
fn debian_sample_config_reads() {
    let text = "# The number of milliseconds of each tick\ntickTime=2000\ninitLimit=10\nsyncLimit=5\n\
                dataDir=/tmp/zookeeper\n# the port at which the clients will connect\nclientPort=2181\n\
                #maxClientCnxns=60\n#autopurge.purgeInterval=1\n";
    let c = cfg(text);
    assert_eq!((c.tick_time_ms, c.init_limit, c.sync_limit), (2000, 10, 5));
    assert_eq!(
        (c.min_session_timeout(), c.max_session_timeout()),
        (4000, 40000)
    );
}

#[test]
fn java_properties_forms_are_accepted() {
    let c = cfg("dataDir /var/lib/zk\nclientPort: 2181\ntickTime = 2\\\n   500\n");
    assert_eq!((c.client_port, c.tick_time_ms), (Some(2181), 2500));
}

#[test]
fn missing_data_dir_is_a_file_level_error() {
    assert_eq!(
        err("clientPort=2181\n"),
        "/etc/zk/zoo.cfg: dataDir: not set; ZooKeeper requires a data directory"
    );
    assert_eq!(
        err("dataDir=\nclientPort=2181"),
        "/etc/zk/zoo.cfg:1: dataDir: empty; a directory or file path is required"
    );
}

#[test]
fn number_errors_name_file_line_and_key() {
    assert_eq!(
        err(&format!("{BASE}tickTime=abc\n")),
        "/etc/zk/zoo.cfg:3: tickTime: 'abc' is not a whole number"
    );
    assert_eq!(
        err(&format!("{BASE}tickTime=0\n")),
        "/etc/zk/zoo.cfg:3: tickTime: 0 is out of range (1 to 2147483647)"
    );
    assert_eq!(
        err(&format!("{BASE}initLimit=-1\n")),
        "/etc/zk/zoo.cfg:3: initLimit: -1 is out of range (0 to 2147483647)"
    );
    assert_eq!(
        err("dataDir=/d\nclientPort=70000\n"),
        "/etc/zk/zoo.cfg:2: clientPort: 70000 is out of range (0 to 65535)"
    );
    assert_eq!(
        err(&format!("{BASE}maxClientCnxns=2147483648\n")),
        "/etc/zk/zoo.cfg:3: maxClientCnxns: 2147483648 is out of range (0 to 2147483647)"
    );
    // A comment after a value is part of the value in properties syntax.
    assert_eq!(
        err(&format!("{BASE}tickTime=2000 # ms\n")),
        "/etc/zk/zoo.cfg:3: tickTime: '2000 # ms' is not a whole number"
    );
}

#[test]
fn error_line_is_where_a_continued_setting_starts() {
    let text = "dataDir=/d\n\n# c\nclientPort=\\\n  21x81\n";
    assert_eq!(
        err(text),
        "/etc/zk/zoo.cfg:4: clientPort: '21x81' is not a whole number"
    );
}

#[test]
fn client_port_zero_means_unset_and_then_nothing_listens() {
    assert_eq!(
        err("dataDir=/d\nclientPort=0\n"),
        "/etc/zk/zoo.cfg:2: clientPort: not set, nor secureClientPort: clients could not connect"
    );
    assert_eq!(
        cfg("dataDir=/d\nsecureClientPort=2281\n").secure_client_addr(),
        Some("0.0.0.0:2281".parse().unwrap())
    );
}

#[test]
fn client_port_address_needs_client_port() {
    assert_eq!(
        err("dataDir=/d\nsecureClientPort=2281\nclientPortAddress=127.0.0.1\n"),
        "/etc/zk/zoo.cfg:3: clientPortAddress: set, but clientPort is not"
    );
    assert_eq!(
        err("dataDir=/d\nclientPort=1\nsecureClientPortAddress=::1\n"),
        "/etc/zk/zoo.cfg:3: secureClientPortAddress: set, but secureClientPort is not"
    );
}

#[test]
fn client_port_address_takes_ip_literals_and_host_names() {
    let addr = |a: &str| cfg(&format!("{BASE}clientPortAddress={a}\n")).client_port_address;
    assert_eq!(
        addr("10.1.2.3"),
        Some(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)))
    );
    assert_eq!(addr("::1"), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    assert_eq!(addr("[::1]"), Some(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    assert_eq!(addr("localhost"), Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    assert_eq!(
        err(&format!("{BASE}clientPortAddress=not a host\n")),
        "/etc/zk/zoo.cfg:3: clientPortAddress: 'not a host' is not an IP address or host name"
    );
    let c = cfg(&format!("{BASE}clientPortAddress=127.0.0.1\n"));
    assert_eq!(c.client_addr(), Some("127.0.0.1:2181".parse().unwrap()));
}

#[test]
fn session_timeouts_default_from_tick_and_must_be_ordered() {
    let c = cfg(&format!(
        "{BASE}tickTime=1000\nminSessionTimeout=-1\nmaxSessionTimeout=30000\n"
    ));
    assert_eq!(
        (c.min_session_timeout(), c.max_session_timeout()),
        (2000, 30000)
    );
    assert_eq!(
        err(&format!("{BASE}minSessionTimeout=5000\nmaxSessionTimeout=4000\n")),
        "/etc/zk/zoo.cfg:3: minSessionTimeout: minSessionTimeout (5000 ms) must not be larger than maxSessionTimeout (4000 ms)"
    );
    // The default maximum counts too: 20 ticks of 1000 ms.
    assert_eq!(
        err(&format!("{BASE}tickTime=1000\nminSessionTimeout=30000\n")),
        "/etc/zk/zoo.cfg:4: minSessionTimeout: minSessionTimeout (30000 ms) must not be larger than maxSessionTimeout (20000 ms)"
    );
    assert_eq!(
        err(&format!("{BASE}maxSessionTimeout=1000\n")),
        "/etc/zk/zoo.cfg:3: maxSessionTimeout: minSessionTimeout (6000 ms) must not be larger than maxSessionTimeout (1000 ms)"
    );
}

#[test]
fn booleans_take_the_words_zookeeper_takes() {
    let c = cfg(&format!("{BASE}standaloneEnabled=TRUE\nreconfigEnabled=True\nforceSync=No\nskipACL=yes\nleaderServes=no\n"));
    assert!(
        c.standalone_enabled
            && c.reconfig_enabled
            && !c.force_sync
            && c.skip_acl
            && !c.leader_serves
    );
    assert_eq!(
        err(&format!("{BASE}reconfigEnabled=yes\n")),
        "/etc/zk/zoo.cfg:3: reconfigEnabled: 'yes' is not true or false"
    );
    assert_eq!(
        err(&format!("{BASE}forceSync=false\n")),
        "/etc/zk/zoo.cfg:3: forceSync: 'false' is not yes or no"
    );
}

#[test]
fn election_alg_must_be_three_and_is_not_kept() {
    let c = cfg(&format!("{BASE}electionAlg=3\n"));
    assert!(c.extra.is_empty());
    assert_eq!(err(&format!("{BASE}electionAlg=1\n")), "/etc/zk/zoo.cfg:3: electionAlg: only 3 (fast leader election) is supported, as in ZooKeeper 3.8");
}

#[test]
fn peer_type_is_case_insensitive() {
    assert_eq!(
        cfg(&format!("{BASE}peerType=OBSERVER\n")).peer_type,
        PeerRole::Observer
    );
    assert_eq!(
        err(&format!("{BASE}peerType=voter\n")),
        "/etc/zk/zoo.cfg:3: peerType: 'voter' is not participant or observer"
    );
}

#[test]
fn values_zookeeper_raises_are_raised_with_a_warning() {
    let text =
        format!("{BASE}autopurge.snapRetainCount=1\nautopurge.purgeInterval=-2\nsnapCount=1\n");
    let l = load(&text);
    assert_eq!(l.cfg.autopurge_snap_retain_count, 3);
    assert_eq!(l.cfg.autopurge_purge_interval_hours, 0);
    assert_eq!(l.cfg.snap_count, 2);
    assert_eq!(
        warnings(&text),
        vec![
            "/etc/zk/zoo.cfg:3: autopurge.snapRetainCount: 1 is below the minimum; using 3, as ZooKeeper does",
            "/etc/zk/zoo.cfg:4: autopurge.purgeInterval: negative; automatic purging is off, as with 0",
            "/etc/zk/zoo.cfg:5: snapCount: 1 is below the minimum; using 2, as ZooKeeper does",
        ]
    );
}

#[test]
fn system_property_keys_take_the_prefix_and_java_decode_numbers() {
    let c = cfg(&format!(
        "{BASE}zookeeper.snapCount=010\njute.maxbuffer=0x200000\nglobalOutstandingLimit=#40\n\
         zookeeper.forceSync=no\nsnapSizeLimitInKb=-1\ntxnLogSizeLimitInKb=1024\n"
    ));
    assert_eq!(c.snap_count, 8);
    assert_eq!(c.jute_max_buffer, 0x200000);
    assert_eq!(c.global_outstanding_limit, 64);
    assert!(!c.force_sync);
    assert_eq!((c.snap_size_limit_kb, c.txn_log_size_limit_kb), (0, 1024));
    assert!(c.extra.is_empty());
    // preAllocSize goes through Long.parseLong in ZooKeeper: decimal only.
    assert_eq!(
        err(&format!("{BASE}preAllocSize=0x10\n")),
        "/etc/zk/zoo.cfg:3: preAllocSize: '0x10' is not a whole number"
    );
    assert_eq!(
        err(&format!("{BASE}jute.maxbuffer=lots\n")),
        "/etc/zk/zoo.cfg:3: jute.maxbuffer: 'lots' is not a whole number"
    );
}

#[test]
fn prefixed_native_keys_are_unknown_as_in_zookeeper() {
    let l = load(&format!("{BASE}zookeeper.tickTime=1\n"));
    assert_eq!(l.cfg.tick_time_ms, 3000);
    assert_eq!(
        l.cfg.extra,
        vec![("zookeeper.tickTime".to_string(), "1".to_string())]
    );
    assert_eq!(l.warnings.len(), 1);
}

#[test]
fn repeated_key_warns_and_the_last_value_wins() {
    let text = format!("{BASE}tickTime=1000\ntickTime=2000\n");
    assert_eq!(cfg(&text).tick_time_ms, 2000);
    assert_eq!(warnings(&text), vec!["/etc/zk/zoo.cfg:4: tickTime: also set at line 3; this later value wins, as in ZooKeeper"]);
}

#[test]
fn unknown_keys_warn_known_ones_do_not_and_both_are_kept_in_order() {
    let text = format!(
        "{BASE}tickTme=2000\nmetricsProvider.httpPort=7000\nsslQuorum=true\nzookeeper.maxResponseCacheSize=0\n\
         ssl.keyStore.location=/k\nweirdThing=1\n"
    );
    let l = load(&text);
    let keys: Vec<&str> = l.cfg.extra.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "tickTme",
            "metricsProvider.httpPort",
            "sslQuorum",
            "zookeeper.maxResponseCacheSize",
            "ssl.keyStore.location",
            "weirdThing"
        ]
    );
    let w: Vec<String> = l.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        vec![
            "/etc/zk/zoo.cfg:3: tickTme: not a ZooKeeper 3.8 setting that zkd knows (a typo?); kept and ignored",
            "/etc/zk/zoo.cfg:8: weirdThing: not a ZooKeeper 3.8 setting that zkd knows (a typo?); kept and ignored",
        ]
    );
    assert_eq!(l.cfg.extra_value("metricsProvider.httpPort"), Some("7000"));
    assert_eq!(l.cfg.extra_value("nope"), None);
}

#[test]
fn known_native_keys_are_type_checked_like_zookeeper() {
    assert_eq!(
        err(&format!("{BASE}sslQuorum=maybe\n")),
        "/etc/zk/zoo.cfg:3: sslQuorum: 'maybe' is not true or false"
    );
    assert_eq!(
        err(&format!("{BASE}quorum.cnxn.threads.size=x\n")),
        "/etc/zk/zoo.cfg:3: quorum.cnxn.threads.size: 'x' is not a whole number"
    );
}

#[test]
fn quorum_sasl_switches_must_be_consistent() {
    assert_eq!(
        err(&format!("{BASE}quorum.auth.serverRequireSasl=true\n")),
        "/etc/zk/zoo.cfg: quorum.auth.serverRequireSasl: true, but quorum.auth.enableSasl is not"
    );
    assert_eq!(
        err(&format!("{BASE}quorum.auth.learnerRequireSasl=true\n")),
        "/etc/zk/zoo.cfg: quorum.auth.learnerRequireSasl: true, but quorum.auth.enableSasl is not"
    );
    assert_eq!(
        err(&format!("{BASE}quorum.auth.enableSasl=true\nquorum.auth.serverRequireSasl=true\n")),
        "/etc/zk/zoo.cfg: quorum.auth.serverRequireSasl: true, but quorum.auth.learnerRequireSasl is not (this server could not join)"
    );
    cfg(&format!("{BASE}quorum.auth.enableSasl=true\nquorum.auth.serverRequireSasl=true\nquorum.auth.learnerRequireSasl=true\n"));
}

#[test]
fn four_letter_word_whitelist() {
    let c = cfg(&format!("{BASE}4lw.commands.whitelist=stat, ruok , conf\n"));
    assert!(c.four_letter_words.allows("ruok") && c.four_letter_words.allows("srvr"));
    assert!(!c.four_letter_words.allows("mntr"));
    assert_eq!(
        cfg(&format!("{BASE}4lw.commands.whitelist=*\n")).four_letter_words,
        FourLetterWhitelist::All
    );
    assert_eq!(
        warnings(&format!("{BASE}zookeeper.4lw.commands.whitelist=ruok,rouk\n")),
        vec!["/etc/zk/zoo.cfg:3: zookeeper.4lw.commands.whitelist: 'rouk' is not a four-letter word command"]
    );
}

#[test]
fn super_digest_must_look_like_user_and_digest() {
    let c = cfg(&format!(
        "{BASE}DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n"
    ));
    assert_eq!(
        c.super_digest.as_deref(),
        Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
    );
    for bad in [
        "super",
        ":D/InIHSb7yEEbrWz8b9l71RjZJU=",
        "super:not base64!",
        "super:",
    ] {
        assert_eq!(
            err(&format!("{BASE}zookeeper.DigestAuthenticationProvider.superDigest={bad}\n")),
            "/etc/zk/zoo.cfg:3: zookeeper.DigestAuthenticationProvider.superDigest: expected <user>:<base64 digest>, as DigestAuthenticationProvider prints it"
        );
    }
}

#[test]
fn container_admin_and_misc_settings() {
    let c = cfg(&format!(
        "{BASE}znode.container.checkIntervalMs=1000\nznode.container.maxPerMinute=5\n\
         znode.container.maxNeverUsedIntervalMs=0x10\nadmin.enableServer=false\nadmin.serverAddress=127.0.0.1\n\
         admin.serverPort=9090\nextendedTypesEnabled=true\nDigestAuthenticationProvider.enabled=false\n\
         maxCnxns=100\nclientPortListenBacklog=-1\nobserverMasterPort=0\nconnectToLearnerMasterLimit=7\n\
         fsync.warningthresholdms=50\nlocalSessionsEnabled=true\n"
    ));
    assert_eq!(
        (
            c.container_check_interval_ms,
            c.container_max_per_minute,
            c.container_max_never_used_interval_ms
        ),
        (1000, 5, 16)
    );
    assert!(
        !c.admin_enable_server
            && c.extended_types_enabled
            && !c.digest_auth_enabled
            && c.local_sessions_enabled
    );
    assert_eq!(
        (c.admin_server_address, c.admin_server_port),
        (IpAddr::V4(Ipv4Addr::LOCALHOST), 9090)
    );
    assert_eq!(
        (
            c.max_cnxns,
            c.client_port_listen_backlog,
            c.observer_master_port
        ),
        (100, None, None)
    );
    assert_eq!(
        (
            c.connect_to_learner_master_limit(),
            c.fsync_warning_threshold_ms
        ),
        (7, 50)
    );
    assert_eq!(
        err(&format!("{BASE}znode.container.maxPerMinute=0\n")),
        "/etc/zk/zoo.cfg:3: znode.container.maxPerMinute: 0 is out of range (1 to 2147483647)"
    );
    assert_eq!(
        err(&format!("{BASE}admin.serverPort=0\n")),
        "/etc/zk/zoo.cfg:3: admin.serverPort: 0 is out of range (1 to 65535)"
    );
}

#[test]
fn hierarchical_quorums_and_the_oracle_are_refused() {
    assert_eq!(
        err(&format!("{BASE}group.1=1:2:3\n")),
        "/etc/zk/zoo.cfg:3: group.1: hierarchical quorums (group.N/weight.N) are not supported by zkd; use majority quorums"
    );
    assert!(err(&format!("{BASE}weight.1=2\n"))
        .starts_with("/etc/zk/zoo.cfg:3: weight.1: hierarchical quorums"));
    assert!(err(&format!("{BASE}oraclePath=/x\n"))
        .starts_with("/etc/zk/zoo.cfg:3: oraclePath: the quorum oracle"));
}

#[test]
fn relative_directories_warn() {
    let w = warnings("dataDir=data\ndataLogDir=log\nclientPort=1\n");
    assert_eq!(
        w,
        vec![
            "/etc/zk/zoo.cfg:1: dataDir: relative path; it depends on the daemon's working directory",
            "/etc/zk/zoo.cfg:2: dataLogDir: relative path; it depends on the daemon's working directory",
        ]
    );
    assert_eq!(
        cfg("dataDir=data\ndataLogDir=log\nclientPort=1\n").data_log_dir(),
        PathBuf::from("log")
    );
}

#[test]
fn bad_escape_is_reported_with_its_line() {
    assert_eq!(
        err(&format!("{BASE}dataLogDir=/x\\u00g1\n")),
        "/etc/zk/zoo.cfg:3: malformed \\uXXXX escape '\\u00g1'"
    );
}

#[test]
fn standalone_default_is_loopback_2181() {
    let c = ZooCfg::standalone_default(PathBuf::from("/var/lib/zkd"));
    assert_eq!(c.client_addr(), Some("127.0.0.1:2181".parse().unwrap()));
    assert!(c.is_standalone());
    assert_eq!(
        c,
        cfg("dataDir=/var/lib/zkd\nclientPort=2181\nclientPortAddress=127.0.0.1\n")
    );
}
