//! Znode path rules, as `PathUtils.validatePath` enforces them.

/// Checks a znode path; the error says what is wrong and at which character.
pub fn validate(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("path length must be > 0".into());
    }
    if !path.starts_with('/') {
        return Err("path must start with / character".into());
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err("path must not end with / character".into());
    }
    // Java indexes UTF-16 units; positions here are chars, close enough for
    // a message, and the accept/reject decision is the same.
    let chars: Vec<char> = path.chars().collect();
    for i in 1..chars.len() {
        let c = chars[i];
        let last = chars[i - 1];
        let next_is_end = i + 1 == chars.len() || chars[i + 1] == '/';
        let reason = if c == '\0' {
            Some("null character not allowed")
        } else if c == '/' && last == '/' {
            Some("empty node name specified")
        } else if c == '.' && last == '.' {
            (i >= 2 && chars[i - 2] == '/' && next_is_end).then_some("relative paths not allowed")
        } else if c == '.' {
            (last == '/' && next_is_end).then_some("relative paths not allowed")
        } else if is_forbidden_char(c) {
            Some("invalid character")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(format!(
                "invalid path string \"{}\" caused by {reason} @{i}",
                path.escape_debug()
            ));
        }
    }
    Ok(())
}

fn is_forbidden_char(c: char) -> bool {
    let c = c as u32;
    // Supplementary characters are surrogate pairs in Java, which its range
    // check rejects; they are rejected here too.
    (0x01..=0x1f).contains(&c)
        || (0x7f..=0x9f).contains(&c)
        || (0xd800..=0xf8ff).contains(&c)
        || (0xfff0..=0xffff).contains(&c)
        || c > 0xffff
}

/// The parent of a valid non-root path ("/" for top-level nodes).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The last component of a valid non-root path.
pub fn basename(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_paths() {
        for p in [
            "/",
            "/a",
            "/a/b",
            "/a.b",
            "/...",
            "/a/.b",
            "/zookeeper/quota",
            "/ü",
        ] {
            assert_eq!(validate(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn rejects_what_zookeeper_rejects() {
        for p in [
            "",
            "a",
            "a/b",
            "/a/",
            "//",
            "/a//b",
            "/.",
            "/..",
            "/a/./b",
            "/a/../b",
            "/a\0b",
            "/a\u{1}",
            "/\u{7f}",
            "/\u{e000}",
            "/\u{fff5}",
            "/\u{1F600}",
        ] {
            assert!(validate(p).is_err(), "{p:?} accepted");
        }
    }

    #[test]
    fn error_names_the_position() {
        assert_eq!(
            validate("/a//b").unwrap_err(),
            "invalid path string \"/a//b\" caused by empty node name specified @3"
        );
    }

    #[test]
    fn parent_and_basename() {
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/a/b/c"), "/a/b");
        assert_eq!(basename("/a/b/c"), "c");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }
}
