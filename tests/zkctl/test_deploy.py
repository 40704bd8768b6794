"""zkctl check/deploy/status against three (and five) booted hosts over SSH: one command
deploys an ensemble with exactly one leader, a second changes and restarts nothing, a config
change rolls with the leader last, a lost leader shows in status, and SSH trouble (unknown or
changed host key, wrong key, unreachable host) stops with a clear message before any change."""

import re
import shutil

from conftest import inventory, zkctl
from testbed import Bed


def start_stamps(bed, hosts):
    return {
        h: bed.ssh(h, "systemctl show -p ActiveEnterTimestampMonotonic --value zkd").stdout.strip()
        for h in hosts
    }


def test_check_deploy_status_redeploy_and_rolling_change(bed3, tmp_path):
    bed = bed3
    hosts = ["zk1", "zk2", "zk3"]
    inv = inventory(bed, tmp_path / "inv.toml", [1, 2, 3])
    check = zkctl(bed, "check", inv)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "all 3 hosts ready for deploy" in check.stdout

    first = zkctl(bed, "deploy", inv)
    assert first.returncode == 0, first.stdout + first.stderr[-3000:]
    assert len(re.findall(r"\bleader\b", first.stdout.split("quorum:")[0])) >= 1
    leaders = [l for l in first.stdout.splitlines() if l.startswith("*")]
    assert len(leaders) == 1, first.stdout
    assert "healthy" in first.stdout
    for h in hosts:
        etc_hosts = bed.ssh(h, "cat /etc/hosts").stdout
        assert "# BEGIN zkctl e2e" in etc_hosts and "10.77.0.12 zk2" in etc_hosts, etc_hosts
        assert bed.ssh(h, "cat /var/lib/zkd/myid").stdout.strip() == h[2:]

    status = zkctl(bed, "status", inv)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "survives 1 more failure" in status.stdout
    assert "mode=leader" in status.stdout  # the unit's STATUS line, over SSH

    before = start_stamps(bed, hosts)
    again = zkctl(bed, "deploy", inv)
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    assert again.stdout.count("nothing (up to date)") == 3, again.stdout
    assert start_stamps(bed, hosts) == before, "an unchanged deploy restarted something"

    # A zoo.cfg change: every member restarts, one at a time, the leader last.
    leader = re.search(r"^\*\s+(zk\d)", first.stdout, re.M).group(1)
    inventory(bed, inv, [1, 2, 3], extra="maxClientCnxns = 100")
    rolled = zkctl(bed, "deploy", inv)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr[-3000:]
    order = re.findall(r"^(zk\d): restarting", rolled.stderr, re.M)
    assert sorted(order) == hosts and order[-1] == leader, rolled.stderr
    for h in hosts:
        assert "maxClientCnxns=100" in bed.ssh(h, "cat /etc/zkd/zoo.cfg").stdout

    # The leader's host goes down: status names the new leader, and no more failures.
    new = zkctl(bed, "status", inv)
    current = re.search(r"^\*\s+(zk\d)", new.stdout, re.M).group(1)
    bed.kill_host(current)
    try:
        deadline_status = None
        for _ in range(40):
            deadline_status = zkctl(bed, "status", inv, "--timeout", "1", timeout=60)
            if "survives 0 more failures" in deadline_status.stdout and re.search(r"^\*\s+(zk\d)", deadline_status.stdout, re.M):
                break
        assert "survives 0 more failures" in deadline_status.stdout, deadline_status.stdout
        assert re.search(r"^\*\s+(zk\d)", deadline_status.stdout, re.M).group(1) != current
        assert deadline_status.returncode != 0, "a member down is not healthy"
    finally:
        bed.start_host(current)


def test_unknown_or_changed_host_keys_and_wrong_keys_stop_before_any_change(bed3, tmp_path):
    bed = bed3
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    inv = inventory(bed, tmp_path / "a.toml", [1, 2, 3], known_hosts=empty)
    out = zkctl(bed, "deploy", inv)
    assert out.returncode != 0
    assert "unknown host key SHA256:" in out.stdout + out.stderr
    assert "nothing was changed" in out.stderr
    # accept-new records them and goes on.
    inv = inventory(bed, tmp_path / "b.toml", [1, 2, 3], known_hosts=empty, policy="accept-new")
    out = zkctl(bed, "check", inv)
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(empty.read_text().splitlines()) == 3
    # A changed key for zk2 is refused even under accept-new.
    lines = empty.read_text().splitlines()
    other = [l for l in lines if not l.startswith("10.77.0.12 ")][0].split(" ", 1)[1]
    empty.write_text("\n".join([l for l in lines if not l.startswith("10.77.0.12 ")] + ["10.77.0.12 " + other]) + "\n")
    out = zkctl(bed, "check", inv)
    assert out.returncode != 0 and "HOST KEY MISMATCH" in out.stdout, out.stdout
    # A key the hosts do not accept.
    wrong = tmp_path / "wrong_key"
    bed.run_in_controller(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)])
    inv = inventory(bed, tmp_path / "c.toml", [1, 2, 3], identity=wrong)
    out = zkctl(bed, "check", inv)
    assert out.returncode != 0 and "authentication as root refused" in out.stdout, out.stdout


def test_an_unreachable_host_fails_its_check_within_the_timeout(bed3, tmp_path):
    bed = bed3
    inv = inventory(bed, tmp_path / "inv.toml", [1, 2, 3])
    bed.cut("zk3")
    try:
        out = zkctl(bed, "deploy", inv, timeout=60)
        assert out.returncode != 0
        assert re.search(r"zk3\s+FAIL\s+reachable", out.stdout), out.stdout
        assert "nothing was changed" in out.stderr
    finally:
        bed.heal("zk3")


def test_five_hosts_with_an_observer(tmp_path):
    import os

    import pytest

    if os.geteuid() != 0:
        pytest.skip("the nspawn test bed needs root")
    with Bed.up("zkctl5", hosts=5) as bed:
        inv = inventory(bed, tmp_path / "inv.toml", [1, 2, 3, 4, 5], observers=(5,))
        out = zkctl(bed, "deploy", inv)
        assert out.returncode == 0, out.stdout + out.stderr[-3000:]
        rows = {m.group(1): m.group(2) for m in re.finditer(r"^\*?\s+(zk\d)\s+\S+\s+\d\s+(\w+)", out.stdout, re.M)}
        assert rows["zk5"] == "observer", out.stdout
        assert sorted(rows.values()).count("leader") == 1, out.stdout
        assert "survives 1 more failure" in out.stdout, out.stdout
