"""ctxmix (FORMAT.md 9.4.9): context mixing with a binary arithmetic coder of byte output."""
import math

import numpy as np

from .common import Problem
from .priors import ctxmix_sizes

STRETCH = [-2047] + [max(-2047, min(2047, round(256 * math.log(i / (4096 - i))))) for i in range(1, 4096)]
SQUASH = [max(1, min(4095, round(4096 / (1 + math.exp(-d / 256))))) for d in range(-2047, 2048)]
RATE = [(1 << 17) // (2 * n + 3) for n in range(1024)]
GOLD = 0x9E3779B97F4A7C15
M64 = (1 << 64) - 1
M32 = (1 << 32) - 1
HALF = 1 << 21
LIM = 1 << 20


class ByteDecoder:
    """The binary arithmetic decoder of 9.4.9 over one payload (bytes past its end read as 0xFF)."""

    def __init__(self, payload):
        self.data = bytes(payload)
        self.low, self.high, self.pos, self.shifted = 0, M32, 4, 0
        self.code = 0
        for i in range(4):
            self.code = (self.code << 8) | self.byte(i)

    def byte(self, i):
        return self.data[i] if i < len(self.data) else 0xFF

    def __call__(self, p12):
        """The next bit, P(1) = p12 / 4096."""
        r = self.high - self.low
        mid = self.low + (r >> 12) * p12 + (((r & 0xFFF) * p12) >> 12)
        if self.code <= mid:
            y, self.high = 1, mid
        else:
            y, self.low = 0, mid + 1
        while not (self.low ^ self.high) & 0xFF000000:
            self.low = (self.low << 8) & M32
            self.high = ((self.high << 8) & M32) | 0xFF
            self.code = ((self.code << 8) & M32) | self.byte(self.pos)
            self.pos += 1
            self.shifted += 1
        return y

    def cannot_end(self):
        """E, only growing, is past the payload's length: the end check cannot pass (9.4.9)."""
        return self.shifted > len(self.data)

    def ends_as_encoded(self):
        """The payload is exactly E bytes (high = 2^32 - 1 at the end) or E + 1 ending in low >> 24."""
        if self.high == M32:
            return len(self.data) == self.shifted
        return len(self.data) == self.shifted + 1 and self.data[-1] == self.low >> 24


def neighbour_readers(xs, nbase, sT, sCc, C, H, W):
    """S and V of 9.4.9 / 9.4.10 over sample ``nbase`` of the flat decoded values ``xs``:
    S(t, c, h, w) the significance, 0 outside the chunk; V(t, c, h, w) min(value, 3), 0 for
    t, h or w below 0."""

    def S(tt, cc, hh, ww):
        if tt < 0 or cc < 0 or cc >= C or hh < 0 or hh >= H or ww < 0 or ww >= W:
            return 0
        return 1 if xs[tt * sT + nbase + cc * sCc + hh * W + ww] else 0

    def V(tt, cc, hh, ww):
        if tt < 0 or hh < 0 or ww < 0:
            return 0
        v = xs[tt * sT + nbase + cc * sCc + hh * W + ww]
        return v if v < 3 else 3

    return S, V


def decode_magnitude(mag, bits, top, offset, cid):
    """A significant element's value from its level and escape decisions (9.4.7, 9.4.9):
    ``mag(node)`` decodes the decision at that node; a value above ``top`` is refused."""
    x = 1
    if mag(0):
        x = 2
        if mag(1):
            x = 3
            if bits > 2:
                tree = 1
                for _ in range(bits):
                    tree = 2 * tree + mag(1 + tree)
                x = 3 + tree - (1 << bits)
                if x > top:
                    raise Problem("symbol-above-top", offset, f"{cid}: value {x} does not fit {bits}-bit elements")
    return x


def mixed_decision(coder, wts, models, sets, learning_rate):
    """One decision of 9.4.9 / 9.4.10: models [(table, index)] mixed by the weight sets starting
    at the offsets ``sets`` (two are averaged), decoded, then the weights and states updated."""
    ps, qs = [], []
    for table, i in models:
        p = (table[i] >> 10) ^ HALF
        ps.append(p)
        qs.append(STRETCH[p >> 10])
    nm = len(models)
    total = 0
    for base in sets:
        dot = 256 * wts[base + nm]
        for j in range(nm):
            dot += wts[base + j] * qs[j]
        total += dot
    d = total if len(sets) == 1 else total >> 1
    e = d >> 16
    p12 = SQUASH[(-2047 if e < -2047 else 2047 if e > 2047 else e) + 2047]
    y = coder(p12)
    err = ((y << 12) - p12) * learning_rate
    for base in sets:
        for j in range(nm):
            v = wts[base + j] + ((qs[j] * err) >> 16)
            wts[base + j] = -LIM if v < -LIM else LIM if v > LIM else v
        v = wts[base + nm] + ((256 * err) >> 16)
        wts[base + nm] = -LIM if v < -LIM else LIM if v > LIM else v
    for (table, i), p in zip(models, ps):
        s = table[i]
        n = s & 1023
        p2 = p + ((((y << 22) - p) * RATE[n]) >> 16)
        table[i] = ((p2 ^ HALF) << 10) | (n + 1 if n < 1023 else 1023)
    return y


def check_tables(spec_dir):
    """The formulas of 9.4.9 against the tables listed in spec/tables/; returns mismatches."""
    out = []
    for name, table in (("stretch", STRETCH), ("squash", SQUASH), ("rate", RATE)):
        with open(f"{spec_dir}/tables/{name}.txt") as handle:
            listed = [int(line) for line in handle if line.strip()]
        if listed != table:
            out.append(name)
    return out


def decode_ctxmix(payload, dims, bits, tables, offset):
    """A coded payload (shorter than the packed elements, which codecs.decode_array unpacks in the
    chunk's own order) of the canonical view ``dims``."""
    T, N, C, H, W = dims
    size = T * N * C * H * W
    K, Z, nweights = ctxmix_sizes(T, C, H, W, bits)
    hashed = [k > 1 << 22 for k in K]
    if tables is None:
        states = [[0] * z for z in Z]
        wts = []
        PC = min(T, 4) * C * H * W
        PS = min(PC, 1 << 16)
        for _ in range(512 + PS):
            wts += [19661, 19661, 19661, 19661, 0]
        while len(wts) < nweights:
            wts += [32768, 32768, 0]
    else:
        flat, states, start = tables["states"], [], 0
        for z in Z:
            states.append(flat[start:start + z].astype(np.int64).tolist())
            start += z
        wts = tables["weights"].astype(np.int64).tolist()
    G = max(1, min(C, 256))
    NN = 0 if bits == 1 else (1 << bits) + 1
    PC = min(T, 4) * C * H * W
    PS = min(PC, 1 << 16)
    mag_base = 5 * (512 + PS)
    top = (1 << bits) - 1

    coder = ByteDecoder(payload)

    def slot(m, key):
        return (key * GOLD & M64) >> 42 if hashed[m] else key

    def decide(models, sets):
        return mixed_decision(coder, wts, models, sets, 6)

    sA, sB, sC, sD = states[:4]
    sE, sF = (states[4], states[5]) if NN else (None, None)
    xs = [0] * size
    sT, sN, sCc = N * C * H * W, C * H * W, H * W

    for t in range(T if size else 0):  # no elements, no decisions (its other extents may be 2^40)
        tp = min(t, 3)
        for n in range(N):
            nbase = n * sN

            S, V = neighbour_readers(xs, nbase, sT, sCc, C, H, W)

            for c in range(C):
                cg = c % G
                for h in range(H):
                    for w in range(W):
                        if coder.cannot_end():  # checked before each element (9.4.9)
                            raise Problem("ctxmix-end", offset, "ctxmix: corrupt payload (it does not end as the encoder ends it)")
                        le, up = S(t, c, h, w - 1), S(t, c, h - 1, w)
                        ul, ur = S(t, c, h - 1, w - 1), S(t, c, h - 1, w + 1)
                        p1, c1, c2, pn = S(t - 1, c, h, w), S(t, c - 1, h, w), S(t, c - 2, h, w), S(t - 1, c + 1, h, w)
                        pr, pd, pl, pu = S(t - 1, c, h, w + 1), S(t - 1, c, h + 1, w), S(t - 1, c, h, w - 1), S(t - 1, c, h - 1, w)
                        u2, l2 = S(t, c, h - 2, w), S(t, c, h, w - 2)
                        hist = 1
                        for k in range(1, min(t, 7) + 1):
                            hist = 2 * hist + S(t - k, c, h, w)
                        l10 = le + 2 * up + 4 * ul + 8 * ur + 16 * p1 + 32 * c1 + 64 * pr + 128 * pd + 256 * c2 + 512 * pn
                        l14 = l10 + 1024 * pl + 2048 * pu + 4096 * u2 + 8192 * l2
                        pos = ((tp * C + c) * H + h) * W + w
                        models = [
                            (sA, slot(0, pos * 1024 + l10)),
                            (sB, slot(1, pos * 16 + le + 2 * up + 4 * p1 + 8 * c1)),
                            (sC, slot(2, (cg * 4 + tp) * 16384 + l14)),
                            (sD, slot(3, ((cg * 4 + tp) * 256 + hist) * 16 + le + 2 * up + 4 * c1 + 8 * pr)),
                        ]
                        a = ((c % 16) * 4 + tp) * 8 + 4 * p1 + 2 * up + le
                        ps = pos if PC <= 1 << 16 else (pos * GOLD & M64) >> 48
                        x = decide(models, (5 * a, 5 * (512 + ps)))
                        if x and bits > 1:
                            v1 = V(t - 1, c, h, w)
                            fctx = v1 + 4 * V(t - 2, c, h, w) + 16 * V(t, c, h, w - 1) + 64 * V(t, c, h - 1, w)

                            def mag(node):
                                mm = [(sE, slot(4, (pos * NN + node) * 4 + v1)),
                                      (sF, slot(5, (cg * NN + node) * 256 + fctx))]
                                return decide(mm, (mag_base + 3 * (node * 4 + v1),))

                            x = decode_magnitude(mag, bits, top, offset, "ctxmix")
                        xs[t * sT + nbase + (c * H + h) * W + w] = x
    if not coder.ends_as_encoded():
        raise Problem("ctxmix-end", offset, "ctxmix: corrupt payload (it does not end as the encoder ends it)")
    return np.array(xs, dtype=np.uint8).reshape(dims)
