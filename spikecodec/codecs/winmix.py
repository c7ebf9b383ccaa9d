"""``winmix``: ``mix``'s context mixing with window models of the last significances coded and
one mixer shared by every channel (FORMAT.md 9.4.11; parameter ``prior``, FORMAT.md 14). The
default codec from format version 1.5.

``mix`` (9.4.10) keys every table and weight set by (channel group, t), so each step and channel
learns on its own. ``winmix`` drops ``mix``'s pixel-vector model D and adds three models keyed by
*windows* of recent significances - the last 12 channels at this pixel, and two 16-bit slices of
the last 64 decisions coded anywhere in the chunk, with the channel - and mixes every channel with
one set of weights whose learning rate decays as the chunk goes on. On spikes of networks it was
not designed on it codes 13-36% under paq9a, where ``mix`` ranged from 41% over to 35% under
(benchmarks/results/peers.md); it runs at 0.6-1.0x ``mix``'s speed, and its tables X and Y (2**20
states each, 8 MiB) take the place of ``mix``'s D. Chunks, payload rules and problem codes are
``mix``'s.
"""

from __future__ import annotations

from .mix import PixelMixing


class WindowMixing(PixelMixing):
    """Context mixing of neighbourhood, history, position, pixel-pair and window models
    (parameter: ``prior``)."""

    codec_id = "winmix"
    format_minor = 5
    kernels_module = "spikecodec.codecs.kernels.winmix"
