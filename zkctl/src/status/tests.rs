//! The verdict and its rendering, over rows built by hand.

use super::*;

fn member(myid: u64, observer: bool) -> Member {
    Member {
        name: format!("zk{myid}"),
        address: "127.0.0.1".into(),
        myid,
        observer,
        client_port: 2180 + myid as u16,
        quorum_port: 2887 + myid as u16,
        election_port: 3887 + myid as u16,
    }
}

/// A row as a probe would fill it for a member serving in `mode`.
fn row(myid: u64, observer: bool, mode: Mode, zxid: u64) -> MemberStatus {
    let mut r = MemberStatus::new(&member(myid, observer), mode);
    if matches!(mode, Mode::Unreachable) {
        r.error = Some("connection refused (nothing listens there)".into());
        return r;
    }
    if matches!(mode, Mode::NotServing) {
        return r;
    }
    r.zxid = Some(zxid);
    r.epoch = Some((zxid >> 32) as u32);
    r.clients = Some(0);
    r.outstanding = Some(0);
    r.latency = Some(Latency {
        min: 0,
        avg: 0.5,
        max: 3,
    });
    r.znodes = Some(5);
    r.version = Some("3.8.0-zkd.0.1.0-abc".into());
    r
}

fn kinds(report: &StatusReport) -> Vec<ProblemKind> {
    report.summary.problems.iter().map(|p| p.kind).collect()
}

const Z: u64 = 0x3_0000_0007;

#[test]
fn one_leader_and_followers_is_healthy() {
    let report = StatusReport::new(vec![
        row(1, false, Mode::Follower, Z),
        row(2, false, Mode::Leader, Z),
        row(3, false, Mode::Follower, Z),
    ]);
    assert!(report.healthy(), "{:?}", report.summary.problems);
    let s = &report.summary;
    assert!(s.quorum);
    assert_eq!((s.voters, s.voters_serving, s.majority), (3, 3, 2));
    assert_eq!(
        s.leader,
        Some(LeaderRef {
            name: "zk2".into(),
            myid: 2
        })
    );
    assert_eq!(s.survives_failures, 1);
}

#[test]
fn survives_counts_the_voters_up_and_serving() {
    let five = |down: usize| {
        let rows = (1..=5)
            .map(|id| match id {
                1 => row(id, false, Mode::Leader, Z),
                _ if (id as usize) <= 5 - down => row(id, false, Mode::Follower, Z),
                _ => row(id, false, Mode::Unreachable, 0),
            })
            .collect();
        StatusReport::new(rows).summary
    };
    assert_eq!(five(0).survives_failures, 2);
    assert_eq!(five(1).survives_failures, 1);
    assert_eq!(five(2).survives_failures, 0);
    assert!(five(2).quorum);
    assert!(!five(3).quorum);
    assert_eq!(five(3).survives_failures, 0);
    // Observers neither count nor need counting.
    let with_observer = StatusReport::new(vec![
        row(1, false, Mode::Leader, Z),
        row(2, false, Mode::Follower, Z),
        row(3, false, Mode::Follower, Z),
        row(4, true, Mode::Unreachable, 0),
    ]);
    assert_eq!(with_observer.summary.survives_failures, 1);
    assert_eq!(with_observer.summary.voters, 3);
    assert!(!with_observer.healthy(), "a down observer is a problem");
    assert_eq!(kinds(&with_observer), [ProblemKind::MemberDown]);
}

#[test]
fn a_down_follower_keeps_the_quorum_but_not_health() {
    let report = StatusReport::new(vec![
        row(1, false, Mode::Leader, Z),
        row(2, false, Mode::Follower, Z),
        row(3, false, Mode::Unreachable, 0),
    ]);
    assert!(report.summary.quorum);
    assert_eq!(report.summary.survives_failures, 0);
    assert!(!report.healthy());
    assert_eq!(kinds(&report), [ProblemKind::MemberDown]);
    assert!(report.summary.problems[0].message.contains("zk3"));
}

#[test]
fn no_quorum_and_no_leader() {
    let report = StatusReport::new(vec![
        row(1, false, Mode::NotServing, 0),
        row(2, false, Mode::Unreachable, 0),
        row(3, false, Mode::Unreachable, 0),
    ]);
    let s = &report.summary;
    assert!(!s.quorum);
    assert_eq!(s.leader, None);
    assert_eq!(s.voters_serving, 0);
    let k = kinds(&report);
    assert!(k.contains(&ProblemKind::NoQuorum), "{k:?}");
    assert!(k.contains(&ProblemKind::NoLeader), "{k:?}");
    assert_eq!(
        k.iter().filter(|k| **k == ProblemKind::MemberDown).count(),
        3
    );
}

#[test]
fn two_leaders_are_named_with_their_epochs() {
    let report = StatusReport::new(vec![
        row(1, false, Mode::Leader, 0x3_0000_0001),
        row(2, false, Mode::Leader, 0x4_0000_0001),
        row(3, false, Mode::Follower, 0x4_0000_0001),
    ]);
    assert!(!report.healthy());
    assert_eq!(report.summary.leader, None);
    let p = &report.summary.problems;
    assert_eq!(p[0].kind, ProblemKind::SeveralLeaders);
    assert!(p[0].message.contains("zk1 (epoch 3)"), "{}", p[0].message);
    assert!(p[0].message.contains("zk2 (epoch 4)"), "{}", p[0].message);
}

#[test]
fn a_member_ahead_of_the_leader_is_wrong() {
    let report = StatusReport::new(vec![
        row(1, false, Mode::Leader, 0x3_0000_0000),
        row(2, false, Mode::Follower, 0x4_0000_0002),
        row(3, false, Mode::Follower, 0x3_0000_0000),
    ]);
    assert_eq!(kinds(&report), [ProblemKind::EpochMismatch]);
    assert!(report.summary.problems[0]
        .message
        .contains("zk2 is at epoch 4"));
}

#[test]
fn a_member_behind_counts_only_once_the_leader_wrote_in_its_epoch() {
    // A new Apache leader shows epoch<<32 before its first write, its
    // followers still the previous epoch: normal.
    let fresh = StatusReport::new(vec![
        row(1, false, Mode::Leader, 0x4_0000_0000),
        row(2, false, Mode::Follower, 0x3_0000_0009),
        row(3, false, Mode::Follower, 0x3_0000_0009),
    ]);
    assert!(fresh.healthy(), "{:?}", fresh.summary.problems);
    let wrote = StatusReport::new(vec![
        row(1, false, Mode::Leader, 0x4_0000_0002),
        row(2, false, Mode::Follower, 0x4_0000_0002),
        row(3, true, Mode::Observer, 0x3_0000_0009),
    ]);
    assert_eq!(kinds(&wrote), [ProblemKind::EpochMismatch]);
    assert!(wrote.summary.problems[0]
        .message
        .contains("zk3 is at epoch 3, behind"));
}

#[test]
fn roles_must_match_the_member_list() {
    let report = StatusReport::new(vec![
        row(1, false, Mode::Leader, Z),
        row(2, false, Mode::Follower, Z),
        row(3, false, Mode::Follower, Z),
        row(4, true, Mode::Follower, Z),
        row(5, true, Mode::Observer, Z),
        row(6, true, Mode::Standalone, 0),
    ]);
    let p = &report.summary.problems;
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(p[0].message.starts_with("zk4") && p[0].message.contains("should observe"));
    assert!(p[1].message.starts_with("zk6") && p[1].message.contains("standalone"));
    assert!(p.iter().all(|p| p.kind == ProblemKind::WrongRole));
}

#[test]
fn a_lone_standalone_server_is_healthy() {
    let report = StatusReport::new(vec![row(1, false, Mode::Standalone, 0x5)]);
    assert!(report.healthy(), "{:?}", report.summary.problems);
    assert_eq!(report.summary.leader.as_ref().map(|l| l.myid), Some(1));
    assert_eq!(report.summary.survives_failures, 0);
}

#[test]
fn the_leaders_follower_count_and_status_lines_must_agree() {
    let mut rows = vec![
        row(1, false, Mode::Leader, Z),
        row(2, false, Mode::Follower, Z),
        row(3, false, Mode::Follower, Z),
    ];
    rows[0].synced_followers = Some(2);
    assert!(StatusReport::new(rows.clone()).healthy());
    rows[0].synced_followers = Some(1);
    let report = StatusReport::new(rows.clone());
    assert_eq!(kinds(&report), [ProblemKind::LeaderDisagreement]);
    assert!(report.summary.problems[0].message.contains("(zk2, zk3)"));

    rows[0].synced_followers = Some(2);
    let mut report = StatusReport::new(rows);
    assert!(report.set_systemd(
        "zk3",
        Some("active".into()),
        Some("mode=follower leader=1 zxid=0x300000007 clients=0".into())
    ));
    assert!(report.healthy());
    report.set_systemd(
        "zk2",
        Some("active".into()),
        Some("mode=follower leader=3 zxid=0x300000007 clients=0".into()),
    );
    assert_eq!(kinds(&report), [ProblemKind::LeaderDisagreement]);
    assert!(!report.set_systemd("zk9", None, None));
}

#[test]
fn a_member_configured_with_other_voters_is_flagged() {
    let mut rows = vec![
        row(1, false, Mode::Leader, Z),
        row(2, false, Mode::Follower, Z),
        row(3, false, Mode::Follower, Z),
    ];
    rows[1].quorum_size = Some(3);
    rows[2].quorum_size = Some(5);
    let report = StatusReport::new(rows);
    assert_eq!(kinds(&report), [ProblemKind::MembershipMismatch]);
    assert!(report.summary.problems[0]
        .message
        .contains("zk3's configuration lists 5 voters"));
}

#[test]
fn the_table_aligns_columns_and_marks_the_leader() {
    let report = StatusReport::new(vec![
        row(1, false, Mode::Follower, Z),
        row(2, false, Mode::Leader, Z),
        row(3, false, Mode::Unreachable, 0),
    ]);
    let table = report.table();
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].trim_start().starts_with("NAME"), "{table}");
    assert!(
        !lines[0].contains("SYSTEMD"),
        "no systemd column without values"
    );
    let mode_at = lines[0].find("MODE").unwrap();
    assert_eq!(&lines[1][mode_at..mode_at + 8], "follower");
    assert_eq!(&lines[2][mode_at..mode_at + 6], "leader");
    assert_eq!(&lines[3][mode_at..mode_at + 11], "unreachable");
    assert!(lines[2].starts_with(table::LEADER_MARK));
    assert!(lines[1].starts_with(' ') && lines[3].starts_with(' '));
    let zxid_at = lines[0].find("ZXID").unwrap();
    assert_eq!(&lines[2][zxid_at..zxid_at + 11], "0x300000007");
    assert_eq!(&lines[3][zxid_at..zxid_at + 1], "-");
    assert!(lines[2].contains("0/0.5/3"), "{table}");
    assert!(table.contains(
        "quorum: yes (2 of 3 voters serving, 2 needed) · leader: zk2 (myid 2) · survives 0 more failures · NOT healthy"
    ));
    assert!(table.contains("problems:\n  - zk3 (127.0.0.1:2183) unreachable: connection refused"));
}

#[test]
fn the_table_shows_systemd_columns_when_known() {
    let mut report = StatusReport::new(vec![row(1, false, Mode::Standalone, 0)]);
    report.set_systemd(
        "zk1",
        Some("active".into()),
        Some("mode=standalone zxid=0x0 clients=0".into()),
    );
    let table = report.table();
    let header = table.lines().next().unwrap();
    assert!(
        header.contains("SYSTEMD") && header.contains("STATUS"),
        "{table}"
    );
    let row = table.lines().nth(1).unwrap();
    let (state_at, status_at) = (
        header.find("SYSTEMD").unwrap(),
        header.find("STATUS").unwrap(),
    );
    assert_eq!(&row[state_at..state_at + 6], "active");
    assert_eq!(&row[status_at..], "mode=standalone zxid=0x0 clients=0");
    assert!(table.contains("survives 0 more failures · healthy"));
}

#[test]
fn json_has_stable_field_names() {
    let mut rows = vec![
        row(1, false, Mode::Leader, 0x1_0000_0002),
        row(2, false, Mode::NotServing, 0),
        row(3, false, Mode::Follower, 0x1_0000_0002),
    ];
    rows[0].mntr_error = Some("mntr is not in 4lw.commands.whitelist".into());
    let json: serde_json::Value = serde_json::from_str(&StatusReport::new(rows).to_json()).unwrap();
    assert_eq!(json["healthy"], false);
    let leader = &json["members"][0];
    assert_eq!(leader["name"], "zk1");
    assert_eq!(leader["address"], "127.0.0.1:2181");
    assert_eq!(leader["myid"], 1);
    assert_eq!(leader["mode"], "leader");
    assert_eq!(leader["zxid"], "0x100000002");
    assert_eq!(leader["epoch"], 1);
    assert_eq!(leader["latency"]["max"], 3);
    assert_eq!(leader["systemd_state"], serde_json::Value::Null);
    assert_eq!(json["members"][1]["mode"], "not-serving");
    assert_eq!(json["members"][1]["zxid"], serde_json::Value::Null);
    let summary = &json["summary"];
    assert_eq!(summary["quorum"], true);
    assert_eq!(summary["leader"]["name"], "zk1");
    assert_eq!(summary["survives_failures"], 0);
    assert_eq!(summary["problems"][0]["kind"], "member_down");
}

#[test]
fn status_probes_every_member() {
    // Nothing listens on these: every row is unreachable, none missing.
    let members: Vec<Member> = (1..=3)
        .map(|id| {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            Member {
                client_port: port,
                ..member(id, false)
            }
        })
        .collect();
    let report = status(&members, &StatusOptions::default());
    let names: Vec<&str> = report.members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["zk1", "zk2", "zk3"]);
    assert!(report.members.iter().all(|m| m.mode == Mode::Unreachable));
    assert!(!report.healthy());
}
