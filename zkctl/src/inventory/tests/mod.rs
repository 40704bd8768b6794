//! Inventory tests: every validation error at its line and column
//! (`errors`), zoo.cfg building and round trips (`zoo_cfg`), settings and
//! defaults (`settings`).

mod errors;
mod settings;
mod zoo_cfg;

use std::path::Path;

use super::{Inventory, InventoryErrors};

const HOME: &str = "/home/op";

fn parse(text: &str) -> Result<Inventory, InventoryErrors> {
    Inventory::parse_with_home(
        text,
        Path::new("/etc/zkctl/inv.toml"),
        Some(Path::new(HOME)),
    )
}

fn ok(text: &str) -> Inventory {
    match parse(text) {
        Ok(inv) => inv,
        Err(e) => panic!("refused:\n{e}\n--- inventory ---\n{text}"),
    }
}

/// The errors, each as `line:column: message`.
fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(_) => panic!("accepted, but errors were expected:\n{text}"),
        Err(e) => e
            .errors
            .iter()
            .map(|d| {
                assert_eq!(d.file, Path::new("/etc/zkctl/inv.toml"));
                let at = d.at.expect("every inventory error has a position");
                format!("{}:{}: {}", at.line, at.column, d.message)
            })
            .collect(),
    }
}

/// The warnings of an accepted inventory, as `line:column: message`.
fn warnings(text: &str) -> Vec<String> {
    ok(text)
        .warnings()
        .iter()
        .map(|d| {
            let at = d.at.expect("position");
            format!("{}:{}: {}", at.line, at.column, d.message)
        })
        .collect()
}

/// `line:column` of the `nth` (0-based) occurrence of `needle` in `text`;
/// a `|` in `needle` marks the spot within it (`"myid = |1"`).
fn at(text: &str, needle: &str, nth: usize) -> String {
    let (before, after) = needle.split_once('|').unwrap_or(("", needle));
    let whole = format!("{before}{after}");
    let offset = text
        .match_indices(&whole)
        .nth(nth)
        .unwrap_or_else(|| panic!("{whole:?} #{nth} not in the text"))
        .0
        + before.len();
    let p = super::diagnostic::position(text, offset);
    format!("{}:{}", p.line, p.column)
}

/// Asserts that exactly one error was found, at `needle` (its `nth`
/// occurrence), and that its message holds every one of `words`.
fn one_error(text: &str, needle: &str, nth: usize, words: &[&str]) {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let want = format!("{}: ", at(text, needle, nth));
    assert!(
        errors[0].starts_with(&want),
        "expected at {want}got {errors:#?}"
    );
    for w in words {
        assert!(errors[0].contains(w), "{w:?} missing from {:?}", errors[0]);
    }
}

/// Three participants with nothing but the required keys.
const MINIMAL: &str = r#"[ensemble]
name = "prod"

[[hosts]]
name = "zk1"
address = "10.0.0.11"
myid = 1

[[hosts]]
name = "zk2"
address = "10.0.0.12"
myid = 2

[[hosts]]
name = "zk3"
address = "10.0.0.13"
myid = 3
"#;

/// MINIMAL with `extra` appended to the [ensemble] table.
fn with_ensemble(extra: &str) -> String {
    MINIMAL.replacen(
        "name = \"prod\"\n",
        &format!("name = \"prod\"\n{extra}\n"),
        1,
    )
}

/// MINIMAL with `lines` appended to the last host.
fn with_last_host(lines: &str) -> String {
    format!("{MINIMAL}{lines}\n")
}
