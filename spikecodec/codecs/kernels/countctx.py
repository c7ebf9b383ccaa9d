"""Compiled (numba) loops of the ``countctx`` codec (FORMAT.md 9.4.7): adaptive model + rANS coder.

Imported lazily (numba compiles on first use), never by ``import spikecodec``. The model's
arithmetic is exact integers (the probability through :func:`.counters.blend`, exact), so
encoder and decoder compute the same probability for every decision on any machine.

Layout of the work (the same for encoder and decoder, so they cannot disagree on a context):
the contexts of a plane come from a window of zero-padded planes, (H + 2) x (W + 2), so that
neighbours outside the plane read as zeros without a bounds check. Normally (:func:`ring_fits`)
the window is a *ring*: every (n, c) keeps its last min(T, 3) decoded planes, padded, and the
plane being coded overwrites the one of t - 3 (read first), so no plane is ever copied. Else
each plane is coded in tiles (:func:`.window.tile_shape`: the whole plane unless it is huge,
so a hostile file's huge plane costs a constant, not a table per position) and, for a tile,
:func:`_load_tile` copies what its contexts need from earlier planes into a small window of
slots. Either way :func:`_plane_ctx` turns the window into the context parts that do not depend
on the plane being coded (one vectorisable loop) and :func:`_sig_ctx` adds the previous row's,
the sequential loop the left neighbour's. Fired-channel counts (``pf``) are kept per position
of the plane (padded, in the ring layout), or in the windowed decoder in the last channel's
plane of its output while that plane is not yet decoded (C <= 256; a table otherwise).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .counters import blend, bumped, next_counters, prior_tables
from .ops import U, opaque, pick
from .rans import LOW, decode_bit, encode_words, start
from .window import TILE, tile_shape

PRIOR = 8  # weight of the shared estimate in the channel-group estimate, in counts
NHS = 53  # history states of FORMAT.md 9.4.7
KS = NHS * 4 * 4 * 2 * 6  # significance contexts
KL = 2 * NHS * 4 * 4  # level contexts (levels 1 and 2)
# Weights of the context terms, as FORMAT.md 9.4.7 numbers the contexts (k = sum of the terms):
# significance k = 192 hs + 48 left + 96 up + 12 nb + 6 diag + pf, level (j - 1) 848 + 16 hs +
# 4 vl + vu.
K_HS, K_LEFT, K_UP, K_NB, K_DIAG, K_PF = 192, 48, 96, 12, 6, 1
L_HS, L_VL, L_VU, LEVEL2 = 16, 4, 1, KL // 2
INV_PRIOR8, INV_ONE8 = prior_tables(PRIOR)  # 8 / (cn + 8), 2**24 / (cn + 8): see .counters
SLOTS = 5  # window slots of a tile: v(t-1), v(t-2), S(t-3), pf, the plane being coded
CUR = 4
RING_BYTES = 1 << 24  # most memory of the ring window (16 MiB); larger chunks load per tile


@njit(inline="always", cache=True)
def prob(cv, sv):
    """q = P(1) * 2**24 from packed counters (FORMAT.md 9.4.7: prior weight 8; exact)."""
    return blend(cv, sv, INV_PRIOR8, INV_ONE8)


@njit(cache=True, nogil=True)
def groups(C):
    return max(1, min(C, 256))


@njit(cache=True, nogil=True)
def max_decisions(bits):
    """Most binary decisions one element can take: significance, two levels, an escape tree."""
    if bits == 1:
        return 1
    if bits == 2:
        return 3
    return 3 + bits


@njit(cache=True, nogil=True)
def _new_counters(C, bits):
    """Fresh packed (ones, total) counter tables of one chunk: significance group (g * KS + k)
    and shared (k), level group (g * KL + kl) and shared (kl), escape group and shared."""
    G = groups(C)
    ne = 1 << bits if bits > 2 else 1
    return (np.zeros(G * KS, np.uint32), np.zeros(KS, np.uint32), np.zeros(G * KL, np.uint32),
            np.zeros(KL, np.uint32), np.zeros(G * ne, np.uint32), np.zeros(ne, np.uint32))


@njit(cache=True, nogil=True)
def ring_fits(shape, budget, ring_bytes):
    """Whether the (T, N, C, H, W) chunk is coded with the ring window: whole-plane tiles and
    its :func:`ring_size` within ``ring_bytes``."""
    T, N, C, H, W = shape
    TR, TL = tile_shape(H, W, budget)
    return TR == H and TL == W and ring_size(shape) <= ring_bytes


@njit(cache=True, nogil=True)
def ring_size(shape):
    """Bytes of the ring window: min(T, 3) padded planes per (n, c), or one plane if T = 1 (no
    history to keep)."""
    T, N, C, H, W = shape
    return (N * C if T > 1 else 1) * min(T, 3) * (H + 2) * (W + 2)


@njit(inline="always", cache=True)
def _pf(f, c):
    """pf = 1 + floor(4 f / c) of FORMAT.md 9.4.7 (f <= c channels fired), by comparisons."""
    return 1 + (4 * f >= c) + (4 * f >= 2 * c) + (4 * f >= 3 * c) + (f >= c)


@njit(cache=True, nogil=True)
def _load_tile(xf, fired, fired_in_x, sp, e0, ef, t, c, H, W, xs, sH, sW, h0, R, w0, L, rw, P):
    """Fill the window ``sp`` (SLOTS padded slots of ``P`` = (R + 2) x ``rw`` elements) for the
    tile of ``R`` rows from ``h0`` and ``L`` columns from ``w0`` of the plane whose first element
    is ``xf[e0]`` (``xs``, ``sH``, ``sW``: the array's T, H and W strides):

    * slot 0: v = min(x, 3) at t - 1, ring included (the 3 x 3 neighbourhood); slot 1: v at
      t - 2; slot 2: S at t - 3 (centres only: their rings are never read);
    * slot 3: ``pf`` (FORMAT.md 9.4.7) from the fired-channel counts, ``fired[h * W + w]`` or,
      with ``fired_in_x``, ``xf[ef + h * sH + w * sW]`` (the last channel's plane);
    * slot CUR, the plane being coded: its ring, i.e. the already coded row above the tile and the
      columns beside it, or zeros at the plane's edge. Its centre is written as the loop codes.
    Slots for steps that do not exist (t < 3) are not written: their terms weigh 0.
    A tile that is the whole plane (every real tensor) has zero rings, written once (the window
    starts zeroed): only the centres are copied, without bounds checks."""
    if h0 == 0 and w0 == 0 and R == H and L == W:
        for k in range(1, min(t, 3) + 1):
            src = e0 - k * xs
            dst = (k - 1) * P + rw + 1
            for h in range(H):
                for w in range(W):
                    v = min(xf[U(src + h * sH + w * sW)], np.uint8(3))
                    sp[U(dst + h * rw + w)] = np.uint8(v != 0) if k == 3 else v
        if c > 0:
            dst = 3 * P + rw + 1
            for h in range(H):
                for w in range(W):
                    f = np.int64(xf[U(ef + h * sH + w * sW)]) if fired_in_x else np.int64(fired[U(h * W + w)])
                    sp[U(dst + h * rw + w)] = _pf(f, c)
        return
    for k in range(1, min(t, 3) + 1):
        src = e0 - k * xs
        dst = (k - 1) * P
        lo = -1 if k == 1 else 0
        for r in range(lo, R - lo):
            h = h0 + r
            inside = 0 <= h < H
            for q in range(lo, L - lo):
                w = w0 + q
                v = np.uint8(0)
                if inside and 0 <= w < W:
                    v = min(xf[U(src + h * sH + w * sW)], np.uint8(3))
                    if k == 3:
                        v = np.uint8(v != 0)
                sp[U(dst + (r + 1) * rw + q + 1)] = v
    if c > 0:
        dst = 3 * P
        for r in range(R):
            h = h0 + r
            for q in range(L):
                w = w0 + q
                f = np.int64(xf[U(ef + h * sH + w * sW)]) if fired_in_x else np.int64(fired[U(h * W + w)])
                sp[U(dst + (r + 1) * rw + q + 1)] = _pf(f, c)
    dst = CUR * P
    for r in range(-1, R + 1):
        h = h0 + r
        for q in range(-1, L + 1):
            if r >= 0 and r < R and q >= 0 and q < L:
                continue
            w = w0 + q
            v = np.uint8(0)
            # Coded already: the row above, and the left/right columns of rows of this tile
            # (tiles split a plane into whole rows or a row into pieces, coded in order).
            if 0 <= h < H and 0 <= w < W and (r < 0 or q < 0):
                v = min(xf[U(e0 + h * sH + w * sW)], np.uint8(3))
            sp[U(dst + (r + 1) * rw + q + 1)] = v


@njit(inline="always", cache=True)
def _plane_ctx(win, o1, o2, o3, pfw, pfo, counts, pk, hl, t, c, R, rw):
    """The parts of the contexts that come from earlier planes, for the element at padded index
    ``rw + 1 + j`` of a tile or plane: significance ``pk[j] = 192 hs + 12 nb + pf``, level
    ``hl[j] = 16 hs``. ``win[o1 + i]``, ``win[o2 + i]``, ``win[o3 + i]``: the padded planes of
    t - 1, t - 2 and t - 3 (v, v, and v or S); ``pfw[pfo + i]``: the fired-channel count
    (``counts``) or ``pf`` itself. One loop over the padded rows (padding columns computed,
    never used) so that it vectorises."""
    hs0 = 0 if t == 0 else 1 if t == 1 else 5 if t == 2 else 21
    m1 = 1 if t >= 1 else 0
    m2 = 4 if t >= 2 else 0
    m3 = 16 if t >= 3 else 0
    nbm = K_NB if t >= 1 else 0
    cc = np.int64(c)
    p0 = rw + 1
    for j in range(R * rw - 2):
        a = U(o1 + p0 + j)
        hs = (hs0 + m1 * np.int64(win[a]) + m2 * np.int64(win[U(o2 + p0 + j)])
              + m3 * np.int64(win[U(o3 + p0 + j)] != 0))
        cnt = (np.int64(win[a - U(rw + 1)] != 0) + (win[a - U(rw)] != 0) + (win[a - U(rw - 1)] != 0)
               + (win[a - U(1)] != 0) + (win[a + U(1)] != 0) + (win[a + U(rw - 1)] != 0)
               + (win[a + U(rw)] != 0) + (win[a + U(rw + 1)] != 0))
        if counts:
            f = np.int64(pfw[U(pfo + p0 + j)])
            pf = 0 if cc == 0 else 1 + (4 * f >= cc) + (4 * f >= 2 * cc) + (4 * f >= 3 * cc) + (f >= cc)
        else:
            pf = np.int64(pfw[U(pfo + p0 + j)]) if cc > 0 else 0  # the slot is not written for c = 0
        pk[U(j)] = K_HS * hs + nbm * ((cnt > 0) + (cnt > 2) + (cnt > 5)) + K_PF * pf
        hl[U(j)] = L_HS * hs


@njit(inline="always", cache=True)
def _ring_slots(n, c, t, C, nslots, P):
    """Ring window offsets of (n, c)'s padded planes of t - 1, t - 2 and t: the plane being
    coded takes the slot of t - 3 (read by :func:`_plane_ctx` before it is overwritten). With
    one timestep every plane uses the same slot."""
    base = (n * C + c) * nslots * P if nslots > 1 else 0
    return base + ((t - 1) % nslots) * P, base + ((t - 2) % nslots) * P, base + (t % nslots) * P


@njit(inline="always", cache=True)
def _sig_ctx(sp, pk, j, u):
    """Significance context, but for the ``left`` term, of the element with tile index ``j``
    whose upper neighbour in the window is ``sp[u]``: the tile part plus ``96 up + 6 diag``."""
    return pk[U(j)] + K_UP * np.int64(sp[U(u)] != 0) + K_DIAG * np.int64((sp[U(u - 1)] != 0) | (sp[U(u + 1)] != 0))


@njit(inline="always", cache=True)
def _tiles(H, W, TR, TL, tile):
    """(h0, R, w0, L) of tile number ``tile`` of a plane split into ``TR`` x ``TL`` tiles."""
    if TR == H and TL == W:  # the whole plane (no divisions)
        return 0, H, 0, W
    per_row = (W + TL - 1) // TL
    h0 = (tile // per_row) * TR
    w0 = (tile % per_row) * TL
    return h0, min(TR, H - h0), w0, min(TL, W - w0)


@njit(cache=True, nogil=True)
def _model_pass(x, bits, budget, ring_bytes, sg, ss, lg, ls, eg, es):
    """The encoder's forward pass over the C-contiguous (T, N, C, H, W) array ``x`` from the
    counter tables given (updated in place): every binary decision in coding order and the
    packed counters ``cv | sv << 32`` its probability comes from. Returns (decision bits uint8,
    counters uint64)."""
    T, N, C, H, W = x.shape
    G = groups(C)
    ne = es.size
    xf = x.ravel()
    xs = N * C * H * W
    TR, TL = tile_shape(H, W, budget)
    rw = TL + 2
    P = (TR + 2) * rw
    ringed = ring_fits(x.shape, budget, ring_bytes)
    nslots = min(T, 3)
    win = np.zeros(ring_size(x.shape) if ringed else SLOTS * P, np.uint8)
    pk = np.zeros(TR * rw, np.int64)
    hl = np.zeros(TR * rw, np.int64)
    fired = np.zeros(P if ringed else H * W if C > 1 else 0, np.int32)
    out_bits = np.empty(xf.size * max_decisions(bits), np.uint8)
    out_c = np.empty(out_bits.size, np.uint64)
    ntiles = ((H + TR - 1) // TR) * ((W + TL - 1) // TL)
    i = 0
    for t in range(T):
        for n in range(N):
            fired[:] = 0
            for c in range(C):
                e0 = ((t * N + n) * C + c) * H * W
                gs = (c % G) * KS
                gl = (c % G) * KL
                ge = (c % G) * ne
                for tile in range(ntiles):
                    h0, R, w0, L = _tiles(H, W, TR, TL, tile)
                    if ringed:
                        o1, o2, cur = _ring_slots(n, c, t, C, nslots, P)
                        _plane_ctx(win, o1, o2, cur, fired, 0, True, pk, hl, t, c, R, rw)
                    else:
                        _load_tile(xf, fired, False, win, e0, 0, t, c, H, W, xs, W, 1, h0, R, w0, L, rw, P)
                        _plane_ctx(win, 0, P, 2 * P, win, 3 * P, False, pk, hl, t, c, R, rw)
                        cur = CUR * P
                    for r in range(R):
                        i0 = cur + (r + 1) * rw + 1
                        j0 = r * rw
                        e = e0 + (h0 + r) * W + w0
                        fi = (r + 1) * rw + 1 if ringed else (h0 + r) * W + w0
                        vl = np.int64(win[U(i0 - 1)])
                        for w in range(L):
                            val = np.int64(xf[U(e + w)])
                            s = np.int64(val != 0)
                            k = _sig_ctx(win, pk, j0 + w, i0 - rw + w) + K_LEFT * np.int64(vl != 0)
                            out_c[U(i)] = np.uint64(sg[U(gs + k)]) | (np.uint64(ss[U(k)]) << np.uint64(32))
                            out_bits[U(i)] = s
                            i += 1
                            sg[U(gs + k)] = bumped(sg[U(gs + k)], s)
                            ss[U(k)] = bumped(ss[U(k)], s)
                            if s and bits > 1:
                                kl = hl[U(j0 + w)] + L_VL * vl + L_VU * np.int64(win[U(i0 - rw + w)])
                                for lev in range(1, 3):
                                    b = np.int64(val > lev)
                                    out_c[U(i)] = np.uint64(lg[U(gl + kl)]) | (np.uint64(ls[U(kl)]) << np.uint64(32))
                                    out_bits[U(i)] = b
                                    i += 1
                                    lg[U(gl + kl)] = bumped(lg[U(gl + kl)], b)
                                    ls[U(kl)] = bumped(ls[U(kl)], b)
                                    if not b:
                                        break
                                    kl += LEVEL2
                                if val >= 3 and bits > 2:  # escape e = x - 3, MSB first
                                    node = 1
                                    for d in range(bits - 1, -1, -1):
                                        b = ((val - 3) >> d) & 1
                                        out_c[U(i)] = np.uint64(eg[U(ge + node)]) | (np.uint64(es[U(node)]) << np.uint64(32))
                                        out_bits[U(i)] = b
                                        i += 1
                                        eg[U(ge + node)] = bumped(eg[U(ge + node)], b)
                                        es[U(node)] = bumped(es[U(node)], b)
                                        node = 2 * node + b
                            vl = min(val, 3)
                            win[U(i0 + w)] = vl
                            if c < C - 1:
                                fired[U(fi + w)] += s
    return out_bits[:i], out_c[:i]


@njit(cache=True, nogil=True)
def encode(x, bits):
    """The rANS words of the C-contiguous (T, N, C, H, W) uint8 array ``x``."""
    sg, ss, lg, ls, eg, es = _new_counters(x.shape[2], bits)
    return encode_with(x, bits, sg, ss, lg, ls, eg, es)


@njit(cache=True, nogil=True)
def encode_with(x, bits, sg, ss, lg, ls, eg, es):
    """:func:`encode` from the counter tables given (a prior's copy), which it updates."""
    d, counters = _model_pass(x, bits, TILE, RING_BYTES, sg, ss, lg, ls, eg, es)
    return encode_words(d, counters, True, INV_PRIOR8, INV_ONE8)


@njit(cache=True, nogil=True)
def decisions(x, bits, budget, ring_bytes=RING_BYTES):
    """(bits, q) of every decision of ``x`` in coding order (diagnostics and tests)."""
    sg, ss, lg, ls, eg, es = _new_counters(x.shape[2], bits)
    d, counters = _model_pass(x, bits, budget, ring_bytes, sg, ss, lg, ls, eg, es)
    q = np.empty(d.size, np.uint32)
    for i in range(d.size):
        v = np.uint64(counters[i])
        q[i] = prob(v & np.uint64(0xFFFFFFFF), v >> np.uint64(32))
    return d, q


@njit(inline="always", cache=True)
def _decode_all(words, state, pos, xf, shape, strides, win, ringed, pk, hl, fired, sg, ss, lg, ls, eg, es, bits, TR, TL, mag, esc):
    """The decoding loop of :func:`decode_tiled`, inlined there once per constant pair ``mag``
    (level decisions: bits > 1) and ``esc`` (escape trees: bits > 2), so that LLVM drops the code
    a chunk's width never runs and the loop keeps its variables in registers. ``win``: the ring
    window (``ringed``) or the tile window. Returns (state, pos, status)."""
    T, N, C, H, W = shape
    xs, sN, sC, sH, sW = strides
    # Fired-channel counts, windowed: in the last channel's plane of the output until it is
    # decoded (each count is read when its tile is loaded, before its element is written), else
    # in ``fired``; ringed: in ``fired``, padded like a ring plane.
    in_x = not ringed and 1 < C <= 256
    G = groups(C)
    top = (1 << bits) - 1
    ne = es.size
    rw = TL + 2
    P = (TR + 2) * rw
    nslots = min(T, 3)
    ntiles = ((H + TR - 1) // TR) * ((W + TL - 1) // TL)
    for t in range(T):
        for n in range(N):
            ef = t * xs + n * sN + (C - 1) * sC
            if in_x:
                for h in range(H):
                    for w in range(W):
                        xf[U(ef + h * sH + w * sW)] = 0
            else:
                fired[:] = 0
            for c in range(C):
                e0 = t * xs + n * sN + c * sC
                gs = (c % G) * KS
                gl = (c % G) * KL
                ge = (c % G) * ne
                count = c < C - 1  # the last channel's counts are never read
                for tile in range(ntiles):
                    h0, R, w0, L = _tiles(H, W, TR, TL, tile)
                    if ringed:
                        o1, o2, cur = _ring_slots(n, c, t, C, nslots, P)
                        _plane_ctx(win, o1, o2, cur, fired, 0, True, pk, hl, t, c, R, rw)
                    else:
                        _load_tile(xf, fired, in_x, win, e0, ef, t, c, H, W, xs, sH, sW, h0, R, w0, L, rw, P)
                        _plane_ctx(win, 0, P, 2 * P, win, 3 * P, False, pk, hl, t, c, R, rw)
                        cur = CUR * P
                    for r in range(R):
                        i0 = cur + (r + 1) * rw + 1
                        j0 = r * rw
                        e = e0 + (h0 + r) * sH + w0 * sW
                        fe = ef + (h0 + r) * sH + w0 * sW
                        fi = (r + 1) * rw + 1 if ringed else (h0 + r) * W + w0
                        vl = np.int64(win[U(i0 - 1)])
                        k = _sig_ctx(win, pk, j0, i0 - rw) + K_LEFT * np.int64(vl != 0)
                        cv = np.int64(sg[U(gs + k)])
                        sv = np.int64(ss[U(k)])
                        q = prob(cv, sv)
                        for w in range(L):
                            n0 = _sig_ctx(win, pk, j0 + w + 1, i0 - rw + w + 1)  # past the row's end: in range, unused
                            n1 = n0 + K_LEFT
                            if mag:
                                # A nonzero element branches to its level decisions anyway, so only
                                # the next context of a zero (the likelier) is prepared ahead: its
                                # counters as they will be after this update, and its probability.
                                # The branch of a nonzero loads the other after its update.
                                u0 = bumped(cv, 0)
                                v0 = bumped(sv, 0)
                                same0 = opaque(-np.int64(n0 == k))
                                a0 = pick(same0, np.int64(sg[U(gs + n0)]), u0)
                                b0 = pick(same0, np.int64(ss[U(n0)]), v0)
                                q0 = prob(a0, b0)
                            else:
                                # Both possible next significance contexts (this element 0 / 1)
                                # and their counters as they will be after this decision's update,
                                # then their probabilities: the serial chain is bit -> select -> bit.
                                u0, v0, u1, v1, a0, b0, a1, b1 = next_counters(
                                    cv, sv, k, n0, n1, np.int64(sg[U(gs + n0)]), np.int64(ss[U(n0)]),
                                    np.int64(sg[U(gs + n1)]), np.int64(ss[U(n1)]))
                                q0 = prob(a0, b0)
                                q1 = prob(a1, b1)
                            s, state = decode_bit(state, q)
                            if state < np.uint64(LOW) and pos > 0:
                                pos -= 1
                                state = (state << np.uint64(32)) | np.uint64(words[U(pos)])
                            s = np.int64(s)
                            m = opaque(-s)
                            v = s
                            if not mag:
                                sg[U(gs + k)] = pick(m, u0, u1)
                                ss[U(k)] = pick(m, v0, v1)
                            elif s == 0:
                                sg[U(gs + k)] = u0
                                ss[U(k)] = v0
                                k = n0
                                cv = a0
                                sv = b0
                                q = q0
                            else:
                                sg[U(gs + k)] = bumped(cv, 1)
                                ss[U(k)] = bumped(sv, 1)
                                k = n1
                                cv = np.int64(sg[U(gs + n1)])
                                sv = np.int64(ss[U(n1)])
                                q = prob(cv, sv)
                                if count:
                                    if in_x:
                                        xf[U(fe)] += 1
                                    else:
                                        fired[U(fi + w)] += 1
                                kl = hl[U(j0 + w)] + L_VL * vl + L_VU * np.int64(win[U(i0 - rw + w)])
                                # Both levels' probabilities at once: the second's is ready when
                                # the first decision is decoded.
                                ql2 = prob(lg[U(gl + kl + LEVEL2)], ls[U(kl + LEVEL2)])
                                lv, state = decode_bit(state, prob(lg[U(gl + kl)], ls[U(kl)]))
                                if state < np.uint64(LOW) and pos > 0:
                                    pos -= 1
                                    state = (state << np.uint64(32)) | np.uint64(words[U(pos)])
                                lv = np.int64(lv)
                                lg[U(gl + kl)] = bumped(lg[U(gl + kl)], lv)
                                ls[U(kl)] = bumped(ls[U(kl)], lv)
                                v += lv
                                if lv:
                                    lv, state = decode_bit(state, ql2)
                                    if state < np.uint64(LOW) and pos > 0:
                                        pos -= 1
                                        state = (state << np.uint64(32)) | np.uint64(words[U(pos)])
                                    lv = np.int64(lv)
                                    lg[U(gl + kl + LEVEL2)] = bumped(lg[U(gl + kl + LEVEL2)], lv)
                                    ls[U(kl + LEVEL2)] = bumped(ls[U(kl + LEVEL2)], lv)
                                    v += lv
                                if esc and v == 3:  # escape e = x - 3, MSB first
                                    node = 1
                                    for d in range(bits):
                                        b, state = decode_bit(state, prob(eg[U(ge + node)], es[U(node)]))
                                        if state < np.uint64(LOW) and pos > 0:
                                            pos -= 1
                                            state = (state << np.uint64(32)) | np.uint64(words[U(pos)])
                                        b = np.int64(b)
                                        eg[U(ge + node)] = bumped(eg[U(ge + node)], b)
                                        es[U(node)] = bumped(es[U(node)], b)
                                        node = 2 * node + b
                                    v = 3 + node - (1 << bits)
                                    if v > top:
                                        return state, pos, 2
                            xf[U(e)] = v
                            vl = min(v, 3)
                            win[U(i0 + w)] = vl
                            if count and not mag:
                                if in_x:
                                    xf[U(fe)] += s
                                else:
                                    fired[U(fi + w)] += s
                            e += sW
                            fe += sW
                            if not mag:
                                k = pick(m, n0, n1)
                                cv = pick(m, a0, a1)
                                sv = pick(m, b0, b1)
                                q = pick(m, q0, q1)
    return state, pos, 0


@njit(cache=True, nogil=True)
def decode_into(words, xf, shape, strides, bits):
    """:func:`decode_tiled` with the default tile and ring budgets."""
    return decode_tiled(words, xf, shape, strides, bits, TILE, RING_BYTES)


@njit(cache=True, nogil=True)
def decode_into_with(words, xf, shape, strides, bits, sg, ss, lg, ls, eg, es):
    """:func:`decode_into` from the counter tables given (a prior's copy), which it updates."""
    return decode_tiled_with(words, xf, shape, strides, bits, TILE, RING_BYTES, sg, ss, lg, ls, eg, es)


@njit(cache=True, nogil=True)
def decode_tiled(words, xf, shape, strides, bits, budget, ring_bytes):
    """:func:`decode_tiled_with` from zero counters."""
    sg, ss, lg, ls, eg, es = _new_counters(shape[2], bits)
    return decode_tiled_with(words, xf, shape, strides, bits, budget, ring_bytes, sg, ss, lg, ls, eg, es)


@njit(cache=True, nogil=True)
def decode_tiled_with(words, xf, shape, strides, bits, budget, ring_bytes, sg, ss, lg, ls, eg, es):
    """Decode a (T, N, C, H, W) array ``shape`` into the flat uint8 buffer ``xf``: element
    (t, n, c, h, w) is ``xf[t * sT + n * sN + c * sC + h * sH + w * sW]`` with ``strides`` =
    (sT, sN, sC, sH, sW), non-negative (the caller's output in place, whatever its axis order).
    Returns the status: 0 ok, 1 malformed stream (zero last word, or words or state left at the
    end), 2 a value >= 2**bits decoded. Memory beyond ``xf``: the ring window if it fits in
    ``ring_bytes`` (:func:`ring_fits`), else the window and context rows of one tile of at most
    ``budget`` padded elements, and with C > 256 a count per plane position.

    Per element, all of the significance context but the ``left`` term is ready before its left
    neighbour is decoded; the loop computes the next element's probability for both values of
    that term ahead, so the serial chain is only the rANS step and a select. Multi-bit chunks
    prepare only the value for a zero (see :func:`_decode_all`): fewer instructions per element
    (decoding about 1.2x as fast on the benchmark's 2- and 4-bit counts), the same bytes."""
    T, N, C, H, W = shape
    state, pos = start(words)
    if pos < 0:
        return 1
    TR, TL = tile_shape(H, W, budget)
    P = (TR + 2) * (TL + 2)
    ringed = ring_fits(shape, budget, ring_bytes)
    win = np.zeros(ring_size(shape) if ringed else SLOTS * P, np.uint8)
    pk = np.zeros(TR * (TL + 2), np.int64)
    hl = np.zeros(TR * (TL + 2), np.int64)
    fired = np.zeros(P if ringed else H * W if C > 256 else 0, np.int32)  # see _decode_all
    if bits == 1:
        state, pos, status = _decode_all(words, state, pos, xf, shape, strides, win, ringed, pk, hl, fired, sg, ss, lg, ls, eg, es, bits, TR, TL, False, False)
    elif bits == 2:
        state, pos, status = _decode_all(words, state, pos, xf, shape, strides, win, ringed, pk, hl, fired, sg, ss, lg, ls, eg, es, bits, TR, TL, True, False)
    else:
        state, pos, status = _decode_all(words, state, pos, xf, shape, strides, win, ringed, pk, hl, fired, sg, ss, lg, ls, eg, es, bits, TR, TL, True, True)
    if status:
        return status
    if pos != 0 or state != 0:
        return 1
    return 0
