"""Torn tails: damage only the last record of the last log file after a SIGKILL, as a crash
in the middle of an append can leave it, and restart. zkd must start, warn that it cut the
record off, and keep every transaction before it; the damaged one is gone, and new writes
carry on from there.

Which acknowledged writes precede the damaged record is read from the file itself: each
create's czxid against the record's zxid.
"""

import struct

import pytest

import txnlog
import zktarget
from zkdproc import close_quietly, connect

ROUNDS = 3
CUT_WARNING = "cut a torn record off the end of the transaction log"
# Long enough that no session of an earlier round expires (and logs a closeSession)
# while the test runs.
SESSION_TIMEOUT_S = 30.0


def _truncate(rng, path, rec):
    cut = rng.randrange(rec.offset + 1, rec.end)
    with open(path, "r+b") as f:
        f.truncate(cut)
    return "truncated the file to %d bytes" % cut


def _zero_tail(rng, path, rec):
    start = rng.randrange(rec.offset, rec.end)
    txnlog.zero_range(path, start, rec.end)
    return "zeroed bytes %d..%d" % (start, rec.end)


def _flip(path, offset, mask, what):
    old, new = txnlog.xor_byte(path, offset, mask)
    return "%s: byte %d 0x%02x -> 0x%02x" % (what, offset, old, new)


def _flip_checksum(rng, path, rec):
    # The checksum is an Adler-32 stored as a long: its high four bytes are always zero.
    return _flip(path, rec.offset + rng.randrange(8), rng.randrange(1, 256), "checksum")


def _flip_body(rng, path, rec):
    at = rng.randrange(rec.body_offset, rec.end_byte_offset)
    return _flip(path, at, rng.randrange(1, 256), "body")


def _flip_end_byte(rng, path, rec):
    return _flip(path, rec.end_byte_offset, rng.randrange(1, 256), "end-of-record byte")


def _flip_length(rng, path, rec, change):
    """A rotted length field: made negative, shorter or longer than the record."""
    length = rec.length - 13
    if change == "negative":
        byte, mask = 0, 0x80
    else:
        # Clearing a set bit shortens the length, setting a clear one lengthens it.
        want = 1 if change == "shorter" else 0
        choices = [
            (byte, bit)
            for byte in (1, 2, 3)
            for bit in range(8)
            if (length >> (8 * (3 - byte) + bit)) & 1 == want
        ]
        byte, bit = rng.choice(choices)
        mask = 1 << bit
    new = struct.unpack(">i", struct.pack(">I", length ^ (mask << 8 * (3 - byte))))[0]
    return _flip(
        path, rec.length_field_offset + byte, mask, "length field %d made %d" % (length, new)
    )


DAMAGES = {
    "truncate": _truncate,
    "zero-tail": _zero_tail,
    "flip-checksum": _flip_checksum,
    "flip-length-negative": lambda rng, path, rec: _flip_length(rng, path, rec, "negative"),
    "flip-length-shorter": lambda rng, path, rec: _flip_length(rng, path, rec, "shorter"),
    "flip-length-longer": lambda rng, path, rec: _flip_length(rng, path, rec, "longer"),
    "flip-body": _flip_body,
    "flip-end-byte": _flip_end_byte,
}


def _write_round(server, rng, round_no, expected):
    zk = connect(server.port, timeout=SESSION_TIMEOUT_S)
    zk.ensure_path("/torn/r%d" % round_no)
    for i in range(rng.randrange(5, 40)):
        path = "/torn/r%d/n%03d" % (round_no, i)
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 400)))
        _, stat = zk.create(path, data, include_data=True)
        expected[path] = (data, stat.czxid)
    return zk


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_last_record_is_cut(zkd_factory, rng, damage):
    server = zkd_factory(["preAllocSize=64"])
    expected = {}  # path -> (data, czxid) of every acknowledged create still expected
    for round_no in range(ROUNDS):
        zk = _write_round(server, rng, round_no, expected)
        server.kill()
        close_quietly(zk)

        path = txnlog.log_files(server.version2)[-1][1]
        records = txnlog.read_records(path)
        rec = records[-1]
        what = DAMAGES[damage](rng, path, rec)
        remnant = path.read_bytes()[rec.offset :]
        # A remnant of zeros only (the first bytes of a checksum are zero) reads exactly
        # like preallocated space: there is nothing to cut and nothing to warn about.
        torn = any(remnant)
        where = "round %d: %s (last record zxid 0x%x at offset %d of %s)" % (
            round_no,
            what,
            rec.zxid,
            rec.offset,
            path.name,
        )
        print(where)
        try:
            server.restart()
        except zktarget.ServerError as e:
            pytest.fail(
                "zkd did not start after damage to the last log record only; %s:\n%s" % (where, e),
                pytrace=False,
            )

        log = server.log_text()
        if torn:
            assert CUT_WARNING in log, "%s: no warning about the cut; log:\n%s" % (where, log)
            assert (
                "%s at offset %d" % (path, rec.offset) in log
            ), "%s: the warning names another place:\n%s" % (where, log)
            if rec.offset <= txnlog.FILE_HEADER_LEN:
                assert not path.exists(), (
                    "%s: the file holding only the torn record is still there" % where
                )
            else:
                assert (
                    path.stat().st_size == rec.offset
                ), "%s: file is %d bytes, expected a cut at %d" % (
                    where,
                    path.stat().st_size,
                    rec.offset,
                )

        zk = connect(server.port, timeout=SESSION_TIMEOUT_S)
        try:
            for p, (data, czxid) in sorted(expected.items()):
                stat = zk.exists(p)
                if czxid < rec.zxid:
                    assert (
                        stat is not None
                    ), "%s: %s (czxid 0x%x) precedes the damage but is gone" % (where, p, czxid)
                    got, _ = zk.get(p)
                    assert got == data, "%s: %s holds other data after recovery" % (where, p)
                else:
                    assert (
                        stat is None
                    ), "%s: %s (czxid 0x%x) was in the damaged record but survived" % (
                        where,
                        p,
                        czxid,
                    )
                    del expected[p]
            # Writes carry on after the cut; the next round checks they are durable.
            _, stat = zk.create("/torn/after%d" % round_no, b"after", include_data=True)
            expected["/torn/after%d" % round_no] = (b"after", stat.czxid)
        finally:
            close_quietly(zk)
        assert not server.log_problems(), "%s: errors in the log:\n%s" % (where, log)
