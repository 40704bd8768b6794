"""Reads ZooKeeper 3.8's dataDir files as the durability tests need them.

A transaction log (version-2/log.<hex zxid of its first record>) is a 16-byte file header
(magic "ZKLG", format version 2, dbid) followed by records: the Adler-32 of the body as a
big-endian long, the body's length as an int, the body, and the byte 'B'. The body starts
with the TxnHeader (clientId long, cxid int, zxid long, time long, type int). A record
whose length is zero ends the log: files are preallocated with zeros.

This is an independent reading of the format, so that the tests can tell where each
acknowledged transaction sits on disk without trusting zkd's own reader.
"""

import hashlib
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

LOG_MAGIC = b"ZKLG"
FILE_HEADER_LEN = 16
RECORD_HEAD_LEN = 12  # checksum (8) + length (4)
TXN_HEADER = struct.Struct(">qiqqi")  # clientId, cxid, zxid, time, type
END_OF_RECORD = ord("B")

# OpCode values of the transactions the tests look into.
OP_CREATE = 1
OP_DELETE = 2
OP_SET_DATA = 5
OP_CREATE2 = 15
OP_CREATE_SESSION = -10
OP_CLOSE_SESSION = -11
CREATE_OPS = (OP_CREATE, OP_CREATE2, 19, 21)  # create, create2, container, TTL

_NAME = re.compile(r"^(log|snapshot)\.([0-9a-f]+)$")


class LogFormatError(ValueError):
    """A log file that should be intact is not; the message names file and offset."""


@dataclass(frozen=True)
class Record:
    offset: int  # where the record's checksum starts
    length: int  # checksum + length field + body + end byte
    client_id: int
    zxid: int
    type: int
    body: bytes

    @property
    def end(self):
        return self.offset + self.length

    @property
    def body_offset(self):
        return self.offset + RECORD_HEAD_LEN

    @property
    def length_field_offset(self):
        return self.offset + 8

    @property
    def end_byte_offset(self):
        return self.end - 1

    def create_path(self):
        """The path a create transaction creates, else None."""
        if self.type not in CREATE_OPS:
            return None
        at = TXN_HEADER.size
        (n,) = struct.unpack_from(">i", self.body, at)
        return self.body[at + 4 : at + 4 + n].decode("utf-8")


def files_by_zxid(version2, prefix):
    """[(zxid, Path)] of version2's `prefix`.<hex> files, oldest first."""
    out = []
    for p in Path(version2).iterdir():
        m = _NAME.match(p.name)
        if m and m.group(1) == prefix and p.is_file():
            out.append((int(m.group(2), 16), p))
    return sorted(out)


def log_files(version2):
    return files_by_zxid(version2, "log")


def snapshot_files(version2):
    return files_by_zxid(version2, "snapshot")


def read_records(path):
    """Every record of an intact log file, checksums verified; raises LogFormatError."""
    data = Path(path).read_bytes()
    if len(data) < FILE_HEADER_LEN or data[:4] != LOG_MAGIC:
        raise LogFormatError("%s: no ZKLG file header" % path)
    records = []
    at = FILE_HEADER_LEN
    while at + RECORD_HEAD_LEN <= len(data):
        crc, length = struct.unpack_from(">qi", data, at)
        if length == 0 and crc == 0:
            break
        end = at + RECORD_HEAD_LEN + length + 1
        if length < TXN_HEADER.size or end > len(data):
            raise LogFormatError("%s: bad record length %d at offset %d" % (path, length, at))
        body = data[at + RECORD_HEAD_LEN : end - 1]
        if zlib.adler32(body) != crc:
            raise LogFormatError("%s: checksum mismatch at offset %d" % (path, at))
        if data[end - 1] != END_OF_RECORD:
            raise LogFormatError("%s: no end-of-record byte at offset %d" % (path, end - 1))
        client_id, _cxid, zxid, _time, kind = TXN_HEADER.unpack_from(body)
        records.append(Record(at, end - at, client_id, zxid, kind, body))
        at = end
    if any(data[at:]):
        raise LogFormatError("%s: non-zero bytes after the last record (offset %d)" % (path, at))
    return records


def all_records(version2):
    """[(Path, Record)] across every log file, in file order."""
    return [(p, r) for _, p in log_files(version2) for r in read_records(p)]


def file_hashes(directory):
    """{relative path: sha256} of every regular file under directory."""
    root = Path(directory)
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            out[str(p.relative_to(root))] = h.hexdigest()
    return out


def xor_byte(path, offset, mask):
    """Flips the bits of `mask` in the byte at `offset`; returns (old, new)."""
    with open(path, "r+b") as f:
        f.seek(offset)
        old = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([old ^ mask]))
    return old, old ^ mask


def zero_range(path, start, end):
    with open(path, "r+b") as f:
        f.seek(start)
        f.write(bytes(end - start))
