"""``raw``: the bit-packed elements as they are (FORMAT.md 9.2)."""

from __future__ import annotations

import numpy as np

from ..elements import pack_counted, unpack, unpack_into
from .base import ArrayCodec, ChunkSpec


class Raw(ArrayCodec):
    """Elements packed MSB-first at their element width; no parameters."""

    codec_id = "raw"
    checks_range = True  # pack_counted raises ElementRangeError

    def encode(self, chunk: np.ndarray, spec: ChunkSpec) -> bytes:
        return pack_counted(chunk, spec.bits)[0].tobytes()

    def decode(self, data: bytes, spec: ChunkSpec) -> np.ndarray:
        return unpack(data, spec.size, spec.bits).reshape(spec.shape)

    def encode_counted(self, chunk: np.ndarray, spec: ChunkSpec) -> tuple[memoryview, int]:
        packed, count = pack_counted(chunk, spec.bits)  # packs, counts and range-checks in one pass
        return memoryview(packed), count  # no copy: the writer hands it to the next stage or the file

    def decode_into(self, data: bytes | memoryview, spec: ChunkSpec, out: np.ndarray) -> int:
        # Unpacking b-bit fields cannot give a value wider than b bits, nor the wrong shape: no
        # check of the output is needed, only of the input (size and padding, in unpack_into).
        if out.flags.c_contiguous:
            return unpack_into(data, out, spec.bits)
        values = np.empty(spec.shape, np.uint8)  # a strided destination (a chunk inside a row)
        count = unpack_into(data, values, spec.bits)
        out[...] = values
        return count
