"""The zarr v3 codec: round trips (alone and inside the sharding codec), its configuration through
the array's JSON metadata and a fresh process, dtype checks, random access inside a shard, and
the size target: a store of real spikes at most half of zarr's default (zstd) store."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import zarr

import spikecodec
from spikecodec.integrations import zarr as spike_zarr
from spikecodec.integrations.zarr import SpikeZarrCodec

from integration_helpers import SHIPPED_PRIOR, run_fresh, store_bytes


def _write(path, x, chunks, serializer="auto", shards=None, compressors="auto", dtype=None):
    z = zarr.create_array(path, shape=x.shape, chunks=chunks, shards=shards, dtype=dtype or x.dtype,
                          serializer=serializer, compressors=compressors)
    z[...] = x
    return z


def test_to_dict_from_dict_round_trip():
    for codec in [SpikeZarrCodec(), SpikeZarrCodec(codec="ctxmix", axes="TNCHW", bits=1),
                  SpikeZarrCodec(codec="ctxmix", axes=["T", "N", "C", "H", "W"], prior=str(SHIPPED_PRIOR)),
                  SpikeZarrCodec(framing="file")]:
        d = json.loads(json.dumps(codec.to_dict()))
        assert d["name"] == "spikecodec"
        assert SpikeZarrCodec.from_dict(d) == codec
        assert zarr.registry.get_codec_class("spikecodec") is SpikeZarrCodec
    assert SpikeZarrCodec().to_dict() == {"name": "spikecodec", "configuration": {"codec": "auto", "framing": "message"}}
    # File framing is left out: a configuration without framing means it (stores written before it).
    assert SpikeZarrCodec(framing="file").to_dict() == {"name": "spikecodec", "configuration": {"codec": "auto"}}
    with_prior = SpikeZarrCodec(codec="ctxmix", prior=str(SHIPPED_PRIOR)).to_dict()["configuration"]
    assert len(with_prior["prior_digest"]) == 64 and with_prior["prior"] == str(SHIPPED_PRIOR)
    assert SpikeZarrCodec.from_dict({"name": "spikecodec"}) == SpikeZarrCodec(framing="file")
    with pytest.raises(ValueError, match="unknown configuration keys"):
        SpikeZarrCodec.from_dict({"name": "spikecodec", "configuration": {"codec": "raw", "level": 3}})
    with pytest.raises(ValueError, match="unknown spikecodec codec"):
        SpikeZarrCodec(codec="nope")


@pytest.mark.parametrize("codec", ["auto", "ctxmix"])
def test_sample_spikes_half_of_default_store(sample_spikes, tmp_path, codec):
    """The shipped sample's spikes, chunked along samples (every timestep of a neuron in one chunk):
    the spikecodec store reads back exactly, in at most half of zarr's default store's bytes."""
    spikes = sample_spikes.astype(bool)
    chunks = (4, 8, 32, 7, 7)  # T, a block of N, C, H, W: 50,176 elements
    _write(tmp_path / "spike", spikes, chunks, serializer=SpikeZarrCodec(codec=codec), compressors=None)
    _write(tmp_path / "default", spikes, chunks)
    back = zarr.open_array(tmp_path / "spike")
    assert back.dtype == bool
    np.testing.assert_array_equal(back[...], spikes)
    ours, default = store_bytes(tmp_path / "spike"), store_bytes(tmp_path / "default")
    assert ours <= 0.5 * default, (ours, default)
    assert store_bytes(tmp_path / "spike", chunks_only=True) <= 0.5 * store_bytes(tmp_path / "default", chunks_only=True)


@pytest.mark.parametrize("prior", [None, str(SHIPPED_PRIOR)])
def test_model_spikes_half_of_default_store(model_spikes, tmp_path, prior):
    """The shipped model's spikes (its edge half on Fashion-MNIST test images), 600 images a
    chunk, with and without the model's prior."""
    spikes = model_spikes.astype(bool)
    chunks = (2, 600, 4, 7, 7)
    _write(tmp_path / "spike", spikes, chunks, serializer=SpikeZarrCodec(codec="ctxmix", axes="TNCHW", prior=prior),
           compressors=None)
    _write(tmp_path / "default", spikes, chunks)
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "spike")[...], spikes)
    ours, default = store_bytes(tmp_path / "spike"), store_bytes(tmp_path / "default")
    assert ours <= 0.5 * default, (ours, default)


def test_counts_and_edge_chunks_round_trip(tmp_path):
    """uint8 spike counts, a shape the chunks do not divide, a chunk left at the fill value."""
    rng = np.random.default_rng(1)
    counts = (rng.random((5, 11, 3, 4, 4)) < 0.2) * rng.integers(1, 4, (5, 11, 3, 4, 4))
    counts = counts.astype(np.uint8)
    counts[:, 8:] = 0
    z = _write(tmp_path / "c", counts, (5, 4, 3, 4, 4), serializer=SpikeZarrCodec(codec="countctx", bits=2),
               compressors=None)
    back = zarr.open_array(tmp_path / "c")
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back[...], counts)
    np.testing.assert_array_equal(back[2, 3:9, 1], counts[2, 3:9, 1])
    with pytest.raises(ValueError, match="value 4 at index .* does not fit the 2-bit element type"):
        z[0, 0, 0, 0, 0] = 4


def test_serializer_as_a_dict(sample_spikes, tmp_path):
    spikes = sample_spikes[:, :8].astype(bool)
    z = _write(tmp_path / "d", spikes, (4, 4, 32, 7, 7), compressors=None,
               serializer={"name": "spikecodec", "configuration": {"codec": "ctxmix", "axes": "TNCHW"}})
    assert z.metadata.codecs == (SpikeZarrCodec(codec="ctxmix", axes="TNCHW", framing="file"),)  # no framing: files
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "d")[...], spikes)


@pytest.mark.parametrize("dtype", ["int8", "uint16", "float32", "int64"])
def test_other_dtypes_are_refused(tmp_path, dtype):
    with pytest.raises(ValueError, match="bool .* or uint8"):
        zarr.create_array(tmp_path / "x", shape=(4, 4), chunks=(2, 2), dtype=dtype, serializer=SpikeZarrCodec(),
                          compressors=None)


def test_axes_and_bits_are_checked_against_the_array(tmp_path):
    with pytest.raises(ValueError, match="name 5 axes, the array has 3"):
        zarr.create_array(tmp_path / "a", shape=(4, 4, 4), chunks=(2, 2, 2), dtype=bool,
                          serializer=SpikeZarrCodec(axes="TNCHW"), compressors=None)
    with pytest.raises(ValueError, match="bool array takes bits=1"):
        zarr.create_array(tmp_path / "b", shape=(4, 4, 4), chunks=(2, 2, 2), dtype=bool,
                          serializer=SpikeZarrCodec(bits=4), compressors=None)


def test_sharding_random_access(model_spikes, tmp_path, monkeypatch):
    """One image a chunk, 200 images a shard: the store reads back exactly, and reading one
    image decodes that image's chunk alone."""
    spikes = model_spikes[:, :400].astype(bool)
    codec = SpikeZarrCodec(codec="ctxmix", axes="TNCHW", prior=str(SHIPPED_PRIOR))
    z = _write(tmp_path / "s", spikes, (2, 1, 4, 7, 7), shards=(2, 200, 4, 7, 7), serializer=codec, compressors=None)
    sharding = z.metadata.to_dict()["codecs"][0]
    assert sharding["name"] == "sharding_indexed"
    inner = sharding["configuration"]["codecs"][0]  # the codec, with the header of its chunks
    assert inner["configuration"].pop("header") and inner == codec.to_dict()
    assert len(list((tmp_path / "s").rglob("c/*/*/*/*/*"))) == 2  # two shard objects
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "s")[...], spikes)
    calls = []
    decode = SpikeZarrCodec._decode_sync
    monkeypatch.setattr(SpikeZarrCodec, "_decode_sync", lambda self, b, s: calls.append(len(b)) or decode(self, b, s))
    back = zarr.open_array(tmp_path / "s")
    np.testing.assert_array_equal(back[:, 317], spikes[:, 317])
    assert len(calls) == 1
    np.testing.assert_array_equal(back[:, 190:210], spikes[:, 190:210])  # across two shards
    assert len(calls) == 21


def test_metadata_round_trips_in_a_fresh_process(sample_spikes, tmp_path):
    """Another process opens the store knowing only its path: zarr finds the codec through the
    zarr.codecs entry point and its configuration in zarr.json, sharded or not."""
    spikes = sample_spikes.astype(bool)
    _write(tmp_path / "plain", spikes, (4, 16, 32, 7, 7), serializer=SpikeZarrCodec(codec="ctxmix", axes="TNCHW"),
           compressors=None)
    _write(tmp_path / "sharded", spikes, (4, 2, 32, 7, 7), shards=(4, 16, 32, 7, 7), compressors=None,
           serializer=SpikeZarrCodec(codec="auto"))
    np.save(tmp_path / "want.npy", spikes)
    doc = json.loads((tmp_path / "plain" / "zarr.json").read_text())
    header = doc["codecs"][0]["configuration"].pop("header")  # for the array's shape: its chunks are spike files
    assert doc["codecs"] == [{"name": "spikecodec", "configuration": {"codec": "ctxmix", "axes": "TNCHW",
                                                                       "framing": "message"}}]
    out = run_fresh(textwrap.dedent(f"""
        import sys, numpy as np, zarr
        want = np.load({str(tmp_path / "want.npy")!r})
        for name in ("plain", "sharded"):
            a = zarr.open_array({str(tmp_path)!r} + "/" + name)
            assert a.dtype == bool and (a[...] == want).all(), name
            print(name, list(a.metadata.to_dict()["codecs"]))
        print("torch" in sys.modules, zarr.registry.get_codec_class("spikecodec").__qualname__)
    """)).stdout
    assert (f"plain [{{'name': 'spikecodec', 'configuration': {{'codec': 'ctxmix', 'axes': 'TNCHW', "
            f"'framing': 'message', 'header': '{header}'}}}}]") in out
    assert "'name': 'sharding_indexed'" in out and "'codecs': ({'name': 'spikecodec'" in out
    assert out.rstrip().endswith("False SpikeZarrCodec")


def test_a_damaged_chunk_is_an_error(sample_spikes, tmp_path):
    spikes = sample_spikes[:, :8].astype(bool)
    _write(tmp_path / "x", spikes, (4, 4, 32, 7, 7), serializer=SpikeZarrCodec(codec="ctxmix"), compressors=None)
    chunk = next(p for p in (tmp_path / "x").rglob("c/*/*/*/*/*") if p.is_file())
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x10
    chunk.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="check mismatch"):  # spikecodec.FormatError
        zarr.open_array(tmp_path / "x")[...]
    # A well-formed spike file that decodes to more than a chunk: refused before it allocates, as
    # what it is (not as a max_bytes to raise, which a zarr user cannot).
    chunk.write_bytes(spikecodec.encode(np.zeros((4, 4000, 32, 7, 7), np.uint8), records="compact"))
    with pytest.raises(spikecodec.FormatError, match="more than the 25088 elements of the array's chunks") as info:
        zarr.open_array(tmp_path / "x")[...]
    assert info.value.code == "decoded-shape"
    # One of the right size but another shape: refused too.
    chunk.write_bytes(spikecodec.encode(np.zeros((4, 32, 4, 7, 7), np.uint8), records="compact"))
    with pytest.raises(spikecodec.FormatError, match=r"decodes to shape \(4, 32, 4, 7, 7\)"):
        zarr.open_array(tmp_path / "x")[...]


def test_pickles_with_its_configuration_only():
    import pickle

    codec = SpikeZarrCodec(codec="ctxmix", prior=str(SHIPPED_PRIOR))
    codec._params.resolve_prior(required=True)  # loaded and cached outside the instance
    twin = pickle.loads(pickle.dumps(codec))
    assert twin == codec and hash(twin) == hash(codec)
    assert spike_zarr.CODEC_NAME == "spikecodec"


def test_a_chunk_larger_than_the_arrays_chunks_is_said_to_be_so(tmp_path):
    # A chunk grid edited by hand: the refusal said "over max_bytes=20 (raise it: max_bytes=,
    # --max-bytes)", advice a zarr user cannot take and that would not help.
    import warnings

    warnings.simplefilter("ignore")
    path = tmp_path / "edited.zarr"
    a = np.random.default_rng(0).random((2, 8, 5)) < 0.4
    z = zarr.create_array(str(path), shape=a.shape, chunks=(2, 4, 5), dtype=bool, serializer=SpikeZarrCodec(codec="auto", framing="file"),
                          compressors=None)
    z[...] = a
    meta = json.loads((path / "zarr.json").read_text())
    meta["chunk_grid"]["configuration"]["chunk_shape"] = [2, 2, 5]
    (path / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(spikecodec.FormatError, match=r"the chunk holds an array of shape \(2, 4, 5\), more than the 20 elements of the array's chunks") as info:
        zarr.open_array(str(path))[...]
    assert info.value.code == "decoded-shape"


def test_a_chunk_of_another_array_of_the_same_options_is_refused(sample_spikes, tmp_path):
    """Two arrays made with the same options had byte-identical headers, so a chunk object copied
    from one to the other read without error (an outside probe); each array's header now holds a
    random stream id."""
    spikes = sample_spikes[:, :8].astype(bool)
    for name in ("a", "b"):
        _write(tmp_path / name, spikes if name == "a" else ~spikes, (2, 8, 32, 7, 7),  # message framing: cut along axis 0
               serializer=SpikeZarrCodec(codec="ctxmix"), compressors=None)
    headers = [json.loads((tmp_path / n / "zarr.json").read_text())["codecs"][0]["configuration"]["header"] for n in "ab"]
    assert headers[0] != headers[1]
    chunk_a = sorted(p for p in (tmp_path / "a").rglob("c/*/*/*/*/*") if p.is_file())[0]
    chunk_b = tmp_path / "b" / chunk_a.relative_to(tmp_path / "a")
    chunk_b.write_bytes(chunk_a.read_bytes())
    with pytest.raises(spikecodec.FormatError, match="fails its check") as info:
        zarr.open_array(tmp_path / "b")[...]
    assert info.value.code == "compact-check"
