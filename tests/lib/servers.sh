# shellcheck shell=bash
# Start and stop standalone ZooKeeper-protocol servers on loopback for tests and benchmarks.
#
# Source this file, then:
#   zk_start_apache NAME PORT [zoo.cfg lines...]   Debian's Apache ZooKeeper 3.8 (Java);
#                                                  returns once ruok answers imok and srvr
#                                                  reports "Mode: " (serving sessions)
#   zk_start_zkd    NAME PORT [zoo.cfg lines...]   our server: ${ZKD_BIN:-$REPO/target/release/zkd}
#   zk_stop NAME                                   SIGTERM, then SIGKILL after ZK_STOP_TIMEOUT s
#   zk_pid NAME                                    prints the pid of a running server
#   zk_4lw PORT WORD                               prints a four-letter-word reply
#   zk_dir NAME                                    prints the server's own directory
#
# Each server lives in ${ZK_RUN_DIR:-$REPO/tests/.run}/NAME: zoo.cfg, data/, server.log, pid.
# Start wipes data/ unless ZK_KEEP_DATA=1 (restart-with-state tests set it).
# Extra lines are zoo.cfg lines. Keys spelled as ZooKeeper system properties
# ("zookeeper.X=v") reach Apache as -Dzookeeper.X=v, because Apache's own zoo.cfg parser
# would prefix them a second time; zkd reads them from zoo.cfg as they are.
# Tunables: ZK_START_TIMEOUT (s, default 60), ZK_STOP_TIMEOUT (s, default 15),
# ZK_APACHE_JVMFLAGS (extra JVM flags for Apache), ZK_APACHE_CLASSPATH.
# Functions print errors to stderr and return non-zero; they never exit the caller's shell.

_ZK_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ZK_REPO="${ZK_REPO:-$(cd "$_ZK_LIB_DIR/../.." && pwd)}"

# zookeeper.jar's manifest names its runtime dependencies; the log4j 1.2 binding is added
# so that the server's log lands in server.log instead of slf4j's no-op logger.
ZK_APACHE_CLASSPATH="${ZK_APACHE_CLASSPATH:-/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar}"

_zk_err() { echo "servers.sh: $*" >&2; }

zk_dir() {
    [[ -n "${1:-}" ]] || { _zk_err "zk_dir: missing NAME"; return 2; }
    echo "${ZK_RUN_DIR:-$ZK_REPO/tests/.run}/$1"
}

# A zombie (exited, parent has not reaped it yet) still answers kill -0; it is not running.
_zk_alive() {
    local pid=$1 state
    kill -0 "$pid" 2>/dev/null || return 1
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ "$state" != "Z" ]]
}

zk_pid() {
    local dir pid
    dir=$(zk_dir "${1:-}") || return 2
    [[ -f "$dir/pid" ]] || return 1
    pid=$(<"$dir/pid")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    _zk_alive "$pid" || return 1
    # Guard against pid reuse: the process must be the one started on this directory's zoo.cfg.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/zoo.cfg" || return 1
    echo "$pid"
}

zk_4lw() {
    local port=${1:-} word=${2:-}
    [[ "$port" =~ ^[0-9]+$ && -n "$word" ]] || { _zk_err "usage: zk_4lw PORT WORD"; return 2; }
    # The server closes the connection after its reply, so reading to EOF gets all of it;
    # timeout bounds a server that accepts and never answers.
    # shellcheck disable=SC2016 # $1 and $2 expand in the inner bash
    timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "%s" "$2" >&3 && cat <&3' \
        _ "$port" "$word" 2>/dev/null
}

_zk_port_in_use() {
    # shellcheck disable=SC2016 # $1 expands in the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# _zk_prepare NAME PORT KIND: checks, creates the directory, writes zoo.cfg with the common
# lines. Sets _ZK_DIR.
_zk_prepare() {
    local name=$1 port=$2 kind=$3 dir pid
    [[ -n "$name" && "$name" != */* ]] || { _zk_err "$kind: bad NAME '$name'"; return 2; }
    [[ "$port" =~ ^[0-9]+$ ]] || { _zk_err "$kind: bad PORT '$port'"; return 2; }
    dir=$(zk_dir "$name") || return 2
    if pid=$(zk_pid "$name"); then
        _zk_err "$kind: server '$name' already runs as pid $pid ($dir)"
        return 1
    fi
    if _zk_port_in_use "$port"; then
        _zk_err "$kind: 127.0.0.1:$port is already in use by another process"
        return 1
    fi
    mkdir -p "$dir" || { _zk_err "$kind: cannot create $dir"; return 1; }
    if [[ "${ZK_KEEP_DATA:-0}" != 1 ]]; then
        rm -rf "$dir/data"
    fi
    mkdir -p "$dir/data"
    rm -f "$dir/pid"
    cat >"$dir/zoo.cfg" <<EOF
tickTime=2000
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
4lw.commands.whitelist=*
EOF
    _ZK_DIR=$dir
}

# _zk_wait_ready NAME PORT PID KIND: polls until ruok answers imok and srvr reports a Mode,
# the process dies, or the bound passes.
_zk_wait_ready() {
    local name=$1 port=$2 pid=$3 kind=$4 dir=$_ZK_DIR
    local deadline=$((SECONDS + ${ZK_START_TIMEOUT:-60}))
    while ((SECONDS < deadline)); do
        if ! _zk_alive "$pid"; then
            _zk_err "$kind: server '$name' (pid $pid) exited during start-up; last log lines of $dir/server.log:"
            tail -n 30 "$dir/server.log" >&2
            return 1
        fi
        # Apache answers ruok as soon as it listens, before it serves sessions; srvr reports
        # "Mode: ..." only once the server runs, so both must answer.
        if [[ "$(zk_4lw "$port" ruok)" == imok && "$(zk_4lw "$port" srvr)" == *"Mode: "* ]]; then
            return 0
        fi
        sleep 0.1
    done
    _zk_err "$kind: server '$name' did not answer ruok on 127.0.0.1:$port within ${ZK_START_TIMEOUT:-60}s; log: $dir/server.log"
    tail -n 30 "$dir/server.log" >&2
    zk_stop "$name" >/dev/null 2>&1
    return 1
}

zk_start_apache() {
    local name=${1:-} port=${2:-}
    shift 2 || { _zk_err "usage: zk_start_apache NAME PORT [zoo.cfg lines...]"; return 2; }
    _zk_prepare "$name" "$port" zk_start_apache || return
    local dir=$_ZK_DIR line pid
    local -a jvm_props=()
    for line in "$@"; do
        if [[ "$line" == zookeeper.*=* ]]; then
            jvm_props+=("-D$line")
        else
            printf '%s\n' "$line" >>"$dir/zoo.cfg"
        fi
    done
    cat >"$dir/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n
EOF
    # The admin server (Jetty on 8080) is off so that several servers can run side by side.
    # shellcheck disable=SC2086 # ZK_APACHE_JVMFLAGS is a list of flags
    nohup java \
        "-Dlog4j.configuration=file:$dir/log4j.properties" \
        "-Dzookeeper.log.dir=$dir" \
        -Dzookeeper.admin.enableServer=false \
        ${ZK_APACHE_JVMFLAGS:-} \
        "${jvm_props[@]}" \
        -cp "$ZK_APACHE_CLASSPATH" \
        org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
        </dev/null >"$dir/server.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/pid"
    _zk_wait_ready "$name" "$port" "$pid" zk_start_apache
}

zk_start_zkd() {
    local name=${1:-} port=${2:-}
    shift 2 || { _zk_err "usage: zk_start_zkd NAME PORT [zoo.cfg lines...]"; return 2; }
    local bin=${ZKD_BIN:-$ZK_REPO/target/release/zkd}
    if [[ ! -x "$bin" ]]; then
        _zk_err "zk_start_zkd: no zkd binary at $bin (build it: cargo build --release -p zkd, or set ZKD_BIN)"
        return 1
    fi
    _zk_prepare "$name" "$port" zk_start_zkd || return
    local dir=$_ZK_DIR line pid
    for line in "$@"; do
        printf '%s\n' "$line" >>"$dir/zoo.cfg"
    done
    nohup "$bin" --config "$dir/zoo.cfg" </dev/null >"$dir/server.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/pid"
    _zk_wait_ready "$name" "$port" "$pid" zk_start_zkd
}

zk_stop() {
    local name=${1:-} pid dir
    dir=$(zk_dir "$name") || return 2
    pid=$(zk_pid "$name") || { rm -f "$dir/pid"; return 0; }
    kill -TERM "$pid" 2>/dev/null
    local deadline=$((SECONDS + ${ZK_STOP_TIMEOUT:-15}))
    while _zk_alive "$pid" && ((SECONDS < deadline)); do
        sleep 0.1
    done
    if _zk_alive "$pid"; then
        _zk_err "zk_stop: '$name' (pid $pid) ignored SIGTERM for ${ZK_STOP_TIMEOUT:-15}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null
        deadline=$((SECONDS + 5))
        while _zk_alive "$pid" && ((SECONDS < deadline)); do
            sleep 0.1
        done
    fi
    # Reap it when it is our own child, so it does not linger as a zombie.
    wait "$pid" 2>/dev/null
    rm -f "$dir/pid"
    return 0
}
