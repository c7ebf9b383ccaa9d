"""Compiled (numba) loops of the ``mix`` codec (FORMAT.md 9.4.10): five adaptive context models,
two of them keyed by the channels already coded at this pixel, mixed in the logistic domain and
arithmetic coded, one sample at a time.

Integer arithmetic only: the STRETCH, SQUASH and RATE tables, the state words and the binary
arithmetic coder are :mod:`.binary`'s, shared with ``ctxmix`` (FORMAT.md 9.4.9), so encoder and
decoder agree on every probability on every machine.

Order: sample by sample (n), and within a sample t, h, w, c - channels last, so a pixel's
channel vector is coded in one run; the models keep what they learn from sample to sample.
Memory beyond the tables is one sample's history bytes and two zero-padded significance planes
(this step's and the last, (H + 2) (W + 2) (C + 3) bytes each), from which every neighbour is
one load at a fixed offset. Per significance decision (x > 0):

* A, *neighbourhood*: (channel group, t) x 12 causal neighbours (left, up, up-left, up-right;
  t-1 at the pixel, its right, below, left, up and next channel; channels c-1, c-2 here);
* B, *history*: (channel group, t) x the neuron's last 7 steps x 4 neighbours;
* C, *position*: (t, h, w, c) x 4 neighbours - what one network emits where;
* D, *pixel vector*: (channel group, t) and the significances of channels 0 .. c-1 at this
  pixel (a running hash);
* E, *pixel pair*: D's context and the whole vector of the pixel to the left.

Here t stands for tp = min(t, min(T, 4) - 1): steps from the fourth on share their states.
FORMAT.md 9.4.10 gives every key exactly.

D and E are hashed by groups of 4 channels: the context at a group's first channel picks a line
of 16 states, the group's spikes so far one state in it (one cache line per 4 decisions, not 4).
The models' stretched probabilities are summed with weights chosen by (channel group, t, own
t-1, own t-2, up, left); multi-bit elements then code their level and escape decisions with two
models (F by the neighbours' values, G by position), as ``ctxmix`` does.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .binary import (cannot_end, clamped_weight, code_bit, ends_as_encoded, finish, journal5, journal_entries, learn5, mix5, squashed,
                     start, stretched, undo_journal, updated)
from .ops import U, prefetch

HASH_MUL = np.uint64(0x9E3779B97F4A7C15)
VECTOR_MUL = np.uint64(0x100000001B3)  # the pixel vector's running hash: (v + bit + 1) * this
LEFT_MUL = np.uint64(0x2545F4914F6CDD1D)  # combines the left pixel's vector with this one's
TPOS = 4  # timesteps told apart (t >= 3 share one)
GROUPS_CAP = 64  # channel groups: c mod min(C, 64) (bounds tables A, B, F and the weights)
TABLE_CAP_BITS = 22  # tables A, B, F: direct up to 2**22 contexts, else hashed into 2**22
LEARNING_RATE = 14  # mixer: err = ((bit << 12) - p) * LEARNING_RATE
SIG_INIT = 19661  # 0.3: the initial weight of each significance model
MAG_INIT = 32768  # 0.5: the initial weight of each magnitude model
SIG_MODELS = 5
MAG_MODELS = 2
SETS_PER_GROUP = 16  # significance weight sets per (channel group, t): own t-1, t-2, up, left


@njit(cache=True, nogil=True)
def groups(C):
    return max(1, min(C, GROUPS_CAP))


@njit(cache=True, nogil=True)
def mag_nodes(bits):
    """Magnitude decision nodes: the two level decisions and the escape tree's 2**bits - 1."""
    return (1 << bits) + 1 if bits > 1 else 0


@njit(cache=True, nogil=True)
def hash_bits(T, C, H, W):
    """Size (log2 of entries) of tables D and E, and the cap of C and G: log2 of the positions
    (rounded up) + 6, within 16 .. 22."""
    positions = min(T, TPOS) * C * H * W
    k = 0
    while (1 << k) < positions:
        k += 1
    return min(TABLE_CAP_BITS, max(16, k + 6))


@njit(cache=True, nogil=True)
def context_counts(T, C, H, W, bits):
    """Contexts of each table, in order A, B, C, D, E (significance), F, G (magnitude); D and E
    are always hashed (given as -1)."""
    tp = min(T, TPOS)
    g = groups(C)
    nn = mag_nodes(bits)
    pc = tp * C * H * W
    return np.array([g * tp * 4096, g * tp * 4096, pc * 16, -1, -1, g * tp * nn * 256, pc * nn * 4], np.int64)


@njit(cache=True, nogil=True)
def table_sizes(T, C, H, W, bits):
    """Entries of each table: its context count up to its cap (2**22 for A, B, F; 2**hash_bits
    for C, G); D and E 2**hash_bits. Every size but G's is a multiple of 16, so D's and E's
    lines of 16 states start at multiples of 16."""
    k = context_counts(T, C, H, W, bits)
    hb = 1 << hash_bits(T, C, H, W)
    cap = 1 << TABLE_CAP_BITS
    return np.array([min(k[0], cap), min(k[1], cap), min(k[2], hb), hb, hb, min(k[5], cap), min(k[6], hb)], np.int64)


def weight_count(T: int, C: int, H: int, W: int, bits: int) -> int:
    """Significance sets (channel groups x t x 16) x (5 models + bias), magnitude sets
    (nodes x 4) x (2 models + bias)."""
    return int(groups(C)) * min(T, TPOS) * SETS_PER_GROUP * (SIG_MODELS + 1) + int(mag_nodes(bits)) * 4 * (MAG_MODELS + 1)


def initial_weights(T: int, C: int, H: int, W: int, bits: int) -> np.ndarray:
    """Each model input weighs SIG_INIT (significance) or MAG_INIT (magnitude), each bias 0."""
    w = np.zeros(weight_count(T, C, H, W, bits), np.int32)
    nsig = int(groups(C)) * min(T, TPOS) * SETS_PER_GROUP * (SIG_MODELS + 1)
    w[:nsig].reshape(-1, SIG_MODELS + 1)[:, :SIG_MODELS] = SIG_INIT
    w[nsig:].reshape(-1, MAG_MODELS + 1)[:, :MAG_MODELS] = MAG_INIT
    return w


@njit(inline="always", cache=True)
def _slot(key, shift, offset):
    """Index of context ``key`` of a table at ``offset``: the key itself when the table holds
    every context (``shift`` 0), else the top 64 - ``shift`` bits of key * HASH_MUL (mod 2**64)."""
    if shift == 0:
        return offset + key
    return offset + np.int64((np.uint64(key) * HASH_MUL) >> np.uint64(shift))


@njit(inline="always", cache=True)
def pixel_line(here, ct, shift, offset):
    """Start of model D's line of 16 states: (this pixel's channels so far ``here``, ``ct``)
    hashed to the top 64 - ``shift`` - 4 bits."""
    return offset + (np.int64(((here + np.uint64(ct)) * HASH_MUL) >> np.uint64(shift + 4)) << 4)


@njit(inline="always", cache=True)
def pair_line(left_vector, here, ct, shift, offset):
    """Start of the pixel-pair model's line of 16 states (``mix``'s E, ``winmix``'s E): (the
    left pixel's vector, ``here``, ``ct``) hashed to the top 64 - ``shift`` - 4 bits."""
    return offset + (np.int64((((left_vector * LEFT_MUL + here) * VECTOR_MUL + np.uint64(ct)) * HASH_MUL) >> np.uint64(shift + 4)) << 4)


@njit(inline="always", cache=True)
def next_here(here, bit):
    """``here`` (the hash of a pixel's channels coded so far) after one more decision ``bit``."""
    return (here + np.uint64(bit + 1)) * VECTOR_MUL


@njit(inline="always", cache=True)
def neighbourhood(sig, i, j, sw, sh):
    """The neighbours of the element at ``i`` of this step's padded plane ``sig`` (``j``: its place
    in the step before's; ``sw``, ``sh``: a pixel's and a row's stride) and table A's 12-bit key of
    them (FORMAT.md 9.4.10). Returns (key, le, up, c1, c2, p1, pr): left, up, channel c - 1 and
    c - 2 of this step; the same element and its right neighbour at the step before."""
    le = np.int64(sig[i - U(sw)])
    up = np.int64(sig[i - U(sh)])
    ul = np.int64(sig[i - U(sh + sw)])
    ur = np.int64(sig[i - U(sh - sw)])
    c1 = np.int64(sig[i - U(1)])
    c2 = np.int64(sig[i - U(2)])
    p1 = np.int64(sig[j])
    pr = np.int64(sig[j + U(sw)])
    pd = np.int64(sig[j + U(sh)])
    pl = np.int64(sig[j - U(sw)])
    pu = np.int64(sig[j - U(sh)])
    pn = np.int64(sig[j + U(1)])
    key = le | up << 1 | ul << 2 | ur << 3 | p1 << 4 | c1 << 5 | pr << 6 | pd << 7 | c2 << 8 | pn << 9 | pl << 10 | pu << 11
    return key, le, up, c1, c2, p1, pr


@njit(inline="always", cache=True)
def abc_slots(ct, hs, pos, key, le, up, c1, p1, pr, sh0, sh1, sh2, o0, o1, o2):
    """The states of tables A (channel group and step x the neighbourhood ``key``), B (x the
    neuron's history ``hs``) and C (the element's position ``pos``) (FORMAT.md 9.4.10)."""
    return (_slot(ct * 4096 + key, sh0, o0),
            _slot((ct * 256 + hs) * 16 + (le | up << 1 | c1 << 2 | pr << 3), sh1, o1),
            _slot(pos * 16 + (le | up << 1 | p1 << 2 | c1 << 3), sh2, o2))


@njit(inline="always", cache=True)
def _val3(x, t, n, c, h, w, inside):
    """min(x[t, n, c, h, w], 3) when ``inside``, else 0."""
    return min(np.int64(x[t, n, c, h, w]), 3) if inside else np.int64(0)


@njit(inline="always", cache=True)
def _mag_decide(st, out, data, encoding, bit, tabs, wts, i0, i1, wm, journal, jidx, jval, jn):
    """One magnitude decision: mix tables ``i0``, ``i1`` with the weights at ``wm``, code ``bit``
    (encoding) or decode it, update; table writes journalled at ``jn[0]`` when ``journal``.
    Returns the bit."""
    s0 = stretched(tabs[i0])
    s1 = stretched(tabs[i1])
    p = squashed((np.int64(wts[wm]) * s0 + np.int64(wts[wm + 1]) * s1 + np.int64(wts[wm + 2]) * 256) >> 16)
    bit = code_bit(st, out, data, encoding, bit, p)
    err = ((bit << 12) - p) * LEARNING_RATE
    wts[wm] = clamped_weight(np.int64(wts[wm]) + ((s0 * err) >> 16))
    wts[wm + 1] = clamped_weight(np.int64(wts[wm + 1]) + ((s1 * err) >> 16))
    wts[wm + 2] = clamped_weight(np.int64(wts[wm + 2]) + ((256 * err) >> 16))
    if journal:
        jidx[jn[0]] = i0
        jval[jn[0]] = tabs[i0]
        jidx[jn[0] + 1] = i1
        jval[jn[0] + 1] = tabs[i1]
        jn[0] += 2
    tabs[i0] = updated(tabs[i0], bit)
    tabs[i1] = updated(tabs[i1], bit)
    return bit


@njit(cache=True, nogil=True)
def _code(x, bits, tabs, wts, out, data, encoding, journal):
    """Code the canonical (T, N, C, H, W) uint8 array ``x``: read from it when ``encoding``
    (bytes to ``out``), else decoded from ``data`` into it. ``tabs`` / ``wts`` are the model
    state, updated in place (table writes undone at the end with ``journal``). Returns (coder
    state, status): status 0 ok, 2 a decoded value above 2**bits - 1."""
    T, N, C, H, W = x.shape
    tpos = min(T, TPOS)
    g = groups(C)
    nn = mag_nodes(bits)
    top = (1 << bits) - 1
    counts = context_counts(T, C, H, W, bits)
    sizes = table_sizes(T, C, H, W, bits)
    offs = np.zeros(8, np.int64)
    for m in range(7):
        offs[m + 1] = offs[m] + sizes[m]
    shifts = np.zeros(7, np.int64)  # 0: indexed directly; else 64 - log2(entries): hashed
    for m in range(7):
        if counts[m] != sizes[m]:
            shifts[m] = 64 - (TABLE_CAP_BITS if m in (0, 1, 5) else hash_bits(T, C, H, W))
    sh0, sh1, sh2, sh3, sh4, sh5, sh6 = shifts[0], shifts[1], shifts[2], shifts[3], shifts[4], shifts[5], shifts[6]  # tables A .. G
    o0, o1, o2, o3, o4 = offs[0], offs[1], offs[2], offs[3], offs[4]
    mag_w0 = g * tpos * SETS_PER_GROUP * (SIG_MODELS + 1)
    # Significance of this step and the step before, channels last and zero-padded (a row and a
    # column on each side, two channels before and one after), so that every neighbour is one
    # unconditional load at a fixed offset. Causal reads of this step only reach positions this
    # step has written; the step before is zero at t = 0.
    sw = C + 3
    sh = (W + 2) * sw
    plane = (H + 2) * sh
    sig = np.zeros(2 * plane, np.uint8)
    hist = np.ones(H * W * C, np.uint8)  # one sample's: 1, then the last min(t, 7) significances
    jcap = journal_entries(x.size, bits, SIG_MODELS, MAG_MODELS) if journal else 0
    jidx = np.empty(jcap, np.int64)
    jval = np.empty(jcap, np.uint32)
    jn = np.zeros(1, np.int64)  # journal entries written
    st = start(data, encoding)
    line3 = 0
    line4 = 0
    group_node = 1
    here = np.uint64(0)
    status = 0
    for n in range(N):
        hist[:] = 1
        sig[:] = 0
        for t in range(T):
            tp = min(t, tpos - 1)
            cur = U((t & 1) * plane)
            prv = U(((t + 1) & 1) * plane)
            t1 = t > 0
            t2 = t > 1
            for h in range(H):
                for w in range(W):
                    has_l = w > 0
                    has_u = h > 0
                    left_vector = here if has_l else np.uint64(0)  # the left pixel's whole vector
                    here = np.uint64(0)
                    pix = U((h + 1) * sh + (w + 1) * sw + 2)
                    bc = cur + pix  # this step's channel 0 at this pixel
                    bp = prv + pix
                    hw = U((h * W + w) * C)
                    pos0 = ((tp * H + h) * W + w) * C
                    for c in range(C):
                        if not encoding and cannot_end(st, data):  # before each element (FORMAT.md 9.4.9, 9.4.10)
                            status = 1
                            break
                        cu = U(c)
                        cg = c % g
                        ct = cg * tpos + tp
                        i = bc + cu
                        j = bp + cu
                        near, le, up, c1, c2, p1, pr = neighbourhood(sig, i, j, sw, sh)
                        hs = np.int64(hist[hw + cu])
                        p2 = (hs >> 1) & 1 if t2 else np.int64(0)
                        pos = pos0 + c
                        i0, i1, i2 = abc_slots(ct, hs, pos, near, le, up, c1, p1, pr, sh0, sh1, sh2, o0, o1, o2)
                        if c & 3 == 0:
                            # A group of 4 channels shares one line of 16 states per model: its
                            # start's context picks the line, the group's bits so far the state.
                            line3 = pixel_line(here, ct, sh3, o3)
                            line4 = pair_line(left_vector, here, ct, sh4, o4)
                            group_node = 1
                        elif c & 3 == 3 and c + 1 < C:
                            # The next group's lines of D and E for either value of this decision,
                            # fetched while it is coded: otherwise their cache misses (tables
                            # read at random) lie on the serial chain between decisions.
                            ctn = ((c + 1) % g) * tpos + tp
                            for b in range(2):
                                prefetch(tabs, U(pixel_line(next_here(here, b), ctn, sh3, o3)))
                                prefetch(tabs, U(pair_line(left_vector, next_here(here, b), ctn, sh4, o4)))
                        i3 = line3 + group_node
                        i4 = line4 + group_node
                        wi = U(((ct * SETS_PER_GROUP) + (p1 | up << 1 | le << 2 | p2 << 3)) * (SIG_MODELS + 1))
                        p, s0, s1, s2, s3, s4 = mix5(tabs, wts, wi, U(i0), U(i1), U(i2), U(i3), U(i4))
                        v = np.int64(x[t, n, c, h, w]) if encoding else 0
                        bit = code_bit(st, out, data, encoding, 1 if v else 0, p)
                        if journal:
                            journal5(tabs, jidx, jval, jn, i0, i1, i2, i3, i4)
                        learn5(tabs, wts, wi, U(i0), U(i1), U(i2), U(i3), U(i4), s0, s1, s2, s3, s4, p, bit, LEARNING_RATE)
                        hn = (hs << 1) | bit
                        hist[hw + cu] = (hn & 127) | 128 if hn >= 256 else hn
                        sig[i] = bit
                        here = next_here(here, bit)
                        group_node = 2 * group_node + bit
                        value = bit
                        if bit and bits > 1:
                            # Levels (x > 1, x > 2), then from 3 an escape tree of ``bits`` decisions.
                            v1 = _val3(x, t - 1, n, c, h, w, t1)
                            near = (v1 | _val3(x, t - 2, n, c, h, w, t2) << 2 | _val3(x, t, n, c, h, w - 1, has_l) << 4
                                    | _val3(x, t, n, c, h - 1, w, has_u) << 6)
                            for node in range(2):
                                b = _mag_decide(st, out, data, encoding, 1 if v > value else 0, tabs, wts,
                                                _slot((ct * nn + node) * 256 + near, sh5, offs[5]),
                                                _slot((pos * nn + node) * 4 + v1, sh6, offs[6]),
                                                mag_w0 + (node * 4 + v1) * (MAG_MODELS + 1), journal, jidx, jval, jn)
                                if b == 0:
                                    break
                                value += 1
                            if value == 3 and bits > 2:
                                tree = 1
                                for k in range(bits - 1, -1, -1):
                                    node = 1 + tree
                                    b = _mag_decide(st, out, data, encoding, ((v - 3) >> k) & 1 if encoding else 0, tabs, wts,
                                                    _slot((ct * nn + node) * 256 + near, sh5, offs[5]),
                                                    _slot((pos * nn + node) * 4 + v1, sh6, offs[6]),
                                                    mag_w0 + (node * 4 + v1) * (MAG_MODELS + 1), journal, jidx, jval, jn)
                                    tree = 2 * tree + b
                                value = 3 + tree - (1 << bits)
                                if value > top:
                                    status = 2
                        if not encoding:
                            x[t, n, c, h, w] = value
                        if status:
                            break
                    if status:
                        break
                if status:
                    break
            if status:
                break
        if status:
            break
    if journal:
        undo_journal(tabs, jidx, jval, jn)
    return st, status


@njit(cache=True, nogil=True)
def encode(x, bits, tabs, wts, out, journal):
    """The coded bytes of ``x`` in ``out``; returns their count (those past ``out``'s end counted,
    not written: :func:`.binary.code_bit`)."""
    st, _ = _code(x, bits, tabs, wts, out, out[:0], True, journal)
    return finish(st, out)


@njit(cache=True, nogil=True)
def decode_into(data, x, bits, tabs, wts, journal):
    """Decode ``data`` into the (T, N, C, H, W) uint8 array ``x``. Returns the status: 0 ok, 1
    the payload is not exactly what the encoder makes of the decoded values, 2 a decoded value
    above 2**bits - 1."""
    st, status = _code(x, bits, tabs, wts, np.empty(0, np.uint8), data, False, journal)
    if status:
        return status
    return 0 if ends_as_encoded(st, data) else 1
