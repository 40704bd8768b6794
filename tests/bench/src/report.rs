//! Per-worker measurements, their merge, and the printed result.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::procinfo::Rss;

/// Latencies are kept in microseconds, from 1 us to 10 min, at 3 significant digits.
const HIST_MAX_US: u64 = 600_000_000;

pub struct Stats {
    pub latency_us: Histogram<u64>,
    pub errors: BTreeMap<String, u64>,
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            latency_us: Histogram::new_with_bounds(1, HIST_MAX_US, 3)
                .expect("static histogram bounds are valid"),
            errors: BTreeMap::new(),
        }
    }

    pub fn record_ok(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_us.saturating_record(us.max(1));
    }

    pub fn record_error(&mut self, kind: String) {
        *self.errors.entry(kind).or_insert(0) += 1;
    }

    pub fn merge(&mut self, other: Stats) {
        self.latency_us
            .add(&other.latency_us)
            .expect("histograms share their bounds");
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_insert(0) += n;
        }
    }

    pub fn ok_count(&self) -> u64 {
        self.latency_us.len()
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// Everything a load run reports.
pub struct Outcome<'a> {
    pub label: &'a str,
    pub server: &'a str,
    pub ops: &'a str,
    pub sessions: u32,
    /// TCP connections (sessions): twice `sessions` in a mixed-split run.
    pub connections: u32,
    pub inflight: u32,
    pub payload: u32,
    pub znodes_per_session: u32,
    pub parents_per_session: u32,
    pub elapsed: Duration,
    pub stats: &'a Stats,
    pub rss_before: Option<Rss>,
    pub rss_after: Option<Rss>,
}

impl Outcome<'_> {
    fn ops_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.stats.ok_count() as f64 / secs
        } else {
            0.0
        }
    }

    fn quantile_us(&self, q: f64) -> u64 {
        if self.stats.ok_count() == 0 {
            0
        } else {
            self.stats.latency_us.value_at_quantile(q)
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        let h = &self.stats.latency_us;
        let mut value = serde_json::json!({
            "label": self.label,
            "server": self.server,
            "ops": self.ops,
            "sessions": self.sessions,
            "connections": self.connections,
            "inflight": self.inflight,
            "payload": self.payload,
            "znodes_per_session": self.znodes_per_session,
            "parents_per_session": self.parents_per_session,
            "completed": self.stats.ok_count(),
            "errors": self.stats.error_count(),
            "error_kinds": self.stats.errors,
            "elapsed_s": round3(self.elapsed.as_secs_f64()),
            "ops_per_sec": self.ops_per_sec().round(),
            "latency_us": {
                "mean": if h.is_empty() { 0.0 } else { h.mean().round() },
                "p50": self.quantile_us(0.50),
                "p90": self.quantile_us(0.90),
                "p99": self.quantile_us(0.99),
                "p999": self.quantile_us(0.999),
                "max": if h.is_empty() { 0 } else { h.max() },
            },
        });
        if let Some(rss) = self.rss_before {
            value["rss_before_kib"] = rss.rss_kib.into();
        }
        if let Some(rss) = self.rss_after {
            value["rss_kib"] = rss.rss_kib.into();
            value["rss_peak_kib"] = rss.hwm_kib.into();
        }
        value
    }

    pub fn to_text(&self) -> String {
        let ms = |us: u64| us as f64 / 1e3;
        let mut line = format!(
            "{label}: {ok} ops in {secs:.2} s = {rate:.0} ops/s; latency ms p50 {p50:.2} p90 {p90:.2} \
             p99 {p99:.2} p999 {p999:.2} max {max:.2}; errors {errors}",
            label = self.label,
            ok = self.stats.ok_count(),
            secs = self.elapsed.as_secs_f64(),
            rate = self.ops_per_sec(),
            p50 = ms(self.quantile_us(0.50)),
            p90 = ms(self.quantile_us(0.90)),
            p99 = ms(self.quantile_us(0.99)),
            p999 = ms(self.quantile_us(0.999)),
            max = ms(if self.stats.ok_count() == 0 {
                0
            } else {
                self.stats.latency_us.max()
            }),
            errors = self.stats.error_count(),
        );
        for (kind, n) in &self.stats.errors {
            line.push_str(&format!(" [{n} x {kind}]"));
        }
        if let Some(rss) = self.rss_before {
            line.push_str(&format!("; server RSS before {} MiB", rss.rss_kib / 1024));
        }
        if let Some(rss) = self.rss_after {
            line.push_str(&format!(
                "; server RSS after {} MiB (peak {} MiB)",
                rss.rss_kib / 1024,
                rss.hwm_kib / 1024
            ));
        }
        line
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counts_and_errors() {
        let mut a = Stats::new();
        a.record_ok(Duration::from_micros(100));
        a.record_error("connection loss".into());
        let mut b = Stats::new();
        b.record_ok(Duration::from_micros(300));
        b.record_ok(Duration::from_nanos(10));
        b.record_error("connection loss".into());
        b.record_error("timeout".into());
        a.merge(b);
        assert_eq!(a.ok_count(), 3);
        assert_eq!(a.error_count(), 3);
        assert_eq!(a.errors["connection loss"], 2);
        // A sub-microsecond latency is recorded as 1 us, not dropped.
        assert_eq!(a.latency_us.min(), 1);
    }

    #[test]
    fn json_carries_rate_and_quantiles() {
        let mut stats = Stats::new();
        for us in 1..=1000 {
            stats.record_ok(Duration::from_micros(us));
        }
        let outcome = Outcome {
            label: "get",
            server: "127.0.0.1:2181",
            ops: "get",
            sessions: 1,
            connections: 1,
            inflight: 1,
            payload: 0,
            znodes_per_session: 1,
            parents_per_session: 1,
            elapsed: Duration::from_secs(2),
            stats: &stats,
            rss_before: None,
            rss_after: Some(Rss {
                rss_kib: 2048,
                hwm_kib: 4096,
            }),
        };
        let json = outcome.to_json();
        assert_eq!(json["completed"], 1000);
        assert_eq!(json["ops_per_sec"], 500.0);
        let p50 = json["latency_us"]["p50"].as_u64().unwrap();
        assert!((499..=501).contains(&p50), "p50 {p50}");
        assert_eq!(json["rss_kib"], 2048);
        assert!(outcome.to_text().contains("500 ops/s"));
    }
}
