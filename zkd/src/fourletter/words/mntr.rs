//! `mntr`: `zk_<key>\t<value>` lines, in 3.8's order.
//!
//! 3.8 prints `zk_version` and `zk_server_state` (and `zk_peer_state` in an
//! ensemble), then walks its metrics registry: gauges, gauge sets, counters,
//! counter sets, basic summaries, percentile summaries, basic summary sets,
//! percentile summary sets, each a `ConcurrentHashMap` iterated in hash
//! order. We register the same names in the same order and iterate them the
//! same way ([`crate::fourletter::java::chm`]), so a 3.8 server and zkd in
//! the same role list the same keys in the same places. Keyed entries (per
//! namespace, per learner) follow the same rule from the order their keys
//! were first recorded.

use crate::fourletter::java::{self, chm};
use crate::fourletter::metrics::{
    Counter, Summary, SummarySet, QUOTA_EXCEEDED_ERROR_PER_NAMESPACE, QUOTA_GAUGE_SETS,
};
use crate::fourletter::source::{Figures, QuotaUsage, ServerRole};
use crate::fourletter::stats::{ServerStats, SummaryValues};
use crate::fourletter::version;
use std::fmt::Write;

/// A gauge value, printed the way Java prints a `Long` or a `Double`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    Long(i64),
    Double(f64),
}

impl Value {
    fn text(self) -> String {
        match self {
            Value::Long(v) => v.to_string(),
            Value::Double(v) => java::double_to_string(v),
        }
    }
}

fn long(v: impl TryInto<i64>) -> Option<Value> {
    Some(Value::Long(v.try_into().unwrap_or(i64::MAX)))
}

pub fn mntr(role: &ServerRole, stats: &ServerStats, f: &Figures, quotas: &[QuotaUsage]) -> String {
    let mut out = String::new();
    let mut line = |key: &str, value: &str| {
        let _ = writeln!(out, "zk_{key}\t{value}");
    };
    line("version", &version::full_version());
    line("server_state", role.mode());
    if let Some(q) = role.quorum() {
        line("peer_state", &q.peer_state);
    }
    for (key, value) in chm::ordered(&gauges(role, stats, f)) {
        // 3.8 skips gauges whose value is null.
        if let Some(v) = value {
            line(&key, &v.text());
        }
    }
    for (set, values) in chm::ordered(&quota_gauge_sets(quotas)) {
        for (namespace, v) in chm::ordered(&values) {
            line(&format!("{namespace}_{set}"), &v.to_string());
        }
    }
    let counters: Vec<(&str, u64)> = Counter::ALL
        .iter()
        .map(|c| (c.name(), stats.counter(*c)))
        .collect();
    for (name, v) in chm::ordered(&counters) {
        line(&name, &v.to_string());
    }
    for (namespace, v) in chm::ordered(&stats.quota_exceeded()) {
        line(
            &format!("{namespace}_{QUOTA_EXCEEDED_ERROR_PER_NAMESPACE}"),
            &v.to_string(),
        );
    }
    for advanced in [false, true] {
        let summaries: Vec<(&str, Summary)> = Summary::ALL
            .iter()
            .filter(|s| s.has_percentiles() == advanced)
            .map(|s| (s.name(), *s))
            .collect();
        for (name, s) in chm::ordered(&summaries) {
            summary_lines(&mut line, &name, &stats.summary(s));
        }
    }
    for advanced in [false, true] {
        let sets: Vec<(&str, SummarySet)> = SummarySet::ALL
            .iter()
            .filter(|s| s.has_percentiles() == advanced)
            .map(|s| (s.name(), *s))
            .collect();
        for (name, set) in chm::ordered(&sets) {
            for (key, values) in chm::ordered(&stats.summary_set(set)) {
                summary_lines(&mut line, &format!("{key}_{name}"), &values);
            }
        }
    }
    out
}

/// `AvgMinMaxCounter.values()` and, with percentiles, the p50..p999 lines.
fn summary_lines(line: &mut impl FnMut(&str, &str), name: &str, v: &SummaryValues) {
    line(&format!("avg_{name}"), &java::double_to_string(v.avg));
    line(&format!("min_{name}"), &v.min.to_string());
    line(&format!("max_{name}"), &v.max.to_string());
    line(&format!("cnt_{name}"), &v.count.to_string());
    line(&format!("sum_{name}"), &v.sum.to_string());
    if let Some([p50, p95, p99, p999]) = v.percentiles {
        line(&format!("p50_{name}"), &p50.to_string());
        line(&format!("p95_{name}"), &p95.to_string());
        line(&format!("p99_{name}"), &p99.to_string());
        line(&format!("p999_{name}"), &p999.to_string());
    }
}

/// The gauges 3.8 registers for this role, in registration order
/// (`ZooKeeperServer.registerMetrics` and its quorum overrides).
fn gauges(
    role: &ServerRole,
    stats: &ServerStats,
    f: &Figures,
) -> Vec<(&'static str, Option<Value>)> {
    let latency = stats.request_latency();
    let responses = stats.client_response_sizes();
    let (non_mtls_local, non_mtls_remote) = stats.non_mtls_connections();
    let mut g = vec![
        ("avg_latency", Some(Value::Double(latency.avg()))),
        ("max_latency", long(latency.max())),
        ("min_latency", long(latency.min())),
        ("packets_received", long(stats.packets_received())),
        ("packets_sent", long(stats.packets_sent())),
        ("num_alive_connections", long(f.alive_connections)),
        ("outstanding_requests", long(f.outstanding_requests)),
        ("uptime", long(f.uptime_ms)),
        ("znode_count", long(f.node_count)),
        ("watch_count", long(f.watch_count)),
        ("ephemerals_count", long(f.ephemerals_count)),
        ("approximate_data_size", long(f.approximate_data_size)),
        ("global_sessions", long(f.global_sessions)),
        ("local_sessions", long(f.local_sessions)),
        ("open_file_descriptor_count", long(f.open_file_descriptors)),
        ("max_file_descriptor_count", long(f.max_file_descriptors)),
        (
            "connection_drop_probability",
            Some(Value::Double(f.connection_drop_probability)),
        ),
        ("last_client_response_size", long(responses.last)),
        ("max_client_response_size", long(responses.max)),
        ("min_client_response_size", long(responses.min)),
        (
            "outstanding_tls_handshake",
            long(f.outstanding_tls_handshakes),
        ),
        ("auth_failed_count", long(stats.auth_failed())),
        ("non_mtls_remote_conn_count", long(non_mtls_remote)),
        ("non_mtls_local_conn_count", long(non_mtls_local)),
    ];
    if let Some(q) = role.quorum() {
        g.push(("quorum_size", long(q.quorum_size)));
    }
    match role {
        ServerRole::Follower(q) => g.push(("synced_observers", q.synced_observers.and_then(long))),
        ServerRole::Leader(q, l) => g.extend([
            ("learners", long(l.learners)),
            ("synced_followers", long(l.synced_followers)),
            (
                "synced_non_voting_followers",
                long(l.synced_non_voting_followers),
            ),
            ("synced_observers", q.synced_observers.and_then(long)),
            ("pending_syncs", long(l.pending_syncs)),
            ("leader_uptime", long(l.leader_uptime_ms)),
            ("last_proposal_size", long(l.proposal_sizes.last)),
            ("max_proposal_size", long(l.proposal_sizes.max)),
            ("min_proposal_size", long(l.proposal_sizes.min)),
        ]),
        ServerRole::Standalone | ServerRole::ReadOnly | ServerRole::Observer(_) => {}
    }
    g
}

/// The four quota gauge sets, each a namespace -> value map.
fn quota_gauge_sets(quotas: &[QuotaUsage]) -> Vec<(&'static str, Vec<(String, i64)>)> {
    let pick = |f: fn(&QuotaUsage) -> i64| -> Vec<(String, i64)> {
        quotas.iter().map(|q| (q.namespace.clone(), f(q))).collect()
    };
    let [count_limit, bytes_limit, count_usage, bytes_usage] = QUOTA_GAUGE_SETS;
    vec![
        (count_limit, pick(|q| q.count_limit)),
        (bytes_limit, pick(|q| q.bytes_limit)),
        (count_usage, pick(|q| q.count_usage)),
        (bytes_usage, pick(|q| q.bytes_usage)),
    ]
}
