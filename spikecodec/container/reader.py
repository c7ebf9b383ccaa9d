"""Reading spike files: header and index in two small reads, then only the chunks asked for."""

from __future__ import annotations

import bisect
import math
from typing import Any

import numpy as np

from .. import layout
from ..codecs import ChunkSpec
from ..errors import FormatError
from ..limits import DEFAULT_MAX_DECODED_BYTES, MAX_TOTAL_ELEMENTS
from .grid import Tiling, inner_origins
from .header import Header, parse_header, parse_header_shared, parse_preamble
from .records import (
    IndexEntry,
    check_chunk_crc,
    index_size,
    parse_chunk_head,
    parse_index,
    parse_trailer,
)
from .source import Openable, Source


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
        raise FormatError(f"file ends inside the {header_size}-byte header", layout.PREAMBLE_SIZE)
    return pre, rest[:header_size], rest[header_size:]


def read_indexed(src: Source, h: Header, data_start: int) -> tuple[list[IndexEntry], list[ChunkSpec]]:
    """Entries of the index the trailer points to, checked to tile the file exactly, and the
    spec of each entry's chunk."""
    end = src.size - layout.TRAILER_SIZE
    if end < data_start:
        raise FormatError("no trailer: the file is truncated or its writer did not finish", src.size)
    index_offset, index_nbytes = parse_trailer(src.read_at(end, layout.TRAILER_SIZE), end)
    if index_offset < data_start or index_offset + index_nbytes != end or index_nbytes < index_size(0):
        raise FormatError(f"trailer points to an index at {index_offset} of {index_nbytes} bytes, not ending at the trailer", end)
    entries = parse_index(src.read_at(index_offset, index_nbytes), index_offset)
    tiling = Tiling(h)
    specs = []
    pos = data_start
    min_size = layout.chunk_header_size(h.chunk_rank) + layout.CRC_SIZE
    for i, e in enumerate(entries):
        if e.offset != pos:
            kind = "overlaps the previous one" if e.offset < pos else "leaves a gap after the previous one"
            raise FormatError(f"index entry {i}: chunk at {e.offset} {kind} (expected {pos})", index_offset)
        if e.size < min_size:
            raise FormatError(f"index entry {i}: chunk size {e.size} is below the minimum {min_size}", index_offset)
        if not tiling.inner:
            raise FormatError("the array has an empty axis, so the file may hold no chunks", e.offset)
        specs.append(tiling.advance_row(e.row_start, e.row_length, index_offset))
        pos += e.size
    if pos != index_offset:
        raise FormatError(f"chunks end at {pos} but the index starts at {index_offset}", index_offset)
    if not tiling.at_row_boundary:
        raise FormatError("the index ends inside a row of chunks", index_offset)
    if h.shape[0] is not None and tiling.inner and tiling.row_start != h.shape[0]:
        raise FormatError(f"chunks cover {tiling.row_start} of the {h.shape[0]} rows the header declares", index_offset)
    return entries, specs


def walk_chunks(src: Source, h: Header, data_start: int) -> tuple[list[IndexEntry], list[ChunkSpec], FormatError | None]:
    """Rebuild the index by walking chunk records from the start (recovery).

    Stops at the first record that is incomplete or damaged, and keeps only complete rows: what a
    writer had finished is returned, nothing else, with the spec of each chunk. Also returns why
    the walk stopped (``None`` when it reached the index or the end of the file cleanly).
    """
    tiling = Tiling(h)
    entries: list[IndexEntry] = []
    specs: list[ChunkSpec] = []
    complete = 0
    pos = data_start
    head_size = layout.chunk_header_size(h.chunk_rank)
    stop: FormatError | None = None
    while tiling.inner:
        head = src.read_at(pos, head_size)
        if not head or head[:4] == layout.INDEX_MAGIC:
            break
        try:
            payload_size, spikes, origin, extent = parse_chunk_head(head, h.chunk_rank, pos)
            spec = tiling.advance(origin, extent, pos)
            if payload_size > spec.max_payload:
                raise FormatError(f"chunk payload size {payload_size} exceeds the cap {spec.max_payload}", pos)
            rest = src.read_at(pos + head_size, payload_size + layout.CRC_SIZE)
            check_chunk_crc(head, rest[:payload_size], rest[payload_size:], pos)
        except FormatError as exc:
            stop = exc
            break
        size = head_size + payload_size + layout.CRC_SIZE
        entries.append(IndexEntry(pos, size, origin[0], extent[0], spikes))
        specs.append(spec)
        pos += size
        if tiling.at_row_boundary:
            complete = len(entries)
    if stop is None and not tiling.at_row_boundary:
        stop = FormatError("the chunks end inside a row", pos)
    return entries[:complete], specs[:complete], stop


def read_array(source: Openable, *, recover: bool = False, max_bytes: int = DEFAULT_MAX_DECODED_BYTES) -> np.ndarray:
    """The whole array of a spike file (what :func:`spikecodec.load` and ``decode`` return)."""
    with SpikeReader(source, recover=recover, max_bytes=max_bytes, _private=True) as r:
        return r.read()


class SpikeReader:
    """An open spike file. Use :func:`spikecodec.open`; index it like an array.

    ``reader[t]``, ``reader[0:2, 5]`` ... decode only the chunks the selection touches.
    ``recover=True`` reads a file whose writer died before writing the index, up to its last
    complete row of chunks (``recovered`` is then true and ``index_error`` says what was wrong).
    ``max_bytes`` caps the decoded bytes any one read may allocate.
    """

    def __init__(
        self, source: Openable, *, recover: bool = False, max_bytes: int = DEFAULT_MAX_DECODED_BYTES, _private: bool = False
    ):
        # _private: the caller never hands this reader on (read_array), so the header and codec
        # pipeline may be the ones kept for headers seen before (parse_header_shared).
        self._src = Source(source)
        self.max_bytes = max_bytes
        try:
            pre, body, crc = _header_bytes(self._src)
            self._data_start = layout.PREAMBLE_SIZE + len(body) + layout.CRC_SIZE
            if _private:
                self.header, self._pipeline = parse_header_shared(pre, body, crc)
            else:
                self.header = parse_header(pre, body, crc)
                self._pipeline = self.header.pipeline()
            self.index_error: FormatError | None = None
            self.walk_error: FormatError | None = None
            try:
                self.entries, self._specs = read_indexed(self._src, self.header, self._data_start)
            except FormatError as exc:
                if not recover:
                    raise
                self.index_error = exc
                self.entries, self._specs, self.walk_error = walk_chunks(self._src, self.header, self._data_start)
        except FormatError as exc:
            self._src.close()
            raise exc.located(self._src.name) if exc.where is None else exc
        except BaseException:
            self._src.close()
            raise
        h = self.header
        self._chunk_rank = h.chunk_rank
        self._chunk_head_size = layout.chunk_header_size(h.chunk_rank)
        self._inner = inner_origins(h)
        self._per_row = len(self._inner)
        self._row_starts = [e.row_start for e in self.entries[:: self._per_row]] if self._per_row else []
        if self._per_row:
            length = self._row_starts[-1] + self.entries[-1].row_length if self.entries else 0
        else:
            length = h.shape[0] or 0
        self.shape: tuple[int, ...] = (length, *h.frame_shape)
        if checked_extent(self.shape) > MAX_TOTAL_ELEMENTS:  # e.g. (0, 2**62, 2**62): 0 elements
            self._src.close()
            raise FormatError(f"shape {self.shape} is too large for numpy even though it is empty", where=self.name)

    # -- what the file says -------------------------------------------------------------------
    @property
    def recovered(self) -> bool:
        """True when the index was missing or damaged and was rebuilt by walking the chunks."""
        return self.index_error is not None

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def axes(self) -> tuple[str, ...]:
        return self.header.axes

    @property
    def bits(self) -> int:
        return self.header.bits

    @property
    def chunk_shape(self) -> tuple[int, ...]:
        return self.header.chunk_shape

    @property
    def metadata(self) -> dict[str, Any]:
        return self.header.metadata

    @property
    def codec(self) -> list[dict[str, Any]]:
        """The codec pipeline, as stored: a list of ``{"id": ..., **params}``."""
        return [dict(c) for c in self.header.codecs]

    @property
    def version(self) -> tuple[int, int]:
        return (layout.MAJOR_VERSION, self.header.minor)

    @property
    def name(self) -> str:
        return self._src.name

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"<SpikeReader {self.name} shape={self.shape} axes={''.join(self.axes) if all(len(a) == 1 for a in self.axes) else self.axes} bits={self.bits}>"

    # -- reading ------------------------------------------------------------------------------
    def chunk_spec(self, i: int) -> ChunkSpec:
        return self._specs[i]

    def chunk_origin(self, i: int) -> tuple[int, ...]:
        return (self.entries[i].row_start, *self._inner[i % self._per_row])

    def read_chunk(self, i: int) -> np.ndarray:
        """Decode chunk ``i`` (file order), checking its CRC, size, position and spike count."""
        return self._read_into(i)

    def _read_into(self, i: int, out: np.ndarray | None = None, origin: tuple[int, ...] | None = None) -> np.ndarray:
        """Decode chunk ``i``, into ``out`` (uint8, the chunk's shape) when given; ``origin``,
        when given, is what :meth:`chunk_origin` says."""
        try:
            return self._read_chunk(i, out, origin)
        except FormatError as exc:
            raise exc.located(self.name) if exc.where is None else exc

    def _read_chunk(self, i: int, out: np.ndarray | None = None, origin: tuple[int, ...] | None = None) -> np.ndarray:
        e = self.entries[i]
        spec = self._specs[i]
        at = e.offset
        data = memoryview(self._src.view_at(at, e.size))  # slices below are views, not copies
        if len(data) != e.size:
            raise FormatError(f"file ends inside chunk {i}", at)
        k = self._chunk_rank
        head_size = self._chunk_head_size
        payload_size, spikes, head_origin, extent = parse_chunk_head(data[:head_size], k, at)
        if head_size + payload_size + layout.CRC_SIZE != e.size:
            raise FormatError(f"chunk {i} is {head_size + payload_size + 4} bytes but the index says {e.size}", at)
        if head_origin != (origin or self.chunk_origin(i)) or extent != spec.shape[:k]:
            raise FormatError(f"chunk {i} covers {head_origin}+{extent}, not where the index puts it", at)
        if spikes != e.spike_count:
            raise FormatError(f"chunk {i} spike count {spikes} differs from the index's {e.spike_count}", at)
        end = head_size + payload_size
        payload = data[head_size:end]
        check_chunk_crc(data[:head_size], payload, data[end:], at)
        if payload_size > spec.max_payload:
            raise FormatError(f"chunk {i} payload of {payload_size} bytes exceeds the cap {spec.max_payload}", at)
        if spec.size > self.max_bytes:
            raise FormatError(f"chunk {i} decodes to {spec.size} bytes, over max_bytes={self.max_bytes}", at)
        try:
            # The pipeline checks the decoded shape and that no value is wider than the element type.
            values, count = self._pipeline.decode(payload, spec, out)
        except FormatError as exc:
            raise FormatError(f"chunk {i}: {exc.message}", at) from None
        except (ValueError, MemoryError, OverflowError) as exc:
            raise FormatError(f"chunk {i}: payload does not decode ({exc})", at) from None
        if count != spikes:
            raise FormatError(f"chunk {i} holds {count} spikes, its header says {spikes}", at)
        return values

    def read(self) -> np.ndarray:
        """The whole array: every chunk decoded straight into place, in file order."""
        nbytes = math.prod(self.shape)
        if nbytes > self.max_bytes:
            raise FormatError(f"{self.name}: the array decodes to {nbytes} bytes, over max_bytes={self.max_bytes} (raise it to allow)")
        # Not zeroed: read_indexed/walk_chunks checked that the chunks tile the array, and
        # ``filled`` counts what they wrote (a shortfall is an error, never stale memory).
        out = np.empty(self.shape, np.uint8)
        filled = 0
        k = self._chunk_rank
        for i, spec in enumerate(self._specs):  # file order
            origin = self.chunk_origin(i)
            self._read_into(i, out[tuple(slice(o, o + n) for o, n in zip(origin, spec.shape[:k]))], origin)
            filled += spec.size
        if filled != nbytes:
            raise FormatError(f"{self.name}: the chunks cover {filled} of the array's {nbytes} elements")
        return out

    def __getitem__(self, key: Any) -> np.ndarray:
        k = self.header.chunk_rank
        key = _normalize_key(key, self.shape)
        box_lo, box_hi, local = [], [], []
        for i, sel in enumerate(key[:k]):
            n = self.shape[i]
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
        if nbytes > self.max_bytes:
            raise FormatError(
                f"{self.name}: selection decodes to {nbytes} bytes, over max_bytes={self.max_bytes} (raise it to allow)"
            )
        # Not zeroed: the chunks tile the array, so those overlapping the box fill all of it
        # (``filled`` counts what they wrote, and a shortfall is an error, never stale memory).
        box = np.empty(box_shape, np.uint8)
        filled = 0
        if nbytes:
            inner_size = math.prod(self.shape[k:])
            for i in self._chunks_overlapping(box_lo, box_hi):
                origin = self.chunk_origin(i)
                spec = self._specs[i]
                ext = spec.shape[:k]
                lo = [max(o, a) for o, a in zip(origin, box_lo)]
                hi = [min(o + x, b) for o, x, b in zip(origin, ext, box_hi)]
                dst = tuple(slice(a - bl, b - bl) for a, b, bl in zip(lo, hi, box_lo))
                filled += math.prod(b - a for a, b in zip(lo, hi)) * inner_size
                if lo == list(origin) and hi == [o + x for o, x in zip(origin, ext)]:
                    self._read_into(i, box[dst], origin)  # the whole chunk: decode straight into place
                    continue
                values = self.read_chunk(i)
                box[dst] = values[tuple(slice(a - o, b - o) for a, b, o in zip(lo, hi, origin))]
        if filled != nbytes:
            raise FormatError(f"{self.name}: the chunks cover {filled} of the {nbytes} elements selected")
        # np.require keeps a 0-d result 0-d (ascontiguousarray would make it 1-d).
        return np.require(box[tuple(local) + tuple(key[k:])], requirements="C")

    def _chunks_overlapping(self, lo: list[int], hi: list[int]) -> list[int]:
        if not self._per_row:
            return []
        first_row = max(bisect.bisect_right(self._row_starts, lo[0]) - 1, 0)
        last_row = bisect.bisect_left(self._row_starts, hi[0])
        wanted = self._inner.overlapping(lo[1:], hi[1:])
        return [r * self._per_row + j for r in range(first_row, last_row) for j in wanted]

    # -- lifetime -----------------------------------------------------------------------------
    def close(self) -> None:
        self._src.close()

    def __enter__(self) -> "SpikeReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def checked_extent(shape: tuple[int, ...]) -> int:
    """Product of the non-zero extents: what numpy needs to fit even when the array is empty."""
    n = 1
    for s in shape:
        n *= max(s, 1)
    return n


def _normalize_key(key: Any, shape: tuple[int, ...]) -> list[int | slice]:
    """One int or slice per axis; ints wrapped and bounds-checked."""
    if not isinstance(key, tuple):
        key = (key,)
    if sum(k is Ellipsis for k in key) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if Ellipsis in key:
        at = key.index(Ellipsis)
        key = key[:at] + (slice(None),) * (len(shape) - len(key) + 1) + key[at + 1 :]
    if len(key) > len(shape):
        raise IndexError(f"too many indices: {len(key)} for {len(shape)} axes")
    key = key + (slice(None),) * (len(shape) - len(key))
    out: list[int | slice] = []
    for axis, (k, n) in enumerate(zip(key, shape)):
        if isinstance(k, slice):
            out.append(k)
        elif isinstance(k, (int, np.integer)) and not isinstance(k, bool):
            v = int(k) + (n if k < 0 else 0)
            if not 0 <= v < n:
                raise IndexError(f"index {int(k)} is out of bounds for axis {axis} with size {n}")
            out.append(v)
        else:
            raise TypeError(f"spike files are indexed with ints, slices and '...', not {type(k).__name__}")
    return out
