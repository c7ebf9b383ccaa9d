"""``mix``: five adaptive context models mixed in the logistic domain, arithmetic coded sample by
sample (FORMAT.md 9.4.10; parameter ``prior``, FORMAT.md 14). The default codec from format
version 1.4.

``ctxmix``'s arithmetic (its state words, tables and coder), with models chosen on spikes of
several trained networks: a neighbourhood model and a history model per channel and step, a
position model, and two *pixel vector* models keyed by the spikes of the channels already coded
at the same pixel (and, for one, the whole vector of the pixel to its left) - a layer's channels
at one pixel are features of one receptive field, and coding them jointly is most of what a
general-purpose compressor finds in a channels-last byte order. Coding runs sample by sample,
channels innermost. The models learn across samples: chunks of many samples (this codec's
default chunk holds about 8M elements) or a prior pay off. A payload of exactly the chunk's
bit-packed size holds the packed elements instead.
"""

from __future__ import annotations

from ._entropy_model import canonical_shape
from .base import ChunkSpec
from .ctxmix import ContextMixing


class PixelMixing(ContextMixing):
    """Context mixing of neighbourhood, history, position and pixel-vector models (parameter:
    ``prior``)."""

    codec_id = "mix"
    format_minor = 4
    kernels_module = "spikecodec.codecs.kernels.mix"
    too_long_code = "mix-too-long"
    end_code = "mix-end"
    #: Default chunks of this codec hold about this many elements: its models learn across
    #: samples, and chunks of 1M elements cost 5-8% against one of 5M (benchmarks/results/mix_design.md).
    chunk_elements = 1 << 23

    def working_bytes(self, spec: ChunkSpec) -> int:
        """The kernels' planes of one sample (two steps, zero-padded: a row and a column on each
        side, three channels) and its neurons' histories (a byte each, four more for
        ``framemix``'s long one): about 23 bytes an element for a chunk of one sample of 1 x 1
        planes, which a 59 KB file of 2**25 channels made 800 MB; a few bytes a sample's element,
        shared by all its samples, for a chunk of a layer's usual planes."""
        if spec.size == 0:  # no elements: decoded without the kernels
            return 0
        (_, _, C, H, W), _ = canonical_shape(spec.shape, spec.axes)
        return 2 * (H + 2) * (W + 2) * (C + 3) + 5 * C * H * W
