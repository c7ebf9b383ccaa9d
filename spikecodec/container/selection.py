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
    bounds-checked (a boolean array of the axis's length selects where it is true; a range is
    its positions, as numpy takes it). A bool scalar is an IndexError (see below)."""
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
    out: list[int | slice | np.ndarray] = []
    # numpy checks the bounds of index arrays (not ints, nor 0-d arrays) only where they
    # broadcast to some element (a[[], [9]] is empty, not an error): their errors wait for it.
    array_errors: list[IndexError] = []
    for axis, (k, n) in enumerate(zip(key, shape)):
        if isinstance(k, range):  # numpy takes a range as its list of ints (an index array, not a slice)
            positions, error = _range_positions(k, n, axis)
            out.append(positions)
            array_errors += [error] if error is not None else []
            continue
        if isinstance(k, (bool, np.bool_)):
            # numpy makes a bool scalar a 0-d boolean index array: a new axis of length 1 or 0,
            # placed by its rules for index arrays beside ints and other arrays - not expressed here.
            kind = "bool" if type(k) is bool else f"numpy.{type(k).__name__}"
            raise IndexError(f"index {bool(k)} ({kind}): a boolean scalar is not a supported index of a "
                             "spike file; use ints, slices, '...', None (r[None] adds an axis) and integer or boolean arrays")
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
                error = IndexError(f"an index is out of bounds for axis {axis} with size {n}")
                if not arr.ndim:  # a 0-d array is an int to numpy: checked at once
                    raise error
                array_errors.append(error)
                arr = np.zeros(arr.shape, np.int64)  # never read: kept only where the arrays select nothing
            arr = arr.astype(np.int64)
            arr = np.where(arr < 0, arr + n, arr)
            out.append(arr)
        else:
            raise TypeError(f"spike files are indexed with ints, slices, '...', ranges and integer arrays, not {type(k).__name__}")
    if array_errors:
        try:
            nothing = 0 in np.broadcast_shapes(*(k.shape for k in out if isinstance(k, np.ndarray)))
        except ValueError:  # shapes that do not broadcast: the bounds error says enough
            nothing = False
        if not nothing:
            raise array_errors[0]
    return out


MAX_DEFERRED_RANGE = 1 << 20  # positions of an out-of-bounds range made (as zeros) to wait for the broadcast


def _range_positions(r: range, n: int, axis: int) -> tuple[np.ndarray, IndexError | None]:
    """A range index as numpy takes it: its int64 positions (negative ones counting from the
    end), wrapped. Out of bounds: zeros of its length and the error, which numpy raises only
    where the index arrays broadcast to some element - or the error at once for a range over
    MAX_DEFERRED_RANGE long, so that ``range(10**12)`` is an IndexError, not an allocation."""
    if not r:  # not len(r): a range longer than sys.maxsize has no len()
        return np.zeros(0, np.int64), None
    bad = [v for v in (r[0], r[-1]) if not -n <= v < n]
    if bad:
        error = IndexError(f"index {bad[0]} is out of bounds for axis {axis} with size {n}")
        if abs(r.stop - r.start) > MAX_DEFERRED_RANGE * abs(r.step):
            raise error
        return np.zeros(len(r), np.int64), error
    # In bounds, so at most 2n positions: the start and step fit int64 (the stop may not).
    positions = r[0] + r.step * np.arange(len(r), dtype=np.int64) if len(r) > 1 else np.array([r[0]], np.int64)
    return np.where(positions < 0, positions + n, positions), None


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
    if any(isinstance(k, (list, range, np.ndarray)) or (not isinstance(k, np.generic) and (hasattr(k, "__array__") or hasattr(k, "detach")))
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
