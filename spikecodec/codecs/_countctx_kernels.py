"""Compiled (numba) model + coder loop of the ``countctx`` codec (FORMAT.md 9.4.7).

Imported lazily (numba compiles on first use), never by ``import spikecodec``. One loop serves
both directions (``decoding`` False: record every decision's bit and probability, then rANS-code
them in reverse with the coder of :mod:`._kernels`; True: decode each bit as it comes), so the
encoder and decoder cannot disagree on the model. All model arithmetic is exact integers.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._kernels import LOW, ONE, _decode_bit, _rans_encode, _start

PRIOR = 8  # weight of the shared estimate in the channel-group estimate, in counts
LIMIT = 1024  # counters are halved when their total reaches this
NHS = 53  # history states of FORMAT.md 9.4.7
KS = NHS * 4 * 4 * 2 * 6  # significance contexts
KL = 2 * NHS * 4 * 4  # level contexts (levels 1 and 2)


@njit(cache=True)
def groups(C):
    return max(1, min(C, 256))


@njit(cache=True)
def max_decisions(bits):
    """Most binary decisions one element can take: significance, two levels, an escape tree."""
    if bits == 1:
        return 1
    if bits == 2:
        return 3
    return 3 + bits


@njit(inline="always", cache=True)
def _q(c1, cn, g1, gn, i, k):
    """P(1) * 2**24 from group counters (c1, cn)[i] and shared counters (g1, gn)[k]."""
    qg = ((2 * np.int64(g1[k]) + 1) << 24) // (2 * np.int64(gn[k]) + 2)
    q = ((np.int64(c1[i]) << 24) + PRIOR * qg) // (np.int64(cn[i]) + PRIOR)
    return min(max(q, 1), ONE - 1)


@njit(inline="always", cache=True)
def _count(c1, cn, i, bit):
    c1[i] += bit
    cn[i] += 1
    if cn[i] >= LIMIT:
        cn[i] = (cn[i] + 1) >> 1
        c1[i] = (c1[i] + 1) >> 1


@njit(inline="always", cache=True)
def _decision(bit, q, io, out_bits, out_q, words, decoding):
    """Code one decision. io = [state, next word index, decisions recorded]. Returns the bit."""
    if decoding:
        b, state = _decode_bit(np.uint64(io[0]), q)
        pos = io[1]
        if state < np.uint64(LOW) and pos > 0:
            pos -= 1
            state = (state << np.uint64(32)) | np.uint64(words[pos])
        io[0] = state
        io[1] = pos
        return np.int64(b)
    i = io[2]
    out_bits[i] = bit
    out_q[i] = q
    io[2] = i + 1
    return bit


@njit(inline="always", cache=True)
def _s(x, t, n, c, h, w, H, W):
    if t < 0 or h < 0 or w < 0 or w >= W or h >= H:
        return 0
    return 1 if x[t, n, c, h, w] else 0


@njit(inline="always", cache=True)
def _v(x, t, n, c, h, w):
    if t < 0 or h < 0 or w < 0:
        return 0
    return min(np.int64(x[t, n, c, h, w]), 3)


@njit(cache=True)
def _run(x, bits, words, decoding, io, out_bits, out_q):
    """The model over the (T, N, C, H, W) array ``x`` (read when encoding, written when decoding).
    Returns 0, or 2 if a decoded value does not fit ``bits``."""
    T, N, C, H, W = x.shape
    G = groups(C)
    top = (1 << bits) - 1
    sc1 = np.zeros(G * KS, np.uint16)
    scn = np.zeros(G * KS, np.uint16)
    sg1 = np.zeros(KS, np.uint16)
    sgn = np.zeros(KS, np.uint16)
    lc1 = np.zeros(G * KL, np.uint16)
    lcn = np.zeros(G * KL, np.uint16)
    lg1 = np.zeros(KL, np.uint16)
    lgn = np.zeros(KL, np.uint16)
    ne = 1 << bits if bits > 2 else 1
    ec1 = np.zeros(G * ne, np.uint16)
    ecn = np.zeros(G * ne, np.uint16)
    eg1 = np.zeros(ne, np.uint16)
    egn = np.zeros(ne, np.uint16)
    # Per position: channels c' < c that fired at (t, n). A decoder keeps these counts (< C <=
    # 256: a byte) in the last channel's plane of its output, free until that channel is decoded,
    # where each is read before its element is written: a huge plane then costs no table.
    in_x = decoding and 1 < C <= 256
    fired = np.zeros(H * W if C > 1 and not in_x else 0, np.int64)
    for t in range(T):
        for n in range(N):
            if in_x:
                x[t, n, C - 1] = 0
            else:
                fired[:] = 0
            for c in range(C):
                g = c % G
                for h in range(H):
                    for w in range(W):
                        if t == 0:
                            hs = 0
                        elif t == 1:
                            hs = 1 + _v(x, t - 1, n, c, h, w)
                        elif t == 2:
                            hs = 5 + _v(x, t - 1, n, c, h, w) + 4 * _v(x, t - 2, n, c, h, w)
                        else:
                            hs = 21 + _v(x, t - 1, n, c, h, w) + 4 * _v(x, t - 2, n, c, h, w) + 16 * _s(x, t - 3, n, c, h, w, H, W)
                        left = _s(x, t, n, c, h, w - 1, H, W)
                        up = _s(x, t, n, c, h - 1, w, H, W)
                        diag = _s(x, t, n, c, h - 1, w - 1, H, W) | _s(x, t, n, c, h - 1, w + 1, H, W)
                        nb = 0
                        if t > 0:
                            cnt = 0
                            for dh in range(-1, 2):
                                for dw in range(-1, 2):
                                    if dh or dw:
                                        cnt += _s(x, t - 1, n, c, h + dh, w + dw, H, W)
                            nb = (cnt > 0) + (cnt > 2) + (cnt > 5)
                        pf = 0
                        if c > 0:
                            f = np.int64(x[t, n, C - 1, h, w]) if in_x else fired[h * W + w]
                            pf = 1 + (4 * f) // c
                        k = (((hs * 4 + left + 2 * up) * 4 + nb) * 2 + diag) * 6 + pf
                        i = g * KS + k
                        val = np.int64(x[t, n, c, h, w]) if not decoding else 0
                        s = _decision(np.int64(val > 0), _q(sc1, scn, sg1, sgn, i, k), io, out_bits, out_q, words, decoding)
                        _count(sc1, scn, i, s)
                        _count(sg1, sgn, k, s)
                        v = s
                        if s and bits > 1:
                            lb = (hs * 4 + _v(x, t, n, c, h, w - 1)) * 4 + _v(x, t, n, c, h - 1, w)
                            for j in range(1, 3):
                                kl = (j - 1) * (KL // 2) + lb
                                il = g * KL + kl
                                b = _decision(np.int64(val > j), _q(lc1, lcn, lg1, lgn, il, kl), io, out_bits, out_q, words, decoding)
                                _count(lc1, lcn, il, b)
                                _count(lg1, lgn, kl, b)
                                if not b:
                                    break
                                v = j + 1
                            if v == 3 and bits > 2:  # escape: e = x - 3 as a binary tree, MSB first
                                node = 1
                                for d in range(bits - 1, -1, -1):
                                    ie = g * ne + node
                                    b = _decision(((val - 3) >> d) & 1, _q(ec1, ecn, eg1, egn, ie, node), io, out_bits, out_q, words, decoding)
                                    _count(ec1, ecn, ie, b)
                                    _count(eg1, egn, node, b)
                                    node = 2 * node + b
                                v = 3 + node - (1 << bits)
                        if v > top:
                            return 2
                        if decoding:
                            x[t, n, c, h, w] = v
                        if c < C - 1:  # the last channel's counts are never read
                            if in_x:
                                x[t, n, C - 1, h, w] += s
                            else:
                                fired[h * W + w] += s
    return 0


@njit(cache=True)
def _model_pass(x, bits):
    """(bits, q) views of every decision of ``x`` in coding order: the model run once."""
    m = x.size * max_decisions(bits)
    out_bits = np.empty(m, np.uint8)
    out_q = np.empty(m, np.uint64)
    io = np.zeros(3, np.uint64)
    _run(x, bits, np.empty(0, np.uint32), False, io, out_bits, out_q)
    d = np.int64(io[2])
    return out_bits[:d], out_q[:d]


@njit(cache=True)
def encode(x, bits):
    """The rANS words of the (T, N, C, H, W) uint8 array ``x``."""
    out_bits, out_q = _model_pass(x, bits)
    return _rans_encode(out_bits, out_q, False)


@njit(cache=True)
def decisions(x, bits):
    """(bits, q) of every decision of ``x`` in coding order (diagnostics and tests)."""
    out_bits, out_q = _model_pass(x, bits)
    return out_bits.copy(), out_q.astype(np.uint32)


@njit(cache=True)
def decode_into(words, x, bits):
    """Decode into the C-contiguous (T, N, C, H, W) uint8 array ``x``. Status: 0 ok, 1 malformed
    stream (zero last word, or words or state left at the end), 2 a value >= 2**bits decoded."""
    state, pos = _start(words)
    if pos < 0:
        return 1
    io = np.zeros(3, np.uint64)
    io[0] = state
    io[1] = pos
    status = _run(x, bits, words, True, io, np.empty(0, np.uint8), np.empty(0, np.uint64))
    if status:
        return status
    if io[1] != 0 or io[0] != 0:
        return 1
    return 0
