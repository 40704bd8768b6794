"""Fixtures for the ensemble suite: real ensembles of zkd and/or Apache members on
127.0.0.(10+i), ports 2181/2888/3888, built by tests/lib/ensemble.py.

The composition comes from the environment:
  ZK_ENSEMBLE=apache,zkd,zkd   kinds of the 3 voting members, by id (default: three of
                               ZK_TARGET's kind). Started highest id first, so the last kind
                               listed leads at first.
  ZK_ENSEMBLE5=...             the 5-member composition (default: the first kind twice, the
                               second once, the third twice: the same mix, the same leader kind)
  ZK_ENSEMBLE_OBSERVER=zkd     the observer's kind (default: the first kind listed)
When a test fails, the end of every member's server.log is added to its report.
"""

import os

import pytest
from kazoo.client import KazooClient

import ensemble as ensemble_lib
import zktarget

CONNECT_BOUND_S = 20
# Kazoo asks for 10 s sessions: the most that tickTime=500 allows (20 ticks), and well
# over the time an election takes, so sessions survive a leader's death.
SESSION_TIMEOUT_S = 10.0

_live = []


def _compositions():
    default = ",".join([zktarget.target_from_env()] * 3)
    kinds3 = ensemble_lib.parse_kinds(_env("ZK_ENSEMBLE", default), "ZK_ENSEMBLE")
    if len(kinds3) != 3:
        raise ensemble_lib.EnsembleError("ZK_ENSEMBLE must list 3 members, not %d" % len(kinds3))
    derived = [kinds3[0], kinds3[0], kinds3[1], kinds3[2], kinds3[2]]
    kinds5 = ensemble_lib.parse_kinds(_env("ZK_ENSEMBLE5", ",".join(derived)), "ZK_ENSEMBLE5")
    if len(kinds5) != 5:
        raise ensemble_lib.EnsembleError("ZK_ENSEMBLE5 must list 5 members, not %d" % len(kinds5))
    observer = ensemble_lib.parse_kinds(
        _env("ZK_ENSEMBLE_OBSERVER", kinds3[0]), "ZK_ENSEMBLE_OBSERVER"
    )
    return kinds3, kinds5, observer[0]


def _env(key, default):
    return os.environ.get(key) or default


KINDS3, KINDS5, OBSERVER_KIND = _compositions()


def pytest_report_header(config):
    return [
        "ensemble: 3 members %s, 5 members %s, observer %s"
        % (",".join(KINDS3), ",".join(KINDS5), OBSERVER_KIND)
    ]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _live:
        for ens in _live:
            report.sections.append(
                ("ensemble %s: %s" % (ens.name, ens.describe_modes()), ens.log_tails())
            )


def _make(kinds, observers=(), name="ens"):
    ens = ensemble_lib.Ensemble(kinds, observers=observers, name=name)
    _live.append(ens)
    return ens


def _close(ens):
    _live.remove(ens)
    ens.close()


@pytest.fixture
def make_ensemble():
    """make(kinds, observers=()) -> a new, not yet started Ensemble; closed after the test.
    One at a time: they share the addresses."""
    made = []

    def make(kinds, observers=()):
        ens = _make(kinds, observers)
        made.append(ens)
        return ens

    yield make
    for ens in made:
        _close(ens)


@pytest.fixture
def ensemble3(make_ensemble):
    """A started 3-member ensemble of KINDS3, its highest id leading."""
    ens = make_ensemble(KINDS3)
    ens.start_all()
    return ens


@pytest.fixture
def ensemble5(make_ensemble):
    ens = make_ensemble(KINDS5)
    ens.start_all()
    return ens


@pytest.fixture(scope="module")
def shared_ensemble3():
    """One started 3-member ensemble for a module's tests that leave it as they found it
    (they work under paths of their own)."""
    ens = _make(KINDS3, name="ens-shared")
    try:
        ens.start_all()
        yield ens
    finally:
        _close(ens)


@pytest.fixture
def clients():
    """connect(ens, indices=None, **kwargs) -> a started KazooClient on those members (in
    that order, not shuffled); every one is stopped after the test."""
    made = []

    def connect(ens, indices=None, **kwargs):
        kwargs.setdefault("timeout", SESSION_TIMEOUT_S)
        kwargs.setdefault("connection_retry", {"max_tries": -1, "delay": 0.05, "max_delay": 0.5})
        zk = KazooClient(hosts=ens.connect_string(indices), randomize_hosts=False, **kwargs)
        made.append(zk)
        zk.start(timeout=CONNECT_BOUND_S)
        return zk

    yield connect
    for zk in made:
        try:
            zk.stop()
        finally:
            zk.close()

