//! The request engine driven by a script of client actions (see
//! `script.rs` for the format and the invariants checked after each step).
//! `ZKD_FUZZ_TOLERATE` names known deviations to accept (see README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use zkd_fuzz::script::{run_script, Tolerate};

static TOLERATE: OnceLock<Tolerate> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let tolerate = TOLERATE.get_or_init(Tolerate::from_env).clone();
    if let Err(e) = run_script(data, tolerate) {
        panic!("{e}");
    }
});
