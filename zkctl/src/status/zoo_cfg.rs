//! Members from a zoo.cfg's `server.N` lines, for `zkctl status --config`
//! (any member's zoo.cfg lists them all).

use std::net::IpAddr;

use zkd::config::{PeerRole, ZooCfg};

use crate::model::Member;

/// One member per `server.N` line, named `server.N`. Each is probed on the
/// client address of its own line (`;[host:]port`), else on `clientPort`;
/// a wildcard or absent client host means the member's own host. Without
/// server lines, the one standalone server (myid 0, as ZooKeeper numbers
/// it) on `clientPortAddress:clientPort`, or 127.0.0.1 for all addresses.
pub fn members_from_zoo_cfg(cfg: &ZooCfg) -> Result<Vec<Member>, String> {
    if cfg.servers.is_empty() {
        let port = cfg
            .client_port
            .ok_or("neither server.N lines nor clientPort: nothing to probe")?;
        let address = cfg
            .client_port_address
            .filter(|ip| !ip.is_unspecified())
            .map_or_else(|| "127.0.0.1".to_string(), |ip| ip.to_string());
        return Ok(vec![Member {
            name: "standalone".into(),
            address,
            myid: 0,
            observer: false,
            client_port: port,
            quorum_port: 0,
            election_port: 0,
        }]);
    }
    cfg.servers
        .values()
        .map(|spec| {
            let (host, port) = match &spec.client_addr {
                Some((host, port)) => (host.clone(), *port),
                None => match cfg.client_port {
                    Some(port) => (cfg.client_port_address.map(|ip| ip.to_string()), port),
                    None => {
                        return Err(format!(
                            "server.{} has no client port (no ;port on its line and no clientPort)",
                            spec.id
                        ))
                    }
                },
            };
            let wildcard = |h: &String| h.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
            let address = host
                .filter(|h| !wildcard(h))
                .unwrap_or_else(|| spec.host.clone());
            Ok(Member {
                name: format!("server.{}", spec.id),
                address,
                myid: spec.id,
                observer: spec.role == PeerRole::Observer,
                client_port: port,
                quorum_port: spec.quorum_port,
                election_port: spec.election_port,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cfg(text: &str) -> ZooCfg {
        ZooCfg::parse_str(text, Path::new("zoo.cfg")).unwrap().cfg
    }

    #[test]
    fn client_addresses_come_from_the_server_lines_or_client_port() {
        let members = members_from_zoo_cfg(&cfg(
            "dataDir=/tmp/x\nclientPort=2181\ninitLimit=5\nsyncLimit=2\n\
             server.1=10.0.0.1:2888:3888\n\
             server.2=10.0.0.2:2888:3888;0.0.0.0:2182\n\
             server.3=10.0.0.3:2888:3888:observer;10.9.9.9:2183\n",
        ))
        .unwrap();
        let endpoints: Vec<(String, String, bool)> = members
            .iter()
            .map(|m| (m.name.clone(), m.client_endpoint(), m.observer))
            .collect();
        assert_eq!(
            endpoints,
            [
                ("server.1".into(), "10.0.0.1:2181".into(), false),
                ("server.2".into(), "10.0.0.2:2182".into(), false),
                ("server.3".into(), "10.9.9.9:2183".into(), true),
            ]
        );
        assert_eq!(members[2].quorum_port, 2888);
        assert_eq!(members[2].election_port, 3888);
    }

    #[test]
    fn a_standalone_config_is_one_member() {
        let members = members_from_zoo_cfg(&cfg("dataDir=/tmp/x\nclientPort=2181\n")).unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!(members[0].client_endpoint(), "127.0.0.1:2181");
        let members = members_from_zoo_cfg(&cfg(
            "dataDir=/tmp/x\nclientPort=2182\nclientPortAddress=10.1.1.1\n",
        ))
        .unwrap();
        assert_eq!(members[0].client_endpoint(), "10.1.1.1:2182");
        let err = members_from_zoo_cfg(&ZooCfg::with_defaults("/tmp/x".into())).unwrap_err();
        assert!(err.contains("clientPort"), "{err}");
    }

    #[test]
    fn a_member_without_client_port_is_named() {
        let mut c = cfg("dataDir=/tmp/x\ninitLimit=5\nsyncLimit=2\n\
             server.1=10.0.0.1:2888:3888;2181\nserver.2=10.0.0.2:2888:3888;2181\n");
        c.servers.get_mut(&2).unwrap().client_addr = None;
        let err = members_from_zoo_cfg(&c).unwrap_err();
        assert!(err.contains("server.2"), "{err}");
    }
}
