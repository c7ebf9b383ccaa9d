"""``ctxfast`` (FORMAT.md 9.4.12): sample lanes, the step rule, the wide context, and the spec's
reader (written from FORMAT.md alone) decoding what the library encodes on geometries the
conformance vectors do not hold."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import spikecodec
from spikecodec._kernel_cache import load_kernels
from spikecodec.codecs import ChunkSpec, get_codec
from spikecodec.elements import read_only
from spikecodec.errors import FormatError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "spec"))
from refreader.codecs import decode_array  # noqa: E402
from refreader.common import Problem  # noqa: E402

FAST = "spikecodec.codecs.kernels.fast"
AXES = ("T", "N", "C", "H", "W")


def _spikes(shape, bits, rate, seed):
    rng = np.random.default_rng(seed)
    return np.where(rng.random(shape) < rate, rng.integers(1, 1 << bits, shape), 0).astype(np.uint8)


@pytest.mark.parametrize("N, starts", [(1, [0, 1]), (2, [0, 1, 2]), (3, [0, 1, 2, 3]), (4, [0, 1, 2, 3, 4]),
                                       (5, [0, 1, 2, 3, 5]), (6, [0, 1, 3, 4, 6]), (9, [0, 2, 4, 6, 9])])
def test_lanes_are_floor_l_n_over_l(N, starts):
    assert load_kernels(FAST).lane_starts(N).tolist() == starts


def _agrees_with_the_spec_reader(shape, bits, draws):
    """Each draw (seed, rate) round-trips through the codec, and the reference reader of spec/
    (independent of the kernels) gets the same array from its payload."""
    codec = get_codec("ctxfast")
    for seed, rate in draws:
        x = _spikes(shape, bits, rate, seed)
        spec = ChunkSpec(shape, AXES, bits)
        payload = codec.encode(x, spec)
        np.testing.assert_array_equal(codec.decode(payload, spec), x)
        np.testing.assert_array_equal(decode_array("ctxfast", {}, payload, shape, list(AXES), bits, None, 0), x)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("shape", [(3, 6, 5, 4, 3), (2, 5, 7, 1, 6), (4, 1, 6, 3, 3), (1, 3, 2, 2, 2), (5, 9, 3, 1, 1),
                                   (2, 4, 300, 1, 2)])
def test_the_spec_reader_decodes_what_the_library_encodes(shape, bits):
    """Unequal lanes (N = 5, 6, 9), one lane, three, counts, C past the group cap, planes of a
    pixel."""
    _agrees_with_the_spec_reader(shape, bits, ((1, 0.05), (2, 0.4)))


@pytest.mark.parametrize("bits", [1, 2, 4])
@pytest.mark.parametrize("shape", [(3, 6, 7, 5, 5), (4, 5, 12, 10, 3), (2, 4, 70, 6, 6), (5, 8, 2, 9, 11),
                                   (4, 3, 70, 6, 6), (2, 1, 6, 5, 5)])
def test_the_spec_reader_decodes_the_lockstep_kernels(shape, bits):
    """Planes that padding at most doubles take the kernels' four-lane lockstep loops (and,
    past the shortest lane or with fewer than four, their array-state twin), which build
    contexts from parts a word at a time: W = 3 (the least room past a row), a time batch ending
    inside the channels (C = 70), T past 3, C below 5, unequal lanes, three lanes and one."""
    _agrees_with_the_spec_reader(shape, bits, ((3, 0.1), (4, 0.45)))


@pytest.mark.parametrize("bits", [1, 4])
@pytest.mark.parametrize("shape", [(2, 1, 6, 5, 5), (5, 1, 4, 9, 11), (3, 1, 70, 6, 6), (1, 1, 3, 2, 2)])
def test_the_one_lane_decoder_prepares_both_next_contexts(shape, bits):
    """A chunk of one sample decodes with each decision's successor prepared for both of its
    bits, from the counters as the decision leaves them: all-zero and near-full planes make
    the next context the current one at most steps, and a table of 70 channel groups is
    prefetched from. T past 3, W past a word, a plane of 2 x 2."""
    _agrees_with_the_spec_reader(shape, bits, ((5, 0.0), (6, 0.97), (7, 0.3)))


@pytest.mark.parametrize("rate", [0.0, 0.9])
def test_magnitudes_of_no_element_and_of_dense_neighbours(rate):
    """The magnitude loops guess the next element's bucket before this one's value is known
    (:func:`.kernels.fast_magnitudes._decode_magnitudes`): dense counts put most elements beside the one
    before them, left or below; with no nonzero element the magnitude stream is still there.
    Planes of more than 4096 positions are listed a block at a time (the last shape's blocks
    end inside a row)."""
    _agrees_with_the_spec_reader((2, 5, 6, 9, 9), 4, ((5, rate),))
    _agrees_with_the_spec_reader((1, 4, 3, 1, 12), 2, ((6, rate),))
    _agrees_with_the_spec_reader((1, 2, 2, 70, 70), 4, ((7, rate),))


def test_lanes_count_a_step_after_all_its_reads():
    """Counting each decision at once (not after the step) codes other bytes, which the spec's
    reader refuses: the step rule is what both sides follow."""
    k = load_kernels(FAST)
    x = np.zeros((1, 4, 1, 1, 8), np.uint8)
    x[:, :, :, :, ::2] = 1  # every lane at the same contexts in every step
    spec = ChunkSpec(x.shape, AXES, 1)
    payload = get_codec("ctxfast").encode(x, spec)
    # The first step's four decisions all take the zero counters' q: the lanes' first words are equal.
    counts = np.frombuffer(payload[:16], "<u4")
    streams = np.split(np.frombuffer(payload[16:], "<u4"), np.cumsum(counts)[:-1])
    assert all(np.array_equal(streams[0], s) for s in streams[1:])
    tables = k.new_tables(1, 1)
    assert k.encode_with(x, 1, *tables, np.empty(0, np.uint8)).tobytes() == payload


def test_the_wide_context_reads_channels_c_minus_2_to_5():
    """Channels that repeat the one two back: ``context`` sees only c - 1, ``ctxfast`` c - 2 too."""
    rng = np.random.default_rng(3)
    base = rng.random((4, 64, 2, 6, 6)) < 0.3
    x = np.concatenate([base] * 8, axis=2).astype(np.uint8)  # channel c = channel c - 2
    fast = spikecodec.encode(x, codec="ctxfast")
    context = spikecodec.encode(x, codec="context")
    assert len(fast) < 0.6 * len(context), (len(fast), len(context))


@pytest.mark.parametrize("cut, code", [(lambda p: p[:-2], "rans-partial-word"), (lambda p: p[:8], "lanes-word-counts"),
                                       (lambda p: p + b"\0\0\0\0", "lanes-word-counts")])
def test_malformed_payloads_name_their_rule(cut, code):
    x = _spikes((2, 4, 3, 4, 4), 1, 0.3, 4)
    spec = ChunkSpec(x.shape, AXES, 1)
    bad = cut(get_codec("ctxfast").encode(x, spec))
    with pytest.raises(FormatError) as got:
        get_codec("ctxfast").decode(bad, spec)
    assert got.value.code == code
    with pytest.raises(Problem) as ref:
        decode_array("ctxfast", {}, bad, x.shape, list(AXES), 1, None, 0)
    assert ref.value.code == code


def test_a_chunk_without_elements_has_the_empty_payload():
    spec = ChunkSpec((2, 0, 3, 4, 4), AXES, 2)
    codec = get_codec("ctxfast")
    assert codec.encode(np.zeros(spec.shape, np.uint8), spec) == b""
    with pytest.raises(FormatError) as got:
        codec.decode(b"\0\0\0\0", spec)
    assert got.value.code == "rans-final-state"


@pytest.mark.parametrize("shape, bits", [((3, 6, 5, 7, 7), 1), ((2, 5, 3, 6, 4), 2), ((4, 1, 6, 5, 5), 4), ((2, 9, 7, 3, 8), 8)])
def test_the_unpadded_decoder_makes_the_same_decisions(shape, bits):
    """Planes that padding would more than double are decoded without the padded copy; on any
    plane the two decoders agree, including on a damaged payload's problem."""
    from spikecodec.codecs._entropy_model import flat_strides

    k = load_kernels(FAST)
    x = _spikes(shape, bits, 0.3, 5)
    words = np.frombuffer(get_codec("ctxfast").encode(x, ChunkSpec(shape, AXES, bits)), "<u4").astype(np.uint32)
    R = min(4, shape[1]) + (bits > 1)
    offs = np.concatenate([[R], R + np.cumsum(words[:R].astype(np.int64))]).astype(np.int64)
    damaged = words.copy()
    damaged[R] ^= 1 << 7
    for payload in (words, damaged):
        got = []
        for decoder in (k.decode_into_with, k.decode_plain_into_with):
            out = np.zeros(shape, np.uint8)
            flat, strides = flat_strides(out)
            tables = [np.zeros(n, dt) for _, dt, n in get_codec("ctxfast").table_layout({"C": shape[2], "bits": bits})]
            work = (np.empty(0, np.uint8),) if decoder is k.decode_into_with else ()
            got.append((decoder(payload, offs, flat, shape, strides, bits, *tables, *work), out))
        assert got[0][0] == got[1][0]
        np.testing.assert_array_equal(got[0][1], got[1][1])
    assert got[0][0] != 0 and k.decode_into_with is not k.decode_plain_into_with


def test_a_file_of_one_pixel_planes_decodes_in_about_its_output():
    """A padded copy of 1 x 1 planes would be 9 bytes an element: a 231-byte file of 2**30
    elements asked for 10 GB beside its 1 GB output (an outside probe)."""
    import tracemalloc

    x = np.zeros((1, 1 << 24), np.uint8)
    data = spikecodec.encode(x, codec="ctxfast", axes="TN", chunk=[1, 1 << 24])
    assert len(data) < 300
    tracemalloc.start()
    y = spikecodec.decode(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2.5 * x.size, peak  # the output and the unpadded significances
    assert not y.any() and y.shape == x.shape


def test_chunk_tables_are_zero_aligned_and_never_shared():
    """A large chunk's zero tables are its thread's, reused: zero again however the last chunk
    left them, and another thread's are others; a small chunk's are fresh. Every table starts
    on a 64-byte boundary (a context's 16 counters in one cache line)."""
    import threading

    codec = get_codec("ctxfast")
    geometry = {"C": 1, "bits": 2}
    entries = sum(n for _, _, n in codec.table_layout(geometry))
    big = codec.chunk_tables(geometry, entries)
    assert all(t.ctypes.data % 64 == 0 and not t.any() for t in big.values())
    for t in big.values():
        t[:] = 7  # as a chunk's coding leaves them
    again = codec.chunk_tables(geometry, entries)
    assert all(a is b for a, b in zip(again.values(), big.values())) and not any(t.any() for t in again.values())
    small = codec.chunk_tables(geometry, entries - 1)
    assert all(s is not b and not s.any() and s.ctypes.data % 64 == 0 for s, b in zip(small.values(), big.values()))
    other = []
    thread = threading.Thread(target=lambda: other.append(codec.chunk_tables(geometry, entries)))
    thread.start()
    thread.join()
    assert all(o is not b for o, b in zip(other[0].values(), big.values()))
    x = _spikes((2, 8, 1, 46, 46), 2, 0.3, 9)  # more elements than entries: coded with the reused tables
    assert x.size >= entries
    for t in big.values():
        t[:] = 7
    spec = ChunkSpec(x.shape, AXES, 2)
    payload = codec.encode(x, spec)
    np.testing.assert_array_equal(decode_array("ctxfast", {}, payload, x.shape, list(AXES), 2, None, 0), x)
    for t in big.values():
        t[:] = 7
    np.testing.assert_array_equal(codec.decode(payload, spec), x)


@pytest.mark.parametrize("shape, bits", [((3, 6, 5, 7, 7), 1), ((2, 5, 3, 6, 4), 2), ((4, 9, 7, 8, 8), 1), ((1, 6, 4, 7, 7), 4)])
def test_kept_working_memory_is_never_read_before_written(shape, bits):
    """The loops' padded copy and decisions (significance and magnitudes) in a thread's kept
    working memory, whatever an earlier chunk left there, give the bytes and arrays of fresh
    memory (and of the spec's reader); too small a buffer is not used."""
    from spikecodec.codecs._entropy_model import flat_strides

    k = load_kernels(FAST)
    x = read_only(_spikes(shape, bits, 0.3, 11))  # as the codec passes it (one compilation of the kernels)
    layout = get_codec("ctxfast").table_layout({"C": shape[2], "bits": bits})
    T, N, C, H, W = shape
    fresh = k.encode_with(x, bits, *[np.zeros(n, dt) for _, dt, n in layout], np.empty(0, np.uint8))
    encoder = k.work_bytes(T, N, C, H, W, True)
    with_magnitudes = encoder + k.magnitude_work_bytes(x, bits)  # and the encoder's magnitude decisions
    assert (with_magnitudes > encoder) == (bits > 1)
    for need in (encoder, with_magnitudes, k.work_bytes(T, N, C, H, W, False)):
        assert need > 0
        for size in (need, need - 1, need + 100):
            work = np.full(size, 0xA5, np.uint8)  # what another chunk left
            words = k.encode_with(x, bits, *[np.zeros(n, dt) for _, dt, n in layout], work)
            assert words.tobytes() == fresh.tobytes()
            R = min(4, N) + (bits > 1)
            offs = np.concatenate([[R], R + np.cumsum(words[:R].astype(np.int64))]).astype(np.int64)
            out = np.zeros(shape, np.uint8)
            flat, strides = flat_strides(out)
            work[:] = 0x5A
            assert k.decode_into_with(words, offs, flat, shape, strides, bits, *[np.zeros(n, dt) for _, dt, n in layout], work) == 0
            np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(decode_array("ctxfast", {}, fresh.tobytes(), shape, list(AXES), bits, None, 0), x)


def test_threads_keep_their_own_working_memory():
    """:func:`spikecodec.codecs.workspace.scratch`: a thread's buffer is reused, never another
    thread's, and none is kept above KEEP_BYTES."""
    import threading

    from spikecodec.codecs import workspace

    a = workspace.scratch(1000)
    b = workspace.scratch(500)
    assert a.size == 1000 and b.size == 500 and np.shares_memory(a, b)
    other = []
    thread = threading.Thread(target=lambda: other.append(workspace.scratch(1000)))
    thread.start()
    thread.join()
    assert not np.shares_memory(other[0], a)
    assert workspace.scratch(0).size == 0 and workspace.scratch(workspace.KEEP_BYTES + 1).size == 0
    assert np.shares_memory(workspace.scratch(1000), a)  # a refused size leaves the kept buffer
