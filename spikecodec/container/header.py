"""The file header: a :class:`Header` value, its bytes, and the checks a reader applies to them."""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
from construct import ConstructError

from .. import layout
from ..codecs import Pipeline
from ..errors import FormatError, LimitError
from ..json_text import MAX_DEPTH, strict_json, too_deep
from ..prior import PRIOR_PATH_ENV, Prior, check_table_bytes, embedded_prior, find_prior, parse_prior, remember_prior
from ..limits import (
    ELEMENT_BITS,
    MAX_AXIS_NAME,
    MAX_CHUNK_ELEMENTS,
    codec_id_problem,
    MAX_CODECS,
    MAX_EXTENSION_NAME,
    MAX_EXTENSIONS,
    MAX_EXTENT,
    MAX_HEADER_SIZE,
    MAX_RANK,
    MAX_TOTAL_ELEMENTS,
    UNKNOWN_EXTENT,
    checked_product,
)

_AXIS_NAME = re.compile(r"[A-Za-z0-9_]{1,%d}\Z" % MAX_AXIS_NAME)


@dataclass(frozen=True)
class Extension:
    """An extension field: skipped by readers that do not know it unless ``required``."""

    name: str
    data: bytes
    required: bool = False


@dataclass(frozen=True)
class Header:
    """Everything the header says. ``shape[0]`` is ``None`` for a stream of unknown length."""

    shape: tuple[int | None, ...]
    axes: tuple[str, ...]
    bits: int
    chunk_shape: tuple[int, ...]
    codecs: tuple[dict[str, Any], ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    extensions: tuple[Extension, ...] = ()
    minor: int = 0  # writers declare the lowest minor version whose features the file uses

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def chunk_rank(self) -> int:
        return len(self.chunk_shape)

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """Shape of one slice along axis 0."""
        return tuple(self.shape[1:])  # type: ignore[arg-type]

    @property
    def inner_grid(self) -> tuple[int, ...]:
        """Chunks along each chunked axis after the first (one row of chunks)."""
        return tuple(-(-self.shape[i] // self.chunk_shape[i]) for i in range(1, self.chunk_rank))  # type: ignore[operator]

    @property
    def chunks_per_row(self) -> int:
        return math.prod(self.inner_grid)

    def pipeline(self) -> Pipeline:
        return Pipeline(self.codecs)

    def extension_data(self, name: str) -> bytes | None:
        """The data of the extension ``name`` (``b""`` for one without data), None when absent."""
        return next((e.data for e in self.extensions if e.name == name), None)


def _plain(value: Any) -> Any:
    """numpy scalars and small arrays in metadata as the JSON values they stand for."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)  # NaN and infinities are then refused by the encoder (not JSON)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.size <= 1 << 16:
        return value.tolist()
    if isinstance(value, np.str_):
        return str(value)
    raise TypeError(f"metadata holds {type(value).__name__} {value!r:.60}, which is not JSON")


# One encoder for every header (json.dumps with options would build a new one per call).
_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"), sort_keys=True, default=_plain)


def axis_names(axes: "Sequence[str] | str | None") -> tuple[str, ...] | None:
    """Axis names as a user gives them: ``"TNCHW"`` (a letter each), ``"time,batch,c,h,w"``
    (comma-separated), or a sequence of names. None stays None (the writer's default)."""
    if axes is None:
        return None
    if isinstance(axes, str):
        return tuple(a.strip() for a in axes.split(",")) if "," in axes else tuple(axes)
    return tuple(str(a) for a in axes)


def json_bytes(obj: Any) -> bytes:
    """``obj`` as the JSON text a header holds (FORMAT.md 1: UTF-8, no NaN); ValueError for what
    it cannot hold. The writer checks a user's metadata with it before writing anything."""
    try:
        text = _JSON_ENCODER.encode(obj)
    except RecursionError:  # metadata nested thousands deep: a value error, not a crash
        raise ValueError("metadata nests too deeply to be written as JSON") from None
    if too_deep(text):
        raise ValueError(f"metadata nests too deeply (arrays and objects at most {MAX_DEPTH} deep, FORMAT.md 1)")
    try:
        strict_json(text)  # what a reader refuses is never written (an integer beyond a double: 10**400)
    except ValueError as exc:
        raise ValueError(f"{exc} (FORMAT.md 1)") from None
    return text.encode()


def encode_header(h: Header) -> bytes:
    """Preamble, header body and header CRC, as a writer emits them."""
    body = layout.header_body_compiled().build(
        dict(
            rank=h.rank,
            element_bits=h.bits,
            chunk_rank=h.chunk_rank,
            reserved=0,
            shape=[UNKNOWN_EXTENT if s is None else s for s in h.shape],
            chunk_shape=list(h.chunk_shape),
            axes=list(h.axes),
            codecs=[dict(id=c["id"], config=json_bytes({k: v for k, v in c.items() if k != "id"})) for c in h.codecs],
            metadata=json_bytes(h.metadata),
            extensions=[dict(flags=int(e.required), name=e.name, data=e.data) for e in h.extensions],
        )
    )
    if len(body) > MAX_HEADER_SIZE:
        raise ValueError(f"header is {len(body)} bytes, more than the {MAX_HEADER_SIZE} allowed (metadata too large?)")
    pre = layout.PREAMBLE_STRUCT.pack(layout.SIGNATURE, layout.MAJOR_VERSION, h.minor, 0, len(body))
    return pre + body + layout.crc32(pre, body).to_bytes(4, "little")


# Header bytes already written, by the header's value: a process that writes many files alike
# (a stream of batches from one model) checks and builds each distinct header once. Bounded like
# the readers' cache below.
_written_headers: dict[tuple, bytes] = {}


def header_bytes(h: Header) -> bytes:
    """:func:`check_header` then :func:`encode_header`: what a writer emits (raises FormatError
    or ValueError on a header that a reader would refuse)."""
    try:
        key = (h.shape, h.axes, h.bits, h.chunk_shape, tuple(json_bytes(c) for c in h.codecs),
               json_bytes(h.metadata), h.extensions, h.minor)
    except (TypeError, ValueError):  # not JSON: check_header says what is wrong
        check_header(h)
        return encode_header(h)
    data = _written_headers.get(key)
    if data is None:
        check_header(h)
        data = encode_header(h)
        if len(data) <= _CACHED_HEADER_BYTES:
            _remember(_written_headers, key, data)
    return data


def parse_preamble(pre: bytes) -> tuple[int, int]:
    """Check the 16-byte preamble; return (minor version, header body size)."""
    if len(pre) < layout.PREAMBLE_SIZE:
        raise FormatError(f"file is {len(pre)} bytes, too short for the {layout.PREAMBLE_SIZE}-byte preamble", 0, code="preamble-truncated")
    signature, major, minor, reserved, header_size = layout.PREAMBLE_STRUCT.unpack_from(pre)
    if signature != layout.SIGNATURE:
        raise FormatError("not a spike file: bad signature", 0, code="preamble-magic")
    if major != layout.MAJOR_VERSION:
        raise FormatError(f"unsupported major version {major} (this reader knows {layout.MAJOR_VERSION})", 8, code="major-version")
    if reserved != 0:
        raise FormatError("reserved preamble field is not zero", 10, code="preamble-reserved")
    if not 0 < header_size <= MAX_HEADER_SIZE:
        raise FormatError(f"header size {header_size} is outside 1..{MAX_HEADER_SIZE}", 12, code="header-size")
    return minor, header_size


def _strict_json(raw: bytes, what: str, offset: int) -> dict[str, Any]:
    if raw == b"{}":  # the usual empty metadata or parameters, without the decoder's machinery
        return {}
    try:
        obj = strict_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormatError(f"{what} is not valid JSON ({exc})", offset, code="json-invalid") from None
    if not isinstance(obj, dict):
        raise FormatError(f"{what} must be a JSON object", offset, code="json-not-object")
    return obj


# Headers already parsed and checked, by their exact bytes (preamble, body, CRC), with the codec
# pipeline they name: a process that decodes many files written alike (same shape, codecs and
# metadata: a stream of batches from one model) parses and checks each distinct header once. Only
# small headers are kept, at most _CACHED_HEADERS of them. parse_header gives every caller its own
# copies of the JSON objects; parse_header_shared gives the kept objects themselves, to callers
# that only read them and never hand them on (decoding a whole array). Codecs hold no state.
_CACHED_HEADERS = 64
_CACHED_HEADER_BYTES = 4096
_header_cache: dict[bytes, tuple[Header, Pipeline]] = {}


def parse_header(pre: bytes, body: bytes, crc: bytes) -> Header:
    """Parse and check the header body (after :func:`parse_preamble`) and its CRC."""
    h = parse_header_shared(pre, body, crc)[0]
    return Header(h.shape, h.axes, h.bits, h.chunk_shape, tuple(fresh_json(c) for c in h.codecs),
                  fresh_json(h.metadata), h.extensions, h.minor)


def parse_header_shared(pre: bytes, body: bytes, crc: bytes) -> tuple[Header, Pipeline]:
    """As :func:`parse_header`, with the header's codec pipeline, but possibly the very objects
    another caller got: read them, never change them or hand them on."""
    if len(body) > _CACHED_HEADER_BYTES:
        return _parse_header(pre, body, crc)
    key = b"".join((pre, body, crc))
    parsed = _header_cache.get(key)
    if parsed is None:
        parsed = _parse_header(pre, body, crc)  # raises on anything wrong: only good headers are kept
        _remember(_header_cache, key, parsed)
    return parsed


def _remember(cache: dict, key: Any, value: Any) -> None:
    """Keep ``value`` in one of the header caches, dropping the oldest entry beyond
    _CACHED_HEADERS. Threads may race here; the worst outcome is one entry too many dropped."""
    if len(cache) >= _CACHED_HEADERS:
        cache.pop(next(iter(cache), None), None)
    cache[key] = value


def fresh_json(value: Any) -> Any:
    """A copy of a parsed JSON value that shares no dict or list with it. Not recursive: metadata
    nested 511 deep, which a reader takes (FORMAT.md 1), ran past Python's recursion limit here."""
    if type(value) not in (dict, list):
        return value  # str, int, float, bool, None: immutable
    root: Any = {} if type(value) is dict else []
    todo = [(value, root)]
    while todo:
        source, copy = todo.pop()
        for key, item in (source.items() if type(source) is dict else enumerate(source)):
            if type(item) in (dict, list):
                item_copy: Any = {} if type(item) is dict else []
                todo.append((item, item_copy))
                item = item_copy
            if type(copy) is dict:
                copy[key] = item
            else:
                copy.append(item)
    return root


def _parse_header(pre: bytes, body: bytes, crc: bytes) -> tuple[Header, Pipeline]:
    minor, _ = parse_preamble(pre)
    body_at = layout.PREAMBLE_SIZE
    if len(crc) != 4:
        raise FormatError("file ends inside the header", body_at, code="header-truncated")
    if layout.crc32(pre[: layout.PREAMBLE_SIZE], body) != int.from_bytes(crc, "little"):
        raise FormatError("header CRC mismatch", body_at + len(body), code="header-crc")

    def fail(msg: str, code: str) -> FormatError:
        return FormatError(msg, body_at, code=code)

    if len(body) < layout.HEADER_FIXED_STRUCT.size:
        raise fail("header body is too short", code="header-malformed")
    rank, _, chunk_rank, reserved = layout.HEADER_FIXED_STRUCT.unpack_from(body)
    # Only what sizes the rest of the parse is checked here; check_header does the others.
    if not 1 <= rank <= MAX_RANK:
        raise fail(f"rank {rank} is outside 1..{MAX_RANK}", code="rank-range")
    if not 1 <= chunk_rank <= rank:
        raise fail(f"chunk rank {chunk_rank} is outside 1..{rank}", code="chunk-rank-range")
    if reserved:
        raise fail("reserved header field is not zero", code="header-reserved")
    try:
        b = layout.header_body_compiled().parse(body)
        # A length field that runs past the body's end is read short by the parser, not refused:
        # the fields as read must build the very bytes given (FORMAT.md 10 step 3.2).
        whole = layout.header_body_compiled().build(b) == bytes(body)
    except (ConstructError, UnicodeDecodeError, struct.error) as exc:  # compiled parsers raise struct.error
        raise fail(f"malformed header body ({type(exc).__name__})", code="header-malformed") from None
    if not whole:
        raise fail("malformed header body (a length field runs past the body's end)", code="header-malformed")
    shape = tuple(None if (i == 0 and s == UNKNOWN_EXTENT) else s for i, s in enumerate(b.shape))
    if not 1 <= len(b.codecs) <= MAX_CODECS:
        raise fail(f"{len(b.codecs)} codecs; a pipeline has 1..{MAX_CODECS}", code="codec-count")
    codecs = []
    for c in b.codecs:
        config = _strict_json(c.config, f"configuration of codec {c.id!r}", body_at)
        if "id" in config:
            raise fail(f"configuration of codec {c.id!r} may not contain the key 'id'", code="codec-config-id")
        codecs.append({"id": c.id, **config})
    metadata = _strict_json(b.metadata, "metadata", body_at)
    if len(b.extensions) > MAX_EXTENSIONS:
        raise fail(f"{len(b.extensions)} extension fields; at most {MAX_EXTENSIONS}", code="extension-count")
    for e in b.extensions:
        if e.flags & ~1:
            raise fail(f"extension {e.name!r} has undefined flag bits set", code="extension-flags")
    header = Header(
        shape=shape,
        axes=tuple(b.axes),
        bits=b.element_bits,
        chunk_shape=tuple(b.chunk_shape),
        codecs=tuple(codecs),
        metadata=metadata,
        extensions=tuple(Extension(e.name, bytes(e.data), bool(e.flags & 1)) for e in b.extensions),
        minor=minor,
    )
    return header, check_header(header, body_at)


def check_header(h: Header, offset: int | None = None) -> Pipeline:
    """The rules of FORMAT.md section 3.2 on header values; ``offset`` locates the error.

    Readers apply them to what they parsed, writers to what they are about to write. Returns the
    codec pipeline the header names (built to check it)."""

    def fail(msg: str, code: str) -> FormatError:
        return FormatError(msg, offset, code=code)

    shape = h.shape
    if not 1 <= h.rank <= MAX_RANK:
        raise fail(f"rank {h.rank} is outside 1..{MAX_RANK}", code="rank-range")
    if h.bits not in ELEMENT_BITS:
        raise fail(f"element bits {h.bits} is not one of {ELEMENT_BITS}", code="element-bits")
    if not 1 <= h.chunk_rank <= h.rank:
        raise fail(f"chunk rank {h.chunk_rank} is outside 1..{h.rank}", code="chunk-rank-range")
    for i, s in enumerate(shape):
        if s is not None and not 0 <= s <= MAX_EXTENT:
            raise fail(f"shape[{i}] = {s} is outside 0..{MAX_EXTENT}", code="shape-extent")
    try:
        checked_product((s for s in shape if s is not None), MAX_TOTAL_ELEMENTS, "element count")
    except OverflowError:
        raise fail(f"shape {tuple(shape)} has more than {MAX_TOTAL_ELEMENTS} elements", code="shape-too-large") from None
    for i, c in enumerate(h.chunk_shape):
        if c < 1:
            raise fail(f"chunk_shape[{i}] is zero", code="chunk-shape-zero")
        if i > 0 and c > max(shape[i], 1):  # type: ignore[type-var]
            raise fail(f"chunk_shape[{i}] = {c} is larger than shape[{i}] = {shape[i]}", code="chunk-shape-larger")
    if shape[0] is not None and h.chunk_shape[0] > max(shape[0], 1):
        raise fail(f"chunk_shape[0] = {h.chunk_shape[0]} is larger than shape[0] = {shape[0]}", code="chunk-shape-larger")
    try:
        checked_product([*h.chunk_shape, *shape[h.chunk_rank :]], MAX_CHUNK_ELEMENTS, "chunk size")  # type: ignore[list-item]
    except OverflowError:
        raise fail(f"a chunk would hold more than {MAX_CHUNK_ELEMENTS} elements", code="chunk-too-large") from None
    if len(h.axes) != h.rank:
        raise fail(f"{len(h.axes)} axis names for rank {h.rank}", code="axis-count")
    for name in h.axes:
        if not _AXIS_NAME.match(name):
            raise fail(f"axis name {name!r} is not 1-{MAX_AXIS_NAME} characters of [A-Za-z0-9_]", code="axis-name")
    if len(set(h.axes)) != len(h.axes):
        raise fail(f"axis names {list(h.axes)} are not unique", code="axis-duplicate")
    if not 1 <= len(h.codecs) <= MAX_CODECS:
        raise fail(f"{len(h.codecs)} codecs; a pipeline has 1..{MAX_CODECS}", code="codec-count")
    for c in h.codecs:
        problem = codec_id_problem(c["id"])
        if problem is not None:
            raise fail(problem, code="codec-id")
    try:
        pipeline = Pipeline(h.codecs)
    except ValueError as exc:
        raise fail(f"codec pipeline {list(h.codecs)}: {exc}", code="codec-pipeline") from None
    if len(h.extensions) > MAX_EXTENSIONS:
        raise fail(f"{len(h.extensions)} extension fields; at most {MAX_EXTENSIONS}", code="extension-count")
    for e in h.extensions:
        if not 0 < len(e.name) <= MAX_EXTENSION_NAME or not e.name.isascii():
            raise fail(f"extension name {e.name!r} is not 1..{MAX_EXTENSION_NAME} ASCII characters", code="extension-name")
        if e.name not in KNOWN_EXTENSIONS or e.name in RULELESS_EXTENSIONS:
            if e.required:
                raise fail(f"required extension {e.name!r} is not understood by this reader", code="extension-unknown-required")
            continue
        if not e.required:
            raise fail(f"extension {e.name!r} must be marked required", code="extension-not-required")
        if sum(x.name == e.name for x in h.extensions) > 1:
            raise fail(f"extension {e.name!r} appears more than once", code="extension-repeated")
        if e.name in (COMPACT_EXTENSION, KEYED_EXTENSION, MESSAGE_ENDS_EXTENSION) and e.data:
            raise fail(f"extension {e.name!r} carries no data", code="extension-data")
    if h.extension_data(KEYED_EXTENSION) is not None and h.extension_data(COMPACT_EXTENSION) is None:
        raise fail(f"extension {KEYED_EXTENSION!r} keys compact records' checks, and the file has none", code="keyed-checks-classic")
    if h.extension_data(MESSAGE_ENDS_EXTENSION) is not None and h.extension_data(COMPACT_EXTENSION) is None:
        raise fail(f"extension {MESSAGE_ENDS_EXTENSION!r} marks compact records that end a message, and the file has none",
                   code="message-ends-classic")
    if h.extension_data(PRIOR_EXTENSION) is not None and not getattr(pipeline.array_codec, "prior_id", None):
        raise fail(f"extension {PRIOR_EXTENSION!r} holds a prior, but codec {pipeline.array_codec.codec_id!r} names none", code="prior-extension-unneeded")
    return pipeline


PRIOR_EXTENSION = "prior"  # a prior file embedded in the header (FORMAT.md 14)
COMPACT_EXTENSION = "compact-records"  # the file's chunks are compact records (FORMAT.md 5.2)
STREAM_ID_EXTENSION = "stream-id"  # random bytes that make a stream's header its own (FORMAT.md 3.2)
STREAM_ID_SIZE = 16
KEYED_EXTENSION = "keyed-checks"  # compact records' checks keyed by stream and place (FORMAT.md 5.2, version 1.7)
MESSAGE_ENDS_EXTENSION = "message-ends"  # compact records say which ends a message (FORMAT.md 5.2, 11, version 1.9)
KNOWN_EXTENSIONS = {PRIOR_EXTENSION: 3, COMPACT_EXTENSION: 3, STREAM_ID_EXTENSION: 6, KEYED_EXTENSION: 7,
                    MESSAGE_ENDS_EXTENSION: 9}  # name -> the minor version defining it
RULELESS_EXTENSIONS = {STREAM_ID_EXTENSION}  # read as unknown ones are (FORMAT.md 3.2): no rule for readers


def extensions_minor(extensions: Iterable[Extension], ruleless: bool = True) -> int:
    """The lowest format minor version that defines every known extension of a header (without
    ``ruleless``: of those a reader must know; readers of every 1.x version read a stream-id)."""
    return max((KNOWN_EXTENSIONS.get(e.name, 0) for e in extensions if ruleless or e.name not in RULELESS_EXTENSIONS), default=0)


def bind_prior(h: Header, pipeline: Pipeline, given: Iterable[Prior] = (), offset: int | None = None,
               max_bytes: int | None = None) -> Pipeline:
    """``pipeline`` coding from the prior its array codec names (FORMAT.md 14): the one embedded
    in the header, else one of ``given``, else one found by :func:`~spikecodec.prior.find_prior`.
    A file naming a prior that none of those holds raises FormatError naming the digest; an
    embedded one whose tables take more than ``max_bytes`` (the reader's limit), a LimitError."""
    digest = getattr(pipeline.array_codec, "prior_id", None)
    if not digest:
        return pipeline
    given = list(given)
    embedded = h.extension_data(PRIOR_EXTENSION)
    if embedded is not None:
        if hashlib.sha256(embedded).hexdigest() != digest:
            raise FormatError(f"the embedded prior is not prior {digest} that codec {pipeline.array_codec.codec_id!r} names", offset, code="prior-embedded-digest")
        prior = find_prior(digest, given, search=False)
        try:
            if prior is None and (prior := embedded_prior(digest)) is not None:
                check_table_bytes(prior.nbytes, max_bytes)  # parsed for another file already: refused alike
            if prior is None:  # its layout is checked against the codec before its tables are decompressed
                prior = parse_prior(embedded, expect=pipeline.array_codec.check_layout, max_bytes=max_bytes)  # type: ignore[attr-defined]
        except LimitError as exc:
            raise LimitError(f"the embedded prior: {exc.message}", offset, code=exc.code) from None
        except FormatError as exc:  # a problem of the header (FORMAT.md 10 step 3.6); its byte in the prior is said
            at = "" if exc.offset is None else f", at its byte {exc.offset}"
            raise FormatError(f"the embedded prior{at}: {exc.message}", offset, code=exc.code) from None
        except ValueError as exc:  # as with_prior below says it
            raise FormatError(str(exc), offset, code="prior-mismatch") from None
        remember_prior(prior)
    else:
        prior = find_prior(digest, given)
        if prior is None:
            others = sorted({p.digest[:12] for p in given})
            among = f"; the priors given are others ({', '.join(others[:4])}{', ...' if len(others) > 4 else ''})" if others else ""
            raise FormatError(f"coded with prior {digest}, which was not given{among} "
                              f"(pass it: priors=..., --prior FILE, or a folder in ${PRIOR_PATH_ENV})", offset, code="prior-missing")
    try:
        return pipeline.with_prior(prior)
    except ValueError as exc:
        raise FormatError(str(exc), offset, code="prior-mismatch") from None
