use super::support::{History, SESSION};
use crate::storage::{
    log_file_name, purge, read_epoch, snapshot_file_name, write_epoch, write_snapshot, DataDirLock,
    EpochFile, LogOptions, StorageError, TxnLogWriter,
};
use std::fs;

#[test]
fn a_second_lock_on_a_data_dir_is_refused_with_the_holders_pid() {
    let dir = tempfile::tempdir().unwrap();
    let lock = DataDirLock::acquire(dir.path()).unwrap();
    let err = DataDirLock::acquire(dir.path()).unwrap_err();
    assert!(matches!(err, StorageError::Locked { .. }));
    let text = err.to_string();
    assert!(
        text.contains(&format!("pid {}", std::process::id())),
        "{text}"
    );
    assert!(text.contains("zkd.lock"), "{text}");
    drop(lock);
    let again = DataDirLock::acquire(dir.path()).unwrap();
    assert_eq!(again.path(), dir.path().join("zkd.lock"));
}

#[test]
fn epoch_files_are_decimal_without_newline() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(read_epoch(dir.path(), EpochFile::Current).unwrap(), None);
    write_epoch(dir.path(), EpochFile::Current, 7).unwrap();
    write_epoch(dir.path(), EpochFile::Accepted, 0x1_0000_0000).unwrap();
    assert_eq!(fs::read(dir.path().join("currentEpoch")).unwrap(), b"7");
    assert_eq!(
        fs::read(dir.path().join("acceptedEpoch")).unwrap(),
        b"4294967296"
    );
    assert_eq!(
        read_epoch(dir.path(), EpochFile::Accepted).unwrap(),
        Some(0x1_0000_0000)
    );
    assert!(!dir.path().join("currentEpoch.tmp").exists());
    fs::write(dir.path().join("currentEpoch"), "8\n").unwrap();
    assert_eq!(read_epoch(dir.path(), EpochFile::Current).unwrap(), Some(8));
    fs::write(dir.path().join("currentEpoch"), "eight").unwrap();
    let err = read_epoch(dir.path(), EpochFile::Current).unwrap_err();
    assert!(err.to_string().contains("\"eight\""), "{err}");
}

#[test]
fn purge_keeps_the_newest_snapshots_and_the_logs_they_need() {
    let snaps = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let mut h = History::new();
    let opts = LogOptions {
        prealloc_bytes: 0,
        size_limit_bytes: None,
    };
    let mut w = TxnLogWriter::open(logs.path(), opts).unwrap();
    // Five rounds of: three transactions, a snapshot, a roll. Logs start
    // at 1, 4, 7, 10, 13; snapshots are at 3, 6, 9, 12, 15.
    for round in 0..5 {
        for i in 0..3 {
            h.create(SESSION, &format!("/n{round}-{i}"), b"");
            let (hdr, txn, _) = h.entries.last().unwrap();
            w.append(hdr, txn, None).unwrap();
        }
        w.flush_and_sync(true).unwrap();
        write_snapshot(snaps.path(), &h.tree, &[], h.last_zxid()).unwrap();
        w.roll().unwrap();
    }
    assert!(purge(snaps.path(), logs.path(), 2).is_err());
    let removed = purge(snaps.path(), logs.path(), 3).unwrap();
    let names = |d: &std::path::Path| {
        let mut v: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    // The oldest kept snapshot is at 9: log.7 holds 9, so it stays.
    let mut kept_snaps = vec![
        snapshot_file_name(9),
        snapshot_file_name(12),
        snapshot_file_name(15),
    ];
    kept_snaps.sort();
    assert_eq!(names(snaps.path()), kept_snaps);
    let mut kept_logs = vec![log_file_name(7), log_file_name(10), log_file_name(13)];
    kept_logs.sort();
    assert_eq!(names(logs.path()), kept_logs);
    assert_eq!(removed.len(), 4);
    assert!(purge(snaps.path(), logs.path(), 3).unwrap().is_empty());
}
