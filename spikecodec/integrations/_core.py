"""What the numcodecs and zarr codecs share: their parameters, checked once, and one chunk's
encoding and decoding in either framing: a self-describing spike file (compact records), or a
chunk message against a header message kept once (:class:`MessageFraming`).

Nothing here imports numcodecs, zarr or torch.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import threading
from collections import OrderedDict
from typing import Any, Iterator, Mapping

import numpy as np

from .. import layout
from ..api import encode as _encode
from ..codecs.registry import Pipeline, registered_codecs
from ..container.link import LinkDecoder, LinkEncoder, parse_header_message
from ..container.reader import SpikeReader
from ..container.writer import default_axes
from ..elements import ELEMENT_BITS, ElementRangeError, clean_bools
from ..errors import FormatError, LimitError
from ..limits import MAX_AXIS_NAME, MAX_RANK
from ..prior import Prior, find_prior, is_digest, load_prior

_AXIS_NAME = re.compile(r"[A-Za-z0-9_]{1,%d}\Z" % MAX_AXIS_NAME)

#: The chunk dtypes the codecs take; a spike file's metadata says which one a chunk was
#: (absent: uint8), so that a bool chunk decodes to bool.
DTYPES = {"bool": np.dtype(bool), "uint8": np.dtype(np.uint8)}
DTYPE_KEY = "dtype"
SHAPE_KEY = "shape"  # only for a 0-d chunk, coded as one element
ORDER_KEY = "order"  # "F" for a chunk given in Fortran order, decoded in that memory order again

#: How a chunk is stored: ``"file"``, a complete spike file (its own header, index and CRCs:
#: about 160 bytes, 240 with a prior); ``"message"``, one chunk message (FORMAT.md 5.2: the
#: payload and 3 to 5 bytes) against a header message the codec keeps once. A configuration
#: without ``framing`` means ``"file"``: what every chunk was before the codecs took it.
FRAMINGS = ("file", "message")


def chunk_dtype_name(dtype: Any, who: str, given: str | None = None) -> str:
    """``"bool"`` or ``"uint8"``; any other dtype raises ValueError saying what is taken (and
    ``given``, the caller's own type where numpy's stands for it: a bfloat16 tensor's float32)."""
    dt = np.dtype(dtype)
    for name, want in DTYPES.items():
        if dt == want:
            return name
    raise ValueError(f"{who}: chunks must be bool (spikes) or uint8 (spike counts), got dtype {given or dt}; "
                     "convert them first (a count must fit the element type: 1, 2, 4 or 8 bits)")


class SpikeParams:
    """The codecs' parameters, checked: ``codec`` (a spikecodec codec id), ``axes`` (axis names:
    a string of one-letter names such as ``"TNCHW"`` or a list of names; None for spikecodec's
    default for the chunk's rank), ``bits`` (1, 2, 4, 8 or None: the narrowest that holds the
    chunk), ``prior`` (a prior file's path), ``prior_digest`` (its SHA-256, kept so that a
    decoder without the path finds it on spikecodec's search path; computed from ``prior`` when
    not given) and ``framing`` (one of :data:`FRAMINGS`)."""

    def __init__(self, who: str, codec: str = "auto", axes: str | list[str] | tuple[str, ...] | None = None,
                 bits: int | None = None, prior: str | os.PathLike | None = None, prior_digest: str | None = None,
                 framing: str = "file"):
        self.who = who
        if framing not in FRAMINGS:
            raise ValueError(f"{who}: framing must be 'file' (a spike file a chunk) or 'message' (a chunk message "
                             f"against a header kept once), got {framing!r}")
        self.framing = framing
        if not isinstance(codec, str):
            raise ValueError(f"{who}: codec must be a spikecodec codec id (a string such as 'ctxmix'), got {codec!r}")
        try:
            pipeline = Pipeline.from_user(codec)
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{who}: unknown spikecodec codec {codec!r} ({exc})") from None
        if axes is not None:
            if isinstance(axes, str):
                names = tuple(axes)
            elif isinstance(axes, (list, tuple)) and all(isinstance(a, str) for a in axes):
                names, axes = tuple(axes), list(axes)
            else:
                raise ValueError(f"{who}: axes must be a string such as 'TNCHW' or a list of axis names, got {axes!r}")
            if not names or len(set(names)) != len(names):
                raise ValueError(f"{who}: axes {axes!r} must name each axis once")
            # As a spike file's header takes them (FORMAT.md), checked here: else the codec was
            # made (and a zarr array with it) and every chunk written failed.
            bad = next((n for n in names if not _AXIS_NAME.match(n)), None)
            if bad is not None:
                raise ValueError(f"{who}: axis name {bad!r} is not 1-{MAX_AXIS_NAME} characters of [A-Za-z0-9_]")
            if len(names) > MAX_RANK:
                raise ValueError(f"{who}: axes {axes!r} name {len(names)} axes; a spike file holds at most {MAX_RANK}")
        if isinstance(bits, np.integer) and not isinstance(bits, np.bool_):
            bits = int(bits)  # e.g. from a numpy computation: kept as a JSON number
        if bits is not None and (type(bits) is not int or bits not in ELEMENT_BITS):
            raise ValueError(f"{who}: bits must be one of {ELEMENT_BITS} or None, got {bits!r}")
        if prior is not None and not isinstance(prior, (str, os.PathLike)):
            raise ValueError(f"{who}: prior must be the path of a prior file, got {type(prior).__name__}")
        prior = os.fspath(prior) if prior is not None else None
        if prior is not None and prior_digest is None:  # a codec made now (a stored one has its digest): kept
            prior = os.path.abspath(prior)  # absolute, so that a store written here reads from any folder
        if prior_digest is not None and not is_digest(prior_digest):
            raise ValueError(f"{who}: prior_digest must be 64 lowercase hex digits, got {prior_digest!r}")
        if (prior is not None or prior_digest is not None) and not getattr(pipeline.array_codec, "trainable", False):
            trainable = ", ".join(sorted(k for k, c in registered_codecs().items() if getattr(c, "trainable", False)))
            raise ValueError(f"{who}: codec {codec!r} takes no prior (trainable ones: {trainable})")
        self.codec, self.axes, self.bits, self.prior = codec, axes, bits, prior
        if prior is not None and prior_digest is None:
            prior_digest = _load_prior_file(prior, None, who).digest  # the encoder's side: the file must be there
        self.prior_digest = prior_digest

    def config(self) -> dict[str, Any]:
        """The parameters as JSON values. ``framing`` only when it is ``"message"``: a configuration
        without it means ``"file"``, and so stays readable by versions that predate it."""
        config = {"codec": self.codec, "axes": self.axes, "bits": self.bits, "prior": self.prior,
                  "prior_digest": self.prior_digest}
        if self.framing != "file":
            config["framing"] = self.framing
        return config

    def key(self) -> tuple:
        """The parameters as a hashable value (for caches)."""
        return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in self.config().items())

    def __repr__(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config().items() if v is not None)

    # -- the prior ---------------------------------------------------------------------------
    def resolve_prior(self, required: bool) -> Prior | None:
        """The prior: the file at ``prior`` if its digest is ``prior_digest``, else the prior of
        that digest on spikecodec's search path (shipped priors, $SPIKECODEC_PRIOR_PATH).
        ``required``: raise ValueError when neither holds it, else return None."""
        if self.prior_digest is None:
            return None
        return _resolve(self.prior, self.prior_digest, self.who, required)

    # -- one chunk -----------------------------------------------------------------------------
    def encode(self, array: np.ndarray, metadata: Mapping[str, Any] | None = None) -> bytes:
        """``array`` (bool or uint8, any rank) as the bytes of a spike file with compact records."""
        name = chunk_dtype_name(array.dtype, self.who)
        array = clean_bools(array)
        meta = dict(metadata or {})
        if array.ndim == 0:
            meta[SHAPE_KEY] = []
            array = array.reshape(1)
        if array.ndim > MAX_RANK:  # said by the writer, deep down, without naming the codec or the chunk
            raise ValueError(f"{self.who}: a chunk of rank {array.ndim} (shape {array.shape}) exceeds the format's "
                             f"{MAX_RANK} axes")
        self.check_axes(array.shape)
        if name == "bool":
            array = array.view(np.uint8)
        prior = self.resolve_prior(required=True)
        with values_of_a_chunk(self.who, array.shape):
            return _encode(array, codec=self.codec, axes=self.axes, bits=self.bits, prior=prior, records="compact",
                           metadata=meta or None)

    def decode(self, data: Any, max_bytes: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """The uint8 array of a spike file's bytes (any buffer) and its metadata; a malformed
        file raises :class:`~spikecodec.errors.FormatError` (a ValueError) saying what is wrong.
        ``max_bytes``: the most the chunk may decode to (spikecodec's default cap: 1 GiB); over
        it, :class:`~spikecodec.errors.LimitError` before anything is allocated."""
        view = memoryview(data)
        if view.ndim != 1 or view.format not in ("B", "b", "c"):
            view = view.cast("B") if view.c_contiguous else memoryview(bytes(view))
        prior = self.resolve_prior(required=False)
        try:
            with SpikeReader(view, priors=prior, max_bytes=max_bytes) as reader:
                if max_bytes is not None and math.prod(reader.shape) > max_bytes:  # said as what it is, not as
                    # a limit to raise (no zarr user passes max_bytes: it is the array's chunk)
                    raise FormatError(f"{self.who}: the chunk holds an array of shape {reader.shape}, more than the "
                                      f"{max_bytes} elements of the array's chunks (was the store's metadata edited, "
                                      "or is the chunk another array's?)", code="decoded-shape")
                return reader.read(), reader.metadata
        except FormatError as exc:
            self.raise_missing_prior(prior, exc)
            raise

    def raise_missing_prior(self, prior: Prior | None, exc: FormatError) -> None:
        """Raise a FormatError saying where the prior was looked for when ``exc`` is a decoder's
        missing the configuration's prior (``prior``: what :meth:`resolve_prior` found)."""
        if self.prior_digest is not None and prior is None and self.prior_digest in str(exc):
            there = f"not at {self.prior!r}"
            if self.prior is not None:
                try:
                    there = f"the file at {self.prior!r} is another prior, {load_prior(self.prior).digest}"
                except (OSError, ValueError):
                    pass  # missing or no prior: "not at"
            raise FormatError(f"{self.who}: the chunk was coded with prior {self.prior_digest}: {there}, and it is not "
                              f"on spikecodec's search path (put the prior file in a folder of $SPIKECODEC_PRIOR_PATH)",
                              code="prior-missing") from exc

    def check_axes(self, shape: tuple[int, ...]) -> None:
        """ValueError unless ``axes`` (when given) name as many axes as a chunk of ``shape`` has."""
        if self.axes is not None and len(self.axes) != len(shape):
            raise ValueError(f"{self.who}: axes {self.axes!r} name {len(self.axes)} axes, the chunk has "
                             f"{len(shape)} (shape {tuple(shape)})")

    # -- message framing ---------------------------------------------------------------------
    def header_bits(self, dtype_name: str) -> int:
        """The element type of a header message made once for every chunk of an array of
        ``dtype_name``: ``bits`` when given, else 1 for bool, else the prior's (a prior is trained
        for one element type), else 8 (every uint8 value fits; give ``bits`` for narrower counts)."""
        if self.bits is not None:
            return self.bits
        if dtype_name == "bool":
            return 1
        prior = self.resolve_prior(required=True)
        trained = prior.geometry.get("bits") if prior is not None and isinstance(prior.geometry, dict) else None
        return trained if trained in ELEMENT_BITS else 8

    def make_header(self, shape: tuple[int, ...], bits: int, metadata: Mapping[str, Any] | None = None,
                    records: str = "compact", stream_id: bytes | bool = False) -> bytes:
        """The header message for chunks shaped ``shape`` (rank 1 or more, no extent 0) of
        ``bits``-bit elements, with ``metadata``: a :class:`~spikecodec.container.link.LinkEncoder`'s
        with this configuration's codec, prior and axes (spikecodec's default for the rank when
        None), whose frames are ``shape[1:]`` and whose rows hold ``shape[0]`` of them, so that a
        chunk is one row (one record, whatever its size: it must hold at most 2^31 elements).
        Raises ValueError when such chunks cannot be coded (too large, a prior trained for other
        chunks, axes of another rank); a missing prior raises ValueError too. ``records``: the
        header's record checks (a header derived anew for every chunk keeps those it had when
        its chunks were written: ``compact-unkeyed``). ``stream_id``: True, a random stream id (for a
        header stored once per array: the chunks of another array made with the same options
        then fail their check instead of reading as this one's), or those 16 bytes."""
        self.check_axes(shape)
        prior = self.resolve_prior(required=True)
        axes = self.axes if self.axes is not None else default_axes(len(shape))
        try:
            return LinkEncoder(shape[1:], codec=self.codec, prior=prior, axes=axes, chunk=(shape[0],), bits=bits,
                               metadata=dict(metadata or {}), stream_id=stream_id, records=records,
                               message_ends=False).header  # one framing per chunk shape; a chunk is one record
        except FormatError as exc:
            raise ValueError(f"{self.who}: chunks shaped {shape} cannot be coded as messages ({exc.message})") from None
        except ValueError as exc:
            raise ValueError(f"{self.who}: chunks shaped {shape} cannot be coded as messages ({exc})") from None

    def message_framing(self, header: bytes) -> "MessageFraming":
        """The :class:`MessageFraming` of ``header`` (a header message), made once per process."""
        key = (self.who, self.key(), bytes(header))
        with _framings_lock:
            found = _framings.get(key)
            if found is not None:
                _framings.move_to_end(key)
                return found
        framing = MessageFraming(self, bytes(header))
        with _framings_lock:
            _framings[key] = framing
            while len(_framings) > _MAX_FRAMINGS:  # a hostile stream of shapes must not grow it
                _framings.popitem(last=False)
        return framing

    def derived_framing(self, shape: tuple[int, ...], bits: int, dtype_name: str) -> "MessageFraming":
        """The :class:`MessageFraming` of :meth:`make_header` for ``shape``, ``bits`` and chunks of
        ``dtype_name`` (a bool chunk's header says so in its metadata, as a bool chunk's spike file
        does, so that the record check covers the dtype too), made once per process: for a codec
        that keeps no header and derives it from its configuration."""
        key = (self.who, self.key(), tuple(shape), bits, dtype_name)
        with _framings_lock:
            header = _derived.get(key)
            if header is not None:
                _derived.move_to_end(key)
        if header is None:
            # Never stored, so made as chunks written by format 1.3 - 1.6 were: keyed checks here would
            # make every chunk written before unreadable (a stored zarr header may be keyed).
            header = self.make_header(tuple(shape), bits, {DTYPE_KEY: "bool"} if dtype_name == "bool" else None,
                                      records="compact-unkeyed")
            with _framings_lock:
                _derived[key] = header
                while len(_derived) > _MAX_FRAMINGS:
                    _derived.popitem(last=False)
        return self.message_framing(header)

    def finish(self, values: np.ndarray, metadata: Mapping[str, Any], dtype: str | None = None) -> np.ndarray:
        """A decoded chunk as the array it was: ``dtype`` (else the one its metadata names),
        and 0-d again if it was."""
        if dtype is None:
            dtype = metadata.get(DTYPE_KEY, "uint8") if isinstance(metadata, Mapping) else "uint8"
        if not isinstance(dtype, str) or dtype not in DTYPES:  # a list there was "unhashable type"
            raise FormatError(f"{self.who}: the chunk's metadata names dtype {dtype!r}, not one of {sorted(DTYPES)}", code="integration-framing")
        if metadata.get(SHAPE_KEY) == [] and values.shape == (1,):
            values = values.reshape(())
        if dtype == "bool":
            if values.size and int(values.max()) > 1:
                raise FormatError(f"{self.who}: a bool chunk holds the value {int(values.max())}", code="symbol-above-top")
            values = values.view(bool)
        return values


class MessageFraming:
    """Chunks as chunk messages against one header message (:mod:`spikecodec.container.link`,
    FORMAT.md 5.2): a chunk, shaped ``(n, *frame_shape)`` with ``n`` at most the header's row
    height, is one row of ``n`` frames coded as the first record of a fresh stream of that header,
    so that every chunk decodes on its own (record 0: random access inside a shard) and costs its
    payload, its size (1-2 bytes), and a 2-byte check (4 bytes from 256 payload bytes on).

    The check covers the header's CRC and the record's place, so a message decoded against
    another header, damaged or truncated is refused, never decoded wrongly. Decoding needs only
    the stored header bytes (:class:`~spikecodec.container.link.LinkDecoder`); encoding continues
    them with :meth:`LinkEncoder.from_header`, which refuses a header it cannot write byte for byte.
    """

    def __init__(self, params: SpikeParams, header: bytes):
        self.params = params
        self.header = header
        try:
            h, _ = parse_header_message(header)
        except FormatError as exc:
            raise ValueError(f"{params.who}: the header is not a spikecodec header message ({exc})") from None
        if h.shape[0] is not None:
            raise ValueError(f"{params.who}: the header is a file's of known length, not a link stream's")
        self.frame_shape: tuple[int, ...] = tuple(h.frame_shape)  # type: ignore[arg-type]
        self.rows = h.chunk_shape[0]  # a chunk holds at most a row of frames
        self.bits = h.bits
        self.axes = h.axes

    @property
    def chunk_shape(self) -> tuple[int, ...]:
        """The shape of the chunks the header was made for."""
        return (self.rows, *self.frame_shape)

    def fits(self, shape: tuple[int, ...]) -> bool:
        """Whether a chunk of ``shape`` is coded as a message of this header: its frames are the
        header's, and there are no more of them than a row holds (a shorter chunk, one at an
        array's edge that zarr does not pad, is a shorter row)."""
        return len(shape) >= 1 and tuple(shape[1:]) == self.frame_shape and 1 <= shape[0] <= self.rows

    def encode(self, values: np.ndarray) -> bytes:
        """The chunk message of ``values`` (uint8 elements, shaped as :meth:`fits` takes)."""
        if values.size == 0:  # frames with an extent 0: a row of no chunk, no record
            return b""
        prior = self.params.resolve_prior(required=True)
        try:
            encoder = LinkEncoder.from_header(self.header, prior=prior)
        except FormatError as exc:
            raise ValueError(f"{self.params.who}: cannot code chunks for the stored header ({exc.message})") from None
        except ValueError as exc:
            raise ValueError(f"{self.params.who}: cannot code chunks for the stored header ({exc}); this array is "
                             "read-only to this version of spikecodec") from None
        with values_of_a_chunk(self.params.who, values.shape):
            return encoder.encode(values)

    def decode(self, data: Any, shape: tuple[int, ...], hint: str = "", start: int = 0) -> np.ndarray:
        """The uint8 chunk of ``shape`` that the chunk message ``data`` (any buffer) holds. A
        malformed, truncated, damaged or foreign message raises FormatError saying what is wrong
        and at which byte (``start``: where the message begins in what the caller was given;
        ``hint``: what a failed check may also mean there); the chunk never decodes to more than
        its ``shape``'s bytes (LimitError before allocating)."""
        who = self.params.who
        message = bytes(data)
        size = math.prod(shape)
        if size == 0:
            if message:
                raise FormatError(f"{who}: a chunk of shape {shape} holds nothing, its message is {len(message)} bytes", start, code="message-size")
            return np.zeros(shape, np.uint8)
        if not message:
            raise FormatError(f"{who}: the chunk message is empty; the chunk is {shape}", start, code="message-size")
        prior = self.params.resolve_prior(required=False)
        skip = len(self.header) - start  # the decoder counts from the stream's start, the header before the message
        try:
            decoder = LinkDecoder(self.header, priors=prior, max_bytes=size)  # fresh: the message is record 0
            values = decoder.decode(message)
        except LimitError as exc:
            raise LimitError(f"{who}: chunk message: {exc.message}", _local(exc.offset, skip), code=exc.code) from None
        except FormatError as exc:
            extra = ""
            if "fails its check" in exc.message or "out of order" in exc.message:
                extra = hint
            if message[: len(layout.SIGNATURE)] == layout.SIGNATURE:
                extra = " (the chunk is a spike file: was it written with framing='file'?)"
            self.params.raise_missing_prior(prior, exc)
            said = exc.message.replace("file ends", "the message ends")  # the decoder reads it as a stream's part
            raise FormatError(f"{who}: chunk message: {said}{extra}", _local(exc.offset, skip), code=exc.code) from None
        if values.shape != tuple(shape):
            raise FormatError(f"{who}: the chunk message holds {values.shape[0]} frames of {values.shape[1:]}, the "
                              f"chunk is {tuple(shape)}", code="decoded-shape")
        return values


def _local(offset: int | None, skip: int) -> int | None:
    """A stream offset as one into the caller's bytes (``skip``: the header's length less where
    the message begins in them)."""
    return None if offset is None else max(offset - skip, 0)


@contextlib.contextmanager
def values_of_a_chunk(who: str, shape: tuple[int, ...]) -> Iterator[None]:
    """A value that does not fit the element type is named by its index in the chunk, which the
    caller (zarr, numcodecs) does not know as such: said so, with the codec's name."""
    try:
        yield
    except ElementRangeError as exc:
        raise ElementRangeError(f"{who}: {exc} (the index is within the chunk being coded, of shape {tuple(shape)})") from None


_framings: OrderedDict[tuple, MessageFraming] = OrderedDict()
_derived: OrderedDict[tuple, bytes] = OrderedDict()
_framings_lock = threading.Lock()
_MAX_FRAMINGS = 256

_priors: dict[tuple[str | None, str], Prior] = {}
_priors_lock = threading.Lock()


def _new_locks_in_child() -> None:
    """A forked child gets fresh locks: fork copies a lock that another thread of the parent
    held at that moment (dask's threads, zarr's, a DataLoader started while they code chunks)
    as held, and the child's first chunk then waited on it for ever."""
    global _framings_lock, _priors_lock
    _framings_lock = threading.Lock()
    _priors_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_locks_in_child)


def _load_prior_file(path: str, digest: str | None, who: str) -> Prior:
    try:
        prior = load_prior(path)
    except OSError as exc:
        raise ValueError(f"{who}: cannot read prior file {path!r} ({exc.strerror or exc})") from None
    except FormatError as exc:
        raise ValueError(f"{who}: {path!r} is not a prior file ({exc})") from None
    if digest is not None and prior.digest != digest:
        raise ValueError(f"{who}: prior file {path!r} is prior {prior.digest}, not {digest} named by the configuration")
    return prior


def _resolve(path: str | None, digest: str, who: str, required: bool) -> Prior | None:
    key = (path, digest)
    with _priors_lock:
        if key in _priors:
            return _priors[key]
    prior = None
    problem = None
    if path is not None:
        try:
            prior = _load_prior_file(path, digest, who)
        except ValueError as exc:
            problem = str(exc)
    if prior is None:
        prior = find_prior(digest)
    if prior is None:
        if not required:
            return None
        raise ValueError(f"{who}: prior {digest} was not found" + (f" ({problem})" if problem else "")
                         + " on spikecodec's search path (shipped priors and the folders of $SPIKECODEC_PRIOR_PATH)")
    with _priors_lock:
        return _priors.setdefault(key, prior)
