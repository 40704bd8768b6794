//! The inventory: one TOML file that describes an ensemble (its settings,
//! how to reach its hosts over SSH, and each host), the input of `zkctl
//! check`, `deploy` and `status`. zkctl/README.md documents the format and
//! zkctl/examples/inventory.toml shows every key.
//!
//! [`Inventory::load`] reads and checks everything before any host is
//! touched, and reports every problem at once, each at its file, line and
//! column. The zoo.cfg of each host is built with zkd's own [`ZooCfg`] and
//! read back through zkd's parser while loading, so an inventory that
//! loads yields configurations zkd accepts.
//!
//! Module map: `diagnostic` (errors and positions), `fields` (typed values
//! out of one table), `names` (host names, addresses, `~`), `extra` (zoo.cfg
//! pass-through settings), `parse` (tables and keys), `validate` (rules
//! across hosts), `render` (zoo.cfg per host), `table` (the members table).

mod diagnostic;
mod extra;
mod fields;
mod names;
mod parse;
mod render;
mod table;
mod validate;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use toml::de::DeTable;
use zkd::config::{PeerRole, ZooCfg};

use crate::model::{Member, SshSettings};
use diagnostic::Diagnostics;
pub use diagnostic::{Diagnostic, InventoryErrors};

/// The settings every member shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnsembleSettings {
    /// Names the ensemble in /etc/hosts markers, units and status output.
    pub name: String,
    pub tick_time_ms: u32,
    pub init_limit: u32,
    pub sync_limit: u32,
}

/// One host of the inventory, with the ensemble's settings and the host's
/// overrides merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    /// IP literal or DNS name; what peers, clients and SSH use.
    pub address: String,
    /// Given in the inventory, never derived from the hosts' order.
    pub myid: u64,
    pub role: PeerRole,
    pub client_port: u16,
    pub quorum_port: u16,
    pub election_port: u16,
    /// Absolute, on the host; holds `myid` and the snapshots.
    pub data_dir: PathBuf,
    /// Absolute, on the host; the transaction log when not in `data_dir`.
    pub data_log_dir: Option<PathBuf>,
    /// zoo.cfg settings beyond the inventory's own, in file order:
    /// `[ensemble.extra]`, with this host's `[hosts.overrides.extra]`
    /// replacing equal keys and adding new ones at the end.
    pub extra: Vec<(String, String)>,
}

impl Host {
    pub fn is_observer(&self) -> bool {
        self.role == PeerRole::Observer
    }

    /// The file zkd reads its server id from.
    pub fn myid_path(&self) -> PathBuf {
        self.data_dir.join("myid")
    }

    /// The directories deploy must create, owned by zkd's user.
    pub fn data_dirs(&self) -> Vec<&Path> {
        let mut dirs = vec![self.data_dir.as_path()];
        if let Some(log) = self.data_log_dir.as_deref() {
            if log != self.data_dir {
                dirs.push(log);
            }
        }
        dirs
    }

    pub fn member(&self) -> Member {
        Member {
            name: self.name.clone(),
            address: self.address.clone(),
            myid: self.myid,
            observer: self.is_observer(),
            client_port: self.client_port,
            quorum_port: self.quorum_port,
            election_port: self.election_port,
        }
    }
}

/// A checked inventory.
#[derive(Debug, Clone)]
pub struct Inventory {
    ensemble: EnsembleSettings,
    ssh: SshSettings,
    hosts: Vec<Host>,
    /// The zoo.cfg of each host, in the order of `hosts`.
    zoo_cfgs: Vec<ZooCfg>,
    warnings: Vec<Diagnostic>,
}

impl Inventory {
    /// Reads and checks the inventory at `path`.
    pub fn load(path: &Path) -> Result<Inventory, InventoryErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| InventoryErrors {
            errors: vec![Diagnostic {
                file: path.to_path_buf(),
                at: None,
                message: format!("cannot read the inventory: {e}"),
            }],
            warnings: Vec::new(),
        })?;
        Inventory::parse(&text, path)
    }

    /// Checks inventory `text`; `path` names it in diagnostics, and its
    /// directory anchors relative SSH key paths. `~` in SSH paths is $HOME.
    pub fn parse(text: &str, path: &Path) -> Result<Inventory, InventoryErrors> {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        Inventory::parse_with_home(text, path, home.as_deref())
    }

    fn parse_with_home(
        text: &str,
        path: &Path,
        home: Option<&Path>,
    ) -> Result<Inventory, InventoryErrors> {
        let mut d = Diagnostics::new(path, text);
        let (doc, syntax_errors) = DeTable::parse_recoverable(text);
        if !syntax_errors.is_empty() {
            for e in syntax_errors {
                d.error(
                    e.span().unwrap_or(0..0),
                    format!("not valid TOML: {}", e.message()),
                );
            }
            return Err(refused(d));
        }
        let draft = parse::read(doc.get_ref(), home, &mut d);
        let hosts = validate::check(&draft, &mut d);
        let name = draft.ensemble.name.as_ref().map(|n| n.get_ref().clone());
        let (Some(name), false) = (name, d.has_errors()) else {
            return Err(refused(d));
        };
        let ensemble = EnsembleSettings {
            name,
            tick_time_ms: draft.ensemble.tick_time_ms.value,
            init_limit: draft.ensemble.init_limit.value,
            sync_limit: draft.ensemble.sync_limit.value,
        };
        let zoo_cfgs = render::zoo_cfgs(&ensemble, &draft.ensemble, &hosts, &mut d);
        if d.has_errors() {
            return Err(refused(d));
        }
        let (_, warnings) = d.finish();
        Ok(Inventory {
            ensemble,
            ssh: draft.ssh,
            hosts: hosts.into_iter().map(|(h, _)| h).collect(),
            zoo_cfgs,
            warnings,
        })
    }

    pub fn ensemble_name(&self) -> &str {
        &self.ensemble.name
    }

    pub fn ensemble(&self) -> &EnsembleSettings {
        &self.ensemble
    }

    /// Things that are allowed but probably not meant (e.g. an even number
    /// of voters), in file order.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// The hosts, in file order.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Every member, in file order.
    pub fn members(&self) -> Vec<Member> {
        self.hosts.iter().map(Host::member).collect()
    }

    /// How to reach the hosts, with `~` expanded.
    pub fn ssh_settings(&self) -> SshSettings {
        self.ssh.clone()
    }

    /// The zoo.cfg of host `name` (`None` for a name not in the
    /// inventory); `render()` gives the file's text.
    pub fn zoo_cfg_for(&self, name: &str) -> Option<&ZooCfg> {
        let i = self.hosts.iter().position(|h| h.name == name)?;
        self.zoo_cfgs.get(i)
    }
}

fn refused(d: Diagnostics) -> InventoryErrors {
    let (errors, warnings) = d.finish();
    InventoryErrors { errors, warnings }
}
