//! An exclusive lock on a data directory, so that two zkd processes never
//! write the same logs. 3.8 takes no such lock (two servers on one dataDir
//! corrupt it silently); ours is a `flock` on `<dir>/zkd.lock`, released
//! by the kernel when the process ends however it ends. It does not keep
//! an Apache ZooKeeper process out, which does not look for it.

use super::StorageError;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = "zkd.lock";

/// Held for as long as the value lives.
#[derive(Debug)]
pub struct DataDirLock {
    file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Locks `dir` (which must exist) or fails at once, naming the holder's
    /// pid when the lock file records it.
    pub fn acquire(dir: &Path) -> Result<DataDirLock, StorageError> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(StorageError::io("open lock file", &path))?;
        // SAFETY: flock on a descriptor we own; it has no memory effects.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = match text.trim().parse::<u32>() {
                    Ok(pid) => format!(", pid {pid}"),
                    Err(_) => String::new(),
                };
                return Err(StorageError::Locked {
                    dir: dir.to_path_buf(),
                    lock: path,
                    holder,
                });
            }
            return Err(StorageError::io("lock", &path)(err));
        }
        // Only the holder writes its pid, so a reader never sees a mix.
        let record = (|| {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            writeln!(file, "{}", std::process::id())
        })();
        record.map_err(StorageError::io("write lock file", &path))?;
        Ok(DataDirLock { file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DataDirLock {
    fn drop(&mut self) {
        // Closing the file drops the lock; unlocking first just makes the
        // order explicit. The file stays: removing it would race a new holder.
        // SAFETY: as in acquire.
        unsafe {
            libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
        }
    }
}
