"""Crash loop: SIGKILL zkd at random moments under a pipelined write load, restart it on the
same dataDir, and check that nothing acknowledged was lost and that what survived of each
session is a prefix of what it wrote (see history.py for the exact rules).

snapCount is small, so snapshots (written beside serving) and log rolls happen all through
the loop and the kills land in them too. In some cycles a start is killed as well, within
50 ms, while it recovers (cutting a torn tail, writing its start-up snapshot). Every few cycles `zkd purge` runs on the stopped server, so the loop also proves
that purge keeps what recovery needs.
"""

import os
import subprocess
import time

import pytest

import history
import txnlog
from zkdproc import ZKD_BIN, close_quietly, connect

CYCLES = int(os.environ.get("ZKD_DURABILITY_CYCLES", "20"))
SNAP_COUNT = 200
WINDOW = 256
# Longest a kill waits after the writer starts; every moment up to it is equally likely.
MAX_KILL_DELAY_S = 0.8
PURGE_EVERY = 5
# Share of cycles in which a start is killed too, before the start that gets checked.
KILL_DURING_START = 0.3


def _purge(server):
    proc = subprocess.run(
        [str(ZKD_BIN), "--config", str(server.config_path), "purge", "-n", "3"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, "zkd purge failed (exit %d): %s" % (proc.returncode, proc.stderr)


# About 2 s a cycle; ample room for a loaded machine and for longer soaks.
@pytest.mark.timeout(max(240, 8 * CYCLES))
@pytest.mark.parametrize("log_dir", ["dataDir", "dataLogDir"])
def test_acknowledged_writes_survive_sigkill(zkd_factory, rng, log_dir):
    lines = ["snapCount=%d" % SNAP_COUNT, "preAllocSize=256"]
    cycles = CYCLES
    if log_dir == "dataLogDir":
        # The same loop with the logs in a directory of their own; fewer cycles, as the
        # code paths differ only in where files go.
        lines.append("dataLogDir={dir}/datalog")
        cycles = max(1, CYCLES // 2)
    server = zkd_factory(lines)
    zk = connect(server.port)
    zk.create(history.ROOT, b"")
    for s in range(history.SLOTS):
        zk.create(history.slot_path(s), history.INIT)
    close_quietly(zk)

    hist = history.History()
    totals = {"acked": 0, "unknown": 0, "torn": 0}
    started = time.monotonic()
    for cycle in range(cycles):
        zk = connect(server.port)
        zk.create(history.cycle_dir(cycle), b"")
        writer = history.CycleWriter(zk, cycle, WINDOW)
        delay = rng.uniform(0, MAX_KILL_DELAY_S)
        writer.start()
        time.sleep(delay)
        writer.halt()
        server.kill()
        writer.join()
        close_quietly(zk)
        history.wait_answered(writer.ops, 5)
        assert not writer.unexpected, "cycle %d: unexpected errors: %s" % (
            cycle,
            writer.unexpected[:5],
        )
        problems = server.log_problems()
        assert not problems, "cycle %d: zkd logged errors before the kill:\n%s" % (
            cycle,
            "\n".join(problems[:20]),
        )
        hist.add_cycle(cycle, writer.ops)
        acked = writer.acked()
        totals["acked"] += acked
        totals["unknown"] += len(writer.ops) - acked

        if cycle % PURGE_EVERY == PURGE_EVERY - 1:
            _purge(server)
        start_kill = None
        if rng.random() < KILL_DURING_START:
            start_kill = rng.uniform(0, 0.05)
            server.kill_during_start(start_kill)
        server.restart()
        zk = connect(server.port)
        try:
            problems = hist.check(zk)
        finally:
            close_quietly(zk)
        files = sorted(p.name for d in {server.version2, server.log_version2} for p in d.iterdir())
        torn = "cut a torn record" in server.log_text()
        totals["torn"] += torn
        print(
            "cycle %2d: killed after %.3fs; %d ops, %d acknowledged; files: %d logs, %d snapshots%s"
            % (
                cycle,
                delay,
                len(writer.ops),
                acked,
                sum(n.startswith("log.") for n in files),
                sum(n.startswith("snapshot.") for n in files),
                ("; a start killed after %.3fs" % start_kill if start_kill is not None else "")
                + ("; recovery cut a torn tail" if torn else ""),
            )
        )
        assert (
            not problems
        ), "after restart %d (kill %.3fs into the cycle):\n%s\nlog of the restart:\n%s" % (
            cycle,
            delay,
            "\n".join(problems[:30]),
            server.log_text()[-3000:],
        )
    print(
        "%d cycles in %.1fs: %d writes acknowledged, %d unanswered at the kill, %d torn tails cut"
        % (cycles, time.monotonic() - started, totals["acked"], totals["unknown"], totals["torn"])
    )
    problems = server.log_problems()
    assert not problems, "zkd logged errors after the last restart:\n%s" % "\n".join(problems[:20])
    assert totals["acked"] > cycles * 20, "the writer hardly wrote anything: %s" % totals

    # The files themselves: every log intact up to the cut, zxids without a gap from the
    # oldest snapshot's zxid on.
    server.stop()
    records = txnlog.all_records(server.log_version2)
    assert records, "no log records in %s" % server.log_version2
    zxids = [r.zxid for _, r in records]
    assert zxids == sorted(set(zxids)), "log zxids out of order or repeated"
    oldest_snap = txnlog.snapshot_files(server.version2)[0][0]
    needed = [z for z in zxids if z > oldest_snap]
    assert needed == list(range(oldest_snap + 1, oldest_snap + 1 + len(needed))), (
        "gap in the logs after snapshot.%x" % oldest_snap
    )
