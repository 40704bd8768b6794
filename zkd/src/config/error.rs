//! Errors and warnings produced while reading a configuration.
//!
//! Both say where (file, and line when there is one), which setting, and what
//! is wrong, in one line, because an operator reads them in a journal.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// A configuration that cannot be used.
///
/// `Display` renders one line: `<file>:<line>: <key>: <what is wrong>`, with
/// the line and key left out when the problem is not tied to one.
#[derive(Debug)]
pub struct ConfigError {
    /// The file at fault (zoo.cfg, the dynamic config file, or myid).
    pub file: PathBuf,
    /// 1-based line of the offending setting, when there is one.
    pub line: Option<u32>,
    /// The setting at fault, as spelt in the file (e.g. `tickTime`, `server.3`).
    pub key: Option<String>,
    /// What is wrong, in plain words.
    pub message: String,
    source: Option<io::Error>,
}

impl ConfigError {
    /// An error about the file as a whole.
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line: None,
            key: None,
            message: message.into(),
            source: None,
        }
    }

    /// An error about one setting, at a known line or not.
    pub fn key(file: &Path, line: Option<u32>, key: &str, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line,
            key: Some(key.to_string()),
            message: message.into(),
            source: None,
        }
    }

    /// An error about a line that is not a setting (e.g. bad escaping).
    pub fn line(file: &Path, line: u32, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line: Some(line),
            key: None,
            message: message.into(),
            source: None,
        }
    }

    /// An I/O failure while reading or inspecting `file`.
    pub fn io(file: &Path, what: &str, err: io::Error) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line: None,
            key: None,
            message: format!("{what}: {err}"),
            source: Some(err),
        }
    }
}

fn write_location(
    f: &mut fmt::Formatter<'_>,
    file: &Path,
    line: Option<u32>,
    key: Option<&str>,
) -> fmt::Result {
    write!(f, "{}", file.display())?;
    if let Some(line) = line {
        write!(f, ":{line}")?;
    }
    write!(f, ": ")?;
    if let Some(key) = key {
        write!(f, "{key}: ")?;
    }
    Ok(())
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_location(f, &self.file, self.line, self.key.as_deref())?;
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Something accepted but worth an operator's attention: an unknown or
/// repeated key, a value ZooKeeper would silently raise to its minimum, an
/// ensemble that tolerates no failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The file the warning is about.
    pub file: PathBuf,
    /// 1-based line, when the warning is about one setting in the file.
    pub line: Option<u32>,
    /// The setting concerned, as spelt in the file.
    pub key: Option<String>,
    /// What was noticed, and what zkd does about it.
    pub message: String,
}

impl ConfigWarning {
    pub(crate) fn new(
        file: &Path,
        line: Option<u32>,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        ConfigWarning {
            file: file.to_path_buf(),
            line,
            key: key.map(str::to_string),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_location(f, &self.file, self.line, self.key.as_deref())?;
        f.write_str(&self.message)
    }
}
