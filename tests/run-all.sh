#!/usr/bin/env bash
# The project's test command (.ci/run runs it). With no options it runs everything:
#   1. tests/install-deps.sh (Debian packages, tests/.venv, kazoo's test suite)
#   2. suite "rust":  cargo fmt --check, cargo clippy --all-targets -- -D warnings,
#                     cargo test --workspace, the quorum simulation over ZKD_SIM_SEEDS
#                     (default 1500) seeds per ensemble shape, cargo build --release
#   3. suites "kazoo" (kazoo 2.11.0's own tests), "zkcli" (zkCli.sh), "climt" (cli_mt) and
#      "fourlw" (four-letter words), each against zkd and then against Debian's Apache
#      ZooKeeper 3.8 (the validation run that proves the tests themselves right);
#   4. suite "durability" (zkd killed, its dataDir damaged or full, restarted), zkd only;
#   5. suite "ensemble" (3- and 5-member ensembles on 127.0.0.10-15: elections, kills,
#      partitions, observers), once per composition: all-Apache with --target apache, all-zkd
#      and the four mixed ones (each mix with the leader on either kind) with --target zkd;
#   6. suite "testbed" (the nspawn test bed's smoke tests: booted Debian hosts with systemd
#      and sshd on a private network, faults, clean teardown); needs root, no zkd;
#   7. suite "systemd" (zkd's units and sd_notify under a real systemd in test-bed hosts);
#   8. suite "zkctl" (check, deploy, status over SSH against test-bed hosts);
#   9. suite "packaging" (packaging/build.sh's .deb and .rpm: lintian, rpmlint, contents and
#      scriptlets; the .deb installed, upgraded, removed and purged in a booted test-bed host,
#      the .rpm installed, upgraded and erased in a scratch root);
#  10. suite "ansible" (ansible-lint's production profile on ansible/; site.yml against three
#      booted test-bed hosts: bad myids refused first, one leader, a second run that changes
#      nothing, a rolling restart with the leader last, the hosts moved onto the .deb).
# It prints one summary line per suite and target, and exits non-zero if any failed.
#
# Usage: tests/run-all.sh [--suite rust|kazoo|zkcli|climt|fourlw|cli|durability|ensemble|testbed|systemd|zkctl|packaging|ansible]...
#                         [--target zkd|apache|both]
#                         [--no-install] [-- extra pytest arguments]
#   --suite    run only these suites (repeatable; "cli" = zkcli + climt + fourlw)
#   --target   which servers the client suites run against (default both)
#   --no-install  skip tests/install-deps.sh
# Environment: ZKD_BIN=/path/to/zkd runs the zkd target on that binary (no cargo build when
# the rust suite is not selected); ZK_RUN_DIR (default tests/.run) holds server directories
# and JUnit reports; ZK_ENSEMBLES="zkd,zkd,apache apache,zkd,zkd" picks the ensemble
# compositions to run (member kinds by id; the last one listed leads), whatever the target.
# Examples: tests/run-all.sh --suite kazoo --target zkd -- -k TestClient
#           tests/run-all.sh --suite cli --target apache
set -uo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TESTS="$REPO/tests"
export ZK_RUN_DIR="${ZK_RUN_DIR:-$TESTS/.run}"
REPORTS="$ZK_RUN_DIR/reports"
PYTEST="$TESTS/.venv/bin/pytest"
KAZOO_TESTS="$TESTS/.venv/kazoo-src/kazoo-2.11.0/kazoo/tests"
# Bounds per step, well inside CI's limit; pytest-timeout bounds each test as well.
CARGO_BOUND_S=1500
KAZOO_BOUND_S=1200
CLI_BOUND_S=600
DURABILITY_BOUND_S=600
ENSEMBLE_BOUND_S=600
TESTBED_BOUND_S=600

suites=()
target=both
install=1
pytest_extra=()
while (($#)); do
    case "$1" in
        --suite) suites+=("${2:?--suite needs a name}"); shift 2 ;;
        --target) target="${2:?--target needs zkd, apache or both}"; shift 2 ;;
        --no-install) install=0; shift ;;
        --) shift; pytest_extra=("$@"); break ;;
        -h|--help) sed -n '2,/^set /{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "run-all: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
((${#suites[@]})) || suites=(rust kazoo zkcli climt fourlw durability ensemble testbed systemd zkctl packaging ansible)
selected=()
for s in "${suites[@]}"; do
    case "$s" in
        rust|kazoo|zkcli|climt|fourlw|durability|ensemble|testbed|systemd|zkctl|packaging|ansible) selected+=("$s") ;;
        cli) selected+=(zkcli climt fourlw) ;;
        *) echo "run-all: unknown suite '$s' (rust, kazoo, zkcli, climt, fourlw, cli, durability, ensemble, testbed, systemd, zkctl, packaging, ansible)" >&2; exit 2 ;;
    esac
done
case "$target" in
    both) targets=(zkd apache) ;;
    zkd|apache) targets=("$target") ;;
    *) echo "run-all: unknown target '$target' (zkd, apache, both)" >&2; exit 2 ;;
esac
wants() { local s; for s in "${selected[@]}"; do [[ "$s" == "$1" ]] && return 0; done; return 1; }

summary=()
failed=0
total_passed=0 total_failed=0 total_skipped=0
record() { # NAME PASSED FAILED SKIPPED SECONDS [NOTE]
    summary+=("$(printf '%-14s %d passed, %d failed, %d skipped (%ss)%s' "$1:" "$2" "$3" "$4" "$5" "${6:+ $6}")")
    total_passed=$((total_passed + $2))
    total_failed=$((total_failed + $3))
    total_skipped=$((total_skipped + $4))
    (($3 == 0)) || failed=1
}
record_step() { # NAME OK(1|0) SECONDS: a build or lint step, not counted as tests
    if (($2)); then
        summary+=("$(printf '%-14s ok (%ss)' "$1:" "$3")")
    else
        summary+=("$(printf '%-14s FAILED (%ss)' "$1:" "$3")")
        failed=1
    fi
}
section() { echo; echo "==== run-all: $* ===="; }

# Servers left behind by an interrupted run would hold ports and memory; stop the ones this
# harness recorded (zk_stop checks that each pid still runs on that directory's zoo.cfg).
# shellcheck source-path=SCRIPTDIR source=lib/servers.sh
source "$TESTS/lib/servers.sh"
stop_leftovers() {
    local pidfile
    for pidfile in "$ZK_RUN_DIR"/*/pid; do
        [[ -e "$pidfile" ]] || continue
        zk_stop "$(basename "$(dirname "$pidfile")")"
    done
}
trap stop_leftovers EXIT
stop_leftovers

if ((install)); then
    section "install-deps"
    if ! "$TESTS/install-deps.sh"; then
        echo "run-all: tests/install-deps.sh failed; nothing else can run" >&2
        exit 1
    fi
fi

zkd_built=1
if wants rust; then
    cd "$REPO" || exit 1
    for step in "fmt --check" "clippy --all-targets -- -D warnings" "test --workspace" "build --release"; do
        section "cargo $step"
        start=$SECONDS
        # shellcheck disable=SC2086 # the step is a list of words
        if timeout --kill-after=30 "$CARGO_BOUND_S" cargo $step; then
            record_step "cargo-${step%% *}" 1 $((SECONDS - start))
        else
            record_step "cargo-${step%% *}" 0 $((SECONDS - start))
            [[ "$step" == build* ]] && zkd_built=0
        fi
    done
    # The quorum simulation over many more seeds than cargo test's default: random
    # crashes, partitions and lost messages, checked after every step (a failing seed
    # prints its number; ZKD_SIM_FIRST_SEED=N ZKD_SIM_SEEDS=1 replays it).
    section "quorum simulation, ${ZKD_SIM_SEEDS:-1500} seeds x 2 ensembles"
    start=$SECONDS
    if ZKD_SIM_SEEDS="${ZKD_SIM_SEEDS:-1500}" timeout --kill-after=30 "$CARGO_BOUND_S" \
        cargo test -p zkd --lib quorum::sim::tests::random; then
        record_step "quorum-sim" 1 $((SECONDS - start))
    else
        record_step "quorum-sim" 0 $((SECONDS - start))
    fi
elif [[ -z "${ZKD_BIN:-}" && " ${targets[*]} " == *" zkd "* ]] \
    && { wants kazoo || wants zkcli || wants climt || wants fourlw || wants durability || wants ensemble || wants systemd || wants zkctl || wants packaging || wants ansible; }; then
    # The client suites alone still need a current zkd, unless ZKD_BIN names one.
    section "cargo build --release -p zkd -p zkctl -p zkd-package-assets"
    start=$SECONDS
    if (cd "$REPO" && timeout --kill-after=30 "$CARGO_BOUND_S" cargo build --release -p zkd -p zkctl -p zkd-package-assets); then
        record_step "cargo-build" 1 $((SECONDS - start))
    else
        record_step "cargo-build" 0 $((SECONDS - start))
        zkd_built=0
    fi
fi

# run_pytest NAME TARGET BOUND ARGS...: one pytest run, counted from its JUnit report.
run_pytest() {
    local name=$1 tgt=$2 bound=$3
    shift 3
    local report="$REPORTS/$name.xml" start=$SECONDS rc counts
    section "$name (ZK_TARGET=$tgt)"
    if [[ "$tgt" == *zkd* && "$zkd_built" == 0 ]]; then
        record "$name" 0 1 0 0 "(not run: cargo build --release failed)"
        return
    fi
    mkdir -p "$REPORTS"
    rm -f "$report"
    # CI is unset so that kazoo's tests take the same paths here as on CI: with CI set they
    # trust ZOOKEEPER_VERSION instead of asking the server (envi) for its version.
    env -u CI ZK_TARGET="${tgt%%,*}" timeout --kill-after=30 "$bound" \
        "$PYTEST" -c "$TESTS/pytest.ini" --rootdir "$TESTS" --junitxml "$report" \
        "$@" "${pytest_extra[@]}"
    rc=$?
    if [[ -f "$report" ]]; then
        counts=$("$TESTS/.venv/bin/python" - "$report" <<'EOF'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
tests = sum(int(s.get("tests", 0)) for s in suites)
bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(tests - bad - skipped, bad, skipped)
EOF
        )
    else
        counts="0 0 0"
    fi
    read -r passed bad skipped <<<"$counts"
    # A crash, a timeout or "no tests collected" leaves a non-zero exit code with nothing
    # counted as failed; count it as one failure so that it cannot pass unnoticed. Only a
    # developer's own filter (arguments after --) may select nothing in a suite.
    if ((rc == 5 && ${#pytest_extra[@]} > 0)); then
        record "$name" 0 0 0 $((SECONDS - start)) "(no test selected by: ${pytest_extra[*]})"
    elif ((rc != 0 && bad == 0)); then
        bad=1
        record "$name" "$passed" "$bad" "$skipped" $((SECONDS - start)) "(pytest exit $rc)"
    else
        record "$name" "$passed" "$bad" "$skipped" $((SECONDS - start))
    fi
}

for tgt in "${targets[@]}"; do
    if wants kazoo; then
        run_pytest "kazoo-$tgt" "$tgt" "$KAZOO_BOUND_S" -p zk_kazoo_plugin "$KAZOO_TESTS"
    fi
    if wants zkcli; then
        run_pytest "zkcli-$tgt" "$tgt" "$CLI_BOUND_S" "$TESTS/cli/test_zkcli.py"
    fi
    if wants climt; then
        run_pytest "climt-$tgt" "$tgt" "$CLI_BOUND_S" "$TESTS/cli/test_cli_mt.py"
    fi
    if wants fourlw; then
        run_pytest "fourlw-$tgt" "$tgt" "$CLI_BOUND_S" "$TESTS/cli/test_four_letter_words.py"
    fi
done

# The durability suite kills zkd and damages its files on purpose; Apache has no part in it.
if wants durability; then
    if [[ " ${targets[*]} " == *" zkd "* ]]; then
        run_pytest "durability-zkd" zkd "$DURABILITY_BOUND_S" "$TESTS/durability"
    else
        echo "run-all: suite durability runs against zkd only; not run with --target $target"
    fi
fi

# Each composition is member kinds by id; members start highest id first, so the last kind
# listed leads at first (the suite asserts it). ZK_ENSEMBLES overrides the choice.
if wants ensemble; then
    if [[ -n "${ZK_ENSEMBLES:-}" ]]; then
        read -r -a compositions <<<"$ZK_ENSEMBLES"
    else
        compositions=()
        for tgt in "${targets[@]}"; do
            case "$tgt" in
                apache) compositions+=("apache,apache,apache") ;;
                zkd) compositions+=("zkd,zkd,zkd" "zkd,zkd,apache" "apache,zkd,zkd" "zkd,apache,apache" "apache,apache,zkd") ;;
            esac
        done
    fi
    for comp in "${compositions[@]}"; do
        ZK_ENSEMBLE="$comp" run_pytest "ensemble-${comp//,/-}" "$comp" "$ENSEMBLE_BOUND_S" \
            "$TESTS/ensemble"
    done
fi

# The test bed boots its own Debian hosts; no server under test runs in it yet.
if wants testbed; then
    run_pytest "testbed" none "$TESTBED_BOUND_S" "$TESTS/testbed"
fi

# zkd under a real systemd, in booted hosts of the test bed: units, readiness, watchdog,
# reload, journald fields, the security rating, a three-host ensemble.
if wants systemd; then
    run_pytest "systemd" zkd "$TESTBED_BOUND_S" "$TESTS/systemd"
fi

# zkctl over SSH against booted hosts: check, deploy (again: nothing restarts; a change
# rolls, leader last), status, host-key and reachability failures, five hosts.
if wants zkctl; then
    run_pytest "zkctl" zkd "$TESTBED_BOUND_S" "$TESTS/zkctl"
fi

# The packages, built by packaging/build.sh from the release binaries, linted, and installed
# for real: apt in a booted test-bed host, rpm into a scratch root.
if wants packaging; then
    run_pytest "packaging" zkd "$TESTBED_BOUND_S" "$TESTS/packaging"
fi

# The Ansible role and playbook: linted, then run against booted hosts as an operator runs it.
if wants ansible; then
    run_pytest "ansible" zkd "$TESTBED_BOUND_S" "$TESTS/ansible"
fi

section "summary"
printf '%s\n' "${summary[@]}"
echo "total: $total_passed passed, $total_failed failed, $total_skipped skipped"
exit "$failed"
