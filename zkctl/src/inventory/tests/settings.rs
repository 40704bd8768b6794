//! Defaults, overrides, SSH settings and warnings of accepted inventories.

use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::model::{HostKeyPolicy, Member};
use zkd::config::PeerRole;

#[test]
fn defaults_fill_what_the_file_leaves_out() {
    let inv = ok(MINIMAL);
    assert_eq!(inv.ensemble_name(), "prod");
    let e = inv.ensemble();
    assert_eq!((e.tick_time_ms, e.init_limit, e.sync_limit), (2000, 10, 5));
    let h = &inv.hosts()[0];
    assert_eq!(
        (h.client_port, h.quorum_port, h.election_port),
        (2181, 2888, 3888)
    );
    assert_eq!(h.data_dir, PathBuf::from("/var/lib/zkd"));
    assert_eq!(h.data_log_dir, None);
    assert_eq!(h.role, PeerRole::Participant);
    assert_eq!(h.myid_path(), PathBuf::from("/var/lib/zkd/myid"));
}

#[test]
fn members_keep_file_order_and_given_myids() {
    let text = MINIMAL
        .replace("myid = 1", "myid = 7")
        .replace("myid = 3\n", "myid = 3\nrole = \"observer\"\n");
    let members = ok(&text).members();
    let ids: Vec<(&str, u64, bool)> = members
        .iter()
        .map(|m| (m.name.as_str(), m.myid, m.observer))
        .collect();
    assert_eq!(
        ids,
        [("zk1", 7, false), ("zk2", 2, false), ("zk3", 3, true)]
    );
    assert_eq!(
        members[1],
        Member {
            name: "zk2".into(),
            address: "10.0.0.12".into(),
            myid: 2,
            observer: false,
            client_port: 2181,
            quorum_port: 2888,
            election_port: 3888,
        }
    );
}

#[test]
fn host_overrides_win_over_the_ensemble() {
    let text = with_ensemble(
        "client_port = 2281\ndata_dir = \"/data/zk\"\ndata_log_dir = \"/log/zk\"\n[ensemble.extra]\nmaxClientCnxns = 100\nsnapCount = 5000",
    ) + "[hosts.overrides]\nclient_port = 2381\ndata_dir = \"/srv/zk\"\n[hosts.overrides.extra]\nsnapCount = 9000\nglobalOutstandingLimit = 2000\n";
    let inv = ok(&text);
    let (zk1, zk3) = (inv.host("zk1").unwrap(), inv.host("zk3").unwrap());
    assert_eq!((zk1.client_port, zk3.client_port), (2281, 2381));
    assert_eq!(zk1.data_dir, PathBuf::from("/data/zk"));
    assert_eq!(zk3.data_dir, PathBuf::from("/srv/zk"));
    assert_eq!(zk3.data_log_dir, Some(PathBuf::from("/log/zk")));
    assert_eq!(
        zk3.data_dirs(),
        [Path::new("/srv/zk"), Path::new("/log/zk")]
    );
    let extra = |h: &crate::inventory::Host| -> Vec<(String, String)> { h.extra.clone() };
    assert_eq!(
        extra(zk1),
        [
            ("maxClientCnxns".into(), "100".into()),
            ("snapCount".into(), "5000".into())
        ]
    );
    // Replaced in place; new keys after.
    assert_eq!(
        extra(zk3),
        [
            ("maxClientCnxns".to_string(), "100".to_string()),
            ("snapCount".into(), "9000".into()),
            ("globalOutstandingLimit".into(), "2000".into())
        ]
    );
}

#[test]
fn ssh_defaults_expand_home() {
    let ssh = ok(MINIMAL).ssh_settings();
    assert_eq!(ssh.user, "root");
    assert_eq!(ssh.port, 22);
    assert_eq!(ssh.identity, None);
    assert!(ssh.use_agent);
    assert_eq!(ssh.known_hosts, PathBuf::from("/home/op/.ssh/known_hosts"));
    assert_eq!(ssh.host_key_policy, HostKeyPolicy::Strict);
    assert!(!ssh.sudo, "root needs no sudo");
    assert_eq!(ssh.connect_timeout, Duration::from_secs(10));
    assert_eq!(ssh.command_timeout, Duration::from_secs(120));
}

#[test]
fn ssh_settings_as_written() {
    let text = format!(
        "{MINIMAL}\n[ssh]\nuser = \"deploy\"\nport = 2222\nidentity = \"~/.ssh/zk\"\nagent = false\nknown_hosts = \"keys/known\"\nhost_key_policy = \"accept-new\"\nconnect_timeout = \"1m30s\"\ncommand_timeout = \"500ms\"\n"
    );
    let ssh = ok(&text).ssh_settings();
    assert_eq!(ssh.user, "deploy");
    assert_eq!(ssh.port, 2222);
    assert_eq!(ssh.identity, Some(PathBuf::from("/home/op/.ssh/zk")));
    assert!(!ssh.use_agent);
    // Relative to the inventory's directory, not the working directory.
    assert_eq!(ssh.known_hosts, PathBuf::from("/etc/zkctl/keys/known"));
    assert_eq!(ssh.host_key_policy, HostKeyPolicy::AcceptNew);
    assert!(ssh.sudo, "a user other than root gets sudo by default");
    assert_eq!(ssh.connect_timeout, Duration::from_secs(90));
    assert_eq!(ssh.command_timeout, Duration::from_millis(500));
}

#[test]
fn refusing_sudo_for_a_plain_user_is_a_warning() {
    let text = format!("{MINIMAL}\n[ssh]\nuser = \"deploy\"\nsudo = false\n");
    let w = warnings(&text);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0].starts_with(&format!(
            "{}: sudo = false with user \"deploy\"",
            at(&text, "false", 0)
        )),
        "{w:#?}"
    );
}

#[test]
fn without_home_a_tilde_is_an_error() {
    let text =
        format!("{MINIMAL}\n[ssh]\nidentity = \"~/.ssh/zk\"\nknown_hosts = \"/etc/ssh/known\"\n");
    let e = Inventory::parse_with_home(&text, Path::new("inv.toml"), None).unwrap_err();
    assert_eq!(e.errors.len(), 1, "{e}");
    assert!(e.errors[0].message.contains("HOME is not set"), "{e}");
}

#[test]
fn an_even_number_of_voters_is_a_warning_that_counts_failures() {
    let text = format!("{MINIMAL}\n[[hosts]]\nname = \"zk4\"\naddress = \"10.0.0.14\"\nmyid = 4\n");
    let w = warnings(&text);
    assert_eq!(
        w,
        [format!(
            "{}: 4 voters survive 1 failure, as 3 do; add or remove one",
            at(&text, "[[hosts]]", 0)
        )]
    );
    // An observer does not vote: three voters and an observer are fine.
    let text = format!("{MINIMAL}\n[[hosts]]\nname = \"zk4\"\naddress = \"10.0.0.14\"\nmyid = 4\nrole = \"observer\"\n");
    assert!(warnings(&text).is_empty());
    let six: String = (1..=6)
        .map(|i| format!("[[hosts]]\nname = \"zk{i}\"\naddress = \"10.0.0.{i}\"\nmyid = {i}\n"))
        .collect();
    let w = warnings(&format!("[ensemble]\nname = \"x\"\n{six}"));
    assert!(
        w[0].ends_with("6 voters survive 2 failures, as 5 do; add or remove one"),
        "{w:#?}"
    );
}

#[test]
fn one_or_two_voters_are_warnings() {
    let one =
        "[ensemble]\nname = \"x\"\n[[hosts]]\nname = \"a\"\naddress = \"10.0.0.1\"\nmyid = 1\n";
    let w = warnings(one);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(w[0].starts_with("3:1: a single voter"), "{w:#?}");
    let two = format!("{one}[[hosts]]\nname = \"b\"\naddress = \"10.0.0.2\"\nmyid = 2\n");
    let w = warnings(&two);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(w[0].contains("2 voters survive no failure"), "{w:#?}");
}

#[test]
fn zkd_warnings_about_extra_keys_point_at_them() {
    let text = with_ensemble("[ensemble.extra]\nautopurge.purgeIntervl = 24");
    let w = warnings(&text);
    assert_eq!(w.len(), 1, "{w:#?}");
    assert!(
        w[0].starts_with(&format!(
            "{}: zoo.cfg: autopurge.purgeIntervl: not a ZooKeeper 3.8 setting",
            at(&text, "24", 0)
        )),
        "{w:#?}"
    );
}

#[test]
fn the_description_lists_what_was_understood() {
    let text = MINIMAL.replace("myid = 3\n", "myid = 3\nrole = \"observer\"\n");
    let text = format!("{text}\n[[hosts]]\nname = \"zk4\"\naddress = \"10.0.0.14\"\nmyid = 4\n");
    let shown = ok(&text).describe();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(
        lines[0],
        "NAME  ADDRESS    MYID  ROLE         CLIENT  QUORUM  ELECTION  DATA DIR"
    );
    assert_eq!(
        lines[3],
        "zk3   10.0.0.13  3     observer     2181    2888    3888      /var/lib/zkd"
    );
    assert!(
        shown.contains("ensemble prod: 3 voters, 1 observer; survives 1 failure"),
        "{shown}"
    );
    assert!(
        shown.contains(
            "ssh: root@<address>:22 via agent; host keys strict (/home/op/.ssh/known_hosts)"
        ),
        "{shown}"
    );
}
