//! Each host's zoo.cfg: what it holds, and that it reads back through
//! zkd's parser as built.

use std::path::{Path, PathBuf};

use zkd::config::{PeerRole, ZooCfg};

use super::*;

/// zoo.cfg text of every host reads back to the same configuration.
fn assert_round_trips(inv: &Inventory) {
    for h in inv.hosts() {
        let cfg = inv.zoo_cfg_for(&h.name).expect("every host has a zoo.cfg");
        let text = cfg.render();
        let back = ZooCfg::parse_str(&text, Path::new("zoo.cfg"))
            .unwrap_or_else(|e| panic!("{}: {e}\n{text}", h.name));
        assert_eq!(&back.cfg, cfg, "{}:\n{text}", h.name);
        assert_eq!(back.cfg.render(), text);
        back.check_myid(Some(h.myid))
            .unwrap_or_else(|e| panic!("{}: {e}", h.name));
    }
}

fn example(name: &str) -> Inventory {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    Inventory::load(&path).unwrap_or_else(|e| panic!("{name}:\n{e}"))
}

#[test]
fn the_commented_example_loads_and_round_trips() {
    let inv = example("inventory.toml");
    assert_eq!(inv.ensemble_name(), "prod");
    assert_eq!(inv.hosts().len(), 3);
    assert!(inv.warnings().is_empty(), "{:#?}", inv.warnings());
    assert_round_trips(&inv);
    let zk3 = inv.zoo_cfg_for("zk3").unwrap();
    assert_eq!(zk3.data_dir, PathBuf::from("/srv/zkd"));
    assert_eq!(zk3.max_client_cnxns, 200);
    assert_eq!(inv.zoo_cfg_for("zk1").unwrap().max_client_cnxns, 100);
}

#[test]
fn the_five_host_example_loads_and_round_trips() {
    let inv = example("inventory-5.toml");
    assert_eq!(inv.hosts().len(), 5);
    assert_eq!(inv.hosts().iter().filter(|h| h.is_observer()).count(), 1);
    let w: Vec<&str> = inv.warnings().iter().map(|w| w.message.as_str()).collect();
    assert_eq!(
        w,
        ["4 voters survive 1 failure, as 3 do; add or remove one"]
    );
    assert_round_trips(&inv);
}

#[test]
fn every_member_has_a_server_line_with_its_client_port() {
    let text = with_last_host("role = \"observer\"\n[hosts.overrides]\nclient_port = 2182\nquorum_port = 2889\nelection_port = 3889")
        .replace("\"10.0.0.12\"", "\"fd00::12\"");
    let text = format!("{text}\n[[hosts]]\nname = \"zk4\"\naddress = \"zk4.example\"\nmyid = 4\n");
    let inv = ok(&text);
    assert_round_trips(&inv);
    let rendered = inv.zoo_cfg_for("zk1").unwrap().render();
    let servers: Vec<&str> = rendered
        .lines()
        .filter(|l| l.starts_with("server."))
        .collect();
    assert_eq!(
        servers,
        [
            "server.1=10.0.0.11:2888:3888;2181",
            "server.2=[fd00::12]:2888:3888;2181",
            "server.3=10.0.0.13:2889:3889:observer;2182",
            "server.4=zk4.example:2888:3888;2181",
        ]
    );
    assert!(!rendered.contains("peerType"), "{rendered}");
    assert!(rendered.contains("clientPort=2181\n"), "{rendered}");
    let observer = inv.zoo_cfg_for("zk3").unwrap();
    assert_eq!(observer.peer_type, PeerRole::Observer);
    assert_eq!(observer.client_port, Some(2182));
    assert!(observer.render().contains("peerType=observer\n"));
}

#[test]
fn ensemble_settings_reach_every_zoo_cfg() {
    let text = with_ensemble(
        "tick_time = 1500\ninit_limit = 20\nsync_limit = 4\ndata_log_dir = \"/log/zk\"",
    );
    let inv = ok(&text);
    assert_round_trips(&inv);
    for h in inv.hosts() {
        let c = inv.zoo_cfg_for(&h.name).unwrap();
        assert_eq!((c.tick_time_ms, c.init_limit, c.sync_limit), (1500, 20, 4));
        assert_eq!(c.data_log_dir, Some(PathBuf::from("/log/zk")));
        assert_eq!(c.servers.len(), 3);
    }
}

#[test]
fn extra_settings_land_in_zkd_fields_or_pass_through() {
    let text = with_ensemble(
        "[ensemble.extra]\n\"4lw.commands.whitelist\" = [\"srvr\", \"mntr\"]\nautopurge.purgeInterval = 6\nforceSync = \"no\"\nmetricsProvider.httpPort = 7000\n\"zookeeper.commitLogCount\" = 600",
    );
    let inv = ok(&text);
    assert_round_trips(&inv);
    let c = inv.zoo_cfg_for("zk2").unwrap();
    assert_eq!(c.autopurge_purge_interval_hours, 6);
    assert!(!c.force_sync);
    assert!(c.four_letter_words.allows("mntr"));
    assert!(!c.four_letter_words.allows("stat"));
    assert_eq!(c.extra_value("metricsProvider.httpPort"), Some("7000"));
    assert_eq!(c.system_property("commitLogCount"), Some("600"));
    // Modelled keys never stay in `extra`.
    assert!(
        c.extra.iter().all(|(k, _)| k != "autopurge.purgeInterval"),
        "{:?}",
        c.extra
    );
}

#[test]
fn a_single_host_renders_a_standalone_server() {
    let one =
        "[ensemble]\nname = \"x\"\n[[hosts]]\nname = \"a\"\naddress = \"10.0.0.1\"\nmyid = 1\n";
    let inv = ok(one);
    assert_round_trips(&inv);
    assert!(inv.zoo_cfg_for("a").unwrap().is_standalone());
}

#[test]
fn an_unknown_host_has_no_zoo_cfg() {
    assert!(ok(MINIMAL).zoo_cfg_for("zk9").is_none());
}
