"""One standalone ZooKeeper-protocol server under test, Apache's or ours, from Python.

The suites choose the server with ZK_TARGET=zkd|apache (default zkd). Starting and stopping
go through tests/lib/servers.sh, so Python suites, shell scripts and benchmarks share one
implementation of configuration, readiness (ruok answers imok) and shutdown.
"""

import os
import shutil
import socket
import subprocess
from pathlib import Path

LIB_DIR = Path(__file__).resolve().parent
REPO = LIB_DIR.parent.parent
SERVERS_SH = LIB_DIR / "servers.sh"
TARGETS = ("zkd", "apache")

# Bounds for servers.sh calls: start waits up to ZK_START_TIMEOUT inside the script; these
# outer bounds only catch a script that itself hangs.
START_BOUND_S = 120
STOP_BOUND_S = 60


class ServerError(RuntimeError):
    """A server could not be started or stopped; the message names which and why."""


def target_from_env():
    target = os.environ.get("ZK_TARGET", "zkd")
    if target not in TARGETS:
        raise ServerError(
            "ZK_TARGET=%r is not one of %s" % (target, ", ".join(TARGETS))
        )
    return target


def run_dir():
    return Path(os.environ.get("ZK_RUN_DIR", REPO / "tests" / ".run"))


def free_port():
    """A loopback port that nothing listens on right now.

    The kernel picks it from the ephemeral range, which the servers we start never bind
    otherwise; the short window between close and the server's bind is acceptable in tests.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def four_letter_word(port, word, timeout=5.0):
    """Sends a four-letter word to 127.0.0.1:port and returns the whole reply as text."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(word.encode("ascii"))
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


class ManagedServer:
    """A standalone server in run_dir()/name, listening on 127.0.0.1:port.

    config_lines are extra zoo.cfg lines; "zookeeper.X=v" lines are system properties
    (servers.sh passes them to Apache's JVM as -D flags). jvm_flags only apply to Apache.
    """

    def __init__(self, target, name, port, config_lines=(), jvm_flags=()):
        if target not in TARGETS:
            raise ServerError("unknown target %r" % (target,))
        self.target = target
        self.name = name
        self.port = port
        self.config_lines = list(config_lines)
        self.jvm_flags = list(jvm_flags)
        self.dir = run_dir() / name
        self.log_path = self.dir / "server.log"

    def _servers_sh(self, function, args, bound, keep_data=True):
        env = dict(os.environ)
        env["ZK_RUN_DIR"] = str(run_dir())
        env["ZK_KEEP_DATA"] = "1" if keep_data else "0"
        if self.jvm_flags:
            env["ZK_APACHE_JVMFLAGS"] = " ".join(
                [env.get("ZK_APACHE_JVMFLAGS", "")] + self.jvm_flags
            ).strip()
        cmd = [
            "bash",
            "-c",
            'source "$0" && "$@"',
            str(SERVERS_SH),
            function,
            *args,
        ]
        try:
            proc = subprocess.run(
                cmd,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=bound,
            )
        except subprocess.TimeoutExpired:
            raise ServerError(
                "%s %s did not return within %ss" % (function, self.name, bound)
            )
        if proc.returncode != 0:
            raise ServerError(
                "%s %s (127.0.0.1:%d) failed (exit %d):\n%s"
                % (function, self.name, self.port, proc.returncode, proc.stderr.strip())
            )
        return proc.stdout

    def start(self, keep_data=False):
        """Starts the server and returns once it answers ruok; raises ServerError."""
        function = "zk_start_" + self.target
        self._servers_sh(
            function,
            [self.name, str(self.port), *self.config_lines],
            START_BOUND_S,
            keep_data=keep_data,
        )

    def stop(self):
        self._servers_sh("zk_stop", [self.name], STOP_BOUND_S)

    def pid(self):
        """The server's pid while it runs, else None."""
        pid_file = self.dir / "pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            with open("/proc/%d/stat" % pid) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmdline = f.read()
        except OSError:
            return None
        if state == "Z" or str(self.dir / "zoo.cfg").encode() not in cmdline:
            return None
        return pid

    def is_alive(self):
        return self.pid() is not None

    def four_letter_word(self, word):
        return four_letter_word(self.port, word)

    def log_tail(self, num_lines=100):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.readlines()[-num_lines:]
        except OSError:
            return []
