//! Fuzzing support for zkd: the properties the targets in `fuzz_targets/`
//! check. `decode` and `script` are also compiled into
//! `zkd/tests/decode_props.rs`, so `cargo test` exercises the same checks
//! on every run without a fuzzer.

pub mod decode;
pub mod script;
pub mod seeds;
