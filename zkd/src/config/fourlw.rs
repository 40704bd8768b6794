//! `4lw.commands.whitelist`: which four-letter-word commands are served.
//!
//! ZooKeeper 3.8 (`FourLetterCommands.isEnabled`) splits the value on commas,
//! trims each word, skips empty ones, treats `*` as every known command, and
//! always enables `srvr` on top because zkServer.sh depends on it. Without the
//! setting only `srvr` is enabled.

use std::collections::BTreeSet;

/// The four-letter words ZooKeeper 3.8 knows.
pub const KNOWN_FOUR_LETTER_WORDS: [&str; 18] = [
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr", "ruok", "srst",
    "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
];

/// The command that is enabled whatever the whitelist says.
pub const ALWAYS_ALLOWED_WORD: &str = "srvr";

/// The parsed whitelist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FourLetterWhitelist {
    /// `*`: every command.
    All,
    /// The listed words (plus `srvr`, always allowed by [`Self::allows`]).
    Only(BTreeSet<String>),
}

impl Default for FourLetterWhitelist {
    fn default() -> Self {
        FourLetterWhitelist::Only(BTreeSet::from([ALWAYS_ALLOWED_WORD.to_string()]))
    }
}

impl FourLetterWhitelist {
    /// Whether `word` may be executed. Whether it is a known command at all is
    /// the caller's question.
    pub fn allows(&self, word: &str) -> bool {
        match self {
            FourLetterWhitelist::All => true,
            FourLetterWhitelist::Only(words) => word == ALWAYS_ALLOWED_WORD || words.contains(word),
        }
    }

    /// Parses the setting's value. Also returns the listed words that are not
    /// known commands (kept, since ZooKeeper keeps them, but worth a warning).
    pub fn parse(value: &str) -> (FourLetterWhitelist, Vec<String>) {
        let mut words = BTreeSet::new();
        let mut unknown = Vec::new();
        for word in value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            if word == "*" {
                return (FourLetterWhitelist::All, Vec::new());
            }
            if !KNOWN_FOUR_LETTER_WORDS.contains(&word) && !unknown.iter().any(|u| u == word) {
                unknown.push(word.to_string());
            }
            words.insert(word.to_string());
        }
        (FourLetterWhitelist::Only(words), unknown)
    }

    /// The setting's value, comma-separated in sorted order, or `*`.
    pub fn render(&self) -> String {
        match self {
            FourLetterWhitelist::All => "*".to_string(),
            FourLetterWhitelist::Only(words) => words.iter().cloned().collect::<Vec<_>>().join(","),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(words: &[&str]) -> FourLetterWhitelist {
        FourLetterWhitelist::Only(words.iter().map(|w| w.to_string()).collect())
    }

    #[test]
    fn default_allows_only_srvr() {
        let d = FourLetterWhitelist::default();
        assert!(d.allows("srvr"));
        assert!(!d.allows("ruok"));
        assert!(!d.allows("stat"));
    }

    #[test]
    fn list_is_trimmed_and_srvr_is_always_allowed() {
        let (w, unknown) = FourLetterWhitelist::parse("stat, ruok ,, conf,isro");
        assert_eq!(w, only(&["conf", "isro", "ruok", "stat"]));
        assert!(unknown.is_empty());
        assert!(w.allows("ruok") && w.allows("srvr") && !w.allows("mntr"));
    }

    #[test]
    fn star_anywhere_enables_everything() {
        let (w, _) = FourLetterWhitelist::parse("ruok, *");
        assert_eq!(w, FourLetterWhitelist::All);
        assert!(w.allows("mntr") && w.allows("wchp"));
    }

    #[test]
    fn empty_value_allows_only_srvr() {
        let (w, _) = FourLetterWhitelist::parse(" , ");
        assert_eq!(w, only(&[]));
        assert!(w.allows("srvr") && !w.allows("ruok"));
    }

    #[test]
    fn unknown_words_are_kept_and_reported_once() {
        let (w, unknown) = FourLetterWhitelist::parse("ruok,RUOK,bogus,bogus");
        assert_eq!(w, only(&["RUOK", "bogus", "ruok"]));
        assert_eq!(unknown, vec!["RUOK".to_string(), "bogus".to_string()]);
        assert!(!w.allows("Ruok"));
    }

    #[test]
    fn render_parses_back() {
        for w in [
            FourLetterWhitelist::All,
            only(&[]),
            only(&["ruok", "stat"]),
            FourLetterWhitelist::default(),
        ] {
            assert_eq!(FourLetterWhitelist::parse(&w.render()).0, w);
        }
    }
}
