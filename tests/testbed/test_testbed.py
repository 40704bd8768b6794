"""Smoke suite of the nspawn test bed: hosts boot with systemd and answer SSH, reach each
other and nothing else, copies land, faults do what they say, and down() leaves nothing.
Needs root; run by tests/run-all.sh --suite testbed."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tb_bed
import tb_cgroup
import tb_net
import tb_proc
from testbed import Bed, BedError

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the test bed needs root"),
    # The first test may build the image (debootstrap, about a minute).
    pytest.mark.timeout(600),
]

TESTBED = Path(__file__).with_name("testbed.py")
HOSTS = ("zk1", "zk2", "zk3")
# Asks the kernel to connect; prints "ok" or the errno's name (TimeoutError for silence).
CONNECT = (
    "import errno, socket, sys\n"
    "try:\n"
    "    addr = (sys.argv[1], int(sys.argv[2]))\n"
    "    socket.create_connection(addr, timeout=float(sys.argv[3])).close()\n"
    "    print('ok')\n"
    "except socket.timeout:\n"
    "    print('TimeoutError')\n"
    "except OSError as e:\n"
    "    print(errno.errorcode.get(e.errno, str(e)))\n"
)
# Silence (no answer) or an ARP failure: both are what a host off the network gives.
UNREACHABLE = ("TimeoutError", "EHOSTUNREACH")


def alive(pid):
    """Whether pid runs (a zombie waiting for its parent to reap it does not)."""
    return tb_proc.start_time(pid) is not None


def connect_from_host(bed, host, addr, port, timeout=2):
    return bed.ssh(host, ["python3", "-c", CONNECT, addr, str(port), str(timeout)]).stdout.strip()


def connect_from_netns(netns, addr, port, timeout=2):
    argv = [
        "ip",
        "netns",
        "exec",
        netns,
        sys.executable,
        "-c",
        CONNECT,
        addr,
        str(port),
        str(timeout),
    ]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


def bed_name(prefix):
    """prefix-PID; beds of earlier runs of this suite whose process is gone are taken down."""
    for state in tb_bed.STATE_ROOT.glob(prefix + "-*"):
        m = re.fullmatch(re.escape(prefix) + r"-(\d+)", state.name)
        if m and not Path("/proc", m.group(1)).exists():
            Bed.attach(state.name).down()
    return "%s-%d" % (prefix, os.getpid())


@pytest.fixture(scope="module")
def bed(record_testsuite_property):
    with Bed.up(bed_name("smoke"), hosts=len(HOSTS)) as b:
        record_testsuite_property("testbed_up_seconds_3_hosts", b.boot_seconds)
        print("3-host bed booted in %s s" % b.boot_seconds)
        yield b


def test_hosts_boot_systemd_and_answer_ssh(bed):
    for name in HOSTS:
        out = bed.ssh(
            name, "hostname; cat /proc/1/comm; systemctl is-system-running", check=False
        ).stdout.split()
        assert out[:2] == [name, "systemd"]
        assert out[2] in ("running", "degraded"), "%s: system state %s" % (name, out[2])


def test_each_host_has_its_own_identity(bed):
    ids = {bed.ssh(h, "cat /etc/machine-id").stdout.strip() for h in HOSTS}
    assert len(ids) == len(HOSTS)
    keys = [line.split()[2] for line in bed.known_hosts.read_text().splitlines()]
    assert len(set(keys)) == len(HOSTS)
    # Host names resolve in the controller (for zkctl's and Ansible's inventories).
    out = bed.run_in_controller(["getent", "hosts", "zk2"]).stdout.split()
    assert out == ["10.77.0.12", "zk2"]


def test_hosts_reach_each_other_on_the_bed_network(bed):
    for src in HOSTS:
        for dst in HOSTS:
            if dst != src:
                assert connect_from_host(bed, src, bed.host(dst).ip, 22) == "ok", (src, dst)
    assert connect_from_netns(bed.controller_netns, bed.host("zk3").ip, 22) == "ok"


def test_nothing_outside_the_bed_is_reachable(bed):
    for name in HOSTS:
        assert "default" not in bed.ssh(name, "ip route").stdout
        assert connect_from_host(bed, name, "1.1.1.1", 53) == "ENETUNREACH"
    assert "default" not in bed.run_in_controller(["ip", "route"]).stdout
    assert connect_from_netns(bed.controller_netns, "1.1.1.1", 53) == "ENETUNREACH"


def test_copy_in_and_out(bed, tmp_path):
    tool = tmp_path / "tool.sh"
    tool.write_text("#!/bin/sh\necho tool ran on $(hostname)\n")
    tool.chmod(0o750)
    tree = tmp_path / "conf"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "a.cfg").write_text("a=1\n")
    bed.copy_in("zk2", tool, "/usr/local/bin/tool")
    bed.copy_in("zk2", tree, "/etc/conf")
    assert bed.ssh("zk2", "tool").stdout == "tool ran on zk2\n"
    assert bed.ssh("zk2", "stat -c %a /usr/local/bin/tool").stdout.strip() == "750"
    assert bed.ssh("zk2", "cat /etc/conf/sub/a.cfg").stdout == "a=1\n"
    assert bed.ssh("zk1", "test -e /usr/local/bin/tool", check=False).returncode == 1
    bed.copy_out("zk2", "/etc/conf/sub/a.cfg", tmp_path / "back.cfg")
    assert (tmp_path / "back.cfg").read_text() == "a=1\n"
    with pytest.raises(BedError, match="scp"):
        bed.copy_in("zk2", tmp_path / "missing", "/tmp/x")


def test_cut_host_is_unreachable_until_healed(bed):
    cut = bed.host("zk2")
    bed.cut("zk2")
    try:
        assert bed.status()["hosts"][1]["cut"] is True
        assert bed.ssh("zk2", "true", check=False, connect_timeout=2).returncode == 255
        assert connect_from_host(bed, "zk1", cut.ip, 22) in UNREACHABLE
        assert connect_from_netns(cut.netns, bed.host("zk3").ip, 22) in UNREACHABLE
    finally:
        bed.heal("zk2")
    assert bed.status()["hosts"][1]["cut"] is False
    assert bed.ssh("zk2", "hostname").stdout.strip() == "zk2"
    assert connect_from_host(bed, "zk1", cut.ip, 22) == "ok"


def test_killed_host_is_gone_and_boots_again_with_its_disk(bed):
    bed.ssh("zk3", "echo before-the-crash > /var/lib/marker && sync")
    inside = tb_cgroup.pids(bed.host("zk3").cgroup)
    assert len(inside) > 3  # nspawn, systemd, journald, sshd, ...
    bed.kill_host("zk3")
    assert [p for p in inside if alive(p)] == []
    assert bed.status()["hosts"][2]["running"] is False
    assert bed.ssh("zk3", "true", check=False, connect_timeout=2).returncode == 255
    assert connect_from_host(bed, "zk1", bed.host("zk3").ip, 22) in UNREACHABLE
    with pytest.raises(BedError, match="zk3"):
        bed.ssh("zk3", "true", connect_timeout=2)
    bed.start_host("zk3")
    assert bed.ssh("zk3", "cat /var/lib/marker").stdout == "before-the-crash\n"
    assert bed.ssh("zk3", "systemctl is-system-running", check=False).stdout.strip() in (
        "running",
        "degraded",
    )


def test_cli_status_and_ssh(bed):
    status = json.loads(
        subprocess.run(
            [sys.executable, TESTBED, "status", bed.name],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert [h["ip"] for h in status["hosts"]] == ["10.77.0.11", "10.77.0.12", "10.77.0.13"]
    assert all(h["running"] and not h["cut"] for h in status["hosts"])
    assert Path(status["ssh_key"]).is_file() and Path(status["known_hosts"]).is_file()
    out = subprocess.run(
        [sys.executable, TESTBED, "ssh", bed.name, "zk1", "--", "echo", "$(hostname)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == "zk1\n"
    bad = subprocess.run(
        [sys.executable, TESTBED, "ssh", bed.name, "zk9", "--", "true"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "no host 'zk9'" in bad.stderr


def test_bad_requests_are_refused_clearly(bed):
    with pytest.raises(BedError, match="exists already"):
        Bed.up(bed.name, hosts=1)
    with pytest.raises(BedError, match="bad bed name"):
        Bed.up("Has Spaces", hosts=1)
    with pytest.raises(BedError, match="1 to 20 hosts"):
        Bed.up("x", hosts=0)
    with pytest.raises(BedError, match="no bed"):
        Bed.attach("never-made")


def test_down_leaves_no_netns_mounts_processes_or_state(bed):
    other = Bed.up(bed_name("smoke2"), hosts=2)
    try:
        # The same addresses in another bed, without disturbing the first one.
        assert other.ssh("zk1", "hostname -I").stdout.split() == ["10.77.0.11"]
        pids = set()
        for h in other.hosts:
            pids |= tb_cgroup.pids(h.cgroup)
        namespaces = [other.switch_netns, other.controller_netns] + [h.netns for h in other.hosts]
        assert set(namespaces) <= set(tb_net.netns_names())
    finally:
        other.down()
    assert not set(namespaces) & set(tb_net.netns_names())
    assert tb_proc.mounts_under(other.dir) == []
    assert [p for p in pids if alive(p)] == []
    assert not other.dir.exists()
    assert not Path("/etc/netns", other.controller_netns).exists()
    assert all(not d.exists() for h in other.hosts for d in tb_cgroup.group_dirs(h.cgroup))
    assert bed.ssh("zk1", "hostname").stdout.strip() == "zk1"  # the first bed is untouched
