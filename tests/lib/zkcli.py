"""Drives Apache's Java shell, zkCli.sh, and turns its output into comparable transcripts.

A session feeds commands on standard input (zkCli.sh runs them one by one, synchronously)
and ends with `quit`, so the session is closed and its ephemerals go at once. Stdout and
stderr are read through one pipe: zkCli.sh prints results on stdout and confirmations such
as "Created /x" on stderr, and both streams flush per line, so the order is kept.
"""

import re
import subprocess
from dataclasses import dataclass, field

ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
SESSION_BOUND_S = 90

# Lines that say nothing about the server: the banner and the JVM's logging warnings.
_BANNER = re.compile(
    r"^(SLF4J: .*|Connecting to 127\.\d+\.\d+\.\d+:\d+|Welcome to ZooKeeper!|JLine support is .*)$"
)
_EVENT = re.compile(r"^WatchedEvent state:(\w+) type:(\w+) path:(\S+)$")
_STAT_ZXID = re.compile(r"^(cZxid|mZxid|pZxid) = 0x([0-9a-f]+)$")
_STAT_OWNER = re.compile(r"^ephemeralOwner = 0x([0-9a-f]+)$")
_STAT_TIME = re.compile(r"^(ctime|mtime) = (.*)$")
# java.util.Date.toString(): "Sun Nov 22 04:23:30 UTC 2026".
_JAVA_DATE = re.compile(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} \S+ \d{4}$")
EPOCH = "Thu Jan 01 00:00:00 UTC 1970"


@dataclass
class Transcript:
    """What one zkCli.sh session printed, split into command output and watch events."""

    raw: str
    lines: list = field(default_factory=list)
    # (state, type, path) of every WatchedEvent other than the connection's own.
    events: list = field(default_factory=list)
    # zxid values in order of first appearance, as integers.
    zxids: list = field(default_factory=list)
    sessions: list = field(default_factory=list)

    def normalized(self):
        """The lines with values that may differ between servers replaced by stable names.

        Each distinct zxid becomes <zxid:N> and each session id <session:N>, numbered by first
        appearance, so equalities (cZxid == mZxid after a create) survive normalization.
        Times become <time> after a format check; the root's epoch time is kept.
        """
        zxid_names, session_names, out = {}, {}, []
        for line in self.lines:
            m = _STAT_ZXID.match(line)
            if m and m.group(2) != "0":
                name = zxid_names.setdefault(m.group(2), "<zxid:%d>" % (len(zxid_names) + 1))
                out.append("%s = %s" % (m.group(1), name))
                continue
            m = _STAT_OWNER.match(line)
            if m and m.group(1) != "0":
                name = session_names.setdefault(
                    m.group(1), "<session:%d>" % (len(session_names) + 1)
                )
                out.append("ephemeralOwner = %s" % name)
                continue
            m = _STAT_TIME.match(line)
            if m and m.group(2) != EPOCH:
                if not _JAVA_DATE.match(m.group(2)):
                    raise AssertionError("malformed %s in zkCli output: %r" % (m.group(1), line))
                out.append("%s = <time>" % m.group(1))
                continue
            out.append(line)
        return out


def parse(raw):
    """Splits raw zkCli.sh output into a Transcript.

    The client's event thread prints each watch event as two lines, "\nWATCHER::" and
    "\nWatchedEvent ...", each in a single write, at any point between the main thread's
    lines. Both, with the blank line each starts with, are taken out of the line sequence;
    events other than the connection's own are kept apart.
    """
    t = Transcript(raw=raw)
    for line in raw.splitlines():
        if _BANNER.match(line):
            continue
        m = _EVENT.match(line)
        if line == "WATCHER::" or m:
            if t.lines and t.lines[-1] == "":
                t.lines.pop()
            if m and m.group(2) != "None":
                t.events.append(m.groups())
            continue
        t.lines.append(line)
        m = _STAT_ZXID.match(line)
        if m and m.group(2) != "0" and int(m.group(2), 16) not in t.zxids:
            t.zxids.append(int(m.group(2), 16))
        m = _STAT_OWNER.match(line)
        if m and m.group(1) != "0" and int(m.group(1), 16) not in t.sessions:
            t.sessions.append(int(m.group(1), 16))
    return t


def session(port, commands, timeout=SESSION_BOUND_S, host="127.0.0.1"):
    """Runs one zkCli.sh session with these commands against host:port and returns its
    Transcript."""
    script = "".join(c + "\n" for c in commands) + "quit\n"
    try:
        proc = subprocess.run(
            [ZKCLI, "-server", "%s:%d" % (host, port)],
            input=script,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        raise AssertionError(
            "zkCli.sh session did not end within %ss; output so far:\n%s"
            % (timeout, e.output)
        )
    # zkCli.sh exits with 1 when the command before `quit` failed ("Node does not exist"
    # and the like), which the tests check through the output instead.
    if proc.returncode not in (0, 1):
        raise AssertionError(
            "zkCli.sh exited with %d; output:\n%s" % (proc.returncode, proc.stdout)
        )
    return parse(proc.stdout)
