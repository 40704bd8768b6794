"""Drives cli_mt, the multithreaded C client shell from Debian's zookeeper-bin.

cli_mt issues most commands asynchronously and prints each result later from its completion
thread, so `run` follows every command with `sync /` and waits for the sync's result: a
session's completions arrive in request order, so everything the command printed comes
before it. cli_mt prints on stderr (results, watch events) and stdout (`myid`), both read
through one pipe; stdbuf makes its stdout line-buffered so the two keep their order.
"""

import re
import subprocess
import threading
import time

CLI_MT = "/usr/lib/zookeeper/bin/cli_mt"
EXIT_BOUND_S = 60
SETTLE_S = 2.0
EXPECT_BOUND_S = 20

# The C library's own log lines: "2026-11-22 04:22:25,342:19224(0x7f..):ZOO_ERROR@...".
_LIB_LOG = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+:\d+\(0x[0-9a-f]+\):ZOO_")
# cli_mt's "time = N msec" lines time the client, not the server.
_TIMING = re.compile(r"^time = -?\d+ msec$")
# Watch and session events come from the client's event thread, at any point.
_EVENT = re.compile(r"^Watcher (\w+) state = (\w+)(?: for path (.*))?$")
_BARRIER = ["[/]: rc = 0", "\tname = /"]

# dumpStat's lines: ctime_r() dates, hex zxids and versions.
_STAT_LINES = [
    re.compile(r"^\tctime = (?P<ctime>.+)$"),
    re.compile(r"^\tczxid=(?P<czxid>[0-9a-f]+)$"),
    re.compile(r"^\tmtime=(?P<mtime>.+)$"),
    re.compile(r"^\tmzxid=(?P<mzxid>[0-9a-f]+)$"),
    re.compile(r"^\tversion=(?P<version>[0-9a-f]+)\taversion=(?P<aversion>[0-9a-f]+)$"),
    re.compile(r"^\tephemeralOwner = (?P<ephemeralOwner>[0-9a-f]+)$"),
]
_CTIME = re.compile(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}$")


def parse_stat(lines):
    """Parses the six lines of a dumpStat; returns a dict of ints (times stay text)."""
    if len(lines) != len(_STAT_LINES):
        raise AssertionError("a cli_mt Stat has %d lines, got: %r" % (len(_STAT_LINES), lines))
    stat = {}
    for regex, line in zip(_STAT_LINES, lines):
        m = regex.match(line)
        if not m:
            raise AssertionError("cli_mt Stat line %r does not match %s" % (line, regex.pattern))
        stat.update(m.groupdict())
    for key in ("ctime", "mtime"):
        if not _CTIME.match(stat[key]):
            raise AssertionError("cli_mt Stat %s is not a ctime_r() date: %r" % (key, stat[key]))
    for key in ("czxid", "mzxid", "version", "aversion", "ephemeralOwner"):
        stat[key] = int(stat[key], 16)
    return stat


class CliMt:
    """One cli_mt process connected to 127.0.0.1:port; use as a context manager."""

    def __init__(self, port):
        self.port = port
        self.lines = []
        self.events = []
        self.lib_log = []
        self._cursor = 0
        self._cond = threading.Condition()
        self._eof = False
        self.proc = subprocess.Popen(
            ["stdbuf", "-oL", CLI_MT, "127.0.0.1:%d" % port],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        m = self.expect(r"Got a new session id: 0x([0-9a-f]+)")
        self.session_id = int(m.group(1), 16)
        self.expect_event(("SESSION_EVENT", "CONNECTED_STATE", None))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            with self._cond:
                m = _EVENT.match(line)
                if m:
                    self.events.append(m.groups())
                elif _LIB_LOG.match(line):
                    self.lib_log.append(line)
                elif not _TIMING.match(line):
                    self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _fail(self, what, timeout):
        return AssertionError(
            "cli_mt: %s within %ss%s\ntranscript:\n%s\nevents: %r\nC library log:\n%s"
            % (
                what,
                timeout,
                " (cli_mt exited)" if self._eof else "",
                "\n".join(self.lines),
                self.events,
                "\n".join(self.lib_log),
            )
        )

    def send(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def expect(self, pattern, timeout=EXPECT_BOUND_S):
        """Waits for a line after the cursor that fully matches pattern; moves past it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                while self._cursor < len(self.lines):
                    line = self.lines[self._cursor]
                    self._cursor += 1
                    m = regex.fullmatch(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    raise self._fail("no line matching %r" % pattern, timeout)
                self._cond.wait(left)

    def expect_event(self, event, timeout=EXPECT_BOUND_S):
        """Waits until the (type, state, path) event has been printed, and consumes it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while event not in self.events:
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    raise self._fail("no event %r" % (event,), timeout)
                self._cond.wait(left)
            self.events.remove(event)

    def run(self, command):
        """Sends a command and returns every line it printed (events apart)."""
        with self._cond:
            start = self._cursor
        self.send(command)
        self.send("sync /")
        self.expect(re.escape(_BARRIER[0]))
        self.expect(re.escape(_BARRIER[1]))
        with self._cond:
            out = self.lines[start : self._cursor]
        if out[-2:] != _BARRIER:
            raise AssertionError("cli_mt: sync barrier interleaved with output: %r" % out)
        return out[:-2]

    def wait_exit(self, timeout=EXIT_BOUND_S, settle=SETTLE_S):
        """Waits for cli_mt to exit on its own (after an auth failure, say).

        Its main thread notices the shutdown only when its read of stdin returns, so stdin
        is closed first, but only after `settle` seconds: after an auth failure or expiry
        cli_mt's watcher closes the handle itself, on the C library's completion thread,
        and only then clears it. Closing stdin earlier makes the main thread close the
        same handle at the same time, a race in cli_mt that can hang it (seen on a loaded
        machine). The bound is generous too: the test is about the exit, not its speed.
        """
        time.sleep(settle)
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise self._fail("cli_mt did not exit", timeout)

    def close(self, bound=10):
        """Quits cli_mt (closing its session); kills it if it does not exit in time."""
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(bound)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(bound)
        self._reader.join(bound)
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except (BrokenPipeError, OSError):
                pass
