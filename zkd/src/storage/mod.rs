//! Transaction logs and snapshots, byte-compatible with Apache ZooKeeper
//! 3.8's `dataDir/version-2`: a dataDir written by 3.8 loads here, and one
//! written here loads in 3.8.
//!
//! Everything in this module is plain blocking `std` I/O with no clock and
//! no threads of its own: the shell runs it on a thread of its choosing.
//!
//! - [`TxnLogWriter`] appends records to `log.<zxid>` files, preallocating
//!   them in steps, and makes a batch durable with one `fdatasync`
//!   ([`TxnLogWriter::flush_and_sync`], the group-commit point).
//! - [`read_logs`] replays records from a zxid on, telling a torn tail
//!   (a crash mid-append: [`TruncatedTail`]) from corruption or a gap.
//! - [`write_snapshot`] / [`read_snapshot`] / [`newest_valid_snapshot`]:
//!   `snapshot.<zxid>` files with their Adler-32 seals and 3.8's tree digest.
//! - [`write_snapshot_stream`] / [`read_snapshot_stream`]: the same content
//!   as the stream a leader sends a learner after a SNAP packet.
//! - [`recover`]: newest valid snapshot plus log replay, as 3.8's
//!   `FileTxnSnapLog.restore` does, truncating a torn tail.
//! - [`DataDirLock`], [`purge`], and the `currentEpoch`/`acceptedEpoch`
//!   files ([`read_epoch`], [`write_epoch`]).

mod checksum;
pub mod digest;
mod dirs;
mod entry;
mod epoch;
mod error;
mod files;
mod lock;
mod log_reader;
mod log_writer;
mod purge;
mod recover;
mod snap_input;
mod snap_read;
mod snap_stream;
mod snap_write;
mod truncate;

pub use dirs::DataDirs;
pub use entry::{
    marshal_entry, unmarshal_entry, FileHeader, LogEntry, TxnDigest, FORMAT_VERSION, SNAP_MAGIC,
    TXNLOG_MAGIC,
};
pub use epoch::{read_epoch, write_epoch, EpochFile};
pub use error::StorageError;
pub use files::{log_file_name, snapshot_file_name, zxid_from_name, LOG_PREFIX, SNAPSHOT_PREFIX};
pub use lock::{DataDirLock, LOCK_FILE};
pub use log_reader::{read_logs, LogReplay, TruncatedTail};
pub use log_writer::{LogOptions, LogStats, SyncReport, TxnLogWriter};
pub use purge::{purge, MIN_RETAIN_COUNT};
pub use recover::{recover, RecoverOptions, Recovered, RecoverySummary};
pub use snap_read::{
    newest_valid_snapshot, read_snapshot, LoadedSnapshot, SkippedSnapshot, SnapshotDigest,
};
pub use snap_stream::{
    read_snapshot_stream, write_snapshot_stream, SnapStreamError, SNAP_STREAM_SIGNATURE,
};
pub use snap_write::{write_snapshot, SnapshotInfo};
pub use truncate::truncate_after;

/// `zookeeper.preAllocSize`'s default: log files grow in 64 MiB steps.
pub const DEFAULT_PREALLOC_BYTES: u64 = 64 * 1024 * 1024;

#[cfg(test)]
mod tests;
