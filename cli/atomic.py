"""Outputs that appear whole or not at all: written beside the target, then renamed into place."""

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
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
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


@contextlib.contextmanager
def binary_output(path: str) -> Iterator[BinaryIO]:
    """A binary file to write to: stdout for ``-``, else an atomically replaced file."""
    if path == STDIO:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        yield f


def terminate_cleanly() -> None:
    """Make SIGTERM unwind like Ctrl-C, so temporary files are removed on the way out."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    with contextlib.suppress(ValueError):  # not in the main thread (e.g. called from tests)
        signal.signal(signal.SIGTERM, handler)
