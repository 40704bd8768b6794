//! Reading a snapshot (layout in [`super::snap_write`]) into a tree, with
//! both Adler-32 seals verified; the content between header and seal is
//! decoded by [`super::snap_input`], shared with the SNAP stream. Like 3.8, a snapshot without the digest
//! section (written before 3.6) is accepted, and unused ACL lists are
//! dropped after loading (`ReferenceCountedACLCache.purgeUnused`).

use super::entry::{FileHeader, FILE_HEADER_LEN, SNAP_MAGIC};
use super::files::{list_by_zxid, zxid_from_name, SNAPSHOT_PREFIX};
use super::snap_input::{corrupt, Defect, SnapInput};
use super::StorageError;
use crate::tree::{DataTree, TreeOptions};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

const READ_BUFFER: usize = 1 << 20;
/// 3.8 tries at most this many snapshots, newest first, before giving up.
const MAX_SNAPSHOTS_TRIED: usize = 100;

/// The tree digest a snapshot carries: the digest 3.8 had at `zxid` (the
/// last transaction applied when it finished writing, later than the
/// file's zxid for a fuzzy snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotDigest {
    pub zxid: i64,
    pub version: i32,
    pub digest: i64,
}

pub struct LoadedSnapshot {
    pub path: PathBuf,
    pub tree: DataTree,
    /// (session id, timeout ms), sorted by id.
    pub sessions: Vec<(i64, u32)>,
    /// The zxid in the file name: replay starts after it.
    pub zxid: i64,
    pub digest: Option<SnapshotDigest>,
}

impl std::fmt::Debug for LoadedSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedSnapshot")
            .field("path", &self.path)
            .field("nodes", &self.tree.node_count())
            .field("sessions", &self.sessions)
            .field("zxid", &self.zxid)
            .field("digest", &self.digest)
            .finish()
    }
}

/// A snapshot [`newest_valid_snapshot`] passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedSnapshot {
    pub path: PathBuf,
    pub reason: String,
}

/// Loads one snapshot file.
pub fn read_snapshot(path: &Path, options: TreeOptions) -> Result<LoadedSnapshot, StorageError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| StorageError::invalid(path, "not a snapshot file name"))?;
    let zxid = zxid_from_name(name, SNAPSHOT_PREFIX)
        .ok_or_else(|| StorageError::invalid(path, "not named snapshot.<hex zxid>"))?;
    if let Some(ext) = compression(name) {
        return Err(StorageError::invalid(
            path,
            format!(
                "{ext}-compressed snapshots are not supported; decompress it to {} \
                 (the content is a plain snapshot), or start Apache ZooKeeper once without \
                 zookeeper.snapshot.compression.method so that it writes a plain one",
                path.with_extension("").display()
            ),
        ));
    }
    let file = File::open(path).map_err(StorageError::io("open snapshot", path))?;
    let len = file
        .metadata()
        .map_err(StorageError::io("stat snapshot", path))?
        .len();
    let mut input = SnapFile {
        input: SnapInput::new(
            BufReader::with_capacity(READ_BUFFER, file),
            Some(len),
            "file",
        ),
        path,
    };
    let mut loaded = input.snapshot(options)?;
    loaded.tree.last_zxid = zxid;
    loaded.zxid = zxid;
    Ok(loaded)
}

/// The newest snapshot of `snap_dir` that loads, trying older ones when a
/// newer one does not (3.8 does the same, with a warning for each).
/// `Ok((None, _))` when there is none at all.
pub fn newest_valid_snapshot(
    snap_dir: &Path,
    options: TreeOptions,
) -> Result<(Option<LoadedSnapshot>, Vec<SkippedSnapshot>), StorageError> {
    let mut skipped = Vec::new();
    let candidates = list_by_zxid(snap_dir, SNAPSHOT_PREFIX)?;
    for (_, path) in candidates.into_iter().rev().take(MAX_SNAPSHOTS_TRIED) {
        match read_snapshot(&path, options) {
            Ok(s) => return Ok((Some(s), skipped)),
            Err(e) => {
                tracing::warn!("skipping snapshot {}: {e}", path.display());
                skipped.push(SkippedSnapshot {
                    path,
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok((None, skipped))
}

fn compression(name: &str) -> Option<&'static str> {
    match name.rsplit('.').next() {
        Some(ext) if ext.eq_ignore_ascii_case("gz") => Some("gzip"),
        Some(ext) if ext.eq_ignore_ascii_case("snappy") => Some("snappy"),
        _ => None,
    }
}

/// A snapshot file being read: the shared content decoder plus the file's
/// own framing (header, seals, digest section).
struct SnapFile<'a> {
    input: SnapInput<BufReader<File>>,
    path: &'a Path,
}

impl SnapFile<'_> {
    fn snapshot(&mut self, options: TreeOptions) -> Result<LoadedSnapshot, StorageError> {
        let mut head = [0u8; FILE_HEADER_LEN as usize];
        self.input
            .exact(&mut head, "the file header")
            .map_err(|d| self.error(d))?;
        let header = FileHeader::decode(&head);
        if header.magic != SNAP_MAGIC {
            return Err(self.corrupt(
                0,
                format!(
                    "not a snapshot: magic 0x{:08x}, expected 0x{SNAP_MAGIC:08x} (\"ZKSN\")",
                    header.magic
                ),
            ));
        }
        let (sessions, tree) = self
            .input
            .sessions_and_tree(options)
            .map_err(|d| self.error(d))?;
        self.check_seal("the snapshot")?;
        // As 3.8: a digest section cut short counts as none (3.8 warns and
        // loads the snapshot); a whole one must be followed by its seal.
        let digest = match self.digest().map_err(|d| self.error(d))? {
            Some(d) => {
                self.check_seal("the digest section")?;
                Some(d)
            }
            None => None,
        };
        Ok(LoadedSnapshot {
            path: self.path.to_path_buf(),
            tree,
            sessions,
            zxid: 0,
            digest,
        })
    }

    /// The digest section, or `None` when the file ends before all of it.
    fn digest(&mut self) -> Result<Option<SnapshotDigest>, Defect> {
        let input = &mut self.input;
        if input.left() < 12 {
            return Ok(None);
        }
        let zxid = input.i64("the digest zxid")?;
        let version = input.i32("the digest version")?;
        let digest = if version < 2 {
            // Before version 2 the digest was a hex string.
            let at = input.r.offset();
            if input.left() < 4 {
                return Ok(None);
            }
            let len = input.i32("the digest length")?;
            if len < 0 || len as u64 > input.left() {
                return Ok(None);
            }
            let mut b = vec![0u8; len as usize];
            input.exact(&mut b, "the digest")?;
            let s = String::from_utf8_lossy(&b).into_owned();
            u64::from_str_radix(&s, 16)
                .map(|v| v as i64)
                .map_err(|_| corrupt(at, format!("digest {s:?} is not hex")))?
        } else {
            if input.left() < 8 {
                return Ok(None);
            }
            input.i64("the digest")?
        };
        Ok(Some(SnapshotDigest {
            zxid,
            version,
            digest,
        }))
    }

    /// 3.8's `checkSealIntegrity`: the Adler-32 of every byte so far, then "/".
    fn check_seal(&mut self, what: &str) -> Result<(), StorageError> {
        let expected = self.input.r.checksum();
        let at = self.input.r.offset();
        let stored = self.input.i64("a checksum").map_err(|d| self.error(d))?;
        let slash = self.input.string("the seal").map_err(|d| self.error(d))?;
        if stored != expected {
            return Err(self.corrupt(
                at,
                format!(
                    "checksum of {what} does not match (stored 0x{stored:x}, computed 0x{expected:x})"
                ),
            ));
        }
        if slash != "/" {
            return Err(self.corrupt(at + 8, format!("seal is {slash:?}, not \"/\"")));
        }
        Ok(())
    }

    fn error(&self, defect: Defect) -> StorageError {
        match defect {
            Defect::Io(e) => StorageError::io("read snapshot", self.path)(e),
            Defect::Corrupt { offset, what } => self.corrupt(offset, what),
        }
    }

    fn corrupt(&self, offset: u64, what: String) -> StorageError {
        StorageError::Corrupt {
            file: self.path.to_path_buf(),
            offset,
            what,
            hint: "An older snapshot plus the logs after it can stand in for this one; \
                   move this file away if no older snapshot is tried automatically"
                .into(),
        }
    }
}
