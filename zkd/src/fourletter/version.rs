//! The version string zkd reports where 3.8 reports
//! `Version.getFullVersion()`: `srvr`/`stat` (`Zookeeper version: ...`),
//! `mntr` (`zk_version`) and `envi` (`zookeeper.version=...`).
//!
//! Its shape is 3.8's, `<version>-<qualifier>-<revision>, built on <date>`,
//! and it starts with the 3.8.0 protocol level we implement, because tools
//! read the leading digits: kazoo's `server_version()` takes
//! `([\d.]*)` from `zookeeper.version` in `envi`, monitoring checks match
//! `\d+\.\d+\.\d+`, and scripts split on `-` or `,`. The qualifier names zkd
//! and its crate version; the revision and date come from the build
//! environment when the packaging sets them:
//!
//! `3.8.0-zkd.0.1.0-<ZKD_GIT_REV or "unknown">, built on <ZKD_BUILD_DATE or "unknown">`

/// The ZooKeeper release whose client protocol and behaviour zkd follows.
pub const COMPATIBLE_ZOOKEEPER_VERSION: &str = "3.8.0";

/// 3.8's `Version.getFullVersion()`, for zkd.
pub fn full_version() -> String {
    format!(
        "{}-zkd.{}-{}, built on {}",
        COMPATIBLE_ZOOKEEPER_VERSION,
        env!("CARGO_PKG_VERSION"),
        option_env!("ZKD_GIT_REV").unwrap_or("unknown"),
        option_env!("ZKD_BUILD_DATE").unwrap_or("unknown"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kazoo's `ENVI_VERSION` regex and its `split('.')`.
    fn kazoo_version(s: &str) -> Vec<u32> {
        let digits: String = s
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        digits.split('.').map(|d| d.parse().unwrap()).collect()
    }

    #[test]
    fn parses_as_3_8_0_for_clients() {
        let v = full_version();
        assert_eq!(kazoo_version(&v), [3, 8, 0]);
        assert!(v.starts_with("3.8.0-zkd."));
        assert_eq!(v.split('-').next(), Some("3.8.0"));
        assert!(v.contains(", built on "));
        assert!(!v.contains('\n') && !v.contains('\t'));
    }
}
