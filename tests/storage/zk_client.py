#!/usr/bin/env python3
"""kazoo helper for zkd/tests/storage_compat.rs: drives a ZooKeeper server and dumps its tree.

    zk_client.py workload PORT    writes the compatibility workload, prints "READY <session id>",
                                  then keeps the session (and its ephemerals) alive until stdin
                                  closes
    zk_client.py more PORT        a few more writes on a short-lived session
    zk_client.py dump PORT        prints every znode, one per line:
        node <path hex> <data hex|-> <11 Stat fields> <acl: perms/scheme hex/id hex,...>

Clients authenticate as super:test, so the server must run with
-Dzookeeper.DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=
(every node is readable and getACL shows digest ids unmasked).
"""

import logging
import sys

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.security import ACL, Id, make_digest_acl

SUPER = ("digest", "super:test")
TIMEOUT = 20.0


def connect(port, session_timeout=30.0):
    zk = KazooClient(
        hosts="127.0.0.1:%d" % port,
        auth_data=[SUPER],
        timeout=session_timeout,
        connection_retry={"max_tries": 3},
    )
    zk.start(timeout=TIMEOUT)
    return zk


def workload(port):
    zk = connect(port)
    zk.create("/app", b"application root")
    zk.create("/app/config", b'{"k": 1}')
    # A quota on /app, as zkCli's setquota lays it out: 3.8 keeps the stats
    # node's figures current and recounts them after loading a snapshot.
    zk.create("/zookeeper/quota/app", b"")
    zk.create("/zookeeper/quota/app/zookeeper_limits", b"count=1000,bytes=-1")
    zk.create("/zookeeper/quota/app/zookeeper_stats", b"count=0,bytes=0")
    secret_acl = [
        make_digest_acl("alice", "secret", all=True),
        ACL(1, Id("world", "anyone")),
    ]
    zk.create("/app/secret", b"s3cr3t", acl=secret_acl)
    jobs = [zk.create("/app/job-", b"seq", sequence=True) for _ in range(3)]
    zk.create("/app/lock", b"", ephemeral=True)
    zk.create("/app/member-", b"me", ephemeral=True, sequence=True)
    zk.create("/empty", None)

    other = connect(port, session_timeout=10.0)
    other.create("/app/gone", b"x", ephemeral=True)
    other.stop()
    other.close()

    t = zk.transaction()
    t.create("/multi", b"m")
    t.set_data("/app", b"updated by multi")
    t.check("/app/config", 0)
    t.commit()
    # A multi that fails is logged too, as error sub-transactions.
    t = zk.transaction()
    t.create("/never", b"n")
    t.create("/missing/child", b"c")
    t.commit()

    zk.set("/app/config", b'{"k": 2}')
    zk.set_acls("/app/config", [ACL(1, Id("world", "anyone"))])
    zk.delete(jobs[0])
    try:
        zk.delete("/no/such/node")
    except NoNodeError:
        pass
    # Enough writes to cross snapCount several times: snapshots and log rolls
    # happen in the middle of this, fuzzy snapshots included.
    zk.create("/bulk", b"")
    for i in range(120):
        zk.create("/bulk/n%03d" % i, bytes([i % 256]) * (i * 37 % 900))
        if i % 3 == 0:
            zk.set("/bulk/n%03d" % i, b"v2-%d" % i)
        if i % 10 == 9:
            zk.delete("/bulk/n%03d" % (i - 5))
    zk.create("/big", b"B" * 300_000)
    zk.set("/app", b"final")

    print("READY %d" % zk.client_id[0], flush=True)
    # The test kills the server before it lets go of this session: the
    # reconnect attempts kazoo then logs are expected noise.
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    sys.stdin.read()
    zk.stop()
    zk.close()


def more(port):
    zk = connect(port)
    zk.create("/after", b"written by the second server")
    zk.set("/app/secret", b"rotated")
    zk.delete("/multi")
    zk.stop()
    zk.close()


def dump(port):
    zk = connect(port)
    out = []
    stack = ["/"]
    while stack:
        path = stack.pop()
        data, stat = zk.get(path)
        acls, _ = zk.get_acls(path)
        fields = [
            stat.czxid, stat.mzxid, stat.ctime, stat.mtime, stat.version, stat.cversion,
            stat.aversion, stat.ephemeralOwner, stat.dataLength, stat.numChildren, stat.pzxid,
        ]
        acl = ",".join(
            "%d/%s/%s" % (a.perms, a.id.scheme.encode().hex(), a.id.id.encode().hex()) for a in acls
        )
        out.append(
            "node %s %s %s %s"
            % (
                path.encode().hex(),
                "-" if data is None else data.hex(),
                " ".join(str(f) for f in fields),
                acl,
            )
        )
        for child in zk.get_children(path):
            stack.append(("/" if path == "/" else path + "/") + child)
    zk.stop()
    zk.close()
    print("\n".join(out), flush=True)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("workload", "more", "dump"):
        sys.exit(__doc__)
    port = int(sys.argv[2])
    {"workload": workload, "more": more, "dump": dump}[sys.argv[1]](port)


if __name__ == "__main__":
    main()
