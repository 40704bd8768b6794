//! Writes the seed corpora to `seeds/<target>/` (replacing what is there):
//! `cargo run --manifest-path zkd/fuzz/Cargo.toml --example gen_seeds`.

use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let sets = [
        ("client_frames", zkd_fuzz::seeds::client_frames()),
        ("txn", zkd_fuzz::seeds::txns()),
        ("engine", zkd_fuzz::seeds::engine_scripts()),
    ];
    for (target, seeds) in sets {
        let dir = root.join(target);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        let mut total = 0;
        for (name, bytes) in &seeds {
            std::fs::write(dir.join(name), bytes)?;
            total += bytes.len();
        }
        println!(
            "{target}: {} seeds, {total} bytes in {}",
            seeds.len(),
            dir.display()
        );
    }
    Ok(())
}
