"""A ZooKeeper ensemble of real processes on loopback, each member zkd or Apache's.

Member i (0-based, myid i+1) listens on its own address 127.0.0.(10+i) with the standard
ports, as a member on its own host would: clients on 2181, the leader's followers on 2888,
leader election on 3888. Its directory run_dir()/<name>-m<myid> holds zoo.cfg, data/myid,
server.log and pid, as tests/lib/servers.sh lays out a standalone server (so run-all.sh's
clean-up of left-over servers covers ensemble members too).

    with Ensemble(["apache", "zkd", "zkd"]) as ens:
        ens.start_all()
        leader = ens.wait_for_leader()
        ens.kill(leader)
        ...

partition(i) cuts member i's peer traffic (2888/3888, both ways) while its client port stays
reachable, with nftables and a cgroup per member (see peerfirewall.py). That needs root, nft
and cgroup v2; without them partition() raises PartitionUnsupported.

Run as a script, it starts and stops ensembles for shell scripts (the benchmarks):
    python3 ensemble.py start --name bench-ens zkd,zkd,zkd   # prints the leader's index
    python3 ensemble.py leader|pids|restart I|stop --name bench-ens
"""

import argparse
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import zktarget
from peerfirewall import PEER_PORTS, PartitionUnsupported, PeerFirewall

KINDS = ("zkd", "apache")
CLIENT_PORT = 2181
QUORUM_PORT = 2888
ELECTION_PORT = 3888
DEFAULT_BASE_IP = "127.0.0.10"
# Apache accepts any tickTime; session timeouts are bounded by 2 and 20 ticks, so 500 ms
# gives 1-10 s sessions. initLimit and syncLimit are in ticks: 5 s for a follower's initial
# sync, 2.5 s of silence before a follower or leader gives up on the other.
DEFAULT_TICK_MS = 500
INIT_LIMIT_TICKS = 10
SYNC_LIMIT_TICKS = 5
# Apache waits cnxTimeout (default 5 s) for a TCP connect to a peer's election port, which a
# partition stretches to its full length; 1 s keeps elections among the rest quick.
DEFAULT_CONFIG_LINES = ("zookeeper.cnxTimeout=1000",)
START_BOUND_S = 60
STOP_BOUND_S = 15
KILL_BOUND_S = 10
NOT_SERVING = "This ZooKeeper instance is not currently serving requests"
APACHE_CLASSPATH = os.environ.get(
    "ZK_APACHE_CLASSPATH",
    "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar",
)
# Several JVMs share the machine; the default heap limit is a quarter of RAM each.
DEFAULT_APACHE_JVMFLAGS = "-Xmx512m"
LOG4J_PROPERTIES = """\
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n
"""


class EnsembleError(RuntimeError):
    """Something about the ensemble is not as required; the message says what and where."""


def parse_kinds(text, what="ZK_ENSEMBLE"):
    """"zkd,apache,zkd" -> ["zkd", "apache", "zkd"]; raises EnsembleError on a bad entry."""
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise EnsembleError(
            "%s=%r: expected a comma-separated list of %s" % (what, text, " or ".join(KINDS))
        )
    return kinds


def zkd_bin():
    return Path(os.environ.get("ZKD_BIN", zktarget.REPO / "target" / "release" / "zkd"))


def _process_alive(pid):
    """Running and not a zombie (a dead child not yet reaped still answers kill -0)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def four_letter_word(host, word, port=CLIENT_PORT, timeout=3.0):
    """The whole reply to a four-letter word, or None when nothing accepts the connection."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(word.encode("ascii"))
            chunks = []
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except OSError:
        return None
    return b"".join(chunks).decode("utf-8", "replace")


def mode_from_srvr(reply):
    """"leader", "follower", "observer", "standalone", "not serving", or None (no answer)."""
    if reply is None:
        return None
    if NOT_SERVING in reply:
        return "not serving"
    m = re.search(r"^Mode: (\S+)", reply, re.M)
    return m.group(1) if m else "unrecognized reply: %r" % reply[:200]


def parse_mntr(reply):
    """mntr's "key<TAB>value" lines as a dict of strings."""
    out = {}
    for line in (reply or "").splitlines():
        key, sep, value = line.partition("\t")
        if sep:
            out[key] = value
    return out


class Member:
    """One member: its id, kind, role, address and directory; start/stop go through Ensemble."""

    def __init__(self, ensemble, index, kind, observer):
        self.index = index
        self.myid = index + 1
        self.kind = kind
        self.observer = observer
        self.host = ensemble.address(index)
        self.dir = zktarget.run_dir() / ("%s-m%d" % (ensemble.name, self.myid))
        self.data_dir = self.dir / "data"
        self.config_path = self.dir / "zoo.cfg"
        self.log_path = self.dir / "server.log"
        self.pid_path = self.dir / "pid"
        self.cgroup = None

    def __repr__(self):
        return "member %d (myid %d, %s%s, %s)" % (
            self.index,
            self.myid,
            self.kind,
            ", observer" if self.observer else "",
            self.host,
        )

    @property
    def client_address(self):
        return "%s:%d" % (self.host, CLIENT_PORT)

    def pid(self):
        """The pid while the process runs on this member's zoo.cfg, else None."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmdline = f.read()
        except OSError:
            return None
        if str(self.config_path).encode() not in cmdline or not _process_alive(pid):
            return None
        return pid

    def log_tail(self, num_lines=60):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.readlines()[-num_lines:]
        except OSError:
            return []


class Ensemble:
    """N members (kinds[i] is member i's kind) plus observers, on 127.0.0.(10+i).

    Constructing one takes a lock on its address range (a second ensemble on the same
    addresses waits for nothing: it fails naming the holder), checks that nothing else holds
    the members' ports, and empties the members' directories. close() (or leaving the with
    block) kills every member and removes the partitions.
    """

    def __init__(
        self,
        kinds,
        observers=(),
        name="ens",
        base_ip=None,
        tick_ms=DEFAULT_TICK_MS,
        config_lines=DEFAULT_CONFIG_LINES,
        fresh=True,
    ):
        kinds = list(kinds)
        observers = list(observers)
        for kind in kinds + observers:
            if kind not in KINDS:
                raise EnsembleError("unknown member kind %r (zkd or apache)" % (kind,))
        if len(kinds) < 1:
            raise EnsembleError("an ensemble needs at least one voting member")
        self.name = name
        base = base_ip or os.environ.get("ZK_ENSEMBLE_BASE_IP", DEFAULT_BASE_IP)
        m = re.fullmatch(r"127\.(\d+)\.(\d+)\.(\d+)", base)
        if not m or int(m.group(3)) + len(kinds) + len(observers) > 254:
            raise EnsembleError(
                "ZK_ENSEMBLE_BASE_IP=%r: need 127.x.y.z with room for the members" % base
            )
        self._base = [127] + [int(g) for g in m.groups()]
        self.tick_ms = tick_ms
        self.config_lines = list(config_lines)
        self.members = [Member(self, i, k, False) for i, k in enumerate(kinds)]
        self.members += [
            Member(self, len(kinds) + j, k, True) for j, k in enumerate(observers)
        ]
        zktarget.run_dir().mkdir(parents=True, exist_ok=True)
        self._lock = self._take_lock()
        self.firewall = PeerFirewall("%s-%s" % (name, self.address(0)))
        self._children = {}
        try:
            self.firewall.reset()
            for member in self.members:
                running = member.pid()
                if running:
                    raise EnsembleError(
                        "%r still runs as pid %d (%s)" % (member, running, member.dir)
                    )
            self._check_ports_free()
            if fresh:
                for member in self.members:
                    shutil.rmtree(member.dir, ignore_errors=True)
        except BaseException:
            self._release_lock()
            raise

    # -- set-up -------------------------------------------------------------------------

    def address(self, index):
        return "%d.%d.%d.%d" % (self._base[0], self._base[1], self._base[2], self._base[3] + index)

    def _take_lock(self):
        path = Path("/tmp/zk-ensemble-%s.lock" % self.address(0))
        f = open(path, "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "?"
            f.close()
            raise EnsembleError(
                "addresses from %s are in use by another ensemble (pid %s holds %s); wait for "
                "it, or set ZK_ENSEMBLE_BASE_IP to another 127.x.y.z"
                % (self.address(0), holder, path)
            )
        f.truncate(0)
        f.write("%d\n" % os.getpid())
        f.flush()
        return f

    def _release_lock(self):
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _check_ports_free(self):
        for member in self.members:
            for port in (CLIENT_PORT,) + PEER_PORTS:
                with socket.socket() as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    try:
                        s.bind((member.host, port))
                    except OSError as e:
                        raise EnsembleError(
                            "%s:%d (for %r) cannot be bound: %s; another process uses it"
                            % (member.host, port, member, e.strerror)
                        )

    def config_text(self, member):
        lines = [
            "tickTime=%d" % self.tick_ms,
            "initLimit=%d" % INIT_LIMIT_TICKS,
            "syncLimit=%d" % SYNC_LIMIT_TICKS,
            "dataDir=%s" % member.data_dir,
            "4lw.commands.whitelist=*",
            "maxClientCnxns=0",
        ]
        if member.observer:
            lines.append("peerType=observer")
        for m in self.members:
            lines.append(
                "server.%d=%s:%d:%d%s;%s:%d"
                % (
                    m.myid,
                    m.host,
                    QUORUM_PORT,
                    ELECTION_PORT,
                    ":observer" if m.observer else "",
                    m.host,
                    CLIENT_PORT,
                )
            )
        lines += [line for line in self.config_lines if not self._is_property(member, line)]
        return "\n".join(lines) + "\n"

    @staticmethod
    def _is_property(member, line):
        """Apache takes zookeeper.* keys as JVM system properties (its zoo.cfg parser would
        prefix them a second time); zkd reads them from zoo.cfg."""
        return member.kind == "apache" and line.startswith("zookeeper.")

    def _command(self, member):
        if member.kind == "zkd":
            binary = zkd_bin()
            if not os.access(binary, os.X_OK):
                raise EnsembleError(
                    "no zkd binary at %s (cargo build --release -p zkd, or set ZKD_BIN)" % binary
                )
            return [str(binary), "--config", str(member.config_path)]
        log4j = member.dir / "log4j.properties"
        log4j.write_text(LOG4J_PROPERTIES)
        jvm_flags = os.environ.get("ZK_APACHE_JVMFLAGS", DEFAULT_APACHE_JVMFLAGS).split()
        props = ["-D" + line for line in self.config_lines if line.startswith("zookeeper.")]
        return [
            "java",
            "-Dlog4j.configuration=file:%s" % log4j,
            "-Dzookeeper.log.dir=%s" % member.dir,
            # Jetty's admin server would want port 8080 on every member.
            "-Dzookeeper.admin.enableServer=false",
            *jvm_flags,
            *props,
            "-cp",
            APACHE_CLASSPATH,
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(member.config_path),
        ]

    # -- processes ----------------------------------------------------------------------

    def _member(self, i):
        if not 0 <= i < len(self.members):
            raise EnsembleError("no member %r: this ensemble has %d" % (i, len(self.members)))
        return self.members[i]

    def pid(self, i):
        return self._member(i).pid()

    def is_up(self, i):
        return self.pid(i) is not None

    def launch(self, i):
        """Spawns member i on its directory (data kept) and returns without waiting."""
        member = self._member(i)
        if member.pid() is not None:
            raise EnsembleError("%r already runs as pid %d" % (member, member.pid()))
        member.data_dir.mkdir(parents=True, exist_ok=True)
        (member.data_dir / "myid").write_text("%d\n" % member.myid)
        member.config_path.write_text(self.config_text(member))
        command = self._command(member)
        procs = self.firewall.member_cgroup(member)
        if procs is not None:
            # The member joins its cgroup before exec, so every socket it opens is in it.
            command = ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(procs)] + command
        with open(member.log_path, "ab") as log:
            log.write(b"==== ensemble.py: starting %s\n" % repr(member).encode())
            log.flush()
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self._children[i] = proc
        member.pid_path.write_text("%d\n" % proc.pid)

    def wait_listening(self, i, timeout=START_BOUND_S):
        """Until member i answers four-letter words (serving or not); raises if it died."""
        member = self._member(i)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # Our own child is asked directly: while it execs, /proc/PID/cmdline may be
            # read half-way between the wrapper's and the server's.
            child = self._children.get(i)
            exited = child.poll() is not None if child is not None else member.pid() is None
            if exited:
                raise EnsembleError(
                    "%r exited during start-up; end of %s:\n%s"
                    % (member, member.log_path, "".join(member.log_tail(30)))
                )
            if four_letter_word(member.host, "ruok", timeout=1) == "imok":
                return
            time.sleep(0.05)
        raise EnsembleError("%r did not answer ruok within %ds" % (member, timeout))

    def start(self, i, wait=True):
        """Starts member i on its kept data and waits until it answers ruok."""
        self.launch(i)
        if wait:
            self.wait_listening(i)

    def start_all(self, order=None):
        """Starts every member, highest id first unless told otherwise, and waits for a
        leader. With equal (empty) histories the highest id of the first majority leads, and
        members that join an established ensemble follow it, so the highest-id member leads:
        compositions put the kind meant to lead last."""
        order = list(order) if order is not None else list(reversed(range(len(self.members))))
        for i in order:
            self.start(i)
        return self.wait_for_leader()

    def kill(self, i):
        """SIGKILL, then waits until the process is gone."""
        member = self._member(i)
        pid = member.pid()
        if pid is None:
            raise EnsembleError("%r is not running" % member)
        os.kill(pid, signal.SIGKILL)
        self._wait_gone(i, pid, KILL_BOUND_S, "SIGKILL")

    def stop(self, i):
        """SIGTERM; SIGKILL if it is still there after STOP_BOUND_S."""
        member = self._member(i)
        pid = member.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        try:
            self._wait_gone(i, pid, STOP_BOUND_S, "SIGTERM")
        except EnsembleError:
            os.kill(pid, signal.SIGKILL)
            self._wait_gone(i, pid, KILL_BOUND_S, "SIGKILL")

    def _wait_gone(self, i, pid, bound, how):
        deadline = time.monotonic() + bound
        while _process_alive(pid):
            child = self._children.get(i)
            if child is not None and child.poll() is not None:
                break
            if time.monotonic() > deadline:
                raise EnsembleError(
                    "%r (pid %d) survived %s for %ds" % (self.members[i], pid, how, bound)
                )
            time.sleep(0.01)
        child = self._children.pop(i, None)
        if child is not None:
            child.wait(timeout=KILL_BOUND_S)

    def restart(self, i):
        """stop(i) then start(i), on the same data."""
        self.stop(i)
        self.start(i)

    def partition(self, i):
        """Cuts member i's peer ports (2888/3888) both ways; its client port stays open."""
        self.firewall.partition(self._member(i))

    def heal(self, i):
        self.firewall.heal(self._member(i))

    def in_member_cgroup(self, i, argv):
        """argv wrapped to run inside member i's cgroup, where partition(i) applies to it
        as to the member itself (the harness's own proof that a partition cuts)."""
        member = self._member(i)
        if member.cgroup is None:
            raise PartitionUnsupported(self.firewall.problem or "%r has no cgroup" % member)
        procs = str(member.cgroup / "cgroup.procs")
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', procs] + list(argv)

    def partitioned(self):
        return sorted(self.firewall.cut)

    def close(self):
        try:
            for i, member in enumerate(self.members):
                pid = member.pid()
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
                    try:
                        self._wait_gone(i, pid, KILL_BOUND_S, "SIGKILL")
                    except EnsembleError as e:
                        print("ensemble.py: %s" % e, file=sys.stderr)
                member.pid_path.unlink(missing_ok=True)
            self.firewall.close()
        finally:
            self._release_lock()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- observation --------------------------------------------------------------------

    def four_letter_word(self, i, word):
        return four_letter_word(self._member(i).host, word)

    def srvr(self, i):
        return self.four_letter_word(i, "srvr")

    def mntr(self, i):
        return parse_mntr(self.four_letter_word(i, "mntr"))

    def mode(self, i):
        """"leader", "follower", "observer", "not serving", or None when it does not answer."""
        return mode_from_srvr(self.srvr(i))

    def modes(self, indices=None):
        indices = range(len(self.members)) if indices is None else indices
        return {i: self.mode(i) for i in indices}

    def zxid(self, i):
        """The last zxid member i reports in srvr, as an int (None when not serving)."""
        m = re.search(r"^Zxid: (0x[0-9a-fA-F]+)", self.srvr(i) or "", re.M)
        return int(m.group(1), 16) if m else None

    def up(self):
        """Indices of members whose process runs and which are not partitioned."""
        return [i for i in range(len(self.members)) if self.is_up(i) and i not in self.firewall.cut]

    def wait_for_leader(self, timeout=30, among=None):
        """The index of the one leader among `among` (default: members up and not
        partitioned), once exactly one of them is leader and every other one follows
        (followers) or observes (observers). Raises EnsembleError with the modes seen."""
        deadline = time.monotonic() + timeout
        modes = {}
        while True:
            indices = self.up() if among is None else list(among)
            modes = self.modes(indices)
            leaders = [i for i, m in modes.items() if m == "leader"]
            if len(leaders) == 1 and all(
                m == ("observer" if self.members[i].observer else "follower")
                for i, m in modes.items()
                if i != leaders[0]
            ):
                return leaders[0]
            if time.monotonic() > deadline:
                raise EnsembleError(
                    "no single leader among members %s within %ss; modes: %s"
                    % (indices, timeout, self.describe_modes(modes))
                )
            time.sleep(0.05)

    def wait_mode(self, i, wanted, timeout=30):
        """Until mode(i) is one of `wanted` (a string or a tuple); returns it."""
        wanted = (wanted,) if isinstance(wanted, str) else tuple(wanted)
        deadline = time.monotonic() + timeout
        mode = None
        while time.monotonic() < deadline:
            mode = self.mode(i)
            if mode in wanted:
                return mode
            time.sleep(0.05)
        raise EnsembleError(
            "%r reports %r, not %s, after %ss"
            % (self.members[i], mode, " or ".join(wanted), timeout)
        )

    def describe_modes(self, modes=None):
        modes = self.modes() if modes is None else modes
        return ", ".join(
            "%d (myid %d, %s): %s" % (i, self.members[i].myid, self.members[i].kind, m or "down")
            for i, m in sorted(modes.items())
        )

    def connect_string(self, indices=None):
        indices = range(len(self.members)) if indices is None else indices
        return ",".join(self.members[i].client_address for i in indices)

    def log_tails(self, num_lines=60):
        parts = []
        for m in self.members:
            parts.append("---- %r: last %d lines of %s ----\n" % (m, num_lines, m.log_path))
            parts.append("".join(m.log_tail(num_lines)) or "(empty)\n")
        return "".join(parts)


# -- command line, for shell scripts ---------------------------------------------------------

STATE_FILE = "ensemble.json"


def _state_path(name):
    return zktarget.run_dir() / (name + "-" + STATE_FILE)


def _from_state(name):
    """The Ensemble a `start` command left running, rebuilt from its state file."""
    try:
        state = json.loads(_state_path(name).read_text())
    except (OSError, ValueError) as e:
        raise EnsembleError("no ensemble %r started here (%s)" % (name, e))
    ens = Ensemble.__new__(Ensemble)
    ens.name = name
    ens._base = state["base"]
    ens.tick_ms = state["tick_ms"]
    ens.config_lines = state["config_lines"]
    ens.members = [Member(ens, i, k, o) for i, (k, o) in enumerate(state["members"])]
    ens._lock = None
    ens.firewall = PeerFirewall("%s-%s" % (name, ens.address(0)))
    ens._children = {}
    return ens


def main(argv=None):
    parser = argparse.ArgumentParser(description="Start and stop a loopback ZooKeeper ensemble.")
    parser.add_argument("--name", default="ens", help="directory prefix under ZK_RUN_DIR")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start every member; print the leader's index")
    start.add_argument("kinds", help="comma-separated kinds, e.g. zkd,zkd,apache")
    start.add_argument("--tick-ms", type=int, default=DEFAULT_TICK_MS)
    sub.add_parser("leader", help="print the leader's index once there is one")
    sub.add_parser("pids", help="print 'index pid address' per running member")
    restart = sub.add_parser("restart", help="start member I again (it must be down)")
    restart.add_argument("index", type=int)
    sub.add_parser("stop", help="kill every member")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            ens = Ensemble(parse_kinds(args.kinds, "kinds"), name=args.name, tick_ms=args.tick_ms)
            _state_path(args.name).write_text(
                json.dumps(
                    {
                        "base": ens._base,
                        "tick_ms": ens.tick_ms,
                        "config_lines": ens.config_lines,
                        "members": [[m.kind, m.observer] for m in ens.members],
                    }
                )
            )
            try:
                print(ens.start_all())
            except BaseException:
                ens.close()
                raise
            # The members outlive this process (own sessions); `stop` kills them.
            ens._release_lock()
            ens._children.clear()
            return 0
        ens = _from_state(args.name)
        if args.command == "leader":
            print(ens.wait_for_leader())
        elif args.command == "pids":
            for i, m in enumerate(ens.members):
                if m.pid() is not None:
                    print(i, m.pid(), m.host)
        elif args.command == "restart":
            ens.start(args.index)
        elif args.command == "stop":
            ens.close()
        return 0
    except EnsembleError as e:
        print("ensemble.py: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
