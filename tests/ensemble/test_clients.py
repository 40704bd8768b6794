"""What clients see of one ensemble through different members: the getting-started
tutorial, writes and reads across members, sequence numbers, ephemerals."""

import os
import signal
import subprocess
import sys
import threading

import pytest
from kazoo.exceptions import NoNodeError

import ensemble as ensemble_lib
import zkcli
from checks import eventually, synced_children, synced_get

# The module's tests share one ensemble; each works under a path of its own.
pytestmark = pytest.mark.usefixtures("shared_ensemble3")


def per_member(ens, clients):
    return [clients(ens, [i]) for i in range(len(ens.members))]


def test_tutorial_create_on_one_member_get_on_every_member(shared_ensemble3):
    ens = shared_ensemble3
    created = zkcli.session(
        ensemble_lib.CLIENT_PORT, ["create /mydata helloworld"], host=ens.members[0].host
    )
    assert created.lines == ["Created /mydata"], created.raw
    for member in ens.members:
        # zkCli.sh's own `sync` first, as the tutorial's reader on another server would.
        t = zkcli.session(
            ensemble_lib.CLIENT_PORT, ["sync /mydata", "get /mydata"], host=member.host
        )
        lines = [line for line in t.lines if line != "Sync is OK"]
        assert lines == ["helloworld"], "through %r:\n%s" % (member, t.raw)


def test_writes_through_any_member_read_back_through_every_member(shared_ensemble3, clients):
    ens = shared_ensemble3
    zks = per_member(ens, clients)
    zks[0].ensure_path("/rw")
    for writer, zk in enumerate(zks):
        zk.create("/rw/by-%d" % writer, b"v1 from %d" % writer)
        zk.set("/rw/by-%d" % writer, b"v2 from %d" % writer)
    for reader, zk in enumerate(zks):
        assert synced_children(zk, "/rw") == ["by-0", "by-1", "by-2"], "reader %d" % reader
        for writer in range(len(zks)):
            data = synced_get(zk, "/rw/by-%d" % writer)
            assert data == b"v2 from %d" % writer, "member %d reads %r" % (reader, data)
    zks[2].delete("/rw/by-0")
    for reader, zk in enumerate(zks):
        zk.sync("/rw")
        assert zk.exists("/rw/by-0") is None, "member %d still has a deleted node" % reader


def test_sequential_nodes_unique_across_members(shared_ensemble3, clients):
    ens = shared_ensemble3
    zks = per_member(ens, clients)
    zks[0].ensure_path("/seq")
    per_client = 25
    names = [[] for _ in zks]
    errors = []

    def create_many(i):
        try:
            for _ in range(per_client):
                names[i].append(zks[i].create("/seq/n-", b"%d" % i, sequence=True))
        except Exception as e:  # reported below, with the member
            errors.append((i, e))

    threads = [threading.Thread(target=create_many, args=(i,)) for i in range(len(zks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    created = [n for ns in names for n in ns]
    assert len(set(created)) == len(created) == per_client * len(zks), created
    want = sorted(n.rsplit("/", 1)[1] for n in created)
    # Ten-digit counters, one per create under the parent, wherever the create came in.
    assert want == ["n-%010d" % k for k in range(len(created))]
    for reader, zk in enumerate(zks):
        assert synced_children(zk, "/seq") == want, "member %d" % reader


def test_ephemeral_removed_everywhere_when_its_session_closes(shared_ensemble3, clients):
    ens = shared_ensemble3
    zks = per_member(ens, clients)
    owner = clients(ens, [1])
    owner.ensure_path("/eph-close")
    owner.create("/eph-close/e", b"mine", ephemeral=True)
    for zk in zks:
        assert synced_get(zk, "/eph-close/e") == b"mine"
    owner.stop()
    for reader, zk in enumerate(zks):
        zk.sync("/eph-close")
        assert zk.exists("/eph-close/e") is None, "member %d still has it" % reader


# A client process that creates an ephemeral with a short session, reports, and waits to be
# killed: a SIGKILLed client never closes its session, so only expiry removes the node.
EPHEMERAL_OWNER = r"""
import sys, time
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1], timeout=2.0)
zk.start(timeout=20)
zk.create(sys.argv[2], b"until expiry", ephemeral=True)
print("0x%x" % zk.client_id[0], flush=True)
time.sleep(600)
"""


def test_ephemeral_removed_everywhere_when_its_session_expires(shared_ensemble3, clients):
    ens = shared_ensemble3
    zks = per_member(ens, clients)
    zks[0].ensure_path("/eph-expire")
    owner = subprocess.Popen(
        [sys.executable, "-c", EPHEMERAL_OWNER, ens.connect_string([0]), "/eph-expire/e"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        session = int(owner.stdout.readline().strip(), 16)
        for reader, zk in enumerate(zks):
            zk.sync("/eph-expire/e")
            owner_id = zk.get("/eph-expire/e")[1].ephemeralOwner
            assert owner_id == session, "member %d: owner 0x%x" % (reader, owner_id)
        os.kill(owner.pid, signal.SIGKILL)
    finally:
        owner.kill()
        owner.wait()

    def gone_everywhere():
        for zk in zks:
            zk.sync("/eph-expire")
            if zk.exists("/eph-expire/e") is not None:
                return False
        return True

    # A 2 s session (4 ticks) expires within a few seconds of its last heartbeat.
    eventually(
        gone_everywhere, timeout=20, what="the expired session's ephemeral removed everywhere"
    )
    with pytest.raises(NoNodeError):
        zks[2].get("/eph-expire/e")
