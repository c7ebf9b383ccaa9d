"""Reading spike files: header and index in two small reads, then only the chunks asked for."""

from __future__ import annotations

import contextlib
import hashlib
import math
import operator
import os
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
from numpy.typing import DTypeLike

from .. import layout
from ..codecs import ChunkSpec
from ..elements import DTypeOverflowError, elements_as, output_dtype
from ..errors import FormatError, LimitError
from ..limits import MAX_EXTENT, MAX_TOTAL_ELEMENTS, ReadLimits, as_limits, count_option, flag_option, usable_cpus
from ..codecs import Pipeline
from ..prior import Prior, PriorLike, as_priors
from .chunk_cache import DEFAULT_CACHE_BYTES, ChunkCache
from .grid import Tiling, chunk_spec, inner_origins
from .header import PRIOR_EXTENSION, Header, bind_prior, fresh_json, parse_header, parse_header_shared, parse_preamble
from .records import (
    ChunkTable,
    ChunkTableBuilder,
    IndexEntry,
    index_place,
    Record,
    RecordLayout,
    SourceCursor,
    index_size,
    parse_index,
    parse_trailer,
    read_compact_index,
    read_record,
    record_layout,
)
from .selection import checked_extent, empty_ellipsis_at, normalize_key, selected_size, split_new_axes
from .source import IN_MEMORY, Openable, Source
from .threads import in_order

_BUFFER = object()  # a reader's reopen source for a bytearray, memoryview or mmap: its bytes when pickled
RECORD_CRCS_COMPARED = 64  # records whose CRC (or check) a reopened reader compares with the file it was opened on


def read_header(src: Source) -> tuple[Header, int]:
    """The header and the offset where chunks start."""
    pre, body, crc = _header_bytes(src)
    return parse_header(pre, body, crc), layout.PREAMBLE_SIZE + len(body) + layout.CRC_SIZE


def _header_bytes(src: Source) -> tuple[bytes, bytes, bytes]:
    """Preamble (checked), header body and header CRC (up to 4 bytes: parse_header checks it)."""
    pre = src.read_at(0, layout.PREAMBLE_SIZE)
    _, header_size = parse_preamble(pre)
    rest = src.read_at(layout.PREAMBLE_SIZE, header_size + layout.CRC_SIZE)  # body and CRC in one read
    if len(rest) < header_size:
        raise FormatError(f"file ends inside the {header_size}-byte header", layout.PREAMBLE_SIZE, code="header-truncated")
    return pre, rest[:header_size], rest[header_size:]


class BufferedCursor:
    """A :class:`~.records.Cursor` over a random-access source, reading ahead in blocks: walking
    thousands of small records costs a few reads, not a few per record."""

    BLOCK = 1 << 16

    def __init__(self, src: Source, pos: int, end: int | None = None):
        self.src = src
        self.pos = pos
        self.end = src.size if end is None else end
        self._buf = b""
        self._at = pos

    def read(self, n: int) -> bytes:
        off = self.pos - self._at
        if off + n > len(self._buf):  # refill from pos: the block, or the whole read if larger
            self._buf = self.src.read_at(self.pos, max(n, min(self.BLOCK, self.end - self.pos)))
            self._at, off = self.pos, 0
        data = self._buf[off : off + n]
        self.pos += len(data)
        return data


class BytesCursor:
    """A :class:`~.records.Cursor` over bytes already read (one record), numbered from ``pos``."""

    def __init__(self, data: bytes | memoryview, pos: int):
        self.data = memoryview(data)
        self.pos = pos
        self._start = pos

    def read(self, n: int) -> bytes:
        off = self.pos - self._start
        out = self.data[off : off + n]
        self.pos += len(out)
        return bytes(out) if len(out) <= 64 else out  # small pieces (heads) as bytes, payloads as views


TRAILER_SCAN = 64 << 20  # bytes before the end searched for a trailer that stray bytes follow


class StrayBytesError(FormatError):
    """No trailer at the end of a file, but a good one before stray bytes: ``trailer_end`` is
    where it ends (:func:`trailer_before_stray_bytes`), kept so that validation does not scan
    the tail again."""

    def __init__(self, message: str, offset: int | None = None, where: str | None = None, *,
                 code: str | None = None, section: str | None = None, trailer_end: int = 0):
        super().__init__(message, offset, where, code=code, section=section)
        self.trailer_end = trailer_end

    def located(self, where: str) -> "StrayBytesError":
        return StrayBytesError(self.message, self.offset, where, code=self.code, section=self.section,
                               trailer_end=self.trailer_end)


def trailer_before_stray_bytes(src: Source, data_start: int) -> int | None:
    """Where a good trailer ends, when stray bytes follow it: one whose CRC checks and whose
    index ends where it starts (looked for in the last TRAILER_SCAN bytes)."""
    size = src.size
    lo = max(data_start + layout.TRAILER_SIZE - 4, size - TRAILER_SCAN)
    tail = src.read_at(lo, size - lo)
    at = len(tail) - 4
    while True:
        at = tail.rfind(layout.TRAILER_MAGIC, 0, at + 3)
        if at < 0:
            return None
        end = lo + at + 4
        if end < size:
            try:
                index_offset, index_nbytes = parse_trailer(src.read_at(end - layout.TRAILER_SIZE, layout.TRAILER_SIZE), end - layout.TRAILER_SIZE)
            except FormatError:
                pass
            else:
                if data_start <= index_offset and index_offset + index_nbytes == end - layout.TRAILER_SIZE:
                    return end
        at -= 1


def read_indexed(src: Source, h: Header, data_start: int, records: RecordLayout) -> ChunkTable:
    """The chunk table of the index the trailer points to, checked to tile the file exactly
    and the array (FORMAT.md 4, 6). Compact records are walked (their index holds only totals)."""
    end = src.size - layout.TRAILER_SIZE
    if end < data_start:
        raise FormatError("no trailer: the file is truncated or its writer did not finish", src.size, code="trailer-magic")
    try:
        index_offset, index_nbytes = parse_trailer(src.read_at(end, layout.TRAILER_SIZE), end)
    except FormatError as exc:
        good = trailer_before_stray_bytes(src, data_start) if exc.code == "trailer-magic" else None
        if good is None:
            raise
        raise StrayBytesError(f"no trailer at the end of the file: {src.size - good} bytes follow the trailer at "
                              f"{good - layout.TRAILER_SIZE} (appended to a finished file?)", exc.offset, code=exc.code,
                              trailer_end=good) from None
    inner = inner_origins(h)
    if records.compact:
        if not data_start <= index_offset < end or index_offset + index_nbytes != end:
            raise FormatError(f"trailer points to an index at {index_offset} of {index_nbytes} bytes, not ending at the trailer", end, code="trailer-index")
        count, rows, size = read_compact_index(SourceCursor(src, index_offset), index_offset)
        if size != index_nbytes:
            raise FormatError(f"the index is {size} bytes, the trailer says {index_nbytes}", index_offset, code="index-size")
        table, stop, pos = walk_records(src, h, data_start, records, index_offset)
        if stop is not None:
            raise stop
        if pos != index_offset:
            raise FormatError(f"chunks end at {pos} but the index starts at {index_offset}", pos, code="index-end")
        if count != len(table) or rows != _rows(table, inner.count):
            raise FormatError(f"the index counts {count} records in {rows} rows, the file holds {len(table)}", index_offset, code="index-count")
        _check_total(h, table, inner.count, index_offset)
        return table
    if index_offset < data_start or index_offset + index_nbytes != end or index_nbytes < index_size(0):
        raise FormatError(f"trailer points to an index at {index_offset} of {index_nbytes} bytes, not ending at the trailer", end, code="trailer-index")
    fields = parse_index(src.read_at(index_offset, index_nbytes), index_offset)
    if not _tiles(fields, h, inner.count, data_start, index_offset):
        _first_index_problem(fields, h, data_start, index_offset)  # raises, saying where
        raise FormatError("the index does not describe the chunks", index_offset, code="index-end")  # pragma: no cover
    return ChunkTable(fields.view(np.int64))  # places below 2**62 (checked); spike counts as their u64 bits


def _tiles(fields: np.ndarray, h: Header, per_row: int, data_start: int, index_offset: int) -> bool:
    """Whether the index's entries tile the file and the array exactly (FORMAT.md 4, 6), checked
    on whole columns: the common case costs no Python loop however many chunks there are."""
    m = len(fields)
    if m == 0:  # no record: the index starts at D (FORMAT.md 10 step 5), nothing between
        return index_offset == data_start and (h.shape[0] in (None, 0) or per_row == 0)
    if per_row == 0 or m % per_row or int(fields[:, :4].max()) >= 1 << 62:  # spike counts: checked against each record
        return False
    offset, size, row_start, row_length = (fields[:, j].view(np.int64) for j in range(4))
    if offset[0] != data_start or int(offset[-1]) + int(size[-1]) != index_offset:
        return False
    if (size < layout.chunk_header_size(h.chunk_rank) + layout.CRC_SIZE).any() or (offset[1:] != offset[:-1] + size[:-1]).any():
        return False
    starts, heights = row_start.reshape(-1, per_row), row_length.reshape(-1, per_row)
    if (starts != starts[:, :1]).any() or (heights != heights[:, :1]).any():
        return False
    first = heights[:, 0]
    if (first < 1).any() or (first > h.chunk_shape[0]).any():
        return False
    ends = np.cumsum(first)
    if (starts[1:, 0] != ends[:-1]).any() or starts[0, 0] != 0:
        return False
    # Only the last row can end at or past 2**62 (every start is below it), so no sum wrapped; its end
    # is held to a known shape[0], or to the extent limit of a stream of unknown length (FORMAT.md 4.1).
    return int(ends[-1]) == h.shape[0] if h.shape[0] is not None else int(ends[-1]) <= MAX_EXTENT


def _first_index_problem(fields: np.ndarray, h: Header, data_start: int, index_offset: int) -> None:
    """Walk an index that does not tile entry by entry, raising for its first problem."""
    tiling = Tiling(h)
    pos = data_start
    min_size = layout.chunk_header_size(h.chunk_rank) + layout.CRC_SIZE
    for i, (offset, size, row_start, row_length, _) in enumerate(fields.tolist()):
        if not tiling.inner:  # first, at the index (FORMAT.md 10 step 5): G = 0 admits no entry at all
            raise FormatError("the array has an empty axis, so the file may hold no chunks", index_offset, code="empty-array-chunks")
        if offset != pos:
            kind = "overlaps the previous one" if offset < pos else "leaves a gap after the previous one"
            raise FormatError(f"index entry {i}: chunk at {offset} {kind} (expected {pos})", index_offset,
                              code="index-overlap" if offset < pos else "index-gap")
        if size < min_size:
            raise FormatError(f"index entry {i}: chunk size {size} is below the minimum {min_size}", index_offset, code="index-entry-size")
        tiling.advance_row(row_start, row_length, index_offset)
        pos += size
    if pos != index_offset:
        raise FormatError(f"chunks end at {pos} but the index starts at {index_offset}", index_offset, code="index-end")
    if not tiling.at_row_boundary:
        raise FormatError("the index ends inside a row of chunks", index_offset, code="row-incomplete")
    tiling.check_rows_total(index_offset)


def _rows(table: ChunkTable, per_row: int) -> int:
    """The rows the chunks cover: the sum of each row's height."""
    return int(table.row_length[:: per_row].sum()) if per_row and len(table) else 0


def _check_total(h: Header, table: ChunkTable, per_row: int, offset: int) -> None:
    rows = _rows(table, per_row)
    if h.shape[0] is not None and per_row and rows != h.shape[0]:
        raise FormatError(f"chunks cover {rows} of the {h.shape[0]} rows the header declares", offset, code="rows-total")


@dataclass
class RecordWalk:
    """What :func:`scan_records` found, in file order."""

    entries: ChunkTable  # one per record walked (a skipped record's states no spike count)
    complete: int  # how many of them form whole rows
    skipped: set[int]  # the entries whose records failed a check and were stepped over by their size
    stop: FormatError | None  # why the walk ended early: a record (``at_record``), or a row left incomplete
    at_record: bool
    at_index: bool  # it ended at the index's magic or marker
    pos: int  # where it ended
    per_row: int  # chunks in a row


def scan_records(src: Source, h: Header, data_start: int, records: RecordLayout, end: int | None = None,
                 skip: Callable[[FormatError], bool] | None = None) -> RecordWalk:
    """Walk the chunk records from the start, checking each (:func:`~.records.read_record`), up to
    the index (its magic or marker), ``end``, or the first record that is incomplete or damaged.
    ``skip(problem)``, when given, sees each record's problem and says whether to step over the
    record by its stated size (a validator that reports a failed CRC and goes on) or stop there.
    Every walk of records without the index (recovery, validation) is this one."""
    tiling = Tiling(h)
    entries = ChunkTableBuilder()
    skipped: set[int] = set()
    complete = 0
    cursor = BufferedCursor(src, data_start, end)
    stop: FormatError | None = None
    at_index = at_record = False
    while cursor.pos < cursor.end:  # with G = 0 (FORMAT.md 4.2) any record is empty-array-chunks, from place()
        at = cursor.pos
        at_index, first = records.at_end(cursor)
        if at_index or not first:
            cursor.pos = at
            break
        try:
            record = read_record(records, cursor, len(entries), tiling.place, first)
        except FormatError as exc:
            if skip is None or not skip(exc):
                stop, at_record = exc, True
                cursor.pos = at
                break
            head = records.read_head(SourceCursor(src, at), at)
            # Its stated spike count is not trusted (it may not fit the table's int64): none stated.
            entries.append(IndexEntry(at, head.size, tiling.last_row_start, head.height, None))
            skipped.add(len(entries) - 1)
            cursor.pos = at + head.size
        else:
            entries.append(record.entry(tiling.last_row_start))
        if tiling.at_row_boundary:
            complete = len(entries)
    if stop is None and not tiling.at_row_boundary:
        stop = FormatError("the chunks end inside a row", cursor.pos, code="row-incomplete")
    return RecordWalk(entries.table(), complete, skipped, stop, at_record, at_index, cursor.pos, tiling.inner.count)


def walk_records(src: Source, h: Header, data_start: int, records: RecordLayout, end: int | None = None
                 ) -> tuple[ChunkTable, FormatError | None, int]:
    """:func:`scan_records` for a reader: the chunk table of the complete rows before the first
    problem, the problem (``None`` when the walk reached the index cleanly, with whole rows) and
    where the complete rows end (the walk's end when there was no problem)."""
    walk = scan_records(src, h, data_start, records, end)
    entries, complete = walk.entries, walk.complete
    pos = entries[complete - 1].offset + entries[complete - 1].size if complete else data_start
    return entries.head(complete), walk.stop, pos if walk.stop is not None else walk.pos


def walk_chunks(src: Source, h: Header, data_start: int, records: RecordLayout) -> tuple[ChunkTable, FormatError | None]:
    """Rebuild the index by walking chunk records from the start (recovery): what a writer had
    finished, whole rows only, and why the walk stopped (``None``: it reached the index)."""
    table, stop, _ = walk_records(src, h, data_start, records)
    return table, stop


def decode_record(pipeline: Pipeline, record: Record, spec: ChunkSpec, ordinal: int, limits: ReadLimits,
                  out: np.ndarray | None = None) -> np.ndarray:
    """The elements of a checked record (:func:`~.records.read_record`): the payload decoded
    through ``pipeline`` into ``out`` (when given), its spike count checked where the record
    states one. A chunk over ``limits`` (its decoded bytes, or its elements per stored byte) is
    refused with LimitError before any allocation or work, as is one whose decoding needs more
    working memory than ``limits.max_bytes`` (or 64 MiB, the larger: :meth:`.ReadLimits.check_working`)."""
    at = record.offset
    limits.check_bytes(spec.size, f"chunk {ordinal}", at)
    limits.check_working(pipeline.working_bytes(spec), f"chunk {ordinal}", at)
    limits.check_work(spec.size, record.head.size, f"chunk {ordinal}", at)
    try:
        # The pipeline checks the decoded shape and that no value is wider than the element type.
        values, count = pipeline.decode(record.payload, spec, out)
    except FormatError as exc:
        raise FormatError(f"chunk {ordinal}: {exc.message}", at, code=exc.code or "payload-undecodable") from None
    except (ValueError, OverflowError) as exc:
        raise FormatError(f"chunk {ordinal}: payload does not decode ({exc})", at, code="payload-undecodable") from None
    except MemoryError as exc:  # within the limits (checked above): this machine gave less - not the file's fault
        raise LimitError(f"chunk {ordinal}: out of memory decoding it ({exc or 'allocation failed'}); the file may conform: "
                         "free memory, or read less at once", at, code="limit-memory") from None
    if record.head.spike_count is not None and count != record.head.spike_count:
        raise FormatError(f"chunk {ordinal} holds {count} spikes, its header says {record.head.spike_count}", at, code="spike-count")
    return values


def read_array(source: Openable, *, recover: bool = False, max_bytes: int | None = None,
               priors: Iterable[PriorLike] | PriorLike | None = None, limits: ReadLimits | None = None,
               dtype: DTypeLike = np.uint8, workers: int = 1) -> np.ndarray:
    """The whole array of a spike file (what :func:`spikecodec.load` and ``decode`` return),
    as ``dtype``, decoded on ``workers`` threads (``None``: as stored, uint8 - not numpy's float64)."""
    want = output_dtype(dtype)
    if want.kind not in "biuf":
        raise TypeError(f"spike files decode to bool, integer or float arrays, not {want}")
    with SpikeReader(source, recover=recover, max_bytes=max_bytes, limits=limits, priors=priors, _private=True) as r:
        if want == np.uint8:
            return r.read(workers=workers)
        try:  # the result in ``want`` is what must fit, beside the uint8 it is made from
            r.limits.check_bytes(r.size * (want.itemsize + 1), f"the array as {want}")
        except FormatError as exc:
            raise exc.located(r.name) from None
        values = r.read(workers=workers)
        try:
            return elements_as(values, r.bits, want)
        except DTypeOverflowError as exc:
            raise DTypeOverflowError(f"{r.name}: {exc}") from None


def allocated(shape: tuple[int, ...], what: str, name: str) -> np.ndarray:
    """``np.empty(shape, uint8)`` for a read within its limits; a machine that gives less memory
    raises LimitError ``limit-memory`` (as a chunk's decoding does), not numpy's MemoryError."""
    try:
        return np.empty(shape, np.uint8)
    except MemoryError as exc:
        raise LimitError(f"out of memory for {what} ({exc or 'allocation failed'}); the file may conform: "
                         "free memory, or read less at once", None, name, code="limit-memory") from None


class SpikeReader:
    """An open spike file. Use :func:`spikecodec.open`; index it like an array.

    ``reader[t]``, ``reader[0:2, 5]`` ... decode only the chunks the selection touches.
    ``recover=True`` reads a file whose writer died before writing the index, up to its last
    complete row of chunks (``recovered`` is then true and ``index_error`` says what was wrong).
    ``limits`` (:class:`~spikecodec.limits.ReadLimits`) caps what any one read may allocate and
    the work a chunk may stand for; ``max_bytes`` alone sets its byte cap. ``priors``: the prior (or
    priors: objects, paths or bytes) a file coded from a prior it does not embed may name
    (FORMAT.md 14); shipped priors and those in $SPIKECODEC_PRIOR_PATH are found without it.
    ``cache_bytes``: decoded chunks kept for selections that take part of a chunk (reading a
    chunk's samples one by one decodes it once); 0 keeps none.

    A reader is safe to share between threads, pickles (it reopens its file by path, or from
    its bytes; a reader of an open file object refuses), closes its file when dropped, and
    raises ``ValueError`` when read after :meth:`close`.
    """

    def __init__(
        self,
        source: Openable,
        *,
        recover: bool = False,
        max_bytes: int | None = None,
        priors: Iterable[PriorLike] | PriorLike | None = None,
        limits: ReadLimits | None = None,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        _private: bool = False,
    ):
        # _private: the caller never hands this reader on (read_array), so the header and codec
        # pipeline may be the ones kept for headers seen before (parse_header_shared).
        recover = flag_option(recover, "recover")
        given = as_priors(priors, as_limits(max_bytes, limits).max_bytes)
        # What a pickle reopens: a path or bytes as given; a buffer (bytearray, memoryview, mmap) as
        # its bytes, taken when pickled (a copy now would double the memory of every such read).
        reopenable = isinstance(source, (str, os.PathLike, *IN_MEMORY))
        self._reopen = dict(source=(_absolute(source) if isinstance(source, (str, os.PathLike, bytes)) else _BUFFER) if reopenable else None,
                            recover=recover, limits=as_limits(max_bytes, limits), priors=given, cache_bytes=cache_bytes)
        self._src = Source(source, as_limits(max_bytes, limits).max_bytes)
        self._closer = weakref.finalize(self, self._src.close)  # a reader dropped unclosed frees its file
        self._cache = ChunkCache(cache_bytes)
        self._closed = False
        self.limits = as_limits(max_bytes, limits)
        try:
            pre, body, crc = _header_bytes(self._src)
            self._data_start = layout.PREAMBLE_SIZE + len(body) + layout.CRC_SIZE
            if _private:
                self.header, self._pipeline = parse_header_shared(pre, body, crc)
            else:
                self.header = parse_header(pre, body, crc)
                self._pipeline = self.header.pipeline()
            self._pipeline = bind_prior(self.header, self._pipeline, given, layout.PREAMBLE_SIZE, self.limits.max_bytes)
            self._records = record_layout(self.header, crc)
            self.index_error: FormatError | None = None
            self.walk_error: FormatError | None = None
            try:
                self.entries = read_indexed(self._src, self.header, self._data_start, self._records)
            except FormatError as exc:
                if not recover:
                    raise
                self.index_error = exc
                self.entries, self.walk_error = walk_chunks(self._src, self.header, self._data_start, self._records)
        except FormatError as exc:
            self._src.close()
            raise exc.located(self._src.name) if exc.where is None else exc
        except BaseException:
            self._src.close()
            raise
        h = self.header
        self._chunk_rank = h.chunk_rank
        self._inner = inner_origins(h)
        self._per_row = self._inner.count
        self._row_starts = self.entries.row_start[:: self._per_row] if self._per_row else np.zeros(0, np.int64)
        self._specs: dict[tuple[int, int], ChunkSpec] = {}  # by (row height, place in the row)
        if self._per_row:
            length = _rows(self.entries, self._per_row)
        elif self.recovered:  # FORMAT.md 10, recovery: the kept rows' heights, and an array of no chunks keeps none
            length = 0
        else:
            length = h.shape[0] or 0
        self.shape: tuple[int, ...] = (length, *h.frame_shape)
        if checked_extent(self.shape) > MAX_TOTAL_ELEMENTS:  # e.g. (0, 2**62, 2**62): 0 elements
            self._src.close()
            raise LimitError(f"shape {self.shape} is too large for numpy even though it is empty", where=self.name, code="numpy-shape")

    # -- what the file says -------------------------------------------------------------------
    @property
    def max_bytes(self) -> int:
        """The most bytes one read may allocate (``limits.max_bytes``)."""
        return self.limits.max_bytes

    @property
    def size(self) -> int:
        """Elements in the array."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes of the decoded array (uint8 elements)."""
        return self.size

    @property
    def file_bytes(self) -> int:
        """Bytes of the file as this reader sees it (a pipe's: all it read)."""
        return self._src.size

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    @property
    def recovered(self) -> bool:
        """True when the index was missing or damaged and was rebuilt by walking the chunks."""
        return self.index_error is not None

    @property
    def dtype(self) -> np.dtype:
        """uint8: what reads return (``load(dtype=...)`` converts)."""
        return np.dtype(np.uint8)

    @property
    def ndim(self) -> int:
        """Number of axes."""
        return len(self.shape)

    @property
    def axes(self) -> tuple[str, ...]:
        """Axis names, as the header gives them."""
        return self.header.axes

    @property
    def bits(self) -> int:
        """Bits per element: 1, 2, 4 or 8."""
        return self.header.bits

    @property
    def chunk_shape(self) -> tuple[int, ...]:
        """Chunk extents along the chunked leading axes."""
        return self.header.chunk_shape

    @property
    def metadata(self) -> dict[str, Any]:
        """The header's JSON metadata: a copy, as :attr:`codec` is (changing it changes nothing
        the reader holds)."""
        return fresh_json(self.header.metadata)

    @property
    def codec(self) -> list[dict[str, Any]]:
        """The codec pipeline, as stored: a list of ``{"id": ..., **params}``."""
        return [dict(c) for c in self.header.codecs]

    @property
    def prior(self) -> Prior | None:
        """The prior the file's codec codes from (None without one)."""
        return getattr(self._pipeline.array_codec, "prior", None)

    @property
    def embeds_prior(self) -> bool:
        """Whether the file holds its prior in its header."""
        return self.header.extension_data(PRIOR_EXTENSION) is not None

    @property
    def records(self) -> str:
        """The chunk record layout: ``classic``, ``compact`` or, for compact records whose checks
        are not keyed (format 1.3-1.6), ``compact-unkeyed`` (FORMAT.md 5), as writers take it."""
        if not self._records.compact:
            return "classic"
        return "compact" if self._records.keyed else "compact-unkeyed"

    @property
    def version(self) -> tuple[int, int]:
        """The format version the file is written in: (major, minor)."""
        return (layout.MAJOR_VERSION, self.header.minor)

    @property
    def name(self) -> str:
        """The path (or a description) of the file being read."""
        return self._src.name

    def __len__(self) -> int:
        return self.shape[0]

    def __contains__(self, value: object) -> bool:
        # Without it, ``x in r`` fell back to iterating frames and stopped at numpy's "truth value
        # of an array ... is ambiguous"; a search decodes, so it is spelt out where it is wanted.
        raise TypeError("'in' does not search a spike file: read what to search and test it, e.g. (r[...] == value).any()")

    def __repr__(self) -> str:
        return f"<SpikeReader {self.name} shape={self.shape} axes={''.join(self.axes) if all(len(a) == 1 for a in self.axes) else self.axes} bits={self.bits}>"

    # -- reading ------------------------------------------------------------------------------
    def chunk_index(self, i: object) -> int:
        """``i`` checked as a chunk number in file order: an integer (Python or numpy, not a bool),
        negative ones counting from the end as in a list, else an IndexError or TypeError."""
        if isinstance(i, (bool, np.bool_)):
            raise TypeError(f"a chunk number is an integer, not {type(i).__name__}")
        try:
            n = operator.index(i)  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(f"a chunk number is an integer, not {type(i).__name__} {i!r:.40}") from None
        count = len(self.entries)
        if not -count <= n < count:
            raise IndexError(f"chunk {n} is out of range: the file holds {count} chunks")
        return n % count

    def chunk_spec(self, i: int) -> ChunkSpec:
        """What chunk ``i`` (file order) holds: its shape, axis names and element bits."""
        return self._chunk_spec(self.chunk_index(i))

    def chunk_origin(self, i: int) -> tuple[int, ...]:
        """Where chunk ``i`` (file order) starts in the array."""
        return self._chunk_origin(self.chunk_index(i))

    def _chunk_spec(self, i: int) -> ChunkSpec:
        key = (int(self.entries.row_length[i]), i % self._per_row)
        spec = self._specs.get(key)
        if spec is None:  # rows mostly share one height: a few specs serve every chunk
            spec = self._specs[key] = chunk_spec(self.header, key[0], self._inner[key[1]])
        return spec

    def _chunk_origin(self, i: int) -> tuple[int, ...]:
        return (int(self.entries.row_start[i]), *self._inner[i % self._per_row])

    def read_chunk(self, i: int) -> np.ndarray:
        """Decode chunk ``i`` (file order), checking its CRC, size, position and spike count."""
        self._check_open()
        return self._read_into(self.chunk_index(i))

    def _chunk_values(self, i: int) -> np.ndarray:
        """Chunk ``i``'s elements, from the cache when a selection decoded it already."""
        values = self._cache.get(i)
        if values is None:
            values = self._read_into(i)
            values.setflags(write=False)
            self._cache.put(i, values)
        return values

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self.name}: read from a closed spike file")

    def _read_into(self, i: int, out: np.ndarray | None = None, origin: tuple[int, ...] | None = None) -> np.ndarray:
        """Decode chunk ``i``, into ``out`` (uint8, the chunk's shape) when given; ``origin``,
        when given, is what :meth:`chunk_origin` says."""
        try:
            return self._read_chunk(i, out, origin)
        except FormatError as exc:
            raise exc.located(self.name) if exc.where is None else exc

    def _read_chunk(self, i: int, out: np.ndarray | None = None, origin: tuple[int, ...] | None = None) -> np.ndarray:
        e = self.entries[i]
        spec = self._chunk_spec(i)
        data = self._src.view_at(e.offset, e.size)
        if len(data) != e.size:
            raise FormatError(f"file ends inside chunk {i}", e.offset, code="record-truncated")
        place = index_place(i, e, spec, origin or self._chunk_origin(i), self._chunk_rank)
        record = read_record(self._records, BytesCursor(data, e.offset), i, place)
        return decode_record(self._pipeline, record, spec, i, self.limits, out)

    def read(self, out: np.ndarray | None = None, *, workers: int = 1,
             progress: Callable[[int], object] | None = None) -> np.ndarray:
        """The whole array: every chunk decoded straight into place (into ``out`` when given: a
        writable uint8 array of the file's shape). ``workers`` > 1 decodes chunks on that many
        threads (the compiled coders release the GIL), at most one a chunk and one a usable CPU
        (:func:`~spikecodec.limits.usable_cpus`: each thread keeps its own coder state). ``progress``, when given, is called in
        the calling thread with the elements each decoded chunk filled. When a chunk fails,
        ``out`` holds the chunks decoded before the error (on several threads, in any order):
        treat it as undefined."""
        self._check_open()
        workers = count_option(workers, "workers", 1)
        if progress is not None and not callable(progress):  # found before any work, not after the first chunk
            raise TypeError(f"progress must be callable (it is called with each chunk's elements), got {type(progress).__name__}")
        nbytes = math.prod(self.shape)
        try:
            self.limits.check_bytes(nbytes, "the array")
        except FormatError as exc:
            raise exc.located(self.name) from None
        if out is not None and not isinstance(out, np.ndarray):
            raise TypeError(f"out= must be a numpy array, got {type(out).__name__}")
        if out is None:
            # Not zeroed: read_indexed/walk_chunks checked that the chunks tile the array, and
            # ``filled`` counts what they wrote (a shortfall is an error, never stale memory).
            out = allocated(self.shape, "the array", self.name)
        elif out.shape != self.shape or out.dtype != np.uint8 or not out.flags.writeable:
            raise ValueError(f"out= must be a writable uint8 array of shape {self.shape}, got {out.dtype} {out.shape}")
        k = self._chunk_rank

        def one(i: int) -> int:
            spec = self._chunk_spec(i)
            origin = self._chunk_origin(i)
            self._read_into(i, out[tuple(slice(o, o + n) for o, n in zip(origin, spec.shape[:k]))], origin)
            return spec.size

        count = len(self.entries)
        threads = min(workers, count, usable_cpus()) if workers > 1 else 1
        filled = 0
        with contextlib.closing(in_order(one, range(count), threads)) as sizes:  # in file order, in this thread
            for size in sizes:
                filled += size
                if progress is not None:
                    progress(size)
        if filled != nbytes:
            raise FormatError(f"{self.name}: the chunks cover {filled} of the array's {nbytes} elements", code="rows-total")
        return out

    def __getitem__(self, key: Any) -> np.ndarray:
        """numpy-style selection: ints, slices, ``...``, ``None`` (``np.newaxis``) and integer
        (or boolean) arrays, lists and ranges (a range is its list of ints, as in numpy); only
        the chunks the selection touches are decoded. A bool scalar (``r[True]``, numpy's new
        axis of length 1 or 0) is an IndexError."""
        self._check_open()
        key, expand = split_new_axes(key)
        if expand is not None:
            return expand(self[key], self.ndim)
        k = self.header.chunk_rank
        empty_ellipsis = empty_ellipsis_at(key, self.ndim)
        key = normalize_key(key, self.shape)
        box_lo, box_hi, local = [], [], []
        for i, sel in enumerate(key[:k]):
            n = self.shape[i]
            if isinstance(sel, np.ndarray):  # positions: read the span they cover, then take them
                lo = int(sel.min()) if sel.size else 0
                hi = int(sel.max()) + 1 if sel.size else 0
                box_lo.append(lo)
                box_hi.append(hi)
                local.append(sel - lo)
                continue
            if isinstance(sel, int):
                box_lo.append(sel)
                box_hi.append(sel + 1)
                local.append(0)
                continue
            r = range(*sel.indices(n))
            if len(r) == 0:
                box_lo.append(0)
                box_hi.append(0)
                local.append(slice(0, 0))
                continue
            lo, hi = min(r[0], r[-1]), max(r[0], r[-1]) + 1
            box_lo.append(lo)
            box_hi.append(hi)
            stop = r[-1] - lo + (1 if r.step > 0 else -1)
            local.append(slice(r[0] - lo, None if stop < 0 else stop, r.step))
        box_shape = tuple(b - a for a, b in zip(box_lo, box_hi)) + self.shape[k:]
        nbytes = 1
        for s in box_shape:
            nbytes *= s
        try:
            # What is decoded (the box) and what is returned (repeated positions return more) both count.
            self.limits.check_bytes(max(nbytes, selected_size(key, self.shape)), "the selection")
        except FormatError as exc:
            raise exc.located(self.name) from None
        # Not zeroed: the chunks tile the array, so those overlapping the box fill all of it
        # (``filled`` counts what they wrote, and a shortfall is an error, never stale memory).
        box = allocated(box_shape, "the selection", self.name)
        filled = 0
        # A chunk the box covers whole is decoded straight into place, unless the selection wants
        # only part of its unchunked axes and the chunk fits the cache: then the cache serves the
        # next selection of it (samples read one by one along an unchunked axis decoded the
        # chunk every time: 57x the time of reading them all).
        whole_inner = all(isinstance(sel, slice) and sel.indices(n) == (0, n, 1) for sel, n in zip(key[k:], self.shape[k:]))
        if nbytes:
            inner_size = math.prod(self.shape[k:])
            for i in self._chunks_overlapping(box_lo, box_hi):
                origin = self._chunk_origin(i)
                spec = self._chunk_spec(i)
                ext = spec.shape[:k]
                lo = [max(o, a) for o, a in zip(origin, box_lo)]
                hi = [min(o + x, b) for o, x, b in zip(origin, ext, box_hi)]
                dst = tuple(slice(a - bl, b - bl) for a, b, bl in zip(lo, hi, box_lo))
                filled += math.prod(b - a for a, b in zip(lo, hi)) * inner_size
                if (whole_inner or spec.size > self._cache.limit) and lo == list(origin) and hi == [o + x for o, x in zip(origin, ext)]:
                    self._read_into(i, box[dst], origin)  # the whole chunk: decode straight into place
                    continue
                values = self._chunk_values(i)
                box[dst] = values[tuple(slice(a - o, b - o) for a, b, o in zip(lo, hi, origin))]
        if filled != nbytes:
            raise FormatError(f"{self.name}: the chunks cover {filled} of the {nbytes} elements selected", code="rows-total")
        # np.require keeps a 0-d result 0-d (ascontiguousarray would make it 1-d).
        picks = tuple(local) + tuple(key[k:])
        if empty_ellipsis is not None:
            picks = picks[:empty_ellipsis] + (Ellipsis,) + picks[empty_ellipsis:]
        return np.require(box[picks], requirements="C")

    def _chunks_overlapping(self, lo: list[int], hi: list[int]) -> list[int]:
        if not self._per_row:
            return []
        first_row = max(int(np.searchsorted(self._row_starts, lo[0], "right")) - 1, 0)
        last_row = int(np.searchsorted(self._row_starts, hi[0], "left"))
        wanted = self._inner.overlapping(lo[1:], hi[1:])
        return [r * self._per_row + j for r in range(first_row, last_row) for j in wanted]

    # -- lifetime -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the file (also done when the reader is dropped); reads then raise ValueError."""
        self._closed = True
        self._cache.clear()
        self._closer()

    def __getstate__(self) -> dict[str, Any]:
        if self._reopen["source"] is None:
            raise TypeError(f"a reader of an open file object ({self.name}) cannot be pickled: "
                            "open the file by path, or from its bytes")
        if self._closed:
            raise ValueError(f"{self.name}: a closed reader cannot be pickled")
        if self._src.from_pipe or self._reopen["source"] is _BUFFER:  # a pipe read to its end, or a buffer: as its bytes
            return {**self._reopen, "source": bytes(self._src.view_at(0, self._src.size))}
        return {**self._reopen, "file_as_opened": self._file_as_opened()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        opened = state.pop("file_as_opened", None)
        self.__init__(state.pop("source"), **state)  # type: ignore[misc]
        if opened is not None and not self._same_file(opened):
            self.close()
            raise ValueError(f"{self.name}: the file changed since the reader was pickled (its size, header, chunks or "
                             "last bytes differ): a reader in another process would read other data; open it anew")

    def _file_as_opened(self, chunks: int | None = None) -> dict[str, Any]:
        """What a reopened reader compares (see :meth:`_same_file`): the file's size, header CRC,
        chunk table, last bytes and the CRCs (checks) of up to RECORD_CRCS_COMPARED records
        spread over the first ``chunks`` (default all): a file written again with chunks of the
        same sizes and spike counts (raw or packed chunks have fixed sizes) differs in those."""
        columns = self.entries.columns
        chunks = len(columns) if chunks is None else chunks
        sampled = np.unique(np.linspace(0, chunks - 1, min(chunks, RECORD_CRCS_COMPARED)).astype(np.int64)) if chunks else []
        record_ends = [int(columns[i, 0] + columns[i, 1]) for i in sampled]
        return {"size": self._src.size, "header_crc": self._src.read_at(self._data_start - layout.CRC_SIZE, layout.CRC_SIZE),
                "chunks": len(columns), "table": hashlib.sha256(columns.tobytes()).hexdigest(),
                "tail": self._src.read_at(max(0, self._src.size - 64), 64),
                "record_crcs": b"".join(self._src.read_at(end - 2, 2) for end in record_ends)}

    def _same_file(self, opened: dict[str, Any]) -> bool:
        """Whether this reader's file is the one another reader pickled: the same, or for a
        reader that recovers a file still being written, one that only grew."""
        now = self._file_as_opened()
        if now["header_crc"] != opened["header_crc"]:
            return False
        if self._reopen["recover"] and now["size"] >= opened["size"] and now["chunks"] >= opened["chunks"]:
            return (hashlib.sha256(self.entries.columns[: opened["chunks"]].tobytes()).hexdigest() == opened["table"]
                    and self._file_as_opened(opened["chunks"])["record_crcs"] == opened["record_crcs"])
        return now == opened

    def __enter__(self) -> "SpikeReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _absolute(source: str | os.PathLike | bytes) -> str | os.PathLike | bytes:
    """A path as a reopened reader finds it from any working folder (a worker's, or this
    process's after os.chdir); bytes as they are."""
    if isinstance(source, bytes):
        return source
    try:
        return os.path.abspath(source)
    except OSError:  # the working folder is gone: the path as given
        return source
