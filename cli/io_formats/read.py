"""Reading an input named on the command line: a path, ``path:key`` or ``-`` (stdin)."""

from __future__ import annotations

import io
from typing import Any, Sequence

import spikecodec
from spikecodec.container.source import binary_stdin
from spikecodec.limits import DEFAULT_MAX_DECODED_BYTES

from .checks import (
    INPUT_FORMATS,
    Loaded,
    MAX_NPY_HEADER,
    MESSAGE_CHARS,
    SIDE_BYTES,
    STDIO,
    array_text,
    check_size,
    file_format,
    limit_error,
    one_line,
    open_regular,
    split_key,
)
from .checks import _KEYED
from .hdf5 import _read_h5
from .npy import _read_npz, load_npy, read_npy_header, trailing_data, _array_from
from .torch_files import _read_torch

class _Prefixed:
    """A stream's first bytes, already read, put back in front of the rest."""

    def __init__(self, head: bytes, rest: Any):
        self.head, self.rest = head, rest

    def read(self, n: int) -> bytes:
        if self.head:
            piece, self.head = self.head[:n], self.head[n:]
            return piece
        return self.rest.read(n)


def _read_stdin(key: str | None, max_bytes: int) -> Loaded:
    """.npy from stdin, read in bounded pieces after its header was checked (an .npz is also
    taken, read whole up to a bound)."""
    stream = binary_stdin()
    head = stream.read(8)
    if head[:4] == b"PK\x03\x04":
        bound = max_bytes + SIDE_BYTES + 2 * MAX_NPY_HEADER
        data = head + stream.read(bound + 1 - len(head))
        if len(data) > bound:
            raise limit_error(f"the .npz data on stdin runs past {bound} bytes, over the limit of {max_bytes} "
                              "(raise it with --max-bytes)")
        return _read_npz(io.BytesIO(data), key, max_bytes)
    if key is not None:
        raise ValueError(f"a .npy file holds one array; drop ':{key}'")
    f = _Prefixed(head, stream)
    h = read_npy_header(f)
    check_size(array_text(h.shape, h.dtype), h.nbytes, max_bytes)
    array = _array_from(f, h, "stdin")
    if f.read(1):
        raise trailing_data(h.offset + h.nbytes)
    return Loaded(array)


# --- reading an input --------------------------------------------------------------------------------


def read_input(spec: str, max_bytes: int = DEFAULT_MAX_DECODED_BYTES, priors: Sequence[Any] = ()) -> Loaded:
    """Load the array named by ``spec`` (a path, ``path:key`` or ``-`` for .npy on stdin).

    Nothing larger than ``max_bytes`` (the decoded array's bytes, as its file declares them) is
    read; any other problem with the file is a one-line ``ValueError``, ``KeyError`` or ``OSError``.
    ``priors``: priors a spike file may name (--prior)."""
    try:
        return _read_input(spec, max_bytes, priors)
    except RecursionError:
        raise ValueError("nests too deeply to be read") from None
    except ValueError as exc:  # a foreign message over several lines is cut to its first
        if isinstance(exc, spikecodec.FormatError) or ("\n" not in str(exc) and len(str(exc)) <= 2 * MESSAGE_CHARS):
            raise
        raise ValueError(one_line(exc)) from None


def _read_input(spec: str, max_bytes: int, priors: Sequence[Any]) -> Loaded:
    path, key = split_key(spec)
    fmt = file_format(path)
    if fmt is None:
        raise ValueError(f"unknown input format (expected one of .{', .'.join(INPUT_FORMATS)}, or - for .npy on stdin)")
    if key == "":
        raise ValueError("names no key after ':' (FILE:KEY names an array in the file; drop the ':' for its only one)")
    if key is not None and fmt not in _KEYED:
        raise ValueError(f"a .{fmt} file holds one array; drop ':{key}'")
    if path == STDIO:
        return _read_stdin(key, max_bytes)
    if fmt == "npy":
        # Memory-mapped: only the uint8 copy made for encoding is held in memory.
        return Loaded(load_npy(path, max_bytes))
    if fmt == "npz":
        with open_regular(path) as f:
            return _read_npz(f, key, max_bytes)
    if fmt == "pt":
        return _read_torch(path, key, max_bytes)
    if fmt == "h5":
        return _read_h5(path, key, max_bytes)
    with spikecodec.open(path, max_bytes=max_bytes, priors=list(priors)) as r:
        return Loaded(r.read(), r.axes, r.metadata, r.bits)
