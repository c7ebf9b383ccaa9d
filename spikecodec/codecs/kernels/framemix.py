"""Compiled (numba) loops of the ``framemix`` codec (FORMAT.md 9.4.15): ``chanmix``'s (9.4.14)
with two more significance models, mixed in both of its weight sets:

* P, the *previous sample*: the significances of the sample before in the chunk at this element
  and its four plane neighbours, with this element's left, upper, t-1 and c-1 significances and
  how long a run of decisions has repeated the sample before (a match model's length: whether
  this sample copies that one), a direct table of 4096 states shared by every channel and step.
  chanmix's position model C learns each position's average over the samples, not what the last
  sample held there: on samples that repeat, or change a little from one to the next as video
  frames do, it coded 32-43% more than zpaq -m5 (benchmarks/results/stress.md); P takes 34-40%
  off (benchmarks/results/framemix_study.md).
* L, the *long history*: the neuron's last 15 significances in its sample, by channel group and
  step, hashed into 2**22 states. B's history holds 7: a network run for 16 or 32 steps fires
  with periods longer than that (stress.md: chanmix 5.6% under paq9a at T = 32; L takes 3-7% off).

Over the fourteen corpora the two change 0.19% (worst +0.09%), at 0.72-0.94x chanmix's speed.

The loop is :mod:`.winmix`'s.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import countmix
from .winmix import (FRAME_MODELS, SIG_MODELS as CHANMIX_SIG_MODELS, TPOS, decode_models, encode_models, first_weights,
                     frame_sizes, model_weights)

SIG_MODELS = CHANMIX_SIG_MODELS + FRAME_MODELS  # A, B, C, E, W, X, Y, P, L

__all__ = ["SIG_MODELS", "TPOS", "context_counts", "decode_into", "encode", "initial_weights",
           "table_sizes", "weight_count"]  # the interface every context-mixing kernel module offers (codecs/ctxmix.py)


@njit(cache=True, nogil=True)
def context_counts(T, C, H, W, bits):
    """Contexts of tables A, B, C, E, F, G, W, X, Y, H, I (countmix's), P, then L (hashed: -1)."""
    p = frame_sizes(T, C)
    return np.concatenate((countmix.context_counts(T, C, H, W, bits), np.array([p[0], -1], np.int64)))


@njit(cache=True, nogil=True)
def table_sizes(T, C, H, W, bits):
    """Entries of tables A, B, C, E, F, G, W, X, Y, H, I (countmix's), P and L."""
    return np.concatenate((countmix.table_sizes(T, C, H, W, bits), frame_sizes(T, C)))


def weight_count(T: int, C: int, H: int, W: int, bits: int) -> int:
    """chanmix's weights, each significance and channel set with P and L before the bias."""
    return model_weights(T, C, H, W, bits, True, True, True)


def initial_weights(T: int, C: int, H: int, W: int, bits: int) -> np.ndarray:
    """chanmix's initial weights, P's and L's as the other significance models'."""
    return first_weights(T, C, H, W, bits, True, True, True)


@njit(cache=True, nogil=True)
def encode(x, bits, tabs, wts, out, journal):
    """The coded bytes of ``x`` in ``out``; returns their count (:func:`.winmix.encode_models`)."""
    return encode_models(x, bits, tabs, wts, out, journal, True, True, True)


@njit(cache=True, nogil=True)
def decode_into(data, x, bits, tabs, wts, journal):
    """Decode ``data`` into ``x``; the status of :func:`.winmix.decode_models`."""
    return decode_models(data, x, bits, tabs, wts, journal, True, True, True)
