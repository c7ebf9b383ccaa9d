"""``.npy`` files and the ``.npz`` archives made of them: headers checked and sizes bounded before
anything is read or inflated; nothing unpickled."""

from __future__ import annotations

import io
import math
import os
import warnings
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from spikecodec.limits import DEFAULT_MAX_DECODED_BYTES

from .checks import (
    DATASET,
    Loaded,
    MAX_INPUT_RANK,
    MAX_NPY_HEADER,
    MAX_ZIP_DIRECTORY,
    MAX_ZIP_ENTRIES,
    NUMERIC_KINDS,
    SIDE_BYTES,
    array_text,
    check_dtype,
    check_size,
    one_line,
    open_regular,
    over_limit,
    read_exact,
    read_into,
)
from .checks import _pick
from .stored import parse_axes, parse_metadata

# --- .npy ------------------------------------------------------------------------------------------


@dataclass
class NpyHeader:
    shape: tuple[int, ...]
    fortran: bool
    dtype: np.dtype
    offset: int  # bytes before the data: magic, header length and header

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


_NPY_MAGIC = b"\x93NUMPY"
_NPY_LENGTH_BYTES = {(1, 0): 2, (2, 0): 4, (3, 0): 4}


def read_npy_header(f: Any, kinds: str = NUMERIC_KINDS, what: str = "the array") -> NpyHeader:
    """Parse a .npy header from the stream ``f`` (left at the data), bounding its length before
    reading it, with numpy's own parser; refuse what cannot be read without unpickling."""
    magic = f.read(8)
    if len(magic) < 8 and (_NPY_MAGIC + b"\xff\xff").startswith(magic[:6]) and magic:
        raise ValueError("truncated: the data ends inside the .npy magic")
    if magic[:6] != _NPY_MAGIC:
        raise ValueError("not a .npy file (no \\x93NUMPY magic)" if magic else "empty: not a .npy file")
    version = (magic[6], magic[7])
    if version not in _NPY_LENGTH_BYTES:
        raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    raw = read_exact(f, _NPY_LENGTH_BYTES[version], "the .npy header length")
    length = int.from_bytes(raw, "little")
    if length > MAX_NPY_HEADER:
        raise ValueError(f"a .npy header of {length} bytes (at most {MAX_NPY_HEADER} are read)")
    header = read_exact(f, length, "the .npy header")
    buf = io.BytesIO(magic + raw + header)
    buf.seek(8)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numpy warns about headers written by Python 2
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(buf, max_header_size=MAX_NPY_HEADER)
            elif version == (2, 0) or header.isascii():  # 3.0 differs from 2.0 only in allowing UTF-8
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(buf, max_header_size=MAX_NPY_HEADER)
            else:  # UTF-8 is only for the field names of structured arrays, which are not read
                raise ValueError("a version 3.0 header with non-ASCII text (field names of a structured array)")
    except MemoryError:
        raise
    except Exception as exc:  # ValueError, SyntaxError, TypeError, RecursionError...: numpy's parser gave up
        raise ValueError(f"corrupt .npy header: {one_line(exc)}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"corrupt .npy header: negative size in shape {shape}")
    if len(shape) > MAX_INPUT_RANK:
        raise ValueError(f"{what} has {len(shape)} dimensions (at most {MAX_INPUT_RANK} are read)")
    check_dtype(dtype, kinds, what)
    return NpyHeader(tuple(shape), bool(fortran), dtype, 8 + len(raw) + length)


def trailing_data(offset: int, extra: int | None = None) -> ValueError:
    """A .npy ends with its data: more bytes after it (two files joined, a second array appended)
    would be dropped without a word, so they are refused."""
    count = "more bytes" if extra is None else f"{extra} more bytes"
    return ValueError(f"{count} after the array's data ends at byte {offset}: a .npy file ends "
                      "with its data (two files joined?)")


def _array_from(f: Any, h: NpyHeader, what: str) -> np.ndarray:
    """Read the data of an already checked header from a stream."""
    out = np.empty(h.nbytes, np.uint8)
    read_into(f, out, what)
    flat = out.view(h.dtype)
    if h.fortran:
        return flat.reshape(h.shape[::-1]).transpose()
    return flat.reshape(h.shape)


def load_npy(path: str, max_bytes: int = DEFAULT_MAX_DECODED_BYTES, *, mmap: bool = True,
             kinds: str = NUMERIC_KINDS) -> np.ndarray:
    """A .npy file, its size checked against ``max_bytes`` from the header before anything is
    read; memory-mapped (read-only) unless ``mmap`` is false."""
    with open_regular(path) as f:
        h = read_npy_header(f, kinds)
        check_size(array_text(h.shape, h.dtype), h.nbytes, max_bytes)
        held = os.fstat(f.fileno()).st_size - h.offset
        if held < h.nbytes:
            raise ValueError(f"truncated: {array_text(h.shape, h.dtype)} needs {h.nbytes} bytes of data, the file holds {max(held, 0)}")
        if held > h.nbytes:
            raise trailing_data(h.offset + h.nbytes, held - h.nbytes)
        if h.nbytes == 0:
            return np.zeros(h.shape, h.dtype, order="F" if h.fortran else "C")
        if not mmap:
            return _array_from(f, h, "the file")
        return np.memmap(f, dtype=h.dtype, mode="r", offset=h.offset, shape=h.shape, order="F" if h.fortran else "C")


# --- .npz -------------------------------------------------------------------------------------------


def open_zip(f: Any, what: str) -> zipfile.ZipFile:
    """A zip archive whose directory is small enough to parse."""
    end = getattr(zipfile, "_EndRecData", None)  # the end record, as ZipFile reads it
    try:
        record = end(f) if end is not None else None
        if record is not None and record[zipfile._ECD_ENTRIES_TOTAL] > MAX_ZIP_ENTRIES:
            raise ValueError(f"{what} has {record[zipfile._ECD_ENTRIES_TOTAL]} members (at most {MAX_ZIP_ENTRIES} are read)")
        if record is not None and record[zipfile._ECD_SIZE] > MAX_ZIP_DIRECTORY:
            raise ValueError(f"{what} has a zip directory of {record[zipfile._ECD_SIZE]} bytes (at most {MAX_ZIP_DIRECTORY} are read)")
        f.seek(0)
        return zipfile.ZipFile(f)
    except (ValueError, OSError):
        raise
    except Exception as exc:  # BadZipFile, struct.error, ...
        raise ValueError(f"not a valid {what}: {one_line(exc)}") from None


def _npz_member(zf: zipfile.ZipFile, member: str, max_bytes: int, kinds: str = NUMERIC_KINDS) -> np.ndarray:
    """One member of an .npz, its sizes checked (the directory's and its .npy header's) before
    any of it is decompressed; its CRC is checked as its end is read. The array (``kinds``
    numeric) is held to ``max_bytes``; the stored axes and metadata (text) to SIDE_BYTES."""
    info = zf.getinfo(member)
    what = f"member {member!r}"
    if not member.endswith(".npy"):
        raise ValueError(f"{what} is not a .npy array")
    if kinds != NUMERIC_KINDS and info.file_size > max_bytes:
        raise ValueError(f"{what} declares {info.file_size} bytes (at most {max_bytes} are read)")
    if info.file_size > max_bytes + MAX_NPY_HEADER + 16:  # the array and its .npy header
        raise over_limit(f"{what} (uncompressed)", info.file_size, max_bytes)
    try:
        with zf.open(info) as s:
            h = read_npy_header(s, kinds, what)
            check_size(f"{what}: {array_text(h.shape, h.dtype)}", h.nbytes, max_bytes)
            if h.offset + h.nbytes != info.file_size:
                raise ValueError(f"{what} is corrupt: its .npy header declares {h.nbytes} bytes of data, it holds {info.file_size - h.offset}")
            array = _array_from(s, h, what)
            s.read(1)  # the end: zipfile checks the CRC
            return array
    except (ValueError, OSError):
        raise
    except Exception as exc:  # BadZipFile (a bad CRC), zlib.error, an unsupported or encrypted member
        raise ValueError(f"{what}: {one_line(exc)}") from None


def _read_npz(f: Any, key: str | None, max_bytes: int) -> Loaded:
    with open_zip(f, ".npz archive") as zf:
        members: dict[str, str] = {}
        for name in zf.namelist():
            members[name[:-4] if name.endswith(".npy") else name] = name
        name = _pick(list(members), key, "array")
        array = _npz_member(zf, members[name], max_bytes)
        loaded = Loaded(array)
        if name == DATASET and key is None:  # written by `spikecodec decode`: keep its axes/metadata
            if "axes" in members:
                loaded.axes = parse_axes(_npz_member(zf, members["axes"], SIDE_BYTES, "U"), array.ndim, "the stored 'axes'")
            if "metadata" in members:
                loaded.metadata = parse_metadata(_npz_member(zf, members["metadata"], SIDE_BYTES, "U"), "the stored 'metadata'")
        return loaded
