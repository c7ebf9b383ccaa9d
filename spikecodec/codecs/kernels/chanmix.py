"""Compiled (numba) loops of the ``chanmix`` codec (FORMAT.md 9.4.14): ``countmix``'s (9.4.13)
with table E keyed by a third window of the run (bits 32..47, with the channel) instead of the
pixel pair, and a second significance weight set per channel group and the two channels before
it, averaged with the shared set as ``ctxmix`` averages two (benchmarks/results/winmix_ablation.md:
1.7% fewer bytes than winmix over fourteen corpora, fewer on each, 8.6% on a layer of many
channels at few pixels). The loop is :mod:`.winmix`'s.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .countmix import context_counts, table_sizes  # the same eleven tables (FORMAT.md 9.4.14)
from .winmix import SIG_MODELS, TPOS, decode_models, encode_models, first_weights, model_weights

__all__ = ["SIG_MODELS", "TPOS", "context_counts", "decode_into", "encode", "initial_weights",
           "table_sizes", "weight_count"]  # the interface every context-mixing kernel module offers (codecs/ctxmix.py)


def weight_count(T: int, C: int, H: int, W: int, bits: int) -> int:
    """countmix's weights, then the channel sets (groups x 4) x (7 models + bias)."""
    return model_weights(T, C, H, W, bits, True, True)


def initial_weights(T: int, C: int, H: int, W: int, bits: int) -> np.ndarray:
    """countmix's initial weights, then channel sets as the significance sets."""
    return first_weights(T, C, H, W, bits, True, True)


@njit(cache=True, nogil=True)
def encode(x, bits, tabs, wts, out, journal):
    """The coded bytes of ``x`` in ``out``; returns their count (:func:`.winmix.encode_models`)."""
    return encode_models(x, bits, tabs, wts, out, journal, True, True)


@njit(cache=True, nogil=True)
def decode_into(data, x, bits, tabs, wts, journal):
    """Decode ``data`` into ``x``; the status of :func:`.winmix.decode_models`."""
    return decode_models(data, x, bits, tabs, wts, journal, True, True)
