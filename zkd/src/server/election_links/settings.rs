//! What [`ElectionLinks::start`](super::ElectionLinks::start) needs, read
//! from zoo.cfg the way 3.8 reads it.

use crate::config::{ServerSpec, ZooCfg};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Arguments for `ElectionLinks::start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSettings {
    /// Our election address, or the wildcard with `quorumListenOnAllIPs`.
    pub listen: SocketAddr,
    /// Our election address(es) as the hello announces them: resolved IPs,
    /// `host:port` joined by `|` (3.8 formats resolved addresses the same way).
    pub my_addr_string: String,
    /// Every other member's election addresses, by id.
    pub peers: HashMap<u64, Vec<(String, u16)>>,
    /// `cnxTimeout` (ms) from zoo.cfg, else 3.8's 5 s.
    pub connect_timeout: Duration,
}

impl LinkSettings {
    /// Settings for server `my_id`. Only the first of several addresses is
    /// listened on. Fails if `my_id` has no `server.N` line, its host does
    /// not resolve, or `cnxTimeout` is not a positive number of ms.
    pub async fn from_config(cfg: &ZooCfg, my_id: u64) -> io::Result<LinkSettings> {
        let me = cfg.servers.get(&my_id).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no server.{my_id} line for this server's election address"),
            )
        })?;
        let mut announced = Vec::new();
        for addr in me.addrs() {
            announced.push(resolve(&addr.host, addr.election_port).await?);
        }
        let first = announced[0];
        let listen = if cfg.quorum_listen_on_all_ips {
            let any = if first.is_ipv6() {
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            };
            SocketAddr::new(any, first.port())
        } else {
            first
        };
        let my_addr_string = announced
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join("|");
        Ok(LinkSettings {
            listen,
            my_addr_string,
            peers: peers(cfg.servers.values(), my_id),
            connect_timeout: connect_timeout(cfg)?,
        })
    }
}

/// Election addresses of every server but `my_id`, in file order.
pub fn peers<'a>(
    servers: impl IntoIterator<Item = &'a ServerSpec>,
    my_id: u64,
) -> HashMap<u64, Vec<(String, u16)>> {
    servers
        .into_iter()
        .filter(|s| s.id != my_id)
        .map(|s| {
            let addrs = s.addrs().into_iter().map(|a| (a.host, a.election_port));
            (s.id, addrs.collect())
        })
        .collect()
}

fn connect_timeout(cfg: &ZooCfg) -> io::Result<Duration> {
    match cfg.system_property("cnxTimeout") {
        None => Ok(super::DEFAULT_CONNECT_TIMEOUT),
        Some(text) => match text.trim().parse::<u64>() {
            Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cnxTimeout '{text}' is not a positive number of milliseconds"),
            )),
        },
    }
}

async fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    let mut found = tokio::net::lookup_host((host, port)).await.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot resolve election host {host}: {e}"),
        )
    })?;
    found.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("election host {host} has no address"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cfg(extra: &str) -> ZooCfg {
        let text = format!(
            "tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir=/tmp/zkd-settings-test\n\
             server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.2:2888:3888\n\
             server.3=[::1]:2889:3889:observer\n{extra}"
        );
        ZooCfg::parse_str(&text, Path::new("zoo.cfg")).unwrap().cfg
    }

    #[tokio::test]
    async fn reads_addresses_peers_and_timeout() {
        let s = LinkSettings::from_config(&cfg("cnxTimeout=1500\n"), 1)
            .await
            .unwrap();
        assert_eq!(s.listen, "127.0.0.1:3888".parse().unwrap());
        assert_eq!(s.my_addr_string, "127.0.0.1:3888");
        assert_eq!(s.connect_timeout, Duration::from_millis(1500));
        assert_eq!(
            s.peers,
            HashMap::from([
                (2, vec![("127.0.0.2".to_string(), 3888)]),
                (3, vec![("::1".to_string(), 3889)]),
            ])
        );
        let v6 = LinkSettings::from_config(&cfg(""), 3).await.unwrap();
        assert_eq!(v6.my_addr_string, "[::1]:3889");
        assert_eq!(v6.connect_timeout, Duration::from_secs(5));
    }

    #[tokio::test]
    async fn listen_on_all_ips_uses_the_wildcard() {
        let s = LinkSettings::from_config(&cfg("quorumListenOnAllIPs=true\n"), 2)
            .await
            .unwrap();
        assert_eq!(s.listen, "0.0.0.0:3888".parse().unwrap());
        assert_eq!(s.my_addr_string, "127.0.0.2:3888");
    }

    #[tokio::test]
    async fn bad_settings_are_named() {
        let missing = LinkSettings::from_config(&cfg(""), 9).await.unwrap_err();
        assert_eq!(
            missing.to_string(),
            "no server.9 line for this server's election address"
        );
        let bad = LinkSettings::from_config(&cfg("cnxTimeout=soon\n"), 1)
            .await
            .unwrap_err();
        assert_eq!(
            bad.to_string(),
            "cnxTimeout 'soon' is not a positive number of milliseconds"
        );
    }
}
