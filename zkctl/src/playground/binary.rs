//! Finding the zkd binary to run: the one built with this zkctl.

use std::path::{Path, PathBuf};

/// `--zkd PATH` if given; else `zkd` beside this executable (an install, or
/// `cargo run`'s target/<profile>); else the workspace's target/release and
/// target/debug when cargo started us from the source tree.
pub fn find_zkd(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(format!("--zkd {}: no such file", path.display()))
        };
    }
    let exe = std::env::current_exe().ok();
    let candidates = candidates(
        exe.as_deref(),
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from),
        std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
    );
    candidates
        .iter()
        .find(|c| c.is_file())
        .cloned()
        .ok_or_else(|| {
            let looked: Vec<String> = candidates
                .iter()
                .map(|c| format!("  {}", c.display()))
                .collect();
            format!(
                "no zkd binary found; looked at:\n{}\nbuild it with `cargo build --release` \
                 (builds zkd and zkctl), or pass --zkd PATH",
                looked.join("\n")
            )
        })
}

fn candidates(
    exe: Option<&Path>,
    target_dir: Option<PathBuf>,
    manifest_dir: Option<PathBuf>,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let exe_dir = exe.and_then(Path::parent);
    if let Some(dir) = exe_dir {
        out.push(dir.join("zkd"));
        // Test executables live in target/<profile>/deps.
        if dir.file_name().is_some_and(|n| n == "deps") {
            out.extend(dir.parent().map(|d| d.join("zkd")));
        }
    }
    // cargo sets CARGO_MANIFEST_DIR (zkctl/) for what it runs; the
    // workspace's target is beside it unless CARGO_TARGET_DIR moves it.
    let target =
        target_dir.or_else(|| manifest_dir.and_then(|m| m.parent().map(|w| w.join("target"))));
    if let Some(target) = target {
        for profile in ["release", "debug"] {
            let path = target.join(profile).join("zkd");
            if !out.contains(&path) {
                out.push(path);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_beside_the_executable_then_in_the_workspace_target() {
        let found = candidates(
            Some(Path::new("/w/target/debug/deps/playground-1234")),
            None,
            Some(PathBuf::from("/w/zkctl")),
        );
        let expected: Vec<PathBuf> = [
            "/w/target/debug/deps/zkd",
            "/w/target/debug/zkd",
            "/w/target/release/zkd",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(found, expected);
        let installed = candidates(Some(Path::new("/usr/bin/zkctl")), Some("/t".into()), None);
        assert_eq!(
            installed,
            [
                PathBuf::from("/usr/bin/zkd"),
                "/t/release/zkd".into(),
                "/t/debug/zkd".into()
            ]
        );
    }

    #[test]
    fn a_missing_explicit_binary_is_an_error() {
        let err = find_zkd(Some(Path::new("/nonexistent/zkd"))).unwrap_err();
        assert!(err.contains("--zkd /nonexistent/zkd"), "{err}");
    }
}
