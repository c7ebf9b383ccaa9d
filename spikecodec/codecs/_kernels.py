"""Compiled (numba) loops of the ``order0`` and ``context`` codecs: adaptive model + rANS coder.

Imported lazily by the codecs (numba compiles on first use), never by ``import spikecodec``.
The normative description is FORMAT.md section 9.4; this module is its reference
implementation. All model arithmetic is integer, so encoder and decoder (on any machine) compute
the same probability for every binary decision.

Model (per chunk, state reset at the start of every chunk). Every element ``x`` of the canonical
(T, N, C, H, W) view, in C order, is coded as binary decisions:

* the significance bit ``s = x > 0`` with context ``k`` (:func:`_sig_ctx`; always 0 for
  ``order0``) and channel group ``g = c mod G`` (``G = min(C, 256)``);
* for ``bits > 1`` and ``s = 1``: the ``bits`` bits of ``m = x - 1``, MSB first, each with
  context ``b * 2**bits + node`` where ``node`` is the binary-tree node (1, then
  ``2 * node + bit``) and ``b`` the bucket of :func:`_mag_ctx` (the neuron's two previous values
  and its left and upper neighbours' values; always 0 for ``order0``), per channel group
  ``c mod mag_groups(C, bits)``.

P(bit = 1) = ``q / 2**24`` with ``q`` from two adaptive integer counters per decision, a shared
one ``(g1, gn)`` per context and a per-channel-group one ``(c1, cn)`` (see :func:`_prob`).

The coder is constriction's ``AnsCoder<u32, u64>`` at precision 24, step for step (the test
suite checks byte equality with constriction on the same symbols and weights):

    encode (decisions taken in reverse order), bit with weight w and left cumulative c
    (bit 0: w = 2**24 - q, c = 0; bit 1: w = q, c = 2**24 - q):
        if state >> 40 >= w: emit the low 32 bits of state as a word; state >>= 32
        state = ((state // w) << 24) | (state % w + c)
    finish: append the low word of state, then the high word if non-zero (nothing if state = 0)

    decode: state = last word (must be non-zero), then (state << 32) | the word before it
        if that is still < 2**32; per decision: z = state & (2**24 - 1); bit = z >= 2**24 - q;
        state = (state >> 24) * w + (z - c); if state < 2**32 and words remain:
        state = (state << 32) | next word (words are read from the end towards the start).
    A well-formed stream ends with every word read and state = 0.
"""

from __future__ import annotations

import numpy as np
from numba import njit

PREC = 24
ONE = 1 << PREC
MASK = ONE - 1
LOW = 1 << 32
PRIOR = 4  # weight of the shared estimate in the channel estimate, in counts
LIMIT = 1024  # counters are halved when their total reaches this
MAX_GROUPS = 256
NSIG = 1024  # significance contexts of ``context``
N1 = 1 << 16  # a counter pair is one uint32: c1 (ones) in the low half, cn (total) in the high

# Exact integer division by a reciprocal. Both divisions of _prob have a numerator below 2**35,
# a divisor d <= 2048 (d = cn + 4, d = 2 gn + 2) and a quotient below 2**25; all these values are
# exact in a double. If d does not divide the numerator, the quotient's fractional part lies in
# [1/d, 1 - 1/d], at least 2**-11 from an integer. The double product numerator * (1/d) is within
# 2**-26 of the true quotient (two roundings, relative error <= 2**-52 each), so adding
# BIAS = 2**-12 and truncating gives exactly floor(numerator / d) in every case; the test suite
# checks every (g1, gn) pair against integer division. Integer division is slow and sits on the
# decoder's critical path; this is a multiply, an add and a conversion.
INV_BLEND = 1.0 / (np.arange(LIMIT, dtype=np.float64) + PRIOR)  # 1 / (cn + PRIOR)
KT_SCALE = float(ONE) / (2.0 * np.arange(LIMIT, dtype=np.float64) + 2.0)  # 2**24 / (2 gn + 2)
BIAS = 2.0**-12
NB_CLASS = np.array([0, 1, 1, 2, 2, 2, 3, 3, 3], np.int64)  # 8-neighbour count -> nb of 9.4.5


@njit(inline="always", cache=True)
def _prob(cv, sv):
    """q = P(1) * 2**24 of one decision from its packed channel-group counts ``cv`` = (c1, cn)
    and shared counts ``sv`` = (g1, gn) (FORMAT.md 9.4.2)."""
    cv = np.int64(cv)
    sv = np.int64(sv)
    qg = np.floor(np.float64(2 * (sv & 0xFFFF) + 1) * KT_SCALE[sv >> 16] + BIAS)
    q = np.int64((np.float64(cv & 0xFFFF) * ONE + PRIOR * qg) * INV_BLEND[cv >> 16] + BIAS)
    return min(max(q, 1), MASK)


@njit(inline="always", cache=True)
def _update(tab, i, bit):
    """Count decision ``bit`` in packed counter pair ``tab[i]``; halve both at LIMIT."""
    v = np.int64(tab[i]) + N1 + bit
    if v >= LIMIT * N1:
        v = ((((v >> 16) + 1) >> 1) << 16) | (((v & 0xFFFF) + 1) >> 1)
    tab[i] = v


@njit(cache=True)
def mag_groups(C, bits):
    """Channel groups of the magnitude counters: min(C, 256, 2**(14 - bits)), at least 1
    (so the group table has at most 2**22 entries even for 8-bit elements)."""
    return max(1, min(C, MAX_GROUPS, 1 << max(14 - bits, 0)))


@njit(cache=True)
def _new_counters(C, bits, contextual):
    """Fresh (all-zero) counter tables of one chunk, as encoder and decoder both start
    (FORMAT.md 9.4.2), each a flat uint32 array of packed (ones, total) pairs: significance group
    table (index g * ks + k) and shared table (k), magnitude group table (gm * km + kk) and
    shared table (kk). Returns (G, GM, ks, km, sig_group, sig_shared, mag_group, mag_shared)."""
    G = max(min(C, MAX_GROUPS), 1)
    ks = NSIG if contextual else 1
    km = (256 << bits) if (bits > 1 and contextual) else ((1 << bits) if bits > 1 else 1)
    GM = mag_groups(C, bits)
    return (G, GM, ks, km, np.zeros(G * ks, np.uint32), np.zeros(ks, np.uint32),
            np.zeros(GM * km, np.uint32), np.zeros(km, np.uint32))


@njit(inline="always", cache=True)
def _mag_ctx(xf, e, t, h, w, xs, W):
    """Magnitude bucket 0..255 of flat element ``e`` of the (unpadded) value array ``xf``: the
    neuron's values at t-1 and t-2 and the left and upper neighbours' values at t, each min(., 3)."""
    b = 0
    if t > 0:
        b = min(xf[e - xs], 3)
        if t > 1:
            b += 4 * min(xf[e - 2 * xs], 3)
    if w > 0:
        b += 16 * min(xf[e - 1], 3)
    if h > 0:
        b += 64 * min(xf[e - W], 3)
    return b


@njit(inline="always", cache=True)
def _row_ctx(sp, rk, i0, t, c, W, st, rw, cs):
    """Significance contexts (FORMAT.md 9.4.5) of one row of W elements, all but the ``left``
    term (16 * left), which the sequential loop adds as it goes: everything else comes from the
    previous row, channel and timesteps, so it is computed for the whole row up front.

    ``sp`` is the flat significance array of shape (T, N, C, H + 2, W + 2): the chunk padded by
    one zero row/column on each side of H and W; ``i0`` is the flat index of the row's first
    element in it, ``st`` the T stride, ``rw`` the row stride (W + 2), ``cs`` the channel stride."""
    # Slices rather than offset indexing: numba then drops its negative-index checks (3x faster).
    up = sp[i0 - rw - 1: i0 - rw + W + 1]
    for w in range(W):
        rk[w] = 32 * np.int64(up[w + 1]) + 2 * (up[w] | up[w + 2])
    if c > 0:
        pc = sp[i0 - cs: i0 - cs + W]
        for w in range(W):
            rk[w] += pc[w]
    if t > 0:
        j0 = i0 - st
        hs0 = (1 << min(t, 3)) - 1
        m2 = 2 if t >= 2 else 0
        m3 = 4 if t >= 3 else 0
        o2 = st if t >= 2 else 0  # (t-2) and (t-3) reads stay in range, weighted 0 if t < 3
        o3 = 2 * st if t >= 3 else o2
        a = sp[j0 - rw - 1: j0 - rw + W + 1]
        b = sp[j0 - 1: j0 + W + 1]
        d = sp[j0 + rw - 1: j0 + rw + W + 1]
        p2 = sp[j0 - o2: j0 - o2 + W]
        p3 = sp[j0 - o3: j0 - o3 + W]
        for w in range(W):
            hs = hs0 + np.int64(b[w + 1]) + m2 * np.int64(p2[w]) + m3 * np.int64(p3[w])
            cnt = (np.int64(a[w]) + a[w + 1] + a[w + 2] + b[w] + b[w + 2] + d[w] + d[w + 1] + d[w + 2])
            rk[w] += 64 * hs + 4 * ((cnt > 0) + (cnt > 2) + (cnt > 5))


@njit(cache=True)
def _finish(words, m, state):
    if state != 0:
        words[m] = np.uint32(state & 0xFFFFFFFF)
        m += 1
        if state >> np.uint64(32):
            words[m] = np.uint32(state >> np.uint64(32))
            m += 1
    return words[:m]


@njit(cache=True)
def encode_decisions(bits, q):
    """rANS-encode binary decisions ``bits`` with P(1) = ``q[i] / 2**24``; returns uint32 words."""
    words = np.empty(bits.size + 2, np.uint32)
    m = 0
    state = np.uint64(0)
    for i in range(bits.size - 1, -1, -1):
        one = np.uint64(q[i])
        zero = np.uint64(ONE) - one
        msk = np.uint64(0) - np.uint64(bits[i])  # all ones for a 1 (branch-free select)
        wt = zero ^ ((zero ^ one) & msk)
        cum = zero & msk
        if (state >> np.uint64(64 - PREC)) >= wt:
            words[m] = np.uint32(state & np.uint64(0xFFFFFFFF))
            m += 1
            state >>= np.uint64(32)
        state = ((state // wt) << np.uint64(PREC)) | (state % wt + cum)
    return _finish(words, m, state)


@njit(cache=True)
def model_decisions(x, bits, contextual, with_ctx):
    """The encoder's forward pass: every binary decision of the (T, N, C, H, W) array ``x``, its
    probability ``q`` and its full context id (channel group included), in coding order.
    Returns (decision bits uint8, q uint32, context id int32); the ids only ``with_ctx`` (else
    an empty array), as the encoder does not need them.

    Significance and magnitude decisions use disjoint counters, so they are modelled in two
    passes (no data-dependent branch in the first): the significance decision of element e sits
    at index e + bits * (nonzero elements before e), its magnitude bits right after it."""
    T, N, C, H, W = x.shape
    G, GM, ks, km, sg, ss, mg, ms = _new_counters(C, bits, contextual)
    rw = W + 2
    cs = (H + 2) * rw
    st = N * C * cs
    sp = np.zeros(T * st, np.uint8)
    rk = np.zeros(W, np.int64)
    xf = x.ravel()
    xs = N * C * H * W  # T stride of x
    mb = bits if bits > 1 else 0  # magnitude decisions per nonzero element
    nz = 0
    for v in xf:
        nz += v != 0
    total = xf.size + nz * mb
    out_bits = np.empty(total, np.uint8)
    out_q = np.empty(total, np.uint32)
    out_k = np.empty(total if with_ctx else 0, np.int32)
    nz_at = np.empty(nz + 1 if mb else 0, np.int64)  # flat index of each nonzero element
    lmul = 16 if contextual else 0
    e = 0
    i = 0
    j = 0
    for t in range(T):
        for n in range(N):
            for c in range(C):
                gbase = (c % G) * ks
                gt = sg[gbase: gbase + ks]
                for h in range(H):
                    i0 = ((t * N + n) * C + c) * cs + (h + 1) * rw + 1
                    if contextual:
                        _row_ctx(sp, rk, i0, t, c, W, st, rw, cs)
                    srow = sp[i0: i0 + W]  # row views: no negative-index checks in the loop
                    xrow = xf[e: e + W]
                    left = 0
                    for w in range(W):
                        s = np.int64(xrow[w] != 0)
                        k = rk[w] + lmul * left
                        out_q[i] = _prob(gt[k], ss[k])
                        out_bits[i] = s
                        if with_ctx:
                            out_k[i] = gbase + k
                        _update(gt, k, s)
                        _update(ss, k, s)
                        srow[w] = s
                        left = s
                        if mb:
                            nz_at[j] = e  # kept only if s (branch-free)
                            j += s
                        i += 1 + mb * s
                        e += 1
    for j in range(nz if mb else 0):  # magnitude bits of the nonzero elements, in order
        e = nz_at[j]
        i = e + mb * j + 1
        w = e % W
        h = (e // W) % H
        t = e // xs
        gbase = ((e // (H * W)) % C % GM) * km
        base = (_mag_ctx(xf, e, t, h, w, xs, W) << bits) if contextual else 0
        m = np.int64(xf[e]) - 1
        node = 1
        for b in range(bits - 1, -1, -1):
            bit = (m >> b) & 1
            kk = base + node
            out_q[i] = _prob(mg[gbase + kk], ms[kk])
            out_bits[i] = bit
            if with_ctx:
                out_k[i] = G * ks + gbase + kk
            _update(mg, gbase + kk, bit)
            _update(ms, kk, bit)
            node = 2 * node + bit
            i += 1
    return out_bits, out_q, out_k


@njit(cache=True)
def _start(words):
    """Initial (state, next word index); index -1 flags a stream whose last word is zero."""
    pos = words.size
    if pos == 0:
        return np.uint64(0), 0
    state = np.uint64(words[pos - 1])
    if state == 0:
        return state, -1
    pos -= 1
    if pos > 0 and state < np.uint64(LOW):
        state = (state << np.uint64(32)) | np.uint64(words[pos - 1])
        pos -= 1
    return state, pos


@njit(inline="always", cache=True)
def _decode_bit(state, q):
    """One rANS decoding step without a data-dependent branch: (bit, new state before refill)."""
    one = np.uint64(q)
    zero = np.uint64(ONE) - one
    z = state & np.uint64(MASK)
    bit = np.uint64(z >= zero)
    msk = np.uint64(0) - bit
    wt = zero ^ ((zero ^ one) & msk)
    return bit, (state >> np.uint64(PREC)) * wt + (z - (zero & msk))


@njit(cache=True)
def decode(words, T, N, C, H, W, bits, contextual):
    """Decode a (T, N, C, H, W) uint8 array. Returns ``(x, status)``: 0 ok, 1 malformed stream
    (zero last word, or words or state left over at the end), 2 a value >= 2**bits decoded.
    Work is bounded by the element count: at most ``1 + bits`` decisions per element."""
    x = np.zeros((T, N, C, H, W), np.uint8)
    state, pos = _start(words)
    if pos < 0:
        return x, 1
    G, GM, ks, km, sg, ss, mg, ms = _new_counters(C, bits, contextual)
    rw = W + 2
    cs = (H + 2) * rw
    st = N * C * cs
    sp = np.zeros(T * st, np.uint8)
    rk = np.zeros(W, np.int64)
    xf = x.ravel()
    xs = N * C * H * W
    top = (1 << bits) - 1
    lmul = 16 if contextual else 0
    e = 0
    for t in range(T):
        for n in range(N):
            for c in range(C):
                gbase = (c % G) * ks
                gt = sg[gbase: gbase + ks]
                mbase = (c % GM) * km
                for h in range(H):
                    i0 = ((t * N + n) * C + c) * cs + (h + 1) * rw + 1
                    if contextual:
                        _row_ctx(sp, rk, i0, t, c, W, st, rw, cs)
                    srow = sp[i0: i0 + W]  # row views: no negative-index checks in the loop
                    xrow = xf[e: e + W]
                    left = 0
                    for w in range(W):
                        k = rk[w] + lmul * left
                        s, state = _decode_bit(state, _prob(gt[k], ss[k]))
                        if state < np.uint64(LOW) and pos > 0:
                            pos -= 1
                            state = (state << np.uint64(32)) | np.uint64(words[pos])
                        s = np.int64(s)
                        _update(gt, k, s)
                        _update(ss, k, s)
                        srow[w] = s
                        xrow[w] = s
                        left = s
                        if s and bits > 1:
                            base = (_mag_ctx(xf, e, t, h, w, xs, W) << bits) if contextual else 0
                            node = 1
                            for _ in range(bits):
                                kk = base + node
                                bit, state = _decode_bit(state, _prob(mg[mbase + kk], ms[kk]))
                                if state < np.uint64(LOW) and pos > 0:
                                    pos -= 1
                                    state = (state << np.uint64(32)) | np.uint64(words[pos])
                                bit = np.int64(bit)
                                _update(mg, mbase + kk, bit)
                                _update(ms, kk, bit)
                                node = 2 * node + bit
                            v = node - (1 << bits) + 1  # m + 1
                            if v > top:
                                return x, 2
                            xf[e] = v
                        e += 1
    if pos != 0 or state != 0:
        return x, 1
    return x, 0


@njit(cache=True)
def ideal_bits(bits_arr, q):
    """Adaptive code length sum(-log2 P(decision)) of a decision sequence (diagnostics)."""
    tot = 0.0
    for i in range(bits_arr.size):
        p = q[i] / ONE
        tot -= np.log2(p if bits_arr[i] else 1.0 - p)
    return tot
