//! Judging a simulated history by ZooKeeper's guarantees: writes are
//! linearizable, a read sees its own session's writes and never goes back,
//! a read after sync sees every write acknowledged before the sync began,
//! nothing acknowledged is ever lost, and all members end with one tree.

use crate::proto::ErrorCode;
use crate::tree::DataTree;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub enum OpKind {
    Create,
    Set { expected: i32, data: String },
    Read { synced: bool },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Pending,
    /// The connection went away first: it may or may not have happened.
    Unknown,
    Done {
        err: ErrorCode,
        zxid: i64,
        version: Option<i32>,
        data: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Op {
    pub client: usize,
    pub key: usize,
    pub kind: OpKind,
    pub invoked: u64,
    pub completed: Option<u64>,
    pub outcome: Outcome,
}

impl Op {
    pub fn outcome_unknown(&mut self, now: u64) {
        self.outcome = Outcome::Unknown;
        self.completed = Some(now);
    }

    pub fn complete(
        &mut self,
        now: u64,
        err: ErrorCode,
        zxid: i64,
        version: Option<i32>,
        data: Option<String>,
    ) {
        self.completed = Some(now);
        self.outcome = Outcome::Done {
            err,
            zxid,
            version,
            data,
        };
    }

    fn ok(&self) -> Option<(i64, Option<i32>, Option<&str>)> {
        match &self.outcome {
            Outcome::Done {
                err: ErrorCode::Ok,
                zxid,
                version,
                data,
            } => Some((*zxid, *version, data.as_deref())),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
pub struct History {
    pub ops: Vec<Op>,
}

impl History {
    pub fn invoke(&mut self, client: usize, key: usize, kind: OpKind, now: u64) -> usize {
        self.ops.push(Op {
            client,
            key,
            kind,
            invoked: now,
            completed: None,
            outcome: Outcome::Pending,
        });
        self.ops.len() - 1
    }

    pub fn acked_writes(&self) -> usize {
        self.ops
            .iter()
            .filter(|o| matches!(o.kind, OpKind::Set { .. }) && o.ok().is_some())
            .count()
    }

    pub fn check(&self, seed: u64, tree: &DataTree) {
        // Acknowledged sets per (key, version): one write each, in real-time order.
        let mut by_version: HashMap<(usize, i32), &Op> = HashMap::new();
        let mut creates: HashMap<usize, usize> = HashMap::new();
        let mut written: HashMap<String, (usize, bool)> = HashMap::new();
        for op in &self.ops {
            match (&op.kind, op.ok()) {
                (OpKind::Create, Some(_)) => *creates.entry(op.key).or_default() += 1,
                (OpKind::Set { data, .. }, ok) => {
                    let failed =
                        matches!(&op.outcome, Outcome::Done { err, .. } if *err != ErrorCode::Ok);
                    written.insert(data.clone(), (op.key, failed));
                    if let Some((_, Some(v), _)) = ok {
                        if let Some(other) = by_version.insert((op.key, v), op) {
                            fail(seed, format!(
                                "two acknowledged writes made /k{} version {v}: {other:?} and {op:?}",
                                op.key
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        for (key, n) in creates {
            if n > 1 {
                fail(seed, format!("/k{key} was created {n} times"));
            }
        }
        let acked: Vec<&Op> = by_version.values().copied().collect();
        for a in &acked {
            for b in &acked {
                let (Some((_, Some(va), _)), Some((_, Some(vb), _))) = (a.ok(), b.ok()) else {
                    continue;
                };
                if a.key == b.key && a.completed.unwrap() < b.invoked && va >= vb {
                    fail(
                        seed,
                        format!(
                            "write {a:?} finished before {b:?} began, yet got version {va} >= {vb}"
                        ),
                    );
                }
            }
        }
        // Nothing acknowledged is lost.
        for ((key, v), op) in &by_version {
            let node = tree.node(&format!("/k{key}")).unwrap_or_else(|| {
                fail(
                    seed,
                    format!("/k{key} is gone, but {op:?} was acknowledged"),
                )
            });
            if node.stat.version < *v {
                fail(
                    seed,
                    format!(
                        "/k{key} is at version {} but version {v} was acknowledged ({op:?})",
                        node.stat.version
                    ),
                );
            }
            if node.stat.version == *v {
                let OpKind::Set { data, .. } = &op.kind else {
                    unreachable!()
                };
                let have = node.data.as_deref().map(String::from_utf8_lossy);
                if have.as_deref() != Some(data.as_str()) {
                    fail(seed, format!(
                        "/k{key} version {v} holds {have:?}, but the acknowledged write was {data:?}"
                    ));
                }
            }
        }
        // Reads: their value was written by someone, never by a failed write;
        // a session never goes back; after sync, nothing acknowledged earlier is missed.
        let mut last_seen: HashMap<(usize, usize), i32> = HashMap::new();
        let mut ordered: Vec<&Op> = self.ops.iter().collect();
        ordered.sort_by_key(|o| o.completed.unwrap_or(u64::MAX));
        for op in &self.ops {
            let Some((_, Some(v), data)) = op.ok() else {
                continue;
            };
            if let OpKind::Read { synced } = op.kind {
                if let Some(d) = data {
                    if d != "0" {
                        match written.get(d) {
                            None => fail(seed, format!("read {op:?} saw data nobody wrote")),
                            Some((k, _)) if *k != op.key => {
                                fail(seed, format!("read {op:?} saw data written to another key"))
                            }
                            Some((_, true)) => fail(
                                seed,
                                format!("read {op:?} saw the data of a write that failed"),
                            ),
                            _ => {}
                        }
                    }
                }
                if synced {
                    for w in &acked {
                        if w.key == op.key && w.completed.unwrap() < op.invoked {
                            let (_, Some(wv), _) = w.ok().unwrap() else {
                                continue;
                            };
                            if v < wv {
                                fail(seed, format!(
                                    "read after sync {op:?} saw version {v}, but {w:?} (version {wv}) was acknowledged before it began"
                                ));
                            }
                        }
                    }
                }
            }
        }
        for op in ordered {
            let Some((_, Some(v), _)) = op.ok() else {
                continue;
            };
            let seen = last_seen.entry((op.client, op.key)).or_insert(v);
            if v < *seen && matches!(op.kind, OpKind::Read { .. }) {
                fail(
                    seed,
                    format!(
                        "client {} saw /k{} go back from version {seen} to {v} ({op:?})",
                        op.client, op.key
                    ),
                );
            }
            *seen = (*seen).max(v);
        }
    }
}

/// All members hold the same nodes, data and Stats.
pub fn same_trees(seed: u64, trees: &[&DataTree]) {
    let first = trees[0];
    for (i, t) in trees.iter().enumerate().skip(1) {
        assert_eq!(
            t.node_count(),
            first.node_count(),
            "seed {seed}: member {} has {} nodes, member 1 has {}",
            i + 1,
            t.node_count(),
            first.node_count()
        );
        for (path, node) in first.iter() {
            let other = t
                .node(path)
                .unwrap_or_else(|| panic!("seed {seed}: member {} lacks {path}", i + 1));
            assert_eq!(
                (&other.data, other.stat, &other.children),
                (&node.data, node.stat, &node.children),
                "seed {seed}: {path} differs between member 1 and member {}",
                i + 1
            );
        }
    }
}

fn fail(seed: u64, what: String) -> ! {
    panic!("seed {seed}: {what}")
}
