"""``ctxfast``: a wider ``context`` model coded in up to four sample lanes that share one set of
counters, for speed (FORMAT.md 9.4.12; parameter ``prior``, FORMAT.md 14). Added in format
version 1.8 (an optional codec); the fast mode.

The significance context (15360 values) is ``context``'s (9.4.5) with the channels c - 2 .. c - 5
at the same position and the upper diagonals as separate bits. The samples of a chunk are cut
into L = min(4, N) blocks, each coded as its own rANS stream; the lanes advance in steps, one
decision each, all read the counters as they stand at the step's start and then count their
decisions in lane order, so four independent serial chains run side by side while every lane
learns from all of them (:mod:`.kernels.fast`). Multi-bit magnitudes follow in one more stream,
with ``context``'s magnitude model. Chunks of a single sample run as one lane.

Speed (benchmarks/results/peers.md, fourteen corpora: planes of 7 x 7 to 28 x 28, counts, and a
fully connected layer's 1 x 1 planes): 1.02-1.30x ``ctxlanes``' encoding and 1.04-1.39x its
decoding speed, except on 128 channels of 7 x 7 (mbv2-last), whose 8 MB of counters outgrow the
core's caches: 0.90-1.05x over runs. Count chunks spend most of their decisions on magnitudes,
one serial stream: the encoder overlaps its divisions with the lanes' and the decoder computes
its probabilities off the chain (before that, 0.86-0.90x ``ctxlanes``' decoding speed on 4-bit
counts). Where it is not the fast mode (benchmarks/results/fast_shapes.md): a chunk of one
sample has one lane, one serial chain, and a large table that learns slowly from few decisions -
0.3-0.6x ``ctxlanes``' speed and 3-7% *more* bytes than ``context`` on one image a file (for
frames: ``ctxlanes`` for speed, a prior for bytes); layers of 256 or 512 channels at 7 x 7 run
at about 0.9-1.0x ``ctxlanes``' speed.
The padded copy and the encoder's decisions are kept working memory of the thread
(:mod:`.workspace`): fresh arrays' page faults had cost 15-18% of the time on 5M-element chunks.
Planes that a zero border would more than double (a row, a pixel: tensors without H and W) are
coded without one: the encoder computes every context up front, the decoder checks each
neighbour against the edges (on the MLP corpora's 1 x 1 planes 1.23-1.30x ``ctxlanes``' encoding
and 1.39x its decoding speed).
"""

from __future__ import annotations

import numpy as np

from .._kernel_cache import load_kernels
from ..errors import FormatError
from ._entropy_model import AdaptiveCodec, flat_strides, stream_offsets
from .base import ChunkSpec
from .workspace import scratch

KERNELS = "spikecodec.codecs.kernels.fast"  # loaded on first use (numba)


class FastContext(AdaptiveCodec):
    """The wide-context model in sample lanes sharing their counters (parameter: ``prior``)."""

    codec_id = "ctxfast"
    format_minor = 8
    contextual = True
    #: Default chunks hold about this many elements: the wide context learns from many samples.
    #: On the benchmark's corpora (5M elements each) its significance costs 0.90-0.98 of
    #: ``context``'s in one chunk, and 0.93-1.03 in chunks of 1M (benchmarks/results/ctxfast_design.md).
    chunk_elements = 1 << 23
    #: At least four samples a default chunk, one a lane: a sample of over 2M elements made
    #: chunks of 1-3 samples, whose 1-3 serial chains coded 0.5-0.8x as fast as four.
    chunk_samples = 4

    def table_layout(self, geometry: dict[str, int]) -> list[tuple[str, np.dtype, int]]:
        k = load_kernels(KERNELS)
        G, GM, km = k.counter_dims(geometry["C"], geometry["bits"])
        sizes = (G * k.KS, k.KS, GM * km, km)
        return [(n, np.dtype(np.uint32), size) for n, size in zip(self.TABLES, sizes)]

    def decisions(self, chunk, spec, with_ctx: bool = True):  # type: ignore[override]
        raise NotImplementedError("ctxfast has no per-decision diagnostics")

    def _zero_tables(self, C: int, bits: int, elements: int) -> dict[str, np.ndarray]:
        """A chunk's zero counters. Made here, not in the kernel: numpy's zeros are pages the
        system zeroes as the model first touches them (a chunk of a few elements touches a few),
        where the compiled allocator writes every byte of the 4 MB a 64-channel table holds; a
        large chunk reuses its thread's (:meth:`chunk_tables`)."""
        return self.chunk_tables({"C": C, "bits": bits}, elements)

    def _encode_canonical(self, canon: np.ndarray, bits: int, tables: dict[str, np.ndarray] | None = None) -> np.ndarray:
        canon = np.ascontiguousarray(canon)
        tables = tables or self._zero_tables(canon.shape[2], bits, canon.size)
        k = load_kernels(KERNELS)
        need = k.work_bytes(*canon.shape, True)
        work = scratch(need + k.magnitude_work_bytes(canon, bits))
        if work.size == 0:  # more than a thread keeps: the magnitudes' share is then allocated
            work = scratch(need)
        return k.encode_with(canon, bits, *tables.values(), work)

    def _max_words(self, spec: ChunkSpec) -> int:
        # Every decision reads at most one word; each stream adds its count and two initial words.
        return spec.size * self._max_decisions(spec.bits) + 3 * 5

    def _decode_canonical(self, words: np.ndarray, canon: np.ndarray, bits: int, tables: dict[str, np.ndarray] | None = None) -> int:
        if canon.itemsize != 1 or min(canon.strides, default=0) < 0:
            raise ValueError("decoding needs a uint8 view with non-negative strides")
        if canon.size == 0:  # a chunk without elements has the empty payload
            return 0 if words.size == 0 else 1
        T, N, C, H, W = canon.shape
        k = load_kernels(KERNELS)
        lanes = k.lane_count(N)
        count = lanes + (1 if bits > 1 else 0)  # the lanes' streams, then the magnitudes'
        sizes, offs = stream_offsets(words, count, "ctxfast", "stream")
        per_sample = T * C * H * W
        starts = k.lane_starts(N)
        for i in range(lanes):
            if sizes[i] > (starts[i + 1] - starts[i]) * per_sample + 2:
                raise FormatError(f"ctxfast: lane {i} is longer than any encoding of its samples", code="lanes-too-long")
        if bits > 1 and sizes[lanes] > canon.size * bits + 2:
            raise FormatError("ctxfast: the magnitude stream is longer than any encoding of the chunk", code="lanes-too-long")
        flat, strides = flat_strides(canon)
        tables = tables or self._zero_tables(C, bits, canon.size)
        return k.decode_into_with(words, offs, flat, canon.shape, strides, bits, *tables.values(),
                                  scratch(k.work_bytes(T, N, C, H, W, False)))
