//! Cutting the log back to a zxid, as a follower does when its leader
//! answers TRUNC (3.8's `FileTxnSnapLog.truncateLog`): every record after
//! the zxid goes, and so does every snapshot newer than it, so that the
//! next recovery rebuilds exactly the history the leader has.

use super::files::{list_by_zxid, sync_dir, LOG_PREFIX, SNAPSHOT_PREFIX};
use super::log_reader::read_logs;
use super::{DataDirs, StorageError};
use std::fs::{self, OpenOptions};

/// Removes every log record with a zxid above `zxid`, and the snapshots
/// named after a later zxid. Returns how many records were cut.
pub fn truncate_after(dirs: &DataDirs, zxid: i64) -> Result<usize, StorageError> {
    let log_dir = dirs.log_dir();
    let mut replay = read_logs(&log_dir, zxid + 1)?;
    let mut cut_at = None;
    let mut cut = 0usize;
    while let Some(entry) = replay.next() {
        let entry = entry?;
        if cut_at.is_none() {
            let (z, file, offset) = replay.last_position().expect("an entry was read");
            debug_assert_eq!(z, entry.header.zxid);
            cut_at = Some((file.to_path_buf(), offset));
        }
        cut += 1;
    }
    if let Some((file, offset)) = cut_at {
        let f = OpenOptions::new()
            .write(true)
            .open(&file)
            .map_err(StorageError::io("open log to truncate", &file))?;
        f.set_len(offset)
            .map_err(StorageError::io("truncate log", &file))?;
        f.sync_all()
            .map_err(StorageError::io("fsync truncated log", &file))?;
        // Later files hold only later records.
        let start = super::files::zxid_from_name(
            file.file_name().and_then(|n| n.to_str()).unwrap_or(""),
            LOG_PREFIX,
        )
        .unwrap_or(i64::MIN);
        for (first, path) in list_by_zxid(&log_dir, LOG_PREFIX)? {
            if first > start {
                fs::remove_file(&path).map_err(StorageError::io("remove log", &path))?;
            }
        }
        sync_dir(&log_dir)?;
    }
    let snap_dir = dirs.snap_dir();
    for (snap_zxid, path) in list_by_zxid(&snap_dir, SNAPSHOT_PREFIX)? {
        if snap_zxid > zxid {
            fs::remove_file(&path).map_err(StorageError::io("remove snapshot", &path))?;
        }
    }
    sync_dir(&snap_dir)?;
    Ok(cut)
}
