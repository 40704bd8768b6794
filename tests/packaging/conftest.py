"""Fixtures for the packaging suite: the .deb and .rpm built by packaging/build.sh, twice
(revision 1, and revision 2 as the "newer build" an upgrade installs), a booted Debian host
of the nspawn test bed to install the .deb into, and a scratch root for the .rpm."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "testbed"))

import tb_image  # noqa: E402
from packages import BuildError  # noqa: E402
from packages import build as built_packages  # noqa: E402
from testbed import Bed  # noqa: E402

EXEC, DATA = "-rwxr-xr-x", "-rw-r--r--"
# What both formats install, with its mode (owner root); each test adds its format's own.
PACKAGED_FILES = {
    "/usr/bin/zkd": EXEC,
    "/usr/bin/zkctl": EXEC,
    "/usr/lib/systemd/system/zkd.service": DATA,
    "/usr/lib/systemd/system/zkd@.service": DATA,
    "/usr/lib/sysusers.d/zkd.conf": DATA,
    "/usr/lib/tmpfiles.d/zkd.conf": DATA,
    "/etc/zkd/zoo.cfg": DATA,
    "/usr/share/man/man1/zkd.1.gz": DATA,
    "/usr/share/man/man1/zkd-purge.1.gz": DATA,
    "/usr/share/man/man1/zkctl.1.gz": DATA,
    "/usr/share/man/man1/zkctl-deploy.1.gz": DATA,
    "/usr/share/bash-completion/completions/zkd": DATA,
    "/usr/share/bash-completion/completions/zkctl": DATA,
    "/usr/share/fish/vendor_completions.d/zkd.fish": DATA,
    "/usr/share/fish/vendor_completions.d/zkctl.fish": DATA,
    "/usr/share/doc/zkd/README.md": DATA,
}


@pytest.fixture(scope="session")
def packages():
    try:
        return built_packages()
    except BuildError as e:
        pytest.fail(str(e))


def _need_root():
    if os.geteuid() != 0:
        pytest.skip("installing packages into test-bed hosts and scratch roots needs root")


@pytest.fixture(scope="module")
def host(packages):
    """A booted Debian 12 host (systemd, sshd) with both .deb files copied to /root."""
    _need_root()
    with Bed.up("pkgdeb", hosts=1) as bed:
        bed.copy_in("zk1", packages.deb, "/root/")
        bed.copy_in("zk1", packages.deb_upgrade, "/root/")
        yield bed


@pytest.fixture(scope="module")
def scratch_root():
    """A writable copy (overlayfs) of the test bed's Debian root fs with /proc mounted, as
    image builders (mock, dnf --installroot) give rpm: its scriptlets run chrooted there."""
    _need_root()
    image = tb_image.ensure_image(log=lambda *a: None)
    with tempfile.TemporaryDirectory(prefix="zkd-rpmroot-") as tmp:
        tmp = Path(tmp)
        upper, work, root = tmp / "upper", tmp / "work", tmp / "root"
        for d in (upper, work, root):
            d.mkdir()
        subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o",
             "lowerdir=%s,upperdir=%s,workdir=%s" % (image, upper, work), str(root)],
            check=True,
        )
        try:
            subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
            try:
                subprocess.run(["rpm", "--root", str(root), "--initdb"], check=True)
                yield root
            finally:
                subprocess.run(["umount", str(root / "proc")], check=False)
        finally:
            subprocess.run(["umount", str(root)], check=False)
