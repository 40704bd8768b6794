//! Runs engine scripts (fuzzer inputs) strictly and prints the trace of the
//! first broken invariant:
//! `cargo run --manifest-path zkd/fuzz/Cargo.toml --example replay -- FILE...`
//! Honours ZKD_FUZZ_TOLERATE like the fuzz target.

fn main() {
    let mut failed = false;
    for file in std::env::args().skip(1) {
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("cannot read {file}: {e}"));
        match zkd_fuzz::script::run_script(&bytes, zkd_fuzz::script::Tolerate::from_env()) {
            Ok(()) => println!("{file}: ok"),
            Err(e) => {
                failed = true;
                println!("{file}: {e}");
            }
        }
    }
    std::process::exit(i32::from(failed));
}
