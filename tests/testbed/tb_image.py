"""The test bed's Debian root file system: built once with debootstrap, cached, shared
read-only by every host (each host is an overlay on top of it).

The cache key hashes everything that decides the image's contents (suite, variant,
packages, RECIPE_VERSION for the customisation below), so changing any of them builds a
new image beside the old one instead of reusing a stale one. A build runs into a
temporary directory under the cache lock and is renamed into place only once complete,
so an interrupted build is never used; the next build removes its remains.
"""

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

CACHE_DIR = Path(os.environ.get("ZKD_TESTBED_CACHE", "/var/cache/zkd-testbed"))
MIRROR = os.environ.get("ZKD_TESTBED_MIRROR", "http://deb.debian.org/debian")
SUITE = "bookworm"
VARIANT = "minbase"
# Bump when customise() changes what it writes into the image.
RECIPE_VERSION = 1
PACKAGES = (
    # A booted host: systemd as PID 1 (zkd's units, sd_notify, watchdog, journald).
    "systemd",
    "systemd-sysv",
    "dbus",  # systemctl and logind talk over the system bus
    # Reached over SSH by the tests, zkctl and Ansible.
    "openssh-server",
    "iproute2",
    "procps",
    # Ansible's modules run with the target's python3; become: true runs sudo even as root.
    "python3",
    "python3-apt",  # ansible.builtin.apt (the role's package mode), as on Debian's cloud images
    "sudo",
    "iputils-ping",
)
# No package manager runs inside a host (it has no route out); its indexes only take space.
_DROP_FROM_IMAGE = ("var/cache/apt", "var/lib/apt/lists")
# What a freshly installed Debian host holds; zkctl adds the ensemble's names itself.
_ETC_HOSTS = (
    "127.0.0.1\tlocalhost\n"
    "::1\t\tlocalhost ip6-localhost ip6-loopback\n"
    "ff02::1\t\tip6-allnodes\n"
    "ff02::2\t\tip6-allrouters\n"
)
# Host keys are made per host at boot time (see tb_bed), so only the one type is listed.
_SSHD_DROP_IN = (
    "# zkd test bed: key-only root logins, one host key made per host.\n"
    "HostKey /etc/ssh/ssh_host_ed25519_key\n"
    "PermitRootLogin prohibit-password\n"
    "PasswordAuthentication no\n"
    "KbdInteractiveAuthentication no\n"
    "UseDNS no\n"
)


class ImageError(RuntimeError):
    """The image could not be built; the message says which step failed and why."""


def image_key():
    """Hex digest naming the image that the current recipe builds."""
    recipe = {
        "recipe": RECIPE_VERSION,
        "suite": SUITE,
        "variant": VARIANT,
        "packages": sorted(PACKAGES),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def image_path(key=None):
    """Where the image for key (default: the current recipe) lives once built."""
    return CACHE_DIR / ("rootfs-" + (key or image_key()))


def ensure_image(log=print):
    """Path of the current recipe's image, building it first if it is not cached."""
    path = image_path()
    if path.is_dir():
        return path
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("testbed: another process is building the image; waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if path.is_dir():  # built by the process we waited for
            return path
        _build(path, log)
        _remove_unused_images(keep=path)
    return path


def _build(path, log):
    for leftover in CACHE_DIR.glob(".build-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    if shutil.which("debootstrap") is None:
        raise ImageError("debootstrap is not installed (apt-get install debootstrap)")
    staging = CACHE_DIR / (".build-%s-%d" % (path.name, os.getpid()))
    debs = CACHE_DIR / "debs"
    debs.mkdir(exist_ok=True)
    build_log = CACHE_DIR / "build.log"
    log("testbed: building %s with debootstrap (log: %s)" % (path, build_log))
    started = time.monotonic()
    argv = [
        "debootstrap",
        "--variant=" + VARIANT,
        "--include=" + ",".join(PACKAGES),
        # Downloaded .debs stay in the cache, so a recipe change rebuilds without fetching
        # the unchanged packages again.
        "--cache-dir=%s" % debs,
        SUITE,
        str(staging),
        MIRROR,
    ]
    try:
        with open(build_log, "w") as out:
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        if done.returncode != 0:
            tail = build_log.read_text(errors="replace").splitlines()[-15:]
            raise ImageError(
                "debootstrap failed (exit %d); last lines of %s:\n%s"
                % (done.returncode, build_log, "\n".join(tail))
            )
        customise(staging, path.name)
        os.sync()
        staging.rename(path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log("testbed: image built in %.0f s" % (time.monotonic() - started))


def customise(root, name):
    """Makes a fresh debootstrap tree a template that hosts personalise at boot time."""
    root = Path(root)
    # debootstrap copies the build machine's name and resolver; a host gets its own name,
    # and no resolver: there is nothing to ask inside the bed.
    (root / "etc/hostname").unlink(missing_ok=True)
    (root / "etc/resolv.conf").unlink(missing_ok=True)
    (root / "etc/resolv.conf").write_text("")
    (root / "etc/hosts").write_text(_ETC_HOSTS)
    # Identity per host: an empty machine-id in the image (each host writes its own), the
    # D-Bus id pointing at it as on an installed system (a file here would give every host
    # the same id), and no SSH host keys shared between hosts.
    (root / "etc/machine-id").unlink(missing_ok=True)
    (root / "etc/machine-id").write_text("")
    dbus_id = root / "var/lib/dbus/machine-id"
    dbus_id.unlink(missing_ok=True)
    dbus_id.parent.mkdir(parents=True, exist_ok=True)
    dbus_id.symlink_to("/etc/machine-id")
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    (root / "etc/ssh/sshd_config.d/zkd-testbed.conf").write_text(_SSHD_DROP_IN)
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    ssh_dir.chmod(0o700)
    for rel in _DROP_FROM_IMAGE:
        target = root / rel
        if target.is_dir():
            shutil.rmtree(target)
            target.mkdir()
    (root / "etc/zkd-testbed-image").write_text(
        "%s recipe=%d suite=%s\n" % (name, RECIPE_VERSION, SUITE)
    )


def _mounted_lowerdirs():
    """Image directories that some overlay mounted right now uses as its lower layer."""
    used = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split(" - ", 1)[-1].split()
            if len(fields) >= 3 and fields[0] == "overlay":
                for opt in fields[2].split(","):
                    if opt.startswith("lowerdir="):
                        used.update(opt[len("lowerdir=") :].split(":"))
    return used


def _remove_unused_images(keep):
    """Drops images of older recipes that no running host still uses."""
    used = _mounted_lowerdirs()
    for old in CACHE_DIR.glob("rootfs-*"):
        if old != keep and str(old) not in used:
            shutil.rmtree(old, ignore_errors=True)
