//! Where a scenario's znodes live: ROOT/s<session>/n<i>, or with several parents per
//! session ROOT/s<session>/p<i mod parents>/n<i>. Recovery runs spread a million znodes
//! over many parents, as a real tree would, instead of one directory of a million names.

/// The key space of one run.
#[derive(Clone, Debug)]
pub struct Layout {
    root: String,
    parents: u32,
}

impl Layout {
    pub fn new(root: &str, parents: u32) -> Result<Layout, String> {
        if !root.starts_with('/') || root.len() < 2 || root.ends_with('/') || root.contains("//") {
            return Err(format!(
                "--root '{root}' must be an absolute znode path below / (like /zkbench)"
            ));
        }
        if parents == 0 {
            return Err("--parents must be at least 1".into());
        }
        Ok(Layout {
            root: root.to_string(),
            parents,
        })
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    /// The session's own directory.
    pub fn session_dir(&self, session: usize) -> String {
        format!("{}/s{session}", self.root)
    }

    /// The directories that hold the session's keys, in parent order.
    pub fn parent_dirs(&self, session: usize) -> Vec<String> {
        let dir = self.session_dir(session);
        if self.parents == 1 {
            vec![dir]
        } else {
            (0..self.parents).map(|k| format!("{dir}/p{k}")).collect()
        }
    }

    /// Index into [`Layout::parent_dirs`] of key `index`.
    pub fn parent_of(&self, index: usize) -> usize {
        index % self.parents as usize
    }

    pub fn key_path(&self, session: usize, index: usize) -> String {
        if self.parents == 1 {
            format!("{}/n{index}", self.session_dir(session))
        } else {
            format!(
                "{}/p{}/n{index}",
                self.session_dir(session),
                self.parent_of(index)
            )
        }
    }

    /// The child name of key `index` inside its parent.
    pub fn key_name(index: usize) -> String {
        format!("n{index}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_layout_keeps_keys_in_the_session_dir() {
        let l = Layout::new("/zkbench", 1).unwrap();
        assert_eq!(l.key_path(3, 17), "/zkbench/s3/n17");
        assert_eq!(l.parent_dirs(3), vec!["/zkbench/s3".to_string()]);
    }

    #[test]
    fn parents_take_keys_round_robin() {
        let l = Layout::new("/rec", 50).unwrap();
        assert_eq!(l.key_path(19, 49_999), "/rec/s19/p49/n49999");
        assert_eq!(l.key_path(0, 50), "/rec/s0/p0/n50");
        let dirs = l.parent_dirs(2);
        assert_eq!(dirs.len(), 50);
        assert_eq!(dirs[7], "/rec/s2/p7");
        // Every key's path starts with the parent directory parent_of names.
        for i in [0usize, 1, 49, 50, 12_345] {
            let parent = &dirs[l.parent_of(i)];
            assert_eq!(
                l.key_path(2, i),
                format!("{parent}/{}", Layout::key_name(i))
            );
        }
    }

    #[test]
    fn bad_roots_are_refused() {
        for root in ["zk", "/", "/a/", "/a//b", ""] {
            assert!(Layout::new(root, 1).is_err(), "{root:?} accepted");
        }
        assert!(Layout::new("/a", 0).is_err());
    }
}
