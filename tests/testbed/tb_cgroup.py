"""One cgroup per host, in every hierarchy systemd uses (cgroup2 and, on hybrid machines,
the v1 name=systemd one).

systemd-nspawn --keep-unit puts the container into "payload" below the cgroup it was
started in. Started from the same cgroup, two hosts would share one payload group and
their systemds would manage each other's units (stopping ssh.service on one would kill
the other's sshd). So each host's nspawn starts inside a group of its own, which also
lets the bed kill everything a host ran, however it was started.
"""

import os
import signal
import time
from pathlib import Path

ROOT = "zkd-testbed"


def hierarchies():
    """Mount points of the cgroup2 hierarchy and of a v1 name=systemd one, if mounted."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            mount_root, mount_point = left.split()[3:5]
            fstype, _source, options = (right.split() + ["", "", ""])[:3]
            if mount_root != "/":
                continue  # a sub-tree mounted elsewhere; the machine's own mount is enough
            if fstype == "cgroup2" or (fstype == "cgroup" and "name=systemd" in options.split(",")):
                found.append(Path(mount_point))
    return found


def group_dirs(rel):
    """The group's directory in each hierarchy (they may not exist)."""
    return [h / ROOT / rel for h in hierarchies()]


def create(rel):
    """Creates the group everywhere; returns the cgroup.procs files a process joins by."""
    procs = []
    for d in group_dirs(rel):
        d.mkdir(parents=True, exist_ok=True)
        procs.append(str(d / "cgroup.procs"))
    return procs


def pids(rel):
    """Every process in the group or below it, in any hierarchy."""
    found = set()
    for d in group_dirs(rel):
        if not d.is_dir():
            continue
        for procs in d.rglob("cgroup.procs"):
            try:
                found.update(int(p) for p in procs.read_text().split())
            except OSError:
                pass  # the group went away while we walked it
    return found


def kill(rel, timeout=10.0):
    """SIGKILLs everything in the group until it is empty; returns the pids still there
    after timeout (processes stuck in the kernel), normally none."""
    deadline = time.monotonic() + timeout
    while True:
        left = pids(rel)
        if not left or time.monotonic() > deadline:
            return left
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def remove(rel):
    """Removes the group's directories, deepest first; returns those that stayed (busy)."""
    stayed = []
    for d in group_dirs(rel):
        if not d.is_dir():
            continue
        for sub in sorted((p for p in d.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            _rmdir(sub, stayed)
        _rmdir(d, stayed)
    return stayed


def remove_if_empty(rel):
    """Removes a parent group once its children are gone; a busy one stays silently."""
    for d in group_dirs(rel):
        try:
            d.rmdir()
        except OSError:
            pass


def _rmdir(path, stayed):
    try:
        path.rmdir()
    except FileNotFoundError:
        pass
    except OSError:
        stayed.append(str(path))
