"""The `ctxfast` codec of FORMAT.md 9.4.12: a wider `context` model (9.4.5) whose significance
decisions are coded in up to four sample lanes sharing one set of counters (9.4.2), each lane
its own rANS stream (9.4.3), and for bits > 1 one more stream of magnitude bits.

Written from FORMAT.md alone; the counters, probability, update and rANS decoder are rans.py's.
"""
import struct

import numpy as np

from .common import Problem
from .priors import context_km
from .rans import (Counters, RansDecoder, _neighbour_bucket, decode_magnitude, magnitude_bucket, own_history,
                   probability, update)

KS = 15360  # significance contexts (9.4.12)


def lanes(N):
    """9.4.12 Lanes: the sample bounds n_0 .. n_L of the L = min(4, N) lanes."""
    L = min(4, N)
    return [l * N // L for l in range(L + 1)] if L else [0]


def _significance_context(ss, idx, t, c, h, w, sT, sC, H, W):
    """k of 9.4.12 (0 .. 15359) for the element at flat C-order index idx of the canonical
    view; ss holds the significances decoded so far (every neighbour used is of the same sample,
    so of the same lane, and precedes the element in that lane's C order)."""
    hs = own_history(ss, idx, t, sT)
    nb = _neighbour_bucket(ss, idx - sT, h, w, H, W) if t > 0 else 0
    p1 = ss[idx - sC] if c >= 1 else 0
    p2 = ss[idx - 2 * sC] if c >= 2 else 0
    p3 = ss[idx - 3 * sC] if c >= 3 else 0
    p45 = 1 if (c >= 4 and ss[idx - 4 * sC]) or (c >= 5 and ss[idx - 5 * sC]) else 0
    up = ul = ur = 0
    if h > 0:
        up = ss[idx - W]
        ul = ss[idx - W - 1] if w > 0 else 0
        ur = ss[idx - W + 1] if w < W - 1 else 0
    left = ss[idx - 1] if w > 0 else 0
    return (((((hs * 4 + nb) * 2 + p1) * 2 + p2) * 2 + p3) * 2 + p45) * 16 + up * 8 + ul * 4 + ur * 2 + left


def decode_ctxfast(payload, dims, bits, tables, offset):
    """ctxfast (9.4.12); `tables` the prior's four tables (Ks = 15360) or None."""
    T, N, C, H, W = dims
    size = T * N * C * H * W
    bounds = lanes(N)
    L = len(bounds) - 1
    R = L + 1 if bits > 1 else L
    # 9.4.12 Payload: the checks in the spec's order (the prior's geometry, third, is checked by
    # codecs.decode_array before it calls this, and only for a chunk with elements, section 10 step 7).
    if len(payload) % 4:
        raise Problem("rans-partial-word", offset, "ctxfast: payload is not a whole number of 32-bit words")
    total = len(payload) // 4
    if total > size * (1 + bits) + 15:  # 15: at most 5 counts and 5 streams' 2 initial words
        raise Problem("rans-too-long", offset, f"ctxfast: {total} words, more than {size * (1 + bits) + 15}")
    if size == 0:
        if total:
            raise Problem("rans-final-state", offset, "ctxfast: words in the payload of a chunk without elements")
        return np.zeros(dims, np.uint8)
    if total < R:
        raise Problem("lanes-word-counts", offset, f"ctxfast: payload shorter than its {R} stream word counts")
    counts = struct.unpack_from(f"<{R}I", payload)
    if sum(counts) != total - R:
        raise Problem("lanes-word-counts", offset, "ctxfast: the stream word counts add up to "
                      f"{sum(counts)}, the payload holds {total - R}")
    plane = C * H * W
    lane_sizes = [T * (bounds[l + 1] - bounds[l]) * plane for l in range(L)]
    limits = [s + 2 for s in lane_sizes] + ([size * bits + 2] if bits > 1 else [])
    for r, (n_r, most) in enumerate(zip(counts, limits)):
        if n_r > most:
            raise Problem("lanes-too-long", offset, f"ctxfast: stream {r} of {n_r} words, more than {most}")
    decoders, start = [], 4 * R
    for r, n_r in enumerate(counts):
        words = list(struct.unpack_from(f"<{n_r}I", payload, start))
        decoders.append(RansDecoder(words, offset, "ctxfast", 4))
        start += 4 * n_r

    tb = tables or {}
    G = max(1, min(C, 256))
    sig = Counters(G, KS, tb.get("sig_group"), tb.get("sig_shared"))
    sT, sC = N * plane, H * W
    ss = [0] * size

    # Significance (9.4.12): step i decodes element i of every lane that has one, lane 0 first,
    # all with the counters as they stand at the step's start; then the updates, lane 0 first.
    for i in range(max(lane_sizes)):
        step = []
        for l in range(L):
            if i >= lane_sizes[l]:
                continue
            N_l = bounds[l + 1] - bounds[l]
            w = i % W
            h = i // W % H
            c = i // sC % C
            n = bounds[l] + i // plane % N_l
            t = i // (plane * N_l)
            idx = (t * N + n) * plane + c * sC + h * W + w
            k = _significance_context(ss, idx, t, c, h, w, sT, sC, H, W)
            gi = (c % G) * KS + k
            bit = decoders[l].decode(probability(sig, gi, k, 4))
            ss[idx] = bit  # no other lane's context of this step reads it
            step.append((gi, k, bit))
        for gi, k, bit in step:
            update(sig, gi, k, bit)

    xs = ss
    if bits > 1:
        # Magnitudes (9.4.12, 9.4.5): the elements with s = 1 in C order of the whole view, each
        # its `bits` bits of m = x - 1 in `context`'s magnitude model, on stream L.
        Gm = max(1, min(C, 256, 1 << max(14 - bits, 0)))
        km = context_km("context", bits)
        mag = Counters(Gm, km, tb.get("mag_group"), tb.get("mag_shared"))
        dec = decoders[L]
        nbits = 1 << bits
        xs = list(ss)
        idx = 0
        for t in range(T):
            for n in range(N):
                for c in range(C):
                    gm = c % Gm
                    for h in range(H):
                        for w in range(W):
                            if ss[idx]:
                                base = magnitude_bucket(xs, idx, t, h, w, sT, W) * nbits
                                xs[idx] = decode_magnitude(dec, mag, gm * km, base, bits, "ctxfast", offset)
                            idx += 1
    for dec in decoders:  # every stream's end check after the chunk's last decision
        dec.finish()
    return np.array(xs, dtype=np.uint8).reshape(dims)
