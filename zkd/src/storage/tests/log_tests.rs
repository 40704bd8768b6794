use super::support::History;
use crate::storage::{log_file_name, read_logs, LogOptions, StorageError, TxnLogWriter};
use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

fn small_prealloc() -> LogOptions {
    LogOptions {
        prealloc_bytes: 8192,
        size_limit_bytes: None,
    }
}

fn history() -> History {
    let mut h = History::new();
    h.workload();
    h
}

fn read_all(dir: &Path, from: i64) -> Vec<i64> {
    read_logs(dir, from)
        .unwrap()
        .map(|e| e.unwrap().header.zxid)
        .collect()
}

#[test]
fn records_round_trip_with_and_without_digests() {
    let h = history();
    for with_digest in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        h.log(
            dir.path(),
            0..h.entries.len(),
            small_prealloc(),
            with_digest,
        );
        let mut replay = read_logs(dir.path(), 1).unwrap();
        let got: Vec<_> = replay.by_ref().map(|e| e.unwrap()).collect();
        assert_eq!(got.len(), h.entries.len());
        for (e, (hdr, txn, d)) in got.iter().zip(&h.entries) {
            assert_eq!(&e.header, hdr);
            assert_eq!(&e.txn, txn);
            assert_eq!(e.digest, with_digest.then_some(*d));
        }
        assert!(replay.torn_tail().is_none());
        assert!(replay.warnings().is_empty());
    }
}

#[test]
fn files_are_named_after_their_first_zxid_and_preallocated_in_steps() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    let w = h.log(dir.path(), 0..h.entries.len(), small_prealloc(), true);
    let path = dir.path().join(log_file_name(1));
    assert_eq!(w.current_file(), Some(path.as_path()));
    let len = fs::metadata(&path).unwrap().len();
    let used = w.current_size();
    assert!(used > 16 && len > used, "len {len} used {used}");
    // 3.8's padding: the first step lands at 16 + step, later ones add a step.
    assert_eq!((len - 16) % 8192, 0, "len {len}");
    let bytes = fs::read(&path).unwrap();
    assert_eq!(&bytes[..4], b"ZKLG");
    assert_eq!(&bytes[4..16], &[0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert!(bytes[used as usize..].iter().all(|b| *b == 0));
    assert_eq!(w.stats().records_appended, h.entries.len() as u64);
    assert_eq!(w.stats().bytes_appended, used - 16);
}

#[test]
fn roll_starts_a_new_file_and_replay_crosses_files_from_any_zxid() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    let mut w = TxnLogWriter::open(dir.path(), small_prealloc()).unwrap();
    for (i, (hdr, txn, d)) in h.entries.iter().enumerate() {
        if i == 5 || i == 12 {
            w.roll().unwrap();
        }
        w.append(hdr, txn, Some(*d)).unwrap();
    }
    w.flush_and_sync(true).unwrap();
    for z in [1, 6, 13] {
        assert!(dir.path().join(log_file_name(z)).exists(), "log.{z:x}");
    }
    let all: Vec<i64> = (1..=h.last_zxid()).collect();
    assert_eq!(read_all(dir.path(), 1), all);
    // From the middle of the second file: that file and the next are read.
    let replay = read_logs(dir.path(), 9).unwrap();
    assert_eq!(replay.files().len(), 2);
    assert_eq!(read_all(dir.path(), 9), all[8..].to_vec());
    assert_eq!(read_all(dir.path(), 13), all[12..].to_vec());
    assert!(read_all(dir.path(), h.last_zxid() + 1).is_empty());
}

#[test]
fn a_size_limit_rolls_after_a_sync() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    let opts = LogOptions {
        prealloc_bytes: 0,
        size_limit_bytes: Some(300),
    };
    let mut w = TxnLogWriter::open(dir.path(), opts).unwrap();
    let mut rolls = 0;
    for (hdr, txn, _) in &h.entries {
        w.append(hdr, txn, None).unwrap();
        rolls += w.flush_and_sync(false).unwrap().rolled as usize;
    }
    let files = fs::read_dir(dir.path()).unwrap().count();
    assert!(rolls >= 2 && files == rolls + usize::from(w.current_file().is_some()));
    assert_eq!(read_all(dir.path(), 1).len(), h.entries.len());
}

#[test]
fn zxids_must_increase() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    let mut w = TxnLogWriter::open(dir.path(), small_prealloc()).unwrap();
    let (hdr, txn, _) = &h.entries[3];
    w.append(hdr, txn, None).unwrap();
    let err = w.append(hdr, txn, None).unwrap_err();
    assert!(err.to_string().contains("zxids must increase"), "{err}");
}

#[test]
fn the_writer_replaces_an_empty_file_but_never_one_with_records() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    h.log(dir.path(), 0..3, small_prealloc(), false);
    let mut w = TxnLogWriter::open(dir.path(), small_prealloc()).unwrap();
    let (hdr, txn, _) = &h.entries[0];
    w.append(hdr, txn, None).unwrap_err();

    fs::write(dir.path().join(log_file_name(4)), b"ZKLG\0\0\0\x02").unwrap();
    let mut w = TxnLogWriter::open(dir.path(), small_prealloc()).unwrap();
    let (hdr, txn, _) = &h.entries[3];
    w.append(hdr, txn, None).unwrap();
    w.flush_and_sync(true).unwrap();
    assert_eq!(read_all(dir.path(), 1), vec![1, 2, 3, 4]);
}

/// Writes the history without preallocation, so the file ends exactly at
/// the last record; returns the file, where the last record starts and
/// where it ends.
fn single_file(h: &History) -> (tempfile::TempDir, std::path::PathBuf, u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let opts = LogOptions {
        prealloc_bytes: 0,
        size_limit_bytes: None,
    };
    let end = h
        .log(dir.path(), 0..h.entries.len(), opts, true)
        .current_size();
    let mut replay = read_logs(dir.path(), 1).unwrap();
    replay.by_ref().for_each(|e| {
        e.unwrap();
    });
    let (_, path, last_start) = replay.last_position().unwrap();
    (dir, path.to_path_buf(), last_start, end)
}

#[test]
fn a_torn_last_record_is_a_truncated_tail_at_every_cut() {
    let h = history();
    let n = h.entries.len();
    let (dir, path, last_start, end) = single_file(&h);
    let pristine = fs::read(&path).unwrap();
    assert_eq!(pristine.len() as u64, end);
    for cut in last_start..=end {
        for zero_fill in [false, true] {
            let mut bytes = pristine[..cut as usize].to_vec();
            if zero_fill {
                // A preallocated file: the missing bytes read as zeros.
                bytes.resize(end as usize + 4096, 0);
            }
            fs::write(&path, &bytes).unwrap();
            let mut replay = read_logs(dir.path(), 1).unwrap();
            let got: Vec<i64> = replay.by_ref().map(|e| e.unwrap().header.zxid).collect();
            // Up to the checksum's four high bytes (always zero) nothing
            // of the record is there to tell from preallocated zeros.
            let nothing_written = pristine[last_start as usize..cut as usize]
                .iter()
                .all(|b| *b == 0);
            if cut == end || nothing_written {
                let expect = if cut == end { n } else { n - 1 };
                assert_eq!(got.len(), expect, "cut {cut} zero {zero_fill}");
                assert!(replay.torn_tail().is_none(), "cut {cut} zero {zero_fill}");
                continue;
            }
            assert_eq!(got.len(), n - 1, "cut {cut} zero {zero_fill}");
            let tail = replay.torn_tail().expect("torn tail").clone();
            assert_eq!(
                (tail.file.as_path(), tail.offset),
                (path.as_path(), last_start),
                "cut {cut}"
            );
            tail.truncate().unwrap();
            assert_eq!(fs::metadata(&path).unwrap().len(), last_start);
            let mut again = read_logs(dir.path(), 1).unwrap();
            assert_eq!(again.by_ref().count(), n - 1);
            assert!(again.torn_tail().is_none());
        }
    }
}

fn flip(path: &Path, offset: u64) {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, offset).unwrap();
    b[0] ^= 0x5a;
    f.write_all_at(&b, offset).unwrap();
}

#[test]
fn a_bad_checksum_in_the_last_record_is_a_torn_tail() {
    let h = history();
    let (dir, path, last_start, _) = single_file(&h);
    flip(&path, last_start + 20);
    let mut replay = read_logs(dir.path(), 1).unwrap();
    assert_eq!(
        replay.by_ref().filter(|e| e.is_ok()).count(),
        h.entries.len() - 1
    );
    let tail = replay.torn_tail().unwrap();
    assert_eq!(tail.offset, last_start);
    assert!(tail.reason.contains("checksum"), "{}", tail.reason);
}

#[test]
fn a_bad_record_in_the_middle_is_an_error_naming_file_and_offset() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    let opts = LogOptions {
        prealloc_bytes: 0,
        size_limit_bytes: None,
    };
    let w = h.log(dir.path(), 0..4, opts, true);
    let fourth = w.current_size();
    drop(w);
    let full = tempfile::tempdir().unwrap();
    h.log(full.path(), 0..h.entries.len(), small_prealloc(), true);
    let path = dir.path().join(log_file_name(1));
    fs::copy(full.path().join(log_file_name(1)), &path).unwrap();
    for (offset, what) in [(fourth + 25, "checksum"), (fourth, "checksum")] {
        let pristine = fs::read(&path).unwrap();
        flip(&path, offset);
        let results: Vec<_> = read_logs(dir.path(), 1).unwrap().collect();
        assert_eq!(results.len(), 5, "four good records, then the error");
        let err = results.last().unwrap().as_ref().unwrap_err();
        match err {
            StorageError::Corrupt {
                file,
                offset: at,
                what: w,
                hint,
            } => {
                assert_eq!(file, &path);
                assert_eq!(*at, fourth);
                assert!(w.contains(what) && w.contains("valid data follows"), "{w}");
                assert!(
                    hint.contains(&format!("truncate it to {fourth} bytes")),
                    "{hint}"
                );
            }
            other => panic!("expected corruption, got {other}"),
        }
        fs::write(&path, pristine).unwrap();
    }
}

#[test]
fn a_missing_end_byte_in_the_middle_is_an_error() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    let opts = LogOptions {
        prealloc_bytes: 0,
        size_limit_bytes: None,
    };
    let w = h.log(dir.path(), 0..h.entries.len(), opts, false);
    drop(w);
    let path = dir.path().join(log_file_name(1));
    // The first record ends right before the second starts.
    let mut first = read_logs(dir.path(), 1).unwrap();
    first.next().unwrap().unwrap();
    first.next().unwrap().unwrap();
    let (_, _, second_at) = first.last_position().unwrap();
    flip(&path, second_at - 1);
    let err = read_logs(dir.path(), 1)
        .unwrap()
        .find_map(|e| e.err())
        .expect("an error");
    assert!(err.to_string().contains("end-of-record"), "{err}");
}

#[test]
fn a_missing_file_is_a_gap() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    let mut w = TxnLogWriter::open(dir.path(), small_prealloc()).unwrap();
    for (i, (hdr, txn, _)) in h.entries.iter().enumerate() {
        if i == 5 || i == 10 {
            w.roll().unwrap();
        }
        w.append(hdr, txn, None).unwrap();
    }
    w.flush_and_sync(true).unwrap();
    fs::remove_file(dir.path().join(log_file_name(6))).unwrap();
    let err = read_logs(dir.path(), 1)
        .unwrap()
        .find_map(|e| e.err())
        .expect("a gap");
    let text = err.to_string();
    assert!(matches!(err, StorageError::Gap { .. }), "{text}");
    assert!(
        text.contains("log.b") && text.contains("0x6 to 0xa"),
        "{text}"
    );
    // From a snapshot past the gap, nothing is missing.
    assert_eq!(read_all(dir.path(), 11).len(), h.entries.len() - 10);
    // From a snapshot inside it, the start is missing.
    let err = read_logs(dir.path(), 8)
        .unwrap()
        .find_map(|e| e.err())
        .unwrap();
    assert!(err.to_string().contains("0x8 to 0xa"), "{err}");
}

#[test]
fn a_torn_tail_in_an_earlier_file_is_passed_over_when_the_next_file_carries_on() {
    // What 3.8 leaves after a crash: the old file ends in a torn record,
    // and the restarted server logs the same zxid again in a new file.
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    let opts = LogOptions {
        prealloc_bytes: 0,
        size_limit_bytes: None,
    };
    let w = h.log(dir.path(), 0..6, opts, false);
    let sixth = w.current_size();
    drop(w);
    let old = dir.path().join(log_file_name(1));
    let len = fs::metadata(&old).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&old)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let mut w = TxnLogWriter::open(dir.path(), opts).unwrap();
    for (hdr, txn, _) in &h.entries[5..] {
        w.append(hdr, txn, None).unwrap();
    }
    w.flush_and_sync(true).unwrap();
    let mut replay = read_logs(dir.path(), 1).unwrap();
    let got: Vec<i64> = replay.by_ref().map(|e| e.unwrap().header.zxid).collect();
    assert_eq!(got, (1..=h.last_zxid()).collect::<Vec<_>>());
    assert!(replay.torn_tail().is_none());
    assert_eq!(replay.warnings().len(), 1);
    assert!(sixth > 16);
}

#[test]
fn a_non_log_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(log_file_name(1)),
        b"ZKSN\0\0\0\x02\0\0\0\0\0\0\0\0",
    )
    .unwrap();
    let err = read_logs(dir.path(), 1)
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(err.to_string().contains("not a transaction log"), "{err}");
}

#[test]
fn abandoning_unsynced_records_cuts_them_off_and_frees_their_zxids() {
    let h = history();
    let dir = tempfile::tempdir().unwrap();
    let mut w = TxnLogWriter::open(dir.path(), small_prealloc()).unwrap();
    for (hdr, txn, _) in &h.entries[..5] {
        w.append(hdr, txn, None).unwrap();
    }
    w.flush_and_sync(true).unwrap();
    let synced = w.current_size();
    // A batch that fails: records in the first file, a roll, and a new file.
    for (hdr, txn, _) in &h.entries[5..8] {
        w.append(hdr, txn, None).unwrap();
    }
    w.roll().unwrap();
    for (hdr, txn, _) in &h.entries[8..10] {
        w.append(hdr, txn, None).unwrap();
    }
    let mut w = w.abandon_unsynced().unwrap();
    assert_eq!(w.last_zxid(), 5);
    assert_eq!(
        fs::metadata(dir.path().join(log_file_name(1)))
            .unwrap()
            .len(),
        synced
    );
    assert!(!dir.path().join(log_file_name(9)).exists());
    assert_eq!(w.total_size(), synced);
    assert_eq!(read_all(dir.path(), 1), vec![1, 2, 3, 4, 5]);
    // The same zxids go out again, into a new file.
    for (hdr, txn, _) in &h.entries[5..] {
        w.append(hdr, txn, None).unwrap();
    }
    w.flush_and_sync(true).unwrap();
    assert!(dir.path().join(log_file_name(6)).exists());
    assert_eq!(
        read_all(dir.path(), 1),
        (1..=h.last_zxid()).collect::<Vec<_>>()
    );

    // Nothing synced at all: the file goes.
    let empty = tempfile::tempdir().unwrap();
    let mut w = TxnLogWriter::open(empty.path(), small_prealloc()).unwrap();
    let (hdr, txn, _) = &h.entries[0];
    w.append(hdr, txn, None).unwrap();
    w.flush_and_sync(false).unwrap_or_default();
    let (hdr, txn, _) = &h.entries[1];
    let mut w = w.abandon_unsynced().unwrap();
    w.append(hdr, txn, None).unwrap();
    let w = w.abandon_unsynced().unwrap();
    assert_eq!(w.last_zxid(), 1);
    assert_eq!(read_all(empty.path(), 1), vec![1]);
}
