//! `srvr`, `stat` and `cons`: the server summary and the per-connection
//! lines (3.8's `StatCommand`, `ServerStats.toString`, `ConsCommand` and
//! `ServerCnxn.dumpConnectionInfo`).

use crate::fourletter::java;
use crate::fourletter::source::{ConnInfo, Figures, ServerRole};
use crate::fourletter::stats::ServerStats;
use crate::fourletter::version;
use std::fmt::Write;

/// `srvr` (`with_clients` false) and `stat` (true).
pub fn stat(
    role: &ServerRole,
    stats: &ServerStats,
    figures: &Figures,
    connections: &[ConnInfo],
    with_clients: bool,
) -> String {
    let mut out = format!("Zookeeper version: {}\n", version::full_version());
    if *role == ServerRole::ReadOnly {
        out.push_str("READ-ONLY mode; serving only read-only clients\n");
    }
    if with_clients {
        out.push_str("Clients:\n");
        for c in connections {
            out.push_str(&connection_line(c, true));
            out.push('\n');
        }
        out.push('\n');
    }
    let latency = stats.request_latency();
    let _ = write!(
        out,
        "Latency min/avg/max: {}/{}/{}\n\
         Received: {}\n\
         Sent: {}\n\
         Connections: {}\n\
         Outstanding: {}\n\
         Zxid: 0x{}\n\
         Mode: {}\n\
         Node count: {}\n",
        latency.min(),
        java::double_to_string(latency.avg()),
        latency.max(),
        stats.packets_received(),
        stats.packets_sent(),
        figures.alive_connections,
        figures.outstanding_requests,
        java::hex(figures.last_zxid),
        role.mode(),
        figures.node_count,
    );
    if let ServerRole::Leader(_, leader) = role {
        let p = leader.proposal_sizes;
        let _ = writeln!(
            out,
            "Proposal sizes last/min/max: {}/{}/{}",
            p.last, p.min, p.max
        );
    }
    out
}

/// `cons`: every connection in full, then an empty line.
pub fn cons(connections: &[ConnInfo]) -> String {
    let mut out = String::new();
    for c in connections {
        out.push_str(&connection_line(c, false));
        out.push('\n');
    }
    out.push('\n');
    out
}

/// One connection as `dumpConnectionInfo` prints it; `brief` (for `stat`)
/// stops after the packet counts.
pub fn connection_line(c: &ConnInfo, brief: bool) -> String {
    let interest = match c.interest_ops {
        0 => "0".to_string(),
        ops => format!("{ops:x}"),
    };
    let mut out = format!(
        " {}[{}](queued={},recved={},sent={}",
        java::socket_addr_to_string(&c.remote),
        interest,
        c.outstanding_requests,
        c.stats.packets_received,
        c.stats.packets_sent,
    );
    if let Some(session) = c.session.as_ref().filter(|s| !brief && s.session_id != 0) {
        let s = &c.stats;
        let _ = write!(
            out,
            ",sid=0x{},lop={},est={},to={}",
            java::hex(session.session_id),
            s.last_op,
            session.established_ms,
            session.timeout_ms
        );
        if s.last_cxid >= 0 {
            let _ = write!(out, ",lcxid=0x{}", java::hex(s.last_cxid));
        }
        let _ = write!(
            out,
            ",lzxid=0x{},lresp={},llat={},minlat={},avglat={},maxlat={}",
            java::hex(s.last_zxid),
            s.last_response_time_ms,
            s.last_latency_ms,
            s.min_latency_ms(),
            s.avg_latency_ms(),
            s.max_latency_ms()
        );
    }
    out.push(')');
    out
}
