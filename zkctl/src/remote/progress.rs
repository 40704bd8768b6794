//! Per-host progress: one spinner line per host on a terminal (indicatif),
//! plain `host: step` lines otherwise (logs, CI, pipes).

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// The progress display of one run over several hosts.
pub struct Progress {
    multi: Option<MultiProgress>,
}

/// One host's line.
pub struct HostProgress {
    name: String,
    bar: Option<ProgressBar>,
}

impl Progress {
    pub fn new() -> Progress {
        let multi = std::io::stderr().is_terminal().then(MultiProgress::new);
        Progress { multi }
    }

    pub fn host(&self, name: &str) -> HostProgress {
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:<10} {msg}")
                    .expect("a valid template"),
            );
            bar.set_prefix(name.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        HostProgress {
            name: name.to_owned(),
            bar,
        }
    }
}

impl HostProgress {
    pub fn step(&self, what: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(what.to_owned()),
            None => eprintln!("{}: {what}", self.name),
        }
    }

    pub fn done(&self, outcome: &str) {
        match &self.bar {
            Some(bar) => bar.finish_with_message(outcome.to_owned()),
            None => eprintln!("{}: {outcome}", self.name),
        }
    }
}
