"""The .rpm: rpmlint, what `rpm -qlp` and `rpm -qp --scripts` show, and installs into a
scratch root (a copy of the test bed's Debian root fs; rpm runs the scriptlets chrooted
there, --nodeps because its rpm database knows none of Debian's packages). The install
tests run in file order on one root: each starts from the state the one before left."""

import re
import subprocess

import pytest

from conftest import DATA, PACKAGED_FILES, REPO

# Building the packages (the first test that needs them) and apt in a booted host take
# longer than pytest.ini's default bound.
pytestmark = pytest.mark.timeout(600)


def rpm(*args, check=True):
    done = subprocess.run(["rpm", *map(str, args)], capture_output=True, text=True, timeout=120)
    if check:
        assert done.returncode == 0, "rpm %s: %s%s" % (" ".join(map(str, args)), done.stdout, done.stderr)
    return done


# -- lint and metadata ------------------------------------------------------------------


def test_rpmlint_reports_no_errors_or_warnings(packages):
    config = REPO / "packaging/rpm/rpmlint.toml"
    done = subprocess.run(
        ["rpmlint", "-c", str(config), str(packages.rpm)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b0 errors, 0 warnings\b", done.stdout), done.stdout
    # Each run of filters in the config comes right after a comment giving its reason.
    text = config.read_text()
    previous = ""
    for line in text[text.index("Filters = [") :].splitlines()[1:]:
        line = line.strip()
        if line.startswith('"'):
            assert previous.startswith(("#", '"')), "rpmlint filter without a reason: " + line
        previous = line


def test_files_modes_and_owners(packages):
    listing = rpm("-qlvp", packages.rpm).stdout
    entries = {}
    for line in listing.splitlines():
        mode, _, owner, group, *_, path = line.split()
        entries[path] = (mode, owner, group)
    want = dict(PACKAGED_FILES)
    want.update({
        "/usr/share/zsh/site-functions/_zkd": DATA,
        "/usr/share/zsh/site-functions/_zkctl": DATA,
        "/usr/share/licenses/zkd/LICENSE": DATA,
        "/usr/share/doc/zkd/changelog": DATA,
    })
    for path, mode in want.items():
        assert path in entries, "%s missing from the .rpm:\n%s" % (path, listing)
        assert entries[path] == (mode, "root", "root"), (path, entries[path])
    assert not [p for p in entries if p.startswith("/var/lib/zkd")]
    # %config(noreplace): flags c (config) and n (noreplace).
    flags = rpm("-qp", "--qf", "[%{FILENAMES} %{FILEFLAGS:fflags}\n]", packages.rpm).stdout
    assert re.search(r"^/etc/zkd/zoo\.cfg c\S*n", flags, re.M), flags
    requires = rpm("-qpR", packages.rpm).stdout
    assert re.search(r"^libc\.so\.6\(GLIBC_2\.\d+\)\(64bit\)$", requires, re.M), requires
    assert re.search(r"^systemd$", requires, re.M), requires


def test_scriptlets(packages):
    scripts = rpm("-qp", "--scripts", packages.rpm).stdout
    sections = dict(re.findall(r"^(\w+) scriptlet(?: \(using [^)]*\))?:\n(.*?)(?=^\w+ scriptlet|\Z)", scripts, re.M | re.S))
    assert set(sections) == {"postinstall", "preuninstall", "postuninstall"}, scripts
    post = sections["postinstall"]
    assert "systemd-sysusers /usr/lib/sysusers.d/zkd.conf" in post
    assert "systemctl enable zkd.service" in post
    # Only a first install ($1 = 1) starts anything; the upgrade branch only talks.
    upgrade_branch = post[post.index("\nelse\n") :]
    assert not re.search(r"^\s*systemctl (start|restart|try-restart)", upgrade_branch, re.M), post
    preun = sections["preuninstall"]
    assert re.search(r'if \[ "\$1" -eq 0 \]; then\n(.*\n)*\s+systemctl stop zkd\.service', preun), preun


# -- install, upgrade, erase in a scratch root -----------------------------------------


def test_install_into_a_scratch_root(scratch_root, packages):
    done = rpm("--root", scratch_root, "--nodeps", "-i", packages.rpm)
    root = scratch_root
    passwd = (root / "etc/passwd").read_text()
    m = re.search(r"^zkd:x:(\d+):(\d+):[^:]*:/var/lib/zkd:/usr/sbin/nologin$", passwd, re.M)
    assert m, passwd
    uid, gid = int(m.group(1)), int(m.group(2))
    assert re.search(r"^zkd:x:%d:" % gid, (root / "etc/group").read_text(), re.M)
    for path, mode, owner in [
        ("etc/zkd", 0o750, (0, gid)),
        ("var/lib/zkd", 0o750, (uid, gid)),
        ("etc/zkd/zoo.cfg", 0o644, (0, 0)),
        ("usr/bin/zkd", 0o755, (0, 0)),
    ]:
        st = (root / path).stat()
        assert (st.st_mode & 0o7777, (st.st_uid, st.st_gid)) == (mode, owner), (path, oct(st.st_mode), st.st_uid, st.st_gid)
    wants = root / "etc/systemd/system/multi-user.target.wants/zkd.service"
    assert wants.is_symlink(), "zkd.service not enabled:\n" + done.stdout + done.stderr
    assert rpm("--root", root, "-q", "zkd").stdout.strip() == "zkd-0.1.0-1.x86_64"
    verify = rpm("--root", root, "-V", "--nodeps", "zkd", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_upgrade_keeps_the_edit_and_restarts_nothing(scratch_root, packages):
    cfg = scratch_root / "etc/zkd/zoo.cfg"
    cfg.write_text(cfg.read_text().replace("maxClientCnxns=60\n", "maxClientCnxns=61\n"))
    done = rpm("--root", scratch_root, "--nodeps", "-U", packages.rpm_upgrade)
    assert "was NOT restarted" in done.stdout, done.stdout + done.stderr
    assert rpm("--root", scratch_root, "-q", "zkd").stdout.strip() == "zkd-0.1.0-2.x86_64"
    assert "maxClientCnxns=61" in cfg.read_text()
    assert not list(cfg.parent.glob("zoo.cfg.rpm*"))


def test_erase_keeps_the_data_the_user_and_the_edited_config(scratch_root):
    data = scratch_root / "var/lib/zkd/version-2"
    data.mkdir()
    (data / "snapshot.0").write_bytes(b"kept")
    done = rpm("--root", scratch_root, "-e", "zkd")
    assert "/var/lib/zkd and the zkd user are kept" in done.stdout, done.stdout + done.stderr
    assert not (scratch_root / "usr/bin/zkd").exists()
    assert not (scratch_root / "etc/systemd/system/multi-user.target.wants/zkd.service").exists()
    assert (data / "snapshot.0").read_bytes() == b"kept"
    assert re.search(r"^zkd:", (scratch_root / "etc/passwd").read_text(), re.M)
    # rpm's rule for an edited %config file on erase: kept as .rpmsave.
    assert "maxClientCnxns=61" in (scratch_root / "etc/zkd/zoo.cfg.rpmsave").read_text()
