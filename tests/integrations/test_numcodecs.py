"""The numcodecs codec keeps the codec contract (as tests/codecs/codec_contract.py checks the array
codecs): round trips of every chunk kind, its configuration through JSON and numcodecs' registry,
malformed payloads refused with a clear error; and it refuses what it cannot code."""

from __future__ import annotations

import array
import json
import shutil

import numcodecs
import numpy as np
import pytest

import spikecodec
import spikecodec.prior
from spikecodec.integrations import _core
from spikecodec.integrations.numcodecs import MESSAGE_TAG, SpikeCodec

from integration_helpers import SHIPPED_PRIOR, run_fresh


def contract_chunks(seed: int = 3) -> list[np.ndarray]:
    """Bool and uint8 chunks of ranks 0 to 6, every element type and density, repeating over
    time (so context models find something), empty, all-zero, all-one, and strided."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    for i in range(24):
        rank = 1 + i % 6
        shape = tuple(int(v) for v in rng.integers(1, 6, rank))
        density = (0.02, 0.3, 0.7, 1.0)[(i // 6) % 4]
        fire = (rng.random(shape[1:]) < density)[None] ^ (rng.random(shape) < 0.1)
        if i % 3 == 0:
            out.append(fire.astype(bool))
        else:
            top = (1, 3, 15, 255)[i % 4]
            out.append(np.where(fire, rng.integers(1, top + 1, shape), 0).astype(np.uint8))
    out += [np.zeros((0, 3, 2), bool), np.zeros((3, 2, 4, 5, 5), np.uint8), np.ones((2, 3, 4), bool),
            np.array(True), np.array(7, np.uint8),
            (rng.random((4, 6, 8)) < 0.2)[:, ::2, 1::3],           # strided view
            np.asfortranarray(rng.integers(0, 4, (3, 4, 5)).astype(np.uint8))]
    return out


def check_numcodec(codec: SpikeCodec, chunks: list[np.ndarray], corruptions: int = 24) -> None:
    """The contract: every chunk round-trips bit-exactly in shape and dtype, deterministically,
    from any buffer and into ``out=``; the configuration survives JSON and numcodecs' registry;
    malformed payloads raise a ValueError (spikecodec.FormatError) saying what is wrong."""
    config = json.loads(json.dumps(codec.get_config()))
    twin = numcodecs.get_codec(config)
    assert type(twin) is SpikeCodec and twin == codec and twin.get_config() == codec.get_config()
    rng = np.random.default_rng(0)
    for i, x in enumerate(chunks):
        if codec.framing == "message" and x.ndim > 1 and x.flags.f_contiguous and not x.flags.c_contiguous:
            with pytest.raises(ValueError, match="Fortran order"):  # no room to say so: zarr 2 would read it transposed
                codec.encode(x)
            continue
        enc = codec.encode(x)
        if codec.framing == "file":
            assert isinstance(enc, bytes) and enc[:4] == b"\x8aSPK"  # a spike file
        else:
            assert isinstance(enc, bytes) and enc[0] == MESSAGE_TAG  # a chunk message
        assert codec.encode(np.array(x, copy=True)) == enc, "not deterministic"
        for source in (enc, bytearray(enc), memoryview(enc), np.frombuffer(enc, np.uint8), array.array("b", enc)):
            y = twin.decode(source)
            assert y.dtype == x.dtype and y.shape == x.shape, (x.dtype, x.shape, y.dtype, y.shape)
            np.testing.assert_array_equal(y, x)
        out = np.empty_like(x)
        assert twin.decode(enc, out=out) is out
        np.testing.assert_array_equal(out, x)
        raw = bytearray(x.nbytes)
        twin.decode(enc, out=raw)
        assert bytes(raw) == x.tobytes(order="A")  # in the chunk's memory order, as zarr format 2 reads it
        if i % 4:
            continue
        bad = [enc[:-1], enc[: len(enc) // 2], enc + b"\x00", enc + b"\xff" * 4, b"", b"\x8aSPK", enc[16:]]
        for _ in range(corruptions):
            b = bytearray(enc)
            b[rng.integers(len(b))] ^= 1 << int(rng.integers(8))
            bad.append(bytes(b))
        for b in bad:
            try:
                z = twin.decode(b)
            except spikecodec.FormatError as exc:  # a ValueError, saying what and where
                assert str(exc)
                continue
            # Only a damage the CRCs cannot see may decode, and then to a well-formed chunk.
            assert z.dtype in (np.dtype(bool), np.dtype(np.uint8)) and z.ndim == x.ndim


@pytest.mark.parametrize("framing", ["file", "message"])
@pytest.mark.parametrize("config", [{}, {"codec": "ctxmix"}, {"codec": "raw"}, {"codec": "zstd"}, {"codec": "context"}])
def test_codec_contract(config, framing):
    check_numcodec(SpikeCodec(**config, framing=framing), contract_chunks())


@pytest.mark.parametrize("framing", ["file", "message"])
def test_axes_and_bits_contract(framing):
    rng = np.random.default_rng(5)
    chunks = [(rng.random(s) < 0.2) for s in [(4, 3, 2, 5, 5), (1, 1, 1, 1, 1), (6, 0, 2, 2, 2)]]
    check_numcodec(SpikeCodec(codec="ctxmix", axes="NTCHW", framing=framing), chunks)
    check_numcodec(SpikeCodec(codec="countctx", axes=["T", "N", "F"], bits=4, framing=framing),
                   [rng.integers(0, 16, (3, 4, 20)).astype(np.uint8)])


def test_real_spikes_shape_and_dtype_survive(sample_spikes):
    """Unlike numcodecs' PackBits (numcodecs #517), the chunk comes back in its shape and dtype
    from the bytes alone, and ctxmix codes real spikes in a fraction of PackBits' bytes."""
    spikes = sample_spikes.astype(bool)
    codec = SpikeCodec(codec="ctxmix", axes="TNCHW")
    enc = codec.encode(spikes)
    back = SpikeCodec().decode(enc)  # any configuration decodes: the file describes itself
    assert back.dtype == bool and back.shape == spikes.shape
    np.testing.assert_array_equal(back, spikes)
    packbits = numcodecs.PackBits().encode(spikes)
    assert len(enc) <= 0.5 * len(packbits), (len(enc), len(packbits))
    with spikecodec.open(enc) as r:  # an ordinary spike file
        assert r.axes == tuple("TNCHW") and r.codec[0]["id"] == "ctxmix" and r.records == "compact"
        assert r.metadata == {"dtype": "bool"}
    counts = SpikeCodec(bits=2).decode(SpikeCodec(bits=2).encode(sample_spikes * 3))
    assert counts.dtype == np.uint8 and counts.max() == 3


@pytest.mark.parametrize("dtype", ["int8", "int16", "uint16", "float32", "float64", "int64", "complex64"])
def test_other_dtypes_are_refused(dtype):
    with pytest.raises(ValueError, match="bool .* or uint8"):
        SpikeCodec().encode(np.zeros((2, 3), dtype))


def test_values_must_fit_the_element_type():
    x = np.array([[0, 1], [2, 0]], np.uint8)
    with pytest.raises(ValueError, match=r"\(1, 0\)"):  # names the first value that does not fit
        SpikeCodec(bits=1).encode(x)
    np.testing.assert_array_equal(SpikeCodec(bits=2).decode(SpikeCodec(bits=2).encode(x)), x)


@pytest.mark.parametrize("config, match", [
    ({"codec": "nope"}, "unknown spikecodec codec"),
    ({"codec": 3}, "codec id"),
    ({"bits": 3}, "bits must be one of"),
    ({"axes": "TNT"}, "each axis once"),
    ({"axes": 5}, "axes must be"),
    ({"prior_digest": "abc"}, "64 lowercase hex"),
    ({"codec": "raw", "prior": str(SHIPPED_PRIOR)}, "takes no prior"),
    ({"codec": "ctxmix", "prior": "/nonexistent.prior"}, "cannot read prior file"),
    ({"framing": "messages"}, "framing must be 'file' .* or 'message'"),
    ({"framing": None}, "framing must be"),
])
def test_bad_configurations_are_refused(config, match):
    with pytest.raises(ValueError, match=match):
        SpikeCodec(**config)


@pytest.mark.parametrize("framing", ["file", "message"])
def test_axes_must_match_the_chunk_rank(framing):
    with pytest.raises(ValueError, match="name 5 axes, the chunk has 3"):
        SpikeCodec(axes="TNCHW", framing=framing).encode(np.zeros((2, 3, 4), bool))


def test_out_is_checked():
    codec = SpikeCodec()
    x = np.ones((2, 3, 4), bool)
    enc = codec.encode(x)
    flat = np.zeros(24, bool)
    codec.decode(enc, out=flat)  # numcodecs' convention: the same count of elements, contiguous
    np.testing.assert_array_equal(flat.reshape(x.shape), x)
    with pytest.raises(ValueError, match="dtype uint8, the decoded chunk is bool"):
        codec.decode(enc, out=np.zeros((2, 3, 4), np.uint8))
    with pytest.raises(ValueError, match=r"shape \(2, 3, 5\)"):
        codec.decode(enc, out=np.zeros((2, 3, 5), bool))
    with pytest.raises(ValueError, match="buffer of 23 bytes"):
        codec.decode(enc, out=bytearray(23))
    with pytest.raises(ValueError, match="read-only"):
        codec.decode(enc, out=bytes(24))


def test_prior_round_trips_by_path_and_by_digest(model_spikes, tmp_path, monkeypatch):
    """The configuration keeps the prior's path and digest; a decoder without the file finds the
    prior by digest on spikecodec's search path ($SPIKECODEC_PRIOR_PATH), else says so."""
    samples = np.ascontiguousarray(model_spikes[:, :150].transpose(1, 0, 2, 3, 4))  # not a shipped prior
    prior = spikecodec.train_prior(samples, "context", axes="NTCHW", chunk=1)  # (ctxmix trains in seconds)
    path = tmp_path / "mine.prior"
    prior.save(path)
    codec = SpikeCodec(codec="context", prior=str(path))
    assert codec.get_config()["prior"] == str(path) and codec.get_config()["prior_digest"] == prior.digest
    x = model_spikes[:, 1000:1032].astype(bool)
    enc = codec.encode(x)
    with spikecodec.open(enc, priors=prior) as r:
        assert r.prior.digest == prior.digest and not r.embeds_prior
    np.testing.assert_array_equal(numcodecs.get_codec(codec.get_config()).decode(enc), x)

    # Elsewhere: the path does not exist there; the prior sits in a folder of the search path.
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.move(path, moved / "renamed.prior")
    monkeypatch.setattr(spikecodec.prior, "_found", {})  # forget the priors this process has read
    monkeypatch.setattr(spikecodec.prior, "_embedded", spikecodec.prior.OrderedDict())
    monkeypatch.setattr(_core, "_priors", {})
    twin = numcodecs.get_codec(json.loads(json.dumps(codec.get_config())))
    with pytest.raises(spikecodec.FormatError, match="SPIKECODEC_PRIOR_PATH"):
        twin.decode(enc)
    with pytest.raises(ValueError, match="was not found"):
        twin.encode(x)
    monkeypatch.setenv("SPIKECODEC_PRIOR_PATH", str(moved))
    np.testing.assert_array_equal(twin.decode(enc), x)
    assert twin.encode(x) == enc  # it encodes from it too


def test_shipped_prior_pays_and_is_found_by_digest(model_spikes, tmp_path):
    """With the model's prior, chunks of 32 images' spikes code smaller than without; the copy the
    codec was made with may go: the shipped one has the same digest."""
    copy = tmp_path / "p.prior"
    shutil.copy(SHIPPED_PRIOR, copy)
    codec = SpikeCodec(codec="ctxmix", prior=str(copy))
    chunks = [model_spikes[:, a : a + 32].astype(bool) for a in range(1000, 1128, 32)]
    encoded = [codec.encode(x) for x in chunks]
    without = sum(len(SpikeCodec(codec="ctxmix").encode(x)) for x in chunks)
    assert sum(map(len, encoded)) < without, (sum(map(len, encoded)), without)
    copy.unlink()
    twin = SpikeCodec.from_config(json.loads(json.dumps(codec.get_config())))
    for x, e in zip(chunks, encoded):
        np.testing.assert_array_equal(twin.decode(e), x)


def test_registered_through_the_entry_point_in_a_fresh_process():
    """numcodecs finds the codec by its id without this module imported (dask workers do too)."""
    out = run_fresh(
        "import sys, numcodecs, numpy as np\n"
        "c = numcodecs.get_codec({'id': 'spikecodec', 'codec': 'ctxmix', 'axes': 'TNCHW'})\n"
        "x = np.random.default_rng(0).random((2, 3, 4, 5, 5)) < 0.3\n"
        "y = c.decode(c.encode(x))\n"
        "assert y.dtype == bool and (y == x).all()\n"
        "print(type(c).__module__, 'torch' in sys.modules)\n"
    ).stdout.split()
    assert out == ["spikecodec.integrations.numcodecs", "False"]


def test_zarr_v2_format_takes_it_as_compressor(sample_spikes, tmp_path):
    """A zarr array in format 2 with the codec as its compressor (the chunk reaches it as an
    array, in its shape): the metadata names it by id, and it reads back."""
    import zarr

    spikes = sample_spikes.astype(bool)
    z = zarr.create_array(tmp_path / "v2", shape=spikes.shape, chunks=(4, 8, 32, 7, 7), dtype=bool, zarr_format=2,
                          compressors=SpikeCodec(codec="ctxmix"), filters=None)
    z[:] = spikes
    meta = json.loads((tmp_path / "v2" / ".zarray").read_text())
    assert meta["compressor"]["id"] == "spikecodec" and meta["compressor"]["codec"] == "ctxmix"
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "v2")[:], spikes)


def test_pickles():
    import pickle

    codec = SpikeCodec(codec="ctxmix", axes="TNCHW", bits=1)
    assert pickle.loads(pickle.dumps(codec)) == codec
    assert repr(codec) == "SpikeCodec(codec='ctxmix', axes='TNCHW', bits=1)"


def test_a_relative_prior_path_is_kept_absolute(tmp_path, monkeypatch):
    """A store written with prior='priors/x.prior' kept that path as given: it read only from the
    folder it was written in (an outside probe of zarr pipelines)."""
    from spikecodec.integrations.numcodecs import SpikeCodec

    (tmp_path / "priors").mkdir()
    shutil.copy(spikecodec.__path__[0] + "/models/reference/snn-resnet-fmnist.prior", tmp_path / "priors" / "p.prior")
    monkeypatch.chdir(tmp_path)
    codec = SpikeCodec(codec="ctxmix", axes="TNCHW", prior="priors/p.prior")
    assert codec.get_config()["prior"] == str(tmp_path / "priors" / "p.prior")
    chunk = (np.random.default_rng(0).random((2, 3, 4, 7, 7)) < 0.4)
    data = codec.encode(chunk)
    monkeypatch.chdir("/")
    again = SpikeCodec.from_config(codec.get_config())
    assert (again.decode(data).reshape(chunk.shape) == chunk).all()


def test_message_framed_chunks_written_by_format_1_6_still_read():
    """A numcodecs codec with framing="message" keeps no header: it derives it for each chunk. With
    format 1.7's keyed checks in that header every chunk written before failed its check. The
    fixture was written by spikecodec at fd8ceee (format 1.6): SpikeCodec(codec="ctxmix",
    axes="TNCHW", framing="message").encode(x), x the array below."""
    from pathlib import Path

    from spikecodec.integrations.numcodecs import SpikeCodec

    x = np.random.default_rng(11).random((2, 3, 4, 5, 5)) < 0.3
    data = (Path(__file__).parent / "fixtures" / "numcodecs-message-1.6.bin").read_bytes()
    codec = SpikeCodec(codec="ctxmix", axes="TNCHW", framing="message")
    assert (np.asarray(codec.decode(data)).reshape(x.shape) == x).all()
    assert codec.encode(x) == data  # and writes them as before
