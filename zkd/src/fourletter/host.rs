//! Host-level figures the shell gathers for the words: the `envi` values,
//! file descriptor counts for `mntr`, and directory sizes for `dirs` and
//! `conf`. Linux `/proc` based; every reader degrades to a documented
//! placeholder instead of failing, because a monitoring answer with one
//! unknown figure beats no answer.
//!
//! `host.name` is the kernel's host name: 3.8 prints the canonical name a
//! reverse lookup gives, and a monitoring answer should not wait on DNS.
//!
//! `envi` and the JVM: zkd has no JVM, and 3.8 itself prints `<NA>` for a
//! system property that is not set, so every `java.*` key is present with
//! `<NA>` (tools that read the keys still find them, and nobody is told a
//! Java version that does not exist), except `java.io.tmpdir`, which zkd has.
//! The `os.memory.*` keys describe the JVM heap in 3.8; for zkd they are
//! `total` = the process's resident memory, `max` = the memory it may use
//! (its cgroup limit, else the machine's RAM), `free` = what is still
//! available to it (the smaller of that limit's headroom and the kernel's
//! MemAvailable), all in MiB as `<n>MB`.

use super::source::Environment;
use std::fs;
use std::path::Path;

/// 3.8's marker for a property with no value.
pub const NOT_AVAILABLE: &str = "<NA>";

/// The `envi` values for this process.
pub fn environment() -> Environment {
    let uid =
        proc_status_field("Uid:").and_then(|v| v.split_whitespace().next().map(str::to_owned));
    let passwd = uid.as_deref().and_then(passwd_entry);
    let rss_mb = proc_status_field("VmRSS:")
        .and_then(|v| parse_kib(&v))
        .unwrap_or(0)
        / 1024;
    let limit_mb = memory_limit_bytes().map_or(0, |b| b / (1024 * 1024));
    let available_mb = meminfo_kib("MemAvailable:").map_or(0, |k| k / 1024);
    Environment {
        host_name: read_trimmed("/proc/sys/kernel/hostname")
            .unwrap_or_else(|| NOT_AVAILABLE.into()),
        java_version: NOT_AVAILABLE.into(),
        java_vendor: NOT_AVAILABLE.into(),
        java_home: NOT_AVAILABLE.into(),
        java_class_path: NOT_AVAILABLE.into(),
        java_library_path: NOT_AVAILABLE.into(),
        java_io_tmpdir: std::env::temp_dir().display().to_string(),
        java_compiler: NOT_AVAILABLE.into(),
        os_name: java_os_name(),
        os_arch: java_os_arch().into(),
        os_version: read_trimmed("/proc/sys/kernel/osrelease")
            .unwrap_or_else(|| NOT_AVAILABLE.into()),
        user_name: passwd
            .as_ref()
            .map(|(name, _)| name.clone())
            .unwrap_or_else(|| NOT_AVAILABLE.into()),
        user_home: passwd
            .map(|(_, home)| home)
            .unwrap_or_else(|| NOT_AVAILABLE.into()),
        user_dir: std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| NOT_AVAILABLE.into()),
        memory_free_mb: limit_mb.saturating_sub(rss_mb).min(available_mb),
        memory_max_mb: limit_mb,
        memory_total_mb: rss_mb,
    }
}

/// `os.name` as the JVM spells it (`Linux`, `Mac OS X`, ...).
fn java_os_name() -> String {
    match std::env::consts::OS {
        "linux" => "Linux".into(),
        "macos" => "Mac OS X".into(),
        "freebsd" => "FreeBSD".into(),
        other => other.into(),
    }
}

/// `os.arch` as the JVM spells it: `amd64` where Rust says `x86_64`.
fn java_os_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "i386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        other => other,
    }
}

/// (open descriptors, soft `RLIMIT_NOFILE`) of this process, -1 for
/// whichever cannot be read, as 3.8's `OSMXBean` reports them.
pub fn file_descriptor_counts() -> (i64, i64) {
    let open = fs::read_dir("/proc/self/fd")
        // The listing holds its own descriptor open; the JVM counts it too.
        .map(|d| d.count() as i64)
        .unwrap_or(-1);
    let max = fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| soft_open_files_limit(&text))
        .unwrap_or(-1);
    (open, max)
}

fn soft_open_files_limit(limits: &str) -> Option<i64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    match soft {
        "unlimited" => Some(i64::MAX),
        n => n.parse().ok(),
    }
}

/// Total length of the files under `path`, recursively, as 3.8's
/// `getDirSize` computes it (0 for a path that does not exist).
pub fn dir_size(path: &Path) -> u64 {
    let Ok(meta) = fs::metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    let Ok(entries) = fs::read_dir(path) else {
        return 0;
    };
    entries.flatten().map(|e| dir_size(&e.path())).sum()
}

fn read_trimmed(path: &str) -> Option<String> {
    let s = fs::read_to_string(path).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn proc_status_field(field: &str) -> Option<String> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field).map(|v| v.trim().to_string()))
}

fn meminfo_kib(field: &str) -> Option<u64> {
    let info = fs::read_to_string("/proc/meminfo").ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(parse_kib)
}

/// `"  123456 kB"` -> 123456.
fn parse_kib(v: &str) -> Option<u64> {
    v.split_whitespace().next()?.parse().ok()
}

/// This process's cgroup memory limit if it has one (v2 `memory.max`, or
/// v1 `memory.limit_in_bytes`), else the machine's RAM.
fn memory_limit_bytes() -> Option<u64> {
    let cgroup = fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|c| cgroup_memory_limit(&c));
    let ram = meminfo_kib("MemTotal:").map(|k| k * 1024);
    match (cgroup, ram) {
        (Some(c), Some(r)) => Some(c.min(r)),
        (c, r) => c.or(r),
    }
}

fn cgroup_memory_limit(proc_cgroup: &str) -> Option<u64> {
    let number = |path: String| read_trimmed(&path)?.parse::<u64>().ok();
    proc_cgroup.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (id, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let path = path.trim_end_matches('/');
        if id == "0" && controllers.is_empty() {
            // "max" (no limit) does not parse and so falls through.
            number(format!("/sys/fs/cgroup{path}/memory.max"))
        } else if controllers.split(',').any(|c| c == "memory") {
            number(format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"))
        } else {
            None
        }
    })
}

/// (user name, home directory) of `uid` from /etc/passwd, as the JVM
/// takes `user.name` and `user.home` from `getpwuid`.
fn passwd_entry(uid: &str) -> Option<(String, String)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd_lookup(&passwd, uid)
}

fn passwd_lookup(passwd: &str, uid: &str) -> Option<(String, String)> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 7 && fields[2] == uid)
            .then(|| (fields[0].to_string(), fields[5].to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_has_honest_values() {
        let env = environment();
        assert_eq!(env.java_version, NOT_AVAILABLE);
        assert_eq!(env.java_vendor, NOT_AVAILABLE);
        assert!(!env.os_name.is_empty() && !env.os_arch.is_empty());
        if cfg!(target_os = "linux") {
            assert_eq!(env.os_name, "Linux");
            assert!(env.memory_total_mb > 0, "{env:?}");
            assert!(env.memory_max_mb >= env.memory_total_mb, "{env:?}");
            assert_ne!(env.user_name, NOT_AVAILABLE);
        }
    }

    #[test]
    fn descriptor_counts_read_proc() {
        let (open, max) = file_descriptor_counts();
        if cfg!(target_os = "linux") {
            assert!(open >= 3, "stdin, stdout, stderr at least: {open}");
            assert!(max >= open, "{max} >= {open}");
        }
    }

    #[test]
    fn limits_line_is_parsed() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max processes             95263                95263                processes \n\
                    Max open files            20000                1048576              files     \n";
        assert_eq!(soft_open_files_limit(text), Some(20000));
        assert_eq!(
            soft_open_files_limit("Max open files unlimited unlimited files"),
            Some(i64::MAX)
        );
        assert_eq!(soft_open_files_limit(""), None);
    }

    #[test]
    fn passwd_is_looked_up_by_uid() {
        let passwd =
            "root:x:0:0:root:/root:/bin/bash\nzk:x:107:113::/var/lib/zookeeper:/bin/false\n";
        assert_eq!(
            passwd_lookup(passwd, "107"),
            Some(("zk".into(), "/var/lib/zookeeper".into()))
        );
        assert_eq!(passwd_lookup(passwd, "5"), None);
    }

    #[test]
    fn dir_size_sums_files_recursively() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("log.1"), vec![0u8; 457]).unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub").join("snapshot.0"), vec![0u8; 100]).unwrap();
        assert_eq!(dir_size(dir.path()), 557);
        assert_eq!(dir_size(&dir.path().join("missing")), 0);
    }
}
