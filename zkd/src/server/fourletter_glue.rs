//! Connects the four-letter words to the core's state. (Interim: ruok and
//! srvr only, until the fourletter module lands.)

use super::core::Core;
use std::net::SocketAddr;

#[derive(Default)]
pub struct ServerStats {
    pub received: u64,
    pub sent: u64,
    pub min_latency: u64,
    pub max_latency: u64,
    pub total_latency: u64,
    pub count: u64,
}

impl ServerStats {
    pub fn packet_received(&mut self) {
        self.received += 1;
    }
    pub fn packet_sent(&mut self) {
        self.sent += 1;
    }
    pub fn record_latency(&mut self, ms: u64) {
        if self.count == 0 || ms < self.min_latency {
            self.min_latency = ms;
        }
        self.max_latency = self.max_latency.max(ms);
        self.total_latency += ms;
        self.count += 1;
    }
}

pub fn is_four_letter_word(first: &[u8; 4]) -> Option<[u8; 4]> {
    const WORDS: [&[u8; 4]; 18] = [
        b"conf", b"cons", b"crst", b"dirs", b"dump", b"envi", b"gtmk", b"ruok", b"stmk", b"srvr",
        b"srst", b"stat", b"wchc", b"wchp", b"wchs", b"mntr", b"isro", b"hash",
    ];
    WORDS.iter().any(|w| *w == first).then_some(*first)
}

pub fn respond(core: &mut Core, word: [u8; 4], _extra: &[u8], _peer: SocketAddr) -> String {
    match &word {
        b"ruok" => "imok".into(),
        b"srvr" => format!(
            "Zookeeper version: 3.8.0-zkd\nLatency min/avg/max: 0/0.0/0\nReceived: {}\nSent: {}\nConnections: {}\nOutstanding: {}\nZxid: 0x{:x}\nMode: standalone\nNode count: {}\n",
            core.stats.received,
            core.stats.sent,
            core.conns.len(),
            core.engine.outstanding_requests(),
            core.engine.tree().last_zxid,
            core.engine.tree().node_count()
        ),
        _ => String::new(),
    }
}
