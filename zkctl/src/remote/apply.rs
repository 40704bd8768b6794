//! Deploy's work on one host: the zkd user, units, binaries, zoo.cfg,
//! myid and the /etc/hosts block, each written only when it differs, then
//! the unit enabled. Starting and restarting are the caller's: they depend
//! on the whole ensemble.

use super::files::{host_files, is_setup, Content, Effect, RemoteFile, Source};
use super::host::{quote, run_ok, RemoteHost};
use super::progress::HostProgress;
use crate::hosts_file;
use crate::inventory::{Host, Inventory};
use std::sync::atomic::{AtomicBool, Ordering};

/// What deploy did on a host.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Files written (unchanged ones are not listed).
    pub changed: Vec<String>,
    /// zkd must restart to use what changed (binary, zoo.cfg, units).
    pub needs_restart: bool,
}

/// A host stopped at `step`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepError {
    pub step: String,
    pub error: String,
    /// What was done before it.
    pub done: Applied,
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.step, self.error)
    }
}

struct Run<'a> {
    host: &'a mut dyn RemoteHost,
    progress: &'a HostProgress,
    abort: &'a AtomicBool,
    done: Applied,
}

impl Run<'_> {
    fn step<T>(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut dyn RemoteHost) -> Result<T, String>,
    ) -> Result<T, StepError> {
        if self.abort.load(Ordering::SeqCst) {
            return Err(self.fail(name, "stopped: another host failed, or Ctrl-C".into()));
        }
        self.progress.step(name);
        f(self.host).map_err(|e| self.fail(name, e))
    }

    fn fail(&self, step: &str, error: String) -> StepError {
        StepError {
            step: step.to_owned(),
            error,
            done: self.done.clone(),
        }
    }

    fn upload(&mut self, file: &RemoteFile) -> Result<bool, StepError> {
        let changed = self.step(&format!("write {}", file.path), |h| h.upload(file))?;
        if changed {
            self.done.changed.push(file.path.clone());
            if file.effect != Effect::None {
                self.done.needs_restart = true;
            }
        }
        Ok(changed)
    }
}

/// What deploy would write on a host: the files that differ from what is
/// there, in the order deploy writes them. Reads only.
pub fn plan_host(
    remote: &mut dyn RemoteHost,
    inv: &Inventory,
    host: &Host,
    source: &Source,
) -> Result<Vec<String>, String> {
    let mut changes = Vec::new();
    for f in host_files(inv, host, source) {
        if !remote.is_current(&f)? {
            changes.push(f.path);
        }
    }
    let existing = remote.read_file("/etc/hosts")?.unwrap_or_default();
    let existing = String::from_utf8_lossy(&existing);
    if hosts_file::rewrite(&existing, inv.ensemble_name(), &inv.members(), &host.name) != existing {
        changes.push("/etc/hosts".into());
    }
    Ok(changes)
}

pub fn apply_host(
    remote: &mut dyn RemoteHost,
    inv: &Inventory,
    host: &Host,
    source: &Source,
    progress: &HostProgress,
    abort: &AtomicBool,
) -> Result<Applied, StepError> {
    let mut run = Run {
        host: remote,
        progress,
        abort,
        done: Applied::default(),
    };
    let files = host_files(inv, host, source);
    let (setup, rest): (Vec<&RemoteFile>, Vec<&RemoteFile>) =
        files.iter().partition(|f| is_setup(f));
    // The zkd user first: later files are owned by it.
    let mut units_changed = false;
    let mut setup_changed = false;
    for f in &setup {
        let changed = run.upload(f)?;
        setup_changed |= changed;
        units_changed |= changed && f.effect == Effect::Units;
    }
    if let Source::Package(package) = source {
        let installed = run.step("install the zkd package", |h| {
            package.install(h, setup_changed)
        })?;
        // The package reloads systemd itself; an install on a host whose
        // package file was current (a removed package) changes the binary.
        run.done.needs_restart |= installed;
    }
    run.step("create the zkd user", |h| {
        run_ok(h, "systemd-sysusers /usr/lib/sysusers.d/zkd.conf", true)?;
        run_ok(
            h,
            "systemd-tmpfiles --create /usr/lib/tmpfiles.d/zkd.conf",
            true,
        )
    })?;
    let dirs: Vec<String> = host
        .data_dirs()
        .iter()
        .map(|d| quote(&d.display().to_string()))
        .collect();
    run.step("create the data directories", |h| {
        run_ok(
            h,
            &format!("install -d -o zkd -g zkd -m 0750 {}", dirs.join(" ")),
            true,
        )
    })?;
    for f in &rest {
        let changed = run.upload(f)?;
        units_changed |= changed && f.effect == Effect::Units;
    }
    let existing = run.step("read /etc/hosts", |h| h.read_file("/etc/hosts"))?;
    let existing = String::from_utf8_lossy(&existing.unwrap_or_default()).into_owned();
    let rewritten = hosts_file::rewrite(&existing, inv.ensemble_name(), &inv.members(), &host.name);
    if rewritten != existing {
        run.upload(&RemoteFile {
            path: "/etc/hosts".into(),
            content: Content::Text(rewritten),
            mode: 0o644,
            owner: "root",
            group: "root",
            effect: Effect::None,
        })?;
    }
    if units_changed {
        run.step("reload systemd", |h| {
            run_ok(h, "systemctl daemon-reload", true)
        })?;
    }
    run.step("enable zkd", |h| {
        run_ok(h, "systemctl enable --quiet zkd", true)
    })?;
    Ok(run.done)
}

#[cfg(test)]
mod tests {
    use super::super::host::fake::FakeHost;
    use super::super::progress::Progress;
    use super::*;
    use crate::remote::test_support::{bins, three_hosts};

    fn inventory() -> Inventory {
        three_hosts("")
    }

    fn host_with_hosts_file() -> FakeHost {
        let mut h = FakeHost::default();
        h.files.insert(
            "/etc/hosts".into(),
            b"127.0.0.1 localhost\n127.0.1.1 zk1\n".to_vec(),
        );
        h
    }

    #[test]
    fn a_first_deploy_writes_everything_and_a_second_writes_nothing() {
        let inv = inventory();
        let progress = Progress::new();
        let abort = AtomicBool::new(false);
        let mut h = host_with_hosts_file();
        let host = inv.host("zk1").unwrap();
        let first = apply_host(&mut h, &inv, host, &bins(), &progress.host("zk1"), &abort).unwrap();
        assert!(first.needs_restart);
        assert!(first.changed.contains(&"/etc/zkd/zoo.cfg".to_string()));
        assert!(first.changed.contains(&"/etc/hosts".to_string()));
        let hosts = String::from_utf8(h.files["/etc/hosts"].clone()).unwrap();
        assert!(hosts.contains("# BEGIN zkctl t"), "{hosts}");
        assert!(hosts.contains("10.0.0.1 zk1"), "{hosts}");
        assert!(h.commands.contains(&"systemctl daemon-reload".to_string()));
        h.commands.clear();
        let second =
            apply_host(&mut h, &inv, host, &bins(), &progress.host("zk1"), &abort).unwrap();
        assert_eq!(second, Applied::default());
        assert!(!h.commands.contains(&"systemctl daemon-reload".to_string()));
    }

    #[test]
    fn the_plan_lists_what_apply_then_writes_and_nothing_after() {
        let inv = inventory();
        let progress = Progress::new();
        let abort = AtomicBool::new(false);
        let mut h = host_with_hosts_file();
        let host = inv.host("zk3").unwrap();
        let plan = plan_host(&mut h, &inv, host, &bins()).unwrap();
        assert!(h.uploads.is_empty(), "planning writes nothing");
        let applied =
            apply_host(&mut h, &inv, host, &bins(), &progress.host("zk3"), &abort).unwrap();
        assert_eq!(plan, applied.changed);
        assert!(plan_host(&mut h, &inv, host, &bins()).unwrap().is_empty());
    }

    #[test]
    fn a_failed_step_names_itself_and_what_was_done_before() {
        let inv = inventory();
        let progress = Progress::new();
        let abort = AtomicBool::new(false);
        let mut h = host_with_hosts_file();
        h.fail_upload = Some("/etc/zkd/zoo.cfg".into());
        let err = apply_host(
            &mut h,
            &inv,
            inv.host("zk2").unwrap(),
            &bins(),
            &progress.host("zk2"),
            &abort,
        )
        .unwrap_err();
        assert_eq!(err.step, "write /etc/zkd/zoo.cfg");
        assert!(err.done.changed.contains(&"/usr/bin/zkd".to_string()));
        assert!(
            !h.files.contains_key("/var/lib/zkd/myid"),
            "nothing after the failure"
        );
    }

    #[test]
    fn an_abort_stops_before_the_next_step() {
        let inv = inventory();
        let progress = Progress::new();
        let abort = AtomicBool::new(true);
        let mut h = host_with_hosts_file();
        let err = apply_host(
            &mut h,
            &inv,
            inv.host("zk3").unwrap(),
            &bins(),
            &progress.host("zk3"),
            &abort,
        )
        .unwrap_err();
        assert!(err.error.starts_with("stopped"), "{err}");
        assert!(h.uploads.is_empty());
    }

    #[test]
    fn with_a_package_apply_installs_it_once_and_writes_the_configuration() {
        use crate::remote::files::Source;
        use crate::remote::package::{Package, PackageKind};
        let inv = inventory();
        let progress = Progress::new();
        let abort = AtomicBool::new(false);
        let mut h = host_with_hosts_file();
        h.answer("dpkg-query", 0, "install ok installed");
        let source = Source::Package(Package {
            path: "/build/zkd_0.1.0-1_amd64.deb".into(),
            kind: PackageKind::Deb,
        });
        let host = inv.host("zk2").unwrap();
        let plan = plan_host(&mut h, &inv, host, &source).unwrap();
        let first = apply_host(&mut h, &inv, host, &source, &progress.host("zk2"), &abort).unwrap();
        assert_eq!(plan, first.changed);
        assert!(first.needs_restart);
        assert_eq!(first.changed[0], "/var/cache/zkctl/zkd.deb");
        assert!(
            !h.files.contains_key("/usr/bin/zkd"),
            "the package brings it"
        );
        let install = h
            .commands
            .iter()
            .position(|c| c.contains("apt-get install"));
        let user = h
            .commands
            .iter()
            .position(|c| c.starts_with("systemd-sysusers"));
        assert!(install.unwrap() < user.unwrap(), "{:?}", h.commands);
        h.commands.clear();
        let second =
            apply_host(&mut h, &inv, host, &source, &progress.host("zk2"), &abort).unwrap();
        assert_eq!(second, Applied::default());
        assert!(!h.commands.iter().any(|c| c.contains("apt-get")));
    }
}
