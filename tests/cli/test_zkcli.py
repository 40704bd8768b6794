"""Apache's own shell, zkCli.sh, against the target: the getting-started tutorial and more.

Each expected transcript is what zkCli.sh prints against Debian's Apache ZooKeeper 3.8
standalone (run this file with ZK_TARGET=apache to see it hold). Zxids, session ids and
times may differ between servers, so they are compared by shape: each distinct zxid is
named <zxid:N> in order of first appearance, which keeps equalities such as cZxid == mZxid,
and orderings are asserted separately.
"""

import base64
import difflib
import hashlib

import zkcli


def stat(
    czxid,
    mzxid,
    pzxid,
    cversion=0,
    version=0,
    aversion=0,
    owner="0x0",
    length=0,
    children=0,
    ctime="<time>",
    mtime="<time>",
):
    """The lines zkCli.sh prints for a Stat, in its order."""
    return [
        "cZxid = %s" % czxid,
        "ctime = %s" % ctime,
        "mZxid = %s" % mzxid,
        "mtime = %s" % mtime,
        "pZxid = %s" % pzxid,
        "cversion = %d" % cversion,
        "dataVersion = %d" % version,
        "aclVersion = %d" % aversion,
        "ephemeralOwner = %s" % owner,
        "dataLength = %d" % length,
        "numChildren = %d" % children,
    ]


def digest(user_password):
    """The digest scheme's id for "user:password": user:base64(sha1(user:password))."""
    user = user_password.split(":", 1)[0]
    sha = hashlib.sha1(user_password.encode()).digest()
    return "%s:%s" % (user, base64.b64encode(sha).decode())


def assert_transcript(transcript, expected):
    got = transcript.normalized()
    if got != expected:
        diff = "\n".join(
            difflib.unified_diff(expected, got, "expected", "zkCli.sh printed", lineterm="")
        )
        raise AssertionError(
            "zkCli.sh transcript differs (normalized):\n%s\nraw output:\n%s"
            % (diff, transcript.raw)
        )


def test_tutorial_create_get_ls_stat_set_delete(server):
    t = zkcli.session(
        server.port,
        [
            "create /mydata helloworld",
            "get /mydata",
            "ls /",
            "stat /mydata",
            "set /mydata newdata",
            "get /mydata",
            "stat /mydata",
            "delete /mydata",
            "ls /",
            "get /mydata",
        ],
    )
    assert_transcript(
        t,
        [
            "Created /mydata",
            "helloworld",
            "[mydata, zookeeper]",
            *stat("<zxid:1>", "<zxid:1>", "<zxid:1>", length=10),
            "newdata",
            *stat("<zxid:1>", "<zxid:2>", "<zxid:1>", version=1, length=7),
            "[zookeeper]",
            "Node does not exist: /mydata",
        ],
    )
    assert t.zxids[0] < t.zxids[1], "setData must get a later zxid than the create"
    assert t.events == []


def test_ephemeral_and_sequential_nodes(server):
    first = zkcli.session(
        server.port,
        [
            "create -s /seq- a",
            "create -s /seq- b",
            "create -e /eph x",
            "create -e /eph/child y",
            "create -e -s /es- z",
            "stat /eph",
            "ls /",
        ],
    )
    assert_transcript(
        first,
        [
            "Created /seq-0000000000",
            "Created /seq-0000000001",
            "Created /eph",
            "Ephemerals cannot have children: /eph/child",
            # The sequence number is the parent's cversion: three children were created.
            "Created /es-0000000003",
            *stat("<zxid:1>", "<zxid:1>", "<zxid:1>", owner="<session:1>", length=1),
            "[eph, es-0000000003, seq-0000000000, seq-0000000001, zookeeper]",
        ],
    )
    # `quit` closed the first session, so its ephemerals are gone for the next one.
    second = zkcli.session(
        server.port,
        ["ls /", "create -e -s /es- z", "stat /es-0000000004", "stat /"],
    )
    assert_transcript(
        second,
        [
            "[seq-0000000000, seq-0000000001, zookeeper]",
            # Sequence numbers count the creates under the parent; deletions do not count.
            "Created /es-0000000004",
            *stat("<zxid:1>", "<zxid:1>", "<zxid:1>", owner="<session:1>", length=1),
            # Reported cversion = 2 * creates - children: the system node /zookeeper is
            # a child that was never created, so 2 * 5 - 4 = 6.
            *stat(
                "0x0",
                "0x0",
                "<zxid:1>",
                cversion=6,
                children=4,
                ctime=zkcli.EPOCH,
                mtime=zkcli.EPOCH,
            ),
        ],
    )
    assert first.sessions[0] != second.sessions[0], "each session gets a new id"


def test_acl_with_digest_auth(server):
    bob = digest("bob:pw")
    owner = zkcli.session(
        server.port,
        [
            "create /secret s3cret",
            "getAcl /secret",
            "addauth digest alice:pw",
            "setAcl /secret auth:alice:pw:cdrwa",
            "getAcl /secret",
            "get /secret",
            "stat /secret",
            "create /bobs b",
            "setAcl /bobs digest:%s:r" % bob,
            "getAcl /bobs",
            "get /bobs",
        ],
    )
    assert_transcript(
        owner,
        [
            "Created /secret",
            "'world,'anyone",
            ": cdrwa",
            "'digest,'%s" % digest("alice:pw"),
            ": cdrwa",
            "s3cret",
            *stat("<zxid:1>", "<zxid:1>", "<zxid:1>", aversion=1, length=6),
            "Created /bobs",
            # Reading an ACL needs READ or ADMIN on the node, which alice lost.
            "Insufficient permission : /bobs",
            "Insufficient permission : /bobs",
        ],
    )
    others = zkcli.session(
        server.port,
        [
            "get /secret",
            "set /secret x",
            "getAcl /secret",
            "addauth digest alice:wrong",
            "get /secret",
            "addauth digest bob:pw",
            "get /bobs",
            "set /bobs y",
            "addauth digest alice:pw",
            "get /secret",
        ],
    )
    assert_transcript(
        others,
        [
            "Insufficient permission : /secret",
            "Insufficient permission : /secret",
            "Insufficient permission : /secret",
            "Insufficient permission : /secret",
            "b",
            "Insufficient permission : /bobs",
            "s3cret",
        ],
    )


def test_superuser_digest_bypasses_acls(server):
    t = zkcli.session(
        server.port,
        [
            "addauth digest alice:pw",
            "create /locked data auth:alice:pw:cdrwa",
            "quit",
        ],
    )
    assert_transcript(t, ["Created /locked"])
    t = zkcli.session(
        server.port,
        ["get /locked", "addauth digest super:test", "get /locked", "delete /locked", "ls /"],
    )
    assert_transcript(
        t, ["Insufficient permission : /locked", "data", "[zookeeper]"]
    )


def test_root_and_zookeeper_system_nodes(server):
    t = zkcli.session(
        server.port,
        [
            "ls /",
            "ls /zookeeper",
            "get /zookeeper/config",
            "getAcl /zookeeper",
            "getAcl /zookeeper/config",
            "stat /",
            "ls /zookeeper/quota",
        ],
    )
    assert_transcript(
        t,
        [
            "[zookeeper]",
            "[config, quota]",
            # A standalone server's dynamic config is empty.
            "",
            "'world,'anyone",
            ": cdrwa",
            "'world,'anyone",
            ": r",
            # 2 * 0 creates - 1 child (/zookeeper) = -1.
            *stat(
                "0x0",
                "0x0",
                "0x0",
                cversion=-1,
                children=1,
                ctime=zkcli.EPOCH,
                mtime=zkcli.EPOCH,
            ),
            "[]",
        ],
    )


def test_errors_versions_and_recursive_commands(server):
    t = zkcli.session(
        server.port,
        [
            "create /a/b c",
            "create /x",
            "create /x",
            "create /x/y",
            "delete /x",
            "set -v 5 /x d",
            "delete -v 3 /x/y",
            "set -s /x/y newval",
            "get -s /x/y",
            "ls -s /x",
            "ls -R /x",
            "deleteall /x",
            "ls /",
        ],
    )
    assert_transcript(
        t,
        [
            "Node does not exist: /a/b",
            "Created /x",
            "Node already exists: /x",
            "Created /x/y",
            "Node not empty: /x",
            "version No is not valid : /x",
            "version No is not valid : /x/y",
            *stat("<zxid:1>", "<zxid:2>", "<zxid:1>", version=1, length=6),
            "newval",
            *stat("<zxid:1>", "<zxid:2>", "<zxid:1>", version=1, length=6),
            "[y]",
            *stat("<zxid:3>", "<zxid:3>", "<zxid:1>", cversion=1, children=1),
            "/x",
            "/x/y",
            "[zookeeper]",
        ],
    )
    # zxids first appear as /x/y's create, its setData, then /x's create.
    czxid_y, mzxid_y, czxid_x = t.zxids
    assert czxid_x < czxid_y < mzxid_y


def test_container_and_ttl_need_extended_types(server, extended_server):
    plain = zkcli.session(server.port, ["create -c /cont", "stat /cont", "create -t 1000 /ttl"])
    assert_transcript(
        plain,
        [
            "Created /cont",
            *stat("<zxid:1>", "<zxid:1>", "<zxid:1>"),
            # TTL nodes are off unless zookeeper.extendedTypesEnabled=true.
            "KeeperErrorCode = Unimplemented for /ttl",
        ],
    )
    extended = zkcli.session(extended_server.port, ["create -t 1000 /ttl v", "stat /ttl"])
    assert_transcript(
        extended,
        [
            "Created /ttl",
            # The server keeps the TTL in the node's ephemeralOwner field but shows clients 0
            # for TTL and container nodes.
            *stat("<zxid:1>", "<zxid:1>", "<zxid:1>", length=1),
        ],
    )


def test_quota_is_tracked_by_the_server(server):
    t = zkcli.session(
        server.port,
        [
            "create /q",
            "create /q/a data1",
            "setquota -n 2 /q",
            "listquota /q",
            "create /q/b",
            "create /q/c xy",
            "set /q/a d",
            "listquota /q",
            "ls /zookeeper/quota/q",
            "delquota /q",
            "listquota /q",
        ],
    )
    assert_transcript(
        t,
        [
            "Created /q",
            "Created /q/a",
            "absolute path is /zookeeper/quota/q/zookeeper_limits",
            "Output quota for /q count=2,bytes=-1=;byteHardLimit=-1;countHardLimit=-1",
            "Output stat for /q count=2,bytes=5",
            "Created /q/b",
            "Created /q/c",
            "absolute path is /zookeeper/quota/q/zookeeper_limits",
            "Output quota for /q count=2,bytes=-1=;byteHardLimit=-1;countHardLimit=-1",
            # The server keeps zookeeper_stats current: 4 nodes, 0 + 1 + 0 + 2 bytes.
            "Output stat for /q count=4,bytes=3",
            "[zookeeper_limits, zookeeper_stats]",
            "absolute path is /zookeeper/quota/q/zookeeper_limits",
            "quota for /q does not exist.",
        ],
    )


def test_watches_fire_once_and_persistent_watches_keep_firing(server):
    t = zkcli.session(
        server.port,
        [
            "create /w",
            "get -w /w",
            "set /w v2",
            "set /w v3",
            "ls -w /w",
            "create /w/c",
            "stat -w /later",
            "create /later",
            "addWatch -m PERSISTENT_RECURSIVE /p",
            "create /p",
            "create /p/c",
            "set /p/c x",
            # Watch events print from the client's event thread; these round trips give it
            # time to print them before the session ends.
            "sync /",
            "ls /",
        ],
    )
    assert_transcript(
        t,
        [
            "Created /w",
            "null",
            "[]",
            "Created /w/c",
            "Node does not exist: /later",
            "Created /later",
            "Created /p",
            "Created /p/c",
            "Sync is OK",
            "[later, p, w, zookeeper]",
        ],
    )
    assert sorted(t.events) == sorted(
        [
            ("SyncConnected", "NodeDataChanged", "/w"),
            ("SyncConnected", "NodeChildrenChanged", "/w"),
            ("SyncConnected", "NodeCreated", "/later"),
            ("SyncConnected", "NodeCreated", "/p"),
            ("SyncConnected", "NodeCreated", "/p/c"),
            ("SyncConnected", "NodeDataChanged", "/p/c"),
        ]
    ), "watch events differ; raw output:\n%s" % t.raw
