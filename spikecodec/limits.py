"""Hard limits that keep hostile input harmless (FORMAT.md, "Limits").

Format limits are part of the spec: a conforming writer never exceeds them and a reader rejects
any file that does. :class:`ReadLimits` is a library policy, not a format rule: what one read may
cost, in memory and in work, unless the caller raises it - one object taken by every reader
(files, streams, messages, the validator, the command line's --max-bytes and --max-work).
"""

from __future__ import annotations

import operator
import os
from dataclasses import dataclass

import numpy as np

MAX_RANK = 8
MAX_HEADER_SIZE = 1 << 20  # bytes of header body
MAX_AXIS_NAME = 16
MAX_CODECS = 8
MAX_CODEC_ID = 32
MAX_EXTENSIONS = 64
MAX_EXTENSION_NAME = 64
UNKNOWN_EXTENT = (1 << 64) - 1  # shape[0] of a stream whose length was not known up front
MAX_EXTENT = (1 << 62) - 1  # any single axis
MAX_TOTAL_ELEMENTS = 1 << 62
MAX_CHUNK_ELEMENTS = 1 << 31  # elements one chunk may decode to
ELEMENT_BITS = (1, 2, 4, 8)

DEFAULT_MAX_DECODED_BYTES = 1 << 30
# A chunk's working memory (a mixing codec's planes of one sample) is allowed up to max_bytes or
# this, the larger: readers that set max_bytes to the output they expect (zarr, numcodecs, link
# messages, serve: a chunk's own size) still decode the small chunks whose planes cost some times
# more than their elements, while a file asking for hundreds of MB is refused under a low max_bytes.
WORKING_BYTES_FLOOR = 64 << 20


def codec_id_problem(codec_id: object) -> str | None:
    """Why ``codec_id`` cannot stand in a header (FORMAT.md 3.2: 1..MAX_CODEC_ID ASCII
    characters), or None: the one test, for the header's reader and the codec registry."""
    if not isinstance(codec_id, str) or not 0 < len(codec_id) <= MAX_CODEC_ID or not codec_id.isascii():
        return f"codec id {codec_id!r:.60} is not 1..{MAX_CODEC_ID} ASCII characters"
    return None


@dataclass(frozen=True)
class ReadLimits:
    """What one read may cost. ``max_bytes``: decoded bytes one read may allocate or decode -
    a whole array, a selection, a chunk, a row of a stream, a message, and everything that
    ``validate``, ``inspect --stats`` and ``recover`` decode of one file together - so that the
    work of any read is capped. ``max_work`` (off by default): decoded elements a chunk may stand
    for per stored byte of its record, for servers that want every read's work proportional to
    the bytes it received (an all-zero chunk of a million elements codes to a few bytes, so a
    low value refuses such files too). A file over a limit is refused with
    :class:`~spikecodec.errors.LimitError` before the work or the allocation."""

    max_bytes: int = DEFAULT_MAX_DECODED_BYTES
    max_work: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_work"):
            value = getattr(self, name)
            if name == "max_work" and value is None:
                continue
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
            object.__setattr__(self, name, int(value))  # np.int64(5) as 5: sizes are Python ints below

    def check_bytes(self, nbytes: int, what: str, offset: int | None = None) -> None:
        """Refuse ``what`` (a phrase: "the array", "chunk 3") decoding to ``nbytes``."""
        self._check_max_bytes(nbytes, f"{what} decodes to {nbytes} bytes", offset)

    def check_working(self, nbytes: int, what: str, offset: int | None = None) -> None:
        """Refuse ``what`` whose decoding needs ``nbytes`` of working memory beside its output, over
        max_bytes or WORKING_BYTES_FLOOR, the larger."""
        self._check_max_bytes(nbytes, f"{what} needs {nbytes} bytes of working memory to decode", offset,
                              floor=WORKING_BYTES_FLOOR)

    def _check_max_bytes(self, nbytes: int, said: str, offset: int | None, floor: int = 0) -> None:
        """The one max_bytes rule: ``nbytes`` over it (and over ``floor``) is LimitError
        limit-bytes, ``said`` first."""
        if nbytes > max(self.max_bytes, floor):
            from .errors import LimitError

            over = f"max_bytes={self.max_bytes}" if self.max_bytes >= floor else f"{floor} (max_bytes={self.max_bytes})"
            raise LimitError(f"{said}, over {over} (raise it: max_bytes=, --max-bytes)", offset, code="limit-bytes")

    def check_work(self, elements: int, stored: int, what: str, offset: int | None = None) -> None:
        """Refuse ``what`` standing for ``elements`` decoded elements in ``stored`` bytes."""
        if self.max_work is not None and elements > self.max_work * max(stored, 1):
            from .errors import LimitError

            raise LimitError(f"{what} stands for {elements} elements in {stored} bytes, over "
                             f"max_work={self.max_work} elements a byte (raise it: limits=, --max-work)", offset, code="limit-work")


class Budget:
    """The decoded bytes a read of many parts (the rows of one link message) has left of its
    limits' ``max_bytes``: :meth:`spend` refuses the chunk that would go over."""

    def __init__(self, limits: ReadLimits):
        self.limits = limits
        self.spent = 0

    def spend(self, nbytes: int, what: str, offset: int | None = None) -> None:
        if self.spent + nbytes > self.limits.max_bytes:
            from .errors import LimitError

            raise LimitError(f"{what} would take the file's decoded bytes to {self.spent + nbytes}, over "
                             f"max_bytes={self.limits.max_bytes} (raise it: max_bytes=, --max-bytes)", offset, code="limit-bytes")
        self.spent += nbytes


def as_limits(max_bytes: "int | ReadLimits | None" = None, limits: "ReadLimits | None" = None) -> ReadLimits:
    """The limits a reader was given: ``limits``, or the defaults with ``max_bytes``. Both at once
    is a TypeError: one of them would be dropped without a word (``ReadLimits`` holds both)."""
    if limits is not None:
        if not isinstance(limits, ReadLimits):
            raise TypeError(f"limits must be a ReadLimits, got {type(limits).__name__}")
        if max_bytes is not None:
            raise TypeError("give max_bytes= or limits=, not both: "
                            "limits=ReadLimits(max_bytes=..., max_work=...) sets both limits")
        return limits
    if isinstance(max_bytes, ReadLimits):
        return max_bytes
    return ReadLimits() if max_bytes is None else ReadLimits(max_bytes=max_bytes)


def payload_cap(packed_nbytes: int) -> int:
    """Largest payload a chunk whose bit-packed size is ``packed_nbytes`` may carry."""
    return 2 * packed_nbytes + 65536


def checked_product(values, limit: int, what: str) -> int:
    """Product of non-negative ints, raising ``OverflowError`` as soon as it exceeds ``limit``.
    A zero among them makes it 0 wherever it stands (FORMAT.md 3.2: shape (2, 2**40, 0) is empty)."""
    values = tuple(values)
    if 0 in values:
        return 0
    total = 1
    for v in values:
        total *= v
        if total > limit:
            raise OverflowError(f"{what} exceeds {limit}")
    return total


def flag_option(value: object, name: str) -> bool:
    """A yes/no option (``recover``): True or False (numpy's too), else a TypeError naming the
    option - ``recover="false"`` is a true string, and turned recovery on."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r:.40}")


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the system says, else every CPU):
    the most threads a read runs at once. Each thread keeps its own coder state (about 15 MB for
    ``winmix``), so threads beyond the CPUs add memory and no speed."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def count_option(value: object, name: str, minimum: int = 0) -> int:
    """An option that counts something (``workers``, ``cache_bytes``): an integer (Python or
    numpy, not a bool) of at least ``minimum``, else a ValueError naming the option."""
    if not isinstance(value, bool):
        try:
            number = operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            pass
        else:
            if number >= minimum:
                return number
    raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r:.40}")
