"""zkd processes as the durability tests handle them: started through tests/lib/servers.sh,
killed with SIGKILL, run in the foreground for starts that must fail, and their logs read.
"""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from kazoo.client import KazooClient

import zktarget

ZKD_BIN = Path(os.environ.get("ZKD_BIN", zktarget.REPO / "target" / "release" / "zkd"))
# Bounds for things that take well under a second when zkd is healthy.
KILL_BOUND_S = 10
FOREGROUND_BOUND_S = 20
CONNECT_BOUND_S = 15

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def strip_ansi(text):
    return _ANSI.sub("", text)


class Zkd(zktarget.ManagedServer):
    """A zkd in run_dir()/name with what the durability tests do to it."""

    @property
    def data_dir(self):
        return self.dir / "data"

    @property
    def version2(self):
        """Where snapshots are: <dataDir>/version-2."""
        return self.data_dir / "version-2"

    @property
    def log_version2(self):
        """Where logs are: <dataLogDir>/version-2, dataLogDir defaulting to dataDir."""
        for line in self.config_lines:
            if line.startswith("dataLogDir="):
                return Path(line.split("=", 1)[1]) / "version-2"
        return self.version2

    @property
    def config_path(self):
        return self.dir / "zoo.cfg"

    def restart(self):
        """Starts again on the same dataDir; raises ServerError with the log's end."""
        self.start(keep_data=True)

    def kill(self):
        """SIGKILL, then waits until the process is gone: nothing gets to flush or sync."""
        pid = self.pid()
        assert pid is not None, "%s is not running; end of its log:\n%s" % (
            self.name,
            "".join(self.log_tail(30)),
        )
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + KILL_BOUND_S
        while self.pid() is not None:
            if time.monotonic() > deadline:
                raise AssertionError(
                    "%s (pid %d) survived SIGKILL for %ds" % (self.name, pid, KILL_BOUND_S)
                )
            time.sleep(0.01)

    def log_text(self):
        """This run's server.log without colour codes (servers.sh rewrites it at each start)."""
        try:
            return strip_ansi(self.log_path.read_text(errors="replace"))
        except OSError:
            return ""

    def log_problems(self):
        """ERROR lines and panics of this run's log: a healthy crash and restart has none."""
        return [
            line for line in self.log_text().splitlines() if " ERROR " in line or "panicked" in line
        ]

    def run_foreground(self, config_path=None, bound=FOREGROUND_BOUND_S):
        """Runs zkd on this (or another) zoo.cfg and returns its CompletedProcess, for starts
        that must fail. One that serves instead is killed and fails the test."""
        cmd = [str(ZKD_BIN), "--config", str(config_path or self.config_path)]
        try:
            return subprocess.run(
                cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=bound
            )
        except subprocess.TimeoutExpired as e:
            raise AssertionError(
                "zkd did not exit within %ds (it should have refused to start); stderr:\n%s"
                % (bound, strip_ansi((e.stderr or b"").decode(errors="replace")))
            )


def connect(port, timeout=10.0, **kwargs):
    """A started kazoo client on 127.0.0.1:port (timeout is the session timeout, s)."""
    kwargs.setdefault("connection_retry", {"max_tries": 3, "delay": 0.1, "max_delay": 1})
    zk = KazooClient(hosts="127.0.0.1:%d" % port, timeout=timeout, **kwargs)
    zk.start(timeout=CONNECT_BOUND_S)
    return zk


def close_quietly(zk):
    """Stops and frees a client, its server alive or not (then calls still pending fail)."""
    try:
        zk.stop()
    finally:
        zk.close()


def single_line(stderr):
    """The one line a refused start prints; fails unless stderr is exactly one line."""
    lines = strip_ansi(stderr).splitlines()
    assert len(lines) == 1, "expected exactly one line on stderr, got %d:\n%s" % (
        len(lines),
        stderr,
    )
    return lines[0]
