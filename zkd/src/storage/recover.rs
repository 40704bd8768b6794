//! Start-up recovery, as 3.8's `FileTxnSnapLog.restore` and
//! `ZooKeeperServer.loadData` do it: the newest snapshot that loads, then
//! every logged transaction after its zxid (sessions too: createSession
//! adds one, closeSession removes it), a torn tail cut off, and the
//! ephemerals of sessions that no longer exist removed.
//!
//! Digests are checked on the way as 3.8 checks them: the snapshot's once
//! replay reaches its zxid (at once for a snapshot that is not fuzzy), then
//! each record's. A mismatch means our tree differs from the one 3.8 built
//! from the same history; like 3.8 we report it and carry on.

use super::digest::{DigestTracker, DIGEST_VERSION};
use super::files::{list_by_zxid, LOG_PREFIX};
use super::log_reader::{file_holds_records, read_logs, TruncatedTail};
use super::snap_read::{newest_valid_snapshot, SkippedSnapshot, SnapshotDigest};
use super::snap_write::TEMP_PREFIX;
use super::{DataDirs, StorageError};
use crate::proto::txn::{Txn, TxnHeader};
use crate::proto::OpCode;
use crate::tree::{DataTree, TreeOptions};
use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// Mismatching zxids kept for the summary (all are counted).
const MISMATCHES_KEPT: usize = 16;

#[derive(Debug, Clone, Copy)]
pub struct RecoverOptions {
    pub tree: TreeOptions,
    /// `zookeeper.snapshot.trust.empty`: replay logs onto an empty tree
    /// when there is no snapshot (3.8 refuses by default).
    pub trust_empty_snapshot: bool,
    /// Remove ephemerals whose owner is not in the session table, as 3.8's
    /// `loadData` does for a standalone server or a leader.
    pub remove_orphan_ephemerals: bool,
}

impl RecoverOptions {
    pub fn new(tree: TreeOptions) -> Self {
        RecoverOptions {
            tree,
            trust_empty_snapshot: false,
            remove_orphan_ephemerals: true,
        }
    }
}

pub struct Recovered {
    pub tree: DataTree,
    /// (session id, timeout ms), sorted by id.
    pub sessions: Vec<(i64, u32)>,
    pub last_zxid: i64,
    pub summary: RecoverySummary,
}

impl fmt::Debug for Recovered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recovered")
            .field("nodes", &self.tree.node_count())
            .field("sessions", &self.sessions)
            .field("last_zxid", &self.last_zxid)
            .field("summary", &self.summary)
            .finish()
    }
}

/// What recovery found and did, for the start-up log.
#[derive(Debug, Clone, Default)]
pub struct RecoverySummary {
    pub snapshot: Option<PathBuf>,
    pub snapshot_zxid: i64,
    pub skipped_snapshots: Vec<SkippedSnapshot>,
    pub log_files: Vec<PathBuf>,
    pub txns_replayed: u64,
    pub last_zxid: i64,
    /// The torn tail that was cut off the last log file.
    pub truncated: Option<TruncatedTail>,
    pub warnings: Vec<String>,
    pub digests_checked: u64,
    /// Mismatches of both kinds: the snapshot's digest and the records'.
    pub digest_mismatches: u64,
    /// Whether the snapshot's digest matched, once replay reached its zxid
    /// (`None`: not compared). A snapshot 3.8 wrote while it applied
    /// transactions can hold changes newer than its digest, so a mismatch
    /// here alone, with every record's digest matching, is 3.8's own
    /// inconsistency (it reports the same on loading that snapshot).
    pub snapshot_digest_matched: Option<bool>,
    /// The first few zxids whose digest did not match.
    pub mismatch_zxids: Vec<i64>,
    pub orphan_sessions_closed: Vec<i64>,
    pub removed_temp_files: Vec<PathBuf>,
}

/// Rebuilds the tree and session table from `dirs`, cutting a torn tail
/// off the last log file. The caller should then hold the
/// [`DataDirLock`](super::DataDirLock), take a fresh snapshot (3.8 does at
/// every start) and open a [`TxnLogWriter`](super::TxnLogWriter).
pub fn recover(dirs: &DataDirs, opts: &RecoverOptions) -> Result<Recovered, StorageError> {
    let (snap_dir, log_dir) = (dirs.snap_dir(), dirs.log_dir());
    let mut summary = RecoverySummary {
        removed_temp_files: remove_temp_snapshots(&snap_dir)?,
        ..RecoverySummary::default()
    };
    let (loaded, skipped) = newest_valid_snapshot(&snap_dir, opts.tree)?;
    summary.skipped_snapshots = skipped;
    let (mut tree, sessions, snap_zxid, snap_digest) = match loaded {
        Some(s) => {
            summary.snapshot = Some(s.path);
            (s.tree, s.sessions, s.zxid, s.digest)
        }
        None => {
            refuse_logs_without_snapshot(&log_dir, opts)?;
            (DataTree::new(opts.tree), Vec::new(), 0, None)
        }
    };
    summary.snapshot_zxid = snap_zxid;
    let mut sessions: BTreeMap<i64, u32> = sessions.into_iter().collect();

    let mut digests = DigestChecks::new(&tree, snap_zxid, snap_digest);
    let mut replay = read_logs(&log_dir, snap_zxid + 1)?;
    summary.log_files = replay.files().to_vec();
    let mut events = Vec::new();
    for entry in replay.by_ref() {
        let entry = entry?;
        let (hdr, txn) = (&entry.header, &entry.txn);
        track_session(&mut sessions, hdr, txn);
        let touched = digests.tracker.before(&tree, hdr, txn);
        tree.apply(hdr, txn, &mut events);
        events.clear();
        digests.tracker.after(&tree, touched);
        digests.check(hdr.zxid, entry.digest.map(|d| (d.version, d.tree_digest)));
        summary.txns_replayed += 1;
    }
    summary.warnings.extend(replay.warnings().iter().cloned());
    if let Some(tail) = replay.torn_tail() {
        tracing::warn!("cutting off a torn transaction log tail: {tail}");
        tail.truncate()?;
        summary.truncated = Some(tail.clone());
    }
    digests.finish(&mut summary);

    if opts.remove_orphan_ephemerals {
        summary.orphan_sessions_closed = close_orphans(&mut tree, &sessions);
    }
    for w in &summary.warnings {
        tracing::warn!("{w}");
    }
    summary.last_zxid = tree.last_zxid;
    Ok(Recovered {
        last_zxid: tree.last_zxid,
        tree,
        sessions: sessions.into_iter().collect(),
        summary,
    })
}

fn track_session(sessions: &mut BTreeMap<i64, u32>, hdr: &TxnHeader, txn: &Txn) {
    match txn {
        Txn::CreateSession { timeout_ms } => {
            sessions.insert(hdr.client_id, (*timeout_ms).max(0) as u32);
        }
        Txn::CloseSession { .. } => {
            sessions.remove(&hdr.client_id);
        }
        _ => {}
    }
}

/// 3.8 will not guess when logs exist without any snapshot: a snapshot
/// was lost, and replaying from nothing could silently drop data.
fn refuse_logs_without_snapshot(log_dir: &Path, opts: &RecoverOptions) -> Result<(), StorageError> {
    if opts.trust_empty_snapshot {
        return Ok(());
    }
    for (_, file) in list_by_zxid(log_dir, LOG_PREFIX)? {
        if file_holds_records(&file)? {
            return Err(StorageError::invalid(
                log_dir,
                format!(
                    "no snapshot found, but there are log entries ({}); a snapshot is \
                     missing. Restore it, or set zookeeper.snapshot.trust.empty=true to replay \
                     the logs onto an empty tree (right only when they start at the first \
                     transaction, as after an upgrade from 3.4)",
                    file.display()
                ),
            ));
        }
    }
    Ok(())
}

/// A crash while writing a snapshot leaves our temporary file behind.
fn remove_temp_snapshots(snap_dir: &Path) -> Result<Vec<PathBuf>, StorageError> {
    let mut removed = Vec::new();
    let entries = match fs::read_dir(snap_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(StorageError::io("list", snap_dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(StorageError::io("list", snap_dir))?;
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            let p = entry.path();
            fs::remove_file(&p).map_err(StorageError::io("remove stale temporary snapshot", &p))?;
            removed.push(p);
        }
    }
    Ok(removed)
}

/// Ephemerals left by sessions that were closed in a part of history the
/// snapshot's session table does not reflect, as 3.8's `loadData` removes
/// them (without a transaction: every server does the same).
fn close_orphans(tree: &mut DataTree, sessions: &BTreeMap<i64, u32>) -> Vec<i64> {
    let orphans: Vec<i64> = tree
        .all_ephemerals()
        .into_iter()
        .map(|(owner, _)| owner)
        .filter(|owner| !sessions.contains_key(owner))
        .collect();
    let mut events = Vec::new();
    for &owner in &orphans {
        let hdr = TxnHeader {
            client_id: owner,
            cxid: 0,
            zxid: tree.last_zxid,
            time: 0,
            kind: OpCode::CloseSession.code(),
        };
        let txn = Txn::CloseSession {
            paths_to_delete: tree.ephemerals_of(owner),
        };
        tree.apply(&hdr, &txn, &mut events);
        events.clear();
    }
    orphans
}

/// 3.8's digest comparisons during replay.
struct DigestChecks {
    tracker: DigestTracker,
    /// The snapshot's digest, until replay reaches its zxid.
    pending: Option<SnapshotDigest>,
    checked: u64,
    mismatches: u64,
    mismatch_zxids: Vec<i64>,
    snapshot_matched: Option<bool>,
    warnings: Vec<String>,
}

impl DigestChecks {
    fn new(tree: &DataTree, snap_zxid: i64, snap_digest: Option<SnapshotDigest>) -> Self {
        let mut checks = DigestChecks {
            tracker: DigestTracker::new(tree),
            pending: None,
            checked: 0,
            mismatches: 0,
            mismatch_zxids: Vec::new(),
            snapshot_matched: None,
            warnings: Vec::new(),
        };
        // As 3.8: an empty digest (zxid 0), another digest version, or a
        // digest older than the snapshot's zxid is not compared.
        if let Some(d) =
            snap_digest.filter(|d| d.zxid > 0 && d.zxid >= snap_zxid && d.version == DIGEST_VERSION)
        {
            if d.zxid == snap_zxid {
                checks.snapshot_matched = Some(checks.compare(d.zxid, d.digest, "snapshot"));
            } else {
                checks.pending = Some(d);
            }
        }
        checks
    }

    fn check(&mut self, zxid: i64, logged: Option<(i32, i64)>) {
        if let Some(d) = self.pending {
            if zxid < d.zxid {
                // Still inside the fuzzy window: the tree is not yet in a
                // state any digest was taken of.
                return;
            }
            self.pending = None;
            if zxid == d.zxid {
                self.snapshot_matched = Some(self.compare(zxid, d.digest, "snapshot"));
            } else {
                self.warnings.push(format!(
                    "the snapshot's digest is for zxid 0x{:x}, which the logs do not hold",
                    d.zxid
                ));
            }
        }
        if let Some((version, digest)) = logged {
            if version == DIGEST_VERSION {
                self.compare(zxid, digest, "log record");
            }
        }
    }

    fn compare(&mut self, zxid: i64, expected: i64, source: &str) -> bool {
        self.checked += 1;
        let actual = self.tracker.value();
        let matched = actual == expected;
        if !matched {
            self.mismatches += 1;
            if self.mismatch_zxids.len() < MISMATCHES_KEPT {
                self.mismatch_zxids.push(zxid);
            }
            tracing::warn!(
                "tree digest mismatch at zxid 0x{zxid:x}: the {source} says {expected}, \
                 the replayed tree gives {actual}"
            );
        }
        matched
    }

    fn finish(mut self, summary: &mut RecoverySummary) {
        if let Some(d) = self.pending.take() {
            self.warnings.push(format!(
                "replay ended before zxid 0x{:x}, the zxid of the snapshot's digest; \
                 the logs may be missing transactions",
                d.zxid
            ));
        }
        summary.digests_checked = self.checked;
        summary.digest_mismatches = self.mismatches;
        summary.mismatch_zxids = self.mismatch_zxids;
        summary.snapshot_digest_matched = self.snapshot_matched;
        summary.warnings.extend(self.warnings);
    }
}

impl fmt::Display for RecoverySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.snapshot {
            Some(p) => write!(
                f,
                "loaded {} (zxid 0x{:x})",
                p.display(),
                self.snapshot_zxid
            )?,
            None => write!(f, "no snapshot, started from an empty tree")?,
        }
        if !self.skipped_snapshots.is_empty() {
            write!(
                f,
                " after skipping {} invalid snapshot(s)",
                self.skipped_snapshots.len()
            )?;
        }
        write!(
            f,
            "; replayed {} transaction(s) from {} log file(s) up to zxid 0x{:x}; \
             {} digest(s) checked, {} mismatch(es)",
            self.txns_replayed,
            self.log_files.len(),
            self.last_zxid,
            self.digests_checked,
            self.digest_mismatches
        )?;
        if self.snapshot_digest_matched == Some(false) {
            write!(f, " (the snapshot's own digest among them)")?;
        }
        if let Some(t) = &self.truncated {
            write!(f, "; cut a torn tail off {}", t)?;
        }
        if !self.orphan_sessions_closed.is_empty() {
            write!(
                f,
                "; removed the ephemerals of {} session(s) that no longer exist",
                self.orphan_sessions_closed.len()
            )?;
        }
        if !self.warnings.is_empty() {
            write!(f, "; {} warning(s)", self.warnings.len())?;
        }
        Ok(())
    }
}
