"""``framemix``: ``chanmix``'s models with two more for what lies beyond one sample's short
history - the previous sample, and a neuron's last 15 steps (FORMAT.md 9.4.15; parameter
``prior``, FORMAT.md 14). The default codec, for spikes and counts, from format version 1.12.

``chanmix`` (9.4.14) reads nothing of other samples but through its adaptive tables, and a
neuron's own past only 7 steps back. On samples that repeat or change a little from one to the
next (a client resending, frames of a slowly changing scene) it coded 32-43% more than zpaq -m5,
and on a network run for 32 steps only 5.6% under paq9a (benchmarks/results/stress.md).
``framemix`` adds P (the previous sample of the chunk around the element, with how long the
sample has repeated it) and L (the neuron's last 15 steps), mixed in both weight sets: 34-40%
fewer bytes there, 3-7% on the longer runs, 0.19% over the fourteen corpora, at 0.72-0.94x
chanmix's speed (benchmarks/results/framemix_study.md). Chunks, payload rules and problem codes
are ``mix``'s.
"""

from __future__ import annotations

from .chanmix import ChannelMixing


class FrameMixing(ChannelMixing):
    """chanmix with models of the previous sample and of a neuron's long history (parameter:
    ``prior``)."""

    codec_id = "framemix"
    format_minor = 12
    kernels_module = "spikecodec.codecs.kernels.framemix"
