//! The core as the four-letter words see it.

use super::core::Core;
use crate::fourletter::{
    self, bucket_by_expiry, host, BufferSizes, ConfInfo, ConnInfo, ConnRef, ConnSession, ConnStats,
    DirSizes, Environment, ExpiryBucket, Figures, LeaderFigures, QuorumFigures, QuotaUsage,
    ServerRole, ServerStats, SessionDump, WatchSummary, Word, ZxidDigest,
};
use crate::quorum::election::ServerState;
use crate::storage_paths;
use std::net::SocketAddr;

/// Answers `word` for a connection from `peer`.
pub fn respond(core: &mut Core, word: Word, extra: &[u8], peer: SocketAddr) -> String {
    let whitelist = core.cfg.four_letter_words.clone();
    let mut view = CoreView { core, peer };
    fourletter::respond(word, extra, &mut view, &whitelist)
}

struct CoreView<'a> {
    core: &'a mut Core,
    /// The connection asking: 3.8 lists it among the connections.
    peer: SocketAddr,
}

impl CoreView<'_> {
    /// Converts a monotonic deadline to wall-clock milliseconds.
    fn wall(&self, mono_ms: u64) -> i64 {
        let now = self.core.clock.now();
        now.wall_ms + (mono_ms as i64 - now.mono_ms as i64)
    }
}

impl fourletter::Source for CoreView<'_> {
    fn role(&self) -> Option<ServerRole> {
        let Some(ens) = &self.core.ensemble else {
            return Some(ServerRole::Standalone);
        };
        let peer = &ens.peer;
        if !peer.is_serving() {
            return None;
        }
        let membership = peer.membership();
        let quorum = |state: &str, synced_observers| QuorumFigures {
            peer_state: format!("{state} - broadcast"),
            quorum_size: membership.voters.len() as u64,
            synced_observers,
        };
        Some(match (peer.state(), peer.leader()) {
            (ServerState::Leading, Some(leader)) => {
                let learners = leader.learners();
                let synced = |observer: bool| {
                    learners
                        .iter()
                        .filter(|(_, o, synced)| *synced && *o == observer)
                        .count() as u64
                };
                ServerRole::Leader(
                    quorum("leading", Some(synced(true))),
                    LeaderFigures {
                        learners: learners.len() as u64,
                        synced_followers: synced(false),
                        synced_non_voting_followers: 0,
                        pending_syncs: self.core.engine.pending_learner_syncs() as u64,
                        leader_uptime_ms: ens
                            .serving_since
                            .map_or(0, |t| t.elapsed().as_millis() as u64),
                        proposal_sizes: ens.proposal_sizes,
                    },
                )
            }
            (ServerState::Observing, _) => ServerRole::Observer(quorum("observing", None)),
            _ => ServerRole::Follower(quorum("following", None)),
        })
    }

    fn stats(&self) -> &ServerStats {
        &self.core.stats
    }

    fn figures(&self) -> Figures {
        let tree = self.core.engine.tree();
        let (open_fds, max_fds) = host::file_descriptor_counts();
        Figures {
            last_zxid: tree.last_zxid,
            outstanding_requests: self
                .core
                .conns
                .values()
                .map(|c| c.waiting.len() as u64)
                .sum(),
            alive_connections: self.core.conns.len() as u64 + 1,
            // 3.8's node table holds the root under both "" and "/", and
            // its counts show it: a fresh server reports 5 nodes.
            node_count: tree.node_count() as u64 + 1,
            approximate_data_size: tree.approximate_data_size(),
            watch_count: (tree.data_watches.len() + tree.child_watches.len()) as u64,
            ephemerals_count: tree.ephemeral_count() as u64,
            global_sessions: self.core.engine.sessions().len() as u64,
            local_sessions: 0,
            uptime_ms: self.core.started.elapsed().as_millis() as u64,
            open_file_descriptors: open_fds,
            max_file_descriptors: max_fds,
            connection_drop_probability: 0.0,
            outstanding_tls_handshakes: 0,
        }
    }

    fn connections(&self) -> Vec<ConnInfo> {
        let engine = &self.core.engine;
        let mut out: Vec<ConnInfo> = self
            .core
            .conns
            .iter()
            .map(|(id, c)| ConnInfo {
                remote: c.peer,
                interest_ops: fourletter::interest::READ,
                outstanding_requests: c.waiting.len() as u64,
                stats: c.stats.clone(),
                session: engine.session_of(*id).map(|session_id| ConnSession {
                    session_id,
                    established_ms: c.established_ms,
                    timeout_ms: engine
                        .sessions()
                        .get(session_id)
                        .map_or(0, |s| s.timeout_ms as i32),
                }),
            })
            .collect();
        let mut asking = ConnStats::default();
        asking.record_packet_received();
        out.push(ConnInfo {
            remote: self.peer,
            interest_ops: 0,
            outstanding_requests: 0,
            stats: asking,
            session: None,
        });
        out
    }

    fn reset_connection_stats(&mut self) {
        for c in self.core.conns.values_mut() {
            c.stats.reset();
        }
    }

    fn reset_proposal_stats(&mut self) {
        if let Some(ens) = &mut self.core.ensemble {
            ens.proposal_sizes = BufferSizes::default();
        }
    }

    fn session_dump(&self) -> SessionDump {
        let sessions = self.core.engine.sessions();
        let items: Vec<(i64, i64)> = sessions
            .all()
            .into_iter()
            .filter_map(|(id, _)| sessions.get(id).map(|s| (self.wall(s.expires_at) - 1, id)))
            .collect();
        SessionDump::Expiry {
            local: None,
            sessions: bucket_by_expiry(items, self.core.cfg.tick_time_ms as i64),
        }
    }

    fn connection_expiry(&self) -> Vec<ExpiryBucket<ConnRef>> {
        let engine = &self.core.engine;
        let items: Vec<(i64, ConnRef)> = self
            .core
            .conns
            .iter()
            .map(|(id, c)| {
                let session_id = engine.session_of(*id).unwrap_or(0);
                let expires = engine
                    .sessions()
                    .get(session_id)
                    .map_or(self.core.clock.now().wall_ms + 10_000, |s| {
                        self.wall(s.expires_at)
                    });
                (
                    expires,
                    ConnRef {
                        remote: c.peer,
                        session_id,
                    },
                )
            })
            .collect();
        bucket_by_expiry(items, 10_000)
    }

    fn ephemerals(&self) -> Vec<(i64, Vec<String>)> {
        self.core.engine.tree().all_ephemerals()
    }

    fn data_watch_summary(&self) -> WatchSummary {
        let w = &self.core.engine.tree().data_watches;
        WatchSummary {
            connections: w.watcher_count() as u64,
            paths: w.path_count() as u64,
            watches: w.len() as u64,
        }
    }

    fn data_watches_by_session(&self) -> Vec<(i64, Vec<String>)> {
        let engine = &self.core.engine;
        engine
            .tree()
            .data_watches
            .by_watcher()
            .into_iter()
            .map(|(conn, paths)| {
                (
                    engine.session_of(conn).unwrap_or(0),
                    paths.into_iter().map(str::to_owned).collect(),
                )
            })
            .collect()
    }

    fn data_watches_by_path(&self) -> Vec<(String, Vec<i64>)> {
        let engine = &self.core.engine;
        engine
            .tree()
            .data_watches
            .by_path()
            .into_iter()
            .map(|(path, conns)| {
                (
                    path.to_owned(),
                    conns
                        .into_iter()
                        .map(|c| engine.session_of(c).unwrap_or(0))
                        .collect(),
                )
            })
            .collect()
    }

    fn conf(&self) -> ConfInfo {
        let cfg = &self.core.cfg;
        ConfInfo::from_cfg(
            cfg,
            self.core.myid,
            Some(self.core.client_addr.port()),
            storage_paths::snapshot_dir(cfg),
            storage_paths::txn_log_dir(cfg),
        )
    }

    fn dir_sizes(&self) -> DirSizes {
        let cfg = &self.core.cfg;
        DirSizes {
            txn_log_dir: host::dir_size(&storage_paths::txn_log_dir(cfg)),
            snapshot_dir: host::dir_size(&storage_paths::snapshot_dir(cfg)),
        }
    }

    fn environment(&self) -> Environment {
        host::environment()
    }

    fn trace_mask(&self) -> i64 {
        self.core.trace_mask
    }

    fn set_trace_mask(&mut self, mask: i64) {
        self.core.trace_mask = mask;
    }

    fn digest_log(&self) -> Vec<ZxidDigest> {
        Vec::new()
    }

    fn quota_usage(&self) -> Vec<QuotaUsage> {
        Vec::new()
    }
}
