"""Random-access reads from a path, a binary file object or bytes."""

from __future__ import annotations

import errno
import io
import mmap
import operator
import os
import stat
import sys
import threading
from typing import Any, BinaryIO

from ..layout import PREAMBLE_SIZE, SIGNATURE
from ..output import STDIO

Openable = str | os.PathLike | bytes | bytearray | memoryview | mmap.mmap | BinaryIO
IN_MEMORY = (bytes, bytearray, memoryview, mmap.mmap)  # sources read in place


def _looks_like_a_name(data: object) -> bool:
    """Whether bytes given as a file's contents look rather like a file's name (``load(b"x.spk")``):
    short printable text with a dot or a slash, not a spike file's start. Only names the source
    in errors; the bytes are still what is read. (Not whether such a file exists: bytes from a
    client must not tell it which paths exist on a server.)"""
    if not isinstance(data, bytes) or not 0 < len(data) <= 4096 or data.startswith(SIGNATURE):
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return text.isprintable() and ("." in text or "/" in text)


def buffer_bytes(source: bytes | bytearray | memoryview | mmap.mmap) -> memoryview:
    """A file's bytes given in memory, as a flat view of bytes (not a copy). A strided view (a
    memoryview of ``a[::2]``) is refused: its bytes are not the file's in a row. The one check
    for every reader of bytes: SpikeStream copied such a view with bytes() and read it, where
    decode, open and validate refused it."""
    view = memoryview(source)
    if not view.c_contiguous:
        raise TypeError("the file's bytes must be contiguous (a memoryview of a strided view is not): pass bytes(view)")
    return view.cast("B")


class Source:
    """``read_at(offset, n)`` over whatever the caller gave; offsets count from the file's start.

    A path is read with ``os.pread`` (safe from many threads); a seekable file object from the
    position it had when handed over (a spike file may sit inside a larger stream); an unseekable
    one (pipe, socket) is read to its end first, since a reader needs the trailer. So is a path
    that names a pipe (``<(cat x.spk)``, a named pipe); a path that names a directory or a device
    is refused (a device's size says nothing about what it holds, and /dev/zero never ends).
    The path ``-`` is standard input, read whole as a pipe is (as ``save("-")`` writes standard
    output); a file named ``-`` is ``./-``.
    """

    def __init__(self, source: Openable, max_bytes: int | None = None):
        """``max_bytes``: the most a pipe read whole may hold (the reader's ``max_bytes``: its
        bytes are allocated as a read's are); None, no cap."""
        self._fd: int | None = None
        self._file: BinaryIO | None = None
        self._buf: memoryview | None = None
        self._lock = threading.Lock()
        self._reading = 0  # reads of the path's descriptor under way: close() leaves it to the last
        self._close_fd: int | None = None
        self.name = "<bytes>"
        self.from_pipe = False  # a path naming a pipe, read whole: it cannot be opened again
        if isinstance(source, IN_MEMORY):  # read in place, not copied (an mmap too: it has no seekable())
            self._buf = buffer_bytes(source)
            self.size = len(self._buf)
            if _looks_like_a_name(source):
                self.name = f"<bytes {bytes(source)!r:.80}, read as a file's contents: give a file's name as str or Path>"
        elif isinstance(source, (str, os.PathLike)) and os.fspath(source) == STDIO:
            # The command line's convention, which save("-") follows for standard output: read
            # as any pipe is, within max_bytes; from_pipe lets the reader pickle as these bytes.
            self.name = "<stdin>"
            self._buf = memoryview(read_stream(binary_stdin(), max_bytes, self.name))
            self.size = len(self._buf)
            self.from_pipe = True
        elif isinstance(source, (str, os.PathLike)):
            self.name = os.fspath(source)
            fd = os.open(self.name, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            try:
                mode = os.fstat(fd).st_mode
                if stat.S_ISDIR(mode):
                    raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), self.name)
                if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
                    with os.fdopen(fd, "rb", closefd=False) as f:
                        self._buf = memoryview(read_stream(f, max_bytes, self.name))
                    self.size = len(self._buf)
                    self.from_pipe = True
                    os.close(fd)
                    return
                if not stat.S_ISREG(mode):
                    raise OSError(errno.ENODEV, "not a regular file or a pipe (a device)", self.name)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
            self.size = os.fstat(fd).st_size
        elif hasattr(source, "read"):
            binary_file(source, "rb")
            name = getattr(source, "name", "<stream>")
            self.name = f"<pipe fd {name}>" if isinstance(name, int) else str(name)  # a subprocess's stdout is named by its fd
            at_end = _position_and_end(source) if _seekable(source) else None
            if at_end is not None:
                self._file = source
                self._base, end = at_end
                self.size = end - self._base
                if self._base:  # offsets count from here: say so (an object just written, not rewound, reads as 0 bytes)
                    self.name += f" (read from its position {self._base}{': seek(0) to read it from its start' if not self.size else ''})"
            else:
                self._buf = memoryview(read_stream(source, max_bytes, self.name))
                self.size = len(self._buf)
        else:
            hint = ": pass memoryview(array) or array.tobytes() for an array of the file's bytes" if type(source).__name__ == "ndarray" else ""
            raise TypeError(f"expected a path, bytes or a binary file object, got {type(source).__name__}{hint}")

    def refresh_size(self) -> int:
        """Re-read the size (a file that a writer is still appending to grows)."""
        if self._fd is not None:
            self.size = os.fstat(self._fd).st_size
            return self.size
        if self._file is not None:
            with self._lock:
                self.size = self._file.seek(0, io.SEEK_END) - self._base
        return self.size

    def read_at(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``offset`` (fewer only at the end of the file)."""
        n = max(0, min(n, self.size - offset))
        if n == 0:
            return b""
        if self._buf is not None:
            return bytes(self._buf[offset : offset + n])
        if self._file is None:  # a path: pread, from any thread, while the descriptor stays open
            with self._lock:
                fd = self._fd
                if fd is None:  # closed by another thread since the reader checked: not a read of None
                    raise ValueError(f"{self.name}: read from a closed spike file")
                self._reading += 1
            try:
                parts = []
                while n:
                    part = os.pread(fd, n, offset)
                    if not part:
                        break
                    parts.append(part)
                    offset += len(part)
                    n -= len(part)
                return b"".join(parts)
            finally:
                with self._lock:
                    self._reading -= 1
                    if not self._reading and self._close_fd is not None:
                        os.close(self._close_fd)
                        self._close_fd = None
        with self._lock:
            self._file.seek(self._base + offset)
            # A raw file object may return fewer bytes than asked (a legal short read): read on,
            # or a whole file read as "file is 1 bytes, too short" and its checks failed.
            parts = []
            while n:
                part = read_now(self._file, n, self.name)
                if not part:
                    break
                parts.append(part)
                n -= len(part)
            return b"".join(parts)

    def view_at(self, offset: int, n: int) -> bytes | memoryview:
        """As :meth:`read_at`, but a view rather than a copy where the source is in memory."""
        if self._buf is not None:
            return self._buf[offset : offset + max(0, min(n, self.size - offset))]
        return self.read_at(offset, n)

    def close(self) -> None:
        """Close a path's descriptor: now, or when the reads under way in other threads end (it
        is never closed under them, where its number could be reused by another file meanwhile)."""
        with self._lock:
            fd, self._fd = self._fd, None
            if fd is not None:
                if self._reading:
                    self._close_fd = fd
                else:
                    os.close(fd)


def read_checked(file: Any, n: int, name: str) -> bytes | None:
    """``file.read(n)``, checked to be at most ``n`` bytes (None or b"": none there now): the one
    check of what a caller's file object reads, for every reader of one. A file object that
    returns text (a duck-typed reader decoding its bytes) looped for ever, each str taken for
    bytes that never added up, its memory growing; one that returns more than asked was blamed
    on the stream's reader ("read forward only")."""
    part = file.read(n)
    if part is None:
        return None
    if not isinstance(part, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name}: the file object's read() returned {type(part).__name__}, not bytes: "
                        f"give a binary file object (opened 'rb')")
    if len(part) > n:
        raise ValueError(f"{name}: the file object's read({n}) returned {len(part)} bytes, more than asked for")
    return bytes(part)


def read_now(file: Any, n: int, name: str) -> bytes:
    """:func:`read_checked` for a reader that does not wait (a whole-file read, a seekable
    file's reads): None - a non-blocking raw file with no bytes now - is BlockingIOError, where
    it had been taken for the end of the file ("file is 0 bytes", of a file that was not)."""
    part = read_checked(file, n, name)
    if part is None:
        raise BlockingIOError(errno.EAGAIN, f"{name}: the file object is non-blocking and has no bytes now: give a "
                              "blocking one (or follow it with SpikeStream, which waits)")
    return part


def read_stream(f: BinaryIO, max_bytes: int | None, name: str = "") -> bytes:
    """An unseekable stream read to its end, as a reader needs its trailer - but only past a
    spike file's signature (bytes that do not start with one are refused at their first byte,
    not after an endless pipe's gigabytes), and at most ``max_bytes`` (else LimitError, naming
    the stream as ``name`` when given)."""
    head = b""
    while len(head) < PREAMBLE_SIZE:
        part = read_now(f, PREAMBLE_SIZE - len(head), name or "<stream>")
        if not part:
            return head
        head += part
    if head[: len(SIGNATURE)] != SIGNATURE:
        return head  # the preamble's check reports it
    parts, total = [head], len(head)
    while part := read_now(f, 1 << 20, name or "<stream>"):
        total += len(part)
        if max_bytes is not None and total > max_bytes:
            from ..errors import LimitError

            raise LimitError(f"{name + ': ' if name else ''}a stream is read whole before its trailer, and this one is over "
                             f"max_bytes={max_bytes} bytes (raise it: max_bytes=, --max-bytes)", code="limit-bytes")
        parts.append(part)
    return b"".join(parts)


def binary_stdin() -> BinaryIO:
    """Standard input's binary stream, for the path ``-`` (the library's and the command
    line's). A terminal is refused: the caller forgot to pipe or redirect a file, and a read
    would wait for typing."""
    stream = sys.stdin
    if stream is None or getattr(stream, "closed", False):
        raise OSError(errno.EBADF, "standard input is closed", STDIO)
    try:
        terminal = stream.isatty()
    except (AttributeError, OSError, ValueError):
        terminal = False
    if terminal:
        raise OSError(errno.EINVAL, "standard input is a terminal: pipe or redirect a file into it "
                      "(e.g. `< x.spk`); a file named '-' is './-'", STDIO)
    binary = getattr(stream, "buffer", None)
    if binary is None and isinstance(stream, io.TextIOBase):  # sys.stdin replaced by a text stream (io.StringIO)
        raise OSError(errno.EINVAL, "standard input is a text stream with no binary buffer", STDIO)
    return binary if binary is not None else stream


def binary_file(file: BinaryIO, mode: str) -> BinaryIO:
    """``file``, a file object the caller gave, checked for ``mode`` (``"rb"`` or ``"wb"``): one
    opened in text mode (``open(p)``, ``io.StringIO``, ``sys.stdin``) or that is no file at all
    (``None``, an int, an array) is a TypeError saying so; one that is closed, or not open for
    ``mode`` (a file opened ``"rb"`` given to a writer) is a ValueError saying so - not a
    decoding error, an ``UnsupportedOperation`` or an AttributeError from its first read or write."""
    if isinstance(file, io.TextIOBase):
        raise TypeError(f"expected a binary file object, got a text one ({type(file).__name__}): open it with {mode!r}")
    method = "read" if "r" in mode else "write"
    if not callable(getattr(file, method, None)):
        raise TypeError(f"expected a path or a binary file object (with a {method} method), got {type(file).__name__}")
    name = getattr(file, "name", None)
    what = f"file {name!r}" if isinstance(name, (str, bytes)) else f"{type(file).__name__} file"
    if getattr(file, "closed", False) is True:
        raise ValueError(f"the {what} is closed")
    able = getattr(file, "readable" if method == "read" else "writable", None)
    if callable(able):
        try:
            ok = able()
        except (OSError, ValueError):  # a file object that cannot say: its reads or writes will
            ok = True
        if ok is False:
            raise ValueError(f"the {what} is not open for {'reading' if method == 'read' else 'writing'}: open it with {mode!r}")
    return file


def write_all(file: BinaryIO, data: bytes) -> None:
    """Write all of ``data`` to the caller's ``file``. A raw file object (an unbuffered socket
    file with a timeout, a pipe's FileIO, an adapter) may take only part of it and say so by the
    count it returns: the rest is written, and a write that takes nothing is an OSError, never
    success with bytes missing (a receiver got 32 KB of 262 KB and a writer that said all went).
    A raw file that would block (None) is an error too; another object returning None (a sink
    of one's own, duck-typed) is taken to have written everything, as before."""
    n = file.write(data)
    if n is None:
        if isinstance(file, io.RawIOBase):
            raise BlockingIOError(errno.EAGAIN, "the file object is non-blocking and would block: nothing more was written")
        return
    n = _byte_count(n, len(data))
    rest = memoryview(data)[n:] if n < len(data) else None
    while rest:
        n = file.write(rest)
        if n is None and not isinstance(file, io.RawIOBase):
            return
        if not n:
            raise OSError(errno.EIO, f"short write: the file object took none of the last {len(rest)} bytes")
        rest = rest[_byte_count(n, len(rest)):]


def _byte_count(n: object, size: int) -> int:
    """What a file object's write() of ``size`` bytes returned, checked: a count of 0 .. size
    (-1, as a C-style sink says it failed, had looped for ever)."""
    try:
        count = operator.index(n)
    except TypeError:
        raise TypeError(f"the file object's write() returned {n!r:.40}, not a byte count") from None
    if not 0 <= count <= size:
        raise OSError(errno.EIO, f"the file object's write() of {size} bytes returned {count}")
    return count


def flush(file: BinaryIO) -> None:
    """Flush the caller's ``file``; one without a flush method (a sink of one's own) has nothing
    buffered to flush."""
    method = getattr(file, "flush", None)
    if callable(method):
        method()


def _position_and_end(f) -> tuple[int, int] | None:
    """(position, end) of a file object that says it is seekable, or None when its tell or seek
    fails anyway (io.UnsupportedOperation from a wrapper over a pipe): it is then read as a
    stream, from where it is, where the failure reached the caller as a bare "seek"."""
    try:
        position = f.tell()
        return position, f.seek(0, io.SEEK_END)
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None


def _seekable(f) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        return False
