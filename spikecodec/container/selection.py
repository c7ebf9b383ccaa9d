"""numpy-style selections on a spike file: keys made into one int, slice or position array per axis."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..elements import to_numpy


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
        if not isinstance(k, (slice, int, np.generic, list, np.ndarray)) and (hasattr(k, "__array__") or hasattr(k, "detach")):
            k = to_numpy(k)  # a torch tensor of positions (a sampler's), or any array-like: as numpy takes it
        if isinstance(k, slice):
            out.append(k)
        elif isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_)):
            v = int(k) + (n if k < 0 else 0)
            if not 0 <= v < n:
                raise IndexError(f"index {int(k)} is out of bounds for axis {axis} with size {n}")
            out.append(v)
        elif isinstance(k, (list, np.ndarray)):
            try:
                arr = np.asarray(k)
            except ValueError as exc:  # a ragged list: numpy's "setting an array element with a sequence..."
                raise IndexError(f"an index list for axis {axis} must be rectangular: {str(exc).splitlines()[0]:.80}") from None
            if arr.dtype == np.bool_:
                if arr.shape != (n,):
                    raise IndexError(f"a boolean index for axis {axis} must have shape ({n},), not {arr.shape}")
                arr = np.flatnonzero(arr)
            elif arr.size == 0:
                arr = arr.astype(np.int64)
            elif arr.dtype.kind not in "iu":
                raise IndexError(f"arrays used as indices must be of integer (or boolean) type, not {arr.dtype}")
            # Bounds are checked before the cast: uint64 2**64 - 1 became int64 -1, the last position.
            if arr.size and (int(arr.max()) >= n or int(arr.min()) < -n):
                raise IndexError(f"an index is out of bounds for axis {axis} with size {n}")
            arr = arr.astype(np.int64)
            arr = np.where(arr < 0, arr + n, arr)
            out.append(arr)
        else:
            raise TypeError(f"spike files are indexed with ints, slices, '...' and integer arrays, not {type(k).__name__}")
    return out


def empty_ellipsis_at(key: Any, ndim: int) -> int | None:
    """Where in ``key`` (no ``None`` left in it) a ``...`` standing for no axes is, else None.
    numpy takes it as separating the index arrays around it (their axes then come first), so
    the normalized key, which has no ``...``, gets it back there when it is applied."""
    parts = key if isinstance(key, tuple) else (key,)
    at = [i for i, k in enumerate(parts) if k is Ellipsis]
    return at[0] if len(at) == 1 and len(parts) - 1 == ndim else None


def selected_size(key: list[int | slice | np.ndarray], shape: tuple[int, ...]) -> int:
    """Elements a normalized ``key`` selects: the slices' lengths times the size the position
    arrays broadcast to (numpy's rule), so that a read is limited by what it returns as well as
    by what it decodes (``r[np.zeros(10**6, int)]`` returns a million copies of one row)."""
    size = 1
    arrays = []
    for k, n in zip(key, shape):
        if isinstance(k, slice):
            size *= len(range(*k.indices(n)))
        elif isinstance(k, np.ndarray):
            arrays.append(k.shape)
    if arrays:
        try:
            broadcast = np.broadcast_shapes(*arrays)
        except ValueError:
            raise IndexError("shape mismatch: the index arrays cannot be broadcast together with shapes "
                             + " ".join(str(a) for a in arrays)) from None
        for s in broadcast:
            size *= s
    return size


def split_new_axes(key: Any) -> tuple[Any, Any]:
    """``key`` without its ``None`` (``np.newaxis``) entries, and a function that makes the
    selection's result of that key into the result of ``key``: the new axes of length 1 put
    where numpy puts them. Only with ints, slices and ``...``: numpy places the axes of index
    arrays by rules of its own, so None beside an index array is a TypeError saying what to do."""
    parts = key if isinstance(key, tuple) else (key,)
    if not any(k is None for k in parts):
        return key, None
    if any(isinstance(k, (list, np.ndarray)) or (not isinstance(k, np.generic) and (hasattr(k, "__array__") or hasattr(k, "detach")))
           for k in parts):  # a numpy scalar (np.int64(0)) is an int here, not an index array
        raise TypeError("np.newaxis (None) beside an index array: select first, then add the axis (r[key][None])")
    rest = tuple(k for k in parts if k is not None)

    def expand(values: np.ndarray, ndim: int) -> np.ndarray:
        spanned = ndim - sum(1 for k in rest if k is not Ellipsis)  # the axes '...' stands for
        dims = iter(values.shape)
        shape: list[int] = []
        for k in parts:
            if k is None:
                shape.append(1)
            elif k is Ellipsis:
                shape.extend(next(dims) for _ in range(spanned))
            elif isinstance(k, slice):
                shape.append(next(dims))
        shape.extend(dims)  # the axes after the key: whole
        return values.reshape(shape)

    return rest, expand
