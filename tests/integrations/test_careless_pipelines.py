"""Careless use of the codecs inside others' pipelines: a zarr v3 header given with other options
than the configuration names (``header=``, or a zarr.json edited by hand), and numcodecs chunks
refused for what they are by the codec's name. Each test says what happened before its fix."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import zarr

from spikecodec.integrations.numcodecs import SpikeCodec
from spikecodec.integrations.zarr import SpikeZarrCodec

from integration_helpers import SHIPPED_PRIOR

SHAPE = (4, 8, 3, 5, 5)


def spikes(shape=SHAPE, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape) < 0.3


def header_of(shape, bits, **options) -> bytes:
    """The header message a zarr codec of ``options`` makes for chunks of ``shape``."""
    return SpikeZarrCodec(**options)._params.make_header(shape, bits, stream_id=True)


def spike_codec_configuration(meta: dict) -> dict:
    """The spikecodec codec's configuration in a zarr.json document, sharded or not."""
    codec = meta["codecs"][0]
    if codec["name"] == "sharding_indexed":
        codec = codec["configuration"]["codecs"][0]
    assert codec["name"] == "spikecodec"
    return codec["configuration"]


# -- zarr: a header must code chunks as the configuration says -----------------------------------------

@pytest.mark.parametrize("header_options, options, said", [
    ({"codec": "raw"}, {"codec": "ctxmix"}, "codec 'raw' (the configuration names 'ctxmix')"),
    ({"codec": "zstd"}, {"codec": "auto"}, "codec 'raw+zstd' (the configuration names 'auto')"),
    ({"codec": "ctxmix", "axes": "NTCHW"}, {"codec": "ctxmix", "axes": "TNCHW"},
     "axes 'NTCHW' (the configuration names 'TNCHW')"),
    ({"codec": "ctxmix", "axes": "NTCHW"}, {"codec": "ctxmix"}, "axes 'NTCHW' (the configuration names 'TNCHW')"),
    ({"codec": "ctxmix", "prior": str(SHIPPED_PRIOR)}, {"codec": "ctxmix"}, "prior 3c4424"),
    ({"codec": "ctxmix"}, {"codec": "ctxmix", "prior": str(SHIPPED_PRIOR)}, "prior none"),
])
def test_a_header_of_other_options_than_the_configuration_is_refused(header_options, options, said):
    # Before: accepted; every chunk was coded as the header said (raw chunks under a zarr.json
    # naming ctxmix, another axis order, another prior), the configuration silently not applying.
    header = header_of((2, 1, 4, 7, 7), 1, **header_options)
    with pytest.raises(ValueError, match=r"spikecodec \(zarr\): the header codes chunks with .*" + re.escape(said)):
        SpikeZarrCodec(header=header, **options)


def test_a_header_of_another_element_type_than_bits_is_refused(tmp_path):
    # Before: a uint8 array made with bits=2 and a 1-bit header stored every chunk 1-bit, and a
    # count of 2 - which bits=2 holds - failed at write time as "does not fit the 1-bit element type".
    header = header_of(SHAPE, 1, codec="ctxmix")
    with pytest.raises(ValueError, match=r"1-bit elements \(the configuration names bits=2\)"):
        zarr.create_array(tmp_path / "a.zarr", shape=SHAPE, chunks=SHAPE, dtype=np.uint8, compressors=None,
                          serializer=SpikeZarrCodec(codec="ctxmix", bits=2, header=header))


@pytest.mark.parametrize("shards", [None, (4, 4, 3, 5, 5)])
@pytest.mark.parametrize("key, value, said", [
    ("codec", "raw", "codec 'ctxmix' (the configuration names 'raw')"),
    ("axes", "NTCHW", "axes 'TNCHW' (the configuration names 'NTCHW')"),
])
def test_a_zarr_json_edited_to_name_other_options_is_refused_when_opened(tmp_path, shards, key, value, said):
    # Before: the array opened and read as if nothing had changed (its chunks are coded as the
    # header says), and went on writing chunks that the configuration misdescribed.
    path = tmp_path / "a.zarr"
    x = spikes()
    z = zarr.create_array(path, shape=SHAPE, chunks=(4, 1, 3, 5, 5) if shards else SHAPE, shards=shards, dtype=bool,
                          compressors=None, serializer=SpikeZarrCodec(codec="ctxmix"))
    z[...] = x
    meta = json.loads((path / "zarr.json").read_text())
    assert "header" in spike_codec_configuration(meta)
    spike_codec_configuration(meta)[key] = value
    (path / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=re.escape(said)):
        zarr.open_array(path)[...]
    # Put back, the array reads as it was written: nothing was lost.
    spike_codec_configuration(meta)[key] = "ctxmix" if key == "codec" else "TNCHW"
    (path / "zarr.json").write_text(json.dumps(meta))
    np.testing.assert_array_equal(zarr.open_array(path)[...], x)


@pytest.mark.parametrize("options", [{"codec": "ctxmix"}, {"codec": "auto"}, {"codec": "zstd"}, {"codec": "raw"},
                                     {"codec": "ctxmix", "axes": "NTCHW"}, {"codec": "ctxmix", "bits": 1},
                                     {"codec": "ctxmix", "prior": str(SHIPPED_PRIOR), "axes": "TNCHW"}])
@pytest.mark.parametrize("shards", [None, (2, 8, 4, 7, 7)])
def test_headers_the_codec_makes_match_its_configuration(tmp_path, options, shards):
    """The check refuses only headers of other options: every header the codec makes itself - its
    own configuration's, sharded or not, with a prior or not - is taken, in this process and when
    the store is opened again."""
    shape = (2, 8, 4, 7, 7)
    x = spikes(shape, seed=1)
    path = tmp_path / "a.zarr"
    z = zarr.create_array(path, shape=shape, chunks=(2, 1, 4, 7, 7) if shards else shape, shards=shards, dtype=bool,
                          compressors=None, serializer=SpikeZarrCodec(**options))
    z[...] = x
    configuration = spike_codec_configuration(json.loads((path / "zarr.json").read_text()))
    assert configuration["framing"] == "message" and "header" in configuration
    np.testing.assert_array_equal(zarr.open_array(path)[...], x)
    again = SpikeZarrCodec.from_dict({"name": "spikecodec", "configuration": configuration})  # the header given back
    assert again.header == configuration["header"]


# -- numcodecs: chunks it cannot code are said to be so by the codec -----------------------------------

@pytest.mark.parametrize("framing", ["file", "message"])
def test_a_masked_chunk_is_refused_by_the_codec_name(framing):
    # Before: "a masked array's masked values would be coded..." without saying which codec (in a
    # zarr or dask traceback, the codec that refused the chunk was left to guess).
    chunk = np.ma.array(spikes((4, 3)), mask=spikes((4, 3), seed=2))
    with pytest.raises(TypeError, match=r"spikecodec \(numcodecs\): a masked array"):
        SpikeCodec(framing=framing).encode(chunk)


def test_a_chunk_over_the_formats_rank_is_refused_by_the_codec_name():
    # Before (file framing): "arrays of rank 9 exceed the format's 8 axes", from the writer, with
    # neither the codec nor the chunk named; message framing said both already.
    with pytest.raises(ValueError, match=r"spikecodec \(numcodecs\): a chunk of rank 9 \(shape \(1, 1, 1, 1, 1, 1, 1, 1, 2\)\)"):
        SpikeCodec().encode(np.zeros((1,) * 8 + (2,), bool))
    with pytest.raises(ValueError, match=r"spikecodec \(numcodecs\): chunks shaped .* rank 9"):
        SpikeCodec(framing="message").encode(np.zeros((1,) * 8 + (2,), bool))


# -- readers capped at a chunk's own size read the mixing codecs' small chunks ---------------------------

MIXING = ["framemix", "chanmix", "winmix", "mix", "countmix"]


def small_chunks_array(shape, codec) -> tuple[np.ndarray, int]:
    """Spikes of ``shape`` as uint8 (counts up to 3 for countmix) and their bits."""
    bits = 2 if codec == "countmix" else 1
    x = spikes(shape, seed=3).astype(np.uint8)
    return (x * np.random.default_rng(4).integers(1, 4, shape, dtype=np.uint8) if bits == 2 else x), bits


@pytest.mark.parametrize("codec", MIXING)
@pytest.mark.parametrize("framing", ["file", "message"])
def test_one_sample_chunks_of_a_mixing_codec_read_back_through_zarr(tmp_path, codec, framing):
    # Found by an outside probe: written without error, every chunk of one sample (the layout
    # docs/integrations.md gives for random access) was refused on reading - LimitError "needs
    # 2114 bytes of working memory, over max_bytes=784": the zarr codec caps a chunk's decoding at
    # its own size, and these codecs' planes of one sample cost ~23 bytes an element.
    x, bits = small_chunks_array((4, 6, 4, 7, 7), codec)
    for shards in (None, (4, 6, 4, 7, 7)):
        path = tmp_path / f"{shards is None}.zarr"
        z = zarr.create_array(path, shape=x.shape, dtype=x.dtype, chunks=(4, 1, 4, 7, 7), shards=shards,
                              serializer=SpikeZarrCodec(codec=codec, framing=framing, bits=bits), compressors=None)
        z[...] = x
        np.testing.assert_array_equal(zarr.open_array(path, mode="r")[...], x)


@pytest.mark.parametrize("codec", MIXING)
def test_one_sample_chunks_of_a_mixing_codec_decode_through_numcodecs(codec):
    # The same probe: SpikeCodec(framing="message") decoded a message under max_bytes = its size.
    x, bits = small_chunks_array((4, 1, 4, 7, 7), codec)
    for framing in ("file", "message"):
        c = SpikeCodec(codec=codec, framing=framing, bits=bits)
        np.testing.assert_array_equal(np.asarray(c.decode(c.encode(x))).reshape(x.shape), x)


def test_a_strided_view_of_the_encoded_bytes_decodes():
    # Found by an outside probe: refused as "a chunk to decode is the encoded bytes (any buffer),
    # got ndarray" - an ndarray of the right bytes, only not contiguous.
    c = SpikeCodec()
    x = spikes((3, 4, 5))
    strided = np.frombuffer(c.encode(x), np.uint8).repeat(2)[::2]
    np.testing.assert_array_equal(c.decode(strided), x)


def test_a_bfloat16_tensor_is_refused_by_its_own_dtype():
    # The same probe: refused as "got dtype float32", a type the user never gave.
    import torch  # installed by the set-up (the README's test command)
    with pytest.raises(ValueError, match=r"got dtype torch\.bfloat16"):
        SpikeCodec().encode(torch.zeros(2, 3, dtype=torch.bfloat16))
