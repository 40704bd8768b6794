//! A [`Source`] made of plain fields, for tests.

use crate::fourletter::*;
use std::path::PathBuf;

pub struct FakeSource {
    pub role: Option<ServerRole>,
    pub stats: ServerStats,
    pub figures: Figures,
    pub connections: Vec<ConnInfo>,
    pub connection_stat_resets: usize,
    pub proposal_stat_resets: usize,
    pub session_dump: SessionDump,
    pub connection_expiry: Vec<ExpiryBucket<ConnRef>>,
    pub ephemerals: Vec<(i64, Vec<String>)>,
    pub watch_summary: WatchSummary,
    pub watches_by_session: Vec<(i64, Vec<String>)>,
    pub watches_by_path: Vec<(String, Vec<i64>)>,
    pub conf: ConfInfo,
    pub dir_sizes: DirSizes,
    pub environment: Environment,
    pub trace_mask: i64,
    pub digests: Vec<ZxidDigest>,
    pub quotas: Vec<QuotaUsage>,
}

impl FakeSource {
    /// A fresh standalone server with nothing in it.
    pub fn standalone() -> FakeSource {
        FakeSource {
            role: Some(ServerRole::Standalone),
            stats: ServerStats::new(),
            figures: Figures {
                alive_connections: 1,
                node_count: 5,
                ..Figures::default()
            },
            connections: Vec::new(),
            connection_stat_resets: 0,
            proposal_stat_resets: 0,
            session_dump: SessionDump::Expiry {
                local: None,
                sessions: Vec::new(),
            },
            connection_expiry: Vec::new(),
            ephemerals: Vec::new(),
            watch_summary: WatchSummary::default(),
            watches_by_session: Vec::new(),
            watches_by_path: Vec::new(),
            conf: ConfInfo {
                client_port: Some(2181),
                secure_client_port: None,
                snapshot_dir: PathBuf::from("/var/lib/zookeeper/version-2"),
                txn_log_dir: PathBuf::from("/var/lib/zookeeper/version-2"),
                tick_time_ms: 2000,
                max_client_cnxns: 60,
                min_session_timeout_ms: 4000,
                max_session_timeout_ms: 40000,
                client_port_listen_backlog: None,
                server_id: 0,
                quorum: None,
            },
            dir_sizes: DirSizes::default(),
            environment: Environment {
                host_name: "zk1".into(),
                java_version: host::NOT_AVAILABLE.into(),
                java_vendor: host::NOT_AVAILABLE.into(),
                java_home: host::NOT_AVAILABLE.into(),
                java_class_path: host::NOT_AVAILABLE.into(),
                java_library_path: host::NOT_AVAILABLE.into(),
                java_io_tmpdir: "/tmp".into(),
                java_compiler: host::NOT_AVAILABLE.into(),
                os_name: "Linux".into(),
                os_arch: "amd64".into(),
                os_version: "6.1.0-18-amd64".into(),
                user_name: "zookeeper".into(),
                user_home: "/var/lib/zookeeper".into(),
                user_dir: "/".into(),
                memory_free_mb: 3000,
                memory_max_mb: 4096,
                memory_total_mb: 12,
            },
            trace_mask: DEFAULT_TRACE_MASK,
            digests: Vec::new(),
            quotas: Vec::new(),
        }
    }

    pub fn ask(&mut self, word: Word) -> String {
        self.ask_with(word, &[])
    }

    pub fn ask_with(&mut self, word: Word, extra: &[u8]) -> String {
        respond(word, extra, self, &crate::config::FourLetterWhitelist::All)
    }
}

impl Source for FakeSource {
    fn role(&self) -> Option<ServerRole> {
        self.role.clone()
    }
    fn stats(&self) -> &ServerStats {
        &self.stats
    }
    fn figures(&self) -> Figures {
        self.figures.clone()
    }
    fn connections(&self) -> Vec<ConnInfo> {
        self.connections.clone()
    }
    fn reset_connection_stats(&mut self) {
        self.connection_stat_resets += 1;
        for c in &mut self.connections {
            c.stats.reset();
        }
    }
    fn reset_proposal_stats(&mut self) {
        self.proposal_stat_resets += 1;
    }
    fn session_dump(&self) -> SessionDump {
        self.session_dump.clone()
    }
    fn connection_expiry(&self) -> Vec<ExpiryBucket<ConnRef>> {
        self.connection_expiry.clone()
    }
    fn ephemerals(&self) -> Vec<(i64, Vec<String>)> {
        self.ephemerals.clone()
    }
    fn data_watch_summary(&self) -> WatchSummary {
        self.watch_summary
    }
    fn data_watches_by_session(&self) -> Vec<(i64, Vec<String>)> {
        self.watches_by_session.clone()
    }
    fn data_watches_by_path(&self) -> Vec<(String, Vec<i64>)> {
        self.watches_by_path.clone()
    }
    fn conf(&self) -> ConfInfo {
        self.conf.clone()
    }
    fn dir_sizes(&self) -> DirSizes {
        self.dir_sizes
    }
    fn environment(&self) -> Environment {
        self.environment.clone()
    }
    fn trace_mask(&self) -> i64 {
        self.trace_mask
    }
    fn set_trace_mask(&mut self, mask: i64) {
        self.trace_mask = mask;
    }
    fn digest_log(&self) -> Vec<ZxidDigest> {
        self.digests.clone()
    }
    fn quota_usage(&self) -> Vec<QuotaUsage> {
        self.quotas.clone()
    }
}
