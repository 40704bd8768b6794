//! Writing a snapshot as 3.8's `FileSnap.serialize` lays it out:
//!
//! ```text
//! FileHeader      "ZKSN", version 2, dbid -1
//! int count, then (long sessionId, int timeoutMs) per session
//! int count, then (long aclId, vector<ACL>) per ACL list
//! per znode in pre-order from the root: string path (the root as ""),
//!     buffer data, long aclId, StatPersisted
//! string "/"                           end of the nodes
//! long adler32, string "/"             seal over everything before it
//! long zxid, int 2, long digest        the tree digest (ZxidDigest)
//! long adler32, string "/"             seal over everything before it
//! ```
//!
//! Our tree is not changed while it is written, so the snapshot is not
//! fuzzy: its digest is the tree's at `tree.last_zxid`, which 3.8 checks as
//! soon as it has loaded the file.

use super::checksum::AdlerWriter;
use super::digest::{node_digest, DIGEST_VERSION};
use super::entry::{FileHeader, FORMAT_VERSION, SNAP_MAGIC};
use super::files::{snapshot_file_name, sync_dir};
use super::StorageError;
use crate::jute::{Record, Writer};
use crate::tree::DataTree;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

const WRITE_BUFFER: usize = 1 << 20;

/// Prefix of a snapshot being written. It does not start with "snapshot."
/// so that neither 3.8 nor we take a half-written file for a snapshot.
pub(crate) const TEMP_PREFIX: &str = ".zkd-snapshot.";

/// What [`write_snapshot`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub path: PathBuf,
    pub zxid: i64,
    pub bytes: u64,
    pub nodes: u64,
    pub sessions: usize,
    /// The tree digest recorded in it, at `tree.last_zxid`.
    pub digest: i64,
}

/// Writes `snapshot.<zxid>` into `snap_dir`: to a temporary name first,
/// fsynced, then renamed into place and the directory fsynced, so a crash
/// leaves either no snapshot or a whole one. `zxid` names the file: the
/// last zxid applied when the snapshot started, which recovery replays
/// after; it may not be ahead of `tree.last_zxid`.
pub fn write_snapshot(
    snap_dir: &Path,
    tree: &DataTree,
    sessions: &[(i64, u32)],
    zxid: i64,
) -> Result<SnapshotInfo, StorageError> {
    if zxid > tree.last_zxid {
        return Err(StorageError::invalid(
            snap_dir,
            format!(
                "a snapshot named 0x{zxid:x} would claim transactions the tree has not applied \
                 (it is at 0x{:x})",
                tree.last_zxid
            ),
        ));
    }
    let final_path = snap_dir.join(snapshot_file_name(zxid));
    let tmp = snap_dir.join(format!("{TEMP_PREFIX}{zxid:x}.tmp"));
    let result = write_to(&tmp, tree, sessions).and_then(|(bytes, nodes, digest)| {
        fs::rename(&tmp, &final_path)
            .map_err(StorageError::io("rename snapshot into place", &final_path))?;
        sync_dir(snap_dir)?;
        Ok(SnapshotInfo {
            path: final_path.clone(),
            zxid,
            bytes,
            nodes,
            sessions: sessions.len(),
            digest,
        })
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_to(
    tmp: &Path,
    tree: &DataTree,
    sessions: &[(i64, u32)],
) -> Result<(u64, u64, i64), StorageError> {
    let file = File::create(tmp).map_err(StorageError::io("create snapshot", tmp))?;
    let mut out = AdlerWriter::new(BufWriter::with_capacity(WRITE_BUFFER, file));
    let (nodes, digest) =
        write_body(tree, sessions, &mut out).map_err(StorageError::io("write snapshot", tmp))?;
    let bytes = out.written();
    let file = out
        .into_inner()
        .into_inner()
        .map_err(|e| StorageError::io("write snapshot", tmp)(e.into_error()))?;
    file.sync_all()
        .map_err(StorageError::io("fsync snapshot", tmp))?;
    Ok((bytes, nodes, digest))
}

fn write_body(
    tree: &DataTree,
    sessions: &[(i64, u32)],
    out: &mut AdlerWriter<BufWriter<File>>,
) -> std::io::Result<(u64, i64)> {
    let mut w = Writer::with_capacity(4096);
    let header = FileHeader {
        magic: SNAP_MAGIC,
        version: FORMAT_VERSION,
        dbid: -1,
    };
    w.raw(&header.encode());
    let (nodes, digest) = write_sessions_and_tree(tree, sessions, out, &mut w)?;
    // 3.8's seal: the checksum so far, and "/".
    seal(out, &mut w)?;
    w.i64(tree.last_zxid);
    w.i32(DIGEST_VERSION);
    w.i64(digest);
    flush_chunk(out, &mut w)?;
    seal(out, &mut w)?;
    out.flush()?;
    Ok((nodes, digest))
}

/// What 3.8's `SerializeUtils.serializeSnapshot` writes, in a snapshot
/// file and after a SNAP packet alike: sessions, ACL table, nodes and the
/// "/" end marker. Whatever `w` holds is written first; it is left empty.
/// Returns the node count and the tree digest, computed on the way.
pub(crate) fn write_sessions_and_tree(
    tree: &DataTree,
    sessions: &[(i64, u32)],
    out: &mut impl Write,
    w: &mut Writer,
) -> std::io::Result<(u64, i64)> {
    let mut sorted = sessions.to_vec();
    sorted.sort_unstable();
    w.i32(sorted.len() as i32);
    for (id, timeout) in &sorted {
        w.i64(*id);
        w.i32(*timeout as i32);
    }
    let acls = tree.acls.entries();
    w.i32(acls.len() as i32);
    for (id, list) in acls {
        w.i64(id);
        w.vec(list);
    }
    let (nodes, digest) = write_nodes(tree, out, w)?;
    w.string("/");
    flush_chunk(out, w)?;
    Ok((nodes, digest))
}

/// Pre-order from the root, children in name order (3.8 uses its hash
/// set's order; readers only need parents before children). Returns the
/// node count and the tree digest, computed on the way.
fn write_nodes(
    tree: &DataTree,
    out: &mut impl Write,
    w: &mut Writer,
) -> std::io::Result<(u64, i64)> {
    let mut count = 0u64;
    let mut digest = 0i64;
    // An explicit stack: paths can nest deeper than the thread's stack.
    let mut stack: Vec<String> = vec!["/".to_owned()];
    while let Some(p) = stack.pop() {
        let Some(node) = tree.node(&p) else { continue };
        w.string(if p == "/" { "" } else { &p });
        w.opt_buffer(node.data.as_deref());
        w.i64(node.acl);
        node.stat.encode(w);
        count += 1;
        digest = digest.wrapping_add(node_digest(&p, node));
        let prefix = if p == "/" { "" } else { p.as_str() };
        stack.extend(node.children.iter().rev().map(|c| format!("{prefix}/{c}")));
        if w.len() >= WRITE_BUFFER / 4 {
            flush_chunk(out, w)?;
        }
    }
    Ok((count, digest))
}

/// Hands the encoded bytes on and empties the encoder, keeping its buffer.
fn flush_chunk(out: &mut impl Write, w: &mut Writer) -> std::io::Result<()> {
    out.write_all(w.as_slice())?;
    let mut buf = std::mem::take(w).into_vec();
    buf.clear();
    *w = Writer::from_vec(buf);
    Ok(())
}

fn seal<W: Write>(out: &mut AdlerWriter<W>, w: &mut Writer) -> std::io::Result<()> {
    w.i64(out.checksum());
    w.string("/");
    flush_chunk(out, w)
}
