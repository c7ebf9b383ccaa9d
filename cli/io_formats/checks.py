"""What every input reader checks before it reads (cli/images.py uses these too): sizes against
``max_bytes``, dtypes, regular files, reads in bounded pieces; one-line messages."""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from spikecodec.errors import LimitError
from spikecodec.json_text import MAX_DEPTH
from spikecodec.limits import MAX_AXIS_NAME, MAX_HEADER_SIZE

from ..atomic import STDIO

INPUT_FORMATS = ("npy", "npz", "pt", "h5", "spk")
OUTPUT_FORMATS = ("npy", "npz", "pt", "h5")
_KEYED = ("npz", "pt", "h5")  # formats holding several arrays: `file.npz:key`
DATASET = "spikes"  # the array's name in .npz and .h5 outputs

NUMERIC_KINDS = "biuf"  # the dtypes an input array may have: bool, integers, floats
MAX_NPY_HEADER = 1 << 16  # numpy writes a few hundred bytes; np.load itself refuses over 10000 characters
MAX_INPUT_RANK = 32
MAX_ZIP_ENTRIES = 1 << 15  # members of an .npz or .pt archive (its directory is parsed whole)
MAX_ZIP_DIRECTORY = 1 << 23  # bytes of that directory
SIDE_BYTES = 4 * MAX_HEADER_SIZE + (1 << 16)  # an .npz's `axes` and `metadata` arrays (4 bytes a character)
MAX_METADATA_TEXT = MAX_HEADER_SIZE  # metadata JSON, characters: what a spike file's header can hold
MAX_JSON_DEPTH = MAX_DEPTH  # nesting of stored metadata: what a spike file's header takes (FORMAT.md 1), so a decoded file's .npz re-encodes
PT_MEMBER_BYTES = 1 << 26  # a .pt archive's members other than tensor storages (data.pkl, ...)
MAX_H5_DATASETS = 10000  # datasets the search without a KEY looks at
MAX_H5_CHUNKS = 1 << 22  # stored chunks of one filtered dataset
READ_PIECE = 1 << 24  # bytes read at a time from a stream
MESSAGE_CHARS = 300  # a foreign error message is cut to this much of its first line
_AXIS_NAME = re.compile(r"[A-Za-z0-9_]{1,%d}\Z" % MAX_AXIS_NAME)


@dataclass
class Loaded:
    """An input array and what its file said about it (None where it said nothing)."""

    array: Any
    axes: tuple[str, ...] | None = None
    metadata: dict[str, Any] | None = None
    bits: int | None = None


def display_name(path: str, stdio: str = "<stdin>") -> str:
    return stdio if path == STDIO else path


def file_format(path: str) -> str | None:
    """``npy``, ``npz``, ``pt``, ``h5`` or ``spk`` by extension (``-`` is .npy); None if unknown."""
    if path == STDIO:
        return "npy"
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    ext = {"hdf5": "h5", "pth": "pt"}.get(ext, ext)
    return ext if ext in INPUT_FORMATS else None


def split_key(spec: str) -> tuple[str, str | None]:
    """``file.npz:key`` -> (``file.npz``, ``key``); a path that exists as given is never split.
    Any known format is split (``x.npy:k``, ``x.npz:``), for the reader to say what is wrong
    with the key: both were "unknown input format", of a file whose format is known."""
    if spec == STDIO or os.path.exists(spec) or ":" not in spec:
        return spec, None
    path, key = spec.rsplit(":", 1)
    if file_format(path) is not None:  # x.npy:k and x.npz: are read as such, and refused for their key
        return path, key
    return spec, None


# --- checks shared by every reader (cli/images.py uses them too) ----------------------------------


def one_line(exc: BaseException) -> str:
    """The first line of a foreign exception's message, cut short: never a multi-line error."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 3] + "..."


def limit_error(message: str) -> ValueError:
    """A refusal by the size limit alone (exit status 3)."""
    return LimitError(message)


def over_limit(what: str, nbytes: int, max_bytes: int) -> ValueError:
    """The error for ``what`` (e.g. "the array (1000, 1000) float64") declaring ``nbytes`` bytes."""
    amount = str(nbytes) if nbytes < 1 << 64 else f"about 2^{nbytes.bit_length() - 1}"
    return limit_error(f"{what} declares {amount} bytes, over the limit of {max_bytes} (raise it with --max-bytes)")


def check_size(what: str, nbytes: int, max_bytes: int) -> None:
    if nbytes > max_bytes:
        raise over_limit(what, nbytes, max_bytes)


def array_text(shape: tuple[int, ...], dtype: np.dtype) -> str:
    shape_text = str(tuple(shape)) if len(shape) <= 8 else f"rank-{len(shape)}"
    return f"the array {shape_text} {dtype}"


def check_dtype(dtype: np.dtype, kinds: str = NUMERIC_KINDS, what: str = "the array") -> None:
    """Refuse object arrays (they would need unpickling) and dtypes outside ``kinds``."""
    if dtype.hasobject:
        raise ValueError(f"{what} holds Python objects (dtype object): pickled data is never loaded")
    if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None or dtype.itemsize == 0:
        want = "a numeric or boolean array" if kinds == NUMERIC_KINDS else "text"
        raise ValueError(f"{what} has dtype {dtype}; expected {want}")


def open_regular(path: str) -> BinaryIO:
    """Open ``path`` for reading, refusing anything but a regular file (a FIFO would block, a
    device never end); the check is made on the opened file, so it cannot be swapped in between."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
            raise ValueError(f"not a regular file ({kind})")
        os.set_blocking(fd, True)  # O_NONBLOCK only kept the open itself from waiting on a FIFO
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_regular(path: str) -> None:
    """For readers that open the file by name themselves (h5py, torch, Pillow)."""
    open_regular(path).close()


def read_exact(f: Any, n: int, what: str) -> bytes:
    """``n`` bytes, read in pieces (a stream may return fewer at a time); fewer is an error."""
    parts, got = [], 0
    while got < n:
        piece = f.read(min(n - got, READ_PIECE))
        if not piece:
            raise ValueError(f"truncated: the data ends inside {what} ({got} of {n} bytes)")
        parts.append(piece)
        got += len(piece)
    return b"".join(parts)


def read_into(f: Any, out: np.ndarray, what: str) -> None:
    """Fill the C-contiguous ``out`` from ``f`` in pieces (never more than READ_PIECE at once)."""
    view = memoryview(out.reshape(-1).view(np.uint8))
    got, n = 0, view.nbytes
    while got < n:
        piece = f.read(min(n - got, READ_PIECE))
        if not piece:
            raise ValueError(f"truncated: {what} holds {got} of the {n} bytes its header declares")
        view[got : got + len(piece)] = piece
        got += len(piece)


def _pick(keys: list[str], key: str | None, what: str) -> str:
    if key is not None:
        if key not in keys:
            shown = ", ".join(repr(k) for k in keys[:20]) + (", ..." if len(keys) > 20 else "")
            raise KeyError(f"no {what} {key!r} (it holds: {shown or 'nothing'})")
        return key
    if len(keys) == 1:
        return keys[0]
    if DATASET in keys:
        return DATASET
    if not keys:
        raise ValueError(f"holds no {what}s")
    shown = ", ".join(keys[:20]) + (", ..." if len(keys) > 20 else "")
    raise ValueError(f"holds {len(keys)} {what}s ({shown}); name one as FILE:KEY")
