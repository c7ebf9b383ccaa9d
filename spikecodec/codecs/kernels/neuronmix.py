"""Compiled (numba) loop of the ``neuronmix`` codec (FORMAT.md 9.4.17): neuron by neuron, a flag
for a neuron silent at every step, then the steps of a firing one, each decision a mix of five
adaptive models; for counts, a firing step's magnitude as a binary tree of one adaptive model.

Every other mixing codec decides each element, step by step. Here a neuron silent at all its T
steps costs one decision, and the last step of a firing neuron whose earlier steps were all 0 is
forced: 0.35-0.97 decisions an element on the fourteen 1-bit corpora
(benchmarks/results/neuron_major_study.md), and its step decisions see their neighbours' whole
histories, their later steps too. The models and their weight sets are those of
benchmarks/neuron_major_study.py (F1 .. F5 for flags, B1 .. B5 for steps), with the step told
apart up to TSTEPS, the two position tables hashed beyond 2**22 states, so that no chunk
geometry asks for more, and F1, F3, F5 keyed by up to 256 channel groups (64 coded 1-4% more on
layers of hundreds of channels and no planes). The loop differs from the study's in three ways
that change no byte: a silent neuron's steps are written in a tight loop, a firing one's
neighbours slide along t (a step loads only their step t + 1), and the working planes are
unpadded, every read outside the view a guarded 0, so that they never take more than two samples'
elements whatever the chunk's shape (padded, a chunk of one long row took 54 times its size).
The arithmetic (state words, STRETCH, SQUASH, the 16.16 mixer, the coder) is :mod:`.binary`'s
(9.4.9).

One loop, :func:`_code`, encodes and decodes: the decoder makes the encoder's decisions in the
same order from the same states, so the two cannot drift apart.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .binary import cannot_end, code_bit, ends_as_encoded, finish, learn5, mix5, start, updated
from .ops import U, prefetch

GROUPS = 64  # the step models and F4 key channels by c mod min(C, 64)
FLAG_GROUPS = 256  # F1, F3 and F5 by c mod min(C, 256): many channels at few pixels (an MLP) tell flags apart
MAG_GROUPS = 16  # the value model by c mod min(C, 16)
WINDOW = 12  # F4: the last flags coded in the chunk
RECENT = 12  # F5, B5: the flags (steps at t) of channels c-1 .. c-12 at this pixel
TSTEPS = 16  # steps told apart (t >= 15 share one)
TABLE_CAP_BITS = 22
TABLE_CAP = 1 << TABLE_CAP_BITS
HASH_MUL = np.uint64(0x9E3779B97F4A7C15)
LEARNING_RATE = 14  # err = ((bit << 12) - p) * this
WEIGHT_INIT = 19661  # 0.3 in 16.16
MODELS = 5
FLAG_SETS = 4  # weight sets of flags, by (left flag, c-1 flag); then 4 a step, by (own t-1, c-1's t)
TABLES = 11  # F1 .. F5, B1 .. B5, M

__all__ = ["context_counts", "decode_into", "encode", "table_sizes"]


@njit(cache=True, nogil=True)
def context_counts(T, C, H, W, bits):
    """Contexts of each model, in table order F1 .. F5, B1 .. B5, M (M: 0 for bits = 1)."""
    G = min(C, GROUPS)
    GF = min(C, FLAG_GROUPS)
    TQ = min(T, TSTEPS)
    chw = C * H * W
    mag = min(C, MAG_GROUPS) * TQ * (1 << bits) * 64 if bits > 1 else 0
    return np.array([GF * 64, chw * 8, GF * 64, G << WINDOW, GF << RECENT,
                     G * TQ * 512, chw * TQ * 16, G * TQ * 256 * 5, G * TQ * 32, (G * TQ) << RECENT, mag], np.int64)


@njit(cache=True, nogil=True)
def table_sizes(T, C, H, W, bits):
    """States of each model's table: its context count, or 2**22 (hashed) when that is more."""
    return np.minimum(context_counts(T, C, H, W, bits), TABLE_CAP)


@njit(inline="always", cache=True)
def _slot(offset, key, hashed):
    """Table index of ``key`` in the table at ``offset``: direct, or the top 22 bits of
    key * HASH_MUL (mod 2**64) in a hashed one."""
    if hashed:
        return offset + np.int64((np.uint64(key) * HASH_MUL) >> np.uint64(64 - TABLE_CAP_BITS))
    return offset + key


@njit(inline="always", cache=True)
def _magnitude(st, out, data, encoding, tabs, base, bits, x):
    """Code the value ``x`` >= 1 of a firing step (encoding) or decode one: x - 1 as ``bits``
    decisions of a binary tree, most significant first, each of the one state of (``base``,
    node), P12 its 12-bit probability within 1 .. 4095. Returns x (decoded: up to 2**bits)."""
    node = 1
    for k in range(bits):
        i = base + (node << 6)
        p = ((np.int64(tabs[i]) >> 10) ^ (1 << 21)) >> 10
        p = min(max(p, 1), 4095)
        b = code_bit(st, out, data, encoding, ((x - 1) >> (bits - 1 - k)) & 1 if encoding else 0, p)
        tabs[i] = updated(tabs[i], b)
        node = (node << 1) | b
    return node - (1 << bits) + 1


@njit(cache=True, nogil=True)
def _code(xn, bits, out, data, encoding):
    """Code the neuron-major (N, H, W, C, T) uint8 array ``xn`` (encoding: bytes to ``out``;
    else decoded from ``data`` into ``xn``). Returns (status, coder state): status 1 when the
    decoder has shifted out more bytes than the payload holds before a neuron, 2 when it decoded
    a value above 2**bits - 1, else 0."""
    N, H, W, C, T = xn.shape
    G = min(C, GROUPS)
    GF = min(C, FLAG_GROUPS)
    MG = min(C, MAG_GROUPS)
    TQ = min(T, TSTEPS)
    counts = context_counts(T, C, H, W, bits)
    sizes = table_sizes(T, C, H, W, bits)
    offs = np.zeros(TABLES + 1, np.int64)
    for m in range(TABLES):
        offs[m + 1] = offs[m] + sizes[m]
    hash_f2 = counts[1] > TABLE_CAP
    hash_b2 = counts[6] > TABLE_CAP
    tabs = np.zeros(offs[TABLES], np.uint32)
    wts = np.full((FLAG_SETS + 4 * TQ) * (MODELS + 1), WEIGHT_INIT, np.int32)  # sets of five weights and a bias
    wts[MODELS::MODELS + 1] = 0
    mask = (1 << RECENT) - 1
    top = (1 << bits) - 1
    # This sample's and the last one's flags, steps and, for counts, values (at most 3), unpadded:
    # a read outside the view is a guarded 0, so that these take at most two samples' elements,
    # however small the other axes. Every neuron writes its flag and all its steps (and values),
    # so nothing is reset between samples.
    P = 2 if N > 1 else 1
    flags = np.zeros((P, H, W, C), np.uint8)
    steps = np.zeros((P, H, W, C, T), np.uint8)
    vals = np.zeros((P, H, W, C, T) if bits > 1 else (1, 1, 1, 1, 1), np.uint8)
    rec_s = np.zeros(T, np.int64)
    st = start(data, encoding)
    window = 0
    o0 = offs[0]; o1 = offs[1]; o2 = offs[2]; o3 = offs[3]; o4 = offs[4]
    o5 = offs[5]; o6 = offs[6]; o7 = offs[7]; o8 = offs[8]; o9 = offs[9]
    zero = np.int64(0)
    for n in range(N):
        cur = n & (P - 1)
        prv = 1 - cur
        back = n > 0  # a sample before in the chunk
        for h in range(H):
            for w in range(W):
                rec_f = 0
                rec_s[:] = 0
                g = G - 1  # c mod G, GF and MG, counted: no division a neuron
                gf = GF - 1
                gm = MG - 1
                for c in range(C):
                    if not encoding and cannot_end(st, data):
                        return 1, st
                    g = g + 1 if g + 1 < G else 0
                    gf = gf + 1 if gf + 1 < GF else 0
                    gm = gm + 1 if gm + 1 < MG else 0
                    pos = (c * H + h) * W + w
                    left = w > 0
                    above = h > 0
                    right = w + 1 < W
                    below = h + 1 < H
                    c1_in = c > 0
                    c2_in = c > 1
                    f = 0
                    if encoding:
                        for t in range(T):
                            f |= 1 if xn[n, h, w, c, t] else 0
                    le = np.int64(flags[cur, h, w - 1, c]) if left else zero
                    up = np.int64(flags[cur, h - 1, w, c]) if above else zero
                    ul = np.int64(flags[cur, h - 1, w - 1, c]) if above and left else zero
                    ur = np.int64(flags[cur, h - 1, w + 1, c]) if above and right else zero
                    c1 = np.int64(flags[cur, h, w, c - 1]) if c1_in else zero
                    c2 = np.int64(flags[cur, h, w, c - 2]) if c2_in else zero
                    pf = c1 << 5
                    if back:
                        pf |= (np.int64(flags[prv, h, w, c]) | (np.int64(flags[prv, h, w - 1, c]) << 1 if left else zero)
                               | (np.int64(flags[prv, h - 1, w, c]) << 2 if above else zero)
                               | (np.int64(flags[prv, h, w + 1, c]) << 3 if right else zero)
                               | (np.int64(flags[prv, h + 1, w, c]) << 4 if below else zero))
                    i0 = o0 + gf * 64 + (le | up << 1 | ul << 2 | ur << 3 | c1 << 4 | c2 << 5)
                    i1 = _slot(o1, pos * 8 + (le | c1 << 1 | up << 2), hash_f2)
                    i2 = o2 + gf * 64 + pf
                    i3 = o3 + (g << WINDOW) + window
                    i4 = o4 + (gf << RECENT) + rec_f
                    if c + 1 < C:
                        # The next neuron's lines of F2, F4 and F5 for either flag of this one,
                        # fetched while it is coded: tables of up to 2**22 states read at random
                        # (a layer of many channels) otherwise put a cache miss on the serial
                        # chain between decisions (1.4-1.9x on such layers; no byte changes).
                        gn = g + 1 if g + 1 < G else 0
                        gfn = gf + 1 if gf + 1 < GF else 0
                        le_n = np.int64(flags[cur, h, w - 1, c + 1]) if left else zero
                        up_n = np.int64(flags[cur, h - 1, w, c + 1]) if above else zero
                        for b in range(2):
                            prefetch(tabs, U(_slot(o1, (pos + H * W) * 8 + (le_n | b << 1 | up_n << 2), hash_f2)))
                            prefetch(tabs, U(o3 + (gn << WINDOW) + (((window << 1) | b) & ((1 << WINDOW) - 1))))
                            prefetch(tabs, U(o4 + (gfn << RECENT) + (((rec_f << 1) | b) & mask)))
                    wi = U((le | c1 << 1) * (MODELS + 1))
                    p, s0, s1, s2, s3, s4 = mix5(tabs, wts, wi, i0, i1, i2, i3, i4)
                    if p > 160:
                        # Likely to fire: its steps' lines of B5 (exact), B2 (direct: one line a
                        # step) and B3's first, fetched while the flag is coded (not for a flag
                        # likely 0: on sparse layers the fetches would cost more than they save).
                        gT0 = g * TQ
                        for t in range(T):
                            tq = min(t, TQ - 1)
                            prefetch(tabs, U(o9 + ((gT0 + tq) << RECENT) + rec_s[t]))
                            if not hash_b2:
                                prefetch(tabs, U(o6 + (pos * TQ + tq) * 16))
                        prefetch(tabs, U(o7 + (gT0 * 256 + 1) * 5))
                    f = code_bit(st, out, data, encoding, f, p)
                    learn5(tabs, wts, wi, i0, i1, i2, i3, i4, s0, s1, s2, s3, s4, p, f, LEARNING_RATE)
                    rec_f = ((rec_f << 1) | f) & mask
                    window = ((window << 1) | f) & ((1 << WINDOW) - 1)
                    flags[cur, h, w, c] = f
                    if f == 0:  # silent: its steps (and values) are 0, decided nowhere
                        for t in range(T):
                            steps[cur, h, w, c, t] = 0
                            rec_s[t] = (rec_s[t] << 1) & mask
                            if bits > 1:
                                vals[cur, h, w, c, t] = 0
                            if not encoding:
                                xn[n, h, w, c, t] = 0
                        continue
                    # The neighbours' steps around t slide along t: each step loads only t + 1's.
                    lt = np.int64(steps[cur, h, w - 1, c, 0]) if left else zero
                    ut = np.int64(steps[cur, h - 1, w, c, 0]) if above else zero
                    ct = np.int64(steps[cur, h, w, c - 1, 0]) if c1_in else zero
                    pt = np.int64(steps[prv, h, w, c, 0]) if back else zero
                    cp = zero
                    pp = zero
                    s1b = zero
                    s2b = zero
                    own = 1
                    seen = 0
                    gT = g * TQ
                    for t in range(T):
                        tq = min(t, TQ - 1)
                        more = t + 1 < T
                        ln = np.int64(steps[cur, h, w - 1, c, t + 1]) if left and more else zero
                        un = np.int64(steps[cur, h - 1, w, c, t + 1]) if above and more else zero
                        cn = np.int64(steps[cur, h, w, c - 1, t + 1]) if c1_in and more else zero
                        pn = np.int64(steps[prv, h, w, c, t + 1]) if back and more else zero
                        x = np.int64(xn[n, h, w, c, t]) if encoding else zero
                        if t == T - 1 and seen == 0:
                            b = 1  # forced: the flag said it fires
                        else:
                            c2t = np.int64(steps[cur, h, w, c - 2, t]) if c2_in else zero
                            gt = gT + tq
                            j0 = o5 + gt * 512 + (s1b | s2b << 1 | lt << 2 | ln << 3 | ut << 4 | un << 5 | ct << 6
                                                  | cn << 7 | cp << 8)
                            j1 = _slot(o6, (pos * TQ + tq) * 16 + (s1b | ct << 1 | lt << 2 | ut << 3), hash_b2)
                            j2 = o7 + (gt * 256 + (own & 255)) * 5 + lt + ut + ct + c2t
                            j3 = o8 + gt * 32 + ((pp | pt << 1 | pn << 2) | s1b << 3 | lt << 4)
                            j4 = o9 + (gt << RECENT) + rec_s[t]
                            wj = U((FLAG_SETS + tq * 4 + (s1b | ct << 1)) * (MODELS + 1))
                            if more:  # B3's line for the next step, for either decision here
                                gq = gT + min(t + 1, TQ - 1)
                                prefetch(tabs, U(o7 + (gq * 256 + ((own << 1) & 255)) * 5))
                                prefetch(tabs, U(o7 + (gq * 256 + (((own << 1) | 1) & 255)) * 5))
                            p, s0, s1, s2, s3, s4 = mix5(tabs, wts, wj, j0, j1, j2, j3, j4)
                            b = code_bit(st, out, data, encoding, 1 if x else 0, p)
                            learn5(tabs, wts, wj, j0, j1, j2, j3, j4, s0, s1, s2, s3, s4, p, b, LEARNING_RATE)
                        own = (own << 1) | b
                        seen |= b
                        steps[cur, h, w, c, t] = b
                        rec_s[t] = ((rec_s[t] << 1) | b) & mask
                        s2b = s1b
                        s1b = np.int64(b)
                        cp = ct
                        lt = ln
                        ut = un
                        ct = cn
                        pp = pt
                        pt = pn
                        if bits > 1:
                            v = 0
                            if b:
                                key = ((gm * TQ + tq) << bits) * 64 + (
                                    (np.int64(vals[cur, h, w, c, t - 1]) if t > 0 else zero)
                                    + (4 * np.int64(vals[cur, h, w - 1, c, t]) if left else zero)
                                    + (16 * np.int64(vals[cur, h, w, c - 1, t]) if c1_in else zero))
                                v = _magnitude(st, out, data, encoding, tabs, offs[10] + key, bits, x)
                                if v > top:
                                    return 2, st
                            vals[cur, h, w, c, t] = min(v, 3)
                            if not encoding:
                                xn[n, h, w, c, t] = v
                        elif not encoding:
                            xn[n, h, w, c, t] = b
    return 0, st


@njit(cache=True, nogil=True)
def encode(xn, bits, out):
    """The coded bytes of the neuron-major array ``xn`` in ``out``; returns their count (those
    past ``out``'s end counted, not written: :func:`.binary.code_bit`)."""
    _, st = _code(xn, bits, out, out[:0], True)
    return finish(st, out)


@njit(cache=True, nogil=True)
def decode_into(data, xn, bits):
    """Decode ``data`` into the neuron-major array ``xn``: 0, or 1 when the payload does not end as
    the encoder ends it (or runs out before a neuron), 2 when a value does not fit ``bits``."""
    status, st = _code(xn, bits, np.empty(0, np.uint8), data, False)
    if status:
        return status
    return 0 if ends_as_encoded(st, data) else 1
