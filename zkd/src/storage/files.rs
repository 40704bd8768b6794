//! File names and directory chores shared by logs and snapshots.

use super::StorageError;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

pub const LOG_PREFIX: &str = "log";
pub const SNAPSHOT_PREFIX: &str = "snapshot";

/// `log.<zxid in lower-case hex>`, 3.8's `Util.makeLogName`.
pub fn log_file_name(zxid: i64) -> String {
    format!("{LOG_PREFIX}.{:x}", zxid)
}

/// `snapshot.<zxid in lower-case hex>` (the plain format: 3.8 adds `.gz`
/// or `.snappy` only for compressed snapshots, which we never write).
pub fn snapshot_file_name(zxid: i64) -> String {
    format!("{SNAPSHOT_PREFIX}.{:x}", zxid)
}

/// The zxid a `log.*` or `snapshot.*` name carries, read as 3.8's
/// `Util.getZxidFromName` does: the part after the first dot, in hex, with
/// a compression suffix allowed after it. `None` for any other name.
pub fn zxid_from_name(name: &str, prefix: &str) -> Option<i64> {
    let mut parts = name.split('.');
    if parts.next() != Some(prefix) {
        return None;
    }
    let hex = parts.next()?;
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    // Java parses a signed long; zxids are never negative on disk.
    i64::from_str_radix(hex, 16).ok()
}

/// Files of `dir` named `<prefix>.<hex>[...]`, with their zxids, sorted by
/// zxid ascending. A missing directory reads as empty.
pub fn list_by_zxid(dir: &Path, prefix: &str) -> Result<Vec<(i64, PathBuf)>, StorageError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StorageError::io("list", dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(StorageError::io("list", dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(zxid) = zxid_from_name(name, prefix) {
            let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
            if is_file {
                out.push((zxid, entry.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Log files as 3.8's `FileTxnLog.getLogFiles` picks them for a replay
/// that needs everything after `zxid`: the newest file starting at or
/// before it (it may hold later records too) and every file after that.
pub fn log_files_covering(dir: &Path, zxid: i64) -> Result<Vec<(i64, PathBuf)>, StorageError> {
    let all = list_by_zxid(dir, LOG_PREFIX)?;
    let start = all.iter().rposition(|(z, _)| *z <= zxid).unwrap_or(0);
    Ok(all.into_iter().skip(start).collect())
}

/// Makes a directory entry change (create, rename, unlink) durable.
pub fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StorageError::io("fsync directory", dir))
}

/// Writes `bytes` to `path` the way 3.8's `AtomicFileOutputStream` does:
/// `<name>.tmp`, fsync, rename over the target, then (beyond 3.8) fsync
/// the directory so the rename itself survives a power cut.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| StorageError::invalid(path, "not a file path"))?;
    let tmp = dir.join(format!("{}.tmp", name.to_string_lossy()));
    let result = (|| {
        let mut f = File::create(&tmp).map_err(StorageError::io("create", &tmp))?;
        f.write_all(bytes)
            .map_err(StorageError::io("write", &tmp))?;
        f.sync_all().map_err(StorageError::io("fsync", &tmp))?;
        fs::rename(&tmp, path).map_err(StorageError::io("rename into place", path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_like_java() {
        assert_eq!(log_file_name(0x1_0000_002a), "log.10000002a");
        assert_eq!(snapshot_file_name(0), "snapshot.0");
        assert_eq!(
            zxid_from_name("log.10000002a", LOG_PREFIX),
            Some(0x1_0000_002a)
        );
        assert_eq!(
            zxid_from_name("snapshot.1f.gz", SNAPSHOT_PREFIX),
            Some(0x1f)
        );
        assert_eq!(zxid_from_name("snapshot.1f", LOG_PREFIX), None);
        assert_eq!(zxid_from_name("log.", LOG_PREFIX), None);
        assert_eq!(zxid_from_name("log.xyz", LOG_PREFIX), None);
        assert_eq!(
            zxid_from_name(".zkd-snapshot.1f.tmp", SNAPSHOT_PREFIX),
            None
        );
        assert_eq!(zxid_from_name("logs.1", LOG_PREFIX), None);
    }

    #[test]
    fn covering_logs_start_at_the_newest_file_not_after_the_zxid() {
        let dir = tempfile::tempdir().unwrap();
        for z in [1i64, 0x10, 0x20] {
            File::create(dir.path().join(log_file_name(z))).unwrap();
        }
        File::create(dir.path().join("snapshot.5")).unwrap();
        let zxids = |z| -> Vec<i64> {
            log_files_covering(dir.path(), z)
                .unwrap()
                .into_iter()
                .map(|(z, _)| z)
                .collect()
        };
        assert_eq!(zxids(0x15), vec![0x10, 0x20]);
        assert_eq!(zxids(0x10), vec![0x10, 0x20]);
        assert_eq!(zxids(0), vec![1, 0x10, 0x20]);
        assert_eq!(zxids(0x99), vec![0x20]);
    }
}
