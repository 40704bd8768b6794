"""zkd under a real systemd (Debian 12, systemd 252) in booted nspawn hosts: readiness that
means "serving", the STATUS line, the watchdog, reload, journald fields, the hardening
score, and a three-host ensemble where exactly one member says it leads."""

import json
import re
import time

STANDALONE = """tickTime=2000
dataDir=/var/lib/zkd
clientPort=2181
4lw.commands.whitelist=srvr,stat,mntr
"""

SRVR = """
import socket, sys
s = socket.create_connection((sys.argv[1], 2181), timeout=5)
s.sendall(sys.argv[2].encode())
out = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    out += b
print(out.decode())
"""


def four_letter(bed, ip, word="srvr"):
    return bed.run_in_controller(["python3", "-c", SRVR, ip, word]).stdout


def write(bed, host, path, text):
    bed.ssh(host, "install -d -o root -g zkd -m 0750 %s && cat > %s" % (path.rsplit("/", 1)[0], path), input=text)


def show(bed, host, prop, unit="zkd"):
    return bed.ssh(host, "systemctl show -p %s --value %s" % (prop, unit)).stdout.strip()


def wait_for(what, check, timeout=30.0, every=0.3):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def journal(bed, host):
    out = bed.ssh(host, "journalctl -u zkd -o json --no-pager").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_units_rate_2_0_or_better_in_systemd_analyze_security(bed):
    out = bed.ssh("zk1", "systemd-analyze security --no-pager zkd.service", check=False).stdout
    m = re.search(r"Overall exposure level for zkd.service: ([0-9.]+)", out)
    assert m, out[-2000:]
    assert float(m.group(1)) <= 2.0, out[-3000:]


def test_start_returns_when_serving_and_status_tells_the_mode(fresh):
    bed = fresh
    write(bed, "zk1", "/etc/zkd/zoo.cfg", STANDALONE)
    bed.ssh("zk1", "systemctl start zkd", timeout=120)
    # No polling: when start returns, zkd serves.
    assert "Mode: standalone" in four_letter(bed, "10.77.0.11")
    status = show(bed, "zk1", "StatusText")
    assert re.fullmatch(r"mode=standalone zxid=0x[0-9a-f]+ clients=\d+", status), status
    assert 'Status: "mode=standalone' in bed.ssh("zk1", "systemctl status --no-pager zkd", check=False).stdout
    assert bed.ssh("zk1", "stat -c %U:%G /var/lib/zkd").stdout.strip() == "zkd:zkd"
    # Native journal entries, with tracing's fields.
    entries = journal(bed, "zk1")
    ours = [e for e in entries if e.get("SYSLOG_IDENTIFIER") == "zkd" and "TARGET" in e]
    assert any("serving clients" in e.get("MESSAGE", "") for e in ours), entries[-5:]
    # Stop: STOPPING, a clean exit.
    bed.ssh("zk1", "systemctl stop zkd", timeout=90)
    assert show(bed, "zk1", "Result") == "success"
    assert show(bed, "zk1", "ExecMainStatus") == "0"


def test_reload_applies_the_new_whitelist_without_a_restart(fresh):
    bed = fresh
    write(bed, "zk1", "/etc/zkd/zoo.cfg", STANDALONE)
    bed.ssh("zk1", "systemctl start zkd", timeout=120)
    pid = show(bed, "zk1", "MainPID")
    assert "imok" not in four_letter(bed, "10.77.0.11", "ruok")
    write(bed, "zk1", "/etc/zkd/zoo.cfg", STANDALONE.replace("srvr,stat,mntr", "srvr,stat,mntr,ruok"))
    bed.ssh("zk1", "systemctl reload zkd", timeout=60)
    assert four_letter(bed, "10.77.0.11", "ruok") == "imok\n"
    assert show(bed, "zk1", "MainPID") == pid
    assert show(bed, "zk1", "ActiveState") == "active"
    assert any("configuration reloaded" in e.get("MESSAGE", "") for e in journal(bed, "zk1"))


def test_a_stopped_zkd_is_killed_by_the_watchdog_and_restarted(fresh):
    bed = fresh
    write(bed, "zk1", "/etc/zkd/zoo.cfg", STANDALONE)
    bed.ssh(
        "zk1",
        "mkdir -p /etc/systemd/system/zkd.service.d && printf '[Service]\\nWatchdogSec=2s\\n' "
        "> /etc/systemd/system/zkd.service.d/watchdog.conf && systemctl daemon-reload",
    )
    bed.ssh("zk1", "systemctl start zkd", timeout=120)
    pid = show(bed, "zk1", "MainPID")
    # Still pinging while healthy: no restart over several watchdog periods.
    time.sleep(5)
    assert show(bed, "zk1", "MainPID") == pid
    bed.ssh("zk1", "kill -STOP %s" % pid)
    wait_for(
        "a restart by the watchdog",
        lambda: show(bed, "zk1", "MainPID") not in ("0", pid) and show(bed, "zk1", "ActiveState") == "active",
        timeout=40,
    )
    assert int(show(bed, "zk1", "NRestarts")) >= 1
    assert "Mode: standalone" in four_letter(bed, "10.77.0.11")
    log = bed.ssh("zk1", "journalctl -u zkd --no-pager", check=False).stdout
    assert "Watchdog timeout" in log or "watchdog" in log.lower(), log[-2000:]


def test_three_hosts_report_their_modes_and_exactly_one_leads(fresh):
    bed = fresh
    servers = "".join("server.%d=10.77.0.1%d:2888:3888;2181\n" % (i, i) for i in (1, 2, 3))
    for i in (1, 2, 3):
        host = "zk%d" % i
        write(bed, host, "/etc/zkd/zoo.cfg", "tickTime=500\ninitLimit=10\nsyncLimit=5\n"
              "dataDir=/var/lib/zkd\n4lw.commands.whitelist=*\n" + servers)
        bed.ssh(host, "install -d -o zkd -g zkd -m 0750 /var/lib/zkd && echo %d > /var/lib/zkd/myid "
                "&& chown zkd:zkd /var/lib/zkd/myid" % i)
    # The first member cannot serve alone: started without blocking, it waits (and
    # asks systemd for more time) instead of failing.
    bed.ssh("zk1", "systemctl start --no-block zkd")
    time.sleep(3)
    assert show(bed, "zk1", "ActiveState") == "activating"
    assert show(bed, "zk1", "StatusText").startswith("mode=looking")
    bed.ssh("zk2", "systemctl start --no-block zkd")
    # A blocking start returns once the member serves.
    bed.ssh("zk3", "systemctl start zkd", timeout=120)
    assert "Mode: " in four_letter(bed, "10.77.0.13")
    for h in ("zk1", "zk2"):
        wait_for(h + " active", lambda h=h: show(bed, h, "ActiveState") == "active")
    statuses = {h: show(bed, h, "StatusText") for h in ("zk1", "zk2", "zk3")}
    leaders = [h for h, s in statuses.items() if s.startswith("mode=leader")]
    assert len(leaders) == 1, statuses
    leader_id = leaders[0][2:]
    for h, s in statuses.items():
        assert re.fullmatch(r"mode=(leader|follower) leader=%s zxid=0x[0-9a-f]+ clients=\d+" % leader_id, s), statuses
    modes = [four_letter(bed, "10.77.0.1%d" % i) for i in (1, 2, 3)]
    assert sum("Mode: leader" in m for m in modes) == 1, modes
    # Journal fields: every entry names the member; role changes carry MODE and ZXID.
    for i in (1, 2, 3):
        entries = [e for e in journal(bed, "zk%d" % i) if e.get("SYSLOG_IDENTIFIER") == "zkd" and "TARGET" in e]
        assert entries and all(e.get("MYID") == str(i) for e in entries), entries[:3]
        serving = [e for e in entries if "serving clients" in e.get("MESSAGE", "") and "MODE" in e]
        assert serving and serving[-1]["MODE"] in ("leader", "follower"), serving
        assert serving[-1]["ZXID"].startswith("0x")
    # The leader goes: the others say so in STATUS and elect another.
    bed.ssh(leaders[0], "systemctl kill -s KILL zkd")
    rest = [h for h in ("zk1", "zk2", "zk3") if h != leaders[0]]
    wait_for(
        "a new leader among %s" % rest,
        lambda: sum(show(bed, h, "StatusText").startswith("mode=leader") for h in rest) == 1,
        timeout=30,
    )
