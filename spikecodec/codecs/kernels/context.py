"""The model of the ``order0`` and ``context`` codecs (FORMAT.md 9.4.4, 9.4.5): compiled (numba)
encoder and decoder, the ``context`` decoder with speculation. ``order0`` is this model with
every context 0 (``contextual`` False); ``ctxlanes`` codes each lane with it (:mod:`.lanes`).

The normative description is FORMAT.md section 9.4; this module is its reference
implementation. All model arithmetic is integer (:mod:`.counters`), so encoder and decoder (on
any machine) compute the same probability for every binary decision; the decisions are coded by
the rANS coder (:mod:`.rans`).

Model (per chunk, state reset at the start of every chunk). Every element ``x`` of the canonical
(T, N, C, H, W) view, in C order, is coded as binary decisions:

* the significance bit ``s = x > 0`` with context ``k`` (:func:`.window.plane_ctx`,
  :func:`.window.row_ctx` and the left neighbour; always 0 for ``order0``) and channel group
  ``g = c mod G`` (``G = min(C, 256)``);
* for ``bits > 1`` and ``s = 1``: the ``bits`` bits of ``m = x - 1``, MSB first, each with
  context ``b * 2**bits + node`` where ``node`` is the binary-tree node (1, then
  ``2 * node + bit``) and ``b`` the bucket of the neuron's two previous values and its left and
  upper neighbours' values (always 0 for ``order0``), per channel group
  ``c mod mag_groups(C, bits)``.

P(bit = 1) = ``q / 2**24`` with ``q`` from two adaptive integer counters per decision, a shared
one ``(g1, gn)`` per context and a per-channel-group one ``(c1, cn)`` (see :func:`prob`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .counters import blend, bumped, next_counters, prior_tables
from .ops import U, opaque, pick
from .rans import LOW, decode_bit, encode_steps, encode_words, finish, start
from .window import TILE, load_tile, load_window, plane_ctx, row_ctx, tile_shape, window_planes

PRIOR = 4  # weight of the shared estimate in the channel estimate, in counts
MAX_GROUPS = 256
NSIG = 1024  # significance contexts of ``context``
INV_PRIOR, INV_ONE = prior_tables(PRIOR)  # 4 / (cn + 4), 2**24 / (cn + 4): see .counters


@njit(inline="always", cache=True)
def prob(cv, sv):
    """q of FORMAT.md 9.4.2 (PRIOR = 4) from packed counters: :func:`.counters.blend`."""
    return blend(cv, sv, INV_PRIOR, INV_ONE)


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
def new_counters(C, bits, contextual):
    """Fresh (all-zero) counter tables of one chunk, as encoder and decoder both start
    (FORMAT.md 9.4.2), each a flat uint32 array of packed (ones, total) pairs: significance group
    table (index g * ks + k) and shared table (k), magnitude group table (gm * km + kk) and
    shared table (kk). Returns (G, GM, ks, km, sig_group, sig_shared, mag_group, mag_shared).
    A prior (FORMAT.md 14) replaces these zeros with its tables, laid out the same way."""
    G, GM, ks, km = counter_dims(C, bits, contextual)
    return (G, GM, ks, km, np.zeros(G * ks, np.uint32), np.zeros(ks, np.uint32),
            np.zeros(GM * km, np.uint32), np.zeros(km, np.uint32))


@njit(cache=True, nogil=True)
def encode(x, bits, contextual):
    """The rANS words of the (T, N, C, H, W) array ``x`` (the codecs' encoder)."""
    _, _, _, _, sg, ss, mg, ms = new_counters(x.shape[2], bits, contextual)
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
        return encode_words(d, counters, True, INV_PRIOR, INV_ONE)
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
        m, state = encode_steps(d, counters, True, INV_PRIOR, INV_ONE, words, m, state)
    _tables_from(snaps[npieces], sg, ss, mg, ms)
    return finish(words, m, state)


@njit(cache=True, nogil=True)
def model_decisions(x, bits, contextual, with_ctx):
    """Every binary decision of the (T, N, C, H, W) array ``x``, its probability ``q`` and (only
    ``with_ctx``) its full context id, in coding order (diagnostics and tests; :func:`encode`
    computes q inside its coder loop). Returns (bits uint8, q uint32, context id int32)."""
    _, _, _, _, sg, ss, mg, ms = new_counters(x.shape[2], bits, contextual)
    d, counters, ctx = _model_pass(x, bits, contextual, with_ctx, sg, ss, mg, ms, 0)
    q = np.empty(d.size, np.uint32)
    for i in range(d.size):
        v = np.uint64(counters[i])
        q[i] = prob(v & np.uint64(0xFFFFFFFF), v >> np.uint64(32))
    return d, q, ctx


@njit(cache=True, nogil=True)
def _model_pass(x, bits, contextual, with_ctx, sg, ss, mg, ms, skip):
    """The encoder's forward pass: every binary decision of the (T, N, C, H, W) array ``x``, the
    packed counters its probability comes from, ``cv | sv << 32`` (channel-group pair, shared
    pair; :func:`prob`), and its full context id (channel group included), in coding order.
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
                    plane_ctx(sp, hist, p0, t, c, H, W, st, rw, cs, 0)
                for h in range(H):
                    i0 = p0 + h * rw
                    if contextual:
                        row_ctx(sp, hist, rk, i0, h * rw, W, rw, 0)
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
                        sg[gk] = bumped(sg[gk], s)
                        ss[U(k)] = bumped(ss[U(k)], s)
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
            mg[gbase + kk] = bumped(mg[gbase + kk], bit)
            ms[kk] = bumped(ms[kk], bit)
            node = 2 * node + bit
            i += 1
    return out_bits, out_c, out_k


@njit(inline="always", cache=True)
def _decode_all(words, state, pos, xf, shape, strides, sp, hist, rk, sg, ss, mg, ms, ks, km, G, GM, bits, contextual, mag, tiled, TR, TL):
    """The decoding loop of :func:`decode`, inlined there twice: ``mag`` False for 1-bit chunks
    (LLVM then drops the magnitude code, keeping the hot loop's registers) and True otherwise.
    Everything on the per-element path is written out here (no array-taking helpers, no slices:
    either costs atomic reference-count updates). ``sp`` is the context window of
    :func:`load_window`; with ``tiled`` (inlined once, for huge planes), of :func:`load_tile`,
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
                            load_window(xf, sp, e0, t, c, H, W, xs, sH, sW, wtop)
                        else:
                            load_tile(xf, sp, e0, t, c, H, W, xs, sC, sH, sW, wtop, h0, R, w0, L, rw, st)
                        plane_ctx(sp, hist, p0, t, c, R, L, st, rw, cs, 0)
                    for hh in range(R):
                        h = h0 + hh
                        i0 = p0 + hh * rw
                        e = e0 + h * sH + w0 * sW
                        if contextual:
                            row_ctx(sp, hist, rk, i0, hh * rw, L, rw, 0)
                        k = rk[0]
                        if tiled and w0 > 0:  # a row piece after the first: its left neighbour is decoded
                            k += lmul * np.int64(xf[U(e - sW)] != 0)
                        cv = np.int64(sg[U(gbase + k)])
                        sv = np.int64(ss[U(k)])
                        q = prob(cv, sv)
                        for w in range(L):
                            # Both possible next contexts (this bit = 0 / 1) and their counters as
                            # they will be after this decision's update, then their probabilities.
                            n0 = rk[U(w + 1)]
                            n1 = n0 + lmul
                            u0, v0, u1, v1, a0, b0, a1, b1 = next_counters(
                                cv, sv, k, n0, n1, np.int64(sg[U(gbase + n0)]), np.int64(ss[U(n0)]),
                                np.int64(sg[U(gbase + n1)]), np.int64(ss[U(n1)]))
                            q0 = prob(a0, b0)
                            q1 = prob(a1, b1)
                            s, state = decode_bit(state, q)
                            if state < np.uint64(LOW) and pos > 0:
                                pos -= 1
                                state = (state << np.uint64(32)) | np.uint64(words[U(pos)])
                            s = np.int64(s)
                            m = opaque(-s)
                            sg[U(gbase + k)] = pick(m, u0, u1)
                            ss[U(k)] = pick(m, v0, v1)
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
                                qm = prob(mg[U(mbase + base + 1)], ms[U(base + 1)])
                                for d in range(bits):
                                    kc = base + 2 * node
                                    last = d == bits - 1  # no children: read in-range, unused
                                    kc = base if last else kc
                                    qm0 = prob(mg[U(mbase + kc)], ms[U(kc)])
                                    qm1 = prob(mg[U(mbase + kc + 1)], ms[U(kc + 1)])
                                    bit, state = decode_bit(state, qm)
                                    if state < np.uint64(LOW) and pos > 0:
                                        pos -= 1
                                        state = (state << np.uint64(32)) | np.uint64(words[U(pos)])
                                    bit = np.int64(bit)
                                    mg[U(mbase + base + node)] = bumped(mg[U(mbase + base + node)], bit)
                                    ms[U(base + node)] = bumped(ms[U(base + node)], bit)
                                    node = 2 * node + bit
                                    qm = pick(opaque(-bit), qm0, qm1)
                                v = node - (1 << bits) + 1  # m + 1
                                if v > top:
                                    return state, pos, 2
                                xf[U(e)] = v
                            e += sW
                            k = pick(m, n0, n1)
                            cv = pick(m, a0, a1)
                            sv = pick(m, b0, b1)
                            q = pick(m, q0, q1)
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
    _, _, _, _, sg, ss, mg, ms = new_counters(shape[2], bits, contextual)
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
    state, pos = start(words)
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
