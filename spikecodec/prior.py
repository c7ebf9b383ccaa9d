"""Priors: the trained initial model state of an adaptive codec (FORMAT.md section 14).

An adaptive codec starts every chunk from a model state: zero counts, or a *prior* learned from
sample spikes of one network at one split (as a zstd dictionary is learned from sample
messages). A chunk coded from a prior needs no learning: one image's spikes cost about what they
cost in a batch of thousands, and every chunk still decodes on its own.

A prior file holds the codec id, the chunk *geometry* its tables are sized for (the codec says
which numbers: element bits, channels, ...), the tables, and free ``info``. Its identity is the
SHA-256 of its bytes (``digest``): a spike file names the prior it was coded with by that digest,
and either embeds the prior's bytes in its header or leaves the reader to supply it.

Layout (all integers little-endian)::

    0       8  signature 8A 53 50 50 0D 0A 1A 0A ("\\x8aSPP\\r\\n\\x1a\\n")
    8       1  major version (1)      9  1  minor version (0)      10  2  reserved (0)
    12      4  u32 J: description size (1 .. 1 MiB)
    16      J  description: a JSON object {"codec", "geometry", "tables", "info"}
    16+J    8  u64 Z: size of the table data
    24+J    Z  table data: one zstd frame whose content is the tables, in order
    24+J+Z  4  CRC-32 of every byte before it
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import zstandard

from .errors import FormatError, LimitError
from .json_text import MAX_DEPTH, check_string_keys, strict_json, too_deep
from .layout import crc32
from .zstd_frame import frame_problem

SIGNATURE = b"\x8aSPP\r\n\x1a\n"
MAJOR_VERSION = 1
MINOR_VERSION = 0
SUFFIX = ".prior"
MAX_DESCRIPTION = 1 << 20
MAX_TABLE_BYTES = 1 << 30  # a prior's tables, decompressed
_HEAD = struct.Struct("<8sBBHI")
_DTYPES = {"u32": np.dtype("<u4"), "i32": np.dtype("<i4")}
_DIGEST = re.compile(r"[0-9a-f]{64}\Z")


def is_digest(text: Any) -> bool:
    """Whether ``text`` is a prior's id as spike files name it: 64 lowercase hex digits."""
    return isinstance(text, str) and bool(_DIGEST.match(text))


@dataclass(frozen=True, eq=False)
class Prior:
    """A codec's trained initial state. ``tables``: name -> 1-D array, in the codec's order."""

    codec: str
    geometry: dict[str, int]
    tables: dict[str, np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _description(self)  # a prior that could not be saved is refused when made, not when first used
        for name, table in self.tables.items():
            table.setflags(write=False)  # shared by every chunk and thread that codes from it

    @cached_property
    def data(self) -> bytes:
        """The prior file's bytes."""
        return _encode(self)

    @cached_property
    def digest(self) -> str:
        """Its id: the SHA-256 of its file, in lowercase hex."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def nbytes(self) -> int:
        """Bytes of the prior's tables in memory."""
        return sum(t.nbytes for t in self.tables.values())

    def save(self, path: str | os.PathLike) -> None:
        """Write the prior file (replacing ``path`` atomically)."""
        from .output import write_file

        write_file(path, self.data)

    def working_tables(self) -> "WorkingTables":
        """This thread's scratch copy of the tables (see :class:`WorkingTables`)."""
        # Kept in the instance's dict: the dataclass is frozen for its fields, not its caches.
        local = self.__dict__.setdefault("_local", threading.local())
        work = getattr(local, "work", None)
        if work is None:
            work = local.work = WorkingTables(self)
        return work

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the threads' scratch copies (a ``threading.local`` does not pickle: a
        prior that had coded a chunk, and every reader holding it, failed to go to a process)."""
        state = dict(self.__dict__)
        state.pop("_local", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for table in self.tables.values():
            table.setflags(write=False)

    def __repr__(self) -> str:
        return f"<Prior {self.codec} {self.digest[:12]} geometry={self.geometry} {self.nbytes} bytes>"


class WorkingTables:
    """One thread's copy of a prior's tables, kept equal to the prior between chunks.

    A codec that journals its table writes (and undoes them at the end of the chunk) codes
    straight into it: a small chunk then costs its decisions, not a copy of a large prior. A
    codec that does not, calls :meth:`fresh` and gets the tables copied back first.
    """

    def __init__(self, prior: Prior):
        self.prior = prior
        self.tables = {k: v.copy() for k, v in prior.tables.items()}
        self.dirty = False

    def clean(self) -> dict[str, np.ndarray]:
        """The tables, equal to the prior's (re-copied if a chunk left them changed)."""
        if self.dirty:
            for k, v in self.prior.tables.items():
                np.copyto(self.tables[k], v)
            self.dirty = False
        return self.tables


def _canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"), sort_keys=True).encode()


def _description(prior: Prior) -> tuple[bytes, list[dict[str, Any]]]:
    """The prior file's JSON description (FORMAT.md 14) and its table layout; ValueError or
    TypeError saying which field cannot be written."""
    if not isinstance(prior.codec, str):
        raise TypeError(f"a prior's codec is a codec id (str), got {type(prior.codec).__name__}")
    for what in ("geometry", "tables", "info"):
        if not isinstance(getattr(prior, what), dict):
            raise TypeError(f"a prior's {what} is a dict, got {type(getattr(prior, what)).__name__}")
    layout = []
    for name, table in prior.tables.items():
        kind = {np.dtype("<u4"): "u32", np.dtype("<i4"): "i32"}.get(table.dtype.newbyteorder("<")) if isinstance(table, np.ndarray) else None
        if kind is None or table.ndim != 1:
            got = f"{table.dtype} {table.shape}" if isinstance(table, np.ndarray) else type(table).__name__
            raise TypeError(f"prior table {name!r} must be a 1-D uint32 or int32 numpy array, got {got}")
        layout.append({"name": name, "type": kind, "count": int(table.size)})
    check_string_keys(prior.geometry, "a prior's geometry")
    check_string_keys(prior.info, "a prior's info")
    try:
        description = _canonical_json({"codec": prior.codec, "geometry": prior.geometry, "tables": layout, "info": prior.info})
    except RecursionError:
        raise ValueError(f"a prior's info is nested more than {MAX_DEPTH} deep (FORMAT.md 1)") from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a prior's geometry and info must be JSON (FORMAT.md 1): {exc}") from None
    if too_deep(description.decode()):
        raise ValueError(f"a prior's info is nested more than {MAX_DEPTH} deep (FORMAT.md 1)")
    if len(description) > MAX_DESCRIPTION:
        raise ValueError(f"prior description is {len(description)} bytes, over {MAX_DESCRIPTION}")
    _check_description(description, 0, _cannot_write)  # what the reader refuses is never written
    return description, layout


def _cannot_write(message: str, offset: int | None, code: str) -> ValueError:
    return ValueError(f"this prior cannot be written (FORMAT.md 14): {message}")


def _encode(prior: Prior) -> bytes:
    description, layout = _description(prior)
    raw = b"".join(np.ascontiguousarray(t, _DTYPES[e["type"]]).tobytes() for t, e in zip(prior.tables.values(), layout))
    frame = zstandard.ZstdCompressor(level=19, write_content_size=True, write_checksum=False).compress(raw)
    body = _HEAD.pack(SIGNATURE, MAJOR_VERSION, MINOR_VERSION, 0, len(description)) + description + len(frame).to_bytes(8, "little") + frame
    return body + crc32(body).to_bytes(4, "little")


LayoutCheck = Callable[[str, dict[str, int], list[tuple[str, np.dtype, int]]], None]


def check_table_bytes(total: int, max_bytes: int | None, offset: int | None = None, where: str | None = None) -> None:
    """LimitError when a prior's tables (``total`` bytes) exceed a reader's ``max_bytes``."""
    if max_bytes is not None and total > max_bytes:
        raise LimitError(f"its tables take {total} bytes, over max_bytes={max_bytes} (raise it: max_bytes=, --max-bytes)",
                         offset, where, code="limit-bytes")


def parse_prior(data: bytes, where: str | None = None, expect: LayoutCheck | None = None,
                max_bytes: int | None = None) -> Prior:
    """Check and parse a prior file's bytes (FORMAT.md 14); raise :class:`FormatError` saying
    what is wrong and at which byte. Sizes are checked before anything is allocated.

    ``expect(codec, geometry, layout)``, when given, is called before the tables are
    decompressed, with the described layout ((name, type, entries) of each table); a ValueError
    from it (a prior that cannot serve the caller's codec) is raised as it is, so that a prior
    declaring tables far larger than its codec's costs nothing to refuse. ``max_bytes``: a
    reader's limit (ReadLimits) on the tables, refused as a LimitError before they are held."""

    def fail(message: str, offset: int | None, code: str) -> FormatError:
        return FormatError(message, offset, where, code=code)

    data = bytes(data)
    if len(data) < _HEAD.size + 12:
        raise fail(f"file is {len(data)} bytes, too short for a prior", 0, code="prior-file-truncated")
    signature, major, minor, reserved, jsize = _HEAD.unpack_from(data)
    if signature != SIGNATURE:
        raise fail("not a prior file: bad signature", 0, code="prior-file-magic")
    if major != MAJOR_VERSION:
        raise fail(f"unsupported prior major version {major} (this reader knows {MAJOR_VERSION})", 8, code="prior-file-major")
    if reserved:
        raise fail("reserved field is not zero", 10, code="prior-file-reserved")
    if not 0 < jsize <= MAX_DESCRIPTION or _HEAD.size + jsize + 12 > len(data):
        raise fail(f"description size {jsize} does not fit the file", 12, code="prior-file-description-size")
    if crc32(data[:-4]) != int.from_bytes(data[-4:], "little"):
        raise fail("prior CRC mismatch", len(data) - 4, code="prior-file-crc")
    at = _HEAD.size
    codec, geometry, layout, info, total = _check_description(data[at : at + jsize], at, fail)
    check_table_bytes(total, max_bytes, at, where)  # a legal prior of ~350 MB in a 3 KB header
    mismatch = None
    if expect is not None:
        try:
            expect(codec, geometry, [(e["name"], _DTYPES[e["type"]], e["count"]) for e in layout])
        except ValueError as exc:  # raised after the file's own rules (FORMAT.md 10 step 3.6), its tables never held
            mismatch = exc
    at += jsize
    zsize = int.from_bytes(data[at : at + 8], "little")
    if at + 8 + zsize + 4 != len(data):
        raise fail(f"table data of {zsize} bytes does not end where the CRC starts", at, code="prior-file-table-data")
    frame = data[at + 8 : at + 8 + zsize]
    try:
        params = zstandard.get_frame_parameters(frame)
    except zstandard.ZstdError as exc:
        raise fail(f"table data is not a zstd frame ({exc})", at + 8, code="prior-file-table-data") from None
    if params.content_size != total:
        raise fail(f"table data holds {params.content_size} bytes, the tables need {total}", at + 8, code="prior-file-table-data")
    if mismatch is not None or total == 0:  # checked, not decompressed into memory (a frame of 0 bytes: see zstd_frame)
        problem = frame_problem(frame, total)
        if problem is not None:
            raise fail(f"table data: {problem[1]}", at + 8, code="prior-file-table-data")
        if mismatch is not None:
            _distinct_names(layout, fail)  # the file's last rule, before the codec's
            raise mismatch
    try:
        # allow_extra_data=False: bytes after the frame inside Z are refused (FORMAT.md 14), not skipped.
        raw = zstandard.ZstdDecompressor().decompress(frame, max_output_size=total, allow_extra_data=False)
    except zstandard.ZstdError as exc:
        raise fail(f"table data does not decompress ({exc})", at + 8, code="prior-file-table-data") from None
    if len(raw) != total:
        raise fail(f"table data decompresses to {len(raw)} bytes, expected {total}", at + 8, code="prior-file-table-data")
    _distinct_names(layout, fail)
    tables = {}
    pos = 0
    for entry in layout:
        n = 4 * entry["count"]
        tables[entry["name"]] = np.frombuffer(raw, _DTYPES[entry["type"]], entry["count"], pos).astype(
            _DTYPES[entry["type"]].newbyteorder("="), copy=False)  # views of the one buffer on a little-endian machine
        pos += n
    prior = Prior(codec, geometry, tables, info)
    prior.__dict__["data"] = data  # its bytes are its identity: never re-encode them
    return prior


def _check_description(text: bytes, at: int, fail: Callable[[str, int | None, str], Exception]
                       ) -> tuple[str, dict[str, int], list[dict[str, Any]], dict[str, Any], int]:
    """The rules of a prior file's description (FORMAT.md 14), for the reader (``fail`` makes its
    FormatError at byte ``at``) and the writer, which checks what it made: (codec, geometry,
    table layout, info, bytes of the tables)."""
    try:
        desc = strict_json(text.decode("utf-8"))  # FORMAT.md 14: section 1's JSON
    except (UnicodeDecodeError, ValueError) as exc:
        raise fail(f"description is not valid JSON ({exc})", at, code="prior-file-description") from None
    if not isinstance(desc, dict) or set(desc) != {"codec", "geometry", "tables", "info"}:
        raise fail("description must be an object with exactly the keys codec, geometry, tables, info", at, code="prior-file-description")
    codec, geometry, layout, info = desc["codec"], desc["geometry"], desc["tables"], desc["info"]
    if not isinstance(codec, str) or not isinstance(info, dict):
        raise fail("description: codec must be a string and info an object", at, code="prior-file-description")
    if not isinstance(geometry, dict) or not all(_is_count(v) for v in geometry.values()):
        raise fail("description: geometry must map names to non-negative integers", at, code="prior-file-description")
    total = 0
    if not isinstance(layout, list) or not layout:
        raise fail("description: tables must be a non-empty list", at, code="prior-file-description")
    for entry in layout:
        if not (isinstance(entry, dict) and set(entry) == {"name", "type", "count"} and isinstance(entry["name"], str)
                and entry["type"] in _DTYPES and _is_count(entry["count"])):
            raise fail(f"description: bad table entry {entry!r}", at, code="prior-file-description")
        total += 4 * entry["count"]
        if total > MAX_TABLE_BYTES:
            raise fail(f"tables exceed {MAX_TABLE_BYTES} bytes", at, code="prior-file-tables-size")
    return codec, geometry, layout, info, total


def _distinct_names(layout: list[dict[str, Any]], fail: Callable[[str, int | None, str], FormatError]) -> None:
    """The last of a prior file's rules (FORMAT.md 14): its tables' names are distinct."""
    seen: set[str] = set()
    for entry in layout:
        if entry["name"] in seen:
            raise fail(f"description: table {entry['name']!r} appears twice", _HEAD.size, "prior-file-description")
        seen.add(entry["name"])


def _is_count(v: Any) -> bool:
    return type(v) is int and 0 <= v < 1 << 62


PriorLike = Prior | str | os.PathLike | bytes


def load_prior(source: PriorLike, max_bytes: int | None = None) -> Prior:
    """A prior from a :class:`Prior`, a path to a prior file, or its bytes; with ``max_bytes`` (a
    reader's limit) a file's tables over it are a LimitError before they are held: a file of a
    few KB may declare hundreds of MB of tables of zeros."""
    if isinstance(source, Prior):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        return parse_prior(bytes(source), max_bytes=max_bytes)
    if not isinstance(source, (str, os.PathLike)):  # os.fspath's "expected str, bytes or os.PathLike"
        raise TypeError(f"a prior is a Prior, a path to a prior file or its bytes, got {type(source).__name__} {source!r:.40}")
    path = os.fspath(source)
    with open(path, "rb") as f:
        data = f.read(_HEAD.size + 12)  # the shortest prior file
        if data[: len(SIGNATURE)] == SIGNATURE:  # else refused as it is, not after reading 1 GiB of /dev/zero
            data += f.read(MAX_TABLE_BYTES + MAX_DESCRIPTION + 64 - len(data))
    return parse_prior(data, path, max_bytes=max_bytes)


# -- Finding a prior by its digest ---------------------------------------------------------------

PRIOR_PATH_ENV = "SPIKECODEC_PRIOR_PATH"  # more folders of prior files, os.pathsep-separated


def search_dirs() -> list[Path]:
    """Folders searched for a prior named by a file but not given: the shipped references', then
    those in $SPIKECODEC_PRIOR_PATH."""
    dirs = [Path(__file__).parent / "models" / "reference"]
    dirs += [Path(p) for p in os.environ.get(PRIOR_PATH_ENV, "").split(os.pathsep) if p]
    return dirs


_found: dict[str, Prior] = {}  # read from the search folders: as many as their files
_embedded: OrderedDict[str, Prior] = OrderedDict()  # met embedded in files, the most recently used last
_found_lock = threading.Lock()
EMBEDDED_KEPT_BYTES = 64 << 20  # tables of the embedded priors kept parsed: re-reading a file skips
# the parse, and a reader of files that each embed another prior holds a few, not every one it met


def find_prior(digest: str, given: Iterable[Prior] = (), search: bool = True) -> Prior | None:
    """The prior whose digest is ``digest``: among ``given``, else one read from the search
    folders already, else (with ``search``) in :func:`search_dirs` (files named ``*.prior``; each
    is read once per process). None when there is none. Priors met embedded in other files are
    not among them (:func:`embedded_prior` keeps those): whether a file that only names its
    prior reads must not depend on which files this process read before (FORMAT.md 14)."""
    for prior in given:
        if prior.digest == digest:
            return prior
    with _found_lock:
        if digest in _found:
            return _found[digest]
    if not search:
        return None
    for folder in search_dirs():
        for path in sorted(folder.glob(f"*{SUFFIX}")) if folder.is_dir() else ():
            if not path.is_file():  # a FIFO there held the search for ever, a link to /dev/zero read 1 GiB
                continue
            try:
                prior = load_prior(path)
            except (OSError, FormatError):
                continue  # a damaged file elsewhere must not stop the search
            with _found_lock:
                _found.setdefault(prior.digest, prior)
            if prior.digest == digest:
                return prior
    return None


def embedded_prior(digest: str) -> Prior | None:
    """The embedded prior of that digest parsed already in this process (:func:`remember_prior`),
    or None: a file that embeds it need not parse it again."""
    with _found_lock:
        if digest in _embedded:
            _embedded.move_to_end(digest)
            return _embedded[digest]
    return None


def remember_prior(prior: Prior) -> None:
    """Keep ``prior``, an embedded one, for :func:`embedded_prior` in this process; the least
    recently used are forgotten (parsed again if met again) beyond EMBEDDED_KEPT_BYTES of tables."""
    with _found_lock:
        _embedded[prior.digest] = prior
        _embedded.move_to_end(prior.digest)
        while sum(p.nbytes for p in _embedded.values()) > EMBEDDED_KEPT_BYTES:
            _embedded.popitem(last=False)


def as_priors(priors: Iterable[PriorLike] | PriorLike | None, max_bytes: int | None = None) -> list[Prior]:
    """The ``priors=`` argument of the readers: one prior or several, as objects, paths or bytes
    (files' tables within ``max_bytes``, the reader's limit: :func:`load_prior`)."""
    if priors is None:
        return []
    if isinstance(priors, (Prior, str, os.PathLike, bytes, bytearray, memoryview)):
        priors = [priors]
    if isinstance(priors, Mapping) or not isinstance(priors, Iterable):  # a dict's keys are no priors
        raise TypeError(f"priors= is a prior (a Prior, a path or bytes) or a list of them, got {type(priors).__name__}")
    return [load_prior(p, max_bytes) for p in priors]


def describe_geometry(geometry: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in geometry.items())
