use super::support::{assert_same_tree, History, SESSION};
use crate::jute::records::{Acl, StatPersisted};
use crate::jute::{Record, Writer};
use crate::storage::checksum::adler32;
use crate::storage::digest::{node_digest, tree_digest, DigestTracker};
use crate::storage::{
    newest_valid_snapshot, read_snapshot, snapshot_file_name, write_snapshot, StorageError,
};
use crate::tree::{DataTree, TreeOptions};
use std::fs;
use std::path::Path;

fn history() -> History {
    let mut h = History::new();
    h.workload();
    h
}

fn opts() -> TreeOptions {
    TreeOptions::default()
}

#[test]
fn a_snapshot_round_trips_tree_sessions_and_digest() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    let info = write_snapshot(dir.path(), &h.tree, &h.sessions_vec(), h.last_zxid()).unwrap();
    assert_eq!(
        info.path,
        dir.path().join(snapshot_file_name(h.last_zxid()))
    );
    assert_eq!(info.nodes as usize, h.tree.node_count());
    assert_eq!(info.digest, tree_digest(&h.tree));
    assert_eq!(info.bytes, fs::metadata(&info.path).unwrap().len());
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temporary file is left: {names:?}");

    let loaded = read_snapshot(&info.path, opts()).unwrap();
    assert_same_tree(&loaded.tree, &h.tree);
    assert_eq!(loaded.sessions, h.sessions_vec());
    assert_eq!(loaded.zxid, h.last_zxid());
    let d = loaded.digest.unwrap();
    assert_eq!(
        (d.zxid, d.version, d.digest),
        (h.last_zxid(), 2, tree_digest(&h.tree))
    );
    // The ACL table comes back under the same ids.
    let ids = |t: &DataTree| -> Vec<(i64, Vec<Acl>)> {
        t.acls
            .entries()
            .into_iter()
            .map(|(i, l)| (i, l.to_vec()))
            .collect()
    };
    assert_eq!(ids(&loaded.tree), ids(&h.tree));
    // The tree keeps working: a new ACL list gets a fresh id.
    let mut tree = loaded.tree;
    let fresh = tree.acls.intern(&[Acl {
        perms: 3,
        id: crate::jute::records::Id::new("ip", "10.0.0.1"),
    }]);
    assert!(ids(&h.tree).iter().all(|(i, _)| *i < fresh));
}

#[test]
fn the_layout_is_3_8s() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    let info = write_snapshot(dir.path(), &h.tree, &h.sessions_vec(), h.last_zxid()).unwrap();
    let b = fs::read(&info.path).unwrap();
    assert_eq!(&b[..16], b"ZKSN\0\0\0\x02\xff\xff\xff\xff\xff\xff\xff\xff");
    // Sessions: a count, then (id, timeout) pairs.
    assert_eq!(&b[16..20], &1i32.to_be_bytes());
    assert_eq!(&b[20..28], &SESSION.to_be_bytes());
    assert_eq!(&b[28..32], &30_000i32.to_be_bytes());
    // The tail: end marker "/", seal, digest, seal.
    let n = b.len();
    let seal2 = &b[n - 13..];
    assert_eq!(&seal2[8..], b"\0\0\0\x01/");
    assert_eq!(
        i64::from_be_bytes(seal2[..8].try_into().unwrap()),
        adler32(&b[..n - 13])
    );
    let digest = &b[n - 33..n - 13];
    assert_eq!(&digest[..8], &h.last_zxid().to_be_bytes());
    assert_eq!(&digest[8..12], &2i32.to_be_bytes());
    let seal1 = &b[n - 46..n - 33];
    assert_eq!(
        i64::from_be_bytes(seal1[..8].try_into().unwrap()),
        adler32(&b[..n - 46])
    );
    assert_eq!(
        &b[n - 51..n - 46],
        b"\0\0\0\x01/",
        "the end-of-nodes marker"
    );
}

#[test]
fn every_flipped_byte_is_caught() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    let info = write_snapshot(dir.path(), &h.tree, &h.sessions_vec(), h.last_zxid()).unwrap();
    let pristine = fs::read(&info.path).unwrap();
    for at in (0..pristine.len()).step_by(7) {
        let mut b = pristine.clone();
        b[at] ^= 0x01;
        fs::write(&info.path, &b).unwrap();
        assert!(
            read_snapshot(&info.path, opts()).is_err(),
            "flip at {at} went unnoticed"
        );
    }
    for cut in [0, 10, pristine.len() / 2, pristine.len() - 1] {
        fs::write(&info.path, &pristine[..cut]).unwrap();
        let err = read_snapshot(&info.path, opts()).unwrap_err();
        assert!(
            matches!(err, StorageError::Corrupt { .. }),
            "cut {cut}: {err}"
        );
    }
}

#[test]
fn the_newest_valid_snapshot_wins_and_invalid_ones_are_reported() {
    let mut h = History::new();
    h.create(SESSION, "/a", b"1");
    let dir = tempfile::tempdir().unwrap();
    let old = write_snapshot(dir.path(), &h.tree, &[], h.last_zxid()).unwrap();
    h.create(SESSION, "/b", b"2");
    let newer = write_snapshot(dir.path(), &h.tree, &[], h.last_zxid()).unwrap();
    h.create(SESSION, "/c", b"3");
    let newest = write_snapshot(dir.path(), &h.tree, &[], h.last_zxid()).unwrap();
    let (loaded, skipped) = newest_valid_snapshot(dir.path(), opts()).unwrap();
    assert_eq!(loaded.unwrap().path, newest.path);
    assert!(skipped.is_empty());

    let len = fs::metadata(&newest.path).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&newest.path)
        .unwrap()
        .set_len(len - 60)
        .unwrap();
    fs::write(dir.path().join("snapshot.ff.gz"), b"\x1f\x8b").unwrap();
    let (loaded, skipped) = newest_valid_snapshot(dir.path(), opts()).unwrap();
    let loaded = loaded.unwrap();
    assert_eq!(loaded.path, newer.path);
    assert!(loaded.tree.node("/b").is_some() && loaded.tree.node("/c").is_none());
    assert_eq!(skipped.len(), 2);
    assert!(
        skipped[0]
            .reason
            .contains("gzip-compressed snapshots are not supported"),
        "{}",
        skipped[0].reason
    );
    assert_eq!(skipped[1].path, newest.path);
    assert!(old.path.exists());

    let empty = tempfile::tempdir().unwrap();
    assert!(newest_valid_snapshot(empty.path(), opts())
        .unwrap()
        .0
        .is_none());
}

#[test]
fn a_snapshot_may_not_claim_transactions_the_tree_lacks() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    let err = write_snapshot(dir.path(), &h.tree, &[], h.last_zxid() + 1).unwrap_err();
    assert!(err.to_string().contains("has not applied"), "{err}");
}

/// A snapshot assembled field by field, for layouts our writer never makes.
struct Raw {
    w: Writer,
}

impl Raw {
    fn new(sessions: &[(i64, i32)], acls: &[(i64, Vec<Acl>)]) -> Raw {
        let mut w = Writer::new();
        w.raw(b"ZKSN\0\0\0\x02");
        w.i64(-1);
        w.i32(sessions.len() as i32);
        for (id, t) in sessions {
            w.i64(*id);
            w.i32(*t);
        }
        w.i32(acls.len() as i32);
        for (id, l) in acls {
            w.i64(*id);
            w.vec(l);
        }
        Raw { w }
    }

    fn node(mut self, path: &str, data: Option<&[u8]>, acl: i64) -> Raw {
        self.w.string(path);
        self.w.opt_buffer(data);
        self.w.i64(acl);
        StatPersisted {
            czxid: 1,
            mzxid: 1,
            pzxid: 1,
            ..StatPersisted::default()
        }
        .encode(&mut self.w);
        self
    }

    fn seal(mut self) -> Raw {
        let sum = adler32(self.w.as_slice());
        self.w.i64(sum);
        self.w.string("/");
        self
    }

    fn finish(mut self, digest: Option<&dyn Fn(&mut Writer)>) -> Vec<u8> {
        self.w.string("/");
        let mut s = self.seal();
        if let Some(d) = digest {
            d(&mut s.w);
            s = s.seal();
        }
        s.w.into_vec()
    }
}

fn load_raw(dir: &Path, bytes: &[u8]) -> Result<crate::storage::LoadedSnapshot, StorageError> {
    let p = dir.join("snapshot.7");
    fs::write(&p, bytes).unwrap();
    read_snapshot(&p, opts())
}

#[test]
fn old_snapshots_without_digest_load_and_unused_acl_lists_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let used = Acl::read_unsafe();
    let unused = Acl::open_unsafe();
    let bytes = Raw::new(&[(5, 9000)], &[(1, used.clone()), (4, unused)])
        .node("", Some(b""), -1)
        .node("/zookeeper", None, -1)
        .node("/a", Some(b"x"), 1)
        .finish(None);
    let s = load_raw(dir.path(), &bytes).unwrap();
    assert!(s.digest.is_none());
    assert_eq!(s.tree.last_zxid, 7);
    assert_eq!(s.sessions, vec![(5, 9000)]);
    assert_eq!(s.tree.node("/zookeeper").unwrap().data, None);
    assert_eq!(s.tree.acl_of(s.tree.node("/a").unwrap()), used);
    let ids: Vec<i64> = s.tree.acls.entries().into_iter().map(|(i, _)| i).collect();
    assert_eq!(ids, vec![1]);
    assert_eq!(s.tree.node("/").unwrap().children.len(), 2);
}

#[test]
fn a_version_1_digest_is_read_as_hex() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = |w: &mut Writer| {
        w.i64(7);
        w.i32(1);
        w.string("ff");
    };
    let bytes = Raw::new(&[], &[]).node("", None, -1).finish(Some(&v1));
    let d = load_raw(dir.path(), &bytes).unwrap().digest.unwrap();
    assert_eq!((d.zxid, d.version, d.digest), (7, 1, 255));
}

#[test]
fn structural_defects_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            Raw::new(&[], &[])
                .node("", None, -1)
                .node("/a/b", None, -1)
                .finish(None),
            "comes before its parent",
        ),
        (
            Raw::new(&[], &[])
                .node("", None, -1)
                .node("/a", None, 3)
                .finish(None),
            "ACL id 3",
        ),
        (
            Raw::new(&[], &[]).node("/a", None, -1).finish(None),
            "before its parent",
        ),
        (Raw::new(&[], &[]).finish(None), "no root"),
        (
            Raw::new(&[], &[])
                .node("", None, -1)
                .node("", None, -1)
                .finish(None),
            "appears twice",
        ),
    ];
    for (bytes, what) in cases {
        let err = load_raw(dir.path(), &bytes).unwrap_err();
        assert!(err.to_string().contains(what), "{err} lacks {what:?}");
    }
}

#[test]
fn the_incremental_digest_follows_every_transaction() {
    let mut h = History::new();
    let mut tracker = DigestTracker::new(&h.tree);
    assert_eq!(tracker.value(), tree_digest(&h.tree));
    let mut reference = History::new();
    reference.workload();
    for (hdr, txn, digest) in &reference.entries {
        let touched = tracker.before(&h.tree, hdr, txn);
        h.tree.apply(hdr, txn, &mut Vec::new());
        tracker.after(&h.tree, touched);
        assert_eq!(
            tracker.value(),
            digest.tree_digest,
            "after zxid {}",
            hdr.zxid
        );
    }
}

#[test]
fn the_digest_leaves_out_zookeepers_subtree_and_hashes_the_root_as_empty() {
    let tree = DataTree::new(opts());
    let quota = tree.node("/zookeeper/quota").unwrap();
    assert_eq!(node_digest("/zookeeper/quota", quota), 0);
    let zk = tree.node("/zookeeper").unwrap();
    assert_ne!(node_digest("/zookeeper", zk), 0);
    let root = tree.node("/").unwrap();
    let mut crc = crate::storage::checksum::Crc32::new();
    crc.update(&[0u8; 60]);
    assert_eq!(
        node_digest("/", root),
        crc.value(),
        "empty path, empty data, zero stat"
    );
}

#[test]
fn a_digest_section_cut_short_counts_as_none_as_in_3_8() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    let info = write_snapshot(dir.path(), &h.tree, &h.sessions_vec(), h.last_zxid()).unwrap();
    let pristine = fs::read(&info.path).unwrap();
    // The digest section is the 20 bytes before the final 13-byte seal.
    let digest_at = pristine.len() - 33;
    for cut in [digest_at, digest_at + 5, digest_at + 12, digest_at + 19] {
        fs::write(&info.path, &pristine[..cut]).unwrap();
        let s = read_snapshot(&info.path, opts()).unwrap();
        assert!(s.digest.is_none(), "cut {cut}");
        assert_same_tree(&s.tree, &h.tree);
    }
    // A whole digest without its seal is not a snapshot 3.8 would load.
    fs::write(&info.path, &pristine[..digest_at + 20]).unwrap();
    assert!(read_snapshot(&info.path, opts()).is_err());
}
