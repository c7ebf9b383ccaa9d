"""The significance contexts of ``ctxfast`` (FORMAT.md 9.4.12) on its zero-padded significance
copy: the copy itself, its working memory, and the context parts the step loops of
:mod:`.fast` (:func:`.fast._model_pass`, :func:`.fast._model4`, :func:`.fast.decode_into_with`,
:func:`.fast._decode4`) add up.

All contexts come from a zero-padded significance copy of the chunk, shape
(T, N, C, H + 2, W + 2) (:func:`padded_significance`; the decoder fills a zeroed one as it
decodes), built from parts, each computed eight elements a word as soon as its inputs are known
(:func:`time_part`, :func:`channel_part`, :func:`row_context`, a batch of planes, a plane and a
row at a time, :func:`lockstep_plane`); the step loop adds ``left``. The four-lane lockstep loops
(most of the work) keep their state in scalars; the loops for fewer lanes and a lane's last
planes take the same parts, their state in arrays.

Memory: the copy is (H + 2) (W + 2) / (H W) bytes an element (1.65 for 7 x 7 planes); planes that
padding would more than double are coded without it (:mod:`.fast_plain`), and take no working
memory here (:func:`work_bytes`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .fast_layout import NL, lane_count, lane_plane_counts, lane_starts
from .ops import U, load8, store8

TIME_BATCH = 4096  # padded elements of time parts a lane computes at once: vectorised, in L1
LSB = np.uint64(0x0101010101010101)  # bit 0 of each byte of a word

# The lockstep loops (:func:`.fast._model4`, :func:`.fast._decode4`) split a significance context into
# 256 x its *time part* ``hs 4 + nb`` (from earlier steps), its *channel part*
# ``16 (8 p1 + 4 p2 + 2 p3 + p45)`` (from earlier planes of the sample) and its *row part*
# ``8 up + 4 ul + 2 ur`` (from the row above), and compute each once its inputs are known, for a
# batch of planes, a plane and a row at a time, eight elements a word: the significances are
# 0 / 1 bytes and every sum stays below 256, so a byte never carries into the next (numba
# widens a byte to 64 bits, so a loop over bytes takes eight times the work). The decision loop
# then adds ``left``. Each word reads and writes up to 7 bytes past the last element:
# the arrays leave room.


@njit(inline="always", cache=True)
def time_part(sp, tp, u0, count, t, st, rw, to):
    """Time parts ``hs 4 + nb`` of the ``count`` elements from padded index ``u0`` (consecutive
    planes of one (t, n), padding computed and never used) into ``tp[to + j]``. At t < 3 the
    terms that do not exist read in-range bytes and weigh 0."""
    m1 = np.uint64(1 if t >= 1 else 0)
    m2 = np.uint64(2 if t >= 2 else 0)
    m3 = np.uint64(4 if t >= 3 else 0)
    nbm = np.uint64(1 if t >= 1 else 0)
    hs0 = np.uint64((1 << min(t, 3)) - 1) * LSB
    o1 = st if t >= 1 else 0
    o2 = 2 * st if t >= 2 else o1
    o3 = 3 * st if t >= 3 else o2
    g0, g2, g5 = np.uint64(0x7F) * LSB, np.uint64(0x7D) * LSB, np.uint64(0x7A) * LSB  # x + g has bit 7 iff x > 0, 2, 5
    seven = np.uint64(7)
    for j in range(0, count, 8):
        u = U(u0 + j)
        b = u - U(o1)
        hs = hs0 + m1 * load8(sp, b) + m2 * load8(sp, u - U(o2)) + m3 * load8(sp, u - U(o3))
        cnt = (load8(sp, b - U(rw + 1)) + load8(sp, b - U(rw)) + load8(sp, b - U(rw - 1)) + load8(sp, b - U(1))
               + load8(sp, b + U(1)) + load8(sp, b + U(rw - 1)) + load8(sp, b + U(rw)) + load8(sp, b + U(rw + 1)))
        nb = (((cnt + g0) >> seven) & LSB) + (((cnt + g2) >> seven) & LSB) + (((cnt + g5) >> seven) & LSB)
        store8(tp, U(to + j), hs * np.uint64(4) + nbm * nb)


@njit(inline="always", cache=True)
def channel_part(sp, lo, u0, count, c, cs, to):
    """Channel parts of the ``count`` elements of one plane (channel ``c``) from padded index
    ``u0`` into ``lo[to + j]``; channels before the first read in-range bytes and weigh 0."""
    q1 = np.uint64(8 if c >= 1 else 0)
    q2 = np.uint64(4 if c >= 2 else 0)
    q3 = np.uint64(2 if c >= 3 else 0)
    q4 = np.uint64(1 if c >= 4 else 0)
    q5 = np.uint64(1 if c >= 5 else 0)
    c1 = U(cs if c >= 1 else 0)
    c2 = U(2 * cs if c >= 2 else 0)
    c3 = U(3 * cs if c >= 3 else 0)
    c4 = U(4 * cs if c >= 4 else 0)
    c5 = U(5 * cs if c >= 5 else 0)
    for j in range(0, count, 8):
        u = U(u0 + j)
        v = (q1 * load8(sp, u - c1) + q2 * load8(sp, u - c2) + q3 * load8(sp, u - c3)
             + ((q4 * load8(sp, u - c4)) | (q5 * load8(sp, u - c5))))
        store8(lo, U(to + j), v * np.uint64(16))


@njit(inline="always", cache=True)
def row_context(sp, lo, kb, u0, W, rw, lo0, kb0):
    """Contexts but for ``left`` and the time part of one row of W elements (padded index
    ``u0``): its channel parts ``lo[lo0 + w]`` plus its row parts, into ``kb[kb0 + w]``."""
    for j in range(0, W, 8):
        u = U(u0 + j) - U(rw)
        v = (load8(lo, U(lo0 + j)) + np.uint64(8) * load8(sp, u) + np.uint64(4) * load8(sp, u - U(1))
             + np.uint64(2) * load8(sp, u + U(1)))
        store8(kb, U(kb0 + j), v)


@njit(cache=True, nogil=True)
def lockstep_scratch(C, H, W):
    """The lockstep loops' working arrays: (planes a time batch holds, the NL lanes' time parts
    (a batch each), channel parts (a plane each, a row beyond for the prefetches) and row
    contexts (a row each), and each lane's (t, n) block: its first padded index, t and n)."""
    rw = W + 2
    cs = (H + 2) * rw
    nb = max(1, min(C, TIME_BATCH // cs))
    return (nb, np.zeros(NL * nb * cs + 8, np.uint8), np.zeros(NL * (H + 1) * rw + 8, np.uint8),
            np.zeros(NL * (W + 8), np.uint8), np.zeros(NL, np.int64), np.zeros(NL, np.int64), np.zeros(NL, np.int64))


@njit(inline="always", cache=True)
def lockstep_plane(sp, tp, lo, base, tt, nn, q, starts, L, planes, N, C, H, W, nb):
    """Lane bookkeeping at plane ``q`` (channel c = q % C in every lane) of the L lanes that
    have it (``planes``: each lane's count): at c = 0 each lane enters its next (t, n) block; at
    the first plane of a time batch, the batch's time parts; then the plane's channel parts.
    Returns the time-part offset of the plane."""
    rw = W + 2
    cs = (H + 2) * rw
    c = q % C
    if c == 0:
        for ln in range(L):
            if q >= planes[ln]:
                continue
            Nl = starts[ln + 1] - starts[ln]
            t = q // (C * Nl)
            n = starts[ln] + (q // C) % Nl
            base[ln] = ((t * N + n) * C) * cs
            tt[ln] = t
            nn[ln] = n
    if c % nb == 0:
        c1 = min(c + nb, C)
        for ln in range(L):
            if q < planes[ln]:
                time_part(sp, tp, base[ln] + c * cs + rw + 1, (c1 - 1 - c) * cs + (H - 1) * rw + W, tt[ln],
                          N * C * cs, rw, ln * nb * cs)
    for ln in range(L):
        if q < planes[ln]:
            channel_part(sp, lo, base[ln] + c * cs + rw + 1, (H - 1) * rw + W, c, cs, ln * (H + 1) * rw)
    return (c % nb) * cs


@njit(cache=True, nogil=True)
def work_bytes(T, N, C, H, W, encoder):
    """Bytes of working memory :func:`.fast.encode_with` (``encoder``) or :func:`.fast.decode_into_with`
    takes from its ``work`` argument when it holds them: the zero-padded significance copy and,
    for the encoder, its decisions (4 bytes each). 0 for planes coded without padding."""
    if T * N * C * H * W == 0 or (H + 2) * (W + 2) > 2 * H * W:
        return 0
    n = padded_bytes(T, N, C, H, W)
    if encoder:
        n += lane_count(N) * max(lane_plane_counts(T, N, C, lane_starts(N), lane_count(N)).max() * H * W, 1) * 4
    return n


@njit(cache=True, nogil=True)
def padded_bytes(T, N, C, H, W):
    """Bytes of the padded copy, 8 beyond (:func:`time_part` reads words), rounded up to 64."""
    return (T * N * C * (H + 2) * (W + 2) + 8 + 63) // 64 * 64


@njit(cache=True, nogil=True)
def zeroed_copy(work, T, N, C, H, W):
    """The padded copy's bytes, zero: the start of ``work`` when it holds them (a thread's kept
    working memory, whose pages are already there: a fresh array's first touch costs a page
    fault a page, some 15% of the coding time), else a new array."""
    n = padded_bytes(T, N, C, H, W)
    if work.size >= n:
        sp = work[:n]
        sp[:] = 0
        return sp
    return np.zeros(n, np.uint8)


@njit(cache=True, nogil=True)
def padded_significance(x, work):
    """The zero-padded significance copy of the (T, N, C, H, W) array ``x``, shape
    (T, N, C, H + 2, W + 2) flat, and 8 bytes beyond (:func:`time_part` reads words), in
    ``work`` when it holds it (:func:`zeroed_copy`). Rows are
    copied a word at a time, each byte's bits folded into its bit 0; a row's last word writes
    zeros past its end, over padding and the start of the next row, which is copied after it.
    The mask that keeps a row's bytes takes them as the word's low bytes: little-endian, as
    :func:`.ops.load8` says (x86-64 and ARM64)."""
    T, N, C, H, W = x.shape
    rw = W + 2
    cs = (H + 2) * rw
    sp = zeroed_copy(work, T, N, C, H, W)
    xf = x.ravel()
    n = xf.size
    for r in range(T * N * C * H):  # row r of plane r // H
        src = r * W
        dst = (r // H) * cs + (r % H + 1) * rw + 1
        if src + W + 8 > n:  # a word would read past the array: the last rows, byte by byte
            for w in range(W):
                sp[U(dst + w)] = xf[U(src + w)] != 0
            continue
        for j in range(0, W, 8):
            v = load8(xf, U(src + j))
            v |= v >> np.uint64(4)
            v |= v >> np.uint64(2)
            v |= v >> np.uint64(1)
            v &= LSB
            if j + 8 > W:  # keep the row's bytes only
                v &= (np.uint64(1) << np.uint64(8 * (W - j))) - np.uint64(1)
            store8(sp, U(dst + j), v)
    return sp
