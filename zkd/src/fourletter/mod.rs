//! ZooKeeper 3.8's four-letter words: a client connection whose first four
//! bytes spell one of them gets a text answer and is closed.
//!
//! This module renders the answers, byte for byte as 3.8 does (field names,
//! spacing, tabs, trailing newlines, Java's number and date spellings, the
//! order of `mntr`'s keys), from values the server supplies through the
//! [`Source`] trait. It does no socket I/O: the shell reads the word (and
//! `stmk`'s 8-byte mask), calls [`respond`], writes the text and closes.
//! [`host`] has the `/proc` readers the shell needs for some figures.
//!
//! The formats were taken from 3.8's sources and checked against a live
//! Apache ZooKeeper 3.8.0 (standalone, leader, follower); the captures are
//! in `testdata/` and the tests compare against them line for line.
//!
//! Where zkd cannot tell what a JVM would, it says so the way 3.8 does:
//! see [`host`] for `envi`, [`version`] for the version string.

mod conn_stats;
pub mod host;
pub mod java;
pub mod metrics;
mod source;
pub mod stats;
pub mod version;
mod words;

#[cfg(test)]
mod tests;

pub use conn_stats::ConnStats;
pub use source::{
    bucket_by_expiry, interest, ConfInfo, ConnInfo, ConnRef, ConnSession, DirSizes, Environment,
    ExpiryBucket, Figures, LeaderFigures, Member, QuorumConf, QuorumFigures, QuotaUsage,
    ServerRole, SessionDump, Source, WatchSummary, ZxidDigest,
};
pub use stats::{BufferSizes, ServerStats};
pub use words::ZK_NOT_SERVING;

use crate::config::FourLetterWhitelist;

/// 3.8's initial trace mask (`ZooTrace`): client requests, server packets,
/// sessions and warnings (2 | 16 | 32 | 256).
pub const DEFAULT_TRACE_MASK: i64 = 306;

macro_rules! words {
    ($($variant:ident = $text:literal,)*) => {
        /// The 18 four-letter words of 3.8.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Word { $($variant),* }

        impl Word {
            pub const ALL: [Word; 18] = [$(Word::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Word::$variant => $text),* }
            }
        }
    };
}

words! {
    Conf = "conf",
    Cons = "cons",
    Crst = "crst",
    Dirs = "dirs",
    Dump = "dump",
    Envi = "envi",
    Gtmk = "gtmk",
    Hash = "hash",
    Isro = "isro",
    Mntr = "mntr",
    Ruok = "ruok",
    Srst = "srst",
    Srvr = "srvr",
    Stat = "stat",
    Stmk = "stmk",
    Wchc = "wchc",
    Wchp = "wchp",
    Wchs = "wchs",
}

impl std::fmt::Display for Word {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The word spelt by the first four bytes a connection sends, if any. Only
/// the first packet of a connection counts, and only exact lower-case
/// spellings, as in 3.8 (which reads those bytes as a length prefix
/// otherwise).
pub fn is_four_letter_word(first4: &[u8]) -> Option<Word> {
    let first4 = first4.get(..4)?;
    Word::ALL
        .into_iter()
        .find(|w| w.as_str().as_bytes() == first4)
}

/// The answer to `word`. `extra` is what followed the word: `stmk` needs
/// 8 bytes (a big-endian mask); with fewer it changes nothing and the
/// answer is empty, as 3.8 closes without one.
///
/// As 3.8 does, this counts the word as one packet received (4 bytes) and
/// its answer as the packets 3.8 would write, in [`Source::stats`]; a word
/// the whitelist refuses gets 3.8's refusal line.
pub fn respond(
    word: Word,
    extra: &[u8],
    src: &mut dyn Source,
    whitelist: &FourLetterWhitelist,
) -> String {
    src.stats().record_packet_received(4);
    let answer = if whitelist.allows(word.as_str()) {
        answer(word, extra, src)
    } else {
        format!("{word} is not executed because it is not in the whitelist.\n")
    };
    src.stats().record_packets_sent(packets_written(&answer));
    answer
}

/// How many packets 3.8 counts for writing `text`: its writer chain hands
/// the socket one buffer per 8192 characters, the last partial one at close.
fn packets_written(text: &str) -> u64 {
    java::utf16_len(text).div_ceil(8192) as u64
}

fn answer(word: Word, extra: &[u8], src: &mut dyn Source) -> String {
    use words::{basic, conf, dump, mntr, stat};
    match word {
        // These answer whatever the server is doing.
        Word::Ruok => basic::ruok(),
        Word::Envi => basic::envi(&src.environment()),
        Word::Gtmk => basic::trace_mask(src.trace_mask()),
        Word::Stmk => match basic::parse_trace_mask(extra) {
            Some(mask) => {
                src.set_trace_mask(mask);
                basic::trace_mask(mask)
            }
            None => String::new(),
        },
        Word::Isro => basic::isro(src.role().as_ref()),
        // DigestCommand refuses with print, not println.
        Word::Hash => match src.role() {
            Some(_) => basic::hash(&src.digest_log()),
            None => ZK_NOT_SERVING.to_string(),
        },
        Word::Srvr => serving(src, |role, src| {
            stat::stat(role, src.stats(), &src.figures(), &[], false)
        }),
        Word::Stat => serving(src, |role, src| {
            stat::stat(role, src.stats(), &src.figures(), &src.connections(), true)
        }),
        Word::Cons => serving(src, |_, src| stat::cons(&src.connections())),
        Word::Conf => serving(src, |_, src| conf::conf(&src.conf(), &src.dir_sizes())),
        Word::Dirs => serving(src, |_, src| conf::dirs(&src.dir_sizes())),
        Word::Dump => serving(src, |_, src| {
            dump::dump(
                &src.session_dump(),
                &src.ephemerals(),
                &src.connection_expiry(),
            )
        }),
        Word::Wchs => serving(src, |_, src| dump::wchs(&src.data_watch_summary())),
        Word::Wchc => serving(src, |_, src| dump::wchc(&src.data_watches_by_session())),
        Word::Wchp => serving(src, |_, src| dump::wchp(&src.data_watches_by_path())),
        Word::Mntr => serving(src, |role, src| {
            mntr::mntr(role, src.stats(), &src.figures(), &src.quota_usage())
        }),
        Word::Srst => serving(src, |role, src| {
            src.stats().reset();
            if matches!(role, ServerRole::Leader(..)) {
                src.reset_proposal_stats();
            }
            basic::srst()
        }),
        Word::Crst => serving(src, |_, src| {
            src.reset_connection_stats();
            basic::crst()
        }),
    }
}

/// Runs `f` while the server serves clients, else gives 3.8's refusal.
fn serving(src: &mut dyn Source, f: impl FnOnce(&ServerRole, &mut dyn Source) -> String) -> String {
    match src.role() {
        Some(role) => f(&role, src),
        None => format!("{ZK_NOT_SERVING}\n"),
    }
}
