"""ansible/site.yml against three fresh booted Debian hosts: ansible-lint's production profile,
bad myids refused before any host is touched, an ensemble with exactly one leader (seen by the
role and by zkctl status), a second run that changes nothing, a changed setting rolled through
the members with the leader last, and the same hosts moved onto the project's .deb. The tests
run in file order on one bed; each starts from the state the one before left."""

import re

import pytest

from conftest import HOSTS, REPO, VENV_BIN, address, recap, run_local, write_inventory, zkctl
from packages import BuildError
from packages import build as build_packages

MYIDS = {"zk1": 1, "zk2": 2, "zk3": 3}


def zkctl_inventory(bed, path, extra=""):
    """The same ensemble as an inventory.toml, for zkctl status and zkctl's own zoo.cfg."""
    lines = [
        "[ensemble]",
        'name = "e2e"',
        "tick_time = 500",
        "[ensemble.extra]",
        '"4lw.commands.whitelist" = ["conf", "isro", "mntr", "ruok", "srvr"]',
        "autopurge.purgeInterval = 24",
        extra,
        "[ssh]",
        'user = "root"',
        'identity = "%s"' % bed.ssh_key,
        "agent = false",
        'known_hosts = "%s"' % bed.known_hosts,
    ]
    for host, myid in MYIDS.items():
        lines += ["[[hosts]]", 'name = "%s"' % host, 'address = "%s"' % address(host), "myid = %d" % myid]
    path.write_text("\n".join(lines) + "\n")
    return path


def untouched(bed):
    """No host has anything of zkd."""
    for host in HOSTS:
        done = bed.ssh(host, "ls /etc/zkd /usr/bin/zkd /usr/lib/systemd/system/zkd.service", check=False)
        assert done.returncode != 0 and not done.stdout.strip(), (host, done.stdout)


def main_pids(bed):
    return {h: bed.ssh(h, "systemctl show -p MainPID --value zkd").stdout.strip() for h in HOSTS}


def leader_by_srvr(bed):
    leaders = [
        h for h in HOSTS
        if "Mode: leader" in bed.ssh(h, "zkctl 4lw srvr --server %s:2181" % address(h), check=False).stdout
    ]
    assert len(leaders) == 1, leaders
    return leaders[0]


def test_ansible_lint_production_profile_is_clean(tmp_path):
    done = run_local(
        [str(VENV_BIN / "ansible-lint"), "--profile", "production"],
        cwd=REPO / "ansible",
        env={"PATH": "%s:/usr/bin:/bin" % VENV_BIN, "HOME": str(tmp_path), "NO_COLOR": "1"},
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "Profile 'production' was required, and it passed" in out, out


@pytest.mark.parametrize(
    "myids, message",
    [
        ({"zk1": 1, "zk2": None, "zk3": 3}, "zk2: zkd_myid is not set"),
        ({"zk1": 1, "zk2": 2, "zk3": 2}, "zkd_myid must be unique"),
        ({"zk1": 1, "zk2": 256, "zk3": 3}, "zk2: zkd_myid is 256; it must be a whole number from 1 to 255"),
        ({"zk1": 1, "zk2": "two", "zk3": 3}, "zk2: zkd_myid is two"),
    ],
)
def test_a_bad_myid_fails_before_any_host_is_touched(bed, playbook, tmp_path, myids, message):
    done = playbook.run(write_inventory(bed, tmp_path / "inv.yml", myids))
    out = re.sub(r"\s+", " ", done.stdout + done.stderr)
    assert done.returncode != 0, done.stdout
    assert message in out, done.stdout
    # The first play ran on the controller alone; the deploy play never began.
    assert "PLAY [Deploy zkd]" not in done.stdout, done.stdout
    untouched(bed)


@pytest.mark.timeout(600)
def test_the_playbook_brings_up_an_ensemble_with_one_leader(bed, playbook, tmp_path):
    done = playbook.run(write_inventory(bed, tmp_path / "inv.yml", MYIDS))
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr
    assert all(recap(done)[h]["failed"] == 0 for h in HOSTS), recap(done)
    assert re.search(r"zk\d leads; every other member follows or observes", done.stdout), done.stdout
    status = zkctl(bed, "status", zkctl_inventory(bed, tmp_path / "inv.toml"))
    assert status.returncode == 0, status.stdout + status.stderr
    assert len([l for l in status.stdout.splitlines() if l.startswith("*")]) == 1, status.stdout
    leader_by_srvr(bed)
    for host in HOSTS:
        assert bed.ssh(host, "cat /var/lib/zkd/myid").stdout == "%d\n" % MYIDS[host]
        assert bed.ssh(host, "stat -c '%a %U %G' /etc/zkd/zoo.cfg").stdout.strip() == "640 root zkd"
        etc_hosts = bed.ssh(host, "cat /etc/hosts").stdout
        assert "# BEGIN zkctl e2e" in etc_hosts and "10.77.0.12 zk2\n" in etc_hosts, etc_hosts
        # The loopback line that named the host itself no longer does.
        for line in etc_hosts.splitlines():
            if line.startswith("127."):
                assert host not in line.split()[1:], etc_hosts


def test_zoo_cfg_means_what_zkctl_writes(bed, tmp_path):
    """The role's template and zkctl's renderer give the same configuration: both files read
    back through zkd's parser render identically."""
    inv = zkctl_inventory(bed, tmp_path / "inv.toml")
    for host in HOSTS:
        role_cfg = tmp_path / ("%s-role.cfg" % host)
        role_cfg.write_text(bed.ssh(host, "cat /etc/zkd/zoo.cfg").stdout)
        ours = run_local([str(REPO / "target/release/zkctl"), "validate", str(inv), "--zoo-cfg", host])
        assert ours.returncode == 0, ours.stderr
        zkctl_cfg = tmp_path / ("%s-zkctl.cfg" % host)
        zkctl_cfg.write_text(ours.stdout)
        canon = [
            run_local([str(REPO / "target/release/zkctl"), "check-config", str(p), "--render"])
            for p in (role_cfg, zkctl_cfg)
        ]
        assert canon[0].returncode == 0, canon[0].stdout + canon[0].stderr
        assert canon[0].stdout == canon[1].stdout, (canon[0].stdout, canon[1].stdout)


@pytest.mark.timeout(600)
def test_a_second_run_changes_nothing(bed, playbook, tmp_path):
    before = main_pids(bed)
    done = playbook.run(write_inventory(bed, tmp_path / "inv.yml", MYIDS))
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr
    counts = recap(done)
    assert all(counts[h]["changed"] == 0 for h in HOSTS), counts
    assert main_pids(bed) == before


@pytest.mark.timeout(600)
def test_a_changed_setting_rolls_through_the_members_leader_last(bed, playbook, tmp_path):
    leader = leader_by_srvr(bed)
    before = main_pids(bed)
    inv = write_inventory(bed, tmp_path / "inv.yml", MYIDS, {"zkd_max_client_cnxns": 100})
    done = playbook.run(inv)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr
    order = re.findall(r"^(?:TASK|RUNNING HANDLER) \[zkd : Restart zkd on (zk\d)\]", done.stdout, re.M)
    assert sorted(order) == HOSTS and order[-1] == leader, (order, leader, done.stdout[-8000:])
    after = main_pids(bed)
    assert all(after[h] != before[h] for h in HOSTS), (before, after)
    for host in HOSTS:
        assert "maxClientCnxns=100" in bed.ssh(host, "cat /etc/zkd/zoo.cfg").stdout
    # Each member came back before the next went down: the leader's restart came last.
    stamps = {
        h: int(bed.ssh(h, "systemctl show -p ActiveEnterTimestampMonotonic --value zkd").stdout)
        for h in HOSTS
    }
    assert max(stamps, key=stamps.get) == leader, stamps
    again = playbook.run(inv)
    assert all(recap(again)[h]["changed"] == 0 for h in HOSTS), recap(again)


@pytest.mark.timeout(600)
def test_the_same_hosts_move_onto_the_package(bed, playbook, tmp_path):
    try:
        packages = build_packages()
    except BuildError as e:
        pytest.fail(str(e))
    group_vars = {
        "zkd_max_client_cnxns": 100,
        "zkd_install_method": "package",
        "zkd_package_file": packages.deb,
    }
    inv = write_inventory(bed, tmp_path / "inv.yml", MYIDS, group_vars)
    leader = leader_by_srvr(bed)
    done = playbook.run(inv)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr
    for host in HOSTS:
        assert bed.ssh(host, "dpkg-query -W -f '${Version}' zkd").stdout == "0.1.0-1"
        assert bed.ssh(host, "dpkg -S /usr/bin/zkd").stdout.startswith("zkd:")
        # The package kept the role's zoo.cfg (confold), not its standalone default.
        assert "server.3=" in bed.ssh(host, "cat /etc/zkd/zoo.cfg").stdout
    order = re.findall(r"^(?:TASK|RUNNING HANDLER) \[zkd : Restart zkd on (zk\d)\]", done.stdout, re.M)
    assert sorted(order) == HOSTS and order[-1] == leader, (order, leader, done.stdout[-8000:])
    again = playbook.run(inv)
    assert again.returncode == 0, again.stdout[-6000:]
    assert all(recap(again)[h]["changed"] == 0 for h in HOSTS), recap(again)
    status = zkctl(bed, "status", zkctl_inventory(bed, tmp_path / "inv.toml", "maxClientCnxns = 100"))
    assert status.returncode == 0, status.stdout + status.stderr
