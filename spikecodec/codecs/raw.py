"""``raw``: the bit-packed elements as they are (FORMAT.md 8.1)."""

from __future__ import annotations

import numpy as np

from ..elements import pack, unpack
from .base import ArrayCodec, ChunkSpec


class Raw(ArrayCodec):
    """Elements packed MSB-first at their element width; no parameters."""

    codec_id = "raw"

    def encode(self, chunk: np.ndarray, spec: ChunkSpec) -> bytes:
        return pack(chunk, spec.bits)

    def decode(self, data: bytes, spec: ChunkSpec) -> np.ndarray:
        return unpack(data, spec.size, spec.bits).reshape(spec.shape)
