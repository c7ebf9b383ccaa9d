"""Adaptive counters and their probability arithmetic (FORMAT.md 9.4.2), shared by the
``order0`` / ``context`` / ``ctxlanes`` model (prior weight 4) and ``countctx`` (prior weight 8).

A counter pair is one uint32: c1 (ones) in the low half, cn (total) in the high half, both
halved when the total reaches :data:`LIMIT`. A decision's probability of a 1 is
``q / 2**PREC`` (:data:`ONE` = 2**24, the rANS coder's precision), blended from a channel-group
pair (c1, cn) and a shared pair (g1, gn) by :func:`blend`. All arithmetic is exact integers, so
encoder and decoder compute the same ``q`` on every machine.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .ops import fma, opaque, pick

PREC = 24
ONE = 1 << PREC
LIMIT = 1024  # counters are halved when their total reaches this
N1 = 1 << 16  # a counter pair is one uint32: c1 (ones) in the low half, cn (total) in the high

# Exact integer division by reciprocals, fused. The model's probability (context.prob, prior 4)
# computes qg = floor(A / (2 gn + 2)) with
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
BIAS = 2.0**-12
U16 = np.uint64(16)


def prior_tables(prior: int) -> tuple[np.ndarray, np.ndarray]:
    """The reciprocal tables of prior weight ``prior`` that :func:`blend` takes:
    ``prior / (cn + prior)`` and ``2**24 / (cn + prior)`` for every total cn < LIMIT."""
    inv_prior = prior / (np.arange(LIMIT, dtype=np.float64) + prior)
    inv_one = float(ONE) / (np.arange(LIMIT, dtype=np.float64) + prior)
    return inv_prior, inv_one


@njit(inline="always", cache=True)
def blend(cv, sv, inv_prior, inv_one):
    """q = P(1) * 2**24 of one decision from its packed channel-group counts ``cv`` = (c1, cn)
    and shared counts ``sv`` = (g1, gn), with the prior's reciprocal tables ``inv_prior`` =
    PRIOR / (cn + PRIOR) and ``inv_one`` = 2**24 / (cn + PRIOR) (:func:`prior_tables`; exact,
    see above; the argument holds for any PRIOR that keeps cn + PRIOR <= 2048)."""
    cv = np.uint64(cv)
    sv = np.uint64(sv)
    qg = np.floor(fma(np.float64(2 * (sv & np.uint64(0xFFFF)) + np.uint64(1)), KT_SCALE[sv >> U16], BIAS))
    cn = cv >> U16
    return np.int64(fma(qg, inv_prior[cn], fma(np.float64(cv & np.uint64(0xFFFF)), inv_one[cn], BIAS)))


@njit(inline="always", cache=True)
def bumped(v, bit):
    """Packed counter pair ``v`` after counting decision ``bit``; both halves halved at LIMIT.
    Loops write ``tab[i] = bumped(tab[i], bit)`` out: a helper that takes the array, even
    inlined, can leave numba's reference-count calls (atomic, through a call) in the loop."""
    v = np.int64(v) + N1 + bit
    if v >= LIMIT * N1:
        v = ((((v >> 16) + 1) >> 1) << 16) | (((v & 0xFFFF) + 1) >> 1)
    return v


@njit(inline="always", cache=True)
def next_counters(cv, sv, k, n0, n1, g0, s0, g1, s1):
    """For a decoder that prepares the next decision before this one is decoded: the packed
    counters (``cv``, ``sv``) of this decision's context ``k`` after its update, (u0, v0) if
    its bit is 0 and (u1, v1) if 1, and those of the next decision's context for either bit,
    ``n0`` or ``n1``: the table values (g0, s0) / (g1, s1) loaded before this update, or the
    updated ones where that context is ``k`` itself. Returns (u0, v0, u1, v1, a0, b0, a1, b1).
    Callers pass loaded values, not the tables (see :func:`bumped`)."""
    u0 = bumped(cv, 0)
    v0 = bumped(sv, 0)
    u1 = bumped(cv, 1)
    v1 = bumped(sv, 1)
    same0 = opaque(-np.int64(n0 == k))
    same1 = opaque(-np.int64(n1 == k))
    return u0, v0, u1, v1, pick(same0, g0, u0), pick(same0, s0, v0), pick(same1, g1, u1), pick(same1, s1, v1)
