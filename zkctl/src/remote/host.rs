//! What the remote steps need from a host, as a trait: the SSH session
//! implements it, and the tests use an in-memory fake, so the steps
//! (checks, deploy, restarts) are tested without hosts.

use super::files::RemoteFile;

/// A finished remote command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.status == 0
    }
}

pub trait RemoteHost {
    /// Runs a shell command; `privileged` runs it as root (sudo when the
    /// SSH user is not root). Err only when the command could not be run.
    fn run(&mut self, cmd: &str, privileged: bool) -> Result<Output, String>;

    /// Whether the host already has `file` as it should be: the same
    /// content, mode and owner.
    fn is_current(&mut self, file: &RemoteFile) -> Result<bool, String>;

    /// Writes `file` atomically, only when its content, mode or owner
    /// differ. Ok(true) when it changed something.
    fn upload(&mut self, file: &RemoteFile) -> Result<bool, String>;

    /// A file's content, `None` when it does not exist.
    fn read_file(&mut self, path: &str) -> Result<Option<Vec<u8>>, String>;
}

/// Runs `cmd` and fails unless it exits 0, naming the command.
pub fn run_ok(host: &mut dyn RemoteHost, cmd: &str, privileged: bool) -> Result<Output, String> {
    let out = host.run(cmd, privileged)?;
    if !out.ok() {
        let detail = if out.stderr.trim().is_empty() {
            out.stdout.trim()
        } else {
            out.stderr.trim()
        };
        return Err(format!("`{cmd}` exited {}: {detail}", out.status));
    }
    Ok(out)
}

/// Single-quotes `s` for a POSIX shell.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
pub mod fake {
    //! A host in memory: files, and canned answers to commands.
    use super::*;
    use crate::remote::files::Content;
    use std::collections::BTreeMap;

    #[derive(Default)]
    pub struct FakeHost {
        pub files: BTreeMap<String, Vec<u8>>,
        pub uploads: Vec<String>,
        pub commands: Vec<String>,
        /// (command prefix, answer): the first match answers.
        pub answers: Vec<(String, Output)>,
        pub fail_upload: Option<String>,
    }

    impl FakeHost {
        pub fn answer(&mut self, prefix: &str, status: i32, stdout: &str) {
            self.answers.push((
                prefix.into(),
                Output {
                    status,
                    stdout: stdout.into(),
                    stderr: String::new(),
                },
            ));
        }
    }

    impl RemoteHost for FakeHost {
        fn run(&mut self, cmd: &str, _privileged: bool) -> Result<Output, String> {
            self.commands.push(cmd.to_owned());
            Ok(self
                .answers
                .iter()
                .find(|(p, _)| cmd.starts_with(p.as_str()))
                .map(|(_, o)| o.clone())
                .unwrap_or_default())
        }

        fn is_current(&mut self, file: &RemoteFile) -> Result<bool, String> {
            let bytes = match &file.content {
                Content::Text(t) => t.as_bytes().to_vec(),
                Content::Local(p) => p.display().to_string().into_bytes(),
            };
            Ok(self.files.get(&file.path) == Some(&bytes))
        }

        fn upload(&mut self, file: &RemoteFile) -> Result<bool, String> {
            if self.fail_upload.as_deref() == Some(file.path.as_str()) {
                return Err(format!("{}: disk full", file.path));
            }
            let bytes = match &file.content {
                Content::Text(t) => t.as_bytes().to_vec(),
                Content::Local(p) => p.display().to_string().into_bytes(),
            };
            let changed = self.files.get(&file.path) != Some(&bytes);
            if changed {
                self.files.insert(file.path.clone(), bytes);
                self.uploads.push(file.path.clone());
            }
            Ok(changed)
        }

        fn read_file(&mut self, path: &str) -> Result<Option<Vec<u8>>, String> {
            Ok(self.files.get(path).cloned())
        }
    }
}
