"""The rANS coder of the ``order0``, ``context``, ``ctxlanes`` and ``countctx`` codecs (FORMAT.md
9.4.3): binary decisions, each with P(1) = ``q / 2**24``, to 32-bit words and back.

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

The encoder takes either each decision's ``q`` or its packed counters, turned into ``q`` inside
the loop (:func:`.counters.blend`). The decoders are the models' own loops (speculation needs the
model's next context), built from :func:`start` and :func:`decode_bit`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .counters import ONE, PREC, blend
from .ops import U

MASK = ONE - 1
LOW = 1 << 32
_NO_TABLE = np.zeros(1, np.float64)  # the prior's tables of a q-only encode: never read


@njit(cache=True, nogil=True)
def finish(words, m, state):
    """The stream of ``words[:m]`` and coder state ``state`` at its end: its final words."""
    if state != 0:
        words[m] = np.uint32(state & 0xFFFFFFFF)
        m += 1
        if state >> np.uint64(32):
            words[m] = np.uint32(state >> np.uint64(32))
            m += 1
    return words[:m]


@njit(cache=True, nogil=True)
def encode_words(bits, src, counted, inv_prior, inv_one):
    """rANS-encode binary decisions ``bits`` in reverse order; returns uint32 words. ``src[i]`` is
    the decision's q (P(1) = q / 2**24), or with ``counted`` its packed counters
    ``cv | sv << 32`` (see :func:`.context._model_pass`), turned into q here by
    :func:`.counters.blend` with the prior's tables ``inv_prior``, ``inv_one``: this loop waits on
    its division's latency, which leaves room for the probability arithmetic."""
    words = np.empty(bits.size + 2, np.uint32)
    m, state = encode_steps(bits, src, counted, inv_prior, inv_one, words, 0, np.uint64(0))
    return finish(words, m, state)


@njit(inline="always", cache=True)
def encode_steps(bits, src, counted, inv_prior, inv_one, words, m, state):
    """The loop of :func:`encode_words` from coder state ``state`` with ``m`` words emitted so
    far; returns (m, state): the decisions before ``bits`` can continue the same stream."""
    for i in range(bits.size - 1, -1, -1):
        v = np.uint64(src[U(i)])
        one = np.uint64(blend(v & np.uint64(0xFFFFFFFF), v >> np.uint64(32), inv_prior, inv_one)) if counted else v
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
    return encode_words(bits, q, False, _NO_TABLE, _NO_TABLE)


@njit(cache=True, nogil=True)
def start(words):
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
def decode_bit(state, q):
    """One rANS decoding step without a data-dependent branch: (bit, new state before refill)."""
    one = np.uint64(q)
    zero = np.uint64(ONE) - one
    z = state & np.uint64(MASK)
    bit = np.uint64(z >= zero)
    msk = np.uint64(0) - bit
    wt = zero ^ ((zero ^ one) & msk)
    return bit, (state >> np.uint64(PREC)) * wt + (z - (zero & msk))


@njit(cache=True, nogil=True)
def ideal_bits(bits_arr, q):
    """Adaptive code length sum(-log2 P(decision)) of a decision sequence (diagnostics)."""
    tot = 0.0
    for i in range(bits_arr.size):
        p = q[i] / ONE
        tot -= np.log2(p if bits_arr[i] else 1.0 - p)
    return tot
