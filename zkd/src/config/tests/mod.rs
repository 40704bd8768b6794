//! Behaviour of the config module as a whole: reading values, the rules
//! across them, the ensemble rules that need myid, and render/parse
//! round trips. Unit tests of the syntax layers live beside their code.

mod quorum;
mod roundtrip;
mod values;

use std::path::Path;

use super::{Loaded, ZooCfg};

/// The name every test file is read under.
const SRC: &str = "/etc/zk/zoo.cfg";

fn src() -> &'static Path {
    Path::new(SRC)
}

fn load(text: &str) -> Loaded {
    ZooCfg::parse_str(text, src()).unwrap_or_else(|e| panic!("{e}\n--- text ---\n{text}"))
}

fn cfg(text: &str) -> ZooCfg {
    load(text).cfg
}

fn err(text: &str) -> String {
    match ZooCfg::parse_str(text, src()) {
        Ok(l) => panic!("accepted: {:?}\n--- text ---\n{text}", l.cfg),
        Err(e) => e.to_string(),
    }
}

fn warnings(text: &str) -> Vec<String> {
    load(text)
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// A minimal standalone file; tests append to it.
const BASE: &str = "dataDir=/var/lib/zk\nclientPort=2181\n";

/// A valid three-server ensemble; tests append to it.
const ENSEMBLE: &str =
    "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/var/lib/zk\nclientPort=2181\n\
server.1=zk1:2888:3888\nserver.2=zk2:2888:3888\nserver.3=zk3:2888:3888\n";
