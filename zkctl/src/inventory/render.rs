//! Each host's zoo.cfg, built with zkd's own configuration type and read
//! back through zkd's parser, so that what deploy writes is what zkd
//! accepts. zkd's verdicts are reported at the inventory setting behind
//! the zoo.cfg key they name.

use std::ops::Range;
use std::path::PathBuf;

use zkd::config::{ConfigError, ConfigWarning, ServerSpec, ZooCfg};

use super::diagnostic::Diagnostics;
use super::parse::EnsembleDraft;
use super::validate::HostSpans;
use super::{EnsembleSettings, Host};

/// The zoo.cfg of every host, in order; problems go to `d`.
pub(super) fn zoo_cfgs(
    ensemble: &EnsembleSettings,
    written: &EnsembleDraft,
    hosts: &[(Host, HostSpans)],
    d: &mut Diagnostics,
) -> Vec<ZooCfg> {
    let all: Vec<&Host> = hosts.iter().map(|(h, _)| h).collect();
    let mut cfgs = Vec::with_capacity(hosts.len());
    for (host, spans) in hosts {
        let blame = Blame {
            host,
            spans,
            hosts,
            ensemble: written,
        };
        match zoo_cfg(ensemble, &all, host) {
            Ok((cfg, warnings)) => {
                for w in warnings {
                    // The ensemble's shape (voters, observers) is reported
                    // by the inventory's own rules, in its own words.
                    if w.key.as_deref().is_some_and(|k| k.starts_with("server.")) {
                        continue;
                    }
                    let (at, message) = blame.locate(w.key.as_deref(), &w.message);
                    d.warn(at, message);
                }
                cfgs.push(cfg);
            }
            Err(e) => {
                let (at, message) = blame.locate(e.key.as_deref(), &e.message);
                d.error(at, message);
            }
        }
    }
    cfgs
}

/// Builds `this` host's zoo.cfg and checks it as zkd would check the file:
/// the values, the rules across keys, and the rules that need its myid.
fn zoo_cfg(
    ensemble: &EnsembleSettings,
    all: &[&Host],
    this: &Host,
) -> Result<(ZooCfg, Vec<ConfigWarning>), ConfigError> {
    let source = PathBuf::from(format!("zoo.cfg for {}", this.name));
    let mut built = ZooCfg::with_defaults(this.data_dir.clone());
    built.tick_time_ms = ensemble.tick_time_ms;
    built.init_limit = ensemble.init_limit;
    built.sync_limit = ensemble.sync_limit;
    built.data_log_dir = this.data_log_dir.clone();
    built.client_port = Some(this.client_port);
    built.peer_type = this.role;
    for h in all {
        let mut spec = ServerSpec::new(h.myid, h.address.clone(), h.quorum_port, h.election_port);
        spec.role = h.role;
        // `;port` lets clients and zkctl find each member's client port in
        // the server list, as 3.5+ dynamic configuration does.
        spec.client_addr = Some((None, h.client_port));
        built.servers.insert(h.myid, spec);
    }
    // Extra keys may be ones ZooCfg models as fields (e.g.
    // autopurge.purgeInterval), which `extra` must not hold: reading the
    // rendering back through zkd's parser puts each where it belongs and
    // checks its value.
    built.extra = this.extra.clone();
    let loaded = ZooCfg::parse_str(&built.render(), &source)?;
    let cfg = loaded.cfg;
    let mut warnings = loaded.warnings;
    cfg.validate(&source)?;
    warnings.extend(cfg.check_myid(&source, Some(this.myid))?);
    Ok((cfg, warnings))
}

/// Finds the inventory setting behind a zoo.cfg key.
struct Blame<'a> {
    host: &'a Host,
    spans: &'a HostSpans,
    hosts: &'a [(Host, HostSpans)],
    ensemble: &'a EnsembleDraft,
}

impl Blame<'_> {
    /// Where to report zkd's `message` about `key`, and the message. A
    /// problem with an ensemble-wide setting is worded without the host,
    /// so that it is reported once rather than once per host.
    fn locate(&self, key: Option<&str>, message: &str) -> (Range<usize>, String) {
        let (span, ensemble_wide) = self.span_of(key);
        let file = if ensemble_wide {
            "zoo.cfg".to_string()
        } else {
            format!("zoo.cfg for {}", self.host.name)
        };
        let text = match key {
            Some(k) => format!("{file}: {k}: {message}"),
            None => format!("{file}: {message}"),
        };
        (span.unwrap_or_else(|| self.spans.table.clone()), text)
    }

    fn span_of(&self, key: Option<&str>) -> (Option<Range<usize>>, bool) {
        let Some(key) = key else {
            return (None, false);
        };
        if let Some((_, span, from_host)) = self.spans.extra.iter().rev().find(|(k, ..)| k == key) {
            return (Some(span.clone()), !from_host);
        }
        let e = self.ensemble;
        match key {
            "tickTime" => (e.tick_time_ms.span.clone(), true),
            "initLimit" => (e.init_limit.span.clone(), true),
            "syncLimit" => (e.sync_limit.span.clone(), true),
            "clientPort" => (self.spans.client_port.clone(), false),
            "dataDir" => (self.spans.data_dir.clone(), false),
            "dataLogDir" => (self.spans.data_log_dir.clone(), false),
            "peerType" => (self.spans.role.clone(), false),
            _ => match key
                .strip_prefix("server.")
                .and_then(|n| n.parse::<u64>().ok())
            {
                Some(id) => {
                    let named = self.hosts.iter().find(|(h, _)| h.myid == id);
                    let span = named.map(|(_, s)| s.role.clone().unwrap_or(s.table.clone()));
                    (span, false)
                }
                None => (None, false),
            },
        }
    }
}
