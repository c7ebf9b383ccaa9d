"""Chunk records, the index and the trailer: building them and checking their bytes.

Two record layouts (FORMAT.md 5): *classic* records state where their chunk lies and how many
spikes it holds; *compact* records (version 1.3, for streams of small chunks) state only their
payload size and, when unusual, their row height, and carry a CRC-16 or CRC-32 over the stream's
tag, their ordinal and their bytes. Both are read by the one :class:`RecordReader`, whatever
walks them: the random-access reader, recovery, the stream reader and the validator.
"""

from __future__ import annotations

import array
import binascii
import hashlib
from dataclasses import dataclass
from typing import Iterator, NamedTuple, Protocol, Sequence

import numpy as np

from .. import layout
from ..errors import FormatError
from .header import COMPACT_EXTENSION, KEYED_EXTENSION, MESSAGE_ENDS_EXTENSION, Header


class IndexEntry(NamedTuple):
    """Where one chunk record lies and what it holds (FORMAT.md 5). A named tuple: a reader
    makes one per chunk, about five times faster than a frozen dataclass. ``spike_count`` is
    None for compact records, which do not state it."""

    offset: int
    size: int
    row_start: int
    row_length: int
    spike_count: int | None


class ChunkTable(Sequence[IndexEntry]):
    """Where every chunk lies, as five int64 columns (offset, size, row_start, row_length,
    spike_count): 40 bytes a chunk, so a reader of millions of chunks stays small. Indexing gives
    :class:`IndexEntry` values. ``counts_stated``: whether the records state spike counts
    (classic), for all of them or (an array) chunk by chunk; the column holds each stated count's
    u64 bits, so a count of 2**63 or more (which no chunk holds, but a file may state) reads
    back as stated."""

    def __init__(self, columns: np.ndarray, counts_stated: bool | np.ndarray = True):
        self.columns = np.ascontiguousarray(columns, np.int64).reshape(-1, 5)
        self.counts_stated = counts_stated
        self.offset, self.size, self.row_start, self.row_length, self.spike_count = self.columns.T

    def __len__(self) -> int:
        return self.columns.shape[0]

    def head(self, n: int) -> "ChunkTable":
        """The first ``n`` chunks, as a table sharing these columns."""
        stated = self.counts_stated if isinstance(self.counts_stated, bool) else self.counts_stated[:n]
        return ChunkTable(self.columns[:n], stated)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = range(len(self))[i]  # a negative index counts from the end, as for the stated flags
        return self._entry(i, self.columns[i].tolist())

    def __iter__(self) -> Iterator[IndexEntry]:
        for i, row in enumerate(self.columns.tolist()):
            yield self._entry(i, row)

    def _entry(self, i: int, row: list[int]) -> IndexEntry:
        stated = self.counts_stated if isinstance(self.counts_stated, bool) else self.counts_stated[i]
        return IndexEntry(*row[:4], (row[4] & _U64) if stated else None)


_U64 = (1 << 64) - 1


class ChunkTableBuilder:
    """A walk's chunks as they are found, kept as :class:`ChunkTable`'s int64 columns (40 bytes
    and a flag a chunk) rather than as entry objects: a list of :class:`IndexEntry` for a file of
    millions of compact records of a few bytes each took about 225 bytes a record, over 50x the file."""

    def __init__(self) -> None:
        self._values = array.array("q")
        self._stated = bytearray()

    def append(self, entry: IndexEntry) -> None:
        count = entry.spike_count
        self._values.extend((entry.offset, entry.size, entry.row_start, entry.row_length,
                             0 if count is None else _signed64(count)))
        self._stated.append(count is not None)

    def __len__(self) -> int:
        return len(self._stated)

    def table(self) -> ChunkTable:
        """The chunks found, as a table (the builder is emptied: its memory goes to the table)."""
        columns = np.frombuffer(self._values, np.int64).copy() if self._values else np.zeros(0, np.int64)
        stated = np.frombuffer(bytes(self._stated), np.uint8).astype(bool)
        self._values, self._stated = array.array("q"), bytearray()
        alike = bool(stated.all()) or not stated.any()  # a file's records all state it or none
        return ChunkTable(columns, bool(stated.all()) if alike else stated)


def _signed64(value: int) -> int:
    """The int64 of ``value``'s u64 bits."""
    return value - (1 << 64) if value >> 63 else value


class Cursor(Protocol):
    """Forward reads of a spike file's bytes: ``read(n)`` gives n bytes, fewer only at its end."""

    pos: int

    def read(self, n: int) -> bytes: ...


class SourceCursor:
    """A :class:`Cursor` over a random-access source (``read_at``), from ``pos``."""

    def __init__(self, src, pos: int):
        self.src = src
        self.pos = pos

    def read(self, n: int) -> bytes:
        data = self.src.read_at(self.pos, n)
        self.pos += len(data)
        return data


class RecordHead(NamedTuple):
    """A parsed record head. Classic records give ``origin``, ``extent`` and ``spike_count``;
    compact ones None (their place follows from their order)."""

    head: bytes
    payload_size: int
    check_size: int
    height: int
    origin: tuple[int, ...] | None
    extent: tuple[int, ...] | None
    spike_count: int | None
    #: The record ends a message (compact records of a stream with the ``message-ends``
    #: extension, FORMAT.md 5.2; False for every other record).
    ends_message: bool = False

    @property
    def size(self) -> int:
        return len(self.head) + self.payload_size + self.check_size


# -- Classic records (FORMAT.md 5.1) -------------------------------------------------------------


class ClassicRecords:
    """Magic, payload size, spike count, origin, extent, payload, CRC-32."""

    compact = False
    message_ends = False

    def __init__(self, chunk_rank: int):
        self.chunk_rank = chunk_rank
        self.head_size = layout.chunk_header_size(chunk_rank)
        self._struct = layout.chunk_header_struct(chunk_rank)

    def build(self, ordinal: int, origin, extent, spike_count: int, payload: bytes, ends_message: bool = False) -> list[bytes]:
        """The record's parts (head, payload, CRC), kept apart so a large payload is never copied
        (``ends_message``: classic records do not say it)."""
        head = self._struct.pack(layout.CHUNK_MAGIC, len(payload), spike_count, *origin, *extent)
        return [head, payload, layout.crc32(head, payload).to_bytes(4, "little")]

    def at_end(self, cursor: Cursor) -> tuple[bool, bytes]:
        """Whether the index starts here (its magic), and the bytes read to tell."""
        first = cursor.read(len(layout.INDEX_MAGIC))
        return first == layout.INDEX_MAGIC, first

    def read_head(self, cursor: Cursor, at: int, first: bytes = b"") -> RecordHead:
        head = first + cursor.read(self.head_size - len(first))
        if len(head) < self.head_size:
            raise FormatError("file ends inside a chunk header", at, code="record-truncated")
        if head[:4] != layout.CHUNK_MAGIC:
            raise FormatError(f"expected chunk magic {layout.CHUNK_MAGIC!r}, found {bytes(head[:4])!r}", at, code="record-magic")
        _, payload_size, spike_count, *rest = self._struct.unpack_from(head)
        k = self.chunk_rank
        origin, extent = tuple(rest[:k]), tuple(rest[k:])
        return RecordHead(head, payload_size, layout.CRC_SIZE, extent[0], origin, extent, spike_count)

    def verify(self, head: RecordHead, payload, check: bytes, ordinal: int, at: int) -> None:
        if len(check) != layout.CRC_SIZE:
            raise FormatError("file ends inside a chunk", at, code="record-truncated")
        if layout.crc32(head.head, payload) != int.from_bytes(check, "little"):
            raise FormatError("chunk CRC mismatch", at, code="chunk-crc")


def encode_chunk(origin, extent, spike_count: int, payload: bytes) -> list[bytes]:
    """A classic record's parts (its ordinal plays no part in classic records)."""
    return ClassicRecords(len(origin)).build(0, origin, extent, spike_count, payload)


# -- Compact records (FORMAT.md 5.2) -------------------------------------------------------------

SHORT_PAYLOAD = 256  # payloads shorter than this carry a CRC-16, longer ones a CRC-32
MAX_VARINT = 10


def varint(value: int) -> bytes:
    """Unsigned LEB128: 7 bits a byte, least significant first, the high bit set on all but the last."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(cursor: Cursor, at: int, what: str, first: bytes = b"") -> tuple[int, bytes]:
    """(value, its bytes) of a minimal LEB128 varint below 2**64 at the cursor, whose first
    byte may have been read already (``first``)."""
    raw = bytearray()
    value = 0
    for i in range(MAX_VARINT):
        b = first if i == 0 and first else cursor.read(1)
        if not b:
            raise FormatError(f"file ends inside {what}", at, code="varint-truncated")
        raw += b
        value |= (b[0] & 0x7F) << (7 * i)
        if not b[0] & 0x80:
            if i and b[0] == 0:
                raise FormatError(f"{what} is not minimally encoded", at, code="varint-overlong")
            if value >> 64:
                raise FormatError(f"{what} is above 2**64 - 1", at, code="varint-too-large")
            return value, bytes(raw)
    raise FormatError(f"{what} is longer than {MAX_VARINT} bytes", at, code="varint-too-long")


def check_size(payload_size: int) -> int:
    return 2 if payload_size < SHORT_PAYLOAD else 4


def compact_check(tag: bytes, ordinal: int, head: bytes, payload, width: int, keyed: bool = False) -> bytes:
    """CRC-16/XMODEM (``width`` 2) or CRC-32 (4) of tag, ordinal (u64), head and payload; ``keyed``
    (the keyed-checks extension, FORMAT.md 5.2): the CRC of head and payload alone, XORed with
    the first ``width`` bytes of BLAKE2b of tag and ordinal. A CRC is linear, so with the tag and
    ordinal inside it whether a record of another stream or place passes depended on the two
    streams or places only, never on the record: 1 pair of streams in 65,536 took each other's
    every record, and record 70,691 of any stream passed as record 0. Keyed, each record has its
    own chance, 2^-16 (2^-32)."""
    place = tag + ordinal.to_bytes(8, "little")
    if keyed:
        crc = binascii.crc_hqx(payload, binascii.crc_hqx(head, 0)) if width == 2 else layout.crc32(head, payload)
        key = int.from_bytes(hashlib.blake2b(place, digest_size=width).digest(), "little")
        return (crc ^ key).to_bytes(width, "little")
    if width == 2:
        return binascii.crc_hqx(payload, binascii.crc_hqx(head, binascii.crc_hqx(place, 0))).to_bytes(2, "little")
    return layout.crc32(place, head, payload).to_bytes(4, "little")


class CompactRecords:
    """varint (2 P + f + 1, or 4 P + 2 e + f + 1 with message ends), [varint height if f],
    payload, CRC over tag + ordinal + all that.

    ``tag`` is the file's header CRC as stored: a record checks only inside the stream it was
    written for, at the place it was written to."""

    compact = True

    def __init__(self, tag: bytes, row_height: int, keyed: bool = False, message_ends: bool = False):
        self.tag = tag
        self.row_height = row_height
        self.keyed = keyed
        #: The size field also says whether the record ends a message (the ``message-ends``
        #: extension, version 1.9): ``v = 4 P + 2 e + f + 1`` instead of ``2 P + f + 1``.
        self.message_ends = message_ends

    def build(self, ordinal: int, origin, extent, spike_count: int, payload: bytes, ends_message: bool = False) -> list[bytes]:
        height = extent[0]
        flag = int(height != self.row_height)
        size = 2 * len(payload) + flag + 1
        if self.message_ends:
            size = 4 * len(payload) + 2 * int(ends_message) + flag + 1
        head = varint(size) + (varint(height) if flag else b"")
        return [head, payload, compact_check(self.tag, ordinal, head, payload, check_size(len(payload)), self.keyed)]

    def at_end(self, cursor: Cursor) -> tuple[bool, bytes]:
        first = cursor.read(1)
        return first == b"\0", first

    def read_head(self, cursor: Cursor, at: int, first: bytes = b"") -> RecordHead:
        v, head = read_varint(cursor, at, "a record's size", first)
        if v == 0:
            raise FormatError("end of records where a record was expected", at, code="records-end-early")
        payload_size, flag = (v - 1) >> 1, (v - 1) & 1
        ends = False
        if self.message_ends:
            payload_size, ends = payload_size >> 1, bool(payload_size & 1)
        height = self.row_height
        if flag:
            height, raw = read_varint(cursor, at, "a record's row height")
            head += raw
            if not 1 <= height < self.row_height:
                allowed = ("the stream's rows, which are 1 high (never shorter; a full row's height is not stated)"
                           if self.row_height == 1 else f"1..{self.row_height - 1} (a full row of {self.row_height} is not stated)")
                raise FormatError(f"record row height {height} is outside {allowed}", at, code="compact-height")
        return RecordHead(head, payload_size, check_size(payload_size), height, None, None, None, ends)

    def verify(self, head: RecordHead, payload, check: bytes, ordinal: int, at: int) -> None:
        if len(check) != head.check_size:
            raise FormatError("file ends inside a record", at, code="record-truncated")
        if compact_check(self.tag, ordinal, head.head, payload, head.check_size, self.keyed) != check:
            raise FormatError(f"record {ordinal} check mismatch (damaged, out of order, or from another stream)", at, code="compact-check")


RecordLayout = ClassicRecords | CompactRecords


def record_layout(h: Header, header_crc: bytes) -> RecordLayout:
    """The record layout a header declares (the ``compact-records`` extension, FORMAT.md 5.2)."""
    if h.extension_data(COMPACT_EXTENSION) is not None:
        return CompactRecords(header_crc, h.chunk_shape[0], h.extension_data(KEYED_EXTENSION) is not None,
                              h.extension_data(MESSAGE_ENDS_EXTENSION) is not None)
    return ClassicRecords(h.chunk_rank)


# -- One record, read and checked ------------------------------------------------------------------


@dataclass
class Record:
    """A record whose bytes passed every check that needs no decoding."""

    offset: int
    head: RecordHead
    payload: bytes | memoryview

    def entry(self, row_start: int) -> IndexEntry:
        return IndexEntry(self.offset, self.head.size, row_start, self.head.height, self.head.spike_count)


def read_record(records: RecordLayout, cursor: Cursor, ordinal: int, place, first: bytes = b"") -> Record:
    """Read and check the record at the cursor: its head, its place (``place(head, at)`` returns
    the chunk's spec or raises), its payload size against the cap of FORMAT.md 5 (before reading
    the payload), and its CRC. Every reader of records calls this."""
    at = cursor.pos - len(first)
    head = records.read_head(cursor, at, first)
    spec = place(head, at)
    if head.payload_size > spec.max_payload:
        raise FormatError(f"chunk payload size {head.payload_size} exceeds the cap {spec.max_payload}", at, code="payload-size")
    rest = cursor.read(head.payload_size + head.check_size)
    if len(rest) < head.payload_size:
        raise FormatError("file ends inside a chunk", at, code="record-truncated")
    view = memoryview(rest)
    records.verify(head, view[: head.payload_size], bytes(view[head.payload_size :]), ordinal, at)
    # A spike count above what the chunk can hold is found by decoding (FORMAT.md 10 step 7: the
    # codec's own problems come first), as any count the values do not sum to.
    return Record(at, head, view[: head.payload_size])


def index_place(i: int, entry: IndexEntry, spec, origin: tuple[int, ...], chunk_rank: int):
    """The ``place`` check of :func:`read_record` for chunk ``i`` read where the index puts it:
    the record's size, origin and extent (classic), height and spike count must be the entry's
    (``spec``: the chunk's ChunkSpec, ``origin``: where the index's grid puts it)."""

    def place(head: RecordHead, at: int):
        if head.size != entry.size:
            raise FormatError(f"chunk {i} is {head.size} bytes but the index says {entry.size}", at, code="index-record-mismatch")
        if head.origin is not None and (head.origin != origin or head.extent != spec.shape[:chunk_rank]):
            raise FormatError(f"chunk {i} covers {head.origin}+{head.extent}, not where the index puts it", at, code="index-record-mismatch")
        if head.height != entry.row_length:
            raise FormatError(f"chunk {i} is {head.height} rows high, the index says {entry.row_length}", at, code="index-record-mismatch")
        if head.spike_count != entry.spike_count:
            raise FormatError(f"chunk {i} spike count {head.spike_count} differs from the index's {entry.spike_count}", at, code="index-record-mismatch")
        return spec

    return place


# -- Indexes and the trailer (FORMAT.md 6, 7) ---------------------------------------------------------


def encode_index(entries: list[IndexEntry]) -> bytes:
    head = layout.INDEX_HEAD_STRUCT.pack(layout.INDEX_MAGIC, len(entries))
    pack = layout.INDEX_ENTRY_STRUCT.pack
    body = b"".join([pack(e.offset, e.size, e.row_start, e.row_length, e.spike_count) for e in entries])
    return head + body + layout.crc32(head, body).to_bytes(4, "little")


def index_size(count: int) -> int:
    return layout.INDEX_HEAD_SIZE + count * layout.INDEX_ENTRY_SIZE + layout.CRC_SIZE


def parse_index_head(head: bytes, offset: int) -> int:
    """The entry count from the 12-byte index head."""
    if len(head) < layout.INDEX_HEAD_SIZE or head[:4] != layout.INDEX_MAGIC:
        raise FormatError(f"no index magic {layout.INDEX_MAGIC!r} where the trailer points", offset, code="index-magic")
    return layout.INDEX_HEAD_STRUCT.unpack_from(head)[1]


def parse_index(data: bytes, offset: int) -> np.ndarray:
    """Check and parse a whole index (head, entries, CRC) that starts at ``offset``: its
    entries as a (count, 5) uint64 array of the fields of FORMAT.md 6.1."""
    count = parse_index_head(data[: layout.INDEX_HEAD_SIZE], offset)
    if len(data) != index_size(count):
        raise FormatError(f"index holds {count} entries but is {len(data)} bytes", offset, code="index-size")
    body_end = len(data) - layout.CRC_SIZE
    if layout.crc32(memoryview(data)[:body_end]) != int.from_bytes(data[body_end:], "little"):  # no copy
        raise FormatError("index CRC mismatch", offset + body_end, code="index-crc")
    # The size check above makes the entries exactly count * INDEX_ENTRY_SIZE bytes.
    return np.frombuffer(data, "<u8", count * 5, layout.INDEX_HEAD_SIZE).reshape(count, 5)


def encode_compact_index(count: int, rows: int) -> bytes:
    """The end of compact records (FORMAT.md 6.2): 0x00, varint count, varint rows, CRC-32."""
    body = b"\0" + varint(count) + varint(rows)
    return body + layout.crc32(body).to_bytes(4, "little")


def read_compact_index(cursor: Cursor, at: int, first: bytes = b"") -> tuple[int, int, int]:
    """(record count, rows, index size) of the compact index at the cursor (``first``: its
    marker byte, when already read)."""
    marker = first or cursor.read(1)
    if marker != b"\0":
        raise FormatError("no end-of-records marker where the compact index starts", at, code="index-end-marker")
    count, raw_count = read_varint(cursor, at, "the index's record count")
    rows, raw_rows = read_varint(cursor, at, "the index's row count")
    crc = cursor.read(4)
    body = marker + raw_count + raw_rows
    if len(crc) != 4:
        raise FormatError("file ends inside the index", at, code="index-truncated")
    if layout.crc32(body) != int.from_bytes(crc, "little"):
        raise FormatError("index CRC mismatch", at + len(body), code="index-crc")
    return count, rows, len(body) + 4


def encode_trailer(index_offset: int, index_nbytes: int) -> bytes:
    fields = index_offset.to_bytes(8, "little") + index_nbytes.to_bytes(8, "little")
    return layout.TRAILER_STRUCT.pack(index_offset, index_nbytes, layout.crc32(fields), layout.TRAILER_MAGIC)


def parse_trailer(data: bytes, offset: int) -> tuple[int, int]:
    """(index_offset, index_size) from the last 24 bytes of a file."""
    if len(data) != layout.TRAILER_SIZE or data[-4:] != layout.TRAILER_MAGIC:
        raise FormatError("no trailer: the file is truncated or its writer did not finish", offset, code="trailer-magic")
    index_offset, index_nbytes, crc, _ = layout.TRAILER_STRUCT.unpack(data)
    if layout.crc32(data[:16]) != crc:
        raise FormatError("trailer CRC mismatch", offset + 16, code="trailer-crc")
    return index_offset, index_nbytes


__all__ = [
    "COMPACT_EXTENSION",
    "ChunkTable",
    "ClassicRecords",
    "CompactRecords",
    "Cursor",
    "IndexEntry",
    "Record",
    "RecordHead",
    "SourceCursor",
    "encode_chunk",
    "encode_compact_index",
    "encode_index",
    "encode_trailer",
    "index_size",
    "parse_index",
    "parse_index_head",
    "parse_trailer",
    "read_compact_index",
    "read_record",
    "record_layout",
    "varint",
]
