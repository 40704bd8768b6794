//! `conf` and `dirs` (3.8's `ZooKeeperServer.dumpConf`, its quorum
//! extension, and `DirsCommand`).
//!
//! 3.8 labels the two directory sizes the other way round: its
//! `getDataDirSize()` measures the transaction log directory (which its
//! `FileTxnSnapLog` calls "dataDir") and `getLogDirSize()` the snapshot
//! directory. So `dataDirSize=` and `datadir_size:` show the log directory's
//! size, `dataLogSize=` and `logdir_size:` the snapshot directory's. We keep
//! 3.8's figures under 3.8's names, so that dashboards built on it read the
//! same numbers from zkd.

use crate::config::{PeerRole, ZooCfg};
use crate::fourletter::java;
use crate::fourletter::source::{ConfInfo, DirSizes, Member, QuorumConf};
use std::fmt::Write;
use std::path::PathBuf;

/// 3.8 has one election algorithm left, FastLeaderElection, numbered 3.
const ELECTION_ALG: u32 = 3;

pub fn conf(c: &ConfInfo, sizes: &DirSizes) -> String {
    let port = |p: Option<u16>| p.map_or(-1, i32::from);
    let mut out = String::new();
    let _ = write!(
        out,
        "clientPort={}\n\
         secureClientPort={}\n\
         dataDir={}\n\
         dataDirSize={}\n\
         dataLogDir={}\n\
         dataLogSize={}\n\
         tickTime={}\n\
         maxClientCnxns={}\n\
         minSessionTimeout={}\n\
         maxSessionTimeout={}\n\
         clientPortListenBacklog={}\n\
         serverId={}\n",
        port(c.client_port),
        port(c.secure_client_port),
        c.snapshot_dir.display(),
        sizes.txn_log_dir,
        c.txn_log_dir.display(),
        sizes.snapshot_dir,
        c.tick_time_ms,
        c.max_client_cnxns,
        c.min_session_timeout_ms,
        c.max_session_timeout_ms,
        c.client_port_listen_backlog.map_or(-1, i64::from),
        c.server_id,
    );
    if let Some(q) = &c.quorum {
        quorum_conf(&mut out, q);
    }
    out
}

fn quorum_conf(out: &mut String, q: &QuorumConf) {
    let ports = |ports: &[u16]| {
        ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join("|")
    };
    let _ = write!(
        out,
        "initLimit={}\n\
         syncLimit={}\n\
         electionAlg={}\n\
         electionPort={}\n\
         quorumPort={}\n\
         peerType={}\n\
         membership: \n",
        q.init_limit,
        q.sync_limit,
        ELECTION_ALG,
        ports(&q.election_ports),
        ports(&q.quorum_ports),
        u8::from(q.observer),
    );
    for m in &q.members {
        let _ = writeln!(out, "server.{}={}", m.id, member_text(m));
    }
    // 3.8 prints the verifier's text as is, and it ends without a newline.
    let _ = write!(out, "version={}", java::hex(q.config_version));
}

/// 3.8's `QuorumServer.toString`: addresses sorted by host, the role
/// always spelt out, and the client address only if the line gave one.
fn member_text(m: &Member) -> String {
    let mut addrs = m.addrs.clone();
    addrs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = addrs
        .iter()
        .map(|(host, quorum, election)| format!("{}:{}:{}", bracket(host), quorum, election))
        .collect::<Vec<_>>()
        .join("|");
    out.push_str(if m.observer {
        ":observer"
    } else {
        ":participant"
    });
    if let Some((host, port)) = &m.client {
        let _ = write!(out, ";{}:{}", bracket(host), port);
    }
    out
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// `dirs`; see the module notes for which size is which.
pub fn dirs(sizes: &DirSizes) -> String {
    format!(
        "datadir_size: {}\nlogdir_size: {}\n",
        sizes.txn_log_dir, sizes.snapshot_dir
    )
}

impl ConfInfo {
    /// What `conf` shows for a server running `cfg` as `myid`, with its
    /// client listener bound to `client_port` and its snapshots and log in
    /// the given directories (which 3.8 keeps in `version-2` below `dataDir`
    /// and `dataLogDir`). zkd serves no TLS port, so `secure_client_port` is
    /// `None`, and a static configuration has version 0: set the fields if
    /// that changes.
    pub fn from_cfg(
        cfg: &ZooCfg,
        myid: Option<u64>,
        client_port: Option<u16>,
        snapshot_dir: PathBuf,
        txn_log_dir: PathBuf,
    ) -> ConfInfo {
        let quorum = if cfg.is_standalone() {
            None
        } else {
            Some(quorum_from_cfg(cfg, myid))
        };
        ConfInfo {
            client_port,
            secure_client_port: None,
            snapshot_dir,
            txn_log_dir,
            tick_time_ms: cfg.tick_time_ms,
            max_client_cnxns: cfg.max_client_cnxns,
            min_session_timeout_ms: cfg.min_session_timeout(),
            max_session_timeout_ms: cfg.max_session_timeout(),
            client_port_listen_backlog: cfg.client_port_listen_backlog,
            // A standalone 3.8 server reports 0 whatever its myid file says.
            server_id: if quorum.is_some() {
                myid.unwrap_or(0)
            } else {
                0
            },
            quorum,
        }
    }
}

fn quorum_from_cfg(cfg: &ZooCfg, myid: Option<u64>) -> QuorumConf {
    let me = myid.and_then(|id| cfg.servers.get(&id));
    let addrs = me.map(|s| s.addrs()).unwrap_or_default();
    let role = me.map_or(cfg.peer_type, |s| s.role);
    QuorumConf {
        init_limit: cfg.init_limit,
        sync_limit: cfg.sync_limit,
        election_ports: addrs.iter().map(|a| a.election_port).collect(),
        quorum_ports: addrs.iter().map(|a| a.quorum_port).collect(),
        observer: role == PeerRole::Observer,
        members: cfg
            .servers
            .values()
            .map(|s| Member {
                id: s.id,
                addrs: s
                    .addrs()
                    .into_iter()
                    .map(|a| (a.host, a.quorum_port, a.election_port))
                    .collect(),
                observer: s.role == PeerRole::Observer,
                client: s.client_addr.as_ref().map(|(host, port)| {
                    (host.clone().unwrap_or_else(|| "0.0.0.0".to_string()), *port)
                }),
            })
            .collect(),
        config_version: 0,
    }
}
