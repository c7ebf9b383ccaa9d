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

This module holds the lanes themselves: the counter tables, the step loops of the encoder
(:func:`_model_pass`, four lanes in lockstep :func:`_model4`) and decoder
(:func:`decode_into_with`, :func:`_decode4`, and :func:`_decode1` for one lane), the rANS
coding of the lanes' streams with the magnitude stream between their steps
(:func:`_encode_lanes`), and the entry points the codec calls. The rest, one module a part, below this one (none imports it):

* :mod:`.fast_layout` - the lanes' layout: how many, their samples and planes, their streams.
* :mod:`.fast_contexts` - the zero-padded significance copy and the context parts on it, computed
  eight elements a word, that the step loops add up.
* :mod:`.fast_plain` - planes that padding would more than double, coded without it.
* :mod:`.fast_magnitudes` - the magnitude pass, and the decoder's end checks.

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
from .counters import ONE, PREC, bumped, next_counters
from .fast_contexts import (lockstep_plane, lockstep_scratch, padded_bytes, padded_significance, row_context, work_bytes,
                            zeroed_copy)
from .fast_layout import KS, NL, lane_count, lane_plane_counts, lane_starts, open_streams
from .fast_magnitudes import finish_decode, magnitude_pass, magnitude_work_bytes
from .fast_plain import decode_plain_into_with, model_pass_plain
from .ops import U, opaque, pick, prefetch
from .rans import LOW, decode_bit, finish

# The codec's interface (spikecodec/codecs/ctxfast.py loads this module), some of it defined in
# the modules above.
__all__ = ["KS", "NL", "counter_dims", "decode_into_with", "decode_plain_into_with", "encode", "encode_with", "lane_count",
           "lane_starts", "magnitude_work_bytes", "new_tables", "padded_significance", "work_bytes"]


# Significance entries (4 bytes each) from which the step loops ask for the counters a row ahead:
# a table that a core's cache holds gains nothing from the hints and pays their address loads
# (decoding 7 x 7 to 28 x 28 planes of 12 to 64 channel groups ran 4-9% faster without them),
# while one of 96 or 128 groups (6 to 8 MiB) lost up to a fifth of its speed without them.
FAR_ENTRIES = 1 << 20


@njit(inline="always", cache=True)
def _far(G):
    """Whether a significance table of G channel groups is large enough to prefetch from."""
    return G * KS > FAR_ENTRIES


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


@njit(cache=True, nogil=True)
def _model_pass(x, sg, ss, work):
    """The encoder's forward pass over the lanes of the (T, N, C, H, W) array ``x``: per lane,
    every significance decision as ``q << 1 | bit``, lane-major, with the step rule of
    FORMAT.md 9.4.12, and each lane's decision count. Updates ``sg``, ``ss``; the padded copy
    and the decisions are in ``work`` when it holds them (:func:`work_bytes`)."""
    T, N, C, H, W = x.shape
    if (H + 2) * (W + 2) > 2 * H * W:  # as the decoder: planes that padding would more than double
        return model_pass_plain(x, sg, ss)
    L = lane_count(N)
    starts = lane_starts(N)
    G = max(min(C, MAX_GROUPS), 1)
    rw = W + 2
    cs = (H + 2) * rw
    sp = padded_significance(x, work)  # filled up front: contexts are causal
    P = H * W
    planes = lane_plane_counts(T, N, C, starts, L)
    per = planes[:L] * P
    most = planes.max()
    m = max(per.max(), 1) if L else 1
    o = padded_bytes(T, N, C, H, W)
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
    nb, tp, lo, kb, base, tt, nn = lockstep_scratch(C, H, W)
    kk, bit, left = np.zeros(NL, np.int64), np.zeros(NL, np.int64), np.zeros(NL, np.int64)
    TB, LB, KB = nb * cs, (H + 1) * rw, W + 8
    for q in range(q0, most):
        c = q % C
        gb = (c % G) * KS
        po = lockstep_plane(sp, tp, lo, base, tt, nn, q, starts, L, planes, N, C, H, W, nb)
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


@njit(cache=True, nogil=True)
def _model4(sp, qd, starts, planes, q_end, N, C, H, W, G, sg, ss):
    """Planes 0 .. ``q_end`` - 1 of all four lanes of :func:`_model_pass`, in lockstep, each
    step's four reads before its four updates. Contexts come in parts (see :func:`.fast_contexts.time_part`),
    so a plane costs little of its own and small planes (7 x 7) run nearly as fast as large
    ones. The counters of the element a row below are asked for a row ahead (its time and
    channel parts are known): a table of many channel groups outgrows the core's caches. Its
    16 contexts (up, ul, ur, left) are 64 bytes, one cache line where the table is aligned to
    64 bytes (the codec's fresh tables are) and two where it is not (a prior's copy): both asked for."""
    rw = W + 2
    cs = (H + 2) * rw
    P = H * W
    nb, tp, lo, kb, base, tt, nn = lockstep_scratch(C, H, W)
    TB = U(nb * cs)  # lane l's part of tp, lo and kb starts at l TB, l LB and l KB
    LB = U((H + 1) * rw)
    KB = U(W + 8)
    T2, T3, L2, L3, K2, K3 = TB + TB, TB + TB + TB, LB + LB, LB + LB + LB, KB + KB, KB + KB + KB  # unsigned: no index checks
    R = U(rw)
    for q in range(q_end):
        c = q % C
        gb = U((c % G) * KS)
        po = U(lockstep_plane(sp, tp, lo, base, tt, nn, q, starts, NL, planes, N, C, H, W, nb))
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
    qm = magnitude_pass(x, bits, mg, ms, work) if bits > 1 else np.empty(0, np.uint32)
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
    z, r, first, bad = open_streams(words, offs, L)
    if bad:
        return 1
    G = max(min(C, MAX_GROUPS), 1)
    rw = W + 2
    cs = (H + 2) * rw
    sp = zeroed_copy(work, T, N, C, H, W)
    planes = lane_plane_counts(T, N, C, starts, L)
    most = planes.max()
    q0 = 0
    if L == NL:  # the planes all four lanes have: the lockstep loop, its state in registers
        q0 = planes.min()
        _decode4(words, xf, sp, z, r, first, starts, planes, q0, N, C, H, W, G, strides, sg, ss)
    elif L == 1:  # one chain: each decision's successor prepared for both of its bits
        q0 = most
        _decode1(words, xf, sp, z, r, first, starts, planes, N, C, H, W, G, strides, sg, ss)
    # The rest, as the encoder's (:func:`_model_pass`).
    nb, tp, lo, kb, base, tt, nn = lockstep_scratch(C, H, W)
    kk, bit, left, out = np.zeros(NL, np.int64), np.zeros(NL, np.int64), np.zeros(NL, np.int64), np.zeros(NL, np.int64)
    TB, LB, KB = nb * cs, (H + 1) * rw, W + 8
    far = _far(G)
    for q in range(q0, most):
        c = q % C
        gb = (c % G) * KS
        po = lockstep_plane(sp, tp, lo, base, tt, nn, q, starts, L, planes, N, C, H, W, nb)
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
                    if far:
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
    return finish_decode(words, offs, xf, shape, strides, bits, mg, ms, z, r, first, L)


@njit(cache=True, nogil=True)
def _decode4(words, xf, sp, z, r, first, starts, planes, q_end, N, C, H, W, G, strides, sg, ss):
    """Planes 0 .. ``q_end`` - 1 of all four lanes, in lockstep: :func:`_model4`'s contexts
    and order, with each lane's coder state, read position and left neighbour in scalars so
    that the four chains overlap; the counters a row ahead are asked for only from a table past
    :data:`FAR_ENTRIES` (the encoder, with no serial chain to wait on, asks always). Leaves the
    coder states in ``z``, ``r``."""
    xs, sN, sC, sH, sW = strides
    rw = W + 2
    cs = (H + 2) * rw
    nb, tp, lo, kb, base, tt, nn = lockstep_scratch(C, H, W)
    TB = U(nb * cs)  # lane l's part of tp, lo and kb starts at l TB, l LB and l KB
    LB = U((H + 1) * rw)
    KB = U(W + 8)
    T2, T3, L2, L3, K2, K3 = TB + TB, TB + TB + TB, LB + LB, LB + LB + LB, KB + KB, KB + KB + KB  # unsigned: no index checks
    R = U(rw)
    far = _far(G)
    z0, z1, z2, z3 = z[0], z[1], z[2], z[3]
    r0, r1, r2, r3 = r[0], r[1], r[2], r[3]
    f0, f1, f2, f3 = first[0], first[1], first[2], first[3]
    for q in range(q_end):
        c = q % C
        gb = U((c % G) * KS)
        po = U(lockstep_plane(sp, tp, lo, base, tt, nn, q, starts, NL, planes, N, C, H, W, nb))
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
                if far:
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
def _decode1(words, xf, sp, z, r, first, starts, planes, N, C, H, W, G, strides, sg, ss):
    """Every plane of a chunk of one lane (one sample): the decisions of :func:`decode_into_with`,
    in order, with nothing beside them to fill a decision's wait. So, as the ``context``
    decoder, while a bit is decoded the next element's two possible contexts (its left
    neighbour 0 or 1) and their probabilities are computed, from the counters as this decision
    will leave them (:func:`.counters.next_counters`); the bit then picks one. A row's last
    element prepares nothing (the next row's contexts need this row). Leaves the coder state
    in ``z``, ``r``."""
    xs, sN, sC, sH, sW = strides
    rw = W + 2
    cs = (H + 2) * rw
    nb, tp, lo, kb, base, tt, nn = lockstep_scratch(C, H, W)
    far = _far(G)
    z0, r0, f0 = z[0], r[0], first[0]
    for q in range(planes[0]):
        c = q % C
        gb = U((c % G) * KS)
        po = U(lockstep_plane(sp, tp, lo, base, tt, nn, q, starts, 1, planes, N, C, H, W, nb))
        f = U(c * cs + rw + 1)
        a0 = U(base[0]) + f
        o0 = U(tt[0] * xs + nn[0] * sN + c * sC)
        for h in range(H):
            d0 = U(h * rw)
            row_context(sp, lo, kb, U(base[0]) + f + d0, W, rw, d0, U(0))
            e0 = o0 + U(h * sH)
            t0 = po + d0
            k = U(256) * U(tp[t0]) + U(kb[0])  # left = 0
            cv = np.int64(sg[gb + k])
            sv = np.int64(ss[k])
            qp = prob(cv, sv)
            for w in range(W - 1):
                if far:
                    v = gb + U(256) * U(tp[t0 + U(rw + w)]) + U(lo[d0 + U(rw + w)])  # a row ahead
                    prefetch(sg, v)
                    prefetch(sg, v + U(15))
                n0 = U(256) * U(tp[t0 + U(w + 1)]) + U(kb[U(w + 1)])  # the next context, left = 0
                n1 = n0 + U(1)
                u0, v0, u1, v1, g0, s0, g1, s1 = next_counters(cv, sv, np.int64(k), np.int64(n0), np.int64(n1),
                                                               np.int64(sg[gb + n0]), np.int64(ss[n0]),
                                                               np.int64(sg[gb + n1]), np.int64(ss[n1]))
                q0 = prob(g0, s0)
                q1 = prob(g1, s1)
                b, z0 = decode_bit(z0, qp)
                if z0 < np.uint64(LOW) and r0 > f0:
                    r0 -= 1
                    z0 = (z0 << np.uint64(32)) | np.uint64(words[U(r0)])
                bit = np.int64(b)
                m = opaque(-bit)
                sg[gb + k] = pick(m, u0, u1)
                ss[k] = pick(m, v0, v1)
                sp[a0 + d0 + U(w)] = bit
                xf[e0 + U(w * sW)] = bit
                k = n0 + U(bit)
                cv = pick(m, g0, g1)
                sv = pick(m, s0, s1)
                qp = pick(m, q0, q1)
            b, z0 = decode_bit(z0, qp)  # the row's last element
            if z0 < np.uint64(LOW) and r0 > f0:
                r0 -= 1
                z0 = (z0 << np.uint64(32)) | np.uint64(words[U(r0)])
            bit = np.int64(b)
            sg[gb + k] = bumped(cv, bit)
            ss[k] = bumped(sv, bit)
            sp[a0 + d0 + U(W - 1)] = bit
            xf[e0 + U((W - 1) * sW)] = bit
    z[0], r[0] = z0, r0
