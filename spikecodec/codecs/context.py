"""``context``: adaptive channel-aware context model over each element's decoded neighbours.

The significance bit of element (t, n, c, h, w) of the canonical (T, N, C, H, W) view is coded
with a context of 1024 values from the neuron's own earlier timesteps (its whole T-pattern so
far, up to 3 steps back, with the position in time), its left, upper and upper-diagonal
neighbours at the same step, how many of its 8 spatial neighbours fired at the previous step and
the previous channel at the same position; counts are kept per (channel group, context) and
blended with counts per context shared by all channels. Multi-bit values code ``x - 1`` as a
binary tree conditioned on the neuron's two previous values and its left and upper neighbours'
current values (each clipped to 3). All counts are integers starting at zero
per chunk, so nothing is stored but the rANS words. Format: FORMAT.md 9.4.5.
"""

from __future__ import annotations

from ._entropy_model import AdaptiveCodec


class Context(AdaptiveCodec):
    """The adaptive context-model codec (parameter: ``prior``)."""

    codec_id = "context"
    contextual = True
