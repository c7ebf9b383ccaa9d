"""``auto``: per chunk, the smallest of raw packing, ``order0`` and ``context``.

``context`` is always encoded. ``order0`` is encoded too only when its predicted size (the
per-channel empirical entropy, a cheap bincount) is within 3% of the ``context`` payload; then
the smaller payload is kept. If the winner is not smaller than bit-packing, the chunk is stored
packed. Payload: one mode byte (0 = raw, 1 = order0, 2 = context), then that coder's payload.
"""

from __future__ import annotations

import numpy as np

from .._kernel_cache import load_kernels
from ..elements import pack, unpack
from ..errors import FormatError
from ._entropy_model import categorical_entropy_bits, to_canonical
from .base import ArrayCodec, ChunkSpec
from .context import Context
from .order0 import Order0
from .raw import Raw

MODES = ("raw", "order0", "context")
HISTOGRAM = "spikecodec.codecs.kernels.histogram"  # loaded on first use (numba)


def order0_estimate(chunk: np.ndarray, spec: ChunkSpec) -> float:
    """Predicted ``order0`` payload bytes: per-channel empirical entropy (learning cost excluded)."""
    canon = to_canonical(chunk, spec.axes)
    if canon.size == 0:
        return 0.0
    # Columns up to the largest value, as a per-channel bincount gives: the same array, so the
    # same float sum and the same choice (the auto vectors pin the bytes).
    counts = load_kernels(HISTOGRAM).channel_histogram(canon, int(canon.max()) + 1)
    return categorical_entropy_bits(counts) / 8


class Auto(ArrayCodec):
    """Smallest coding per chunk (no parameters)."""

    codec_id = "auto"

    def encode(self, chunk: np.ndarray, spec: ChunkSpec) -> bytes:
        mode, payload = 2, Context().encode(chunk, spec)
        if order0_estimate(chunk, spec) < 1.03 * len(payload):
            alt = Order0().encode(chunk, spec)
            if len(alt) < len(payload):
                mode, payload = 1, alt
        raw = pack(chunk, spec.bits)
        if len(payload) >= len(raw):
            mode, payload = 0, raw
        return bytes([mode]) + payload

    def decode(self, data: bytes, spec: ChunkSpec) -> np.ndarray:
        if len(data) < 1:
            raise FormatError("auto: empty payload", code="auto-empty")
        mode, body = data[0], bytes(memoryview(data)[1:])
        if mode == 0:
            return unpack(body, spec.size, spec.bits).reshape(spec.shape)
        if mode == 1:
            return Order0().decode(body, spec)
        if mode == 2:
            return Context().decode(body, spec)
        raise FormatError(f"auto: unknown mode {mode} (known: 0 raw, 1 order0, 2 context)", code="auto-mode")

    def decode_into(self, data: bytes | memoryview, spec: ChunkSpec, out: np.ndarray) -> int:
        # Each mode's codec decodes straight into ``out`` and checks its own values.
        if len(data) < 1:
            raise FormatError("auto: empty payload", code="auto-empty")
        mode, body = data[0], memoryview(data)[1:]
        codec = {0: Raw, 1: Order0, 2: Context}.get(mode)
        if codec is None:
            raise FormatError(f"auto: unknown mode {mode} (known: 0 raw, 1 order0, 2 context)", code="auto-mode")
        return codec().decode_into(body, spec, out)
