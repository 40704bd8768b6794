//! Quota accounting, as 3.8 keeps it: for every path with a
//! `/zookeeper/quota/<path>/zookeeper_limits` node, the sibling
//! `zookeeper_stats` node's data holds the live count and bytes of the
//! subtree. The tree rewrites that data itself on every create, delete and
//! setData below the path; quotas are not enforced (3.8's default), only
//! counted, and zkCli's `listquota` reads the figures.

use super::DataTree;
use crate::proto::path;
use bytes::Bytes;
use std::collections::BTreeMap;

pub const QUOTA_ROOT: &str = "/zookeeper/quota";
pub const LIMIT_NODE: &str = "zookeeper_limits";
pub const STAT_NODE: &str = "zookeeper_stats";

fn stat_path(quota_path: &str) -> String {
    format!("{QUOTA_ROOT}{quota_path}/{STAT_NODE}")
}

/// The path a node under /zookeeper/quota stands for ("/zookeeper/quota/a" -> "/a").
fn trim_quota_path(p: &str) -> &str {
    &p[QUOTA_ROOT.len().min(p.len())..]
}

/// 3.8's StatsTrack text: `count=N,bytes=M`, then any other keys sorted,
/// behind an extra `=` that old parsers skip.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StatsTrack {
    values: BTreeMap<String, i64>,
}

impl StatsTrack {
    pub fn parse(data: &[u8]) -> StatsTrack {
        let mut values = BTreeMap::new();
        let text = String::from_utf8_lossy(data);
        for pair in text.split([',', ';']).filter(|p| !p.is_empty()) {
            let mut kv = pair.split('=');
            let key = kv.next().unwrap_or_default();
            let value = kv.next().unwrap_or_default();
            let value = if value.is_empty() {
                Ok(-1)
            } else {
                value.parse()
            };
            if let (false, Ok(v)) = (key.is_empty(), value) {
                values.insert(key.to_owned(), v);
            }
        }
        StatsTrack { values }
    }

    pub fn get(&self, key: &str) -> i64 {
        self.values.get(key).copied().unwrap_or(-1)
    }

    pub fn set(&mut self, key: &str, value: i64) {
        self.values.insert(key.to_owned(), value);
    }

    pub fn render(&self) -> String {
        let mut out = format!("count={},bytes={}", self.get("count"), self.get("bytes"));
        let extra: Vec<_> = self
            .values
            .iter()
            .filter(|(k, _)| *k != "count" && *k != "bytes")
            .collect();
        if !extra.is_empty() {
            out.push('=');
            for (k, v) in extra {
                out.push_str(&format!(";{k}={v}"));
            }
        }
        out
    }
}

impl DataTree {
    /// The deepest quota path at or above `p`, never the root.
    fn quota_prefix(&self, p: &str) -> Option<String> {
        let mut best: Option<&String> = None;
        for q in self.quota_paths.iter() {
            let covers =
                p == q || (p.starts_with(q.as_str()) && p.as_bytes().get(q.len()) == Some(&b'/'));
            if covers && q != "/" && best.is_none_or(|b| q.len() > b.len()) {
                best = Some(q);
            }
        }
        best.cloned()
    }

    /// Adds to the figures in a quota's stats node. The node's Stat does not
    /// change, as in 3.8.
    fn add_to_quota(&mut self, quota_path: &str, bytes: i64, count: i64) {
        let Some(node) = self.node_mut(&stat_path(quota_path)) else {
            tracing::error!(quota_path, "quota stats node missing");
            return;
        };
        let mut track = StatsTrack::parse(node.data.as_deref().unwrap_or_default());
        track.set("count", track.get("count") + count);
        track.set("bytes", track.get("bytes") + bytes);
        node.data = Some(Bytes::from(track.render()));
    }

    /// Recounts a subtree into its stats node (when the stats node appears,
    /// and after loading a snapshot).
    pub(super) fn recount_quota(&mut self, quota_path: &str) {
        let (mut count, mut bytes) = (0i64, 0i64);
        let mut stack = vec![quota_path.to_owned()];
        while let Some(p) = stack.pop() {
            if let Some(node) = self.nodes.get(p.as_str()) {
                count += 1;
                bytes += node.data_len() as i64;
                stack.extend(node.children.iter().map(|c| path::join(&p, c)));
            }
        }
        let mut track = StatsTrack::default();
        track.set("count", count);
        track.set("bytes", bytes);
        if let Some(node) = self.node_mut(&stat_path(quota_path)) {
            node.data = Some(Bytes::from(track.render()));
        }
    }

    /// Bookkeeping after a node was created.
    pub(super) fn quota_created(&mut self, p: &str, data_len: usize) {
        let parent = path::parent(p);
        if parent.starts_with(QUOTA_ROOT) {
            match path::basename(p) {
                LIMIT_NODE => {
                    self.quota_paths.insert(trim_quota_path(parent).to_owned());
                }
                STAT_NODE => {
                    let q = trim_quota_path(parent).to_owned();
                    self.recount_quota(&q);
                }
                _ => {}
            }
        }
        if let Some(q) = self.quota_prefix(p) {
            self.add_to_quota(&q, data_len as i64, 1);
        }
    }

    /// Bookkeeping after a node was deleted.
    pub(super) fn quota_deleted(&mut self, p: &str, data_len: usize) {
        let parent = path::parent(p);
        if parent.starts_with(super::ZOOKEEPER) && path::basename(p) == LIMIT_NODE {
            self.quota_paths.remove(trim_quota_path(parent));
        }
        if let Some(q) = self.quota_prefix(p) {
            self.add_to_quota(&q, -(data_len as i64), -1);
        }
    }

    pub(super) fn quota_data_changed(&mut self, p: &str, old_len: usize, new_len: usize) {
        if let Some(q) = self.quota_prefix(p) {
            self.add_to_quota(&q, new_len as i64 - old_len as i64, 0);
        }
    }

    /// Finds every quota under /zookeeper/quota and recounts it, as 3.8
    /// does after loading a snapshot.
    pub fn rebuild_quotas(&mut self) {
        let suffix = format!("/{LIMIT_NODE}");
        let limits: Vec<String> = self
            .nodes
            .keys()
            .filter(|p| p.starts_with(QUOTA_ROOT) && p.ends_with(&suffix))
            .map(|p| trim_quota_path(path::parent(p)).to_owned())
            .collect();
        self.quota_paths.clear();
        for q in limits {
            self.recount_quota(&q);
            self.quota_paths.insert(q);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_track_text_matches_3_8() {
        let mut t = StatsTrack::parse(b"count=2,bytes=-1");
        assert_eq!(t.render(), "count=2,bytes=-1");
        t.set("countHardLimit", -1);
        t.set("byteHardLimit", -1);
        assert_eq!(
            t.render(),
            "count=2,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"
        );
        let back = StatsTrack::parse(t.render().as_bytes());
        assert_eq!(back.get("count"), 2);
        assert_eq!(back.get("byteHardLimit"), -1);
        assert_eq!(back.render(), t.render());
    }
}
