"""``ctxlanes``: the ``context`` model split into channel lanes, for speed (FORMAT.md 9.4.8).

The channels of the canonical (T, N, C, H, W) view are cut into L equal blocks (L = 4 when C is
a multiple of 4, else 2 when it is even, else 1), and each block is coded as its own ``context``
stream: its own counters, no context from the block before it. The payload is the L word counts,
then the L streams. A lane costs a few bytes of learning and the previous-channel context at its
first channel (2-3% more bytes than ``context`` on the benchmark's spikes); in return the four
independent streams of a 1-bit chunk are coded in lockstep, four serial chains that one core
overlaps (:mod:`.kernels.lanes`): decoding about 1.55x and encoding 1.1-1.4x as fast as
``context`` on the benchmark's 1-bit spikes (benchmarks/results/entropy.md). Other chunks are
coded lane by lane with the ``context`` kernels: the same bytes, at ``context``'s speed.
Added in format version 1.2 (an optional codec).
"""

from __future__ import annotations

import numpy as np

from .._kernel_cache import load_kernels
from ..elements import read_only
from ..errors import FormatError
from ._entropy_model import CONTEXT, AdaptiveCodec, flat_strides, stream_offsets, to_canonical
from .base import ChunkSpec

LANES = "spikecodec.codecs.kernels.lanes"  # loaded on first use (numba)


def lane_blocks(C: int) -> list[tuple[int, int]]:
    """The (first, end) channels of each lane of a chunk with ``C`` channels."""
    count = load_kernels(LANES).lane_count(C)
    width = C // count
    return [(i * width, (i + 1) * width) for i in range(count)]


def _lane(canon: np.ndarray, first: int, end: int) -> np.ndarray:
    """Channels [first, end) of a canonical chunk, contiguous and read-only as the ``context``
    kernels take them (elements.read_only: one compilation)."""
    return read_only(np.ascontiguousarray(canon[:, :, first:end]))


class ContextLanes(AdaptiveCodec):
    """The ``context`` model in independent channel lanes, coded in lockstep (parameter: ``prior``)."""

    codec_id = "ctxlanes"
    format_minor = 2
    contextual = True

    def table_layout(self, geometry: dict[str, int]) -> list[tuple[str, np.dtype, int]]:
        """The ``context`` tables of each lane's C / L channels, lane after lane."""
        lanes = load_kernels(LANES).lane_count(geometry["C"])
        per_lane = super().table_layout({"bits": geometry["bits"], "C": geometry["C"] // lanes})
        return [(name, dtype, lanes * n) for name, dtype, n in per_lane]

    @staticmethod
    def _lane_tables(tables: dict[str, np.ndarray], lane: int, lanes: int) -> list[np.ndarray]:
        """Lane ``lane``'s slices (views) of each table."""
        return [t[lane * (t.size // lanes) : (lane + 1) * (t.size // lanes)] for t in tables.values()]

    def decisions(self, chunk, spec, with_ctx: bool = True):  # type: ignore[override]
        """(decision bits, q = P(1) * 2**24, context id) of every binary decision, lane after
        lane (each lane's own ``context`` ids; diagnostics)."""
        canon = to_canonical(np.asarray(chunk, np.uint8), spec.axes)
        parts = [load_kernels(CONTEXT).model_decisions(_lane(canon, a, b), spec.bits, True, with_ctx)
                 for a, b in lane_blocks(canon.shape[2])]
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]

    def _encode_canonical(self, canon: np.ndarray, bits: int, tables: dict[str, np.ndarray] | None = None) -> np.ndarray:
        C = canon.shape[2]
        lanes = load_kernels(LANES)
        if lanes.fast_encode(C, bits):
            if tables is None:
                return lanes.encode4(canon)
            return lanes.encode4_with(canon, tables["sig_group"], tables["sig_shared"])
        blocks = lane_blocks(C)
        k = load_kernels(CONTEXT)
        if tables is None:
            streams = [k.encode(_lane(canon, a, b), bits, True) for a, b in blocks]
        else:
            streams = [k.encode_with(_lane(canon, a, b), bits, True, *self._lane_tables(tables, i, len(blocks)))
                       for i, (a, b) in enumerate(blocks)]
        return np.concatenate([np.array([s.size for s in streams], np.uint32), *streams])

    def _empty_shape(self, shape5: tuple[int, ...]) -> tuple[int, ...]:
        # The lane count, and so the payload's layout, comes from C even without elements.
        return (0, 0, shape5[2], 0, 0)

    def _max_words(self, spec: ChunkSpec) -> int:
        # L word counts, and per lane its elements' decisions plus two initial words.
        return spec.size * self._max_decisions(spec.bits) + 3 * 4

    def _decode_canonical(self, words: np.ndarray, canon: np.ndarray, bits: int, tables: dict[str, np.ndarray] | None = None) -> int:
        if canon.itemsize != 1 or min(canon.strides, default=0) < 0:
            raise ValueError("decoding needs a uint8 view with non-negative strides")
        T, N, C, H, W = canon.shape
        blocks = lane_blocks(C)
        count = len(blocks)
        sizes, offs = stream_offsets(words, count, "ctxlanes", "lane")
        lane_size = canon.size // count
        for i, n in enumerate(sizes):
            if n > lane_size * self._max_decisions(bits) + 2:
                raise FormatError(f"ctxlanes: lane {i} is longer than any encoding of its channels", code="lanes-too-long")
        flat, strides = flat_strides(canon)
        lanes = load_kernels(LANES)
        if canon.size and lanes.fast_decode(C, H, W, bits):
            if tables is None:
                return lanes.decode4_into(words, offs, flat, canon.shape, strides)
            return lanes.decode4_into_with(words, offs, flat, canon.shape, strides, tables["sig_group"], tables["sig_shared"])
        k = load_kernels(CONTEXT)
        for i, (a, b) in enumerate(blocks):
            lane = canon[:, :, a:b]
            lane_flat, lane_strides = flat_strides(lane)
            if tables is None:
                status = k.decode_into(words[offs[i]:offs[i + 1]], lane_flat, lane.shape, lane_strides, bits, True)
            else:
                status = k.decode_into_with(words[offs[i]:offs[i + 1]], lane_flat, lane.shape, lane_strides, bits, True,
                                            *self._lane_tables(tables, i, count))
            if status:
                return status
        return 0
