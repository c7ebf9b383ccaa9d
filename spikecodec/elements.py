"""Element types and bit packing (FORMAT.md section 7).

An element is an unsigned integer of 1, 2, 4 or 8 bits: 1-bit spikes or small spike counts.
Elements are packed in C order, most significant bit first: element ``i`` of a ``b``-bit stream
occupies bits ``[i*b, (i+1)*b)`` counted from the MSB of byte 0, as ``np.packbits`` does for
``b = 1``. Padding bits after the last element are zero, and readers reject any that are not.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import FormatError
from .limits import ELEMENT_BITS


def packed_nbytes(count: int, bits: int) -> int:
    """Bytes that ``count`` elements of ``bits`` bits take when packed."""
    return (count * bits + 7) // 8


def pack(values: np.ndarray, bits: int) -> bytes:
    """Pack uint8 element values (already range-checked) into MSB-first bytes."""
    flat = np.ascontiguousarray(values, dtype=np.uint8).reshape(-1)
    if bits == 8:
        return flat.tobytes()
    if bits == 1:
        return np.packbits(flat).tobytes()
    per_byte = 8 // bits
    pad = (-flat.size) % per_byte
    if pad:
        flat = np.concatenate([flat, np.zeros(pad, np.uint8)])
    groups = flat.reshape(-1, per_byte)
    out = np.zeros(groups.shape[0], np.uint8)
    for j in range(per_byte):
        out |= groups[:, j] << np.uint8(8 - bits * (j + 1))
    return out.tobytes()


def unpack(data: bytes | memoryview, count: int, bits: int) -> np.ndarray:
    """Inverse of :func:`pack`; raises :class:`FormatError` on a wrong size or non-zero padding."""
    expected = packed_nbytes(count, bits)
    if len(data) != expected:
        raise FormatError(f"packed data is {len(data)} bytes, expected {expected} for {count} {bits}-bit elements")
    buf = np.frombuffer(data, np.uint8)
    if bits == 8:
        return buf.copy()
    pad_bits = expected * 8 - count * bits
    if pad_bits and int(buf[-1]) & ((1 << pad_bits) - 1):
        raise FormatError("non-zero padding bits after the last element")
    if bits == 1:
        return np.unpackbits(buf, count=count)
    per_byte = 8 // bits
    mask = np.uint8((1 << bits) - 1)
    out = np.empty((buf.size, per_byte), np.uint8)
    for j in range(per_byte):
        out[:, j] = (buf >> np.uint8(8 - bits * (j + 1))) & mask
    return out.reshape(-1)[:count]


def count_spikes(values: np.ndarray, bits: int) -> int:
    """Sum of element values: the number of spikes (ones, for 1-bit elements)."""
    return int(np.count_nonzero(values)) if bits == 1 else int(values.sum(dtype=np.uint64))


def count_packed_ones(packed: bytes) -> int:
    """Ones in a bit-packed 1-bit stream (with zero padding): the spike count without unpacking."""
    buf = np.frombuffer(packed, np.uint8)
    head = buf[: buf.size // 8 * 8].view(np.uint64)  # popcount words, not bytes: 8x fewer elements
    return int(np.bitwise_count(head).sum()) + int(np.bitwise_count(buf[head.size * 8 :]).sum())


def to_numpy(array: Any) -> np.ndarray:
    """A numpy view of ``array``; torch tensors are accepted without importing torch."""
    if hasattr(array, "detach") and hasattr(array, "numpy"):  # torch.Tensor, duck-typed
        array = array.detach().cpu().numpy()
    return np.asarray(array)


def _first_index(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def as_elements(array: Any, bits: int | None = None) -> tuple[np.ndarray, int]:
    """Check that ``array`` holds valid element values and return it as C-contiguous uint8.

    ``bits=None`` picks the narrowest element type that holds the largest value. Values outside
    the element type (negative, fractional, too large, NaN) raise ``ValueError`` naming the index
    of the first one: nothing is ever truncated silently.
    """
    arr = to_numpy(array)
    if bits is not None and bits not in ELEMENT_BITS:
        raise ValueError(f"element bits must be one of {ELEMENT_BITS}, got {bits!r}")
    if arr.dtype == np.bool_:  # 0/1 by construction: no range check needed
        values = np.asarray(arr.view(np.uint8), order="C")
        return values, bits or 1
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            idx = _first_index(bad)
            raise ValueError(f"value {arr[idx]!r} at index {idx} is not a whole number of spikes")
    elif arr.dtype.kind not in "iu":
        raise ValueError(f"expected a numeric or boolean array, got dtype {arr.dtype}")
    limit = (1 << (bits or 8)) - 1
    # One fast reduction first; the element-wise mask is only built to name a bad index.
    top = int(arr.max()) if arr.size else 0
    if top > limit or (arr.size and arr.dtype.kind != "u" and arr.min() < 0):
        bad = (arr < 0) | (arr > limit)
        idx = _first_index(bad)
        kind = f"{bits}-bit" if bits else "8-bit (the widest)"
        raise ValueError(
            f"value {arr[idx].item()!r} at index {idx} does not fit the {kind} element type (0..{limit})"
        )
    values = np.asarray(arr, dtype=np.uint8, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
    if bits is None:
        bits = next(b for b in ELEMENT_BITS if top < (1 << b))
    return values, bits
