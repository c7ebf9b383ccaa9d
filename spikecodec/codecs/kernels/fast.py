"""Compiled (numba) loops of the ``ctxfast`` codec (FORMAT.md 9.4.12): a wider ``context`` model
whose significance decisions are coded in up to four sample lanes sharing one set of counters.

Why lanes of samples, with shared counters: a decoder of one adaptive stream is one serial chain
per decision (state -> bit -> next context -> counters -> probability -> next bit), so a core
runs it far below its throughput. ``ctxlanes`` (9.4.8) splits the channels into independent
models; that gives four chains but costs the context across its lane boundaries and a quarter of
what each model learns from. Here each lane is a block of samples, every context reads only its
own sample, and all lanes share the counters, updated after each *step* (one decision of every
lane) in lane order: the chains stay independent within a step, and the model learns from every
sample as one stream would.

The significance context (Ks = 15360) adds to ``context``'s the channels c - 2 .. c - 5 at the
same position and the upper diagonals as separate bits (the 3-9% of a greedy context search,
benchmarks/results/ctxfast_design.md). Multi-bit elements code their magnitudes after all
significance, in one more stream, with ``context``'s magnitude model.

All contexts come from a zero-padded significance copy of the chunk, shape
(T, N, C, H + 2, W + 2), built from parts, each computed eight elements a word as soon as its
inputs are known (:func:`time_part`); the step loop adds ``left``. The four-lane lockstep loops
(:func:`_model4`, :func:`_decode4`, most of the work) keep their state in scalars; the loops
for fewer lanes and a lane's last planes take the same parts, their state in arrays.

Counts spend most of their decisions on magnitudes (four per nonzero element of 4-bit counts),
all in one stream, one serial chain. The encoder codes that stream between the lanes' steps, so
that its divisions overlap theirs (:func:`_encode_lanes`); the decoder takes every probability
it can off the chain (:func:`_decode_magnitudes`). Both visit a plane's nonzero elements only,
listed first without a branch.

Planes that padding would more than double (rows, pixels: a fully connected layer's 1 x 1
planes) are coded without it: the encoder computes every context up front
(:func:`_plain_contexts`), the decoder checks each neighbour against the edges
(:func:`decode_plain_into_with`).

Memory beyond the output and the tables: that copy ((H + 2) (W + 2) / (H W) bytes an element:
1.65 for 7 x 7 planes), and in the encoder 4 bytes a decision, significance or magnitude (so up
to 36 more an element of 8-bit counts), or for planes without padding 5 more an element (the
significances and their contexts). A decoder reads no more than one byte an element beside its
output (and one plane's list of nonzero elements).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .context import MAX_GROUPS, mag_groups, prob
from .counters import ONE, PREC, bumped
from .ops import U, load8, opaque, pick, prefetch, store8
from .rans import LOW, decode_bit, finish, start

KS = 15360  # significance contexts: 960 plane parts x 16 (up, ul, ur, left)
NL = 4  # most lanes
SPOTS = 4096  # the magnitude loops list a plane's nonzero elements this many positions at a time


@njit(cache=True, nogil=True)
def lane_count(N):
    """Lanes of a chunk of N samples: min(4, N)."""
    return min(NL, N)


@njit(cache=True, nogil=True)
def lane_starts(N):
    """First sample of each lane, and N after the last: ``floor(l N / L)`` for l = 0 .. L."""
    L = lane_count(N)
    out = np.empty(L + 1, np.int64)
    for ln in range(L + 1):
        out[ln] = (ln * N) // L if L else 0
    return out


@njit(cache=True, nogil=True)
def counter_dims(C, bits):
    """(G, GM, km): channel groups of the significance and magnitude tables, and the magnitude
    contexts (those of ``context``, FORMAT.md 9.4.2 / 9.4.5)."""
    km = (256 << bits) if bits > 1 else 1
    return max(min(C, MAX_GROUPS), 1), mag_groups(C, bits), km


@njit(cache=True, nogil=True)
def new_tables(C, bits):
    """Fresh (all-zero) counter tables: sig_group (G Ks), sig_shared (Ks), mag_group (GM km),
    mag_shared (km)."""
    G, GM, km = counter_dims(C, bits)
    return (np.zeros(G * KS, np.uint32), np.zeros(KS, np.uint32),
            np.zeros(GM * km, np.uint32), np.zeros(km, np.uint32))


TIME_BATCH = 4096  # padded elements of time parts a lane computes at once: vectorised, in L1
LSB = np.uint64(0x0101010101010101)  # bit 0 of each byte of a word

# The lockstep loops (:func:`_model4`, :func:`_decode4`) split a significance context into
# 256 x its *time part* ``hs 4 + nb`` (from earlier steps), its *channel part*
# ``16 (8 p1 + 4 p2 + 2 p3 + p45)`` (from earlier planes of the sample) and its *row part*
# ``8 up + 4 ul + 2 ur`` (from the row above), and compute each once its inputs are known, for a
# batch of planes, a plane and a row at a time, eight elements a word: the significances are
# 0 / 1 bytes and every sum stays below 256, so a byte never carries into the next (numba
# widens a byte to 64 bits, so a loop over bytes takes eight times the work). The decision loop
# then adds ``left``. Each word reads and writes up to 7 bytes past the last element:
# the arrays leave room.


@njit(inline="always", cache=True)
def time_part(sp, tp, u0, count, t, st, rw, to):
    """Time parts ``hs 4 + nb`` of the ``count`` elements from padded index ``u0`` (consecutive
    planes of one (t, n), padding computed and never used) into ``tp[to + j]``. At t < 3 the
    terms that do not exist read in-range bytes and weigh 0."""
    m1 = np.uint64(1 if t >= 1 else 0)
    m2 = np.uint64(2 if t >= 2 else 0)
    m3 = np.uint64(4 if t >= 3 else 0)
    nbm = np.uint64(1 if t >= 1 else 0)
    hs0 = np.uint64((1 << min(t, 3)) - 1) * LSB
    o1 = st if t >= 1 else 0
    o2 = 2 * st if t >= 2 else o1
    o3 = 3 * st if t >= 3 else o2
    g0, g2, g5 = np.uint64(0x7F) * LSB, np.uint64(0x7D) * LSB, np.uint64(0x7A) * LSB  # x + g has bit 7 iff x > 0, 2, 5
    seven = np.uint64(7)
    for j in range(0, count, 8):
        u = U(u0 + j)
        b = u - U(o1)
        hs = hs0 + m1 * load8(sp, b) + m2 * load8(sp, u - U(o2)) + m3 * load8(sp, u - U(o3))
        cnt = (load8(sp, b - U(rw + 1)) + load8(sp, b - U(rw)) + load8(sp, b - U(rw - 1)) + load8(sp, b - U(1))
               + load8(sp, b + U(1)) + load8(sp, b + U(rw - 1)) + load8(sp, b + U(rw)) + load8(sp, b + U(rw + 1)))
        nb = (((cnt + g0) >> seven) & LSB) + (((cnt + g2) >> seven) & LSB) + (((cnt + g5) >> seven) & LSB)
        store8(tp, U(to + j), hs * np.uint64(4) + nbm * nb)


@njit(inline="always", cache=True)
def channel_part(sp, lo, u0, count, c, cs, to):
    """Channel parts of the ``count`` elements of one plane (channel ``c``) from padded index
    ``u0`` into ``lo[to + j]``; channels before the first read in-range bytes and weigh 0."""
    q1 = np.uint64(8 if c >= 1 else 0)
    q2 = np.uint64(4 if c >= 2 else 0)
    q3 = np.uint64(2 if c >= 3 else 0)
    q4 = np.uint64(1 if c >= 4 else 0)
    q5 = np.uint64(1 if c >= 5 else 0)
    c1 = U(cs if c >= 1 else 0)
    c2 = U(2 * cs if c >= 2 else 0)
    c3 = U(3 * cs if c >= 3 else 0)
    c4 = U(4 * cs if c >= 4 else 0)
    c5 = U(5 * cs if c >= 5 else 0)
    for j in range(0, count, 8):
        u = U(u0 + j)
        v = (q1 * load8(sp, u - c1) + q2 * load8(sp, u - c2) + q3 * load8(sp, u - c3)
             + ((q4 * load8(sp, u - c4)) | (q5 * load8(sp, u - c5))))
        store8(lo, U(to + j), v * np.uint64(16))


@njit(inline="always", cache=True)
def row_context(sp, lo, kb, u0, W, rw, lo0, kb0):
    """Contexts but for ``left`` and the time part of one row of W elements (padded index
    ``u0``): its channel parts ``lo[lo0 + w]`` plus its row parts, into ``kb[kb0 + w]``."""
    for j in range(0, W, 8):
        u = U(u0 + j) - U(rw)
        v = (load8(lo, U(lo0 + j)) + np.uint64(8) * load8(sp, u) + np.uint64(4) * load8(sp, u - U(1))
             + np.uint64(2) * load8(sp, u + U(1)))
        store8(kb, U(kb0 + j), v)


@njit(cache=True, nogil=True)
def _lockstep_scratch(C, H, W):
    """The lockstep loops' working arrays: (planes a time batch holds, the NL lanes' time parts
    (a batch each), channel parts (a plane each, a row beyond for the prefetches) and row
    contexts (a row each), and each lane's (t, n) block: its first padded index, t and n)."""
    rw = W + 2
    cs = (H + 2) * rw
    nb = max(1, min(C, TIME_BATCH // cs))
    return (nb, np.zeros(NL * nb * cs + 8, np.uint8), np.zeros(NL * (H + 1) * rw + 8, np.uint8),
            np.zeros(NL * (W + 8), np.uint8), np.zeros(NL, np.int64), np.zeros(NL, np.int64), np.zeros(NL, np.int64))


@njit(inline="always", cache=True)
def _lockstep_plane(sp, tp, lo, base, tt, nn, q, starts, L, planes, N, C, H, W, nb):
    """Lane bookkeeping at plane ``q`` (channel c = q % C in every lane) of the L lanes that
    have it (``planes``: each lane's count): at c = 0 each lane enters its next (t, n) block; at
    the first plane of a time batch, the batch's time parts; then the plane's channel parts.
    Returns the time-part offset of the plane."""
    rw = W + 2
    cs = (H + 2) * rw
    c = q % C
    if c == 0:
        for ln in range(L):
            if q >= planes[ln]:
                continue
            Nl = starts[ln + 1] - starts[ln]
            t = q // (C * Nl)
            n = starts[ln] + (q // C) % Nl
            base[ln] = ((t * N + n) * C) * cs
            tt[ln] = t
            nn[ln] = n
    if c % nb == 0:
        c1 = min(c + nb, C)
        for ln in range(L):
            if q < planes[ln]:
                time_part(sp, tp, base[ln] + c * cs + rw + 1, (c1 - 1 - c) * cs + (H - 1) * rw + W, tt[ln],
                          N * C * cs, rw, ln * nb * cs)
    for ln in range(L):
        if q < planes[ln]:
            channel_part(sp, lo, base[ln] + c * cs + rw + 1, (H - 1) * rw + W, c, cs, ln * (H + 1) * rw)
    return (c % nb) * cs


@njit(cache=True, nogil=True)
def _lane_planes(T, N, C, starts, ln):
    """Planes (t, n, c) of lane ``ln``: T N_l C."""
    return T * (starts[ln + 1] - starts[ln]) * C


@njit(cache=True, nogil=True)
def _lane_plane_counts(T, N, C, starts, L):
    """Planes (t, n, c) of each of the L lanes, NL entries (0 past L): a lane past its last
    plane takes no part in a step."""
    planes = np.zeros(NL, np.int64)
    for ln in range(L):
        planes[ln] = _lane_planes(T, N, C, starts, ln)
    return planes


@njit(cache=True, nogil=True)
def work_bytes(T, N, C, H, W, encoder):
    """Bytes of working memory :func:`encode_with` (``encoder``) or :func:`decode_into_with`
    takes from its ``work`` argument when it holds them: the zero-padded significance copy and,
    for the encoder, its decisions (4 bytes each). 0 for planes coded without padding."""
    if T * N * C * H * W == 0 or (H + 2) * (W + 2) > 2 * H * W:
        return 0
    n = _padded_bytes(T, N, C, H, W)
    if encoder:
        n += lane_count(N) * max(_lane_plane_counts(T, N, C, lane_starts(N), lane_count(N)).max() * H * W, 1) * 4
    return n


@njit(cache=True, nogil=True)
def _padded_bytes(T, N, C, H, W):
    """Bytes of the padded copy, 8 beyond (:func:`time_part` reads words), rounded up to 64."""
    return (T * N * C * (H + 2) * (W + 2) + 8 + 63) // 64 * 64


@njit(cache=True, nogil=True)
def _zeroed_copy(work, T, N, C, H, W):
    """The padded copy's bytes, zero: the start of ``work`` when it holds them (a thread's kept
    working memory, whose pages are already there: a fresh array's first touch costs a page
    fault a page, some 15% of the coding time), else a new array."""
    n = _padded_bytes(T, N, C, H, W)
    if work.size >= n:
        sp = work[:n]
        sp[:] = 0
        return sp
    return np.zeros(n, np.uint8)


@njit(cache=True, nogil=True)
def padded_significance(x, work):
    """The zero-padded significance copy of the (T, N, C, H, W) array ``x``, shape
    (T, N, C, H + 2, W + 2) flat, and 8 bytes beyond (:func:`time_part` reads words), in
    ``work`` when it holds it (:func:`_zeroed_copy`). Rows are
    copied a word at a time, each byte's bits folded into its bit 0; a row's last word writes
    zeros past its end, over padding and the start of the next row, which is copied after it.
    The mask that keeps a row's bytes takes them as the word's low bytes: little-endian, as
    :func:`.ops.load8` says (x86-64 and ARM64)."""
    T, N, C, H, W = x.shape
    rw = W + 2
    cs = (H + 2) * rw
    sp = _zeroed_copy(work, T, N, C, H, W)
    xf = x.ravel()
    n = xf.size
    for r in range(T * N * C * H):  # row r of plane r // H
        src = r * W
        dst = (r // H) * cs + (r % H + 1) * rw + 1
        if src + W + 8 > n:  # a word would read past the array: the last rows, byte by byte
            for w in range(W):
                sp[U(dst + w)] = xf[U(src + w)] != 0
            continue
        for j in range(0, W, 8):
            v = load8(xf, U(src + j))
            v |= v >> np.uint64(4)
            v |= v >> np.uint64(2)
            v |= v >> np.uint64(1)
            v &= LSB
            if j + 8 > W:  # keep the row's bytes only
                v &= (np.uint64(1) << np.uint64(8 * (W - j))) - np.uint64(1)
            store8(sp, U(dst + j), v)
    return sp


@njit(cache=True, nogil=True)
def _model_pass(x, sg, ss, work):
    """The encoder's forward pass over the lanes of the (T, N, C, H, W) array ``x``: per lane,
    every significance decision as ``q << 1 | bit``, lane-major, with the step rule of
    FORMAT.md 9.4.12, and each lane's decision count. Updates ``sg``, ``ss``; the padded copy
    and the decisions are in ``work`` when it holds them (:func:`work_bytes`)."""
    T, N, C, H, W = x.shape
    if (H + 2) * (W + 2) > 2 * H * W:  # as the decoder: planes that padding would more than double
        return _model_pass_plain(x, sg, ss)
    L = lane_count(N)
    starts = lane_starts(N)
    G = max(min(C, MAX_GROUPS), 1)
    rw = W + 2
    cs = (H + 2) * rw
    sp = padded_significance(x, work)  # filled up front: contexts are causal
    P = H * W
    planes = _lane_plane_counts(T, N, C, starts, L)
    per = planes[:L] * P
    most = planes.max()
    m = max(per.max(), 1) if L else 1
    o = _padded_bytes(T, N, C, H, W)
    if work.size >= o + L * m * 4:
        qd = work[o:o + L * m * 4].view(np.uint32).reshape((L, m))  # per decision: q << 1 | bit
    else:
        qd = np.empty((L, m), np.uint32)
    q0 = 0
    if L == NL:  # the planes all four lanes have: the lockstep loop
        q0 = planes.min()
        _model4(sp, qd, starts, planes, q0, N, C, H, W, G, sg, ss)
    # The rest (fewer lanes, or a lane's last planes; q0 starts a block): the same context parts,
    # each lane's step state in arrays.
    nb, tp, lo, kb, base, tt, nn = _lockstep_scratch(C, H, W)
    kk, bit, left = np.zeros(NL, np.int64), np.zeros(NL, np.int64), np.zeros(NL, np.int64)
    TB, LB, KB = nb * cs, (H + 1) * rw, W + 8
    for q in range(q0, most):
        c = q % C
        gb = (c % G) * KS
        po = _lockstep_plane(sp, tp, lo, base, tt, nn, q, starts, L, planes, N, C, H, W, nb)
        f = c * cs + rw + 1
        for h in range(H):
            for ln in range(L):
                if q >= planes[ln]:
                    continue
                row_context(sp, lo, kb, U(base[ln] + f + h * rw), W, rw, U(ln * LB + h * rw), U(ln * KB))
                left[ln] = 0
            i = q * P + h * W
            for w in range(W):
                d = h * rw + w
                for ln in range(L):
                    if q >= planes[ln]:
                        continue
                    t0 = U(ln * TB + po + d)
                    v = U(gb) + U(256) * U(tp[t0 + U(rw)]) + U(lo[U(ln * LB + d + rw)])  # a row ahead
                    prefetch(sg, v)
                    prefetch(sg, v + U(15))
                    k = 256 * np.int64(tp[t0]) + np.int64(kb[U(ln * KB + w)]) + left[ln]
                    kk[ln] = k
                    s = np.int64(sp[U(base[ln] + f + d)])
                    bit[ln] = s
                    qd[ln, U(i)] = (prob(sg[U(gb + k)], ss[U(k)]) << 1) | s
                    left[ln] = s
                for ln in range(L):  # the step's updates, lane order, after all its reads
                    if q >= planes[ln]:
                        continue
                    k = kk[ln]
                    sg[U(gb + k)] = bumped(sg[U(gb + k)], bit[ln])
                    ss[U(k)] = bumped(ss[U(k)], bit[ln])
                i += 1
    return qd, per


@njit(inline="always", cache=True)
def _next_block(tl, nq, blk, ob, starts, L, N, C, P, xs, sN):
    """The unpadded loops' lanes after the last plane of a sample: each lane's next (t, n) - the
    next sample of its block, or its first at t + 1 - its first element ``blk`` in C order and
    its output offset ``ob`` (strides ``xs``, ``sN``). A lane past its end is never read again."""
    for ln in range(L):
        nq[ln] += 1
        if nq[ln] == starts[ln + 1] - starts[ln]:
            nq[ln] = 0
            tl[ln] += 1
        n = starts[ln] + nq[ln]
        blk[ln] = (tl[ln] * N + n) * C * P
        ob[ln] = tl[ln] * xs + n * sN


@njit(cache=True, nogil=True)
def _plain_lanes(starts, L, C, P, sN):
    """The unpadded loops' lane positions at the first step: (t, place in the lane's samples,
    first element, output offset) of each lane."""
    tl = np.zeros(NL, np.int64)
    nq = np.zeros(NL, np.int64)
    blk = np.zeros(NL, np.int64)
    ob = np.zeros(NL, np.int64)
    for ln in range(L):
        blk[ln] = starts[ln] * C * P
        ob[ln] = starts[ln] * sN
    return tl, nq, blk, ob


@njit(cache=True, nogil=True)
def _plain_contexts(su, T, N, C, H, W):
    """The significance context (FORMAT.md 9.4.12) of every element of the unpadded significances
    ``su`` (C order), for the encoder, which knows them all: a pass per term over the elements
    that have that neighbour, so that no element tests an edge (on 1 x 1 planes the spatial
    terms are skipped whole). ``k = 1024 hs + 256 nb + 128 p1 + 64 p2 + 32 p3 + 16 p45 + 8 up +
    4 ul + 2 ur + left``."""
    P = H * W
    sT = N * C * P
    ctx = np.zeros(T * sT, np.int32)
    cnt = np.zeros(sT if T > 1 else 0, np.uint8)  # one step's counts of set neighbours at t - 1
    for t in range(1, T):  # hs and nb: the neuron's earlier steps, its neighbours at t - 1
        b0 = t * sT
        b1 = b0 - sT
        b2 = b0 - 2 * sT if t >= 2 else b1
        b3 = b0 - 3 * sT if t >= 3 else b1
        w2 = 2 if t >= 2 else 0
        w3 = 4 if t >= 3 else 0
        off = (1 << min(t, 3)) - 1
        for e in range(sT):
            ctx[U(b0 + e)] = 1024 * (off + su[U(b1 + e)] + w2 * su[U(b2 + e)] + w3 * su[U(b3 + e)])
        cnt[:] = 0
        for dh in range(-1, 2):
            for dw in range(-1, 2):
                h0, h1, w0, w1 = max(0, -dh), min(H, H - dh), max(0, -dw), min(W, W - dw)
                if (dh == 0 and dw == 0) or h0 >= h1 or w0 >= w1:
                    continue
                d = dh * W + dw
                for q in range(0, sT, P):
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            cnt[U(q + h * W + w)] += su[U(b1 + q + h * W + w + d)]
        for e in range(sT):
            v = cnt[U(e)]
            ctx[U(b0 + e)] += 256 * ((v > 0) + (v > 2) + (v > 5))
    CP = C * P
    for s in range(0, T * sT, CP):  # p1, p2, p3, p45: the sample's five previous channels
        for i in range(P, CP):
            ctx[U(s + i)] += 128 * su[U(s + i - P)]
        for i in range(2 * P, CP):
            ctx[U(s + i)] += 64 * su[U(s + i - 2 * P)]
        for i in range(3 * P, CP):
            ctx[U(s + i)] += 32 * su[U(s + i - 3 * P)]
        for i in range(4 * P, min(5 * P, CP)):
            ctx[U(s + i)] += 16 * su[U(s + i - 4 * P)]
        for i in range(5 * P, CP):
            ctx[U(s + i)] += 16 * (su[U(s + i - 4 * P)] | su[U(s + i - 5 * P)])
    if P > 1:  # up, ul, ur and left: the plane's row above and the element before
        for q in range(0, T * sT, P):
            for h in range(1, H):
                r = q + h * W
                for w in range(W):
                    ctx[U(r + w)] += 8 * su[U(r + w - W)]
                for w in range(1, W):
                    ctx[U(r + w)] += 4 * su[U(r + w - W - 1)]
                for w in range(W - 1):
                    ctx[U(r + w)] += 2 * su[U(r + w - W + 1)]
            for h in range(H):
                r = q + h * W
                for w in range(1, W):
                    ctx[U(r + w)] += su[U(r + w - 1)]
    return ctx


@njit(cache=True, nogil=True)
def _model_pass_plain(x, sg, ss):
    """:func:`_model_pass` without the padded copy, as :func:`decode_plain_into_with` decodes:
    the contexts from :func:`_plain_contexts`. While all four lanes have samples left, a block
    (one sample's planes at one step) at a time with each lane's place in scalars, so that the
    four lanes' reads overlap; then lane by lane, their state in arrays."""
    T, N, C, H, W = x.shape
    L = lane_count(N)
    starts = lane_starts(N)
    G = max(min(C, MAX_GROUPS), 1)
    P = H * W
    CP = C * P
    su = np.minimum(x.ravel(), 1)
    ctx = _plain_contexts(su, T, N, C, H, W)
    planes = _lane_plane_counts(T, N, C, starts, L)
    per = planes[:L] * P
    qd = np.empty((L, max(per.max(), 1) if L else 1), np.uint32)
    kk = np.zeros(NL, np.int64)
    bit = np.zeros(NL, np.int64)
    tl, nq, blk, ob = _plain_lanes(starts, L, C, P, 0)
    i0 = per.min() if L == NL else 0  # whole blocks: every lane's count is a multiple of C P
    for i in range(0, i0, CP):
        b0, b1, b2, b3 = U(blk[0]), U(blk[1]), U(blk[2]), U(blk[3])
        for c in range(C):
            gb = U((c % G) * KS)
            for o in range(U(c * P), U(c * P + P)):
                k0, k1, k2, k3 = U(ctx[b0 + o]), U(ctx[b1 + o]), U(ctx[b2 + o]), U(ctx[b3 + o])
                s0, s1, s2, s3 = np.int64(su[b0 + o]), np.int64(su[b1 + o]), np.int64(su[b2 + o]), np.int64(su[b3 + o])
                e = U(i) + o
                qd[0, e] = (prob(sg[gb + k0], ss[k0]) << 1) | s0  # every read of the step before any update
                qd[1, e] = (prob(sg[gb + k1], ss[k1]) << 1) | s1
                qd[2, e] = (prob(sg[gb + k2], ss[k2]) << 1) | s2
                qd[3, e] = (prob(sg[gb + k3], ss[k3]) << 1) | s3
                sg[gb + k0] = bumped(sg[gb + k0], s0)
                ss[k0] = bumped(ss[k0], s0)
                sg[gb + k1] = bumped(sg[gb + k1], s1)
                ss[k1] = bumped(ss[k1], s1)
                sg[gb + k2] = bumped(sg[gb + k2], s2)
                ss[k2] = bumped(ss[k2], s2)
                sg[gb + k3] = bumped(sg[gb + k3], s3)
                ss[k3] = bumped(ss[k3], s3)
        _next_block(tl, nq, blk, ob, starts, L, N, C, P, 0, 0)
    c = h = w = off = gb = 0  # the step's place in every lane's plane, and in its sample
    for i in range(i0, per.max() if L else 0):
        for ln in range(L):  # every read of the step before any update
            if i >= per[ln]:
                continue
            e = blk[ln] + off
            k = np.int64(ctx[e])
            s = np.int64(su[e])
            kk[ln] = k
            bit[ln] = s
            qd[ln, U(i)] = (prob(sg[U(gb + k)], ss[U(k)]) << 1) | s
        for ln in range(L):
            if i >= per[ln]:
                continue
            k = kk[ln]
            sg[U(gb + k)] = bumped(sg[U(gb + k)], bit[ln])
            ss[U(k)] = bumped(ss[U(k)], bit[ln])
        off += 1  # the next step: counted on, no divisions
        w += 1
        if w == W:
            w = 0
            h += 1
            if h == H:
                h = 0
                c += 1
                if c == C:
                    c = off = 0
                    _next_block(tl, nq, blk, ob, starts, L, N, C, P, 0, 0)
                gb = (c % G) * KS
    return qd, per


@njit(cache=True, nogil=True)
def _model4(sp, qd, starts, planes, q_end, N, C, H, W, G, sg, ss):
    """Planes 0 .. ``q_end`` - 1 of all four lanes of :func:`_model_pass`, in lockstep, each
    step's four reads before its four updates. Contexts come in parts (see :func:`time_part`),
    so a plane costs little of its own and small planes (7 x 7) run nearly as fast as large
    ones. The counters of the element a row below are asked for a row ahead (its time and
    channel parts are known): a table of many channel groups outgrows the core's caches. Its
    16 contexts (up, ul, ur, left) are 64 bytes, one cache line where the table is aligned to
    64 bytes (the codec's fresh tables are) and two where it is not (a prior's copy): both asked for."""
    rw = W + 2
    cs = (H + 2) * rw
    P = H * W
    nb, tp, lo, kb, base, tt, nn = _lockstep_scratch(C, H, W)
    TB = U(nb * cs)  # lane l's part of tp, lo and kb starts at l TB, l LB and l KB
    LB = U((H + 1) * rw)
    KB = U(W + 8)
    T2, T3, L2, L3, K2, K3 = TB + TB, TB + TB + TB, LB + LB, LB + LB + LB, KB + KB, KB + KB + KB  # unsigned: no index checks
    R = U(rw)
    for q in range(q_end):
        c = q % C
        gb = U((c % G) * KS)
        po = U(_lockstep_plane(sp, tp, lo, base, tt, nn, q, starts, NL, planes, N, C, H, W, nb))
        f = U(c * cs + rw + 1)
        a0, a1, a2, a3 = U(base[0]) + f, U(base[1]) + f, U(base[2]) + f, U(base[3]) + f
        e = U(q * P)
        for h in range(H):
            d0 = U(h * rw)
            for ln in range(NL):
                row_context(sp, lo, kb, U(base[ln]) + f + d0, W, rw, U(ln) * LB + d0, U(ln) * KB)
            l0 = l1 = l2 = l3 = np.int64(0)
            for w in range(W):
                d = d0 + U(w)
                t0 = po + d
                v = gb + U(256) * U(tp[t0 + R]) + U(lo[d + R])
                prefetch(sg, v)
                prefetch(sg, v + U(15))
                v = gb + U(256) * U(tp[TB + t0 + R]) + U(lo[LB + d + R])
                prefetch(sg, v)
                prefetch(sg, v + U(15))
                v = gb + U(256) * U(tp[T2 + t0 + R]) + U(lo[L2 + d + R])
                prefetch(sg, v)
                prefetch(sg, v + U(15))
                v = gb + U(256) * U(tp[T3 + t0 + R]) + U(lo[L3 + d + R])
                prefetch(sg, v)
                prefetch(sg, v + U(15))
                k0 = U(256) * U(tp[t0]) + U(kb[U(w)]) + U(l0)
                k1 = U(256) * U(tp[TB + t0]) + U(kb[KB + U(w)]) + U(l1)
                k2 = U(256) * U(tp[T2 + t0]) + U(kb[K2 + U(w)]) + U(l2)
                k3 = U(256) * U(tp[T3 + t0]) + U(kb[K3 + U(w)]) + U(l3)
                j0, j1, j2, j3 = gb + k0, gb + k1, gb + k2, gb + k3
                s0 = np.int64(sp[a0 + d])
                s1 = np.int64(sp[a1 + d])
                s2 = np.int64(sp[a2 + d])
                s3 = np.int64(sp[a3 + d])
                qd[0, e] = (prob(sg[j0], ss[k0]) << 1) | s0
                qd[1, e] = (prob(sg[j1], ss[k1]) << 1) | s1
                qd[2, e] = (prob(sg[j2], ss[k2]) << 1) | s2
                qd[3, e] = (prob(sg[j3], ss[k3]) << 1) | s3
                sg[j0] = bumped(sg[j0], s0)
                ss[k0] = bumped(ss[k0], s0)
                sg[j1] = bumped(sg[j1], s1)
                ss[k1] = bumped(ss[k1], s1)
                sg[j2] = bumped(sg[j2], s2)
                ss[k2] = bumped(ss[k2], s2)
                sg[j3] = bumped(sg[j3], s3)
                ss[k3] = bumped(ss[k3], s3)
                l0, l1, l2, l3 = s0, s1, s2, s3
                e += U(1)


# The magnitude pass (FORMAT.md 9.4.12) runs a plane at a time: first the plane's nonzero
# elements are listed without a branch (about half the elements of count data are zero, so a
# test per element mispredicts every other time), then only those are coded.


@njit(inline="always", cache=True)
def _nonzeros(xf, e0, p0, p1, W, sH, sW, spot):
    """List the nonzero elements at positions ``p0 .. p1 - 1`` (``h W + w``) of the plane at
    ``xf[e0]`` (row stride ``sH``, column stride ``sW``) in C order into ``spot`` as
    ``h << 32 | w``, without a branch; returns how many."""
    k = 0
    h = p0 // W
    w = p0 - h * W
    for _ in range(p1 - p0):
        spot[U(k)] = (h << 32) | w
        k += xf[U(e0 + h * sH + w * sW)] != 0
        w += 1
        if w == W:
            w = 0
            h += 1
    return k


@njit(inline="always", cache=True)
def _bucket(xf, e, t, h, w, xs, sH, sW):
    """The magnitude bucket b of FORMAT.md 9.4.5 of element ``e`` (at t, h, w): the neuron's
    two previous values and its left and upper neighbours' values, each capped at 3. Without a
    branch on the edges (a nonzero element is at a row's start or in the top row one time in
    a few): a neighbour outside is read at a valid place and masked out."""
    b = 0
    if t >= 1:  # the same for a whole plane
        b += min(np.int64(xf[U(e - xs)]), 3)
    if t >= 2:
        b += 4 * min(np.int64(xf[U(e - 2 * xs)]), 3)
    b += (16 * min(np.int64(xf[U(max(e - sW, 0))]), 3)) & -np.int64(w >= 1)
    b += (64 * min(np.int64(xf[U(max(e - sH, 0))]), 3)) & -np.int64(h >= 1)
    return b


@njit(cache=True, nogil=True)
def magnitude_work_bytes(x, bits):
    """Bytes of working memory the encoder's magnitude decisions take (4 each: ``q << 1 | bit``),
    after :func:`work_bytes`' from its ``work`` argument when that holds both: ``bits`` per
    nonzero element of ``x`` for ``bits > 1``, else 0."""
    if bits <= 1:
        return 0
    xf = x.ravel()
    nz = 0
    for e in range(xf.size):
        nz += xf[e] != 0
    return nz * bits * 4


@njit(cache=True, nogil=True)
def _magnitudes(x, bits, mg, ms, work):
    """The magnitude decisions of the multi-bit (T, N, C, H, W) array ``x`` as ``q << 1 | bit``:
    every nonzero element in C order, the bits of ``x - 1`` MSB first with ``context``'s buckets
    (FORMAT.md 9.4.5). Updates ``mg``, ``ms``. The decisions are in ``work`` after
    :func:`work_bytes`' share when it holds them (:func:`magnitude_work_bytes`; a fresh array's
    page faults cost as much as the pass itself), else in a new array."""
    T, N, C, H, W = x.shape
    GM = mag_groups(C, bits)
    km = 256 << bits
    xf = x.ravel()
    need = magnitude_work_bytes(x, bits)
    o = work_bytes(T, N, C, H, W, True)
    if work.size >= o + need:
        qd = work[o:o + need].view(np.uint32)
    else:
        qd = np.empty(need // 4, np.uint32)
    P = H * W
    xs = N * C * P
    spot = np.empty(SPOTS, np.int64)
    i = 0
    e0 = 0
    for t in range(T):
        for n in range(N):
            for c in range(C):
                gb = (c % GM) * km
                for p0 in range(0, P, SPOTS):
                    for j in range(_nonzeros(xf, e0, p0, min(p0 + SPOTS, P), W, W, 1, spot)):
                        h = spot[U(j)] >> 32
                        w = spot[U(j)] & 0xFFFFFFFF
                        e = e0 + h * W + w
                        b = _bucket(xf, e, t, h, w, xs, W, 1) << bits
                        m = np.int64(xf[U(e)]) - 1
                        node = 1
                        for jb in range(bits - 1, -1, -1):
                            d = (m >> jb) & 1
                            k = b + node
                            cv = mg[U(gb + k)]
                            sv = ms[U(k)]
                            qd[U(i)] = np.uint32((prob(cv, sv) << 1) | d)
                            mg[U(gb + k)] = bumped(cv, d)
                            ms[U(k)] = bumped(sv, d)
                            node = 2 * node + d
                            i += 1
                e0 += P
    return qd


@njit(cache=True, nogil=True)
def _encode_lanes(qd, per, qm, magnitudes):
    """The rANS streams (FORMAT.md 9.4.3) of the lanes, lane l's decisions ``qd[l, :per[l]]``, and
    then with ``magnitudes`` (elements of more than 1 bit) of the magnitudes ``qm``, each
    decision ``q << 1 | bit``.
    Each stream runs backwards. Each lane's decisions past the shortest lane's are coded alone
    first, then the rest of all four lanes in turn, one decision each, with the magnitude
    stream's in proportion between them, so that the five division chains overlap (as
    :func:`.lanes.encode4_with`); the magnitudes are most of a count chunk's decisions."""
    L = per.size
    most = per.max()
    words = np.empty((L, most + 2), np.uint32)
    state = np.zeros(L, np.uint64)
    used = np.zeros(L, np.int64)
    low = per.min() if L == NL else 0
    for ln in range(L):
        z = np.uint64(0)
        m = 0
        for i in range(per[ln] - 1, low - 1, -1):
            z, word, emit = _rans_step(z, qd[ln, U(i)])
            if emit:
                words[ln, U(m)] = word
                m += 1
        state[ln] = z
        used[ln] = m
    M = qm.size
    mag = np.empty(M + 2, np.uint32)
    zm = np.uint64(0)
    mm = 0
    p = M  # the magnitudes' decisions p .. M - 1 are coded
    if L == NL:
        z0, z1, z2, z3 = state[0], state[1], state[2], state[3]
        m0, m1, m2, m3 = used[0], used[1], used[2], used[3]
        for i in range(low - 1, -1, -1):
            for ln in range(NL):
                z0, word, emit = _rans_step(z0, qd[ln, U(i)])
                if emit:
                    words[ln, U(m0)] = word
                    m0 += 1
                z0, z1, z2, z3 = z1, z2, z3, z0
                m0, m1, m2, m3 = m1, m2, m3, m0
            if M:
                to = M * i // low
                for j in range(p - 1, to - 1, -1):
                    zm, word, emit = _rans_step(zm, qm[U(j)])
                    if emit:
                        mag[U(mm)] = word
                        mm += 1
                p = to
        state[0], state[1], state[2], state[3] = z0, z1, z2, z3
        used[0], used[1], used[2], used[3] = m0, m1, m2, m3
    for j in range(p - 1, -1, -1):  # what the lockstep loop left (all, with fewer lanes)
        zm, word, emit = _rans_step(zm, qm[U(j)])
        if emit:
            mag[U(mm)] = word
            mm += 1
    streams = []
    for ln in range(L):
        streams.append(finish(words[ln], used[ln], state[ln]).copy())
    if magnitudes:
        streams.append(finish(mag, mm, zm).copy())
    return streams


@njit(inline="always", cache=True)
def _rans_step(z, v):
    """One reverse rANS step (FORMAT.md 9.4.3) of decision ``v`` (``q << 1 | bit``) from state
    ``z``: (new state, the word it emits, whether it emits one). Scalars only, so that the
    lockstep loop keeps its four states in registers."""
    v = np.uint64(v)
    one = v >> np.uint64(1)
    zero = np.uint64(ONE) - one
    msk = np.uint64(0) - (v & np.uint64(1))
    wt = zero ^ ((zero ^ one) & msk)
    word = np.uint32(z & np.uint64(0xFFFFFFFF))
    emit = (z >> np.uint64(64 - PREC)) >= wt
    if emit:
        z >>= np.uint64(32)
    quo = z // wt
    return (quo << np.uint64(PREC)) | (z - quo * wt + (zero & msk)), word, emit


@njit(cache=True, nogil=True)
def encode(x, bits):
    """:func:`encode_with` from zero counters."""
    sg, ss, mg, ms = new_tables(x.shape[2], bits)
    return encode_with(x, bits, sg, ss, mg, ms, np.empty(0, np.uint8))


@njit(cache=True, nogil=True)
def encode_with(x, bits, sg, ss, mg, ms, work):
    """The ``ctxfast`` payload words of the (T, N, C, H, W) array ``x`` from the counter tables
    given (a prior's copy), which it updates: the stream word counts, then the streams. ``work``:
    uint8 working memory, used when it holds :func:`work_bytes` (else the loops allocate)."""
    if x.size == 0:
        return np.zeros(0, np.uint32)
    qd, per = _model_pass(x, sg, ss, work)
    qm = _magnitudes(x, bits, mg, ms, work) if bits > 1 else np.empty(0, np.uint32)
    streams = _encode_lanes(qd, per, qm, bits > 1)
    R = len(streams)
    total = R
    for s in streams:
        total += s.size
    out = np.empty(total, np.uint32)
    o = R
    for r in range(R):
        out[r] = streams[r].size
        out[o:o + streams[r].size] = streams[r]
        o += streams[r].size
    return out


@njit(cache=True, nogil=True)
def _open_streams(words, offs, L):
    """Each lane's initial coder state and read position (FORMAT.md 9.4.3): (z, r, first, bad),
    ``bad`` when a stream's last word is 0."""
    z = np.zeros(NL, np.uint64)
    r = np.zeros(NL, np.int64)
    first = np.zeros(NL, np.int64)
    for ln in range(L):
        s0, p = start(words[offs[ln]:offs[ln + 1]])
        if p < 0:
            return z, r, first, True
        z[ln] = s0
        r[ln] = p + offs[ln]
        first[ln] = offs[ln]
    return z, r, first, False


@njit(inline="always", cache=True)
def _plain_context(su, e, t, c, h, w, sT, H, W, P):
    """The significance context of FORMAT.md 9.4.12 of element ``e`` (C order, at t, c, h, w)
    from the unpadded significances ``su``, each neighbour checked against the chunk's edges."""
    hs = 0
    if t >= 1:
        hs = (1 << min(t, 3)) - 1 + su[e - sT]
        if t >= 2:
            hs += 2 * su[e - 2 * sT]
        if t >= 3:
            hs += 4 * su[e - 3 * sT]
    nb = 0
    if t >= 1:
        cnt = 0
        for dh in range(-1, 2):
            for dw in range(-1, 2):
                if (dh != 0 or dw != 0) and 0 <= h + dh < H and 0 <= w + dw < W:
                    cnt += su[e - sT + dh * W + dw]
        nb = (cnt > 0) + (cnt > 2) + (cnt > 5)
    p1 = su[e - P] if c >= 1 else 0
    p2 = su[e - 2 * P] if c >= 2 else 0
    p3 = su[e - 3 * P] if c >= 3 else 0
    p45 = 0
    if c >= 4:
        p45 = su[e - 4 * P]
    if c >= 5:
        p45 |= su[e - 5 * P]
    up = ul = ur = 0
    if h >= 1:
        up = su[e - W]
        if w >= 1:
            ul = su[e - W - 1]
        if w + 1 < W:
            ur = su[e - W + 1]
    left = su[e - 1] if w >= 1 else 0
    plane = ((((hs * 4 + nb) * 2 + p1) * 2 + p2) * 2 + p3) * 2 + p45
    return 16 * plane + 8 * up + 4 * ul + 2 * ur + left


@njit(cache=True, nogil=True)
def decode_plain_into_with(words, offs, xf, shape, strides, bits, sg, ss, mg, ms):
    """:func:`decode_into_with` without the padded copy: the significances decoded so far in an
    unpadded C-order array (one byte an element) and each context's neighbours checked against
    the chunk's edges. For planes that padding would more than double (one row or column, or a
    pixel: a padded copy of 1 x 1 planes is 9 bytes an element), so that a small file cannot ask
    for many times its output; slower, and the same decisions."""
    T, N, C, H, W = shape
    xs, sN, sC, sH, sW = strides
    L = lane_count(N)
    starts = lane_starts(N)
    z, r, first, bad = _open_streams(words, offs, L)
    if bad:
        return 1
    G = max(min(C, MAX_GROUPS), 1)
    P = H * W
    sT = N * C * P
    su = np.zeros(T * N * C * P, np.uint8)
    per = np.zeros(NL, np.int64)
    for ln in range(L):
        per[ln] = _lane_planes(T, N, C, starts, ln) * P
    kk = np.zeros(NL, np.int64)
    bit = np.zeros(NL, np.int64)
    at = np.zeros(NL, np.int64)
    to = np.zeros(NL, np.int64)
    tl, nq, blk, ob = _plain_lanes(starts, L, C, P, sN)
    c = h = w = off = gb = 0  # the step's place in every lane's plane, and in its sample
    for i in range(per.max()):
        for ln in range(L):  # every read of the step before any update
            if i >= per[ln]:
                continue
            e = blk[ln] + off
            k = _plain_context(su, e, tl[ln], c, h, w, sT, H, W, P)
            kk[ln] = k
            at[ln] = e
            to[ln] = ob[ln] + c * sC + h * sH + w * sW
            b, zz = decode_bit(z[ln], prob(sg[U(gb + k)], ss[U(k)]))
            if zz < np.uint64(LOW) and r[ln] > first[ln]:
                r[ln] -= 1
                zz = (zz << np.uint64(32)) | np.uint64(words[U(r[ln])])
            z[ln] = zz
            bit[ln] = np.int64(b)
        for ln in range(L):
            if i >= per[ln]:
                continue
            k = kk[ln]
            s = bit[ln]
            sg[U(gb + k)] = bumped(sg[U(gb + k)], s)
            ss[U(k)] = bumped(ss[U(k)], s)
            su[U(at[ln])] = s
            xf[U(to[ln])] = s
        off += 1  # the next step, as the encoder's
        w += 1
        if w == W:
            w = 0
            h += 1
            if h == H:
                h = 0
                c += 1
                if c == C:
                    c = off = 0
                    _next_block(tl, nq, blk, ob, starts, L, N, C, P, xs, sN)
                gb = (c % G) * KS
    return _finish(words, offs, xf, shape, strides, bits, mg, ms, z, r, first, L)


@njit(cache=True, nogil=True)
def decode_into_with(words, offs, xf, shape, strides, bits, sg, ss, mg, ms, work):
    """Decode a ``ctxfast`` chunk of (T, N, C, H, W) ``shape`` (at least one element) into the
    flat uint8 buffer ``xf`` with element strides ``strides``, its padded copy in ``work`` when
    that holds :func:`work_bytes`. Stream r is
    ``words[offs[r]:offs[r + 1]]`` (lanes, then the magnitudes for ``bits > 1``). Returns 0,
    1 for a malformed stream (a zero last word, words or state left over at its end) or 2 for a
    magnitude that does not fit ``bits``."""
    T, N, C, H, W = shape
    if (H + 2) * (W + 2) > 2 * H * W:  # padding would more than double the copy: without it
        return decode_plain_into_with(words, offs, xf, shape, strides, bits, sg, ss, mg, ms)
    xs, sN, sC, sH, sW = strides
    L = lane_count(N)
    starts = lane_starts(N)
    z, r, first, bad = _open_streams(words, offs, L)
    if bad:
        return 1
    G = max(min(C, MAX_GROUPS), 1)
    rw = W + 2
    cs = (H + 2) * rw
    sp = _zeroed_copy(work, T, N, C, H, W)
    planes = _lane_plane_counts(T, N, C, starts, L)
    most = planes.max()
    q0 = 0
    if L == NL:  # the planes all four lanes have: the lockstep loop, its state in registers
        q0 = planes.min()
        _decode4(words, xf, sp, z, r, first, starts, planes, q0, N, C, H, W, G, strides, sg, ss)
    # The rest, as the encoder's (:func:`_model_pass`).
    nb, tp, lo, kb, base, tt, nn = _lockstep_scratch(C, H, W)
    kk, bit, left, out = np.zeros(NL, np.int64), np.zeros(NL, np.int64), np.zeros(NL, np.int64), np.zeros(NL, np.int64)
    TB, LB, KB = nb * cs, (H + 1) * rw, W + 8
    for q in range(q0, most):
        c = q % C
        gb = (c % G) * KS
        po = _lockstep_plane(sp, tp, lo, base, tt, nn, q, starts, L, planes, N, C, H, W, nb)
        f = c * cs + rw + 1
        for ln in range(L):
            out[ln] = tt[ln] * xs + nn[ln] * sN + c * sC
        for h in range(H):
            for ln in range(L):
                if q >= planes[ln]:
                    continue
                row_context(sp, lo, kb, U(base[ln] + f + h * rw), W, rw, U(ln * LB + h * rw), U(ln * KB))
                left[ln] = 0
            for w in range(W):
                d = h * rw + w
                for ln in range(L):  # every read of the step before any update
                    if q >= planes[ln]:
                        continue
                    t0 = U(ln * TB + po + d)
                    v = U(gb) + U(256) * U(tp[t0 + U(rw)]) + U(lo[U(ln * LB + d + rw)])  # a row ahead
                    prefetch(sg, v)
                    prefetch(sg, v + U(15))
                    k = 256 * np.int64(tp[t0]) + np.int64(kb[U(ln * KB + w)]) + left[ln]
                    kk[ln] = k
                    b, zz = decode_bit(z[ln], prob(sg[U(gb + k)], ss[U(k)]))
                    if zz < np.uint64(LOW) and r[ln] > first[ln]:
                        r[ln] -= 1
                        zz = (zz << np.uint64(32)) | np.uint64(words[U(r[ln])])
                    z[ln] = zz
                    bit[ln] = np.int64(b)
                for ln in range(L):
                    if q >= planes[ln]:
                        continue
                    k = kk[ln]
                    s = bit[ln]
                    sg[U(gb + k)] = bumped(sg[U(gb + k)], s)  # written out: a helper taking the
                    ss[U(k)] = bumped(ss[U(k)], s)  # tables costs reference counts (see .counters)
                    sp[U(base[ln] + f + d)] = s
                    xf[U(out[ln] + h * sH + w * sW)] = s
                    left[ln] = s
    return _finish(words, offs, xf, shape, strides, bits, mg, ms, z, r, first, L)


@njit(cache=True, nogil=True)
def _finish(words, offs, xf, shape, strides, bits, mg, ms, z, r, first, L):
    """After the lanes' significance: the magnitude stream (a value at the top is refused as
    soon as it is decoded), then every stream's end check (FORMAT.md 9.4.12). Returns 0, 1 or 2
    as :func:`decode_into_with`."""
    status = 0
    if bits > 1:
        status = _decode_magnitudes(words[offs[L]:offs[L + 1]], xf, shape, strides, bits, mg, ms)
        if status == 2:
            return 2
    for ln in range(L):
        if z[ln] != 0 or r[ln] != first[ln]:
            return 1
    return status


@njit(cache=True, nogil=True)
def _decode4(words, xf, sp, z, r, first, starts, planes, q_end, N, C, H, W, G, strides, sg, ss):
    """Planes 0 .. ``q_end`` - 1 of all four lanes, in lockstep: :func:`_model4`'s contexts
    and order, with each lane's coder state, read position and left neighbour in scalars so
    that the four chains overlap. Leaves the coder states in ``z``, ``r``."""
    xs, sN, sC, sH, sW = strides
    rw = W + 2
    cs = (H + 2) * rw
    nb, tp, lo, kb, base, tt, nn = _lockstep_scratch(C, H, W)
    TB = U(nb * cs)  # lane l's part of tp, lo and kb starts at l TB, l LB and l KB
    LB = U((H + 1) * rw)
    KB = U(W + 8)
    T2, T3, L2, L3, K2, K3 = TB + TB, TB + TB + TB, LB + LB, LB + LB + LB, KB + KB, KB + KB + KB  # unsigned: no index checks
    R = U(rw)
    z0, z1, z2, z3 = z[0], z[1], z[2], z[3]
    r0, r1, r2, r3 = r[0], r[1], r[2], r[3]
    f0, f1, f2, f3 = first[0], first[1], first[2], first[3]
    for q in range(q_end):
        c = q % C
        gb = U((c % G) * KS)
        po = U(_lockstep_plane(sp, tp, lo, base, tt, nn, q, starts, NL, planes, N, C, H, W, nb))
        f = U(c * cs + rw + 1)
        a0, a1, a2, a3 = U(base[0]) + f, U(base[1]) + f, U(base[2]) + f, U(base[3]) + f
        o0 = U(tt[0] * xs + nn[0] * sN + c * sC)
        o1 = U(tt[1] * xs + nn[1] * sN + c * sC)
        o2 = U(tt[2] * xs + nn[2] * sN + c * sC)
        o3 = U(tt[3] * xs + nn[3] * sN + c * sC)
        for h in range(H):
            d0 = U(h * rw)
            for ln in range(NL):
                row_context(sp, lo, kb, U(base[ln]) + f + d0, W, rw, U(ln) * LB + d0, U(ln) * KB)
            l0 = l1 = l2 = l3 = np.int64(0)
            e0, e1, e2, e3 = o0 + U(h * sH), o1 + U(h * sH), o2 + U(h * sH), o3 + U(h * sH)
            for w in range(W):
                d = d0 + U(w)
                t0 = po + d
                v = gb + U(256) * U(tp[t0 + R]) + U(lo[d + R])
                prefetch(sg, v)
                prefetch(sg, v + U(15))
                v = gb + U(256) * U(tp[TB + t0 + R]) + U(lo[LB + d + R])
                prefetch(sg, v)
                prefetch(sg, v + U(15))
                v = gb + U(256) * U(tp[T2 + t0 + R]) + U(lo[L2 + d + R])
                prefetch(sg, v)
                prefetch(sg, v + U(15))
                v = gb + U(256) * U(tp[T3 + t0 + R]) + U(lo[L3 + d + R])
                prefetch(sg, v)
                prefetch(sg, v + U(15))
                k0 = U(256) * U(tp[t0]) + U(kb[U(w)]) + U(l0)
                k1 = U(256) * U(tp[TB + t0]) + U(kb[KB + U(w)]) + U(l1)
                k2 = U(256) * U(tp[T2 + t0]) + U(kb[K2 + U(w)]) + U(l2)
                k3 = U(256) * U(tp[T3 + t0]) + U(kb[K3 + U(w)]) + U(l3)
                j0, j1, j2, j3 = gb + k0, gb + k1, gb + k2, gb + k3
                b0, z0 = decode_bit(z0, prob(sg[j0], ss[k0]))
                b1, z1 = decode_bit(z1, prob(sg[j1], ss[k1]))
                b2, z2 = decode_bit(z2, prob(sg[j2], ss[k2]))
                b3, z3 = decode_bit(z3, prob(sg[j3], ss[k3]))
                if z0 < np.uint64(LOW) and r0 > f0:
                    r0 -= 1
                    z0 = (z0 << np.uint64(32)) | np.uint64(words[U(r0)])
                if z1 < np.uint64(LOW) and r1 > f1:
                    r1 -= 1
                    z1 = (z1 << np.uint64(32)) | np.uint64(words[U(r1)])
                if z2 < np.uint64(LOW) and r2 > f2:
                    r2 -= 1
                    z2 = (z2 << np.uint64(32)) | np.uint64(words[U(r2)])
                if z3 < np.uint64(LOW) and r3 > f3:
                    r3 -= 1
                    z3 = (z3 << np.uint64(32)) | np.uint64(words[U(r3)])
                l0, l1, l2, l3 = np.int64(b0), np.int64(b1), np.int64(b2), np.int64(b3)
                sg[j0] = bumped(sg[j0], l0)  # lane order, each from the table as it
                ss[k0] = bumped(ss[k0], l0)  # stands: two lanes may share a counter
                sg[j1] = bumped(sg[j1], l1)
                ss[k1] = bumped(ss[k1], l1)
                sg[j2] = bumped(sg[j2], l2)
                ss[k2] = bumped(ss[k2], l2)
                sg[j3] = bumped(sg[j3], l3)
                ss[k3] = bumped(ss[k3], l3)
                sp[a0 + d] = l0
                sp[a1 + d] = l1
                sp[a2 + d] = l2
                sp[a3 + d] = l3
                xf[e0 + U(w * sW)] = l0
                xf[e1 + U(w * sW)] = l1
                xf[e2 + U(w * sW)] = l2
                xf[e3 + U(w * sW)] = l3
    z[0], z[1], z[2], z[3] = z0, z1, z2, z3
    r[0], r[1], r[2], r[3] = r0, r1, r2, r3


@njit(cache=True, nogil=True)
def _decode_magnitudes(words, xf, shape, strides, bits, mg, ms):
    """Decode the magnitude stream into the significance bits already in ``xf`` (C order).

    The serial chain is cut two ways. Both children's probabilities of a tree node are computed
    before its bit is decoded (a child's counters are never the node's). And once this element's
    root bit is counted, the next nonzero element's root probability is computed for each value
    this one can add to its bucket (capped at 3: 1, 2 or 3 if it is the next one's left or upper
    neighbour, else none), so that this value, once decoded, only picks one, without a branch.
    Those counters are read after this root's update: the next root is this root when their
    buckets are equal, and never another node of this element (a bucket's nodes are
    ``b + 1 .. b + 2**bits - 1``)."""
    T, N, C, H, W = shape
    xs, sN, sC, sH, sW = strides
    state, r = start(words)
    if r < 0:
        return 1
    GM = mag_groups(C, bits)
    km = 256 << bits
    top = (1 << bits) - 1
    P = H * W
    spot = np.empty(SPOTS + 1, np.int64)
    for t in range(T):
        for n in range(N):
            for c in range(C):
                gb = (c % GM) * km
                e0 = t * xs + n * sN + c * sC
                for p0 in range(0, P, SPOTS):  # a block of the plane at a time
                    count = _nonzeros(xf, e0, p0, min(p0 + SPOTS, P), W, sH, sW, spot)
                    if count == 0:
                        continue
                    spot[U(count)] = spot[U(count - 1)]  # the last one's next: computed, unused
                    h = spot[0] >> 32
                    w = spot[0] & 0xFFFFFFFF
                    e = e0 + h * sH + w * sW
                    b = _bucket(xf, e, t, h, w, xs, sH, sW) << bits
                    cv = np.int64(mg[U(gb + b + 1)])
                    sv = np.int64(ms[U(b + 1)])
                    q = prob(cv, sv)
                    for j in range(count):
                        # The root: its children's probabilities first, then the bit.
                        q0 = prob(mg[U(gb + b + 2)], ms[U(b + 2)])
                        q1 = prob(mg[U(gb + b + 3)], ms[U(b + 3)])
                        bit, state = decode_bit(state, q)
                        if state < np.uint64(LOW) and r > 0:
                            r -= 1
                            state = (state << np.uint64(32)) | np.uint64(words[U(r)])
                        bit = np.int64(bit)
                        mg[U(gb + b + 1)] = bumped(cv, bit)
                        ms[U(b + 1)] = bumped(sv, bit)
                        node = 2 + bit
                        q = pick(opaque(-bit), q0, q1)
                        # The next element's bucket and root for each value this one can take
                        # (capped: 1, 2, 3), so that its value only picks one: this element is
                        # its left or upper neighbour (weight 16 or 64 in the bucket) or neither.
                        hn = spot[U(j + 1)] >> 32
                        wn = spot[U(j + 1)] & 0xFFFFFFFF
                        en = e0 + hn * sH + wn * sW
                        bn = _bucket(xf, en, t, hn, wn, xs, sH, sW) << bits  # with this one at 1
                        left_of = (hn == h) & (wn == w + 1)
                        above = (hn == h + 1) & (wn == w)
                        step = ((16 & -np.int64(left_of)) | (64 & -np.int64(above))) << bits
                        cn1 = np.int64(mg[U(gb + bn + 1)])
                        sn1 = np.int64(ms[U(bn + 1)])
                        cn2 = np.int64(mg[U(gb + bn + step + 1)])
                        sn2 = np.int64(ms[U(bn + step + 1)])
                        cn3 = np.int64(mg[U(gb + bn + 2 * step + 1)])
                        sn3 = np.int64(ms[U(bn + 2 * step + 1)])
                        qn1 = prob(cn1, sn1)
                        qn2 = prob(cn2, sn2)
                        qn3 = prob(cn3, sn3)
                        for _ in range(bits - 2):
                            kc = b + 2 * node
                            q0 = prob(mg[U(gb + kc)], ms[U(kc)])
                            q1 = prob(mg[U(gb + kc + 1)], ms[U(kc + 1)])
                            bit, state = decode_bit(state, q)
                            if state < np.uint64(LOW) and r > 0:
                                r -= 1
                                state = (state << np.uint64(32)) | np.uint64(words[U(r)])
                            bit = np.int64(bit)
                            mg[U(gb + b + node)] = bumped(mg[U(gb + b + node)], bit)
                            ms[U(b + node)] = bumped(ms[U(b + node)], bit)
                            node = 2 * node + bit
                            q = pick(opaque(-bit), q0, q1)
                        bit, state = decode_bit(state, q)  # the last bit: a leaf, no children
                        if state < np.uint64(LOW) and r > 0:
                            r -= 1
                            state = (state << np.uint64(32)) | np.uint64(words[U(r)])
                        bit = np.int64(bit)
                        mg[U(gb + b + node)] = bumped(mg[U(gb + b + node)], bit)
                        ms[U(b + node)] = bumped(ms[U(b + node)], bit)
                        m = 2 * node + bit - (1 << bits)
                        if m == top:
                            return 2
                        xf[U(e)] = m + 1
                        v2 = opaque(-np.int64(m == 1))
                        v3 = opaque(-np.int64(m >= 2))
                        bn += pick(v2, 0, step) + pick(v3, 0, 2 * step)
                        cn = pick(v3, pick(v2, cn1, cn2), cn3)
                        sn = pick(v3, pick(v2, sn1, sn2), sn3)
                        qn = pick(v3, pick(v2, qn1, qn2), qn3)
                        e, h, w, b, cv, sv, q = en, hn, wn, bn, cn, sn, qn
    if state != 0 or r != 0:
        return 1
    return 0
