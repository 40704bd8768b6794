//! Watch registrations: who is told what when a path changes. Two tables,
//! as in 3.8: data watches (getData/exists) and child watches (getChildren);
//! persistent watches sit in both.

use crate::proto::EventType;
use std::collections::{HashMap, HashSet};

/// The connection a watch belongs to; watches die with their connection.
pub type WatcherId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchMode {
    /// Fires once, then is gone.
    Standard,
    /// Fires on every change of the path itself.
    Persistent,
    /// Fires on every change of the path or anything below it, except
    /// child-list changes (the creates and deletes themselves are reported).
    PersistentRecursive,
}

#[derive(Debug, Default)]
pub struct WatchTable {
    by_path: HashMap<String, HashMap<WatcherId, WatchMode>>,
    by_watcher: HashMap<WatcherId, HashSet<String>>,
    recursive: usize,
}

impl WatchTable {
    /// Registers a watch; a later registration replaces the mode of an
    /// earlier one on the same path, as 3.8 does.
    pub fn add(&mut self, path: &str, watcher: WatcherId, mode: WatchMode) {
        let entry = self.by_path.entry(path.to_owned()).or_default();
        if let Some(old) = entry.insert(watcher, mode) {
            if old == WatchMode::PersistentRecursive {
                self.recursive -= 1;
            }
        }
        if mode == WatchMode::PersistentRecursive {
            self.recursive += 1;
        }
        self.by_watcher
            .entry(watcher)
            .or_default()
            .insert(path.to_owned());
    }

    pub fn contains(&self, path: &str, watcher: WatcherId) -> bool {
        self.by_path
            .get(path)
            .is_some_and(|w| w.contains_key(&watcher))
    }

    /// Removes `watcher`'s watch on `path`, whatever its mode.
    pub fn remove(&mut self, path: &str, watcher: WatcherId) -> bool {
        let Some(watchers) = self.by_path.get_mut(path) else {
            return false;
        };
        let Some(mode) = watchers.remove(&watcher) else {
            return false;
        };
        if mode == WatchMode::PersistentRecursive {
            self.recursive -= 1;
        }
        if watchers.is_empty() {
            self.by_path.remove(path);
        }
        if let Some(paths) = self.by_watcher.get_mut(&watcher) {
            paths.remove(path);
            if paths.is_empty() {
                self.by_watcher.remove(&watcher);
            }
        }
        true
    }

    /// Drops every watch of a connection that went away.
    pub fn remove_watcher(&mut self, watcher: WatcherId) {
        let Some(paths) = self.by_watcher.remove(&watcher) else {
            return;
        };
        for path in paths {
            if let Some(watchers) = self.by_path.get_mut(&path) {
                if watchers.remove(&watcher) == Some(WatchMode::PersistentRecursive) {
                    self.recursive -= 1;
                }
                if watchers.is_empty() {
                    self.by_path.remove(&path);
                }
            }
        }
    }

    /// Collects the watchers an event on `path` reaches, consuming one-shot
    /// watches. Recursive watches on ancestors are reached too.
    pub fn trigger(&mut self, path: &str, kind: EventType, out: &mut Vec<WatcherId>) {
        let start = out.len();
        if let Some(watchers) = self.by_path.get_mut(path) {
            let mut consumed = Vec::new();
            for (&w, &mode) in watchers.iter() {
                if mode == WatchMode::PersistentRecursive && kind == EventType::NodeChildrenChanged
                {
                    continue;
                }
                out.push(w);
                if mode == WatchMode::Standard {
                    consumed.push(w);
                }
            }
            for w in consumed {
                watchers.remove(&w);
                if let Some(paths) = self.by_watcher.get_mut(&w) {
                    paths.remove(path);
                    if paths.is_empty() {
                        self.by_watcher.remove(&w);
                    }
                }
            }
            if watchers.is_empty() {
                self.by_path.remove(path);
            }
        }
        if self.recursive > 0 && kind != EventType::NodeChildrenChanged {
            let mut p = path;
            while p != "/" {
                p = crate::proto::path::parent(p);
                if let Some(watchers) = self.by_path.get(p) {
                    out.extend(
                        watchers
                            .iter()
                            .filter(|(_, m)| **m == WatchMode::PersistentRecursive)
                            .map(|(w, _)| *w),
                    );
                }
            }
        }
        // One event per connection, however many of its watches matched.
        let mut seen = HashSet::new();
        let mut i = start;
        while i < out.len() {
            if seen.insert(out[i]) {
                i += 1;
            } else {
                out.swap_remove(i);
            }
        }
    }

    /// Number of (path, watcher) registrations.
    pub fn len(&self) -> usize {
        self.by_path.values().map(|w| w.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }

    pub fn path_count(&self) -> usize {
        self.by_path.len()
    }

    pub fn watcher_count(&self) -> usize {
        self.by_watcher.len()
    }

    /// (path, watchers) pairs, sorted, for `wchp`.
    pub fn by_path(&self) -> Vec<(&str, Vec<WatcherId>)> {
        let mut out: Vec<_> = self
            .by_path
            .iter()
            .map(|(p, w)| {
                let mut ws: Vec<_> = w.keys().copied().collect();
                ws.sort_unstable();
                (p.as_str(), ws)
            })
            .collect();
        out.sort();
        out
    }

    /// (watcher, paths) pairs, sorted, for `wchc`.
    pub fn by_watcher(&self) -> Vec<(WatcherId, Vec<&str>)> {
        let mut out: Vec<_> = self
            .by_watcher
            .iter()
            .map(|(w, p)| {
                let mut ps: Vec<_> = p.iter().map(String::as_str).collect();
                ps.sort_unstable();
                (*w, ps)
            })
            .collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_watches_fire_once() {
        let mut t = WatchTable::default();
        t.add("/a", 1, WatchMode::Standard);
        let mut out = vec![];
        t.trigger("/a", EventType::NodeDataChanged, &mut out);
        assert_eq!(out, vec![1]);
        out.clear();
        t.trigger("/a", EventType::NodeDataChanged, &mut out);
        assert!(out.is_empty());
        assert!(t.is_empty());
        assert_eq!(t.watcher_count(), 0);
    }

    #[test]
    fn recursive_watches_see_descendants_but_not_child_lists() {
        let mut t = WatchTable::default();
        t.add("/a", 1, WatchMode::PersistentRecursive);
        t.add("/a/b", 2, WatchMode::Persistent);
        let mut out = vec![];
        t.trigger("/a/b/c", EventType::NodeCreated, &mut out);
        assert_eq!(out, vec![1]);
        out.clear();
        t.trigger("/a/b", EventType::NodeChildrenChanged, &mut out);
        assert_eq!(out, vec![2]);
        out.clear();
        t.trigger("/a/b", EventType::NodeDataChanged, &mut out);
        out.sort();
        assert_eq!(out, vec![1, 2]);
        assert_eq!(t.len(), 2, "persistent watches stay");
    }

    #[test]
    fn one_event_per_connection() {
        let mut t = WatchTable::default();
        t.add("/", 7, WatchMode::PersistentRecursive);
        t.add("/x", 7, WatchMode::Standard);
        let mut out = vec![];
        t.trigger("/x", EventType::NodeDeleted, &mut out);
        assert_eq!(out, vec![7]);
    }

    #[test]
    fn removing_a_connection_clears_everything() {
        let mut t = WatchTable::default();
        t.add("/a", 3, WatchMode::PersistentRecursive);
        t.add("/b", 3, WatchMode::Standard);
        t.remove_watcher(3);
        assert!(t.is_empty());
        let mut out = vec![];
        t.trigger("/a/x", EventType::NodeCreated, &mut out);
        assert!(out.is_empty());
    }
}
