"""Hard limits that keep hostile input harmless (FORMAT.md, "Limits").

Format limits are part of the spec: a conforming writer never exceeds them and a reader rejects
any file that does. ``DEFAULT_MAX_DECODED_BYTES`` is a library policy, not a format rule: the
most memory one read may allocate for decoded elements unless the caller raises it.
"""

from __future__ import annotations

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


def payload_cap(packed_nbytes: int) -> int:
    """Largest payload a chunk whose bit-packed size is ``packed_nbytes`` may carry."""
    return 2 * packed_nbytes + 65536


def checked_product(values, limit: int, what: str) -> int:
    """Product of non-negative ints, raising ``OverflowError`` as soon as it exceeds ``limit``."""
    total = 1
    for v in values:
        total *= v
        if total > limit:
            raise OverflowError(f"{what} exceeds {limit}")
    return total
