"""testbed.py down --all: every bed, and whatever crashed runs left without state."""

import os
import shutil
import subprocess
from pathlib import Path

import tb_cgroup
import tb_net
from tb_bed import NETNS_PREFIX, STATE_ROOT, Bed, BedError
from tb_proc import file_lock, kill_pid, mounts_under


def down_all(log=print):
    """Takes down every bed under STATE_ROOT, then whatever crashed runs left behind
    without usable state: nspawns, cgroups, netns, mounts, /etc/netns entries, dirs."""
    problems = []
    names = (
        sorted(p.name for p in STATE_ROOT.iterdir() if p.is_dir()) if STATE_ROOT.is_dir() else []
    )
    for name in names:
        try:
            bed = Bed.attach(name)
        except BedError:
            continue  # state lost or half written: the sweep below removes what it made
        try:
            bed.down()
            log("testbed: bed %s is down" % name)
        except BedError as e:
            problems.append(str(e))
    for pid in _nspawn_pids_under(STATE_ROOT):
        log("testbed: killing leftover systemd-nspawn %d" % pid)
        kill_pid(pid)
    stuck = tb_cgroup.kill("")
    if stuck:
        problems.append("processes %s survive SIGKILL" % sorted(stuck))
    problems += ["cannot remove cgroup " + d for d in tb_cgroup.remove("")]
    for ns in tb_net.netns_names():
        if ns.startswith(NETNS_PREFIX):
            log("testbed: removing leftover netns %s" % ns)
            for pid in tb_net.netns_pids(ns):
                kill_pid(pid)
            tb_net.netns_del(ns)
    for point in mounts_under(STATE_ROOT):
        log("testbed: unmounting leftover %s" % point)
        done = subprocess.run(["umount", point], capture_output=True, text=True)
        if done.returncode != 0:
            problems.append("umount %s: %s" % (point, done.stderr.strip()))
    for etc in Path("/etc/netns").glob(NETNS_PREFIX + "*"):
        shutil.rmtree(etc, ignore_errors=True)
    if problems:
        raise BedError("not everything is down: " + "; ".join(problems))
    if STATE_ROOT.is_dir():
        for leftover in STATE_ROOT.iterdir():
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
        for lock in STATE_ROOT.glob(".*.lock"):
            with file_lock(lock, blocking=False) as held:
                if held:  # not a bed being brought up or down right now
                    lock.unlink(missing_ok=True)


def _nspawn_pids_under(root):
    """Pids of systemd-nspawn processes whose container directory is below root."""
    prefix = "--directory=%s/" % root
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if os.path.basename(argv[0]) == "systemd-nspawn" and any(
            a.startswith(prefix) for a in argv
        ):
            found.append(int(entry.name))
    return found
