"""Fixtures for the systemd suite: one nspawn bed of three booted Debian hosts (systemd as
PID 1, sshd), with the release zkd, its units, sysusers and tmpfiles installed on each, the
way the packages install them. See tests/README.md, "The nspawn test bed"."""

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "testbed"))

import tb_bed  # noqa: E402

ZKD_BIN = Path(os.environ.get("ZKD_BIN", REPO / "target" / "release" / "zkd"))
UNITS = REPO / "systemd"


def install(bed, host):
    bed.copy_in(host, ZKD_BIN, "/usr/bin/zkd")
    bed.copy_in(host, UNITS / "zkd.service", "/usr/lib/systemd/system/zkd.service")
    bed.copy_in(host, UNITS / "zkd@.service", "/usr/lib/systemd/system/zkd@.service")
    bed.copy_in(host, UNITS / "zkd.sysusers", "/usr/lib/sysusers.d/zkd.conf")
    bed.copy_in(host, UNITS / "zkd.tmpfiles", "/usr/lib/tmpfiles.d/zkd.conf")
    bed.ssh(
        host,
        "chmod 755 /usr/bin/zkd && systemd-sysusers && systemd-tmpfiles --create "
        "&& systemctl daemon-reload",
    )


@pytest.fixture(scope="session")
def bed():
    if os.geteuid() != 0:
        pytest.skip("the nspawn test bed needs root")
    if not ZKD_BIN.exists():
        pytest.fail("no zkd binary at %s (cargo build --release -p zkd)" % ZKD_BIN)
    with tb_bed.Bed.up("zkdsd", hosts=3) as b:
        for h in ("zk1", "zk2", "zk3"):
            install(b, h)
        yield b


@pytest.fixture
def fresh(bed):
    """Every host with zkd stopped, no drop-ins, no data and no config."""

    def reset():
        for h in ("zk1", "zk2", "zk3"):
            bed.ssh(
                h,
                "systemctl stop zkd 'zkd@*' 2>/dev/null; systemctl reset-failed zkd 2>/dev/null; "
                "rm -rf /etc/systemd/system/zkd.service.d /var/lib/zkd/* /etc/zkd/*; "
                "systemctl daemon-reload; journalctl --rotate -q; journalctl --vacuum-time=1s -q",
                check=False,
            )

    reset()
    yield bed
    reset()
