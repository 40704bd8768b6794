//! 3.8's `PurgeTxnLog`: keep the newest N snapshots and the logs needed to
//! replay from the oldest of them; remove older snapshots and logs.

use super::files::{list_by_zxid, log_files_covering, LOG_PREFIX, SNAPSHOT_PREFIX};
use super::StorageError;
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

/// 3.8 refuses to keep fewer snapshots than this.
pub const MIN_RETAIN_COUNT: usize = 3;

/// Removes what the newest `retain_count` valid snapshots do not need and
/// returns the removed paths. A snapshot counts as valid here as in 3.8's
/// purge: it ends with the "/" seal (a cheap check, no full read).
pub fn purge(
    snap_dir: &Path,
    log_dir: &Path,
    retain_count: usize,
) -> Result<Vec<PathBuf>, StorageError> {
    if retain_count < MIN_RETAIN_COUNT {
        return Err(StorageError::invalid(
            snap_dir,
            format!(
                "snapshots to retain is {retain_count}; it must be at least {MIN_RETAIN_COUNT}"
            ),
        ));
    }
    let snapshots = list_by_zxid(snap_dir, SNAPSHOT_PREFIX)?;
    let mut retained = Vec::new();
    for (zxid, path) in snapshots.iter().rev() {
        if retained.len() == retain_count {
            break;
        }
        if looks_complete(path)? {
            retained.push(*zxid);
        }
    }
    let Some(&oldest_kept) = retained.last() else {
        return Ok(Vec::new());
    };
    let needed: HashSet<PathBuf> = log_files_covering(log_dir, oldest_kept)?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let logs = list_by_zxid(log_dir, LOG_PREFIX)?;
    let doomed = logs
        .into_iter()
        .filter(|(z, p)| *z < oldest_kept && !needed.contains(p))
        .chain(snapshots.into_iter().filter(|(z, _)| *z < oldest_kept));
    let mut removed = Vec::new();
    for (_, p) in doomed {
        fs::remove_file(&p).map_err(StorageError::io("remove", &p))?;
        tracing::info!("purged {}", p.display());
        removed.push(p);
    }
    Ok(removed)
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// snappy-java's stream header, which 3.8 checks for `.snappy` snapshots.
const SNAPPY_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];

/// 3.8's `isValidSnapshot` for a plain snapshot: at least 10 bytes, ending
/// with the seal's string "/" (length 1, then '/'). Compressed snapshots
/// are counted as 3.8 counts them, by their magic bytes.
fn looks_complete(path: &Path) -> Result<bool, StorageError> {
    use std::io::{Read, Seek, SeekFrom};
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mut f = fs::File::open(path).map_err(StorageError::io("open snapshot", path))?;
    let len = f
        .metadata()
        .map_err(StorageError::io("stat snapshot", path))?
        .len();
    let io = |e| StorageError::io("read snapshot", path)(e);
    if name.ends_with(".gz") || name.ends_with(".snappy") {
        let magic: &[u8] = if name.ends_with(".gz") {
            &GZIP_MAGIC
        } else {
            &SNAPPY_MAGIC
        };
        let mut head = vec![0u8; magic.len()];
        return Ok(len >= magic.len() as u64 && f.read_exact(&mut head).is_ok() && head == magic);
    }
    if len < 10 {
        return Ok(false);
    }
    let mut tail = [0u8; 5];
    f.seek(SeekFrom::Start(len - 5)).map_err(io)?;
    f.read_exact(&mut tail).map_err(io)?;
    Ok(tail == [0, 0, 0, 1, b'/'])
}
