"""mix (FORMAT.md 9.4.10): ctxmix's arithmetic (9.4.9) with other models, coded sample by sample
with the channels of a pixel innermost. The helpers below (the neighbourhood, the history, the
pixel vector, E's line, the magnitude decisions) serve winmix (9.4.11) and countmix (9.4.13) too."""
import numpy as np

from .common import Problem
from .ctxmix import GOLD, M64, ByteDecoder, decode_magnitude, mixed_decision, neighbour_readers
from .priors import mix_sizes

PMUL = 0x100000001B3
LMUL = 0x2545F4914F6CDD1D


def start_tables(tables, Z, sig_init, G_TP_sets, NN, mag_init=(32768, 32768, 0)):
    """The model state of a chunk: (states, weights) as lists, from the prior's ``tables`` or the
    initial values (``sig_init`` the weights of one significance set, ``G_TP_sets`` such sets,
    then NN 4 magnitude sets of ``mag_init``: 32768, 32768, 0; countmix's 32768 x 4, 0)."""
    if tables is None:
        return [[0] * z for z in Z], sig_init * G_TP_sets + list(mag_init) * (NN * 4)
    flat, states, start = tables["states"], [], 0
    for z in Z:
        states.append(flat[start:start + z].astype(np.int64).tolist())
        start += z
    return states, tables["weights"].astype(np.int64).tolist()


def slotter(K, Z, zbits):
    """slot(m, key): entry `key` of table m when K_m <= Z_m, else the top z_m bits of key M."""
    direct = [k is not None and k <= z for k, z in zip(K, Z)]

    def slot(m, key):
        return key if direct[m] else ((key * GOLD) & M64) >> (64 - zbits[m])

    return slot


def neighbourhood(S, t, c, h, w):
    """le, up, p1, p2, c1, pr and near (0 .. 4095) of element (t, c, h, w)."""
    le, up, ul, ur = S(t, c, h, w - 1), S(t, c, h - 1, w), S(t, c, h - 1, w - 1), S(t, c, h - 1, w + 1)
    p1, p2, c1, c2 = S(t - 1, c, h, w), S(t - 2, c, h, w), S(t, c - 1, h, w), S(t, c - 2, h, w)
    pr, pd, pl, pu = S(t - 1, c, h, w + 1), S(t - 1, c, h + 1, w), S(t - 1, c, h, w - 1), S(t - 1, c, h - 1, w)
    pn = S(t - 1, c + 1, h, w)
    near = (le + 2 * up + 4 * ul + 8 * ur + 16 * p1 + 32 * c1 + 64 * pr + 128 * pd + 256 * c2 + 512 * pn
            + 1024 * pl + 2048 * pu)
    return le, up, p1, p2, c1, pr, near


def next_hist(hs, y):
    """The history after a significance decision y: 2 hist + y, kept below 256."""
    u = 2 * hs + y
    return u if u < 256 else 128 + (u % 128)


def next_here(here, y):
    return ((here + y + 1) * PMUL) & M64


def line_d(here, ct, hb):
    return 16 * (((((here + ct) & M64) * GOLD) & M64) >> (64 - hb + 4))


def line_e(left, here, ct, hb):
    mixed = ((((((left * LMUL) + here) & M64) * PMUL + ct) & M64) * GOLD) & M64
    return 16 * (mixed >> (64 - hb + 4))


def magnitude(coder, wts, V, sF, slotF, sG, slotG, t, c, h, w, ct, pos, NN, mag_base, bits, offset, cid,
              more=None):
    """A significant element's value from its level and escape decisions, each mixing F and G
    with the magnitude set `node 4 + v1` (from weight ``mag_base``) at learning rate 14.
    ``more(node)``, when given, lists further models [(table, entry)] of each decision (countmix's
    H and I, 9.4.13), and the sets then have one weight more for each."""
    v1 = V(t - 1, c, h, w)
    fctx = v1 + 4 * V(t - 2, c, h, w) + 16 * V(t, c, h, w - 1) + 64 * V(t, c, h - 1, w)

    def mag(node):
        models = [(sF, slotF((ct * NN + node) * 256 + fctx)), (sG, slotG((pos * NN + node) * 4 + v1))]
        if more is not None:
            models += more(node)
        width = len(models) + 1
        return mixed_decision(coder, wts, models, (mag_base + width * (node * 4 + v1),), 14)

    return decode_magnitude(mag, bits, (1 << bits) - 1, offset, cid)


def decode_mix(payload, dims, bits, tables, offset):
    """A coded payload (shorter than the packed elements, which codecs.decode_array unpacks in the
    chunk's own order) of the canonical view ``dims``."""
    T, N, C, H, W = dims
    size = T * N * C * H * W
    K, Z, zbits, hb, nweights = mix_sizes(T, C, H, W, bits)
    TP = min(T, 4)
    G = max(1, min(C, 64))
    NN = 0 if bits == 1 else (1 << bits) + 1
    nsig = G * TP * 16 * 6
    states, wts = start_tables(tables, Z, [19661, 19661, 19661, 19661, 19661, 0], G * TP * 16, NN)
    assert len(wts) == nweights
    slot = slotter(K, Z, zbits)
    coder = ByteDecoder(payload)
    sA, sB, sC, sD, sE, sF, sG = states
    xs = [0] * size  # canonical C order (T, N, C, H, W)
    sT, sN, sCc = N * C * H * W, C * H * W, H * W

    for n in range(N if size else 0):  # no elements, no decisions (its other extents may be 2^40)
        nbase = n * sN
        hist = [1] * (C * H * W)

        S, V = neighbour_readers(xs, nbase, sT, sCc, C, H, W)

        for t in range(T):
            tp = min(t, 3)
            for h in range(H):
                here = 0
                for w in range(W):
                    left = here if w > 0 else 0
                    here = 0
                    lineD = lineE = r = 0
                    for c in range(C):
                        if coder.cannot_end():  # checked before each element (9.4.9, 9.4.10)
                            raise Problem("mix-end", offset, "mix: corrupt payload (it does not end as the encoder ends it)")
                        ct = (c % G) * TP + tp
                        le, up, p1, p2, c1, pr, near = neighbourhood(S, t, c, h, w)
                        pos = ((tp * H + h) * W + w) * C + c
                        hi = (c * H + h) * W + w
                        hs = hist[hi]
                        if c % 4 == 0:
                            lineD = line_d(here, ct, hb)
                            lineE = line_e(left, here, ct, hb)
                            r = 1
                        models = [
                            (sA, slot(0, ct * 4096 + near)),
                            (sB, slot(1, (ct * 256 + hs) * 16 + le + 2 * up + 4 * c1 + 8 * pr)),
                            (sC, slot(2, pos * 16 + le + 2 * up + 4 * p1 + 8 * c1)),
                            (sD, lineD + r),
                            (sE, lineE + r),
                        ]
                        x = mixed_decision(coder, wts, models, (6 * (ct * 16 + p1 + 2 * up + 4 * le + 8 * p2),), 14)
                        hist[hi] = next_hist(hs, x)
                        here = next_here(here, x)
                        r = 2 * r + x
                        if x and bits > 1:
                            x = magnitude(coder, wts, V, sF, lambda key: slot(5, key), sG, lambda key: slot(6, key),
                                          t, c, h, w, ct, pos, NN, nsig, bits, offset, "mix")
                        xs[t * sT + nbase + hi] = x
    if not coder.ends_as_encoded():
        raise Problem("mix-end", offset, "mix: corrupt payload (it does not end as the encoder ends it)")
    return np.array(xs, dtype=np.uint8).reshape(dims)
