//! What deploy puts on a host: every file with its content, mode and
//! owner, computed from the inventory alone (no I/O), so it can be shown
//! before anything changes and tested without hosts.

use super::package::Package;
use crate::inventory::{Host, Inventory};
use std::path::{Path, PathBuf};

const UNIT: &str = include_str!("../../../systemd/zkd.service");
const SYSUSERS: &str = include_str!("../../../systemd/zkd.sysusers");
const TMPFILES: &str = include_str!("../../../systemd/zkd.tmpfiles");

/// Where the data of a host lives by default: zkd.service's StateDirectory.
const STATE_DIR: &str = "/var/lib/zkd";

/// What a file is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Text(String),
    /// A local file (the binaries), streamed at upload time.
    Local(PathBuf),
}

/// Which restart a change needs once written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing: read by the next start only (myid, /etc/hosts).
    None,
    /// systemd must re-read its units, then zkd restart.
    Units,
    /// zkd must restart to use it (binary, zoo.cfg).
    Restart,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    pub path: String,
    pub content: Content,
    pub mode: u32,
    pub owner: &'static str,
    pub group: &'static str,
    pub effect: Effect,
}

/// The binaries deploy installs.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub zkd: PathBuf,
    pub zkctl: PathBuf,
}

/// Where zkd comes from on the hosts.
#[derive(Debug, Clone)]
pub enum Source {
    /// zkd and zkctl, with the repository's units, user and tmpfiles files,
    /// each written by deploy.
    Binaries(Binaries),
    /// The project's .deb or .rpm, which brings all of those.
    Package(Package),
}

/// A drop-in letting the hardened unit write data directories outside
/// its StateDirectory (ProtectSystem=strict makes everything else read-only).
fn data_dir_dropin(host: &Host) -> Option<String> {
    let outside: Vec<&Path> = host
        .data_dirs()
        .into_iter()
        .filter(|d| !d.starts_with(STATE_DIR))
        .collect();
    if outside.is_empty() {
        return None;
    }
    let paths: Vec<String> = outside.iter().map(|p| p.display().to_string()).collect();
    Some(format!(
        "# Written by zkctl: the inventory puts data outside /var/lib/zkd.\n[Service]\nReadWritePaths={}\n",
        paths.join(" ")
    ))
}

/// Files in the order they are written: the user and units (or the package
/// that brings them) first, the binaries, then the configuration zkd reads.
pub fn host_files(inv: &Inventory, host: &Host, source: &Source) -> Vec<RemoteFile> {
    let mut files = match source {
        Source::Binaries(_) => system_files(),
        Source::Package(package) => vec![package.file()],
    };
    if let Some(dropin) = data_dir_dropin(host) {
        files.push(RemoteFile {
            path: "/etc/systemd/system/zkd.service.d/zkctl-data-dirs.conf".into(),
            content: Content::Text(dropin),
            mode: 0o644,
            owner: "root",
            group: "root",
            effect: Effect::Units,
        });
    }
    if let Source::Binaries(bins) = source {
        files.extend(binary_files(bins));
    }
    files.extend(config_files(inv, host));
    files
}

/// Files written before the zkd user exists, which create it: the package,
/// or the sysusers, tmpfiles and unit files it would bring.
pub fn is_setup(file: &RemoteFile) -> bool {
    file.path.starts_with("/usr/lib/") || file.path.starts_with("/var/cache/zkctl/")
}

/// What the package would install besides the binaries.
fn system_files() -> Vec<RemoteFile> {
    let file = |path: &str, content: &str, effect| RemoteFile {
        path: path.into(),
        content: Content::Text(content.into()),
        mode: 0o644,
        owner: "root",
        group: "root",
        effect,
    };
    vec![
        file("/usr/lib/sysusers.d/zkd.conf", SYSUSERS, Effect::None),
        file("/usr/lib/tmpfiles.d/zkd.conf", TMPFILES, Effect::None),
        file("/usr/lib/systemd/system/zkd.service", UNIT, Effect::Units),
    ]
}

fn binary_files(bins: &Binaries) -> [RemoteFile; 2] {
    [
        RemoteFile {
            path: "/usr/bin/zkd".into(),
            content: Content::Local(bins.zkd.clone()),
            mode: 0o755,
            owner: "root",
            group: "root",
            effect: Effect::Restart,
        },
        RemoteFile {
            path: "/usr/bin/zkctl".into(),
            content: Content::Local(bins.zkctl.clone()),
            mode: 0o755,
            owner: "root",
            group: "root",
            effect: Effect::None,
        },
    ]
}

/// zoo.cfg and myid: the same whichever way zkd was installed.
fn config_files(inv: &Inventory, host: &Host) -> [RemoteFile; 2] {
    let cfg = inv
        .zoo_cfg_for(&host.name)
        .expect("every inventory host has a zoo.cfg");
    [
        RemoteFile {
            path: "/etc/zkd/zoo.cfg".into(),
            content: Content::Text(cfg.render()),
            mode: 0o640,
            owner: "root",
            group: "zkd",
            effect: Effect::Restart,
        },
        RemoteFile {
            path: host.myid_path().display().to_string(),
            content: Content::Text(format!("{}\n", host.myid)),
            mode: 0o644,
            owner: "zkd",
            group: "zkd",
            effect: Effect::Restart,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::test_support::{bins, three_hosts as inventory};

    #[test]
    fn every_host_gets_units_binaries_its_zoo_cfg_and_its_myid() {
        let inv = inventory("");
        let host = inv.host("zk2").unwrap();
        let files = host_files(&inv, host, &bins());
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/usr/lib/sysusers.d/zkd.conf",
                "/usr/lib/tmpfiles.d/zkd.conf",
                "/usr/lib/systemd/system/zkd.service",
                "/usr/bin/zkd",
                "/usr/bin/zkctl",
                "/etc/zkd/zoo.cfg",
                "/var/lib/zkd/myid",
            ]
        );
        let myid = files.iter().find(|f| f.path.ends_with("myid")).unwrap();
        assert_eq!(myid.content, Content::Text("2\n".into()));
        let Content::Text(cfg) = &files[5].content else {
            panic!()
        };
        assert!(cfg.contains("server.3=10.0.0.3:2888:3888"), "{cfg}");
        // The unit is the repository's own.
        assert_eq!(files[2].content, Content::Text(UNIT.into()));
    }

    #[test]
    fn data_outside_the_state_directory_gets_a_read_write_drop_in() {
        let inv = inventory("[hosts.overrides]\ndata_dir = \"/srv/zkd\"\n");
        let files = host_files(&inv, inv.host("zk3").unwrap(), &bins());
        let dropin = files
            .iter()
            .find(|f| f.path.ends_with("zkctl-data-dirs.conf"))
            .expect("a drop-in");
        assert_eq!(
            dropin.content,
            Content::Text(
                "# Written by zkctl: the inventory puts data outside /var/lib/zkd.\n[Service]\nReadWritePaths=/srv/zkd\n".into()
            )
        );
        assert!(files.iter().any(|f| f.path == "/srv/zkd/myid"));
        let others = host_files(&inv, inv.host("zk1").unwrap(), &bins());
        assert!(!others
            .iter()
            .any(|f| f.path.ends_with("zkctl-data-dirs.conf")));
    }
}

#[cfg(test)]
mod package_tests {
    use super::*;
    use crate::remote::package::PackageKind;
    use crate::remote::test_support::three_hosts;

    #[test]
    fn with_a_package_only_the_package_and_the_configuration_are_written() {
        let inv = three_hosts("");
        let source = Source::Package(Package {
            path: "/build/zkd_0.1.0-1_amd64.deb".into(),
            kind: PackageKind::Deb,
        });
        let files = host_files(&inv, inv.host("zk1").unwrap(), &source);
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/var/cache/zkctl/zkd.deb",
                "/etc/zkd/zoo.cfg",
                "/var/lib/zkd/myid"
            ]
        );
        assert!(is_setup(&files[0]) && !is_setup(&files[1]));
        assert_eq!(files[0].effect, Effect::Restart);
    }
}
