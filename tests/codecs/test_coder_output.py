"""The arithmetic-coded codecs (ctxmix's family and neuronmix) code a chunk into a buffer of its
packed size, not of the coder's worst case (once up to 16.5 bytes an element for 8-bit counts):
a payload that long is replaced by the packed elements anyway (FORMAT.md 9.4.9). Their kernels
count the bytes past the buffer's end without writing them, so the count still says when coding
did not pay, and an encoder holds no more than the packed chunk beside its input."""

from __future__ import annotations

import numpy as np
import pytest

import spikecodec
from spikecodec._kernel_cache import load_kernels
from spikecodec.codecs import get_codec

CODECS = ["ctxmix", "mix", "winmix", "countmix", "chanmix", "framemix", "neuronmix"]


def _coder(codec_id: str, x: np.ndarray, bits: int):
    """A function that codes ``x`` (T, N, C, H, W) into the buffer it is given, from fresh tables,
    and returns the kernel's byte count."""
    if codec_id == "neuronmix":
        k = load_kernels("spikecodec.codecs.kernels.neuronmix")
        return lambda out: int(k.encode(x.transpose(1, 3, 4, 2, 0).copy(), bits, out))
    codec = get_codec(codec_id)
    k = load_kernels(codec.kernels_module)
    T, _, C, H, W = x.shape

    def code(out: np.ndarray) -> int:
        tables = codec.fresh_tables({"bits": bits, "T": min(T, k.TPOS), "C": C, "H": H, "W": W})
        return int(k.encode(x.copy(), bits, tables["states"], tables["weights"], out, False))
    return code


@pytest.mark.parametrize("codec_id", CODECS)
@pytest.mark.parametrize("bits", [1, 8])
def test_bytes_past_the_buffer_are_counted_not_written(codec_id, bits):
    rng = np.random.default_rng(7)
    x = (rng.integers(0, 1 << bits, (2, 3, 5, 3, 4)) * (rng.random((2, 3, 5, 3, 4)) < 0.4)).astype(np.uint8)
    code = _coder(codec_id, x, bits)
    room = np.empty(64 * x.size, np.uint8)
    n = code(room)
    assert n > 8
    whole = room[:n].copy()
    for cut in (0, 1, n // 2, n - 1, n):
        guarded = np.full(cut + 32, 0xA5, np.uint8)
        assert code(guarded[:cut]) == n, cut  # the same count, whatever the room
        assert np.array_equal(guarded[:cut], whole[:cut]), cut  # the bytes that fit, as they are
        assert (guarded[cut:] == 0xA5).all(), cut  # nothing written past the buffer


@pytest.mark.parametrize("codec_id", CODECS)
def test_a_chunk_whose_coding_does_not_pay_is_packed(codec_id):
    """Uniform 8-bit values code to more than their packed size: the payload is the packed
    chunk, and it decodes."""
    x = np.random.default_rng(3).integers(0, 256, (1, 4, 8, 4, 4)).astype(np.uint8)
    data = spikecodec.encode(x, codec=codec_id)
    raw = spikecodec.encode(x, codec="raw")  # the packed elements as the payload
    assert [e.size for e in spikecodec.open(data).entries] == [e.size for e in spikecodec.open(raw).entries]
    assert np.array_equal(spikecodec.decode(data), x)
