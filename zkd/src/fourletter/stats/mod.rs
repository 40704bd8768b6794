//! Server-wide statistics: what 3.8 keeps in `ServerStats` (packets,
//! request latency, response sizes, auth failures) and in `ServerMetrics`
//! (the named counters and summaries `mntr` prints).
//!
//! Every recording method takes `&self` and is lock-free or nearly so, so
//! the shell can share one `ServerStats` (e.g. in an `Arc`) between the core
//! and connection tasks. `srst` calls [`ServerStats::reset`].

mod summary;

pub use summary::{AvgMinMax, BufferSizes, SummaryValues};

use super::java;
use super::metrics::{Counter, Summary, SummarySet};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, RwLock};
use summary::{lock, SummaryCell};

/// The size 3.8 adds to every read for the Stat that goes with it.
const STAT_OVERHEAD_BYTES: u64 = 6 * 8 + 5 * 4;

/// `PathUtils.getTopNamespace`: `foo` for `/foo/bar`, nothing for `/`.
fn top_namespace(path: &str) -> Option<&str> {
    path.strip_prefix('/')?
        .split('/')
        .next()
        .filter(|s| !s.is_empty())
}

fn saturating_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Per-key cells that remember their keys' first-insertion order, which
/// `mntr` needs to reproduce 3.8's ordering.
#[derive(Debug)]
struct Keyed<T> {
    order: Vec<(String, T)>,
    index: HashMap<String, usize>,
}

impl<T> Default for Keyed<T> {
    fn default() -> Self {
        Keyed {
            order: Vec::new(),
            index: HashMap::new(),
        }
    }
}

#[derive(Debug)]
pub struct ServerStats {
    packets_received: AtomicU64,
    packets_sent: AtomicU64,
    request_latency: AvgMinMax,
    client_response: Mutex<BufferSizes>,
    auth_failed: AtomicU64,
    non_mtls_remote: AtomicU64,
    non_mtls_local: AtomicU64,
    counters: Vec<AtomicU64>,
    summaries: Vec<SummaryCell>,
    summary_sets: Vec<RwLock<Keyed<SummaryCell>>>,
    quota_exceeded: RwLock<Keyed<AtomicU64>>,
}

impl Default for ServerStats {
    fn default() -> Self {
        ServerStats::new()
    }
}

impl ServerStats {
    pub fn new() -> ServerStats {
        ServerStats {
            packets_received: AtomicU64::new(0),
            packets_sent: AtomicU64::new(0),
            request_latency: AvgMinMax::default(),
            client_response: Mutex::new(BufferSizes::default()),
            auth_failed: AtomicU64::new(0),
            non_mtls_remote: AtomicU64::new(0),
            non_mtls_local: AtomicU64::new(0),
            counters: Counter::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
            summaries: Summary::ALL
                .iter()
                .map(|s| SummaryCell::new(s.has_percentiles()))
                .collect(),
            summary_sets: SummarySet::ALL
                .iter()
                .map(|_| RwLock::new(Keyed::default()))
                .collect(),
            quota_exceeded: RwLock::new(Keyed::default()),
        }
    }

    /// One client packet in (a request, a ping, or a four-letter word),
    /// of `bytes` bytes, length prefix included.
    pub fn record_packet_received(&self, bytes: u64) {
        self.packets_received.fetch_add(1, Relaxed);
        self.count(Counter::BytesReceivedCount, bytes);
    }

    /// One packet out to a client (a reply, a watch event, or a write of a
    /// four-letter answer).
    pub fn record_packet_sent(&self) {
        self.record_packets_sent(1);
    }

    pub fn record_packets_sent(&self, n: u64) {
        self.packets_sent.fetch_add(n, Relaxed);
    }

    /// A request answered `latency_ms` after it arrived (3.8's
    /// `updateLatency`): feeds `Latency min/avg/max` and, as 3.8 does,
    /// `updatelatency` for writes or `readlatency` for reads.
    pub fn record_request_latency(&self, latency_ms: i64, is_write: bool) {
        if latency_ms < 0 {
            return; // a clock step; 3.8 drops these too
        }
        self.request_latency.add(latency_ms);
        let which = if is_write {
            Summary::UpdateLatency
        } else {
            Summary::ReadLatency
        };
        self.observe(which, latency_ms);
    }

    /// The serialized size of a reply sent to a client.
    pub fn record_client_response_size(&self, bytes: i32) {
        lock(&self.client_response).record(bytes);
    }

    pub fn record_auth_failed(&self) {
        self.auth_failed.fetch_add(1, Relaxed);
    }

    /// A client connection without client-certificate TLS, from a loopback
    /// (`local`) or another address.
    pub fn record_non_mtls_connection(&self, local: bool) {
        let c = if local {
            &self.non_mtls_local
        } else {
            &self.non_mtls_remote
        };
        c.fetch_add(1, Relaxed);
    }

    /// Adds `n` to a named counter.
    pub fn count(&self, counter: Counter, n: u64) {
        self.counters[counter.index()].fetch_add(n, Relaxed);
    }

    /// Adds one value to a named summary.
    pub fn observe(&self, summary: Summary, value: i64) {
        self.summaries[summary.index()].add(value);
    }

    /// Adds one value under `key` to a summary set. For the namespace sets
    /// the key is the first path component (`foo` for `/foo/bar`), and 3.8
    /// records `path.len() + data.len()` for writes and
    /// `path.len() + data.len() + 68` (its Stat overhead) for reads.
    pub fn observe_keyed(&self, set: SummarySet, key: &str, value: i64) {
        with_cell(
            &self.summary_sets[set as usize],
            key,
            || SummaryCell::new(set.has_percentiles()),
            |cell| cell.add(value),
        );
    }

    /// A read of `path` returning `bytes` of payload (data for getData, 0
    /// for exists, the children's name lengths for getChildren), for
    /// `read_per_namespace`, as 3.8's `DataTree.updateReadStat`.
    pub fn record_read(&self, path: &str, bytes: u64) {
        if let Some(ns) = top_namespace(path) {
            let value = java::utf16_len(path) as u64 + bytes + STAT_OVERHEAD_BYTES;
            self.observe_keyed(SummarySet::ReadPerNamespace, ns, saturating_i64(value));
        }
    }

    /// A create (data length), setData (data length) or delete (0) of
    /// `path`, for `write_per_namespace` (3.8's `updateWriteStat`).
    pub fn record_write(&self, path: &str, bytes: u64) {
        if let Some(ns) = top_namespace(path) {
            let value = java::utf16_len(path) as u64 + bytes;
            self.observe_keyed(SummarySet::WritePerNamespace, ns, saturating_i64(value));
        }
    }

    /// A request refused because it would exceed `namespace`'s quota.
    pub fn count_quota_exceeded(&self, namespace: &str) {
        with_cell(
            &self.quota_exceeded,
            namespace,
            || AtomicU64::new(0),
            |c| {
                c.fetch_add(1, Relaxed);
            },
        );
    }

    /// `srst` (3.8's `ServerStats.reset`): latency, packet counts, response
    /// sizes and every named metric. Keyed metrics keep their keys at zero,
    /// and auth-failure and connection counts are kept, as in 3.8.
    pub fn reset(&self) {
        self.request_latency.reset();
        self.packets_received.store(0, Relaxed);
        self.packets_sent.store(0, Relaxed);
        *lock(&self.client_response) = BufferSizes::default();
        for c in &self.counters {
            c.store(0, Relaxed);
        }
        for s in &self.summaries {
            s.reset();
        }
        for set in &self.summary_sets {
            for (_, cell) in &read(set).order {
                cell.reset();
            }
        }
        for (_, c) in &read(&self.quota_exceeded).order {
            c.store(0, Relaxed);
        }
    }

    pub fn packets_received(&self) -> u64 {
        self.packets_received.load(Relaxed)
    }

    pub fn packets_sent(&self) -> u64 {
        self.packets_sent.load(Relaxed)
    }

    pub fn request_latency(&self) -> &AvgMinMax {
        &self.request_latency
    }

    pub fn client_response_sizes(&self) -> BufferSizes {
        *lock(&self.client_response)
    }

    pub fn auth_failed(&self) -> u64 {
        self.auth_failed.load(Relaxed)
    }

    /// (loopback, other) connections without client-certificate TLS.
    pub fn non_mtls_connections(&self) -> (u64, u64) {
        (
            self.non_mtls_local.load(Relaxed),
            self.non_mtls_remote.load(Relaxed),
        )
    }

    pub fn counter(&self, counter: Counter) -> u64 {
        self.counters[counter.index()].load(Relaxed)
    }

    pub fn summary(&self, summary: Summary) -> SummaryValues {
        self.summaries[summary.index()].values()
    }

    /// A set's keys in first-recorded order, with their values.
    pub fn summary_set(&self, set: SummarySet) -> Vec<(String, SummaryValues)> {
        read(&self.summary_sets[set as usize])
            .order
            .iter()
            .map(|(k, cell)| (k.clone(), cell.values()))
            .collect()
    }

    /// Quota refusals per namespace, in first-recorded order.
    pub fn quota_exceeded(&self) -> Vec<(String, u64)> {
        read(&self.quota_exceeded)
            .order
            .iter()
            .map(|(k, c)| (k.clone(), c.load(Relaxed)))
            .collect()
    }
}

/// Applies `f` to `key`'s cell, creating it (at the end of the order) on
/// first use. The common case takes only the read lock.
fn with_cell<T>(cells: &RwLock<Keyed<T>>, key: &str, make: impl FnOnce() -> T, f: impl FnOnce(&T)) {
    {
        let cells = read(cells);
        if let Some(&i) = cells.index.get(key) {
            f(&cells.order[i].1);
            return;
        }
    }
    let mut cells = write(cells);
    let i = match cells.index.get(key) {
        Some(&i) => i,
        None => {
            cells.order.push((key.to_string(), make()));
            let i = cells.order.len() - 1;
            cells.index.insert(key.to_string(), i);
            i
        }
    };
    f(&cells.order[i].1);
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_and_bytes_count_and_reset() {
        let s = ServerStats::new();
        s.record_packet_received(4);
        s.record_packet_received(20);
        s.record_packet_sent();
        assert_eq!((s.packets_received(), s.packets_sent()), (2, 1));
        assert_eq!(s.counter(Counter::BytesReceivedCount), 24);
        s.reset();
        assert_eq!((s.packets_received(), s.packets_sent()), (0, 0));
        assert_eq!(s.counter(Counter::BytesReceivedCount), 0);
    }

    #[test]
    fn latency_feeds_read_or_update_summaries() {
        let s = ServerStats::new();
        s.record_request_latency(6, false);
        s.record_request_latency(1, true);
        s.record_request_latency(-3, true);
        let l = s.request_latency();
        assert_eq!((l.min(), l.avg(), l.max()), (1, 3.5, 6));
        assert_eq!(s.summary(Summary::ReadLatency).count, 1);
        assert_eq!(s.summary(Summary::UpdateLatency).sum, 1);
    }

    #[test]
    fn keyed_sets_keep_first_seen_order_and_keys_across_reset() {
        let s = ServerStats::new();
        s.observe_keyed(SummarySet::WritePerNamespace, "foo", 4);
        s.observe_keyed(SummarySet::WritePerNamespace, "bar", 9);
        s.observe_keyed(SummarySet::WritePerNamespace, "foo", 10);
        let set = s.summary_set(SummarySet::WritePerNamespace);
        assert_eq!(
            set.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["foo", "bar"]
        );
        assert_eq!((set[0].1.count, set[0].1.sum, set[0].1.avg), (2, 14, 7.0));
        assert!(s.summary_set(SummarySet::ReadPerNamespace).is_empty());
        s.reset();
        let set = s.summary_set(SummarySet::WritePerNamespace);
        assert_eq!(set.len(), 2);
        assert_eq!(set[1].1.count, 0);
    }

    #[test]
    fn reads_and_writes_are_kept_per_top_level_znode() {
        let s = ServerStats::new();
        s.record_read("/bar", 5);
        s.record_read("/", 0);
        s.record_write("/foo/a", 3);
        s.record_write("/foo", 0);
        let reads = s.summary_set(SummarySet::ReadPerNamespace);
        assert_eq!(reads.len(), 1);
        assert_eq!((reads[0].0.as_str(), reads[0].1.sum), ("bar", 4 + 5 + 68));
        let writes = s.summary_set(SummarySet::WritePerNamespace);
        assert_eq!(
            (writes[0].0.as_str(), writes[0].1.count, writes[0].1.sum),
            ("foo", 2, 9 + 4)
        );
        assert_eq!(top_namespace("/zookeeper/config"), Some("zookeeper"));
        assert_eq!(top_namespace("/"), None);
    }

    #[test]
    fn reset_keeps_auth_and_tls_counts() {
        let s = ServerStats::new();
        s.record_auth_failed();
        s.record_non_mtls_connection(true);
        s.record_client_response_size(16);
        s.count_quota_exceeded("app");
        s.count_quota_exceeded("app");
        assert_eq!(s.quota_exceeded(), vec![("app".to_string(), 2)]);
        s.reset();
        assert_eq!(s.auth_failed(), 1);
        assert_eq!(s.non_mtls_connections(), (1, 0));
        assert_eq!(s.client_response_sizes(), BufferSizes::default());
        assert_eq!(s.quota_exceeded(), vec![("app".to_string(), 0)]);
    }
}
