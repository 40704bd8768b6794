#!/usr/bin/env bash
# Side-by-side benchmark of zkd and Apache ZooKeeper 3.8, both standalone on loopback, one
# after the other on the same port with a fresh data directory and the same zoo.cfg lines.
# Prints a table (scenario, zkd figure, Apache figure, zkd/Apache) and keeps the raw JSON.
# See tests/bench/README.md for what each figure means.
#
# Tunables (environment):
#   BENCH_SERVERS     servers to run, in order                 (default "zkd apache")
#   BENCH_SCENARIOS   load scenarios, in order                 (default "create set get children mixed delete")
#   BENCH_DURATION    length of set/get/children/mixed         (default 15s)
#   BENCH_SESSIONS / BENCH_INFLIGHT / BENCH_PAYLOAD / BENCH_ZNODES   (default 8 / 16 / 1024 / 2000)
#   BENCH_WARMUP      unreported mixed load before the scenarios, 0 to skip (default 5s)
#   BENCH_STARTS      start/stop cycles for start-to-serving, median reported (default 3)
#   BENCH_MEM_ZNODES  znodes of BENCH_PAYLOAD bytes for the memory scenario, 0 to skip (default 100000)
#   BENCH_PORT        client port on 127.0.0.1                 (default: first free from 22281)
#   BENCH_OUT         directory for the raw results            (default: a new /tmp/zkbench.XXXXXX)
#   BENCH_SKIP_BUILD  1: use the existing release binaries
#   BENCH_CFG         extra zoo.cfg lines for both servers, separated by ';'
# plus those of tests/lib/servers.sh (ZKD_BIN, ZK_RUN_DIR, ZK_APACHE_JVMFLAGS, ZK_START_TIMEOUT).
set -u -o pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/../.." && pwd)"
# shellcheck source=../lib/servers.sh
source "$REPO/tests/lib/servers.sh"

SERVERS=${BENCH_SERVERS:-zkd apache}
SCENARIOS=${BENCH_SCENARIOS:-create set get children mixed delete}
DURATION=${BENCH_DURATION:-15s}
SESSIONS=${BENCH_SESSIONS:-8}
INFLIGHT=${BENCH_INFLIGHT:-16}
PAYLOAD=${BENCH_PAYLOAD:-1024}
ZNODES=${BENCH_ZNODES:-2000}
WARMUP=${BENCH_WARMUP:-5s}
STARTS=${BENCH_STARTS:-3}
MEM_ZNODES=${BENCH_MEM_ZNODES:-100000}
PORT=${BENCH_PORT:-}
OUT=${BENCH_OUT:-$(mktemp -d /tmp/zkbench.XXXXXX)}
ZKBENCH="$REPO/target/release/zkbench"
export ZKD_BIN="${ZKD_BIN:-$REPO/target/release/zkd}"

IFS=';' read -r -a CFG_LINES <<<"${BENCH_CFG:-}"

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "compare.sh: $*"; exit 1; }

for tool in jq cargo java; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done
for s in $SERVERS; do
    [[ "$s" == zkd || "$s" == apache ]] || die "BENCH_SERVERS: unknown server '$s' (zkd, apache)"
done
[[ "$STARTS" =~ ^[0-9]+$ && "$MEM_ZNODES" =~ ^[0-9]+$ && "$SESSIONS" =~ ^[1-9][0-9]*$ ]] ||
    die "BENCH_STARTS, BENCH_MEM_ZNODES and BENCH_SESSIONS must be numbers"
mkdir -p "$OUT" || die "cannot create $OUT"

# shellcheck disable=SC2016 # $1 expands in the inner shell
port_in_use() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }
if [[ -z "$PORT" ]]; then
    # Other servers may run on this machine; both of ours use the same free port.
    for ((PORT = 22281; PORT < 22381; PORT++)); do
        port_in_use "$PORT" || break
    done
    ((PORT < 22381)) || die "no free port in 22281-22380; set BENCH_PORT"
fi
[[ "$PORT" =~ ^[0-9]+$ ]] || die "BENCH_PORT '$PORT' is not a port number"

RUNNING=""
cleanup() { [[ -n "$RUNNING" ]] && zk_stop "$RUNNING"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A UNAVAILABLE=()

build() {
    if [[ "${BENCH_SKIP_BUILD:-0}" == 1 ]]; then
        [[ -x "$ZKBENCH" ]] || die "BENCH_SKIP_BUILD=1 but $ZKBENCH does not exist"
        return
    fi
    log "building zkbench (release)"
    (cd "$REPO" && cargo build --release -q -p zkbench) || die "cannot build zkbench"
    if [[ " $SERVERS " == *" zkd "* ]]; then
        log "building zkd (release)"
        if ! (cd "$REPO" && cargo build --release -q -p zkd); then
            # A stale binary would silently measure old code.
            UNAVAILABLE[zkd]="build failed"
            log "zkd does not build; its column will say so"
        fi
    fi
}

# record SERVER JSON: appends one result object to the server's results.
record() { printf '%s\n' "$2" >>"$OUT/$1.jsonl"; }

fail() { record "$1" "$(jq -cn --arg l "$2" --arg r "$3" '{label: $l, failed: $r}')"; }

# A signal that lands between fork and exec is taken by the shell's inherited traps (the
# child would even run the EXIT trap) and lost at exec, so the kill waits for the exec.
stop_poller() {
    local i shell
    shell=$(readlink "/proc/$$/exe")
    for ((i = 0; i < 200; i++)); do
        [[ "$(readlink "/proc/$1/exe" 2>/dev/null)" != "$shell" ]] && break
        sleep 0.01
    done
    kill "$1" 2>/dev/null
}

# start SERVER NAME: starts a fresh server; sets START_MS to its start-to-serving time.
# (A global, not stdout: in a command substitution the server would be a subshell's child.)
START_MS=""
start() {
    local server=$1 name=$2 t0 ready_out rp ok=1
    ready_out=$(mktemp "$OUT/ready.XXXXXX")
    t0=$(date +%s%N)
    # The poller runs beside the start function so that the figure has its 5 ms
    # granularity, not the 100 ms of servers.sh's own wait loop.
    "$ZKBENCH" ready --server "127.0.0.1:$PORT" --since-ns "$t0" \
        --timeout "${ZK_START_TIMEOUT:-60}s" --json >"$ready_out" 2>"$ready_out.err" &
    rp=$!
    if "zk_start_$server" "$name" "$PORT" "${CFG_LINES[@]}"; then
        RUNNING=$name
    else
        ok=0
        stop_poller "$rp"
    fi
    if ! wait "$rp" 2>/dev/null && ((ok)); then
        ok=0
        log "$server: readiness probe: $(cat "$ready_out.err")"
    fi
    START_MS=""
    if ((ok)); then
        START_MS=$(jq -r .ready_ms "$ready_out")
    fi
    rm -f "$ready_out" "$ready_out.err"
    ((ok))
}

stop() {
    zk_stop "$1"
    RUNNING=""
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# load SERVER LABEL ARGS...: one zkbench run; its JSON goes to the results.
load() {
    local server=$1 label=$2 json
    shift 2
    log "$server: $label"
    if json=$("$ZKBENCH" load --server "127.0.0.1:$PORT" --sessions "$SESSIONS" \
        --inflight "$INFLIGHT" --payload "$PAYLOAD" --label "$label" --json "$@"); then
        record "$server" "$json"
        log "$server: $label: $(jq -r '"\(.ops_per_sec) ops/s, p99 \(.latency_us.p99 / 1000) ms, errors \(.errors)"' <<<"$json")"
    else
        [[ -n "$json" ]] && record "$server" "$json"
        fail "$server" "$label" "zkbench failed"
        return 1
    fi
}

measure_startup() {
    local server=$1 name="bench-$1" i list=()
    for ((i = 1; i <= STARTS; i++)); do
        if ! start "$server" "$name"; then
            UNAVAILABLE[$server]="did not start"
            fail "$server" startup "did not start"
            stop "$name"
            return 1
        fi
        list+=("$START_MS")
        stop "$name"
    done
    ((${#list[@]})) || return 0
    record "$server" "$(printf '%s\n' "${list[@]}" | jq -cs \
        '{label: "startup", runs: ., ready_ms: (sort | .[(length - 1) / 2 | floor])}')"
    log "$server: start-to-serving runs (ms): ${list[*]}"
}

run_scenarios() {
    local server=$1 name="bench-$1" pid scenario
    start "$server" "$name" || {
        UNAVAILABLE[$server]="did not start"
        fail "$server" scenarios "did not start"
        stop "$name"
        return 1
    }
    pid=$(zk_pid "$name")
    record "$server" "$(jq -cn --argjson k "$(rss_kib "$pid")" '{label: "idle", rss_kib: $k}')"
    if [[ "$WARMUP" != 0 && "$WARMUP" != 0s ]]; then
        log "$server: warm-up ($WARMUP mixed, unreported)"
        # The warm-up keys are deleted again so that every server starts the scenarios from
        # the same tree.
        if ! "$ZKBENCH" load --server "127.0.0.1:$PORT" --root /zkbench-warmup --znodes 200 \
            --ops mixed --duration "$WARMUP" >/dev/null ||
            ! "$ZKBENCH" load --server "127.0.0.1:$PORT" --root /zkbench-warmup --znodes 200 \
                --ops delete >/dev/null; then
            log "$server: warm-up failed"
        fi
    fi
    for scenario in $SCENARIOS; do
        case $scenario in
        create | delete) load "$server" "$scenario" --ops "$scenario" --znodes "$ZNODES" ;;
        set | get | children | mixed)
            load "$server" "$scenario" --ops "$scenario" --znodes "$ZNODES" --duration "$DURATION" ;;
        *) die "BENCH_SCENARIOS: unknown scenario '$scenario'" ;;
        esac
        if ! zk_pid "$name" >/dev/null; then
            log "$server: server died during $scenario; see $(zk_dir "$name")/server.log"
            fail "$server" scenarios "server died during $scenario"
            RUNNING=""
            return 1
        fi
    done
    # A server that keeps nothing on disk is not doing the same work as one that logs and
    # syncs every transaction; this figure makes that visible next to the throughput.
    record "$server" "$(jq -cn --argjson k "$(du -sk "$(zk_dir "$name")/data" | cut -f1)" \
        '{label: "disk", kib: $k}')"
    stop "$name"
}

run_memory() {
    local server=$1 name="bench-$1" pid per_session
    ((MEM_ZNODES > 0)) || return 0
    start "$server" "$name" || {
        fail "$server" memory "did not start"
        stop "$name"
        return 1
    }
    pid=$(zk_pid "$name")
    per_session=$(((MEM_ZNODES + SESSIONS - 1) / SESSIONS))
    load "$server" memory --ops create --root /zkbench-mem --znodes "$per_session" --rss-pid "$pid"
    stop "$name"
}

# cell SERVER LABEL JQ_EXPR: one figure, or why there is none.
cell() {
    local file="$OUT/$1.jsonl" v
    if [[ -n "${UNAVAILABLE[$1]:-}" ]]; then
        echo "(${UNAVAILABLE[$1]})"
        return
    fi
    [[ -f "$file" ]] || { echo "-"; return; }
    v=$(jq -rs --arg l "$2" "map(select(.label == \$l)) | last | if . == null then \"-\"
        elif .failed then \"FAILED\" else ($3) end" "$file")
    echo "${v:--}"
}

ratio() {
    if [[ "$1" =~ ^[0-9.]+$ && "$2" =~ ^[0-9.]+$ ]] && [[ "$2" != 0 && "$2" != 0.0 ]]; then
        jq -rn --argjson a "$1" --argjson b "$2" '$a / $b * 100 | round / 100 | tostring'
    else
        echo "-"
    fi
}

row() {
    local title=$1 label=$2 expr=$3 better=$4 z a
    z=$(cell zkd "$label" "$expr")
    a=$(cell apache "$label" "$expr")
    local r="-"
    [[ "$better" != - ]] && r=$(ratio "$z" "$a")
    printf '%-34s %14s %14s %10s  %s\n' "$title" "$z" "$a" "$r" "$better"
}

table() {
    local s
    printf '\n%s sessions x %s in flight, %s B payloads, %s znodes per session, %s per timed scenario\n' \
        "$SESSIONS" "$INFLIGHT" "$PAYLOAD" "$ZNODES" "$DURATION"
    printf 'port %s; load average at start: %s\n' "$PORT" "$LOAD_AT_START"
    printf '\n%-34s %14s %14s %10s  %s\n' "scenario" "zkd" "apache" "zkd/apache" "better"
    printf '%s\n' "$(printf '%.0s-' {1..84})"
    for s in $SCENARIOS; do
        row "$s ops/s" "$s" '.ops_per_sec' higher
        row "$s p50 ms" "$s" '.latency_us.p50 / 1000' lower
        row "$s p99 ms" "$s" '.latency_us.p99 / 1000' lower
        row "$s p999 ms" "$s" '.latency_us.p999 / 1000' lower
        row "$s max ms" "$s" '.latency_us.max / 1000' lower
        row "$s errors" "$s" '.errors' lower
    done
    row "start-to-serving ms (median of $STARTS)" startup '.ready_ms' lower
    row "RSS idle MiB" idle '.rss_kib / 1024 | round' lower
    row "dataDir after the scenarios MiB" disk '.kib / 1024 | round' -
    if ((MEM_ZNODES > 0)); then
        row "RSS after ${MEM_ZNODES} x ${PAYLOAD} B MiB" memory '.rss_kib / 1024 | round' lower
        row "RSS peak, same run, MiB" memory '.rss_peak_kib / 1024 | round' lower
        row "populate ${MEM_ZNODES} znodes ops/s" memory '.ops_per_sec' higher
    fi
    echo
    echo "raw results: $OUT/*.jsonl; server logs: $(zk_dir bench-zkd)/server.log, $(zk_dir bench-apache)/server.log"
}

LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
build
for server in $SERVERS; do
    rm -f "$OUT/$server.jsonl"
    if [[ -n "${UNAVAILABLE[$server]:-}" ]]; then
        log "$server: skipped (${UNAVAILABLE[$server]})"
        continue
    fi
    log "$server: start-to-serving, $STARTS cycles"
    measure_startup "$server" || { log "$server: skipped (did not start)"; continue; }
    run_scenarios "$server"
    run_memory "$server"
done
table
