//! Writing a [`ZooCfg`] back out as a zoo.cfg.
//!
//! Canonical order, only settings that differ from ZooKeeper's defaults
//! (`tickTime` and `dataDir` always), comments naming each section, keys in
//! the spelling ZooKeeper itself honours. Values are escaped so that the
//! parser, and Java's `Properties`, read back exactly what was written.

use std::fmt::Write as _;
use std::path::Path;

use super::props::{escape_key, escape_value};
use super::ZooCfg;

struct Out {
    text: String,
    /// A section title not written yet: empty sections get no title.
    pending: Option<&'static str>,
}

impl Out {
    fn section(&mut self, title: &'static str) {
        self.pending = Some(title);
    }

    fn line(&mut self, line: &str) {
        if let Some(title) = self.pending.take() {
            if !self.text.is_empty() {
                self.text.push('\n');
            }
            let _ = writeln!(self.text, "# {title}");
        }
        self.text.push_str(line);
        self.text.push('\n');
    }

    fn set(&mut self, key: &str, value: &str) {
        self.line(&format!("{}={}", escape_key(key), escape_value(value)));
    }

    /// Writes `key` when `value` differs from the default's.
    fn changed<T: PartialEq + ToString>(&mut self, key: &str, value: &T, default: &T) {
        if value != default {
            self.set(key, &value.to_string());
        }
    }

    fn some<T: ToString>(&mut self, key: &str, value: &Option<T>) {
        if let Some(v) = value {
            self.set(key, &v.to_string());
        }
    }

    fn path(&mut self, key: &str, value: Option<&Path>) {
        if let Some(p) = value {
            self.set(key, &p.to_string_lossy());
        }
    }

    fn flag(&mut self, key: &str, value: bool, default: bool, words: (&str, &str)) {
        if value != default {
            self.set(key, if value { words.0 } else { words.1 });
        }
    }
}

const TF: (&str, &str) = ("true", "false");
const YN: (&str, &str) = ("yes", "no");

pub(crate) fn render(c: &ZooCfg) -> String {
    let d = ZooCfg::with_defaults(c.data_dir.clone());
    let mut o = Out {
        text: String::new(),
        pending: None,
    };

    o.section("Time and storage");
    o.set("tickTime", &c.tick_time_ms.to_string());
    o.changed("initLimit", &c.init_limit, &0);
    o.changed("syncLimit", &c.sync_limit, &0);
    o.changed(
        "connectToLearnerMasterLimit",
        &c.connect_to_learner_master_limit,
        &0,
    );
    o.path("dataDir", Some(&c.data_dir));
    o.path("dataLogDir", c.data_log_dir.as_deref());
    o.changed("snapCount", &c.snap_count, &d.snap_count);
    o.changed(
        "snapSizeLimitInKb",
        &c.snap_size_limit_kb,
        &d.snap_size_limit_kb,
    );
    o.changed(
        "txnLogSizeLimitInKb",
        &c.txn_log_size_limit_kb,
        &d.txn_log_size_limit_kb,
    );
    o.changed("preAllocSize", &c.pre_alloc_size_kb, &d.pre_alloc_size_kb);
    o.flag("forceSync", c.force_sync, d.force_sync, YN);
    o.changed(
        "fsync.warningthresholdms",
        &c.fsync_warning_threshold_ms,
        &d.fsync_warning_threshold_ms,
    );
    o.changed(
        "autopurge.snapRetainCount",
        &c.autopurge_snap_retain_count,
        &d.autopurge_snap_retain_count,
    );
    o.changed(
        "autopurge.purgeInterval",
        &c.autopurge_purge_interval_hours,
        &0,
    );

    o.section("Clients");
    o.some("clientPort", &c.client_port);
    o.some("clientPortAddress", &c.client_port_address);
    o.some("secureClientPort", &c.secure_client_port);
    o.some("secureClientPortAddress", &c.secure_client_port_address);
    o.some("clientPortListenBacklog", &c.client_port_listen_backlog);
    o.changed("maxClientCnxns", &c.max_client_cnxns, &d.max_client_cnxns);
    o.changed("maxCnxns", &c.max_cnxns, &d.max_cnxns);
    o.some("minSessionTimeout", &c.min_session_timeout_ms);
    o.some("maxSessionTimeout", &c.max_session_timeout_ms);
    o.flag("localSessionsEnabled", c.local_sessions_enabled, false, TF);
    o.flag(
        "localSessionsUpgradingEnabled",
        c.local_sessions_upgrading_enabled,
        false,
        TF,
    );
    o.changed(
        "globalOutstandingLimit",
        &c.global_outstanding_limit,
        &d.global_outstanding_limit,
    );
    o.changed("jute.maxbuffer", &c.jute_max_buffer, &d.jute_max_buffer);
    if c.four_letter_words != d.four_letter_words {
        o.set("4lw.commands.whitelist", &c.four_letter_words.render());
    }

    o.section("Data tree and access control");
    o.flag("extendedTypesEnabled", c.extended_types_enabled, false, TF);
    o.changed(
        "znode.container.checkIntervalMs",
        &c.container_check_interval_ms,
        &d.container_check_interval_ms,
    );
    o.changed(
        "znode.container.maxPerMinute",
        &c.container_max_per_minute,
        &d.container_max_per_minute,
    );
    o.changed(
        "znode.container.maxNeverUsedIntervalMs",
        &c.container_max_never_used_interval_ms,
        &d.container_max_never_used_interval_ms,
    );
    o.flag(
        "DigestAuthenticationProvider.enabled",
        c.digest_auth_enabled,
        true,
        TF,
    );
    o.some("DigestAuthenticationProvider.superDigest", &c.super_digest);
    o.flag("skipACL", c.skip_acl, false, YN);
    o.flag("admin.enableServer", c.admin_enable_server, true, TF);
    o.changed(
        "admin.serverAddress",
        &c.admin_server_address,
        &d.admin_server_address,
    );
    o.changed(
        "admin.serverPort",
        &c.admin_server_port,
        &d.admin_server_port,
    );

    o.section("Ensemble");
    o.changed("peerType", &c.peer_type, &d.peer_type);
    o.flag("standaloneEnabled", c.standalone_enabled, true, TF);
    o.flag("reconfigEnabled", c.reconfig_enabled, false, TF);
    o.flag(
        "quorumListenOnAllIPs",
        c.quorum_listen_on_all_ips,
        false,
        TF,
    );
    o.flag("multiAddress.enabled", c.multi_address_enabled, false, TF);
    o.flag("leaderServes", c.leader_serves, true, YN);
    o.flag("syncEnabled", c.sync_enabled, true, TF);
    o.some("observerMasterPort", &c.observer_master_port);
    o.path("dynamicConfigFile", c.dynamic_config_file.as_deref());
    if c.dynamic_config_file.is_none() {
        for line in server_lines(c) {
            o.line(&line);
        }
    }

    o.section("Other settings");
    for (k, v) in &c.extra {
        o.set(k, v);
    }
    o.text
}

fn server_lines(c: &ZooCfg) -> impl Iterator<Item = String> + '_ {
    c.servers
        .iter()
        .map(|(id, spec)| format!("server.{id}={}", escape_value(&spec.to_string())))
}

/// `server.N=...` lines in id order.
pub(crate) fn render_servers(c: &ZooCfg) -> String {
    server_lines(c).map(|l| l + "\n").collect()
}
