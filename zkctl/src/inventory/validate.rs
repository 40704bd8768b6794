//! Rules across hosts: identities unique, ports apart, a quorum possible.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::Range;

use super::diagnostic::Diagnostics;
use super::parse::{Draft, HostDraft, Setting};
use super::Host;

/// Where a host's settings were written, for messages about them. `None`
/// spans are defaults; `from_host` marks values from the host's overrides.
pub(super) struct HostSpans {
    pub(super) table: Range<usize>,
    pub(super) name: Range<usize>,
    pub(super) address: Range<usize>,
    pub(super) myid: Range<usize>,
    pub(super) role: Option<Range<usize>>,
    pub(super) client_port: Option<Range<usize>>,
    pub(super) data_dir: Option<Range<usize>>,
    pub(super) data_log_dir: Option<Range<usize>>,
    /// Each `extra` key, the span of its value, and whether the host's
    /// overrides set it.
    pub(super) extra: Vec<(String, Range<usize>, bool)>,
    ports: Vec<PortUse>,
}

/// A port a host listens on, and which setting says so.
struct PortUse {
    setting: String,
    port: u16,
    span: Option<Range<usize>>,
    from_host: bool,
}

/// `extra` keys that make a server listen on one more port.
const EXTRA_PORT_KEYS: &[&str] = &[
    "secureClientPort",
    "observerMasterPort",
    "admin.serverPort",
    "metricsProvider.httpPort",
];

/// Merges each complete host draft with the ensemble settings and applies
/// the rules across hosts. Hosts missing a name, address or myid were
/// reported while parsing and are left out.
pub(super) fn check(draft: &Draft, d: &mut Diagnostics) -> Vec<(Host, HostSpans)> {
    let hosts: Vec<(Host, HostSpans)> =
        draft.hosts.iter().filter_map(|h| merge(draft, h)).collect();
    if draft.hosts.is_empty() {
        let at = draft
            .hosts_span
            .clone()
            .unwrap_or_else(|| draft.ensemble.span.clone());
        d.error(
            at,
            "no hosts: describe each member of the ensemble in a [[hosts]] table",
        );
    }
    unique(&hosts, d, "myid", |(h, s)| {
        (h.myid.to_string(), h.myid.to_string(), s.myid.clone())
    });
    // Host names are case-insensitive.
    unique(&hosts, d, "name", |(h, s)| {
        (h.name.to_ascii_lowercase(), h.name.clone(), s.name.clone())
    });
    unique_addresses(&hosts, d);
    for (host, spans) in &hosts {
        check_ports(host, spans, d);
    }
    check_loopback(&hosts, d);
    if draft.hosts.len() == hosts.len() {
        check_votes(draft, &hosts, d);
    }
    hosts
}

fn merge(draft: &Draft, h: &HostDraft) -> Option<(Host, HostSpans)> {
    let (name, address, myid) = (h.name.as_ref()?, h.address.as_ref()?, h.myid.as_ref()?);
    let e = &draft.ensemble;
    let client = e.client_port.overridden(&h.client_port);
    let quorum = e.quorum_port.overridden(&h.quorum_port);
    let election = e.election_port.overridden(&h.election_port);
    let data_dir = e.data_dir.overridden(&h.data_dir);
    let data_log_dir = h.data_log_dir.as_ref().or(e.data_log_dir.as_ref());

    // The ensemble's extras in file order; a host's value replaces the
    // ensemble's in place, and its new keys follow.
    let mut extra: Vec<(String, String, Range<usize>, bool)> = e
        .extra
        .iter()
        .map(|x| (x.key.clone(), x.value.clone(), x.value_span.clone(), false))
        .collect();
    for x in &h.extra {
        let mine = (x.key.clone(), x.value.clone(), x.value_span.clone(), true);
        match extra.iter_mut().find(|(k, ..)| *k == x.key) {
            Some(slot) => *slot = mine,
            None => extra.push(mine),
        }
    }

    let port_use = |setting: &str, s: &Setting<u16>, from_host: bool| PortUse {
        setting: setting.to_string(),
        port: s.value,
        span: s.span.clone(),
        from_host,
    };
    let mut ports = vec![
        port_use("client_port", &client, h.client_port.is_some()),
        port_use("quorum_port", &quorum, h.quorum_port.is_some()),
        port_use("election_port", &election, h.election_port.is_some()),
    ];
    for (key, value, span, from_host) in &extra {
        if let (true, Ok(port)) = (EXTRA_PORT_KEYS.contains(&key.as_str()), value.parse()) {
            ports.push(PortUse {
                setting: key.clone(),
                port,
                span: Some(span.clone()),
                from_host: *from_host,
            });
        }
    }

    let host = Host {
        name: name.get_ref().clone(),
        address: address.get_ref().clone(),
        myid: *myid.get_ref(),
        role: h.role.value,
        client_port: client.value,
        quorum_port: quorum.value,
        election_port: election.value,
        data_dir: data_dir.value,
        data_log_dir: data_log_dir.map(|p| p.get_ref().clone()),
        extra: extra
            .iter()
            .map(|(k, v, ..)| (k.clone(), v.clone()))
            .collect(),
    };
    let spans = HostSpans {
        table: h.span.clone(),
        name: name.span(),
        address: address.span(),
        myid: myid.span(),
        role: h.role.span.clone(),
        client_port: client.span,
        data_dir: data_dir.span,
        data_log_dir: data_log_dir.map(|p| p.span()),
        extra: extra
            .into_iter()
            .map(|(k, _, span, from_host)| (k, span, from_host))
            .collect(),
        ports,
    };
    Some((host, spans))
}

/// Reports each host whose `what` repeats an earlier host's. `key` gives
/// the value compared, the value shown, and where it is written.
fn unique(
    hosts: &[(Host, HostSpans)],
    d: &mut Diagnostics,
    what: &str,
    key: impl Fn(&(Host, HostSpans)) -> (String, String, Range<usize>),
) {
    let mut first: HashMap<String, (&str, Range<usize>)> = HashMap::new();
    for h in hosts {
        let (k, shown, span) = key(h);
        match first.get(&k) {
            Some((owner, at)) => {
                let line = d.line_of(at);
                let message = if what == "name" {
                    format!("name {shown} is already taken by the host at line {line}; host names must be unique")
                } else {
                    format!(
                        "{what} {shown} of {} is already {owner}'s (line {line}); each host needs its own",
                        h.0.name
                    )
                };
                d.error(span, message);
            }
            None => {
                first.insert(k, (&h.0.name, span));
            }
        }
    }
}

/// One zkd per host: zkctl installs a single unit and zoo.cfg on each, so
/// two members on one address would overwrite each other.
fn unique_addresses(hosts: &[(Host, HostSpans)], d: &mut Diagnostics) {
    let mut first: HashMap<String, &(Host, HostSpans)> = HashMap::new();
    for h in hosts {
        let key = normal_address(&h.0.address);
        let Some(earlier) = first.get(&key) else {
            first.insert(key, h);
            continue;
        };
        let mut clashes: Vec<String> = Vec::new();
        for mine in &h.1.ports {
            for theirs in &earlier.1.ports {
                if mine.port == theirs.port {
                    clashes.push(format!(
                        "its {} {} is {}'s {}",
                        mine.setting, mine.port, earlier.0.name, theirs.setting
                    ));
                }
            }
        }
        let clash = if clashes.is_empty() {
            String::new()
        } else {
            format!(" (and {})", clashes.join(", "))
        };
        let line = d.line_of(&earlier.1.address);
        d.error(
            h.1.address.clone(),
            format!(
                "address {} of {} is already {}'s (line {line}){clash}; zkctl runs one zkd per host, so each member needs its own address",
                h.0.address, h.0.name, earlier.0.name
            ),
        );
    }
}

/// IP literals in canonical form (so `::1` and `0::1` are equal), DNS
/// names in lower case.
fn normal_address(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => address.trim_end_matches('.').to_ascii_lowercase(),
    }
}

fn check_ports(host: &Host, spans: &HostSpans, d: &mut Diagnostics) {
    for (i, later) in spans.ports.iter().enumerate() {
        for earlier in &spans.ports[..i] {
            if later.port != earlier.port {
                continue;
            }
            // Blame the setting written last; a default has no span.
            let (blamed, other) = match (&earlier.span, &later.span) {
                (Some(a), Some(b)) if a.start > b.start => (earlier, later),
                (Some(_), None) => (earlier, later),
                _ => (later, earlier),
            };
            let Some(at) = blamed.span.clone() else {
                continue;
            };
            let whose = if blamed.from_host || other.from_host {
                format!("{}'s ", host.name)
            } else {
                String::new()
            };
            let other_at = match &other.span {
                Some(s) => format!(" (line {})", d.line_of(s)),
                None => " (the default)".to_string(),
            };
            d.error(
                at,
                format!(
                    "{whose}{} {} is also its {}{other_at}; the ports of a host must all differ",
                    blamed.setting, blamed.port, other.setting
                ),
            );
        }
    }
}

/// A member on a loopback address cannot be reached from other hosts.
fn check_loopback(hosts: &[(Host, HostSpans)], d: &mut Diagnostics) {
    let is_loopback = |h: &Host| h.address.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if hosts.iter().all(|(h, _)| is_loopback(h)) {
        return;
    }
    for (h, s) in hosts.iter().filter(|(h, _)| is_loopback(h)) {
        d.error(
            s.address.clone(),
            format!(
                "address {} of {} is loopback, which members on other hosts cannot reach",
                h.address, h.name
            ),
        );
    }
}

/// Observers alone cannot form a quorum; an even number of voters
/// tolerates no more failures than one fewer.
fn check_votes(draft: &Draft, hosts: &[(Host, HostSpans)], d: &mut Diagnostics) {
    let voters = hosts.iter().filter(|(h, _)| !h.is_observer()).count();
    let Some(at) = draft.hosts_span.clone() else {
        return;
    };
    if hosts.is_empty() {
        return;
    }
    if voters == 0 {
        let (_, first) = &hosts[0];
        d.error(
            first.role.clone().unwrap_or_else(|| first.table.clone()),
            "every host is an observer; observers do not vote, so at least one host must be a participant (3 or 5 tolerate failures)",
        );
        return;
    }
    let survives = (voters - 1) / 2;
    let observers = hosts.len() - voters;
    match voters {
        1 if observers == 0 => d.warn(
            at,
            "a single voter: zkd runs it standalone, and the ensemble survives no failure; use 3 or 5 hosts",
        ),
        1 => d.warn(
            at,
            "a single voter: the ensemble survives no failure; make 3 or 5 hosts participants",
        ),
        2 => d.warn(
            at,
            "2 voters survive no failure, as 1 does, and either one failing stops the ensemble; add a third",
        ),
        n if n.is_multiple_of(2) => d.warn(
            at,
            format!(
                "{n} voters survive {survives} failure{}, as {} do; add or remove one",
                if survives == 1 { "" } else { "s" },
                n - 1
            ),
        ),
        _ => {}
    }
}
