"""Turning expected failures into one line ``spikecodec: error: <file>: <problem>``."""

from __future__ import annotations

import contextlib
import pickle
from typing import Iterator

from spikecodec import FormatError, LimitError

LIMIT_EXIT = 3  # the exit status of a file refused only by --max-bytes / --max-work


class CliError(Exception):
    """A failure the user can act on: printed as one line, never as a traceback."""

    def __init__(self, file: str | None, message: str, code: int = 1):
        self.file = file
        self.message = message
        self.code = code
        super().__init__(f"{file}: {message}" if file else message)


def printable(text: str) -> str:
    """``text`` with control characters escaped (a newline, a terminal escape, a byte that is no
    UTF-8 in a file name): an error line stays one line, and a name found in someone else's folder
    cannot drive the terminal."""
    return text if text.isprintable() else "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def describe(exc: BaseException) -> str:
    """The problem without the file name (the caller adds it once)."""
    if isinstance(exc, FormatError):
        return f"at byte {exc.offset}: {exc.message}" if exc.offset is not None else exc.message
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, OSError) and "requested and" in str(exc) and "written" in str(exc):  # numpy's tofile
        return f"short write ({exc}): the disk is full or a file-size limit was reached"
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc) or type(exc).__name__


def out_of_memory(exc: MemoryError) -> str:
    """One line for a failed allocation (numpy's message says how much it wanted)."""
    return f"out of memory: {exc} (lower --max-bytes, or free memory)" if str(exc) else "out of memory (lower --max-bytes, or free memory)"


# What bad input, bad options or a bad file system raise; anything else is a bug and shows a traceback.
EXPECTED = (FormatError, ValueError, OSError, KeyError, IndexError, EOFError, RecursionError, pickle.UnpicklingError)


@contextlib.contextmanager
def about(file: str) -> Iterator[None]:
    """Attribute any expected failure inside the block to ``file``."""
    try:
        yield
    except (CliError, BrokenPipeError):  # a closed stdout is not the file's fault; main() handles it
        raise
    except LimitError as exc:  # not a bad file: over the limits this run was given (exit 3)
        raise CliError(file, describe(exc), LIMIT_EXIT) from exc
    except MemoryError as exc:  # within --max-bytes, but more than this machine (or ulimit -v) gives
        raise CliError(file, out_of_memory(exc)) from exc
    except EXPECTED as exc:
        raise CliError(file, describe(exc)) from exc
