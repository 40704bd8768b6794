#!/usr/bin/env bash
# Installs what the real-client suites need on a fresh Debian 12 machine, and nothing twice:
#   - Debian packages: Apache ZooKeeper 3.8 (server jars, zkCli.sh, the C client cli_mt),
#     a JRE, what the Python venv needs to build its one C extension, and nftables (the
#     ensemble suite's network partitions);
#   - cargo-deb and cargo-generate-rpm (packaging/build.sh), pinned, with cargo install;
#   - tests/.venv: pinned Python packages from tests/requirements.txt;
#   - kazoo 2.11.0's own test suite, from its sdist, unpacked unmodified under
#     tests/.venv/kazoo-src/kazoo-2.11.0;
#   - the nspawn test bed's Debian root fs (tests/testbed/testbed.py image: debootstrap from
#     deb.debian.org once, cached under /var/cache/zkd-testbed); needs root.
# Prints one line per step; exits non-zero naming the step that failed.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TESTS="$REPO/tests"
VENV="$TESTS/.venv"
KAZOO_VERSION=2.11.0
KAZOO_SRC="$VENV/kazoo-src/kazoo-$KAZOO_VERSION"
PYTHON=/usr/bin/python3

say() { echo "install-deps: $*"; }
die() { echo "install-deps: error: $*" >&2; exit 1; }

apt_packages=(
    zookeeper       # Apache ZooKeeper 3.8 jars, zkCli.sh, zkServer.sh
    zookeeper-bin   # /usr/lib/zookeeper/bin/cli_mt, the multithreaded C client
    default-jre-headless
    python3
    python3-venv
    python3-dev     # twofish (a pyjks dependency) has only an sdist with a C extension
    gcc
    coreutils       # timeout
    nftables        # nft: the ensemble suite's partitions cut peer ports with it
    libssl-dev      # zkctl's ssh2 builds libssh2 against OpenSSL
    pkg-config
    systemd-container   # systemd-nspawn: the test bed's booted hosts
    debootstrap     # the test bed's Debian root fs
    iproute2        # ip: the test bed's network namespaces, bridge and veths
    openssh-client  # ssh/scp into the test bed's hosts
    dpkg-dev        # dpkg-shlibdeps: cargo-deb computes the .deb's Depends with it
    binutils        # strip: packaging/build.sh strips the packaged binaries
    lintian         # the packaging suite lints the .deb
    rpmlint         # ... and the .rpm
    rpm             # rpm -qlp, --scripts and installs into a scratch root
)

missing=()
for pkg in "${apt_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    say "apt: installing ${missing[*]}"
    sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null || die "need root (or sudo) to install: ${missing[*]}"
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq || die "apt-get update failed"
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
else
    say "apt: all ${#apt_packages[@]} packages present"
fi
for f in /usr/bin/lintian /usr/bin/rpmlint /usr/bin/rpm /usr/bin/dpkg-shlibdeps /usr/share/java/zookeeper.jar /usr/share/zookeeper/bin/zkCli.sh /usr/lib/zookeeper/bin/cli_mt /usr/sbin/nft \
    /usr/bin/systemd-nspawn /usr/sbin/debootstrap /usr/bin/ssh /usr/bin/scp /usr/bin/ssh-keygen; do
    [[ -e "$f" ]] || die "$f is missing although its package is installed"
done

# packaging/build.sh's two cargo subcommands, pinned, built from crates.io once (a few
# minutes on a fresh machine) into ~/.cargo/bin.
cargo_tools=("cargo-deb 3.8.0" "cargo-generate-rpm 0.21.1")
for tool in "${cargo_tools[@]}"; do
    read -r name version <<<"$tool"
    if [[ "$("$name" --version 2>/dev/null)" == *" $version"* ]]; then
        say "cargo: $name $version present"
    else
        say "cargo: installing $name $version"
        cargo install --quiet --locked "$name" --version "$version" \
            || die "cargo install $name --version $version failed"
    fi
done

# The stamp records what the venv was built from; a change of pins or Python rebuilds it.
stamp_want="$(sha256sum "$TESTS/requirements.txt" | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version)' | head -1)"
stamp_file="$VENV/.deps-stamp"
if [[ -x "$VENV/bin/python" && -f "$stamp_file" && "$(<"$stamp_file")" == "$stamp_want" ]]; then
    say "venv: $VENV up to date"
else
    say "venv: building $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" || die "python3 -m venv $VENV failed"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$TESTS/requirements.txt" \
        || die "pip install -r tests/requirements.txt failed"
    echo "$stamp_want" >"$stamp_file"
fi

if [[ -f "$KAZOO_SRC/kazoo/tests/test_client.py" && -f "$KAZOO_SRC/kazoo/testing/harness.py" ]]; then
    say "kazoo $KAZOO_VERSION test suite: present in $KAZOO_SRC"
else
    say "kazoo $KAZOO_VERSION test suite: fetching the sdist"
    dl="$(mktemp -d)"
    trap 'rm -rf "$dl"' EXIT
    "$VENV/bin/pip" download -q --disable-pip-version-check --no-binary :all: --no-deps \
        "kazoo==$KAZOO_VERSION" -d "$dl" || die "pip download kazoo==$KAZOO_VERSION failed"
    sdist="$dl/kazoo-$KAZOO_VERSION.tar.gz"
    [[ -f "$sdist" ]] || die "pip download did not produce $sdist"
    rm -rf "$KAZOO_SRC"
    mkdir -p "$(dirname "$KAZOO_SRC")"
    tar -xzf "$sdist" -C "$(dirname "$KAZOO_SRC")" || die "cannot unpack $sdist"
    [[ -f "$KAZOO_SRC/kazoo/tests/test_client.py" ]] || die "$sdist has no kazoo/tests"
fi
# The image is keyed by its recipe: testbed.py returns at once when the current one is cached.
sudo=()
((EUID == 0)) || sudo=(sudo)
if ((EUID == 0)) || command -v sudo >/dev/null; then
    image="$("${sudo[@]}" "$PYTHON" "$TESTS/testbed/testbed.py" image)" \
        || die "tests/testbed/testbed.py image failed"
    say "test bed image: $image"
else
    say "test bed image: not built (needs root; the testbed suite skips without root)"
fi
say "done"
