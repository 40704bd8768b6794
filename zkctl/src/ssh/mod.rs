//! SSH to the inventory's hosts with libssh2 (the ssh2 crate): one
//! blocking session per host, host keys checked against known_hosts
//! (never silently accepted), key-file or agent authentication, commands
//! with sudo for privileged steps, and uploads that are atomic and happen
//! only when the content, mode or owner differ.

mod known_hosts;

use crate::model::SshSettings;
use crate::remote::files::{Content, RemoteFile};
use crate::remote::host::{quote, Output, RemoteHost};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;

/// One line naming the host, the step and the cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshError(pub String);

impl std::fmt::Display for SshError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub struct Session {
    label: String,
    session: ssh2::Session,
    settings: SshSettings,
}

impl Session {
    /// Connects, checks the host key, authenticates.
    pub fn connect(
        label: &str,
        address: &str,
        settings: &SshSettings,
    ) -> Result<Session, SshError> {
        let err = |what: &str, e: &dyn std::fmt::Display| {
            SshError(format!("{label} ({address}): {what}: {e}"))
        };
        let addr = (address, settings.port)
            .to_socket_addrs()
            .map_err(|e| err("resolve", &e))?
            .next()
            .ok_or_else(|| err("resolve", &"no address"))?;
        let tcp = TcpStream::connect_timeout(&addr, settings.connect_timeout)
            .map_err(|e| err(&format!("connect to port {}", settings.port), &e))?;
        let mut session = ssh2::Session::new().map_err(|e| err("ssh", &e))?;
        session.set_tcp_stream(tcp);
        session.set_timeout(settings.connect_timeout.as_millis() as u32);
        session.handshake().map_err(|e| err("ssh handshake", &e))?;
        known_hosts::check(&session, label, address, settings)?;
        authenticate(&session, label, settings)?;
        session.set_timeout(settings.command_timeout.as_millis() as u32);
        Ok(Session {
            label: label.to_owned(),
            session,
            settings: settings.clone(),
        })
    }

    fn wrap(&self, cmd: &str, privileged: bool) -> String {
        if privileged && self.settings.sudo {
            format!("sudo -n sh -c {}", quote(cmd))
        } else {
            cmd.to_owned()
        }
    }

    fn exec(&self, cmd: &str) -> Result<Output, String> {
        let mut channel = self
            .session
            .channel_session()
            .map_err(|e| format!("{}: open a channel: {e}", self.label))?;
        channel
            .exec(cmd)
            .map_err(|e| format!("{}: run `{cmd}`: {e}", self.label))?;
        let mut stdout = String::new();
        let mut stderr = String::new();
        channel
            .read_to_string(&mut stdout)
            .map_err(|e| format!("{}: `{cmd}`: {e}", self.label))?;
        channel
            .stderr()
            .read_to_string(&mut stderr)
            .map_err(|e| format!("{}: `{cmd}`: {e}", self.label))?;
        channel
            .wait_close()
            .map_err(|e| format!("{}: `{cmd}`: {e}", self.label))?;
        let status = channel.exit_status().unwrap_or(-1);
        if status != 0 && stderr.contains("a password is required") {
            return Err(format!(
                "{}: sudo needs a password for {}: configure NOPASSWD sudo for that user, or connect as root",
                self.label, self.settings.user
            ));
        }
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }

    fn send_bytes(
        &self,
        remote: &str,
        mode: i32,
        data: &mut dyn Read,
        size: u64,
    ) -> Result<(), String> {
        let mut channel = self
            .session
            .scp_send(Path::new(remote), mode, size, None)
            .map_err(|e| format!("{}: upload to {remote}: {e}", self.label))?;
        std::io::copy(data, &mut channel)
            .map_err(|e| format!("{}: upload to {remote}: {e}", self.label))?;
        channel.send_eof().ok();
        channel.wait_eof().ok();
        channel.close().ok();
        channel.wait_close().ok();
        Ok(())
    }
}

fn authenticate(
    session: &ssh2::Session,
    label: &str,
    settings: &SshSettings,
) -> Result<(), SshError> {
    let mut tried = Vec::new();
    if let Some(key) = &settings.identity {
        tried.push(format!("key {}", key.display()));
        let public = key.with_extension("pub");
        let public = public.exists().then_some(public);
        if session
            .userauth_pubkey_file(&settings.user, public.as_deref(), key, None)
            .is_ok()
            && session.authenticated()
        {
            return Ok(());
        }
    }
    if settings.use_agent && std::env::var_os("SSH_AUTH_SOCK").is_some() {
        tried.push("the SSH agent".into());
        if session.userauth_agent(&settings.user).is_ok() && session.authenticated() {
            return Ok(());
        }
    }
    Err(SshError(format!(
        "{label}: authentication as {} refused (tried: {})",
        settings.user,
        if tried.is_empty() {
            "nothing: set ssh.identity or start an agent".to_owned()
        } else {
            tried.join(", ")
        }
    )))
}

fn sha256_hex(data: &mut dyn Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = data.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

impl RemoteHost for Session {
    fn run(&mut self, cmd: &str, privileged: bool) -> Result<Output, String> {
        let wrapped = self.wrap(cmd, privileged);
        self.exec(&wrapped)
    }

    fn is_current(&mut self, file: &RemoteFile) -> Result<bool, String> {
        let hash = match &file.content {
            Content::Text(t) => sha256_hex(&mut t.as_bytes()).expect("in memory"),
            Content::Local(p) => {
                let mut f = std::fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()))?;
                sha256_hex(&mut f).map_err(|e| format!("{}: {e}", p.display()))?
            }
        };
        let target = quote(&file.path);
        let want = format!("{hash} {:o} {} {}", file.mode, file.owner, file.group);
        let have = self.run(
            &format!("test -f {target} && echo \"$(sha256sum < {target} | cut -d' ' -f1) $(stat -c '%a %U %G' {target})\""),
            true,
        )?;
        Ok(have.stdout.trim() == want)
    }

    fn upload(&mut self, file: &RemoteFile) -> Result<bool, String> {
        if self.is_current(file)? {
            return Ok(false);
        }
        let size = match &file.content {
            Content::Text(t) => t.len() as u64,
            Content::Local(p) => std::fs::metadata(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .len(),
        };
        let target = quote(&file.path);
        // Bytes to a private temp file, then install beside the target and
        // rename over it: readers see the old file or the new one, never half.
        let staged = self.run("mktemp /tmp/.zkctl-upload-XXXXXXXX", false)?;
        let staged = staged.stdout.trim().to_owned();
        if staged.is_empty() {
            return Err(format!("{}: mktemp failed", self.label));
        }
        let result = (|| {
            match &file.content {
                Content::Text(t) => self.send_bytes(&staged, 0o600, &mut t.as_bytes(), size)?,
                Content::Local(p) => {
                    let mut f =
                        std::fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()))?;
                    self.send_bytes(&staged, 0o600, &mut f, size)?
                }
            }
            let dir = quote(
                Path::new(&file.path)
                    .parent()
                    .map_or("/".into(), |d| d.display().to_string())
                    .as_str(),
            );
            let tmp = quote(&format!("{}.zkctl-tmp", file.path));
            let cmd = format!(
                "mkdir -p {dir} && install -m {:o} -o {} -g {} {} {tmp} && sync {tmp} && mv -f {tmp} {target}",
                file.mode,
                file.owner,
                file.group,
                quote(&staged)
            );
            let out = self.run(&cmd, true)?;
            if !out.ok() {
                self.run(&format!("rm -f {tmp}"), true).ok();
                return Err(format!(
                    "{}: install {}: {}",
                    self.label,
                    file.path,
                    out.stderr.trim()
                ));
            }
            Ok(())
        })();
        self.run(&format!("rm -f {}", quote(&staged)), false).ok();
        result.map(|_| true)
    }

    fn read_file(&mut self, path: &str) -> Result<Option<Vec<u8>>, String> {
        let p = quote(path);
        let out = self.run(
            &format!("if test -e {p}; then cat {p}; else exit 3; fi"),
            true,
        )?;
        match out.status {
            0 => Ok(Some(out.stdout.into_bytes())),
            3 => Ok(None),
            s => Err(format!(
                "{}: read {path}: exit {s}: {}",
                self.label,
                out.stderr.trim()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(&mut &b"abc"[..]).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
