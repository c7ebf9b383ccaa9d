"""The fast path (struct formats, compiled construct, packing kernels) agrees with the declarations."""

import random

import numpy as np
import pytest
from construct import Terminated

import spikecodec
from spikecodec import FormatError, layout
from spikecodec.codecs import ChunkSpec, Pipeline
from spikecodec.codecs.base import ArrayCodec
from spikecodec.elements import pack_counted, unpack_into


@pytest.mark.parametrize(
    "name,context",
    [("Preamble", {}), ("HeaderFixed", {}), ("IndexHead", {}), ("IndexEntry", {}), ("Trailer", {})]
    + [("ChunkHeader", {"chunk_rank": k}) for k in range(1, 9)],
)
def test_struct_formats_parse_and_build_as_the_construct_declarations(name, context):
    record = getattr(layout, name)
    fast = layout.chunk_header_struct(context["chunk_rank"]) if context else layout.struct.Struct(layout.struct_format(record))
    size = layout.chunk_header_size(context["chunk_rank"]) if context else record.sizeof()
    assert fast.size == size
    rng = random.Random(name)
    for _ in range(20):
        data = bytearray(rng.randrange(256) for _ in range(size))
        for f in record.subcons:  # constants (magics) take their declared bytes
            if hasattr(f.subcon, "value"):
                at = sum(record.subcons[j].sizeof(**context) for j in range(record.subcons.index(f)))
                data[at : at + len(f.subcon.value)] = f.subcon.value
        parsed = record.parse(bytes(data), **context)
        flat = []
        for f in record.subcons:
            v = parsed[f.name]
            flat += list(v) if isinstance(v, list) else [v]
        assert list(fast.unpack(bytes(data))) == flat
        assert fast.pack(*flat) == record.build(parsed, **context) == bytes(data)


def test_compiled_header_body_agrees_with_the_declaration_on_good_and_damaged_bytes():
    data = spikecodec.encode(np.zeros((2, 3, 4), np.uint8), codec={"id": "zstd", "level": 1}, metadata={"a": [1, "é"]})
    size = int.from_bytes(data[12:16], "little")
    body = data[16 : 16 + size]
    compiled, declared = layout.header_body_compiled(), layout.HeaderBody + Terminated
    rng = random.Random(0)

    def outcome(parser, b):
        try:
            return parser.parse(b)
        except Exception:  # the kind differs (struct.error vs StreamError); both are rejections
            return "rejected"

    assert compiled.build(declared.parse(body)) == body
    for _ in range(300):
        b = bytearray(body)
        if rng.random() < 0.3:
            del b[rng.randrange(len(b)) :]
        else:
            for _ in range(rng.randint(1, 3)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        assert outcome(compiled, bytes(b)) == outcome(declared, bytes(b))


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_packing_kernels_count_and_match_reference_at_any_alignment(bits):
    rng = np.random.default_rng(bits)
    for n in [0, 1, 7, 8, 9, 63, 64, 65, 1000]:
        for offset in (0, 1, 5):
            buf = rng.integers(0, 1 << bits, n + offset).astype(np.uint8)
            values = buf[offset:]  # not 8-byte aligned for offset > 0
            packed, count = pack_counted(values, bits)
            bitstring = "".join(format(int(v), f"0{bits}b") for v in values)
            bitstring += "0" * (-len(bitstring) % 8)
            assert packed.tobytes() == bytes(int(bitstring[i : i + 8], 2) for i in range(0, len(bitstring), 8))
            assert count == int(values.sum())
            out = np.empty(n + offset, np.uint8)[offset:]
            assert unpack_into(packed, out, bits) == count
            np.testing.assert_array_equal(out, values)


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_packing_refuses_values_wider_than_the_element_type(bits):
    values = np.zeros(100, np.uint8)
    values[37] = 1 << bits
    with pytest.raises(ValueError, match=f"{bits}-bit"):
        pack_counted(values, bits)


def test_unpack_into_needs_a_contiguous_output():
    with pytest.raises(ValueError, match="contiguous"):
        unpack_into(b"\x00", np.empty((4, 4), np.uint8)[:, ::2], 1)


class _TooWide(ArrayCodec):
    """A broken array codec: it decodes 1-bit elements to the value 2."""

    codec_id = "test-too-wide"

    def encode(self, chunk, spec):
        return b""

    def decode(self, data, spec):
        return np.full(spec.shape, 2, np.uint8)


def test_pipeline_rejects_values_wider_than_the_element_type_from_any_codec():
    spec = ChunkSpec((2, 3), ("T", "N"), 1)
    with pytest.raises(FormatError, match="wider than 1 bits"):
        Pipeline([_TooWide()]).decode(b"", spec)
    with pytest.raises(FormatError, match="wider than 1 bits"):
        Pipeline([_TooWide()]).decode(b"", spec, np.empty((2, 3), np.uint8))


def test_partial_and_strided_chunk_reads_fill_the_whole_selection():
    array = (np.random.default_rng(1).random((5, 7, 3)) < 0.3).astype(np.uint8)
    for codec in ("raw", "zstd"):
        data = spikecodec.encode(array, codec=codec, chunk=(2, 3))
        with spikecodec.open(data) as r:
            for key in [(...,), (slice(1, 4), slice(2, 6)), (slice(None, None, -2), 4), (3, slice(0, 7, 3), 1)]:
                np.testing.assert_array_equal(r[key], array[key])


@pytest.mark.parametrize("top,bits", [(1, 1), (3, 2), (9, 4), (200, 8)])
def test_uint8_encode_skips_the_range_pass_but_picks_the_same_element_type(tmp_path, top, bits):
    # uint8 input is packed at 1 bit first and redone when a value does not fit; the bytes must be
    # those of the careful path (int16 input always takes it), whichever chunk holds the top value.
    for where in (0, -1):
        array = np.zeros((4, 3, 10), np.uint8)
        array[where, 1, 2] = top
        for codec in ("raw", {"id": "zstd", "level": 1}):
            data = spikecodec.encode(array, codec=codec, chunk=1)
            assert data == spikecodec.encode(array.astype(np.int16), codec=codec, chunk=1)
            with spikecodec.open(data) as r:
                assert r.bits == bits
            spikecodec.save(tmp_path / "a.spk", array, codec=codec, chunk=1)
            assert (tmp_path / "a.spk").read_bytes() == data
            assert [p.name for p in tmp_path.iterdir()] == ["a.spk"]


def test_uint8_values_too_wide_for_the_bits_asked_are_named_by_index():
    array = np.zeros((4, 3, 10), np.uint8)
    array[3, 2, 7] = 2
    with pytest.raises(ValueError, match=r"value 2 at index \(3, 2, 7\) does not fit the 1-bit"):
        spikecodec.encode(array, codec="raw", chunk=1, bits=1)


def test_headers_seen_before_share_nothing_mutable_and_are_checked_by_their_exact_bytes():
    from spikecodec.container import header as header_module

    a = np.eye(4, dtype=np.uint8)[None]
    data = spikecodec.encode(a, codec={"id": "zstd", "level": 1}, metadata={"model": {"layers": [1, 2]}})
    header_module._header_cache.clear()
    with spikecodec.open(data) as first, spikecodec.open(data) as second:
        assert len(header_module._header_cache) == 1  # parsed and checked once
        first.metadata["model"]["layers"].append(3)
        first.header.codecs[0]["id"] = "changed"
        assert second.metadata == {"model": {"layers": [1, 2]}} and second.codec[0]["id"] == "raw"
    with spikecodec.open(data) as third:
        assert third.metadata == {"model": {"layers": [1, 2]}}
    np.testing.assert_array_equal(spikecodec.decode(data), a)  # decode reads the kept header itself
    # A header that differs from a kept one only in its CRC is a different key: still rejected.
    bad = bytearray(data)
    size = layout.PREAMBLE_STRUCT.unpack_from(data)[-1]
    bad[layout.PREAMBLE_SIZE + size] ^= 0x01
    with pytest.raises(FormatError, match="header CRC mismatch"):
        spikecodec.decode(bytes(bad))
    for i in range(header_module._CACHED_HEADERS + 5):  # the cache stays bounded
        spikecodec.decode(spikecodec.encode(a, codec="raw", metadata={"i": i}))
    assert len(header_module._header_cache) <= header_module._CACHED_HEADERS


def test_zstd_straight_into_the_output_reports_what_the_one_shot_path_does():
    # 8-bit [raw, zstd] chunks of 2^20 elements or more decompress straight into the output. A
    # frame of another content size was `zstd-content-size` there (bounded by the chunk's size),
    # `packed-size` on the one-shot path and in FORMAT.md 9.3; a skippable frame before the
    # frame was read as a frame of its length on both.
    import struct

    import zstandard

    from spikecodec.codecs.registry import DIRECT_MIN

    for n in (1000, DIRECT_MIN):
        spec = ChunkSpec((1, n), ("T", "N"), 8)
        pipeline = Pipeline(["raw", "zstd"])
        short = zstandard.ZstdCompressor(write_content_size=True).compress(bytes(n - 1))
        with pytest.raises(FormatError) as got:
            pipeline.decode(short, spec)
        assert got.value.code == "packed-size", (n, got.value.code)
        good = zstandard.ZstdCompressor(write_content_size=True).compress(bytes(range(256)) * (n // 256) + bytes(n % 256))
        skippable = struct.pack("<II", 0x184D2A50, 4) + b"abcd"
        with pytest.raises(FormatError) as got:
            pipeline.decode(skippable + good, spec)
        assert got.value.code == "zstd-frame", (n, got.value.code)
        out, _ = pipeline.decode(good, spec)
        assert out.tobytes() == zstandard.ZstdDecompressor().decompress(good)
