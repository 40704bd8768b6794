"""The project's .deb and .rpm, built by packaging/build.sh for the suites that install them
(tests/packaging, zkctl deploy --package, the Ansible role's package mode)."""

import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "packaging" / "build.sh"
BUILD_BOUND_S = 600


@dataclass
class Packages:
    deb: Path
    rpm: Path
    # Revision 2 of the same version: what the next release of the package installs as.
    deb_upgrade: Path
    rpm_upgrade: Path


class BuildError(RuntimeError):
    pass


def _build(*args):
    done = subprocess.run(
        ["bash", str(BUILD), *args], cwd=REPO, capture_output=True, text=True, timeout=BUILD_BOUND_S
    )
    if done.returncode != 0:
        raise BuildError("packaging/build.sh %s failed:\n%s%s" % (" ".join(args), done.stdout, done.stderr))
    deb, rpm = (Path(line) for line in done.stdout.split())
    if not (deb.is_file() and rpm.is_file()):
        raise BuildError("packaging/build.sh printed %r, which are not files" % done.stdout)
    return deb, rpm


def build():
    """Revision 1 from a build (cargo's, a no-op when current), then revision 2 from the
    same binaries."""
    deb, rpm = _build()
    deb2, rpm2 = _build("--no-build", "--revision", "2")
    return Packages(deb=deb, rpm=rpm, deb_upgrade=deb2, rpm_upgrade=rpm2)
