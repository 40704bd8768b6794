//! The quorum configuration text version-2 notifications carry: what 3.8's
//! majority `QuorumVerifier.toString()` prints. A 3.8 peer parses it and, if
//! its `version` is newer than its own, reconfigures, so a zkd server must
//! describe the ensemble exactly as a 3.8 server of the same zoo.cfg would.

use crate::config::{PeerRole, ServerSpec};
use std::fmt::Write;

/// One `server.N=...` line per member, in id order, then `version=<hex>`
/// (no newline after it). Per member: its addresses sorted by host as
/// `host:quorumPort:electionPort` joined by `|`, then `:participant` or
/// `:observer`, then `;clientHost:clientPort` when the line gave a client
/// address (a bare port means all interfaces, printed as 0.0.0.0).
pub fn quorum_config_text<'a>(
    servers: impl IntoIterator<Item = &'a ServerSpec>,
    version: i64,
) -> String {
    let mut servers: Vec<&ServerSpec> = servers.into_iter().collect();
    servers.sort_by_key(|s| s.id);
    let mut out = String::new();
    for server in servers {
        let mut addrs = server.addrs();
        addrs.sort_by(|a, b| a.host.cmp(&b.host));
        let addrs: Vec<String> = addrs
            .iter()
            .map(|a| {
                format!(
                    "{}:{}:{}",
                    delimited(&a.host),
                    a.quorum_port,
                    a.election_port
                )
            })
            .collect();
        let role = match server.role {
            PeerRole::Participant => "participant",
            PeerRole::Observer => "observer",
        };
        let _ = write!(out, "server.{}={}:{role}", server.id, addrs.join("|"));
        if let Some((host, port)) = &server.client_addr {
            let host = host.as_deref().unwrap_or("0.0.0.0");
            let _ = write!(out, ";{}:{port}", delimited(host));
        }
        out.push('\n');
    }
    let _ = write!(out, "version={:x}", version as u64);
    out
}

/// IPv6 literals in brackets, as 3.8 delimits them.
fn delimited(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_members_in_id_order_with_roles_and_client_addresses() {
        let mut observer = ServerSpec::new(4, "::1", 2891, 3891);
        observer.role = PeerRole::Observer;
        let mut with_client = ServerSpec::new(2, "127.0.0.2", 2888, 3888);
        with_client.client_addr = Some((None, 2181));
        let mut with_client_host = ServerSpec::new(1, "127.0.0.1", 2888, 3888);
        with_client_host.client_addr = Some((Some("127.0.0.1".into()), 2182));
        let text = quorum_config_text([&observer, &with_client, &with_client_host], 0x1_0000_0000);
        assert_eq!(
            text,
            "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2182\n\
             server.2=127.0.0.2:2888:3888:participant;0.0.0.0:2181\n\
             server.4=[::1]:2891:3891:observer\n\
             version=100000000"
        );
    }

    #[test]
    fn several_addresses_are_sorted_by_host() {
        let s = ServerSpec::parse(3, "zz.example:1:2|aa.example:3:4").unwrap();
        assert_eq!(
            quorum_config_text([&s], 0),
            "server.3=aa.example:3:4|zz.example:1:2:participant\nversion=0"
        );
    }
}
