"""The contract every array codec keeps, checked by one helper (as numcodecs tests its codecs):
round trips, configuration through JSON, malformed payloads, and frozen output bytes."""

from __future__ import annotations

import hashlib
import json
from typing import Iterable

import numpy as np

from spikecodec.codecs import ArrayCodec, ChunkSpec, get_codec
from spikecodec.errors import FormatError

AXES = [("T", "N", "C", "H", "W"), ("N", "C", "H", "W"), ("T", "N", "F"), ("W", "C", "T"), ("N", "T", "C", "H", "W")]


def contract_chunks(seed: int = 7, count: int = 40) -> list[tuple[np.ndarray, ChunkSpec]]:
    """Small chunks of every element type, density and axis layout, some repeating over time
    (so context models find something), one empty and one all-zero."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        axes = AXES[i % len(AXES)]
        bits = (1, 2, 4, 8)[i % 4]
        shape = tuple(int(v) for v in rng.integers(1, 6, len(axes)))
        density = (0.02, 0.3, 0.7, 1.0)[(i // 4) % 4]
        top = min(int(rng.choice([1, 2, (1 << bits) - 1])), (1 << bits) - 1)
        base = rng.random(shape[1:]) < density
        fire = base[None] ^ (rng.random(shape) < 0.1)
        out.append((np.where(fire, rng.integers(1, top + 1, shape), 0).astype(np.uint8), ChunkSpec(shape, axes, bits)))
    out.append((np.zeros((0, 3, 2), np.uint8), ChunkSpec((0, 3, 2), ("T", "N", "F"), 1)))
    out.append((np.zeros((3, 2, 4, 5, 5), np.uint8), ChunkSpec((3, 2, 4, 5, 5), AXES[0], 1)))
    return out


def check_codec(codec: ArrayCodec, chunks: Iterable[tuple[np.ndarray, ChunkSpec]], *, frozen: str | None = None,
                corruptions: int = 30) -> str:
    """Check ``codec`` on ``chunks`` and return the digest of its payloads (sha256 over each
    payload's sha256): it must equal ``frozen`` when given.

    * every chunk round-trips bit-exactly, within the payload cap, deterministically, and codes
      the same from a read-only array;
    * its configuration survives JSON (``get_codec({"id": ..., **config})`` is the same codec);
    * malformed payloads - truncated, extended, bit-flipped - raise FormatError or decode to a
      well-formed array (right shape, uint8, values that fit): never another exception;
    """
    config = json.loads(json.dumps(codec.get_config()))
    twin = get_codec({"id": codec.codec_id, **config})
    assert type(twin) is type(codec) and twin.get_config() == codec.get_config()
    rng = np.random.default_rng(0)
    hexes = []
    for i, (x, spec) in enumerate(chunks):
        payload = bytes(codec.encode(x, spec))
        assert len(payload) <= spec.max_payload, (codec, spec)
        assert bytes(codec.encode(x.copy(), spec)) == payload, "not deterministic"
        frozen_input = x.copy()
        frozen_input.flags.writeable = False  # as a read-only memory map (np.load(mmap_mode="r")) is
        assert bytes(codec.encode(frozen_input, spec)) == payload, "a read-only input codes otherwise"
        y = codec.decode(payload, spec)
        assert y.dtype == np.uint8 and y.shape == spec.shape
        np.testing.assert_array_equal(y, x)
        hexes.append(hashlib.sha256(payload).hexdigest())
        if i % 4 or not payload:
            continue
        bad = [payload[:-1], payload[: len(payload) // 2], payload + b"\x00", payload + b"\xff\xff\xff\xff", b""]
        for _ in range(corruptions):
            b = bytearray(payload)
            b[rng.integers(len(b))] ^= 1 << int(rng.integers(8))
            bad.append(bytes(b))
        for b in bad:
            try:
                z = codec.decode(b, spec)
            except FormatError:
                continue
            assert z.shape == spec.shape and z.dtype == np.uint8
            assert spec.size == 0 or int(z.max()) < (1 << spec.bits)
    digest = hashlib.sha256("".join(hexes).encode()).hexdigest()
    if frozen is not None:
        assert digest == frozen, f"{codec!r}: payload bytes changed (digest {digest})"
    return digest
