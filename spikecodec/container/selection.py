"""numpy-style selections on a spike file: keys made into one int, slice or position array per axis."""

from __future__ import annotations

from typing import Any

import numpy as np


def checked_extent(shape: tuple[int, ...]) -> int:
    """Product of the non-zero extents: what numpy needs to fit even when the array is empty."""
    n = 1
    for s in shape:
        n *= max(s, 1)
    return n


def normalize_key(key: Any, shape: tuple[int, ...]) -> list[int | slice | np.ndarray]:
    """One int, slice or int64 array of positions per axis; ints and positions wrapped and
    bounds-checked (a boolean array of the axis's length selects where it is true)."""
    if not isinstance(key, tuple):
        key = (key,)
    ellipses = [i for i, k in enumerate(key) if k is Ellipsis]  # `in` would compare arrays
    if len(ellipses) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if ellipses:
        at = ellipses[0]
        key = key[:at] + (slice(None),) * (len(shape) - len(key) + 1) + key[at + 1 :]
    if len(key) > len(shape):
        raise IndexError(f"too many indices: {len(key)} for {len(shape)} axes")
    key = key + (slice(None),) * (len(shape) - len(key))
    out: list[int | slice] = []
    for axis, (k, n) in enumerate(zip(key, shape)):
        if isinstance(k, slice):
            out.append(k)
        elif isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
            v = int(k) + (n if k < 0 else 0)
            if not 0 <= v < n:
                raise IndexError(f"index {int(k)} is out of bounds for axis {axis} with size {n}")
            out.append(v)
        elif isinstance(k, (list, np.ndarray)):
            arr = np.asarray(k)
            if arr.dtype == np.bool_:
                if arr.shape != (n,):
                    raise IndexError(f"a boolean index for axis {axis} must have shape ({n},), not {arr.shape}")
                arr = np.flatnonzero(arr)
            elif arr.size == 0:
                arr = arr.astype(np.int64)
            elif arr.dtype.kind not in "iu":
                raise IndexError(f"arrays used as indices must be of integer (or boolean) type, not {arr.dtype}")
            arr = arr.astype(np.int64)
            arr = np.where(arr < 0, arr + n, arr)
            if arr.size and (arr.min() < 0 or arr.max() >= n):
                raise IndexError(f"an index is out of bounds for axis {axis} with size {n}")
            out.append(arr)
        else:
            raise TypeError(f"spike files are indexed with ints, slices, '...' and integer arrays, not {type(k).__name__}")
    return out
