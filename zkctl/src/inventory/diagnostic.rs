//! Errors and warnings about an inventory, each tied to a file position.
//!
//! Positions come from byte spans that the TOML parser records; they are
//! turned into 1-based lines and columns (columns count characters, as
//! editors do) only when a diagnostic is made.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A 1-based line and column in the inventory file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

/// One problem found in an inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// Where in the file; `None` when the problem is the file as a whole
    /// (e.g. it cannot be read).
    pub at: Option<Position>,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some(p) => write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                p.line,
                p.column,
                self.message
            ),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Why an inventory was refused: every error found (never just the
/// first), and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct InventoryErrors {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl fmt::Display for InventoryErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InventoryErrors {}

/// Collects diagnostics while an inventory is read.
pub(super) struct Diagnostics<'a> {
    file: &'a Path,
    text: &'a str,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl<'a> Diagnostics<'a> {
    pub(super) fn new(file: &'a Path, text: &'a str) -> Self {
        Diagnostics {
            file,
            text,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub(super) fn file(&self) -> &Path {
        self.file
    }

    pub(super) fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let d = self.at(span.start, message.into());
        self.errors.push(d);
    }

    pub(super) fn warn(&mut self, span: Range<usize>, message: impl Into<String>) {
        let d = self.at(span.start, message.into());
        self.warnings.push(d);
    }

    pub(super) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// "line N", for messages that point back at an earlier definition.
    pub(super) fn line_of(&self, span: &Range<usize>) -> u32 {
        position(self.text, span.start).line
    }

    fn at(&self, offset: usize, message: String) -> Diagnostic {
        Diagnostic {
            file: self.file.to_path_buf(),
            at: Some(position(self.text, offset)),
            message,
        }
    }

    /// Errors and warnings in file order, each reported once (rules that
    /// run per host can find the same ensemble-wide problem several times).
    pub(super) fn finish(self) -> (Vec<Diagnostic>, Vec<Diagnostic>) {
        (in_file_order(self.errors), in_file_order(self.warnings))
    }
}

fn in_file_order(mut list: Vec<Diagnostic>) -> Vec<Diagnostic> {
    list.sort_by_key(|d| d.at);
    let mut seen = Vec::with_capacity(list.len());
    list.retain(|d| {
        let fresh = !seen.contains(d);
        if fresh {
            seen.push(d.clone());
        }
        fresh
    });
    list
}

/// The line and column of byte `offset` in `text`.
pub(super) fn position(text: &str, offset: usize) -> Position {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    Position {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "a = 1\nné = \"x\"\n";
        assert_eq!(position(text, 0), Position { line: 1, column: 1 });
        assert_eq!(position(text, 4), Position { line: 1, column: 5 });
        let eq = text.find('=').map(|_| text.rfind('=').unwrap()).unwrap();
        assert_eq!(position(text, eq), Position { line: 2, column: 4 });
        assert_eq!(position(text, text.len()), Position { line: 3, column: 1 });
    }

    #[test]
    fn diagnostics_come_out_sorted_and_once() {
        let text = "x\ny\n";
        let mut d = Diagnostics::new(Path::new("inv.toml"), text);
        d.error(2..3, "second");
        d.error(0..1, "first");
        d.error(2..3, "second");
        let (errors, warnings) = d.finish();
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["inv.toml:1:1: first", "inv.toml:2:1: second"]);
        assert!(warnings.is_empty());
    }
}
