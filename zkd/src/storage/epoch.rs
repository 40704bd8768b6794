//! `currentEpoch` and `acceptedEpoch`: the quorum's epochs, kept by 3.8 in
//! the snapshot directory as a decimal number with no newline, replaced
//! through `<name>.tmp`, fsync and rename.

use super::files::write_atomically;
use super::StorageError;
use std::fs;
use std::io::ErrorKind;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochFile {
    /// The epoch of the last NEWLEADER this server acknowledged.
    Current,
    /// The epoch this server last agreed to follow or lead.
    Accepted,
}

impl EpochFile {
    pub fn file_name(self) -> &'static str {
        match self {
            EpochFile::Current => "currentEpoch",
            EpochFile::Accepted => "acceptedEpoch",
        }
    }
}

/// The stored epoch, or `None` when the file does not exist (3.8 then
/// takes the epoch of the last zxid and writes the file).
pub fn read_epoch(snap_dir: &Path, which: EpochFile) -> Result<Option<i64>, StorageError> {
    let path = snap_dir.join(which.file_name());
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io("read", &path)(e)),
    };
    // 3.8 reads the first line; tolerate the newline a hand edit adds.
    let line = text.lines().next().unwrap_or("").trim();
    line.parse::<i64>().map(Some).map_err(|_| {
        StorageError::invalid(&path, format!("found {line:?}, expected a decimal epoch"))
    })
}

pub fn write_epoch(snap_dir: &Path, which: EpochFile, epoch: i64) -> Result<(), StorageError> {
    write_atomically(
        &snap_dir.join(which.file_name()),
        epoch.to_string().as_bytes(),
    )
}
