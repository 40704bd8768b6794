//! A client's byte stream: a handshake frame, then request frames. Nothing
//! may panic, and whatever decodes must round-trip (see `decode.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = zkd_fuzz::decode::check_client_stream(data) {
        panic!("{e}");
    }
});
