"""Reading a spike file front to back while its writer may still be appending to it.

:class:`SpikeReader` needs the index at the end of a file; :class:`SpikeStream` needs only the
header, then yields each row of chunks as soon as it has arrived, from a pipe, a socket or a
file that a :class:`SpikeWriter` is still writing (and flushing) - so the receiving side can
start before the sending side ends.
"""

from __future__ import annotations

import io
import os
import time
from typing import Any, BinaryIO, Iterator

import numpy as np

from .. import layout
from ..errors import FormatError
from .grid import Tiling
from .header import Header
from .reader import read_header
from .records import check_chunk_crc, index_size, parse_chunk_head, parse_index, parse_index_head, parse_trailer

POLL_SECONDS = 0.02  # how often a growing file is looked at again while waiting for bytes


class _Sequential:
    """The ``read_at`` of :class:`~spikecodec.container.source.Source`, for forward reads only.

    A pipe or socket blocks in ``read`` until bytes come; a regular file that is at its end is
    polled for up to ``wait`` seconds without growth before the stream counts as ended.
    """

    def __init__(self, file: BinaryIO, wait: float):
        self.file = file
        self.name = str(getattr(file, "name", "<stream>"))
        self.pos = 0
        self.wait = wait

    def read_at(self, offset: int, n: int) -> bytes:
        if offset != self.pos:
            raise ValueError(f"a stream is read forward only (at {self.pos}, asked for {offset})")
        parts: list[bytes] = []
        waited_since: float | None = None
        while n:
            part = self.file.read(n)
            if part:
                parts.append(part)
                n -= len(part)
                waited_since = None
                continue
            now = time.monotonic()
            waited_since = now if waited_since is None else waited_since
            if now - waited_since >= self.wait:
                break  # the end: the caller reports what is missing
            time.sleep(POLL_SECONDS)
        data = b"".join(parts)
        self.pos += len(data)
        return data


class SpikeStream:
    """Rows of a spike file as they arrive: ``for block in SpikeStream(f): ...``.

    ``file``: a path, bytes or a binary file object read from its current position. Each item is
    one row of chunks, a uint8 array of ``(rows, *frame_shape)`` (a writer's ``chunk[0]`` frames,
    or fewer where it flushed early). Every chunk's CRC, position and spike count is checked as it
    is read; the index and trailer are checked at the end. ``wait``: seconds to wait for a growing
    regular file to grow before its end counts as truncation (pipes and sockets block anyway).
    Header fields are available before the first row: ``axes``, ``frame_shape``, ``metadata``...
    """

    def __init__(self, file: str | os.PathLike | bytes | BinaryIO, *, wait: float = 0.0):
        if isinstance(file, (bytes, bytearray, memoryview)):
            file = io.BytesIO(bytes(file))
        self._owned = isinstance(file, (str, os.PathLike))
        f: BinaryIO = open(file, "rb") if self._owned else file  # type: ignore[assignment]
        self._src = _Sequential(f, wait)
        try:
            self.header, self._pos = read_header(self._src)  # type: ignore[arg-type]
            self._pipeline = self.header.pipeline()
        except FormatError as exc:
            self.close()
            raise exc.located(self.name) if exc.where is None else exc
        except BaseException:
            self.close()
            raise
        self.rows_read = 0

    @property
    def name(self) -> str:
        return self._src.name

    @property
    def axes(self) -> tuple[str, ...]:
        return self.header.axes

    @property
    def frame_shape(self) -> tuple[int, ...]:
        return self.header.frame_shape

    @property
    def length(self) -> int | None:
        """Rows declared in the header (None when the writer did not know them in advance)."""
        return self.header.shape[0]

    @property
    def bytes_read(self) -> int:
        """Bytes consumed so far (the whole stream's size once iteration has ended)."""
        return self._src.pos

    @property
    def bits(self) -> int:
        return self.header.bits

    @property
    def metadata(self) -> dict[str, Any]:
        return self.header.metadata

    def __iter__(self) -> Iterator[np.ndarray]:
        try:
            yield from self._rows()
        except FormatError as exc:
            raise exc.located(self.name) if exc.where is None else exc

    def _rows(self) -> Iterator[np.ndarray]:
        h: Header = self.header
        tiling = Tiling(h)
        head_size = layout.chunk_header_size(h.chunk_rank)
        row: np.ndarray | None = None
        while tiling.inner:
            magic = self._read(len(layout.INDEX_MAGIC), "a chunk header")
            if magic == layout.INDEX_MAGIC and tiling.at_row_boundary:
                self._finish(magic)
                return
            head = magic + self._read(head_size - len(magic), "a chunk header")
            payload_size, spikes, origin, extent = parse_chunk_head(head, h.chunk_rank, self._pos)
            spec = tiling.advance(origin, extent, self._pos)
            if payload_size > spec.max_payload:
                raise FormatError(f"chunk payload size {payload_size} exceeds the cap {spec.max_payload}", self._pos)
            rest = self._read(payload_size + layout.CRC_SIZE, "a chunk")
            check_chunk_crc(head, rest[:payload_size], rest[payload_size:], self._pos)
            try:
                values, count = self._pipeline.decode(rest[:payload_size], spec)
            except FormatError as exc:
                raise FormatError(f"chunk at row {origin[0]}: {exc.message}", self._pos) from None
            except (ValueError, MemoryError, OverflowError) as exc:
                raise FormatError(f"chunk at row {origin[0]}: payload does not decode ({exc})", self._pos) from None
            if count != spikes:
                raise FormatError(f"chunk holds {count} spikes, its header says {spikes}", self._pos)
            self._pos += head_size + payload_size + layout.CRC_SIZE
            if row is None:
                row = np.empty((extent[0], *h.frame_shape), np.uint8)
            row[(slice(None), *(slice(o, o + n) for o, n in zip(origin[1:], spec.shape[1 : h.chunk_rank])))] = values
            if tiling.at_row_boundary:
                self.rows_read += row.shape[0]
                yield row
                row = None
        # An array with an empty axis holds no chunks: only the index and trailer follow.
        self._finish(b"")

    def _read(self, n: int, what: str) -> bytes:
        data = self._src.read_at(self._src.pos, n)
        if len(data) != n:
            if not data and what == "a chunk header":
                raise FormatError(f"stream ends after {self.rows_read} rows, with no index (the writer did not finish)", self._src.pos)
            raise FormatError(f"stream ends inside {what} (the writer did not finish)", self._pos + len(data))
        return data

    def _finish(self, got: bytes) -> None:
        """Check the index and trailer after the last chunk: the writer finished cleanly."""
        got += self._read(max(0, layout.INDEX_HEAD_SIZE - len(got)), "the index")
        count = parse_index_head(got[: layout.INDEX_HEAD_SIZE], self._pos)
        need = index_size(count) + layout.TRAILER_SIZE
        if len(got) > need:
            raise FormatError("bytes after the trailer", self._pos + need)
        tail = got + self._read(need - len(got), "the index")
        end = self._pos + index_size(count)
        parse_index(tail[: index_size(count)], self._pos)
        index_at, index_nbytes = parse_trailer(tail[index_size(count) :], end)
        if (index_at, index_nbytes) != (self._pos, index_size(count)):
            raise FormatError(f"trailer points to an index at {index_at}, not {self._pos}", end)
        if self.length is not None and self.rows_read != self.length:
            raise FormatError(f"chunks cover {self.rows_read} of the {self.length} rows the header declares", self._pos)

    def close(self) -> None:
        if self._owned:
            self._src.file.close()

    def __enter__(self) -> "SpikeStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
