"""neuronmix (FORMAT.md 9.4.17): the canonical view coded neuron by neuron (sample n, row h,
column w, channel c): a flag decision (does the neuron fire at any step), then for a firing neuron
its step decisions (the last one forced when every step before it was 0) and, for bits > 1, each
firing step's value by a binary tree of one adaptive model. Flags and steps mix five models each;
the tables, state words, clamp and arithmetic coder are those of ctxmix (9.4.9)."""
import numpy as np

from .common import Problem
from .ctxmix import GOLD, HALF, LIM, M64, RATE, SQUASH, STRETCH, ByteDecoder

LIMIT = 1 << 22


def decode_neuronmix(payload, dims, bits, offset):
    """A coded payload (shorter than the packed elements, which codecs.decode_array unpacks in the
    chunk's own order) of the canonical view ``dims`` = (T, N, C, H, W)."""
    T, N, C, H, W = dims
    size = T * N * C * H * W
    if size == 0:  # no elements, no decisions (B = 0: codecs.decode_array unpacks the empty payload)
        return np.zeros(dims, dtype=np.uint8)
    G = min(C, 64)
    GF = min(C, 256)
    TQ = min(T, 16)
    MG = min(C, 16)
    NV = 1 << bits  # 2^bits: the tree's nodes 1 .. 2^bits - 1
    HW = H * W
    CHW = C * HW
    # Eleven tables, in this order: F1 .. F5, B1 .. B5, M (K_m, then Z_m = min(K_m, 2^22)).
    K = [GF * 64, CHW * 8, GF * 64, G * 4096, GF * 4096,
         G * TQ * 512, CHW * TQ * 16, G * TQ * 1280, G * TQ * 32, G * TQ * 4096,
         0 if bits == 1 else MG * TQ * NV * 64]
    hashed = [k > LIMIT for k in K]
    # The tables are dicts (entry -> state word, absent = 0): a hashed or large table is mostly
    # untouched in a small chunk.
    tF1, tF2, tF3, tF4, tF5, tB1, tB2, tB3, tB4, tB5, tM = (_Table() for _ in K)
    hF2, hB2 = hashed[1], hashed[6]
    assert not any(hashed[i] for i in (0, 2, 3, 4, 5, 7, 8, 9, 10)), "only F2 and B2 can be hashed"

    FS = 4 + 4 * TQ
    wts = [19661, 19661, 19661, 19661, 19661, 0] * FS

    coder = ByteDecoder(payload)

    # Decoded values, canonical C order (t, n, c, h, w). The flags F of this sample and of the one
    # before (all 0 before the first) in grids padded with zeros (the neurons outside the view):
    # F(n, h, w, c) at ((h + 1) (W + 2) + w + 1) (C + 2) + c + 2.
    xs = [0] * size
    sT = N * CHW
    PC = C + 2
    PW = (W + 2) * PC
    cur, prev = [0] * ((H + 2) * PW), [0] * ((H + 2) * PW)

    def X(t, n, h, w, c):
        """x(t, n, c, h, w), 0 outside the view (t, n, h, w, c out of range)."""
        if t < 0 or t >= T or n < 0 or h < 0 or h >= H or w < 0 or w >= W or c < 0 or c >= C:
            return 0
        return xs[t * sT + n * CHW + c * HW + h * W + w]

    def S(t, n, h, w, c):
        return 1 if X(t, n, h, w, c) else 0

    def V(t, n, h, w, c):
        v = X(t, n, h, w, c)
        return v if v < 3 else 3

    window = 0
    top_m = NV - 1
    for n in range(N):
        if n:
            cur, prev = prev, cur
            cur[:] = [0] * len(cur)
        for h in range(H):
            for w in range(W):
                recf = 0
                recs = [0] * T
                for c in range(C):
                    if coder.cannot_end():  # before each neuron's flag decision (9.4.17)
                        raise Problem("neuronmix-end", offset,
                                      "neuronmix: corrupt payload (it does not end as the encoder ends it)")
                    g = c % G
                    gf = c % GF
                    pos = (c * H + h) * W + w
                    here = ((h + 1) * (W + 2) + w + 1) * PC + c + 2  # F(n, h, w, c) in cur
                    le, up = cur[here - PC], cur[here - PW]
                    ul, ur = cur[here - PW - PC], cur[here - PW + PC]
                    c1, c2 = cur[here - 1], cur[here - 2]
                    pf = (prev[here] + 2 * prev[here - PC] + 4 * prev[here - PW]
                          + 8 * prev[here + PC] + 16 * prev[here + PW] + 32 * c1)
                    k2 = pos * 8 + le + 2 * c1 + 4 * up
                    f = _mixed(coder, wts, 6 * (le + 2 * c1),
                               tF1, gf * 64 + le + 2 * up + 4 * ul + 8 * ur + 16 * c1 + 32 * c2,
                               tF2, ((k2 * GOLD) & M64) >> 42 if hF2 else k2,
                               tF3, gf * 64 + pf,
                               tF4, g * 4096 + window,
                               tF5, gf * 4096 + recf)
                    window = (2 * window + f) & 0xFFF
                    recf = (2 * recf + f) & 0xFFF
                    cur[here] = f
                    if not f:
                        for t in range(T):  # silent steps: s = 0, no decision
                            recs[t] = (2 * recs[t]) & 0xFFF
                        continue
                    own = 1  # kept mod 256, all that B3 reads of it
                    fired = 0  # a step before this one was 1
                    base = n * CHW + c * HW + h * W + w
                    for t in range(T):
                        tq = t if t < TQ - 1 else TQ - 1
                        if t == T - 1 and not fired:
                            s = 1  # forced: every step before was 0
                        else:
                            gt = g * TQ + tq
                            s1, s2 = S(t - 1, n, h, w, c), S(t - 2, n, h, w, c)
                            lt, ln = S(t, n, h, w - 1, c), S(t + 1, n, h, w - 1, c)
                            ut, un = S(t, n, h - 1, w, c), S(t + 1, n, h - 1, w, c)
                            ct, cn = S(t, n, h, w, c - 1), S(t + 1, n, h, w, c - 1)
                            cp, c2t = S(t - 1, n, h, w, c - 1), S(t, n, h, w, c - 2)
                            pv = S(t - 1, n - 1, h, w, c) + 2 * S(t, n - 1, h, w, c) + 4 * S(t + 1, n - 1, h, w, c)
                            kb2 = (pos * TQ + tq) * 16 + s1 + 2 * ct + 4 * lt + 8 * ut
                            s = _mixed(coder, wts, 6 * (4 + 4 * tq + s1 + 2 * ct),
                                       tB1, gt * 512 + s1 + 2 * s2 + 4 * lt + 8 * ln + 16 * ut + 32 * un
                                       + 64 * ct + 128 * cn + 256 * cp,
                                       tB2, ((kb2 * GOLD) & M64) >> 42 if hB2 else kb2,
                                       tB3, (gt * 256 + own) * 5 + lt + ut + ct + c2t,
                                       tB4, gt * 32 + pv + 8 * s1 + 16 * lt,
                                       tB5, gt * 4096 + recs[t])
                        if s:
                            x = 1
                            if bits > 1:
                                mbase = ((((c % MG) * TQ + tq) * NV) * 64 + V(t - 1, n, h, w, c)
                                         + 4 * V(t, n, h, w - 1, c) + 16 * V(t, n, h, w, c - 1))
                                node = 1
                                for _ in range(bits):
                                    key = mbase + node * 64
                                    p = (tM[key] >> 10) ^ HALF
                                    p12 = p >> 10
                                    y = coder(1 if p12 < 1 else 4095 if p12 > 4095 else p12)
                                    _state(tM, key, p, y)
                                    node = 2 * node + y
                                m = node - NV
                                if m == top_m:
                                    raise Problem("symbol-above-top", offset,
                                                  f"neuronmix: value {1 + m} does not fit {bits}-bit elements")
                                x = 1 + m
                            xs[t * sT + base] = x
                        recs[t] = (2 * recs[t] + s) & 0xFFF
                        own = (2 * own + s) & 255
                        fired |= s
    if not coder.ends_as_encoded():
        raise Problem("neuronmix-end", offset, "neuronmix: corrupt payload (it does not end as the encoder ends it)")
    return np.array(xs, dtype=np.uint8).reshape(dims)


def _state(table, key, p, y):
    """9.4.9: the state word at ``key`` (probability ``p``) after the decision ``y``."""
    n = table[key] & 1023
    table[key] = ((p + ((((y << 22) - p) * RATE[n]) >> 16)) ^ HALF) << 10 | (n + 1 if n < 1023 else 1023)


def _mixed(coder, wts, i, t1, k1, t2, k2, t3, k3, t4, k4, t5, k5):
    """One flag or step decision (9.4.17): the five models' states at their keys mixed by the
    weight set at offset ``i`` (five weights, then the bias), decoded, then the weights and the
    five states updated (9.4.9's clamp and state rule; learning rate 14)."""
    p1, p2, p3 = (t1[k1] >> 10) ^ HALF, (t2[k2] >> 10) ^ HALF, (t3[k3] >> 10) ^ HALF
    p4, p5 = (t4[k4] >> 10) ^ HALF, (t5[k5] >> 10) ^ HALF
    q1, q2, q3, q4, q5 = STRETCH[p1 >> 10], STRETCH[p2 >> 10], STRETCH[p3 >> 10], STRETCH[p4 >> 10], STRETCH[p5 >> 10]
    d = (256 * wts[i + 5] + wts[i] * q1 + wts[i + 1] * q2 + wts[i + 2] * q3 + wts[i + 3] * q4 + wts[i + 4] * q5) >> 16
    p12 = SQUASH[(-2047 if d < -2047 else 2047 if d > 2047 else d) + 2047]
    y = coder(p12)
    err = ((y << 12) - p12) * 14
    for j, q in ((i, q1), (i + 1, q2), (i + 2, q3), (i + 3, q4), (i + 4, q5), (i + 5, 256)):
        v = wts[j] + ((q * err) >> 16)
        wts[j] = -LIM if v < -LIM else LIM if v > LIM else v
    _state(t1, k1, p1, y)
    _state(t2, k2, p2, y)
    _state(t3, k3, p3, y)
    _state(t4, k4, p4, y)
    _state(t5, k5, p5, y)
    return y


class _Table(dict):
    """A table of state words, every entry 0 until written."""

    def __missing__(self, key):
        return 0
