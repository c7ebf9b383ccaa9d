"""Chunk records, the index and the trailer: building them and checking their bytes."""

from __future__ import annotations

from dataclasses import dataclass

from construct import Array, ConstructError

from .. import layout
from ..errors import FormatError


@dataclass(frozen=True)
class IndexEntry:
    """Where one chunk record lies and what it holds (FORMAT.md 5)."""

    offset: int
    size: int
    row_start: int
    row_length: int
    spike_count: int


@dataclass(frozen=True)
class ChunkRecord:
    """A parsed chunk header with its payload; ``offset`` is where the record starts."""

    offset: int
    size: int
    spike_count: int
    origin: tuple[int, ...]
    extent: tuple[int, ...]
    payload: bytes


def encode_chunk(origin, extent, spike_count: int, payload: bytes) -> tuple[bytes, bytes, bytes]:
    """The record's header, payload and CRC, kept apart so a large payload is never copied."""
    head = layout.ChunkHeader.build(
        dict(payload_size=len(payload), spike_count=spike_count, origin=list(origin), extent=list(extent)),
        chunk_rank=len(origin),
    )
    return head, payload, layout.crc32(head, payload).to_bytes(4, "little")


def parse_chunk_head(head: bytes, chunk_rank: int, offset: int) -> tuple[int, int, tuple[int, ...], tuple[int, ...]]:
    """(payload_size, spike_count, origin, extent) from a chunk header of exactly the right size."""
    if len(head) < layout.chunk_header_size(chunk_rank):
        raise FormatError("file ends inside a chunk header", offset)
    if head[:4] != layout.CHUNK_MAGIC:
        raise FormatError(f"expected chunk magic {layout.CHUNK_MAGIC!r}, found {bytes(head[:4])!r}", offset)
    h = layout.ChunkHeader.parse(head, chunk_rank=chunk_rank)
    return h.payload_size, h.spike_count, tuple(h.origin), tuple(h.extent)


def check_chunk_crc(head: bytes, payload: bytes, crc: bytes, offset: int) -> None:
    if len(crc) != 4:
        raise FormatError("file ends inside a chunk", offset)
    if layout.crc32(head, payload) != int.from_bytes(crc, "little"):
        raise FormatError("chunk CRC mismatch", offset)


def encode_index(entries: list[IndexEntry]) -> bytes:
    head = layout.IndexHead.build(dict(count=len(entries)))
    body = Array(len(entries), layout.IndexEntry).build([e.__dict__ for e in entries])
    return head + body + layout.crc32(head, body).to_bytes(4, "little")


def index_size(count: int) -> int:
    return layout.INDEX_HEAD_SIZE + count * layout.INDEX_ENTRY_SIZE + layout.CRC_SIZE


def parse_index_head(head: bytes, offset: int) -> int:
    """The entry count from the 12-byte index head."""
    if len(head) < layout.INDEX_HEAD_SIZE or head[:4] != layout.INDEX_MAGIC:
        raise FormatError(f"no index magic {layout.INDEX_MAGIC!r} where the trailer points", offset)
    return layout.IndexHead.parse(head).count


def parse_index(data: bytes, offset: int) -> list[IndexEntry]:
    """Check and parse a whole index (head, entries, CRC) that starts at ``offset``."""
    count = parse_index_head(data[: layout.INDEX_HEAD_SIZE], offset)
    if len(data) != index_size(count):
        raise FormatError(f"index holds {count} entries but is {len(data)} bytes", offset)
    body_end = len(data) - layout.CRC_SIZE
    if layout.crc32(data[:body_end]) != int.from_bytes(data[body_end:], "little"):
        raise FormatError("index CRC mismatch", offset + body_end)
    try:
        raw = Array(count, layout.IndexEntry).parse(data[layout.INDEX_HEAD_SIZE : body_end])
    except ConstructError:
        raise FormatError("malformed index", offset) from None
    return [IndexEntry(e.offset, e.size, e.row_start, e.row_length, e.spike_count) for e in raw]


def encode_trailer(index_offset: int, index_nbytes: int) -> bytes:
    fields = index_offset.to_bytes(8, "little") + index_nbytes.to_bytes(8, "little")
    return layout.Trailer.build(dict(index_offset=index_offset, index_size=index_nbytes, crc=layout.crc32(fields)))


def parse_trailer(data: bytes, offset: int) -> tuple[int, int]:
    """(index_offset, index_size) from the last 24 bytes of a file."""
    if len(data) != layout.TRAILER_SIZE or data[-4:] != layout.TRAILER_MAGIC:
        raise FormatError("no trailer: the file is truncated or its writer did not finish", offset)
    t = layout.Trailer.parse(data)
    if layout.crc32(data[:16]) != t.crc:
        raise FormatError("trailer CRC mismatch", offset + 16)
    return t.index_offset, t.index_size
