"""The C client's shell, cli_mt (Debian zookeeper-bin), against the target.

Expected lines are what cli_mt prints against Debian's Apache ZooKeeper 3.8 standalone (run
this file with ZK_TARGET=apache to see them hold). Return codes are the C client's ZOO_ERRORS:
ZOK 0, ZUNIMPLEMENTED -6, ZNONODE -101, ZNODEEXISTS -110, ZNOTEMPTY -111,
ZNOCHILDRENFOREPHEMERALS -108. cli_mt creates every node with the data "new".
"""

from climt import CliMt, parse_stat

ZOK, ZUNIMPLEMENTED, ZNONODE = 0, -6, -101
ZNOCHILDRENFOREPHEMERALS, ZNODEEXISTS, ZNOTEMPTY = -108, -110, -111
# cli_mt's create modes.
PERSISTENT, EPHEMERAL, SEQUENTIAL, EPHEMERAL_SEQUENTIAL, CONTAINER, TTL = 0, 1, 2, 3, 4, 5


def created(path, mode, name):
    return ["Creating [%s] node (mode: %d)" % (path, mode), "[%s]: rc = 0" % path, "\tname = %s" % name]


def create_failed(path, mode, rc):
    return ["Creating [%s] node (mode: %d)" % (path, mode), "[%s]: rc = %d" % (path, rc)]


def split_get(out, path):
    """Splits `get` output into (value, stat dict)."""
    assert out[0] == "%s: rc = 0" % path, out
    assert out[1].startswith(" value_len = "), out
    value_len = int(out[1].split("=")[1])
    # The value is written raw, followed by "\nStat:\n".
    stat_at = out.index("Stat:")
    value = "\n".join(out[2:stat_at])
    assert len(value.encode()) == value_len, out
    return value, parse_stat(out[stat_at + 1 :])


def test_create_get_set_delete(server):
    with CliMt(server.port) as c:
        assert c.run("create /climt") == created("/climt", PERSISTENT, "/climt")
        value, stat = split_get(c.run("get /climt"), "/climt")
        assert value == "new"
        assert stat["czxid"] == stat["mzxid"] > 0
        assert (stat["version"], stat["aversion"], stat["ephemeralOwner"]) == (0, 0, 0)
        assert stat["ctime"] == stat["mtime"]

        out = c.run("set /climt hello world")
        assert out[0] == "/climt: rc = 0 Stat:"
        after_set = parse_stat(out[1:])
        assert after_set["czxid"] == stat["czxid"]
        assert after_set["mzxid"] > stat["mzxid"]
        assert after_set["version"] == 1
        # `get` left a data watch on /climt, which the set fired.
        c.expect_event(("CHANGED_EVENT", "CONNECTED_STATE", "/climt"))

        value, stat = split_get(c.run("get /climt"), "/climt")
        assert value == "hello world"
        assert stat == after_set

        assert c.run("delete /climt") == ["/climt: rc = 0"]
        c.expect_event(("DELETED_EVENT", "CONNECTED_STATE", "/climt"))
        assert c.run("delete /climt") == ["/climt: rc = %d" % ZNONODE]


def test_ls_and_ls2_list_children(server):
    with CliMt(server.port) as c:
        assert c.run("ls /") == ["/: rc = 0", "\tzookeeper"]
        for name in ("b", "a", "c"):
            c.run("create /%s" % name)
        out = c.run("ls /")
        # The server returns children in no particular order.
        assert out[0] == "/: rc = 0"
        assert sorted(out[1:]) == ["\ta", "\tb", "\tc", "\tzookeeper"]
        c.expect_event(("CHILD_EVENT", "CONNECTED_STATE", "/"))

        out = c.run("ls2 /zookeeper")
        assert out[0] == "/zookeeper: rc = 0"
        assert sorted(out[1:3]) == ["\tconfig", "\tquota"]
        stat = parse_stat(out[3:])
        # System nodes exist from the start: zxid 0, epoch times.
        assert stat["czxid"] == stat["mzxid"] == 0
        assert stat["ctime"] == "Thu Jan  1 00:00:00 1970"
        assert c.run("ls /nosuch") == ["/nosuch: rc = %d" % ZNONODE]


def test_ephemeral_and_sequential_nodes(server):
    with CliMt(server.port) as c:
        assert c.run("create +e /e") == created("/e", EPHEMERAL, "/e")
        # Sequence numbers count the creates under the parent: /e was number 0.
        assert c.run("create +s /s") == created("/s", SEQUENTIAL, "/s0000000001")
        assert c.run("create +es /es") == created("/es", EPHEMERAL_SEQUENTIAL, "/es0000000002")
        assert c.run("create /e/child") == create_failed("/e/child", PERSISTENT, ZNOCHILDRENFOREPHEMERALS)

        out = c.run("create2 +e /e2")
        assert out[:3] == created("/e2", EPHEMERAL, "/e2")
        stat = parse_stat(out[3:])
        assert stat["ephemeralOwner"] == c.session_id
        session = c.session_id

    # cli_mt's quit closed the session: its ephemerals are gone.
    with CliMt(server.port) as c:
        assert c.session_id != session
        assert c.run("exists /e") == ["Error %d for /e" % ZNONODE]
        assert c.run("exists /s0000000001") == []
        out = c.run("ls /")
        assert sorted(out[1:]) == ["\ts0000000001", "\tzookeeper"]


def test_error_codes(server):
    with CliMt(server.port) as c:
        c.run("create /x")
        c.run("create /x/y")
        assert c.run("create /x") == create_failed("/x", PERSISTENT, ZNODEEXISTS)
        assert c.run("create /a/b") == create_failed("/a/b", PERSISTENT, ZNONODE)
        assert c.run("delete /x") == ["/x: rc = %d" % ZNOTEMPTY]
        assert c.run("get /nosuch") == ["/nosuch: rc = %d" % ZNONODE, "", "Stat:", "null"]
        assert c.run("set /nosuch v") == ["/nosuch: rc = %d Stat:" % ZNONODE, "null"]
        assert c.run("exists /nosuch") == ["Error %d for /nosuch" % ZNONODE]
        assert c.run("sync /x") == ["[/x]: rc = 0", "\tname = /x"]


def test_container_ttl_and_extended_types(server, extended_server):
    with CliMt(server.port) as c:
        assert c.run("create +c /cont") == created("/cont", CONTAINER, "/cont")
        # TTL nodes are off unless zookeeper.extendedTypesEnabled=true.
        assert c.run("create +t=5000 /ttl") == create_failed("/ttl", TTL, ZUNIMPLEMENTED)
    with CliMt(extended_server.port) as c:
        out = c.run("create2 +t=5000 /ttl")
        assert out[:3] == created("/ttl", TTL, "/ttl")
        # Clients see ephemeralOwner 0 for TTL nodes; the server keeps the TTL there.
        assert parse_stat(out[3:])["ephemeralOwner"] == 0


def test_watches_across_sessions(server):
    with CliMt(server.port) as watcher, CliMt(server.port) as writer:
        assert watcher.run("wexists /w") == ["Error %d for /w" % ZNONODE]
        writer.run("create /w")
        watcher.expect_event(("CREATED_EVENT", "CONNECTED_STATE", "/w"))

        watcher.run("get /w")
        watcher.run("ls /w")
        writer.run("set /w v2")
        watcher.expect_event(("CHANGED_EVENT", "CONNECTED_STATE", "/w"))
        writer.run("create /w/c")
        watcher.expect_event(("CHILD_EVENT", "CONNECTED_STATE", "/w"))

        # Watches fire once: a second change is not reported until re-registered.
        writer.run("set /w v3")
        watcher.run("get /w")
        writer.run("delete /w/c")
        writer.run("delete /w")
        watcher.expect_event(("DELETED_EVENT", "CONNECTED_STATE", "/w"))
        watcher.run("sync /")
        assert ("CHANGED_EVENT", "CONNECTED_STATE", "/w") not in watcher.events
        assert writer.events == []


def test_system_config_node_and_session_id(server):
    with CliMt(server.port) as c:
        out = c.run("config")
        # A standalone server's dynamic configuration is empty.
        assert out[:4] == ["/zookeeper/config: rc = 0", " value_len = 0", "", "Stat:"]
        stat = parse_stat(out[4:])
        assert (stat["czxid"], stat["mzxid"], stat["version"]) == (0, 0, 0)
        # /zookeeper/config is created with aversion -1.
        assert stat["aversion"] == 0xFFFFFFFF

        assert c.run("myid") == ["session Id = %x" % c.session_id]


def test_digest_auth_and_unknown_scheme(server):
    with CliMt(server.port) as c:
        assert c.run("addauth digest alice:secret") == []
        assert c.run("create /after-auth") == created("/after-auth", PERSISTENT, "/after-auth")
        # An unknown scheme makes the server fail the session's authentication and drop it.
        c.send("addauth nosuchscheme secret")
        c.expect_event(("SESSION_EVENT", "AUTH_FAILED_STATE", None))
        c.expect("Authentication failure. Shutting down...")
        assert c.wait_exit() == 0


def test_stat_matches_across_commands(server):
    with CliMt(server.port) as c:
        out = c.run("create2 /n")
        created_stat = parse_stat(out[3:])
        out = c.run("ls2 /n")
        assert out[0] == "/n: rc = 0"
        assert parse_stat(out[1:]) == created_stat
        _, got = split_get(c.run("get /n"), "/n")
        assert got == created_stat
