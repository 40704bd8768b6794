"""pytest plugin: runs kazoo's own test suite, unmodified, against one standalone server.

kazoo's harness (kazoo.testing.harness.get_global_cluster) starts a 3-member Java ensemble of
its own. This plugin replaces that function with one returning a cluster of one standalone
server chosen by ZK_TARGET (zkd: target/release/zkd; apache: Debian's ZooKeeper 3.8), with the
settings kazoo's harness gives its servers. Tests that cannot run against any standalone
server are skipped through skips.txt beside this file, each with its reason.

Load with: pytest -p zk_kazoo_plugin (this directory and tests/lib on sys.path), and
KAZOO_SRC naming the unpacked kazoo sdist (tests/install-deps.sh makes it).
"""

import fnmatch
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "lib"))

import zktarget  # noqa: E402

KAZOO_VERSION = "2.11.0"
KAZOO_SRC = Path(
    os.environ.get(
        "KAZOO_SRC",
        zktarget.REPO / "tests" / ".venv" / "kazoo-src" / ("kazoo-" + KAZOO_VERSION),
    )
)
SKIPS_FILE = HERE / "skips.txt"

# What kazoo's harness gives every server for ZooKeeper >= 3.5 (harness.py and common.py):
# the super digest makes "super:test" the superuser, reconfig is on, every 4lw is allowed,
# and connections per client address are unlimited (tests open many clients at once).
SUPER_DIGEST = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
# kazoo's harness runs Java with these; on zkd they have no meaning.
APACHE_JVM_FLAGS = ("-Dfile.encoding=UTF-8", "-Dreadonlymode.enabled=true")


def _config_lines(local_session_ro):
    return [
        "maxClientCnxns=0",
        "reconfigEnabled=true",
        "localSessionsEnabled=" + local_session_ro,
        "localSessionsUpgradingEnabled=" + local_session_ro,
        "zookeeper.DigestAuthenticationProvider.superDigest=" + SUPER_DIGEST,
    ]


class StandaloneMember:
    """One server with the interface kazoo's tests use on ManagedZooKeeper."""

    def __init__(self, target, name, port, config_lines):
        self.host = "127.0.0.1"
        self._server = zktarget.ManagedServer(
            target, name, port, config_lines, APACHE_JVM_FLAGS
        )
        self._running = False
        self._fresh = True

    @property
    def server(self):
        return self._server

    def run(self):
        """Starts the server, keeping its data from an earlier run (kazoo's semantics)."""
        if self._running:
            return
        self._server.start(keep_data=not self._fresh)
        self._fresh = False
        self._running = True

    def stop(self):
        """Stops the server, retaining its on-disk state."""
        if not self._running:
            return
        self._server.stop()
        self._running = False

    def reset(self):
        """Stops the server; the next run starts from empty data."""
        self.stop()
        self._fresh = True

    def destroy(self):
        """Stops the server; the next run starts from empty data. The directory and its
        server.log stay until then, for a look after a failure."""
        self.stop()
        self._fresh = True

    @property
    def running(self):
        return self._running

    def died(self):
        """True when the server should be running but its process is gone."""
        return self._running and not self._server.is_alive()

    @property
    def client_port(self):
        return self._server.port

    @property
    def secure_client_port(self):
        raise RuntimeError(
            "no TLS client port: the %s target runs without secureClientPort"
            % self._server.target
        )

    @property
    def address(self):
        return "%s:%s" % (self.host, self.client_port)

    @property
    def secure_address(self):
        return "%s:%s" % (self.host, self.secure_client_port)

    def get_logs(self, num_lines=100):
        return self._server.log_tail(num_lines)


class StandaloneCluster:
    """A one-member cluster with the interface of kazoo.testing.common.ZookeeperCluster."""

    def __init__(self, target, local_session_ro):
        port = zktarget.free_port()
        self._servers = [
            StandaloneMember(
                target,
                "kazoo-%s-1" % target,
                port,
                _config_lines(local_session_ro),
            )
        ]

    def __getitem__(self, k):
        return self._servers[k]

    def __iter__(self):
        return iter(self._servers)

    def __len__(self):
        return len(self._servers)

    def start(self):
        # Unlike kazoo's harness, which sleeps 2 s, each run() returns once ruok answers imok.
        for server in self._servers:
            server.run()

    def stop(self):
        for server in self._servers:
            server.stop()

    def terminate(self):
        for server in self._servers:
            server.destroy()

    def reset(self):
        for server in self._servers:
            server.reset()

    def get_logs(self):
        logs = []
        for server in self._servers:
            logs += server.get_logs()
        return logs

    def get_ssl_client_configuration(self):
        raise RuntimeError("SSL not configured: the standalone targets run without TLS")


_CLUSTER = None
_CLUSTER_CONF = None


def get_global_cluster():
    """Drop-in for kazoo.testing.harness.get_global_cluster.

    Like kazoo's, it rebuilds the cluster when the environment a test sets changes
    (test_connection sets ZOOKEEPER_LOCAL_SESSION_RO for its read-only test).
    """
    global _CLUSTER, _CLUSTER_CONF
    conf = (
        zktarget.target_from_env(),
        os.environ.get("ZOOKEEPER_LOCAL_SESSION_RO", "false"),
        os.environ.get("ZOOKEEPER_JAAS_AUTH"),
    )
    if _CLUSTER is not None:
        if conf == _CLUSTER_CONF:
            return _CLUSTER
        _CLUSTER.terminate()
        _CLUSTER = None
    if conf[2]:
        # A test asked for a JAAS (SASL) server configuration, which only a JVM reads. Such
        # tests belong in skips.txt. The variable is dropped here because the test that set
        # it will not reach the tearDown that would pop it, and every later test would fail.
        os.environ.pop("ZOOKEEPER_JAAS_AUTH", None)
        pytest.fail(
            "ZOOKEEPER_JAAS_AUTH=%s asks for a SASL (JAAS) server, which the standalone "
            "targets are not; list this test in %s" % (conf[2], SKIPS_FILE),
            pytrace=False,
        )
    _CLUSTER = StandaloneCluster(conf[0], conf[1])
    _CLUSTER_CONF = conf
    return _CLUSTER


def _load_skips(path):
    """Reads skips.txt: 'PATTERN | reason' lines; PATTERN globs file::Class::test ids."""
    skips = []
    with open(path) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            pattern, sep, reason = line.partition("|")
            pattern, reason = pattern.strip(), reason.strip()
            if not sep or not pattern or not reason:
                raise pytest.UsageError(
                    "%s:%d: expected 'PATTERN | reason', got %r" % (path, lineno, raw)
                )
            skips.append([pattern, reason, 0])
    return skips


def _kazoo_test_id(item):
    """'test_client.py::TestClient::test_create' for an item from kazoo/tests."""
    tests_dir = KAZOO_SRC / "kazoo" / "tests"
    try:
        rel = Path(item.path).resolve().relative_to(tests_dir.resolve())
    except ValueError:
        return None
    return "::".join([str(rel)] + item.nodeid.split("::")[1:])


def pytest_configure(config):
    harness_file = KAZOO_SRC / "kazoo" / "testing" / "harness.py"
    if not harness_file.is_file():
        raise pytest.UsageError(
            "kazoo %s sdist not found at %s (run tests/install-deps.sh or set KAZOO_SRC)"
            % (KAZOO_VERSION, KAZOO_SRC)
        )
    # The tests import kazoo as a package from the sdist; importing the harness from anywhere
    # else would give two kazoo packages and a mismatch at collection.
    sys.path.insert(0, str(KAZOO_SRC))
    import kazoo
    import kazoo.testing.harness as harness

    if Path(kazoo.__file__).resolve().parent != (KAZOO_SRC / "kazoo").resolve():
        raise pytest.UsageError(
            "kazoo was imported from %s, not from %s" % (kazoo.__file__, KAZOO_SRC)
        )
    zktarget.target_from_env()
    # The tests compare server_version() to this when CI is set (test_build) and skip
    # version-dependent cases by it; both targets claim to be ZooKeeper 3.8.0.
    os.environ.setdefault("ZOOKEEPER_VERSION", "3.8.0")
    harness.get_global_cluster = get_global_cluster
    config._zk_skips = _load_skips(SKIPS_FILE)


def pytest_unconfigure(config):
    # kazoo's harness stops its cluster from an atexit hook; stopping here also covers an
    # interrupted run.
    if _CLUSTER is not None:
        _CLUSTER.terminate()


def pytest_report_header(config):
    target = zktarget.target_from_env()
    where = (
        os.environ.get("ZKD_BIN", str(zktarget.REPO / "target" / "release" / "zkd"))
        if target == "zkd"
        else "Debian's Apache ZooKeeper 3.8 (/usr/share/java/zookeeper.jar)"
    )
    return ["kazoo %s suite from %s" % (KAZOO_VERSION, KAZOO_SRC),
            "ZK_TARGET=%s: %s" % (target, where)]


def pytest_collection_modifyitems(config, items):
    for item in items:
        test_id = _kazoo_test_id(item)
        if test_id is None:
            continue
        for entry in config._zk_skips:
            if fnmatch.fnmatchcase(test_id, entry[0]):
                entry[2] += 1
                item.add_marker(pytest.mark.skip(reason="skips.txt: " + entry[1]))
                break


def pytest_terminal_summary(terminalreporter, config):
    unused = [e[0] for e in getattr(config, "_zk_skips", []) if e[2] == 0]
    if unused and not config.option.keyword and not config.option.markexpr:
        terminalreporter.write_line(
            "skips.txt patterns that matched no collected test (stale?): "
            + ", ".join(unused)
        )


@pytest.fixture(autouse=True)
def _server_must_survive(request):
    """Fails the test during which the server process died, with the end of its log.

    kazoo's harness would silently start a new server for the next test instead.
    """
    yield
    if _CLUSTER is None:
        return
    for member in _CLUSTER:
        if member.died():
            tail = "".join(member.get_logs(40))
            member.reset()
            pytest.fail(
                "%s server %s exited during this test; end of %s:\n%s"
                % (member.server.target, member.address, member.server.log_path, tail),
                pytrace=False,
            )
