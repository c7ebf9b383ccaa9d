"""Every registered array codec keeps the codec contract (codec_contract.check_codec): round
trips, configuration through JSON, malformed payloads, and output bytes frozen at these digests
(published codecs never change their bytes; a new digest means a format change)."""

from __future__ import annotations

import numpy as np
import pytest

import spikecodec
from spikecodec.codecs import ChunkSpec, Pipeline, get_codec
from spikecodec.errors import FormatError

from codec_contract import check_codec, contract_chunks

FROZEN = {
    "raw": "34947291ccc4241b4c5334b71e98e99eb5b9ae30466ee4cc8353d39ffc8b4d22",
    "order0": "8f3a78d2dafb302c2f886b235a673546b9c6c153d570799b33e982c61d6ef830",
    "context": "9b75edc71ae09bdcef18ce3e918149880c584c3a5531336c8bc3ffca0fa4126e",
    "auto": "ad6a5f57efa67ccb2e770a22de693d7c68179d141c22ee2ac93fc54820c49701",
    "countctx": "456e033ac6b38bf8247db67fc5230d8af5feba7254f89b0176fc5e0a39f22ee5",
    "ctxlanes": "7835ae7cd05529f311b46dcc75d999d5227642c6e6857104a78b199ad267aaad",
    "ctxmix": "7028bb36500ab9d6bae34fe12daa1c1fdeea3fd12f61cc79db2c93b49536cae8",
    "mix": "ca820836613c3b79ee704b7fa9e59bb23a477c28510e18d145eb3933fdd51aa1",
    "winmix": "b072e9961fcf281cf4b9e6feb6e28a1ddb69fd70f729397f657a05fe1173b8bc",
    "ctxfast": "e6000b0ebd8cc8b5ed1f9e04f89ad8eb9312a4b1e6dc5aed0b8a93c517b68b9d",
    "countmix": "1c257923227fd293bed933a16e32a25ece13c78ff77fe879084d99f0f5ac0446",
    "chanmix": "32c2b7013cc10a711a1f71fe856216f5cdb2f2463e379055aed2e73022f93835",
    "framemix": "6a8cbed8a37c39f34a32b4edb15d8504b9cfbbcdf2ca2a3e686344a988f3e356",
    "neuronmix": "6bf3bd4b9e4dd2ede683f02fe6c0fead3377ec96ceb62caf6ca5ad02e1e41a2e",
}


@pytest.fixture(scope="module")
def chunks():
    return contract_chunks()


def test_every_registered_array_codec_is_covered():
    array_codecs = {k for k, c in spikecodec.registered_codecs().items() if k != "zstd"}
    assert array_codecs == set(FROZEN)


@pytest.mark.parametrize("codec_id", sorted(FROZEN))
def test_codec_contract(codec_id, chunks):
    check_codec(get_codec(codec_id), chunks, frozen=FROZEN[codec_id])


def _one_geometry(seed: int, count: int, bits: int) -> list[tuple[np.ndarray, ChunkSpec]]:
    """Chunks of one geometry (what a prior serves): 2 steps, 4 channels, 5 x 5, N varies."""
    base = np.random.default_rng(0).random((4, 5, 5)) < 0.3  # a pattern all samples share, as one network's spikes do
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        shape = (2, 1 + i % 3, 4, 5, 5)
        fire = base[None, None] ^ (rng.random(shape) < 0.15)
        values = np.where(fire, rng.integers(1, 1 << bits, shape), 0) if bits > 1 else fire
        out.append((values.astype(np.uint8), ChunkSpec(shape, ("T", "N", "C", "H", "W"), bits)))
    return out


TRAINABLE = ["order0", "context", "countctx", "ctxlanes", "ctxmix", "mix", "winmix", "ctxfast", "countmix", "chanmix", "framemix"]


@pytest.mark.parametrize("bits", [1, 2])
@pytest.mark.parametrize("codec_id", TRAINABLE)
def test_codec_contract_with_a_prior(codec_id, bits):
    """A codec coding from a prior keeps the contract too, and the prior pays on chunks like the
    samples it was trained on."""
    samples = _one_geometry(1, 60, bits)
    prior = spikecodec.train_prior([x for x, _ in samples], codec_id, axes="TNCHW", chunk=(2,))
    codec = get_codec(codec_id).with_prior(prior)
    assert codec.get_config() == {"prior": prior.digest} and codec.minor_needed() == max(3, codec.format_minor)
    test = _one_geometry(2, 12, bits)
    check_codec(codec, test)
    with_prior = sum(len(codec.encode(x, s)) for x, s in test)
    without = sum(len(get_codec(codec_id).encode(x, s)) for x, s in test)
    assert with_prior < without, (with_prior, without)


# Channel counts at the group caps (64 for mix's groups, 256 for context's, and lanes of 256 and
# 257 channels for ctxlanes), planes of one pixel and of more rows than a tile, T past the
# position cap: the encoder and the decoder stay inside their tables (ctxlanes once did not past
# 1024 channels: a segmentation fault), and the array comes back.
EDGE_SHAPES = [(2, 1, 1028, 5, 5), (2, 1, 1024, 5, 5), (1, 2, 257, 1, 3), (1, 1, 65, 2, 2), (9, 1, 4, 1, 1), (1, 1, 2, 70, 3)]


@pytest.mark.parametrize("bits", [1, 2])
@pytest.mark.parametrize("codec_id", sorted(FROZEN))
def test_round_trip_at_the_edges_of_the_tables(codec_id, bits):
    for i, shape in enumerate(EDGE_SHAPES):
        rng = np.random.default_rng(i)
        x = ((rng.random(shape) < 0.3) * rng.integers(1, 1 << bits, shape)).astype(np.uint8)
        codec = get_codec(codec_id)
        spec = ChunkSpec(shape, ("T", "N", "C", "H", "W"), bits)
        np.testing.assert_array_equal(codec.decode(codec.encode(x, spec), spec), x, err_msg=f"{codec_id} {shape}")


@pytest.mark.parametrize("codec", ["ctxmix", "mix", "winmix", "countmix", "chanmix", "framemix", "neuronmix"])
def test_a_short_garbage_payload_stops_when_its_end_check_cannot_pass(codec):
    # Once the decoder has shifted out more bytes than the payload holds, FORMAT.md 9.4.9's end
    # check cannot pass: decoding stops there, with the same problem. Before, a 214-byte file
    # declaring 63M elements (found by scripts/fuzz.py decode) decoded them all, for 5 s.
    # 2M elements: a garbage payload can decode to confident predictions that cost little each
    # (chanmix's 40 bytes here ran to 70K elements before its end check stopped it).
    spec = ChunkSpec((4, 1, 8, 256, 256), ("T", "N", "C", "H", "W"), 1)
    payload = bytes(np.random.default_rng(0).integers(0, 256, 40, dtype=np.uint8))
    out = np.full(spec.shape, 0xEE, np.uint8)
    with pytest.raises(FormatError) as got:
        Pipeline([codec]).decode(payload, spec, out=out)
    assert got.value.code in ("ctxmix-end", "mix-end", "neuronmix-end")
    assert (out == 0xEE).mean() > 0.8, "decoded on past the point where the payload was known bad"


@pytest.mark.parametrize("codec_id", sorted(FROZEN))
def test_an_empty_array_of_huge_extents_codes_without_walking_them(codec_id):
    """No elements, no decisions: the context-mixing encoders still walked the other axes, so
    ``encode(np.zeros((2, 2**40, 0)), codec="mix")`` never returned (a shape FORMAT.md 4.2 allows)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "spec"))
    from refreader import read  # the spec's reader too: it walked them as well

    for shape, axes in (((2, 2**40, 0), "TNC"), ((2, 2**40, 0, 3, 3), "TNCHW")):
        data = spikecodec.encode(np.zeros(shape, np.uint8), codec=codec_id, axes=axes, chunk=[1])
        assert spikecodec.decode(data).shape == shape
        assert read(data, {}).shape == shape
