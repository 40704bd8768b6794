//! The storage thread: appends the core's transactions to the log, makes
//! each batch durable with one fdatasync (group commit: whatever queued up
//! while the previous sync ran goes into the next one), and reports back.
//! Snapshots are written by short-lived threads from O(1) tree copies.

use super::core::CoreMsg;
use crate::proto::txn::{Txn, TxnHeader};
use crate::storage::{self, TxnLogWriter};
use crate::tree::DataTree;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use tokio::sync::mpsc::UnboundedSender;

pub enum StorageCmd {
    /// Transactions in zxid order. `generation` changes after a failure, so
    /// that transactions prepared before it are dropped, never logged.
    Append {
        generation: u64,
        txns: Vec<(TxnHeader, Txn)>,
    },
    /// Start a new log file with the next append (before a snapshot).
    Roll,
}

pub struct StorageThread {
    tx: mpsc::Sender<StorageCmd>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StorageThread {
    pub fn start(writer: TxnLogWriter, force_sync: bool, core: UnboundedSender<CoreMsg>) -> Self {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("zkd-log".into())
            .spawn(move || run(writer, force_sync, rx, core))
            .expect("spawn the log thread");
        StorageThread {
            tx,
            thread: Some(thread),
        }
    }

    pub fn send(&self, cmd: StorageCmd) {
        // The thread only ends when this handle is dropped.
        let _ = self.tx.send(cmd);
    }

    /// Writes and syncs what is queued, then stops the thread.
    pub fn stop(mut self) {
        let (tx, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.tx, tx));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(
    mut writer: TxnLogWriter,
    force_sync: bool,
    rx: mpsc::Receiver<StorageCmd>,
    core: UnboundedSender<CoreMsg>,
) {
    // Transactions of a generation that failed are dropped until the core
    // sends a newer one.
    let mut failed_generation: Option<u64> = None;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        // The first transaction this batch tried to log, and the last
        // logged, each with its generation.
        let mut attempted: Option<(u64, i64)> = None;
        let mut logged: Option<(u64, i64)> = None;
        let mut result = Ok(());
        'batch: for cmd in batch {
            match cmd {
                StorageCmd::Roll => {
                    if let Err(e) = writer.roll() {
                        result = Err(e);
                        break 'batch;
                    }
                }
                StorageCmd::Append { generation, txns } => {
                    if failed_generation.is_some_and(|g| generation <= g) {
                        continue;
                    }
                    for (header, txn) in txns {
                        attempted.get_or_insert((generation, header.zxid));
                        if let Err(e) = writer.append(&header, &txn, None) {
                            result = Err(e);
                            break 'batch;
                        }
                        logged = Some((generation, header.zxid));
                    }
                }
            }
        }
        let result = result.and_then(|_| writer.flush_and_sync(force_sync).map(|_| ()));
        match result {
            Ok(()) => {
                if let Some((generation, zxid)) = logged {
                    let _ = core.send(CoreMsg::Persisted { generation, zxid });
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot write the transaction log; failing the affected writes");
                writer = match writer.abandon_unsynced() {
                    Ok(w) => w,
                    Err(e) => {
                        // Without a usable log nothing can be made durable;
                        // stopping is the only safe answer.
                        tracing::error!(error = %e, "cannot recover the transaction log; exiting");
                        std::process::exit(1);
                    }
                };
                // Everything this batch tried is undone; the core fails it
                // and what it prepared after it, and starts a new generation.
                if let Some((generation, zxid)) = attempted {
                    failed_generation = Some(generation);
                    let _ = core.send(CoreMsg::PersistFailed { generation, zxid });
                }
            }
        }
    }
    if let Err(e) = writer.close() {
        tracing::error!(error = %e, "closing the transaction log");
    }
}

/// Writes snapshots on a thread of their own, one at a time.
pub struct Snapshotter {
    snap_dir: PathBuf,
    busy: Arc<AtomicBool>,
}

impl Snapshotter {
    pub fn new(snap_dir: PathBuf) -> Self {
        Snapshotter {
            snap_dir,
            busy: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Starts writing `tree` (a [`DataTree::snapshot_copy`]); false if the
    /// previous snapshot is still being written, as 3.8 then skips one.
    pub fn start(&self, tree: DataTree, sessions: Vec<(i64, u32)>) -> bool {
        if self.busy.swap(true, Ordering::AcqRel) {
            tracing::warn!("previous snapshot still being written; skipping this one");
            return false;
        }
        let busy = self.busy.clone();
        let dir = self.snap_dir.clone();
        let spawned = std::thread::Builder::new()
            .name("zkd-snapshot".into())
            .spawn(move || {
                let started = std::time::Instant::now();
                match storage::write_snapshot(&dir, &tree, &sessions, tree.last_zxid) {
                    Ok(info) => tracing::info!(
                        path = %info.path.display(),
                        nodes = info.nodes,
                        bytes = info.bytes,
                        ms = started.elapsed().as_millis() as u64,
                        "snapshot written"
                    ),
                    Err(e) => tracing::error!(error = %e, "snapshot failed; will try again at the next one"),
                }
                busy.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.busy.store(false, Ordering::Release);
            return false;
        }
        true
    }

    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }
}
