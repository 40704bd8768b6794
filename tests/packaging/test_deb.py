"""The .deb, linted and then installed for real: apt in a booted Debian 12 host of the test bed
(systemd as PID 1), zkCli.sh from the controller, an upgrade that must not restart zkd,
remove and purge that must keep the data. The tests run in file order on one host: each
starts from the state the one before left."""

import re
import subprocess

import pytest

from conftest import DATA, PACKAGED_FILES, REPO

ZKCLI = "/usr/share/zookeeper/bin/zkCli.sh"
ADDRESS = "10.77.0.11"
APT = "DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0"

# Building the packages (the first test that needs them) and apt in a booted host take
# longer than pytest.ini's default bound.
pytestmark = pytest.mark.timeout(600)


def sh(host, command, check=True, timeout=120):
    return host.ssh("zk1", command, check=check, timeout=timeout)


def zkcli(host, commands):
    """Runs zkCli.sh in the controller netns against the host's client port."""
    done = host.run_in_controller(
        [ZKCLI, "-server", "%s:2181" % ADDRESS],
        input="".join(c + "\n" for c in commands) + "quit\n",
        timeout=90,
        check=False,
    )
    return done.stdout + done.stderr


def main_pid(host):
    return int(sh(host, "systemctl show -p MainPID --value zkd").stdout)


# -- lint -------------------------------------------------------------------------------


def lintian(*args):
    return subprocess.run(["lintian", *args], capture_output=True, text=True, timeout=300)


def test_lintian_reports_no_errors_or_warnings(packages):
    done = lintian("--fail-on", "error,warning", str(packages.deb))
    assert done.returncode == 0, "lintian:\n" + done.stdout + done.stderr
    assert not re.findall(r"^[EW]: .*$", done.stdout, re.M), done.stdout
    # Every override that fires is one of ours, written down with its reason.
    shown = lintian("--no-tag-display-limit", "--show-overrides", str(packages.deb)).stdout
    overridden = {l.split()[2] for l in shown.splitlines() if l.startswith("O: ")}
    assert overridden <= overrides_with_reasons(), shown


def overrides_with_reasons():
    """Tags in packaging/debian/lintian-overrides; each must follow a comment giving why."""
    tags, reason = set(), False
    for line in (REPO / "packaging/debian/lintian-overrides").read_text().splitlines():
        if line.startswith("#"):
            reason = True
        elif line.strip():
            assert reason, "override without a reason above it: " + line
            tags.add(line.split()[1])
            reason = False
    return tags


def test_control_fields_are_computed_and_complete(packages):
    fields = subprocess.run(
        ["dpkg-deb", "--field", str(packages.deb)], capture_output=True, text=True, check=True
    ).stdout
    depends = re.search(r"^Depends: (.*)$", fields, re.M).group(1)
    # dpkg-shlibdeps' answer from the binaries themselves: libc with a version floor.
    assert re.search(r"\blibc6 \(>= 2\.\d+\)", depends), depends
    assert "systemd" in depends
    conffiles = subprocess.run(
        ["dpkg-deb", "--ctrl-tarfile", str(packages.deb)], capture_output=True, check=True
    ).stdout
    assert b"/etc/zkd/zoo.cfg" in conffiles


def test_contents(packages):
    listing = subprocess.run(
        ["dpkg-deb", "--contents", str(packages.deb)], capture_output=True, text=True, check=True
    ).stdout
    entries = {}
    for line in listing.splitlines():
        mode, owner, *_, path = line.split()
        entries[path.lstrip(".")] = (mode, owner)
    want = dict(PACKAGED_FILES)
    want.update({
        "/usr/share/zsh/vendor-completions/_zkd": DATA,
        "/usr/share/zsh/vendor-completions/_zkctl": DATA,
        "/usr/share/doc/zkd/copyright": DATA,
        "/usr/share/doc/zkd/changelog.Debian.gz": DATA,
    })
    for path, mode in want.items():
        assert path in entries, "%s missing from the .deb:\n%s" % (path, listing)
        assert entries[path] == (mode, "0/0"), (path, entries[path])
    # Data is the admin's: nothing under /var/lib/zkd belongs to the package.
    assert not [p for p in entries if p.startswith("/var/lib/zkd")]


# -- install, upgrade, remove, purge in a booted host --------------------------------------


def test_install_starts_a_standalone_server_that_systemd_reports_ready(host, packages):
    done = sh(host, "%s install /root/%s 2>&1" % (APT, packages.deb.name), timeout=300)
    assert "Setting up zkd (0.1.0-1)" in done.stdout, done.stdout
    assert sh(host, "systemctl is-active zkd").stdout.strip() == "active"
    assert sh(host, "systemctl is-enabled zkd").stdout.strip() == "enabled"
    status = sh(host, "systemctl show -p StatusText --value zkd").stdout
    assert status.startswith("mode=standalone"), status
    srvr = sh(host, "zkctl 4lw srvr").stdout
    assert "Mode: standalone" in srvr, srvr
    ids = sh(host, "id -u zkd; id -g zkd").stdout.split()
    stat = sh(host, "stat -c '%a %u %g' /etc/zkd /var/lib/zkd /var/lib/zkd/version-2").stdout.split("\n")
    assert stat[0] == "750 0 %s" % ids[1], stat
    assert stat[1] == "750 %s %s" % (ids[0], ids[1]), stat
    assert stat[2].split()[1:] == ids, stat
    sh(host, "test -s /usr/share/man/man1/zkd.1.gz -a -s /usr/share/bash-completion/completions/zkd")


def test_zkcli_connects(host):
    out = zkcli(host, ["create /mydata helloworld", "get /mydata"])
    assert "Created /mydata" in out, out
    assert "\nhelloworld\n" in out, out


def test_upgrade_keeps_the_edit_and_the_running_process(host, packages):
    sh(host, "sed -i 's/^maxClientCnxns=60$/maxClientCnxns=61/' /etc/zkd/zoo.cfg")
    pid = main_pid(host)
    inode = sh(host, "stat -c %i /usr/bin/zkd").stdout.strip()
    done = sh(host, "%s install /root/%s 2>&1" % (APT, packages.deb_upgrade.name), timeout=300)
    assert "Setting up zkd (0.1.0-2)" in done.stdout, done.stdout
    assert "was NOT restarted" in done.stdout, done.stdout
    assert sh(host, "dpkg-query -W -f '${Version}' zkd").stdout == "0.1.0-2"
    assert "maxClientCnxns=61" in sh(host, "cat /etc/zkd/zoo.cfg").stdout
    assert not sh(host, "ls /etc/zkd").stdout.count("dpkg-")
    # The same process serves on, and runs the old binary: the new one replaced the file.
    assert main_pid(host) == pid
    assert sh(host, "systemctl show -p NRestarts --value zkd").stdout.strip() == "0"
    assert sh(host, "stat -c %i /usr/bin/zkd").stdout.strip() != inode
    assert sh(host, "readlink /proc/%d/exe" % pid).stdout.strip() == "/usr/bin/zkd (deleted)"
    assert "helloworld" in zkcli(host, ["get /mydata"])


def test_remove_stops_zkd_and_keeps_config_data_and_user(host):
    done = sh(host, "%s remove zkd 2>&1" % APT, timeout=300)
    assert "kept" in done.stdout, done.stdout
    assert sh(host, "systemctl is-active zkd", check=False).stdout.strip() == "inactive"
    assert not sh(host, "test -e /usr/bin/zkd", check=False).returncode == 0
    assert "maxClientCnxns=61" in sh(host, "cat /etc/zkd/zoo.cfg").stdout
    assert sh(host, "ls /var/lib/zkd/version-2").stdout.split()
    assert sh(host, "id zkd", check=False).returncode == 0


def test_purge_removes_config_and_user_and_keeps_the_data(host):
    done = sh(host, "%s purge zkd 2>&1" % APT, timeout=300)
    assert "/var/lib/zkd is kept" in done.stdout, done.stdout
    assert sh(host, "test -e /etc/zkd", check=False).returncode != 0
    assert sh(host, "id zkd", check=False).returncode != 0
    assert sh(host, "getent group zkd", check=False).returncode != 0
    assert sh(host, "ls /var/lib/zkd/version-2").stdout.split()
    assert sh(host, "dpkg-query -W -f '${Status}' zkd", check=False).stdout in ("", "unknown ok not-installed")


def test_reinstall_after_purge_serves_the_kept_data(host, packages):
    sh(host, "%s install /root/%s 2>&1" % (APT, packages.deb.name), timeout=300)
    assert sh(host, "systemctl is-active zkd").stdout.strip() == "active"
    # A new zkd user (its id may differ); systemd hands the kept StateDirectory to it.
    assert "helloworld" in zkcli(host, ["get /mydata"])


def test_an_ensemble_config_is_enabled_but_not_started_on_install(host, packages):
    sh(host, "%s purge zkd 2>&1; rm -rf /var/lib/zkd" % APT, timeout=300)
    sh(host, "mkdir -p /etc/zkd && printf '%s' > /etc/zkd/zoo.cfg" % (
        "tickTime=2000\\ninitLimit=10\\nsyncLimit=5\\ndataDir=/var/lib/zkd\\nclientPort=2181\\n"
        "server.1=10.77.0.11:2888:3888\\nserver.2=10.77.0.12:2888:3888\\nserver.3=10.77.0.13:2888:3888\\n"))
    done = sh(
        host,
        "%s -o Dpkg::Options::=--force-confold install /root/%s 2>&1" % (APT, packages.deb.name),
        timeout=300,
    )
    assert "describes an ensemble" in done.stdout, done.stdout
    assert sh(host, "systemctl is-enabled zkd").stdout.strip() == "enabled"
    assert sh(host, "systemctl is-active zkd", check=False).stdout.strip() == "inactive"
    assert "server.3=" in sh(host, "cat /etc/zkd/zoo.cfg").stdout

