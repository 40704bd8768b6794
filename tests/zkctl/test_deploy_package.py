"""zkctl deploy --package: the same ensemble from the project's .deb on three fresh booted
hosts (apt installs it; the standalone server its postinst starts is replaced by the member),
a redeploy that changes nothing, and an upgraded package that reaches every member through
the rolling restart, the leader last."""

import os
import re

import pytest

from conftest import inventory, zkctl
from packages import BuildError
from packages import build as build_packages
from testbed import Bed


@pytest.fixture(scope="module")
def packages():
    try:
        return build_packages()
    except BuildError as e:
        pytest.fail(str(e))


def installed_version(bed, host):
    return bed.ssh(host, "dpkg-query -W -f '${Version}' zkd", check=False).stdout


@pytest.mark.timeout(600)
def test_deploy_installs_the_package_and_upgrades_it_rolling(packages, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the nspawn test bed needs root")
    hosts = ["zk1", "zk2", "zk3"]
    with Bed.up("zkctlpkg", hosts=3) as bed:
        inv = inventory(bed, tmp_path / "inv.toml", [1, 2, 3])
        first = zkctl(bed, "deploy", inv, "--package", packages.deb)
        assert first.returncode == 0, first.stdout + first.stderr[-3000:]
        assert len([l for l in first.stdout.splitlines() if l.startswith("*")]) == 1, first.stdout
        for h in hosts:
            assert installed_version(bed, h) == "0.1.0-1"
            # The package's own files, zkctl's configuration.
            assert bed.ssh(h, "dpkg -S /usr/bin/zkd").stdout.startswith("zkd:")
            assert "server.3=" in bed.ssh(h, "cat /etc/zkd/zoo.cfg").stdout
            assert bed.ssh(h, "cat /var/lib/zkd/myid").stdout.strip() == h[2:]

        again = zkctl(bed, "deploy", inv, "--package", packages.deb)
        assert again.returncode == 0, again.stdout + again.stderr[-3000:]
        assert again.stdout.count("nothing (up to date)") == 3, again.stdout
        assert "restarting" not in again.stderr

        leader = re.search(r"^\*\s+(zk\d)", again.stdout, re.M).group(1)
        pids = {h: bed.ssh(h, "systemctl show -p MainPID --value zkd").stdout.strip() for h in hosts}
        upgraded = zkctl(bed, "deploy", inv, "--package", packages.deb_upgrade)
        assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr[-3000:]
        order = re.findall(r"^(zk\d): restarting", upgraded.stderr, re.M)
        assert sorted(order) == hosts and order[-1] == leader, upgraded.stderr
        for h in hosts:
            assert installed_version(bed, h) == "0.1.0-2"
            pid = bed.ssh(h, "systemctl show -p MainPID --value zkd").stdout.strip()
            assert pid != pids[h]
            # The running process is the new binary, not the replaced one.
            assert bed.ssh(h, "readlink /proc/%s/exe" % pid).stdout.strip() == "/usr/bin/zkd"
