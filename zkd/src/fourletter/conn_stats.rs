//! Per-connection statistics, as 3.8's `ServerCnxn` keeps them for `cons`.
//! The shell owns one per client connection, records into it, and hands a
//! copy to [`super::ConnInfo`]; `crst` resets them all.

/// What `cons` prints about one connection's traffic and latency. Times are
/// milliseconds on one monotonic clock of the shell's choosing (3.8 uses
/// `System.nanoTime() / 10^6`, so its `lresp` is not a wall-clock time either).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnStats {
    pub packets_received: u64,
    pub packets_sent: u64,
    /// 4-letter abbreviation of the last request (`GETD`, `PING`, ...,
    /// from `OpCode::short_name`), `NA` before the first.
    pub last_op: &'static str,
    /// Last non-negative xid answered; -1 before the first (not printed).
    pub last_cxid: i64,
    /// zxid of the last reply header; -1 before the first.
    pub last_zxid: i64,
    pub last_response_time_ms: i64,
    pub last_latency_ms: i64,
    min_latency_ms: i64,
    max_latency_ms: i64,
    count: u64,
    total_latency_ms: i64,
}

impl Default for ConnStats {
    fn default() -> Self {
        ConnStats {
            packets_received: 0,
            packets_sent: 0,
            last_op: "NA",
            last_cxid: -1,
            last_zxid: -1,
            last_response_time_ms: 0,
            last_latency_ms: 0,
            min_latency_ms: i64::MAX,
            max_latency_ms: 0,
            count: 0,
            total_latency_ms: 0,
        }
    }
}

impl ConnStats {
    pub fn record_packet_received(&mut self) {
        self.packets_received += 1;
    }

    pub fn record_packet_sent(&mut self) {
        self.packets_sent += 1;
    }

    /// A reply to request `cxid` (`op` as `OpCode::short_name` spells it),
    /// whose header carries `zxid`, for a request that arrived at `start_ms`
    /// and was answered at `end_ms` (3.8's `updateStatsForResponse`).
    pub fn record_response(
        &mut self,
        cxid: i64,
        zxid: i64,
        op: &'static str,
        start_ms: i64,
        end_ms: i64,
    ) {
        // Negative xids are pings and other special requests: 3.8 keeps the
        // client's last real request instead.
        if cxid >= 0 {
            self.last_cxid = cxid;
        }
        self.last_zxid = zxid;
        self.last_op = op;
        self.last_response_time_ms = end_ms;
        let elapsed = end_ms - start_ms;
        self.last_latency_ms = elapsed;
        self.min_latency_ms = self.min_latency_ms.min(elapsed);
        self.max_latency_ms = self.max_latency_ms.max(elapsed);
        self.count += 1;
        self.total_latency_ms += elapsed;
    }

    /// `crst`.
    pub fn reset(&mut self) {
        *self = ConnStats::default();
    }

    /// 0 before the first response.
    pub fn min_latency_ms(&self) -> i64 {
        if self.min_latency_ms == i64::MAX {
            0
        } else {
            self.min_latency_ms
        }
    }

    /// Integer average, as 3.8 prints it for a connection.
    pub fn avg_latency_ms(&self) -> i64 {
        match self.count {
            0 => 0,
            n => self.total_latency_ms / n as i64,
        }
    }

    pub fn max_latency_ms(&self) -> i64 {
        self.max_latency_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_stats_read_like_a_new_3_8_connection() {
        let s = ConnStats::default();
        assert_eq!((s.last_op, s.last_cxid, s.last_zxid), ("NA", -1, -1));
        assert_eq!(
            (s.min_latency_ms(), s.avg_latency_ms(), s.max_latency_ms()),
            (0, 0, 0)
        );
    }

    #[test]
    fn responses_update_last_values_and_latency() {
        let mut s = ConnStats::default();
        s.record_response(0, 5, "SESS", 100, 106);
        s.record_response(-2, 6, "PING", 200, 200);
        s.record_response(1, 6, "GETD", 300, 301);
        assert_eq!((s.last_op, s.last_cxid, s.last_zxid), ("GETD", 1, 6));
        assert_eq!((s.last_response_time_ms, s.last_latency_ms), (301, 1));
        assert_eq!(
            (s.min_latency_ms(), s.avg_latency_ms(), s.max_latency_ms()),
            (0, 2, 6)
        );
        s.record_packet_received();
        s.reset();
        assert_eq!(s, ConnStats::default());
    }
}
