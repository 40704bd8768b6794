"""Fixtures for the command-line client suites (zkCli.sh, cli_mt).

Each test gets a fresh standalone server of the target chosen by ZK_TARGET=zkd|apache, so
transcripts (sequence numbers, the root's children) do not depend on test order.
"""

import itertools

import pytest

import zktarget

_counter = itertools.count(1)


def pytest_report_header(config):
    return ["ZK_TARGET=%s" % zktarget.target_from_env()]


def _server(request, config_lines):
    target = zktarget.target_from_env()
    name = "cli-%s-%d" % (target, next(_counter))
    server = zktarget.ManagedServer(target, name, zktarget.free_port(), config_lines)
    server.start()
    yield server
    # The directory stays (tests/.run/NAME/server.log) for a look after a failure.
    alive = server.is_alive()
    tail = "".join(server.log_tail(40))
    server.stop()
    if not alive:
        pytest.fail(
            "%s server exited during %s; end of its log:\n%s"
            % (target, request.node.nodeid, tail),
            pytrace=False,
        )


# "super:test" is the superuser, as in kazoo's harness.
SUPER_DIGEST = "zookeeper.DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU="


@pytest.fixture
def server(request):
    """A fresh server with defaults plus a superuser (TTL nodes off)."""
    yield from _server(request, [SUPER_DIGEST])


@pytest.fixture
def extended_server(request):
    """A fresh server with zookeeper.extendedTypesEnabled=true (TTL nodes)."""
    yield from _server(request, [SUPER_DIGEST, "zookeeper.extendedTypesEnabled=true"])
