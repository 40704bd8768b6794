//! `zkctl deploy --package`: the project's .deb or .rpm instead of bare
//! binaries, so that a host zkctl manages carries exactly what
//! `apt install ./zkd_*.deb` gives, upgrades through its package manager,
//! and can be removed like any package.
//!
//! The package is uploaded (compared first, like every file) and installed
//! only when it changed or is not installed. Its postinst starts the
//! default standalone server on a first install; deploy stops that one
//! again, so the member starts with its ensemble configuration like any
//! first start. An upgrade restarts nothing (the package's own rule), so
//! the new binary reaches the members through deploy's rolling restart.

use super::check::{CheckLine, Verdict};
use super::files::{Content, Effect, RemoteFile};
use super::host::{run_ok, RemoteHost};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageKind {
    Deb,
    Rpm,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub path: PathBuf,
    pub kind: PackageKind,
}

/// Where deploy keeps the package on the host, so that a redeploy of the
/// same file finds it current and installs nothing.
const CACHE_DIR: &str = "/var/cache/zkctl";

impl Package {
    /// A local .deb or .rpm, named so by its extension.
    pub fn from_path(path: &Path) -> Result<Package, String> {
        let kind = match path.extension().and_then(|e| e.to_str()) {
            Some("deb") => PackageKind::Deb,
            Some("rpm") => PackageKind::Rpm,
            _ => {
                return Err(format!(
                    "{}: not a .deb or .rpm (packaging/build.sh builds both)",
                    path.display()
                ))
            }
        };
        if !path.is_file() {
            return Err(format!("{}: no such package file", path.display()));
        }
        Ok(Package {
            path: path.to_owned(),
            kind,
        })
    }

    pub fn remote_path(&self) -> String {
        match self.kind {
            PackageKind::Deb => format!("{CACHE_DIR}/zkd.deb"),
            PackageKind::Rpm => format!("{CACHE_DIR}/zkd.rpm"),
        }
    }

    /// The package as a file deploy uploads; a new one needs a restart.
    pub fn file(&self) -> RemoteFile {
        RemoteFile {
            path: self.remote_path(),
            content: Content::Local(self.path.clone()),
            mode: 0o644,
            owner: "root",
            group: "root",
            effect: Effect::Restart,
        }
    }

    fn installed_query(&self) -> &'static str {
        match self.kind {
            PackageKind::Deb => "dpkg-query -W -f '${Status}' zkd",
            PackageKind::Rpm => "rpm -q zkd",
        }
    }

    fn install_command(&self) -> String {
        let file = self.remote_path();
        match self.kind {
            // confold: an operator's (or zkctl's) zoo.cfg is never replaced.
            PackageKind::Deb => format!(
                "DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold {file}"
            ),
            PackageKind::Rpm => format!(
                "if command -v dnf >/dev/null; then dnf install -y {file}; \
                 else rpm -U --replacepkgs {file}; fi"
            ),
        }
    }

    /// The pre-flight line: the host has the package manager this file needs.
    pub fn check(&self, remote: &mut dyn RemoteHost) -> CheckLine {
        let (tools, family) = match self.kind {
            PackageKind::Deb => ("apt-get dpkg-query", "a .deb needs Debian or Ubuntu"),
            PackageKind::Rpm => ("rpm", "an .rpm needs a distribution with rpm"),
        };
        let found = remote
            .run(&format!("command -v {tools}"), false)
            .map(|o| o.stdout.lines().count() == tools.split(' ').count())
            .unwrap_or(false);
        CheckLine {
            what: "package manager",
            verdict: if found { Verdict::Ok } else { Verdict::Fail },
            detail: if found {
                format!("{tools} present for {}", self.path.display())
            } else {
                format!("{tools} not found: {family}")
            },
        }
    }

    fn is_installed(&self, remote: &mut dyn RemoteHost) -> Result<bool, String> {
        let out = remote.run(self.installed_query(), false)?;
        Ok(match self.kind {
            PackageKind::Deb => out.ok() && out.stdout.contains("install ok installed"),
            PackageKind::Rpm => out.ok(),
        })
    }

    /// Installs the uploaded package when `uploaded` (a new file) or when it
    /// is not installed; Ok(true) when it installed something.
    pub fn install(&self, remote: &mut dyn RemoteHost, uploaded: bool) -> Result<bool, String> {
        let was_installed = self.is_installed(remote)?;
        if was_installed && !uploaded {
            return Ok(false);
        }
        let was_active = zkd_active(remote)?;
        run_ok(remote, &self.install_command(), true)?;
        if !self.is_installed(remote)? {
            return Err(format!(
                "{} ran, but the package zkd is not installed",
                self.install_command()
            ));
        }
        // A first install starts the standalone default (postinst); this
        // member is started by deploy, with its ensemble's configuration.
        if !was_active && zkd_active(remote)? {
            run_ok(remote, "systemctl stop zkd", true)?;
        }
        Ok(true)
    }
}

fn zkd_active(remote: &mut dyn RemoteHost) -> Result<bool, String> {
    Ok(remote.run("systemctl is-active --quiet zkd", false)?.ok())
}

#[cfg(test)]
mod tests {
    use super::super::host::fake::FakeHost;
    use super::*;

    fn deb() -> Package {
        Package {
            path: "/build/zkd_0.1.0-1_amd64.deb".into(),
            kind: PackageKind::Deb,
        }
    }

    #[test]
    fn the_kind_comes_from_the_extension() {
        let dir = tempfile::tempdir().unwrap();
        let rpm = dir.path().join("zkd-0.1.0-1.x86_64.rpm");
        std::fs::write(&rpm, b"x").unwrap();
        assert_eq!(Package::from_path(&rpm).unwrap().kind, PackageKind::Rpm);
        assert_eq!(
            Package::from_path(&rpm).unwrap().remote_path(),
            "/var/cache/zkctl/zkd.rpm"
        );
        let tarball = dir.path().join("zkd.tar.gz");
        std::fs::write(&tarball, b"x").unwrap();
        assert!(Package::from_path(&tarball)
            .unwrap_err()
            .contains("not a .deb or .rpm"));
        assert!(Package::from_path(&dir.path().join("gone.deb"))
            .unwrap_err()
            .contains("no such package file"));
    }

    #[test]
    fn a_first_install_stops_the_standalone_server_the_package_started() {
        let mut h = FakeHost::default();
        h.answer("systemctl is-active", 3, "");
        h.answer("dpkg-query", 1, "");
        assert!(install_with_flip(&mut h, &deb()));
        let cmds = h.commands.join("\n");
        assert!(cmds.contains("apt-get install -y -q"), "{cmds}");
        assert!(
            cmds.contains("--force-confold /var/cache/zkctl/zkd.deb"),
            "{cmds}"
        );
        assert!(cmds.ends_with("systemctl stop zkd"), "{cmds}");
    }

    /// Runs install on a host whose dpkg and systemd answers change once
    /// the install command has run, as a real host's would.
    fn install_with_flip(h: &mut FakeHost, pkg: &Package) -> bool {
        struct Flip<'a>(&'a mut FakeHost);
        impl RemoteHost for Flip<'_> {
            fn run(&mut self, cmd: &str, p: bool) -> Result<super::super::host::Output, String> {
                if cmd.contains("apt-get install") {
                    self.0.answers.clear();
                    self.0.answer("dpkg-query", 0, "install ok installed");
                    self.0.answer("systemctl is-active", 0, "");
                }
                self.0.run(cmd, p)
            }
            fn is_current(&mut self, f: &RemoteFile) -> Result<bool, String> {
                self.0.is_current(f)
            }
            fn upload(&mut self, f: &RemoteFile) -> Result<bool, String> {
                self.0.upload(f)
            }
            fn read_file(&mut self, p: &str) -> Result<Option<Vec<u8>>, String> {
                self.0.read_file(p)
            }
        }
        pkg.install(&mut Flip(h), true).unwrap()
    }

    #[test]
    fn an_installed_package_that_did_not_change_is_left_alone() {
        let mut h = FakeHost::default();
        h.answer("dpkg-query", 0, "install ok installed");
        assert!(!deb().install(&mut h, false).unwrap());
        assert!(!h.commands.iter().any(|c| c.contains("apt-get")));
    }

    #[test]
    fn an_upgrade_of_a_running_member_does_not_stop_it() {
        let mut h = FakeHost::default();
        h.answer("dpkg-query", 0, "install ok installed");
        h.answer("systemctl is-active", 0, "");
        assert!(deb().install(&mut h, true).unwrap());
        assert!(h.commands.iter().any(|c| c.contains("apt-get install")));
        assert!(!h.commands.iter().any(|c| c.contains("systemctl stop")));
    }

    #[test]
    fn a_host_without_the_package_manager_fails_the_check() {
        let mut h = FakeHost::default();
        h.answer("command -v apt-get", 1, "");
        let line = deb().check(&mut h);
        assert_eq!(line.verdict, Verdict::Fail);
        assert!(line.detail.contains("Debian or Ubuntu"), "{}", line.detail);
        let mut h = FakeHost::default();
        h.answer(
            "command -v apt-get",
            0,
            "/usr/bin/apt-get\n/usr/bin/dpkg-query\n",
        );
        assert_eq!(deb().check(&mut h).verdict, Verdict::Ok);
    }

    #[test]
    fn a_failed_install_names_the_command() {
        let mut h = FakeHost::default();
        h.answer("dpkg-query", 1, "");
        h.answer("systemctl is-active", 3, "");
        h.answer("DEBIAN_FRONTEND", 100, "E: Unable to locate package");
        let err = deb().install(&mut h, true).unwrap_err();
        assert!(err.contains("apt-get install"), "{err}");
        assert!(err.contains("exited 100"), "{err}");
    }
}
