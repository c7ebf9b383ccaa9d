"""``raw``: the bit-packed elements as they are (FORMAT.md 8.1)."""

from __future__ import annotations

import numpy as np

from ..elements import count_packed_ones, count_spikes, pack, unpack
from .base import ArrayCodec, ChunkSpec


class Raw(ArrayCodec):
    """Elements packed MSB-first at their element width; no parameters."""

    codec_id = "raw"

    def encode(self, chunk: np.ndarray, spec: ChunkSpec) -> bytes:
        return pack(chunk, spec.bits)

    def decode(self, data: bytes, spec: ChunkSpec) -> np.ndarray:
        return unpack(data, spec.size, spec.bits).reshape(spec.shape)

    def encode_counted(self, chunk: np.ndarray, spec: ChunkSpec) -> tuple[bytes, int]:
        data = self.encode(chunk, spec)
        return data, count_packed_ones(data) if spec.bits == 1 else count_spikes(chunk, spec.bits)

    def decode_counted(self, data: bytes, spec: ChunkSpec) -> tuple[np.ndarray, int]:
        values = self.decode(data, spec)  # checks size and padding first
        return values, count_packed_ones(data) if spec.bits == 1 else count_spikes(values, spec.bits)
