"""Small system helpers of the test bed: commands, processes, mounts."""

import fcntl
import os
import shlex
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path

# nspawn keeps per-machine state here and fails to clean it up on a plain /run.
NSPAWN_RUN = Path("/run/systemd/nspawn")


class BedError(RuntimeError):
    """A bed operation failed; the message says which host and step, and why."""


def run(argv):
    """Runs argv; its stdout, or BedError with its exit code and stderr."""
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise BedError("%s: exit %d: %s" % (shlex.join(argv), done.returncode, done.stderr.strip()))
    return done.stdout


def start_time(pid):
    """Start time of pid in clock ticks since boot, or None if it is gone or a zombie."""
    try:
        stat = Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def kill_pid(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def mounts_under(path):
    """Mount points at or below path, deepest first."""
    prefix = str(path).rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == str(path) or point.startswith(prefix):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def is_mounted(path):
    return str(path) in mounts_under(path)


def ensure_nspawn_run():
    if not is_mounted(NSPAWN_RUN):
        NSPAWN_RUN.mkdir(parents=True, exist_ok=True)
        run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", str(NSPAWN_RUN)])


@contextmanager
def file_lock(path, blocking=True):
    """An exclusive flock on path, yielding True once held (False: busy, not blocking).
    Its holder may unlink path; a waiter that then gets the lock of the unlinked file
    retries on the file now at path, so two processes never both hold "the" lock."""
    while True:
        f = open(path, "a")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            f.close()
            yield False
            return
        try:
            current = os.stat(path).st_ino == os.fstat(f.fileno()).st_ino
        except FileNotFoundError:
            current = False
        if current:
            break
        f.close()
    try:
        yield True
    finally:
        f.close()
