//! Where 3.8 keeps its files: `version-2` below dataDir (snapshots) and
//! dataLogDir (transaction logs, dataDir when unset).

use crate::config::ZooCfg;
use std::path::PathBuf;

pub const VERSION_DIR: &str = "version-2";

fn absolute(p: &std::path::Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

pub fn snapshot_dir(cfg: &ZooCfg) -> PathBuf {
    absolute(&cfg.data_dir.join(VERSION_DIR))
}

pub fn txn_log_dir(cfg: &ZooCfg) -> PathBuf {
    absolute(&cfg.data_log_dir().join(VERSION_DIR))
}
