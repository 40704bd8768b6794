//! Decoding the part a snapshot file and the leader's SNAP stream share
//! (3.8's `SerializeUtils.deserializeSnapshot`): the sessions, the ACL
//! table and the nodes up to the "/" end marker. The caller wraps the
//! result in its own error, naming a file or the stream.

use super::checksum::AdlerReader;
use crate::jute::records::{Acl, Id, StatPersisted};
use crate::jute::{Reader, Record};
use crate::proto::path;
use crate::tree::acl::OPEN_UNSAFE_ACL_ID;
use crate::tree::{DataTree, TreeOptions};
use bytes::Bytes;
use std::collections::HashMap;
use std::io::{self, Read};

const STAT_PERSISTED_LEN: usize = 60;
/// The most a buffer's stated length makes us reserve before its bytes
/// arrive: a stream has no known size to check a length against.
const MAX_UP_FRONT: usize = 1 << 20;

/// Why the snapshot content did not decode.
#[derive(Debug)]
pub(crate) enum Defect {
    Io(io::Error),
    /// Bad content at `offset` bytes from the start of the input.
    Corrupt {
        offset: u64,
        what: String,
    },
}

pub(crate) struct SnapInput<R: Read> {
    pub(crate) r: AdlerReader<R>,
    /// The input's size when known (a file): lengths and counts are
    /// checked against what is left, so a bad one fails before allocating.
    len: Option<u64>,
    /// "file" or "stream", for "the file ends inside ..." messages.
    noun: &'static str,
}

impl<R: Read> SnapInput<R> {
    pub(crate) fn new(r: R, len: Option<u64>, noun: &'static str) -> Self {
        SnapInput {
            r: AdlerReader::new(r),
            len,
            noun,
        }
    }

    /// Sessions, the ACL table and the nodes through the end marker, into
    /// a tree whose quota figures are recounted and whose unused ACL
    /// lists are dropped, as 3.8's `DataTree.deserialize` leaves it.
    pub(crate) fn sessions_and_tree(
        &mut self,
        options: TreeOptions,
    ) -> Result<(Vec<(i64, u32)>, DataTree), Defect> {
        let sessions = self.sessions()?;
        let mut tree = DataTree::empty_for_load(options);
        if let Some(len) = self.len {
            // A node takes at least ~100 bytes in a snapshot (path, Stat,
            // ACL id, data length): a safe guess that avoids rehashing.
            tree.reserve_nodes((len / 128) as usize);
        }
        let mut acl_refs = self.acls(&mut tree)?;
        self.nodes(&mut tree, &mut acl_refs)?;
        Ok((sessions, tree))
    }

    fn sessions(&mut self) -> Result<Vec<(i64, u32)>, Defect> {
        let at = self.r.offset();
        let count = self.count("session count", 12)?;
        let mut out = Vec::with_capacity(count.min(MAX_UP_FRONT));
        for _ in 0..count {
            let id = self.i64("a session id")?;
            let timeout = self.i32("a session timeout")?;
            if timeout < 0 {
                return Err(corrupt(
                    at,
                    format!("session 0x{id:x} has timeout {timeout}"),
                ));
            }
            out.push((id, timeout as u32));
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Restores the ACL table; returns the ids it defines, with a count
    /// of nodes using each to be filled in.
    fn acls(&mut self, tree: &mut DataTree) -> Result<HashMap<i64, u64>, Defect> {
        let count = self.count("ACL table size", 12)?;
        let mut ids = HashMap::with_capacity(count.min(MAX_UP_FRONT));
        for _ in 0..count {
            let id = self.i64("an ACL id")?;
            let at = self.r.offset();
            let n = self.i32("an ACL list length")?;
            if n < 0 {
                return Err(corrupt(at, format!("ACL list {id} has length {n}")));
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
    ) -> Result<(), Defect> {
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
                return Err(corrupt(at, format!("node {p} appears twice")));
            }
            if p == "/" {
                // The root comes first; nothing else can.
            } else if !p.starts_with('/') {
                return Err(corrupt(at, format!("node path {p:?} is not absolute")));
            } else if tree.node(path::parent(&p)).is_none() {
                return Err(corrupt(
                    at,
                    format!("node {p} comes before its parent {}", path::parent(&p)),
                ));
            }
            if acl != OPEN_UNSAFE_ACL_ID {
                match acl_refs.get_mut(&acl) {
                    Some(n) => *n += 1,
                    None => {
                        return Err(corrupt(
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
            return Err(corrupt(
                self.r.offset(),
                "the snapshot has no root node".into(),
            ));
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

    /// Bytes left in a file; unbounded for a stream.
    pub(crate) fn left(&self) -> u64 {
        match self.len {
            Some(len) => len.saturating_sub(self.r.offset()),
            None => u64::MAX,
        }
    }

    fn count(&mut self, what: &str, min_entry_len: u64) -> Result<usize, Defect> {
        let at = self.r.offset();
        let n = self.i32(what)?;
        if n < 0 || (n as u64).saturating_mul(min_entry_len) > self.left() {
            let room = match self.len {
                Some(_) => "the file",
                None => "anything",
            };
            return Err(corrupt(at, format!("{what} {n} does not fit {room}")));
        }
        Ok(n as usize)
    }

    pub(crate) fn i32(&mut self, what: &str) -> Result<i32, Defect> {
        let mut b = [0u8; 4];
        self.exact(&mut b, what)?;
        Ok(i32::from_be_bytes(b))
    }

    pub(crate) fn i64(&mut self, what: &str) -> Result<i64, Defect> {
        let mut b = [0u8; 8];
        self.exact(&mut b, what)?;
        Ok(i64::from_be_bytes(b))
    }

    pub(crate) fn opt_buffer(&mut self, what: &str) -> Result<Option<Bytes>, Defect> {
        let at = self.r.offset();
        let n = self.i32(what)?;
        if n == -1 {
            return Ok(None);
        }
        let left = self.left();
        if n < 0 || n as u64 > left {
            return Err(corrupt(
                at,
                format!("{what} has length {n} ({left} bytes left)"),
            ));
        }
        let n = n as usize;
        // Reserve no more than a bounded amount before the bytes arrive:
        // a stream's lengths cannot be checked against its size.
        let mut v = Vec::with_capacity(n.min(MAX_UP_FRONT));
        let got = (&mut self.r)
            .take(n as u64)
            .read_to_end(&mut v)
            .map_err(Defect::Io)?;
        if got < n {
            return Err(self.ended_inside(what));
        }
        Ok(Some(Bytes::from(v)))
    }

    pub(crate) fn string(&mut self, what: &str) -> Result<String, Defect> {
        let at = self.r.offset();
        let b = self
            .opt_buffer(what)?
            .ok_or_else(|| corrupt(at, format!("{what} is null")))?;
        String::from_utf8(b.to_vec()).map_err(|_| corrupt(at, format!("{what} is not UTF-8")))
    }

    pub(crate) fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), Defect> {
        let at = self.r.offset();
        self.r.read_exact(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                corrupt(at, format!("the {} ends inside {what}", self.noun))
            } else {
                Defect::Io(e)
            }
        })
    }

    fn ended_inside(&self, what: &str) -> Defect {
        corrupt(
            self.r.offset(),
            format!("the {} ends inside {what}", self.noun),
        )
    }
}

pub(crate) fn corrupt(offset: u64, what: String) -> Defect {
    Defect::Corrupt { offset, what }
}
