"""winmix (FORMAT.md 9.4.11): mix (9.4.10) without its model D, with three window models (the
last 12 channels at a pixel; two 16-bit slices of the last 64 significance decisions of the
chunk) and significance weight sets shared by all channels, whose learning rate decays; and
countmix (FORMAT.md 9.4.13): winmix with two more models, H and I, for the level and escape
decisions, keyed by the counts (capped at 7) of the two channels before and of the pixels left and
above; and chanmix (FORMAT.md 9.4.14): countmix with E keyed by run's bits 32..47 and a second,
per-channel weight set averaged with the significance set; and framemix (FORMAT.md 9.4.15):
chanmix with two more significance models, P (the previous sample of the chunk around the element)
and L (the neuron's last 15 significances)."""
import numpy as np

from .common import Problem
from .ctxmix import GOLD, M64, ByteDecoder, mixed_decision, neighbour_readers
from .mix import line_e, magnitude, neighbourhood, next_here, next_hist, slotter, start_tables
from .priors import chanmix_sizes, countmix_sizes, framemix_sizes, winmix_sizes


def run_line(run, lo, c, salt):
    """lineX (lo 0, salt 1) or lineY (lo 16, salt 2): 16 bits of `run` from bit lo, times 256,
    plus c + salt, hashed to its top 16 bits, times 16."""
    key = ((((run >> lo) & 0xFFFF) * 256) + c + salt) & M64
    return 16 * (((key * GOLD) & M64) >> 48)


def far_line(run, c, hb):
    """9.4.14's lineE: bits 32..47 of `run`, times 256, plus c + 3, hashed to its top hb - 4 bits,
    times 16."""
    key = ((((run >> 32) & 0xFFFF) * 256) + c + 3) & M64
    return 16 * (((key * GOLD) & M64) >> (64 - hb + 4))


def confidence(state):
    """conf: 0 .. 3 from a state word's count n: n = 0, n < 3, n < 12, more."""
    n = state & 1023
    return 0 if n == 0 else 1 if n < 3 else 2 if n < 12 else 3


def value_models(sH, sI, slot, ct_nn, u1, u2, ul, uu):
    """9.4.13: node -> the (table, entry) of H and I for a level or escape decision at ``node``
    (``ct_nn`` = ct NN)."""
    def entries(node):
        return [(sH, slot(9, (ct_nn + node) * 64 + u1 + 8 * u2)), (sI, slot(10, (node * 8 + u1) * 64 + ul + 8 * uu))]
    return entries


def decode_countmix(payload, dims, bits, tables, offset):
    """countmix (9.4.13): winmix with the models H and I for the level and escape decisions."""
    return decode_winmix(payload, dims, bits, tables, offset, counts=True)


def decode_chanmix(payload, dims, bits, tables, offset):
    """chanmix (9.4.14): countmix with E keyed by run's bits 32..47 and the channel sets."""
    return decode_winmix(payload, dims, bits, tables, offset, counts=True, chan=True)


def decode_framemix(payload, dims, bits, tables, offset):
    """framemix (9.4.15): chanmix with the models P and L in both weight sets."""
    return decode_winmix(payload, dims, bits, tables, offset, counts=True, chan=True, frame=True)


def next_long(lg, y):
    """9.4.15's long history after a significance decision y: 2 long + y, kept below 2^16."""
    u = 2 * lg + y
    return u if u < 1 << 16 else (1 << 15) + (u % (1 << 15))


def decode_winmix(payload, dims, bits, tables, offset, counts=False, chan=False, frame=False):
    """A coded payload (shorter than the packed elements, which codecs.decode_array unpacks in the
    chunk's own order) of the canonical view ``dims``; with ``counts`` countmix's (9.4.13), with
    ``chan`` too chanmix's (9.4.14), with ``frame`` too framemix's (9.4.15)."""
    T, N, C, H, W = dims
    size = T * N * C * H * W
    cid = "framemix" if frame else "chanmix" if chan else "countmix" if counts else "winmix"
    sizes = framemix_sizes if frame else chanmix_sizes if chan else countmix_sizes if counts else winmix_sizes
    K, Z, zbits, hb, nweights = sizes(T, C, H, W, bits)
    TP = min(T, 4)
    G = max(1, min(C, 256))
    NN = 0 if bits == 1 else (1 << bits) + 1
    nm = 9 if frame else 7  # significance models: A, B, C, E, W, X, Y (and P, L)
    nsig = (nm + 1) * 64 * TP
    mag_init = (32768, 32768, 32768, 32768, 0) if counts else (32768, 32768, 0)
    states, wts = start_tables(tables, Z, [19661] * nm + [0], 64 * TP, NN, mag_init)
    nchan = nsig + 20 * NN  # 9.4.14: the channel sets follow the magnitude sets
    if chan and tables is None:
        wts += ([19661] * nm + [0]) * (4 * G)
    assert len(wts) == nweights
    slot = slotter(K, Z, zbits)
    coder = ByteDecoder(payload)
    sA, sB, sC, sE, sF, sG, sW, sX, sY = states[:9]
    sH, sI = states[9:11] if counts else (None, None)
    sP, sL = states[11:13] if frame else (None, None)
    xs = [0] * size  # canonical C order (T, N, C, H, W)
    sT, sN, sCc = N * C * H * W, C * H * W, H * W
    run = 0  # the last 64 significance decisions of the chunk, the last in bit 0
    done, rate = 0, 42  # significance decisions coded so far; the significance sets' learning rate

    for n in range(N if size else 0):  # no elements, no decisions (its other extents may be 2^40)
        nbase = n * sN
        hist = [1] * (C * H * W)
        long = [1] * (C * H * W)  # 9.4.15
        agree = 0

        def Q(hh, ww, c):
            """9.4.15: 1 when the sample before holds a non-zero at (t, c, hh, ww) in the plane."""
            if n == 0 or not (0 <= hh < H and 0 <= ww < W):
                return 0
            return 1 if xs[t * sT + nbase - sN + c * sCc + hh * W + ww] else 0

        S, V = neighbour_readers(xs, nbase, sT, sCc, C, H, W)

        def U(tt, cc, hh, ww):
            """9.4.13: min(x, 7), 0 when c', h' or w' is below 0 (t' is always t here)."""
            if cc < 0 or hh < 0 or ww < 0:
                return 0
            v = xs[tt * sT + nbase + cc * sCc + hh * W + ww]
            return v if v < 7 else 7

        for t in range(T):
            tp = min(t, 3)
            for h in range(H):
                here = 0
                for w in range(W):
                    left = here if w > 0 else 0
                    here = recent = 0
                    lineE = lineX = lineY = r = 0
                    for c in range(C):
                        if coder.cannot_end():  # checked before each element (9.4.9, 9.4.11)
                            raise Problem("mix-end", offset, f"{cid}: corrupt payload (it does not end as the encoder ends it)")
                        ct = (c % G) * TP + tp
                        le, up, p1, p2, c1, pr, near = neighbourhood(S, t, c, h, w)
                        pos = ((tp * H + h) * W + w) * C + c
                        hi = (c * H + h) * W + w
                        hs = hist[hi]
                        if c % 4 == 0:
                            lineE = far_line(run, c, hb) if chan else line_e(left, here, ct, hb)
                            lineX = run_line(run, 0, c, 1)
                            lineY = run_line(run, 16, c, 2)
                            r = 1
                        conf = confidence(sX[lineX + r])
                        models = [
                            (sA, slot(0, ct * 4096 + near)),
                            (sB, slot(1, (ct * 256 + hs) * 16 + le + 2 * up + 4 * c1 + 8 * pr)),
                            (sC, slot(2, pos * 16 + le + 2 * up + 4 * p1 + 8 * c1)),
                            (sE, lineE + r),
                            (sW, ct * 4096 + recent),
                            (sX, lineX + r),
                            (sY, lineY + r),
                        ]
                        if frame:
                            q0 = Q(h, w, c)
                            am = 0 if agree == 0 else 1 if agree < 4 else 2 if agree < 16 else 3
                            keyP = (q0 + 2 * Q(h, w + 1, c) + 4 * Q(h + 1, w, c) + 8 * Q(h, w - 1, c)
                                    + 16 * Q(h - 1, w, c) + 32 * le + 64 * up + 128 * p1 + 256 * c1 + 512 * (n > 0) + 1024 * am)
                            keyL = ct * (1 << 16) + long[hi]
                            models += [(sP, keyP), (sL, ((keyL * GOLD) & M64) >> 42)]
                        sets = ((nm + 1) * (tp * 64 + conf * 16 + p1 + 2 * up + 4 * le + 8 * p2),)
                        if chan:
                            c2 = S(t, c - 2, h, w)
                            sets += (nchan + (nm + 1) * ((c % G) * 4 + c1 + 2 * c2),)
                        x = mixed_decision(coder, wts, models, sets, rate)
                        run = ((run << 1) | x) & M64
                        done += 1
                        if done % 1024 == 0:
                            rate = 14 + (28 << 20) // ((1 << 20) + done)
                        recent = ((recent << 1) | x) & 4095
                        hist[hi] = next_hist(hs, x)
                        if frame:
                            long[hi] = next_long(long[hi], x)
                            if n > 0:
                                agree = min(agree + 1, 31) if x == q0 else 0
                        here = next_here(here, x)
                        r = 2 * r + x
                        if x and bits > 1:
                            more = None
                            if counts:
                                u1, u2 = U(t, c - 1, h, w), U(t, c - 2, h, w)
                                more = value_models(sH, sI, slot, ct * NN, u1, u2, U(t, c, h, w - 1), U(t, c, h - 1, w))
                            x = magnitude(coder, wts, V, sF, lambda key: slot(4, key), sG, lambda key: slot(5, key),
                                          t, c, h, w, ct, pos, NN, nsig, bits, offset, cid, more)
                        xs[t * sT + nbase + hi] = x
    if not coder.ends_as_encoded():
        raise Problem("mix-end", offset, f"{cid}: corrupt payload (it does not end as the encoder ends it)")
    return np.array(xs, dtype=np.uint8).reshape(dims)
