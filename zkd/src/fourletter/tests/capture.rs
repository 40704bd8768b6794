//! Captures of a live Apache ZooKeeper 3.8.0 (Debian's 3.8.0-11+deb12u2 on
//! OpenJDK 17), and a loader that builds a [`FakeSource`] whose figures and
//! statistics are those of a captured `mntr`, so that our `mntr` can be
//! compared with 3.8's line for line.

use super::fake::FakeSource;
use crate::fourletter::java;
use crate::fourletter::metrics::{Counter, Summary, SummarySet};
use crate::fourletter::*;

/// The version line of the captured server.
const CAPTURED_VERSION: &str = "3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC";

macro_rules! capture {
    ($name:literal) => {
        include_str!(concat!("../testdata/", $name))
    };
}
pub(crate) use capture;

/// A capture with our version string where 3.8 printed its own.
pub fn as_zkd(captured: &str) -> String {
    assert!(captured.contains(CAPTURED_VERSION) || !captured.contains("3.8.0-"));
    captured.replace(CAPTURED_VERSION, &version::full_version())
}

/// The `zk_<key>\t<value>` lines of a captured `mntr`.
pub struct Mntr(Vec<(String, String)>);

impl Mntr {
    pub fn parse(text: &str) -> Mntr {
        Mntr(
            text.lines()
                .map(|l| {
                    let (k, v) = l
                        .split_once('\t')
                        .unwrap_or_else(|| panic!("no tab in {l:?}"));
                    (
                        k.strip_prefix("zk_").expect("zk_ prefix").to_string(),
                        v.to_string(),
                    )
                })
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn num(&self, key: &str) -> i64 {
        let v = self
            .get(key)
            .unwrap_or_else(|| panic!("capture has no zk_{key}"));
        v.parse().unwrap_or_else(|_| panic!("zk_{key} is {v:?}"))
    }

    fn unsigned(&self, key: &str) -> u64 {
        u64::try_from(self.num(key)).unwrap_or_else(|_| panic!("zk_{key} is negative"))
    }

    fn double(&self, key: &str) -> f64 {
        self.get(key)
            .unwrap_or_else(|| panic!("no zk_{key}"))
            .parse()
            .unwrap()
    }

    pub fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }
}

/// A source that answers `mntr` with the captured values, once `respond`
/// has counted the `mntr` request itself (one packet, four bytes).
pub fn source_from_mntr(text: &str) -> FakeSource {
    let m = Mntr::parse(text);
    let mut src = FakeSource::standalone();
    src.role = Some(role(&m));
    src.figures = Figures {
        last_zxid: 0,
        outstanding_requests: m.unsigned("outstanding_requests"),
        alive_connections: m.unsigned("num_alive_connections"),
        node_count: m.unsigned("znode_count"),
        approximate_data_size: m.unsigned("approximate_data_size"),
        watch_count: m.unsigned("watch_count"),
        ephemerals_count: m.unsigned("ephemerals_count"),
        global_sessions: m.unsigned("global_sessions"),
        local_sessions: m.unsigned("local_sessions"),
        uptime_ms: m.unsigned("uptime"),
        open_file_descriptors: m.num("open_file_descriptor_count"),
        max_file_descriptors: m.num("max_file_descriptor_count"),
        connection_drop_probability: m.double("connection_drop_probability"),
        outstanding_tls_handshakes: m.unsigned("outstanding_tls_handshake"),
    };
    load_stats(&src.stats, &m);
    src
}

fn role(m: &Mntr) -> ServerRole {
    let quorum = || QuorumFigures {
        peer_state: m.get("peer_state").expect("peer_state").to_string(),
        quorum_size: m.unsigned("quorum_size"),
        synced_observers: m
            .get("synced_observers")
            .map(|_| m.unsigned("synced_observers")),
    };
    match m.get("server_state") {
        Some("standalone") => ServerRole::Standalone,
        Some("follower") => ServerRole::Follower(quorum()),
        Some("observer") => ServerRole::Observer(quorum()),
        Some("leader") => ServerRole::Leader(
            quorum(),
            LeaderFigures {
                learners: m.unsigned("learners"),
                synced_followers: m.unsigned("synced_followers"),
                synced_non_voting_followers: m.unsigned("synced_non_voting_followers"),
                pending_syncs: m.unsigned("pending_syncs"),
                leader_uptime_ms: m.unsigned("leader_uptime"),
                proposal_sizes: BufferSizes {
                    last: m.num("last_proposal_size") as i32,
                    min: m.num("min_proposal_size") as i32,
                    max: m.num("max_proposal_size") as i32,
                },
            },
        ),
        other => panic!("unexpected server_state {other:?}"),
    }
}

fn load_stats(stats: &ServerStats, m: &Mntr) {
    for _ in 1..m.num("packets_received") {
        stats.record_packet_received(0);
    }
    stats.record_packets_sent(m.unsigned("packets_sent"));
    for c in Counter::ALL {
        let mut v = m.unsigned(c.name());
        if *c == Counter::BytesReceivedCount {
            v -= 4;
        }
        stats.count(*c, v);
    }
    let (min, max) = (m.num("min_latency"), m.num("max_latency"));
    for v in values_with_average(m.double("avg_latency"), min, max) {
        stats.request_latency().add(v);
    }
    for _ in 0..m.num("auth_failed_count") {
        stats.record_auth_failed();
    }
    for _ in 0..m.num("non_mtls_local_conn_count") {
        stats.record_non_mtls_connection(true);
    }
    for _ in 0..m.num("non_mtls_remote_conn_count") {
        stats.record_non_mtls_connection(false);
    }
    let (last, min, max) = (
        m.num("last_client_response_size"),
        m.num("min_client_response_size"),
        m.num("max_client_response_size"),
    );
    if last != -1 {
        for size in [max, min, last] {
            stats.record_client_response_size(size as i32);
        }
    }
    for s in Summary::ALL {
        for v in summary_sample(m, s.name()) {
            stats.observe(*s, v);
        }
    }
    for set in SummarySet::ALL {
        let suffix = format!("_{}", set.name());
        for key in m.keys() {
            let Some(k) = key
                .strip_prefix("cnt_")
                .and_then(|k| k.strip_suffix(&suffix))
            else {
                continue;
            };
            for v in summary_sample(m, &format!("{k}{suffix}")) {
                stats.observe_keyed(*set, k, v);
            }
        }
    }
}

/// Values whose count, sum, min, max and median reproduce a captured summary.
fn summary_sample(m: &Mntr, name: &str) -> Vec<i64> {
    let count = m.unsigned(&format!("cnt_{name}"));
    let median = m.get(&format!("p50_{name}")).map(|v| v.parse().unwrap());
    sample(
        count,
        m.num(&format!("sum_{name}")),
        m.num(&format!("min_{name}")),
        m.num(&format!("max_{name}")),
        median,
    )
    .unwrap_or_else(|| panic!("cannot reproduce summary {name}"))
}

/// Values with the captured min, max and 4-place average (count unknown).
fn values_with_average(avg: f64, min: i64, max: i64) -> Vec<i64> {
    if avg == 0.0 && max == 0 {
        return Vec::new();
    }
    for count in 1..10_000u64 {
        let sum = (avg * count as f64).round() as i64;
        if java::average_4dp(sum, count) == avg {
            if let Some(v) = sample(count, sum, min, max, None) {
                return v;
            }
        }
    }
    panic!("no sample has average {avg} within [{min}, {max}]")
}

/// Sorted values: `count` of them, summing to `sum`, from `min` to `max`,
/// whose middle pair (the Dropwizard median's neighbours) equals `median`.
fn sample(count: u64, sum: i64, min: i64, max: i64, median: Option<i64>) -> Option<Vec<i64>> {
    let n = count as usize;
    if n == 0 {
        return (sum == 0).then(Vec::new);
    }
    let pos = 0.5 * (n as f64 + 1.0);
    let mid = (pos as usize).clamp(1, n);
    let middle = if mid >= n {
        [n - 1, n - 1]
    } else {
        [mid - 1, mid]
    };
    let m = median.unwrap_or(min);
    let mut bounds: Vec<(i64, i64)> = (0..n)
        .map(|i| match median {
            Some(_) if middle.contains(&i) => (m, m),
            Some(_) if i < middle[0] => (min, m),
            Some(_) => (m, max),
            None => (min, max),
        })
        .collect();
    bounds[0] = (bounds[0].0.max(min), bounds[0].1.min(min));
    bounds[n - 1] = (bounds[n - 1].0.max(max), bounds[n - 1].1.min(max));
    if bounds.iter().any(|(lo, hi)| lo > hi) {
        return None;
    }
    let mut values: Vec<i64> = bounds.iter().map(|b| b.0).collect();
    let mut missing = sum - values.iter().sum::<i64>();
    for (v, (_, hi)) in values.iter_mut().zip(&bounds).rev() {
        let add = missing.clamp(0, hi - *v);
        *v += add;
        missing -= add;
    }
    (missing == 0).then_some(values)
}
