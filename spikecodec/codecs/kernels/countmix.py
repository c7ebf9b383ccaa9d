"""Compiled (numba) loops of the ``countmix`` codec (FORMAT.md 9.4.13): ``winmix``'s (9.4.11)
with two more models for the level and escape decisions of counts, keyed by neighbours' values
up to 7 rather than 3 - H: the values of channels c-1 and c-2 at the pixel, by channel group
and step; I: the values of the left and upper neighbours and of channel c-1, shared by every
channel and step. winmix predicts those decisions from F and G alone, and on counts above 3 they
are most of its bytes (benchmarks/results/magnitude_study.md). Spikes (1 bit) have no level
decisions, so their coding is winmix's, byte for byte.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .winmix import SIG_MODELS, TPOS, decode_models, encode_models, first_weights, model_contexts, model_sizes, model_weights

__all__ = ["SIG_MODELS", "TPOS", "context_counts", "decode_into", "encode", "initial_weights",
           "table_sizes", "weight_count"]  # the interface every context-mixing kernel module offers (codecs/ctxmix.py)


@njit(cache=True, nogil=True)
def context_counts(T, C, H, W, bits):
    """Contexts of tables A, B, C, E, F, G, W, X, Y, H, I (:func:`.winmix.model_contexts`)."""
    return model_contexts(T, C, H, W, bits, True)


@njit(cache=True, nogil=True)
def table_sizes(T, C, H, W, bits):
    """Entries of tables A, B, C, E, F, G, W, X, Y, H, I (:func:`.winmix.model_sizes`)."""
    return model_sizes(T, C, H, W, bits, True)


def weight_count(T: int, C: int, H: int, W: int, bits: int) -> int:
    """winmix's significance sets, magnitude sets of F, G, H, I and the bias."""
    return model_weights(T, C, H, W, bits, True)


def initial_weights(T: int, C: int, H: int, W: int, bits: int) -> np.ndarray:
    """winmix's initial weights, magnitude sets of five."""
    return first_weights(T, C, H, W, bits, True)


@njit(cache=True, nogil=True)
def encode(x, bits, tabs, wts, out, journal):
    """The coded bytes of ``x`` in ``out``; returns their count (:func:`.winmix.encode_models`)."""
    return encode_models(x, bits, tabs, wts, out, journal, True, False)


@njit(cache=True, nogil=True)
def decode_into(data, x, bits, tabs, wts, journal):
    """Decode ``data`` into ``x``; the status of :func:`.winmix.decode_models`."""
    return decode_models(data, x, bits, tabs, wts, journal, True, False)
