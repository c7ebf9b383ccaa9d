"""The plain (unpadded) path of ``ctxfast`` (FORMAT.md 9.4.12): the same decisions, in the same
order, for planes that padding would more than double (rows, pixels: a fully connected layer's
1 x 1 planes, whose padded copy would be 9 bytes an element), so that a small file cannot ask
for many times its output.

The encoder computes every context up front (:func:`_plain_contexts`) and codes while all four
lanes have samples left a block (one sample's planes at one step) at a time, with each lane's
place in scalars (:func:`model_pass_plain`); the decoder checks each neighbour against the edges
(:func:`_plain_context`, :func:`decode_plain_into_with`). :mod:`.fast`'s encoder and decoder
hand such chunks here.

Memory: the encoder takes 5 bytes an element beyond its decisions (the significances and their
contexts); the decoder one byte an element beside its output (the significances so far).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .context import MAX_GROUPS, prob
from .counters import bumped
from .fast_layout import KS, NL, lane_count, lane_plane_counts, lane_planes, lane_starts, open_streams
from .fast_magnitudes import finish_decode
from .ops import U
from .rans import LOW, decode_bit


@njit(inline="always", cache=True)
def _next_block(tl, nq, blk, ob, starts, L, N, C, P, xs, sN):
    """The unpadded loops' lanes after the last plane of a sample: each lane's next (t, n) - the
    next sample of its block, or its first at t + 1 - its first element ``blk`` in C order and
    its output offset ``ob`` (strides ``xs``, ``sN``). A lane past its end is never read again."""
    for ln in range(L):
        nq[ln] += 1
        if nq[ln] == starts[ln + 1] - starts[ln]:
            nq[ln] = 0
            tl[ln] += 1
        n = starts[ln] + nq[ln]
        blk[ln] = (tl[ln] * N + n) * C * P
        ob[ln] = tl[ln] * xs + n * sN


@njit(cache=True, nogil=True)
def _plain_lanes(starts, L, C, P, sN):
    """The unpadded loops' lane positions at the first step: (t, place in the lane's samples,
    first element, output offset) of each lane."""
    tl = np.zeros(NL, np.int64)
    nq = np.zeros(NL, np.int64)
    blk = np.zeros(NL, np.int64)
    ob = np.zeros(NL, np.int64)
    for ln in range(L):
        blk[ln] = starts[ln] * C * P
        ob[ln] = starts[ln] * sN
    return tl, nq, blk, ob


@njit(cache=True, nogil=True)
def _plain_contexts(su, T, N, C, H, W):
    """The significance context (FORMAT.md 9.4.12) of every element of the unpadded significances
    ``su`` (C order), for the encoder, which knows them all: a pass per term over the elements
    that have that neighbour, so that no element tests an edge (on 1 x 1 planes the spatial
    terms are skipped whole). ``k = 1024 hs + 256 nb + 128 p1 + 64 p2 + 32 p3 + 16 p45 + 8 up +
    4 ul + 2 ur + left``."""
    P = H * W
    sT = N * C * P
    ctx = np.zeros(T * sT, np.int32)
    cnt = np.zeros(sT if T > 1 else 0, np.uint8)  # one step's counts of set neighbours at t - 1
    for t in range(1, T):  # hs and nb: the neuron's earlier steps, its neighbours at t - 1
        b0 = t * sT
        b1 = b0 - sT
        b2 = b0 - 2 * sT if t >= 2 else b1
        b3 = b0 - 3 * sT if t >= 3 else b1
        w2 = 2 if t >= 2 else 0
        w3 = 4 if t >= 3 else 0
        off = (1 << min(t, 3)) - 1
        for e in range(sT):
            ctx[U(b0 + e)] = 1024 * (off + su[U(b1 + e)] + w2 * su[U(b2 + e)] + w3 * su[U(b3 + e)])
        cnt[:] = 0
        for dh in range(-1, 2):
            for dw in range(-1, 2):
                h0, h1, w0, w1 = max(0, -dh), min(H, H - dh), max(0, -dw), min(W, W - dw)
                if (dh == 0 and dw == 0) or h0 >= h1 or w0 >= w1:
                    continue
                d = dh * W + dw
                for q in range(0, sT, P):
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            cnt[U(q + h * W + w)] += su[U(b1 + q + h * W + w + d)]
        for e in range(sT):
            v = cnt[U(e)]
            ctx[U(b0 + e)] += 256 * ((v > 0) + (v > 2) + (v > 5))
    CP = C * P
    for s in range(0, T * sT, CP):  # p1, p2, p3, p45: the sample's five previous channels
        for i in range(P, CP):
            ctx[U(s + i)] += 128 * su[U(s + i - P)]
        for i in range(2 * P, CP):
            ctx[U(s + i)] += 64 * su[U(s + i - 2 * P)]
        for i in range(3 * P, CP):
            ctx[U(s + i)] += 32 * su[U(s + i - 3 * P)]
        for i in range(4 * P, min(5 * P, CP)):
            ctx[U(s + i)] += 16 * su[U(s + i - 4 * P)]
        for i in range(5 * P, CP):
            ctx[U(s + i)] += 16 * (su[U(s + i - 4 * P)] | su[U(s + i - 5 * P)])
    if P > 1:  # up, ul, ur and left: the plane's row above and the element before
        for q in range(0, T * sT, P):
            for h in range(1, H):
                r = q + h * W
                for w in range(W):
                    ctx[U(r + w)] += 8 * su[U(r + w - W)]
                for w in range(1, W):
                    ctx[U(r + w)] += 4 * su[U(r + w - W - 1)]
                for w in range(W - 1):
                    ctx[U(r + w)] += 2 * su[U(r + w - W + 1)]
            for h in range(H):
                r = q + h * W
                for w in range(1, W):
                    ctx[U(r + w)] += su[U(r + w - 1)]
    return ctx


@njit(cache=True, nogil=True)
def model_pass_plain(x, sg, ss):
    """:func:`.fast._model_pass` without the padded copy, as :func:`decode_plain_into_with` decodes:
    the contexts from :func:`_plain_contexts`. While all four lanes have samples left, a block
    (one sample's planes at one step) at a time with each lane's place in scalars, so that the
    four lanes' reads overlap; then lane by lane, their state in arrays."""
    T, N, C, H, W = x.shape
    L = lane_count(N)
    starts = lane_starts(N)
    G = max(min(C, MAX_GROUPS), 1)
    P = H * W
    CP = C * P
    su = np.minimum(x.ravel(), 1)
    ctx = _plain_contexts(su, T, N, C, H, W)
    planes = lane_plane_counts(T, N, C, starts, L)
    per = planes[:L] * P
    qd = np.empty((L, max(per.max(), 1) if L else 1), np.uint32)
    kk = np.zeros(NL, np.int64)
    bit = np.zeros(NL, np.int64)
    tl, nq, blk, ob = _plain_lanes(starts, L, C, P, 0)
    i0 = per.min() if L == NL else 0  # whole blocks: every lane's count is a multiple of C P
    for i in range(0, i0, CP):
        b0, b1, b2, b3 = U(blk[0]), U(blk[1]), U(blk[2]), U(blk[3])
        for c in range(C):
            gb = U((c % G) * KS)
            for o in range(U(c * P), U(c * P + P)):
                k0, k1, k2, k3 = U(ctx[b0 + o]), U(ctx[b1 + o]), U(ctx[b2 + o]), U(ctx[b3 + o])
                s0, s1, s2, s3 = np.int64(su[b0 + o]), np.int64(su[b1 + o]), np.int64(su[b2 + o]), np.int64(su[b3 + o])
                e = U(i) + o
                qd[0, e] = (prob(sg[gb + k0], ss[k0]) << 1) | s0  # every read of the step before any update
                qd[1, e] = (prob(sg[gb + k1], ss[k1]) << 1) | s1
                qd[2, e] = (prob(sg[gb + k2], ss[k2]) << 1) | s2
                qd[3, e] = (prob(sg[gb + k3], ss[k3]) << 1) | s3
                sg[gb + k0] = bumped(sg[gb + k0], s0)
                ss[k0] = bumped(ss[k0], s0)
                sg[gb + k1] = bumped(sg[gb + k1], s1)
                ss[k1] = bumped(ss[k1], s1)
                sg[gb + k2] = bumped(sg[gb + k2], s2)
                ss[k2] = bumped(ss[k2], s2)
                sg[gb + k3] = bumped(sg[gb + k3], s3)
                ss[k3] = bumped(ss[k3], s3)
        _next_block(tl, nq, blk, ob, starts, L, N, C, P, 0, 0)
    c = h = w = off = gb = 0  # the step's place in every lane's plane, and in its sample
    for i in range(i0, per.max() if L else 0):
        for ln in range(L):  # every read of the step before any update
            if i >= per[ln]:
                continue
            e = blk[ln] + off
            k = np.int64(ctx[e])
            s = np.int64(su[e])
            kk[ln] = k
            bit[ln] = s
            qd[ln, U(i)] = (prob(sg[U(gb + k)], ss[U(k)]) << 1) | s
        for ln in range(L):
            if i >= per[ln]:
                continue
            k = kk[ln]
            sg[U(gb + k)] = bumped(sg[U(gb + k)], bit[ln])
            ss[U(k)] = bumped(ss[U(k)], bit[ln])
        off += 1  # the next step: counted on, no divisions
        w += 1
        if w == W:
            w = 0
            h += 1
            if h == H:
                h = 0
                c += 1
                if c == C:
                    c = off = 0
                    _next_block(tl, nq, blk, ob, starts, L, N, C, P, 0, 0)
                gb = (c % G) * KS
    return qd, per


@njit(inline="always", cache=True)
def _plain_context(su, e, t, c, h, w, sT, H, W, P):
    """The significance context of FORMAT.md 9.4.12 of element ``e`` (C order, at t, c, h, w)
    from the unpadded significances ``su``, each neighbour checked against the chunk's edges."""
    hs = 0
    if t >= 1:
        hs = (1 << min(t, 3)) - 1 + su[e - sT]
        if t >= 2:
            hs += 2 * su[e - 2 * sT]
        if t >= 3:
            hs += 4 * su[e - 3 * sT]
    nb = 0
    if t >= 1:
        cnt = 0
        for dh in range(-1, 2):
            for dw in range(-1, 2):
                if (dh != 0 or dw != 0) and 0 <= h + dh < H and 0 <= w + dw < W:
                    cnt += su[e - sT + dh * W + dw]
        nb = (cnt > 0) + (cnt > 2) + (cnt > 5)
    p1 = su[e - P] if c >= 1 else 0
    p2 = su[e - 2 * P] if c >= 2 else 0
    p3 = su[e - 3 * P] if c >= 3 else 0
    p45 = 0
    if c >= 4:
        p45 = su[e - 4 * P]
    if c >= 5:
        p45 |= su[e - 5 * P]
    up = ul = ur = 0
    if h >= 1:
        up = su[e - W]
        if w >= 1:
            ul = su[e - W - 1]
        if w + 1 < W:
            ur = su[e - W + 1]
    left = su[e - 1] if w >= 1 else 0
    plane = ((((hs * 4 + nb) * 2 + p1) * 2 + p2) * 2 + p3) * 2 + p45
    return 16 * plane + 8 * up + 4 * ul + 2 * ur + left


@njit(cache=True, nogil=True)
def decode_plain_into_with(words, offs, xf, shape, strides, bits, sg, ss, mg, ms):
    """:func:`.fast.decode_into_with` without the padded copy: the significances decoded so far in an
    unpadded C-order array (one byte an element) and each context's neighbours checked against
    the chunk's edges. For planes that padding would more than double (one row or column, or a
    pixel: a padded copy of 1 x 1 planes is 9 bytes an element), so that a small file cannot ask
    for many times its output; slower, and the same decisions."""
    T, N, C, H, W = shape
    xs, sN, sC, sH, sW = strides
    L = lane_count(N)
    starts = lane_starts(N)
    z, r, first, bad = open_streams(words, offs, L)
    if bad:
        return 1
    G = max(min(C, MAX_GROUPS), 1)
    P = H * W
    sT = N * C * P
    su = np.zeros(T * N * C * P, np.uint8)
    per = np.zeros(NL, np.int64)
    for ln in range(L):
        per[ln] = lane_planes(T, N, C, starts, ln) * P
    kk = np.zeros(NL, np.int64)
    bit = np.zeros(NL, np.int64)
    at = np.zeros(NL, np.int64)
    to = np.zeros(NL, np.int64)
    tl, nq, blk, ob = _plain_lanes(starts, L, C, P, sN)
    c = h = w = off = gb = 0  # the step's place in every lane's plane, and in its sample
    for i in range(per.max()):
        for ln in range(L):  # every read of the step before any update
            if i >= per[ln]:
                continue
            e = blk[ln] + off
            k = _plain_context(su, e, tl[ln], c, h, w, sT, H, W, P)
            kk[ln] = k
            at[ln] = e
            to[ln] = ob[ln] + c * sC + h * sH + w * sW
            b, zz = decode_bit(z[ln], prob(sg[U(gb + k)], ss[U(k)]))
            if zz < np.uint64(LOW) and r[ln] > first[ln]:
                r[ln] -= 1
                zz = (zz << np.uint64(32)) | np.uint64(words[U(r[ln])])
            z[ln] = zz
            bit[ln] = np.int64(b)
        for ln in range(L):
            if i >= per[ln]:
                continue
            k = kk[ln]
            s = bit[ln]
            sg[U(gb + k)] = bumped(sg[U(gb + k)], s)
            ss[U(k)] = bumped(ss[U(k)], s)
            su[U(at[ln])] = s
            xf[U(to[ln])] = s
        off += 1  # the next step, as the encoder's
        w += 1
        if w == W:
            w = 0
            h += 1
            if h == H:
                h = 0
                c += 1
                if c == C:
                    c = off = 0
                    _next_block(tl, nq, blk, ob, starts, L, N, C, P, xs, sN)
                gb = (c % G) * KS
    return finish_decode(words, offs, xf, shape, strides, bits, mg, ms, z, r, first, L)
