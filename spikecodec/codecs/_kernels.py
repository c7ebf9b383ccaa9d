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


@njit(inline="always", cache=True)
def _prob(c1, cn, g1, gn):
    """q = P(1) * 2**24 of one decision from its channel counts (c1, cn) and shared (g1, gn)."""
    c1 = np.int64(c1)
    cn = np.int64(cn)
    g1 = np.int64(g1)
    gn = np.int64(gn)
    qg = ((2 * g1 + 1) << PREC) // (2 * gn + 2)
    q = ((c1 << PREC) + PRIOR * qg) // (cn + PRIOR)
    if q < 1:
        q = 1
    elif q > MASK:
        q = MASK
    return q


@njit(inline="always", cache=True)
def _update(c1s, cns, g1s, gns, g, k, bit):
    c1s[g, k] += bit
    cns[g, k] += 1
    if cns[g, k] >= LIMIT:
        cns[g, k] = (cns[g, k] + 1) >> 1
        c1s[g, k] = (c1s[g, k] + 1) >> 1
    g1s[k] += bit
    gns[k] += 1
    if gns[k] >= LIMIT:
        gns[k] = (gns[k] + 1) >> 1
        g1s[k] = (g1s[k] + 1) >> 1


@njit(cache=True)
def mag_groups(C, bits):
    """Channel groups of the magnitude counters: min(C, 256, 2**(14 - bits)), at least 1
    (so the group table has at most 2**22 entries even for 8-bit elements)."""
    return max(1, min(C, MAX_GROUPS, 1 << max(14 - bits, 0)))


@njit(cache=True)
def _new_counters(C, bits, contextual):
    """Fresh (all-zero) counter tables of one chunk, as encoder and decoder both start
    (FORMAT.md 9.4.2): group and shared tables for significance, then for magnitude bits.
    Returns (G, GM, c1s, cns, g1s, gns, m1s, mns, h1s, hns)."""
    G = max(min(C, MAX_GROUPS), 1)
    ks = NSIG if contextual else 1
    km = (256 << bits) if (bits > 1 and contextual) else ((1 << bits) if bits > 1 else 1)
    GM = mag_groups(C, bits)
    return (
        G,
        GM,
        np.zeros((G, ks), np.uint16),
        np.zeros((G, ks), np.uint16),
        np.zeros(ks, np.uint16),
        np.zeros(ks, np.uint16),
        np.zeros((GM, km), np.uint16),
        np.zeros((GM, km), np.uint16),
        np.zeros(km, np.uint16),
        np.zeros(km, np.uint16),
    )


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
def _sig_ctx(sp, i, t, c, st, rw, cs):
    """Significance context 0..1023 of element (t, n, c, h, w) (see FORMAT.md 9.4.5).

    ``sp`` is the flat significance array of shape (T, N, C, H + 2, W + 2): the chunk padded by
    one zero row/column on each side of H and W; ``i`` is the element's flat index in it, ``st``
    the T stride and ``rw`` the row stride (W + 2), ``cs`` below the channel stride."""
    if t == 0:
        hs = 0
        b = 0
    else:
        j = i - st
        s1 = sp[j]
        if t == 1:
            hs = 1 + s1
        elif t == 2:
            hs = 3 + s1 + 2 * sp[j - st]
        else:
            hs = 7 + s1 + 2 * sp[j - st] + 4 * sp[j - 2 * st]
        cnt = (sp[j - rw - 1] + sp[j - rw] + sp[j - rw + 1] + sp[j - 1] + sp[j + 1]
               + sp[j + rw - 1] + sp[j + rw] + sp[j + rw + 1])
        b = 0 if cnt == 0 else (1 if cnt <= 2 else (2 if cnt <= 5 else 3))
    left = sp[i - 1]
    up = sp[i - rw]
    diag = sp[i - rw - 1] | sp[i - rw + 1]
    prev_c = sp[i - cs] if c > 0 else 0
    return (((hs * 4 + left + 2 * up) * 4 + b) * 2 + diag) * 2 + prev_c


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
        if bits[i]:
            wt = one
            cum = np.uint64(ONE) - one
        else:
            wt = np.uint64(ONE) - one
            cum = np.uint64(0)
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
    an empty array), as the encoder does not need them."""
    T, N, C, H, W = x.shape
    G, GM, c1s, cns, g1s, gns, m1s, mns, h1s, hns = _new_counters(C, bits, contextual)
    ks = g1s.shape[0]  # context ids span the shared tables' sizes
    km = h1s.shape[0]
    rw = W + 2
    cs = (H + 2) * rw
    st = N * C * cs
    sp = np.zeros(T * st, np.uint8)
    xf = x.ravel()
    xs = N * C * H * W  # T stride of x
    nz = 0
    for v in xf:
        if v:
            nz += 1
    total = xf.size + (nz * bits if bits > 1 else 0)
    out_bits = np.empty(total, np.uint8)
    out_q = np.empty(total, np.uint32)
    out_k = np.empty(total if with_ctx else 0, np.int32)
    i = 0
    e = 0
    for t in range(T):
        for n in range(N):
            for c in range(C):
                g = c % G
                for h in range(H):
                    p = ((t * N + n) * C + c) * cs + (h + 1) * rw + 1
                    for w in range(W):
                        k = _sig_ctx(sp, p + w, t, c, st, rw, cs) if contextual else 0
                        v = xf[e]
                        s = 1 if v else 0
                        out_q[i] = _prob(c1s[g, k], cns[g, k], g1s[k], gns[k])
                        out_bits[i] = s
                        if with_ctx:
                            out_k[i] = g * ks + k
                        i += 1
                        _update(c1s, cns, g1s, gns, g, k, s)
                        if s:
                            sp[p + w] = 1
                            if bits > 1:
                                b = 0
                                if contextual:
                                    b = _mag_ctx(xf, e, t, h, w, xs, W)
                                base = b << bits
                                gm = c % GM
                                m = v - 1
                                node = 1
                                for j in range(bits - 1, -1, -1):
                                    bit = (m >> j) & 1
                                    kk = base + node
                                    out_q[i] = _prob(m1s[gm, kk], mns[gm, kk], h1s[kk], hns[kk])
                                    out_bits[i] = bit
                                    if with_ctx:
                                        out_k[i] = G * ks + gm * km + kk
                                    i += 1
                                    _update(m1s, mns, h1s, hns, gm, kk, bit)
                                    node = 2 * node + bit
                        e += 1
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


@njit(cache=True)
def decode(words, T, N, C, H, W, bits, contextual):
    """Decode a (T, N, C, H, W) uint8 array. Returns ``(x, status)``: 0 ok, 1 malformed stream
    (zero last word, or words or state left over at the end), 2 a value >= 2**bits decoded.
    Work is bounded by the element count: at most ``1 + bits`` decisions per element."""
    x = np.zeros((T, N, C, H, W), np.uint8)
    state, pos = _start(words)
    if pos < 0:
        return x, 1
    G, GM, c1s, cns, g1s, gns, m1s, mns, h1s, hns = _new_counters(C, bits, contextual)
    rw = W + 2
    cs = (H + 2) * rw
    st = N * C * cs
    sp = np.zeros(T * st, np.uint8)
    xf = x.ravel()
    xs = N * C * H * W
    top = (1 << bits) - 1
    e = 0
    for t in range(T):
        for n in range(N):
            for c in range(C):
                g = c % G
                for h in range(H):
                    p = ((t * N + n) * C + c) * cs + (h + 1) * rw + 1
                    for w in range(W):
                        k = _sig_ctx(sp, p + w, t, c, st, rw, cs) if contextual else 0
                        one = np.uint64(_prob(c1s[g, k], cns[g, k], g1s[k], gns[k]))
                        zero = np.uint64(ONE) - one
                        z = state & np.uint64(MASK)
                        state >>= np.uint64(PREC)
                        if z >= zero:
                            s = 1
                            state = state * one + (z - zero)
                        else:
                            s = 0
                            state = state * zero + z
                        if state < np.uint64(LOW) and pos > 0:
                            pos -= 1
                            state = (state << np.uint64(32)) | np.uint64(words[pos])
                        _update(c1s, cns, g1s, gns, g, k, s)
                        if s:
                            sp[p + w] = 1
                            v = 1
                            if bits > 1:
                                b = 0
                                if contextual:
                                    b = _mag_ctx(xf, e, t, h, w, xs, W)
                                base = b << bits
                                gm = c % GM
                                node = 1
                                for j in range(bits):
                                    kk = base + node
                                    one = np.uint64(_prob(m1s[gm, kk], mns[gm, kk], h1s[kk], hns[kk]))
                                    zero = np.uint64(ONE) - one
                                    z = state & np.uint64(MASK)
                                    state >>= np.uint64(PREC)
                                    if z >= zero:
                                        bit = 1
                                        state = state * one + (z - zero)
                                    else:
                                        bit = 0
                                        state = state * zero + z
                                    if state < np.uint64(LOW) and pos > 0:
                                        pos -= 1
                                        state = (state << np.uint64(32)) | np.uint64(words[pos])
                                    _update(m1s, mns, h1s, hns, gm, kk, bit)
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
