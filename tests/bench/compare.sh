#!/usr/bin/env bash
# Side-by-side benchmark of zkd and Apache ZooKeeper 3.8, both standalone on loopback, one
# after the other on the same port with a fresh data directory and the same zoo.cfg lines.
# Prints a table (scenario, zkd figure, Apache figure, zkd/Apache) and keeps the raw JSON.
# See tests/bench/README.md for what each figure means.
#
# Usage: compare.sh [--load | --recovery | --all | --ensemble]
#   --load       (default) start-to-serving, the load scenarios, memory after N creates
#   --recovery   populate a large tree, restart after SIGTERM and after SIGKILL (slow)
#   --all        both
#   --ensemble   3-member ensembles instead: load spread over the members, and leader
#                failover (compare-ensemble.sh, which has its own tunables)
#
# Tunables (environment):
#   BENCH_SERVERS     servers to run, in order                 (default "zkd apache")
#   BENCH_SCENARIOS   load scenarios, in order  (default "create set get children mixed mixed-split delete")
#   BENCH_DURATION    length of set/get/children/mixed/mixed-split   (default 15s)
#   BENCH_SESSIONS / BENCH_INFLIGHT / BENCH_PAYLOAD / BENCH_ZNODES   (default 8 / 16 / 1024 / 2000)
#   BENCH_WARMUP      unreported mixed load before the scenarios, 0 to skip (default 5s)
#   BENCH_STARTS      start/stop cycles for start-to-serving, median reported (default 3)
#   BENCH_MEM_ZNODES  znodes of BENCH_PAYLOAD bytes for the memory scenario, 0 to skip (default 100000)
#   BENCH_SYNCS       count the server's fdatasync/fsync calls during each scenario with
#                     perf (1), or not (0)                     (default: 1 when perf can)
#   BENCH_REC_ZNODES / BENCH_REC_PARENTS / BENCH_REC_PAYLOAD   recovery tree (default 1000000 / 1000 / 100)
#   BENCH_REC_SESSIONS / BENCH_REC_INFLIGHT   populating sessions (default 20 / 32)
#   BENCH_REC_SETS    setData on the big tree before the SIGKILL (default 50000)
#   BENCH_KEEP_DATA   1: keep the servers' data directories (over 1 GiB each after recovery)
#   BENCH_PORT        client port on 127.0.0.1                 (default: first free from 22281)
#   BENCH_OUT         directory for the raw results            (default: a new /tmp/zkbench.XXXXXX)
#   BENCH_SKIP_BUILD  1: use the existing release binaries
#   BENCH_CFG         extra zoo.cfg lines for both servers, separated by ';'
#   BENCH_LOCK        lock file that keeps runs apart          (default /tmp/zkbench-compare.lock)
# plus those of tests/lib/servers.sh (ZKD_BIN, ZK_APACHE_JVMFLAGS, ZK_START_TIMEOUT, and
# ZK_RUN_DIR, which defaults to $BENCH_OUT/run here).
set -u -o pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/../.." && pwd)"
# shellcheck source=../lib/servers.sh
source "$REPO/tests/lib/servers.sh"

MODE=load
case "${1:-}" in
"" | --load) ;;
--recovery) MODE=recovery ;;
--all) MODE=all ;;
--ensemble) exec "$BENCH_DIR/compare-ensemble.sh" ;;
-h | --help)
    sed -n '2,/^set -u/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
    exit 0
    ;;
*)
    echo "compare.sh: unknown argument '$1' (--load, --recovery, --all, --ensemble, --help)" >&2
    exit 2
    ;;
esac
(($# <= 1)) || { echo "compare.sh: one mode at most (got: $*)" >&2; exit 2; }

SERVERS=${BENCH_SERVERS:-zkd apache}
SCENARIOS=${BENCH_SCENARIOS:-create set get children mixed mixed-split delete}
DURATION=${BENCH_DURATION:-15s}
SESSIONS=${BENCH_SESSIONS:-8}
INFLIGHT=${BENCH_INFLIGHT:-16}
PAYLOAD=${BENCH_PAYLOAD:-1024}
ZNODES=${BENCH_ZNODES:-2000}
WARMUP=${BENCH_WARMUP:-5s}
STARTS=${BENCH_STARTS:-3}
MEM_ZNODES=${BENCH_MEM_ZNODES:-100000}
REC_ZNODES=${BENCH_REC_ZNODES:-1000000}
REC_PARENTS=${BENCH_REC_PARENTS:-1000}
REC_PAYLOAD=${BENCH_REC_PAYLOAD:-100}
REC_SESSIONS=${BENCH_REC_SESSIONS:-20}
REC_INFLIGHT=${BENCH_REC_INFLIGHT:-32}
REC_SETS=${BENCH_REC_SETS:-50000}
REC_ROOT=/zkrec
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
for v in STARTS MEM_ZNODES REC_SETS; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || die "BENCH_$v must be a number (got '${!v}')"
done
for v in SESSIONS REC_ZNODES REC_PARENTS REC_PAYLOAD REC_SESSIONS REC_INFLIGHT; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v must be a positive number (got '${!v}')"
done
# Every recovery session owns the same share of parents and keys.
((REC_ZNODES % REC_SESSIONS == 0 && REC_PARENTS % REC_SESSIONS == 0)) ||
    die "BENCH_REC_ZNODES ($REC_ZNODES) and BENCH_REC_PARENTS ($REC_PARENTS) must be multiples of BENCH_REC_SESSIONS ($REC_SESSIONS)"
mkdir -p "$OUT" || die "cannot create $OUT"

# Two runs at once would measure each other, and the second could take the port the first
# frees between its start/stop cycles; so one at a time, machine-wide.
LOCK=${BENCH_LOCK:-/tmp/zkbench-compare.lock}
exec 9>>"$LOCK" || die "cannot open the lock file $LOCK"
if ! flock -n 9; then
    die "another compare.sh holds $LOCK (pid $(cat "$LOCK.pid" 2>/dev/null || echo unknown)); wait for it to finish"
fi
echo $$ >"$LOCK.pid"
# Each run's servers live below its own results, so that nothing else that starts or stops
# servers by name under tests/.run can touch them (or they it).
export ZK_RUN_DIR="${ZK_RUN_DIR:-$OUT/run}"

# perf counts syscall tracepoints in the kernel, without stopping the server at each call
# as strace would, so the count can run during the measured scenarios themselves.
SYNCS=${BENCH_SYNCS:-auto}
if [[ "$SYNCS" == auto ]]; then
    SYNCS=0
    if command -v perf >/dev/null &&
        perf stat -e syscalls:sys_enter_fdatasync -x, -o /dev/null -- true 2>/dev/null; then
        SYNCS=1
    fi
fi
[[ "$SYNCS" == 0 || "$SYNCS" == 1 ]] || die "BENCH_SYNCS must be 0 or 1 (got '$SYNCS')"

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
PERF_PID=""
cleanup() {
    [[ -n "$PERF_PID" ]] && kill -INT "$PERF_PID" 2>/dev/null
    [[ -n "$RUNNING" ]] && zk_stop "$RUNNING"
    rm -f "$LOCK.pid"
}
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
# child would even run the EXIT trap) and lost at exec, so signals wait for the exec.
await_exec() {
    local i shell
    shell=$(readlink "/proc/$$/exe")
    for ((i = 0; i < 200; i++)); do
        [[ "$(readlink "/proc/$1/exe" 2>/dev/null)" != "$shell" ]] && return 0
        sleep 0.01
    done
}

stop_poller() {
    await_exec "$1"
    kill "$1" 2>/dev/null
}

# start SERVER NAME [GET_PATH]: starts the server (data kept when ZK_KEEP_DATA=1); sets
# START_MS to its start-to-serving time (ruok) and START_GET_MS to the time a new session
# could first getData GET_PATH (default "/").
# (Globals, not stdout: in a command substitution the server would be a subshell's child.)
START_MS=""
START_GET_MS=""
start() {
    local server=$1 name=$2 get=${3:-/} t0 ready_out rp ok=1
    ready_out=$(mktemp "$OUT/ready.XXXXXX")
    t0=$(date +%s%N)
    # The poller runs beside the start function so that the figure has its 5 ms
    # granularity, not the 100 ms of servers.sh's own wait loop.
    "$ZKBENCH" ready --server "127.0.0.1:$PORT" --since-ns "$t0" --get "$get" \
        --timeout "${ZK_START_TIMEOUT:-60}s" --json >"$ready_out" 2>"$ready_out.err" &
    rp=$!
    # The server must not inherit the lock: one that outlived this script would hold it.
    if "zk_start_$server" "$name" "$PORT" "${CFG_LINES[@]}" 9>&-; then
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
    START_GET_MS=""
    if ((ok)); then
        START_MS=$(jq -r .ready_ms "$ready_out")
        START_GET_MS=$(jq -r .get_ms "$ready_out")
    fi
    rm -f "$ready_out" "$ready_out.err"
    ((ok))
}

stop() {
    zk_stop "$1"
    RUNNING=""
}

# kill_hard NAME: SIGKILL, as a crash or the OOM killer would.
kill_hard() {
    local pid i
    pid=$(zk_pid "$1") || return 0
    kill -KILL "$pid"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        # A killed child stays a zombie until reaped; wait reaps it.
        [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]] && break
        sleep 0.05
    done
    wait "$pid" 2>/dev/null
    zk_stop "$1" # only clears the pid file now
    RUNNING=""
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# srvr_field FIELD: one "Field: value" line of the running server's srvr answer.
srvr_field() { zk_4lw "$PORT" srvr | awk -F': ' -v f="$1" '$1 == f {print $2}'; }

# Sync counting around one zkbench run: perf attaches to every thread of the server.
syncs_start() {
    PERF_PID=""
    ((SYNCS)) || return 0
    perf stat -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync -x, \
        -o "$OUT/perf.txt" -p "$1" 2>/dev/null &
    PERF_PID=$!
    await_exec "$PERF_PID"
    # perf prints nothing when it has attached; this leaves it ample time to.
    sleep 0.3
}

# syncs_stop: sets SYNCS_JSON to {"fdatasync": N, "fsync": M}, or {} when nothing was
# counted. (Not stdout: a command substitution's subshell could not wait for perf.)
SYNCS_JSON='{}'
syncs_stop() {
    SYNCS_JSON='{}'
    [[ -n "$PERF_PID" ]] || return 0
    kill -INT "$PERF_PID" 2>/dev/null
    wait "$PERF_PID" 2>/dev/null
    PERF_PID=""
    SYNCS_JSON=$(awk -F, '$3 ~ /sys_enter_(fdatasync|fsync)$/ {
            sub(/.*sys_enter_/, "", $3); printf "%s\"%s\": %s", (n++ ? ", " : "{"), $3, $1 + 0 }
        END { print (n ? "}" : "{}") }' "$OUT/perf.txt" 2>/dev/null) || SYNCS_JSON='{}'
}

# load SERVER LABEL ARGS...: one zkbench run; its JSON goes to the results. With SYNC_PID
# set, the server's fdatasync and fsync calls during the run are added to it.
SYNC_PID=""
load() {
    local server=$1 label=$2 json
    shift 2
    log "$server: $label"
    # Other work on the machine shows in the figures; the load average says how much.
    local load1
    load1=$(cut -d' ' -f1 /proc/loadavg)
    [[ -n "$SYNC_PID" ]] && syncs_start "$SYNC_PID"
    json=$("$ZKBENCH" load --server "127.0.0.1:$PORT" --label "$label" --json "$@")
    local rc=$?
    SYNCS_JSON='{}'
    [[ -n "$SYNC_PID" ]] && syncs_stop
    if [[ -n "$json" ]]; then
        json=$(jq -c --argjson s "$SYNCS_JSON" --argjson l "$load1" \
            '. + {loadavg_1m: $l} + (if $s == {} then {} else {syncs: $s} end)' <<<"$json")
    fi
    if ((rc == 0)); then
        record "$server" "$json"
        log "$server: $label: $(jq -r '"\(.ops_per_sec) ops/s, p99 \(.latency_us.p99 / 1000) ms, errors \(.errors)" +
            (if .syncs.fdatasync then ", \(.syncs.fdatasync) fdatasync" else "" end)' <<<"$json")"
    else
        [[ -n "$json" ]] && record "$server" "$json"
        fail "$server" "$label" "zkbench failed"
        return 1
    fi
}

STD_LOAD=(--sessions "$SESSIONS" --inflight "$INFLIGHT" --payload "$PAYLOAD" --znodes "$ZNODES")

measure_startup() {
    local server=$1 name="bench-$1" i list=() gets=()
    for ((i = 1; i <= STARTS; i++)); do
        if ! start "$server" "$name"; then
            UNAVAILABLE[$server]="did not start"
            fail "$server" startup "did not start"
            stop "$name"
            return 1
        fi
        list+=("$START_MS")
        gets+=("$START_GET_MS")
        stop "$name"
    done
    ((${#list[@]})) || return 0
    local median='sort | .[(length - 1) / 2 | floor]'
    record "$server" "$(jq -cn --argjson r "$(printf '%s\n' "${list[@]}" | jq -cs .)" \
        --argjson g "$(printf '%s\n' "${gets[@]}" | jq -cs .)" \
        "{label: \"startup\", runs: \$r, get_runs: \$g, ready_ms: (\$r | $median), get_ms: (\$g | $median)}")"
    log "$server: start-to-serving runs (ms): ruok ${list[*]}; getData ${gets[*]}"
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
    SYNC_PID=$pid
    for scenario in $SCENARIOS; do
        case $scenario in
        create | delete) load "$server" "$scenario" --ops "$scenario" "${STD_LOAD[@]}" ;;
        set | get | children | mixed | mixed-split)
            load "$server" "$scenario" --ops "$scenario" "${STD_LOAD[@]}" --duration "$DURATION" ;;
        *) die "BENCH_SCENARIOS: unknown scenario '$scenario'" ;;
        esac
        if ! zk_pid "$name" >/dev/null; then
            log "$server: server died during $scenario; see $(zk_dir "$name")/server.log"
            fail "$server" scenarios "server died during $scenario"
            RUNNING=""
            SYNC_PID=""
            return 1
        fi
    done
    SYNC_PID=""
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
    load "$server" memory --ops create --root /zkbench-mem --sessions "$SESSIONS" \
        --inflight "$INFLIGHT" --payload "$PAYLOAD" --znodes "$per_session" --rss-pid "$pid"
    stop "$name"
}

# newest_snapshot DIR: prints "ZXID_DECIMAL BYTES NAME" of the snapshot with the highest zxid.
newest_snapshot() {
    local f best="" best_zxid=-1 zxid
    for f in "$1"/version-2/snapshot.*; do
        [[ -f "$f" ]] || continue
        zxid=$((16#${f##*.}))
        ((zxid > best_zxid)) && { best_zxid=$zxid; best=$f; }
    done
    [[ -n "$best" ]] && echo "$best_zxid $(stat -c %s "$best") ${best##*/}"
}

# settle_snapshot DIR ZXID: waits (at most 5 minutes) until a snapshot covering ZXID exists,
# no zkd snapshot is being written and its size has stopped changing; prints newest_snapshot.
settle_snapshot() {
    local dir=$1 want=$2 i now last=""
    for ((i = 0; i < 600; i++)); do
        now=$(newest_snapshot "$dir")
        if [[ -n "$now" && "$now" == "$last" ]] && ((${now%% *} >= want)) &&
            ! compgen -G "$dir/version-2/.zkd-snapshot.*" >/dev/null; then
            echo "$now"
            return 0
        fi
        last=$now
        sleep 0.5
    done
    echo "$now"
    return 1
}

# restart SERVER NAME KIND GET_PATH NODES: restarts on the kept data and records how long it
# took to serve, whether the tree came back whole, and the memory it took.
restart() {
    local server=$1 name=$2 kind=$3 get=$4 nodes=$5 pid count
    if ! ZK_KEEP_DATA=1 ZK_START_TIMEOUT=${ZK_START_TIMEOUT:-300} start "$server" "$name" "$get"; then
        fail "$server" "restart-$kind" "did not serve again (see $(zk_dir "$name")/server.log)"
        stop "$name"
        return 1
    fi
    pid=$(zk_pid "$name")
    count=$(srvr_field "Node count")
    log "$server: after $kind: ruok ${START_MS} ms, getData ${START_GET_MS} ms, $count nodes (had $nodes), RSS $(($(rss_kib "$pid") / 1024)) MiB"
    record "$server" "$(jq -cn --arg l "restart-$kind" --argjson r "$START_MS" \
        --argjson g "$START_GET_MS" --argjson k "$(rss_kib "$pid")" --argjson h "$(hwm_kib "$pid")" \
        --argjson n "${count:-0}" --argjson want "$nodes" \
        '{label: $l, ready_ms: $r, get_ms: $g, rss_kib: $k, rss_peak_kib: $h, nodes: $n,
          nodes_before: $want, intact: ($n == $want)}')"
    if [[ "$count" != "$nodes" ]]; then
        log "$server: after $kind the tree has ${count:-no} nodes instead of $nodes"
    fi
}

run_recovery() {
    local server=$1 name="rec-$1" pid dir per_session parents last get nodes zxid t0 snap
    per_session=$((REC_ZNODES / REC_SESSIONS))
    parents=$((REC_PARENTS / REC_SESSIONS))
    last=$((per_session - 1))
    get="$REC_ROOT/s$((REC_SESSIONS - 1))/p$((last % parents))/n$last"
    ((parents == 1)) && get="$REC_ROOT/s$((REC_SESSIONS - 1))/n$last"
    local rec_load=(--root "$REC_ROOT" --sessions "$REC_SESSIONS" --inflight "$REC_INFLIGHT"
        --payload "$REC_PAYLOAD" --znodes "$per_session" --parents "$parents")
    dir=$(zk_dir "$name")

    start "$server" "$name" || {
        fail "$server" populate "did not start"
        stop "$name"
        return 1
    }
    pid=$(zk_pid "$name")
    SYNC_PID=$pid
    load "$server" populate --ops create "${rec_load[@]}" --rss-pid "$pid" || {
        SYNC_PID=""
        stop "$name"
        return 1
    }
    SYNC_PID=""
    nodes=$(srvr_field "Node count")
    zxid=$(srvr_field "Zxid")
    [[ "$nodes" =~ ^[0-9]+$ && "$zxid" == 0x* ]] || {
        fail "$server" populate "srvr did not report Node count and Zxid"
        stop "$name"
        return 1
    }

    log "$server: SIGTERM"
    t0=$(date +%s%N)
    stop "$name"
    record "$server" "$(jq -cn --argjson ms "$((($(date +%s%N) - t0) / 1000000))" \
        '{label: "sigterm", stop_ms: $ms}')"
    restart "$server" "$name" sigterm "$get" "$nodes" || return 1
    pid=$(zk_pid "$name")

    # Both take a snapshot of the recovered tree at start-up: Apache before it serves, zkd
    # in the background. The newest one then holds exactly the populated tree.
    if snap=$(settle_snapshot "$dir/data" "$((zxid))"); then
        record "$server" "$(jq -cn --argjson b "$(cut -d' ' -f2 <<<"$snap")" --arg f "${snap##* }" \
            --argjson k "$(rss_kib "$pid")" --argjson h "$(hwm_kib "$pid")" \
            --argjson d "$(du -sk "$dir/data" | cut -f1)" \
            --argjson l "$(du -ck "$dir"/data/version-2/log.* 2>/dev/null | tail -n1 | cut -f1)" \
            '{label: "snapshot", bytes: $b, file: $f, rss_kib: $k, rss_peak_kib: $h, data_kib: $d, logs_kib: $l}')"
        log "$server: newest snapshot ${snap##* }: $(($(cut -d' ' -f2 <<<"$snap") / 1048576)) MiB"
    else
        fail "$server" snapshot "no settled snapshot covering $zxid within 5 minutes (last: ${snap:-none})"
    fi

    # Writes right before the kill leave a log tail to replay, as a crash under load would.
    if ((REC_SETS > 0)); then
        SYNC_PID=$pid
        load "$server" rec-set --ops set "${rec_load[@]}" --count "$REC_SETS"
        SYNC_PID=""
    fi
    nodes=$(srvr_field "Node count")
    log "$server: SIGKILL"
    kill_hard "$name"
    restart "$server" "$name" sigkill "$get" "$nodes"
    stop "$name"
}

# drop_data NAME: the data directories are large and of no use once their figures are taken.
drop_data() {
    [[ "${BENCH_KEEP_DATA:-0}" == 1 ]] || rm -rf "$(zk_dir "$1")/data"
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

# load_range SERVER: lowest and highest 1-minute load average seen at its runs' starts.
load_range() {
    local file="$OUT/$1.jsonl"
    [[ -f "$file" ]] || { echo "-"; return; }
    jq -rs 'map(.loadavg_1m // empty) | if length == 0 then "-"
        else "\(min)-\(max)" end' "$file"
}

row() {
    local title=$1 label=$2 expr=$3 better=$4 z a
    z=$(cell zkd "$label" "$expr")
    a=$(cell apache "$label" "$expr")
    local r="-"
    [[ "$better" != - ]] && r=$(ratio "$z" "$a")
    printf '%-44s %14s %14s %10s  %s\n' "$title" "$z" "$a" "$r" "$better"
}

header() {
    printf '\n%-44s %14s %14s %10s  %s\n' "$1" "zkd" "apache" "zkd/apache" "better"
    printf '%s\n' "$(printf '%.0s-' {1..94})"
}

# Figures with one decimal: "null" (the key is missing) prints as "-".
MIB='.rss_kib / 1024 | round'
SYNCS_EXPR='if .syncs.fdatasync == null then "-" else .syncs.fdatasync + (.syncs.fsync // 0) end'
PER_SYNC='if (.syncs.fdatasync // 0) + (.syncs.fsync // 0) == 0 then "-"
    else .completed / (.syncs.fdatasync + (.syncs.fsync // 0)) * 10 | round / 10 end'

load_table() {
    local s
    printf '\n%s sessions x %s in flight, %s B payloads, %s znodes per session, %s per timed scenario\n' \
        "$SESSIONS" "$INFLIGHT" "$PAYLOAD" "$ZNODES" "$DURATION"
    printf 'mixed: reads and writes share each session; mixed-split: each session'"'"'s writes go out on a companion session\n'
    header "scenario"
    for s in $SCENARIOS; do
        row "$s ops/s" "$s" '.ops_per_sec' higher
        row "$s p50 ms" "$s" '.latency_us.p50 / 1000' lower
        row "$s p99 ms" "$s" '.latency_us.p99 / 1000' lower
        row "$s p999 ms" "$s" '.latency_us.p999 / 1000' lower
        row "$s max ms" "$s" '.latency_us.max / 1000' lower
        row "$s errors" "$s" '.errors' lower
        if ((SYNCS)) && [[ "$s" != get && "$s" != children ]]; then
            row "$s fdatasync+fsync calls" "$s" "$SYNCS_EXPR" -
            row "$s requests per sync" "$s" "$PER_SYNC" -
        fi
    done
    row "start-to-serving ruok ms (median of $STARTS)" startup '.ready_ms' lower
    row "start to first getData ms (median of $STARTS)" startup '.get_ms' lower
    row "RSS idle MiB" idle "$MIB" lower
    row "dataDir after the scenarios MiB" disk '.kib / 1024 | round' -
    if ((MEM_ZNODES > 0)); then
        row "RSS after ${MEM_ZNODES} x ${PAYLOAD} B MiB" memory "$MIB" lower
        row "RSS peak, same run, MiB" memory '.rss_peak_kib / 1024 | round' lower
        row "populate ${MEM_ZNODES} znodes ops/s" memory '.ops_per_sec' higher
    fi
}

recovery_table() {
    printf '\nrecovery: %s znodes of %s B under %s parents, populated by %s sessions x %s in flight\n' \
        "$REC_ZNODES" "$REC_PAYLOAD" "$REC_PARENTS" "$REC_SESSIONS" "$REC_INFLIGHT"
    header "recovery"
    row "populate ops/s" populate '.ops_per_sec' higher
    row "populate s" populate '.elapsed_s' lower
    row "populate p99 ms" populate '.latency_us.p99 / 1000' lower
    ((SYNCS)) && row "populate requests per sync" populate "$PER_SYNC" -
    row "RSS right after populating MiB" populate "$MIB" lower
    row "SIGTERM to exit ms" sigterm '.stop_ms' lower
    row "after SIGTERM: spawn to ruok ms" restart-sigterm '.ready_ms' lower
    row "after SIGTERM: spawn to getData ms" restart-sigterm '.get_ms' lower
    row "after SIGTERM: tree intact" restart-sigterm '"\(.intact) (\(.nodes))"' -
    row "after SIGTERM: RSS at serving MiB" restart-sigterm "$MIB" lower
    row "newest snapshot MiB" snapshot '.bytes / 1048576 * 10 | round / 10' lower
    row "newest snapshot bytes" snapshot '.bytes' lower
    row "RSS after recovery + snapshot MiB" snapshot "$MIB" lower
    row "RSS peak since restart MiB" snapshot '.rss_peak_kib / 1024 | round' lower
    row "dataDir MiB (transaction logs MiB)" snapshot '"\(.data_kib / 1024 | round) (\(.logs_kib / 1024 | round))"' -
    if ((REC_SETS > 0)); then
        row "setData x $REC_SETS on the big tree ops/s" rec-set '.ops_per_sec' higher
        row "setData on the big tree p99 ms" rec-set '.latency_us.p99 / 1000' lower
    fi
    row "after SIGKILL: spawn to ruok ms" restart-sigkill '.ready_ms' lower
    row "after SIGKILL: spawn to getData ms" restart-sigkill '.get_ms' lower
    row "after SIGKILL: tree intact" restart-sigkill '"\(.intact) (\(.nodes))"' -
    row "after SIGKILL: RSS at serving MiB" restart-sigkill "$MIB" lower
}

table() {
    printf '\n%s: port %s; load average at start: %s, at end: %s\n' "$(date '+%F %H:%M')" \
        "$PORT" "$LOAD_AT_START" "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf '1-minute load average when each zkbench run began: zkd %s, apache %s\n' \
        "$(load_range zkd)" "$(load_range apache)"
    [[ "$MODE" != recovery ]] && load_table
    [[ "$MODE" != load ]] && recovery_table
    echo
    echo "raw results: $OUT/*.jsonl; server logs: $(zk_dir bench-zkd)/server.log, $(zk_dir bench-apache)/server.log (rec-* for recovery)"
}

LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
build
for server in $SERVERS; do
    rm -f "$OUT/$server.jsonl"
    if [[ -n "${UNAVAILABLE[$server]:-}" ]]; then
        log "$server: skipped (${UNAVAILABLE[$server]})"
        continue
    fi
    if [[ "$MODE" != recovery ]]; then
        log "$server: start-to-serving, $STARTS cycles"
        measure_startup "$server" || { log "$server: skipped (did not start)"; continue; }
        run_scenarios "$server"
        run_memory "$server"
        drop_data "bench-$server"
    fi
    if [[ "$MODE" != load ]]; then
        log "$server: recovery with $REC_ZNODES znodes"
        run_recovery "$server"
        drop_data "rec-$server"
    fi
done
table | tee "$OUT/table.txt"
