//! Transaction log records: a type selector byte then a body, and the same
//! bytes read as a whole record (header, then body). Nothing may panic;
//! whatever decodes must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zkd_fuzz::decode::{check_txn, check_txn_record, TXN_KINDS};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let kind = TXN_KINDS[selector as usize % TXN_KINDS.len()];
    if let Err(e) = check_txn(kind, body) {
        panic!("{e}");
    }
    if let Err(e) = check_txn_record(data) {
        panic!("{e}");
    }
});
