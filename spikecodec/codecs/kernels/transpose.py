"""Compiled (numba) in-place transpose of a C-order buffer, for decoders whose output has its
axes in an order that no strided view of the canonical (T, N, C, H, W) array can express.

Moving each element along its permutation cycle needs one bit of bookkeeping per element instead
of a second copy of the array: memory 1/8 of the output instead of all of it. Imported on first
use (numba compiles then, and caches).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _transpose_in_place(buf, shape, source_strides):
    """Rearrange ``buf`` so that element ``i`` (C order over ``shape``) becomes the element it
    held at ``sum(index[a] * source_strides[a])``; each permutation cycle is followed once."""
    n = buf.size
    rank = shape.size
    done = np.zeros((n + 7) // 8, np.uint8)
    for start in range(n):
        if done[start >> 3] & (1 << (start & 7)):
            continue
        done[start >> 3] |= 1 << (start & 7)
        held = buf[start]
        j = start
        while True:
            rest = j
            src = 0
            for a in range(rank - 1, -1, -1):
                src += (rest % shape[a]) * source_strides[a]
                rest //= shape[a]
            if src == start:
                buf[j] = held
                break
            buf[j] = buf[src]
            done[src >> 3] |= 1 << (src & 7)
            j = src

def transpose_in_place(buf: np.ndarray, permuted_shape: tuple[int, ...], perm: tuple[int, ...]) -> None:
    """``buf`` (flat, C-contiguous) holds an array of ``permuted_shape`` whose axis ``k`` is axis
    ``perm[k]`` of the wanted array; afterwards it holds the wanted array in C order (the same as
    ``buf[:] = a.transpose(argsort(perm)).ravel()`` with ``a = buf.reshape(permuted_shape)``)."""
    rank = len(perm)
    c_strides = [1] * rank  # C-order strides (elements) of the permuted array
    for k in range(rank - 2, -1, -1):
        c_strides[k] = c_strides[k + 1] * permuted_shape[k + 1]
    shape = np.empty(rank, np.int64)
    source_strides = np.empty(rank, np.int64)
    for k, axis in enumerate(perm):
        shape[axis] = permuted_shape[k]
        source_strides[axis] = c_strides[k]
    _transpose_in_place(buf, shape, source_strides)
