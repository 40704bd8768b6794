//! The playground's members on 127.0.0.1: their ports, and their zoo.cfg
//! and myid files.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use zkd::config::{write_myid, FourLetterWhitelist, PeerRole, ServerSpec, ZooCfg};

use crate::model::Member;

pub const HOST: &str = "127.0.0.1";
/// The standard ports' family: clients 2181.., quorum 2888.., election
/// 3888..; `--base-port` moves all three together.
pub const DEFAULT_BASE_PORT: u16 = crate::cli::DEFAULT_PLAYGROUND_BASE_PORT;
const QUORUM_OFFSET: u16 = 2888 - DEFAULT_BASE_PORT;
const ELECTION_OFFSET: u16 = 3888 - DEFAULT_BASE_PORT;
/// Server ids are 1-255.
const MAX_MEMBERS: usize = 255;

/// `voters` voting members then `observers` observers, named zk1, zk2, ...
/// with myid 1, 2, ... and consecutive ports from `base_port`.
pub fn plan(voters: usize, observers: usize, base_port: u16) -> Result<Vec<Member>, String> {
    if voters == 0 {
        return Err("--members must be at least 1".into());
    }
    if observers > 0 && voters < 2 {
        return Err(
            "--observers needs --members 2 or more: a single voter runs standalone and takes no observers"
                .into(),
        );
    }
    let total = voters + observers;
    if total > MAX_MEMBERS {
        return Err(format!(
            "{total} members is too many: server ids go up to {MAX_MEMBERS}"
        ));
    }
    if base_port < 1024 {
        return Err(format!(
            "--base-port {base_port}: ports below 1024 need root; the playground runs without it"
        ));
    }
    let highest = u32::from(base_port) + u32::from(ELECTION_OFFSET) + total as u32 - 1;
    if highest > u32::from(u16::MAX) {
        let most = u32::from(u16::MAX) + 1 - u32::from(ELECTION_OFFSET) - total as u32;
        return Err(format!(
            "--base-port {base_port} puts the election ports past 65535 (up to {highest}); \
             use at most {most} for {total} members"
        ));
    }
    Ok((0..total)
        .map(|i| {
            let offset = i as u16;
            let myid = i as u64 + 1;
            Member {
                name: format!("zk{myid}"),
                address: HOST.into(),
                myid,
                observer: i >= voters,
                client_port: base_port + offset,
                quorum_port: base_port + QUORUM_OFFSET + offset,
                election_port: base_port + ELECTION_OFFSET + offset,
            }
        })
        .collect())
}

/// Every port the members would listen on, with what it is for.
fn ports(members: &[Member]) -> impl Iterator<Item = (u16, String)> + '_ {
    members.iter().flat_map(|m| {
        [
            (m.client_port, format!("{}'s client port", m.name)),
            (m.quorum_port, format!("{}'s quorum port", m.name)),
            (m.election_port, format!("{}'s election port", m.name)),
        ]
    })
}

fn taken(members: &[Member]) -> Vec<(u16, String, std::io::Error)> {
    ports(members)
        .filter_map(|(port, what)| {
            TcpListener::bind((HOST, port))
                .err()
                .map(|e| (port, what, e))
        })
        .collect()
}

/// Checks that nothing listens on the members' ports yet, naming each one
/// that is taken and suggesting a base port whose ports are all free.
pub fn check_ports_free(members: &[Member], base_port: u16) -> Result<(), String> {
    let taken = taken(members);
    if taken.is_empty() {
        return Ok(());
    }
    let mut message = String::from("ports already in use on 127.0.0.1:");
    for (port, what, e) in &taken {
        message.push_str(&format!("\n  {port} ({what}): {e}"));
    }
    let voters = members.iter().filter(|m| !m.observer).count();
    let suggestion = (1..=5u16)
        .filter_map(|k| base_port.checked_add(10_000 * k))
        .find(|&base| {
            plan(voters, members.len() - voters, base).is_ok_and(|alt| self::taken(&alt).is_empty())
        });
    match suggestion {
        Some(base) => message.push_str(&format!("\nmove them with --base-port {base}")),
        None => message.push_str("\nmove them with --base-port"),
    }
    Err(message)
}

/// `<dir>/<name>`: the member's zoo.cfg, data/ and zkd.log.
pub fn member_dir(dir: &Path, member: &Member) -> PathBuf {
    dir.join(&member.name)
}

pub fn config_path(dir: &Path, member: &Member) -> PathBuf {
    member_dir(dir, member).join("zoo.cfg")
}

pub fn log_path(dir: &Path, member: &Member) -> PathBuf {
    member_dir(dir, member).join("zkd.log")
}

/// The zoo.cfg of `member` in an ensemble of `members` whose files live
/// under `dir` (an absolute path).
pub fn zoo_cfg(dir: &Path, members: &[Member], member: &Member) -> ZooCfg {
    let mut cfg = ZooCfg::with_defaults(member_dir(dir, member).join("data"));
    // The values ZooKeeper's own examples use.
    cfg.tick_time_ms = 2000;
    cfg.init_limit = 10;
    cfg.sync_limit = 5;
    // A playground is for looking inside: every four-letter word.
    cfg.four_letter_words = FourLetterWhitelist::All;
    // Apache ZooKeeper run on these files would otherwise start one
    // AdminServer per member, all on port 8080.
    cfg.admin_enable_server = false;
    cfg.client_port = Some(member.client_port);
    cfg.client_port_address = HOST.parse().ok();
    if member.observer {
        cfg.peer_type = PeerRole::Observer;
    }
    if members.len() == 1 {
        // Standalone: a lone server line would only draw a warning.
        return cfg;
    }
    cfg.servers = members
        .iter()
        .map(|m| {
            let spec = ServerSpec {
                id: m.myid,
                host: HOST.into(),
                quorum_port: m.quorum_port,
                election_port: m.election_port,
                alt_addrs: Vec::new(),
                role: if m.observer {
                    PeerRole::Observer
                } else {
                    PeerRole::Participant
                },
                client_addr: Some((Some(HOST.into()), m.client_port)),
            };
            (m.myid, spec)
        })
        .collect();
    cfg
}

/// Writes every member's zoo.cfg and data/myid under `dir`, checked by
/// zkd's own rules first.
pub fn write_files(dir: &Path, members: &[Member]) -> Result<(), String> {
    for member in members {
        let path = config_path(dir, member);
        let cfg = zoo_cfg(dir, members, member);
        cfg.validate(&path)
            .and_then(|_| cfg.check_myid(&path, Some(member.myid)))
            .map_err(|e| format!("the playground's own zoo.cfg is refused: {e}"))?;
        fs::create_dir_all(&cfg.data_dir)
            .map_err(|e| format!("{}: cannot create: {e}", cfg.data_dir.display()))?;
        fs::write(&path, cfg.render())
            .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
        write_myid(&cfg.data_dir, member.myid)
            .map_err(|e| format!("{}: cannot write myid: {e}", cfg.data_dir.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_plan_is_the_standard_ports() {
        let members = plan(3, 1, DEFAULT_BASE_PORT).unwrap();
        let ports: Vec<(&str, u64, bool, u16, u16, u16)> = members
            .iter()
            .map(|m| {
                (
                    m.name.as_str(),
                    m.myid,
                    m.observer,
                    m.client_port,
                    m.quorum_port,
                    m.election_port,
                )
            })
            .collect();
        assert_eq!(
            ports,
            [
                ("zk1", 1, false, 2181, 2888, 3888),
                ("zk2", 2, false, 2182, 2889, 3889),
                ("zk3", 3, false, 2183, 2890, 3890),
                ("zk4", 4, true, 2184, 2891, 3891),
            ]
        );
        let moved = plan(3, 0, 40000).unwrap();
        assert_eq!(
            (
                moved[2].client_port,
                moved[2].quorum_port,
                moved[2].election_port
            ),
            (40002, 40709, 41709)
        );
    }

    #[test]
    fn impossible_plans_say_why() {
        assert!(plan(0, 0, 2181).unwrap_err().contains("--members"));
        assert!(plan(1, 1, 2181).unwrap_err().contains("standalone"));
        assert!(plan(200, 56, 2181).unwrap_err().contains("255"));
        assert!(plan(3, 0, 80).unwrap_err().contains("root"));
        let err = plan(3, 0, 65000).unwrap_err();
        assert!(err.contains("at most 63826"), "{err}");
        assert!(plan(3, 0, 63826).is_ok());
        assert!(plan(3, 0, 63827).is_err());
    }

    #[test]
    fn a_taken_port_is_named() {
        let holder = TcpListener::bind((HOST, 0)).unwrap();
        let port = holder.local_addr().unwrap().port();
        let members = plan(3, 0, port - 1).unwrap();
        let err = check_ports_free(&members, port - 1).unwrap_err();
        assert!(
            err.contains(&format!("{port} (zk2's client port)")),
            "{err}"
        );
        assert!(err.contains("--base-port"), "{err}");
    }

    #[test]
    fn a_single_member_is_a_plain_standalone_server() {
        let members = plan(1, 0, 40000).unwrap();
        let cfg = zoo_cfg(Path::new("/pg"), &members, &members[0]);
        assert!(cfg.servers.is_empty());
        assert!(cfg.is_standalone());
        assert_eq!(
            cfg.client_listen_addr(Some(1)).unwrap(),
            Some("127.0.0.1:40000".parse().unwrap())
        );
    }

    #[test]
    fn the_files_read_back_through_zkds_parser() {
        let dir = tempfile::tempdir().unwrap();
        let members = plan(3, 1, 40000).unwrap();
        write_files(dir.path(), &members).unwrap();
        let observer = &members[3];
        let loaded = ZooCfg::from_file(&config_path(dir.path(), observer)).unwrap();
        assert_eq!(loaded.cfg, zoo_cfg(dir.path(), &members, observer));
        assert_eq!(loaded.cfg.peer_type, PeerRole::Observer);
        assert_eq!(loaded.cfg.servers.len(), 4);
        assert_eq!(loaded.cfg.participants().count(), 3);
        assert!(loaded.cfg.four_letter_words.allows("mntr"));
        let data = dir.path().join("zk4").join("data");
        assert_eq!(zkd::config::read_myid(&data).unwrap(), Some(4));
        assert_eq!(
            loaded.cfg.client_listen_addr(Some(4)).unwrap(),
            Some("127.0.0.1:40003".parse().unwrap())
        );
    }
}
