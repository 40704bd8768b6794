#!/usr/bin/env bash
# Side-by-side benchmark of 3-member ensembles: all-zkd, then all-Apache, each on
# 127.0.0.10-12 with ports 2181/2888/3888 (tests/lib/ensemble.py, the harness the ensemble
# suite uses), fresh data directories. Load scenarios spread their sessions over the three
# members; then `zkbench failover` SIGKILLs the leader round after round. Prints a table
# (figure, zkd, Apache, zkd/Apache) and keeps the raw JSON. Run it as `compare.sh --ensemble`.
#
# Tunables (environment):
#   BENCH_SERVERS       kinds to run, in order                    (default "zkd apache")
#   BENCH_ENS_SCENARIOS load scenarios, in order                  (default "create set get mixed delete")
#   BENCH_DURATION      length of set/get/mixed                   (default 10s)
#   BENCH_SESSIONS / BENCH_INFLIGHT / BENCH_PAYLOAD / BENCH_ZNODES   (default 9 / 16 / 1024 / 1000)
#   BENCH_FAILOVER_ROUNDS  leader kills                           (default 7; 0 to skip)
#   BENCH_ENS_TICK_MS   the members' tickTime                     (default 2000, ZooKeeper's own)
#   BENCH_OUT / BENCH_SKIP_BUILD / BENCH_LOCK   as for compare.sh
# plus ZKD_BIN, ZK_APACHE_JVMFLAGS (default -Xmx512m per member), ZK_ENSEMBLE_BASE_IP and
# ZK_RUN_DIR (default $BENCH_OUT/run).
set -u -o pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/../.." && pwd)"
ENSEMBLE_PY="$REPO/tests/lib/ensemble.py"
ZKBENCH="$REPO/target/release/zkbench"
export ZKD_BIN="${ZKD_BIN:-$REPO/target/release/zkd}"

SERVERS=${BENCH_SERVERS:-zkd apache}
SCENARIOS=${BENCH_ENS_SCENARIOS:-create set get mixed delete}
DURATION=${BENCH_DURATION:-10s}
SESSIONS=${BENCH_SESSIONS:-9}
INFLIGHT=${BENCH_INFLIGHT:-16}
PAYLOAD=${BENCH_PAYLOAD:-1024}
ZNODES=${BENCH_ZNODES:-1000}
ROUNDS=${BENCH_FAILOVER_ROUNDS:-7}
TICK_MS=${BENCH_ENS_TICK_MS:-2000}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/zkbench-ens.XXXXXX)}

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "compare.sh --ensemble: $*"; exit 1; }

for tool in jq cargo java python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
for s in $SERVERS; do
    [[ "$s" == zkd || "$s" == apache ]] || die "BENCH_SERVERS: unknown server '$s' (zkd, apache)"
done
for v in SESSIONS TICK_MS; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v must be a positive number (got '${!v}')"
done
[[ "$ROUNDS" =~ ^[0-9]+$ ]] || die "BENCH_FAILOVER_ROUNDS must be a number (got '$ROUNDS')"
mkdir -p "$OUT" || die "cannot create $OUT"

# One benchmark at a time, machine-wide: the same lock as compare.sh's other modes.
LOCK=${BENCH_LOCK:-/tmp/zkbench-compare.lock}
exec 9>>"$LOCK" || die "cannot open the lock file $LOCK"
flock -n 9 || die "another compare.sh holds $LOCK (pid $(cat "$LOCK.pid" 2>/dev/null || echo unknown)); wait for it to finish"
echo $$ >"$LOCK.pid"
export ZK_RUN_DIR="${ZK_RUN_DIR:-$OUT/run}"
mkdir -p "$ZK_RUN_DIR"

RUNNING=""
# The members must not inherit the lock (9>&-): one that outlived this script would hold it.
ens() { python3 "$ENSEMBLE_PY" --name "$1" "${@:2}" 9>&-; }
cleanup() {
    [[ -n "$RUNNING" ]] && ens "$RUNNING" stop
    rm -f "$LOCK.pid"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A UNAVAILABLE=()
if [[ "${BENCH_SKIP_BUILD:-0}" == 1 ]]; then
    [[ -x "$ZKBENCH" ]] || die "BENCH_SKIP_BUILD=1 but $ZKBENCH does not exist"
else
    log "building zkbench (release)"
    (cd "$REPO" && cargo build --release -q -p zkbench) || die "cannot build zkbench"
    if [[ " $SERVERS " == *" zkd "* ]]; then
        log "building zkd (release)"
        (cd "$REPO" && cargo build --release -q -p zkd) || UNAVAILABLE[zkd]="build failed"
    fi
fi

record() { printf '%s\n' "$2" >>"$OUT/$1.jsonl"; }
fail() { record "$1" "$(jq -cn --arg l "$2" --arg r "$3" '{label: $l, failed: $r}')"; }

run_server() {
    local server=$1 name="bench-ens-$1" servers pids leader scenario json load1 i
    log "$server: starting 3 members (tickTime $TICK_MS ms)"
    if ! leader=$(ens "$name" start "$server,$server,$server" --tick-ms "$TICK_MS"); then
        UNAVAILABLE[$server]="did not start"
        log "$server: the ensemble did not start; see $ZK_RUN_DIR/$name-m*/server.log"
        return 1
    fi
    RUNNING=$name
    log "$server: leader is member $leader"
    # "index pid address" per member, in member order.
    servers=$(ens "$name" pids | awk '{printf "%s%s:2181", (NR > 1 ? "," : ""), $3}')
    pids=""
    for i in 1 2 3; do
        pids+="${pids:+,}$ZK_RUN_DIR/$name-m$i/pid"
    done
    for scenario in $SCENARIOS; do
        local extra=()
        [[ "$scenario" != create && "$scenario" != delete ]] && extra=(--duration "$DURATION")
        load1=$(cut -d' ' -f1 /proc/loadavg)
        log "$server: $scenario"
        if json=$("$ZKBENCH" load --server "$servers" --ops "$scenario" --label "$scenario" --json \
            --sessions "$SESSIONS" --inflight "$INFLIGHT" --payload "$PAYLOAD" --znodes "$ZNODES" \
            --root /zkbench-ens "${extra[@]}"); then
            record "$server" "$(jq -c --argjson l "$load1" '. + {loadavg_1m: $l}' <<<"$json")"
            log "$server: $scenario: $(jq -r '"\(.ops_per_sec) ops/s, p99 \(.latency_us.p99 / 1000) ms, errors \(.errors)"' <<<"$json")"
        else
            fail "$server" "$scenario" "zkbench failed"
        fi
    done
    if ((ROUNDS > 0)); then
        log "$server: failover, $ROUNDS rounds"
        if json=$("$ZKBENCH" failover --servers "$servers" --pid-files "$pids" --rounds "$ROUNDS" \
            --restart "python3 '$ENSEMBLE_PY' --name '$name' restart {index}" --json); then
            record "$server" "$json"
        else
            fail "$server" failover "zkbench failover failed"
        fi
    fi
    ens "$name" stop
    RUNNING=""
}

cell() {
    local file="$OUT/$1.jsonl" v
    [[ -n "${UNAVAILABLE[$1]:-}" ]] && { echo "(${UNAVAILABLE[$1]})"; return; }
    [[ -f "$file" ]] || { echo "-"; return; }
    v=$(jq -rs --arg l "$2" "map(select(.label == \$l)) | last | if . == null then \"-\"
        elif .failed then \"FAILED\" else ($3) end" "$file")
    echo "${v:--}"
}

row() {
    local z a r="-"
    z=$(cell zkd "$2" "$3")
    a=$(cell apache "$2" "$3")
    if [[ "$4" != - && "$z" =~ ^[0-9.]+$ && "$a" =~ ^[0-9.]+$ && "$a" != 0 ]]; then
        r=$(jq -rn --argjson a "$z" --argjson b "$a" '$a / $b * 100 | round / 100 | tostring')
    fi
    printf '%-44s %14s %14s %10s  %s\n' "$1" "$z" "$a" "$r" "$4"
}

table() {
    local s
    printf '\n%s: 3-member ensembles on 127.0.0.10-12, tickTime %s ms; load average %s\n' \
        "$(date '+%F %H:%M')" "$TICK_MS" "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf '%s sessions (spread over the members) x %s in flight, %s B payloads, %s znodes per session\n' \
        "$SESSIONS" "$INFLIGHT" "$PAYLOAD" "$ZNODES"
    printf '\n%-44s %14s %14s %10s  %s\n' "figure" zkd apache zkd/apache better
    printf '%s\n' "$(printf '%.0s-' {1..94})"
    for s in $SCENARIOS; do
        row "$s ops/s" "$s" '.ops_per_sec' higher
        row "$s p50 ms" "$s" '.latency_us.p50 / 1000' lower
        row "$s p99 ms" "$s" '.latency_us.p99 / 1000' lower
        row "$s errors" "$s" '.errors' lower
    done
    if ((ROUNDS > 0)); then
        row "failover: kill to write, median ms" failover '.write_ms.median' lower
        row "failover: kill to write, min ms" failover '.write_ms.min' lower
        row "failover: kill to write, max ms" failover '.write_ms.max' lower
        row "failover: kill to srvr leader, median ms" failover '.elected_ms.median' lower
    fi
    echo
    echo "raw results: $OUT/*.jsonl; member logs: $ZK_RUN_DIR/bench-ens-*-m*/server.log"
}

for server in $SERVERS; do
    rm -f "$OUT/$server.jsonl"
    if [[ -n "${UNAVAILABLE[$server]:-}" ]]; then
        log "$server: skipped (${UNAVAILABLE[$server]})"
        continue
    fi
    run_server "$server"
done
table | tee "$OUT/table.txt"
