//! `server.N` lines: the ensemble membership.
//!
//! Syntax, as ZooKeeper 3.8's `QuorumPeer.QuorumServer` reads it:
//! `host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]`,
//! with IPv6 literals in brackets (`[::1]:2888:3888`) and, since 3.6, several
//! addresses for one server separated by `|` (allowed only with
//! `multiAddress.enabled=true`, checked by the caller). As in Java's
//! `String.split`, empty trailing fields are ignored, so `h:2888:3888:` and
//! `h:2888:3888;` are accepted. Host names are kept as written, not resolved.

use std::fmt;
use std::net::Ipv6Addr;

/// Whether a server votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PeerRole {
    /// Votes in elections and counts towards quorums (ZooKeeper's default).
    #[default]
    Participant,
    /// Follows the leader without voting.
    Observer,
}

impl PeerRole {
    /// Parses `participant`/`observer`, case-insensitively and trimmed, as
    /// ZooKeeper does for both the server line suffix and `peerType`.
    pub fn parse(s: &str) -> Option<PeerRole> {
        match s.trim().to_ascii_lowercase().as_str() {
            "participant" => Some(PeerRole::Participant),
            "observer" => Some(PeerRole::Observer),
            _ => None,
        }
    }

    /// The word used in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerRole::Participant => "participant",
            PeerRole::Observer => "observer",
        }
    }
}

impl fmt::Display for PeerRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One address a server can be reached at by its peers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerAddr {
    /// Host name or IP literal, without IPv6 brackets.
    pub host: String,
    /// Port followers use to connect to the leader.
    pub quorum_port: u16,
    /// Port used for leader election.
    pub election_port: u16,
}

/// One `server.N` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// N, the server id; matches the `myid` file of that server.
    pub id: u64,
    /// Host name or IP literal of the first address, without IPv6 brackets.
    pub host: String,
    /// Quorum (follower-to-leader) port of the first address.
    pub quorum_port: u16,
    /// Election port of the first address.
    pub election_port: u16,
    /// Further addresses after `|` (3.6+ multi-address), in file order.
    pub alt_addrs: Vec<PeerAddr>,
    /// Participant (voter) or observer.
    pub role: PeerRole,
    /// The `;[host:]port` client address part; host `None` means all
    /// interfaces (ZooKeeper's 0.0.0.0).
    pub client_addr: Option<(Option<String>, u16)>,
}

impl ServerSpec {
    /// A participant with one address and no client address.
    pub fn new(id: u64, host: impl Into<String>, quorum_port: u16, election_port: u16) -> Self {
        ServerSpec {
            id,
            host: host.into(),
            quorum_port,
            election_port,
            alt_addrs: Vec::new(),
            role: PeerRole::Participant,
            client_addr: None,
        }
    }

    /// Every peer address, the first one included.
    pub fn addrs(&self) -> Vec<PeerAddr> {
        let first = PeerAddr {
            host: self.host.clone(),
            quorum_port: self.quorum_port,
            election_port: self.election_port,
        };
        std::iter::once(first)
            .chain(self.alt_addrs.iter().cloned())
            .collect()
    }

    /// Parses the value of a `server.<id>` line. The error says what is wrong
    /// with the value; the caller adds file, line and key.
    pub fn parse(id: u64, value: &str) -> Result<ServerSpec, String> {
        let parts = java_split(value, ';');
        if parts.len() > 2 {
            return Err(format!(
                "'{value}' has more than one ';' (expected host:port:port[:role][;[host:]port])"
            ));
        }
        let server_part = parts.first().copied().unwrap_or("");
        let client_addr = parts.get(1).map(|c| parse_client(c)).transpose()?;
        let mut addrs = Vec::new();
        let mut role: Option<PeerRole> = None;
        for address in java_split(server_part, '|') {
            let fields = host_and_ports(address)?;
            if !(3..=4).contains(&fields.len()) {
                return Err(format!(
                    "'{address}' is not host:quorumPort:electionPort[:participant|:observer]"
                ));
            }
            let host = check_host(&fields[0])?;
            let quorum_port = parse_port(&fields[1], "quorum port")?;
            let election_port = parse_port(&fields[2], "election port")?;
            if quorum_port == election_port {
                return Err(format!(
                    "quorum and election ports must differ, both are {quorum_port}"
                ));
            }
            if let Some(word) = fields.get(3) {
                let this = PeerRole::parse(word).ok_or_else(|| {
                    format!("unknown server role '{word}' (expected participant or observer)")
                })?;
                if role.is_some_and(|r| r != this) {
                    return Err("all addresses of one server must have the same role".to_string());
                }
                role = Some(this);
            }
            addrs.push(PeerAddr {
                host,
                quorum_port,
                election_port,
            });
        }
        let mut addrs = addrs.into_iter();
        let first = addrs
            .next()
            .ok_or_else(|| "no server address given (expected host:port:port)".to_string())?;
        Ok(ServerSpec {
            id,
            host: first.host,
            quorum_port: first.quorum_port,
            election_port: first.election_port,
            alt_addrs: addrs.collect(),
            role: role.unwrap_or_default(),
            client_addr,
        })
    }
}

/// Renders the value of the `server.N` line (without `server.N=`).
impl fmt::Display for ServerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.addrs().iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            write!(
                f,
                "{}:{}:{}",
                bracket(&a.host),
                a.quorum_port,
                a.election_port
            )?;
        }
        if self.role == PeerRole::Observer {
            f.write_str(":observer")?;
        }
        match &self.client_addr {
            Some((Some(host), port)) => write!(f, ";{}:{port}", bracket(host)),
            Some((None, port)) => write!(f, ";{port}"),
            None => Ok(()),
        }
    }
}

/// Brackets a host that holds colons (an IPv6 literal), as ZooKeeper writes it.
pub(crate) fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// `String.split(sep)` as Java does it: trailing empty fields are dropped.
fn java_split(s: &str, sep: char) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts
}

/// Splits `host:port[:...]`, honouring an IPv6 literal in brackets.
fn host_and_ports(s: &str) -> Result<Vec<String>, String> {
    let Some(inner) = s.strip_prefix('[') else {
        return Ok(java_split(s, ':').into_iter().map(str::to_string).collect());
    };
    let close = inner
        .find(']')
        .ok_or_else(|| format!("'{s}' starts with '[' but has no matching ']'"))?;
    let host = &inner[..close];
    let rest = &inner[close + 1..];
    if rest.is_empty() {
        return Ok(vec![host.to_string()]);
    }
    let ports = rest
        .strip_prefix(':')
        .ok_or_else(|| format!("'{s}' needs ':' after ']'"))?;
    if ports.is_empty() {
        return Err(format!("'{s}' has no port after the colon"));
    }
    let mut fields = vec![host.to_string()];
    fields.extend(java_split(ports, ':').into_iter().map(str::to_string));
    Ok(fields)
}

fn check_host(host: &str) -> Result<String, String> {
    if host.is_empty() {
        return Err("host is empty".to_string());
    }
    if let Some(bad) = host
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, '[' | ']' | '|' | ';' | '/'))
    {
        return Err(format!("host '{host}' contains '{bad}'"));
    }
    if host.contains(':')
        && host
            .split('%')
            .next()
            .unwrap_or("")
            .parse::<Ipv6Addr>()
            .is_err()
    {
        return Err(format!("host '{host}' is not a valid IPv6 address"));
    }
    Ok(host.to_string())
}

fn parse_port(s: &str, what: &str) -> Result<u16, String> {
    let n: i64 = crate::config::keys::parse_java_int(s)
        .map_err(|_| format!("{what} '{s}' is not a number"))?;
    match u16::try_from(n) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("{what} {n} is out of range (1-65535)")),
    }
}

fn parse_client(s: &str) -> Result<(Option<String>, u16), String> {
    let fields = host_and_ports(s)?;
    match fields.as_slice() {
        [port] => Ok((None, parse_port(port, "client port")?)),
        [host, port] => Ok((Some(check_host(host)?), parse_port(port, "client port")?)),
        _ => Err(format!("client address '{s}' is not [host:]port")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(value: &str) -> ServerSpec {
        ServerSpec::parse(7, value).unwrap_or_else(|e| panic!("{value}: {e}"))
    }

    fn err(value: &str) -> String {
        ServerSpec::parse(7, value).unwrap_err()
    }

    #[test]
    fn plain_participant() {
        assert_eq!(
            ok("zk1.example:2888:3888"),
            ServerSpec::new(7, "zk1.example", 2888, 3888)
        );
    }

    #[test]
    fn role_suffix_is_case_insensitive() {
        assert_eq!(ok("h:1:2:OBSERVER").role, PeerRole::Observer);
        assert_eq!(ok("h:1:2:Participant").role, PeerRole::Participant);
        assert_eq!(
            err("h:1:2:voter"),
            "unknown server role 'voter' (expected participant or observer)"
        );
    }

    #[test]
    fn client_part_port_only_or_host_and_port() {
        assert_eq!(ok("h:1:2;2181").client_addr, Some((None, 2181)));
        assert_eq!(
            ok("h:1:2;0.0.0.0:2181").client_addr,
            Some((Some("0.0.0.0".into()), 2181))
        );
        assert_eq!(
            ok("h:1:2:observer;[::1]:2181").client_addr,
            Some((Some("::1".into()), 2181))
        );
        assert_eq!(ok("h:1:2;").client_addr, None);
    }

    #[test]
    fn ipv6_hosts_in_brackets() {
        let s = ok("[fe80::1]:2888:3888:observer");
        assert_eq!(
            (s.host.as_str(), s.quorum_port, s.election_port),
            ("fe80::1", 2888, 3888)
        );
        assert_eq!(s.role, PeerRole::Observer);
        assert_eq!(
            err("[::1:2888:3888"),
            "'[::1:2888:3888' starts with '[' but has no matching ']'"
        );
        assert_eq!(err("[::1]:"), "'[::1]:' has no port after the colon");
        assert!(err("::1:2888:3888").contains("is not host:quorumPort:electionPort"));
        assert_eq!(
            err("[zz::1]:1:2"),
            "host 'zz::1' is not a valid IPv6 address"
        );
    }

    #[test]
    fn multiple_addresses_are_kept_in_order() {
        let s = ok("a:2888:3888|[::2]:2889:3889");
        assert_eq!(s.host, "a");
        assert_eq!(
            s.alt_addrs,
            vec![PeerAddr {
                host: "::2".into(),
                quorum_port: 2889,
                election_port: 3889
            }]
        );
        assert_eq!(s.to_string(), "a:2888:3888|[::2]:2889:3889");
        assert_eq!(
            err("a:1:2:observer|b:3:4:participant"),
            "all addresses of one server must have the same role"
        );
        assert_eq!(ok("a:1:2|b:3:4:observer").role, PeerRole::Observer);
    }

    #[test]
    fn bad_shapes_and_ports_are_rejected() {
        assert!(err("h:2888").contains("is not host:quorumPort:electionPort"));
        assert!(err("h:1:2:observer:x").contains("is not host:quorumPort:electionPort"));
        assert!(err("h:1:2;a;b").contains("more than one ';'"));
        assert_eq!(err("h:x:2"), "quorum port 'x' is not a number");
        assert_eq!(err("h:1: 2"), "election port ' 2' is not a number");
        assert_eq!(
            err("h:1:70000"),
            "election port 70000 is out of range (1-65535)"
        );
        assert_eq!(err("h:0:1"), "quorum port 0 is out of range (1-65535)");
        assert_eq!(
            err("h:5:5"),
            "quorum and election ports must differ, both are 5"
        );
        assert_eq!(
            err("h:1:2;a:b:3"),
            "client address 'a:b:3' is not [host:]port"
        );
        assert_eq!(
            err("h:1:2;99999"),
            "client port 99999 is out of range (1-65535)"
        );
        assert_eq!(err(":1:2"), "host is empty");
        assert_eq!(err("a b:1:2"), "host 'a b' contains ' '");
        assert_eq!(err(""), "no server address given (expected host:port:port)");
    }

    #[test]
    fn trailing_empty_fields_are_ignored_like_java_split() {
        assert_eq!(ok("h:1:2:"), ServerSpec::new(7, "h", 1, 2));
        assert_eq!(ok("h:1:2|"), ServerSpec::new(7, "h", 1, 2));
    }

    #[test]
    fn display_round_trips() {
        for v in [
            "h:1:2",
            "h:1:2:observer",
            "h:1:2;2181",
            "[::1]:1:2:observer;[::1]:2181",
            "a:1:2|b:3:4:observer;h:5",
        ] {
            assert_eq!(ok(v).to_string(), v);
            assert_eq!(ok(&ok(v).to_string()), ok(v));
        }
    }
}
