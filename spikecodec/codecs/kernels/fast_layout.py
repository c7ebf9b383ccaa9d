"""The lane layout of a ``ctxfast`` chunk (FORMAT.md 9.4.12), shared by every part of its kernels
(:mod:`.fast`, :mod:`.fast_contexts`, :mod:`.fast_plain`, :mod:`.fast_magnitudes`): the
significance context count, how many sample lanes a chunk has, the samples and planes each one
codes, and where a decoder finds each lane's stream.

Each lane is a block of whole samples (``floor(l N / L)`` .. ``floor((l + 1) N / L) - 1``), coded
(t, n, c) plane by plane; a *step* is one decision of every lane that still has planes. Kept
apart from the loops so that the context, plain and magnitude modules can use it without
importing :mod:`.fast`, which imports them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .rans import start

KS = 15360  # significance contexts: 960 plane parts x 16 (up, ul, ur, left)
NL = 4  # most lanes


@njit(cache=True, nogil=True)
def lane_count(N):
    """Lanes of a chunk of N samples: min(4, N)."""
    return min(NL, N)


@njit(cache=True, nogil=True)
def lane_starts(N):
    """First sample of each lane, and N after the last: ``floor(l N / L)`` for l = 0 .. L."""
    L = lane_count(N)
    out = np.empty(L + 1, np.int64)
    for ln in range(L + 1):
        out[ln] = (ln * N) // L if L else 0
    return out


@njit(cache=True, nogil=True)
def lane_planes(T, N, C, starts, ln):
    """Planes (t, n, c) of lane ``ln``: T N_l C."""
    return T * (starts[ln + 1] - starts[ln]) * C


@njit(cache=True, nogil=True)
def lane_plane_counts(T, N, C, starts, L):
    """Planes (t, n, c) of each of the L lanes, NL entries (0 past L): a lane past its last
    plane takes no part in a step."""
    planes = np.zeros(NL, np.int64)
    for ln in range(L):
        planes[ln] = lane_planes(T, N, C, starts, ln)
    return planes


@njit(cache=True, nogil=True)
def open_streams(words, offs, L):
    """Each lane's initial coder state and read position (FORMAT.md 9.4.3): (z, r, first, bad),
    ``bad`` when a stream's last word is 0."""
    z = np.zeros(NL, np.uint64)
    r = np.zeros(NL, np.int64)
    first = np.zeros(NL, np.int64)
    for ln in range(L):
        s0, p = start(words[offs[ln]:offs[ln + 1]])
        if p < 0:
            return z, r, first, True
        z[ln] = s0
        r[ln] = p + offs[ln]
        first[ln] = offs[ln]
    return z, r, first, False
