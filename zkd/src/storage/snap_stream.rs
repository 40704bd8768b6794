//! The snapshot a 3.8 leader streams to a learner right after a SNAP
//! packet on the quorum port (`LearnerHandler.run`): exactly
//! `SerializeUtils.serializeSnapshot` (sessions, ACL table, nodes, the "/"
//! end marker) with no file header, seal or digest, then the string
//! "BenWasHere", which the learner checks (`Learner.syncWithLeader`).

use super::snap_input::{Defect, SnapInput};
use super::snap_write::write_sessions_and_tree;
use crate::jute::Writer;
use crate::tree::{DataTree, TreeOptions};
use std::io::{self, Read, Write};

/// The string that ends the stream.
pub const SNAP_STREAM_SIGNATURE: &str = "BenWasHere";

/// Why a SNAP stream did not decode.
#[derive(Debug, thiserror::Error)]
pub enum SnapStreamError {
    #[error("reading the leader's snapshot stream: {0}")]
    Io(#[source] io::Error),
    #[error("the leader's snapshot stream is corrupt at byte {offset}: {what}")]
    Corrupt { offset: u64, what: String },
}

impl From<Defect> for SnapStreamError {
    fn from(d: Defect) -> Self {
        match d {
            Defect::Io(e) => SnapStreamError::Io(e),
            Defect::Corrupt { offset, what } => SnapStreamError::Corrupt { offset, what },
        }
    }
}

/// Writes the stream for `tree` and `sessions` (id, timeout ms) and
/// returns the number of nodes written. Nothing is flushed: the caller
/// owns the buffering of `out`.
pub fn write_snapshot_stream(
    tree: &DataTree,
    sessions: &[(i64, u32)],
    out: &mut impl Write,
) -> io::Result<u64> {
    let mut w = Writer::with_capacity(4096);
    let (nodes, _digest) = write_sessions_and_tree(tree, sessions, out, &mut w)?;
    w.string(SNAP_STREAM_SIGNATURE);
    out.write_all(w.as_slice())?;
    Ok(nodes)
}

/// Reads a stream [`write_snapshot_stream`] (or a 3.8 leader) wrote, up to
/// and including its signature, and nothing after it. Sessions come back
/// sorted by id. The tree's `last_zxid` is left 0: the SNAP packet's zxid
/// is the one to set.
pub fn read_snapshot_stream(
    r: &mut impl Read,
    options: TreeOptions,
) -> Result<(DataTree, Vec<(i64, u32)>), SnapStreamError> {
    let mut input = SnapInput::new(r, None, "stream");
    let (sessions, tree) = input.sessions_and_tree(options)?;
    let at = input.r.offset();
    let signature = input.string("the signature")?;
    if signature != SNAP_STREAM_SIGNATURE {
        return Err(SnapStreamError::Corrupt {
            offset: at,
            what: format!("the signature is {signature:?}, not {SNAP_STREAM_SIGNATURE:?}"),
        });
    }
    Ok((tree, sessions))
}
