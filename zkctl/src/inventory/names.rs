//! Names and paths as the inventory allows them.

use std::path::{Path, PathBuf};

/// `~` and `~/...` become the home directory; `~user` is not expanded.
pub(super) fn expand_home(path: &str, home: Option<&Path>) -> Result<PathBuf, String> {
    let rest = match path.strip_prefix('~') {
        None => return Ok(PathBuf::from(path)),
        Some(rest) => rest,
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return Err(format!(
            "{path:?}: only ~ and ~/ are expanded (to your home), not ~user"
        ));
    }
    let home = home.ok_or_else(|| format!("{path:?} starts with ~, but HOME is not set"))?;
    Ok(home.join(rest.trim_start_matches('/')))
}

pub(super) fn is_ensemble_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Why `name` is not a host name for /etc/hosts (RFC 1123), if it is not.
pub(super) fn host_name_problem(name: &str) -> Option<String> {
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Some("is an address; give the host's name here and its address in address".into());
    }
    dns_name_problem(name)
}

fn dns_name_problem(name: &str) -> Option<String> {
    if name.len() > 253 {
        return Some("is longer than 253 characters".into());
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Some("has an empty or over-long (63+) part between dots".into());
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some("has a part that starts or ends with '-'".into());
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Some(format!(
                "holds {bad:?}; host names are letters, digits, '-' and '.'"
            ));
        }
    }
    None
}

pub(super) fn address_problem(address: &str) -> Option<String> {
    if address.starts_with('[') {
        return Some("must be written without brackets".into());
    }
    if address.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    if address.contains(':') {
        return Some("is not a valid IPv6 address".into());
    }
    if address.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Some("is not a valid IPv4 address".into());
    }
    dns_name_problem(address)
        .map(|why| format!("is neither an IP address nor a DNS name: it {why}"))
}
