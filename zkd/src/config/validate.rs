//! Rules across settings, ZooKeeper 3.8's (QuorumPeerConfig's
//! `parseProperties`, `parseDynamicConfig`, `setupClientPort`,
//! `checkValidity`) plus a few refusals of configurations that could never
//! serve (no client port at all, two servers on one address).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use super::error::{ConfigError, ConfigWarning};
use super::keys;
use super::server::PeerRole;
use super::{ZooCfg, MAX_EXTENDED_SERVER_ID};

/// Where each setting was read (file and line), so that rules across
/// settings can still blame a line.
#[derive(Debug, Clone)]
pub(crate) struct Locations {
    source: PathBuf,
    at: HashMap<String, (PathBuf, u32)>,
}

impl Locations {
    /// No known lines: errors name only `source`.
    pub(crate) fn none(source: &Path) -> Locations {
        Locations {
            source: source.to_path_buf(),
            at: HashMap::new(),
        }
    }

    pub(crate) fn record(&mut self, key: &str, file: &Path, line: u32) {
        self.at.insert(key.to_string(), (file.to_path_buf(), line));
    }

    pub(crate) fn get(&self, key: &str) -> Option<(&Path, u32)> {
        self.at.get(key).map(|(f, l)| (f.as_path(), *l))
    }

    fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        match self.get(key) {
            Some((file, line)) => ConfigError::key(file, Some(line), key, message),
            None => ConfigError::key(&self.source, None, key, message),
        }
    }

    fn warn(&self, key: &str, message: impl Into<String>) -> ConfigWarning {
        match self.get(key) {
            Some((file, line)) => ConfigWarning::new(file, Some(line), Some(key), message),
            None => ConfigWarning::new(&self.source, None, Some(key), message),
        }
    }
}

/// An IP literal (IPv6 with or without brackets) or a host name, resolved
/// now as ZooKeeper's `InetAddress.getByName` does, IPv4 first.
pub(crate) fn resolve_host(host: &str) -> Result<IpAddr, String> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ip);
    }
    if bare.is_empty() || bare.contains(char::is_whitespace) {
        return Err(format!("'{host}' is not an IP address or host name"));
    }
    let addrs: Vec<SocketAddr> = (bare, 0)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve host name '{bare}': {e}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .map(|a| a.ip())
        .ok_or_else(|| format!("host name '{bare}' resolves to no address"))
}

fn extra_flag(cfg: &ZooCfg, key: &str) -> bool {
    cfg.extra_value(key)
        .and_then(keys::parse_true_false)
        .unwrap_or(false)
}

/// The rules that need only the configuration.
pub(crate) fn check(cfg: &ZooCfg, at: &Locations) -> Result<Vec<ConfigWarning>, ConfigError> {
    let mut warnings = Vec::new();
    for (key, dir) in [
        ("dataDir", Some(&cfg.data_dir)),
        ("dataLogDir", cfg.data_log_dir.as_ref()),
    ] {
        if dir.is_some_and(|d| d.is_relative()) {
            warnings.push(at.warn(
                key,
                "relative path; it depends on the daemon's working directory",
            ));
        }
    }
    if cfg.client_port_address.is_some() && cfg.client_port.is_none() {
        return Err(at.err("clientPortAddress", "set, but clientPort is not"));
    }
    if cfg.secure_client_port_address.is_some() && cfg.secure_client_port.is_none() {
        return Err(at.err(
            "secureClientPortAddress",
            "set, but secureClientPort is not",
        ));
    }
    let (min, max) = (cfg.min_session_timeout(), cfg.max_session_timeout());
    if min > max {
        let key = if cfg.min_session_timeout_ms.is_some() {
            "minSessionTimeout"
        } else {
            "maxSessionTimeout"
        };
        return Err(at.err(
            key,
            format!(
                "minSessionTimeout ({min} ms) must not be larger than maxSessionTimeout ({max} ms)"
            ),
        ));
    }
    check_quorum_sasl(cfg, at)?;
    check_servers(cfg, at, &mut warnings)?;
    if !cfg.is_standalone() {
        for (key, value) in [("initLimit", cfg.init_limit), ("syncLimit", cfg.sync_limit)] {
            if value == 0 {
                return Err(at.err(
                    key,
                    "not set; it is required when server.N lines form an ensemble",
                ));
            }
        }
    } else if cfg.client_port.is_none()
        && cfg.secure_client_port.is_none()
        && cfg.servers.values().all(|s| s.client_addr.is_none())
    {
        return Err(at.err(
            "clientPort",
            "not set, nor secureClientPort: clients could not connect",
        ));
    }
    Ok(warnings)
}

fn check_quorum_sasl(cfg: &ZooCfg, at: &Locations) -> Result<(), ConfigError> {
    let enabled = extra_flag(cfg, "quorum.auth.enableSasl");
    let server_required = extra_flag(cfg, "quorum.auth.serverRequireSasl");
    let learner_required = extra_flag(cfg, "quorum.auth.learnerRequireSasl");
    if !enabled && server_required {
        return Err(at.err(
            "quorum.auth.serverRequireSasl",
            "true, but quorum.auth.enableSasl is not",
        ));
    }
    if !enabled && learner_required {
        return Err(at.err(
            "quorum.auth.learnerRequireSasl",
            "true, but quorum.auth.enableSasl is not",
        ));
    }
    if !learner_required && server_required {
        return Err(at.err(
            "quorum.auth.serverRequireSasl",
            "true, but quorum.auth.learnerRequireSasl is not (this server could not join)",
        ));
    }
    Ok(())
}

fn check_servers(
    cfg: &ZooCfg,
    at: &Locations,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<(), ConfigError> {
    // Which server (and which of its ports) already claimed an address.
    let mut claimed: HashMap<(String, u16), String> = HashMap::new();
    for s in cfg.servers.values() {
        let key = format!("server.{}", s.id);
        if !s.alt_addrs.is_empty() && !cfg.multi_address_enabled {
            return Err(at.err(
                &key,
                "several addresses given, but multiAddress.enabled is not true",
            ));
        }
        let mut uses: Vec<(String, u16, &str)> = Vec::new();
        for a in s.addrs() {
            uses.push((a.host.clone(), a.quorum_port, "quorum port"));
            uses.push((a.host, a.election_port, "election port"));
        }
        if let Some((Some(host), port)) = &s.client_addr {
            let wildcard = host.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
            if !wildcard {
                uses.push((host.clone(), *port, "client port"));
            }
        }
        for (host, port, what) in uses {
            let id = (host.to_ascii_lowercase(), port);
            let owner = format!("{what} of {key}");
            if let Some(first) = claimed.get(&id) {
                if *first != owner {
                    return Err(at.err(
                        &key,
                        format!("{host}:{port} ({owner}) is already the {first}"),
                    ));
                }
            }
            claimed.insert(id, owner);
        }
    }
    let participants = cfg.participants().count();
    let first_observer = cfg.observers().next().map(|s| format!("server.{}", s.id));
    if participants == 0 {
        if !cfg.standalone_enabled {
            return Err(at.err(
                "standaloneEnabled",
                "false, which needs at least one participant server.N line",
            ));
        }
        if let Some(key) = first_observer {
            return Err(at.err(
                &key,
                "observers need participants, and no server.N line is a participant",
            ));
        }
    } else if participants == 1 && cfg.standalone_enabled {
        let only = cfg
            .participants()
            .next()
            .map(|s| format!("server.{}", s.id))
            .unwrap_or_default();
        if let Some(key) = first_observer {
            return Err(at.err(
                &key,
                "observers need a quorum, but one participant with standaloneEnabled=true runs standalone",
            ));
        }
        warnings.push(at.warn(
            &only,
            "the only server line; running standalone and ignoring it, as ZooKeeper does",
        ));
    } else if participants <= 2 {
        warnings.push(at.warn(
            "server.N",
            "fewer than 3 participants: no server failure will be tolerated",
        ));
    } else if participants.is_multiple_of(2) {
        warnings.push(at.warn(
            "server.N",
            format!(
                "{participants} participants tolerate no more failures than {}",
                participants - 1
            ),
        ));
    }
    Ok(())
}

/// The rules that need this server's id.
pub(crate) fn check_myid(
    cfg: &ZooCfg,
    at: &Locations,
    myid: Option<u64>,
) -> Result<Vec<ConfigWarning>, ConfigError> {
    let myid_file = cfg.data_dir.join("myid");
    let mut warnings = Vec::new();
    if !cfg.is_standalone() {
        let id = myid.ok_or_else(|| {
            ConfigError::file(
                &myid_file,
                "missing; with server.N lines it must say which server this is",
            )
        })?;
        if !cfg.servers.contains_key(&id) {
            let ids: Vec<String> = cfg.servers.keys().map(u64::to_string).collect();
            return Err(ConfigError::file(
                &myid_file,
                format!(
                    "server id {id} has no server.{id} line (the ids are {})",
                    ids.join(", ")
                ),
            ));
        }
        if cfg.extended_types_enabled && id > MAX_EXTENDED_SERVER_ID {
            return Err(ConfigError::file(
                &myid_file,
                format!("server id {id} is above {MAX_EXTENDED_SERVER_ID}, the limit with extendedTypesEnabled=true"),
            ));
        }
    }
    if let Some(spec) = myid.and_then(|id| cfg.servers.get(&id)) {
        let key = format!("server.{}", spec.id);
        if let (Some(port), Some((host, line_port))) = (cfg.client_port, &spec.client_addr) {
            let line_ip = match host {
                Some(h) => resolve_host(h).map_err(|m| at.err(&key, m))?,
                None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            };
            let agrees = match cfg.client_port_address {
                Some(ip) if !ip.is_unspecified() => ip == line_ip && port == *line_port,
                _ => port == *line_port,
            };
            if !agrees {
                let keys_addr = cfg.client_addr().map(|a| a.to_string()).unwrap_or_default();
                return Err(at.err(
                    "clientPort",
                    format!(
                        "{keys_addr} differs from the client address {} on {key}",
                        SocketAddr::new(line_ip, *line_port)
                    ),
                ));
            }
        }
    }
    let listed_role = myid
        .and_then(|id| cfg.servers.get(&id))
        .map_or(PeerRole::default(), |s| s.role);
    if cfg.peer_type != listed_role {
        warnings.push(at.warn(
            "peerType",
            format!(
                "{}, but the server list makes this server {}; the server list wins",
                cfg.peer_type,
                match listed_role {
                    PeerRole::Participant => "a participant",
                    PeerRole::Observer => "an observer",
                }
            ),
        ));
    }
    if listen_addr(cfg, at, myid)?.is_none() && cfg.secure_client_port.is_none() {
        return Err(at.err(
            "clientPort",
            "not set, nor secureClientPort, nor a ;port on this server's server.N line: clients could not connect",
        ));
    }
    Ok(warnings)
}

pub(crate) fn listen_addr(
    cfg: &ZooCfg,
    at: &Locations,
    myid: Option<u64>,
) -> Result<Option<SocketAddr>, ConfigError> {
    if let Some(spec) = myid.and_then(|id| cfg.servers.get(&id)) {
        if let Some((host, port)) = &spec.client_addr {
            let ip = match host {
                Some(h) => {
                    resolve_host(h).map_err(|m| at.err(&format!("server.{}", spec.id), m))?
                }
                None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            };
            return Ok(Some(SocketAddr::new(ip, *port)));
        }
    }
    Ok(cfg.client_addr())
}

pub(crate) fn client_listen_addr(
    cfg: &ZooCfg,
    myid: Option<u64>,
) -> io::Result<Option<SocketAddr>> {
    listen_addr(cfg, &Locations::none(Path::new("zoo.cfg")), myid)
        .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e.message))
}

/// Checks a configuration built in code by reading its rendering back.
pub(crate) fn validate_built(
    cfg: &ZooCfg,
    source: &Path,
) -> Result<Vec<ConfigWarning>, ConfigError> {
    let text = super::render::render(cfg);
    let dynamic_text = super::render::render_servers(cfg);
    let dynamic = cfg
        .dynamic_config_file
        .as_deref()
        .map(|path| (dynamic_text.as_str(), path));
    let loaded = super::parse::parse_with_dynamic(&text, source, dynamic)?;
    if loaded.cfg != *cfg {
        let (want, got) = (format!("{cfg:#?}"), format!("{:#?}", loaded.cfg));
        let diff = want
            .lines()
            .zip(got.lines())
            .find(|(a, b)| a != b)
            .map(|(a, b)| {
                let (a, b) = (
                    a.trim().trim_end_matches(','),
                    b.trim().trim_end_matches(','),
                );
                match (a.split_once(": "), b.split_once(": ")) {
                    (Some((field, a)), Some((same, b))) if field == same => {
                        format!("{field}: {a} reads back as {b}")
                    }
                    _ => format!("{a} reads back as {b}"),
                }
            })
            .unwrap_or_default();
        return Err(ConfigError::file(
            source,
            format!("does not read back as built ({diff}); a value is out of ZooKeeper's range or a key in extra is modelled"),
        ));
    }
    Ok(loaded.warnings)
}
