//! Where the files live: 3.8 keeps snapshots (and the epoch files) in
//! `<dataDir>/version-2` and transaction logs in `<dataLogDir>/version-2`,
//! dataLogDir defaulting to dataDir.

use super::files::{self, LOG_PREFIX, SNAPSHOT_PREFIX};
use super::StorageError;
use crate::config::ZooCfg;
use crate::storage_paths::VERSION_DIR;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDirs {
    /// `dataDir` as configured (holds `myid` and our lock file).
    pub data_dir: PathBuf,
    /// `dataLogDir` as configured, or `dataDir`.
    pub data_log_dir: PathBuf,
}

impl DataDirs {
    pub fn new(data_dir: impl Into<PathBuf>, data_log_dir: Option<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        let data_log_dir = data_log_dir.unwrap_or_else(|| data_dir.clone());
        DataDirs {
            data_dir,
            data_log_dir,
        }
    }

    pub fn from_config(cfg: &ZooCfg) -> Self {
        DataDirs::new(cfg.data_dir.clone(), cfg.data_log_dir.clone())
    }

    /// `<dataDir>/version-2`: snapshots, `currentEpoch`, `acceptedEpoch`.
    pub fn snap_dir(&self) -> PathBuf {
        self.data_dir.join(VERSION_DIR)
    }

    /// `<dataLogDir>/version-2`: `log.*` files.
    pub fn log_dir(&self) -> PathBuf {
        self.data_log_dir.join(VERSION_DIR)
    }

    /// Creates both `version-2` directories (3.8 does so unless
    /// `zookeeper.datadir.autocreate` is false) and, when they differ,
    /// refuses a snapshot in the log directory or a log in the snapshot
    /// directory, as 3.8 does: either means dataDir and dataLogDir were
    /// swapped or changed.
    pub fn prepare(&self) -> Result<(), StorageError> {
        for dir in [self.snap_dir(), self.log_dir()] {
            fs::create_dir_all(&dir).map_err(StorageError::io("create directory", &dir))?;
        }
        let (snap, log) = (self.snap_dir(), self.log_dir());
        if snap != log {
            if let Some((_, p)) = files::list_by_zxid(&log, SNAPSHOT_PREFIX)?.first() {
                return Err(misplaced(
                    p,
                    "the transaction log directory holds a snapshot",
                ));
            }
            if let Some((_, p)) = files::list_by_zxid(&snap, LOG_PREFIX)?.first() {
                return Err(misplaced(
                    p,
                    "the snapshot directory holds a transaction log",
                ));
            }
        }
        Ok(())
    }
}

fn misplaced(path: &Path, what: &str) -> StorageError {
    StorageError::invalid(
        path,
        format!("{what}; check that dataDir and dataLogDir in zoo.cfg are right"),
    )
}
