"""Writing spike files, all at once or frame by frame to any binary stream (pipes included)."""

from __future__ import annotations

import contextlib
import math
import operator
import os
import stat
import threading
import weakref
from collections.abc import Mapping
from typing import Any, BinaryIO, Iterator, Sequence

import numpy as np

from ..codecs import ChunkSpec, Codec, Pipeline, default_codec
from ..codecs.registry import CodecLike
from ..elements import as_elements, element_bits
from ..errors import FormatError
from ..json_text import check_string_keys
from ..limits import MAX_CHUNK_ELEMENTS, MAX_EXTENT, MAX_RANK, count_option, flag_option, usable_cpus
from ..output import cannot_create, descriptor_output, lock_for_writing, named_write_error, refuse_folder_name
from ..prior import PriorLike, load_prior
from .grid import chunk_spec, inner_origins
from .header import COMPACT_EXTENSION, KEYED_EXTENSION, MESSAGE_ENDS_EXTENSION, PRIOR_EXTENSION, STREAM_ID_EXTENSION, STREAM_ID_SIZE, Extension, Header, json_bytes, axis_names, extensions_minor, header_bytes
from .source import binary_file, flush, write_all
from .records import (
    ClassicRecords,
    CompactRecords,
    IndexEntry,
    record_layout,
    encode_compact_index,
    encode_index,
    encode_trailer,
)
from .threads import in_order

COMPACT_RECORDS = ("compact", "compact-unkeyed")  # keyed checks (format 1.7), or those of 1.3 - 1.6
RECORDS = ("classic", *COMPACT_RECORDS)

DEFAULT_AXES = ("T", "N", "C", "H", "W")

TARGET_CHUNK_ELEMENTS = Codec.chunk_elements  # default chunks hold about this many elements (or the codec's) ...
MAX_DEFAULT_CHUNK_ELEMENTS = 1 << 24  # ... and never more than this, if it can be helped


def check_same_process(pid: int, what: str, advice: str) -> None:
    """Raise RuntimeError when used in a process other than ``pid``, the one that made ``what``
    (a fork's copy): two processes would write one stream."""
    if os.getpid() != pid:
        raise RuntimeError(f"this {what} was made in process {pid} and is used in {os.getpid()} (a fork): {advice}")


# A forked child holds a copy of each open writer's file object, buffered bytes included: the
# child's exit flushed them a second time into the parent's file (a child that only exited lost
# the parent's later frames to the recovery of a file with a record written twice). In the child,
# each path a writer owns now writes to /dev/null, and the child's copy refuses use.
_WRITERS: "weakref.WeakSet[SpikeWriter]" = weakref.WeakSet()


def _silence_writers_in_child() -> None:
    for writer in list(_WRITERS):
        file = getattr(writer, "_file", None)
        if not getattr(writer, "_owns", False) or file is None or file.closed:
            continue
        with contextlib.suppress(OSError, ValueError):
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, file.fileno())
            finally:
                os.close(null)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_silence_writers_in_child)


def default_axes(rank: int) -> tuple[str, ...]:
    """T, N, C, H, W for rank 5, their first ``rank`` for fewer axes, d0.. beyond."""
    return DEFAULT_AXES[:rank] if rank <= len(DEFAULT_AXES) else tuple(f"d{i}" for i in range(rank))


def default_chunk(shape: Sequence[int], target: int = TARGET_CHUNK_ELEMENTS, samples: int = 1) -> tuple[int, ...]:
    """All of axis 0 (every timestep: temporal context for the entropy coders) by blocks of
    axis 1 (samples) of about ``target`` elements (the codec's ``chunk_elements``), and of at
    least ``samples`` samples (its ``chunk_samples``) while that stays within
    MAX_DEFAULT_CHUNK_ELEMENTS; one index of axis 0 at a time only when a single sample across
    all timesteps is too large."""
    target = min(target, MAX_DEFAULT_CHUNK_ELEMENTS)
    rows = max(shape[0], 1)
    # The chunk's elements, not the array's: an empty array of shape (0, 2**40) made a chunk (1,)
    # of 2**40 elements, over the format's limit, and was refused.
    if len(shape) == 1 or rows * math.prod(shape[1:]) <= target:
        return (rows,)
    inner = math.prod(shape[2:])
    if rows * inner <= MAX_DEFAULT_CHUNK_ELEMENTS:
        per_sample = max(rows * inner, 1)
        fewest = min(samples, shape[1], MAX_DEFAULT_CHUNK_ELEMENTS // per_sample)
        return (rows, max(1, fewest, min(shape[1], target // per_sample)))
    return (1, max(1, min(shape[1], MAX_DEFAULT_CHUNK_ELEMENTS // max(inner, 1))))


def whole_numbers(values: Any, what: str) -> tuple[int, ...]:
    """``values`` (an int or a sequence of them: Python or numpy integers) as a tuple of ints.
    Anything else is a TypeError, never rounded or parsed: ``2.5`` is not 2, and the string
    ``"12"`` is not the sizes (1, 2)."""
    if isinstance(values, np.ndarray) and values.ndim == 0:  # np.array(2): one integer, not "iteration over a 0-d array"
        values = values[()]
    items = (values,) if isinstance(values, (int, np.integer)) else values
    if isinstance(items, (str, bytes)) or not isinstance(items, (Sequence, np.ndarray)):
        raise TypeError(f"{what} must be an integer or a sequence of integers, got {type(values).__name__} {values!r:.40}")
    out = []
    for v in items:
        if isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{what} must hold integers, got {v!r}")
        try:
            out.append(operator.index(v))
        except TypeError:
            raise TypeError(f"{what} must hold integers, got {type(v).__name__} {v!r:.40}") from None
    return tuple(out)


def user_axes(axes: Any) -> tuple[str, ...] | None:
    """Axis names as a user gives them (:func:`~.header.axis_names`: ``"TNCHW"``, ``"t,n,c,h,w"``
    or a sequence of strings), checked to be strings: bytes iterated to their byte values
    (``b"TNCHW"`` named the axes "84", "78", ...) and ints or None were made into names by str()."""
    if axes is None or isinstance(axes, str):
        return axis_names(axes)
    if isinstance(axes, (bytes, bytearray, memoryview, Mapping)) or not hasattr(axes, "__iter__"):
        raise TypeError(f"axes must be a string (\"TNCHW\") or a sequence of strings, got {type(axes).__name__} {axes!r:.40}")
    names = list(axes)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"axis names must be strings, got {type(name).__name__} {name!r:.40}")
    return axis_names(names)


def user_metadata(metadata: Any) -> dict[str, Any]:
    """``metadata`` checked as a header's JSON object before anything is written: a mapping
    with string keys (json would make ``{1: 2}`` into ``{"1": 2}``: read back, another key)
    whose values are JSON (no NaN, no lone surrogate, nothing nested too deeply or in a cycle)."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a dict (a JSON object), got {type(metadata).__name__} {metadata!r:.40}")
    metadata = dict(metadata)
    check_string_keys(metadata, "metadata")  # before the encoder, whose message for mixed keys says nothing
    try:
        json_bytes(metadata)  # the header's own encoder: what it refuses, it refuses here first
    except UnicodeError as exc:
        raise ValueError(f"metadata holds text that is not valid Unicode (a lone surrogate?): {exc.object[exc.start:exc.end]!r:.40}") from None
    except ValueError as exc:
        hint = " (NaN and infinities are not JSON)" if "float" in str(exc) else ""
        raise ValueError(f"metadata cannot be written as JSON: {exc}{hint}") from None
    except TypeError as exc:  # a value the encoder does not know
        raise TypeError(f"metadata cannot be written as JSON: {exc}") from None
    return metadata


def _failure(exc: BaseException) -> str:
    """An error as a writer that it stopped reports it: its type, and its message if any."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def normalize_chunk(chunk: int | Sequence[int] | None, shape: Sequence[int | None],
                    target: int = TARGET_CHUNK_ELEMENTS, samples: int = 1) -> tuple[int, ...]:
    known = [s if s is not None else 1 for s in shape]
    chunk = default_chunk(known, target, samples) if chunk is None else whole_numbers(chunk, "chunk")
    if not 1 <= len(chunk) <= len(shape):
        raise ValueError(f"chunk {chunk} must give sizes for 1..{len(shape)} leading axes")
    if any(c < 1 for c in chunk):
        raise ValueError(f"chunk sizes must be positive, got {chunk}")
    # A chunk never extends past its axis (FORMAT.md 4.1).
    chunk = tuple(min(c, max(s, 1)) if (i > 0 or shape[0] is not None) else c for i, (c, s) in enumerate(zip(chunk, known)))
    if math.prod(chunk) * math.prod(known[len(chunk) :]) > MAX_CHUNK_ELEMENTS:
        raise ValueError(f"chunk {chunk} of an array shaped {tuple(shape)} holds more than {MAX_CHUNK_ELEMENTS} elements")
    return chunk


class SpikeWriter:
    """Write a spike file frame by frame: ``append(frame)`` adds one slice along axis 0.

    Works on any writable binary file object, unseekable ones included (pipes, sockets), or on a
    path (a file there is replaced from the first frame on: a writer refused or closed before it
    leaves the file as it was; one that fails later leaves the unfinished new stream, not the old
    file - a stream is written in place so that readers can follow it and a killed writer's
    frames survive. To keep a file until its replacement is whole, write under another name and
    rename, or use :func:`spikecodec.save`). Its methods may be called from several threads: each frame goes
    in whole, in the order the calls take the writer's lock. A row of ``chunk[0]`` frames is
    encoded as soon as it is complete; ``flush()`` also writes a partial row and flushes the
    file, after which everything appended so far survives the writing process being killed
    (``spikecodec.open(path, recover=True)`` reads it).
    ``close()`` (or leaving the ``with`` block) writes the index and trailer; an exception that
    leaves the block (Ctrl-C too; not a generator's close or ``sys.exit(0)``, which finish it)
    flushes the frames appended, then abandons the stream (:meth:`abandon`): its readers see it
    unfinished, and ``recover=True`` reads every frame.

    ``chunk`` defaults to 1: each frame is a row of its own, sent as soon as it is appended.
    ``chunk=T`` (or ``(T, samples)``) waits for T frames, and lets the entropy coders use each
    neuron's history across them (about half the bytes on real spikes). ``bits`` is the element
    type: 1 for spikes (default), 2, 4 or 8 for spike counts. ``codec`` (as :func:`spikecodec.encode`
    takes it) defaults to the prior's codec when a prior is given, else ``framemix`` (spikes and
    counts). ``length``, when known in advance, is written into the header and
    checked at ``close()``. ``length=0`` with no frame appended writes an empty array: shaped
    ``(0,)``, or ``(0, 0, ...)`` with one axis per name in ``axes`` (the frames' shape is
    unknown); to keep a frame shape, ``write_frames(np.empty((0, *frame_shape)))``.

    ``prior`` (a :class:`~spikecodec.prior.Prior`, or a prior file's path or bytes) makes a
    trainable codec (``ctxmix``, ``context``, ...) start every chunk from that trained state; the
    file names it by digest, and holds its bytes too with ``embed_prior=True`` (else the reader
    must be given it). ``records="compact"`` writes compact chunk records (FORMAT.md 5.2): a few
    bytes of framing instead of tens, for streams of small chunks such as one image's spikes,
    each checked by a check keyed by its stream and place (format 1.7); ``"compact-unkeyed"``
    writes them as versions 1.3-1.6 do, for readers of those versions.
    ``stream_id`` (16 bytes, or True to draw them at random) makes this stream's header, and so
    the check of each compact record, its own: records of another stream whose options are the
    same fail their check instead of reading as this stream's (FORMAT.md 3.2, ``stream-id``).
    None or False: no id. ``message_ends=True`` (compact records; format 1.9) marks the last record
    of each flush as the end of a message, so that a receiver of the flushes as messages tells one
    cut short at a record boundary (:class:`~spikecodec.LinkEncoder` sets it); the last record
    written is then held back until the next record or flush says whether it ends one.
    ``workers`` > 1 encodes the chunks of each row on that many threads (at most one a usable
    CPU; the compiled coders release the GIL), the records still written in file order: the
    same bytes as one thread. Each thread keeps its own model tables (tens of MB for the
    mixing codecs).
    """

    def __init__(
        self,
        file: str | os.PathLike | BinaryIO,
        *,
        codec: CodecLike | list[CodecLike] | Pipeline | None = None,
        axes: Sequence[str] | str | None = None,
        chunk: int | Sequence[int] | None = 1,
        metadata: dict[str, Any] | None = None,
        bits: int = 1,
        length: int | None = None,
        prior: PriorLike | None = None,
        embed_prior: bool = False,
        records: str = "classic",
        stream_id: bytes | bool | None = None,
        message_ends: bool = False,
        workers: int = 1,
    ):
        loaded = load_prior(prior) if prior is not None else None
        if codec is None:  # the default: the prior's codec, else the element type's
            codec = loaded.codec if loaded is not None else default_codec(element_bits(bits))
        self._pipeline = Pipeline.from_user(codec)
        workers = count_option(workers, "workers", 1)
        if records not in RECORDS:
            raise ValueError(f"records must be one of {RECORDS}, got {records!r}")
        self._extensions: list[Extension] = []
        if embed_prior is None or (type(embed_prior) is int and embed_prior in (0, 1)):  # as before 1.7's check
            embed_prior = bool(embed_prior)
        embed_prior = flag_option(embed_prior, "embed_prior")  # "false" is a string, and true
        if loaded is not None:
            self._pipeline = self._pipeline.with_prior(loaded)
            if embed_prior:
                self._extensions.append(Extension(PRIOR_EXTENSION, loaded.data, required=True))
        elif embed_prior:
            raise ValueError("embed_prior=True needs a prior")
        if records != "classic":
            self._extensions.append(Extension(COMPACT_EXTENSION, b"", required=True))
        if records == "compact":
            self._extensions.append(Extension(KEYED_EXTENSION, b"", required=True))
        if flag_option(message_ends, "message_ends"):
            if records == "classic":
                raise ValueError("message_ends=True marks compact records: give records='compact'")
            self._extensions.append(Extension(MESSAGE_ENDS_EXTENSION, b"", required=True))
        stream_id = stream_id_bytes(stream_id)
        if stream_id is not None:
            self._extensions.append(Extension(STREAM_ID_EXTENSION, stream_id, required=False))
        self._records: ClassicRecords | CompactRecords | None = None
        self._threads = min(workers, usable_cpus())  # each keeps its own tables: no more than the CPUs
        self._axes = user_axes(axes)
        if chunk is not None:  # its type and signs now, not at the first frame (its length needs the frame's rank)
            chunk = whole_numbers(chunk, "chunk")
            if any(c < 1 for c in chunk):
                raise ValueError(f"chunk sizes must be positive, got {chunk}")
        self._chunk = chunk
        self._metadata = user_metadata(metadata)
        self._bits = element_bits(bits)
        self._length = None if length is None else count_option(length, "length")
        if self._length is not None and self._length > MAX_EXTENT:  # now, not at the first frame as "shape[0] ... outside"
            raise ValueError(f"length={self._length} is more frames than an axis may hold ({MAX_EXTENT}, FORMAT.md 3.2)")
        through = descriptor_output(file) if isinstance(file, (str, os.PathLike)) else None
        if through is not None:  # "-" or /dev/stdout: written through, as save() writes them
            file = through
        self._owns = isinstance(file, (str, os.PathLike))
        # A path is opened (and created) now but emptied only when the header is written: a
        # writer refused before its first frame (axes that do not fit it, a closed writer with
        # no frame) leaves a file that was there as it was, instead of empty.
        # One it creates and writes no header to (closed with no frame) is removed again.
        self._created: tuple[str, tuple[int, int]] | None = None
        if self._owns:
            self._path = file
            self._file, self._created = _open_output(file)  # type: ignore[arg-type]
        else:
            self._file = binary_file(file, "wb")  # type: ignore[arg-type]
        self._lock = threading.RLock()  # appends from several threads go in whole, one after another
        self._pid = os.getpid()
        _WRITERS.add(self)
        self._pos = 0
        self._header: Header | None = None
        self._pending: list[np.ndarray] = []  # blocks of frames (each with a leading axis) not yet in a row
        self._pending_rows = 0
        self._entries: list[IndexEntry] = []  # classic records: the index lists every one
        self._written = 0  # records written; compact records need only this count: a stream of days keeps no list
        self._rows = 0
        self._held: tuple | None = None  # with message_ends: the last record's build arguments, its end bit not yet known
        self._closed = False
        self._broken: str | None = None  # why a write failed part-way: the stream holds part of a record or row

    def __reduce__(self) -> Any:
        raise TypeError("a SpikeWriter writes an open file and does not pickle or copy")

    @property
    def records_written(self) -> int:
        """Chunk records written so far."""
        return self._written

    @property
    def frames_written(self) -> int:
        """Frames appended so far, buffered ones included."""
        return self._rows + self._pending_rows

    def append(self, frame: Any) -> None:
        """Add one frame: a slice along axis 0, shaped like every other frame."""
        self._check_open()
        values, _ = as_elements(frame, self._bits)
        with self._lock:
            self._check_open()
            self._check_room(1)
            if self._header is None:
                self._start(values.shape)
            elif values.shape != self._header.frame_shape:
                raise ValueError(f"frame shaped {values.shape}, expected {self._header.frame_shape}")
            self._buffer(values[None])

    def write_frames(self, frames: Any) -> None:
        """Append several frames at once (``frames[i]`` is one frame); faster than a loop of append.
        Not all or nothing: when a row fails to encode, the rows completed before it are in the
        stream already (they cannot be taken back from a file or pipe); :attr:`frames_written`
        says how many frames went in, so a caller that retries sends only the rest."""
        self._check_open()
        values, _ = as_elements(frames, self._bits)
        if values.ndim < 1:
            raise ValueError("frames need a leading axis")
        with self._lock:
            self._check_open()
            self._write_checked(values)

    def _check_room(self, frames: int) -> None:
        """Refuse ``frames`` more frames that would pass the declared length - before any is
        buffered (a frame kept pending made every later flush() and close() fail) and before the
        first starts the file (a path's old file was replaced by a header that nothing followed)."""
        if self._length is not None and self.frames_written + frames > self._length:
            raise ValueError(f"{frames} more frame{'s' if frames != 1 else ''} would pass the declared length={self._length} "
                             f"({self.frames_written} written)")

    def _write_checked(self, values: np.ndarray) -> None:
        self._check_room(len(values))
        if self._header is None:
            self._start(values.shape[1:], total=values.shape[0])
        elif values.shape[1:] != self._header.frame_shape:
            raise ValueError(f"frames shaped {values.shape[1:]}, expected {self._header.frame_shape}")
        step = self._header.chunk_shape[0]
        start = 0
        if self._pending_rows:  # complete a partial row first
            start = min(len(values), step - self._pending_rows)
            self._buffer(values[:start])
        full_end = start + (len(values) - start) // step * step
        for r in range(start, full_end, step):
            self._write_row(values[r : r + step])
        if full_end < len(values):
            self._buffer(values[full_end:])

    def _buffer(self, block: np.ndarray) -> None:
        """Keep frames for the row being filled; write the row once it is full."""
        if not len(block):
            return
        if self._pending_rows + len(block) < self._header.chunk_shape[0]:  # type: ignore[union-attr]
            # Kept past this call: a copy, not a view of the caller's array - a frame buffer the
            # caller fills again for the next frame made every frame of the row the last one.
            block = block.copy()
        self._pending.append(block)
        self._pending_rows += len(block)
        if self._pending_rows == self._header.chunk_shape[0]:  # type: ignore[union-attr]
            try:
                self._write_pending()
            except BaseException:
                if self._broken is None:
                    # Nothing of the row went out: the block that completed it was not taken (the
                    # caller got the error), only the frames of earlier calls stay pending. Kept, an
                    # append() tried again put the frame in twice, and every later row grew past
                    # chunk[0] frames: a record taller than its chunk, a file that no reader takes.
                    self._pending.pop()
                    self._pending_rows -= len(block)
                raise

    def _write_pending(self) -> None:
        if self._pending_rows:
            rows = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending)
            self._write_row(rows)  # the frames stay pending until their row is written
            self._pending.clear()
            self._pending_rows = 0

    def flush(self) -> None:
        """Write any partial row and flush the file: all appended frames now survive a crash."""
        with self._lock:
            self._check_open()
            self._write_pending()
            self._end_message()
            self._flush_file()

    def close(self) -> None:
        """Write the last row, the index and the trailer; close the file if this writer opened it."""
        with self._lock:
            self._check_process()
            self._close()

    def abandon(self) -> None:
        """Stop without the index and trailer: what was flushed stays, as a writer that crashed
        leaves it (``open(recover=True)`` and ``spikecodec recover`` read it), so that no reader
        takes a stream its source broke off for a finished one. Frames not yet flushed are dropped."""
        with self._lock:
            self._check_process()
            if self._closed:
                return
            if self._header is not None and self._broken is None:  # a broken one writes nothing more
                with contextlib.suppress(OSError, ValueError):
                    self._end_message()
                    flush(self._file)
            self._release(quiet=True)

    def _close(self) -> None:
        if self._closed:
            return
        failed = True
        try:
            self._check_whole()
            if self._header is None and self._length == 0:
                # Declared empty and no frame came to give the frames' shape: an empty array
                # (FORMAT.md 4.2: a file of no chunk), of one axis per name or chunk size given.
                rank = len(self._axes) if self._axes is not None else len(self._chunk) if self._chunk is not None else 1
                self._start((0,) * (rank - 1))
            if self._header is None:
                raise ValueError("no frame was appended: the frame shape is unknown, nothing to write")
            self._write_pending()
            self._end_message()
            if self._length is not None and self._rows != self._length:
                raise ValueError(f"{self._rows} frames written, but length={self._length} was declared")
            if self._records.compact:  # type: ignore[union-attr]
                # rows are what the records form (FORMAT.md 6.2): none without a record (G = 0)
                index = encode_compact_index(self._written, self._rows if self._written else 0)
            else:
                index = encode_index(self._entries)
            self._emit(index + encode_trailer(self._pos, len(index)))
            self._flush_file()
            failed = False
        finally:
            self._release(quiet=failed)

    def _release(self, quiet: bool = False) -> None:
        """Close the file if this writer opened it; remove it if the writer also created it and
        wrote nothing to it (no frame came: no header), rather than leave an empty file behind.
        ``quiet``: an error is on its way out already, and the close's own (writing out the
        buffer that failed it: a full disk) would only replace it."""
        self._closed = True
        if not self._owns or self._file.closed:
            return
        try:
            self._file.close()
        except OSError as exc:
            if not quiet:
                raise self._named(exc) from None
        if self._header is None and self._created is not None:
            path, identity = self._created
            with contextlib.suppress(OSError):
                st = os.stat(path)
                if (st.st_dev, st.st_ino) == identity:  # still the file it made, not one put there since
                    os.unlink(path)

    def __enter__(self) -> "SpikeWriter":
        return self

    def __del__(self) -> None:
        # Dropped before any frame, neither used nor closed: the empty file it created goes, as
        # close() would remove it. One with frames is left as it is, for recovery.
        if getattr(self, "_closed", True) or getattr(self, "_header", 1) is not None or not getattr(self, "_owns", False) \
                or getattr(self, "_pid", None) != os.getpid():  # a fork's copy: the parent's file, not to remove
            return
        with contextlib.suppress(Exception):
            self._release(quiet=True)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None or issubclass(exc_type, GeneratorExit) or (
                issubclass(exc_type, SystemExit) and exc.code in (None, 0)):  # a consumer closed, a clean exit: finished
            self.close()
            return
        # An error in the caller's block (Ctrl-C included) broke the stream off: every frame appended
        # is flushed, so that recovery reads it, but no index or trailer is written, so that no
        # reader - a socket's receiver above all - takes the stream for a finished one.
        if self._pid != os.getpid():  # a fork's copy writes nothing; the error on its way out says what went wrong
            return
        try:
            if self._header is not None and not self._closed:
                self.flush()
        except Exception:
            pass
        finally:
            self.abandon()

    # -- internals ----------------------------------------------------------------------------
    def _check_open(self) -> None:
        self._check_process()
        if self._closed:
            raise ValueError("the writer is closed")
        self._check_whole()

    def _check_process(self) -> None:
        check_same_process(self._pid, "SpikeWriter", "its file is the parent's; make a writer in each process, each "
                           "to a file of its own")

    def _check_whole(self) -> None:
        if self._broken is not None:
            raise ValueError(f"the writer stopped when a write failed ({self._broken}): the stream ends in part of "
                             f"a record, so nothing more is written to it; abandon() releases it (recover=True reads "
                             f"the rows before)")

    def _start(self, frame_shape: tuple[int, ...], total: int | None = None) -> None:
        rank = len(frame_shape) + 1
        if rank > MAX_RANK:
            raise ValueError(f"arrays of rank {rank} exceed the format's {MAX_RANK} axes")
        length = self._length
        shape = (length, *frame_shape)
        axes = self._axes if self._axes is not None else default_axes(rank)
        if len(axes) != rank:
            raise ValueError(f"{len(axes)} axis names {axes} for an array of rank {rank}")
        # The frames of a first write_frames() size a default chunk (write_array's whole array), but
        # never cut a chunk the caller gave: a stream of unknown length fed one frame at a time
        # by write_frames() had its chunk=4 made 1 by the first call's single frame.
        rows = length if length is not None or self._chunk is not None else total
        chunk = normalize_chunk(self._chunk, (rows, *frame_shape), self._pipeline.chunk_elements,
                                self._pipeline.chunk_samples)
        if length is None and 0 in frame_shape[: len(chunk) - 1]:
            # No chunk at all (G = 0, FORMAT.md 4.2): a stream of unknown length counts its frames
            # only in its records' rows, so it would read back with none.
            raise ValueError(f"frames {frame_shape} are empty along a chunked axis, so no chunk records them: "
                             f"give length= (the number of frames) or chunk only axis 0")
        header = Header(
            shape=shape,
            axes=tuple(axes),
            bits=self._bits,
            chunk_shape=chunk,
            codecs=tuple(self._pipeline.get_config()),
            metadata=self._metadata,
            extensions=tuple(self._extensions),
            minor=max(self._pipeline.format_minor, extensions_minor(self._extensions)),
        )
        try:  # the writer emits only what a reader accepts; check before writing a byte
            data = header_bytes(header)
        except FormatError as exc:
            raise ValueError(exc.message) from None
        first = self._pipeline.array_codec
        if first.trainable and first.prior is not None:  # a prior made for other chunks: refuse before writing
            try:
                first.check_prior_fits(chunk_spec(header, chunk[0], (0,) * (len(chunk) - 1)))  # type: ignore[attr-defined]
            except FormatError as exc:
                raise ValueError(exc.message) from None
        # Started only now that every check passed: a writer refused here is one that no frame
        # came to (close() says so and removes the file it created; it crashed on the half-set state).
        self._header = header
        self._records = record_layout(header, data[-4:])
        if self._owns and self._created is None and _regular(self._file):  # a file that was there: replaced now (see
            self._file = _replace_in_place(self._file, self._path)           # __init__); a device is written through
        self._emit(data)

    def _mark(self) -> tuple:
        """The writer's place (bytes and records written, frames pending, a held record), for
        :meth:`_rewind`: an owner of the sink that discards what a failed call wrote to it (a
        :class:`~.link.LinkEncoder`'s message) puts the writer back where it was."""
        return (self._pos, self._written, self._rows, self._held, list(self._pending), self._pending_rows, self._broken,
                len(self._entries))

    def _rewind(self, mark: tuple) -> None:
        """Back to ``mark`` (:meth:`_mark`); only for a sink whose bytes since then were discarded."""
        self._pos, self._written, self._rows, self._held, pending, self._pending_rows, self._broken, entries = mark
        self._pending[:] = pending
        del self._entries[entries:]

    def _write_row(self, rows: np.ndarray) -> None:
        """Encode and write one row of chunks, whole or not at all: a failure before its first
        byte leaves the writer as it was (the row may be written again); one after it, with part
        of the row in the stream, stops the writer (:meth:`_check_whole`)."""
        pos, written, entries, held = self._pos, self._written, len(self._entries), self._held
        try:
            self._write_row_records(rows)
        except BaseException as exc:
            if self._pos != pos:
                self._broken = _failure(exc)
            else:
                self._written, self._held = written, held
                del self._entries[entries:]
            raise

    def _write_row_records(self, rows: np.ndarray) -> None:
        h = self._header
        assert h is not None
        height = rows.shape[0]
        if self._length is not None and self._rows + height > self._length:
            raise ValueError(f"more than the declared length={self._length} frames")
        k = h.chunk_rank
        # Closed as the loop ends, even by an error of its own (a write that failed): no thread
        # goes on encoding the caller's frames after this call.
        with contextlib.closing(in_order(self._encoded, row_chunks(h, rows), self._threads)) as encoded:
            for inner, spec, payload, spikes in encoded:
                if len(payload) > spec.max_payload:
                    raise ValueError(f"codec produced {len(payload)} bytes for a chunk, over the cap {spec.max_payload}")
                built = (self._written, (self._rows, *inner), spec.shape[:k], spikes, payload)
                self._written += 1
                if self._records.message_ends:  # type: ignore[union-attr]
                    self._end_message(False)  # the record before this one ends no message
                    self._held = built
                    continue
                record = self._records.build(*built)  # type: ignore[union-attr]
                if not self._records.compact:  # type: ignore[union-attr]
                    self._entries.append(IndexEntry(self._pos, sum(map(len, record)), self._rows, height, spikes))
                for part in record:
                    self._emit(part)
        self._rows += height

    def _encoded(self, chunk: tuple[tuple[int, ...], ChunkSpec, np.ndarray]) -> tuple[tuple[int, ...], ChunkSpec, bytes | memoryview, int]:
        """A chunk of :func:`row_chunks` with its payload and spike count (on any thread)."""
        inner, spec, values = chunk
        return (inner, spec, *self._pipeline.encode(values, spec))

    def _end_message(self, ends: bool = True) -> None:
        """Write the record held back (``message_ends``), as the end of a message or not."""
        if self._held is not None:
            built, self._held = self._held, None
            for part in self._records.build(*built, ends_message=ends):  # type: ignore[union-attr]
                self._emit(part)

    def _emit(self, data: bytes) -> None:
        try:
            write_all(self._file, data)
        except OSError as exc:  # how much of data went out is unknown: the stream is broken off
            named = self._named(exc)
            self._broken = _failure(named)
            raise named from None
        self._pos += len(data)

    def _flush_file(self) -> None:
        try:
            flush(self._file)
        except OSError as exc:  # buffered bytes may be lost: as a failed write
            named = self._named(exc)
            self._broken = _failure(named)
            raise named from None

    def _named(self, exc: OSError) -> OSError:
        """A write error of a path this writer opened as OutputError naming it (a full disk);
        a file object's as it is (the caller knows what it is)."""
        return named_write_error(exc, os.fspath(self._path)) if self._owns else exc


def _open_output(path: str | os.PathLike) -> tuple[BinaryIO, tuple[str, tuple[int, int]] | None]:
    """A path a :class:`SpikeWriter` writes: opened for writing, created if new, not emptied; and,
    when this call created it, its name and (device, inode)."""
    # The names save() refuses, refused alike: "" and "file.spk/" were "No such file or
    # directory: ''" and "Is a directory: 'file.spk/'" (of a file).
    refuse_folder_name(path)
    flags = os.O_WRONLY | getattr(os, "O_BINARY", 0)
    created = None
    if os.path.islink(path) and not os.path.exists(path):  # a dangling link: its target is created, as open(path, "wb") does
        path = os.path.realpath(path)
    try:
        try:
            fd, new = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o666), True
        except FileExistsError:
            fd, new = os.open(path, flags), False
    except OSError as exc:  # a folder there, a missing folder: said as save says them, not a bare IsADirectoryError
        raise cannot_create(exc, path) from None
    try:
        if new:
            st = os.fstat(fd)
            created = (os.fspath(path), (st.st_dev, st.st_ino))
        lock_for_writing(fd, path)
        return os.fdopen(fd, "wb"), created
    except BaseException:
        os.close(fd)
        raise


def stream_id_bytes(stream_id: object) -> bytes | None:
    """The stream-id extension's data for a writer's ``stream_id=``: True (numpy's too) draws
    16 random bytes; None or False, none; else any buffer of exactly 16 bytes."""
    if isinstance(stream_id, (bool, np.bool_)) or stream_id is None:
        return os.urandom(STREAM_ID_SIZE) if stream_id else None
    try:
        data = bytes(memoryview(stream_id))  # bytes, bytearray, a memoryview or array of bytes
    except TypeError:
        raise TypeError(f"stream_id is {STREAM_ID_SIZE} bytes (os.urandom({STREAM_ID_SIZE})) or True, got "
                        f"{type(stream_id).__name__}") from None
    if len(data) != STREAM_ID_SIZE:
        raise ValueError(f"stream_id is {STREAM_ID_SIZE} bytes (os.urandom({STREAM_ID_SIZE})), got {len(data)}")
    return data


def _replace_in_place(file: BinaryIO, path: str | os.PathLike) -> BinaryIO:
    """A new file at ``path``, of ``file``'s mode, locked, in place of the existing ``file``
    (closed): a reader or a SpikeStream following the old file keeps it (and is told its writer
    did not finish), where one truncated and rewritten in place read the new session's frames
    after the old one's as one stream."""
    target = os.path.realpath(path)  # a symbolic link is kept, its target replaced
    mode = stat.S_IMODE(os.fstat(file.fileno()).st_mode)
    try:
        os.unlink(target)
    except PermissionError:  # a writable file in a folder that is not: emptied in place, as before
        file.truncate(0)
        return file
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    try:
        lock_for_writing(fd, path)
        new = os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise
    file.close()
    return new


def _regular(file: BinaryIO) -> bool:
    """Whether ``file`` is a regular file (not a device such as /dev/null, which says it is
    seekable but cannot be truncated)."""
    try:
        return stat.S_ISREG(os.fstat(file.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        return False


def row_chunks(h: Header, rows: np.ndarray) -> Iterator[tuple[tuple[int, ...], ChunkSpec, np.ndarray]]:
    """The chunks of one row of frames (FORMAT.md 4): (origin along axes 1.., spec, C-contiguous
    elements), in file order."""
    k = h.chunk_rank
    for inner in inner_origins(h):
        spec = chunk_spec(h, rows.shape[0], inner)
        sel = (slice(None),) + tuple(slice(o, o + n) for o, n in zip(inner, spec.shape[1:k]))
        yield inner, spec, np.ascontiguousarray(rows[sel])


def array_chunks(values: np.ndarray, bits: int, axes: Sequence[str] | str | None = None,
                 chunk: int | Sequence[int] | None = None) -> Iterator[tuple[np.ndarray, ChunkSpec]]:
    """The chunks :func:`write_array` would code ``values`` (checked elements) in, with their
    specs, in file order: what training a prior on an array sees."""
    rank = values.ndim
    names = user_axes(axes) or default_axes(rank)
    if len(names) != rank:
        raise ValueError(f"{len(names)} axis names {names} for an array of rank {rank}")
    shape = values.shape
    h = Header(shape=shape, axes=names, bits=bits, chunk_shape=normalize_chunk(chunk, shape), codecs=({"id": "raw"},))
    step = h.chunk_shape[0]
    for r in range(0, shape[0], step):
        for _, spec, part in row_chunks(h, values[r : r + step]):
            yield part, spec


def write_array(file: BinaryIO, values: np.ndarray, bits: int, **options: Any) -> None:
    """Write a whole, already checked array with its length in the header."""
    with SpikeWriter(file, bits=bits, length=values.shape[0], **options) as w:
        w._write_checked(values)
