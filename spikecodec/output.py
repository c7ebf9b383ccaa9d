"""Outputs that appear whole or not at all: written beside the target, then renamed into place.

One helper for every file the library and the command line write (spike files, priors,
decoded arrays): :func:`atomic_path`, :func:`binary_output`, :func:`write_file`."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
from typing import BinaryIO, Iterator

STDIO = "-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path in the target's directory; on success it replaces ``path``.

    On any failure, Ctrl-C or SIGTERM included (see :func:`terminate_cleanly`), the temporary
    file is removed and an existing ``path`` is left as it was.
    """
    directory = os.path.dirname(os.path.abspath(path))
    # An interrupt that landed after mkstemp made the file but before the ``try`` below could
    # remove it would leave it behind (SIGTERM raises KeyboardInterrupt at the next bytecode; a
    # test that sends it the moment the file appears hit that window under load). Interrupts
    # are deferred until the clean-up is in place, and one that came meanwhile is raised inside it.
    _defer_interrupts()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    except BaseException:
        _resume_interrupts()
        raise
    try:
        try:
            os.close(fd)
        finally:
            _resume_interrupts()
        yield tmp
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class _Interrupts:
    """Whether interrupts are being deferred, and whether one came meanwhile. Python runs signal
    handlers in the main thread only, whichever thread the signal reached, so a flag suffices
    (a thread's signal mask would not: numpy's worker threads would take the signal)."""

    deferred = False
    pending = False


def _defer_interrupts() -> None:
    _Interrupts.deferred = True


def _resume_interrupts() -> None:
    """Stop deferring; an interrupt that came meanwhile is raised here."""
    _Interrupts.deferred = False
    if _Interrupts.pending:
        _Interrupts.pending = False
        raise KeyboardInterrupt


@contextlib.contextmanager
def binary_output(path: str) -> Iterator[BinaryIO]:
    """A binary file to write to: stdout for ``-``, else an atomically replaced file."""
    if path == STDIO:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        yield f


def write_file(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (see :func:`atomic_path`)."""
    with atomic_path(os.fspath(path)) as tmp, open(tmp, "wb") as f:
        f.write(data)


@contextlib.contextmanager
def terminate_cleanly() -> Iterator[None]:
    """Within: SIGTERM unwinds like Ctrl-C, and both wait while :func:`atomic_path` arms its
    clean-up, so temporary files are removed on the way out. The previous handlers come back on
    exit, so a caller running the command line in its own process keeps its signal handling
    (a forked worker that inherited ours would take SIGTERM as an exception to defer or catch)."""

    def handler(signum: int, frame: object) -> None:
        if _Interrupts.deferred:
            _Interrupts.pending = True
            return
        raise KeyboardInterrupt

    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    installed = False
    with contextlib.suppress(ValueError):  # not in the main thread (e.g. called from tests)
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
        installed = True
    try:
        yield
    finally:
        if installed:
            for s, h in previous.items():
                if h is not None:  # None: set outside Python, cannot be put back from here
                    signal.signal(s, h)
