//! Reading typed settings out of one TOML table, with every problem
//! reported at the key or value at fault.
//!
//! A [`Table`] knows which keys it allows; any other key is reported with
//! the nearest allowed one ("did you mean tick_time?"), or with a hint when
//! the key belongs in another table.

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::diagnostic::Diagnostics;

/// A value read from the file, with where it was written.
pub(super) type Located<T> = Spanned<T>;

/// One TOML table being read.
pub(super) struct Table<'t, 'i> {
    entries: &'t DeTable<'i>,
    /// The table's own span: its `[header]`, or its inline `{ ... }`.
    pub(super) span: Range<usize>,
    /// How messages name the table, e.g. `[ensemble]`.
    pub(super) name: String,
}

impl<'t, 'i> Table<'t, 'i> {
    pub(super) fn new(entries: &'t DeTable<'i>, span: Range<usize>, name: String) -> Self {
        Table {
            entries,
            span,
            name,
        }
    }

    /// Reports every key that is not in `known`. `elsewhere` gives, for
    /// keys that are valid in another table, where they belong.
    pub(super) fn check_keys(
        &self,
        known: &[&str],
        elsewhere: &[(&str, &str)],
        d: &mut Diagnostics,
    ) {
        for (key, _) in self.entries.iter() {
            let k = key.get_ref().as_ref();
            if known.contains(&k) {
                continue;
            }
            let message = if let Some((_, hint)) = elsewhere.iter().find(|(name, _)| *name == k) {
                format!("{k} is not allowed in {}: {hint}", self.name)
            } else if let Some(near) = nearest(k, known) {
                format!("unknown key {k} in {}; did you mean {near}?", self.name)
            } else {
                format!(
                    "unknown key {k} in {} (allowed: {})",
                    self.name,
                    known.join(", ")
                )
            };
            d.error(key.span(), message);
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<&'t Spanned<DeValue<'i>>> {
        self.entries.get(key)
    }

    /// The entries, in file order.
    pub(super) fn entries(
        &self,
    ) -> Vec<(
        &'t Spanned<std::borrow::Cow<'i, str>>,
        &'t Spanned<DeValue<'i>>,
    )> {
        let mut all: Vec<_> = self.entries.iter().collect();
        all.sort_by_key(|(k, _)| k.span().start);
        all
    }

    fn wrong_type(&self, key: &str, v: &Spanned<DeValue>, want: &str, d: &mut Diagnostics) {
        d.error(
            v.span(),
            format!(
                "{key} in {} must be {want}, not a {}",
                self.name,
                v.get_ref().type_str()
            ),
        );
    }

    pub(super) fn string(&self, key: &str, d: &mut Diagnostics) -> Option<Located<String>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::String(s) if s.trim().is_empty() => {
                d.error(v.span(), format!("{key} in {} is empty", self.name));
                None
            }
            DeValue::String(s) => Some(Spanned::new(v.span(), s.to_string())),
            _ => {
                self.wrong_type(key, v, "a string", d);
                None
            }
        }
    }

    /// An integer within `min..=max`.
    pub(super) fn integer(
        &self,
        key: &str,
        min: i64,
        max: i64,
        d: &mut Diagnostics,
    ) -> Option<Located<i64>> {
        let v = self.get(key)?;
        let DeValue::Integer(i) = v.get_ref() else {
            self.wrong_type(key, v, "a whole number", d);
            return None;
        };
        match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if (min..=max).contains(&n) => Some(Spanned::new(v.span(), n)),
            _ => {
                d.error(
                    v.span(),
                    format!(
                        "{key} in {} is {}, out of range ({min}-{max})",
                        self.name,
                        i.as_str()
                    ),
                );
                None
            }
        }
    }

    pub(super) fn port(&self, key: &str, d: &mut Diagnostics) -> Option<Located<u16>> {
        let n = self.integer(key, 1, 65535, d)?;
        Some(Spanned::new(n.span(), *n.get_ref() as u16))
    }

    pub(super) fn boolean(&self, key: &str, d: &mut Diagnostics) -> Option<Located<bool>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(Spanned::new(v.span(), *b)),
            _ => {
                self.wrong_type(key, v, "true or false", d);
                None
            }
        }
    }

    /// A duration written as a string with units, e.g. `"10s"`, `"1m30s"`.
    pub(super) fn duration(&self, key: &str, d: &mut Diagnostics) -> Option<Located<Duration>> {
        let v = self.get(key)?;
        let DeValue::String(s) = v.get_ref() else {
            self.wrong_type(key, v, "a duration such as \"10s\" or \"2m\"", d);
            return None;
        };
        match parse_duration(s) {
            Ok(t) => Some(Spanned::new(v.span(), t)),
            Err(why) => {
                d.error(v.span(), format!("{key} in {}: {why}", self.name));
                None
            }
        }
    }

    /// A path on the remote hosts: absolute, since no working directory is
    /// defined there.
    pub(super) fn remote_path(&self, key: &str, d: &mut Diagnostics) -> Option<Located<PathBuf>> {
        let s = self.string(key, d)?;
        if !s.get_ref().starts_with('/') {
            d.error(
                s.span(),
                format!(
                    "{key} in {} must be an absolute path (it is used on the hosts), not {:?}",
                    self.name,
                    s.get_ref()
                ),
            );
            return None;
        }
        Some(Spanned::new(s.span(), PathBuf::from(s.get_ref())))
    }

    /// A sub-table, `[parent.key]` or `key = { ... }`, called `name` in
    /// messages.
    pub(super) fn table(
        &self,
        key: &str,
        name: impl Into<String>,
        d: &mut Diagnostics,
    ) -> Option<Table<'t, 'i>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some(Table::new(t, v.span(), name.into())),
            _ => {
                self.wrong_type(key, v, "a table", d);
                None
            }
        }
    }
}

/// Parses `"500ms"`, `"10s"`, `"2m"`, `"1h"` and sums like `"1m30s"`.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty; write a duration such as \"10s\"".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(format!(
                "{text:?} is not a duration (expected a number then ms, s, m or h, e.g. \"10s\")"
            ));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?}: {} is too large", &rest[..digits]))?;
        rest = rest[digits..].trim_start();
        let unit_len = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        let unit = &rest[..unit_len];
        rest = rest[unit_len..].trim_start();
        let part = match unit {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => number
                .checked_mul(60)
                .map(Duration::from_secs)
                .unwrap_or(Duration::MAX),
            "h" => number
                .checked_mul(3600)
                .map(Duration::from_secs)
                .unwrap_or(Duration::MAX),
            "" => {
                return Err(format!(
                    "{text:?} has no unit after {number} (use ms, s, m or h, e.g. \"{number}s\")"
                ))
            }
            other => {
                return Err(format!(
                    "{text:?} has unknown unit {other:?} (use ms, s, m or h)"
                ))
            }
        };
        total = total
            .checked_add(part)
            .ok_or_else(|| format!("{text:?} is too long"))?;
    }
    if total.is_zero() {
        return Err(format!("{text:?} is zero; give a time greater than 0"));
    }
    Ok(total)
}

/// The allowed key closest to `key`, if it is close enough to be a typo.
/// `tickTime` finds `tick_time`: case and separators are ignored first.
fn nearest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, '_' | '-' | '.'))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let want = squash(key);
    known
        .iter()
        .map(|k| (edit_distance(&want, &squash(k)), *k))
        .filter(|(dist, k)| *dist <= (k.len() / 3).max(1))
        .min_by_key(|(dist, _)| *dist)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_with_units_and_sums() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration(" 1m 30s "), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn durations_without_units_or_with_bad_ones_are_refused() {
        assert!(parse_duration("10")
            .unwrap_err()
            .contains("no unit after 10"));
        assert!(parse_duration("10 sec")
            .unwrap_err()
            .contains("unknown unit \"sec\""));
        assert!(parse_duration("x").unwrap_err().contains("not a duration"));
        assert!(parse_duration("10sec")
            .unwrap_err()
            .contains("unknown unit \"sec\""));
        assert!(parse_duration("s").unwrap_err().contains("not a duration"));
        assert!(parse_duration("0s").unwrap_err().contains("zero"));
        assert!(parse_duration("").unwrap_err().contains("empty"));
        assert!(parse_duration("99999999999999999999s")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn typos_find_their_key_and_strangers_do_not() {
        let known = ["tick_time", "init_limit", "sync_limit", "name"];
        assert_eq!(nearest("tick_tme", &known), Some("tick_time"));
        assert_eq!(nearest("tickTime", &known), Some("tick_time"));
        assert_eq!(nearest("synclimit", &known), Some("sync_limit"));
        assert_eq!(nearest("nme", &known), Some("name"));
        assert_eq!(nearest("colour", &known), None);
    }
}
