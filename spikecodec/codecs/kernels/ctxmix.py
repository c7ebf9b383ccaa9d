"""Compiled (numba) loops of the ``ctxmix`` codec (FORMAT.md 9.4.9): context mixing + a binary
arithmetic coder with byte output.

Imported lazily by the codec (numba compiles on first use), never by ``import spikecodec``. All
model arithmetic is integer (the three tables below are integers, derived once and pinned by
FORMAT.md and the tests), so encoder and decoder agree on every probability on every machine.

Per binary decision, several adaptive models each look up a *state* (a probability of 22 bits
and a count of 10) by their context; the states' probabilities are mapped to the logistic
domain (``STRETCH``), weighted by a mixer whose weight set is chosen by a small context, summed
and mapped back (``SQUASH``) to the 12-bit probability the coder uses. After the decision every
model state moves towards it at a rate that falls with its count (``RATE``) and the mixer's
weights take a gradient step. Significance (``x > 0``) has four models: two keyed by the
element's position (t, c, h, w) with its causal neighbours, one by channel and step with a
wider neighbourhood, one by the neuron's own history; the level and escape decisions of
multi-bit elements have two. A model's table is indexed directly when its contexts fit 2**22
entries, else by a multiplicative hash into 2**22 entries.

The whole model state (tables and weights) is what a *prior* stores (spikecodec/prior.py): the
kernels take it as arrays and update it in place. ``journal`` decoders and encoders undo their
table writes at the end of the chunk, so a chunk coded from a large prior costs its decisions,
not a copy of the prior.

The tables, the state words and the coder are :mod:`.binary`'s, shared with ``mix``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .binary import (cannot_end, clamped_weight, code_bit, ends_as_encoded, finish, journal_entries, squashed, start, stretched,
                     undo_journal, updated)

# -- Model constants -------------------------------------------------------------------------------
TABLE_CAP_BITS = 22
TABLE_CAP = 1 << TABLE_CAP_BITS
HASH_MUL = np.uint64(0x9E3779B97F4A7C15)
LEARNING_RATE = 6  # mixer: err = ((bit << 12) - p) * LEARNING_RATE
SIG_MODELS = 4
MAG_MODELS = 2
SIG_SETS = 512  # significance weight sets chosen by (c mod 16, min(t, 3), own t-1, up, left) ...
POS_SETS_CAP = 1 << 16  # ... averaged with a set chosen by the position (hashed beyond 2**16)
SIG_INIT = 19661  # 0.3 in 16.16: initial weight of each significance model
MAG_INIT = 32768  # 0.5: initial weight of each magnitude model
TPOS = 4  # timesteps told apart by the position models (t >= 3 share one)
STATE_ZERO = np.uint32(0)  # a fresh state: p = 2**21 (one half), count 0 (see _prob22)


@njit(cache=True, nogil=True)
def groups(C):
    """Channel groups of the channel-keyed models: min(C, 256), at least 1."""
    return max(1, min(C, 256))


@njit(cache=True, nogil=True)
def mag_nodes(bits):
    """Magnitude decision nodes: the two level decisions and the escape tree's 2**bits - 1."""
    return (1 << bits) + 1 if bits > 1 else 0


@njit(cache=True, nogil=True)
def context_counts(T, C, H, W, bits):
    """Contexts of each model, in table order A, B, C, D (significance), E, F (magnitude)."""
    pc = min(T, TPOS) * C * H * W
    g = groups(C)
    nn = mag_nodes(bits)
    return np.array([pc * 1024, pc * 16, g * TPOS * 16384, g * TPOS * 256 * 16, pc * nn * 4, g * nn * 256], np.int64)


@njit(cache=True, nogil=True)
def table_sizes(T, C, H, W, bits):
    """Entries of each model's table: its context count, or 2**22 when that is more (hashed)."""
    k = context_counts(T, C, H, W, bits)
    return np.minimum(k, TABLE_CAP)


@njit(cache=True, nogil=True)
def position_sets(T, C, H, W):
    """Significance weight sets chosen by position: one per position, at most 2**16."""
    return min(min(T, TPOS) * C * H * W, POS_SETS_CAP)


def weight_count(T: int, C: int, H: int, W: int, bits: int) -> int:
    """Mixer weights: significance sets (by context, then by position) x (4 models + bias),
    magnitude sets x (2 models + bias)."""
    return (SIG_SETS + position_sets(T, C, H, W)) * (SIG_MODELS + 1) + mag_nodes(bits) * 4 * (MAG_MODELS + 1)


def initial_weights(T: int, C: int, H: int, W: int, bits: int) -> np.ndarray:
    """The mixer's weights before any decision: each model input weighs SIG_INIT (significance)
    or MAG_INIT (magnitude), every bias input 0."""
    w = np.zeros(weight_count(T, C, H, W, bits), np.int32)
    nsig = (SIG_SETS + position_sets(T, C, H, W)) * (SIG_MODELS + 1)
    w[:nsig].reshape(-1, SIG_MODELS + 1)[:, :SIG_MODELS] = SIG_INIT
    w[nsig:].reshape(-1, MAG_MODELS + 1)[:, :MAG_MODELS] = MAG_INIT
    return w


# -- Model pieces ----------------------------------------------------------------------------------


@njit(inline="always", cache=True)
def _slot(key, count, offset):
    """Table index of context ``key`` of a model with ``count`` contexts whose table starts at
    ``offset``: direct below the cap, else the top 22 bits of key * HASH_MUL (mod 2**64)."""
    if count <= TABLE_CAP:
        return offset + key
    return offset + np.int64((np.uint64(key) * HASH_MUL) >> np.uint64(64 - TABLE_CAP_BITS))


@njit(inline="always", cache=True)
def _position_set(pos, count):
    """Weight set of position ``pos`` of ``count``: itself up to 2**16 positions, else the top
    16 bits of pos * HASH_MUL (mod 2**64)."""
    if count <= POS_SETS_CAP:
        return pos
    return np.int64((np.uint64(pos) * HASH_MUL) >> np.uint64(48))


@njit(inline="always", cache=True)
def _sig(x, t, n, c, h, w, T, C, H, W):
    """Significance (value > 0) of element (t, n, c, h, w) of ``x``; 0 outside the array."""
    if t < 0 or c < 0 or c >= C or h < 0 or h >= H or w < 0 or w >= W:
        return 0
    return 1 if x[t, n, c, h, w] != 0 else 0


@njit(inline="always", cache=True)
def _val3(x, t, n, c, h, w, H, W):
    """min(value, 3) of element (t, n, c, h, w) of ``x``; 0 for t, h or w below 0."""
    if t < 0 or h < 0 or w < 0:
        return 0
    return min(np.int64(x[t, n, c, h, w]), 3)


# -- One decision: predict, code, update -----------------------------------------------------------


@njit(inline="always", cache=True)
def _decide(st, out, data, encoding, bit, tabs, idx, nm, wts, wa, wb, jidx, jval, jn):
    """Mix the states at ``tabs[idx[:nm]]`` with the weights at ``wts[wa : wa + nm + 1]`` (the
    last one weighs a constant 256) and, when ``wb >= 0``, average that in the logistic domain
    with the same mix by the weights at ``wb``; code ``bit`` (encoding) or decode it; update the
    states and both weight sets. Table writes are journalled while ``jn[0] >= 0``. Returns the bit."""
    dot = np.int64(wts[wa + nm]) * 256
    for m in range(nm):
        dot += np.int64(wts[wa + m]) * stretched(tabs[idx[m]])
    if wb >= 0:
        dot2 = np.int64(wts[wb + nm]) * 256
        for m in range(nm):
            dot2 += np.int64(wts[wb + m]) * stretched(tabs[idx[m]])
        dot = (dot + dot2) >> 1
    p = squashed(dot >> 16)
    bit = code_bit(st, out, data, encoding, bit, p)
    err = ((bit << 12) - p) * LEARNING_RATE
    for m in range(nm):
        i = idx[m]
        s = tabs[i]
        step = (stretched(s) * err) >> 16
        wts[wa + m] = clamped_weight(np.int64(wts[wa + m]) + step)
        if wb >= 0:
            wts[wb + m] = clamped_weight(np.int64(wts[wb + m]) + step)
        if jn[0] >= 0:
            jidx[jn[0]] = i
            jval[jn[0]] = s
            jn[0] += 1
        tabs[i] = updated(s, bit)
    step = (256 * err) >> 16
    wts[wa + nm] = clamped_weight(np.int64(wts[wa + nm]) + step)
    if wb >= 0:
        wts[wb + nm] = clamped_weight(np.int64(wts[wb + nm]) + step)
    return bit


@njit(cache=True, nogil=True)
def _code(x, bits, tabs, wts, out, data, encoding, journal):
    """Code every element of the canonical (T, N, C, H, W) uint8 array ``x`` in C order: read from
    it when ``encoding`` (bytes to ``out``), written into it otherwise (from ``data``). ``tabs``
    and ``wts`` are the model state, updated in place (restored at the end with ``journal``).
    Returns (coder state array, status): 0 ok, 2 a decoded value above 2**bits - 1."""
    T, N, C, H, W = x.shape
    sizes = table_sizes(T, C, H, W, bits)
    counts = context_counts(T, C, H, W, bits)
    offs = np.zeros(7, np.int64)
    for m in range(6):
        offs[m + 1] = offs[m] + sizes[m]
    g = groups(C)
    nn = mag_nodes(bits)
    top = (1 << bits) - 1
    st = start(data, encoding)
    idx = np.zeros(4, np.int64)
    jcap = journal_entries(x.size, bits, SIG_MODELS, MAG_MODELS) if journal else 0
    jidx = np.empty(jcap, np.int64)
    jval = np.empty(jcap, np.uint32)
    jn = np.zeros(1, np.int64)
    jn[0] = 0 if journal else -1
    npos = position_sets(T, C, H, W)
    pos_w0 = SIG_SETS * (SIG_MODELS + 1)
    mag_w0 = (SIG_SETS + npos) * (SIG_MODELS + 1)
    pos_count = min(T, TPOS) * C * H * W
    status = 0
    for t in range(T):
        tp = min(t, TPOS - 1)
        for n in range(N):
            for c in range(C):
                cg = c % g
                for h in range(H):
                    for w in range(W):
                        if not encoding and cannot_end(st, data):  # before each element (FORMAT.md 9.4.9)
                            status = 1
                            break
                        le = _sig(x, t, n, c, h, w - 1, T, C, H, W)
                        up = _sig(x, t, n, c, h - 1, w, T, C, H, W)
                        ul = _sig(x, t, n, c, h - 1, w - 1, T, C, H, W)
                        ur = _sig(x, t, n, c, h - 1, w + 1, T, C, H, W)
                        p1 = _sig(x, t - 1, n, c, h, w, T, C, H, W)
                        c1 = _sig(x, t, n, c - 1, h, w, T, C, H, W)
                        c2 = _sig(x, t, n, c - 2, h, w, T, C, H, W)
                        pr = _sig(x, t - 1, n, c, h, w + 1, T, C, H, W)
                        pd = _sig(x, t - 1, n, c, h + 1, w, T, C, H, W)
                        pn = _sig(x, t - 1, n, c + 1, h, w, T, C, H, W)
                        pl = _sig(x, t - 1, n, c, h, w - 1, T, C, H, W)
                        pu = _sig(x, t - 1, n, c, h - 1, w, T, C, H, W)
                        u2 = _sig(x, t, n, c, h - 2, w, T, C, H, W)
                        l2 = _sig(x, t, n, c, h, w - 2, T, C, H, W)
                        hist = 1
                        for k in range(1, min(t, 7) + 1):
                            hist = (hist << 1) | _sig(x, t - k, n, c, h, w, T, C, H, W)
                        pos = ((tp * C + c) * H + h) * W + w
                        l10 = le | up << 1 | ul << 2 | ur << 3 | p1 << 4 | c1 << 5 | pr << 6 | pd << 7 | c2 << 8 | pn << 9
                        l14 = l10 | pl << 10 | pu << 11 | u2 << 12 | l2 << 13
                        idx[0] = _slot(pos * 1024 + l10, counts[0], offs[0])
                        idx[1] = _slot(pos * 16 + (le | up << 1 | p1 << 2 | c1 << 3), counts[1], offs[1])
                        idx[2] = _slot((cg * TPOS + tp) * 16384 + l14, counts[2], offs[2])
                        idx[3] = _slot(((cg * TPOS + tp) * 256 + hist) * 16 + (le | up << 1 | c1 << 2 | pr << 3), counts[3], offs[3])
                        wa = (((c % 16) * TPOS + tp) * 8 + (p1 << 2 | up << 1 | le)) * (SIG_MODELS + 1)
                        wp = pos_w0 + _position_set(pos, pos_count) * (SIG_MODELS + 1)
                        v = np.int64(x[t, n, c, h, w]) if encoding else 0
                        s = _decide(st, out, data, encoding, 1 if v else 0, tabs, idx, SIG_MODELS, wts, wa, wp, jidx, jval, jn)
                        if not encoding:
                            x[t, n, c, h, w] = s
                        if s == 0 or bits == 1:
                            continue
                        # Levels (x > 1, x > 2) then, from 3, an escape tree of ``bits`` decisions.
                        v1 = _val3(x, t - 1, n, c, h, w, H, W)
                        ctx = v1 | _val3(x, t - 2, n, c, h, w, H, W) << 2 | _val3(x, t, n, c, h, w - 1, H, W) << 4 | _val3(x, t, n, c, h - 1, w, H, W) << 6
                        value = 1
                        node = 0
                        for j in range(2):
                            node = j
                            idx[0] = _slot((pos * nn + node) * 4 + v1, counts[4], offs[4])
                            idx[1] = _slot((cg * nn + node) * 256 + ctx, counts[5], offs[5])
                            wb = mag_w0 + (node * 4 + v1) * (MAG_MODELS + 1)
                            b = _decide(st, out, data, encoding, 1 if v > value else 0, tabs, idx, MAG_MODELS, wts, wb, -1, jidx, jval, jn)
                            if b == 0:
                                break
                            value += 1
                        if value == 3 and bits > 2:
                            e = v - 3
                            tree = 1
                            for k in range(bits - 1, -1, -1):
                                node = 1 + tree
                                idx[0] = _slot((pos * nn + node) * 4 + v1, counts[4], offs[4])
                                idx[1] = _slot((cg * nn + node) * 256 + ctx, counts[5], offs[5])
                                wb = mag_w0 + (node * 4 + v1) * (MAG_MODELS + 1)
                                b = _decide(st, out, data, encoding, (e >> k) & 1, tabs, idx, MAG_MODELS, wts, wb, -1, jidx, jval, jn)
                                tree = 2 * tree + b
                            value = 3 + tree - (1 << bits)
                            if value > top:
                                status = 2
                                break
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
    """Decode ``data`` into the (T, N, C, H, W) uint8 array ``x`` (every element is written).
    Returns the status: 0 ok, 1 the payload is not exactly what the encoder makes of the decoded
    values (wrong length or final byte), 2 a decoded value above 2**bits - 1."""
    st, status = _code(x, bits, tabs, wts, np.empty(0, np.uint8), data, False, journal)
    if status:
        return status
    return 0 if ends_as_encoded(st, data) else 1
