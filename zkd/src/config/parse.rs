//! From zoo.cfg text to a [`ZooCfg`]: one value at a time, then the rules
//! across values (in `validate`).
//!
//! As with Java's `Properties`, a key given twice takes its last value; zkd
//! also warns. Numbers follow the Java call ZooKeeper uses for the key:
//! `Integer.parseInt` (decimal) for QuorumPeerConfig's own keys,
//! `Integer.getInteger` (which also takes `0x`/`#` hex and leading-0 octal)
//! for system-property keys.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::error::{ConfigError, ConfigWarning};
use super::fourlw::FourLetterWhitelist;
use super::keys::{self, KeyKind, ValueType};
use super::props::{self, Entry};
use super::server::{PeerRole, ServerSpec};
use super::validate::{self, Locations};
use super::{ZooCfg, MIN_SNAP_RETAIN_COUNT};

const INT_MAX: i64 = i32::MAX as i64;
const INT_MIN: i64 = i32::MIN as i64;
/// KiB values are turned into bytes, which must still fit a Java long.
const KIB_MAX: i64 = i64::MAX / 1024;

/// A configuration that was read and passed every check.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The configuration.
    pub cfg: ZooCfg,
    /// Things accepted but worth logging, in file order.
    pub warnings: Vec<ConfigWarning>,
    /// The file (or name) it was read from.
    pub source: PathBuf,
    /// The version in the dynamic config file's name (`zoo.cfg.dynamic.<hex>`).
    pub dynamic_version: Option<u64>,
    locations: Locations,
}

impl Loaded {
    /// The rules that need this server's id (from [`super::read_myid`]):
    /// in quorum mode the id must exist and have a `server.N` line; the
    /// `clientPort` keys must agree with that line's client address; some
    /// client port must be left to listen on. Warnings cover a `peerType`
    /// that disagrees with the server list (the list wins).
    pub fn check_myid(&self, myid: Option<u64>) -> Result<Vec<ConfigWarning>, ConfigError> {
        validate::check_myid(&self.cfg, &self.locations, myid)
    }

    /// [`ZooCfg::client_listen_addr`], with errors naming the setting.
    pub fn client_listen_addr(
        &self,
        myid: Option<u64>,
    ) -> Result<Option<std::net::SocketAddr>, ConfigError> {
        validate::listen_addr(&self.cfg, &self.locations, myid)
    }
}

pub(crate) fn load_file(path: &Path) -> Result<Loaded, ConfigError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ConfigError::io(path, "cannot read the configuration", e))?;
    let mut builder = Builder::from_text(&props::decode_bytes(&bytes), path)?;
    let mut version = None;
    if let Some(dynamic) = builder.cfg.dynamic_config_file.clone() {
        // ZooKeeper writes absolute paths here; a relative one is taken from
        // the configuration's directory, not the daemon's working directory.
        let dynamic = match path.parent() {
            Some(dir) if dynamic.is_relative() => dir.join(dynamic),
            _ => dynamic,
        };
        let bytes = std::fs::read(&dynamic)
            .map_err(|e| ConfigError::io(&dynamic, "cannot read the dynamic config file", e))?;
        builder.add_dynamic(&props::decode_bytes(&bytes), &dynamic)?;
        version = version_from_file_name(&dynamic);
    }
    builder.finish(version)
}

pub(crate) fn parse_text(text: &str, source: &Path) -> Result<Loaded, ConfigError> {
    Builder::from_text(text, source)?.finish(None)
}

/// Reads `text` and, when given, dynamic-file text holding the server lines.
pub(crate) fn parse_with_dynamic(
    text: &str,
    source: &Path,
    dynamic: Option<(&str, &Path)>,
) -> Result<Loaded, ConfigError> {
    let mut builder = Builder::from_text(text, source)?;
    if let Some((text, path)) = dynamic {
        builder.add_dynamic(text, path)?;
    }
    builder.finish(None)
}

/// ZooKeeper names dynamic files `<cfg>.dynamic.<hex version>`.
fn version_from_file_name(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let (_, suffix) = name.rsplit_once('.')?;
    u64::from_str_radix(suffix, 16).ok()
}

struct Builder {
    cfg: ZooCfg,
    warnings: Vec<ConfigWarning>,
    locations: Locations,
    source: PathBuf,
    data_dir_seen: bool,
}

/// Keeps the last of each repeated key, warning about the ones it drops.
fn last_wins(entries: Vec<Entry>, file: &Path, warnings: &mut Vec<ConfigWarning>) -> Vec<Entry> {
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        if let Some(prev) = last.insert(&e.key, i) {
            warnings.push(ConfigWarning::new(
                file,
                Some(e.line),
                Some(&e.key),
                format!(
                    "also set at line {}; this later value wins, as in ZooKeeper",
                    entries[prev].line
                ),
            ));
        }
    }
    let keep: Vec<bool> = (0..entries.len())
        .map(|i| last[entries[i].key.as_str()] == i)
        .collect();
    entries
        .into_iter()
        .zip(keep)
        .filter_map(|(e, k)| k.then_some(e))
        .collect()
}

impl Builder {
    fn from_text(text: &str, source: &Path) -> Result<Builder, ConfigError> {
        let mut warnings = Vec::new();
        let entries = last_wins(
            props::parse_properties(text, source)?,
            source,
            &mut warnings,
        );
        let has_dynamic = entries.iter().any(|e| e.key == "dynamicConfigFile");
        let mut b = Builder {
            cfg: ZooCfg::with_defaults(PathBuf::new()),
            warnings,
            locations: Locations::none(source),
            source: source.to_path_buf(),
            data_dir_seen: false,
        };
        for e in &entries {
            let v = Val {
                file: source,
                line: e.line,
                key: &e.key,
                value: &e.value,
            };
            match keys::classify(&e.key) {
                KeyKind::Server if has_dynamic => {
                    return Err(v.err("server lines must be in the dynamic config file, since dynamicConfigFile is set"));
                }
                KeyKind::Server => b.add_server(&v)?,
                KeyKind::Unsupported(why) => return Err(v.err(why)),
                KeyKind::Modelled(name) => {
                    b.locations.record(name, source, e.line);
                    b.set(name, &v)?;
                }
                KeyKind::KnownOther(ty) => {
                    check_type(&v, ty)?;
                    b.cfg.extra.push((e.key.clone(), e.value.clone()));
                }
                KeyKind::Unknown => {
                    b.warnings.push(v.warn(
                        "not a ZooKeeper 3.8 setting that zkd knows (a typo?); kept and ignored",
                    ));
                    b.cfg.extra.push((e.key.clone(), e.value.clone()));
                }
            }
        }
        Ok(b)
    }

    /// Takes the server lines from a dynamic config file, which may hold
    /// nothing else.
    fn add_dynamic(&mut self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let entries = last_wins(
            props::parse_properties(text, path)?,
            path,
            &mut self.warnings,
        );
        for e in &entries {
            let v = Val {
                file: path,
                line: e.line,
                key: &e.key,
                value: &e.value,
            };
            match keys::classify(&e.key) {
                KeyKind::Server => self.add_server(&v)?,
                KeyKind::Unsupported(why) => return Err(v.err(why)),
                _ if e.key == "version" => {
                    return Err(v.err("must not be in a dynamic config file; the version comes from the file name"));
                }
                _ => return Err(v.err("only server.N lines may be in a dynamic config file")),
            }
        }
        Ok(())
    }

    fn finish(mut self, dynamic_version: Option<u64>) -> Result<Loaded, ConfigError> {
        if !self.data_dir_seen {
            return Err(ConfigError::key(
                &self.source,
                None,
                "dataDir",
                "not set; ZooKeeper requires a data directory",
            ));
        }
        let more = validate::check(&self.cfg, &self.locations)?;
        self.warnings.extend(more);
        Ok(Loaded {
            cfg: self.cfg,
            warnings: self.warnings,
            source: self.source,
            dynamic_version,
            locations: self.locations,
        })
    }

    fn add_server(&mut self, v: &Val) -> Result<(), ConfigError> {
        let raw_id = &v.key["server.".len()..];
        let id = keys::parse_java_int(raw_id)
            .ok()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| {
                v.err(format!(
                    "server id '{raw_id}' is not a non-negative whole number"
                ))
            })?;
        let spec = ServerSpec::parse(id, v.value).map_err(|m| v.err(m))?;
        let canonical = format!("server.{id}");
        if self.cfg.servers.contains_key(&id) {
            let (file, line) = self
                .locations
                .get(&canonical)
                .expect("server line recorded");
            return Err(v.err(format!(
                "server id {id} is already defined at {}:{line}",
                file.display()
            )));
        }
        self.locations.record(&canonical, v.file, v.line);
        self.cfg.servers.insert(id, spec);
        Ok(())
    }

    fn set(&mut self, name: &str, v: &Val) -> Result<(), ConfigError> {
        let c = &mut self.cfg;
        match name {
            "tickTime" => c.tick_time_ms = v.int(1, INT_MAX)? as u32,
            "initLimit" => c.init_limit = v.int(0, INT_MAX)? as u32,
            "syncLimit" => c.sync_limit = v.int(0, INT_MAX)? as u32,
            "connectToLearnerMasterLimit" => {
                c.connect_to_learner_master_limit = v.int(0, INT_MAX)? as u32
            }
            "dataDir" => {
                c.data_dir = v.path()?;
                self.data_dir_seen = true;
            }
            "dataLogDir" => c.data_log_dir = Some(v.path()?),
            "clientPort" => c.client_port = v.port()?,
            "clientPortAddress" => c.client_port_address = Some(v.ip()?),
            "secureClientPort" => c.secure_client_port = v.port()?,
            "secureClientPortAddress" => c.secure_client_port_address = Some(v.ip()?),
            "clientPortListenBacklog" => {
                let n = v.int(INT_MIN, INT_MAX)?;
                c.client_port_listen_backlog = (n > 0).then_some(n as u32);
            }
            "observerMasterPort" => {
                let n = v.int(INT_MIN, 65535)?;
                c.observer_master_port = (n > 0).then_some(n as u16);
            }
            "maxClientCnxns" => c.max_client_cnxns = v.int(0, INT_MAX)? as u32,
            "minSessionTimeout" => c.min_session_timeout_ms = v.timeout()?,
            "maxSessionTimeout" => c.max_session_timeout_ms = v.timeout()?,
            "localSessionsEnabled" => c.local_sessions_enabled = v.true_false()?,
            "localSessionsUpgradingEnabled" => {
                c.local_sessions_upgrading_enabled = v.true_false()?
            }
            "electionAlg" => {
                if v.int(INT_MIN, INT_MAX)? != 3 {
                    return Err(
                        v.err("only 3 (fast leader election) is supported, as in ZooKeeper 3.8")
                    );
                }
            }
            "quorumListenOnAllIPs" => c.quorum_listen_on_all_ips = v.true_false()?,
            "peerType" => {
                c.peer_type = PeerRole::parse(v.value)
                    .ok_or_else(|| v.err(format!("'{}' is not participant or observer", v.value)))?
            }
            "syncEnabled" => c.sync_enabled = v.true_false()?,
            "dynamicConfigFile" => c.dynamic_config_file = Some(v.path()?),
            "autopurge.snapRetainCount" => {
                let n = v.int(INT_MIN, INT_MAX)?;
                c.autopurge_snap_retain_count = if n < i64::from(MIN_SNAP_RETAIN_COUNT) {
                    self.warnings.push(v.warn(format!(
                        "{n} is below the minimum; using {MIN_SNAP_RETAIN_COUNT}, as ZooKeeper does"
                    )));
                    MIN_SNAP_RETAIN_COUNT
                } else {
                    n as u32
                };
            }
            "autopurge.purgeInterval" => {
                let n = v.int(INT_MIN, INT_MAX)?;
                if n < 0 {
                    self.warnings
                        .push(v.warn("negative; automatic purging is off, as with 0"));
                }
                c.autopurge_purge_interval_hours = n.max(0) as u32;
            }
            "standaloneEnabled" => c.standalone_enabled = v.true_false()?,
            "reconfigEnabled" => c.reconfig_enabled = v.true_false()?,
            "multiAddress.enabled" => c.multi_address_enabled = v.true_false()?,
            "jute.maxbuffer" => c.jute_max_buffer = v.decoded(1, INT_MAX)? as u32,
            "znode.container.checkIntervalMs" => {
                c.container_check_interval_ms = v.decoded(1, INT_MAX)? as u64
            }
            "znode.container.maxPerMinute" => {
                c.container_max_per_minute = v.decoded(1, INT_MAX)? as u32
            }
            "znode.container.maxNeverUsedIntervalMs" => {
                c.container_max_never_used_interval_ms = v.decoded(0, i64::MAX)? as u64
            }
            "globalOutstandingLimit" => c.global_outstanding_limit = v.decoded(1, INT_MAX)? as u32,
            "maxCnxns" => c.max_cnxns = v.decoded(0, INT_MAX)? as u32,
            "snapCount" => {
                let n = v.decoded(INT_MIN, INT_MAX)?;
                if n < 2 {
                    self.warnings.push(v.warn(format!(
                        "{n} is below the minimum; using 2, as ZooKeeper does"
                    )));
                }
                c.snap_count = n.max(2) as u64;
            }
            // ZooKeeper turns these off with any value <= 0.
            "snapSizeLimitInKb" => {
                c.snap_size_limit_kb = v.decoded(i64::MIN, KIB_MAX)?.max(0) as u64
            }
            "txnLogSizeLimitInKb" => {
                c.txn_log_size_limit_kb = v.decoded(i64::MIN, KIB_MAX)?.max(0) as u64
            }
            "preAllocSize" => c.pre_alloc_size_kb = v.int(1, KIB_MAX)? as u64,
            "forceSync" => c.force_sync = v.yes_no()?,
            "fsync.warningthresholdms" => {
                c.fsync_warning_threshold_ms = v.decoded(0, i64::MAX)? as u64
            }
            "4lw.commands.whitelist" => {
                let (list, unknown) = FourLetterWhitelist::parse(v.value);
                for word in unknown {
                    self.warnings
                        .push(v.warn(format!("'{word}' is not a four-letter word command")));
                }
                c.four_letter_words = list;
            }
            "extendedTypesEnabled" => c.extended_types_enabled = v.true_false()?,
            "DigestAuthenticationProvider.superDigest" => c.super_digest = Some(v.super_digest()?),
            "DigestAuthenticationProvider.enabled" => c.digest_auth_enabled = v.true_false()?,
            "skipACL" => c.skip_acl = v.yes_no()?,
            "leaderServes" => c.leader_serves = v.yes_no()?,
            "admin.enableServer" => c.admin_enable_server = v.true_false()?,
            "admin.serverAddress" => c.admin_server_address = v.ip()?,
            "admin.serverPort" => c.admin_server_port = v.decoded(1, 65535)? as u16,
            other => unreachable!("modelled key {other} has no parser"),
        }
        Ok(())
    }
}

fn check_type(v: &Val, ty: ValueType) -> Result<(), ConfigError> {
    match ty {
        ValueType::Bool => v.true_false().map(drop),
        ValueType::Int => v.int(INT_MIN, INT_MAX).map(drop),
        ValueType::Long => v.int(i64::MIN, i64::MAX).map(drop),
        ValueType::Text => Ok(()),
    }
}

/// One setting being read, with what is needed to blame it.
struct Val<'a> {
    file: &'a Path,
    line: u32,
    key: &'a str,
    value: &'a str,
}

impl Val<'_> {
    fn err(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::key(self.file, Some(self.line), self.key, message)
    }

    fn warn(&self, message: impl Into<String>) -> ConfigWarning {
        ConfigWarning::new(self.file, Some(self.line), Some(self.key), message)
    }

    fn in_range(&self, parsed: Result<i64, ()>, min: i64, max: i64) -> Result<i64, ConfigError> {
        let n = parsed.map_err(|_| self.err(format!("'{}' is not a whole number", self.value)))?;
        if n < min || n > max {
            return Err(self.err(format!("{n} is out of range ({min} to {max})")));
        }
        Ok(n)
    }

    /// A decimal number, as `Integer.parseInt`/`Long.parseLong` read it.
    fn int(&self, min: i64, max: i64) -> Result<i64, ConfigError> {
        self.in_range(keys::parse_java_int(self.value), min, max)
    }

    /// A number as `Integer.getInteger` reads a system property.
    fn decoded(&self, min: i64, max: i64) -> Result<i64, ConfigError> {
        self.in_range(keys::parse_java_decode(self.value), min, max)
    }

    /// A port where 0 means "not set", as ZooKeeper reads `clientPort`.
    fn port(&self) -> Result<Option<u16>, ConfigError> {
        let n = self.int(0, 65535)?;
        Ok((n > 0).then_some(n as u16))
    }

    /// A session timeout, where -1 means "the default".
    fn timeout(&self) -> Result<Option<u32>, ConfigError> {
        let n = self.int(-1, INT_MAX)?;
        Ok((n >= 0).then_some(n as u32))
    }

    fn true_false(&self) -> Result<bool, ConfigError> {
        keys::parse_true_false(self.value)
            .ok_or_else(|| self.err(format!("'{}' is not true or false", self.value)))
    }

    fn yes_no(&self) -> Result<bool, ConfigError> {
        keys::parse_yes_no(self.value)
            .ok_or_else(|| self.err(format!("'{}' is not yes or no", self.value)))
    }

    fn ip(&self) -> Result<IpAddr, ConfigError> {
        validate::resolve_host(self.value).map_err(|m| self.err(m))
    }

    fn path(&self) -> Result<PathBuf, ConfigError> {
        if self.value.is_empty() {
            return Err(self.err("empty; a directory or file path is required"));
        }
        Ok(PathBuf::from(self.value))
    }

    /// `user:base64(digest)`, as DigestAuthenticationProvider generates.
    fn super_digest(&self) -> Result<String, ConfigError> {
        let ok = self.value.split_once(':').is_some_and(|(user, digest)| {
            !user.is_empty()
                && base64::engine::general_purpose::STANDARD
                    .decode(digest)
                    .is_ok_and(|d| !d.is_empty())
        });
        if !ok {
            return Err(self.err(
                "expected <user>:<base64 digest>, as DigestAuthenticationProvider prints it",
            ));
        }
        Ok(self.value.to_string())
    }
}
