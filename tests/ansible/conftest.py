"""Fixtures for the Ansible suite: ansible-playbook (from tests/.venv) runs ansible/site.yml in
the test bed's controller namespace against three booted Debian hosts, as an operator runs it
against servers."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "testbed"))

from testbed import Bed  # noqa: E402

VENV_BIN = REPO / "tests" / ".venv" / "bin"
PLAYBOOK = REPO / "ansible" / "site.yml"
ZKCTL = Path(os.environ.get("ZKCTL_BIN", REPO / "target" / "release" / "zkctl"))
BINARY_DIR = Path(os.environ["ZKD_BIN"]).parent if os.environ.get("ZKD_BIN") else REPO / "target" / "release"
HOSTS = ["zk1", "zk2", "zk3"]
PLAY_BOUND_S = 600


def address(host):
    return "10.77.0.%d" % (10 + int(host[2:]))


def write_inventory(bed, path, myids, group_vars=None):
    """An inventory of zk1..zk3 with the given zkd_myid per host (None: not set)."""
    ssh_args = " ".join(
        [
            "-F /dev/null",
            "-o IdentitiesOnly=yes",
            "-o UserKnownHostsFile=%s" % bed.known_hosts,
            "-o GlobalKnownHostsFile=/dev/null",
            "-o StrictHostKeyChecking=yes",
        ]
    )
    lines = [
        "---",
        "all:",
        "  children:",
        "    zkd:",
        "      vars:",
        "        ansible_user: root",
        "        ansible_ssh_private_key_file: %s" % bed.ssh_key,
        "        ansible_ssh_common_args: '%s'" % ssh_args,
        "        ansible_python_interpreter: /usr/bin/python3",
        "        zkd_ensemble_name: e2e",
        "        zkd_tick_time: 500",
        "        zkd_binary_dir: %s" % BINARY_DIR,
    ]
    for key, value in (group_vars or {}).items():
        lines.append("        %s: %s" % (key, value))
    lines.append("      hosts:")
    for host in HOSTS:
        lines += ["        %s:" % host, "          ansible_host: %s" % address(host)]
        if myids.get(host) is not None:
            lines.append("          zkd_myid: %s" % myids[host])
    Path(path).write_text("\n".join(lines) + "\n")
    return path


class Playbook:
    """Runs ansible-playbook with its state (control sockets, temp files) kept in a private
    directory, so nothing from ~/.ansible or an earlier run leaks in."""

    def __init__(self, bed, home):
        self.bed = bed
        self.home = Path(home)
        # ssh's control socket path must stay short (sun_path is 108 bytes).
        self.sockets = Path(tempfile.mkdtemp(prefix="ans-cp-", dir="/tmp"))

    def env(self):
        env = dict(os.environ)
        env.update(
            {
                "PATH": "%s:%s" % (VENV_BIN, env.get("PATH", "/usr/bin:/bin")),
                "ANSIBLE_HOME": str(self.home / "home"),
                "ANSIBLE_LOCAL_TEMP": str(self.home / "tmp"),
                "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.sockets),
                "ANSIBLE_HOST_KEY_CHECKING": "True",
                "ANSIBLE_RETRY_FILES_ENABLED": "False",
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_STDOUT_CALLBACK": "default",
            }
        )
        # Only the settings above: no ansible.cfg from the environment (the repository has
        # none where the playbook runs).
        env.pop("ANSIBLE_CONFIG", None)
        return env

    def run(self, inventory, *extra):
        argv = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOK), *map(str, extra)]
        return self.bed.run_in_controller(argv, check=False, timeout=PLAY_BOUND_S, env=self.env(), cwd=REPO)

    def close(self):
        shutil.rmtree(self.sockets, ignore_errors=True)


def recap(done):
    """{host: {ok, changed, unreachable, failed, ...}} from the PLAY RECAP."""
    out = {}
    for m in re.finditer(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$", done.stdout, re.M):
        out[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return out


@pytest.fixture(scope="module")
def bed():
    if os.geteuid() != 0:
        pytest.skip("the nspawn test bed needs root")
    for tool in ("ansible-playbook", "ansible-lint"):
        if not (VENV_BIN / tool).exists():
            pytest.fail("no %s in tests/.venv (tests/install-deps.sh installs it)" % tool)
    for binary in (BINARY_DIR / "zkd", ZKCTL):
        if not binary.exists():
            pytest.fail("no %s (cargo build --release)" % binary)
    with Bed.up("ansbl", hosts=3) as b:
        yield b


@pytest.fixture(scope="module")
def playbook(bed, tmp_path_factory):
    p = Playbook(bed, tmp_path_factory.mktemp("ansible"))
    yield p
    p.close()


def zkctl(bed, *args, timeout=120):
    return bed.run_in_controller([str(ZKCTL), *map(str, args)], check=False, timeout=timeout)


def run_local(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, **kwargs)
