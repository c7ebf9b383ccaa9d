"""mix (FORMAT.md 9.4.10): ctxmix's arithmetic (9.4.9) with other models, coded sample by sample
with the channels of a pixel innermost."""
import numpy as np

from .common import Problem
from .ctxmix import GOLD, M64, ByteDecoder, decode_magnitude, mixed_decision, neighbour_readers
from .priors import mix_sizes

PMUL = 0x100000001B3
LMUL = 0x2545F4914F6CDD1D


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
    if tables is None:
        states = [[0] * z for z in Z]
        wts = [19661, 19661, 19661, 19661, 19661, 0] * (G * TP * 16) + [32768, 32768, 0] * (NN * 4)
    else:
        flat, states, start = tables["states"], [], 0
        for z in Z:
            states.append(flat[start:start + z].astype(np.int64).tolist())
            start += z
        wts = tables["weights"].astype(np.int64).tolist()
    assert len(wts) == nweights
    top = (1 << bits) - 1
    direct = [K[m] is not None and K[m] <= Z[m] for m in range(7)]

    def slot(m, key):
        return key if direct[m] else ((key * GOLD) & M64) >> (64 - zbits[m])

    coder = ByteDecoder(payload)

    def decide(models, base):
        return mixed_decision(coder, wts, models, (base,), 14)

    sA, sB, sC, sD, sE, sF, sG = states
    xs = [0] * size  # canonical C order (T, N, C, H, W)
    sT, sN, sCc = N * C * H * W, C * H * W, H * W
    shift_line = 64 - hb + 4

    for n in range(N):
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
                        ct = (c % G) * TP + tp
                        le, up, ul, ur = S(t, c, h, w - 1), S(t, c, h - 1, w), S(t, c, h - 1, w - 1), S(t, c, h - 1, w + 1)
                        p1, p2, c1, c2 = S(t - 1, c, h, w), S(t - 2, c, h, w), S(t, c - 1, h, w), S(t, c - 2, h, w)
                        pr, pd, pl, pu = S(t - 1, c, h, w + 1), S(t - 1, c, h + 1, w), S(t - 1, c, h, w - 1), S(t - 1, c, h - 1, w)
                        pn = S(t - 1, c + 1, h, w)
                        near = (le + 2 * up + 4 * ul + 8 * ur + 16 * p1 + 32 * c1 + 64 * pr + 128 * pd + 256 * c2 + 512 * pn
                                + 1024 * pl + 2048 * pu)
                        pos = ((tp * H + h) * W + w) * C + c
                        hi = (c * H + h) * W + w
                        hs = hist[hi]
                        if c % 4 == 0:
                            lineD = 16 * (((((here + ct) & M64) * GOLD) & M64) >> shift_line)
                            mixed = ((((((left * LMUL) + here) & M64) * PMUL + ct) & M64) * GOLD) & M64
                            lineE = 16 * (mixed >> shift_line)
                            r = 1
                        models = [
                            (sA, slot(0, ct * 4096 + near)),
                            (sB, slot(1, (ct * 256 + hs) * 16 + le + 2 * up + 4 * c1 + 8 * pr)),
                            (sC, slot(2, pos * 16 + le + 2 * up + 4 * p1 + 8 * c1)),
                            (sD, lineD + r),
                            (sE, lineE + r),
                        ]
                        x = decide(models, 6 * (ct * 16 + p1 + 2 * up + 4 * le + 8 * p2))
                        u = 2 * hs + x
                        hist[hi] = u if u < 256 else 128 + (u % 128)
                        here = ((here + x + 1) * PMUL) & M64
                        r = 2 * r + x
                        if x and bits > 1:
                            v1 = V(t - 1, c, h, w)
                            fctx = v1 + 4 * V(t - 2, c, h, w) + 16 * V(t, c, h, w - 1) + 64 * V(t, c, h - 1, w)

                            def mag(node):
                                mm = [(sF, slot(5, (ct * NN + node) * 256 + fctx)),
                                      (sG, slot(6, (pos * NN + node) * 4 + v1))]
                                return decide(mm, nsig + 3 * (node * 4 + v1))

                            x = decode_magnitude(mag, bits, top, offset, "mix")
                        xs[t * sT + nbase + hi] = x
    if not coder.ends_as_encoded():
        raise Problem("mix-end", offset, "mix: corrupt payload (it does not end as the encoder ends it)")
    return np.array(xs, dtype=np.uint8).reshape(dims)
