import numpy as np
import pytest
import zstandard

import spikecodec
from spikecodec import FormatError
from spikecodec.codecs import ChunkSpec, Pipeline, Raw, Zstd, get_codec, register_codec


def test_lookup_by_id_and_config_round_trip():
    assert get_codec("raw") == Raw()
    z = get_codec({"id": "zstd", "level": 19})
    assert z == Zstd(level=19) and z.get_config() == {"level": 19}
    assert get_codec({"id": "zstd", **z.get_config()}) == z
    assert {"raw", "zstd"} <= set(spikecodec.registered_codecs())


@pytest.mark.parametrize(
    "spec,match",
    [("lzma", "unknown codec id"), ({"id": "zstd", "level": 23}, "level"), ({"id": "zstd", "speed": 1}, "bad parameters"), (3, "id string")],
)
def test_bad_codec_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        get_codec(spec)


def test_pipeline_rules():
    assert Pipeline.from_user("zstd").get_config() == [{"id": "raw"}, {"id": "zstd", "level": 3}]
    assert Pipeline.from_user(["raw"]).get_config() == [{"id": "raw"}]
    with pytest.raises(ValueError, match="starts with an array codec"):
        Pipeline(["zstd"])
    with pytest.raises(ValueError, match="only come first"):
        Pipeline(["raw", "raw"])


def test_registering_a_second_class_under_an_id_fails():
    class Other(Raw):
        codec_id = "raw"

    with pytest.raises(ValueError, match="already registered"):
        register_codec(Other)


def test_zstd_refuses_frames_over_the_bound_before_decompressing():
    frame = zstandard.ZstdCompressor().compress(b"\0" * 1000)
    assert Zstd().decode(frame, 1000) == b"\0" * 1000
    with pytest.raises(FormatError, match="more than the 999 allowed"):
        Zstd().decode(frame, 999)
    with pytest.raises(FormatError, match="truncated"):
        Zstd().decode(frame[:-2], 1000)
    with pytest.raises(FormatError, match="2 bytes after the end of the frame"):
        Zstd().decode(frame + b"\0\0", 1000)
    with pytest.raises(FormatError, match="not a zstd frame"):
        Zstd().decode(b"nope", 1000)
    unsized = zstandard.ZstdCompressor(write_content_size=False).compress(b"\0" * 10)
    with pytest.raises(FormatError, match="content size"):
        Zstd().decode(unsized, 1000)


def test_pipeline_decode_checks_shape():
    spec = ChunkSpec((2, 3), ("T", "N"), 1)
    p = Pipeline(["raw", "zstd"])
    x = np.array([[1, 0, 1], [0, 0, 1]], np.uint8)
    payload, count = p.encode(x, spec)
    assert count == 3
    values, count = p.decode(payload, spec)
    np.testing.assert_array_equal(values, x)
    assert count == 3
    with pytest.raises(FormatError):
        p.decode(payload, ChunkSpec((3, 3), ("T", "N"), 1))


def test_zstd_decodes_into_a_buffer_as_strictly_as_one_shot():
    """8-bit chunks of >= DIRECT_MIN elements decompress straight into the output (no copy beside
    it): same values, same refusals (truncated, trailing bytes or frames, wrong content size)."""
    from spikecodec.codecs.registry import DIRECT_MIN

    rng = np.random.default_rng(3)
    x = (rng.integers(0, 256, DIRECT_MIN) * (rng.random(DIRECT_MIN) < 0.2)).astype(np.uint8)
    bound = 2 * x.size + 65536  # FORMAT.md 5
    for frame in (Zstd(1).encode(x.tobytes()), zstandard.ZstdCompressor(write_checksum=True).compress(x.tobytes())):
        out = np.empty_like(x)
        assert Zstd().decode_into(frame, memoryview(out), bound)
        np.testing.assert_array_equal(out, x)
        empty_frame = zstandard.ZstdCompressor().compress(b"")
        for bad in (frame[:-2], frame + b"\0\0", frame + empty_frame, frame[:4] + b"\xff" + frame[5:]):
            with pytest.raises(FormatError):
                Zstd().decode_into(bad, memoryview(np.empty_like(x)), bound)
        # A frame of another size is left to the one-shot path (the next stage's packed-size).
        assert not Zstd().decode_into(frame, memoryview(np.empty(x.size + 1, np.uint8)), bound)
    spec = ChunkSpec((4, DIRECT_MIN // 4), ("T", "N"), 8)
    p = Pipeline(["raw", "zstd"])
    payload, count = p.encode(x.reshape(spec.shape), spec)
    values, got = p.decode(payload, spec)
    np.testing.assert_array_equal(values.reshape(-1), x)
    assert got == count == int(x.sum())


def test_a_zstd_frame_of_content_size_zero_is_checked_whole():
    # python-zstandard's one-shot decoder returns b"" for a frame whose header says 0 bytes
    # without reading it: damage, a cut or bytes after it were accepted (an all-zero chunk that
    # order0 codes in 0 bytes makes such a frame). Found by differential testing against spec/refreader.
    from spikecodec.codecs import get_codec
    from spikecodec.errors import FormatError

    zstd = get_codec("zstd")
    frame = zstd.encode(b"")
    assert zstd.decode(frame, 0) == b""
    for payload, code in ((frame + b"junk", "zstd-trailing-bytes"), (frame + frame, "zstd-trailing-bytes"),
                          (frame[:-1], "zstd-frame"), (frame[:4] + bytes([frame[4] | 0x03]) + frame[5:] + b"\0" * 4, "zstd-frame")):
        with pytest.raises(FormatError) as caught:
            zstd.decode(payload, 0)
        assert caught.value.code == code, (payload.hex(), caught.value)
