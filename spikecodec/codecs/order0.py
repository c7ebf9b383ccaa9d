"""``order0``: adaptive per-channel order-0 model, rANS coded (parameter: ``prior``).

Each element is a significance bit ``x > 0`` and, for multi-bit chunks, the bits of ``x - 1``
(MSB first, a binary tree). Every decision's probability comes from adaptive integer counts of
its channel group (the C axis of the canonical view, ``c mod 256``) blended with counts shared by
all channels; the counts start at zero in each chunk, so no table is stored. Code length is the
per-channel entropy plus O(log n) learning bits per channel. Format: FORMAT.md 9.4.4.
"""

from __future__ import annotations

from ._entropy_model import AdaptiveCodec


class Order0(AdaptiveCodec):
    """Per-channel adaptive order-0 codec (parameter: ``prior``)."""

    codec_id = "order0"
    contextual = False
