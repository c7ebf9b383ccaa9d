"""The rANS-coded entropy coders of FORMAT.md 9.4.2 - 9.4.8: order0, context, countctx, ctxlanes
(ctxfast, 9.4.12, is in ctxfast.py and uses the helpers here).

Each decoder takes a payload and the canonical view's dims (T, N, C, H, W) and returns the
canonical uint8 array of that shape, or raises Problem.
"""
import struct

import numpy as np

from .common import Problem
from .priors import context_km

ONE = 1 << 24
MASK24 = ONE - 1
WORD = 1 << 32


def _words(payload, size, per_element, offset, name):
    if len(payload) % 4:
        raise Problem("rans-partial-word", offset, f"{name}: payload is not a whole number of 32-bit words")
    count = len(payload) // 4
    if count > size * per_element + 2:
        raise Problem("rans-too-long", offset, f"{name}: {count} words, more than {size * per_element + 2}")
    return list(struct.unpack(f"<{count}I", payload))


class Counters:
    """A group table (c1, cn)[g][k] and a shared table (g1, gn)[k] of 9.4.2, flat lists,
    from zeros or from a prior's u32 entries `(n << 16) | ones`."""

    def __init__(self, groups, contexts, group_init=None, shared_init=None):
        if group_init is None:
            self.c1 = [0] * (groups * contexts)
            self.cn = [0] * (groups * contexts)
        else:
            self.c1 = (group_init & 0xFFFF).astype(np.int64).tolist()
            self.cn = (group_init >> 16).astype(np.int64).tolist()
        if shared_init is None:
            self.g1 = [0] * contexts
            self.gn = [0] * contexts
        else:
            self.g1 = (shared_init & 0xFFFF).astype(np.int64).tolist()
            self.gn = (shared_init >> 16).astype(np.int64).tolist()


def probability(t, gi, si, pw):
    """9.4.2's q (PRIOR = pw) from group counter gi and shared counter si of Counters t."""
    qg = ((2 * t.g1[si] + 1) << 24) // (2 * t.gn[si] + 2)
    return ((t.c1[gi] << 24) + pw * qg) // (t.cn[gi] + pw)


def update(t, gi, si, bit):
    """9.4.2's update after a decision of value bit: the group counter, then the shared."""
    c1, cn = t.c1[gi] + bit, t.cn[gi] + 1
    if cn >= 1024:
        cn = (cn + 1) >> 1
        c1 = (c1 + 1) >> 1
    t.c1[gi], t.cn[gi] = c1, cn
    g1, gn = t.g1[si] + bit, t.gn[si] + 1
    if gn >= 1024:
        gn = (gn + 1) >> 1
        g1 = (g1 + 1) >> 1
    t.g1[si], t.gn[si] = g1, gn


def decode_magnitude(dec, mag, group, base, bits, codec, offset):
    """9.4.2's magnitude decisions of one element, bits of m = x - 1 MSB first at tree nodes with
    contexts base + node (group entries at `group` + context): x, or symbol-above-top."""
    node = 1
    for _ in range(bits):
        kk = base + node
        node = 2 * node + dec.bit(mag, group + kk, kk)
    m = node - (1 << bits)
    if m == (1 << bits) - 1:
        raise Problem("symbol-above-top", offset, f"{codec}: value {m + 1} does not fit {bits}-bit elements")
    return m + 1


def own_history(ss, idx, t, sT):
    """9.4.5's hs (0 .. 14): the neuron's own last three significances with its position in time."""
    if t == 0:
        return 0
    if t == 1:
        return 1 + ss[idx - sT]
    if t == 2:
        return 3 + ss[idx - sT] + 2 * ss[idx - 2 * sT]
    return 7 + ss[idx - sT] + 2 * ss[idx - 2 * sT] + 4 * ss[idx - 3 * sT]


def magnitude_bucket(xs, idx, t, h, w, sT, W):
    """9.4.5's magnitude bucket b of the element at flat index idx (values decoded so far in xs):
    the neuron's two previous values and its left and upper neighbours', each clipped to 3."""
    b = 0
    if t >= 1:
        b += min(xs[idx - sT], 3)
    if t >= 2:
        b += 4 * min(xs[idx - 2 * sT], 3)
    if w >= 1:
        b += 16 * min(xs[idx - 1], 3)
    if h >= 1:
        b += 64 * min(xs[idx - W], 3)
    return b


class RansDecoder:
    """9.4.3 decoding with the adaptive binary model of 9.4.2 (PRIOR = 4, or 8 for countctx)."""

    def __init__(self, words, offset, name, prior_weight):
        self.words, self.offset, self.name, self.pw = words, offset, name, prior_weight
        L = len(words)
        if L == 0:
            self.x, self.pos = 0, -1
        else:
            if words[L - 1] == 0:
                raise Problem("rans-final-state", offset, f"{name}: corrupt stream (last word is 0)")
            self.x, self.pos = words[L - 1], L - 2
            if L >= 2:
                self.x = (self.x << 32) | words[L - 2]
                self.pos = L - 3

    def bit(self, t, gi, si):
        """Decode one decision with group counter gi and shared counter si of Counters t."""
        bit = self.decode(probability(t, gi, si, self.pw))
        update(t, gi, si, bit)
        return bit

    def decode(self, q):
        """One decision of 9.4.3 with P(bit = 1) = q / 2^24, its words read as needed."""
        x = self.x
        z = x & MASK24
        if z >= ONE - q:
            bit = 1
            x = (x >> 24) * q + (z - (ONE - q))
        else:
            bit = 0
            x = (x >> 24) * (ONE - q) + z
        if x < WORD and self.pos >= 0:
            x = (x << 32) | self.words[self.pos]
            self.pos -= 1
        self.x = x
        return bit

    def finish(self):
        if self.pos != -1 or self.x != 0:
            raise Problem("rans-final-state", self.offset, f"{self.name}: corrupt stream (end state)")


def _neighbour_bucket(values, p, h, w, H, W):
    """The bucketed count (0, 1-2, 3-5, 6-8 -> 0..3) of nonzero values among the 8 neighbours
    of position ``p`` (row h, column w of an H x W plane) at the previous timestep (9.4.5, 9.4.7)."""
    cnt = 0
    for dh in (-1, 0, 1):
        if 0 <= h + dh < H:
            for dw in (-1, 0, 1):
                if (dh or dw) and 0 <= w + dw < W and values[p + dh * W + dw]:
                    cnt += 1
    return 0 if cnt == 0 else 1 if cnt <= 2 else 2 if cnt <= 5 else 3


def decode_context(payload, dims, bits, codec, tables, offset):
    """order0 (9.4.4) or context (9.4.5); `tables` the prior's four tables or None."""
    T, N, C, H, W = dims
    size = T * N * C * H * W
    dec = RansDecoder(_words(payload, size, 1 + bits, offset, codec), offset, codec, 4)
    G = max(1, min(C, 256))
    Gm = max(1, min(C, 256, 1 << max(14 - bits, 0)))
    ks = 1 if codec == "order0" else 1024
    km = context_km(codec, bits)
    tb = tables or {}
    sig = Counters(G, ks, tb.get("sig_group"), tb.get("sig_shared"))
    mag = Counters(Gm, km, tb.get("mag_group"), tb.get("mag_shared"))
    ctx = codec == "context"
    nbits = 1 << bits
    sT, sC = N * C * H * W, H * W
    xs = [0] * size
    ss = [0] * size
    idx = 0
    for t in range(T if size else 0):  # no elements, no decisions (its other extents may be 2^40)
        for n in range(N):
            for c in range(C):
                g, gm = c % G, c % Gm
                for h in range(H):
                    for w in range(W):
                        k = b = 0
                        if ctx:
                            hs = own_history(ss, idx, t, sT)
                            left = ss[idx - 1] if w > 0 else 0
                            up = diag = 0
                            if h > 0:
                                up = ss[idx - W]
                                diag = (w > 0 and ss[idx - W - 1]) or (w < W - 1 and ss[idx - W + 1])
                                diag = 1 if diag else 0
                            nb = _neighbour_bucket(ss, idx - sT, h, w, H, W) if t > 0 else 0
                            pc = ss[idx - sC] if c > 0 else 0
                            k = (((hs * 4 + left + 2 * up) * 4 + nb) * 2 + diag) * 2 + pc
                        s = dec.bit(sig, g * ks + k, k)
                        x = 0
                        if s:
                            x = 1
                            if bits > 1:
                                if ctx:
                                    b = magnitude_bucket(xs, idx, t, h, w, sT, W)
                                x = decode_magnitude(dec, mag, gm * km, b * nbits, bits, codec, offset)
                            ss[idx] = 1
                        xs[idx] = x
                        idx += 1
    dec.finish()
    return np.array(xs, dtype=np.uint8).reshape(dims)


def decode_countctx(payload, dims, bits, tables, offset):
    """countctx (9.4.7)."""
    T, N, C, H, W = dims
    size = T * N * C * H * W
    per = 1 if bits == 1 else 3 if bits == 2 else 3 + bits
    dec = RansDecoder(_words(payload, size, per, offset, "countctx"), offset, "countctx", 8)
    G = max(1, min(C, 256))
    tb = tables or {}
    ne = 1 << bits if bits > 2 else 1
    sig = Counters(G, 10176, tb.get("sig_group"), tb.get("sig_shared"))
    lev = Counters(G, 1696, tb.get("level_group"), tb.get("level_shared"))
    esc = Counters(G, ne, tb.get("escape_group"), tb.get("escape_shared"))
    top = (1 << bits) - 1
    nbits = 1 << bits
    sT, sC = N * C * H * W, H * W
    xs = [0] * size
    idx = 0
    for t in range(T if size else 0):  # no elements, no decisions (its other extents may be 2^40)
        for n in range(N):
            for c in range(C):
                g = c % G
                for h in range(H):
                    for w in range(W):
                        if t == 0:
                            hs = 0
                        else:
                            v1 = min(xs[idx - sT], 3)
                            if t == 1:
                                hs = 1 + v1
                            else:
                                v2 = min(xs[idx - 2 * sT], 3)
                                if t == 2:
                                    hs = 5 + v1 + 4 * v2
                                else:
                                    hs = 21 + v1 + 4 * v2 + 16 * (xs[idx - 3 * sT] > 0)
                        vl = min(xs[idx - 1], 3) if w > 0 else 0
                        vu = min(xs[idx - W], 3) if h > 0 else 0
                        left = 1 if vl else 0
                        up = 1 if vu else 0
                        diag = 0
                        if h > 0 and ((w > 0 and xs[idx - W - 1]) or (w < W - 1 and xs[idx - W + 1])):
                            diag = 1
                        nb = _neighbour_bucket(xs, idx - sT, h, w, H, W) if t > 0 else 0
                        pf = 0
                        if c > 0:
                            f = 0
                            for cc in range(1, c + 1):
                                if xs[idx - cc * sC]:
                                    f += 1
                            pf = 1 + (4 * f) // c
                        k = (((hs * 4 + left + 2 * up) * 4 + nb) * 2 + diag) * 6 + pf
                        x = dec.bit(sig, g * 10176 + k, k)
                        if x and bits > 1:
                            kl = (hs * 4 + vl) * 4 + vu
                            if dec.bit(lev, g * 1696 + kl, kl):
                                x = 2
                                kl += 848
                                if dec.bit(lev, g * 1696 + kl, kl):
                                    x = 3
                                    if bits > 2:
                                        node = 1
                                        for _ in range(bits):
                                            node = 2 * node + dec.bit(esc, g * ne + node, node)
                                        x = 3 + node - nbits
                                        if x > top:
                                            raise Problem("symbol-above-top", offset,
                                                          f"countctx: value {x} does not fit {bits}-bit elements")
                        xs[idx] = x
                        idx += 1
    dec.finish()
    return np.array(xs, dtype=np.uint8).reshape(dims)


def lane_count(C):
    return 4 if C % 4 == 0 else 2 if C % 2 == 0 else 1


def decode_ctxlanes(payload, dims, bits, tables, offset):
    """ctxlanes (9.4.8): L independent `context` lanes over channel slices."""
    T, N, C, H, W = dims
    L = lane_count(C)
    if len(payload) % 4:
        raise Problem("rans-partial-word", offset, "ctxlanes: payload is not a whole number of 32-bit words")
    total = len(payload) // 4
    size = T * N * C * H * W
    if total > size * (1 + bits) + 12:  # the whole payload's bound: L counts and L lanes of 9.4.4's
        raise Problem("rans-too-long", offset, f"ctxlanes: {total} words, more than {size * (1 + bits) + 12}")
    if total < L:
        raise Problem("lanes-word-counts", offset, f"ctxlanes: payload shorter than its {L} lane word counts")
    counts = struct.unpack_from(f"<{L}I", payload)
    if sum(counts) != total - L:
        raise Problem("lanes-word-counts", offset, "ctxlanes: the lane word counts add up to "
                      f"{sum(counts)}, the payload holds {total - L}")
    Cl = C // L
    lane_size = T * N * Cl * H * W
    for n_l in counts:
        if n_l > lane_size * (1 + bits) + 2:
            raise Problem("lanes-too-long", offset, f"ctxlanes: a lane of {n_l} words")
    parts, start = [], 4 * L
    for lane, n_l in enumerate(counts):
        lane_tables = None
        if tables is not None:
            lane_tables = {}
            for name, arr in tables.items():
                per = len(arr) // L
                lane_tables[name] = arr[lane * per:(lane + 1) * per]
        parts.append(decode_context(payload[start:start + 4 * n_l], (T, N, Cl, H, W), bits, "context",
                                    lane_tables, offset))
        start += 4 * n_l
    return np.concatenate(parts, axis=2) if parts else np.zeros(dims, np.uint8)
