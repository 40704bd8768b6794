//! The tokio shell: owns sockets, timers and (later) disk, and drives the
//! deterministic [`crate::engine::Engine`]. Connections decode frames and
//! hand requests to one core task; the core runs the engine and routes its
//! outputs back to connections.

mod connection;
mod core;
pub mod election_links;
mod ensemble;
mod fourletter_glue;
mod listener;
pub mod quorum_links;
mod storage;

use crate::config::ZooCfg;
use crate::engine::{Engine, EngineConfig, Now};
use crate::storage::{
    DataDirLock, DataDirs, LogOptions, RecoverOptions, Recovered, StorageError, TxnLogWriter,
};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};

pub use self::core::CoreMsg;

/// Limits checked at the edge, from zoo.cfg.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_frame: usize,
    /// Shared with the listener so that a reload can change it.
    pub max_client_cnxns_per_ip: Arc<std::sync::atomic::AtomicU32>,
    pub global_outstanding: u32,
}

/// A server running in this process.
pub struct Server {
    client_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    core_tx: mpsc::UnboundedSender<CoreMsg>,
    notifier: crate::systemd::Notifier,
    max_client_cnxns: Arc<std::sync::atomic::AtomicU32>,
    core: tokio::task::JoinHandle<()>,
    /// Held for the server's life: no second process may use the dataDir.
    _locks: Vec<DataDirLock>,
}

/// What recovery hands the core: the tree and sessions from disk, and the
/// writers that keep them there.
pub(crate) struct Durable {
    pub engine: Engine,
    pub log: storage::StorageThread,
    pub snapshots: storage::Snapshotter,
}

/// Why a server could not start, as one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Locks the data directories and rebuilds the tree from them.
fn recover(cfg: &ZooCfg) -> Result<(Vec<DataDirLock>, Recovered), StorageError> {
    let dirs = DataDirs::from_config(cfg);
    dirs.prepare()?;
    let mut locks = vec![DataDirLock::acquire(&cfg.data_dir)?];
    if cfg.data_log_dir() != cfg.data_dir.as_path() {
        locks.push(DataDirLock::acquire(cfg.data_log_dir())?);
    }
    let started = std::time::Instant::now();
    let tree_options = crate::tree::TreeOptions {
        extended_types: cfg.extended_types_enabled,
    };
    let recovered = crate::storage::recover(&dirs, &RecoverOptions::new(tree_options))?;
    let s = &recovered.summary;
    for warning in &s.warnings {
        tracing::warn!("{warning}");
    }
    if let Some(tail) = &s.truncated {
        tracing::warn!(%tail, "cut a torn record off the end of the transaction log");
    }
    tracing::info!(
        snapshot = %s.snapshot.as_ref().map_or("none".into(), |p| p.display().to_string()),
        txns_replayed = s.txns_replayed,
        last_zxid = format_args!("0x{:x}", recovered.last_zxid),
        nodes = recovered.tree.node_count(),
        sessions = recovered.sessions.len(),
        ms = started.elapsed().as_millis() as u64,
        "recovered data directory"
    );
    if s.snapshot.is_none() {
        // Without a snapshot, logs alone are refused at the next start (as
        // 3.8 refuses them), so the first one is written before serving.
        crate::storage::write_snapshot(
            &dirs.snap_dir(),
            &recovered.tree,
            &recovered.sessions,
            recovered.last_zxid,
        )?;
    }
    Ok((locks, recovered))
}

/// Both clocks, read once per event.
#[derive(Clone)]
pub(crate) struct Clock {
    start: Instant,
}

impl Clock {
    pub fn new() -> Self {
        Clock {
            start: Instant::now(),
        }
    }

    pub fn now(&self) -> Now {
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Now {
            wall_ms,
            mono_ms: self.start.elapsed().as_millis() as u64,
        }
    }
}

/// The engine's settings; `myid` numbers the sessions this server creates.
pub fn engine_config(cfg: &ZooCfg, myid: Option<u64>) -> EngineConfig {
    EngineConfig {
        server_id: myid.unwrap_or(1),
        tick_ms: cfg.tick_time_ms,
        min_session_timeout_ms: cfg.min_session_timeout(),
        max_session_timeout_ms: cfg.max_session_timeout(),
        super_digest: cfg.super_digest.clone(),
        extended_types: cfg.extended_types_enabled,
        reconfig_enabled: cfg.reconfig_enabled,
        container_check_interval_ms: cfg.container_check_interval_ms,
    }
}

impl Server {
    /// Binds the client port and starts serving. Returns once the port
    /// accepts connections.
    pub async fn start(cfg: ZooCfg) -> Result<Server, StartError> {
        Self::start_with(cfg, crate::systemd::Notifier::default()).await
    }

    /// [`Server::start`], telling systemd through `notifier` how it goes.
    pub async fn start_with(
        cfg: ZooCfg,
        notifier: crate::systemd::Notifier,
    ) -> Result<Server, StartError> {
        let myid = crate::config::read_myid(&cfg.data_dir)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let addr = cfg.client_listen_addr(myid)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "no client port: set clientPort, or ;port on this server's server.N line",
            )
        })?;
        let (locks, recovered) = {
            // A large dataDir takes a while: systemd is told to wait.
            let _extend = crate::systemd::ExtendWhile::start(&notifier);
            tokio::task::block_in_place(|| recover(&cfg))?
        };
        let had_snapshot = recovered.summary.snapshot.is_some();
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot bind client port {addr}: {e}"))
        })?;
        let listener = socket.listen(1024)?;
        let client_addr = listener.local_addr()?;
        let limits = Limits {
            max_frame: cfg.jute_max_buffer as usize,
            max_client_cnxns_per_ip: Arc::new(std::sync::atomic::AtomicU32::new(
                cfg.max_client_cnxns,
            )),
            global_outstanding: cfg.global_outstanding_limit,
        };
        let clock = Clock::new();
        let (core_tx, core_rx) = mpsc::unbounded_channel();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let throttle = Arc::new(tokio::sync::Semaphore::new(
            limits.global_outstanding.max(1) as usize,
        ));
        let dirs = DataDirs::from_config(&cfg);
        let log_options = LogOptions::from_config(&cfg);
        let writer = TxnLogWriter::open(&dirs.log_dir(), log_options)?;
        let log = storage::StorageThread::start(writer, cfg.force_sync, core_tx.clone());
        let snapshots = storage::Snapshotter::new(dirs.snap_dir());
        if had_snapshot {
            // 3.8 snapshots at every start; here it runs beside serving.
            snapshots.start(recovered.tree.snapshot_copy(), recovered.sessions.clone());
        }
        let (tree, sessions) = (recovered.tree, recovered.sessions);
        let engine_cfg = engine_config(&cfg, myid);
        let engine = Engine::with_tree(engine_cfg.clone(), tree, sessions, clock.now());
        let durable = Durable {
            engine,
            log,
            snapshots,
        };
        let ensemble = match (cfg.is_standalone(), myid) {
            (true, _) => None,
            (false, Some(id)) => {
                Some(ensemble::Ensemble::start(&cfg, id, engine_cfg, &durable.engine).await?)
            }
            (false, None) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{}: zoo.cfg lists server.N lines but there is no myid file; write this server's N into it",
                        cfg.data_dir.join("myid").display()
                    ),
                )
                .into())
            }
        };
        let max_client_cnxns = limits.max_client_cnxns_per_ip.clone();
        let reload_tx = core_tx.clone();
        let mut core_state = core::Core::new(
            &cfg,
            clock.clone(),
            client_addr,
            throttle.clone(),
            durable,
            ensemble,
            core_tx.clone(),
        );
        core_state.reporter = crate::systemd::Reporter::new(notifier.clone());
        let core = tokio::spawn(core_state.run(core_rx, shutdown_rx.clone()));
        tokio::spawn(listener::accept_loop(
            listener,
            core_tx,
            limits,
            throttle,
            shutdown_rx.clone(),
        ));
        if cfg.autopurge_purge_interval_hours > 0 {
            tokio::spawn(autopurge(
                dirs,
                cfg.autopurge_snap_retain_count as usize,
                cfg.autopurge_purge_interval_hours,
                shutdown_rx.clone(),
            ));
        }
        tracing::info!(%client_addr, "serving clients");
        Ok(Server {
            client_addr,
            shutdown,
            core,
            core_tx: reload_tx,
            notifier,
            max_client_cnxns,
            _locks: locks,
        })
    }

    /// SIGHUP received: tell systemd a reload is under way.
    pub fn reloading(&self) {
        let monotonic = sd_notify::NotifyState::monotonic_usec_now()
            .unwrap_or(sd_notify::NotifyState::MonotonicUsec(0));
        self.notifier
            .send(&[sd_notify::NotifyState::Reloading, monotonic]);
    }

    /// Applies what can change without a restart: the four-letter-word
    /// whitelist and the per-address connection limit. Other changes need a
    /// restart and are logged as such.
    pub async fn reload(&self, cfg: ZooCfg) {
        self.max_client_cnxns
            .store(cfg.max_client_cnxns, std::sync::atomic::Ordering::Relaxed);
        let (done, wait) = tokio::sync::oneshot::channel();
        if self
            .core_tx
            .send(CoreMsg::Reload {
                cfg: Box::new(cfg),
                done,
            })
            .is_ok()
        {
            let _ = wait.await;
        }
    }

    /// The reload is done.
    pub fn reloaded(&self) {
        self.notifier.send(&[sd_notify::NotifyState::Ready]);
    }

    pub fn client_addr(&self) -> SocketAddr {
        self.client_addr
    }

    /// Stops accepting, closes connections and waits for the core to end.
    pub async fn shutdown(self) {
        self.notifier.send(&[
            sd_notify::NotifyState::Stopping,
            sd_notify::NotifyState::Status("mode=stopping"),
        ]);
        let _ = self.shutdown.send(true);
        let _ = self.core.await;
    }
}

/// autopurge.*: at start and every `hours`, keep the newest `retain`
/// snapshots and the logs they need, as 3.8's DatadirCleanupManager does.
async fn autopurge(dirs: DataDirs, retain: usize, hours: u32, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(hours as u64 * 3600));
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.changed() => return,
        }
        let (snap, log) = (dirs.snap_dir(), dirs.log_dir());
        match tokio::task::spawn_blocking(move || crate::storage::purge(&snap, &log, retain)).await
        {
            Ok(Ok(removed)) => tracing::info!(removed = removed.len(), retain, "autopurge done"),
            Ok(Err(e)) => tracing::warn!(error = %e, "autopurge failed"),
            Err(e) => tracing::warn!(error = %e, "autopurge task failed"),
        }
    }
}
