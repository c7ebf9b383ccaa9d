"""Compiled (numba) loops of the ``ctxlanes`` codec (FORMAT.md 9.4.8): four ``context`` streams,
one per quarter of the channels, coded in lockstep.

A ``context`` decoder is one long serial chain per decision (state -> bit -> next context ->
counters -> probability -> next bit), so a core runs it far below its throughput. Four
independent streams, one decision of each in turn, give the core four chains to overlap. Each
lane's bytes are exactly those of the ``context`` codec on its quarter of the channels
(:mod:`.context`, whose model, window and coder these loops reuse), so the slow path of the
codec, and any other decoder, can decode a lane on its own.

The fast loops here cover 1-bit chunks whose channel count is a multiple of 4 (every lane
then has the same shape, so the lanes advance together). Their contexts come from a zero-padded
significance copy of the whole chunk, as in the ``context`` encoder; the decoder fills it as it
goes instead of loading a window of planes for every plane, which is a third of the speed-up
but costs memory: (H + 2) (W + 2) bytes a plane beside the output. So the fast decoder takes
only planes that padding at most doubles (square ones from 5 x 5) and that the ``context`` decoder
would not tile; the others are decoded lane by lane. The lanes' per-decision scalars (stream
state, read position, context) rotate through four variables after every decision: once LLVM
unrolls the four-iteration lane loop they stay in registers, and the step is written once.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .context import counter_dims, new_counters, prob
from .counters import ONE, PREC, bumped
from .ops import U
from .rans import LOW, decode_bit, start
from .window import TILE, plane_ctx, row_ctx

NL = 4  # lanes of the fast loops


@njit(cache=True, nogil=True)
def lane_count(C):
    """Lanes of a chunk with C channels (FORMAT.md 9.4.8): 4, else 2, else 1 equal channel blocks."""
    if C % 4 == 0:
        return 4
    if C % 2 == 0:
        return 2
    return 1


@njit(cache=True, nogil=True)
def fast_encode(C, bits):
    """True when :func:`encode4` codes this chunk (else the codec codes lane by lane)."""
    return bits == 1 and C > 0 and C % NL == 0


@njit(cache=True, nogil=True)
def fast_decode(C, H, W, bits):
    """True when :func:`decode4_into` decodes this chunk. Its context memory is a zero-padded
    copy of the chunk's significance, (H + 2) (W + 2) bytes a plane: so only planes that it at
    most doubles, and that the ``context`` decoder would not tile."""
    P = (H + 2) * (W + 2)
    return fast_encode(C, bits) and H > 0 and W > 0 and P <= 2 * H * W and P <= TILE


@njit(cache=True, nogil=True)
def new_lane_counters(C):
    """The four lanes' fresh significance counters: each lane's group and shared tables
    (:func:`.context.new_counters` of its C / 4 channels; lane l's at ``l * SG`` and ``l * ks``).
    Returns (ks, SG, sg, ss)."""
    _, _, ks, _, sg1, _, _, _ = new_counters(C // NL, 1, True)
    SG = sg1.size
    return ks, SG, np.zeros(NL * SG, np.uint32), np.zeros(NL * ks, np.uint32)


@njit(cache=True, nogil=True)
def _new_lane_state(T, N, C, H, W):
    """The lanes' working memory beside their counters: the zero-padded significance copy of
    the chunk, shape (T, N, C, H + 2, W + 2), and each lane's context rows ``rk`` (W + 1 entries:
    one past a row's end, never used) and plane contexts ``hist`` (H (W + 2) entries).
    Returns (sp, rk, hist)."""
    return (np.zeros(T * N * C * (H + 2) * (W + 2), np.uint8), np.zeros(NL * (W + 1), np.int64),
            np.zeros(NL * H * (W + 2), np.int64))


@njit(cache=True, nogil=True)
def _model_pass4(x, sg, ss):
    """The encoder's forward pass over the four lanes of the 1-bit (T, N, C, H, W) array ``x``:
    per lane, every decision bit and the packed counters its probability comes from (as
    :func:`.context._model_pass`, whose ``context`` model each lane is), lane-major."""
    T, N, C, H, W = x.shape
    Cb = C // NL
    G, _, ks, _ = counter_dims(C // NL, 1, True)
    SG = G * ks
    sp, rk, hist = _new_lane_state(T, N, C, H, W)
    rw = W + 2
    cs = (H + 2) * rw
    st = N * C * cs
    RK = W + 1
    HR = H * rw
    xf = x.ravel()
    per = T * N * Cb * H * W
    dec = np.empty((NL, per), np.uint8)
    cnt = np.empty((NL, per), np.uint64)
    lane_e = Cb * H * W  # element offset of lane l's channel block: l * lane_e
    lane_p = Cb * cs  # ... and of its padded planes
    i = 0
    for t in range(T):
        for n in range(N):
            for j in range(Cb):  # channel j of every lane (channel l * Cb + j of the chunk)
                gb = (j % G) * ks  # its channel group, j mod G (FORMAT.md 9.4.2): lanes of over 256 channels wrap
                p0 = ((t * N + n) * C + j) * cs + rw + 1
                e0 = ((t * N + n) * C + j) * H * W
                for ln in range(NL):  # a lane's first channel has no previous channel (c = j)
                    plane_ctx(sp, hist, p0 + ln * lane_p, t, j, H, W, st, rw, cs, ln * HR)
                for h in range(H):
                    i0 = p0 + h * rw
                    eh = e0 + h * W
                    for ln in range(NL):
                        row_ctx(sp, hist, rk, i0 + ln * lane_p, ln * HR + h * rw, W, rw, ln * RK)
                    f0 = f1 = f2 = f3 = 0  # each lane's left neighbour, rotated below
                    for w in range(W):
                        for ln in range(NL):
                            s = np.int64(xf[U(eh + ln * lane_e + w)] != 0)
                            k = U(rk[U(ln * RK + w)] + 16 * f0)
                            gk = U(ln * SG + gb) + k
                            sk = U(ln * ks) + k
                            a = sg[gk]
                            b = ss[sk]
                            cnt[ln, U(i)] = np.uint64(a) | (np.uint64(b) << np.uint64(32))
                            dec[ln, U(i)] = s
                            sg[gk] = bumped(a, s)
                            ss[sk] = bumped(b, s)
                            sp[U(i0 + ln * lane_p + w)] = s
                            f0, f1, f2, f3 = f1, f2, f3, s
                        i += 1
    return dec, cnt


@njit(cache=True, nogil=True)
def encode4(x):
    """:func:`encode4_with` from zero counters."""
    _, _, sg, ss = new_lane_counters(x.shape[2])
    return encode4_with(x, sg, ss)


@njit(cache=True, nogil=True)
def encode4_with(x, sg, ss):
    """The ``ctxlanes`` words of the 1-bit (T, N, C, H, W) array ``x`` (C a multiple of 4): the
    four lanes' word counts, then their rANS words (:func:`.rans.encode_words`, four
    streams interleaved so that their divisions overlap)."""
    dec, cnt = _model_pass4(x, sg, ss)
    per = dec.shape[1]
    words = np.empty((NL, per + 2), np.uint32)
    m0 = m1 = m2 = m3 = 0
    z0 = z1 = z2 = z3 = np.uint64(0)
    for i in range(per - 1, -1, -1):
        for ln in range(NL):
            v = np.uint64(cnt[ln, U(i)])
            one = np.uint64(prob(v & np.uint64(0xFFFFFFFF), v >> np.uint64(32)))
            zero = np.uint64(ONE) - one
            msk = np.uint64(0) - np.uint64(dec[ln, U(i)])
            wt = zero ^ ((zero ^ one) & msk)
            cum = zero & msk
            if (z0 >> np.uint64(64 - PREC)) >= wt:
                words[ln, U(m0)] = np.uint32(z0 & np.uint64(0xFFFFFFFF))
                m0 += 1
                z0 >>= np.uint64(32)
            quo = z0 // wt
            z0 = (quo << np.uint64(PREC)) | (z0 - quo * wt + cum)
            z0, z1, z2, z3 = z1, z2, z3, z0
            m0, m1, m2, m3 = m1, m2, m3, m0
    ends = (z0, z1, z2, z3)
    used = (m0, m1, m2, m3)
    out = np.empty(NL + NL * (per + 2), np.uint32)
    o = NL
    for ln in range(NL):  # each stream: its words, then the final state's low and high words
        start = o
        m = used[ln]
        out[o:o + m] = words[ln, :m]
        o += m
        z = ends[ln]
        if z != 0:
            out[o] = np.uint32(z & np.uint64(0xFFFFFFFF))
            o += 1
            if z >> np.uint64(32):
                out[o] = np.uint32(z >> np.uint64(32))
                o += 1
        out[ln] = o - start
    return out[:o]


@njit(cache=True, nogil=True)
def decode4_into(words, offs, xf, shape, strides):
    """:func:`decode4_into_with` from zero counters."""
    _, _, sg, ss = new_lane_counters(shape[2])
    return decode4_into_with(words, offs, xf, shape, strides, sg, ss)


@njit(cache=True, nogil=True)
def decode4_into_with(words, offs, xf, shape, strides, sg, ss):
    """Decode the four lanes of a 1-bit (T, N, C, H, W) chunk (:func:`fast_decode`) into the
    flat uint8 buffer ``xf`` with element strides ``strides`` (as :func:`.context.decode_tiled`).
    Lane l's stream is ``words[offs[l]:offs[l + 1]]``. Returns 0, or 1 for a malformed stream
    (a zero last word, words or state left over at a lane's end).

    No speculation as in the ``context`` decoder: the other three lanes fill the time that one
    lane's chain waits. The context memory is a zero-padded significance copy of the chunk (the
    encoder's layout), so there is no per-plane window to fill."""
    T, N, C, H, W = shape
    xs, sN, sC, sH, sW = strides
    Cb = C // NL
    z0 = z1 = z2 = z3 = np.uint64(0)
    r0 = r1 = r2 = r3 = 0  # read positions (the next word is words[r - 1])
    for ln in range(NL):
        z, r = start(words[offs[ln]:offs[ln + 1]])
        if r < 0:
            return 1
        z0, z1, z2, z3 = z1, z2, z3, z
        r0, r1, r2, r3 = r1, r2, r3, r + offs[ln]
    b0, b1, b2, b3 = offs[0], offs[1], offs[2], offs[3]  # each stream's first word
    G, _, ks, _ = counter_dims(C // NL, 1, True)
    SG = G * ks
    sp, rk, hist = _new_lane_state(T, N, C, H, W)
    rw = W + 2
    cs = (H + 2) * rw
    st = N * C * cs
    RK = W + 1  # rk[l * RK + W]: the (unused) context past a row's end
    HR = H * rw
    lane_e = Cb * sC
    lane_p = Cb * cs
    for t in range(T):
        for n in range(N):
            for j in range(Cb):
                gb = (j % G) * ks  # channel group j mod G, as the encoder
                p0 = ((t * N + n) * C + j) * cs + rw + 1
                e0 = t * xs + n * sN + j * sC
                for ln in range(NL):
                    plane_ctx(sp, hist, p0 + ln * lane_p, t, j, H, W, st, rw, cs, ln * HR)
                for h in range(H):
                    i0 = p0 + h * rw
                    eh = e0 + h * sH
                    for ln in range(NL):
                        row_ctx(sp, hist, rk, i0 + ln * lane_p, ln * HR + h * rw, W, rw, ln * RK)
                    k0, k1, k2, k3 = rk[0], rk[RK], rk[2 * RK], rk[3 * RK]
                    for w in range(W):
                        for ln in range(NL):
                            gk = U(ln * SG + gb + k0)
                            sk = U(ln * ks + k0)
                            cv = np.int64(sg[gk])
                            sv = np.int64(ss[sk])
                            bit, z0 = decode_bit(z0, prob(cv, sv))
                            if z0 < np.uint64(LOW) and r0 > b0:
                                r0 -= 1
                                z0 = (z0 << np.uint64(32)) | np.uint64(words[U(r0)])
                            s = np.int64(bit)
                            sg[gk] = bumped(cv, s)
                            ss[sk] = bumped(sv, s)
                            sp[U(i0 + ln * lane_p + w)] = s
                            xf[U(eh + ln * lane_e + w * sW)] = s
                            k0, k1, k2, k3 = k1, k2, k3, rk[U(ln * RK + w + 1)] + 16 * s
                            z0, z1, z2, z3 = z1, z2, z3, z0
                            r0, r1, r2, r3 = r1, r2, r3, r0
                            b0, b1, b2, b3 = b1, b2, b3, b0
    if z0 | z1 | z2 | z3:
        return 1
    if r0 != b0 or r1 != b1 or r2 != b2 or r3 != b3:
        return 1
    return 0
