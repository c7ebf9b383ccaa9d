"""How chunks tile the array (FORMAT.md 4.2): rows along axis 0, a fixed grid inside each row."""

from __future__ import annotations

import itertools
import math
from typing import Iterator, Sequence

import numpy as np

from ..codecs import ChunkSpec
from ..errors import FormatError
from ..limits import MAX_EXTENT, ReadLimits
from .header import Header


class InnerGrid(Sequence[tuple[int, ...]]):
    """Origins along axes 1..chunk_rank-1 of the chunks of one row, in file (C) order.

    Computed on demand, never listed: a tiny hostile header may declare billions of chunks per
    row, and only the chunks a file actually holds may cost memory.
    """

    def __init__(self, h: Header):
        self._ranges = [range(0, h.shape[i], h.chunk_shape[i]) for i in range(1, h.chunk_rank)]  # type: ignore[arg-type]
        # The chunks of a row, a Python int: with an unchunked axis of extent 0 (no element, so no
        # element limit) a header may declare more than len() can return (2**63), so every
        # reader asks for this count, never len().
        self.count: int = math.prod(len(r) for r in self._ranges)
        self._len = self.count

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self.count > 0

    def __getitem__(self, i: int) -> tuple[int, ...]:  # type: ignore[override]
        if not 0 <= i < self._len:
            raise IndexError(i)
        origin = []
        for r in reversed(self._ranges):
            i, j = divmod(i, len(r))
            origin.append(r[j])
        return tuple(reversed(origin))

    def __iter__(self) -> Iterator[tuple[int, ...]]:
        return itertools.product(*self._ranges)

    def overlapping(self, lo: Sequence[int], hi: Sequence[int]) -> list[int]:
        """Positions of the chunks that meet the box ``lo..hi`` (axes 1..chunk_rank-1)."""
        per_axis = []
        for r, a, b in zip(self._ranges, lo, hi):
            if a >= b:
                return []
            per_axis.append(range(a // r.step, (b - 1) // r.step + 1))
        out = []
        for idx in itertools.product(*per_axis):
            position = 0
            for r, j in zip(self._ranges, idx):
                position = position * len(r) + j
            out.append(position)
        return out


def inner_origins(h: Header) -> InnerGrid:
    """Origins along axes 1..chunk_rank-1 of the chunks of one row, in file (C) order."""
    return InnerGrid(h)


def chunk_spec(h: Header, row_length: int, inner_origin: tuple[int, ...]) -> ChunkSpec:
    inner = tuple(min(h.chunk_shape[i], h.shape[i] - o) for i, o in enumerate(inner_origin, start=1))  # type: ignore[operator]
    return ChunkSpec((row_length, *inner, *h.shape[h.chunk_rank :]), h.axes, h.bits)  # type: ignore[arg-type]


class Tiling:
    """Checks that successive chunks sit exactly where the tiling says, with no gap or overlap.

    Rows may have any height from 1 to ``chunk_shape[0]`` (a streaming writer flushes partial
    rows), but every chunk of a row shares that height.
    """

    def __init__(self, h: Header):
        self.header = h
        self.inner = inner_origins(h)
        self.position = 0  # chunk number within the current row
        self.row_start = 0  # == total height of the complete rows so far
        self.row_length = 0
        self.specs: dict[tuple[int, int], ChunkSpec] = {}  # by (row height, place in the row)
        self.last_row_start = 0  # where the chunk last placed (by place) starts along axis 0 ...
        self.last_spec: ChunkSpec | None = None  # ... and its spec

    def place(self, head, offset: int) -> ChunkSpec:
        """Accept the next record's chunk and return its spec: a record that states its origin
        and extent (classic) must sit where the tiling says; one that states only its height
        (compact) is put there."""
        self.last_row_start = self.row_start
        if head.origin is not None:
            spec = self.advance(head.origin, head.extent, offset)
        else:
            spec = self.advance_row(self.row_start, head.height, offset)
        self.last_spec = spec
        return spec

    @property
    def at_row_boundary(self) -> bool:
        return self.position == 0

    def check_rows_total(self, offset: int) -> None:
        """After the last chunk: with G >= 1, the rows cover a known ``shape[0]`` exactly
        (FORMAT.md 4.2, ``rows-total``)."""
        known = self.header.shape[0]
        if known is not None and self.inner and self.row_start != known:
            raise FormatError(f"chunks cover {self.row_start} of the {known} rows the header declares", offset, code="rows-total")

    def expected_origin(self) -> tuple[int, ...]:
        return (self.row_start, *self.inner[self.position])

    def advance(self, origin: tuple[int, ...], extent: tuple[int, ...], offset: int) -> ChunkSpec:
        """Accept the next chunk or raise; returns its spec."""
        if not self.inner:
            raise FormatError("the array has an empty axis, so the file may hold no chunks", offset, code="empty-array-chunks")
        want = self.expected_origin()
        if tuple(origin) != want:
            raise FormatError(f"chunk origin {tuple(origin)} out of order: expected {want}", offset, code="chunk-order")
        spec = self.advance_row(origin[0], extent[0], offset)
        if tuple(extent[1:]) != spec.shape[1 : self.header.chunk_rank]:
            raise FormatError(f"chunk extent {tuple(extent)} does not match the grid", offset, code="chunk-extent")
        return spec

    def advance_row(self, row_start: int, height: int, offset: int) -> ChunkSpec:
        """Accept the next chunk, known only by its row (an index entry: its place in the row is
        the grid's), or raise; returns its spec."""
        h = self.header
        if not self.inner:
            raise FormatError("the array has an empty axis, so the file may hold no chunks", offset, code="empty-array-chunks")
        if row_start != self.row_start:
            want = self.expected_origin()
            raise FormatError(f"chunk origin {(row_start, *want[1:])} out of order: expected {want}", offset, code="chunk-order")
        if self.position == 0:
            if not 1 <= height <= h.chunk_shape[0]:
                raise FormatError(f"chunk height {height} is outside 1..{h.chunk_shape[0]}", offset, code="row-height")
            end = h.shape[0] if h.shape[0] is not None else MAX_EXTENT  # FORMAT.md 4.1: rows of an unknown length too
            if self.row_start + height > end:
                raise FormatError(f"chunk reaches row {self.row_start + height}, past " + (f"shape[0] = {end}" if h.shape[0] is not None
                                  else "the extent limit 2^62 - 1 of a stream of unknown length"), offset, code="row-past-shape")
            self.row_length = height
        elif height != self.row_length:
            raise FormatError(f"chunk height {height} differs from its row's {self.row_length}", offset, code="row-height-differs")
        key = (height, self.position)
        spec = self.specs.get(key)
        if spec is None:  # rows mostly share one height: one spec per place in the row
            spec = self.specs[key] = chunk_spec(h, height, self.inner[self.position])
        self.position += 1
        if self.position == self.inner.count:
            self.position = 0
            self.row_start += height
        return spec


class RowAssembler:
    """The chunks of one row of frames, put in place as a sequential reader (a stream, a
    message decoder) decodes them in file order: :meth:`add` returns the row once its last
    chunk is in. The row is allocated within ``limits`` when its first chunk arrives."""

    def __init__(self, tiling: Tiling, limits: ReadLimits):
        self.tiling = tiling
        self.limits = limits
        self.row: np.ndarray | None = None

    def add(self, values: np.ndarray, spec: ChunkSpec, offset: int) -> np.ndarray | None:
        """Place the chunk ``tiling`` just accepted (:meth:`Tiling.place`); the whole row when
        that chunk ended it, else None."""
        t, h = self.tiling, self.tiling.header
        if self.row is None:
            self.limits.check_bytes(spec.shape[0] * math.prod(h.frame_shape), f"the row at row {t.last_row_start}", offset)
            if t.inner.count == 1 and t.at_row_boundary and values.shape == (spec.shape[0], *h.frame_shape):
                return values  # the chunk is the whole row (a one-image message): no copy
            self.row = np.empty((spec.shape[0], *h.frame_shape), np.uint8)
        inner = t.inner[(t.position - 1) % t.inner.count]
        self.row[(slice(None), *(slice(o, o + n) for o, n in zip(inner, spec.shape[1 : h.chunk_rank])))] = values
        if not t.at_row_boundary:
            return None
        row, self.row = self.row, None
        return row
