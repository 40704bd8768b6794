use std::io;
use std::path::{Path, PathBuf};

/// Why a storage operation failed. Every variant names the file involved,
/// and the corruption variants say where in it and what an operator can do.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: corrupt at offset {offset}: {what}. {hint}", file.display())]
    Corrupt {
        file: PathBuf,
        offset: u64,
        what: String,
        hint: String,
    },
    #[error("transaction log gap: {detail}. {hint}")]
    Gap { detail: String, hint: String },
    #[error("{}: {what}", path.display())]
    Invalid { path: PathBuf, what: String },
    #[error(
        "data directory {} is in use by another zkd process{holder} (lock file {}); \
         stop that process, or give this one a different dataDir",
        dir.display(),
        lock.display()
    )]
    Locked {
        dir: PathBuf,
        lock: PathBuf,
        /// ", pid N" when the lock file names its holder.
        holder: String,
    },
}

impl StorageError {
    /// An adapter for `map_err` on an I/O call about `path`.
    pub(crate) fn io(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StorageError {
        let path = path.to_path_buf();
        move |source| StorageError::Io { op, path, source }
    }

    pub(crate) fn invalid(path: &Path, what: impl Into<String>) -> StorageError {
        StorageError::Invalid {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }
}
