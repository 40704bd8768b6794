//! The metric names of 3.8's `ServerMetrics`, each table in the order 3.8
//! registers them: `mntr` prints every registry in its hash-map order, which
//! depends on that insertion order (see [`super::java::chm`]).
//!
//! A metric zkd never records stays at zero, exactly as it does in a 3.8
//! server that never exercises that code path (a standalone server's
//! `zk_learner_commit_received_count`, say).

macro_rules! metric_table {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal $(, $detail:ident)?;)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),* }

        impl $name {
            /// Every variant, in 3.8's registration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The name after `zk_` (and after `avg_` etc. for summaries).
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            /// Position in [`Self::ALL`].
            pub fn index(self) -> usize {
                self as usize
            }

            /// Registered with `DetailLevel.ADVANCED` (never for counters).
            #[allow(dead_code)]
            fn advanced(self) -> bool {
                match self { $($name::$variant => advanced!($($detail)?)),* }
            }
        }
    };
}

macro_rules! advanced {
    () => {
        false
    };
    (advanced) => {
        true
    };
}

metric_table!(
    /// Monotonic counters (`SimpleCounter`), printed as `zk_<name>`.
    Counter {
        LookingCount = "looking_count";
        DiffCount = "diff_count";
        SnapCount = "snap_count";
        CommitCount = "commit_count";
        ConnectionRequestCount = "connection_request_count";
        ConnectionRejected = "connection_rejected";
        BytesReceivedCount = "bytes_received_count";
        UnrecoverableErrorCount = "unrecoverable_error_count";
        AddDeadWatcherStallTime = "add_dead_watcher_stall_time";
        DeadWatchersQueued = "dead_watchers_queued";
        DeadWatchersCleared = "dead_watchers_cleared";
        ResponsePacketCacheHits = "response_packet_cache_hits";
        ResponsePacketCacheMisses = "response_packet_cache_misses";
        ResponsePacketGetChildrenCacheHits = "response_packet_get_children_cache_hits";
        ResponsePacketGetChildrenCacheMisses = "response_packet_get_children_cache_misses";
        EnsembleAuthSuccess = "ensemble_auth_success";
        EnsembleAuthFail = "ensemble_auth_fail";
        EnsembleAuthSkip = "ensemble_auth_skip";
        PrepProcessorRequestQueued = "prep_processor_request_queued";
        OutstandingChangesQueued = "outstanding_changes_queued";
        OutstandingChangesRemoved = "outstanding_changes_removed";
        RevalidateCount = "revalidate_count";
        ConnectionDropCount = "connection_drop_count";
        ConnectionRevalidateCount = "connection_revalidate_count";
        SessionlessConnectionsExpired = "sessionless_connections_expired";
        StaleSessionsExpired = "stale_sessions_expired";
        RequestCommitQueued = "request_commit_queued";
        ThrottledOps = "throttled_ops";
        LearnerProposalReceivedCount = "learner_proposal_received_count";
        LearnerCommitReceivedCount = "learner_commit_received_count";
        SyncProcessorRequestQueued = "sync_processor_request_queued";
        ProposalCount = "proposal_count";
        QuitLeadingDueToDisloyalVoter = "quit_leading_due_to_disloyal_voter";
        StaleRequests = "stale_requests";
        StaleRequestsDropped = "stale_requests_dropped";
        StaleReplies = "stale_replies";
        RequestThrottleWaitCount = "request_throttle_wait_count";
        LargeRequestsRejected = "large_requests_rejected";
        DigestMismatchesCount = "digest_mismatches_count";
        UnsuccessfulHandshake = "unsuccessful_handshake";
        InsecureAdminCount = "insecure_admin_count";
        TlsHandshakeExceeded = "tls_handshake_exceeded";
        CnxnClosedWithoutZkServerRunning = "cnxn_closed_without_zk_server_running";
        SkipLearnerRequestToNextProcessorCount = "skip_learner_request_to_next_processor_count";
        RequestsNotForwardedToCommitProcessor = "requests_not_forwarded_to_commit_processor";
        ResponseBytes = "response_bytes";
        WatchBytes = "watch_bytes";
    }
);

metric_table!(
    /// Distributions (`AvgMinMaxCounter`, and `AvgMinMaxPercentileCounter`
    /// for the [`Summary::has_percentiles`] ones), printed as
    /// `zk_{avg,min,max,cnt,sum}_<name>` plus `zk_p{50,95,99,999}_<name>`.
    Summary {
        FsyncTime = "fsynctime";
        SnapshotTime = "snapshottime";
        DbInitTime = "dbinittime";
        ReadLatency = "readlatency", advanced;
        UpdateLatency = "updatelatency", advanced;
        PropagationLatency = "propagation_latency", advanced;
        FollowerSyncTime = "follower_sync_time";
        ObserverSyncTime = "observer_sync_time";
        ElectionTime = "election_time";
        ConnectionTokenDeficit = "connection_token_deficit";
        InflightSnapCount = "inflight_snap_count";
        InflightDiffCount = "inflight_diff_count";
        NodeCreatedWatchCount = "node_created_watch_count";
        NodeDeletedWatchCount = "node_deleted_watch_count";
        NodeChangedWatchCount = "node_changed_watch_count";
        NodeChildrenWatchCount = "node_children_watch_count";
        DeadWatchersCleanerLatency = "dead_watchers_cleaner_latency", advanced;
        PrepProcessorQueueTime = "prep_processor_queue_time_ms", advanced;
        PrepProcessorQueueSize = "prep_processor_queue_size";
        PrepProcessTime = "prep_process_time";
        ProposalProcessTime = "proposal_process_time";
        CloseSessionPrepTime = "close_session_prep_time", advanced;
        UnavailableTime = "unavailable_time";
        LeaderUnavailableTime = "leader_unavailable_time";
        RequestsInSessionQueue = "requests_in_session_queue";
        PendingSessionQueueSize = "pending_session_queue_size";
        ReadsAfterWriteInSessionQueue = "reads_after_write_in_session_queue";
        ReadsIssuedFromSessionQueue = "reads_issued_from_session_queue";
        SessionQueuesDrained = "session_queues_drained";
        TimeWaitingEmptyPoolInCommitProcessorRead = "time_waiting_empty_pool_in_commit_processor_read_ms";
        WriteBatchTimeInCommitProcessor = "write_batch_time_in_commit_processor";
        ConcurrentRequestProcessingInCommitProcessor = "concurrent_request_processing_in_commit_processor";
        ReadCommitProcReqQueued = "read_commit_proc_req_queued";
        WriteCommitProcReqQueued = "write_commit_proc_req_queued";
        CommitCommitProcReqQueued = "commit_commit_proc_req_queued";
        ReadCommitProcIssued = "read_commit_proc_issued";
        WriteCommitProcIssued = "write_commit_proc_issued";
        ReadCommitprocTime = "read_commitproc_time_ms", advanced;
        WriteCommitprocTime = "write_commitproc_time_ms", advanced;
        LocalWriteCommittedTime = "local_write_committed_time_ms", advanced;
        ServerWriteCommittedTime = "server_write_committed_time_ms", advanced;
        CommitProcessTime = "commit_process_time";
        OmProposalProcessTime = "om_proposal_process_time_ms", advanced;
        OmCommitProcessTime = "om_commit_process_time_ms", advanced;
        ReadFinalProcTime = "read_final_proc_time_ms", advanced;
        WriteFinalProcTime = "write_final_proc_time_ms", advanced;
        ProposalLatency = "proposal_latency", advanced;
        ProposalAckCreationLatency = "proposal_ack_creation_latency", advanced;
        CommitPropagationLatency = "commit_propagation_latency", advanced;
        StartupTxnsLoaded = "startup_txns_loaded";
        StartupTxnsLoadTime = "startup_txns_load_time";
        StartupSnapLoadTime = "startup_snap_load_time";
        SyncProcessorQueueAndFlushTime = "sync_processor_queue_and_flush_time_ms", advanced;
        SyncProcessorQueueSize = "sync_processor_queue_size";
        SyncProcessorQueueTime = "sync_processor_queue_time_ms", advanced;
        SyncProcessorQueueFlushTime = "sync_processor_queue_flush_time_ms", advanced;
        SyncProcessTime = "sync_process_time";
        SyncProcessorBatchSize = "sync_processor_batch_size";
        QuorumAckLatency = "quorum_ack_latency", advanced;
        RequestThrottleQueueTime = "request_throttle_queue_time_ms", advanced;
        NettyQueuedBufferCapacity = "netty_queued_buffer_capacity";
        LearnerRequestProcessorQueueSize = "learner_request_processor_queue_size";
        SocketClosingTime = "socket_closing_time";
        JvmPauseTime = "jvm_pause_time_ms", advanced;
    }
);

metric_table!(
    /// Distributions kept per key (`AvgMinMaxCounterSet` and its percentile
    /// twin), printed as `zk_avg_<key>_<name>` etc.: per top-level znode for
    /// the namespace sets, per learner id for the leader's sets.
    SummarySet {
        WritePerNamespace = "write_per_namespace";
        ReadPerNamespace = "read_per_namespace";
        LearnerHandlerQpSize = "learner_handler_qp_size";
        LearnerHandlerQpTime = "learner_handler_qp_time_ms", advanced;
        AckLatency = "ack_latency", advanced;
    }
);

/// The one counter set (`SimpleCounterSet`) 3.8 registers:
/// `zk_<namespace>_quota_exceeded_error_per_namespace`.
pub const QUOTA_EXCEEDED_ERROR_PER_NAMESPACE: &str = "quota_exceeded_error_per_namespace";

/// Names of the four per-namespace quota gauge sets, in registration order.
pub const QUOTA_GAUGE_SETS: [&str; 4] = [
    "quota_count_limit_per_namespace",
    "quota_bytes_limit_per_namespace",
    "quota_count_usage_per_namespace",
    "quota_bytes_usage_per_namespace",
];

impl Summary {
    /// `DetailLevel.ADVANCED`: also reports p50/p95/p99/p999.
    pub fn has_percentiles(self) -> bool {
        self.advanced()
    }
}

impl SummarySet {
    /// `DetailLevel.ADVANCED`: also reports p50/p95/p99/p999.
    pub fn has_percentiles(self) -> bool {
        self.advanced()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_3_8_sizes_and_unique_names() {
        assert_eq!(Counter::ALL.len(), 47);
        assert_eq!(Summary::ALL.len(), 64);
        assert_eq!(
            Summary::ALL.iter().filter(|s| s.has_percentiles()).count(),
            23
        );
        assert!(Counter::ALL.iter().all(|c| !c.advanced()));
        assert!(SummarySet::AckLatency.has_percentiles());
        assert!(!SummarySet::ReadPerNamespace.has_percentiles());
        let mut names: Vec<&str> = Counter::ALL.iter().map(|c| c.name()).collect();
        names.extend(Summary::ALL.iter().map(|s| s.name()));
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
    }

    #[test]
    fn index_is_position_in_all() {
        for (i, c) in Counter::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
        for (i, s) in Summary::ALL.iter().enumerate() {
            assert_eq!(s.index(), i);
        }
    }
}
