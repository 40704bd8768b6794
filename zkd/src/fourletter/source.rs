//! What the words need from the server: the [`Source`] trait the shell
//! implements, and the plain data it returns. Nothing here does I/O; see
//! [`super::host`] for helpers that gather the host-level figures.

use super::conn_stats::ConnStats;
use super::stats::{BufferSizes, ServerStats};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The server's role while it serves clients (3.8's `getState()`).
#[derive(Debug, Clone, PartialEq)]
pub enum ServerRole {
    Standalone,
    /// A quorum member cut off from its quorum that serves reads only
    /// (`readonlymode.enabled`).
    ReadOnly,
    Follower(QuorumFigures),
    Observer(QuorumFigures),
    Leader(QuorumFigures, LeaderFigures),
}

impl ServerRole {
    /// The word `srvr` prints after `Mode:` and `mntr` after `zk_server_state`.
    pub fn mode(&self) -> &'static str {
        match self {
            ServerRole::Standalone => "standalone",
            ServerRole::ReadOnly => "read-only",
            ServerRole::Follower(_) => "follower",
            ServerRole::Observer(_) => "observer",
            ServerRole::Leader(..) => "leader",
        }
    }

    pub(crate) fn quorum(&self) -> Option<&QuorumFigures> {
        match self {
            ServerRole::Follower(q) | ServerRole::Observer(q) | ServerRole::Leader(q, _) => Some(q),
            ServerRole::Standalone | ServerRole::ReadOnly => None,
        }
    }
}

/// Figures of a server in an ensemble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumFigures {
    /// 3.8's `QuorumPeer.getDetailedPeerState()`: the peer state, then the
    /// ZAB phase unless electing, then the sync mode if syncing, joined by
    /// ` - `, lower case: `following - broadcast`, `leading - broadcast`,
    /// `following - synchronization - diff`.
    pub peer_state: String,
    /// Voting members in the current configuration.
    pub quorum_size: u64,
    /// Observers synced through this server; `None` where 3.8 has no value
    /// (a follower that is not an observer master: the line is left out).
    pub synced_observers: Option<u64>,
}

/// Figures only a leader has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderFigures {
    pub learners: u64,
    pub synced_followers: u64,
    pub synced_non_voting_followers: u64,
    pub pending_syncs: u64,
    /// Milliseconds since this server became leader.
    pub leader_uptime_ms: u64,
    /// Serialized proposal sizes; `srst` resets them
    /// ([`Source::reset_proposal_stats`]).
    pub proposal_sizes: BufferSizes,
}

/// The scalar figures `srvr` and `mntr` print.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Figures {
    /// zxid of the last transaction applied to the tree.
    pub last_zxid: i64,
    /// Requests received and not yet answered, all connections together.
    pub outstanding_requests: u64,
    /// Open client connections, the one asking for this answer included,
    /// as 3.8 counts them.
    pub alive_connections: u64,
    /// Znodes, the root and `/zookeeper` subtree included.
    pub node_count: u64,
    /// Sum of path and data lengths (3.8's `approximateDataSize`).
    pub approximate_data_size: u64,
    /// Watch registrations, data and child watches together.
    pub watch_count: u64,
    pub ephemerals_count: u64,
    /// Sessions in the (global) session table.
    pub global_sessions: u64,
    /// Local sessions (`localSessionsEnabled`); 0 without them.
    pub local_sessions: u64,
    /// Milliseconds since the server started serving.
    pub uptime_ms: u64,
    /// Open file descriptors of the process; -1 if unknown.
    pub open_file_descriptors: i64,
    /// The soft `RLIMIT_NOFILE`; -1 if unknown.
    pub max_file_descriptors: i64,
    /// Chance that a new connection is dropped by connection throttling
    /// (3.8's `BlueThrottle`); 0.0 when not throttling.
    pub connection_drop_probability: f64,
    /// TLS handshakes in progress.
    pub outstanding_tls_handshakes: u64,
}

/// NIO interest-op bits as `cons` prints them (`[1]` reading, `[5]`
/// reading and writing, `[0]` neither, as for the four-letter connection).
pub mod interest {
    pub const READ: u32 = 1;
    pub const WRITE: u32 = 4;
}

/// One client connection, for `cons` and `stat`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnInfo {
    pub remote: SocketAddr,
    /// [`interest`] bits: what the server is waiting for on the socket.
    pub interest_ops: u32,
    /// Requests received and not yet answered (`queued=`).
    pub outstanding_requests: u64,
    pub stats: ConnStats,
    /// The session, once the handshake has created or resumed one.
    pub session: Option<ConnSession>,
}

/// The session half of [`ConnInfo`]; 3.8 prints it only for session id != 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnSession {
    pub session_id: i64,
    /// When the connection was accepted, ms since the Unix epoch.
    pub established_ms: i64,
    /// Negotiated session timeout, ms.
    pub timeout_ms: i32,
}

/// A group of sessions or connections that expire in the same tick
/// (3.8's `ExpiryQueue` buckets). Build them with [`bucket_by_expiry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryBucket<T> {
    /// Expiry time, ms since the Unix epoch.
    pub expires_at_ms: i64,
    pub items: Vec<T>,
}

/// What `dump` shows of the session tracker, which differs by role in 3.8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionDump {
    /// Standalone servers and leaders track expiry: sessions by expiry
    /// bucket, each session once. `local` holds the local sessions' buckets
    /// when `localSessionsEnabled` (leaders only).
    Expiry {
        local: Option<Vec<ExpiryBucket<i64>>>,
        sessions: Vec<ExpiryBucket<i64>>,
    },
    /// Followers and observers only know the global sessions and their
    /// timeouts (ms); `local` as above.
    Learner {
        local: Option<Vec<ExpiryBucket<i64>>>,
        sessions: Vec<(i64, i32)>,
    },
}

/// A connection as `dump` lists it: peer and session (0 before the handshake).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnRef {
    pub remote: SocketAddr,
    pub session_id: i64,
}

/// Groups items by expiry time rounded up to the next multiple of
/// `interval_ms`, as 3.8's `ExpiryQueue.roundToNextInterval` does (the tick
/// for sessions, 10 s for sessionless connections), buckets in time order.
pub fn bucket_by_expiry<T>(
    items: impl IntoIterator<Item = (i64, T)>,
    interval_ms: i64,
) -> Vec<ExpiryBucket<T>> {
    let interval = interval_ms.max(1);
    let mut buckets: std::collections::BTreeMap<i64, Vec<T>> = Default::default();
    for (expires_at_ms, item) in items {
        let rounded = (expires_at_ms.div_euclid(interval) + 1) * interval;
        buckets.entry(rounded).or_default().push(item);
    }
    buckets
        .into_iter()
        .map(|(expires_at_ms, items)| ExpiryBucket {
            expires_at_ms,
            items,
        })
        .collect()
}

/// Data-watch totals for `wchs`. 3.8's watch words see data watches
/// (getData/exists) only, not child watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WatchSummary {
    /// Connections holding at least one data watch.
    pub connections: u64,
    /// Paths with at least one data watch.
    pub paths: u64,
    /// (connection, path) registrations.
    pub watches: u64,
}

/// Sizes for `dirs` and `conf`, in bytes: the sum of the file lengths under
/// each directory, recursively (see [`super::host::dir_size`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirSizes {
    /// The transaction log directory.
    pub txn_log_dir: u64,
    /// The snapshot directory.
    pub snapshot_dir: u64,
}

/// What `conf` prints. Build it with [`ConfInfo::from_cfg`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfInfo {
    /// The port the client listener is bound to, if any.
    pub client_port: Option<u16>,
    pub secure_client_port: Option<u16>,
    /// Absolute path of the directory holding snapshots.
    pub snapshot_dir: PathBuf,
    /// Absolute path of the directory holding the transaction log.
    pub txn_log_dir: PathBuf,
    pub tick_time_ms: u32,
    /// Connections per client IP; 0 = unlimited.
    pub max_client_cnxns: u32,
    pub min_session_timeout_ms: u32,
    pub max_session_timeout_ms: u32,
    /// listen(2) backlog; `None` = the OS default (3.8 prints -1).
    pub client_port_listen_backlog: Option<u32>,
    /// `myid`; 3.8 prints 0 for a standalone server whatever myid says.
    pub server_id: u64,
    /// The ensemble part, for a quorum member.
    pub quorum: Option<QuorumConf>,
}

/// The ensemble part of `conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumConf {
    pub init_limit: u32,
    pub sync_limit: u32,
    /// This server's election ports (more than one with multi-address).
    pub election_ports: Vec<u16>,
    /// This server's quorum ports.
    pub quorum_ports: Vec<u16>,
    pub observer: bool,
    /// Every member, in server id order.
    pub members: Vec<Member>,
    /// Version of the dynamic configuration; 0 for a static one.
    pub config_version: i64,
}

/// One `server.N` entry as 3.8 prints it in `conf`'s membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: u64,
    /// (host, quorum port, election port) for each address, hosts as
    /// written in the configuration.
    pub addrs: Vec<(String, u16, u16)>,
    pub observer: bool,
    /// The client address given on the server line itself (`;[host:]port`,
    /// host `0.0.0.0` when only a port is given); `None` when the line has
    /// none, even if `clientPort` supplies one.
    pub client: Option<(String, u16)>,
}

/// The `java.*`, `os.*` and `user.*` values `envi` prints. Build it with
/// [`super::host::environment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub host_name: String,
    pub java_version: String,
    pub java_vendor: String,
    pub java_home: String,
    pub java_class_path: String,
    pub java_library_path: String,
    pub java_io_tmpdir: String,
    pub java_compiler: String,
    pub os_name: String,
    pub os_arch: String,
    pub os_version: String,
    pub user_name: String,
    pub user_home: String,
    pub user_dir: String,
    pub memory_free_mb: u64,
    pub memory_max_mb: u64,
    pub memory_total_mb: u64,
}

/// One entry of the tree's digest history for `hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZxidDigest {
    pub zxid: i64,
    pub digest: i64,
}

/// Quota figures of one top-level namespace, summed over the quotas set
/// below it (3.8's `QuotaMetricsUtils`). Limits are the hard limit when set,
/// else the soft one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaUsage {
    pub namespace: String,
    pub count_limit: i64,
    pub bytes_limit: i64,
    pub count_usage: i64,
    pub bytes_usage: i64,
}

/// Everything the four-letter words read from or do to the server.
///
/// The shell also has two duties the words cannot do for it: it lists the
/// connection asking the word among [`Source::connections`] (with
/// `interest_ops` 0 and one packet received, as 3.8 does), and it counts
/// that connection in [`Figures::alive_connections`].
pub trait Source {
    /// The role while serving clients; `None` while not serving (starting,
    /// electing, shutting down), when most words answer 3.8's
    /// "not currently serving" line.
    fn role(&self) -> Option<ServerRole>;

    /// Server-wide statistics. `respond` records the word's own packets here.
    fn stats(&self) -> &ServerStats;

    fn figures(&self) -> Figures;

    /// Client connections, in any order.
    fn connections(&self) -> Vec<ConnInfo>;

    /// `crst`: reset every connection's [`ConnStats`].
    fn reset_connection_stats(&mut self);

    /// Part of `srst` on a leader: reset [`LeaderFigures::proposal_sizes`].
    fn reset_proposal_stats(&mut self);

    /// The session tracker's view, for `dump`.
    fn session_dump(&self) -> SessionDump;

    /// Connections by expiry bucket (3.8's NIO factory tracks these: the
    /// session timeout after the last packet, or 10 s before the handshake).
    fn connection_expiry(&self) -> Vec<ExpiryBucket<ConnRef>>;

    /// Sessions owning ephemeral nodes, with the nodes' paths.
    fn ephemerals(&self) -> Vec<(i64, Vec<String>)>;

    fn data_watch_summary(&self) -> WatchSummary;

    /// Data watches by the watching connection's session id (0 for a
    /// connection without one).
    fn data_watches_by_session(&self) -> Vec<(i64, Vec<String>)>;

    /// Data watches by path, with the watching connections' session ids.
    fn data_watches_by_path(&self) -> Vec<(String, Vec<i64>)>;

    fn conf(&self) -> ConfInfo;

    fn dir_sizes(&self) -> DirSizes;

    fn environment(&self) -> Environment;

    /// The trace mask `gtmk` reports ([`super::DEFAULT_TRACE_MASK`] at start).
    fn trace_mask(&self) -> i64;

    /// `stmk`.
    fn set_trace_mask(&mut self, mask: i64);

    /// The digest history, oldest first; empty when digests are not
    /// computed (3.8 with `zookeeper.digest.enabled=false` prints nothing).
    fn digest_log(&self) -> Vec<ZxidDigest>;

    /// Per-namespace quota figures; empty without quotas.
    fn quota_usage(&self) -> Vec<QuotaUsage>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_rounds_up_to_the_next_interval() {
        let buckets = bucket_by_expiry(
            [(4_001, 'a'), (2_000, 'b'), (5_999, 'c'), (6_000, 'd')],
            2_000,
        );
        assert_eq!(
            buckets,
            vec![
                ExpiryBucket {
                    expires_at_ms: 4_000,
                    items: vec!['b']
                },
                ExpiryBucket {
                    expires_at_ms: 6_000,
                    items: vec!['a', 'c']
                },
                ExpiryBucket {
                    expires_at_ms: 8_000,
                    items: vec!['d']
                },
            ]
        );
    }

    #[test]
    fn modes_are_3_8_state_names() {
        let q = QuorumFigures {
            peer_state: String::new(),
            quorum_size: 3,
            synced_observers: None,
        };
        assert_eq!(ServerRole::Standalone.mode(), "standalone");
        assert_eq!(ServerRole::ReadOnly.mode(), "read-only");
        assert_eq!(ServerRole::Follower(q.clone()).mode(), "follower");
        assert_eq!(ServerRole::Observer(q).mode(), "observer");
    }
}
