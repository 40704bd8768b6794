//! Reading the answers to `srvr` and `mntr`, as ZooKeeper 3.8 and zkd
//! print them.
//!
//! `srvr` is `Key: value` lines; `mntr` is `zk_key<TAB>value` lines. A
//! member that is electing a leader, or cut off from its quorum, answers
//! both with one sentence instead, and a word missing from
//! `4lw.commands.whitelist` is refused with another; both are told apart
//! from garbage so the status can say which it was.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;
use zkd::fourletter::ZK_NOT_SERVING;

/// What a serving member says it is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServingMode {
    Leader,
    Follower,
    Observer,
    Standalone,
    /// 3.8's `readOnlyMode.enabled` servers cut off from their quorum.
    ReadOnly,
}

impl ServingMode {
    fn parse(word: &str) -> Option<ServingMode> {
        Some(match word {
            "leader" => ServingMode::Leader,
            "follower" => ServingMode::Follower,
            "observer" => ServingMode::Observer,
            "standalone" => ServingMode::Standalone,
            "read-only" => ServingMode::ReadOnly,
            _ => return None,
        })
    }
}

/// Request latency in ms, as `srvr` prints it (`min/avg/max`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    pub min: u64,
    pub avg: f64,
    pub max: u64,
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{:.1}/{}", self.min, self.avg, self.max)
    }
}

/// A serving member's `srvr` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Srvr {
    /// `Zookeeper version:` up to `, built on`, e.g. `3.8.0-zkd.0.1.0-abc`.
    pub version: String,
    pub latency: Latency,
    /// Open client connections, this probe's own included.
    pub connections: u64,
    pub outstanding: u64,
    /// The last transaction applied.
    pub zxid: u64,
    pub mode: ServingMode,
    pub node_count: u64,
}

/// What a member answered to a four-letter word.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer<T> {
    Serving(T),
    /// "This ZooKeeper instance is not currently serving requests".
    NotServing,
    /// The word is not in the member's `4lw.commands.whitelist`.
    NotWhitelisted,
}

/// An answer that is none of the forms above.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadAnswer(pub String);

impl fmt::Display for BadAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The answers shared by every word, or `None` for a real answer.
fn special<T>(text: &str) -> Option<Answer<T>> {
    let first = text.lines().next().unwrap_or("").trim();
    if first == ZK_NOT_SERVING {
        Some(Answer::NotServing)
    } else if first.ends_with("is not executed because it is not in the whitelist.") {
        Some(Answer::NotWhitelisted)
    } else {
        None
    }
}

/// The first line of an answer, shortened, to quote it in an error.
fn quote(text: &str) -> String {
    let first = text.lines().next().unwrap_or("").trim();
    let mut quoted: String = first.chars().take(60).collect();
    if quoted.len() < first.len() {
        quoted.push('…');
    }
    format!("{quoted:?}")
}

pub fn parse_srvr(text: &str) -> Result<Answer<Srvr>, BadAnswer> {
    if let Some(special) = special(text) {
        return Ok(special);
    }
    if text.trim().is_empty() {
        return Err(BadAnswer("empty answer to srvr".into()));
    }
    let fields: HashMap<&str, &str> = text
        .lines()
        .filter_map(|line| line.split_once(": "))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let field = |key: &str| {
        fields.get(key).copied().ok_or_else(|| {
            BadAnswer(format!(
                "srvr answer without \"{key}:\" (it starts {})",
                quote(text)
            ))
        })
    };
    let number = |key: &str| {
        let value = field(key)?;
        value
            .parse::<u64>()
            .map_err(|_| BadAnswer(format!("srvr {key}: {value:?} is not a count")))
    };
    let version = field("Zookeeper version")?;
    let version = version
        .split_once(", built on")
        .map_or(version, |(v, _)| v)
        .to_string();
    let mode = field("Mode")?;
    Ok(Answer::Serving(Srvr {
        version,
        latency: parse_latency(field("Latency min/avg/max")?)?,
        connections: number("Connections")?,
        outstanding: number("Outstanding")?,
        zxid: parse_zxid(field("Zxid")?)?,
        mode: ServingMode::parse(mode)
            .ok_or_else(|| BadAnswer(format!("srvr Mode: {mode:?} is not a mode")))?,
        node_count: number("Node count")?,
    }))
}

fn parse_latency(value: &str) -> Result<Latency, BadAnswer> {
    let bad = || BadAnswer(format!("srvr latency {value:?} is not min/avg/max"));
    let mut parts = value.split('/');
    let (Some(min), Some(avg), Some(max), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    Ok(Latency {
        min: min.parse().map_err(|_| bad())?,
        avg: avg.parse().map_err(|_| bad())?,
        max: max.parse().map_err(|_| bad())?,
    })
}

/// `0x1a2b`, as Java's `Long.toHexString` writes a zxid (no padding).
pub fn parse_zxid(value: &str) -> Result<u64, BadAnswer> {
    value
        .strip_prefix("0x")
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .ok_or_else(|| BadAnswer(format!("zxid {value:?} is not 0x and hex digits")))
}

/// The part of a serving member's `mntr` answer that `srvr` lacks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mntr {
    /// `zk_peer_state`, e.g. `following - broadcast` (ensemble members only).
    pub peer_state: Option<String>,
    /// `zk_quorum_size`: the voters this member's configuration lists.
    pub quorum_size: Option<u64>,
    /// `zk_synced_followers` (leaders only).
    pub synced_followers: Option<u64>,
    /// `zk_synced_observers` (leaders only).
    pub synced_observers: Option<u64>,
}

pub fn parse_mntr(text: &str) -> Result<Answer<Mntr>, BadAnswer> {
    if let Some(special) = special(text) {
        return Ok(special);
    }
    let mut values = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Some((key, value)) = line.split_once('\t') else {
            return Err(BadAnswer(format!(
                "mntr line {:?} is not zk_key<TAB>value",
                quote(line)
            )));
        };
        values.insert(key.trim(), value.trim());
    }
    if !values.contains_key("zk_server_state") {
        return Err(BadAnswer(format!(
            "mntr answer without zk_server_state (it starts {})",
            quote(text)
        )));
    }
    let count = |key: &str| -> Result<Option<u64>, BadAnswer> {
        values
            .get(key)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| BadAnswer(format!("mntr {key}: {v:?} is not a count")))
            })
            .transpose()
    };
    Ok(Answer::Serving(Mntr {
        peer_state: values.get("zk_peer_state").map(|s| s.to_string()),
        quorum_size: count("zk_quorum_size")?,
        synced_followers: count("zk_synced_followers")?,
        synced_observers: count("zk_synced_observers")?,
    }))
}

/// The leader a systemd STATUS line names (`mode=follower leader=3 ...`,
/// as zkd's unit reports it), if it names one.
pub fn status_line_leader(line: &str) -> Option<u64> {
    line.split_whitespace()
        .find_map(|field| field.strip_prefix("leader="))
        .and_then(|id| id.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZKD_LEADER_SRVR: &str = include_str!("testdata/zkd_leader.srvr");
    const ZKD_FOLLOWER_SRVR: &str = include_str!("testdata/zkd_follower.srvr");
    const ZKD_OBSERVER_SRVR: &str = include_str!("testdata/zkd_observer.srvr");
    const ZKD_LEADER_MNTR: &str = include_str!("testdata/zkd_leader.mntr");
    const ZKD_FOLLOWER_MNTR: &str = include_str!("testdata/zkd_follower.mntr");
    const ZKD_OBSERVER_MNTR: &str = include_str!("testdata/zkd_observer.mntr");
    const ZKD_NOT_SERVING: &str = include_str!("testdata/zkd_not_serving.srvr");
    const ZKD_REFUSED_MNTR: &str = include_str!("testdata/zkd_refused.mntr");
    const APACHE_LEADER_SRVR: &str = include_str!("testdata/apache_leader.srvr");
    const APACHE_LEADER_MNTR: &str = include_str!("testdata/apache_leader.mntr");
    const APACHE_STANDALONE_SRVR: &str = include_str!("testdata/apache_standalone.srvr");

    fn serving<T: fmt::Debug>(answer: Result<Answer<T>, BadAnswer>) -> T {
        match answer {
            Ok(Answer::Serving(value)) => value,
            other => panic!("expected a serving answer, got {other:?}"),
        }
    }

    #[test]
    fn reads_a_zkd_leader() {
        let srvr = serving(parse_srvr(ZKD_LEADER_SRVR));
        assert_eq!(srvr.mode, ServingMode::Leader);
        assert!(srvr.version.starts_with("3.8.0-zkd."), "{}", srvr.version);
        assert!(!srvr.version.contains("built on"));
        assert_eq!(srvr.zxid, 0x2_0000_0003);
        assert_eq!(srvr.node_count, 6);
        assert_eq!(srvr.connections, 1);
        assert_eq!(srvr.outstanding, 0);
        let mntr = serving(parse_mntr(ZKD_LEADER_MNTR));
        assert_eq!(mntr.peer_state.as_deref(), Some("leading - broadcast"));
        assert_eq!(mntr.quorum_size, Some(3));
        assert_eq!(mntr.synced_followers, Some(2));
        assert_eq!(mntr.synced_observers, Some(1));
    }

    #[test]
    fn reads_zkd_followers_and_observers() {
        let follower = serving(parse_srvr(ZKD_FOLLOWER_SRVR));
        assert_eq!(follower.mode, ServingMode::Follower);
        assert_eq!(follower.zxid, 0x2_0000_0003);
        assert_eq!(
            serving(parse_srvr(ZKD_OBSERVER_SRVR)).mode,
            ServingMode::Observer
        );
        let mntr = serving(parse_mntr(ZKD_FOLLOWER_MNTR));
        assert_eq!(mntr.peer_state.as_deref(), Some("following - broadcast"));
        assert_eq!(mntr.synced_followers, None, "only leaders count followers");
        let mntr = serving(parse_mntr(ZKD_OBSERVER_MNTR));
        assert_eq!(mntr.peer_state.as_deref(), Some("observing - broadcast"));
        assert_eq!(mntr.quorum_size, Some(3), "observers count the voters too");
    }

    #[test]
    fn reads_apache_answers() {
        let leader = serving(parse_srvr(APACHE_LEADER_SRVR));
        assert_eq!(leader.mode, ServingMode::Leader);
        assert_eq!(leader.zxid, 0x1_0000_0000);
        assert_eq!(leader.version, "3.8.0-${mvngit.commit.id}");
        let mntr = serving(parse_mntr(APACHE_LEADER_MNTR));
        assert_eq!(mntr.synced_followers, Some(2));
        assert_eq!(mntr.quorum_size, Some(3));
        let standalone = serving(parse_srvr(APACHE_STANDALONE_SRVR));
        assert_eq!(standalone.mode, ServingMode::Standalone);
        assert_eq!(standalone.zxid, 0);
    }

    #[test]
    fn tells_not_serving_and_refusals_apart() {
        assert_eq!(parse_srvr(ZKD_NOT_SERVING), Ok(Answer::NotServing));
        assert_eq!(parse_mntr(ZKD_NOT_SERVING), Ok(Answer::NotServing));
        assert_eq!(parse_mntr(ZKD_REFUSED_MNTR), Ok(Answer::NotWhitelisted));
    }

    #[test]
    fn latency_keeps_the_average_fraction() {
        let text = ZKD_LEADER_SRVR.replace("0/0.0/0", "1/2.5/17");
        let latency = serving(parse_srvr(&text)).latency;
        assert_eq!(
            latency,
            Latency {
                min: 1,
                avg: 2.5,
                max: 17
            }
        );
        assert_eq!(latency.to_string(), "1/2.5/17");
    }

    #[test]
    fn garbage_is_an_error_naming_what_is_wrong() {
        let err = parse_srvr("HTTP/1.1 400 Bad Request\r\n").unwrap_err();
        assert!(err.0.contains("Zookeeper version"), "{err}");
        assert!(err.0.contains("HTTP/1.1 400"), "{err}");
        let err = parse_srvr(&ZKD_LEADER_SRVR.replace("Zxid: 0x", "Zxid: 1")).unwrap_err();
        assert!(err.0.contains("zxid"), "{err}");
        let err = parse_srvr(&ZKD_LEADER_SRVR.replace("Mode: leader", "Mode: boss")).unwrap_err();
        assert!(err.0.contains("boss"), "{err}");
        let err =
            parse_srvr(&ZKD_LEADER_SRVR.replace("Node count: 6", "Node count: -")).unwrap_err();
        assert!(err.0.contains("Node count"), "{err}");
        assert!(parse_srvr("").is_err());
        let err = parse_mntr("zk_version 3.8.0\n").unwrap_err();
        assert!(err.0.contains("zk_key<TAB>value"), "{err}");
        let err = parse_mntr("zk_version\t3.8.0\n").unwrap_err();
        assert!(err.0.contains("zk_server_state"), "{err}");
        let err = parse_mntr("zk_server_state\tleader\nzk_quorum_size\tthree\n").unwrap_err();
        assert!(err.0.contains("zk_quorum_size"), "{err}");
    }

    #[test]
    fn zxids_are_java_hex() {
        assert_eq!(parse_zxid("0x0"), Ok(0));
        assert_eq!(parse_zxid("0x500000001a"), Ok(0x50_0000_001a));
        assert!(parse_zxid("500000001a").is_err());
        assert!(parse_zxid("0xZZ").is_err());
    }

    #[test]
    fn the_status_line_names_the_leader() {
        assert_eq!(
            status_line_leader("mode=follower leader=3 zxid=0x500000001a clients=12"),
            Some(3)
        );
        assert_eq!(status_line_leader("mode=looking zxid=0x0 clients=0"), None);
    }
}
