"""zkd processes as the durability tests handle them: started through tests/lib/servers.sh,
killed with SIGKILL, run in the foreground for starts that must fail, and their logs read.
"""

import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from kazoo.client import KazooClient

import zktarget

ZKD_BIN = Path(os.environ.get("ZKD_BIN", zktarget.REPO / "target" / "release" / "zkd"))
# Bounds for things that take well under a second when zkd is healthy.
KILL_BOUND_S = 10
FOREGROUND_BOUND_S = 8
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

    def kill_during_start(self, delay):
        """Starts zkd on the same dataDir and SIGKILLs it `delay` seconds later, most likely
        while it recovers (cutting a torn tail, writing its start-up snapshot)."""
        with open(self.dir / "killed-start.log", "ab") as log:
            proc = subprocess.Popen(
                [str(ZKD_BIN), "--config", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
            time.sleep(delay)
            proc.kill()
            proc.wait(timeout=KILL_BOUND_S)

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
        """Runs zkd on this (or another) zoo.cfg, for starts that must fail: returns its
        CompletedProcess once it exits. One that serves instead (its client port answers)
        is killed, and fails the test with what it logged."""
        config_path = Path(config_path or self.config_path)
        port = int(re.search(r"^clientPort=(\d+)", config_path.read_text(), re.M).group(1))
        cmd = [str(ZKD_BIN), "--config", str(config_path)]
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
            deadline = time.monotonic() + bound
            serving = False
            while proc.poll() is None and not serving and time.monotonic() < deadline:
                time.sleep(0.05)
                serving = port_open(port)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
                err.seek(0)
                raise AssertionError(
                    "zkd %s instead of refusing to start; its log:\n%s"
                    % (
                        "served clients" if serving else "did not exit within %ds" % bound,
                        strip_ansi(err.read().decode(errors="replace")),
                    )
                )
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(
                cmd,
                proc.returncode,
                out.read().decode(errors="replace"),
                err.read().decode(errors="replace"),
            )


def port_open(port):
    """Whether something accepts connections on 127.0.0.1:port."""
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


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
