//! zoo.cfg and myid: one type that parses, validates and renders ZooKeeper
//! 3.8's server configuration, for the daemon and for zkctl alike.
//!
//! [`ZooCfg::from_file`] reads a zoo.cfg exactly as ZooKeeper's
//! `QuorumPeerConfig` would accept it (Java properties syntax, the same
//! defaults, the same refusals), and reports anything doubtful as
//! [`ConfigWarning`]s rather than logging, so the caller decides where they go.
//! [`ZooCfg::render`] writes a canonical zoo.cfg that reads back to the same
//! value. [`read_myid`]/[`write_myid`] handle the server id file, and
//! [`Loaded::check_myid`] applies the rules that need it.
//!
//! Where ZooKeeper silently ignores a bad value of a system-property setting
//! (e.g. `snapCount=lots`), zkd refuses it instead: a typo should not quietly
//! become a default. Everything else ZooKeeper accepts, zkd accepts.
//!
//! Module map: `props` (the properties syntax), `keys` (which keys exist and
//! how values are spelt), `server` (`server.N` lines), `fourlw` (the 4lw
//! whitelist), `parse` (file to `ZooCfg`), `validate` (rules across keys),
//! `render`, `myid`, `error`.

mod error;
mod fourlw;
mod keys;
mod myid;
mod parse;
mod props;
mod render;
mod server;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

pub use error::{ConfigError, ConfigWarning};
pub use fourlw::{FourLetterWhitelist, ALWAYS_ALLOWED_WORD, KNOWN_FOUR_LETTER_WORDS};
pub use myid::{read_myid, write_myid};
pub use parse::Loaded;
pub use server::{PeerAddr, PeerRole, ServerSpec};

/// ZooKeeper's default `tickTime` (ms) when the key is absent.
pub const DEFAULT_TICK_TIME_MS: u32 = 3000;
/// Default `jute.maxbuffer`: the largest packet or znode payload, in bytes.
pub const DEFAULT_JUTE_MAX_BUFFER: u32 = 0xfffff;
/// The smallest `autopurge.snapRetainCount` ZooKeeper accepts.
pub const MIN_SNAP_RETAIN_COUNT: u32 = 3;
/// The highest server id usable with `extendedTypesEnabled` (TTL nodes).
pub const MAX_EXTENDED_SERVER_ID: u64 = 254;

/// A ZooKeeper 3.8 server configuration (zoo.cfg).
///
/// Fields hold what the file says, with ZooKeeper's defaults for absent keys;
/// derived values (session timeout bounds, the listening address, the log
/// directory) come from the methods. Limits that ZooKeeper stores as 0 for
/// "not set" (`initLimit`, `syncLimit`) keep that convention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZooCfg {
    /// `tickTime`: the basic time unit, ms. Default 3000.
    pub tick_time_ms: u32,
    /// `initLimit`: ticks a follower may take to connect and sync. 0 = not
    /// set, which is an error in quorum mode (ZooKeeper has no default).
    pub init_limit: u32,
    /// `syncLimit`: ticks a follower may lag. 0 = not set, as `init_limit`.
    pub sync_limit: u32,
    /// `connectToLearnerMasterLimit`: ticks to connect to the leader after an
    /// election. 0 = same as `init_limit`.
    pub connect_to_learner_master_limit: u32,
    /// `dataDir`: snapshots, myid, and the log unless `dataLogDir` is set.
    pub data_dir: PathBuf,
    /// `dataLogDir`: the transaction log directory.
    pub data_log_dir: Option<PathBuf>,
    /// `clientPort`; `clientPort=0` reads as not set, as in ZooKeeper.
    pub client_port: Option<u16>,
    /// `clientPortAddress` (IP, or a host name resolved when read). Needs
    /// `client_port`.
    pub client_port_address: Option<IpAddr>,
    /// `secureClientPort` (TLS).
    pub secure_client_port: Option<u16>,
    /// `secureClientPortAddress`. Needs `secure_client_port`.
    pub secure_client_port_address: Option<IpAddr>,
    /// `clientPortListenBacklog`: listen(2) backlog; `None` = OS default.
    pub client_port_listen_backlog: Option<u32>,
    /// `observerMasterPort`: port on which followers also serve observers.
    pub observer_master_port: Option<u16>,
    /// `maxClientCnxns`: connections per client IP. Default 60; 0 = unlimited.
    pub max_client_cnxns: u32,
    /// `maxCnxns`: connections in total per listener. Default 0 = unlimited.
    pub max_cnxns: u32,
    /// `minSessionTimeout`, ms; see [`ZooCfg::min_session_timeout`].
    pub min_session_timeout_ms: Option<u32>,
    /// `maxSessionTimeout`, ms; see [`ZooCfg::max_session_timeout`].
    pub max_session_timeout_ms: Option<u32>,
    /// `localSessionsEnabled`. Default false.
    pub local_sessions_enabled: bool,
    /// `localSessionsUpgradingEnabled`. Default false.
    pub local_sessions_upgrading_enabled: bool,
    /// `globalOutstandingLimit`: requests queued before throttling. Default 1000.
    pub global_outstanding_limit: u32,
    /// `snapCount`: transactions between snapshots (randomised in
    /// [n/2+1, n]). Default 100000; values below 2 read as 2.
    pub snap_count: u64,
    /// `snapSizeLimitInKb`: log bytes between snapshots. Default 4 GiB; 0 = off.
    pub snap_size_limit_kb: u64,
    /// `txnLogSizeLimitInKb`: roll the log at this size. Default 0 = off.
    pub txn_log_size_limit_kb: u64,
    /// `preAllocSize`: log file growth step, KiB. Default 65536.
    pub pre_alloc_size_kb: u64,
    /// `forceSync` (yes/no): fsync the log before acknowledging. Default yes.
    pub force_sync: bool,
    /// `fsync.warningthresholdms`: warn when an fsync takes longer. Default 1000.
    pub fsync_warning_threshold_ms: u64,
    /// `autopurge.snapRetainCount`. Default 3, and never below 3.
    pub autopurge_snap_retain_count: u32,
    /// `autopurge.purgeInterval`, hours. Default 0 = no automatic purge.
    pub autopurge_purge_interval_hours: u32,
    /// `jute.maxbuffer`, bytes. Default 0xfffff.
    pub jute_max_buffer: u32,
    /// `4lw.commands.whitelist`. Default: only `srvr`.
    pub four_letter_words: FourLetterWhitelist,
    /// `extendedTypesEnabled`: TTL nodes. Default false.
    pub extended_types_enabled: bool,
    /// `znode.container.checkIntervalMs`. Default 60000.
    pub container_check_interval_ms: u64,
    /// `znode.container.maxPerMinute`: deletions per minute. Default 10000.
    pub container_max_per_minute: u32,
    /// `znode.container.maxNeverUsedIntervalMs`: reap never-used containers
    /// after this long. Default 0 = never.
    pub container_max_never_used_interval_ms: u64,
    /// `DigestAuthenticationProvider.superDigest`: `super:<base64 digest>`.
    pub super_digest: Option<String>,
    /// `DigestAuthenticationProvider.enabled`. Default true.
    pub digest_auth_enabled: bool,
    /// `skipACL` (yes/no). Default no.
    pub skip_acl: bool,
    /// `admin.enableServer`: the HTTP AdminServer. Default true.
    pub admin_enable_server: bool,
    /// `admin.serverAddress`. Default 0.0.0.0.
    pub admin_server_address: IpAddr,
    /// `admin.serverPort`. Default 8080.
    pub admin_server_port: u16,
    /// `server.N` lines, by N (participants and observers).
    pub servers: BTreeMap<u64, ServerSpec>,
    /// `peerType`: this server's role; the server list wins if they differ.
    pub peer_type: PeerRole,
    /// `standaloneEnabled`. Default true.
    pub standalone_enabled: bool,
    /// `reconfigEnabled`. Default false.
    pub reconfig_enabled: bool,
    /// `quorumListenOnAllIPs`. Default false.
    pub quorum_listen_on_all_ips: bool,
    /// `multiAddress.enabled`: allows `|` in server lines. Default false.
    pub multi_address_enabled: bool,
    /// `leaderServes` (yes/no): the leader accepts clients. Default yes.
    pub leader_serves: bool,
    /// `syncEnabled`: observers persist transactions. Default true.
    pub sync_enabled: bool,
    /// `dynamicConfigFile`: where `server.N` lines live instead (3.5+
    /// reconfig). [`ZooCfg::from_file`] reads it into `servers`.
    pub dynamic_config_file: Option<PathBuf>,
    /// Every other key, known or unknown, in file order, for rendering.
    /// Never holds a key that a field above models.
    pub extra: Vec<(String, String)>,
}

impl ZooCfg {
    /// ZooKeeper's defaults for every key, with `data_dir` and no client port.
    pub fn with_defaults(data_dir: PathBuf) -> ZooCfg {
        ZooCfg {
            tick_time_ms: DEFAULT_TICK_TIME_MS,
            init_limit: 0,
            sync_limit: 0,
            connect_to_learner_master_limit: 0,
            data_dir,
            data_log_dir: None,
            client_port: None,
            client_port_address: None,
            secure_client_port: None,
            secure_client_port_address: None,
            client_port_listen_backlog: None,
            observer_master_port: None,
            max_client_cnxns: 60,
            max_cnxns: 0,
            min_session_timeout_ms: None,
            max_session_timeout_ms: None,
            local_sessions_enabled: false,
            local_sessions_upgrading_enabled: false,
            global_outstanding_limit: 1000,
            snap_count: 100_000,
            snap_size_limit_kb: 4_194_304,
            txn_log_size_limit_kb: 0,
            pre_alloc_size_kb: 65_536,
            force_sync: true,
            fsync_warning_threshold_ms: 1000,
            autopurge_snap_retain_count: MIN_SNAP_RETAIN_COUNT,
            autopurge_purge_interval_hours: 0,
            jute_max_buffer: DEFAULT_JUTE_MAX_BUFFER,
            four_letter_words: FourLetterWhitelist::default(),
            extended_types_enabled: false,
            container_check_interval_ms: 60_000,
            container_max_per_minute: 10_000,
            container_max_never_used_interval_ms: 0,
            super_digest: None,
            digest_auth_enabled: true,
            skip_acl: false,
            admin_enable_server: true,
            admin_server_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            admin_server_port: 8080,
            servers: BTreeMap::new(),
            peer_type: PeerRole::Participant,
            standalone_enabled: true,
            reconfig_enabled: false,
            quorum_listen_on_all_ips: false,
            multi_address_enabled: false,
            leader_serves: true,
            sync_enabled: true,
            dynamic_config_file: None,
            extra: Vec::new(),
        }
    }

    /// What `zkd` runs with when given no configuration: a standalone server
    /// on 127.0.0.1:2181, ZooKeeper's defaults otherwise.
    pub fn standalone_default(data_dir: PathBuf) -> ZooCfg {
        ZooCfg {
            client_port: Some(2181),
            client_port_address: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            ..ZooCfg::with_defaults(data_dir)
        }
    }

    /// Reads and checks a zoo.cfg, and the dynamic config file it names.
    pub fn from_file(path: &Path) -> Result<Loaded, ConfigError> {
        parse::load_file(path)
    }

    /// Parses zoo.cfg text; `source` names it in errors and warnings. A
    /// `dynamicConfigFile` is recorded but not read (use `from_file`).
    pub fn parse_str(text: &str, source: &Path) -> Result<Loaded, ConfigError> {
        parse::parse_text(text, source)
    }

    /// A canonical zoo.cfg: settings that differ from the defaults (tickTime
    /// and dataDir always), then server lines, then `extra` in order.
    /// Server lines are left out when `dynamic_config_file` is set; see
    /// [`ZooCfg::render_dynamic`].
    pub fn render(&self) -> String {
        render::render(self)
    }

    /// The `server.N` lines alone, as a dynamic config file holds them.
    pub fn render_dynamic(&self) -> String {
        render::render_servers(self)
    }

    /// Checks a configuration built in code (as zkctl does) by the same rules
    /// as a file: renders it, reads it back under the name `source`, and
    /// fails if anything is refused or would read back differently.
    pub fn validate(&self, source: &Path) -> Result<Vec<ConfigWarning>, ConfigError> {
        validate::validate_built(self, source)
    }

    /// The myid rules (see [`Loaded::check_myid`]) for a configuration built
    /// in code; `source` names the configuration in errors.
    pub fn check_myid(
        &self,
        source: &Path,
        myid: Option<u64>,
    ) -> Result<Vec<ConfigWarning>, ConfigError> {
        validate::check_myid(self, &validate::Locations::none(source), myid)
    }

    /// The smallest session timeout a client may negotiate, ms: the
    /// configured value, else 2 ticks. Never above `i32::MAX`, the most a
    /// timeout can be on the wire.
    pub fn min_session_timeout(&self) -> u32 {
        self.min_session_timeout_ms
            .unwrap_or_else(|| ticks(self.tick_time_ms, 2))
    }

    /// The largest session timeout a client may negotiate, ms: the
    /// configured value, else 20 ticks. Never above `i32::MAX`.
    pub fn max_session_timeout(&self) -> u32 {
        self.max_session_timeout_ms
            .unwrap_or_else(|| ticks(self.tick_time_ms, 20))
    }

    /// `clientPortAddress:clientPort` (all interfaces when no address is
    /// given), or `None` without a client port. A server line's `;port` part
    /// can override this: see [`ZooCfg::client_listen_addr`].
    pub fn client_addr(&self) -> Option<SocketAddr> {
        let ip = self
            .client_port_address
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        self.client_port.map(|port| SocketAddr::new(ip, port))
    }

    /// `secureClientPortAddress:secureClientPort`, like [`ZooCfg::client_addr`].
    pub fn secure_client_addr(&self) -> Option<SocketAddr> {
        let ip = self
            .secure_client_port_address
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        self.secure_client_port
            .map(|port| SocketAddr::new(ip, port))
    }

    /// Where this server (`myid`) accepts plain client connections. As in
    /// ZooKeeper, the client address on this server's `server.N` line wins
    /// over `clientPort`/`clientPortAddress`; its host, if a name, is
    /// resolved here, so this can fail like any name lookup.
    pub fn client_listen_addr(&self, myid: Option<u64>) -> std::io::Result<Option<SocketAddr>> {
        validate::client_listen_addr(self, myid)
    }

    /// Whether this runs as a single standalone server, by ZooKeeper's rule:
    /// `standaloneEnabled` and at most one participant in the server list.
    pub fn is_standalone(&self) -> bool {
        self.standalone_enabled && self.participants().count() <= 1
    }

    /// The voting members.
    pub fn participants(&self) -> impl Iterator<Item = &ServerSpec> {
        self.servers
            .values()
            .filter(|s| s.role == PeerRole::Participant)
    }

    /// The non-voting members.
    pub fn observers(&self) -> impl Iterator<Item = &ServerSpec> {
        self.servers
            .values()
            .filter(|s| s.role == PeerRole::Observer)
    }

    /// The transaction log directory: `dataLogDir`, else `dataDir`.
    pub fn data_log_dir(&self) -> &Path {
        self.data_log_dir.as_deref().unwrap_or(&self.data_dir)
    }

    /// `connectToLearnerMasterLimit`, defaulting to `initLimit`.
    pub fn connect_to_learner_master_limit(&self) -> u32 {
        match self.connect_to_learner_master_limit {
            0 => self.init_limit,
            n => n,
        }
    }

    /// The last value of a key kept in `extra`, e.g. `metricsProvider.httpPort`.
    pub fn extra_value(&self, key: &str) -> Option<&str> {
        self.extra
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A Java system property set through zoo.cfg: 3.8 turns an unknown
    /// key `k` into the property `zookeeper.k`, so both `cnxTimeout` and
    /// `zookeeper.cnxTimeout` reach `zookeeper.cnxTimeout`. `name` is
    /// given without the prefix.
    pub fn system_property(&self, name: &str) -> Option<&str> {
        self.extra
            .iter()
            .rev()
            .find(|(k, _)| k == name || k.strip_prefix("zookeeper.") == Some(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `n` ticks in ms, capped at `i32::MAX` (parsed values never exceed it).
fn ticks(tick_ms: u32, n: u32) -> u32 {
    tick_ms.saturating_mul(n).min(i32::MAX as u32)
}
