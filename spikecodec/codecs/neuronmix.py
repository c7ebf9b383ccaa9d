"""``neuronmix``: spikes coded neuron by neuron - a flag for a neuron silent at every step, then
the steps of a firing one - each decision a mix of five adaptive models, arithmetic coded
(FORMAT.md 9.4.17; no parameters). The balanced mode, from format version 1.13.

Every other mixing codec makes a decision for each element, step by step, so its speed is
bounded by that of one mixing decision an element. Coding a neuron's T steps together, a neuron
silent at all of them costs one decision and a firing one's last step is sometimes forced: 0.35-
0.97 decisions an element on real spikes, whose steps see their neighbours' whole histories.
On the fourteen 1-bit corpora it codes 0.669-0.889 of paq9a's bytes (a layer of 128 channels at
7 x 7: 1.136) at 2.6-4.2x paq9a's speed and 1.7-4.2x ``framemix``'s, fewer bytes than
``ctxfast`` on each; counts code each firing step's value as a binary tree of one adaptive model:
0.839-1.030 of paq9a's bytes at 4.5-6.4x its speed (benchmarks/results/neuronmix.md). No prior
yet: its one-image files cost what a chunk of one sample costs. A payload of exactly the chunk's
bit-packed size holds the packed elements instead (when coding does not pay).
"""

from __future__ import annotations

import numpy as np

from .._kernel_cache import load_kernels
from ..elements import count_spikes
from ..errors import FormatError
from ._entropy_model import canonical_shape, canonical_view, coded_or_packed, decode_packed_payload, from_canonical, to_canonical
from .base import ChunkSpec, DecodingIntoCodec

KERNELS = "spikecodec.codecs.kernels.neuronmix"


class NeuronMixing(DecodingIntoCodec):
    """Neuron-major context mixing: a firing flag a neuron, then its steps (no parameters)."""

    codec_id = "neuronmix"
    format_minor = 13
    too_long_code = "neuronmix-too-long"  # its problems (FORMAT.md 9.4.17, appendix A)
    end_code = "neuronmix-end"
    #: Its position models learn across samples, as ``mix``'s do: chunks of about 8M elements.
    chunk_elements = 1 << 23

    def encode(self, chunk: np.ndarray, spec: ChunkSpec) -> bytes:
        if spec.packed_nbytes == 0:  # no elements: the empty payload
            return b""
        canon = to_canonical(np.asarray(chunk, np.uint8), spec.axes)
        neurons = canon.transpose(1, 3, 4, 2, 0).copy()  # T, N, C, H, W -> N, H, W, C, T (writable: the kernel also decodes)
        k = load_kernels(KERNELS)
        return coded_or_packed(chunk, spec, lambda out: int(k.encode(neurons, spec.bits, out)))

    def decode_into(self, data: bytes | memoryview, spec: ChunkSpec, out: np.ndarray) -> int:
        count = decode_packed_payload(data, spec, out, self.codec_id, self.too_long_code)
        if count is not None:  # the packed elements (FORMAT.md 9.4.17, as 9.4.9)
            return count
        (T, N, C, H, W), _ = canonical_shape(spec.shape, spec.axes)
        neurons = np.empty((N, H, W, C, T), np.uint8)
        status = load_kernels(KERNELS).decode_into(np.frombuffer(data, np.uint8), neurons, spec.bits)
        if status == 2:
            raise FormatError(f"neuronmix: decoded a value that does not fit {spec.bits}-bit elements", code="symbol-above-top")
        if status:
            raise FormatError("neuronmix: corrupt payload (its length or last byte is not what the decoded values code to)",
                              code=self.end_code)
        canon = neurons.transpose(4, 0, 3, 1, 2)  # N, H, W, C, T -> T, N, C, H, W
        view = canonical_view(out, spec.axes)
        if view is not None:
            view[...] = canon
        else:  # axes folded into N that are not adjacent in ``out``
            out[...] = from_canonical(np.ascontiguousarray(canon), spec.shape, spec.axes)
        return count_spikes(out, spec.bits)
