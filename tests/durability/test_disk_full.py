"""A full disk: zkd's dataDir on a small tmpfs, filled up by a file the test writes.

Writes that cannot be made durable must fail with SystemError (-1, kazoo's
SystemZookeeperError) and must not be applied; reads and the session go on; once space
returns, writes succeed again, and after a SIGKILL and restart every acknowledged write is
there and no failed one is. The log keeps no gap: zxids of failed writes are handed out again.
"""

import os
import subprocess
import time

import pytest
from kazoo.exceptions import SystemZookeeperError

import txnlog
import zktarget
from zkdproc import close_quietly, connect

TMPFS_SIZE = "6m"
HEADROOM = 512 * 1024  # left free next to the filler file
NODE_BYTES = 2000
BATCH = 8  # writes in flight at once, so that a failure hits several of them
MAX_WRITES = 4000  # the headroom holds a few hundred; this only bounds a broken run
# A healthy zkd answers a write in milliseconds, failed or not; the client's session
# (30 s) would notice a missing answer only much later.
ANSWER_BOUND_S = 5
WRITES_AFTER_FREEING = 50


def _data(i):
    return (b"%05d:" % i) * (NODE_BYTES // 6)


@pytest.fixture
def tmpfs_server(zkd_factory):
    """A running zkd whose dataDir is a fresh tmpfs of TMPFS_SIZE."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    server = zkd_factory(["preAllocSize=64"], start=False)
    server.data_dir.mkdir(parents=True, exist_ok=True)
    if os.path.ismount(server.data_dir):  # left mounted by an interrupted run
        subprocess.run(["umount", "-l", str(server.data_dir)], timeout=30)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=" + TMPFS_SIZE, "tmpfs", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if proc.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % proc.stderr.strip())
    try:
        server.start(keep_data=True)  # servers.sh would otherwise empty the mount point
        yield server
    finally:
        server.stop()
        proc = subprocess.run(
            ["umount", str(server.data_dir)], capture_output=True, text=True, timeout=30
        )
        if proc.returncode != 0:
            subprocess.run(["umount", "-l", str(server.data_dir)], timeout=30)


def _fill(server, leave):
    """Writes a filler file that leaves `leave` bytes free; returns its path."""
    path = server.data_dir / "filler"
    st = os.statvfs(server.data_dir)
    size = st.f_bavail * st.f_frsize - leave
    chunk = b"\xff" * (1 << 20)
    with open(path, "wb") as f:
        while size > 0:
            size -= f.write(chunk[: min(size, len(chunk))])
    return path


class Writes:
    """Creates under /full, `size` in flight at a time, and what became of each."""

    def __init__(self, zk):
        self.zk = zk
        self.acked = {}  # path -> data
        self.failed = set()
        self.unanswered = []  # (path, data, async result, what the wait raised)
        self.late = {}  # path -> outcome, for writes answered only after the bound
        self.next = 0
        zk.ensure_path("/full")

    def batch(self, size, name="n%05d"):
        """Sends `size` creates at once and waits for each; True if any failed."""
        sent = []
        for _ in range(size):
            i, self.next = self.next, self.next + 1
            path = "/full/" + name % i
            sent.append((path, _data(i), self.zk.create_async(path, _data(i))))
        failed = False
        deadline = time.monotonic() + ANSWER_BOUND_S
        for path, data, result in sent:
            try:
                result.get(timeout=max(0.05, deadline - time.monotonic()))
            except SystemZookeeperError:
                self.failed.add(path)
                failed = True
            except Exception as e:  # no answer in time, or the connection went
                self.unanswered.append((path, data, result, repr(e)))
            else:
                self.acked[path] = data
        return failed

    def until_full(self, size):
        while self.next < MAX_WRITES and not self.unanswered:
            if self.batch(size):
                return
        pytest.fail(
            "no write failed with SystemError after %d creates of %d bytes; unanswered: %s"
            % (self.next, NODE_BYTES, [u[0] for u in self.unanswered]),
            pytrace=False,
        )

    def settle(self):
        """Gives unanswered writes a last chance to be answered; classifies the late ones."""
        still = []
        for path, data, result, what in self.unanswered:
            try:
                result.get(timeout=1)
            except SystemZookeeperError:
                self.failed.add(path)
                self.late[path] = "SystemError"
            except Exception:
                still.append((path, data, result, what))
            else:
                self.acked[path] = data
                self.late[path] = "acknowledged"
        self.unanswered = still

    def counts(self):
        return "%d creates: %d acknowledged, %d failed with SystemError, %d unanswered" % (
            self.next,
            len(self.acked),
            len(self.failed),
            len(self.unanswered),
        )


def _check_serving(server, zk, writes, session, states):
    """Reads work, failed writes were never applied, and the session never wavered."""
    assert sorted(zk.get_children("/full")) == sorted(p.rsplit("/", 1)[1] for p in writes.acked)
    first = min(writes.acked)
    assert zk.get(first)[0] == writes.acked[first]
    assert server.four_letter_word("ruok") == "imok"
    assert zk.connected and zk.client_id[0] == session, "the session changed"
    assert states == [], "the client saw connection state changes: %s" % states


def _free_and_write(filler, writes):
    filler.unlink()
    for _ in range(WRITES_AFTER_FREEING):
        writes.batch(1, name="after%05d")
        if writes.unanswered:
            break


def _check_after_restart(server, writes):
    """SIGKILL, restart; returns the problems found (empty: all good)."""
    server.kill()
    try:
        server.restart()
    except zktarget.ServerError as e:
        return ["zkd does not start after the SIGKILL: %s" % str(e).splitlines()[-1]]
    problems = []
    zk = connect(server.port)
    try:
        children = set(zk.get_children("/full"))
        lost = sorted(p for p in writes.acked if p.rsplit("/", 1)[1] not in children)
        if lost:
            problems.append("acknowledged writes lost over the restart: %s" % lost[:10])
        changed = [p for p in writes.acked if p not in lost and zk.get(p)[0] != writes.acked[p]]
        if changed:
            problems.append("writes changed over the restart: %s" % changed[:10])
        back = sorted(p for p in writes.failed if p.rsplit("/", 1)[1] in children)
        if back:
            problems.append(
                "writes that failed with SystemError are there after the restart: %s" % back[:10]
            )
    finally:
        close_quietly(zk)

    # On disk: no file left half-made, zxids reused after the failure (no gap, no
    # repeat), no failed create logged, every acknowledged one logged.
    logs = txnlog.log_files(server.version2)
    headless = [p.name for _, p in logs if p.stat().st_size < txnlog.FILE_HEADER_LEN]
    if headless:
        problems.append("log files without a file header left in the dataDir: %s" % headless)
        return problems
    records = txnlog.all_records(server.version2)
    zxids = [r.zxid for _, r in records]
    if zxids != list(range(zxids[0], zxids[0] + len(zxids))):
        problems.append("log zxids are not contiguous")
    logged = {r.create_path() for _, r in records} - {None}
    if logged & writes.failed:
        problems.append("failed creates are in the log: %s" % sorted(logged & writes.failed)[:10])
    if set(writes.acked) - logged:
        problems.append(
            "acknowledged creates missing from the log: %s"
            % sorted(set(writes.acked) - logged)[:10]
        )
    return problems


def _start_writing(server):
    states = []
    zk = connect(server.port, timeout=30.0)
    zk.add_listener(states.append)
    return zk, Writes(zk), zk.client_id[0], states


def test_disk_full_fails_writes_keeps_reads_and_recovers(tmpfs_server):
    """One client, one write at a time, until the first SystemError."""
    server = tmpfs_server
    filler = _fill(server, HEADROOM)
    zk, writes, session, states = _start_writing(server)
    try:
        writes.until_full(1)
        print(writes.counts())
        assert writes.acked, "nothing was acknowledged before the disk filled up"
        _check_serving(server, zk, writes, session, states)
        assert (
            "cannot write the transaction log" in server.log_text()
        ), "no log line about the failed write"
        _free_and_write(filler, writes)
        assert not writes.unanswered, (
            "writes after space returned got no answer: %s" % writes.unanswered
        )
        zk.set("/full", b"done")
        assert zk.client_id[0] == session and states == []
    finally:
        close_quietly(zk)
    problems = _check_after_restart(server, writes)
    assert not problems, "\n".join(problems)


def test_writes_keep_failing_cleanly_while_disk_stays_full(tmpfs_server):
    """Pipelined writes that go on after the first SystemError: every write must still be
    answered promptly (SystemError or success), the session must hold, writes must work
    again once space returns, and what was acknowledged must survive a SIGKILL."""
    server = tmpfs_server
    filler = _fill(server, HEADROOM)
    zk, writes, session, states = _start_writing(server)
    problems = []
    try:
        writes.until_full(BATCH)
        for size in [BATCH] * 4 + [1] * 4:
            if writes.unanswered:
                break
            writes.batch(size)
        if writes.unanswered:
            problems.append(
                "while the disk was full, writes got no answer within %ds: %s (first: %s)"
                % (ANSWER_BOUND_S, [u[0] for u in writes.unanswered], writes.unanswered[0][3])
            )
        _free_and_write(filler, writes)
        writes.settle()
        late_ok = sorted(p for p, outcome in writes.late.items() if outcome == "acknowledged")
        if late_ok:
            problems.append(
                "after space returned, zkd acknowledged those unanswered writes: %s" % late_ok
            )
        if writes.unanswered:
            problems.append(
                "still unanswered after space returned: %s" % [u[0] for u in writes.unanswered]
            )
        if states:
            problems.append("the client saw connection state changes: %s" % states)
        print(writes.counts(), "; late answers:", writes.late)
    finally:
        close_quietly(zk)
    problems += _check_after_restart(server, writes)
    assert not problems, "\n".join(problems) + "\nlog: %s" % server.log_path
