//! Appending to the transaction log, as 3.8's `FileTxnLog` lays it out:
//! a `log.<zxid of its first record>` file starting with the ZKLG header,
//! then per record the Adler-32 of the body as a long, the body as a
//! length-prefixed buffer, and the byte 'B'. Files grow in preallocated
//! zero-filled steps so that an fdatasync rarely has to write metadata;
//! readers take a zero length as the end.

use super::checksum::adler32;
use super::entry::{
    marshal_entry, FileHeader, TxnDigest, END_OF_RECORD, FILE_HEADER_LEN, TXNLOG_MAGIC,
};
use super::files::{log_file_name, sync_dir};
use super::log_reader::file_holds_records;
use super::{StorageError, DEFAULT_PREALLOC_BYTES};
use crate::config::ZooCfg;
use crate::proto::txn::{Txn, TxnHeader};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Records buffered beyond this are written out (not synced) before the
/// next append, so a huge batch does not hold its bytes twice in memory.
const WRITE_THROUGH_BYTES: usize = 1 << 20;

/// 3.8 extends a log file once the write position is within this many
/// bytes of its preallocated end.
const PREALLOC_MARGIN: u64 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogOptions {
    /// `preAllocSize` in bytes; 0 turns preallocation off.
    pub prealloc_bytes: u64,
    /// `txnLogSizeLimitInKb` in bytes: roll after a sync that leaves the
    /// current file larger than this.
    pub size_limit_bytes: Option<u64>,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            prealloc_bytes: DEFAULT_PREALLOC_BYTES,
            size_limit_bytes: None,
        }
    }
}

impl LogOptions {
    pub fn from_config(cfg: &ZooCfg) -> Self {
        LogOptions {
            prealloc_bytes: cfg.pre_alloc_size_kb.saturating_mul(1024),
            size_limit_bytes: (cfg.txn_log_size_limit_kb > 0)
                .then(|| cfg.txn_log_size_limit_kb.saturating_mul(1024)),
        }
    }
}

/// Counters for `mntr` and the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Bytes of records appended (checksums, lengths and end bytes included).
    pub bytes_appended: u64,
    pub records_appended: u64,
    pub syncs: u64,
    pub files_created: u64,
    /// Bytes in log files this writer rolled away from.
    pub previous_files_bytes: u64,
}

/// What one [`TxnLogWriter::flush_and_sync`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Bytes handed to the kernel by this call.
    pub bytes_written: u64,
    /// Time spent in fdatasync (zero when none was asked for or needed).
    pub sync_time: Duration,
    /// Whether the size limit made the writer roll afterwards.
    pub rolled: bool,
}

struct ActiveFile {
    path: PathBuf,
    file: File,
    /// Bytes written to the file so far (header included).
    written: u64,
    /// Bytes the last successful `flush_and_sync` covered.
    synced: u64,
    /// The file's length after preallocation.
    allocated: u64,
}

/// Appends transactions to log files in one directory. Not thread-safe by
/// design: one writer thread owns it. After any error the file may hold a
/// partial record; treat the error as fatal (3.8 exits) and let the next
/// start's recovery truncate the torn tail.
pub struct TxnLogWriter {
    dir: PathBuf,
    opts: LogOptions,
    current: Option<ActiveFile>,
    /// Records appended but not yet written to `current`.
    pending: Vec<u8>,
    /// Files rolled away from whose last bytes still need an fdatasync.
    unsynced: Vec<ActiveFile>,
    /// A log file was created since the directory was last synced.
    dir_dirty: bool,
    /// Something was written since the last sync.
    dirty: bool,
    last_zxid: i64,
    /// The zxid of the last record the last successful sync covered.
    synced_zxid: i64,
    stats: LogStats,
    scratch: Vec<u8>,
}

impl TxnLogWriter {
    /// A writer for `dir` (which must exist). Like 3.8, it never appends to
    /// a file an earlier process wrote: the first append opens a new one.
    pub fn open(dir: &Path, opts: LogOptions) -> Result<Self, StorageError> {
        let meta = fs::metadata(dir).map_err(StorageError::io("open log directory", dir))?;
        if !meta.is_dir() {
            return Err(StorageError::invalid(dir, "is not a directory"));
        }
        Ok(TxnLogWriter {
            dir: dir.to_path_buf(),
            opts,
            current: None,
            pending: Vec::new(),
            unsynced: Vec::new(),
            dir_dirty: false,
            dirty: false,
            last_zxid: 0,
            synced_zxid: 0,
            stats: LogStats::default(),
            scratch: Vec::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file the next append goes to, or `None` right after a roll.
    pub fn current_file(&self) -> Option<&Path> {
        self.current.as_ref().map(|f| f.path.as_path())
    }

    /// Logical size of the current file: what it will hold once flushed
    /// (preallocated zeros not counted).
    pub fn current_size(&self) -> u64 {
        self.current
            .as_ref()
            .map_or(0, |f| f.written + self.pending.len() as u64)
    }

    /// 3.8's `getTotalLogSize`: bytes in files rolled away from plus the
    /// current file.
    pub fn total_size(&self) -> u64 {
        self.stats.previous_files_bytes + self.current_size()
    }

    pub fn stats(&self) -> LogStats {
        self.stats
    }

    /// The zxid of the last record appended (0 before any).
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// Appends one record (buffered: durable only after
    /// [`flush_and_sync`](Self::flush_and_sync)). `digest` is the tree
    /// digest after this transaction, or `None` to write the record
    /// without one, which 3.8 accepts and simply does not check.
    pub fn append(
        &mut self,
        hdr: &TxnHeader,
        txn: &Txn,
        digest: Option<TxnDigest>,
    ) -> Result<(), StorageError> {
        if hdr.zxid <= self.last_zxid {
            // 3.8 only warns; replay would refuse the file as out of order.
            return Err(StorageError::invalid(
                &self.dir,
                format!(
                    "refusing to log zxid 0x{:x} after 0x{:x}: zxids must increase",
                    hdr.zxid, self.last_zxid
                ),
            ));
        }
        if self.current.is_none() {
            self.start_file(hdr.zxid)?;
        }
        self.preallocate()?;
        let mut body = std::mem::take(&mut self.scratch);
        body.clear();
        marshal_entry(hdr, txn, digest, &mut body);
        let before = self.pending.len();
        self.pending
            .extend_from_slice(&adler32(&body).to_be_bytes());
        self.pending
            .extend_from_slice(&(body.len() as i32).to_be_bytes());
        self.pending.extend_from_slice(&body);
        self.pending.push(END_OF_RECORD);
        self.stats.bytes_appended += (self.pending.len() - before) as u64;
        self.stats.records_appended += 1;
        self.scratch = body;
        self.last_zxid = hdr.zxid;
        self.dirty = true;
        if self.pending.len() >= WRITE_THROUGH_BYTES {
            self.write_pending()?;
        }
        Ok(())
    }

    /// Writes every appended record and, with `force_sync` (3.8's
    /// `forceSync`, default on), fdatasyncs the files that hold them and
    /// the directory if a file was created. This is the group-commit point:
    /// call it once per batch, then acknowledge the batch.
    pub fn flush_and_sync(&mut self, force_sync: bool) -> Result<SyncReport, StorageError> {
        let mut report = SyncReport {
            bytes_written: self.pending.len() as u64,
            ..SyncReport::default()
        };
        self.write_pending()?;
        if force_sync && (self.dirty || !self.unsynced.is_empty() || self.dir_dirty) {
            let start = Instant::now();
            for old in &self.unsynced {
                old.file
                    .sync_data()
                    .map_err(StorageError::io("fdatasync", &old.path))?;
            }
            if let Some(cur) = &self.current {
                cur.file
                    .sync_data()
                    .map_err(StorageError::io("fdatasync", &cur.path))?;
            }
            if self.dir_dirty {
                sync_dir(&self.dir)?;
                self.dir_dirty = false;
            }
            report.sync_time = start.elapsed();
            self.stats.syncs += 1;
        }
        self.unsynced.clear();
        if let Some(cur) = self.current.as_mut() {
            cur.synced = cur.written;
        }
        self.synced_zxid = self.last_zxid;
        self.dirty = false;
        if let (Some(limit), Some(cur)) = (self.opts.size_limit_bytes, &self.current) {
            if cur.written > limit {
                self.roll()?;
                report.rolled = true;
            }
        }
        Ok(report)
    }

    /// Ends the current file: the next append starts `log.<its zxid>`.
    /// 3.8 rolls when it starts a snapshot, so that the new snapshot and
    /// the logs after it can outlive older files at purge time. The old
    /// file's last records are synced by the next `flush_and_sync`.
    pub fn roll(&mut self) -> Result<(), StorageError> {
        self.write_pending()?;
        if let Some(cur) = self.current.take() {
            self.stats.previous_files_bytes += cur.written;
            self.unsynced.push(cur);
        }
        Ok(())
    }

    /// Writes and syncs everything, then closes the files.
    pub fn close(mut self) -> Result<(), StorageError> {
        self.flush_and_sync(true).map(|_| ())
    }

    /// After a failed append or sync: forgets every record the last
    /// successful `flush_and_sync` did not cover, cutting them off the
    /// files (removing files that hold none of the earlier ones), so that
    /// the transactions whose writes failed can never be replayed and their
    /// zxids can be handed out again. The next append starts a new file.
    /// An error here means the log cannot be trusted: stop the server.
    pub fn abandon_unsynced(mut self) -> Result<TxnLogWriter, StorageError> {
        self.pending.clear();
        // Rolled files were counted in full when rolled away from; count
        // the current one now, then take back what is cut off.
        if let Some(cur) = self.current.take() {
            self.stats.previous_files_bytes += cur.written;
            self.unsynced.push(cur);
        }
        for f in std::mem::take(&mut self.unsynced) {
            let kept = if f.synced <= FILE_HEADER_LEN {
                0
            } else {
                f.synced
            };
            self.stats.previous_files_bytes -= f.written - kept;
            if kept == 0 {
                drop(f.file);
                fs::remove_file(&f.path)
                    .map_err(StorageError::io("remove abandoned log", &f.path))?;
                self.dir_dirty = true;
            } else {
                f.file
                    .set_len(f.synced)
                    .map_err(StorageError::io("truncate abandoned records", &f.path))?;
                f.file
                    .sync_all()
                    .map_err(StorageError::io("fsync truncated log", &f.path))?;
            }
        }
        if self.dir_dirty {
            sync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        self.last_zxid = self.synced_zxid;
        self.dirty = false;
        Ok(self)
    }

    fn start_file(&mut self, zxid: i64) -> Result<(), StorageError> {
        let path = self.dir.join(log_file_name(zxid));
        let file = match create_new(&path) {
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                // Left by a crash right after creating it, or emptied by
                // recovery truncating its only (torn) record. A file with
                // records in it is history: never overwrite that.
                if file_holds_records(&path)? {
                    return Err(StorageError::invalid(
                        &path,
                        format!(
                            "a log file holding transactions already exists for zxid 0x{zxid:x}; \
                             refusing to overwrite it (was recovery skipped?)"
                        ),
                    ));
                }
                fs::remove_file(&path).map_err(StorageError::io("remove empty log", &path))?;
                create_new(&path).map_err(StorageError::io("create log", &path))?
            }
            other => other.map_err(StorageError::io("create log", &path))?,
        };
        let header = FileHeader {
            magic: TXNLOG_MAGIC,
            version: super::FORMAT_VERSION,
            dbid: 0,
        };
        let mut active = ActiveFile {
            path,
            file,
            written: 0,
            synced: 0,
            allocated: FILE_HEADER_LEN,
        };
        active
            .file
            .write_all(&header.encode())
            .map_err(StorageError::io("write log header", &active.path))?;
        active.written = FILE_HEADER_LEN;
        self.current = Some(active);
        self.dir_dirty = true;
        self.stats.files_created += 1;
        Ok(())
    }

    /// 3.8's `FilePadding.padFile`: once within 4 KiB of the preallocated
    /// end, grow the file by one step (or to the next multiple of the step
    /// past the write position, if a large record overran it).
    fn preallocate(&mut self) -> Result<(), StorageError> {
        let step = self.opts.prealloc_bytes;
        let pos = self.current_size();
        let Some(cur) = self.current.as_mut() else {
            return Ok(());
        };
        if step == 0 || pos + PREALLOC_MARGIN < cur.allocated {
            return Ok(());
        }
        let new_len = if pos > cur.allocated {
            let target = pos + step;
            target - target % step
        } else {
            cur.allocated + step
        };
        cur.file
            .set_len(new_len)
            .map_err(StorageError::io("preallocate", &cur.path))?;
        cur.allocated = new_len;
        Ok(())
    }

    fn write_pending(&mut self) -> Result<(), StorageError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let cur = self
            .current
            .as_mut()
            .expect("records are only buffered while a file is open");
        cur.file
            .write_all(&self.pending)
            .map_err(StorageError::io("write log", &cur.path))?;
        cur.written += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }
}

fn create_new(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}
