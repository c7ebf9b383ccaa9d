"""The bytes of a spike file, declared once (FORMAT.md sections 2-6).

Every fixed-layout part of the file - preamble, header body, chunk header, index and trailer - is
a ``construct`` declaration here; the writer builds with them, the reader and the validator parse
with them. Payloads never pass through construct: they are opaque bytes handed to numpy.
CRC-32 fields are computed by the callers (``crc32`` below) so that a mismatch can be reported
with its offset instead of as a construct exception.
"""

from __future__ import annotations

import struct
from functools import cache

try:  # ISA-L computes the same CRC-32 about 10x faster than zlib; optional
    from isal.isal_zlib import crc32 as _crc32
except ImportError:  # pragma: no cover - depends on the platform's wheels
    from zlib import crc32 as _crc32

from construct import (
    Array,
    Bytes,
    Compiled,
    Const,
    Construct,
    Container,
    FormatField,
    Int8ul,
    Int16ul,
    Int32ul,
    Int64ul,
    PascalString,
    Prefixed,
    PrefixedArray,
    GreedyBytes,
    Renamed,
    Struct,
    Terminated,
    this,
)

SIGNATURE = b"\x8aSPK\r\n\x1a\n"
MAJOR_VERSION = 1
MINOR_VERSION = 13  # the newest minor version this implementation reads and writes
CHUNK_MAGIC = b"SPKC"
INDEX_MAGIC = b"SPKI"
TRAILER_MAGIC = b"SPKT"

# 16 bytes: signature, version, reserved, header body size.
Preamble = Struct(
    "signature" / Bytes(8),
    "major" / Int8ul,
    "minor" / Int8ul,
    "reserved" / Int16ul,
    "header_size" / Int32ul,
)
PREAMBLE_SIZE = Preamble.sizeof()
CRC_SIZE = 4

Codec = Struct(
    "id" / PascalString(Int8ul, "ascii"),
    "config" / Prefixed(Int32ul, GreedyBytes),  # UTF-8 JSON object
)

Extension = Struct(
    "flags" / Int8ul,  # bit 0: required (a reader that does not know it must reject the file)
    "name" / PascalString(Int8ul, "ascii"),
    "data" / Prefixed(Int32ul, GreedyBytes),
)

_HEADER_FIXED = (
    "rank" / Int8ul,
    "element_bits" / Int8ul,
    "chunk_rank" / Int8ul,
    "reserved" / Int8ul,
)
# The fixed first 4 bytes, parsed and checked alone before they size the rest.
HeaderFixed = Struct(*_HEADER_FIXED)
HeaderBody = Struct(
    *_HEADER_FIXED,
    "shape" / Array(this.rank, Int64ul),
    "chunk_shape" / Array(this.chunk_rank, Int64ul),
    "axes" / Array(this.rank, PascalString(Int8ul, "ascii")),
    "codecs" / PrefixedArray(Int8ul, Codec),
    "metadata" / Prefixed(Int32ul, GreedyBytes),  # UTF-8 JSON object
    "extensions" / PrefixedArray(Int16ul, Extension),
)

# Chunk record: this header, payload_size bytes of payload, then CRC-32 of header + payload.
ChunkHeader = Struct(
    "magic" / Const(CHUNK_MAGIC),
    "payload_size" / Int32ul,
    "spike_count" / Int64ul,
    "origin" / Array(this._.chunk_rank, Int64ul),
    "extent" / Array(this._.chunk_rank, Int64ul),
)


def chunk_header_size(chunk_rank: int) -> int:
    return 16 + 16 * chunk_rank  # == chunk_header_struct(chunk_rank).size


IndexEntry = Struct(
    "offset" / Int64ul,
    "size" / Int64ul,  # whole chunk record: header, payload and CRC
    "row_start" / Int64ul,  # origin along axis 0
    "row_length" / Int64ul,  # extent along axis 0
    "spike_count" / Int64ul,
)
INDEX_ENTRY_SIZE = IndexEntry.sizeof()

# Index: this head, count entries, then CRC-32 of head + entries.
IndexHead = Struct(
    "magic" / Const(INDEX_MAGIC),
    "count" / Int64ul,
)
INDEX_HEAD_SIZE = IndexHead.sizeof()

Trailer = Struct(
    "index_offset" / Int64ul,
    "index_size" / Int64ul,
    "crc" / Int32ul,  # CRC-32 of the 16 bytes above
    "magic" / Const(TRAILER_MAGIC),
)
TRAILER_SIZE = Trailer.sizeof()


def crc32(*parts: bytes) -> int:
    """CRC-32 (ISO-HDLC, as zlib and PNG) over the concatenation of ``parts``."""
    value = 0
    for part in parts:
        value = _crc32(part, value)
    return value & 0xFFFFFFFF


# -- Fast path ---------------------------------------------------------------------------------
# construct interprets a declaration field by field (tens of microseconds a record). The fixed-
# layout records are therefore also built and parsed with ``struct`` formats *derived from the
# declarations above* (so the two cannot disagree; the tests check that they agree), and the
# variable-layout header body with construct's compiled (generated-code) version of itself.


def struct_format(record: Struct, **context: int) -> str:
    """The ``struct`` format of a fixed-layout record: its fields in order, arrays flattened, with
    array lengths taken from ``context`` (``chunk_rank=...``). Constants are plain fields here:
    callers write them and check them themselves."""
    return "<" + "".join(_field_format(f, context) for f in record.subcons)


def _field_format(field: Construct, context: dict[str, int]) -> str:
    while isinstance(field, (Renamed, Const)):
        field = field.subcon
    if isinstance(field, FormatField) and field.fmtstr[0] == "<":
        return field.fmtstr[1:]
    if isinstance(field, Bytes) and isinstance(field.length, int):
        return f"{field.length}s"
    if isinstance(field, Array):
        count = field.count(Container(_=Container(context), **context)) if callable(field.count) else field.count
        return _field_format(field.subcon, context) * count
    raise TypeError(f"no struct format for {field!r}")


PREAMBLE_STRUCT = struct.Struct(struct_format(Preamble))
HEADER_FIXED_STRUCT = struct.Struct(struct_format(HeaderFixed))
INDEX_HEAD_STRUCT = struct.Struct(struct_format(IndexHead))
INDEX_ENTRY_STRUCT = struct.Struct(struct_format(IndexEntry))
TRAILER_STRUCT = struct.Struct(struct_format(Trailer))


@cache
def chunk_header_struct(chunk_rank: int) -> struct.Struct:
    """Fields: magic, payload_size, spike_count, origin[chunk_rank], extent[chunk_rank]."""
    return struct.Struct(struct_format(ChunkHeader, chunk_rank=chunk_rank))


@cache
def header_body_compiled() -> Compiled:
    """:data:`HeaderBody` followed by nothing (no trailing bytes), compiled on first use."""
    return (HeaderBody + Terminated).compile()
