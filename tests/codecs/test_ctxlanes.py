"""The ``ctxlanes`` codec (FORMAT.md 9.4.8): its lockstep kernels against lane-by-lane ``context``
coding, its payload checks, and files that use it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import spikecodec
from spikecodec.codecs import ChunkSpec
from spikecodec.codecs.kernels import context, rans
from spikecodec.codecs.kernels import lanes
from spikecodec.codecs.ctxlanes import ContextLanes, lane_blocks
from spikecodec.elements import read_only
from spikecodec.errors import FormatError

AXES = ("T", "N", "C", "H", "W")


def spikes(shape: tuple[int, ...], rate: float, seed: int, bits: int = 1) -> np.ndarray:
    """Spikes that repeat over T (what the context model conditions on), with 10% flips."""
    rng = np.random.default_rng(seed)
    fire = (rng.random(shape[1:]) < rate)[None] ^ (rng.random(shape) < 0.1)
    values = rng.integers(1, 1 << bits, shape) if bits > 1 else 1
    return np.where(fire, values, 0).astype(np.uint8)


def lane_by_lane(x: np.ndarray, bits: int) -> bytes:
    """The payload as FORMAT.md 9.4.8 defines it, from the ``context`` kernel run on each lane."""
    streams = [context.encode(read_only(np.ascontiguousarray(x[:, :, a:b])), bits, True) for a, b in lane_blocks(x.shape[2])]
    return np.concatenate([np.array([s.size for s in streams], np.uint32), *streams]).astype("<u4").tobytes()


@pytest.mark.parametrize("C,count", [(1, 1), (2, 2), (3, 1), (4, 4), (6, 2), (8, 4), (10, 2), (12, 4), (0, 4)])
def test_lane_count_follows_the_channel_count(C, count):
    blocks = lane_blocks(C)
    assert len(blocks) == count
    assert blocks[0][0] == 0 and blocks[-1][1] == C
    assert all(b - a == C // count for a, b in blocks) and all(blocks[i][1] == blocks[i + 1][0] for i in range(count - 1))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(1, 3), st.sampled_from([4, 8, 12]), st.integers(1, 9), st.integers(1, 9),
       st.sampled_from([0.0, 0.05, 0.3, 0.9]), st.integers(0, 2**32 - 1))
def test_lockstep_kernels_code_the_lanes_context_streams(T, N, C, H, W, rate, seed):
    """The four-lane encoder writes, byte for byte, each lane's ``context`` stream; the four-lane
    decoder (where it applies) and the lane-by-lane decoder both give the array back."""
    x = spikes((T, N, C, H, W), rate, seed)
    spec = ChunkSpec(x.shape, AXES, 1)
    payload = ContextLanes().encode(x, spec)
    assert lanes.fast_encode(C, 1)
    assert payload == lane_by_lane(x, 1)
    np.testing.assert_array_equal(ContextLanes().decode(payload, spec), x)
    if lanes.fast_decode(C, H, W, 1):
        words = np.frombuffer(payload, "<u4").astype(np.uint32)
        offs = np.concatenate([[4], 4 + np.cumsum(words[:4].astype(np.int64))])
        y = np.empty_like(x)
        assert lanes.decode4_into(words, offs, y.reshape(-1), y.shape, y.strides) == 0
        np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("shape,bits", [((3, 2, 6, 7, 7), 1), ((3, 2, 8, 7, 7), 2), ((2, 2, 8, 1, 1), 1), ((2, 1, 4, 300, 230), 1)])
def test_other_chunks_are_coded_lane_by_lane(shape, bits):
    """Two lanes, multi-bit counts, planes the padded context copy would more than double
    (1 x 1) and planes the ``context`` decoder tiles: the lane-by-lane path, same format."""
    x = spikes(shape, 0.2, seed=sum(shape), bits=bits)
    spec = ChunkSpec(x.shape, AXES, bits)
    assert not lanes.fast_decode(shape[2], shape[3], shape[4], bits)
    payload = ContextLanes().encode(x, spec)
    assert payload == lane_by_lane(x, bits)
    np.testing.assert_array_equal(ContextLanes().decode(payload, spec), x)


@pytest.mark.parametrize("axes", ["TCNHW", "CTNWH", "NTCHW"])
def test_decodes_through_the_outputs_own_axis_order(axes):
    """The four-lane decoder writes through the caller's strided canonical view."""
    x5 = spikes((4, 3, 8, 7, 9), 0.25, seed=5)
    x = np.ascontiguousarray(x5.transpose(["TNCHW".index(a) for a in axes]))
    spec = ChunkSpec(x.shape, tuple(axes), 1)
    payload = ContextLanes().encode(x, spec)
    assert payload == ContextLanes().encode(x5, ChunkSpec(x5.shape, AXES, 1))
    out = np.zeros_like(x)
    assert ContextLanes().decode_into(payload, spec, out) == int(x.sum())
    np.testing.assert_array_equal(out, x)


def test_lanes_cost_a_few_percent_over_context_on_correlated_spikes():
    """Independent lanes lose the previous-channel context at three channels and learn four sets
    of shared counts: a small price, never a large one."""
    x = spikes((4, 16, 16, 7, 7), 0.15, seed=9)
    spec = ChunkSpec(x.shape, AXES, 1)
    ratio = len(ContextLanes().encode(x, spec)) / len(spikecodec.get_codec("context").encode(x, spec))
    assert 1.0 < ratio < 1.06, ratio


def _payload():
    x = spikes((3, 2, 8, 7, 7), 0.3, seed=3)
    spec = ChunkSpec(x.shape, AXES, 1)
    return x, spec, ContextLanes().encode(x, spec)


def test_malformed_lane_tables_are_rejected():
    x, spec, good = _payload()
    words = np.frombuffer(good, "<u4").copy()
    longer = words.copy()
    longer[0] += 1
    shorter = words.copy()
    shorter[3] -= 1
    huge = np.concatenate([[0, 0, 0, 2 * x.size], np.ones(2 * x.size, np.uint32)]).astype("<u4")
    cases = {
        "no room for the counts": (good[:12], "shorter than its 4 lane word counts"),
        "counts claim more words": (longer.tobytes(), "add up"),
        "counts claim fewer words": (shorter.tobytes(), "add up"),
        "partial word": (good[:-1], "whole number"),
        "a lane longer than any encoding": (huge.tobytes(), "longer than any encoding"),
    }
    for name, (data, phrase) in cases.items():
        with pytest.raises(FormatError, match=phrase):
            ContextLanes().decode(data, spec)


def test_a_corrupt_lane_is_rejected_whichever_it_is():
    """A zero last word, or a stream that does not end in the coder's initial state, in any lane."""
    x, spec, good = _payload()
    words = np.frombuffer(good, "<u4")
    ends = 4 + np.cumsum(words[:4].astype(np.int64))
    for lane in range(4):
        bad = words.copy()
        bad[ends[lane] - 1] = 0
        with pytest.raises(FormatError, match="corrupt stream"):
            ContextLanes().decode(bad.tobytes(), spec)


def test_a_file_of_many_chunks_round_trips(tmp_path):
    """Through the container: chunks of 2 samples, read back whole and in part."""
    x = spikes((4, 6, 8, 7, 7), 0.2, seed=11)
    path = tmp_path / "lanes.spk"
    spikecodec.save(path, x, codec="ctxlanes", axes="TNCHW", chunk=(4, 2))
    with spikecodec.open(path) as r:
        assert r.codec == [{"id": "ctxlanes"}]
        np.testing.assert_array_equal(r.read(), x)


def test_decisions_are_those_the_lanes_code():
    """The diagnostic decision list is each lane's ``context`` decisions: its ideal adaptive code
    length is the payload's, within the coder's few words a lane and the word counts."""
    x = spikes((4, 8, 8, 7, 7), 0.2, seed=4)
    spec = ChunkSpec(x.shape, AXES, 1)
    bits, q, ctx = ContextLanes().decisions(x, spec)
    assert bits.size == x.size and ctx.size == x.size
    ideal_bytes = rans.ideal_bits(bits, q) / 8
    payload = len(ContextLanes().encode(x, spec))
    assert ideal_bytes < payload < ideal_bytes + 16 + 4 * 8, (ideal_bytes, payload)
