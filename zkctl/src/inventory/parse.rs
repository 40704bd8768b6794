//! From the TOML document to a draft: every table and key read and checked
//! on its own, with ZooKeeper-style defaults filled in. Rules across hosts
//! are `validate`'s.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::{DeTable, DeValue};
use toml::Spanned;
use zkd::config::PeerRole;

use super::diagnostic::Diagnostics;
use super::extra::{read_extra, ExtraSetting};
use super::fields::{Located, Table};
use super::names::{address_problem, expand_home, host_name_problem, is_ensemble_name};
use crate::model::{HostKeyPolicy, SshSettings};

pub(super) const DEFAULT_CLIENT_PORT: u16 = 2181;
pub(super) const DEFAULT_QUORUM_PORT: u16 = 2888;
pub(super) const DEFAULT_ELECTION_PORT: u16 = 3888;
/// ZooKeeper's sample zoo.cfg values (its built-in tickTime is 3000).
pub(super) const DEFAULT_TICK_TIME_MS: u32 = 2000;
pub(super) const DEFAULT_INIT_LIMIT: u32 = 10;
pub(super) const DEFAULT_SYNC_LIMIT: u32 = 5;
/// Where zkd.service keeps its state (StateDirectory=zkd).
pub(super) const DEFAULT_DATA_DIR: &str = "/var/lib/zkd";
pub(super) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub(super) const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

const TOP_KEYS: &[&str] = &["ensemble", "ssh", "hosts"];
const ENSEMBLE_KEYS: &[&str] = &[
    "name",
    "client_port",
    "quorum_port",
    "election_port",
    "tick_time",
    "init_limit",
    "sync_limit",
    "data_dir",
    "data_log_dir",
    "extra",
];
const SSH_KEYS: &[&str] = &[
    "user",
    "port",
    "identity",
    "agent",
    "known_hosts",
    "host_key_policy",
    "sudo",
    "connect_timeout",
    "command_timeout",
];
const HOST_KEYS: &[&str] = &["name", "address", "myid", "role", "overrides"];
const OVERRIDE_KEYS: &[&str] = &[
    "client_port",
    "quorum_port",
    "election_port",
    "data_dir",
    "data_log_dir",
    "extra",
];

const IN_HOSTS: &str = "it belongs to each [[hosts]] entry";
const IN_SSH: &str = "SSH settings go in [ssh]";
const ENSEMBLE_WIDE: &str = "it is ensemble-wide; set it in [ensemble]";
const IN_OVERRIDES: &str = "per-host settings go in [hosts.overrides]";

/// A value from the file, or a default (no span).
#[derive(Debug, Clone)]
pub(super) struct Setting<T> {
    pub(super) value: T,
    pub(super) span: Option<Range<usize>>,
}

impl<T: Clone> Setting<T> {
    fn read(given: Option<Located<T>>, default: T) -> Self {
        match given {
            Some(v) => Setting {
                span: Some(v.span()),
                value: v.into_inner(),
            },
            None => Setting {
                value: default,
                span: None,
            },
        }
    }

    /// This setting, unless a host gives its own value.
    pub(super) fn overridden(&self, by: &Option<Located<T>>) -> Setting<T> {
        match by {
            Some(v) => Setting {
                value: v.get_ref().clone(),
                span: Some(v.span()),
            },
            None => self.clone(),
        }
    }
}

pub(super) struct EnsembleDraft {
    pub(super) span: Range<usize>,
    pub(super) name: Option<Located<String>>,
    pub(super) client_port: Setting<u16>,
    pub(super) quorum_port: Setting<u16>,
    pub(super) election_port: Setting<u16>,
    pub(super) tick_time_ms: Setting<u32>,
    pub(super) init_limit: Setting<u32>,
    pub(super) sync_limit: Setting<u32>,
    pub(super) data_dir: Setting<PathBuf>,
    pub(super) data_log_dir: Option<Located<PathBuf>>,
    pub(super) extra: Vec<ExtraSetting>,
}

pub(super) struct HostDraft {
    pub(super) span: Range<usize>,
    pub(super) name: Option<Located<String>>,
    pub(super) address: Option<Located<String>>,
    pub(super) myid: Option<Located<u64>>,
    pub(super) role: Setting<PeerRole>,
    pub(super) client_port: Option<Located<u16>>,
    pub(super) quorum_port: Option<Located<u16>>,
    pub(super) election_port: Option<Located<u16>>,
    pub(super) data_dir: Option<Located<PathBuf>>,
    pub(super) data_log_dir: Option<Located<PathBuf>>,
    pub(super) extra: Vec<ExtraSetting>,
}

pub(super) struct Draft {
    pub(super) ensemble: EnsembleDraft,
    pub(super) ssh: SshSettings,
    /// The span of the `hosts` array (its first `[[hosts]]`), if given.
    pub(super) hosts_span: Option<Range<usize>>,
    pub(super) hosts: Vec<HostDraft>,
}

/// Reads the whole document. `home` expands `~` in SSH paths; relative
/// paths are taken from the inventory file's directory.
pub(super) fn read(doc: &DeTable, home: Option<&Path>, d: &mut Diagnostics) -> Draft {
    let top = Table::new(doc, 0..0, "the inventory".into());
    top.check_keys(
        TOP_KEYS,
        &[
            ("name", "the ensemble's name goes in [ensemble]"),
            ("user", IN_SSH),
            ("host", "hosts are [[hosts]] entries (with an s)"),
        ],
        d,
    );
    let ensemble = match top.table("ensemble", "[ensemble]", d) {
        Some(t) => read_ensemble(&t, true, d),
        None => {
            if top.get("ensemble").is_none() {
                d.error(
                    0..0,
                    "no [ensemble] table; it needs at least name = \"...\"",
                );
            }
            let empty = DeTable::default();
            read_ensemble(&Table::new(&empty, 0..0, "[ensemble]".into()), false, d)
        }
    };
    let empty = DeTable::default();
    let ssh_table = top
        .table("ssh", "[ssh]", d)
        .unwrap_or_else(|| Table::new(&empty, 0..0, "[ssh]".into()));
    let base_dir = d.file().parent().map(Path::to_path_buf).unwrap_or_default();
    let ssh = read_ssh(&ssh_table, home, &base_dir, d);
    let (hosts_span, hosts) = read_hosts(&top, d);
    Draft {
        ensemble,
        ssh,
        hosts_span,
        hosts,
    }
}

/// `name_required`: report a missing name (not done when the whole table
/// is missing, which was reported already).
fn read_ensemble(t: &Table, name_required: bool, d: &mut Diagnostics) -> EnsembleDraft {
    t.check_keys(
        ENSEMBLE_KEYS,
        &[
            ("myid", IN_HOSTS),
            ("address", IN_HOSTS),
            ("role", IN_HOSTS),
            ("user", IN_SSH),
            ("port", IN_SSH),
            ("identity", IN_SSH),
            (
                "hosts",
                "write each host as a [[hosts]] table (a hosts list must come before any [table])",
            ),
        ],
        d,
    );
    let name = t.string("name", d).filter(|n| {
        let ok = is_ensemble_name(n.get_ref());
        if !ok {
            d.error(
                n.span(),
                format!(
                    "ensemble name {:?} must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit (it is written into /etc/hosts markers)",
                    n.get_ref()
                ),
            );
        }
        ok
    });
    if name_required && t.get("name").is_none() {
        d.error(
            t.span.clone(),
            "[ensemble] needs name = \"...\"; it marks this ensemble's block in /etc/hosts and names it in status output",
        );
    }
    let limit = |key: &str, d: &mut Diagnostics| {
        t.integer(key, 1, i64::from(i32::MAX), d)
            .map(|v| Spanned::new(v.span(), *v.get_ref() as u32))
    };
    EnsembleDraft {
        span: t.span.clone(),
        name,
        client_port: Setting::read(t.port("client_port", d), DEFAULT_CLIENT_PORT),
        quorum_port: Setting::read(t.port("quorum_port", d), DEFAULT_QUORUM_PORT),
        election_port: Setting::read(t.port("election_port", d), DEFAULT_ELECTION_PORT),
        tick_time_ms: Setting::read(limit("tick_time", d), DEFAULT_TICK_TIME_MS),
        init_limit: Setting::read(limit("init_limit", d), DEFAULT_INIT_LIMIT),
        sync_limit: Setting::read(limit("sync_limit", d), DEFAULT_SYNC_LIMIT),
        data_dir: Setting::read(
            t.remote_path("data_dir", d),
            PathBuf::from(DEFAULT_DATA_DIR),
        ),
        data_log_dir: t.remote_path("data_log_dir", d),
        extra: t
            .table("extra", "[ensemble.extra]", d)
            .map(|x| read_extra(&x, d))
            .unwrap_or_default(),
    }
}

fn read_ssh(t: &Table, home: Option<&Path>, base_dir: &Path, d: &mut Diagnostics) -> SshSettings {
    t.check_keys(
        SSH_KEYS,
        &[
            ("ssh_port", "the SSH port is port in [ssh]"),
            ("key", "the private key file is identity in [ssh]"),
        ],
        d,
    );
    let user = t
        .string("user", d)
        .map(Spanned::into_inner)
        .unwrap_or_else(|| "root".into());
    let local_path = |key: &str, d: &mut Diagnostics| -> Option<PathBuf> {
        let raw = t.string(key, d)?;
        match expand_home(raw.get_ref(), home) {
            Ok(p) => Some(base_dir.join(p)),
            Err(why) => {
                d.error(raw.span(), format!("{key} in [ssh]: {why}"));
                None
            }
        }
    };
    let identity = local_path("identity", d);
    let known_hosts = local_path("known_hosts", d).or_else(|| {
        let Some(home) = home else {
            d.error(
                t.span.clone(),
                "HOME is not set, so the default known_hosts (~/.ssh/known_hosts) is unknown; set known_hosts in [ssh]",
            );
            return None;
        };
        Some(home.join(".ssh/known_hosts"))
    });
    let agent = t.boolean("agent", d);
    let use_agent = agent.as_ref().is_none_or(|a| *a.get_ref());
    if !use_agent && identity.is_none() && t.get("identity").is_none() {
        d.error(
            agent.map_or(t.span.clone(), |a| a.span()),
            "agent = false and no identity file: zkctl would have no way to log in; set identity or agent = true",
        );
    }
    let host_key_policy = match t.string("host_key_policy", d) {
        None => HostKeyPolicy::Strict,
        Some(p) => match p.get_ref().as_str() {
            "strict" => HostKeyPolicy::Strict,
            "accept-new" => HostKeyPolicy::AcceptNew,
            other => {
                d.error(
                    p.span(),
                    format!("host_key_policy {other:?} is not \"strict\" (the default: keys must be in known_hosts) or \"accept-new\" (add unknown keys, refuse changed ones)"),
                );
                HostKeyPolicy::Strict
            }
        },
    };
    let sudo = match t.boolean("sudo", d) {
        Some(s) => {
            if !*s.get_ref() && user != "root" {
                d.warn(
                    s.span(),
                    format!("sudo = false with user {user:?}: installing units, zkd's user and /etc/hosts needs root, so those steps will fail unless {user} may do them"),
                );
            }
            *s.get_ref()
        }
        None => user != "root",
    };
    SshSettings {
        port: t.port("port", d).map_or(22, Spanned::into_inner),
        identity,
        use_agent,
        known_hosts: known_hosts.unwrap_or_default(),
        host_key_policy,
        sudo,
        connect_timeout: t
            .duration("connect_timeout", d)
            .map_or(DEFAULT_CONNECT_TIMEOUT, Spanned::into_inner),
        command_timeout: t
            .duration("command_timeout", d)
            .map_or(DEFAULT_COMMAND_TIMEOUT, Spanned::into_inner),
        user,
    }
}

fn read_hosts(top: &Table, d: &mut Diagnostics) -> (Option<Range<usize>>, Vec<HostDraft>) {
    let Some(list) = top.get("hosts") else {
        return (None, Vec::new());
    };
    let DeValue::Array(items) = list.get_ref() else {
        d.error(
            list.span(),
            "hosts must be a list of tables: write each host as a [[hosts]] table",
        );
        return (Some(list.span()), Vec::new());
    };
    let mut hosts = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let DeValue::Table(entries) = item.get_ref() else {
            d.error(
                item.span(),
                format!(
                    "hosts entry {} must be a table, not a {}",
                    i + 1,
                    item.get_ref().type_str()
                ),
            );
            continue;
        };
        let t = Table::new(entries, item.span(), format!("[[hosts]] entry {}", i + 1));
        hosts.push(read_host(&t, d));
    }
    (Some(list.span()), hosts)
}

fn read_host(t: &Table, d: &mut Diagnostics) -> HostDraft {
    let ensemble_wide: Vec<(&str, &str)> = ["tick_time", "init_limit", "sync_limit"]
        .into_iter()
        .map(|k| (k, ENSEMBLE_WIDE))
        .chain(OVERRIDE_KEYS.iter().map(|k| (*k, IN_OVERRIDES)))
        .collect();
    t.check_keys(HOST_KEYS, &ensemble_wide, d);
    let name = t.string("name", d).filter(|n| {
        let problem = host_name_problem(n.get_ref());
        if let Some(why) = &problem {
            d.error(n.span(), format!("host name {:?} {why}", n.get_ref()));
        }
        problem.is_none()
    });
    let named = match &name {
        Some(n) => format!("[[hosts]] {}", n.get_ref()),
        None => t.name.clone(),
    };
    let address = t.string("address", d).filter(|a| {
        let problem = address_problem(a.get_ref());
        if let Some(why) = &problem {
            d.error(
                a.span(),
                format!("address {:?} of {named} {why}", a.get_ref()),
            );
        }
        problem.is_none()
    });
    let myid = t
        .integer("myid", 1, 255, d)
        .map(|v| Spanned::new(v.span(), *v.get_ref() as u64));
    for (key, given) in [
        ("name", name.is_some()),
        ("address", address.is_some()),
        ("myid", myid.is_some()),
    ] {
        if !given && t.get(key).is_none() {
            let why = match key {
                "myid" => "myid (1-255, unique); zkctl never numbers hosts by their order, since a changed order would swap identities",
                "name" => "name (the host name members know it by)",
                _ => "address (an IP address or DNS name that peers and zkctl reach it at)",
            };
            d.error(t.span.clone(), format!("{named} needs {why}"));
        }
    }
    let role = match t.string("role", d) {
        None => Setting::read(None, PeerRole::Participant),
        Some(r) => match r.get_ref().as_str() {
            "participant" => Setting::read(
                Some(Spanned::new(r.span(), PeerRole::Participant)),
                PeerRole::Participant,
            ),
            "observer" => Setting::read(
                Some(Spanned::new(r.span(), PeerRole::Observer)),
                PeerRole::Participant,
            ),
            other => {
                d.error(
                    r.span(),
                    format!("role {other:?} of {named} is not \"participant\" (votes) or \"observer\" (does not vote)"),
                );
                Setting::read(None, PeerRole::Participant)
            }
        },
    };
    let empty = DeTable::default();
    let o = t
        .table("overrides", format!("[hosts.overrides] of {named}"), d)
        .unwrap_or_else(|| Table::new(&empty, t.span.clone(), "[hosts.overrides]".into()));
    o.check_keys(
        OVERRIDE_KEYS,
        &[
            ("tick_time", ENSEMBLE_WIDE),
            ("init_limit", ENSEMBLE_WIDE),
            ("sync_limit", ENSEMBLE_WIDE),
            ("myid", "myid is set in the [[hosts]] entry itself"),
            ("address", "address is set in the [[hosts]] entry itself"),
            ("role", "role is set in the [[hosts]] entry itself"),
        ],
        d,
    );
    HostDraft {
        span: t.span.clone(),
        name,
        address,
        myid,
        role,
        client_port: o.port("client_port", d),
        quorum_port: o.port("quorum_port", d),
        election_port: o.port("election_port", d),
        data_dir: o.remote_path("data_dir", d),
        data_log_dir: o.remote_path("data_log_dir", d),
        extra: o
            .table("extra", format!("[hosts.overrides.extra] of {named}"), d)
            .map(|x| read_extra(&x, d))
            .unwrap_or_default(),
    }
}
