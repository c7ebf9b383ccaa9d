"""How chunks tile the array (FORMAT.md 4.2): rows along axis 0, a fixed grid inside each row."""

from __future__ import annotations

import itertools

from ..codecs import ChunkSpec
from ..errors import FormatError
from .header import Header


def inner_origins(h: Header) -> list[tuple[int, ...]]:
    """Origins along axes 1..chunk_rank-1 of the chunks of one row, in file (C) order."""
    ranges = [range(0, h.shape[i], h.chunk_shape[i]) for i in range(1, h.chunk_rank)]  # type: ignore[arg-type]
    return list(itertools.product(*ranges))


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

    @property
    def at_row_boundary(self) -> bool:
        return self.position == 0

    def expected_origin(self) -> tuple[int, ...]:
        return (self.row_start, *self.inner[self.position])

    def advance(self, origin: tuple[int, ...], extent: tuple[int, ...], offset: int) -> ChunkSpec:
        """Accept the next chunk or raise; returns its spec."""
        h = self.header
        if not self.inner:
            raise FormatError("the array has an empty axis, so the file may hold no chunks", offset)
        want = self.expected_origin()
        if tuple(origin) != want:
            raise FormatError(f"chunk origin {tuple(origin)} out of order: expected {want}", offset)
        height = extent[0]
        if self.position == 0:
            if not 1 <= height <= h.chunk_shape[0]:
                raise FormatError(f"chunk height {height} is outside 1..{h.chunk_shape[0]}", offset)
            if h.shape[0] is not None and self.row_start + height > h.shape[0]:
                raise FormatError(f"chunk reaches row {self.row_start + height}, past shape[0] = {h.shape[0]}", offset)
            self.row_length = height
        elif height != self.row_length:
            raise FormatError(f"chunk height {height} differs from its row's {self.row_length}", offset)
        spec = chunk_spec(h, height, self.inner[self.position])
        if tuple(extent[1:]) != spec.shape[1 : h.chunk_rank]:
            raise FormatError(f"chunk extent {tuple(extent)} does not match the grid", offset)
        self.position += 1
        if self.position == len(self.inner):
            self.position = 0
            self.row_start += height
        return spec
