#!/usr/bin/env bash
# Runs one fuzz target for a while, one process (the machine has 2 cores
# shared by everyone): ./run.sh TARGET SECONDS [libFuzzer flags...]
# Targets: client_frames, txn, engine. The working corpus grows in
# corpus/TARGET (not checked in), starting from seeds/TARGET; crashes land
# in artifacts/TARGET. Set ZKD_FUZZ_TOLERATE for the engine target to
# accept already-reported deviations (see README.md).
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 TARGET SECONDS [libFuzzer flags...]" >&2
    echo "targets: client_frames txn engine" >&2
    exit 2
fi
target=$1
seconds=$2
shift 2
case $target in
    client_frames | txn | engine) ;;
    *)
        echo "$0: unknown target '$target' (client_frames, txn, engine)" >&2
        exit 2
        ;;
esac
if ! [[ $seconds =~ ^[0-9]+$ ]]; then
    echo "$0: SECONDS must be a whole number, got '$seconds'" >&2
    exit 2
fi
if ! cargo fuzz --version > /dev/null 2>&1; then
    echo "$0: cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 1
fi

cd "$(dirname "$0")"
mkdir -p "corpus/$target" "artifacts/$target"

# Stable Rust builds the targets without a sanitizer; ASan needs nightly
# (cargo +nightly fuzz run TARGET) and buys little for safe Rust.
# ZKD_FUZZ_NO_BUILD=1 reuses the last build, e.g. while the tree is
# mid-edit and does not compile.
if [[ ${ZKD_FUZZ_NO_BUILD:-0} != 1 ]]; then
    nice cargo fuzz build --sanitizer none -O "$target"
fi
host=$(rustc -vV | sed -n 's/^host: //p')
binary="target/$host/release/$target"
if [[ ! -x $binary ]]; then
    echo "$0: $binary is not built; run without ZKD_FUZZ_NO_BUILD" >&2
    exit 1
fi
exec nice "$binary" "corpus/$target" "seeds/$target" \
    -max_total_time="$seconds" \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -max_len=4096 \
    -print_final_stats=1 \
    -artifact_prefix="artifacts/$target/" \
    "$@"
