//! Host keys against known_hosts, as OpenSSH does it: a known key that
//! differs stops the host and shows the fingerprint seen; an unknown host
//! is refused unless the inventory asks for `accept-new`, which records it.

use super::SshError;
use crate::model::{HostKeyPolicy, SshSettings};
use base64::Engine;
use ssh2::{CheckResult, HashType, HostKeyType, KnownHostFileKind};
use std::path::Path;

/// The name known_hosts files use for a host: `addr`, or `[addr]:port`.
pub fn entry_name(address: &str, port: u16) -> String {
    if port == 22 {
        address.to_owned()
    } else {
        format!("[{address}]:{port}")
    }
}

/// `SHA256:...` as OpenSSH prints fingerprints.
pub fn fingerprint(sha256: &[u8]) -> String {
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(sha256)
    )
}

fn key_type_name(t: HostKeyType) -> Option<&'static str> {
    Some(match t {
        HostKeyType::Rsa => "ssh-rsa",
        HostKeyType::Dss => "ssh-dss",
        HostKeyType::Ecdsa256 => "ecdsa-sha2-nistp256",
        HostKeyType::Ecdsa384 => "ecdsa-sha2-nistp384",
        HostKeyType::Ecdsa521 => "ecdsa-sha2-nistp521",
        HostKeyType::Ed25519 => "ssh-ed25519",
        HostKeyType::Unknown => return None,
    })
}

/// The line `accept-new` appends.
pub fn known_hosts_line(name: &str, key_type: &str, key: &[u8]) -> String {
    format!(
        "{name} {key_type} {}\n",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

pub fn check(
    session: &ssh2::Session,
    label: &str,
    address: &str,
    settings: &SshSettings,
) -> Result<(), SshError> {
    let (key, key_type) = session
        .host_key()
        .ok_or_else(|| SshError(format!("{label}: the server sent no host key")))?;
    let seen = session
        .host_key_hash(HashType::Sha256)
        .map(fingerprint)
        .unwrap_or_else(|| "?".into());
    let file = &settings.known_hosts;
    let mut known = session
        .known_hosts()
        .map_err(|e| SshError(format!("{label}: known_hosts: {e}")))?;
    if file.exists() {
        known
            .read_file(file, KnownHostFileKind::OpenSSH)
            .map_err(|e| SshError(format!("{label}: cannot read {}: {e}", file.display())))?;
    }
    match known.check_port(address, settings.port, key) {
        CheckResult::Match => Ok(()),
        CheckResult::Mismatch => Err(SshError(format!(
            "{label} ({address}): HOST KEY MISMATCH: {} lists another key for this host; the host \
             sent {seen}. Someone may be intercepting the connection, or the host was reinstalled: \
             check, then remove the old line (ssh-keygen -R {} -f {})",
            file.display(),
            entry_name(address, settings.port),
            file.display()
        ))),
        CheckResult::NotFound | CheckResult::Failure => match settings.host_key_policy {
            HostKeyPolicy::Strict => Err(SshError(format!(
                "{label} ({address}): unknown host key {seen}: {} does not list it. Verify it and add it \
                 (ssh-keyscan -p {} {address} >> {}), or set host_key_policy = \"accept-new\" in the inventory",
                file.display(),
                settings.port,
                file.display()
            ))),
            HostKeyPolicy::AcceptNew => {
                let type_name = key_type_name(key_type)
                    .ok_or_else(|| SshError(format!("{label}: unknown host key type")))?;
                append(file, &known_hosts_line(&entry_name(address, settings.port), type_name, key))
                    .map_err(|e| SshError(format!("{label}: cannot record the host key in {}: {e}", file.display())))?;
                eprintln!("{label}: added host key {seen} to {}", file.display());
                Ok(())
            }
        },
    }
}

/// Adds a line to known_hosts by writing a new file and renaming it over
/// the old one, so a crash never leaves a half-written file.
fn append(file: &Path, line: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    // Hosts are checked in parallel: one writer at a time, each re-reading
    // the file, so no host's line is lost.
    static WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = WRITER.lock().unwrap_or_else(|e| e.into_inner());
    let mut text = std::fs::read_to_string(file).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(line);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = file.with_extension(format!("zkctl-tmp-{}", std::process::id()));
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_lines_as_openssh_writes_them() {
        assert_eq!(entry_name("10.0.0.1", 22), "10.0.0.1");
        assert_eq!(entry_name("10.0.0.1", 2222), "[10.0.0.1]:2222");
        assert_eq!(
            known_hosts_line("h", "ssh-ed25519", &[1, 2, 3]),
            "h ssh-ed25519 AQID\n"
        );
        assert_eq!(fingerprint(&[0xff; 4]), "SHA256://///w");
    }

    #[test]
    fn accept_new_appends_atomically_keeping_old_lines() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("known_hosts");
        std::fs::write(&file, "a ssh-rsa AAAA").unwrap();
        append(&file, "b ssh-ed25519 BBBB\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "a ssh-rsa AAAA\nb ssh-ed25519 BBBB\n"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
