"""``chanmix``: ``countmix``'s models with a third window in place of the pixel pair and a weight
set per channel (FORMAT.md 9.4.14; parameter ``prior``, FORMAT.md 14). The default codec, for
spikes and counts, of format version 1.11 (``framemix``, 9.4.15, from 1.12).

``winmix`` (9.4.11) mixes its seven significance models with weight sets shared by every channel,
chosen by the step and the neighbourhood; its pixel-pair model E (the left pixel's channel vector
with this pixel's so far) was found to add 0.1% over fourteen corpora (benchmarks/results/
winmix_ablation.md). ``chanmix`` keys E's lines by bits 32..47 of the run of significances coded
(with the channel: a third window beside X's bits 0..15 and Y's 16..31), and mixes every
significance decision with two weight sets averaged, as ``ctxmix`` does: winmix's shared set and
one of the channel (its group of up to 256) and the two channels before it. Counts get
``countmix``'s level and escape models (9.4.13). Over those corpora it codes 1.7% under winmix,
under it on each, 8.6% on a layer of many channels at few pixels, at about 0.95x its speed.
Chunks, payload rules and problem codes are ``mix``'s.
"""

from __future__ import annotations

from .countmix import CountMixing


class ChannelMixing(CountMixing):
    """countmix with a window model in place of the pixel pair and per-channel weight sets
    (parameter: ``prior``)."""

    codec_id = "chanmix"
    format_minor = 11
    kernels_module = "spikecodec.codecs.kernels.chanmix"
