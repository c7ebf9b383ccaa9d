"""Mutated valid files through decode, open + slicing and validate: a correct decode or a
FormatError, nothing else (hostile.exercise is the oracle)."""

import random

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import spikecodec
import hostile
from spikecodec.prior import parse_prior

VECTORS = hostile.valid_vectors()
NAMES = sorted(VECTORS)
vector = st.sampled_from(NAMES).map(VECTORS.__getitem__)


@given(vector, st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 7)), min_size=1, max_size=8), st.booleans())
def test_bit_flips(data, flips, reseal):
    b = bytearray(data)
    for pos, bit in flips:
        b[pos % len(b)] ^= 1 << bit
    hostile.exercise(hostile.seal(bytes(b), rebuild_index=False) if reseal else bytes(b))


@given(vector, st.integers(0, 1 << 20))
def test_truncations(data, cut):
    hostile.exercise(data[: cut % (len(data) + 1)])


@given(vector, vector, st.integers(0, 1 << 20), st.integers(0, 1 << 20), st.booleans())
def test_splices(a, b, i, j, reseal):
    spliced = a[: i % (len(a) + 1)] + b[j % (len(b) + 1) :]
    hostile.exercise(hostile.seal(spliced) if reseal else spliced)


@given(vector, st.integers(0, 10_000), st.sampled_from(hostile.INTERESTING), st.sampled_from([None, False, True]))
def test_fields_set_to_extreme_values(data, which, value, rebuild_index):
    fields = hostile.parse(data).fields
    offset, width, _ = fields[which % len(fields)]
    out = hostile.set_field(data, offset, width, value)
    hostile.exercise(out if rebuild_index is None else hostile.seal(out, rebuild_index=rebuild_index))


@given(vector, st.sampled_from(["dup", "drop", "swap", "reverse"]), st.integers(0, 100), st.integers(0, 100), st.booleans())
def test_chunks_duplicated_dropped_or_reordered(data, op, i, j, rebuild_index):
    head, recs = hostile.records(data)
    assume(recs)  # a vector of no chunk (G = 0) has nothing to reorder
    i, j = i % len(recs), j % len(recs)
    if op == "dup":
        recs.insert(j, recs[i])
    elif op == "drop":
        recs.pop(i)
    elif op == "swap":
        recs[i], recs[j] = recs[j], recs[i]
    else:
        recs.reverse()
    hostile.exercise(hostile.seal(head + b"".join(recs), rebuild_index=rebuild_index))


@given(vector, st.integers(0, 2**32))
def test_random_mutation_chains(data, seed):
    rng = random.Random(seed)
    hostile.exercise(hostile.mutate(data, rng, VECTORS[rng.choice(NAMES)]))


PRIORS = hostile.valid_priors()
PRIOR_NAMES = sorted(PRIORS)
PRIOR_CODECS = tuple(sorted({parse_prior(d).codec for d in PRIORS.values()}))


@given(st.sampled_from(PRIOR_NAMES), st.integers(0, 2**32))
def test_priors_with_hostile_content_are_refused_or_code_exactly(name, seed):
    # Table values at extremes, geometry, codec and table layout changed, the file re-sealed: the
    # prior parses, then coding with it (named or embedded) is refused cleanly or round-trips.
    rng = random.Random(seed)
    hostile.exercise_prior(hostile.mutate_prior(PRIORS[name], rng, PRIOR_CODECS), seed)


@given(st.sampled_from(PRIOR_NAMES), st.integers(0, 2**32))
def test_byte_mutated_prior_files_are_format_errors_or_priors(name, seed):
    hostile.exercise_prior(hostile.mutate(PRIORS[name], random.Random(seed)), seed)


@pytest.mark.parametrize("metadata", hostile.HOSTILE_METADATA, ids=lambda m: repr(m[:12]))
def test_hostile_metadata_is_rejected_or_read_as_plain_data(metadata):
    data = hostile.with_metadata(VECTORS["spikes-raw"], metadata)
    try:
        with spikecodec.open(data) as r:
            meta = r.metadata
    except spikecodec.FormatError:
        return
    assert isinstance(meta, dict)  # plain JSON, never an object built from it
    assert all(isinstance(k, str) for k in meta)


# -- regressions: inputs the fuzzers found ---------------------------------------------------


def _with_shape(data: bytes, shape: dict[str, int]) -> bytes:
    fields = {name: (off, width) for off, width, name in hostile.parse(data).fields}
    for name, value in shape.items():
        data = hostile.set_field(data, *fields[name], value)
    return hostile.seal(data, rebuild_index=False)


def test_header_declaring_billions_of_chunks_per_row_is_cheap():
    # chunks-2d is chunked along T and N; declaring N = 2**40 with chunks of 1 along N used to
    # make the reader list 2**40 chunk origins (MemoryError, or the OOM killer).
    data = _with_shape(VECTORS["chunks-2d"], {"shape[1]": 1 << 40, "chunk_shape[1]": 1})
    with pytest.raises(spikecodec.FormatError):
        spikecodec.decode(data)
    assert not spikecodec.validate(data).ok


def test_header_body_that_ends_inside_a_field_is_a_format_error():
    # A metadata length running past the end of the header body made the compiled header parser
    # raise struct.error instead of FormatError.
    data = VECTORS["spikes-raw"]
    fields = {name: (off, width) for off, width, name in hostile.parse(data).fields}
    for value in (5, 1 << 20, 0xFFFFFFFF):
        bad = hostile.seal(hostile.set_field(data, *fields["metadata length"], value), rebuild_index=False)
        with pytest.raises(spikecodec.FormatError, match="malformed header body"):
            spikecodec.decode(bad)


def test_slices_of_a_chunk_grid_match_the_whole_array():
    # The reader now finds the chunks a selection meets arithmetically; check it against numpy.
    rng = np.random.default_rng(3)
    x = (rng.random((5, 7, 3, 4)) < 0.3).astype(np.uint8)
    data = spikecodec.encode(x, codec="raw", chunk=(2, 3, 2), axes="TNCL")
    with spikecodec.open(data) as r:
        for key in [(slice(None), slice(2, 6)), (1, slice(None), 2), (slice(4, 0, -2), slice(6, 0, -3), slice(1, 3)), (slice(3, 3),)]:
            np.testing.assert_array_equal(r[key], x[key])


def test_empty_array_with_huge_other_axes_is_a_limit_of_this_reader():
    # Found by the fuzzer: shape (0, 3.5e18, 8) has 0 elements (within the format's limit) but
    # numpy cannot make even an empty array of it, so decode raised ValueError. Then a
    # FormatError of severity "error": but the file conforms (the reference reader reads it), and
    # only this reader cannot hold its shape: a limit (FORMAT.md 12, an implementation limit).
    data = _with_shape(VECTORS["spikes-raw"], {"shape[1]": 0, "shape[2]": 3578473756140859989})
    with pytest.raises(spikecodec.LimitError, match="too large for numpy") as info:
        spikecodec.decode(data)
    assert info.value.code == "numpy-shape" and info.value.severity == "limit"
    report = spikecodec.validate(data)
    assert not report.ok and report.conforming_so_far


def test_empty_entropy_coded_chunk_with_a_huge_axis_is_quick():
    # Found by the fuzzer (a 30 s timeout): shape (3, 3, 4, 11730950, 0) holds no element, yet the
    # entropy decoder looped over the 11.7M-long axis and allocated its padded planes (~850 MB).
    data = (hostile.ROOT / "tests" / "robustness" / "regression-empty-chunk-slow.spk").read_bytes()
    import time

    start = time.perf_counter()
    assert not spikecodec.validate(data).ok
    assert time.perf_counter() - start < 5
    assert spikecodec.decode(spikecodec.encode(np.zeros((3, 2, 0), np.uint8), codec="context")).shape == (3, 2, 0)


@pytest.mark.parametrize("codec", ["context", "ctxlanes", "order0", "framemix", "mix"])
@pytest.mark.parametrize("shape", [(2, 0, 1, 1 << 20, 1 << 20), (2, 1 << 20, 1 << 20, 1, 0)])
def test_an_empty_array_with_huge_other_axes_encodes_and_decodes(codec, shape):
    # Found by an outside probe: encoding such an array with context, ctxlanes or order0 was a
    # MemoryError (their kernel's planes were sized by the non-empty axes, as decoding's had been);
    # then the mixing codecs' working-memory check refused reading it back (no kernel runs for it).
    data = spikecodec.encode(np.zeros(shape, np.uint8), codec=codec)
    assert spikecodec.decode(data).shape == shape and spikecodec.validate(data).ok


@pytest.mark.parametrize("codec", ["framemix", "mix"])
def test_working_memory_of_a_chunk_counts_against_max_bytes(codec):
    # Found by an outside probe: a 59 KB framemix file of one sample of 2**25 channels at 1 x 1
    # (32 MiB declared) took 800 MB to decode under --max-bytes 40M: the kernels' zero-padded
    # planes of one sample (9x the sample at 1 x 1) and its neurons' histories, ~24 bytes an
    # element, counted nowhere. Now refused before any allocation when over max_bytes and 64 MiB
    # (here 96 MiB); read when max_bytes allows.
    one_sample = np.zeros((1, 1, 1 << 22, 1, 1), np.uint8)
    one_sample[0, 0, ::97] = 1
    data = spikecodec.encode(one_sample, codec=codec)
    with pytest.raises(spikecodec.LimitError, match="working memory") as info:
        spikecodec.decode(data, max_bytes=8 << 20)
    assert info.value.code == "limit-bytes" and info.value.offset is not None
    report = spikecodec.validate(data, max_bytes=8 << 20)
    assert not report.ok and report.conforming_so_far
    np.testing.assert_array_equal(spikecodec.decode(data, max_bytes=100 << 20), one_sample)
    # A quarter of it needs 24 MiB, under the 64 MiB floor: read at max_bytes = its own size, as
    # zarr's, numcodecs' and the link's readers cap a chunk.
    quarter = np.ascontiguousarray(one_sample[:, :, : 1 << 20])
    np.testing.assert_array_equal(spikecodec.decode(spikecodec.encode(quarter, codec=codec), max_bytes=quarter.size), quarter)
    # Many samples of a layer's usual planes: working memory a fraction of the chunk, read at
    # max_bytes = the array's own size.
    layer = (np.random.default_rng(1).random((2, 64, 16, 7, 7)) < 0.2).astype(np.uint8)
    np.testing.assert_array_equal(spikecodec.decode(spikecodec.encode(layer, codec=codec), max_bytes=layer.size), layer)


def test_ctxlanes_lanes_of_more_than_256_channels_stay_in_their_tables():
    # Found by the fuzzer (a segmentation fault): a ctxlanes chunk of C = 1032 (lanes of 258
    # channels) made the lockstep decoder index channel group 258 of a 256-group table, past the
    # end of the counters; the encoder did the same on any such array. Groups wrap (j mod G).
    data = (hostile.ROOT / "tests" / "robustness" / "regression-ctxlanes-wide-lanes.spk").read_bytes()
    assert hostile.exercise(data) == "rejected"
    x = (np.random.default_rng(3).random((2, 2, 2048, 5, 5)) < 0.3).astype(np.uint8)
    np.testing.assert_array_equal(spikecodec.decode(spikecodec.encode(x, codec="ctxlanes", axes="TNCHW")), x)


@pytest.mark.parametrize("name", ["regression-row-of-2-63-chunks.spk", "regression-row-of-2-63-chunks-indexed.spk"])
def test_rows_of_more_chunks_than_len_can_count_are_refused_not_an_overflow(name):
    # Found by scripts/fuzz.py open (OverflowError "cannot fit 'int' into an index-sized
    # integer"): an axis of extent 0 outside the chunked ones makes the element count 0, so a
    # header may declare more than 2**63 chunks a row, which len() cannot return. Readers count
    # them as a Python int (InnerGrid.count); such a file is refused with its problem.
    data = (hostile.ROOT / "tests" / "robustness" / name).read_bytes()
    assert hostile.exercise(data) == "rejected"
    assert hostile.exercise(data, "open") == "rejected"


def test_rows_of_a_stream_of_unknown_length_end_within_the_extent_limit():
    # Found by scripts/fuzz.py validate (OverflowError converting the chunk table to int64): a
    # compact stream of unknown length whose chunks hold no element (an axis of extent 0) stated
    # rows of 1.8e19, which validation, stepping over records that fail only their check, added
    # up past 2**63. Rows end at or before 2**62 - 1 (FORMAT.md 4.1): row-past-shape.
    data = (hostile.ROOT / "tests" / "robustness" / "regression-rows-past-2-62-unknown-length.spk").read_bytes()
    assert hostile.exercise(data, "validate") == "rejected"
    report = spikecodec.validate(data)
    assert "row-past-shape" in [p.code for p in report.problems]


def test_hostile_message_streams_are_refused_message_by_message():
    # What a hostile peer sends a LinkDecoder (FORMAT.md 11): the message vectors with messages
    # dropped, repeated, swapped, cut, spliced from another stream or bit-flipped. Every input is
    # taken or refused with FormatError; a stream taken whole concatenates to a file that decodes
    # to the same rows (hostile.exercise_link checks it). scripts/fuzz.py link runs this at length.
    import random

    seeds = hostile.valid_message_streams()
    assert hostile.exercise_link(seeds["messages-coded"]) == "ok"
    assert hostile.exercise_link(seeds["messages-coded-replayed"]) == "rejected"
    coded = seeds["messages-coded"]  # and numbered (bit 1 of the first byte): fed last first, then again
    assert hostile.exercise_link(bytes([coded[0] | 2]) + coded[1:]) == "ok"
    rng = random.Random(25)
    values = list(seeds.values())
    outcomes = set()
    for _ in range(400):
        data = rng.choice(values)
        for _ in range(rng.randrange(1, 4)):
            data = hostile.mutate_messages(data, rng, rng.choice(values))
        outcomes.add(hostile.exercise_link(data))
    assert outcomes == {"ok", "rejected"}


def test_validate_counts_the_chunks_of_a_last_row_cut_short_against_max_bytes():
    # A 734-byte cut of a file of one row of 12 chunks of 32 MiB decoded 11 of them under
    # max_bytes=64 MiB: the whole-file check counted complete rows only.
    data = spikecodec.encode(np.zeros((1, 12, 1, 4096, 8192), np.uint8), codec="context", chunk=(1, 1))
    index_at = int.from_bytes(data[-24:-16], "little")
    report = spikecodec.validate(data[: index_at - 3], max_bytes=64 << 20)
    assert [p.code for p in report.problems][-1] == "limit-bytes" and report.chunks_checked == 0, report
    small = spikecodec.encode(np.zeros((1, 3, 1, 16, 16), np.uint8), codec="context", chunk=(1, 1))
    cut = small[: int.from_bytes(small[-24:-16], "little") - 3]  # the third chunk is cut: two are decoded
    within = spikecodec.validate(cut, max_bytes=2 * 256)
    assert within.chunks_checked == 2 and "limit-bytes" not in [p.code for p in within.problems], within
    assert "limit-bytes" in [p.code for p in spikecodec.validate(cut, max_bytes=2 * 256 - 1).problems]


def test_a_header_field_that_runs_past_the_body_is_malformed():
    # The compiled parser read an extension's data short when its length ran past the body's end,
    # and the file decoded (found by differential testing against spec/refreader, which refuses it).
    import dataclasses
    import zlib

    from spikecodec.container.header import Extension, encode_header, parse_header

    def parts(data: bytes) -> tuple[bytes, bytes, bytes]:
        size = int.from_bytes(data[12:16], "little")
        return data[:16], data[16:16 + size], data[16 + size:20 + size]

    header = parse_header(*parts(spikecodec.encode(np.ones((2, 3), np.uint8), codec="raw")))
    good = encode_header(dataclasses.replace(header, extensions=(*header.extensions, Extension("foo", b"abc", False))))
    parse_header(*parts(good))  # an optional extension of 3 bytes, the body's last field
    bad = bytearray(good)
    end = 16 + int.from_bytes(good[12:16], "little")
    bad[end - 7:end - 3] = (100).to_bytes(4, "little")  # its data length 3 -> 100, past the body's end
    bad[end:end + 4] = zlib.crc32(bytes(bad[:end])).to_bytes(4, "little")
    with pytest.raises(spikecodec.FormatError) as caught:
        parse_header(*parts(bytes(bad)))
    assert caught.value.code == "header-malformed" and caught.value.offset == 16, caught.value


def test_validate_decodes_nothing_by_a_header_that_fails_its_crc(monkeypatch):
    # A 177-byte countctx file with one shape byte changed (its header CRC then fails) made
    # validate decode a 315-million-element chunk for 36 s to report nothing more than header-crc.
    def decoded(*args, **kwargs):
        raise AssertionError("a payload was decoded by a header that fails its CRC")

    monkeypatch.setattr("spikecodec.container.validate.decode_record", decoded)
    data = bytes.fromhex(
        "8a53504b0d0a1a0a010300007b0000000601010001000000000000000100000000000000050000000000000005000000000000000100400000"
        "000000030000000000000001000000000000000264300264310264320264330264340264350108636f756e74637478020000007b7d0200"
        "00007b7d0100010f636f6d706163742d7265636f72647300000000ed55ad8601c7e2000101c5d85d919200000000000000070000000000"
        "000045b404db53504b54")
    report = spikecodec.validate(data)
    assert [p.code for p in report.problems][0] == "header-crc", report
