"""Fixtures for the durability suite: real zkd processes, killed with SIGKILL, their data
directories damaged on purpose, and restarted on the same dataDir.

zkd only: the suite checks zkd's own guarantees (acknowledged means fsynced, a torn tail is
cut, corruption refuses to start, the dataDir lock, SystemError on a full disk), several of
which Apache ZooKeeper does not give.

Randomness (kill moments, damage offsets) comes from one suite seed, printed in the report
header; ZKD_DURABILITY_SEED=N replays a run. Each test draws from its own generator seeded
with the suite seed and its name, so one test's draws do not depend on which others ran.
"""

import fcntl
import os
import random
import re
import shutil

import pytest

import zktarget
from zkdproc import ZKD_BIN, Zkd

SUITE_SEED = int(os.environ.get("ZKD_DURABILITY_SEED") or random.SystemRandom().randrange(1 << 32))
_counter = iter(range(1, 1 << 30))


def pytest_report_header(config):
    return [
        "ZK_TARGET=%s" % os.environ.get("ZK_TARGET", "zkd"),
        "durability seed: %d (ZKD_DURABILITY_SEED=%d replays it)" % (SUITE_SEED, SUITE_SEED),
    ]


@pytest.fixture(scope="session", autouse=True)
def _run_dir_to_ourselves():
    """Server directories are named after the tests, so two runs sharing ZK_RUN_DIR would
    kill and wipe each other's servers: the second one stops at once instead."""
    zktarget.run_dir().mkdir(parents=True, exist_ok=True)
    path = zktarget.run_dir() / "durability.lock"
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            pytest.exit(
                "another durability run (pid %s) is using ZK_RUN_DIR=%s; wait for it, or set "
                "ZK_RUN_DIR to a directory of your own"
                % (f.read().strip() or "?", zktarget.run_dir()),
                returncode=1,
            )
        f.truncate(0)
        f.write("%d\n" % os.getpid())
        f.flush()
        yield


@pytest.fixture(autouse=True)
def _zkd_only():
    if zktarget.target_from_env() != "zkd":
        pytest.skip("the durability suite tests zkd's own storage guarantees; zkd target only")
    if not os.access(ZKD_BIN, os.X_OK):
        pytest.fail("no zkd binary at %s (cargo build --release -p zkd, or set ZKD_BIN)" % ZKD_BIN)


@pytest.fixture
def rng(request):
    seed = "%d:%s" % (SUITE_SEED, request.node.name)
    print("random generator seeded with %r (suite seed %d)" % (seed, SUITE_SEED))
    return random.Random(seed)


@pytest.fixture
def zkd_factory(request):
    """make(config_lines, start=True) -> a fresh Zkd; every one made is stopped afterwards.
    "{dir}" in a config line stands for the server's own directory."""
    made = []
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name.removeprefix("test_")).strip("-")[:64]

    def make(config_lines=(), start=True):
        name = "dur-%s-%d" % (stem, next(_counter))
        lines = [line.format(dir=zktarget.run_dir() / name) for line in config_lines]
        server = Zkd("zkd", name, zktarget.free_port(), lines)
        if server.pid() is not None:
            pytest.fail("a zkd (pid %d) still runs in %s" % (server.pid(), server.dir))
        # What an earlier run left under this name (servers.sh only empties data/).
        shutil.rmtree(server.dir, ignore_errors=True)
        made.append(server)
        if start:
            server.start()
        return server

    yield make
    for server in made:
        server.stop()
