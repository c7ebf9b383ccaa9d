"""The magnitude pass of ``ctxfast`` (FORMAT.md 9.4.12): multi-bit elements code their
magnitudes after all significance, in one more stream, with ``context``'s magnitude model
(9.4.5); the encoder's decisions (:func:`magnitude_pass`), their working memory, the decoder
(:func:`_decode_magnitudes`) and the decoder's end checks of every stream (:func:`finish_decode`).

Counts spend most of their decisions on magnitudes (four per nonzero element of 4-bit counts),
all in one stream, one serial chain. The encoder codes that stream between the lanes' steps, so
that its divisions overlap theirs (:func:`.fast._encode_lanes`); the decoder takes every
probability it can off the chain (:func:`_decode_magnitudes`). Both visit a plane's nonzero
elements only, listed first without a branch (:func:`_nonzeros`).

Memory: the encoder's decisions take 4 bytes each (up to 32 more an element of 8-bit counts),
after the significance's share of its working memory (:func:`.fast_contexts.work_bytes`); the
decoder, one plane's list of nonzero elements (``SPOTS`` positions at a time).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .context import mag_groups, prob
from .counters import bumped
from .fast_contexts import work_bytes
from .ops import U, opaque, pick
from .rans import LOW, decode_bit, start

SPOTS = 4096  # the magnitude loops list a plane's nonzero elements this many positions at a time


# The magnitude pass (FORMAT.md 9.4.12) runs a plane at a time: first the plane's nonzero
# elements are listed without a branch (about half the elements of count data are zero, so a
# test per element mispredicts every other time), then only those are coded.


@njit(inline="always", cache=True)
def _nonzeros(xf, e0, p0, p1, W, sH, sW, spot):
    """List the nonzero elements at positions ``p0 .. p1 - 1`` (``h W + w``) of the plane at
    ``xf[e0]`` (row stride ``sH``, column stride ``sW``) in C order into ``spot`` as
    ``h << 32 | w``, without a branch; returns how many."""
    k = 0
    h = p0 // W
    w = p0 - h * W
    for _ in range(p1 - p0):
        spot[U(k)] = (h << 32) | w
        k += xf[U(e0 + h * sH + w * sW)] != 0
        w += 1
        if w == W:
            w = 0
            h += 1
    return k


@njit(inline="always", cache=True)
def _bucket(xf, e, t, h, w, xs, sH, sW):
    """The magnitude bucket b of FORMAT.md 9.4.5 of element ``e`` (at t, h, w): the neuron's
    two previous values and its left and upper neighbours' values, each capped at 3. Without a
    branch on the edges (a nonzero element is at a row's start or in the top row one time in
    a few): a neighbour outside is read at a valid place and masked out."""
    b = 0
    if t >= 1:  # the same for a whole plane
        b += min(np.int64(xf[U(e - xs)]), 3)
    if t >= 2:
        b += 4 * min(np.int64(xf[U(e - 2 * xs)]), 3)
    b += (16 * min(np.int64(xf[U(max(e - sW, 0))]), 3)) & -np.int64(w >= 1)
    b += (64 * min(np.int64(xf[U(max(e - sH, 0))]), 3)) & -np.int64(h >= 1)
    return b


@njit(cache=True, nogil=True)
def magnitude_work_bytes(x, bits):
    """Bytes of working memory the encoder's magnitude decisions take (4 each: ``q << 1 | bit``),
    after :func:`.fast_contexts.work_bytes`' from its ``work`` argument when that holds both: ``bits`` per
    nonzero element of ``x`` for ``bits > 1``, else 0."""
    if bits <= 1:
        return 0
    xf = x.ravel()
    nz = 0
    for e in range(xf.size):
        nz += xf[e] != 0
    return nz * bits * 4


@njit(cache=True, nogil=True)
def magnitude_pass(x, bits, mg, ms, work):
    """The magnitude decisions of the multi-bit (T, N, C, H, W) array ``x`` as ``q << 1 | bit``:
    every nonzero element in C order, the bits of ``x - 1`` MSB first with ``context``'s buckets
    (FORMAT.md 9.4.5). Updates ``mg``, ``ms``. The decisions are in ``work`` after
    :func:`.fast_contexts.work_bytes`' share when it holds them (:func:`magnitude_work_bytes`; a fresh array's
    page faults cost as much as the pass itself), else in a new array."""
    T, N, C, H, W = x.shape
    GM = mag_groups(C, bits)
    km = 256 << bits
    xf = x.ravel()
    need = magnitude_work_bytes(x, bits)
    o = work_bytes(T, N, C, H, W, True)
    if work.size >= o + need:
        qd = work[o:o + need].view(np.uint32)
    else:
        qd = np.empty(need // 4, np.uint32)
    P = H * W
    xs = N * C * P
    spot = np.empty(SPOTS, np.int64)
    i = 0
    e0 = 0
    for t in range(T):
        for n in range(N):
            for c in range(C):
                gb = (c % GM) * km
                for p0 in range(0, P, SPOTS):
                    for j in range(_nonzeros(xf, e0, p0, min(p0 + SPOTS, P), W, W, 1, spot)):
                        h = spot[U(j)] >> 32
                        w = spot[U(j)] & 0xFFFFFFFF
                        e = e0 + h * W + w
                        b = _bucket(xf, e, t, h, w, xs, W, 1) << bits
                        m = np.int64(xf[U(e)]) - 1
                        node = 1
                        for jb in range(bits - 1, -1, -1):
                            d = (m >> jb) & 1
                            k = b + node
                            cv = mg[U(gb + k)]
                            sv = ms[U(k)]
                            qd[U(i)] = np.uint32((prob(cv, sv) << 1) | d)
                            mg[U(gb + k)] = bumped(cv, d)
                            ms[U(k)] = bumped(sv, d)
                            node = 2 * node + d
                            i += 1
                e0 += P
    return qd


@njit(cache=True, nogil=True)
def _decode_magnitudes(words, xf, shape, strides, bits, mg, ms):
    """Decode the magnitude stream into the significance bits already in ``xf`` (C order).

    The serial chain is cut two ways. Both children's probabilities of a tree node are computed
    before its bit is decoded (a child's counters are never the node's). And once this element's
    root bit is counted, the next nonzero element's root probability is computed for each value
    this one can add to its bucket (capped at 3: 1, 2 or 3 if it is the next one's left or upper
    neighbour, else none), so that this value, once decoded, only picks one, without a branch.
    Those counters are read after this root's update: the next root is this root when their
    buckets are equal, and never another node of this element (a bucket's nodes are
    ``b + 1 .. b + 2**bits - 1``)."""
    T, N, C, H, W = shape
    xs, sN, sC, sH, sW = strides
    state, r = start(words)
    if r < 0:
        return 1
    GM = mag_groups(C, bits)
    km = 256 << bits
    top = (1 << bits) - 1
    P = H * W
    spot = np.empty(SPOTS + 1, np.int64)
    for t in range(T):
        for n in range(N):
            for c in range(C):
                gb = (c % GM) * km
                e0 = t * xs + n * sN + c * sC
                for p0 in range(0, P, SPOTS):  # a block of the plane at a time
                    count = _nonzeros(xf, e0, p0, min(p0 + SPOTS, P), W, sH, sW, spot)
                    if count == 0:
                        continue
                    spot[U(count)] = spot[U(count - 1)]  # the last one's next: computed, unused
                    h = spot[0] >> 32
                    w = spot[0] & 0xFFFFFFFF
                    e = e0 + h * sH + w * sW
                    b = _bucket(xf, e, t, h, w, xs, sH, sW) << bits
                    cv = np.int64(mg[U(gb + b + 1)])
                    sv = np.int64(ms[U(b + 1)])
                    q = prob(cv, sv)
                    for j in range(count):
                        # The root: its children's probabilities first, then the bit.
                        q0 = prob(mg[U(gb + b + 2)], ms[U(b + 2)])
                        q1 = prob(mg[U(gb + b + 3)], ms[U(b + 3)])
                        bit, state = decode_bit(state, q)
                        if state < np.uint64(LOW) and r > 0:
                            r -= 1
                            state = (state << np.uint64(32)) | np.uint64(words[U(r)])
                        bit = np.int64(bit)
                        mg[U(gb + b + 1)] = bumped(cv, bit)
                        ms[U(b + 1)] = bumped(sv, bit)
                        node = 2 + bit
                        q = pick(opaque(-bit), q0, q1)
                        # The next element's bucket and root for each value this one can take
                        # (capped: 1, 2, 3), so that its value only picks one: this element is
                        # its left or upper neighbour (weight 16 or 64 in the bucket) or neither.
                        hn = spot[U(j + 1)] >> 32
                        wn = spot[U(j + 1)] & 0xFFFFFFFF
                        en = e0 + hn * sH + wn * sW
                        bn = _bucket(xf, en, t, hn, wn, xs, sH, sW) << bits  # with this one at 1
                        left_of = (hn == h) & (wn == w + 1)
                        above = (hn == h + 1) & (wn == w)
                        step = ((16 & -np.int64(left_of)) | (64 & -np.int64(above))) << bits
                        cn1 = np.int64(mg[U(gb + bn + 1)])
                        sn1 = np.int64(ms[U(bn + 1)])
                        cn2 = np.int64(mg[U(gb + bn + step + 1)])
                        sn2 = np.int64(ms[U(bn + step + 1)])
                        cn3 = np.int64(mg[U(gb + bn + 2 * step + 1)])
                        sn3 = np.int64(ms[U(bn + 2 * step + 1)])
                        qn1 = prob(cn1, sn1)
                        qn2 = prob(cn2, sn2)
                        qn3 = prob(cn3, sn3)
                        for _ in range(bits - 2):
                            kc = b + 2 * node
                            q0 = prob(mg[U(gb + kc)], ms[U(kc)])
                            q1 = prob(mg[U(gb + kc + 1)], ms[U(kc + 1)])
                            bit, state = decode_bit(state, q)
                            if state < np.uint64(LOW) and r > 0:
                                r -= 1
                                state = (state << np.uint64(32)) | np.uint64(words[U(r)])
                            bit = np.int64(bit)
                            mg[U(gb + b + node)] = bumped(mg[U(gb + b + node)], bit)
                            ms[U(b + node)] = bumped(ms[U(b + node)], bit)
                            node = 2 * node + bit
                            q = pick(opaque(-bit), q0, q1)
                        bit, state = decode_bit(state, q)  # the last bit: a leaf, no children
                        if state < np.uint64(LOW) and r > 0:
                            r -= 1
                            state = (state << np.uint64(32)) | np.uint64(words[U(r)])
                        bit = np.int64(bit)
                        mg[U(gb + b + node)] = bumped(mg[U(gb + b + node)], bit)
                        ms[U(b + node)] = bumped(ms[U(b + node)], bit)
                        m = 2 * node + bit - (1 << bits)
                        if m == top:
                            return 2
                        xf[U(e)] = m + 1
                        v2 = opaque(-np.int64(m == 1))
                        v3 = opaque(-np.int64(m >= 2))
                        bn += pick(v2, 0, step) + pick(v3, 0, 2 * step)
                        cn = pick(v3, pick(v2, cn1, cn2), cn3)
                        sn = pick(v3, pick(v2, sn1, sn2), sn3)
                        qn = pick(v3, pick(v2, qn1, qn2), qn3)
                        e, h, w, b, cv, sv, q = en, hn, wn, bn, cn, sn, qn
    if state != 0 or r != 0:
        return 1
    return 0


@njit(cache=True, nogil=True)
def finish_decode(words, offs, xf, shape, strides, bits, mg, ms, z, r, first, L):
    """After the lanes' significance: the magnitude stream (a value at the top is refused as
    soon as it is decoded), then every stream's end check (FORMAT.md 9.4.12). Returns 0, 1 or 2
    as :func:`.fast.decode_into_with`."""
    status = 0
    if bits > 1:
        status = _decode_magnitudes(words[offs[L]:offs[L + 1]], xf, shape, strides, bits, mg, ms)
        if status == 2:
            return 2
    for ln in range(L):
        if z[ln] != 0 or r[ln] != first[ln]:
            return 1
    return status
