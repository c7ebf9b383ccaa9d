"""The public functions: numpy (or torch) arrays in, spike files or bytes out, and back."""

from __future__ import annotations

import os
from typing import Any, BinaryIO, Callable, Iterable, Sequence

import numpy as np
from numpy.typing import DTypeLike

from .codecs.registry import CodecLike, Pipeline
from .container.chunk_cache import DEFAULT_CACHE_BYTES
from .container.reader import SpikeReader, read_array
from .container.source import Openable, binary_file
from .container.writer import write_array
from .elements import ElementRangeError, as_elements, contiguous_uint8, to_numpy
from .limits import ReadLimits
from .output import output_file
from .prior import PriorLike

Priors = PriorLike | Iterable[PriorLike] | None


def encode(
    array: Any,
    *,
    codec: CodecLike | list[CodecLike] | None = None,
    axes: Sequence[str] | str | None = None,
    chunk: int | Sequence[int] | None = None,
    metadata: dict[str, Any] | None = None,
    bits: int | None = None,
    prior: PriorLike | None = None,
    embed_prior: bool = False,
    records: str = "classic",
    workers: int = 1,
) -> bytes:
    """Encode a spike array (numpy, torch or anything array-like) into the bytes of a spike file.

    ``codec``: an id (``"framemix"``, the default for spikes and counts, smallest; ``"chanmix"``
    (about 1.3x faster), ``"winmix"`` and ``"countmix"``, the defaults of 1.11, 1.5 and 1.10, for
    older readers; ``"mix"``, the 1.4 default, about 1.7x faster; ``"ctxfast"``, the fast mode,
    3-13x faster; ``"auto"``, about 7x faster;
    ``"context"``, ``"ctxlanes"``, ``"countctx"``, ``"ctxmix"``, ``"order0"``, ``"zstd"``,
    ``"raw"``), a config (``{"id": "zstd", "level": 19}``) or a pipeline list; None: the prior's
    codec when ``prior`` is given, else the default for the element type. ``axes``: names, default T,N,C,H,W.
    ``chunk``: chunk sizes along the leading axes, default all of axis 0 (so that the entropy
    coders see each neuron's whole history) by blocks of axis 1 of about the codec's
    ``chunk_elements`` (8M elements for ``framemix``, ``chanmix``, ``winmix``, ``countmix``, ``mix`` and ``ctxfast``, whose models learn across samples; 1M for the
    others), and for ``ctxfast`` at least 4 samples (one a lane) up to 16M elements. ``metadata``: a JSON object.
    ``bits``: element type 1/2/4/8, default the narrowest that holds the largest value.
    ``prior``: a trained prior (:func:`spikecodec.train_prior`, or a prior file's path) for a
    trainable codec (``ctxmix``, ``context``, ...) to start every chunk from; the file names it
    by digest and holds it too with ``embed_prior=True``. ``records="compact"``: chunk records
    of a few bytes' framing, for files of many small chunks (FORMAT.md 5.2).
    ``workers``: threads that encode chunks at once (the coders release the GIL; the bytes are
    the same as one thread's), at most one a chunk and one a usable CPU: only a file of several
    chunks gains (the default chunking makes one per 8M elements for the default codec).
    """
    parts = _Parts()
    _write(parts, array, restart=parts.clear, codec=codec, axes=axes, chunk=chunk, metadata=metadata, bits=bits,  # type: ignore[arg-type]
           prior=prior, embed_prior=embed_prior, records=records, workers=workers)
    return b"".join(parts)


def decode(data: bytes | bytearray | memoryview, *, max_bytes: int | None = None,
           priors: Priors = None, limits: ReadLimits | None = None, dtype: DTypeLike = np.uint8,
           workers: int = 1) -> np.ndarray:
    """Decode the bytes of a spike file (bytes, a bytearray, a memoryview or an mmap, read in
    place) to an array; options: see :func:`load` and :func:`open`. A str is taken as a path,
    as :func:`load` takes it (``"-"``: standard input)."""
    return read_array(data, max_bytes=max_bytes, priors=priors, limits=limits, dtype=dtype, workers=workers)


def save(
    file: str | os.PathLike | BinaryIO,
    array: Any,
    *,
    codec: CodecLike | list[CodecLike] | None = None,
    axes: Sequence[str] | str | None = None,
    chunk: int | Sequence[int] | None = None,
    metadata: dict[str, Any] | None = None,
    bits: int | None = None,
    prior: PriorLike | None = None,
    embed_prior: bool = False,
    records: str = "classic",
    workers: int = 1,
) -> None:
    """Write ``array`` as a spike file (options as :func:`encode`).

    A path is replaced atomically: the file is written beside it under a temporary name and
    renamed into place, so an existing file is never left half-written (it keeps its mode; a
    symbolic link's target is replaced; a device or FIFO is written through:
    :mod:`spikecodec.output`). A binary file object is written from its current position and
    left as long as it was, as ``numpy.save`` does (a spike file may sit inside a larger one):
    to replace a file through one, open it with ``"wb"``, not ``"r+b"``.
    """
    options = dict(codec=codec, axes=axes, chunk=chunk, metadata=metadata, bits=bits, prior=prior,
                   embed_prior=embed_prior, records=records, workers=workers)
    if not isinstance(file, (str, os.PathLike)):
        _write(binary_file(file, "wb"), array, **options)
        return
    with output_file(file) as f:
        if f.seekable():
            _write(f, array, restart=lambda: (f.seek(0), f.truncate()), **options)
        else:  # a device or FIFO: checked first, so that nothing needs taking back
            _write(f, array, **options)


def load(
    file: Openable, *, recover: bool = False, max_bytes: int | None = None, priors: Priors = None,
    limits: ReadLimits | None = None, dtype: DTypeLike = np.uint8, workers: int = 1,
) -> np.ndarray:
    """Read a whole spike file (a path, a binary file object or bytes) into an array.

    The path ``"-"`` is standard input (as ``save("-", a)`` writes standard output), read whole
    within ``max_bytes``, as a pipe is; it wins over a file named ``-``, which is read as ``"./-"``.

    ``dtype``: the result's element type (uint8 by default; ``bool`` for 1-bit spikes,
    ``float32`` to feed a network); the limits count the result's bytes in that type.
    ``workers``: threads that decode chunks at once (the coders release the GIL).
    Other options: see :func:`open`."""
    return read_array(file, recover=recover, max_bytes=max_bytes, priors=priors, limits=limits, dtype=dtype,
                      workers=workers)


def open(file: Openable, *, recover: bool = False, max_bytes: int | None = None,
         priors: Priors = None, limits: ReadLimits | None = None, cache_bytes: int = DEFAULT_CACHE_BYTES) -> SpikeReader:
    """Open a spike file for reading by slices: ``with spikecodec.open(p) as r: r[0:2]``.

    ``file``: a path, a binary file object, or bytes (or a buffer) read in place. The path
    ``"-"`` is standard input (as ``save("-", a)`` writes standard output), read whole within
    ``max_bytes`` as a pipe is (a reader needs the trailer); it wins over a file named ``-``,
    which is opened as ``"./-"``.

    ``priors``: the prior (object, path or bytes; or several) a file coded from a prior it does
    not embed names; shipped priors and those in $SPIKECODEC_PRIOR_PATH are found without it.
    ``limits``: what one read may cost (:class:`~spikecodec.limits.ReadLimits`: decoded bytes,
    and work per stored byte; default 1 GiB, and no work limit); ``max_bytes`` sets the first alone. A
    read over them raises :class:`~spikecodec.errors.LimitError` before allocating.
    ``cache_bytes``: decoded chunks kept for selections that take part of a chunk (default
    16 MiB; 0 keeps none). The reader pickles, and may be shared between threads."""
    return SpikeReader(file, recover=recover, max_bytes=max_bytes, priors=priors, limits=limits,
                       cache_bytes=cache_bytes)


class _Parts(list):
    """A write-only file that keeps what is written, uncopied, for one join at the end (a
    BytesIO would copy every part in, and again as it grows)."""

    def write(self, data: bytes | memoryview) -> int:
        self.append(data)
        return len(data)

    def flush(self) -> None:
        pass


def _write(
    file: BinaryIO, array: Any, *, bits: int | None, codec: Any, restart: Callable[[], object] | None = None, **options: Any
) -> None:
    """Write ``array`` whole. ``restart``, when given, takes back everything written so far: the
    caller publishes nothing unless the write completes (bytes returned, a file renamed)."""
    # None: the writer's default (the prior's codec, else the element type's), which no codec
    # that checks ranges as it packs is.
    pipeline = None if codec is None else Pipeline.from_user(codec)
    arr = to_numpy(array)
    if restart is not None and arr.dtype == np.uint8 and arr.ndim and pipeline is not None and pipeline.codecs[0].checks_range:
        # uint8 needs no conversion and the packing kernel checks each value as it packs it, so
        # the separate pass of as_elements over the whole array is skipped: try 1 bit (or the
        # bits asked for); a value that does not fit takes the write back and redoes it below,
        # where as_elements picks the element type or names the offending value.
        try:
            write_array(file, contiguous_uint8(arr), 1 if bits is None else bits, codec=pipeline, **options)
            return
        except ElementRangeError:
            restart()
    values, bits = as_elements(arr, bits)
    if values.ndim == 0:
        raise ValueError("a spike array needs at least one axis")
    write_array(file, values, bits, codec=pipeline, **options)
