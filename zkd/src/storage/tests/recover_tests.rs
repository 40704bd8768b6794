use super::support::{assert_same_tree, History, OTHER_SESSION, SESSION};
use crate::jute::records::Acl;
use crate::proto::txn::Txn;
use crate::proto::OpCode;
use crate::storage::{
    log_file_name, recover, write_snapshot, DataDirs, LogOptions, RecoverOptions, StorageError,
    TxnLogWriter,
};
use crate::tree::TreeOptions;
use std::fs::{self, OpenOptions};

fn opts() -> RecoverOptions {
    RecoverOptions::new(TreeOptions::default())
}

fn dirs() -> (tempfile::TempDir, DataDirs) {
    let tmp = tempfile::tempdir().unwrap();
    let dirs = DataDirs::new(tmp.path().join("data"), Some(tmp.path().join("logs")));
    dirs.prepare().unwrap();
    (tmp, dirs)
}

fn log_opts() -> LogOptions {
    LogOptions {
        prealloc_bytes: 16 * 1024,
        size_limit_bytes: None,
    }
}

#[test]
fn an_empty_data_dir_recovers_to_a_fresh_tree() {
    let (_tmp, dirs) = dirs();
    let r = recover(&dirs, &opts()).unwrap();
    assert_eq!(r.last_zxid, 0);
    assert!(r.sessions.is_empty());
    assert_eq!(r.tree.node_count(), 4);
    assert!(r.summary.snapshot.is_none());
}

#[test]
fn snapshot_plus_logs_rebuild_the_tree_sessions_and_check_digests() {
    let mut h = History::new();
    h.workload();
    let (_tmp, dirs) = dirs();
    // Snapshot in the middle of history, logs before and after it (the
    // older records are fast-forwarded over), some with digests.
    let mut snap_tree = History::new();
    let cut = 9;
    for (hdr, txn, _) in &h.entries[..cut] {
        snap_tree.tree.apply(hdr, txn, &mut Vec::new());
    }
    let snap_sessions = vec![(SESSION, 30_000), (OTHER_SESSION, 4_000)];
    write_snapshot(
        &dirs.snap_dir(),
        &snap_tree.tree,
        &snap_sessions,
        cut as i64,
    )
    .unwrap();
    let mut w = TxnLogWriter::open(&dirs.log_dir(), log_opts()).unwrap();
    for (i, (hdr, txn, d)) in h.entries.iter().enumerate() {
        if i == cut + 2 {
            w.roll().unwrap();
        }
        w.append(hdr, txn, (i % 2 == 0).then_some(*d)).unwrap();
    }
    w.flush_and_sync(true).unwrap();

    let r = recover(&dirs, &opts()).unwrap();
    assert_same_tree(&r.tree, &h.tree);
    assert_eq!(r.sessions, h.sessions_vec());
    assert_eq!(r.last_zxid, h.last_zxid());
    let s = &r.summary;
    assert_eq!(s.snapshot_zxid, cut as i64);
    assert_eq!(s.txns_replayed as usize, h.entries.len() - cut);
    assert_eq!(s.log_files.len(), 2);
    assert_eq!(s.digest_mismatches, 0, "{s}");
    // The snapshot's own digest, then every record that carries one.
    let with_digest = (cut..h.entries.len()).filter(|i| i % 2 == 0).count() as u64;
    assert_eq!(s.digests_checked, 1 + with_digest, "{s}");
    assert!(s.truncated.is_none() && s.warnings.is_empty(), "{s}");
    assert!(s.to_string().contains("0 mismatch"), "{s}");
}

#[test]
fn a_fuzzy_snapshot_is_replayed_over_and_its_digest_checked_late() {
    let mut h = History::new();
    h.workload();
    let (_tmp, dirs) = dirs();
    // The tree at zxid 14 saved under zxid 10: as if 11..14 were applied
    // while 3.8 was writing it. Replay from 11 must tolerate them.
    let mut snap = History::new();
    for (hdr, txn, _) in &h.entries[..14] {
        snap.tree.apply(hdr, txn, &mut Vec::new());
    }
    let sessions = vec![(SESSION, 30_000), (OTHER_SESSION, 4_000)];
    write_snapshot(&dirs.snap_dir(), &snap.tree, &sessions, 10).unwrap();
    let mut w = TxnLogWriter::open(&dirs.log_dir(), log_opts()).unwrap();
    for (hdr, txn, d) in &h.entries {
        w.append(hdr, txn, Some(*d)).unwrap();
    }
    w.flush_and_sync(true).unwrap();
    let r = recover(&dirs, &opts()).unwrap();
    assert_same_tree(&r.tree, &h.tree);
    assert_eq!(r.summary.digest_mismatches, 0, "{}", r.summary);
    // Records 11..13 fall in the fuzzy window and are not compared.
    let expected = 1 + (h.entries.len() - 14) as u64 + 1;
    assert_eq!(r.summary.digests_checked, expected, "{}", r.summary);
}

#[test]
fn a_digest_mismatch_is_reported_not_fatal() {
    let mut h = History::new();
    h.workload();
    let (_tmp, dirs) = dirs();
    write_snapshot(&dirs.snap_dir(), &History::new().tree, &[], 0).unwrap();
    let mut w = TxnLogWriter::open(&dirs.log_dir(), log_opts()).unwrap();
    for (hdr, txn, d) in &h.entries {
        let mut d = *d;
        if hdr.zxid == 5 {
            d.tree_digest ^= 1;
        }
        w.append(hdr, txn, Some(d)).unwrap();
    }
    w.flush_and_sync(true).unwrap();
    let r = recover(&dirs, &opts()).unwrap();
    assert_eq!(r.summary.digest_mismatches, 1);
    assert_eq!(r.summary.mismatch_zxids, vec![5]);
    assert_same_tree(&r.tree, &h.tree);
}

#[test]
fn a_torn_tail_is_cut_off_and_the_next_start_is_clean() {
    let mut h = History::new();
    h.workload();
    let (_tmp, dirs) = dirs();
    write_snapshot(&dirs.snap_dir(), &History::new().tree, &[], 0).unwrap();
    let w = h.log(&dirs.log_dir(), 0..h.entries.len(), log_opts(), true);
    let end = w.current_size();
    drop(w);
    // A crash mid-append: the last record half there, zeros after it.
    let log = dirs.log_dir().join(log_file_name(1));
    let f = OpenOptions::new().write(true).open(&log).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(&[0u8; 20], end - 20).unwrap();
    let r = recover(&dirs, &opts()).unwrap();
    let tail = r.summary.truncated.clone().expect("a torn tail");
    assert_eq!(tail.file, log);
    assert_eq!(fs::metadata(&log).unwrap().len(), tail.offset);
    assert_eq!(r.last_zxid, h.last_zxid() - 1);
    assert!(r.summary.to_string().contains("torn tail"));
    let again = recover(&dirs, &opts()).unwrap();
    assert!(again.summary.truncated.is_none());
    assert_same_tree(&again.tree, &r.tree);
    // The writer can carry on from there: it starts a new file.
    let mut w = TxnLogWriter::open(&dirs.log_dir(), log_opts()).unwrap();
    let (hdr, txn, _) = h.entries.last().unwrap();
    w.append(hdr, txn, None).unwrap();
    w.flush_and_sync(true).unwrap();
    let last = recover(&dirs, &opts()).unwrap();
    assert_same_tree(&last.tree, &h.tree);
}

#[test]
fn logs_without_a_snapshot_are_refused_unless_trusted() {
    let mut h = History::new();
    h.workload();
    let (_tmp, dirs) = dirs();
    h.log(&dirs.log_dir(), 0..h.entries.len(), log_opts(), false);
    let err = recover(&dirs, &opts()).unwrap_err();
    assert!(
        err.to_string()
            .contains("no snapshot found, but there are log entries"),
        "{err}"
    );
    let trusted = RecoverOptions {
        trust_empty_snapshot: true,
        ..opts()
    };
    let r = recover(&dirs, &trusted).unwrap();
    assert_same_tree(&r.tree, &h.tree);
}

#[test]
fn ephemerals_of_sessions_that_no_longer_exist_are_removed() {
    let mut h = History::new();
    h.push(
        SESSION,
        OpCode::CreateSession,
        Txn::CreateSession { timeout_ms: 5000 },
    );
    let txn = h.create_txn("/e1", b"", Acl::open_unsafe(), true);
    h.push(SESSION, OpCode::Create, txn);
    let txn = h.create_txn("/e2", b"", Acl::open_unsafe(), true);
    h.push(OTHER_SESSION, OpCode::Create, txn);
    let (_tmp, dirs) = dirs();
    // The snapshot lists only SESSION; OTHER_SESSION's node is an orphan.
    write_snapshot(&dirs.snap_dir(), &h.tree, &[(SESSION, 5000)], h.last_zxid()).unwrap();
    let r = recover(&dirs, &opts()).unwrap();
    assert!(r.tree.node("/e1").is_some());
    assert!(r.tree.node("/e2").is_none());
    assert_eq!(r.summary.orphan_sessions_closed, vec![OTHER_SESSION]);
    assert_eq!(r.sessions, vec![(SESSION, 5000)]);
}

#[test]
fn a_gap_after_the_snapshot_is_refused() {
    let mut h = History::new();
    h.workload();
    let (_tmp, dirs) = dirs();
    write_snapshot(&dirs.snap_dir(), &History::new().tree, &[], 0).unwrap();
    h.log(&dirs.log_dir(), 3..h.entries.len(), log_opts(), false);
    let err = recover(&dirs, &opts()).unwrap_err();
    assert!(matches!(err, StorageError::Gap { .. }), "{err}");
    assert!(err.to_string().contains("0x1 to 0x3"), "{err}");
}

#[test]
fn stale_temporary_snapshots_are_removed() {
    let (_tmp, dirs) = dirs();
    let stale = dirs.snap_dir().join(".zkd-snapshot.5.tmp");
    fs::write(&stale, b"half").unwrap();
    let r = recover(&dirs, &opts()).unwrap();
    assert_eq!(r.summary.removed_temp_files, vec![stale.clone()]);
    assert!(!stale.exists());
}

#[test]
fn swapped_directories_are_refused() {
    let (_tmp, dirs) = dirs();
    fs::write(dirs.log_dir().join("snapshot.1"), b"").unwrap();
    let err = dirs.prepare().unwrap_err();
    assert!(err.to_string().contains("dataDir and dataLogDir"), "{err}");
}

#[test]
fn truncating_after_a_zxid_leaves_exactly_that_history() {
    let mut h = History::new();
    h.workload();
    let (_tmp, dirs) = dirs();
    let keep = 7;
    // The snapshot every member writes at its first start.
    write_snapshot(&dirs.snap_dir(), &History::new().tree, &[], 0).unwrap();
    // Two files: the cut falls in the first, the second goes entirely;
    // a snapshot newer than the cut goes too.
    let mut w = TxnLogWriter::open(&dirs.log_dir(), log_opts()).unwrap();
    for (i, (hdr, txn, d)) in h.entries.iter().enumerate() {
        if i == keep + 3 {
            w.roll().unwrap();
        }
        w.append(hdr, txn, Some(*d)).unwrap();
    }
    w.flush_and_sync(true).unwrap();
    drop(w);
    write_snapshot(&dirs.snap_dir(), &h.tree, &h.sessions_vec(), h.last_zxid()).unwrap();

    let cut = crate::storage::truncate_after(&dirs, keep as i64).unwrap();
    assert_eq!(cut, h.entries.len() - keep);

    let mut expected = History::new();
    for (hdr, txn, _) in &h.entries[..keep] {
        expected.tree.apply(hdr, txn, &mut Vec::new());
    }
    let r = recover(&dirs, &opts()).unwrap();
    assert_eq!(r.last_zxid, keep as i64);
    assert_same_tree(&r.tree, &expected.tree);
    assert_eq!(
        r.summary.snapshot_zxid, 0,
        "the newer snapshot must be gone"
    );
    // Appending the leader's history after the cut works and recovers.
    let mut w = TxnLogWriter::open(&dirs.log_dir(), log_opts()).unwrap();
    for (hdr, txn, d) in &h.entries[keep..] {
        w.append(hdr, txn, Some(*d)).unwrap();
    }
    w.flush_and_sync(true).unwrap();
    drop(w);
    let r = recover(&dirs, &opts()).unwrap();
    assert_same_tree(&r.tree, &h.tree);
}
