"""Chunk framing (``framing="file"`` / ``"message"``) in the zarr v3 and numcodecs codecs: round
trips of bool and uint8 chunks with and without a prior, one-image inner chunks in shards, the
header kept in zarr.json (and used, never re-derived), stores frozen before framing existed
(fixtures/), edge chunks, and malformed, foreign or hostile chunk messages refused for what
they are, never decoded to wrong data."""

from __future__ import annotations

import base64
import dataclasses
import json
import shutil
import textwrap
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import zarr
from zarr.core.array_spec import ArrayConfig
from zarr.core.buffer import default_buffer_prototype

import spikecodec
from spikecodec import FormatError, LimitError, LinkDecoder, LinkEncoder
from spikecodec.container.link import parse_header_message
from spikecodec.integrations import _core
from spikecodec.integrations.numcodecs import MESSAGE_TAG, SpikeCodec
from spikecodec.integrations.zarr import SpikeZarrCodec

from integration_helpers import SHIPPED_PRIOR, run_fresh, store_bytes

FIXTURES = Path(__file__).parent / "fixtures"
SPIKE_FILE = b"\x8aSPK"


def _create(path, x, chunks, codec, shards=None, dtype=None):
    z = zarr.create_array(path, shape=x.shape, chunks=chunks, shards=shards, dtype=dtype or x.dtype,
                          serializer=codec, compressors=None)
    z[...] = x
    return z


def _inner(z) -> SpikeZarrCodec:
    """The spikecodec codec of an array, sharded or not."""
    codec = z.metadata.codecs[0]
    return codec if isinstance(codec, SpikeZarrCodec) else codec.codecs[0]


def _chunk_objects(path) -> list[Path]:
    """The chunk (or shard) objects of a store of either format: every file but its metadata."""
    return sorted(p for p in Path(path).rglob("*") if p.is_file() and p.name not in {"zarr.json", ".zarray", ".zattrs"})


def _spec(z, shape=None):
    """The ArraySpec zarr gives the codec for a chunk of ``z`` (of ``shape``, when given)."""
    spec = z.metadata.get_chunk_spec((0,) * z.ndim, ArrayConfig.from_dict({}), default_buffer_prototype())
    return spec if shape is None else dataclasses.replace(spec, shape=tuple(shape))


def _decode(codec: SpikeZarrCodec, data: bytes, spec) -> np.ndarray:
    return codec._decode_sync(default_buffer_prototype().buffer.from_bytes(data), spec).as_numpy_array()


def _encode(codec: SpikeZarrCodec, x: np.ndarray, spec) -> bytes:
    return codec._encode_sync(default_buffer_prototype().nd_buffer.from_numpy_array(x), spec).to_bytes()


# -- round trips -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["bool", "uint8"])
@pytest.mark.parametrize("prior", [None, str(SHIPPED_PRIOR)], ids=["no-prior", "prior"])
@pytest.mark.parametrize("framing", ["file", "message"])
def test_sharded_one_image_chunks_round_trip(model_spikes, tmp_path, framing, prior, dtype):
    """One image an inner chunk, 128 a shard (the last shard padded): the store reopens and reads
    back exactly in its dtype, one image decodes alone; message framing keeps the header in the
    metadata and is several times smaller than file framing."""
    spikes = model_spikes[:, :300].astype(dtype)
    codec = SpikeZarrCodec(codec="ctxmix", axes="TNCHW", prior=prior, framing=framing)
    _create(tmp_path / "s", spikes, (2, 1, 4, 7, 7), codec, shards=(2, 128, 4, 7, 7))
    back = zarr.open(tmp_path / "s", mode="r")
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back[...], spikes)
    np.testing.assert_array_equal(back[:, 217], spikes[:, 217])
    inner = _inner(back)
    assert inner.framing == framing
    if framing == "file":
        assert inner.header is None
        return
    header = base64.b64decode(inner.header)
    dec = LinkDecoder(header)
    assert dec.frame_shape == (1, 4, 7, 7) and dec.header.chunk_shape == (2,) and dec.axes == tuple("TNCHW")
    # uint8 without bits: 8-bit elements, unless the prior (trained for 1-bit spikes) says otherwise
    assert dec.header.bits == (8 if dtype == "uint8" and prior is None else 1)
    files = store_bytes(tmp_path / "s", chunks_only=True)
    _create(tmp_path / "f", spikes, (2, 1, 4, 7, 7), dataclasses.replace(codec, framing="file"), shards=(2, 128, 4, 7, 7))
    assert 3 * files < store_bytes(tmp_path / "f", chunks_only=True)


@pytest.mark.parametrize("framing", ["file", "message"])
def test_uint8_counts_and_bits(tmp_path, framing):
    """Counts: with bits, a value that does not fit is refused naming it; without, any uint8."""
    rng = np.random.default_rng(2)
    counts = (rng.integers(0, 4, (3, 40, 5)) * (rng.random((3, 40, 5)) < 0.3)).astype(np.uint8)
    z = _create(tmp_path / "c", counts, (3, 4, 5), SpikeZarrCodec(codec="countctx", bits=2, framing=framing),
                shards=(3, 20, 5))
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "c")[...], counts)
    with pytest.raises(ValueError, match="value 4 at index .* does not fit the 2-bit element type"):
        z[0, 0, 0] = 4
    wide = counts.copy()
    wide[1, 7, 2] = 255
    _create(tmp_path / "w", wide, (3, 4, 5), SpikeZarrCodec(codec="auto", framing=framing), shards=(3, 20, 5))
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "w")[...], wide)


def test_zero_d_and_one_chunk_arrays(tmp_path):
    """A 0-d array (coded as one element) and an array of one chunk (the header the codec gets
    is its chunks'): their chunks are messages."""
    z = zarr.create_array(tmp_path / "0", shape=(), dtype=bool, serializer=SpikeZarrCodec(), compressors=None)
    z[...] = True
    assert zarr.open_array(tmp_path / "0")[...] == np.bool_(True)
    x = np.random.default_rng(0).random((2, 6, 4, 7, 7)) < 0.4
    _create(tmp_path / "one", x, x.shape, SpikeZarrCodec(codec="ctxmix"))
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "one")[...], x)
    (chunk,) = _chunk_objects(tmp_path / "one")
    assert not chunk.read_bytes().startswith(SPIKE_FILE)


def test_unsharded_chunks_of_another_shape_are_spike_files(sample_spikes, tmp_path):
    """Outside a sharding codec zarr 3.1 gives the codec the array's shape, not its chunks': the
    header is made for that shape, and chunks of another shape are stored as spike files (at
    encoding and decoding alike), readable without zarr."""
    spikes = sample_spikes.astype(bool)
    z = _create(tmp_path / "p", spikes, (4, 8, 32, 7, 7), SpikeZarrCodec(codec="ctxmix", axes="TNCHW"))
    codec = _inner(z)
    assert codec.framing == "message" and LinkDecoder(base64.b64decode(codec.header)).frame_shape == (32, 32, 7, 7)
    objects = _chunk_objects(tmp_path / "p")
    assert len(objects) == 4 and all(p.read_bytes().startswith(SPIKE_FILE) for p in objects)
    np.testing.assert_array_equal(spikecodec.decode(objects[0].read_bytes()).astype(bool), spikes[:, :8])
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "p")[...], spikes)


def test_a_header_that_cannot_be_made_leaves_file_framing(model_spikes, tmp_path):
    """The shipped prior is trained for T=2: no header fits an array of T=4 (the shape zarr gives
    an unsharded codec), so the codec keeps file framing, which codes its T=2 chunks."""
    x = np.concatenate([model_spikes[:, :8], model_spikes[:, 8:16]]).astype(bool)  # 4 x 8 x 4 x 7 x 7
    z = _create(tmp_path / "t", x, (2, 8, 4, 7, 7), SpikeZarrCodec(codec="ctxmix", axes="TNCHW", prior=str(SHIPPED_PRIOR)))
    doc = json.loads((tmp_path / "t" / "zarr.json").read_text())["codecs"][0]["configuration"]
    assert "framing" not in doc and "header" not in doc and _inner(z).framing == "file"
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "t")[...], x)


def test_edge_chunks_shorter_than_the_header(model_spikes, tmp_path):
    """zarr 3.1 pads edge chunks to the full chunk shape (checked here); a chunk shorter along
    the first axis (a zarr that would not pad) is a message of a shorter row, and one of other
    frames a spike file: both round-trip."""
    x = model_spikes[:, :5].astype(bool)
    z = _create(tmp_path / "e", x, (2, 1, 4, 7, 7), SpikeZarrCodec(codec="ctxmix", axes="TNCHW"), shards=(2, 4, 4, 7, 7))
    seen = []
    decode = SpikeZarrCodec._decode_sync
    try:
        SpikeZarrCodec._decode_sync = lambda self, b, s: seen.append(tuple(s.shape)) or decode(self, b, s)
        np.testing.assert_array_equal(zarr.open_array(tmp_path / "e")[:, 4], x[:, 4])  # in the padded shard
    finally:
        SpikeZarrCodec._decode_sync = decode
    assert seen == [(2, 1, 4, 7, 7)]
    codec = _inner(z)
    shorter = x[:1, :1]  # (1, 1, 4, 7, 7): half a row
    data = _encode(codec, shorter, _spec(z, shorter.shape))
    assert not data.startswith(SPIKE_FILE)
    np.testing.assert_array_equal(_decode(codec, data, _spec(z, shorter.shape)), shorter)
    with pytest.raises(FormatError, match="holds 1 frames"):
        _decode(codec, data, _spec(z, (2, 1, 4, 7, 7)))
    other = x[:, :1, :, :5]  # (2, 1, 4, 5, 7): other frames than the header's
    data = _encode(codec, other, _spec(z, other.shape))
    assert data.startswith(SPIKE_FILE)
    np.testing.assert_array_equal(_decode(codec, data, _spec(z, other.shape)), other)


# -- configuration -----------------------------------------------------------------------------

def test_configuration_through_json_and_a_fresh_process(model_spikes, tmp_path):
    """zarr.json holds the header (base64) of the inner chunks; another process opens the store
    knowing only its path and reads it, the header from the metadata."""
    spikes = model_spikes[:, :64].astype(bool)
    codec = SpikeZarrCodec(codec="ctxmix", axes="TNCHW", prior=str(SHIPPED_PRIOR))
    _create(tmp_path / "s", spikes, (2, 1, 4, 7, 7), codec, shards=(2, 32, 4, 7, 7))
    doc = json.loads((tmp_path / "s" / "zarr.json").read_text())
    conf = doc["codecs"][0]["configuration"]["codecs"][0]["configuration"]
    assert conf["framing"] == "message" and conf["prior_digest"] == codec.prior_digest
    header = base64.b64decode(conf["header"], validate=True)
    stream_id = parse_header_message(header)[0].extension_data("stream-id")  # the array's own, random
    assert len(stream_id) == 16 and header == codec._params.make_header((2, 1, 4, 7, 7), 1, stream_id=stream_id)  # kept as bytes
    evolved = SpikeZarrCodec.from_dict(json.loads(json.dumps(doc["codecs"][0]["configuration"]["codecs"][0])))
    assert evolved.header == conf["header"] and evolved == dataclasses.replace(codec, header=conf["header"])
    np.save(tmp_path / "want.npy", spikes)
    out = run_fresh(textwrap.dedent(f"""
        import numpy as np, zarr
        a = zarr.open({str(tmp_path / "s")!r}, mode="r")
        assert a.dtype == bool and (a[...] == np.load({str(tmp_path / "want.npy")!r})).all()
        print(a.metadata.codecs[0].codecs[0].header)
    """)).stdout
    assert out.strip() == conf["header"]


def test_the_stored_header_is_used_never_rederived(model_spikes, tmp_path, monkeypatch):
    """Once stored, the header is what the chunks decode and encode against: a version deriving
    another one (or none) reads and writes the store; one that cannot write it byte for byte
    reads it, and refuses to write with a clear error."""
    spikes = model_spikes[:, :16].astype(bool)
    codec = SpikeZarrCodec(codec="ctxmix", axes="TNCHW", prior=str(SHIPPED_PRIOR))
    _create(tmp_path / "s", spikes, (2, 1, 4, 7, 7), codec, shards=(2, 16, 4, 7, 7))

    def no_more(*args, **kwargs):
        raise AssertionError("the header was derived again")

    monkeypatch.setattr(_core.SpikeParams, "make_header", no_more)
    monkeypatch.setattr(_core, "_framings", type(_core._framings)())
    z = zarr.open_array(tmp_path / "s")
    np.testing.assert_array_equal(z[...], spikes)
    z[:, 3] = spikes[:, 4]
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "s")[:, 3], spikes[:, 4])

    def cannot(header, prior=None):
        raise ValueError("this version of spikecodec does not write that header byte for byte")

    monkeypatch.setattr(LinkEncoder, "from_header", staticmethod(cannot))
    with pytest.raises(ValueError, match="read-only to this version of spikecodec"):
        zarr.open_array(tmp_path / "s")[:, 5] = spikes[:, 6]
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "s")[:, 5], spikes[:, 5])


@pytest.mark.parametrize("configuration, match", [
    ({"framing": "file", "header": "AAAA"}, "a header goes with framing='message'"),
    ({"header": "AAAA"}, "a header goes with framing='message'"),  # no framing: file
    ({"framing": "message", "header": "not base64!"}, "not base64"),
    ({"framing": "message", "header": "AAAA"}, "not a spikecodec header message"),
    ({"framing": "messages"}, "framing must be 'file'"),
])
def test_bad_framing_configurations_are_refused(configuration, match):
    with pytest.raises(ValueError, match=match):
        SpikeZarrCodec.from_dict({"name": "spikecodec", "configuration": configuration})


def test_a_header_for_other_arrays_is_refused(tmp_path):
    header = SpikeZarrCodec()._params.make_header((2, 3), 8)  # uint8 chunks of rank 2
    with pytest.raises(ValueError, match="header is for chunks of rank 2, the array has rank 3"):
        zarr.create_array(tmp_path / "a", shape=(4, 4, 4), chunks=(2, 2, 2), dtype=np.uint8, compressors=None,
                          serializer=SpikeZarrCodec(header=header))
    with pytest.raises(ValueError, match="codes 8-bit elements, a bool array 1-bit ones"):
        zarr.create_array(tmp_path / "b", shape=(4, 4), chunks=(2, 3), dtype=bool, compressors=None,
                          serializer=SpikeZarrCodec(header=header))


# -- stores written before framing existed --------------------------------------------------------

@pytest.fixture(scope="module")
def frozen() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "file_framing_spikes.npz") as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("store, array", [("file_framing_v3_sharded.zarr", "spikes"),
                                          ("file_framing_v3_counts.zarr", "counts"),
                                          ("file_framing_v2.zarr", "spikes")])
def test_stores_without_framing_still_decode_and_write_files(frozen, tmp_path, store, array):
    """Stores written by the codecs before they took ``framing`` (fixtures/make_fixtures.py):
    their configurations, without it, still mean spike files, read and written."""
    want = frozen[array]
    z = zarr.open_array(FIXTURES / store, mode="r")
    assert z.dtype == want.dtype
    np.testing.assert_array_equal(z[...], want)
    if store.endswith("v2.zarr"):
        assert z.metadata.compressor.framing == "file"
    else:
        assert _inner(z).framing == "file" and _inner(z).header is None
    copy = tmp_path / store
    shutil.copytree(FIXTURES / store, copy)
    zarr.open_array(copy)[...] = want[::-1]
    np.testing.assert_array_equal(zarr.open_array(copy)[...], want[::-1])
    objects = _chunk_objects(copy)
    assert objects and all(p.read_bytes().startswith(SPIKE_FILE) for p in objects)  # a shard starts with its first chunk
    meta = "zarr.json" if "v3" in store else ".zarray"
    assert json.loads((copy / meta).read_text()) == json.loads((FIXTURES / store / meta).read_text())


def test_numcodecs_chunks_without_framing_still_decode(frozen):
    cases = json.loads((FIXTURES / "file_framing_numcodecs.json").read_text())
    assert len(cases) == 4
    for case in cases:
        codec = numcodecs.get_codec(case["config"])
        assert codec.framing == "file"
        x = frozen[case["array"]][tuple(slice(*s) if isinstance(s, list) else s for s in case["selection"])]
        y = codec.decode(base64.b64decode(case["encoded"]))
        assert y.dtype == x.dtype and y.shape == x.shape
        np.testing.assert_array_equal(y, x)
        again = codec.encode(x)
        assert again.startswith(SPIKE_FILE)
        np.testing.assert_array_equal(codec.decode(again), x)


# -- malformed, foreign and hostile messages -------------------------------------------------------

@pytest.fixture
def one_chunk(model_spikes, tmp_path):
    """An array of one chunk of 4 images (so its chunk is a message), its chunk's path and values."""
    x = model_spikes[:, 100:104].astype(bool)
    z = _create(tmp_path / "one", x, x.shape, SpikeZarrCodec(codec="ctxmix", axes="TNCHW", prior=str(SHIPPED_PRIOR)))
    (chunk,) = _chunk_objects(tmp_path / "one")
    assert z.store_path.store.root == tmp_path / "one"
    return z, chunk, x


def test_every_truncation_and_bit_flip_is_refused(one_chunk):
    z, chunk, x = one_chunk
    codec, spec = _inner(z), _spec(z)
    data = chunk.read_bytes()
    assert len(data) < 100 and not data.startswith(SPIKE_FILE)
    np.testing.assert_array_equal(_decode(codec, data, spec), x)
    for n in range(len(data)):
        with pytest.raises(FormatError):
            _decode(codec, data[:n], spec)
    for extra in (b"\x00", b"\x01", data):
        with pytest.raises(FormatError):
            _decode(codec, data + extra, spec)
    for bit in range(8 * len(data)):
        bad = bytearray(data)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(FormatError) as err:
            _decode(codec, bytes(bad), spec)
        assert "chunk message" in str(err.value)
    with pytest.raises(FormatError, match="empty"):
        _decode(codec, b"", spec)
    chunk.write_bytes(data[:-1])
    with pytest.raises(FormatError, match="chunk message"):
        zarr.open_array(z.store_path.store.root)[...]


def test_a_message_of_another_header_is_refused(one_chunk, model_spikes, tmp_path):
    """The same chunk shape, coded without the prior (another header): its message fails the
    check, saying so; a spike file in its place says it is one."""
    z, chunk, x = one_chunk
    other = _create(tmp_path / "other", x, x.shape, SpikeZarrCodec(codec="ctxmix", axes="TNCHW"))
    (foreign,) = _chunk_objects(tmp_path / "other")
    np.testing.assert_array_equal(other[...], x)
    with pytest.raises(FormatError, match="fails its check.*coded against another header than this array's"):
        _decode(_inner(z), foreign.read_bytes(), _spec(z))
    with pytest.raises(FormatError, match="the chunk is a spike file"):
        _decode(_inner(z), spikecodec.encode(x.view(np.uint8), records="compact"), _spec(z))


def test_a_hostile_message_never_decodes_past_the_chunk(one_chunk):
    """Two well-formed records of the array's own stream in one chunk: two chunks' worth,
    refused before the second is allocated."""
    z, chunk, x = one_chunk
    codec = _inner(z)
    enc = LinkEncoder.from_header(base64.b64decode(codec.header))
    twice = enc.encode(x.view(np.uint8)) + enc.encode(x.view(np.uint8))
    with pytest.raises(LimitError):
        _decode(codec, twice, _spec(z))
    chunk.write_bytes(twice)
    with pytest.raises(LimitError):
        zarr.open_array(z.store_path.store.root)[...]


def test_numcodecs_message_damage_is_always_refused():
    """Every truncation and single bit flip of a chunk message (shape, dtype and element type in
    its first bytes included: they pick the header the check covers) is refused; so is a first
    byte naming a chunk larger than the caller's out= or the read cap."""
    rng = np.random.default_rng(3)
    codec = SpikeCodec(codec="ctxmix", framing="message")
    for x in [rng.random((2, 3, 4, 5)) < 0.3, (rng.random((3, 7)) < 0.3).astype(np.uint8), np.zeros((3, 0, 2), bool)]:
        data = codec.encode(x)
        assert data[0] == MESSAGE_TAG
        np.testing.assert_array_equal(codec.decode(data), x)
        for n in range(len(data)):
            with pytest.raises(FormatError):
                codec.decode(data[:n])
        for bit in range(8 * len(data)):
            bad = bytearray(data)
            bad[bit // 8] ^= 1 << (bit % 8)
            with pytest.raises(FormatError):
                codec.decode(bytes(bad))
    huge = bytes([MESSAGE_TAG, 8 * 2 + 1]) + b"\xff\xff\x7f" * 2
    with pytest.raises(LimitError, match="max_bytes"):
        codec.decode(huge)
    data = codec.encode(np.ones((4, 4), bool))
    with pytest.raises(LimitError, match="out= buffer"):
        codec.decode(data, out=np.zeros(8, bool))
    with pytest.raises(FormatError, match="was it written with framing='file'"):
        codec.decode(SpikeCodec().encode(np.ones((4, 4), bool)))
    with pytest.raises(FormatError, match="not a chunk message"):
        SpikeCodec(framing="message").decode(b"\x00\x01")
    with pytest.raises(FormatError, match="another configuration"):
        SpikeCodec(codec="auto", framing="message").decode(data)


def test_numcodecs_message_framing_is_small_and_keeps_bool(model_spikes):
    codec = SpikeCodec(codec="ctxmix", axes="TNCHW", prior=str(SHIPPED_PRIOR), framing="message")
    assert codec.get_config()["framing"] == "message"
    assert numcodecs.get_codec(json.loads(json.dumps(codec.get_config()))) == codec
    images = [model_spikes[:, i : i + 1].astype(bool) for i in range(200, 240)]
    messages = [codec.encode(x) for x in images]
    files = [SpikeCodec(codec="ctxmix", axes="TNCHW", prior=str(SHIPPED_PRIOR)).encode(x) for x in images]
    assert 4 * sum(map(len, messages)) < sum(map(len, files))
    for x, m in zip(images, messages):
        y = codec.decode(m)
        assert y.dtype == bool
        np.testing.assert_array_equal(y, x)
