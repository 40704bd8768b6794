"""What a pipelined writer asked for, what zkd acknowledged, and what must therefore be on
the server after any crash.

Each cycle is one kazoo session writing ops 0, 1, 2, ... as fast as a bounded window of
outstanding requests allows: even ops create /crash/c<cycle>/n<seq>, odd ops set one of a
fixed set of slot nodes to "c<cycle>:<seq>". zkd logs a session's writes in order and makes
the log durable as a prefix, so after a crash the writes of a cycle that survived must be a
prefix of its ops: if op k is there, every op before it is too. Every acknowledged op must
be there, and so must every op an earlier check saw (it was recovered from disk once).
"""

import threading
import time

from kazoo.exceptions import ConnectionClosedError, ConnectionLoss, SessionExpiredError

ROOT = "/crash"
SLOTS = 16
INIT = b"init"
# A request that was sent (or queued) when the server died: applied or not, nobody knows.
UNKNOWN_OUTCOME = (ConnectionLoss, ConnectionClosedError, SessionExpiredError)


def cycle_dir(cycle):
    return "%s/c%d" % (ROOT, cycle)


def slot_path(slot):
    return "%s/slot%02d" % (ROOT, slot)


def create_path(cycle, seq):
    return "%s/n%06d" % (cycle_dir(cycle), seq)


def create_data(cycle, seq):
    # Record sizes vary, so torn writes land at varying places in a record.
    return b"c%d:%d|" % (cycle, seq) + b"x" * (seq * 37 % 300)


def slot_data(cycle, seq):
    return b"c%d:%d" % (cycle, seq)


def parse_slot(data):
    """(cycle, seq) of a slot's value, (-1, -1) for the initial value, None if neither."""
    if data == INIT:
        return (-1, -1)
    try:
        c, s = data.decode().lstrip("c").split(":")
        return (int(c), int(s))
    except ValueError:
        return None


class Op:
    __slots__ = ("cycle", "seq", "status", "error")

    def __init__(self, cycle, seq):
        self.cycle, self.seq = cycle, seq
        self.status = None  # None: no answer; "ok"; "unknown": connection lost
        self.error = None

    @property
    def is_create(self):
        return self.seq % 2 == 0

    @property
    def slot(self):
        return (self.seq // 2) % SLOTS


class CycleWriter:
    """Writes one cycle's ops from a thread until halt() is called.

    The test halts the writer just before it kills the server: the ops already sent (up
    to `window` of them) are then in flight when zkd dies. Issuing more while the client
    is disconnected would not reach any server, and each call writes a wake-up byte to
    kazoo's internal socket, which nobody drains while it reconnects: enough of them
    block the caller for good."""

    def __init__(self, zk, cycle, window):
        self.zk, self.cycle = zk, cycle
        self.ops = []
        self.unexpected = []  # answers that are neither success nor a lost connection
        self._window = threading.BoundedSemaphore(window)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="crash-writer-%d" % cycle, daemon=True
        )

    def start(self):
        self._thread.start()

    def halt(self):
        """Stops issuing ops; those in flight stay in flight."""
        self._stop.set()

    def join(self):
        self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "writer thread of cycle %d did not stop" % self.cycle

    def _run(self):
        seq = 0
        while not self._stop.is_set():
            if not self._window.acquire(timeout=0.05):
                continue
            if self._stop.is_set() or not self.zk.connected:
                self._window.release()
                break
            op = Op(self.cycle, seq)
            self.ops.append(op)
            try:
                if op.is_create:
                    result = self.zk.create_async(
                        create_path(self.cycle, seq), create_data(self.cycle, seq)
                    )
                else:
                    result = self.zk.set_async(slot_path(op.slot), slot_data(self.cycle, seq))
            except Exception as e:  # the client refuses new calls once closing
                op.status, op.error = "unknown", e
                self._window.release()
                break
            result.rawlink(lambda r, op=op: self._answered(op, r))
            seq += 1

    def _answered(self, op, result):
        exc = result.exception
        if exc is None:
            op.status = "ok"
        elif isinstance(exc, UNKNOWN_OUTCOME):
            op.status, op.error = "unknown", exc
        else:
            op.status, op.error = "unknown", exc
            self.unexpected.append((op.cycle, op.seq, repr(exc)))
        self._window.release()

    def acked(self):
        return sum(1 for op in self.ops if op.status == "ok")


class History:
    """Every cycle's ops, and what the checks have seen so far."""

    def __init__(self):
        self.cycles = {}  # cycle -> [Op], in seq order
        self.seen_creates = {}  # cycle -> set of seqs found on the server once
        self.slot_floor = {s: (-1, -1) for s in range(SLOTS)}  # seen or acknowledged

    def add_cycle(self, cycle, ops):
        self.cycles[cycle] = list(ops)
        self.seen_creates.setdefault(cycle, set())
        for op in ops:
            if op.status == "ok" and not op.is_create:
                self.slot_floor[op.slot] = max(self.slot_floor[op.slot], (op.cycle, op.seq))

    def check(self, zk):
        """Reads the server's state and returns a list of violations (empty: all good)."""
        problems = []
        present = {}
        for cycle, ops in self.cycles.items():
            try:
                names = zk.get_children(cycle_dir(cycle))
            except Exception as e:
                problems.append("cycle %d: cannot list %s: %r" % (cycle, cycle_dir(cycle), e))
                continue
            present[cycle] = {int(n[1:]) for n in names}
        slots = {}
        for s in range(SLOTS):
            data, _ = zk.get(slot_path(s))
            slots[s] = parse_slot(data)
            if slots[s] is None:
                problems.append("%s holds %r, which no writer wrote" % (slot_path(s), data))

        for cycle, ops in self.cycles.items():
            if cycle not in present:
                continue
            problems += self._check_cycle(cycle, ops, present[cycle], slots)
        problems += self._check_data(zk, present)
        for s, value in slots.items():
            if value is not None and value < self.slot_floor[s]:
                problems.append(
                    "%s went back to c%d:%d after c%d:%d was acknowledged or seen"
                    % ((slot_path(s),) + value + self.slot_floor[s])
                )
        if not problems:
            for cycle, seqs in present.items():
                self.seen_creates[cycle] |= seqs
            for s, value in slots.items():
                self.slot_floor[s] = max(self.slot_floor[s], value)
        return problems

    def _check_cycle(self, cycle, ops, present, slots):
        problems = []
        creates = [op for op in ops if op.is_create]
        issued = {op.seq for op in creates}
        extra = sorted(present - issued)
        if extra:
            problems.append("cycle %d: nodes nobody created: %s" % (cycle, extra[:10]))
        for op in creates:
            if op.seq in present:
                continue
            if op.status == "ok":
                problems.append(
                    "cycle %d: acknowledged create %s is missing"
                    % (cycle, create_path(cycle, op.seq))
                )
            elif op.seq in self.seen_creates[cycle]:
                problems.append(
                    "cycle %d: %s was recovered before and is gone now"
                    % (cycle, create_path(cycle, op.seq))
                )
        # The durable frontier: the latest op of this cycle known to have survived.
        frontier = max(present & issued, default=-1)
        for s, value in slots.items():
            if value is not None and value[0] == cycle:
                frontier = max(frontier, value[1])
        for op in ops:
            if op.seq >= frontier:
                break
            if op.is_create and op.seq not in present:
                problems.append(
                    "cycle %d: op %d survived but the earlier create %s did not (writes out of order)"
                    % (cycle, frontier, create_path(cycle, op.seq))
                )
            elif (
                not op.is_create and slots[op.slot] is not None and slots[op.slot] < (cycle, op.seq)
            ):
                problems.append(
                    "cycle %d: op %d survived but the earlier set of %s to c%d:%d did not (it holds c%d:%d)"
                    % ((cycle, frontier, slot_path(op.slot), cycle, op.seq) + slots[op.slot])
                )
        by_seq = {op.seq: op for op in ops}
        for s, value in slots.items():
            if value is not None and value[0] == cycle:
                op = by_seq.get(value[1])
                if op is None or op.is_create or op.slot != s:
                    problems.append(
                        "%s holds c%d:%d, which was never written to it" % ((slot_path(s),) + value)
                    )
        return problems

    def _check_data(self, zk, present):
        problems = []
        pending = []
        for cycle, seqs in present.items():
            for seq in seqs:
                pending.append((cycle, seq, zk.get_async(create_path(cycle, seq))))
        for cycle, seq, result in pending:
            data, _ = result.get(timeout=30)
            if data != create_data(cycle, seq):
                problems.append(
                    "%s holds %r, expected %r"
                    % (create_path(cycle, seq), data[:40], create_data(cycle, seq)[:40])
                )
        return problems


def wait_answered(ops, bound_s):
    """Waits until every op has an answer or the bound passes."""
    deadline = time.monotonic() + bound_s
    while any(op.status is None for op in ops) and time.monotonic() < deadline:
        time.sleep(0.01)
