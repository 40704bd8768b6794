//! Reading a snapshot (layout in [`super::snap_write`]) into a tree, with
//! both Adler-32 seals verified. Like 3.8, a snapshot without the digest
//! section (written before 3.6) is accepted, and unused ACL lists are
//! dropped after loading (`ReferenceCountedACLCache.purgeUnused`).

use super::checksum::AdlerReader;
use super::entry::{FileHeader, FILE_HEADER_LEN, SNAP_MAGIC};
use super::files::{list_by_zxid, zxid_from_name, SNAPSHOT_PREFIX};
use super::StorageError;
use crate::jute::records::{Acl, Id, StatPersisted};
use crate::jute::{Reader, Record};
use crate::proto::path;
use crate::tree::acl::OPEN_UNSAFE_ACL_ID;
use crate::tree::{DataTree, TreeOptions};
use bytes::Bytes;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

const READ_BUFFER: usize = 1 << 20;
/// 3.8 tries at most this many snapshots, newest first, before giving up.
const MAX_SNAPSHOTS_TRIED: usize = 100;
const STAT_PERSISTED_LEN: usize = 60;

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
    let mut input = SnapInput {
        r: AdlerReader::new(BufReader::with_capacity(READ_BUFFER, file)),
        path,
        len,
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

struct SnapInput<'a> {
    r: AdlerReader<BufReader<File>>,
    path: &'a Path,
    len: u64,
}

impl SnapInput<'_> {
    fn snapshot(&mut self, options: TreeOptions) -> Result<LoadedSnapshot, StorageError> {
        let mut head = [0u8; FILE_HEADER_LEN as usize];
        self.exact(&mut head, "the file header")?;
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
        let sessions = self.sessions()?;
        let mut tree = DataTree::empty_for_load(options);
        // A node takes at least ~100 bytes in a snapshot (path, Stat, ACL
        // id, data length): a safe guess that avoids repeated rehashing.
        tree.reserve_nodes((self.len / 128) as usize);
        let mut acl_refs = self.acls(&mut tree)?;
        self.nodes(&mut tree, &mut acl_refs)?;
        self.check_seal("the snapshot")?;
        // As 3.8: a digest section cut short counts as none (3.8 warns and
        // loads the snapshot); a whole one must be followed by its seal.
        let digest = match self.digest()? {
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

    fn sessions(&mut self) -> Result<Vec<(i64, u32)>, StorageError> {
        let at = self.r.offset();
        let count = self.count("session count", 12)?;
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let id = self.i64("a session id")?;
            let timeout = self.i32("a session timeout")?;
            if timeout < 0 {
                return Err(self.corrupt(at, format!("session 0x{id:x} has timeout {timeout}")));
            }
            out.push((id, timeout as u32));
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Restores the ACL table; returns the ids it defines, with a count
    /// of nodes using each to be filled in.
    fn acls(&mut self, tree: &mut DataTree) -> Result<HashMap<i64, u64>, StorageError> {
        let count = self.count("ACL table size", 12)?;
        let mut ids = HashMap::with_capacity(count);
        for _ in 0..count {
            let id = self.i64("an ACL id")?;
            let at = self.r.offset();
            let n = self.i32("an ACL list length")?;
            if n < 0 {
                return Err(self.corrupt(at, format!("ACL list {id} has length {n}")));
            }
            let mut list = Vec::with_capacity((n as usize).min(64));
            for _ in 0..n {
                let perms = self.i32("ACL permissions")?;
                let scheme = self.string("an ACL scheme")?;
                let ident = self.string("an ACL id")?;
                list.push(Acl {
                    perms,
                    id: Id { scheme, id: ident },
                });
            }
            tree.acls.restore(id, list);
            ids.insert(id, 0);
        }
        Ok(ids)
    }

    fn nodes(
        &mut self,
        tree: &mut DataTree,
        acl_refs: &mut HashMap<i64, u64>,
    ) -> Result<(), StorageError> {
        let mut stat_bytes = [0u8; STAT_PERSISTED_LEN];
        loop {
            let at = self.r.offset();
            let p = self.string("a node path")?;
            if p == "/" {
                break;
            }
            let data = self.opt_buffer("node data")?;
            let acl = self.i64("a node's ACL id")?;
            self.exact(&mut stat_bytes, "a node's Stat")?;
            let stat = StatPersisted::decode(&mut Reader::new(&stat_bytes)).expect("60 bytes");
            let p = if p.is_empty() { "/".to_owned() } else { p };
            if tree.node(&p).is_some() {
                return Err(self.corrupt(at, format!("node {p} appears twice")));
            }
            if p == "/" {
                // The root comes first; nothing else can.
            } else if !p.starts_with('/') {
                return Err(self.corrupt(at, format!("node path {p:?} is not absolute")));
            } else if tree.node(path::parent(&p)).is_none() {
                return Err(self.corrupt(
                    at,
                    format!("node {p} comes before its parent {}", path::parent(&p)),
                ));
            }
            if acl != OPEN_UNSAFE_ACL_ID {
                match acl_refs.get_mut(&acl) {
                    Some(n) => *n += 1,
                    None => {
                        return Err(self.corrupt(
                            at,
                            format!(
                                "node {p} uses ACL id {acl}, which the ACL table does not hold"
                            ),
                        ))
                    }
                }
                tree.acls.add_ref(acl);
            }
            tree.insert_raw(&p, data, acl, stat);
        }
        if tree.node("/").is_none() {
            return Err(self.corrupt(self.r.offset(), "the snapshot has no root node".into()));
        }
        for (id, refs) in acl_refs.iter() {
            if *refs == 0 {
                // Unreferenced: 3.8 purges such lists after loading.
                tree.acls.release(*id);
            }
        }
        // 3.8's setupQuota: the quota figures are recounted, not trusted.
        tree.rebuild_quotas();
        Ok(())
    }

    /// The digest section, or `None` when the file ends before all of it.
    fn digest(&mut self) -> Result<Option<SnapshotDigest>, StorageError> {
        if self.left() < 12 {
            return Ok(None);
        }
        let zxid = self.i64("the digest zxid")?;
        let version = self.i32("the digest version")?;
        let digest = if version < 2 {
            // Before version 2 the digest was a hex string.
            let at = self.r.offset();
            if self.left() < 4 {
                return Ok(None);
            }
            let len = self.i32("the digest length")?;
            if len < 0 || len as u64 > self.left() {
                return Ok(None);
            }
            let mut b = vec![0u8; len as usize];
            self.exact(&mut b, "the digest")?;
            let s = String::from_utf8_lossy(&b).into_owned();
            u64::from_str_radix(&s, 16)
                .map(|v| v as i64)
                .map_err(|_| self.corrupt(at, format!("digest {s:?} is not hex")))?
        } else {
            if self.left() < 8 {
                return Ok(None);
            }
            self.i64("the digest")?
        };
        Ok(Some(SnapshotDigest {
            zxid,
            version,
            digest,
        }))
    }

    fn left(&self) -> u64 {
        self.len.saturating_sub(self.r.offset())
    }

    /// 3.8's `checkSealIntegrity`: the Adler-32 of every byte so far, then "/".
    fn check_seal(&mut self, what: &str) -> Result<(), StorageError> {
        let expected = self.r.checksum();
        let at = self.r.offset();
        let stored = self.i64("a checksum")?;
        let slash = self.string("the seal")?;
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

    fn count(&mut self, what: &str, min_entry_len: u64) -> Result<usize, StorageError> {
        let at = self.r.offset();
        let n = self.i32(what)?;
        let left = self.left();
        if n < 0 || n as u64 * min_entry_len > left {
            return Err(self.corrupt(at, format!("{what} {n} does not fit the file")));
        }
        Ok(n as usize)
    }

    fn i32(&mut self, what: &str) -> Result<i32, StorageError> {
        let mut b = [0u8; 4];
        self.exact(&mut b, what)?;
        Ok(i32::from_be_bytes(b))
    }

    fn i64(&mut self, what: &str) -> Result<i64, StorageError> {
        let mut b = [0u8; 8];
        self.exact(&mut b, what)?;
        Ok(i64::from_be_bytes(b))
    }

    fn opt_buffer(&mut self, what: &str) -> Result<Option<Bytes>, StorageError> {
        let at = self.r.offset();
        let n = self.i32(what)?;
        if n == -1 {
            return Ok(None);
        }
        let left = self.left();
        if n < 0 || n as u64 > left {
            return Err(self.corrupt(at, format!("{what} has length {n} ({left} bytes left)")));
        }
        let mut v = vec![0u8; n as usize];
        self.exact(&mut v, what)?;
        Ok(Some(Bytes::from(v)))
    }

    fn string(&mut self, what: &str) -> Result<String, StorageError> {
        let at = self.r.offset();
        let b = self
            .opt_buffer(what)?
            .ok_or_else(|| self.corrupt(at, format!("{what} is null")))?;
        String::from_utf8(b.to_vec()).map_err(|_| self.corrupt(at, format!("{what} is not UTF-8")))
    }

    fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), StorageError> {
        let at = self.r.offset();
        self.r.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                self.corrupt(at, format!("the file ends inside {what}"))
            } else {
                StorageError::io("read snapshot", self.path)(e)
            }
        })
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
