#!/usr/bin/env bash
# Builds zkd's .deb and .rpm for this machine's architecture into target/packages/:
#   zkd_<version>-<revision>_<arch>.deb     (cargo-deb)
#   zkd-<version>-<revision>.<arch>.rpm     (cargo-generate-rpm)
# Steps: cargo build --release (zkd, zkctl, the assets generator); stage stripped
# binaries, gzipped man pages and shell completions under packaging/stage; then both
# packages.
#
# Usage: packaging/build.sh [--revision N] [--no-build]
#   --revision N  the package revision (Debian revision, RPM release); default 1.
#                 A rebuild of the same version with a higher revision is an upgrade.
#   --no-build    package the binaries already in target/release.
# Needs cargo-deb and cargo-generate-rpm (tests/install-deps.sh installs them), dpkg-dev
# (dpkg-shlibdeps computes the .deb's dependencies) and binutils (strip).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The package metadata names files under target/: keep cargo's output there.
export CARGO_TARGET_DIR="$REPO/target"
OUT="$REPO/target/packages"
# Generated inputs of both packages (git-ignored).
STAGE="$REPO/packaging/stage"

revision=1
build=1
while (($#)); do
    case "$1" in
        --revision) revision="${2:?--revision needs a number}"; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "packaging/build.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$revision" =~ ^[1-9][0-9]*$ ]] || { echo "packaging/build.sh: --revision $revision: not a positive number" >&2; exit 2; }
for tool in cargo-deb cargo-generate-rpm dpkg-shlibdeps strip gzip; do
    command -v "$tool" >/dev/null || {
        echo "packaging/build.sh: $tool is missing (tests/install-deps.sh installs it)" >&2
        exit 1
    }
done

cd "$REPO"
if ((build)); then
    cargo build --release -p zkd -p zkctl -p zkd-package-assets
fi
for bin in zkd zkctl zkd-package-assets; do
    [[ -x "target/release/$bin" ]] || { echo "packaging/build.sh: target/release/$bin is missing (run without --no-build)" >&2; exit 1; }
done

rm -rf "$STAGE"
mkdir -p "$STAGE" "$OUT"
# Pages carry the date of the last change to the command lines, so that rebuilding
# the same sources gives the same pages.
date="$(git -C "$REPO" log -1 --format=%cs -- zkd/src/cli.rs zkctl/src/cli.rs packaging/assets 2>/dev/null || true)"
target/release/zkd-package-assets "$STAGE" --date "${date:-$(date -u +%F)}" >/dev/null
gzip -9n "$STAGE"/man/*.1
for bin in zkd zkctl; do
    strip --strip-unneeded -o "$STAGE/$bin" "target/release/$bin"
done

# cargo-deb strips its own copies; dpkg-shlibdeps computes Depends from them.
deb="$(cargo deb -p zkd --no-build --strip --deb-revision "$revision" -o "$OUT/" | tail -1)"
rpm_out="$OUT/zkd-$(cargo pkgid -p zkd | sed 's/.*[#@]//')-$revision.$(uname -m).rpm"
cargo generate-rpm -p zkd -s "release = \"$revision\"" -o "$rpm_out" >/dev/null
echo "$deb"
echo "$rpm_out"
