//! ACLs: the reference-counted ACL table snapshots store, the permission
//! check every operation makes, and the `digest`, `ip` and `super` schemes.

use crate::jute::records::{perms, Acl, Id};
use base64::Engine as _;
use sha1::{Digest, Sha1};
use std::collections::HashMap;
use std::net::IpAddr;

/// The id snapshots use for "no ACL list" (OPEN_ACL_UNSAFE by convention).
pub const OPEN_UNSAFE_ACL_ID: i64 = -1;

/// Interns ACL lists: nodes hold a small id, the table holds each distinct
/// list once. This is also the form 3.8's snapshots store.
#[derive(Debug, Default, Clone)]
pub struct AclCache {
    by_id: HashMap<i64, (Vec<Acl>, u64)>,
    by_list: HashMap<Vec<Acl>, i64>,
    next_id: i64,
}

impl AclCache {
    /// Interns `acl` and counts one more reference to it.
    pub fn intern(&mut self, acl: &[Acl]) -> i64 {
        if let Some(&id) = self.by_list.get(acl) {
            self.by_id.get_mut(&id).expect("acl tables agree").1 += 1;
            return id;
        }
        self.next_id += 1;
        let id = self.next_id;
        self.by_list.insert(acl.to_vec(), id);
        self.by_id.insert(id, (acl.to_vec(), 1));
        id
    }

    /// Drops one reference; the list goes when nothing uses it.
    pub fn release(&mut self, id: i64) {
        if id == OPEN_UNSAFE_ACL_ID {
            return;
        }
        if let Some(entry) = self.by_id.get_mut(&id) {
            entry.1 = entry.1.saturating_sub(1);
            if entry.1 == 0 {
                let (list, _) = self.by_id.remove(&id).expect("present");
                self.by_list.remove(&list);
            }
        }
    }

    pub fn get(&self, id: i64) -> Vec<Acl> {
        if id == OPEN_UNSAFE_ACL_ID {
            return Acl::open_unsafe();
        }
        self.by_id
            .get(&id)
            .map(|(list, _)| list.clone())
            .unwrap_or_default()
    }

    /// The list behind an id without copying it (OPEN_ACL_UNSAFE for -1).
    pub fn get_ref_or_open(&self, id: i64) -> std::borrow::Cow<'_, [Acl]> {
        if id == OPEN_UNSAFE_ACL_ID {
            return std::borrow::Cow::Owned(Acl::open_unsafe());
        }
        std::borrow::Cow::Borrowed(
            self.by_id
                .get(&id)
                .map(|(l, _)| l.as_slice())
                .unwrap_or(&[]),
        )
    }

    /// Every (id, list) pair, ordered by id, as snapshots write them.
    pub fn entries(&self) -> Vec<(i64, &[Acl])> {
        let mut out: Vec<_> = self
            .by_id
            .iter()
            .map(|(id, (l, _))| (*id, l.as_slice()))
            .collect();
        out.sort_by_key(|(id, _)| *id);
        out
    }

    /// Restores a list under a given id (snapshot loading); references are
    /// counted as nodes are attached with [`AclCache::add_ref`].
    pub fn restore(&mut self, id: i64, acl: Vec<Acl>) {
        self.next_id = self.next_id.max(id);
        self.by_list.insert(acl.clone(), id);
        self.by_id.insert(id, (acl, 0));
    }

    pub fn add_ref(&mut self, id: i64) {
        if let Some(entry) = self.by_id.get_mut(&id) {
            entry.1 += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// `user:base64(sha1(user:password))`, the id a digest ACL names.
pub fn digest_id(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(user_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// Whether `ids` (a session's identities) grant any bit of `perm` under `acl`.
pub fn permits(acl: &[Acl], perm: i32, ids: &[Id]) -> bool {
    if acl.is_empty() || ids.iter().any(|id| id.scheme == "super") {
        return true;
    }
    acl.iter().filter(|a| a.perms & perm != 0).any(|a| {
        if a.id.scheme == "world" && a.id.id == "anyone" {
            return true;
        }
        ids.iter()
            .filter(|id| id.scheme == a.id.scheme)
            .any(|id| matches(&a.id.scheme, &id.id, &a.id.id))
    })
}

fn matches(scheme: &str, session_id: &str, acl_id: &str) -> bool {
    match scheme {
        "digest" => session_id == acl_id,
        "ip" => ip_matches(session_id, acl_id),
        _ => false,
    }
}

/// Whether an ACL id is well formed for its scheme, as 3.8's providers judge it.
pub fn valid_acl_id(scheme: &str, id: &str) -> bool {
    match scheme {
        "digest" => id.split(':').count() == 2,
        "ip" => parse_cidr(id).is_some(),
        _ => false,
    }
}

fn parse_cidr(spec: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match spec.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (spec, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => b.parse::<u32>().ok().filter(|b| *b <= max)?,
        None => max,
    };
    Some((addr, bits))
}

fn ip_matches(client: &str, acl: &str) -> bool {
    let (Some((net, bits)), Ok(client)) = (parse_cidr(acl), client.parse::<IpAddr>()) else {
        return false;
    };
    match (net, client) {
        (IpAddr::V4(n), IpAddr::V4(c)) => prefix_eq(&n.octets(), &c.octets(), bits),
        (IpAddr::V6(n), IpAddr::V6(c)) => prefix_eq(&n.octets(), &c.octets(), bits),
        _ => false,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u32) -> bool {
    let full = (bits / 8) as usize;
    if a[..full] != b[..full] {
        return false;
    }
    let rest = bits % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[full] & mask == b[full] & mask
}

/// What 3.8 does to an ACL list before storing it: drops duplicates,
/// expands `auth` to the session's identities, and refuses ids no
/// provider accepts. `None` means InvalidACL.
pub fn fix_up(acl: &[Acl], ids: &[Id]) -> Option<Vec<Acl>> {
    let mut unique: Vec<Acl> = Vec::with_capacity(acl.len());
    for a in acl {
        if !unique.contains(a) {
            unique.push(a.clone());
        }
    }
    if unique.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(unique.len());
    for a in unique {
        if a.id.scheme == "world" && a.id.id == "anyone" {
            out.push(a);
        } else if a.id.scheme == "auth" {
            // Only identities whose provider says "authenticated" count:
            // digest does, the implicit ip identity does not.
            let mut any = false;
            for id in ids.iter().filter(|id| id.scheme == "digest") {
                any = true;
                out.push(Acl {
                    perms: a.perms,
                    id: id.clone(),
                });
            }
            if !any {
                return None;
            }
        } else if valid_acl_id(&a.id.scheme, &a.id.id) {
            out.push(a);
        } else {
            return None;
        }
    }
    Some(out)
}

/// getACL for a caller without ADMIN: digest hashes are masked, as 3.8 does
/// since CVE-2019-0201.
pub fn mask_digests(acl: Vec<Acl>) -> Vec<Acl> {
    acl.into_iter()
        .map(|mut a| {
            if a.id.scheme == "digest" {
                if let Some((user, _)) = a.id.id.split_once(':') {
                    a.id.id = format!("{user}:x");
                }
            }
            a
        })
        .collect()
}

/// Every permission bit a well-formed ACL may carry.
pub fn perms_are_valid(p: i32) -> bool {
    p & !perms::ALL == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl {
            perms,
            id: Id::new(scheme, id),
        }
    }

    #[test]
    fn digest_matches_zookeeper() {
        // kazoo's harness sets super:D/InIHSb7yEEbrWz8b9l71RjZJU= for "super:test".
        assert_eq!(
            digest_id("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
    }

    #[test]
    fn world_digest_ip_and_super() {
        let d = digest_id("bob:pw");
        let list = vec![
            acl(perms::READ, "digest", &d),
            acl(perms::WRITE, "ip", "10.0.0.0/8"),
        ];
        let bob = vec![Id::new("ip", "127.0.0.1"), Id::new("digest", &d)];
        let lan = vec![Id::new("ip", "10.1.2.3")];
        assert!(permits(&list, perms::READ, &bob));
        assert!(!permits(&list, perms::WRITE, &bob));
        assert!(permits(&list, perms::WRITE, &lan));
        assert!(!permits(&list, perms::READ, &lan));
        assert!(permits(&list, perms::ADMIN, &[Id::new("super", "")]));
        assert!(permits(&Acl::open_unsafe(), perms::ADMIN, &[]));
        // getACL asks for READ or ADMIN: either bit suffices.
        assert!(permits(&list, perms::READ | perms::ADMIN, &bob));
    }

    #[test]
    fn cidr_boundaries() {
        assert!(ip_matches("192.168.1.77", "192.168.1.0/24"));
        assert!(!ip_matches("192.168.2.1", "192.168.1.0/24"));
        assert!(ip_matches("10.0.0.1", "10.0.0.1"));
        assert!(ip_matches("10.255.0.1", "10.128.0.0/9"));
        assert!(!ip_matches("10.0.0.1", "10.128.0.0/9"));
        assert!(ip_matches("::1", "::1/128"));
        assert!(!valid_acl_id("ip", "10.0.0.0/33"));
        assert!(!valid_acl_id("ip", "nonsense"));
    }

    #[test]
    fn fix_up_expands_auth_and_rejects_bad_ids() {
        let ids = vec![Id::new("ip", "127.0.0.1"), Id::new("digest", "u:h")];
        let fixed = fix_up(&[acl(perms::ALL, "auth", "")], &ids).unwrap();
        assert_eq!(fixed, vec![acl(perms::ALL, "digest", "u:h")]);
        assert!(fix_up(&[acl(1, "auth", "")], &ids[..1]).is_none());
        assert!(fix_up(&[], &ids).is_none());
        assert!(fix_up(&[acl(1, "world", "someone")], &ids).is_none());
        assert!(fix_up(&[acl(1, "digest", "nocolon")], &ids).is_none());
        assert!(fix_up(&[acl(1, "auth", "")], &[]).is_none());
    }

    #[test]
    fn cache_counts_references() {
        let mut c = AclCache::default();
        let a = c.intern(&Acl::open_unsafe());
        let b = c.intern(&Acl::open_unsafe());
        assert_eq!(a, b);
        assert_eq!(a, 1);
        c.release(a);
        assert_eq!(c.len(), 1);
        c.release(a);
        assert!(c.is_empty());
    }

    #[test]
    fn masks_digest_hashes() {
        let masked = mask_digests(vec![acl(1, "digest", "bob:hash"), acl(1, "ip", "1.2.3.4")]);
        assert_eq!(masked[0].id.id, "bob:x");
        assert_eq!(masked[1].id.id, "1.2.3.4");
    }
}
