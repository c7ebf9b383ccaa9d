"""``countmix``: ``winmix`` with two more models for the level and escape decisions of spike
counts (FORMAT.md 9.4.13; parameter ``prior``, FORMAT.md 14). The default codec for elements of
more than one bit from format version 1.10.

``winmix`` (9.4.11) predicts whether a count is above 1, above 2 and its escape bits from F (the
channel group and step with the values, capped at 3, of the neuron's last two steps and its left
and upper neighbours) and G (the position) alone. ``countmix`` adds H (the values of channels
c-1 and c-2 at the pixel, up to 7) and I (the left, upper and c-1 values, shared by every
channel and step). On 1-bit spikes there are no such decisions and its payload is winmix's.
"""

from __future__ import annotations

from .winmix import WindowMixing


class CountMixing(WindowMixing):
    """winmix with value models for counts (parameter: ``prior``)."""

    codec_id = "countmix"
    format_minor = 10
    kernels_module = "spikecodec.codecs.kernels.countmix"
