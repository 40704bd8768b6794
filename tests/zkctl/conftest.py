"""Fixtures for the zkctl suite: zkctl runs in the test bed's controller namespace against
booted Debian hosts with sshd and systemd, exactly as an operator runs it against servers."""

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "testbed"))

from testbed import Bed  # noqa: E402

ZKCTL = Path(os.environ.get("ZKCTL_BIN", REPO / "target" / "release" / "zkctl"))


def inventory(bed, path, hosts, *, known_hosts=None, identity=None, extra="", policy="strict", observers=()):
    lines = [
        "[ensemble]",
        'name = "e2e"',
        "tick_time = 500",
        "[ensemble.extra]",
        '"4lw.commands.whitelist" = "*"',
        extra,
        "[ssh]",
        'user = "root"',
        'identity = "%s"' % (identity or bed.ssh_key),
        "agent = false",
        'known_hosts = "%s"' % (known_hosts or bed.known_hosts),
        'host_key_policy = "%s"' % policy,
        'connect_timeout = "3s"',
    ]
    for i in hosts:
        lines += [
            "[[hosts]]",
            'name = "zk%d"' % i,
            'address = "10.77.0.%d"' % (10 + i),
            "myid = %d" % i,
        ]
        if i in observers:
            lines.append('role = "observer"')
    Path(path).write_text("\n".join(lines) + "\n")
    return path


def zkctl(bed, *args, timeout=300):
    return bed.run_in_controller([str(ZKCTL), *map(str, args)], check=False, timeout=timeout)


@pytest.fixture(scope="module")
def bed3():
    if os.geteuid() != 0:
        pytest.skip("the nspawn test bed needs root")
    if not ZKCTL.exists():
        pytest.fail("no zkctl at %s (cargo build --release)" % ZKCTL)
    with Bed.up("zkctl3", hosts=3) as bed:
        yield bed
