"""The binary arithmetic coder with byte output and its integer probability arithmetic, shared by
the context-mixing codecs ``ctxmix`` (FORMAT.md 9.4.9), ``mix`` (9.4.10) and those built on them:
the states, the mixer of five models (:func:`mix5`, :func:`learn5`) and the journal that undoes a
kernel's table writes (:func:`journal5`, :func:`undo_journal`).

Everything is integer (the three tables are derived once and pinned by FORMAT.md and the
tests), so encoder and decoder agree on every probability on every machine:

* a model *state* is a u32 word ``((p XOR 2**21) << 10) | n``: a probability p of a 1 in units of
  2**-22 and a count n (the word 0 is p = 1/2, n = 0); its prediction in the logistic domain is
  ``STRETCH[p >> 10]``, and after a decision it moves towards it at the rate ``RATE[n]``;
* mixed predictions come back to a 12-bit probability through ``SQUASH``;
* the coder: a 32-bit interval [low, high], split at ``mid = low + (range >> 12) p +
  (((range & 0xFFF) p) >> 12)``; a 1 keeps [low, mid], a 0 [mid + 1, high]; while the top bytes of
  low and high agree, that byte is output. The end: nothing when high is 0xFFFFFFFF, else the top
  byte of low. The decoder reads bytes past the end of the payload as 0xFF.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .ops import U


def _stretch_table() -> np.ndarray:
    """STRETCH[i] = round(256 ln(i / (4096 - i))) for i in 1..4095, clipped to +-2047; STRETCH[0] =
    -2047. No exact value lies within 1e-7 of a rounding boundary, so double precision suffices."""
    out = np.empty(4096, np.int64)
    out[0] = -2047
    for i in range(1, 4096):
        out[i] = min(2047, max(-2047, math.floor(256.0 * math.log(i / (4096 - i)) + 0.5)))
    return out


def _squash_table() -> np.ndarray:
    """SQUASH[d + 2047] = round(4096 / (1 + e^(-d / 256))) for d in -2047..2047, clipped to 1..4095."""
    d = np.arange(-2047, 2048)
    return np.array([min(4095, max(1, math.floor(4096.0 / (1.0 + math.exp(-v / 256.0)) + 0.5))) for v in d], np.int64)


STRETCH = _stretch_table()
SQUASH = _squash_table()
RATE = np.array([131072 // (2 * n + 3) for n in range(1024)], np.int64)  # floor(2**16 / (n + 1.5))
COUNT_LIMIT = 1023  # a state's count stops here: its rate stays at 2**16 / 1024.5
WEIGHT_LIMIT = 1 << 20  # mixer weights stay within +-16.0 (16.16 fixed point)

# Coder state, a small int64 array: [low, high, code, read position, bytes shifted out].
LOW, HIGH, CODE, POS, SHIFTED = 0, 1, 2, 3, 4


@njit(inline="always", cache=True)
def stretched(s):
    """STRETCH of state word ``s``'s 12-bit probability."""
    return STRETCH[((np.int64(s) >> 10) ^ (1 << 21)) >> 10]


@njit(inline="always", cache=True)
def updated(s, bit):
    """State word ``s`` after a decision ``bit``: p += ((bit << 22) - p) * RATE[n] >> 16 (floor),
    n += 1 up to COUNT_LIMIT."""
    s = np.int64(s)
    n = s & 1023
    p = (s >> 10) ^ (1 << 21)
    p += (((bit << 22) - p) * RATE[n]) >> 16
    if n < COUNT_LIMIT:
        n += 1
    return np.uint32(((p ^ (1 << 21)) << 10) | n)


@njit(inline="always", cache=True)
def squashed(d):
    """SQUASH(d), d clipped to -2047 .. 2047: the 12-bit probability of a 1."""
    if d > 2047:
        d = 2047
    elif d < -2047:
        d = -2047
    return SQUASH[d + 2047]


@njit(inline="always", cache=True)
def clamped_weight(w):
    """A mixer weight kept within +-WEIGHT_LIMIT."""
    if w > WEIGHT_LIMIT:
        return WEIGHT_LIMIT
    if w < -WEIGHT_LIMIT:
        return -WEIGHT_LIMIT
    return w


@njit(inline="always", cache=True)
def mix5(tabs, wts, w, i0, i1, i2, i3, i4):
    """P12 from the five states at i0 .. i4 and the weight set at ``w`` (five weights and a bias,
    16.16), with their stretches. ``w`` is unsigned (:data:`.ops.U`), as the indices may be."""
    s0 = stretched(tabs[i0])
    s1 = stretched(tabs[i1])
    s2 = stretched(tabs[i2])
    s3 = stretched(tabs[i3])
    s4 = stretched(tabs[i4])
    dot = (np.int64(wts[w]) * s0 + np.int64(wts[w + U(1)]) * s1 + np.int64(wts[w + U(2)]) * s2
           + np.int64(wts[w + U(3)]) * s3 + np.int64(wts[w + U(4)]) * s4 + np.int64(wts[w + U(5)]) * 256) >> 16
    return squashed(dot), s0, s1, s2, s3, s4


@njit(inline="always", cache=True)
def learn5(tabs, wts, w, i0, i1, i2, i3, i4, s0, s1, s2, s3, s4, p, bit, rate):
    """After decision ``bit`` predicted as ``p`` by :func:`mix5`: the weight set (err = ((bit << 12)
    - p) * rate), then the five states."""
    err = ((bit << 12) - p) * rate
    wts[w] = clamped_weight(np.int64(wts[w]) + ((s0 * err) >> 16))
    wts[w + U(1)] = clamped_weight(np.int64(wts[w + U(1)]) + ((s1 * err) >> 16))
    wts[w + U(2)] = clamped_weight(np.int64(wts[w + U(2)]) + ((s2 * err) >> 16))
    wts[w + U(3)] = clamped_weight(np.int64(wts[w + U(3)]) + ((s3 * err) >> 16))
    wts[w + U(4)] = clamped_weight(np.int64(wts[w + U(4)]) + ((s4 * err) >> 16))
    wts[w + U(5)] = clamped_weight(np.int64(wts[w + U(5)]) + ((256 * err) >> 16))
    tabs[i0] = updated(tabs[i0], bit)
    tabs[i1] = updated(tabs[i1], bit)
    tabs[i2] = updated(tabs[i2], bit)
    tabs[i3] = updated(tabs[i3], bit)
    tabs[i4] = updated(tabs[i4], bit)


@njit(inline="always", cache=True)
def journal5(tabs, jidx, jval, jn, i0, i1, i2, i3, i4):
    """Note the five states at i0 .. i4 before they are updated, at ``jn[0]``."""
    j = jn[0]
    jidx[j] = i0
    jval[j] = tabs[i0]
    jidx[j + 1] = i1
    jval[j + 1] = tabs[i1]
    jidx[j + 2] = i2
    jval[j + 2] = tabs[i2]
    jidx[j + 3] = i3
    jval[j + 3] = tabs[i3]
    jidx[j + 4] = i4
    jval[j + 4] = tabs[i4]
    jn[0] = j + 5


@njit(inline="always", cache=True)
def undo_journal(tabs, jidx, jval, jn):
    """Put back every state the journal noted, the latest first: the tables as they were before
    the kernel ran (a prior's, shared by the calls)."""
    for i in range(jn[0] - 1, -1, -1):
        tabs[jidx[i]] = jval[i]


@njit(cache=True, nogil=True)
def journal_entries(size, bits, sig_models, mag_models):
    """The most table writes a kernel journals coding ``size`` elements of ``bits`` bits: each
    significance model's, and each magnitude model's for the level and escape decisions."""
    return size * (sig_models + (mag_models * (2 + bits) if bits > 1 else 0))


@njit(cache=True, nogil=True)
def start(data, encoding):
    """A coder state: the full interval, and for a decoder the payload's first 4 bytes as code."""
    st = np.zeros(5, np.int64)
    st[HIGH] = 0xFFFFFFFF
    if not encoding:
        code = 0
        for k in range(4):
            code = (code << 8) | (np.int64(data[k]) if k < data.size else 0xFF)
        st[CODE] = code
        st[POS] = 4
    return st


@njit(inline="always", cache=True)
def code_bit(st, out, data, encoding, bit, p):
    """Code ``bit`` (encoding: bytes to ``out``) or decode one from ``data``, with P(1) = p / 4096
    (1 <= p <= 4095); returns the bit. Bytes past the end of ``out`` are counted, not written: an
    encoder's buffer need only hold a payload worth keeping (one shorter than the chunk's packed
    elements), and the count says when coding did not pay."""
    low = st[LOW]
    high = st[HIGH]
    r = high - low
    mid = low + (r >> 12) * p + (((r & 0xFFF) * p) >> 12)
    if not encoding:
        bit = 1 if st[CODE] <= mid else 0
    if bit:
        high = mid
    else:
        low = mid + 1
    while ((low ^ high) & 0xFF000000) == 0:
        if encoding:
            if st[SHIFTED] < out.size:
                out[st[SHIFTED]] = np.uint8(high >> 24)
        else:
            pos = st[POS]
            st[CODE] = ((st[CODE] << 8) & 0xFFFFFFFF) | (np.int64(data[pos]) if pos < data.size else 0xFF)
            st[POS] = pos + 1
        st[SHIFTED] += 1
        low = (low << 8) & 0xFFFFFFFF
        high = ((high << 8) & 0xFFFFFFFF) | 0xFF
    st[LOW] = low
    st[HIGH] = high
    return bit


@njit(cache=True, nogil=True)
def finish(st, out):
    """End an encoding: the top byte of low unless high is 0xFFFFFFFF; returns the byte count
    (which may exceed ``out``'s size: :func:`code_bit`)."""
    n = st[SHIFTED]
    if st[HIGH] != 0xFFFFFFFF:
        if n < out.size:
            out[n] = np.uint8(st[LOW] >> 24)
        n += 1
    return n


@njit(inline="always", cache=True)
def cannot_end(st, data):
    """Whether a decoding has shifted out more bytes than ``data`` holds: E only grows, so its
    end check (:func:`ends_as_encoded`, FORMAT.md 9.4.9) can no longer pass. Checked before each
    element (a MUST since format 1.6, so every decoder reports the same problem), it also spares
    decoding the rest of a chunk a short payload cannot hold."""
    return st[SHIFTED] > data.size


@njit(cache=True, nogil=True)
def ends_as_encoded(st, data):
    """Whether a decoded payload is exactly what the encoder makes of the decoded values: its
    length and, when the encoder writes one, its final byte."""
    n = st[SHIFTED]
    if st[HIGH] != 0xFFFFFFFF:
        return data.size == n + 1 and np.int64(data[n]) == st[LOW] >> 24
    return data.size == n
