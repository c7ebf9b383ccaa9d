"""Compiled (numba) loops of the ``order0`` and ``context`` codecs: adaptive model + rANS coder.

Imported lazily by the codecs (numba compiles on first use), never by ``import spikecodec``.
The normative description is FORMAT.md section 9.4; this module is its reference
implementation. All model arithmetic is integer, so encoder and decoder (on any machine) compute
the same probability for every binary decision.

Model (per chunk, state reset at the start of every chunk). Every element ``x`` of the canonical
(T, N, C, H, W) view, in C order, is coded as binary decisions:

* the significance bit ``s = x > 0`` with context ``k`` (:func:`_sig_ctx`; always 0 for
  ``order0``) and channel group ``g = c mod G`` (``G = min(C, 256)``);
* for ``bits > 1`` and ``s = 1``: the ``bits`` bits of ``m = x - 1``, MSB first, each with
  context ``b * 2**bits + node`` where ``node`` is the binary-tree node (1, then
  ``2 * node + bit``) and ``b`` the bucket of :func:`_mag_ctx` (the neuron's two previous values
  and its left and upper neighbours' values; always 0 for ``order0``), per channel group
  ``c mod mag_groups(C, bits)``.

P(bit = 1) = ``q / 2**24`` with ``q`` from two adaptive integer counters per decision, a shared
one ``(g1, gn)`` per context and a per-channel-group one ``(c1, cn)`` (see :func:`_prob`).

The coder is constriction's ``AnsCoder<u32, u64>`` at precision 24, step for step (the test
suite checks byte equality with constriction on the same symbols and weights):

    encode (decisions taken in reverse order), bit with weight w and left cumulative c
    (bit 0: w = 2**24 - q, c = 0; bit 1: w = q, c = 2**24 - q):
        if state >> 40 >= w: emit the low 32 bits of state as a word; state >>= 32
        state = ((state // w) << 24) | (state % w + c)
    finish: append the low word of state, then the high word if non-zero (nothing if state = 0)

    decode: state = last word (must be non-zero), then (state << 32) | the word before it
        if that is still < 2**32; per decision: z = state & (2**24 - 1); bit = z >= 2**24 - q;
        state = (state >> 24) * w + (z - c); if state < 2**32 and words remain:
        state = (state << 32) | next word (words are read from the end towards the start).
    A well-formed stream ends with every word read and state = 0.
"""

from __future__ import annotations

import numpy as np

from .._kernel_cache import use_writable_cache

use_writable_cache()  # before numba is imported: a read-only install still compiles

from llvmlite import ir  # noqa: E402
from numba import njit, types
from numba.extending import intrinsic

PREC = 24
ONE = 1 << PREC
MASK = ONE - 1
LOW = 1 << 32
PRIOR = 4  # weight of the shared estimate in the channel estimate, in counts
LIMIT = 1024  # counters are halved when their total reaches this
MAX_GROUPS = 256
NSIG = 1024  # significance contexts of ``context``
N1 = 1 << 16  # a counter pair is one uint32: c1 (ones) in the low half, cn (total) in the high

# Exact integer division by reciprocals, fused. _prob computes qg = floor(A / (2 gn + 2)) with
# A = (2 g1 + 1) 2**24 and q = floor((c1 2**24 + 4 qg) / (cn + 4)), both true quotients below
# 2**24, as qg = floor(fma(2 g1 + 1, KT, BIAS)) and q = trunc(fma(qg, I4, fma(c1, OI, BIAS))) with
# the rounded reciprocals KT = 2**24 / (2 gn + 2), I4 = 4 / (cn + 4), OI = 2**24 / (cn + 4)
# (relative error <= 2**-53 each). Every rounding then moves a quotient by at most 2**-29, so the
# computed value is the true quotient + BIAS within 2**-27. A true quotient with divisor d <= 2048
# is an integer or has its fractional part in [1/d, 1 - 1/d] (>= 2**-11 from an integer), so with
# BIAS = 2**-12 the floor / truncation is exactly the integer quotient of FORMAT.md 9.4.2; the
# test suite checks every (g1, gn) pair against integer division. The clamp q in [1, 2**24 - 1]
# of the format never acts: qg >= 2**24 / 2048, so q >= 4 * 8192 / 1027 > 31, and q < 2**24
# since c1 <= cn and qg < 2**24. Integer division is slow and sits on the decoder's serial chain;
# this is a table load, two fused multiply-adds, a rounding and a conversion.
KT_SCALE = float(ONE) / (2.0 * np.arange(LIMIT, dtype=np.float64) + 2.0)  # 2**24 / (2 gn + 2)
INV_PRIOR = PRIOR / (np.arange(LIMIT, dtype=np.float64) + PRIOR)  # 4 / (cn + 4)
INV_ONE = float(ONE) / (np.arange(LIMIT, dtype=np.float64) + PRIOR)  # 2**24 / (cn + 4)
BIAS = 2.0**-12
U16 = np.uint64(16)
U = np.uint64  # unsigned array indices: numba then skips its negative-index handling


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c rounded once (llvm.fma: one instruction where the CPU has FMA)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return sig, codegen


@intrinsic
def _opaque(typingctx, x):
    """``x`` unchanged, but hidden from the optimiser (an empty asm statement). Used on the
    decoder's bit mask so that LLVM keeps the branch-free selects as written: otherwise it turns
    them into branches on the decoded bit (mispredicted) or moves work shared by both candidates
    after the select, back onto the serial chain."""
    sig = types.int64(types.int64)

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(64), [ir.IntType(64)])
        return builder.asm(fnty, "", "=r,0", list(args), side_effect=False)

    return sig, codegen


@njit(inline="always", cache=True)
def _blend(cv, sv, inv_prior, inv_one):
    """q = P(1) * 2**24 of one decision from its packed channel-group counts ``cv`` = (c1, cn)
    and shared counts ``sv`` = (g1, gn), with the prior's reciprocal tables ``inv_prior`` =
    PRIOR / (cn + PRIOR) and ``inv_one`` = 2**24 / (cn + PRIOR) (exact, see above; the argument
    holds for any PRIOR that keeps cn + PRIOR <= 2048)."""
    cv = np.uint64(cv)
    sv = np.uint64(sv)
    qg = np.floor(_fma(np.float64(2 * (sv & np.uint64(0xFFFF)) + np.uint64(1)), KT_SCALE[sv >> U16], BIAS))
    cn = cv >> U16
    return np.int64(_fma(qg, inv_prior[cn], _fma(np.float64(cv & np.uint64(0xFFFF)), inv_one[cn], BIAS)))


@njit(inline="always", cache=True)
def _prob(cv, sv):
    """q of FORMAT.md 9.4.2 (PRIOR = 4) from packed counters: :func:`_blend`."""
    return _blend(cv, sv, INV_PRIOR, INV_ONE)


@njit(inline="always", cache=True)
def _bumped(v, bit):
    """Packed counter pair ``v`` after counting decision ``bit``; both halves halved at LIMIT.
    Loops write ``tab[i] = _bumped(tab[i], bit)`` out: a helper that takes the array, even
    inlined, can leave numba's reference-count calls (atomic, through a call) in the loop."""
    v = np.int64(v) + N1 + bit
    if v >= LIMIT * N1:
        v = ((((v >> 16) + 1) >> 1) << 16) | (((v & 0xFFFF) + 1) >> 1)
    return v


@njit(inline="always", cache=True)
def _pick(m, a, b):
    """``a`` if mask ``m`` is 0, ``b`` if it is -1 (all ones), without a branch."""
    return a ^ ((a ^ b) & m)


@njit(inline="always", cache=True)
def _next_counters(cv, sv, k, n0, n1, g0, s0, g1, s1):
    """For a decoder that prepares the next decision before this one is decoded: the packed
    counters (``cv``, ``sv``) of this decision's context ``k`` after its update, (u0, v0) if
    its bit is 0 and (u1, v1) if 1, and those of the next decision's context for either bit,
    ``n0`` or ``n1``: the table values (g0, s0) / (g1, s1) loaded before this update, or the
    updated ones where that context is ``k`` itself. Returns (u0, v0, u1, v1, a0, b0, a1, b1).
    Callers pass loaded values, not the tables (see :func:`_bumped`)."""
    u0 = _bumped(cv, 0)
    v0 = _bumped(sv, 0)
    u1 = _bumped(cv, 1)
    v1 = _bumped(sv, 1)
    same0 = _opaque(-np.int64(n0 == k))
    same1 = _opaque(-np.int64(n1 == k))
    return u0, v0, u1, v1, _pick(same0, g0, u0), _pick(same0, s0, v0), _pick(same1, g1, u1), _pick(same1, s1, v1)


@njit(cache=True, nogil=True)
def mag_groups(C, bits):
    """Channel groups of the magnitude counters: min(C, 256, 2**(14 - bits)), at least 1
    (so the group table has at most 2**22 entries even for 8-bit elements)."""
    return max(1, min(C, MAX_GROUPS, 1 << max(14 - bits, 0)))


@njit(cache=True, nogil=True)
def counter_dims(C, bits, contextual):
    """(G, GM, ks, km): channel groups of the significance and magnitude tables, and their
    contexts (FORMAT.md 9.4.2)."""
    G = max(min(C, MAX_GROUPS), 1)
    ks = NSIG if contextual else 1
    km = (256 << bits) if (bits > 1 and contextual) else ((1 << bits) if bits > 1 else 1)
    return G, mag_groups(C, bits), ks, km


@njit(cache=True, nogil=True)
def _new_counters(C, bits, contextual):
    """Fresh (all-zero) counter tables of one chunk, as encoder and decoder both start
    (FORMAT.md 9.4.2), each a flat uint32 array of packed (ones, total) pairs: significance group
    table (index g * ks + k) and shared table (k), magnitude group table (gm * km + kk) and
    shared table (kk). Returns (G, GM, ks, km, sig_group, sig_shared, mag_group, mag_shared).
    A prior (FORMAT.md 14) replaces these zeros with its tables, laid out the same way."""
    G, GM, ks, km = counter_dims(C, bits, contextual)
    return (G, GM, ks, km, np.zeros(G * ks, np.uint32), np.zeros(ks, np.uint32),
            np.zeros(GM * km, np.uint32), np.zeros(km, np.uint32))


@njit(inline="always", cache=True)
def _plane_ctx(sp, hist, p0, t, c, H, W, st, rw, cs, ho):
    """The part of the significance contexts (FORMAT.md 9.4.5) of one H x W plane that comes from
    earlier planes, ``64 hs + 4 nb + pc``: ``hist[ho + j]`` for the element at padded index ``p0 + j``.

    ``sp`` is the flat significance array of shape (T, N, C, H + 2, W + 2): the chunk padded by
    one zero row/column on each side of H and W; ``p0`` is the flat index of the plane's first
    element in it, ``st`` the T stride, ``rw`` the row stride (W + 2), ``cs`` the channel stride.
    One loop over the plane's rows as stored, padding columns included (computed, never used),
    so that it vectorises even for narrow planes; terms that do not exist (t < 3, c = 0) read
    some in-range byte and weigh it 0. Unsigned indices: no negative-index handling."""
    hs0 = (1 << min(t, 3)) - 1
    m1 = 1 if t >= 1 else 0
    m2 = 2 if t >= 2 else 0
    m3 = 4 if t >= 3 else 0
    nbm = 4 if t >= 1 else 0
    o1 = st if t >= 1 else 0
    o2 = 2 * st if t >= 2 else o1
    o3 = 3 * st if t >= 3 else o2
    pcm = 1 if c > 0 else 0
    oc = cs if c > 0 else 0
    for j in range(H * rw - 2):
        u = U(p0 + j)
        b = u - U(o1)
        hs = hs0 + m1 * np.int64(sp[b]) + m2 * np.int64(sp[u - U(o2)]) + m3 * np.int64(sp[u - U(o3)])
        cnt = (np.int64(sp[b - U(rw + 1)]) + sp[b - U(rw)] + sp[b - U(rw - 1)] + sp[b - U(1)]
               + sp[b + U(1)] + sp[b + U(rw - 1)] + sp[b + U(rw)] + sp[b + U(rw + 1)])
        hist[U(ho + j)] = 64 * hs + nbm * ((cnt > 0) + (cnt > 2) + (cnt > 5)) + pcm * np.int64(sp[u - U(oc)])


@njit(cache=True, nogil=True)
def window_planes(T, C, contextual):
    """Padded planes in the decoder's context window (:func:`_load_window`): the plane being
    decoded, those of t - 1 .. t - 3 that exist and, with several channels, the previous one."""
    if not contextual:
        return 1
    return 1 + min(T - 1, 3) + (1 if C > 1 else 0)


@njit(cache=True, nogil=True)
def _load_window(xf, sp, e0, t, c, H, W, xs, sH, sW, top):
    """Fill the decoder's context window ``sp`` for the plane whose first element is ``xf[e0]``.

    The window holds ``top + 1`` padded (H + 2) x (W + 2) planes laid out so that the strides of
    :func:`_plane_ctx` are ``st`` = one plane and ``cs`` = ``top`` planes: slot ``top`` is the plane
    being decoded (written as it goes), ``top - k`` the same neuron plane at t - k (k <= 3, copied
    from the decoded values as significance bits), slot 0 the previous channel's plane at t (the
    plane just decoded, copied from slot ``top``). Padding entries are never written, so stay 0.
    This keeps the decoder's working memory at a few planes instead of a padded copy of the chunk."""
    rw = W + 2
    P = (H + 2) * rw
    if c > 0:
        cur = U(top * P)
        for j in range(P):
            sp[U(j)] = sp[cur + U(j)]
    for k in range(1, min(t, 3) + 1):
        src = U(e0 - k * xs)
        dst = U((top - k) * P + rw + 1)
        for h in range(H):
            for w in range(W):
                sp[dst + U(h * rw + w)] = xf[src + U(h * sH + w * sW)] != 0


TILE = 1 << 16  # padded elements of one decoder tile: bounds the decoder's working memory


@njit(cache=True, nogil=True)
def tile_shape(H, W, budget):
    """(rows, columns) of the tiles the decoder splits each H x W plane into, so that a padded
    tile, (rows + 2) x (columns + 2), holds at most ``budget`` (>= 9) elements: the whole plane
    if it fits (every real tensor; the window then keeps its zero padding and nothing else
    changes), else blocks of whole rows, else pieces of one row. A tile's context tables and
    window slots scale with the tile, not the plane, so a file declaring one huge plane or one
    huge row costs its output plus a constant."""
    if (H + 2) * (W + 2) <= budget:
        return H, W
    if 3 * (W + 2) <= budget:
        return budget // (W + 2) - 2, W
    return 1, budget // 3 - 2


@njit(cache=True, nogil=True)
def _load_tile(xf, sp, e0, t, c, H, W, xs, cstride, sH, sW, top, h0, R, w0, L, rw, P):
    """:func:`_load_window` for a tile of ``R`` rows from ``h0`` and ``L`` columns from ``w0``
    of the plane whose first element is ``xf[e0]`` (slots of ``P`` elements, row stride ``rw``;
    ``xs``, ``cstride``, ``sH``, ``sW``: the output's T, C, H and W strides).
    Unlike a whole plane, a tile's ring (the rows and columns around it) holds neighbours or,
    at the plane's edge, zeros, so it is written every time: slots ``top - k`` (t - k) and 0
    (previous channel, from the output) in full, the current slot's row above the tile."""
    for k in range(0, min(t, 3) + 1):
        if k == 0:
            if c == 0:
                continue
            src = e0 - cstride  # channel c - 1, same t and n
            dst = 0
        else:
            src = e0 - k * xs
            dst = (top - k) * P
        for r in range(-1, R + 1):
            h = h0 + r
            for q in range(-1, L + 1):
                v = np.uint8(0)
                if 0 <= h < H and 0 <= w0 + q < W:
                    v = np.uint8(xf[U(src + h * sH + (w0 + q) * sW)] != 0)
                sp[U(dst + (r + 1) * rw + q + 1)] = v
    dst = top * P
    h = h0 - 1
    for q in range(-1, L + 1):
        v = np.uint8(0)
        if h >= 0 and 0 <= w0 + q < W:
            v = np.uint8(xf[U(e0 + h * sH + (w0 + q) * sW)] != 0)
        sp[U(dst + q + 1)] = v


@njit(inline="always", cache=True)
def _row_ctx(sp, hist, rk, i0, h0, W, rw, r0):
    """Significance contexts ``rk[r0 + w]`` of one row of W elements (padded index ``i0``,
    ``hist`` offset ``h0``), all but the ``left`` term (16 left), which the sequential loop adds
    as it goes: ``hist`` plus the previous row's ``32 up + 2 diag``."""
    up = U(i0 - rw)
    for w in range(W):
        j = up + U(w)
        rk[U(r0 + w)] = hist[U(h0 + w)] + 32 * np.int64(sp[j]) + 2 * np.int64(sp[j - U(1)] | sp[j + U(1)])


@njit(cache=True, nogil=True)
def _finish(words, m, state):
    if state != 0:
        words[m] = np.uint32(state & 0xFFFFFFFF)
        m += 1
        if state >> np.uint64(32):
            words[m] = np.uint32(state >> np.uint64(32))
            m += 1
    return words[:m]


@njit(cache=True, nogil=True)
def _rans_encode(bits, src, counted, inv_prior, inv_one):
    """rANS-encode binary decisions ``bits`` in reverse order; returns uint32 words. ``src[i]`` is
    the decision's q (P(1) = q / 2**24), or with ``counted`` its packed counters
    ``cv | sv << 32`` (see :func:`_model_pass`), turned into q here by :func:`_blend` with the
    prior's tables ``inv_prior``, ``inv_one``: this loop waits on its division's latency, which
    leaves room for the probability arithmetic."""
    words = np.empty(bits.size + 2, np.uint32)
    m, state = _rans_steps(bits, src, counted, inv_prior, inv_one, words, 0, np.uint64(0))
    return _finish(words, m, state)


@njit(inline="always", cache=True)
def _rans_steps(bits, src, counted, inv_prior, inv_one, words, m, state):
    """The loop of :func:`_rans_encode` from coder state ``state`` with ``m`` words emitted so
    far; returns (m, state): the decisions before ``bits`` can continue the same stream."""
    for i in range(bits.size - 1, -1, -1):
        v = np.uint64(src[U(i)])
        one = np.uint64(_blend(v & np.uint64(0xFFFFFFFF), v >> np.uint64(32), inv_prior, inv_one)) if counted else v
        zero = np.uint64(ONE) - one
        msk = np.uint64(0) - np.uint64(bits[U(i)])  # all ones for a 1 (branch-free select)
        wt = zero ^ ((zero ^ one) & msk)
        cum = zero & msk
        if (state >> np.uint64(64 - PREC)) >= wt:
            words[U(m)] = np.uint32(state & np.uint64(0xFFFFFFFF))
            m += 1
            state >>= np.uint64(32)
        state = ((state // wt) << np.uint64(PREC)) | (state % wt + cum)
    return m, state


@njit(cache=True, nogil=True)
def encode_decisions(bits, q):
    """rANS-encode binary decisions ``bits`` with P(1) = ``q[i] / 2**24``; returns uint32 words."""
    return _rans_encode(bits, q, False, INV_PRIOR, INV_ONE)


@njit(cache=True, nogil=True)
def encode(x, bits, contextual):
    """The rANS words of the (T, N, C, H, W) array ``x`` (the codecs' encoder)."""
    _, _, _, _, sg, ss, mg, ms = _new_counters(x.shape[2], bits, contextual)
    return encode_with(x, bits, contextual, sg, ss, mg, ms)


# The encoder's memory: its model pass keeps 9 bytes per decision (bit, packed counters) for the
# reverse rANS pass, plus the padded significance planes. A chunk that would need more than
# SINGLE_BYTES is modelled in pieces of about PIECE_BYTES, each twice: forward once for the
# counter tables at every piece's start, then piece by piece from the last, each piece's
# decisions rANS-coded as soon as they are modelled. Same decisions, same bytes. Pieces are runs
# of planes (t, n, c) in coding order: whole timesteps, or where one timestep alone is over the
# budget, runs of whole neurons of it, or where one neuron is, runs of its channels (a context
# reads the same neuron only: its planes at t - 1 .. t - 3 and its previous channel at t), so
# only a chunk of one huge plane is still modelled at once.
SINGLE_BYTES = 1 << 25
PIECE_BYTES = 1 << 23
SNAPSHOT_BYTES = 1 << 24  # at most this much of counter-table copies (one per piece)


@njit(cache=True, nogil=True)
def encode_with(x, bits, contextual, sg, ss, mg, ms):
    """:func:`encode` from the counter tables given (a prior's copy), which it updates: after
    it they are the model's state at the end of ``x`` (what training a prior keeps)."""
    bounds = _pieces(x, bits, 4 * (sg.size + ss.size + mg.size + ms.size))
    if bounds.size == 2:
        d, counters, _ = _model_pass(x, bits, contextual, False, sg, ss, mg, ms, 0)
        return _rans_encode(d, counters, True, INV_PRIOR, INV_ONE)
    return _encode_pieces(x, bits, contextual, sg, ss, mg, ms, bounds)


@njit(cache=True, nogil=True)
def _plane_bytes(xf, q, P, pp, mb):
    """What :func:`_model_pass` keeps for plane ``q`` (``P`` elements, ``pp`` padded): its
    padded plane, and per decision its bit and counters (9 bytes) and per nonzero element its
    place (16 bytes, multi-bit only)."""
    nz = 0
    if mb:
        for e in range(q * P, (q + 1) * P):
            nz += xf[U(e)] != 0
    return pp + 9 * (P + mb * nz) + 16 * nz


@njit(cache=True, nogil=True)
def _pieces(x, bits, table_bytes):
    """Plane bounds ``[0, q1, ..., T N C]`` of the pieces :func:`encode_with` models at once
    (:func:`_pieces_within` at this module's budgets)."""
    return _pieces_within(x, bits, table_bytes, SINGLE_BYTES, PIECE_BYTES, SNAPSHOT_BYTES)


@njit(cache=True, nogil=True)
def _pieces_within(x, bits, table_bytes, single, piece, snapshot):
    """Plane bounds of the pieces of ``x`` (see :func:`_encode_pieces`): ``[0, T N C]`` (one
    piece) when the whole chunk fits ``single`` bytes, else pieces of about ``piece`` bytes,
    more where the copies of the counter tables would exceed ``snapshot``."""
    T, N, C, H, W = x.shape
    xf = x.ravel()
    P = H * W
    pp = (H + 2) * (W + 2)
    mb = bits if bits > 1 else 0
    planes = T * N * C
    total = 0
    for q in range(planes):
        total += _plane_bytes(xf, q, P, pp, mb)
    if total <= single or planes < 2:
        return np.array([0, planes], np.int64)
    budget = max(piece, total // max(snapshot // max(table_bytes, 1), 1) + 1)
    bounds = np.empty(_cut(xf, T, N, C, P, pp, mb, budget, np.empty(0, np.int64)), np.int64)
    _cut(xf, T, N, C, P, pp, mb, budget, bounds)
    return bounds


@njit(cache=True, nogil=True)
def _bound(bounds, nb, q):
    """Append bound ``q`` (where ``bounds`` has room); returns the new count."""
    if bounds.size:
        bounds[nb] = q
    return nb + 1


@njit(cache=True, nogil=True)
def _cut(xf, T, N, C, P, pp, mb, budget, bounds):
    """Greedy pieces of at most ``budget`` bytes (or one plane): runs of whole timesteps; a
    timestep over the budget alone, runs of its whole neurons; a neuron over it, runs of its
    channels. Returns the number of bounds and, where ``bounds`` has room, writes them."""
    NC = N * C
    ctx = 3 * NC * pp  # a run of timesteps is preceded by three of context
    part = 3 * pp + 4 * P  # per plane of a part of a timestep: context planes, its copy (4 t)
    edge = 4 * (P + pp)  # a run of channels also copies the channel before it, as context
    nb = 1
    start = 0
    used = ctx
    for t in range(T):
        q0 = t * NC
        cost = 0
        for q in range(q0, q0 + NC):
            cost += _plane_bytes(xf, q, P, pp, mb)
        if ctx + cost <= budget or NC == 1:  # whole timesteps
            if used + cost > budget and q0 > start:
                nb = _bound(bounds, nb, q0)
                start = q0
                used = ctx
            used += cost
            continue
        if q0 > start:
            nb = _bound(bounds, nb, q0)
            start = q0
        used = 0
        for n in range(N):
            a0 = q0 + n * C
            ncost = 0
            for q in range(a0, a0 + C):
                ncost += _plane_bytes(xf, q, P, pp, mb) + part
            if ncost <= budget or C == 1:  # runs of whole neurons
                if used + ncost > budget and a0 > start:
                    nb = _bound(bounds, nb, a0)
                    start = a0
                    used = 0
                used += ncost
                continue
            if a0 > start:
                nb = _bound(bounds, nb, a0)
                start = a0
            used = edge
            for q in range(a0, a0 + C):  # runs of channels of neuron n
                cost = _plane_bytes(xf, q, P, pp, mb) + part
                if used + cost > budget and q > start:
                    nb = _bound(bounds, nb, q)
                    start = q
                    used = edge
                used += cost
            nb = _bound(bounds, nb, a0 + C)
            start = a0 + C
            used = 0
        if q0 + NC > start:
            nb = _bound(bounds, nb, q0 + NC)
            start = q0 + NC
        used = ctx
    if T * NC > start:
        nb = _bound(bounds, nb, T * NC)
    if bounds.size:
        bounds[0] = 0
    return nb


@njit(cache=True, nogil=True)
def _tables_to(dst, sg, ss, mg, ms):
    """Copy the four counter tables, end to end, into ``dst`` (a snapshot)."""
    a = sg.size
    b = a + ss.size
    c = b + mg.size
    dst[:a] = sg
    dst[a:b] = ss
    dst[b:c] = mg
    dst[c:] = ms


@njit(cache=True, nogil=True)
def _tables_from(src, sg, ss, mg, ms):
    """Inverse of :func:`_tables_to`: set the four counter tables from a snapshot."""
    a = sg.size
    b = a + ss.size
    c = b + mg.size
    sg[:] = src[:a]
    ss[:] = src[a:b]
    mg[:] = src[b:c]
    ms[:] = src[c:]


@njit(cache=True, nogil=True)
def _piece_span(T, N, C, b0, b1):
    """The sub-array :func:`_piece_pass` models piece ``[b0, b1)`` (planes) in:
    ``(a, t1, n0, n1, c0, c1, skip, cskip)``, the array ``x[a:t1, n0:n1, c0:c1]`` whose first
    ``skip`` timesteps and then ``cskip`` planes are context only. Raises ValueError for a
    piece that is neither whole timesteps, nor whole neurons of one timestep, nor channels of
    one neuron."""
    NC = N * C
    if not 0 <= b0 < b1 <= T * NC:
        raise ValueError("piece bounds out of order")
    t = b0 // NC
    a = max(t - 3, 0)
    if b0 % NC == 0 and b1 % NC == 0:
        return a, b1 // NC, 0, N, 0, C, t - a, 0
    r0 = b0 - t * NC
    r1 = b1 - t * NC
    if r1 > NC:
        raise ValueError("a piece that is part of a timestep must end in it")
    n0 = r0 // C
    n1 = (r1 + C - 1) // C
    c0 = r0 - n0 * C
    c1 = r1 - (n1 - 1) * C
    if n1 - n0 > 1 and (c0 != 0 or c1 != C):
        raise ValueError("a piece of several neurons must hold them whole")
    cc = c0 - 1 if c0 > 0 else 0  # channel c0 - 1: context of c0's significance
    return a, t + 1, n0, n1, cc, c1, t - a, c0 - cc


@njit(cache=True, nogil=True)
def _piece_pass(x, bits, contextual, sg, ss, mg, ms, b0, b1):
    """:func:`_model_pass` of piece ``[b0, b1)`` (planes) of ``x``, a C-ordered array: a view
    of it for whole timesteps, else a copy of the piece's neurons / channels with their context.
    Its decisions and counter updates are exactly those of a pass over the whole chunk."""
    T, N, C, H, W = x.shape
    a, t1, n0, n1, c0, c1, skip, cskip = _piece_span(T, N, C, b0, b1)
    xf = x.ravel()
    xs = N * C * H * W
    if n0 == 0 and n1 == N and c0 == 0 and c1 == C:
        sub = xf[a * xs: t1 * xs].reshape((t1 - a, N, C, H, W))
    else:  # whole neurons or one neuron's channels: one block of x per timestep
        block = (n1 - n0) * (c1 - c0) * H * W
        sf = np.empty((t1 - a) * block, np.uint8)
        for t in range(t1 - a):
            src = (a + t) * xs + (n0 * C + c0) * H * W
            sf[t * block: (t + 1) * block] = xf[src: src + block]
        sub = sf.reshape((t1 - a, n1 - n0, c1 - c0, H, W))
    return _model_span(sub, bits, contextual, False, sg, ss, mg, ms, skip, cskip, c0, C)


@njit(cache=True, nogil=True)
def _encode_pieces(x, bits, contextual, sg, ss, mg, ms, bounds):
    """:func:`encode_with` in the pieces ``bounds``, plane indices ``t N C + n C + c`` from 0 to
    ``T N C`` (:func:`_piece_span`): each piece is modelled with the planes its contexts read
    before it as context only, which gives its decisions exactly as a pass over the whole
    chunk would."""
    T, N, C, H, W = x.shape
    xf = x.ravel()  # x itself where it is C-ordered (what the codecs pass), else a copy
    xc = xf.reshape((T, N, C, H, W))
    npieces = bounds.size - 1
    if npieces < 1 or bounds[0] != 0 or bounds[npieces] != T * N * C:
        raise ValueError("piece bounds must run from 0 to the chunk's planes")
    for p in range(npieces):
        _piece_span(T, N, C, bounds[p], bounds[p + 1])  # all checked before any is modelled
    snaps = np.empty((npieces + 1, sg.size + ss.size + mg.size + ms.size), np.uint32)
    decisions = xf.size
    if bits > 1:
        for v in xf:
            decisions += bits * (v != 0)
    for p in range(npieces):  # forward: the tables at each piece's start
        _tables_to(snaps[p], sg, ss, mg, ms)
        if p < npieces - 1:
            _piece_pass(xc, bits, contextual, sg, ss, mg, ms, bounds[p], bounds[p + 1])
    words = np.empty(decisions + 2, np.uint32)
    m = 0
    state = np.uint64(0)
    for p in range(npieces - 1, -1, -1):  # backward: model a piece again, code it in reverse
        _tables_from(snaps[p], sg, ss, mg, ms)
        d, counters, _ = _piece_pass(xc, bits, contextual, sg, ss, mg, ms, bounds[p], bounds[p + 1])
        if p == npieces - 1:
            _tables_to(snaps[npieces], sg, ss, mg, ms)  # the state at the chunk's end
        m, state = _rans_steps(d, counters, True, INV_PRIOR, INV_ONE, words, m, state)
    _tables_from(snaps[npieces], sg, ss, mg, ms)
    return _finish(words, m, state)


@njit(cache=True, nogil=True)
def model_decisions(x, bits, contextual, with_ctx):
    """Every binary decision of the (T, N, C, H, W) array ``x``, its probability ``q`` and (only
    ``with_ctx``) its full context id, in coding order (diagnostics and tests; :func:`encode`
    computes q inside its coder loop). Returns (bits uint8, q uint32, context id int32)."""
    _, _, _, _, sg, ss, mg, ms = _new_counters(x.shape[2], bits, contextual)
    d, counters, ctx = _model_pass(x, bits, contextual, with_ctx, sg, ss, mg, ms, 0)
    q = np.empty(d.size, np.uint32)
    for i in range(d.size):
        v = np.uint64(counters[i])
        q[i] = _prob(v & np.uint64(0xFFFFFFFF), v >> np.uint64(32))
    return d, q, ctx


@njit(cache=True, nogil=True)
def _model_pass(x, bits, contextual, with_ctx, sg, ss, mg, ms, skip):
    """The encoder's forward pass: every binary decision of the (T, N, C, H, W) array ``x``, the
    packed counters its probability comes from, ``cv | sv << 32`` (channel-group pair, shared
    pair; :func:`_prob`), and its full context id (channel group included), in coding order.
    Returns (decision bits uint8, counters uint64, context id int32); the ids only ``with_ctx``
    (else an empty array), as the encoder does not need them.

    Significance and magnitude decisions use disjoint counters, so they are modelled in two
    passes (no data-dependent branch in the first): the significance decision of element e sits
    at index e + bits * (nonzero elements before e), its magnitude bits right after it.

    The first ``skip`` timesteps (at most 3) are context only: no decisions, no counter updates.
    The rest then get exactly the decisions they have in a pass over a chunk that continues
    from those timesteps (:func:`_encode_pieces`): a context looks back at most 3 timesteps."""
    return _model_span(x, bits, contextual, with_ctx, sg, ss, mg, ms, skip, 0, 0, x.shape[2])


@njit(cache=True, nogil=True)
def _model_span(x, bits, contextual, with_ctx, sg, ss, mg, ms, skip, cskip, c_off, CT):
    """:func:`_model_pass` of a part of a chunk of ``CT`` channels (which sets the counter
    tables' channel groups): ``x`` holds its channels ``c_off ..``, and after the first ``skip``
    timesteps also its first ``cskip`` planes are context only (the previous channel of a piece
    of channels, :func:`_piece_span`). A decision's context reads its own neuron only: its
    plane's earlier rows, the plane of the previous channel at the same t, and the planes of
    t - 1 .. t - 3 (the magnitude's t - 1, t - 2, left and upper elements among them)."""
    T, N, C, H, W = x.shape
    G, GM, ks, km = counter_dims(CT, bits, contextual)
    rw = W + 2
    cs = (H + 2) * rw
    st = N * C * cs
    sp = np.zeros(T * st, np.uint8)
    rk = np.zeros(W, np.int64)
    hist = np.zeros(H * (W + 2), np.int64)
    xf = x.ravel()
    xs = N * C * H * W  # T stride of x
    mb = bits if bits > 1 else 0  # magnitude decisions per nonzero element
    e0 = skip * xs + cskip * H * W  # the first element coded
    nz = 0
    for e in range(e0, xf.size):
        nz += xf[U(e)] != 0
    total = xf.size - e0 + nz * mb
    out_bits = np.empty(total, np.uint8)
    out_c = np.empty(total, np.uint64)
    out_k = np.empty(total if with_ctx else 0, np.int32)
    nz_at = np.empty(nz + 1 if mb else 0, np.int64)  # flat index of each nonzero element
    # ... and its coordinates for the magnitude pass (no divisions there; W < 2**31):
    # w | (c mod GM) << 32 | (t > 0) << 56 | (t > 1) << 57 | (h > 0) << 58
    nz_info = np.empty(nz + 1 if mb else 0, np.int64)
    lmul = 16 if contextual else 0
    e = 0
    for q in range(skip * N * C + cskip):  # context only: their significance bits, where the loop below puts them
        p0 = q * cs + rw + 1
        for h in range(H):
            for w in range(W):
                sp[U(p0 + h * rw + w)] = xf[U(e)] != 0
                e += 1
    i = 0
    j = 0
    for t in range(skip, T):
        for n in range(N):
            for c in range(cskip if t == skip and n == 0 else 0, C):
                gbase = ((c + c_off) % G) * ks
                p0 = ((t * N + n) * C + c) * cs + rw + 1
                if contextual:
                    _plane_ctx(sp, hist, p0, t, c, H, W, st, rw, cs, 0)
                for h in range(H):
                    i0 = p0 + h * rw
                    if contextual:
                        _row_ctx(sp, hist, rk, i0, h * rw, W, rw, 0)
                    row_info = (((c + c_off) % GM) << 32) | (min(t, 1) << 56) | ((t > 1) << 57) | ((h > 0) << 58)
                    left = 0
                    for w in range(W):
                        s = np.int64(xf[U(e)] != 0)
                        k = rk[U(w)] + lmul * left
                        gk = U(gbase + k)
                        out_c[U(i)] = np.uint64(sg[gk]) | (np.uint64(ss[U(k)]) << np.uint64(32))
                        out_bits[U(i)] = s
                        if with_ctx:
                            out_k[U(i)] = gbase + k
                        sg[gk] = _bumped(sg[gk], s)
                        ss[U(k)] = _bumped(ss[U(k)], s)
                        sp[U(i0 + w)] = s
                        left = s
                        if mb:
                            nz_at[U(j)] = e  # kept only if s (branch-free)
                            nz_info[U(j)] = row_info | w
                            j += s
                        i += 1 + mb * s
                        e += 1
    for j in range(nz if mb else 0):  # magnitude bits of the nonzero elements, in order
        e = nz_at[j]
        info = nz_info[j]
        i = e - e0 + mb * j + 1
        gbase = ((info >> 32) & 0xFF) * km
        base = 0
        if contextual:  # bucket b of FORMAT.md 9.4.5, written out (no array-taking helpers)
            if (info >> 56) & 1:
                base += min(np.int64(xf[U(e - xs)]), 3)
            if (info >> 57) & 1:
                base += 4 * min(np.int64(xf[U(e - 2 * xs)]), 3)
            if info & 0xFFFFFFFF:
                base += 16 * min(np.int64(xf[U(e - 1)]), 3)
            if (info >> 58) & 1:
                base += 64 * min(np.int64(xf[U(e - W)]), 3)
            base <<= bits
        m = np.int64(xf[e]) - 1
        node = 1
        for b in range(bits - 1, -1, -1):
            bit = (m >> b) & 1
            kk = base + node
            out_c[i] = np.uint64(mg[gbase + kk]) | (np.uint64(ms[kk]) << np.uint64(32))
            out_bits[i] = bit
            if with_ctx:
                out_k[i] = G * ks + gbase + kk
            mg[gbase + kk] = _bumped(mg[gbase + kk], bit)
            ms[kk] = _bumped(ms[kk], bit)
            node = 2 * node + bit
            i += 1
    return out_bits, out_c, out_k


@njit(cache=True, nogil=True)
def _start(words):
    """Initial (state, next word index); index -1 flags a stream whose last word is zero."""
    pos = words.size
    if pos == 0:
        return np.uint64(0), 0
    state = np.uint64(words[pos - 1])
    if state == 0:
        return state, -1
    pos -= 1
    if pos > 0 and state < np.uint64(LOW):
        state = (state << np.uint64(32)) | np.uint64(words[pos - 1])
        pos -= 1
    return state, pos


@njit(inline="always", cache=True)
def _decode_bit(state, q):
    """One rANS decoding step without a data-dependent branch: (bit, new state before refill)."""
    one = np.uint64(q)
    zero = np.uint64(ONE) - one
    z = state & np.uint64(MASK)
    bit = np.uint64(z >= zero)
    msk = np.uint64(0) - bit
    wt = zero ^ ((zero ^ one) & msk)
    return bit, (state >> np.uint64(PREC)) * wt + (z - (zero & msk))


@njit(inline="always", cache=True)
def _decode_all(words, state, pos, xf, shape, strides, sp, hist, rk, sg, ss, mg, ms, ks, km, G, GM, bits, contextual, mag, tiled, TR, TL):
    """The decoding loop of :func:`decode`, inlined there twice: ``mag`` False for 1-bit chunks
    (LLVM then drops the magnitude code, keeping the hot loop's registers) and True otherwise.
    Everything on the per-element path is written out here (no array-taking helpers, no slices:
    either costs atomic reference-count updates). ``sp`` is the context window of
    :func:`_load_window`; with ``tiled`` (inlined once, for huge planes), of :func:`_load_tile`,
    each plane then decoded in tiles of ``TR`` x ``TL`` (:func:`tile_shape`). ``xf``, ``shape``
    and ``strides``: the output (:func:`decode_tiled`). Returns (state, pos, status)."""
    T, N, C, H, W = shape
    xs, sN, sC, sH, sW = strides
    rw = TL + 2
    st = (TR + 2) * rw  # the window's planes: t - 1 is one plane down, the previous channel ``top``
    wtop = window_planes(T, C, contextual) - 1
    cs = wtop * st
    p0 = cs + rw + 1
    top = (1 << bits) - 1
    lmul = 16 if contextual else 0
    # ``tiled`` is a constant where this is inlined: whole planes keep the loop they had.
    ntiles = ((H + TR - 1) // TR) * ((W + TL - 1) // TL) if tiled else 1
    for t in range(T):
        for n in range(N):
            for c in range(C):
                e0 = t * xs + n * sN + c * sC
                gbase = (c % G) * ks
                mbase = (c % GM) * km
                h0 = 0
                w0 = -TL
                for _ in range(ntiles):  # one tile, the whole plane, unless it is huge
                    w0 += TL
                    if w0 >= W:
                        w0 = 0
                        h0 += TR
                    if not tiled:
                        h0 = 0
                        w0 = 0
                    R = min(TR, H - h0) if tiled else H
                    L = min(TL, W - w0) if tiled else W
                    if contextual:
                        if not tiled:
                            _load_window(xf, sp, e0, t, c, H, W, xs, sH, sW, wtop)
                        else:
                            _load_tile(xf, sp, e0, t, c, H, W, xs, sC, sH, sW, wtop, h0, R, w0, L, rw, st)
                        _plane_ctx(sp, hist, p0, t, c, R, L, st, rw, cs, 0)
                    for hh in range(R):
                        h = h0 + hh
                        i0 = p0 + hh * rw
                        e = e0 + h * sH + w0 * sW
                        if contextual:
                            _row_ctx(sp, hist, rk, i0, hh * rw, L, rw, 0)
                        k = rk[0]
                        if tiled and w0 > 0:  # a row piece after the first: its left neighbour is decoded
                            k += lmul * np.int64(xf[U(e - sW)] != 0)
                        cv = np.int64(sg[U(gbase + k)])
                        sv = np.int64(ss[U(k)])
                        q = _prob(cv, sv)
                        for w in range(L):
                            # Both possible next contexts (this bit = 0 / 1) and their counters as
                            # they will be after this decision's update, then their probabilities.
                            n0 = rk[U(w + 1)]
                            n1 = n0 + lmul
                            u0, v0, u1, v1, a0, b0, a1, b1 = _next_counters(
                                cv, sv, k, n0, n1, np.int64(sg[U(gbase + n0)]), np.int64(ss[U(n0)]),
                                np.int64(sg[U(gbase + n1)]), np.int64(ss[U(n1)]))
                            q0 = _prob(a0, b0)
                            q1 = _prob(a1, b1)
                            s, state = _decode_bit(state, q)
                            if state < np.uint64(LOW) and pos > 0:
                                pos -= 1
                                state = (state << np.uint64(32)) | np.uint64(words[U(pos)])
                            s = np.int64(s)
                            m = _opaque(-s)
                            sg[U(gbase + k)] = _pick(m, u0, u1)
                            ss[U(k)] = _pick(m, v0, v1)
                            sp[U(i0 + w)] = s
                            xf[U(e)] = s
                            if mag and s:
                                # Magnitude tree: both children's probabilities are computed before
                                # the current bit is known (a child's counters are not the node's).
                                base = 0
                                if contextual:  # bucket b of FORMAT.md 9.4.5
                                    if t > 0:
                                        base += min(np.int64(xf[U(e - xs)]), 3)
                                    if t > 1:
                                        base += 4 * min(np.int64(xf[U(e - 2 * xs)]), 3)
                                    if w0 + w > 0:
                                        base += 16 * min(np.int64(xf[U(e - sW)]), 3)
                                    if h > 0:
                                        base += 64 * min(np.int64(xf[U(e - sH)]), 3)
                                    base <<= bits
                                node = 1
                                qm = _prob(mg[U(mbase + base + 1)], ms[U(base + 1)])
                                for d in range(bits):
                                    kc = base + 2 * node
                                    last = d == bits - 1  # no children: read in-range, unused
                                    kc = base if last else kc
                                    qm0 = _prob(mg[U(mbase + kc)], ms[U(kc)])
                                    qm1 = _prob(mg[U(mbase + kc + 1)], ms[U(kc + 1)])
                                    bit, state = _decode_bit(state, qm)
                                    if state < np.uint64(LOW) and pos > 0:
                                        pos -= 1
                                        state = (state << np.uint64(32)) | np.uint64(words[U(pos)])
                                    bit = np.int64(bit)
                                    mg[U(mbase + base + node)] = _bumped(mg[U(mbase + base + node)], bit)
                                    ms[U(base + node)] = _bumped(ms[U(base + node)], bit)
                                    node = 2 * node + bit
                                    qm = _pick(_opaque(-bit), qm0, qm1)
                                v = node - (1 << bits) + 1  # m + 1
                                if v > top:
                                    return state, pos, 2
                                xf[U(e)] = v
                            e += sW
                            k = _pick(m, n0, n1)
                            cv = _pick(m, a0, a1)
                            sv = _pick(m, b0, b1)
                            q = _pick(m, q0, q1)
    return state, pos, 0


@njit(cache=True, nogil=True)
def decode_into(words, xf, shape, strides, bits, contextual):
    """:func:`decode_tiled` with the default tile budget (:data:`TILE`)."""
    return decode_tiled(words, xf, shape, strides, bits, contextual, TILE)


@njit(cache=True, nogil=True)
def decode_into_with(words, xf, shape, strides, bits, contextual, sg, ss, mg, ms):
    """:func:`decode_into` from the counter tables given (a prior's copy), which it updates."""
    return decode_tiled_with(words, xf, shape, strides, bits, contextual, TILE, sg, ss, mg, ms)


@njit(cache=True, nogil=True)
def decode_tiled(words, xf, shape, strides, bits, contextual, budget):
    """:func:`decode_tiled_with` from zero counters."""
    _, _, _, _, sg, ss, mg, ms = _new_counters(shape[2], bits, contextual)
    return decode_tiled_with(words, xf, shape, strides, bits, contextual, budget, sg, ss, mg, ms)


@njit(cache=True, nogil=True)
def decode_tiled_with(words, xf, shape, strides, bits, contextual, budget, sg, ss, mg, ms):
    """Decode a (T, N, C, H, W) array ``shape`` into the flat uint8 buffer ``xf``: element
    (t, n, c, h, w) is ``xf[t * sT + n * sN + c * sC + h * sH + w * sW]`` with ``strides`` =
    (sT, sN, sC, sH, sW), non-negative: the caller's output, whatever its axis order, is
    written in place. Every element is written, so ``xf`` need not be zeroed. Returns the status: 0 ok, 1 malformed stream
    (zero last word, or words or state left over at the end), 2 a value >= 2**bits decoded.
    Work is bounded by the element count: at most ``1 + bits`` decisions per element; memory
    beyond ``xf`` by a constant: a few padded tiles (the context window), the context tables of a
    tile and of a row of it (``hist``, ``rk``: 8 bytes an element), the tile being at most
    ``budget`` padded elements (:func:`tile_shape`; a smaller one in tests exercises tiling).

    Speculation: the serial chain per decision is bit -> next context -> counters -> probability
    -> next bit. The next element's context differs only by ``left`` (this bit), so the loop
    computes the next probability for both values of this bit while this bit is decoded, from the
    counters as they will be after this decision's update (a candidate context equal to this one
    takes this one's updated counters), then picks one without a branch. Same model, same bytes."""
    T, N, C, H, W = shape
    state, pos = _start(words)
    if pos < 0:
        return 1
    G, GM, ks, km = counter_dims(C, bits, contextual)
    TR, TL = tile_shape(H, W, budget)
    sp = np.zeros(window_planes(T, C, contextual) * (TR + 2) * (TL + 2), np.uint8)
    # rk[TL]: the (unused) speculation past a row's end (0, or a stale in-range context)
    rk = np.zeros(TL + 1, np.int64)
    hist = np.zeros(TR * (TL + 2), np.int64)
    tiled = TR != H or TL != W
    if bits == 1 and not tiled:
        state, pos, status = _decode_all(words, state, pos, xf, shape, strides, sp, hist, rk, sg, ss, mg, ms, ks, km, G, GM, bits, contextual, False, False, TR, TL)
    elif not tiled:
        state, pos, status = _decode_all(words, state, pos, xf, shape, strides, sp, hist, rk, sg, ss, mg, ms, ks, km, G, GM, bits, contextual, True, False, TR, TL)
    else:  # one huge plane or row (rare): one loop for all widths
        state, pos, status = _decode_all(words, state, pos, xf, shape, strides, sp, hist, rk, sg, ss, mg, ms, ks, km, G, GM, bits, contextual, bits > 1, True, TR, TL)
    if status:
        return status
    if pos != 0 or state != 0:
        return 1
    return 0


@njit(cache=True, nogil=True)
def ideal_bits(bits_arr, q):
    """Adaptive code length sum(-log2 P(decision)) of a decision sequence (diagnostics)."""
    tot = 0.0
    for i in range(bits_arr.size):
        p = q[i] / ONE
        tot -= np.log2(p if bits_arr[i] else 1.0 - p)
    return tot


@njit(cache=True, nogil=True)
def channel_histogram(x, levels):
    """``counts[c, v]``: how many elements of channel ``c`` of the C-contiguous (T, N, C, H, W)
    uint8 array ``x`` equal ``v``, for ``v < levels``; every element must be below ``levels``
    (the caller passes its maximum + 1). One pass, no transposed copy: the ``auto`` codec's
    order-0 size estimate, which a numpy transpose and per-channel bincount made a fifth of its
    encoding time. Two values (1-bit chunks) are counted by summing, which vectorises; more go
    through two tables."""
    T, N, C, H, W = x.shape
    counts = np.zeros((C, levels), np.int64)
    pair = np.zeros((C if levels > 2 else 0, levels), np.int64)
    xf = x.ravel()
    plane = H * W
    e = 0
    for _ in range(T * N):
        for c in range(C):
            if levels <= 2:
                ones = 0
                for j in range(plane):
                    ones += np.int64(xf[U(e + j)])
                counts[c, 0] += plane - ones
                if levels == 2:
                    counts[c, 1] += ones
            else:  # two tables, even and odd elements: halves the chain of repeated increments
                for j in range(0, plane - 1, 2):
                    counts[c, xf[U(e + j)]] += 1
                    pair[c, xf[U(e + j + 1)]] += 1
                if plane & 1:
                    counts[c, xf[U(e + plane - 1)]] += 1
            e += plane
    if levels > 2:
        counts += pair
    return counts
