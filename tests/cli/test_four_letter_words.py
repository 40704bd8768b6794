"""Four-letter words as operators and monitoring tools read them (`echo srvr | nc`, exporters).

The expected shapes and values are those of Debian's Apache ZooKeeper 3.8 standalone (run
with ZK_TARGET=apache to see them hold). State is made with kazoo, so the counters have
known values: sessions, ephemerals, watches and znodes.
"""

import re

import pytest
from kazoo.client import KazooClient

import zktarget

# A fresh Apache standalone counts 5 znodes: its node table holds the root under both "" and
# "/", plus /zookeeper, /zookeeper/quota and /zookeeper/config.
FRESH_ZNODE_COUNT = 5
# Metrics that common ZooKeeper exporters and dashboards read from mntr.
EXPORTER_KEYS = [
    "zk_version",
    "zk_server_state",
    "zk_avg_latency",
    "zk_max_latency",
    "zk_min_latency",
    "zk_packets_received",
    "zk_packets_sent",
    "zk_num_alive_connections",
    "zk_outstanding_requests",
    "zk_znode_count",
    "zk_watch_count",
    "zk_ephemerals_count",
    "zk_approximate_data_size",
    "zk_open_file_descriptor_count",
    "zk_max_file_descriptor_count",
]
VERSION = re.compile(r"^3\.8\.0-.*")


def srvr_fields(text):
    lines = text.splitlines()
    keys = [line.split(":", 1)[0] for line in lines]
    assert keys == [
        "Zookeeper version",
        "Latency min/avg/max",
        "Received",
        "Sent",
        "Connections",
        "Outstanding",
        "Zxid",
        "Mode",
        "Node count",
    ], text
    return {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in lines}


def mntr_fields(text):
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition("\t")
        assert sep and key.startswith("zk_"), "mntr line is not 'zk_key<TAB>value': %r" % line
        fields[key] = value
    return fields


@pytest.fixture
def client(server):
    c = KazooClient(hosts="127.0.0.1:%d" % server.port, timeout=10)
    c.start(timeout=15)
    yield c
    c.stop()
    c.close()


def test_ruok_and_isro(server):
    assert server.four_letter_word("ruok") == "imok"
    assert server.four_letter_word("isro") == "rw"


def test_srvr_on_a_fresh_server(server):
    f = srvr_fields(server.four_letter_word("srvr"))
    assert VERSION.match(f["Zookeeper version"])
    assert re.fullmatch(r"\d+/\d+\.\d+/\d+", f["Latency min/avg/max"])
    assert f["Zxid"] == "0x0"
    assert f["Mode"] == "standalone"
    assert f["Node count"] == str(FRESH_ZNODE_COUNT)
    # The srvr connection itself is counted.
    assert f["Connections"] == "1"
    assert f["Outstanding"] == "0"


def test_counters_follow_sessions_nodes_and_watches(server, client):
    client.create("/a", b"12345")
    client.create("/a/b", b"")
    client.create("/e", b"x", ephemeral=True)
    client.get("/a", watch=lambda event: None)
    client.get_children("/a", watch=lambda event: None)
    client.exists("/missing", watch=lambda event: None)
    last_zxid = client.exists("/e").czxid

    f = srvr_fields(server.four_letter_word("srvr"))
    assert f["Node count"] == str(FRESH_ZNODE_COUNT + 3)
    assert int(f["Zxid"], 16) == last_zxid
    # The kazoo session and the srvr connection.
    assert f["Connections"] == "2"

    m = mntr_fields(server.four_letter_word("mntr"))
    missing = [k for k in EXPORTER_KEYS if k not in m]
    assert not missing, "mntr lacks %s" % missing
    assert VERSION.match(m["zk_version"])
    assert m["zk_server_state"] == "standalone"
    assert m["zk_znode_count"] == str(FRESH_ZNODE_COUNT + 3)
    assert m["zk_ephemerals_count"] == "1"
    assert m["zk_num_alive_connections"] == "2"
    # Data watch and child watch on /a, exists watch on /missing.
    assert m["zk_watch_count"] == "3"

    # wchs and wchp cover data watches (getData, exists) only, not child watches.
    assert server.four_letter_word("wchs") == (
        "1 connections watching 2 paths\nTotal watches:2\n"
    )
    wchp = server.four_letter_word("wchp")
    assert sorted(line for line in wchp.splitlines() if line.startswith("/")) == [
        "/a",
        "/missing",
    ]


def test_stat_and_cons_list_the_client_connections(server, client):
    client.create("/n", b"")
    line = re.compile(r"^ /127\.0\.0\.1:\d+\[\d\]\(queued=\d+,recved=\d+,sent=\d+.*\)$")
    cons = [l for l in server.four_letter_word("cons").splitlines() if l]
    assert len(cons) == 2, cons
    assert all(line.match(l) for l in cons), cons
    stat = server.four_letter_word("stat").splitlines()
    assert VERSION.match(stat[0].split(": ", 1)[1])
    assert stat[1] == "Clients:"
    assert "Mode: standalone" in stat


def test_conf_reports_the_configuration(server):
    conf = dict(
        line.split("=", 1) for line in server.four_letter_word("conf").splitlines() if "=" in line
    )
    assert conf["clientPort"] == str(server.port)
    assert conf["tickTime"] == "2000"
    # Session timeout bounds default to 2 and 20 ticks.
    assert conf["minSessionTimeout"] == "4000"
    assert conf["maxSessionTimeout"] == "40000"
    assert conf["serverId"] == "0"
    assert conf["dataDir"].startswith(str(server.dir / "data"))


def test_envi_names_the_zookeeper_version(server):
    lines = server.four_letter_word("envi").splitlines()
    assert lines[0] == "Environment:"
    env = dict(line.split("=", 1) for line in lines[1:] if "=" in line)
    # kazoo's server_version() parses this line.
    assert VERSION.match(env["zookeeper.version"])


def test_reset_words(server):
    assert server.four_letter_word("srst") == "Server stats reset.\n"
    assert server.four_letter_word("crst") == "Connection stats reset.\n"


def test_unknown_word_gets_no_reply(server):
    assert server.four_letter_word("xyzw") == ""
    # The server is still serving.
    assert zktarget.four_letter_word(server.port, "ruok") == "imok"
