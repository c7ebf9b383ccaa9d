"""Reading a spike file front to back while its writer may still be appending to it.

:class:`SpikeReader` needs the index at the end of a file; :class:`SpikeStream` needs only the
header, then yields each row of chunks as soon as it has arrived, from a pipe, a socket or a
file that a :class:`SpikeWriter` is still writing (and flushing) - so the receiving side can
start before the sending side ends.
"""

from __future__ import annotations

import io
import math
import os
import select
import time
from typing import Any, BinaryIO, Iterable, Iterator

import numpy as np

from .. import layout
from ..errors import FormatError
from ..limits import ReadLimits, as_limits
from ..prior import PriorLike, as_priors
from .grid import RowAssembler, Tiling
from .header import Header, bind_prior, parse_header
from .reader import BytesCursor, _header_bytes, decode_record
from .source import binary_file, buffer_bytes, read_checked
from .records import MAX_VARINT, index_size, parse_index, parse_index_head, parse_trailer, read_compact_index, read_record, record_layout

POLL_SECONDS = 0.02  # how often a growing file is looked at again while waiting for bytes


def wait_seconds(wait: object) -> float:
    """``wait`` checked: a number of seconds, at least 0 (``inf``: as long as it takes), never NaN."""
    if isinstance(wait, (bool, np.bool_)) or not isinstance(wait, (int, float, np.integer, np.floating)) or not wait >= 0:
        raise ValueError(f"wait must be a number of seconds of at least 0, got {wait!r:.40}")  # NaN fails >= too
    try:
        return float(wait)
    except OverflowError:  # an int past a double's range (10**400): as long as it takes
        return math.inf


class _Sequential:
    """The ``read_at`` of :class:`~spikecodec.container.source.Source`, for forward reads only.

    A pipe or socket blocks in ``read`` until bytes come; a regular file that is at its end is
    polled for up to ``wait`` seconds without growth before the stream counts as ended. A pipe
    or socket is read through its raw file with a buffer of our own, so that :meth:`ready` can
    tell whether more bytes are there without blocking.
    """

    RAW_READ = 1 << 16

    def __init__(self, file: BinaryIO, wait: float):
        self.file = file
        self.name = str(getattr(file, "name", "<stream>"))
        self.pos = 0
        self.wait = wait_seconds(wait)
        self._buf = bytearray()
        self._ended = False  # a pipe or socket seen at its end (its writer closed)
        self._raw = None
        if not _seekable(file) and hasattr(file, "fileno"):
            raw = getattr(file, "raw", None)
            if raw is not None and hasattr(file, "peek"):
                self._buf += file.read(len(file.peek(1)))  # what the buffered file holds already
                self._raw = raw
            elif raw is None:
                self._raw = file  # already unbuffered (a FileIO, a socket file with buffering=0)

    def read_at(self, offset: int, n: int) -> bytes:
        if offset != self.pos:
            raise ValueError(f"a stream is read forward only (at {self.pos}, asked for {offset})")
        return self.read(n)

    def read(self, n: int, wait: float | None = None) -> bytes:
        """``n`` bytes (fewer only where the stream ends); a regular file at its end is waited on
        for ``wait`` seconds (default: the stream's) to grow."""
        wait = self.wait if wait is None else wait
        if self._raw is not None:
            while len(self._buf) < n:
                part = read_checked(self._raw, max(n - len(self._buf), self.RAW_READ), self.name)
                if not part:
                    break
                self._buf += part
            data = bytes(self._buf[:n])
            del self._buf[:n]
            self.pos += len(data)
            return data
        parts: list[bytes] = []
        waited_since: float | None = None
        while n > 0:
            part = read_checked(self.file, n, self.name)
            if part:
                parts.append(part)
                n -= len(part)
                waited_since = None
                continue
            now = time.monotonic()
            waited_since = now if waited_since is None else waited_since
            if now - waited_since >= wait:
                break  # the end: the caller reports what is missing
            time.sleep(POLL_SECONDS)
        data = b"".join(parts)
        self.pos += len(data)
        return data

    def _fill(self, n: int) -> None:
        """Take a pipe's waiting bytes into the buffer until it holds ``n`` (or none are waiting)."""
        while len(self._buf) < n and select.select([self._raw.fileno()], [], [], 0)[0]:  # type: ignore[union-attr]
            part = read_checked(self._raw, max(n - len(self._buf), self.RAW_READ), self.name)
            if not part:  # the end: what is buffered is all
                self._ended = True
                break
            self._buf += part

    def peek(self, offset: int, n: int) -> bytes | None:
        """Up to ``n`` bytes from ``offset`` past the read position that are there now (a pipe's
        waiting bytes are taken into the buffer, a file's read without moving), not consumed;
        None when the stream cannot say (bytes in memory, a file object of another kind: reads
        never wait on them)."""
        try:
            if self._raw is not None:
                self._fill(offset + n)
                return bytes(self._buf[offset : offset + n])  # only these bytes: a row of many records is walked in linear time
            if self.wait == 0:  # a read does not wait for the file to grow: it ends where the file ends
                return None
            return os.pread(self.file.fileno(), n, self.file.tell() + offset)
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return None

    def ends_after(self, n: int) -> bool:
        """Whether ``n`` bytes are there and, for a pipe or socket, its writer closed after them
        (or more bytes came): reading ``n`` bytes and then looking for more would not wait."""
        try:
            if self._raw is not None:
                self._fill(n + 1)
                return len(self._buf) > n or (len(self._buf) == n and self._ended)
        except (OSError, ValueError):
            return True
        return self.holds(n)

    def holds(self, n: int) -> bool:
        """Whether ``n`` bytes from the read position are there now (or the stream cannot say)."""
        try:
            if self._raw is not None:
                self._fill(n)
                return len(self._buf) >= n
            return self.wait == 0 or os.fstat(self.file.fileno()).st_size - self.file.tell() >= n
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return True


def _seekable(f) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        return False


class SpikeStream:
    """Rows of a spike file as they arrive: ``for block in SpikeStream(f): ...``.

    ``file``: a path, bytes or a binary file object read from its current position. Each item is
    one row of chunks, a uint8 array of ``(rows, *frame_shape)`` (a writer's ``chunk[0]`` frames,
    or fewer where it flushed early). Every chunk's CRC, position and spike count is checked as it
    is read; the index and trailer are checked at the end. ``wait``: seconds to wait for a growing
    regular file to grow before its end counts as truncation (pipes and sockets block anyway).
    Header fields are available before the first row: ``axes``, ``frame_shape``, ``metadata``...
    """

    def __init__(self, file: str | os.PathLike | bytes | BinaryIO, *, wait: float = 0.0,
                 priors: Iterable[PriorLike] | PriorLike | None = None, max_bytes: int | None = None,
                 limits: ReadLimits | None = None):
        wait = wait_seconds(wait)  # before a file is opened that a bad option would leave open
        self.limits = as_limits(max_bytes, limits)
        if isinstance(file, (bytes, bytearray, memoryview)):  # checked as every reader of bytes checks them
            view = buffer_bytes(file)
            file = io.BytesIO(file if isinstance(file, bytes) else view)  # bytes are shared, not copied; a buffer copied (its owner may change it)
        self._owned = isinstance(file, (str, os.PathLike))
        f: BinaryIO = open(file, "rb") if self._owned else binary_file(file, "rb")  # type: ignore[arg-type]
        self._src = _Sequential(f, wait)
        try:
            pre, body, crc = _header_bytes(self._src)  # type: ignore[arg-type]
            self.header = parse_header(pre, body, crc)
            self._pos = self._src.pos
            self._pipeline = bind_prior(self.header, self.header.pipeline(), as_priors(priors, self.limits.max_bytes),
                                        layout.PREAMBLE_SIZE, self.limits.max_bytes)
            self._records = record_layout(self.header, crc)
        except FormatError as exc:
            self.close()
            raise exc.located(self.name) if exc.where is None else exc
        except BaseException:
            self.close()
            raise
        self.rows_read = 0
        self.records_read = 0
        self._rows_iter: Iterator[np.ndarray] | None = None
        self._tiling: Tiling | None = None  # the rows' tiling, once reading started (ready() reads its place)
        self._records_head_bytes = getattr(self._records, "head_size", 2 * MAX_VARINT)  # a head's bytes at most (compact: 2 varints)
        self._closed = False

    @property
    def name(self) -> str:
        """The path (or a description) of what is being read."""
        return self._src.name

    @property
    def axes(self) -> tuple[str, ...]:
        """Axis names, as the header gives them."""
        return self.header.axes

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """The shape of one frame: the array shape after its first axis."""
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
        """Bits per element: 1, 2, 4 or 8."""
        return self.header.bits

    @property
    def metadata(self) -> dict[str, Any]:
        """The header's JSON metadata."""
        return self.header.metadata

    def ready(self) -> bool:
        """Whether the next row has wholly arrived: whether the next step of the loop would give
        it without waiting for a writer (bytes in memory: always; a file a writer is still
        appending to, a pipe or a socket: when every record of the row is there). A consumer that
        batches rows runs what it has when this is False; a row that is partly there counts as
        not arrived (its images would wait on the rest), and so does the stream's end until its
        index and trailer are there and, on a pipe or socket, the writer closed (nothing may
        follow the trailer, so reading the end waits for that)."""
        tiling = self._tiling or Tiling(self.header)
        pos = 0
        for _ in range(max(1, tiling.inner.count - tiling.position)):
            head = self._src.peek(pos, self._records_head_bytes)
            if head is None:
                return True
            cursor = BytesCursor(head, pos)
            at_index, first = self._records.at_end(cursor)
            if at_index or not tiling.inner:
                return self._end_arrived(pos)
            try:
                record = self._records.read_head(cursor, pos, first)
            except FormatError as exc:  # cut short: not there yet; anything else is refused on reading
                return exc.code not in ("record-truncated", "varint-truncated")
            pos += record.size
            if not self._src.holds(pos):
                return False
        return True

    def _end_arrived(self, pos: int) -> bool:
        """Whether the index starting ``pos`` bytes on, its trailer and the stream's end are there."""
        if self._records.compact:
            head = self._src.peek(pos, 1 + 2 * MAX_VARINT + layout.CRC_SIZE)
            try:
                _, _, size = read_compact_index(BytesCursor(head or b"", pos), pos)
            except FormatError as exc:
                return exc.code not in ("index-truncated", "varint-truncated")  # cut short: not there yet
        else:
            head = self._src.peek(pos, layout.INDEX_HEAD_SIZE) or b""
            if len(head) < layout.INDEX_HEAD_SIZE:
                return False
            try:
                size = index_size(parse_index_head(head, pos))
            except FormatError:
                return True  # refused on reading, at once
        return self._src.ends_after(pos + size + layout.TRAILER_SIZE)

    def __iter__(self) -> Iterator[np.ndarray]:
        """The rows, read once: a second loop over the stream (after a ``break``) goes on where
        the first stopped, as a file's lines do, instead of starting the tiling again at row 0 in
        the middle of the bytes (a FormatError blaming the file)."""
        if self._closed:
            raise ValueError(f"{self.name}: the stream is closed")
        if self._rows_iter is None:
            self._rows_iter = self._located_rows()
        return self._rows_iter

    def _located_rows(self) -> Iterator[np.ndarray]:
        try:
            yield from self._rows()
        except FormatError as exc:
            raise exc.located(self.name) if exc.where is None else exc

    def _rows(self) -> Iterator[np.ndarray]:
        h: Header = self.header
        tiling = self._tiling = Tiling(h)
        rows = RowAssembler(tiling, self.limits)
        cursor = self._src
        while tiling.inner:
            at = cursor.pos
            at_index, first = self._records.at_end(cursor)
            if not first:
                raise FormatError(f"stream ends after {self.rows_read} rows, with no index (the writer did not finish)", at, code="stream-unfinished")
            if at_index and tiling.at_row_boundary:
                self._finish(first, at, tiling)
                return
            try:
                record = read_record(self._records, cursor, self.records_read, tiling.place, first)
            except FormatError as exc:
                if "file ends" in exc.message:
                    raise FormatError("stream ends inside a chunk record (the writer did not finish)", at, code="record-truncated") from None
                raise
            spec = tiling.last_spec
            values = decode_record(self._pipeline, record, spec, self.records_read, self.limits)
            self.records_read += 1
            self._pos = cursor.pos
            row = rows.add(values, spec, at)
            if row is not None:
                self.rows_read += row.shape[0]
                yield row
        # An array with an empty axis holds no chunks: only the index and trailer follow.
        at = cursor.pos
        at_index, first = self._records.at_end(cursor)
        self._finish(first, at, tiling)

    def _read(self, n: int, what: str) -> bytes:
        data = self._src.read(n)
        if len(data) != n:
            raise FormatError(f"stream ends inside {what} (the writer did not finish)", self._src.pos, code="stream-unfinished")
        return data

    def _finish(self, first: bytes, at: int, tiling: Tiling) -> None:
        """Check the index and trailer after the last chunk: the writer finished cleanly."""
        if self._records.compact:
            count, rows, size = read_compact_index(self._src, at, first)
            if (count, rows) != (self.records_read, self.rows_read):
                raise FormatError(f"the index counts {count} records in {rows} rows, the stream held "
                                  f"{self.records_read} in {self.rows_read}", at, code="index-count")
        else:
            got = first + self._read(max(0, layout.INDEX_HEAD_SIZE - len(first)), "the index")
            count = parse_index_head(got[: layout.INDEX_HEAD_SIZE], at)
            if count != self.records_read:
                raise FormatError(f"the index lists {count} chunks, the stream held {self.records_read}", at, code="index-count")
            size = index_size(count)
            parse_index(got + self._read(size - len(got), "the index"), at)
        tail = self._read(layout.TRAILER_SIZE, "the trailer")
        index_at, index_nbytes = parse_trailer(tail, at + size)
        if (index_at, index_nbytes) != (at, size):
            raise FormatError(f"trailer points to an index at {index_at}, not {at}", at + size, code="trailer-index")
        if self._src.read(1, wait=0):  # a writer that wrote its trailer is done: nothing to wait for
            raise FormatError("bytes after the trailer", at + size + layout.TRAILER_SIZE, code="bytes-after-trailer")
        if self.length is not None and self.rows_read != self.length:
            raise FormatError(f"chunks cover {self.rows_read} of the {self.length} rows the header declares", at, code="rows-total")
        self._pos = self._src.pos

    def close(self) -> None:
        """Close the file if the stream opened it (a file object handed in stays open)."""
        self._closed = True
        if self._owned:
            self._src.file.close()

    def __enter__(self) -> "SpikeStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
