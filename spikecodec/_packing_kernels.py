"""Compiled (numba) bit packing of elements, MSB-first (FORMAT.md section 8).

Loaded on first use by :mod:`spikecodec.elements` through :func:`._kernel_cache.load_kernels`
(numba compiles then, and caches), never by ``import spikecodec``. Each kernel makes one pass
over the elements and does everything that pass allows: packing checks the range (the OR of
all values) and counts the spikes, unpacking counts them. 1-bit elements go eight at a time as
one 64-bit word, which LLVM vectorises:

* pack: byte ``i`` of a little-endian word holds element ``i`` (0 or 1) at bit ``8i``;
  multiplying by ``SPREAD`` moves it to bit ``63 - i`` (no two partial products meet, so there
  are no carries) and the top byte is the eight elements MSB-first.
* unpack: a packed byte times ``SPREAD`` puts its bit ``7 - i`` at bit ``8i + 7``; shifting by 7
  and masking with ``LOW_BITS`` leaves element ``i`` alone in byte ``i``.
* count: a word of 0/1 bytes times ``LOW_BITS`` has their sum (at most 8) in its top byte.
"""

from __future__ import annotations

import sys

import numpy as np
from numba import njit

if sys.byteorder != "little":  # pragma: no cover - the word tricks read bytes as little-endian words
    raise ImportError("spikecodec's packing kernels need a little-endian machine")

SPREAD = np.uint64(0x8040201008040201)
LOW_BITS = np.uint64(0x0101010101010101)


@njit(cache=True, nogil=True)
def pack1(src, dst):
    """Pack 0/1 bytes ``src`` into ``dst`` (``ceil(n / 8)`` bytes); return (OR of all values, ones)."""
    n = src.size
    whole = n // 8
    words = src[: whole * 8].view(np.uint64)
    acc = np.uint64(0)
    ones = np.uint64(0)
    for i in range(whole):
        w = words[i]
        acc |= w
        ones += (w * LOW_BITS) >> np.uint64(56)
        dst[i] = np.uint8((w * SPREAD) >> np.uint64(56))
    if whole * 8 < n:
        last = np.uint64(0)
        for j in range(whole * 8, n):
            v = np.uint64(src[j])
            acc |= v
            ones += v
            last |= (v & np.uint64(1)) << np.uint64(7 - (j - whole * 8))
        dst[whole] = np.uint8(last)
    for shift in (32, 16, 8):  # fold the word's eight byte lanes into one byte
        acc |= acc >> np.uint64(shift)
    return acc & np.uint64(0xFF), ones


@njit(cache=True, nogil=True)
def unpack1(src, dst):
    """Unpack ``dst.size`` 1-bit elements of ``src`` into ``dst``; return the number of ones."""
    n = dst.size
    whole = n // 8
    words = dst[: whole * 8].view(np.uint64)
    ones = np.uint64(0)
    for i in range(whole):
        w = ((np.uint64(src[i]) * SPREAD) >> np.uint64(7)) & LOW_BITS
        words[i] = w
        ones += (w * LOW_BITS) >> np.uint64(56)
    for j in range(whole * 8, n):
        v = (src[whole] >> (7 - (j - whole * 8))) & 1
        dst[j] = v
        ones += np.uint64(v)
    return ones


@njit(cache=True, nogil=True)
def pack2(src, dst):
    """Pack 2-bit elements, four to a byte; return (OR of all values, sum of values)."""
    n = src.size
    acc = 0
    total = 0
    for i in range(n // 4):
        a, b, c, d = src[4 * i], src[4 * i + 1], src[4 * i + 2], src[4 * i + 3]
        acc |= a | b | c | d
        total += np.int64(a) + b + c + d
        dst[i] = (a << 6) | (b << 4) | (c << 2) | d
    if n % 4:
        last = 0
        for j in range(n - n % 4, n):
            acc |= src[j]
            total += src[j]
            last |= np.int64(src[j]) << (6 - 2 * (j % 4))
        dst[n // 4] = last
    return np.uint64(acc & 0xFF), np.uint64(total)


@njit(cache=True, nogil=True)
def pack4(src, dst):
    """Pack 4-bit elements, two to a byte; return (OR of all values, sum of values)."""
    n = src.size
    acc = 0
    total = 0
    for i in range(n // 2):
        a, b = src[2 * i], src[2 * i + 1]
        acc |= a | b
        total += np.int64(a) + b
        dst[i] = (a << 4) | b
    if n % 2:
        acc |= src[n - 1]
        total += src[n - 1]
        dst[n // 2] = np.int64(src[n - 1]) << 4
    return np.uint64(acc & 0xFF), np.uint64(total)


@njit(cache=True, nogil=True)
def unpack2(src, dst):
    """Unpack ``dst.size`` 2-bit elements of ``src`` into ``dst``; return their sum."""
    n = dst.size
    total = 0
    for i in range(n // 4):
        v = src[i]
        a, b, c, d = v >> 6, (v >> 4) & 3, (v >> 2) & 3, v & 3
        dst[4 * i], dst[4 * i + 1], dst[4 * i + 2], dst[4 * i + 3] = a, b, c, d
        total += np.int64(a) + b + c + d
    for j in range(n - n % 4, n):
        dst[j] = (src[j // 4] >> (6 - 2 * (j % 4))) & 3
        total += dst[j]
    return np.uint64(total)


@njit(cache=True, nogil=True)
def unpack4(src, dst):
    """Unpack ``dst.size`` 4-bit elements of ``src`` into ``dst``; return their sum."""
    n = dst.size
    total = 0
    for i in range(n // 2):
        v = src[i]
        dst[2 * i], dst[2 * i + 1] = v >> 4, v & 15
        total += np.int64(v >> 4) + (v & 15)
    if n % 2:
        dst[n - 1] = src[n // 2] >> 4
        total += dst[n - 1]
    return np.uint64(total)
