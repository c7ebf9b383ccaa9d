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
