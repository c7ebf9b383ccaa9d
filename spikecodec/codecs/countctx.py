"""``countctx``: adaptive context model over decoded spike *counts* (no parameters; FORMAT.md 9.4.7).

For multi-bit chunks the ``context`` codec conditions significance only on whether neighbours
fired. Here an element is coded as unary level decisions (``x > 0``, ``x > 1``, ``x > 2``; an
escape tree for larger values) whose contexts use the neuron's previous *counts* (soft-reset
neurons that emitted 3 spikes tend to emit again), the same-step left/upper neighbours, the
previous step's 3 x 3 neighbourhood and the fraction of earlier channels that fired at this
position and step. Counts are integers starting at zero per chunk, blended with shared per-context
counts, so nothing but the rANS words is stored. Added in format version 1.1 (an optional codec).
"""

from __future__ import annotations

import numpy as np

from ._entropy_model import AdaptiveCodec, flat_strides, to_canonical


def _kernels():
    from . import _countctx_kernels  # numba compiles on first use

    return _countctx_kernels


class CountContext(AdaptiveCodec):
    """The count-aware adaptive context codec (no parameters)."""

    codec_id = "countctx"
    format_minor = 1
    contextual = True

    def decisions(self, chunk, spec, with_ctx: bool = False):  # type: ignore[override]
        """(decision bits, q = P(1) * 2**24) of every binary decision, in coding order."""
        canon = to_canonical(np.asarray(chunk, np.uint8), spec.axes)
        return _kernels().decisions(np.ascontiguousarray(canon), spec.bits, _kernels().TILE)

    def _encode_canonical(self, canon: np.ndarray, bits: int) -> np.ndarray:
        return _kernels().encode(np.ascontiguousarray(canon), bits)

    def _decode_canonical(self, words: np.ndarray, canon: np.ndarray, bits: int) -> int:
        if canon.itemsize != 1 or min(canon.strides) < 0:  # not the decoder's own views
            raise ValueError("decoding needs a uint8 view with non-negative strides")
        flat, strides = flat_strides(canon)
        return _kernels().decode_into(words, flat, canon.shape, strides, bits)

    def _max_decisions(self, bits: int) -> int:
        return 1 if bits == 1 else 3 if bits == 2 else 3 + bits
