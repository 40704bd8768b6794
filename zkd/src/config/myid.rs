//! The `myid` file in the data directory: which `server.N` this server is.
//!
//! ZooKeeper reads the first line as a decimal number and ignores the rest;
//! a missing file means "no id" (fine standalone, an error in an ensemble).
//! zkd also tolerates blanks around the number.

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use super::error::ConfigError;
use super::keys::parse_java_int;

/// The file name inside the data directory.
pub const MYID_FILE: &str = "myid";

/// Reads `<data_dir>/myid`. A missing file is `Ok(None)`; unreadable or
/// malformed content is an error naming the file.
pub fn read_myid(data_dir: &Path) -> Result<Option<u64>, ConfigError> {
    let path = data_dir.join(MYID_FILE);
    let meta = match fs::metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ConfigError::io(&path, "cannot inspect the myid file", e)),
    };
    if !meta.is_file() {
        return Err(ConfigError::file(&path, "not a regular file"));
    }
    let bytes =
        fs::read(&path).map_err(|e| ConfigError::io(&path, "cannot read the myid file", e))?;
    let text = String::from_utf8_lossy(&bytes);
    let first = text.lines().next().unwrap_or("").trim();
    if first.is_empty() {
        return Err(ConfigError::file(
            &path,
            "empty; it must hold this server's id (the N of server.N)",
        ));
    }
    parse_java_int(first)
        .ok()
        .and_then(|n| u64::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| {
            ConfigError::file(
                &path,
                format!("'{first}' is not a server id (a non-negative whole number)"),
            )
        })
}

/// Writes `<data_dir>/myid` atomically (temporary file, fsync, rename, fsync
/// of the directory), so a crash leaves the old id or the new one.
pub fn write_myid(data_dir: &Path, id: u64) -> io::Result<()> {
    let tmp = data_dir.join(format!(".{MYID_FILE}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(format!("{id}\n").as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, data_dir.join(MYID_FILE))?;
        fs::File::open(data_dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(content: &[u8]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(MYID_FILE), content).unwrap();
        dir
    }

    #[test]
    fn missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_myid(dir.path()).unwrap(), None);
    }

    #[test]
    fn first_line_is_the_id_and_blanks_are_tolerated() {
        assert_eq!(read_myid(dir_with(b"3\n").path()).unwrap(), Some(3));
        assert_eq!(
            read_myid(dir_with(b" 42 \r\nignored\n").path()).unwrap(),
            Some(42)
        );
        assert_eq!(read_myid(dir_with(b"0").path()).unwrap(), Some(0));
    }

    #[test]
    fn bad_content_names_the_file() {
        for (content, what) in [
            (
                &b"abc\n"[..],
                "'abc' is not a server id (a non-negative whole number)",
            ),
            (
                b"-1\n",
                "'-1' is not a server id (a non-negative whole number)",
            ),
            (
                b"1.5\n",
                "'1.5' is not a server id (a non-negative whole number)",
            ),
            (
                b"\n2\n",
                "empty; it must hold this server's id (the N of server.N)",
            ),
            (
                b"",
                "empty; it must hold this server's id (the N of server.N)",
            ),
        ] {
            let dir = dir_with(content);
            let err = read_myid(dir.path()).unwrap_err();
            let file = dir.path().join("myid");
            assert_eq!(err.to_string(), format!("{}: {what}", file.display()));
        }
    }

    #[test]
    fn directory_named_myid_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(MYID_FILE)).unwrap();
        let err = read_myid(dir.path()).unwrap_err();
        assert!(
            err.to_string().ends_with("myid: not a regular file"),
            "{err}"
        );
    }

    #[test]
    fn write_then_read_round_trips_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        write_myid(dir.path(), 7).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join(MYID_FILE)).unwrap(),
            "7\n"
        );
        write_myid(dir.path(), u64::from(u32::MAX) + 1).unwrap();
        assert_eq!(
            read_myid(dir.path()).unwrap(),
            Some(u64::from(u32::MAX) + 1)
        );
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary file left behind");
    }

    #[test]
    fn write_into_missing_directory_fails() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write_myid(&dir.path().join("nope"), 1).is_err());
    }
}
