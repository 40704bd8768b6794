//! `extra` tables: zoo.cfg settings the inventory passes through.

use std::ops::Range;

use toml::de::DeValue;

use super::diagnostic::Diagnostics;
use super::fields::Table;

/// One `extra` zoo.cfg setting, flattened to its zoo.cfg key.
#[derive(Debug, Clone)]
pub(super) struct ExtraSetting {
    pub(super) key: String,
    pub(super) value: String,
    pub(super) key_span: Range<usize>,
    pub(super) value_span: Range<usize>,
}

/// zoo.cfg keys the inventory writes itself, and where to set them instead.
const OWNED_ZOO_CFG_KEYS: &[(&str, &str)] = &[
    ("tickTime", "set tick_time in [ensemble]"),
    ("initLimit", "set init_limit in [ensemble]"),
    ("syncLimit", "set sync_limit in [ensemble]"),
    ("dataDir", "set data_dir in [ensemble] or [hosts.overrides]"),
    (
        "dataLogDir",
        "set data_log_dir in [ensemble] or [hosts.overrides]",
    ),
    (
        "clientPort",
        "set client_port in [ensemble] or [hosts.overrides]",
    ),
    ("peerType", "set role in the [[hosts]] entry"),
    (
        "dynamicConfigFile",
        "zkctl writes the server list into zoo.cfg itself",
    ),
];

/// Reads an `extra` table into zoo.cfg settings: nested tables (from dotted
/// keys such as `autopurge.purgeInterval = 24`) become dotted keys, values
/// become the text zoo.cfg holds, and lists are joined with commas (as
/// `4lw.commands.whitelist` wants).
pub(super) fn read_extra(t: &Table, d: &mut Diagnostics) -> Vec<ExtraSetting> {
    let mut out = Vec::new();
    flatten_extra(t, "", d, &mut out);
    let mut seen: Vec<&ExtraSetting> = Vec::new();
    for x in &out {
        if let Some(first) = seen.iter().find(|s| s.key == x.key) {
            d.error(
                x.key_span.clone(),
                format!(
                    "{} in {} is also set at line {}",
                    x.key,
                    t.name,
                    d.line_of(&first.key_span)
                ),
            );
        } else {
            seen.push(x);
        }
    }
    out
}

fn flatten_extra(t: &Table, prefix: &str, d: &mut Diagnostics, out: &mut Vec<ExtraSetting>) {
    for (key, value) in t.entries() {
        let full = format!("{prefix}{}", key.get_ref());
        if let DeValue::Table(inner) = value.get_ref() {
            flatten_extra(
                &Table::new(inner, value.span(), t.name.clone()),
                &format!("{full}."),
                d,
                out,
            );
            continue;
        }
        if let Some(why) = extra_key_problem(&full) {
            d.error(key.span(), format!("{full} in {}: {why}", t.name));
            continue;
        }
        match zoo_cfg_text(value.get_ref()) {
            Ok(text) => out.push(ExtraSetting {
                key: full,
                value: text,
                key_span: key.span(),
                value_span: value.span(),
            }),
            Err(why) => d.error(value.span(), format!("{full} in {}: {why}", t.name)),
        }
    }
}

fn extra_key_problem(key: &str) -> Option<String> {
    if key.starts_with("server.") {
        return Some("server.N lines are made from the [[hosts]] entries".into());
    }
    if let Some((_, hint)) = OWNED_ZOO_CFG_KEYS.iter().find(|(k, _)| *k == key) {
        return Some(format!("zkctl writes this key itself; {hint}"));
    }
    if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("not a zoo.cfg key (empty, or holds spaces)".into());
    }
    None
}

fn zoo_cfg_text(value: &DeValue) -> Result<String, String> {
    match value {
        DeValue::String(s) => Ok(s.to_string()),
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .map(|n| n.to_string())
            .map_err(|_| format!("{} does not fit a 64-bit number", i.as_str())),
        DeValue::Float(f) => Ok(f.as_str().to_string()),
        DeValue::Boolean(b) => Ok(b.to_string()),
        DeValue::Array(items) => items
            .iter()
            .map(|item| match item.get_ref() {
                DeValue::Array(_) | DeValue::Table(_) => Err(
                    "a list may hold only plain values, which are joined with commas".to_string(),
                ),
                other => zoo_cfg_text(other),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|parts| parts.join(",")),
        DeValue::Datetime(_) => Err("a date has no zoo.cfg meaning; quote it as a string".into()),
        DeValue::Table(_) => Err("nested tables are flattened before this".into()),
    }
}
