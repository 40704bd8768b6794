#!/usr/bin/env python3
"""The nspawn test bed: booted Debian hosts (systemd as PID 1, sshd) on a private
network, for tests of zkd under systemd, zkctl over SSH and the Ansible role.

    testbed.py image                        build the cached root fs (once)
    testbed.py up NAME --hosts N            boot zk1..zkN, print the bed as JSON
    testbed.py status NAME                  the bed as JSON, with running/cut per host
    testbed.py ssh NAME HOST [-- CMD...]    ssh from the controller netns (a shell without CMD)
    testbed.py cp NAME HOST SRC DST         copy a local file or directory into a host
    testbed.py controller NAME -- CMD...    run CMD in the controller netns
    testbed.py kill-host NAME HOST          power loss (SIGKILL); start-host boots it again
    testbed.py cut NAME HOST / heal NAME HOST   its bridge port down / up
    testbed.py down NAME | --all            power off and remove everything

Python: from testbed import Bed; with Bed.up("t1", hosts=3) as bed: bed.ssh("zk1", "uname -a").
Needs root, systemd-container, debootstrap, iproute2 and openssh-client (tests/install-deps.sh).
"""

import argparse
import json
import os
import sys

from tb_bed import BOOT_TIMEOUT_S, STATE_ROOT, Bed, BedError
from tb_cleanup import down_all
from tb_image import ImageError, ensure_image, image_path
from tb_net import NetError

__all__ = ["Bed", "BedError", "ImageError", "NetError", "down_all", "ensure_image", "image_path"]


def _parser():
    p = argparse.ArgumentParser(
        prog="testbed.py", description="The zkd nspawn test bed (see tests/README.md)."
    )
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("image", help="build the cached Debian root fs unless it is there")
    up = sub.add_parser("up", help="create bed NAME and boot its hosts")
    up.add_argument("name")
    up.add_argument("--hosts", type=int, default=3, help="number of hosts zk1..zkN (default 3)")
    up.add_argument(
        "--controller",
        action="store_true",
        help="accepted for scripts that spell it out: every bed has its controller netns",
    )
    up.add_argument(
        "--boot-timeout", type=float, default=BOOT_TIMEOUT_S, help="seconds (default %(default)s)"
    )
    for name, text in (("status", "the bed as JSON"),):
        sub.add_parser(name, help=text).add_argument("name")
    down = sub.add_parser("down", help="power off and remove bed NAME (or every bed: --all)")
    down.add_argument("name", nargs="?")
    down.add_argument("--all", action="store_true", help="every bed, and leftovers of crashed runs")
    ssh = sub.add_parser("ssh", help="ssh into HOST as root (CMD after --)")
    ssh.add_argument("name")
    ssh.add_argument("host")
    ssh.add_argument("cmd", nargs=argparse.REMAINDER)
    cp = sub.add_parser("cp", help="copy local SRC to DST on HOST")
    for arg in ("name", "host", "src", "dst"):
        cp.add_argument(arg)
    ctl = sub.add_parser("controller", help="run CMD in the controller netns")
    ctl.add_argument("name")
    ctl.add_argument("cmd", nargs=argparse.REMAINDER)
    for name, text in (
        ("kill-host", "SIGKILL HOST's nspawn and everything in it"),
        ("start-host", "boot a killed HOST again"),
        ("cut", "take HOST's bridge port down"),
        ("heal", "bring HOST's bridge port up again"),
    ):
        fault = sub.add_parser(name, help=text)
        fault.add_argument("name")
        fault.add_argument("host")
    return p


def _strip_dashes(cmd):
    return cmd[1:] if cmd[:1] == ["--"] else cmd


def main(argv=None):
    args = _parser().parse_args(argv)
    if os.geteuid() != 0:
        print("testbed: needs root (mounts, network namespaces, systemd-nspawn)", file=sys.stderr)
        return 2
    log = lambda line: print(line, file=sys.stderr)  # noqa: E731 (stdout is for JSON)
    try:
        return _dispatch(args, log)
    except (BedError, ImageError, NetError) as e:
        print("testbed: error: %s" % e, file=sys.stderr)
        return 1


def _dispatch(args, log):
    c = args.command
    if c == "image":
        print(ensure_image(log))
        return 0
    if c == "up":
        bed = Bed.up(args.name, hosts=args.hosts, boot_timeout=args.boot_timeout, log=log)
        print(json.dumps(bed.describe(), indent=2))
        return 0
    if c == "down":
        if args.all == bool(args.name):
            raise BedError("down takes a bed NAME or --all")
        if args.all:
            down_all(log)
        elif not (STATE_ROOT / args.name).exists():
            log("testbed: no bed %s; nothing to take down" % args.name)
        else:
            Bed.attach(args.name).down()
        return 0
    bed = Bed.attach(args.name)
    if c == "status":
        print(json.dumps(bed.status(), indent=2))
    elif c == "ssh":
        # Words joined with spaces, as ssh(1) joins them: the remote shell parses them.
        cmd = " ".join(_strip_dashes(args.cmd))
        argv = bed.ssh_argv(args.host, cmd or None, tty=not cmd and sys.stdin.isatty())
        os.execvp(argv[0], argv)
    elif c == "controller":
        cmd = _strip_dashes(args.cmd)
        if not cmd:
            raise BedError("controller needs a command after --")
        argv = bed.controller_argv(cmd)
        os.execvp(argv[0], argv)
    elif c == "cp":
        bed.copy_in(args.host, args.src, args.dst)
    elif c == "kill-host":
        bed.kill_host(args.host)
    elif c == "start-host":
        bed.start_host(args.host)
    elif c == "cut":
        bed.cut(args.host)
    elif c == "heal":
        bed.heal(args.host)
    return 0


if __name__ == "__main__":
    sys.exit(main())
