//! Each way an inventory is refused, asserted at its line and column.

use super::*;

#[test]
fn the_minimal_inventory_is_accepted_without_warnings() {
    assert!(warnings(MINIMAL).is_empty());
}

#[test]
fn toml_syntax_errors_are_positioned() {
    let text = MINIMAL.replace("myid = 2", "myid = = 2");
    let errors = errors(&text);
    assert!(
        errors[0].starts_with(&format!(
            "{}: not valid TOML: extra `=`",
            at(&text, "myid = |= 2", 0)
        )),
        "{errors:#?}"
    );
}

#[test]
fn unknown_keys_suggest_the_known_one() {
    let text = with_ensemble("tick_tme = 2000");
    one_error(
        &text,
        "tick_tme",
        0,
        &[
            "unknown key tick_tme in [ensemble]",
            "did you mean tick_time?",
        ],
    );
    let text = with_ensemble("tickTime = 2000");
    one_error(&text, "tickTime", 0, &["did you mean tick_time?"]);
    let text = format!("{MINIMAL}\n[ssh]\nhost_key_polcy = \"strict\"\n");
    one_error(
        &text,
        "host_key_polcy",
        0,
        &["in [ssh]", "did you mean host_key_policy?"],
    );
    let text = with_last_host("rol = \"observer\"");
    one_error(
        &text,
        "rol =",
        0,
        &["in [[hosts]] entry 3", "did you mean role?"],
    );
}

#[test]
fn unknown_keys_far_from_any_list_the_allowed_ones() {
    let text = format!("colour = \"blue\"\n{MINIMAL}");
    one_error(
        &text,
        "colour",
        0,
        &["unknown key colour in the inventory (allowed: ensemble, ssh, hosts)"],
    );
    let text = with_last_host("[hosts.overrides]\nflavour = 1");
    one_error(
        &text,
        "flavour",
        0,
        &[
            "[hosts.overrides] of [[hosts]] zk3",
            "allowed: client_port, quorum_port",
        ],
    );
}

#[test]
fn keys_in_the_wrong_table_say_where_they_belong() {
    let text = with_last_host("client_port = 2182");
    one_error(
        &text,
        "client_port",
        0,
        &["not allowed in [[hosts]] entry 3", "[hosts.overrides]"],
    );
    let text = with_last_host("[hosts.overrides]\ntick_time = 3000");
    one_error(
        &text,
        "tick_time",
        0,
        &["ensemble-wide; set it in [ensemble]"],
    );
    let text = with_ensemble("myid = 1");
    one_error(&text, "myid = 1", 0, &["belongs to each [[hosts]] entry"]);
    let text = with_ensemble("user = \"root\"");
    one_error(&text, "user", 0, &["SSH settings go in [ssh]"]);
}

#[test]
fn wrong_types_name_what_was_expected() {
    let text = with_ensemble("client_port = \"2181\"");
    one_error(
        &text,
        "\"2181\"",
        0,
        &["client_port in [ensemble] must be a whole number, not a string"],
    );
    let text = MINIMAL.replace("myid = 2", "myid = \"2\"");
    one_error(
        &text,
        "\"2\"",
        0,
        &["myid in [[hosts]] entry 2 must be a whole number, not a string"],
    );
    let text = format!("{MINIMAL}\n[ssh]\nagent = \"yes\"\n");
    one_error(
        &text,
        "\"yes\"",
        0,
        &["agent in [ssh] must be true or false"],
    );
}

#[test]
fn ports_and_limits_must_be_in_range() {
    let text = with_ensemble("client_port = 70000");
    one_error(
        &text,
        "70000",
        0,
        &["client_port in [ensemble] is 70000, out of range (1-65535)"],
    );
    let text = with_ensemble("init_limit = 0");
    one_error(
        &text,
        "0\n",
        0,
        &["init_limit in [ensemble] is 0, out of range"],
    );
}

#[test]
fn myid_is_required() {
    let text = MINIMAL.replace("myid = 2\n", "");
    let errors = errors(&text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with(&format!("{}: ", at(&text, "[[hosts]]", 1))),
        "{errors:#?}"
    );
    assert!(
        errors[0].contains("[[hosts]] zk2 needs myid"),
        "{errors:#?}"
    );
    assert!(
        errors[0].contains("never numbers hosts by their order"),
        "{errors:#?}"
    );
}

#[test]
fn name_and_address_are_required() {
    let text = MINIMAL
        .replace("name = \"zk2\"\n", "")
        .replace("address = \"10.0.0.13\"\n", "");
    let errors = errors(&text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].starts_with(&format!(
            "{}: [[hosts]] entry 2 needs name",
            at(&text, "[[hosts]]", 1)
        )),
        "{errors:#?}"
    );
    assert!(
        errors[1].starts_with(&format!(
            "{}: [[hosts]] zk3 needs address",
            at(&text, "[[hosts]]", 2)
        )),
        "{errors:#?}"
    );
}

#[test]
fn myid_must_be_1_to_255() {
    for bad in ["0", "256", "-1"] {
        let text = MINIMAL.replace("myid = 3", &format!("myid = {bad}"));
        one_error(
            &text,
            &format!("myid = |{bad}"),
            0,
            &[&format!(
                "myid in [[hosts]] entry 3 is {bad}, out of range (1-255)"
            )],
        );
    }
}

#[test]
fn myids_must_be_unique() {
    let text = MINIMAL.replace("myid = 3", "myid = 1");
    one_error(
        &text,
        "myid = |1",
        1,
        &["myid 1 of zk3 is already zk1's (line 7)"],
    );
}

#[test]
fn names_must_be_unique_ignoring_case() {
    let text = MINIMAL.replace("name = \"zk3\"", "name = \"ZK1\"");
    one_error(
        &text,
        "\"ZK1\"",
        0,
        &["name ZK1 is already taken by the host at line 5"],
    );
}

#[test]
fn names_and_addresses_must_be_well_formed() {
    let text = MINIMAL.replace("\"zk2\"", "\"zk_2\"");
    one_error(&text, "\"zk_2\"", 0, &["host name \"zk_2\" holds '_'"]);
    let text = MINIMAL.replace("\"zk2\"", "\"10.0.0.99\"");
    one_error(&text, "\"10.0.0.99\"", 0, &["is an address"]);
    let text = MINIMAL.replace("\"10.0.0.12\"", "\"10.0.0.300\"");
    one_error(&text, "\"10.0.0.300\"", 0, &["not a valid IPv4 address"]);
    let text = MINIMAL.replace("\"10.0.0.12\"", "\"[fd00::12]\"");
    one_error(&text, "\"[fd00::12]\"", 0, &["without brackets"]);
    let text = MINIMAL.replace("name = \"prod\"", "name = \"prod east\"");
    one_error(
        &text,
        "\"prod east\"",
        0,
        &["ensemble name \"prod east\" must be"],
    );
}

#[test]
fn addresses_must_be_unique() {
    let text = MINIMAL.replace("\"10.0.0.13\"", "\"10.0.0.11\"");
    one_error(
        &text,
        "\"10.0.0.11\"",
        1,
        &[
            "address 10.0.0.11 of zk3 is already zk1's (line 6)",
            "one zkd per host",
            "its client_port 2181 is zk1's client_port",
        ],
    );
    // Spelt differently, the same address.
    let text = MINIMAL
        .replace("\"10.0.0.11\"", "\"fd00::11\"")
        .replace("\"10.0.0.13\"", "\"fd00:0:0::11\"");
    one_error(&text, "\"fd00:0:0::11\"", 0, &["already zk1's"]);
}

#[test]
fn two_members_on_one_address_are_refused_even_without_port_clashes() {
    let text = with_last_host(
        "[hosts.overrides]\nclient_port = 2182\nquorum_port = 2889\nelection_port = 3889",
    )
    .replace("\"10.0.0.13\"", "\"10.0.0.11\"");
    let errors = errors(&text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains("already zk1's (line 6); zkctl runs one zkd per host"),
        "{errors:#?}"
    );
}

#[test]
fn ports_of_one_host_must_differ() {
    let text = with_last_host("[hosts.overrides]\nquorum_port = 2181");
    one_error(
        &text,
        "2181",
        0,
        &["zk3's quorum_port 2181 is also its client_port (the default)"],
    );
    let text = with_ensemble("client_port = 3888");
    one_error(
        &text,
        "3888",
        0,
        &["client_port 3888 is also its election_port (the default)"],
    );
    // Ports from extra count too; the later setting is blamed.
    let text = with_ensemble("election_port = 3999\n[ensemble.extra]\n\"admin.serverPort\" = 3999");
    let errors = errors(&text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with(&format!(
            "{}: admin.serverPort 3999 is also its election_port (line 3)",
            at(&text, "3999", 1)
        )),
        "{errors:#?}"
    );
}

#[test]
fn an_empty_host_list_is_refused() {
    let text = "[ensemble]\nname = \"prod\"\n";
    assert_eq!(
        errors(text),
        ["1:1: no hosts: describe each member of the ensemble in a [[hosts]] table"]
    );
    let text = "hosts = []\n[ensemble]\nname = \"prod\"\n";
    assert_eq!(
        errors(text),
        ["1:9: no hosts: describe each member of the ensemble in a [[hosts]] table"]
    );
}

#[test]
fn a_hosts_list_inside_ensemble_is_explained() {
    let text = "[ensemble]\nname = \"prod\"\nhosts = []\n";
    let errors = errors(text);
    assert!(
        errors.iter().any(|e| e.starts_with(
            "3:1: hosts is not allowed in [ensemble]: write each host as a [[hosts]] table"
        )),
        "{errors:#?}"
    );
}

#[test]
fn hosts_must_be_a_list_of_tables() {
    let text = "[ensemble]\nname = \"prod\"\n[hosts]\nname = \"zk1\"\n";
    let errors = errors(text);
    assert!(
        errors[0].starts_with("3:1: hosts must be a list of tables"),
        "{errors:#?}"
    );
}

#[test]
fn observers_alone_are_refused() {
    let text = MINIMAL
        .replace("myid = 1\n", "myid = 1\nrole = \"observer\"\n")
        .replace("myid = 2\n", "myid = 2\nrole = \"observer\"\n")
        .replace("myid = 3\n", "myid = 3\nrole = \"observer\"\n");
    one_error(&text, "\"observer\"", 0, &["every host is an observer"]);
}

#[test]
fn roles_are_participant_or_observer() {
    let text = with_last_host("role = \"voter\"");
    one_error(
        &text,
        "\"voter\"",
        0,
        &["role \"voter\" of [[hosts]] zk3 is not \"participant\""],
    );
}

#[test]
fn the_ensemble_needs_a_name() {
    let text = MINIMAL.replace("name = \"prod\"\n", "");
    one_error(&text, "[ensemble]", 0, &["[ensemble] needs name"]);
    let text = MINIMAL.replace("[ensemble]\nname = \"prod\"\n", "");
    let errors = errors(&text);
    assert_eq!(
        errors,
        ["1:1: no [ensemble] table; it needs at least name = \"...\""]
    );
}

#[test]
fn remote_paths_must_be_absolute() {
    let text = with_ensemble("data_dir = \"var/lib/zkd\"");
    one_error(
        &text,
        "\"var/lib/zkd\"",
        0,
        &["data_dir in [ensemble] must be an absolute path"],
    );
}

#[test]
fn durations_need_units() {
    let text = format!("{MINIMAL}\n[ssh]\nconnect_timeout = \"10\"\ncommand_timeout = 120\n");
    let errors = errors(&text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].starts_with(&format!(
            "{}: connect_timeout in [ssh]: \"10\" has no unit after 10",
            at(&text, "\"10\"", 0)
        )),
        "{errors:#?}"
    );
    assert!(
        errors[1].starts_with(&format!(
            "{}: command_timeout in [ssh] must be a duration such as \"10s\"",
            at(&text, "120", 0)
        )),
        "{errors:#?}"
    );
}

#[test]
fn ssh_policy_and_login_are_checked() {
    let text = format!("{MINIMAL}\n[ssh]\nhost_key_policy = \"yes\"\n");
    one_error(
        &text,
        "\"yes\"",
        0,
        &["host_key_policy \"yes\" is not \"strict\""],
    );
    let text = format!("{MINIMAL}\n[ssh]\nagent = false\n");
    one_error(&text, "false", 0, &["no way to log in"]);
    let text = format!("{MINIMAL}\n[ssh]\nidentity = \"~deploy/.ssh/id\"\n");
    one_error(&text, "\"~deploy", 0, &["only ~ and ~/ are expanded"]);
}

#[test]
fn extra_keys_owned_by_the_inventory_are_refused() {
    let text =
        with_ensemble("[ensemble.extra]\ntickTime = 3000\n\"server.4\" = \"10.0.0.14:2888:3888\"");
    let errors = errors(&text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].starts_with(&format!("{}: tickTime in [ensemble.extra]: zkctl writes this key itself; set tick_time in [ensemble]", at(&text, "tickTime", 0))), "{errors:#?}");
    assert!(
        errors[1].starts_with(&format!(
            "{}: server.4 in [ensemble.extra]: server.N lines are made from the [[hosts]] entries",
            at(&text, "\"server.4\"", 0)
        )),
        "{errors:#?}"
    );
}

#[test]
fn an_extra_key_given_twice_is_refused() {
    let text = with_ensemble(
        "[ensemble.extra]\nautopurge.purgeInterval = 1\n\"autopurge.purgeInterval\" = 2",
    );
    one_error(
        &text,
        "\"autopurge.purgeInterval\"",
        0,
        &["autopurge.purgeInterval in [ensemble.extra] is also set at line 4"],
    );
}

#[test]
fn zkd_refusing_an_extra_value_is_reported_at_the_value_once() {
    let text = with_ensemble("[ensemble.extra]\nforceSync = false");
    // Three hosts share the setting; it is one error, not three.
    one_error(
        &text,
        "false",
        0,
        &["zoo.cfg: forceSync: 'false' is not yes or no"],
    );
    let text = with_last_host("[hosts.overrides.extra]\n\"autopurge.purgeInterval\" = \"daily\"");
    one_error(
        &text,
        "\"daily\"",
        0,
        &["zoo.cfg for zk3: autopurge.purgeInterval:"],
    );
}

#[test]
fn zkd_refusing_the_ensemble_shape_is_reported_at_the_host() {
    // One voter with an observer would run standalone, as in ZooKeeper.
    let text = MINIMAL
        .replace("myid = 2\n", "myid = 2\nrole = \"observer\"\n")
        .replace("myid = 3\n", "myid = 3\nrole = \"observer\"\n");
    let errors = errors(&text);
    assert!(!errors.is_empty());
    assert!(
        errors.iter().all(|e| e.contains("observers need a quorum")),
        "{errors:#?}"
    );
    assert!(
        errors[0].starts_with(&format!("{}: ", at(&text, "\"observer\"", 0))),
        "{errors:#?}"
    );
}

#[test]
fn a_loopback_member_among_remote_ones_is_refused() {
    let text = MINIMAL.replace("\"10.0.0.12\"", "\"127.0.0.1\"");
    one_error(
        &text,
        "\"127.0.0.1\"",
        0,
        &["address 127.0.0.1 of zk2 is loopback"],
    );
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let text = MINIMAL
        .replace("tick", "x")
        .replace("myid = 2", "myid = 1")
        .replace("\"zk3\"", "\"zk1\"")
        .replace("name = \"prod\"\n", "name = \"prod\"\nsync_limt = 5\n");
    let errors = errors(&text);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(
        errors[0].contains("did you mean sync_limit?"),
        "{errors:#?}"
    );
    assert!(errors[1].contains("myid 1 of zk2"), "{errors:#?}");
    assert!(
        errors[2].contains("name zk1 is already taken"),
        "{errors:#?}"
    );
}

#[test]
fn an_unreadable_file_is_an_error_without_a_position() {
    let e = Inventory::load(Path::new("/nonexistent/inv.toml")).unwrap_err();
    assert_eq!(e.errors.len(), 1);
    assert_eq!(e.errors[0].at, None);
    assert!(
        e.to_string()
            .starts_with("/nonexistent/inv.toml: cannot read the inventory:"),
        "{e}"
    );
}
