//! /etc/hosts on an ensemble's hosts: the block of member names that zkctl
//! manages, and the Debian line that would make ZooKeeper listen on
//! loopback.
//!
//! The block lies between `# BEGIN zkctl <ensemble>` and
//! `# END zkctl <ensemble>`; everything outside it is left as it was, other
//! ensembles' blocks included, except for one fix. Debian's installer maps
//! the machine's own name to 127.0.1.1. When that name is a member's, the
//! resolver answers with that first line rather than with our block, a
//! server line naming the host resolves to loopback, and ZooKeeper binds
//! its election port there, where no peer can reach it. So on such a line
//! the member's names are removed and the other names kept (they may be
//! relied on, e.g. a fully qualified name that `hostname -f` reads); a line
//! left with no name is commented out, with a note, rather than deleted, so
//! an operator sees what happened and can undo it.
//!
//! Members whose address is a DNS name get no line in the block: /etc/hosts
//! maps addresses to names, and DNS already answers for them.

use std::net::IpAddr;

use crate::model::Member;

/// `existing` with the block for `ensemble` replaced (or appended when
/// there is none) by one `address name` line per member, and the loopback
/// line fixed when `this_host` is a member (by name or DNS address).
/// Lines keep their endings; new lines use the file's (CRLF if its first
/// line ends so). Applying it to its own output changes nothing.
pub fn rewrite(existing: &str, ensemble: &str, members: &[Member], this_host: &str) -> String {
    let newline = if existing
        .split('\n')
        .next()
        .is_some_and(|l| l.ends_with('\r'))
        && existing.contains('\n')
    {
        "\r\n"
    } else {
        "\n"
    };
    let begin = format!("# BEGIN zkctl {ensemble}");
    let end = format!("# END zkctl {ensemble}");
    let block = block_lines(ensemble, members, &begin, &end);
    let own_names = own_names(members, this_host);

    let lines: Vec<(&str, &str)> = existing
        .split_inclusive('\n')
        .map(|raw| {
            let content = raw.trim_end_matches('\n').trim_end_matches('\r');
            (content, &raw[content.len()..])
        })
        .collect();
    let mut out = String::with_capacity(existing.len() + 256);
    let mut block_written = false;
    let mut i = 0;
    while i < lines.len() {
        let (content, ending) = lines[i];
        if content.trim() == begin {
            let close = lines[i + 1..]
                .iter()
                .position(|(c, _)| c.trim() == end)
                .map(|p| i + 1 + p);
            if let Some(close) = close {
                if !block_written {
                    push_lines(&mut out, &block, newline);
                    block_written = true;
                }
                i = close + 1;
            } else {
                // A BEGIN without its END (edited by hand): only the marker
                // is surely ours, so only it goes; a fresh block follows.
                i += 1;
            }
            continue;
        }
        let ending = if ending.is_empty() { newline } else { ending };
        match fix_loopback_line(content, &own_names, ensemble) {
            Some(fixed) => out.push_str(&fixed),
            None => out.push_str(content),
        }
        out.push_str(ending);
        i += 1;
    }
    if !block_written && !block.is_empty() {
        // A blank line between the file and the block, unless one is there.
        if out.lines().last().is_some_and(|l| !l.trim().is_empty()) {
            out.push_str(newline);
        }
        push_lines(&mut out, &block, newline);
    }
    out
}

fn push_lines(out: &mut String, lines: &[String], newline: &str) {
    for line in lines {
        out.push_str(line);
        out.push_str(newline);
    }
}

/// The block, markers included; empty when no member has an IP address.
fn block_lines(ensemble: &str, members: &[Member], begin: &str, end: &str) -> Vec<String> {
    let entries: Vec<String> = members
        .iter()
        .filter_map(|m| {
            let ip: IpAddr = m.address.parse().ok()?;
            Some(format!("{ip} {}", m.name))
        })
        .collect();
    if entries.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![
        begin.to_string(),
        format!("# Members of zkd ensemble {ensemble}; zkctl deploy rewrites this block."),
    ];
    lines.extend(entries);
    lines.push(end.to_string());
    lines
}

/// The names by which this host is a member: its inventory name, and its
/// address when that is a DNS name. Empty when it is no member, or when the
/// member is meant to be on loopback.
fn own_names(members: &[Member], this_host: &str) -> Vec<String> {
    let this_host = this_host.trim_end_matches('.');
    let Some(me) = members.iter().find(|m| {
        m.name.eq_ignore_ascii_case(this_host) || m.address.eq_ignore_ascii_case(this_host)
    }) else {
        return Vec::new();
    };
    if me
        .address
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
    {
        return Vec::new();
    }
    let mut names = vec![me.name.clone()];
    if me.address.parse::<IpAddr>().is_err() {
        names.push(me.address.clone());
    }
    names
}

/// `Some(new line)` when `content` maps one of `names` to a loopback
/// address.
fn fix_loopback_line(content: &str, names: &[String], ensemble: &str) -> Option<String> {
    if names.is_empty() {
        return None;
    }
    let mapping = content.split('#').next().unwrap_or("");
    let tokens: Vec<(usize, &str)> = tokens(mapping);
    let (_, address) = tokens.first()?;
    if !address.parse::<IpAddr>().ok()?.is_loopback() {
        return None;
    }
    let is_ours = |t: &str| {
        names
            .iter()
            .any(|n| n.eq_ignore_ascii_case(t.trim_end_matches('.')))
    };
    let (ours, kept): (Vec<_>, Vec<_>) = tokens[1..].iter().partition(|(_, t)| is_ours(t));
    if ours.is_empty() {
        return None;
    }
    if kept.is_empty() {
        let gone: Vec<&str> = ours.iter().map(|(_, t)| *t).collect();
        return Some(format!(
            "#{content}  # disabled by zkctl {ensemble}: {} must not resolve to loopback",
            gone.join(", ")
        ));
    }
    // Cut each of our names together with the blank before it, keeping
    // the rest of the line (spacing, comment) as it was.
    let mut fixed = String::with_capacity(content.len());
    let mut copied_to = 0;
    for (i, (start, token)) in tokens.iter().enumerate().skip(1) {
        if is_ours(token) {
            let (prev_start, prev) = tokens[i - 1];
            let cut_from = prev_start + prev.len();
            fixed.push_str(&content[copied_to..cut_from]);
            copied_to = start + token.len();
        }
    }
    fixed.push_str(&content[copied_to..]);
    Some(fixed)
}

/// Whitespace-separated tokens with their byte offsets.
fn tokens(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &text[s..]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, address: &str, myid: u64) -> Member {
        Member {
            name: name.into(),
            address: address.into(),
            myid,
            observer: false,
            client_port: 2181,
            quorum_port: 2888,
            election_port: 3888,
        }
    }

    fn three() -> Vec<Member> {
        vec![
            member("zk1", "10.0.0.11", 1),
            member("zk2", "10.0.0.12", 2),
            member("zk3", "10.0.0.13", 3),
        ]
    }

    const BLOCK: &str = "# BEGIN zkctl prod\n\
        # Members of zkd ensemble prod; zkctl deploy rewrites this block.\n\
        10.0.0.11 zk1\n10.0.0.12 zk2\n10.0.0.13 zk3\n\
        # END zkctl prod\n";

    const DEBIAN: &str = "127.0.0.1\tlocalhost\n127.0.1.1\tzk1.example.com\tzk1\n\n\
        # The following lines are desirable for IPv6 capable hosts\n\
        ::1     localhost ip6-localhost ip6-loopback\n";

    #[test]
    fn appends_the_block_after_foreign_lines() {
        let existing = "127.0.0.1 localhost\n192.168.1.5 nas # backups\n";
        let out = rewrite(existing, "prod", &three(), "client-box");
        assert_eq!(out, format!("{existing}\n{BLOCK}"));
    }

    #[test]
    fn replaces_the_block_in_place_and_keeps_everything_around_it() {
        let existing = "127.0.0.1 localhost\n# BEGIN zkctl prod\n10.9.9.9 zk1\n# END zkctl prod\n192.168.1.5 nas\n";
        let out = rewrite(existing, "prod", &three(), "client-box");
        assert_eq!(
            out,
            format!("127.0.0.1 localhost\n{BLOCK}192.168.1.5 nas\n")
        );
    }

    #[test]
    fn other_ensembles_blocks_are_left_alone() {
        let other = "# BEGIN zkctl staging\n10.1.0.1 st1\n# END zkctl staging\n";
        let existing = format!("127.0.0.1 localhost\n{other}");
        let out = rewrite(&existing, "prod", &three(), "client-box");
        assert_eq!(out, format!("{existing}\n{BLOCK}"));
        // A name that merely starts like ours is another ensemble's too.
        let prefixed = "# BEGIN zkctl prod2\n10.2.0.1 p1\n# END zkctl prod2\n";
        let out = rewrite(prefixed, "prod", &three(), "client-box");
        assert!(out.starts_with(prefixed), "{out}");
    }

    #[test]
    fn applying_twice_changes_nothing() {
        for existing in [
            "",
            "127.0.0.1 localhost",
            DEBIAN,
            "127.0.1.1 zk1\n",
            "# BEGIN zkctl prod\n10.0.0.11 zk1\n",
            "a\r\nb\r\n",
        ] {
            let once = rewrite(existing, "prod", &three(), "zk1");
            let twice = rewrite(&once, "prod", &three(), "zk1");
            assert_eq!(once, twice, "input {existing:?}");
        }
    }

    #[test]
    fn debian_loopback_line_loses_the_member_name_only() {
        let out = rewrite(DEBIAN, "prod", &three(), "zk1");
        assert_eq!(
            out,
            format!(
                "127.0.0.1\tlocalhost\n127.0.1.1\tzk1.example.com\n\n\
                 # The following lines are desirable for IPv6 capable hosts\n\
                 ::1     localhost ip6-localhost ip6-loopback\n\n{BLOCK}"
            )
        );
    }

    #[test]
    fn a_loopback_line_with_only_member_names_is_commented_out() {
        let out = rewrite("127.0.1.1 zk2\n", "prod", &three(), "zk2");
        assert_eq!(
            out,
            format!("#127.0.1.1 zk2  # disabled by zkctl prod: zk2 must not resolve to loopback\n\n{BLOCK}")
        );
    }

    #[test]
    fn any_loopback_address_and_a_dns_address_count() {
        let members = vec![
            member("zk1", "zk1.prod.example", 1),
            member("zk2", "10.0.0.12", 2),
        ];
        let existing = "::1 ZK1.prod.example localhost6\n127.0.0.2 zk1 other # note\n";
        let out = rewrite(existing, "prod", &members, "zk1");
        assert!(
            out.starts_with("::1 localhost6\n127.0.0.2 other # note\n"),
            "{out}"
        );
        // The member with a DNS address gets no line in the block.
        assert!(!out.contains("zk1.prod.example zk1"), "{out}");
        assert!(out.contains("10.0.0.12 zk2\n"), "{out}");
    }

    #[test]
    fn loopback_lines_of_other_names_and_other_hosts_are_kept() {
        // On zk2, zk1's name on loopback is not this host's problem to fix.
        let existing = "127.0.1.1 zk1\n127.0.1.1 debian\n";
        let out = rewrite(existing, "prod", &three(), "zk2");
        assert!(out.starts_with(existing), "{out}");
        // A host that is no member changes nothing outside the block.
        let out = rewrite(DEBIAN, "prod", &three(), "laptop");
        assert!(out.starts_with(DEBIAN), "{out}");
    }

    #[test]
    fn a_member_meant_for_loopback_keeps_its_loopback_line() {
        let members = vec![member("zk1", "127.0.0.11", 1)];
        let out = rewrite("127.0.1.1 zk1\n", "prod", &members, "zk1");
        assert!(out.starts_with("127.0.1.1 zk1\n"), "{out}");
    }

    #[test]
    fn input_without_a_trailing_newline() {
        let out = rewrite("127.0.0.1 localhost", "prod", &three(), "x");
        assert_eq!(out, format!("127.0.0.1 localhost\n\n{BLOCK}"));
    }

    #[test]
    fn crlf_files_stay_crlf() {
        let out = rewrite("127.0.0.1 localhost\r\n", "prod", &three(), "x");
        assert_eq!(
            out,
            format!("127.0.0.1 localhost\r\n\r\n{}", BLOCK.replace('\n', "\r\n"))
        );
        assert_eq!(rewrite(&out, "prod", &three(), "x"), out);
    }

    #[test]
    fn an_unterminated_begin_loses_only_its_marker() {
        let existing = "# BEGIN zkctl prod\n192.168.1.5 nas\n";
        let out = rewrite(existing, "prod", &three(), "x");
        assert_eq!(out, format!("192.168.1.5 nas\n\n{BLOCK}"));
    }

    #[test]
    fn duplicate_blocks_collapse_into_the_first() {
        let existing = "# BEGIN zkctl prod\n1.1.1.1 a\n# END zkctl prod\nmid\n# BEGIN zkctl prod\n2.2.2.2 b\n# END zkctl prod\n";
        let out = rewrite(existing, "prod", &three(), "x");
        assert_eq!(out, format!("{BLOCK}mid\n"));
    }

    #[test]
    fn no_member_with_an_address_removes_the_block() {
        let existing = "a\n# BEGIN zkctl prod\n1.1.1.1 zk1\n# END zkctl prod\nb\n";
        let out = rewrite(existing, "prod", &[member("zk1", "zk1.example", 1)], "x");
        assert_eq!(out, "a\nb\n");
    }

    #[test]
    fn ipv6_members_are_written_canonically() {
        let out = rewrite("", "prod", &[member("zk1", "fd00:0::11", 1)], "x");
        assert!(out.contains("\nfd00::11 zk1\n"), "{out}");
    }
}
