//! The types the zkctl commands share: the ensemble's members as an
//! inventory describes them, and how to reach hosts over SSH. The inventory
//! module builds them; ssh, status, deploy and playground consume them.

use std::path::PathBuf;
use std::time::Duration;

/// One member of an ensemble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The host's name in the inventory (and in /etc/hosts), e.g. `zk1`.
    pub name: String,
    /// Where the host is reached, and what its `server.N` line says: an IP
    /// literal or a DNS name.
    pub address: String,
    /// The member's N in `server.N` and in `dataDir/myid` (1-255).
    pub myid: u64,
    /// A non-voting member (`:observer`).
    pub observer: bool,
    pub client_port: u16,
    pub quorum_port: u16,
    pub election_port: u16,
}

impl Member {
    /// `address:client_port`, for four-letter words and clients.
    pub fn client_endpoint(&self) -> String {
        if self.address.contains(':') {
            format!("[{}]:{}", self.address, self.client_port)
        } else {
            format!("{}:{}", self.address, self.client_port)
        }
    }
}

/// What to do with a host key that known_hosts does not list yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostKeyPolicy {
    /// Refuse the host (the default): keys must be known beforehand.
    #[default]
    Strict,
    /// Add it to known_hosts and go on; a key that differs from a known one
    /// is still refused.
    AcceptNew,
}

/// How to reach the hosts of an inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshSettings {
    pub user: String,
    pub port: u16,
    /// A private key file; `None` uses only the agent.
    pub identity: Option<PathBuf>,
    /// Try the SSH agent ($SSH_AUTH_SOCK).
    pub use_agent: bool,
    pub known_hosts: PathBuf,
    pub host_key_policy: HostKeyPolicy,
    /// Run privileged steps through `sudo -n` (when `user` is not root).
    pub sudo: bool,
    pub connect_timeout: Duration,
    /// The longest any one remote command may take.
    pub command_timeout: Duration,
}

impl Default for SshSettings {
    fn default() -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default();
        SshSettings {
            user: "root".into(),
            port: 22,
            identity: None,
            use_agent: true,
            known_hosts: home.join(".ssh/known_hosts"),
            host_key_policy: HostKeyPolicy::Strict,
            sudo: false,
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(120),
        }
    }
}
