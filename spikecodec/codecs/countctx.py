"""``countctx``: adaptive context model over decoded spike *counts* (no parameters; FORMAT.md 9.4.7).

For multi-bit chunks the ``context`` codec conditions significance only on whether neighbours
fired. Here an element is coded as unary level decisions (``x > 0``, ``x > 1``, ``x > 2``; an
escape tree for larger values) whose contexts use the neuron's previous *counts* (soft-reset
neurons that emitted 3 spikes tend to emit again), the same-step left/upper neighbours, the
previous step's 3 x 3 neighbourhood and the fraction of earlier channels that fired at this
position and step. Counts are integers starting at zero per chunk (or at a prior's, parameter
``prior``, version 1.3), blended with shared per-context counts, so nothing but the rANS words
is stored. Added in format version 1.1 (an optional codec).
"""

from __future__ import annotations

import numpy as np

from .._kernel_cache import load_kernels
from ._entropy_model import AdaptiveCodec, flat_strides, to_canonical

KERNELS = "spikecodec.codecs.kernels.countctx"  # loaded on first use (numba)


class CountContext(AdaptiveCodec):
    """The count-aware adaptive context codec (parameter: ``prior``)."""

    codec_id = "countctx"
    format_minor = 1
    contextual = True
    TABLES = ("sig_group", "sig_shared", "level_group", "level_shared", "escape_group", "escape_shared")

    def table_layout(self, geometry: dict[str, int]) -> list[tuple[str, np.dtype, int]]:
        k = load_kernels(KERNELS)
        G, bits = k.groups(geometry["C"]), geometry["bits"]
        ne = 1 << bits if bits > 2 else 1
        sizes = (G * k.KS, k.KS, G * k.KL, k.KL, G * ne, ne)
        return [(n, np.dtype(np.uint32), size) for n, size in zip(self.TABLES, sizes)]

    def decisions(self, chunk, spec, with_ctx: bool = False):  # type: ignore[override]
        """(decision bits, q = P(1) * 2**24) of every binary decision, in coding order."""
        canon = to_canonical(np.asarray(chunk, np.uint8), spec.axes)
        k = load_kernels(KERNELS)
        return k.decisions(np.ascontiguousarray(canon), spec.bits, k.TILE)

    def _encode_canonical(self, canon: np.ndarray, bits: int, tables: dict[str, np.ndarray] | None = None) -> np.ndarray:
        if canon.size == 0:  # no decisions: the empty stream, as the decoder takes it (the kernel's tiling needs a plane)
            return np.zeros(0, np.uint32)
        if tables is None:
            return load_kernels(KERNELS).encode(np.ascontiguousarray(canon), bits)
        return load_kernels(KERNELS).encode_with(np.ascontiguousarray(canon), bits, *tables.values())

    def _decode_canonical(self, words: np.ndarray, canon: np.ndarray, bits: int, tables: dict[str, np.ndarray] | None = None) -> int:
        if canon.size == 0:  # no decisions: only the empty stream is well-formed (the kernel's
            return 0 if words.size == 0 else 1  # tiling assumes a plane of at least one element)
        if canon.itemsize != 1 or min(canon.strides) < 0:  # not the decoder's own views
            raise ValueError("decoding needs a uint8 view with non-negative strides")
        flat, strides = flat_strides(canon)
        if tables is None:
            return load_kernels(KERNELS).decode_into(words, flat, canon.shape, strides, bits)
        return load_kernels(KERNELS).decode_into_with(words, flat, canon.shape, strides, bits, *tables.values())

    def _max_decisions(self, bits: int) -> int:
        return 1 if bits == 1 else 3 if bits == 2 else 3 + bits
