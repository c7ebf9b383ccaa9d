"""Outputs that appear whole or not at all, for every file the library and the command line
write (spike files, priors, decoded arrays, plots): :func:`output_file`, :func:`write_file`.

* A regular file (or a new one) is written beside the target under a temporary name, synced,
  and renamed over it: a reader sees the old file or the new one, never half of one. It keeps
  the mode (and, for root, the owner) the file had. A file the caller could not open for
  writing (read-only, for a user other than root) is refused, as ``open(path, "wb")`` would be.
* A symbolic link is followed: its target is replaced and the link stays.
* A device, a FIFO or a socket is written through, never replaced (``-o /dev/null``,
  ``-o /dev/stdout``, a named pipe a reader waits on).
* ``-`` is standard output; every write is checked (a short write - a full disk, a file-size
  limit - is an error, not a truncated success).
* Ctrl-C, SIGTERM and SIGHUP remove the temporary file on the way out (:func:`terminate_cleanly`).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import signal
import stat
import sys
import tempfile
import threading
from typing import Any, BinaryIO, Callable, Iterator, Sequence

try:
    import fcntl
except ImportError:  # not on Windows: no advisory locks there
    fcntl = None  # type: ignore[assignment]

STDIO = "-"
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
GRACE_SECONDS = 0.5  # a signal not handled by the main thread within this is handled by force


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class OutputError(OSError):
    """An output that cannot be written where it was asked to go (the message says why)."""


def named_write_error(exc: OSError, name: str) -> OSError:
    """A failed write as OutputError naming the output (a full disk, a file-size limit: the
    bare OSError said "No space left on device" and where not), but a reader gone (EPIPE, a
    reset) as it is: the command line stops quietly on those."""
    if isinstance(exc, (OutputError, BrokenPipeError, ConnectionError)) or exc.errno is None:
        return exc
    return OutputError(exc.errno, exc.strerror, name)


class _OutputFileIO(io.FileIO):
    """The raw file under an output's buffered writer: its write errors name the output."""

    def __init__(self, path: str, name: str):
        super().__init__(path, "wb")
        self.output_name = name

    def write(self, data: Any) -> int:
        try:
            return super().write(data)
        except OSError as exc:
            raise named_write_error(exc, self.output_name) from None


class _Temporaries:
    """Temporary files being written now: removed by :func:`atomic_path` on any failure, and by
    the watchdog of :func:`terminate_cleanly` when a signal must end the process at once."""

    paths: set[str] = set()
    lock = threading.Lock()

    @classmethod
    def remove_all(cls) -> None:
        with cls.lock:
            for path in list(cls.paths):
                with contextlib.suppress(OSError):
                    os.unlink(path)
            cls.paths.clear()


def resolve_target(path: str | os.PathLike) -> str:
    """The file an output to ``path`` lands in: symbolic links followed to their target."""
    return os.path.realpath(os.fspath(path))


def named_descriptor(path: str | os.PathLike) -> int | None:
    """The descriptor of this process that ``path`` names - ``/dev/stdout`` (1), ``/dev/stderr``
    (2), ``/dev/fd/N``, ``/proc/self/fd/N`` - or None. Such an output is written to the
    descriptor as it is (a shell's ``>>`` appends, a pipe is written), never replaced: following
    the link instead had replaced the file standard output was redirected to."""
    name = os.fspath(path)
    if not isinstance(name, str):
        return None
    fixed = {"/dev/stdout": 1, "/dev/stderr": 2}
    if name in fixed:
        return fixed[name]
    for folder in ("/dev/fd/", "/proc/self/fd/", f"/proc/{os.getpid()}/fd/"):
        if name.startswith(folder) and name[len(folder):].isdigit() and name[len(folder):].isascii():
            return int(name[len(folder):])
    return None


def written_through(path: str | os.PathLike) -> bool:
    """True for a device or FIFO (a symbolic link followed), or a descriptor of this process
    (:func:`named_descriptor`): written through, never replaced, and named without an extension
    that says a format (``/dev/null``, a named pipe, ``/dev/stdout``)."""
    if named_descriptor(path) is not None:
        return True
    try:
        mode = os.stat(resolve_target(path)).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode)


def reads_back(path: str | os.PathLike) -> bool:
    """Whether an output written to ``path`` is a regular file that can be read back (for a
    summary of it): not standard output, a descriptor, a device or a FIFO."""
    return os.fspath(path) != STDIO and not written_through(path) and os.path.isfile(path)


def refuse_folder_name(path: str | os.PathLike) -> None:
    """A name ending in a slash names a folder: ``realpath`` drops the slash, which made
    ``-o new/`` write a file named ``new`` (and ``-o file/`` replace ``file``). Every output
    path is checked here: save's, the command line's, a SpikeWriter's."""
    name = os.fspath(path)
    if not name:  # realpath("") is the working folder
        raise OutputError(errno.ENOENT, "an empty name names no file", name)
    if name.endswith(("/", os.sep)) and not os.path.isdir(name):
        raise OutputError(errno.ENOTDIR, "ends in '/' but is no folder: name a file", name)


def cannot_create(exc: OSError, path: str | os.PathLike) -> OSError:
    """An OSError from making or opening the output file ``path`` as the OutputError that says
    why, one wording for save, the command line and a SpikeWriter (whose open had raised a bare
    IsADirectoryError or FileNotFoundError): a folder where the file goes, or a folder on the
    way that is missing, is a file, or takes no new files (/proc/self). Any other error as a
    write error naming the output (:func:`named_write_error`)."""
    if isinstance(exc, IsADirectoryError):
        return OutputError(errno.EISDIR, "is a directory: name a file in it", os.fspath(path))
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        directory = os.path.dirname(resolve_target(path))
        why = "takes no new files" if os.path.isdir(directory) else "is a file, not a folder" if os.path.exists(directory) else "is missing"
        return OutputError(exc.errno, f"{exc.strerror} (the folder {directory} {why})", os.fspath(path))
    return named_write_error(exc, os.fspath(path))


def _existing_mode(path: str | os.PathLike, target: str) -> int | None:
    """The mode of the file at ``target`` that an output to ``path`` replaces or writes through;
    None when there is none yet. A folder there, or a file on the way taken for a folder
    (``old.spk/new.spk``: a bare NotADirectoryError from stat), is refused here, before any
    temporary file or work."""
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:  # a new file; a missing folder is said when the file is made
        return None
    except OSError as exc:
        raise cannot_create(exc, path) from None
    if stat.S_ISDIR(mode):
        raise cannot_create(IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR)), path)
    return mode


def refuse_inputs(output: str | os.PathLike, inputs: Sequence[str | os.PathLike]) -> None:
    """Raise :class:`OutputError` when ``output`` is one of ``inputs`` (the same file, by
    device and inode, or the same resolved path): writing it would destroy what is read. For
    ``-``, when standard output is a regular file that is an input (``recover x.spk -o - >>
    x.spk``: the output went onto the end of its own input, and the command said it was done;
    ``cat`` refuses the same)."""
    if os.fspath(output) == STDIO:
        _refuse_stdout_input(inputs)
        return
    out = resolve_target(output)
    for item in inputs:
        if os.fspath(item) == STDIO:
            # Standard input redirected from a file: that file, which /dev/stdin or its own
            # name as the output would replace.
            try:
                held, there = os.fstat(0), os.stat(out)
            except (OSError, ValueError):  # no standard input, or no output file yet
                continue
            if stat.S_ISREG(held.st_mode) and (held.st_dev, held.st_ino) == (there.st_dev, there.st_ino):
                raise OutputError("is also an input (standard input is read from it): refusing to overwrite it")
            continue
        src = resolve_target(item)
        same = src == out
        if not same:
            with contextlib.suppress(OSError):
                same = os.path.samefile(src, out)
        if same:  # the input's own name only where it differs (a link, another spelling)
            also = "" if os.fspath(item) == os.fspath(output) else f" ({os.fspath(item)})"
            raise OutputError(f"is also an input{also}: refusing to overwrite it")


def _refuse_stdout_input(inputs: Sequence[str | os.PathLike]) -> None:
    """:func:`refuse_inputs` for an output to standard output: a pipe, terminal or device holds
    nothing of an input; a regular file may be one (by device and inode)."""
    try:
        held = os.fstat(1)
    except (OSError, ValueError):  # no standard output: writing to it says so
        return
    if not stat.S_ISREG(held.st_mode):
        return
    for item in inputs:
        try:
            there = os.fstat(0) if os.fspath(item) == STDIO else os.stat(item)
        except (OSError, ValueError):
            continue
        if stat.S_ISREG(there.st_mode) and (there.st_dev, there.st_ino) == (held.st_dev, held.st_ino):
            name = "standard input" if os.fspath(item) == STDIO else os.fspath(item)
            raise OutputError(f"standard output is also an input ({name}): refusing to write into it")


def lock_for_writing(fd: int, path: str | os.PathLike) -> None:
    """One SpikeWriter a file at a time (an advisory lock on its descriptor ``fd``, which other
    SpikeWriters respect, and :func:`atomic_path` too): two on one path both reported success,
    and the file held one's frames, the other's gone, or neither whole. A device or FIFO is
    written through, unlocked."""
    if fcntl is None or not stat.S_ISREG(os.fstat(fd).st_mode):
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise OutputError(errno.EBUSY, "another SpikeWriter is writing this file", os.fspath(path)) from None


def _refuse_locked(target: str, path: str | os.PathLike) -> None:
    """OutputError when a SpikeWriter holds ``target``: replacing it (``save`` onto the path a
    writer streams to) had sent the writer's later frames to a file no one could open. A shared
    lock is asked for: it fails only beside an exclusive one (a writer's), not beside another
    program's shared lock."""
    if fcntl is None:
        return
    try:
        fd = os.open(target, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError:
        return  # unreadable: the rename's own checks speak for it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise OutputError(errno.EBUSY, "a SpikeWriter (or a process it forked) is writing this file", os.fspath(path)) from None
    except OSError:
        pass
    finally:
        os.close(fd)  # the lock, if taken, goes with it


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``'s target; on success it replaces the target,
    with the mode (and for root the owner) the target had. On any failure, Ctrl-C, SIGTERM or
    SIGHUP included (see :func:`terminate_cleanly`), the temporary file is removed and the
    target left as it was. Only for regular files: :func:`output_file` routes the others."""
    target = resolve_target(path)
    directory = os.path.dirname(target)
    try:
        old = os.stat(target)
    except FileNotFoundError:
        old = None
    except OSError as exc:
        raise OutputError(f"cannot reach {target}: {exc.strerror}") from None
    if old is not None and not os.access(target, os.W_OK):  # as open() for writing would: a rename ignores the file's mode
        raise OutputError(errno.EACCES, "is not writable (read-only): not replaced", os.fspath(path))
    if old is not None and stat.S_ISREG(old.st_mode):
        _refuse_locked(target, path)
    # An interrupt that landed after mkstemp made the file but before the ``try`` below could
    # remove it would leave it behind (SIGTERM raises KeyboardInterrupt at the next bytecode; a
    # test that sends it the moment the file appears hit that window under load). Interrupts
    # are deferred until the clean-up is in place, and one that came meanwhile is raised inside it.
    _defer_interrupts()
    try:
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory)
        except PermissionError:
            raise OutputError(f"cannot write a temporary file in {directory} (not writable): the output would not be atomic") from None
        except (FileNotFoundError, NotADirectoryError) as exc:  # named for the target, not the temporary file
            raise cannot_create(exc, path) from None
        with _Temporaries.lock:
            _Temporaries.paths.add(tmp)
    except BaseException:
        _resume_interrupts()
        raise
    try:
        try:
            os.close(fd)
        finally:
            _resume_interrupts()
        yield tmp
        # mkstemp makes the file private (0600): give it the mode the target had, else the one a
        # plain open() would.
        os.chmod(tmp, stat.S_IMODE(old.st_mode) if old is not None else 0o666 & ~_umask())
        if old is not None and os.geteuid() == 0:
            with contextlib.suppress(OSError):
                os.chown(tmp, old.st_uid, old.st_gid)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        with _Temporaries.lock:
            _Temporaries.paths.discard(tmp)


class CheckedWriter:
    """A binary file object over a file descriptor whose every write is checked: a write that
    makes no progress (a full disk, a file-size limit) raises instead of losing bytes."""

    def __init__(self, fd: int, name: str):
        self.fd = fd
        self.name = name

    def write(self, data: bytes | memoryview) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            try:
                n = os.write(self.fd, view[done:])
            except OSError as exc:
                raise named_write_error(exc, self.name) from None
            if n <= 0:
                raise OutputError(f"{self.name}: write made no progress ({done} of {len(view)} bytes written)")
            done += n
        return done

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


def _stdout() -> CheckedWriter:
    out = sys.stdout
    if out is None or out.closed:
        raise OutputError("standard output is closed")
    try:
        out.flush()
        fd = out.fileno()
    except (OSError, ValueError, AttributeError):
        raise OutputError("standard output is closed") from None
    return _descriptor_writer(fd, "<stdout>", "standard output")


def _descriptor_writer(fd: int, name: str, what: str) -> CheckedWriter:
    """A checked writer to descriptor ``fd`` of this process, which must be open for writing and
    not a terminal (binary data would garble it, as gzip and zstd refuse to)."""
    try:
        os.fstat(fd)
    except OSError:
        raise OutputError(f"{what} is not open") from None
    if fcntl is not None and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
        raise OutputError(f"{what} is open for reading only")
    if os.isatty(fd):
        raise OutputError(f"{what} is a terminal: redirect it to a file or pipe it on (the data is binary)")
    return CheckedWriter(fd, name)


def descriptor_output(path: str | os.PathLike) -> CheckedWriter | None:
    """A writer to the descriptor an output path names - ``-`` (standard output) or
    :func:`named_descriptor`'s - or None for any other path."""
    if os.fspath(path) == STDIO:
        return _stdout()
    fd = named_descriptor(path)
    if fd is None:
        return None
    if fd in (1, 2):  # what Python buffered for it goes first
        with contextlib.suppress(AttributeError, OSError, ValueError):
            (sys.stdout if fd == 1 else sys.stderr).flush()
    return _descriptor_writer(fd, os.fspath(path), f"descriptor {fd}")


@contextlib.contextmanager
def output_file(path: str | os.PathLike, inputs: Sequence[str | os.PathLike] = ()) -> Iterator[BinaryIO]:
    """A binary file to write an output to (see the module's rules): standard output for
    ``-``; a device, FIFO or socket written through; otherwise an atomically replaced file
    (symbolic links followed). ``inputs``: files the output must not be."""
    refuse_inputs(path, inputs)
    through = descriptor_output(path)
    if through is not None:
        yield through  # type: ignore[misc]
        return
    refuse_folder_name(path)
    target = resolve_target(path)
    mode = _existing_mode(path, target)
    if mode is not None and not stat.S_ISREG(mode):
        if stat.S_ISSOCK(mode):
            raise OutputError(f"{os.fspath(path)} is a socket: connect to it and write to the connection (- for stdout)")
        fd = os.open(target, os.O_WRONLY | getattr(os, "O_BINARY", 0))  # a device or FIFO: through it
        try:
            yield CheckedWriter(fd, os.fspath(path))  # type: ignore[misc]
        finally:
            os.close(fd)
        return
    with atomic_path(target) as tmp, io.BufferedWriter(_OutputFileIO(tmp, os.fspath(path))) as f:
        yield f


@contextlib.contextmanager
def output_path(path: str | os.PathLike, inputs: Sequence[str | os.PathLike] = ()) -> Iterator[str]:
    """A path that libraries writing by name (HDF5, matplotlib) may write, then moved into
    place as :func:`output_file` would write it: for a device or FIFO the finished file's bytes
    are copied through it."""
    refuse_inputs(path, inputs)
    refuse_folder_name(path)
    target = resolve_target(path)
    mode = _existing_mode(path, target)  # a folder refused now, not after the library wrote the file
    if named_descriptor(path) is None and (mode is None or stat.S_ISREG(mode)):
        with atomic_path(target) as tmp:
            yield tmp
        return
    with tempfile.TemporaryDirectory(prefix=".spikecodec-") as scratch:
        tmp = os.path.join(scratch, "out" + os.path.splitext(target)[1])
        with _registered(tmp):
            yield tmp
            with open(tmp, "rb") as src, output_file(path) as dst:
                while block := src.read(1 << 20):
                    dst.write(block)


@contextlib.contextmanager
def _registered(path: str) -> Iterator[None]:
    with _Temporaries.lock:
        _Temporaries.paths.add(path)
    try:
        yield
    finally:
        with _Temporaries.lock:
            _Temporaries.paths.discard(path)


def write_file(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (see :func:`output_file`)."""
    with output_file(path) as f:
        f.write(data)


@contextlib.contextmanager
def binary_output(path: str) -> Iterator[BinaryIO]:
    """:func:`output_file` (kept for the command line's callers)."""
    with output_file(path) as f:
        yield f


class _Interrupts:
    """Whether interrupts are being deferred, and whether one came meanwhile. Python runs signal
    handlers in the main thread only, whichever thread the signal reached, so a flag suffices
    (a thread's signal mask would not: numpy's worker threads would take the signal)."""

    deferred = False
    pending = False
    signum = int(signal.SIGINT)  # the last signal that interrupted (a KeyboardInterrupt of its own: Ctrl-C)


def interrupting_signal() -> int:
    """The signal behind the last interrupt raised within :func:`terminate_cleanly` (SIGINT for
    one Python raised itself): a command exits with 128 + it, as a shell reports a signal."""
    return _Interrupts.signum


def _defer_interrupts() -> None:
    _Interrupts.deferred = True


def _resume_interrupts() -> None:
    """Stop deferring; an interrupt that came meanwhile is raised here."""
    _Interrupts.deferred = False
    if _Interrupts.pending:
        _Interrupts.pending = False
        raise KeyboardInterrupt


@contextlib.contextmanager
def terminate_cleanly(last_words: Callable[[int], str] | None = None) -> Iterator[None]:
    """Within: SIGTERM and SIGHUP unwind like Ctrl-C, and all three wait while
    :func:`atomic_path` arms its clean-up, so temporary files are removed on the way out.

    The main thread handles a signal only between bytecodes: inside a compiled kernel (which
    releases the GIL) that can take as long as one chunk. A watchdog thread therefore wakes on
    the signal too (``signal.set_wakeup_fd``) and, if the main thread has not unwound within
    GRACE_SECONDS, removes the temporary files itself, writes ``last_words(signal)`` to standard
    error (the line the unwinding would have printed) and ends the process with status
    128 + signal. The previous handlers come back on exit, so a caller running the command line
    in its own process keeps its signal handling."""

    def handler(signum: int, frame: object) -> None:
        _Interrupts.signum = int(signum)
        if _Interrupts.deferred:
            _Interrupts.pending = True
            return
        raise KeyboardInterrupt

    previous = {s: signal.getsignal(s) for s in SIGNALS}
    installed = False
    with contextlib.suppress(ValueError):  # not in the main thread (e.g. called from tests)
        for s in SIGNALS:
            signal.signal(s, handler)
        installed = True
    watchdog = _Watchdog(last_words) if installed else None
    try:
        yield
    finally:
        if watchdog is not None:
            watchdog.stop()
        if installed:
            for s, h in previous.items():
                if h is not None:  # None: set outside Python, cannot be put back from here
                    signal.signal(s, h)


class _Watchdog:
    """Wakes on a signal through the interpreter's wakeup fd; ends the process if the main
    thread is stuck in compiled code (see :func:`terminate_cleanly`)."""

    def __init__(self, last_words: Callable[[int], str] | None):
        self.last_words = last_words
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.write_fd, False)
        self.previous_fd = signal.set_wakeup_fd(self.write_fd, warn_on_full_buffer=False)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="spikecodec-signals", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                got = os.read(self.read_fd, 1)
            except OSError:
                return
            if not got or self.done.is_set():
                return
            signum = got[0]
            if self.done.wait(GRACE_SECONDS):
                return  # the main thread unwound in time
            _Temporaries.remove_all()
            if self.last_words is not None:
                with contextlib.suppress(Exception):  # os.write: no lock the stuck main thread may hold
                    os.write(2, self.last_words(signum).encode(errors="replace"))
            os._exit(128 + signum)

    def stop(self) -> None:
        self.done.set()
        signal.set_wakeup_fd(self.previous_fd)
        os.write(self.write_fd, b"\0")  # wake the thread so that it ends
        self.thread.join(1.0)
        os.close(self.read_fd)
        os.close(self.write_fd)
