//! The one-liners: `ruok`, `isro`, `gtmk`, `stmk`, `srst`, `crst`, plus
//! `envi` and `hash`. Note which end in a newline: 3.8 uses `print` for
//! `ruok`, `isro`, `gtmk`, `stmk` and `hash`'s refusal, `println` elsewhere.

use crate::fourletter::java;
use crate::fourletter::source::{Environment, ServerRole, ZxidDigest};
use crate::fourletter::version;

/// `ruok`: answered whatever the server is doing.
pub fn ruok() -> String {
    "imok".to_string()
}

/// `isro`: `null` while not serving.
pub fn isro(role: Option<&ServerRole>) -> String {
    match role {
        None => "null",
        Some(ServerRole::ReadOnly) => "ro",
        Some(_) => "rw",
    }
    .to_string()
}

/// `gtmk` and `stmk` print the mask in decimal.
pub fn trace_mask(mask: i64) -> String {
    mask.to_string()
}

/// The 8-byte big-endian mask that follows `stmk`, or `None` when fewer
/// bytes came: 3.8 then fails reading it and closes without an answer.
pub fn parse_trace_mask(extra: &[u8]) -> Option<i64> {
    let bytes: [u8; 8] = extra.get(..8)?.try_into().ok()?;
    Some(i64::from_be_bytes(bytes))
}

pub fn srst() -> String {
    "Server stats reset.\n".to_string()
}

pub fn crst() -> String {
    "Connection stats reset.\n".to_string()
}

/// `envi`: 3.8's `Environment.list()`, in its order.
pub fn envi(env: &Environment) -> String {
    let version = version::full_version();
    let memory = |mb: u64| format!("{mb}MB");
    let entries = [
        ("zookeeper.version", version),
        ("host.name", env.host_name.clone()),
        ("java.version", env.java_version.clone()),
        ("java.vendor", env.java_vendor.clone()),
        ("java.home", env.java_home.clone()),
        ("java.class.path", env.java_class_path.clone()),
        ("java.library.path", env.java_library_path.clone()),
        ("java.io.tmpdir", env.java_io_tmpdir.clone()),
        ("java.compiler", env.java_compiler.clone()),
        ("os.name", env.os_name.clone()),
        ("os.arch", env.os_arch.clone()),
        ("os.version", env.os_version.clone()),
        ("user.name", env.user_name.clone()),
        ("user.home", env.user_home.clone()),
        ("user.dir", env.user_dir.clone()),
        ("os.memory.free", memory(env.memory_free_mb)),
        ("os.memory.max", memory(env.memory_max_mb)),
        ("os.memory.total", memory(env.memory_total_mb)),
    ];
    let mut out = String::from("Environment:\n");
    for (key, value) in entries {
        out.push_str(key);
        out.push('=');
        out.push_str(&value);
        out.push('\n');
    }
    out
}

/// `hash`: one `<zxid in hex>: <digest in decimal>` line per entry.
pub fn hash(log: &[ZxidDigest]) -> String {
    log.iter()
        .map(|d| format!("{}: {}\n", java::hex(d.zxid), d.digest))
        .collect()
}
