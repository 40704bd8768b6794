//! Ensembles: server lines in context, the standalone rule, myid, the
//! dynamic config file.

use std::fs;
use std::path::Path;

use super::{cfg, err, load, warnings, BASE, ENSEMBLE};
use crate::config::{read_myid, write_myid, PeerRole, ServerSpec, ZooCfg};

#[test]
fn three_server_ensemble() {
    let l = load(ENSEMBLE);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let c = l.cfg;
    assert!(!c.is_standalone());
    assert_eq!(c.participants().count(), 3);
    assert_eq!(c.servers[&2], ServerSpec::new(2, "zk2", 2888, 3888));
    assert!(l_check(ENSEMBLE, Some(2)).is_empty());
}

fn l_check(text: &str, myid: Option<u64>) -> Vec<String> {
    load(text)
        .check_myid(myid)
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn myid_err(text: &str, myid: Option<u64>) -> String {
    load(text).check_myid(myid).unwrap_err().to_string()
}

#[test]
fn ensemble_needs_init_and_sync_limits() {
    let text =
        "dataDir=/d\nclientPort=1\nserver.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\nsyncLimit=5\n";
    assert_eq!(
        err(text),
        "/etc/zk/zoo.cfg: initLimit: not set; it is required when server.N lines form an ensemble"
    );
    let text = "dataDir=/d\nclientPort=1\nserver.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\ninitLimit=5\nsyncLimit=0\n";
    assert_eq!(err(text), "/etc/zk/zoo.cfg:7: syncLimit: not set; it is required when server.N lines form an ensemble");
}

#[test]
fn a_single_server_line_runs_standalone_unless_standalone_is_disabled() {
    let text = format!("{BASE}server.1=a:2888:3888\n");
    assert!(cfg(&text).is_standalone());
    assert_eq!(
        warnings(&text),
        vec!["/etc/zk/zoo.cfg:3: server.1: the only server line; running standalone and ignoring it, as ZooKeeper does"]
    );
    assert!(l_check(&text, None).is_empty());

    let text = format!("{BASE}server.1=a:2888:3888\nstandaloneEnabled=false\n");
    assert_eq!(
        err(&text),
        "/etc/zk/zoo.cfg: initLimit: not set; it is required when server.N lines form an ensemble"
    );
    let text = format!("{text}initLimit=10\nsyncLimit=5\n");
    assert!(!cfg(&text).is_standalone());
    assert_eq!(
        myid_err(&text, None),
        "/var/lib/zk/myid: missing; with server.N lines it must say which server this is"
    );
}

#[test]
fn standalone_disabled_needs_a_participant() {
    assert_eq!(
        err(&format!("{BASE}standaloneEnabled=false\n")),
        "/etc/zk/zoo.cfg:3: standaloneEnabled: false, which needs at least one participant server.N line"
    );
}

#[test]
fn observers_need_participants_and_a_quorum() {
    assert_eq!(
        err(&format!("{BASE}server.4=d:1:2:observer\n")),
        "/etc/zk/zoo.cfg:3: server.4: observers need participants, and no server.N line is a participant"
    );
    assert_eq!(
        err(&format!("{BASE}server.1=a:1:2\nserver.4=d:1:2:observer\n")),
        "/etc/zk/zoo.cfg:4: server.4: observers need a quorum, but one participant with standaloneEnabled=true runs standalone"
    );
    let c = cfg(&format!("{ENSEMBLE}server.4=d:1:2:observer\n"));
    assert_eq!(c.observers().map(|s| s.id).collect::<Vec<_>>(), vec![4]);
    assert_eq!(c.participants().count(), 3);
}

#[test]
fn small_or_even_ensembles_warn() {
    let two =
        "initLimit=1\nsyncLimit=1\ndataDir=/d\nclientPort=1\nserver.1=a:1:2\nserver.2=b:1:2\n";
    assert_eq!(warnings(two), vec!["/etc/zk/zoo.cfg: server.N: fewer than 3 participants: no server failure will be tolerated"]);
    let four = format!("{ENSEMBLE}server.4=zk4:2888:3888\n");
    assert_eq!(
        warnings(&four),
        vec!["/etc/zk/zoo.cfg: server.N: 4 participants tolerate no more failures than 3"]
    );
}

#[test]
fn server_line_errors_name_the_line() {
    assert_eq!(
        err(&format!("{ENSEMBLE}server.4=zk4:2888\n")),
        "/etc/zk/zoo.cfg:9: server.4: 'zk4:2888' is not host:quorumPort:electionPort[:participant|:observer]"
    );
    assert_eq!(
        err(&format!("{ENSEMBLE}server.x=zk4:1:2\n")),
        "/etc/zk/zoo.cfg:9: server.x: server id 'x' is not a non-negative whole number"
    );
    assert_eq!(
        err(&format!("{ENSEMBLE}server.-4=zk4:1:2\n")),
        "/etc/zk/zoo.cfg:9: server.-4: server id '-4' is not a non-negative whole number"
    );
    assert_eq!(
        err(&format!("{ENSEMBLE}server.01=zk4:1:2\n")),
        "/etc/zk/zoo.cfg:9: server.01: server id 1 is already defined at /etc/zk/zoo.cfg:6"
    );
}

#[test]
fn the_same_server_key_twice_keeps_the_last() {
    let text = format!("{ENSEMBLE}server.3=zk3b:2888:3888\n");
    assert_eq!(cfg(&text).servers[&3].host, "zk3b");
    assert_eq!(warnings(&text), vec!["/etc/zk/zoo.cfg:9: server.3: also set at line 8; this later value wins, as in ZooKeeper"]);
}

#[test]
fn two_servers_on_one_address_are_refused() {
    let text = "initLimit=1\nsyncLimit=1\ndataDir=/d\nclientPort=2181\n\
                server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:3888:3890\n";
    assert_eq!(err(text), "/etc/zk/zoo.cfg:7: server.3: 127.0.0.1:3888 (quorum port of server.3) is already the election port of server.1");
    let ok = "initLimit=1\nsyncLimit=1\ndataDir=/d\n\
              server.1=127.0.0.1:2888:3888;2181\nserver.2=127.0.0.1:2889:3889;2182\nserver.3=127.0.0.1:2890:3890;0.0.0.0:2183\n";
    assert_eq!(cfg(ok).servers.len(), 3);
    let clash = "initLimit=1\nsyncLimit=1\ndataDir=/d\n\
              server.1=h:2888:3888;h:2181\nserver.2=h:2889:3889;H:2181\nserver.3=i:2890:3890\n";
    assert_eq!(err(clash), "/etc/zk/zoo.cfg:5: server.2: H:2181 (client port of server.2) is already the client port of server.1");
}

#[test]
fn multiple_addresses_need_the_switch() {
    let text = format!("{ENSEMBLE}server.4=a:1:2|b:1:2\n");
    assert_eq!(err(&text), "/etc/zk/zoo.cfg:9: server.4: several addresses given, but multiAddress.enabled is not true");
    let c = cfg(&format!("{text}multiAddress.enabled=true\n"));
    assert_eq!(c.servers[&4].addrs().len(), 2);
}

#[test]
fn server_lines_cannot_sit_beside_a_dynamic_config_file() {
    assert_eq!(
        err(&format!("{ENSEMBLE}dynamicConfigFile=/etc/zk/zoo.cfg.dynamic\n")),
        "/etc/zk/zoo.cfg:6: server.1: server lines must be in the dynamic config file, since dynamicConfigFile is set"
    );
}

#[test]
fn myid_must_name_a_listed_server() {
    assert_eq!(
        myid_err(ENSEMBLE, None),
        "/var/lib/zk/myid: missing; with server.N lines it must say which server this is"
    );
    assert_eq!(
        myid_err(ENSEMBLE, Some(9)),
        "/var/lib/zk/myid: server id 9 has no server.9 line (the ids are 1, 2, 3)"
    );
    let big = "initLimit=1\nsyncLimit=1\ndataDir=/d\nclientPort=1\nextendedTypesEnabled=true\n\
               server.1=a:1:2\nserver.2=b:1:2\nserver.300=c:1:2\n";
    assert_eq!(
        myid_err(big, Some(300)),
        "/d/myid: server id 300 is above 254, the limit with extendedTypesEnabled=true"
    );
    assert!(l_check(big, Some(2)).is_empty());
    // Standalone needs no id.
    assert!(l_check(BASE, None).is_empty());
}

#[test]
fn client_port_must_agree_with_this_servers_line() {
    let base = "initLimit=1\nsyncLimit=1\ndataDir=/d\nserver.1=a:1:2;2181\nserver.2=b:1:2;127.0.0.1:2182\nserver.3=c:1:2\n";
    assert!(l_check(&format!("{base}clientPort=2181\n"), Some(1)).is_empty());
    assert_eq!(
        myid_err(&format!("{base}clientPort=2182\n"), Some(1)),
        "/etc/zk/zoo.cfg:7: clientPort: 0.0.0.0:2182 differs from the client address 0.0.0.0:2181 on server.1"
    );
    assert!(l_check(
        &format!("{base}clientPort=2182\nclientPortAddress=127.0.0.1\n"),
        Some(2)
    )
    .is_empty());
    assert_eq!(
        myid_err(&format!("{base}clientPort=2181\nclientPortAddress=127.0.0.1\n"), Some(1)),
        "/etc/zk/zoo.cfg:7: clientPort: 127.0.0.1:2181 differs from the client address 0.0.0.0:2181 on server.1"
    );
    // Server 3 has no client part: the keys apply; without them nothing listens.
    assert!(l_check(&format!("{base}clientPort=2183\n"), Some(3)).is_empty());
    assert_eq!(
        myid_err(base, Some(3)),
        "/etc/zk/zoo.cfg: clientPort: not set, nor secureClientPort, nor a ;port on this server's server.N line: clients could not connect"
    );
}

#[test]
fn listening_address_prefers_the_server_line() {
    let text = "initLimit=1\nsyncLimit=1\ndataDir=/d\nclientPort=2181\n\
                server.1=a:1:2;[::1]:2181\nserver.2=b:1:2\nserver.3=c:1:2;localhost:2181\n";
    let l = load(text);
    assert_eq!(
        l.client_listen_addr(Some(1)).unwrap(),
        Some("[::1]:2181".parse().unwrap())
    );
    assert_eq!(
        l.client_listen_addr(Some(2)).unwrap(),
        Some("0.0.0.0:2181".parse().unwrap())
    );
    assert_eq!(
        l.cfg.client_listen_addr(Some(3)).unwrap(),
        Some("127.0.0.1:2181".parse().unwrap())
    );
    assert_eq!(l.cfg.client_listen_addr(None).unwrap(), l.cfg.client_addr());
}

#[test]
fn peer_type_that_disagrees_with_the_list_warns() {
    let text = format!("{ENSEMBLE}server.4=zk4:2888:3888:observer\npeerType=participant\n");
    assert_eq!(
        l_check(&text, Some(4)),
        vec!["/etc/zk/zoo.cfg:10: peerType: participant, but the server list makes this server an observer; the server list wins"]
    );
    assert!(l_check(&text, Some(1)).is_empty());
    assert_eq!(cfg(&text).servers[&4].role, PeerRole::Observer);
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

#[test]
fn from_file_reads_the_dynamic_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "zoo.cfg",
        "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/d\nreconfigEnabled=true\n\
         dynamicConfigFile=zoo.cfg.dynamic.100000000\n",
    );
    write(dir.path(), "zoo.cfg.dynamic.100000000", "server.1=a:2888:3888:participant;2181\nserver.2=b:2888:3888;2181\nserver.3=c:2888:3888;2181\n");
    let l = ZooCfg::from_file(&main).unwrap();
    assert_eq!(l.cfg.servers.len(), 3);
    assert_eq!(l.dynamic_version, Some(0x1_0000_0000));
    assert_eq!(l.source, main);
    assert_eq!(
        l.client_listen_addr(Some(2)).unwrap(),
        Some("0.0.0.0:2181".parse().unwrap())
    );
    assert_eq!(
        l.cfg.render_dynamic(),
        "server.1=a:2888:3888;2181\nserver.2=b:2888:3888;2181\nserver.3=c:2888:3888;2181\n"
    );

    let bad = write(
        dir.path(),
        "zoo.cfg.dynamic.100000000",
        "server.1=a:1:2\ntickTime=1\n",
    );
    let e = ZooCfg::from_file(&main).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}:2: tickTime: only server.N lines may be in a dynamic config file",
            bad.display()
        )
    );
    write(
        dir.path(),
        "zoo.cfg.dynamic.100000000",
        "server.1=a:1:2\nserver.2=b:1:2\nversion=100000000\n",
    );
    let e = ZooCfg::from_file(&main).unwrap_err().to_string();
    assert!(e.ends_with(":3: version: must not be in a dynamic config file; the version comes from the file name"), "{e}");
    fs::remove_file(bad).unwrap();
    let e = ZooCfg::from_file(&main).unwrap_err().to_string();
    assert!(
        e.contains("zoo.cfg.dynamic.100000000: cannot read the dynamic config file: "),
        "{e}"
    );
}

#[test]
fn from_file_errors_and_encodings() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.cfg");
    let e = ZooCfg::from_file(&missing).unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "{}: cannot read the configuration: ",
            missing.display()
        )),
        "{e}"
    );
    assert!(std::error::Error::source(&e).is_some());

    let latin1 = dir.path().join("latin1.cfg");
    fs::write(&latin1, b"dataDir=/data/caf\xe9\nclientPort=2181\n").unwrap();
    assert_eq!(
        ZooCfg::from_file(&latin1).unwrap().cfg.data_dir,
        Path::new("/data/caf\u{e9}")
    );
}

#[test]
fn daemon_start_up_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs::create_dir(&data).unwrap();
    let text = format!(
        "tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir={}\nclientPort=2181\n\
         server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890\n",
        data.display()
    );
    let main = write(dir.path(), "zoo.cfg", &text);
    let l = ZooCfg::from_file(&main).unwrap();
    assert_eq!(read_myid(&l.cfg.data_dir).unwrap(), None);
    assert!(l.check_myid(None).is_err());
    write_myid(&l.cfg.data_dir, 2).unwrap();
    let id = read_myid(&l.cfg.data_dir).unwrap();
    assert_eq!(id, Some(2));
    assert!(l.check_myid(id).unwrap().is_empty());
    assert_eq!(
        l.client_listen_addr(id).unwrap(),
        Some("0.0.0.0:2181".parse().unwrap())
    );
}
