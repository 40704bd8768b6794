"""Damage zkd must refuse to start on, and a second zkd on a dataDir in use.

A refusal is one line on stderr naming the file and offset (or the gap) and what the
operator can do, a non-zero exit, and a dataDir exactly as it was: recovery must not
"repair" history it cannot vouch for. The one file a refused start may rewrite is zkd.lock,
which holds the pid of whoever holds the lock.
"""

import struct

import pytest

import txnlog
import zkdproc
import zktarget
from zkdproc import close_quietly, connect, single_line

LOCK_FILE = "zkd.lock"


def _data_hashes(server):
    hashes = txnlog.file_hashes(server.data_dir)
    hashes.pop(LOCK_FILE, None)
    return hashes


def _write(server, count, prefix):
    zk = connect(server.port)
    zk.ensure_path(prefix)
    for i in range(count):
        zk.create("%s/n%04d" % (prefix, i), b"%d" % i + b"." * 90)
    return zk


def _refused_start(server):
    """Runs zkd on the server's zoo.cfg; returns its one stderr line, after checking the
    exit status and that the dataDir did not change."""
    before = _data_hashes(server)
    proc = server.run_foreground()
    assert proc.returncode != 0, "zkd started (exit 0); stderr:\n%s" % proc.stderr
    line = single_line(proc.stderr)
    after = _data_hashes(server)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, "the refused start changed the dataDir: %s" % changed
    print("refused (exit %d): %s" % (proc.returncode, line))
    return line


@pytest.mark.parametrize("where", ["last-file", "earlier-file"])
def test_bad_checksum_mid_log_refuses_start(zkd_factory, rng, where):
    # A 4 KiB size limit rolls the log every few dozen records without a snapshot, so the
    # replay needs every file from snapshot.0 on.
    server = zkd_factory(["preAllocSize=64", "txnLogSizeLimitInKb=4"])
    zk = _write(server, 120, "/mid")
    server.kill()
    close_quietly(zk)

    logs = txnlog.log_files(server.version2)
    assert len(logs) >= 3, "expected several log files, got %s" % [p.name for _, p in logs]
    path = logs[-1][1] if where == "last-file" else rng.choice(logs[:-1])[1]
    records = txnlog.read_records(path)
    assert len(records) >= 3, "%s holds only %d records" % (path, len(records))
    rec = records[rng.randrange(0, len(records) - 2)]
    at = rng.randrange(rec.body_offset, rec.end_byte_offset)
    old, new = txnlog.xor_byte(path, at, rng.randrange(1, 256))
    print(
        "%s: record zxid 0x%x at offset %d, byte %d 0x%02x -> 0x%02x"
        % (path.name, rec.zxid, rec.offset, at, old, new)
    )

    line = _refused_start(server)
    assert str(path) in line, "the line does not name %s" % path
    assert "offset %d" % rec.offset in line, "the line does not name offset %d" % rec.offset
    assert "checksum" in line
    assert "Restore this file from a backup" in line
    assert "truncate it to %d bytes" % rec.offset in line


def _rotted_length(rng, records, rec, file_len, change):
    """A length for `rec` as a rotted length field reads: `change` is how it misleads."""
    length = rec.length - 13
    if change == "negative":
        return length | 0x80000000
    if change == "shorter":
        # Ends inside the transaction's header or path, before the record's data.
        return rng.randrange(1, 40)
    if change == "past-the-end":
        return rng.randrange(file_len, 0x7FFFFFFF)
    # "longer": swallows every later record and ends in the preallocated zeros.
    return rng.randrange(records[-1].end - rec.body_offset, file_len - rec.body_offset - 1)


@pytest.mark.parametrize("change", ["negative", "shorter", "longer", "past-the-end"])
def test_bad_length_mid_log_refuses_start(zkd_factory, rng, change):
    """A rotted length field in a record that valid records follow. The record's data has
    zero bytes in it, as binary data does; nothing about the damage says "torn append"."""
    server = zkd_factory(["preAllocSize=64"])
    zk = connect(server.port)
    zk.ensure_path("/len")
    for i in range(40):
        zk.create("/len/n%02d" % i, bytes(64) if i == 10 else b"%d" % i)
    server.kill()
    close_quietly(zk)

    path = txnlog.log_files(server.version2)[-1][1]
    records = txnlog.read_records(path)
    rec = next(r for r in records if r.create_path() == "/len/n10")
    file_len = path.stat().st_size
    new = _rotted_length(rng, records, rec, file_len, change)
    with open(path, "r+b") as f:
        f.seek(rec.length_field_offset)
        f.write(struct.pack(">I", new))
    after = sum(1 for r in records if r.offset > rec.offset)
    print(
        "%s: record zxid 0x%x at offset %d (%d valid records after it): length %d -> %d"
        % (
            path.name,
            rec.zxid,
            rec.offset,
            after,
            rec.length - 13,
            struct.unpack(">i", struct.pack(">I", new))[0],
        )
    )

    line = _refused_start(server)
    assert str(path) in line, "the line does not name %s" % path
    assert "offset %d" % rec.offset in line, "the line does not name offset %d" % rec.offset
    assert "truncate it to %d bytes" % rec.offset in line


@pytest.mark.parametrize("rolled_by", ["size-limit", "snapshots"])
def test_missing_middle_log_refuses_start(zkd_factory, rng, rolled_by):
    if rolled_by == "size-limit":
        lines = ["preAllocSize=64", "txnLogSizeLimitInKb=4"]
    else:
        lines = ["preAllocSize=64", "snapCount=20"]
    server = zkd_factory(lines)
    zk = _write(server, 150, "/gap")
    server.kill()
    close_quietly(zk)

    if rolled_by == "snapshots":
        # Each snapshot comes with a roll, so the newest one always sits in the last file or
        # two. Lose every snapshot but the first (restored from an old backup, say): the
        # replay then needs every log since.
        for _, snap in txnlog.snapshot_files(server.version2)[1:]:
            snap.unlink()
    logs = txnlog.log_files(server.version2)
    assert len(logs) >= 3, "expected several log files, got %s" % [p.name for _, p in logs]
    victim_at = rng.randrange(1, len(logs) - 1)
    victim = logs[victim_at][1]
    lost = [r.zxid for r in txnlog.read_records(victim)]
    following = logs[victim_at + 1][1]
    victim.unlink()
    print(
        "removed %s (zxids 0x%x..0x%x) of %s"
        % (victim.name, lost[0], lost[-1], [p.name for _, p in logs])
    )

    line = _refused_start(server)
    assert "gap" in line, line
    assert str(following) in line, "the line does not name %s, the file after the gap" % following
    assert (
        "0x%x to 0x%x are missing" % (lost[0], lost[-1]) in line
    ), "the line does not give the lost range"
    assert "Restore the missing log" in line


@pytest.mark.parametrize("shared", ["dataDir", "dataLogDir"])
def test_second_process_on_a_directory_in_use_is_refused(zkd_factory, tmp_path, shared):
    first = zkd_factory(["dataLogDir={dir}/datalog"] if shared == "dataLogDir" else [])
    zk = connect(first.port)
    try:
        zk.create("/held", b"by the first zkd")
        session = zk.client_id[0]
        other_port = zktarget.free_port()
        if shared == "dataDir":
            text = first.config_path.read_text()
            locked = first.data_dir
        else:
            # Its own dataDir, the first one's dataLogDir.
            text = "dataDir=%s\nclientPort=%d\n" % (tmp_path / "other-data", first.port)
            text += "clientPortAddress=127.0.0.1\ndataLogDir=%s\n" % first.log_version2.parent
            locked = first.log_version2.parent
        cfg = tmp_path / "second.cfg"
        cfg.write_text(text.replace("clientPort=%d" % first.port, "clientPort=%d" % other_port))
        assert "clientPort=%d" % other_port in cfg.read_text()
        before = txnlog.file_hashes(first.dir / "data"), txnlog.file_hashes(locked)

        proc = first.run_foreground(cfg)
        assert proc.returncode != 0, "a second zkd started on a %s in use; stderr:\n%s" % (
            shared,
            proc.stderr,
        )
        line = single_line(proc.stderr)
        print("refused (exit %d): %s" % (proc.returncode, line))
        assert "data directory %s is in use by another zkd process" % locked in line
        assert "pid %d" % first.pid() in line, (
            "the line does not name the holder, pid %d" % first.pid()
        )
        assert str(locked / LOCK_FILE) in line
        assert "stop that process, or give this one a different dataDir" in line
        assert not zkdproc.port_open(other_port), "the refused zkd left port %d open" % other_port
        after = txnlog.file_hashes(first.dir / "data"), txnlog.file_hashes(locked)
        assert after == before, "the refused zkd changed the first one's files"

        # The first one never noticed.
        assert first.is_alive()
        assert first.four_letter_word("ruok") == "imok"
        assert zk.connected and zk.client_id[0] == session
        assert zk.get("/held")[0] == b"by the first zkd"
        zk.set("/held", b"still serving")
        zk.create("/after", b"x")
    finally:
        close_quietly(zk)
    # And what it acknowledged meanwhile is durable.
    first.kill()
    first.restart()
    zk = connect(first.port)
    try:
        assert zk.get("/held")[0] == b"still serving"
        assert zk.exists("/after") is not None
    finally:
        close_quietly(zk)
