"""``ctxmix`` (FORMAT.md 9.4.9), ``mix`` and ``winmix`` (9.4.10, 9.4.11, the same arithmetic with other models): the pinned tables, the coder's end rule, the packed fallback,
hashed tables, and coding from a prior (journalled working tables, shared across threads)."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

import spikecodec
from spikecodec.codecs import ChunkSpec, get_codec
from spikecodec.codecs.kernels import binary as B
from spikecodec.codecs.kernels import ctxmix as K
from spikecodec.elements import pack
from spikecodec.errors import FormatError

AXES = ("T", "N", "C", "H", "W")
MIXERS = ["ctxmix", "mix", "winmix"]  # the context-mixing codecs: one coder, payload rule and prior mechanism


def spikes(shape, rate=0.3, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.random(shape[1:]) < rate
    return (base[None] ^ (rng.random(shape) < 0.1)).astype(np.uint8)


def test_tables_follow_their_formulas():
    assert B.STRETCH[0] == -2047 and B.STRETCH.size == 4096 and B.SQUASH.size == 4095
    for i in range(1, 4096):
        assert B.STRETCH[i] == min(2047, max(-2047, math.floor(256 * math.log(i / (4096 - i)) + 0.5)))
    for d in range(-2047, 2048):
        assert B.SQUASH[d + 2047] == min(4095, max(1, math.floor(4096 / (1 + math.exp(-d / 256)) + 0.5)))
    assert list(B.RATE[:3]) == [43690, 26214, 18724] and all(B.RATE[n] == 131072 // (2 * n + 3) for n in range(1024))


def test_a_fresh_state_is_one_half_and_updates_as_specified():
    s = np.uint32(0)
    assert B.stretched(s) == 0
    s1 = B.updated(s, 1)  # p = 2**21 + floor(2**21 * 43690 / 2**16), n = 1
    p = ((int(s1) >> 10) ^ (1 << 21))
    assert int(s1) & 1023 == 1 and p == (1 << 21) + ((1 << 21) * 43690 >> 16)
    for bit in (0, 1):  # p stays inside 0 .. 2**22 - 1 however long one value repeats
        s = np.uint32(0)
        for _ in range(5000):
            s = B.updated(s, bit)
        p = (int(s) >> 10) ^ (1 << 21)
        assert 0 <= p < 1 << 22 and int(s) & 1023 == 1023


@pytest.mark.parametrize("codec_id", MIXERS)
def test_payload_never_longer_than_packed_and_falls_back_to_it(codec_id):
    codec = get_codec(codec_id)
    noise = (np.random.default_rng(3).random((1, 1, 2, 4, 4)) < 0.5).astype(np.uint8)
    spec = ChunkSpec(noise.shape, AXES, 1)
    payload = codec.encode(noise, spec)
    assert len(payload) == spec.packed_nbytes and payload == pack(noise, 1)  # coding did not pay
    np.testing.assert_array_equal(codec.decode(payload, spec), noise)
    with pytest.raises(FormatError, match="longer than the chunk packed"):
        codec.decode(payload + b"\0", spec)


@pytest.mark.parametrize("codec_id", MIXERS)
def test_only_the_encoders_own_bytes_decode(codec_id):
    """The end rule makes decoding canonical: a payload is accepted only if it is exactly what
    the encoder writes for the values it decodes to (so corruption either fails here, or decodes
    to other values whose encoding it is: the container's CRC catches that)."""
    codec = get_codec(codec_id)
    x = spikes((3, 2, 4, 6, 6))
    spec = ChunkSpec(x.shape, AXES, 1)
    payload = codec.encode(x, spec)
    assert len(payload) < spec.packed_nbytes
    with pytest.raises(FormatError, match="corrupt payload"):
        codec.decode(payload + b"\xff", spec)  # bytes past the end read as 0xFF: same values, too long
    rng = np.random.default_rng(1)
    refused = 0
    for i in range(300):
        b = bytearray(payload)
        if i % 3 == 0:
            b = b[: rng.integers(len(b))]
        else:
            b[rng.integers(len(b))] ^= 1 << int(rng.integers(8))
        try:
            y = codec.decode(bytes(b), spec)
        except FormatError:
            refused += 1
            continue
        assert codec.encode(y, spec) == bytes(b)
    assert refused > 100
    assert codec.decode(b"", ChunkSpec((0, 2, 2), ("T", "N", "F"), 1)).shape == (0, 2, 2)


@pytest.mark.parametrize("codec_id", MIXERS)
def test_a_value_above_the_element_type_is_refused(codec_id):
    """A 4-bit escape tree can code e up to 15: 3 + e above 15 must be refused, not wrapped."""
    codec = get_codec(codec_id)
    spec = ChunkSpec((1, 1, 2, 2, 2), AXES, 4)  # packed: 4 bytes, so shorter payloads are coded
    refused = 0
    for first in range(256):  # some of these decode to 3 + e > 15
        try:
            codec.decode(bytes([first, 0x55]), spec)
        except FormatError as exc:
            refused += "does not fit" in str(exc)
    assert refused


@pytest.mark.parametrize("shape", [(1, 1, 1, 260, 260), (2, 1, 3, 50, 50)])
def test_hashed_tables_round_trip(shape):
    """Model A's keys exceed 2**22 (hashed); with 260 x 260 the position sets are hashed too."""
    T, N, C, H, W = shape
    assert K.context_counts(T, C, H, W, 1)[0] > K.TABLE_CAP
    x = (np.random.default_rng(5).random(shape) < 0.1).astype(np.uint8)
    spec = ChunkSpec(shape, AXES, 1)
    codec = get_codec("ctxmix")
    np.testing.assert_array_equal(codec.decode(codec.encode(x, spec), spec), x)


@pytest.mark.parametrize("codec_id", ["mix", "winmix"])
@pytest.mark.parametrize("shape", [(1, 1, 4, 300, 300), (1, 2, 3, 5, 7)])
def test_mix_hashed_and_direct_tables_round_trip(codec_id, shape):
    """Model C's keys exceed 2**hash_bits at 4 x 300 x 300 positions (hashed), and the lines
    (mix's D and E; winmix's E, X and Y) serve channel groups that end mid-group (3 channels)."""
    from spikecodec._kernel_cache import load_kernels

    M = load_kernels(get_codec(codec_id).kernels_module)
    T, N, C, H, W = shape
    counts, sizes = M.context_counts(T, C, H, W, 2), M.table_sizes(T, C, H, W, 2)
    assert (counts[2] > sizes[2]) == (shape[2] == 4) and all(n % 16 == 0 for n in sizes[:4])
    rng = np.random.default_rng(5)
    x = np.where(rng.random(shape) < 0.2, rng.integers(1, 4, shape), 0).astype(np.uint8)
    spec = ChunkSpec(shape, AXES, 2)
    codec = get_codec(codec_id)
    np.testing.assert_array_equal(codec.decode(codec.encode(x, spec), spec), x)


@pytest.mark.parametrize("codec_id", MIXERS)
def test_prior_chunks_are_independent_and_threads_share_a_prior(codec_id):
    """Coding from a prior journals the table writes into a per-thread copy: chunk after chunk,
    and thread beside thread, every chunk codes as if it were the first."""
    samples = [spikes((2, 1, 4, 6, 6), seed=s) for s in range(40)]
    prior = spikecodec.train_prior(samples, codec_id)
    codec = get_codec(codec_id).with_prior(prior)
    spec = ChunkSpec((2, 1, 4, 6, 6), AXES, 1)
    tests = [spikes((2, 1, 4, 6, 6), seed=100 + s) for s in range(12)]
    alone = [codec.encode(x, spec) for x in tests]
    assert [codec.encode(x, spec) for x in reversed(tests)] == alone[::-1]
    errors = []

    def work():
        try:
            for _ in range(5):
                for x, p in zip(tests, alone):
                    assert codec.encode(x, spec) == p
                    np.testing.assert_array_equal(codec.decode(p, spec), x)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    np.testing.assert_array_equal(prior.tables["states"], prior.working_tables().clean()["states"])


@pytest.mark.parametrize("codec_id", MIXERS)
def test_large_chunks_from_a_prior_refresh_the_working_copy(codec_id):
    samples = [spikes((2, 1, 2, 4, 4), seed=s) for s in range(20)]
    prior = spikecodec.train_prior(samples, codec_id)
    codec = get_codec(codec_id).with_prior(prior)
    big = spikes((2, 3000, 2, 4, 4), seed=7)  # more decisions than a journal pays for
    spec = ChunkSpec(big.shape, AXES, 1)
    payload = codec.encode(big, spec)
    small = spikes((2, 1, 2, 4, 4), seed=8)
    s_spec = ChunkSpec(small.shape, AXES, 1)
    first = codec.encode(small, s_spec)
    np.testing.assert_array_equal(codec.decode(payload, spec), big)
    assert codec.encode(small, s_spec) == first


@pytest.mark.parametrize("codec_id", MIXERS)
def test_a_chunk_of_another_geometry_than_the_priors_is_stored_packed(codec_id):
    # FORMAT.md 9.4.9: a payload of exactly B bytes is the packed elements and starts no model,
    # so a chunk the prior was not made for (a short last row, an edge chunk) is stored so; the
    # writers refuse a prior that fits none of a file's full chunks (test_priors).
    prior = spikecodec.train_prior([spikes((2, 1, 4, 6, 6), seed=s) for s in range(5)], codec_id)
    codec = get_codec(codec_id).with_prior(prior)
    other = spikes((2, 1, 4, 6, 7))
    spec = ChunkSpec(other.shape, AXES, 1)
    payload = codec.encode(other, spec)
    assert len(payload) == spec.packed_nbytes
    np.testing.assert_array_equal(codec.decode(payload, spec), other)
    coded = spikes((2, 1, 4, 6, 6), seed=9)
    assert len(codec.encode(coded, ChunkSpec(coded.shape, AXES, 1))) < ChunkSpec(coded.shape, AXES, 1).packed_nbytes


@pytest.mark.parametrize("codec_id", MIXERS)
def test_small_chunks_without_a_prior_share_one_zeroed_table_set_and_leave_it_zero(codec_id, monkeypatch):
    # A file of many small chunks allocated fresh states for each (tens of MB whose every page a
    # decision touched faulted in): about 20 ms a chunk of 1024 elements, 6 s for an 11 KB file.
    # Now a small chunk codes into this thread's zeroed states, journalled; each chunk still
    # codes as it would from fresh tables (compared with coding it alone in a new thread).
    from spikecodec.codecs import ctxmix as module
    from spikecodec.codecs import workspace

    x = np.minimum(np.random.default_rng(4).poisson(0.5, (4, 12, 64, 1, 1)), 255).astype(np.uint8)
    codec = get_codec(codec_id)
    made = []
    fresh_tables = type(codec).fresh_tables
    monkeypatch.setattr(type(codec), "fresh_tables", lambda self, g: made.append(g) or fresh_tables(self, g))
    data = spikecodec.encode(x, codec=codec_id, chunk=(4, 1), bits=8, records="compact")
    np.testing.assert_array_equal(spikecodec.decode(data), x)
    assert len(made) <= 1, len(made)  # 24 chunks coded, tables made once (none if this thread had them)
    spec = ChunkSpec((4, 1, 64, 1, 1), AXES, 8)
    slot = workspace._KEPT.tables
    assert not slot.dirty and not slot.tables["states"].any(), "the zeroed states were left changed"
    for n in range(x.shape[1]):
        payload = codec.encode(np.ascontiguousarray(x[:, n:n + 1]), spec)
        done: list[bytes] = []
        t = threading.Thread(target=lambda: done.append(get_codec(codec_id).encode(np.ascontiguousarray(x[:, n:n + 1]), spec)))
        t.start()
        t.join()
        assert payload == done[0], n

    def interrupted(*args):  # a coding that changes the states and does not end
        args[3][:] = 7
        raise KeyboardInterrupt

    kernels = module.load_kernels(codec.kernels_module)
    monkeypatch.setattr(kernels, "decode_into", interrupted)
    payload = codec.encode(np.ascontiguousarray(x[:, :1]), spec)
    with pytest.raises(KeyboardInterrupt):
        codec.decode(payload, spec)
    assert workspace._KEPT.tables is None  # forgotten, not used unclean
    monkeypatch.undo()
    np.testing.assert_array_equal(codec.decode(payload, spec), x[:, :1])


@pytest.mark.parametrize("codec_id", MIXERS)
def test_only_small_chunks_are_journalled_whatever_came_before(codec_id):
    # A thread keeps zeroed states for the chunks of one geometry. A chunk small next to them is
    # journalled (its writes undone after it); a larger one was journalled too once a small
    # chunk had come first (millions of journal writes: twice as slow), and fresh states for
    # every middling chunk (a first fix) paid their page faults (ctxmix 1.4-3x as slow). Now a
    # larger chunk leaves the kept states to be zeroed in one pass before their next use.
    from spikecodec.codecs.ctxmix import JOURNAL_RATIO

    codec = get_codec(codec_id)
    small, large = spikes((2, 1, 8, 6, 6)), spikes((2, 64, 8, 6, 6))
    small_spec, large_spec = ChunkSpec(small.shape, AXES, 1), ChunkSpec(large.shape, AXES, 1)
    alone = codec.encode(small, small_spec)
    states, _, journal = codec._tables(small_spec)
    assert journal and codec._journal_entries(small_spec) * JOURNAL_RATIO < states.size
    kept = codec.encode(large, large_spec)
    states_large, _, journal_large = codec._tables(large_spec)
    assert not journal_large and states_large is states and codec._journal_entries(large_spec) * JOURNAL_RATIO >= states.size
    assert codec._tables(large_spec)[0] is states and not states.any()  # zeroed before its next use
    codec.encode(large, large_spec)
    assert codec.encode(small, small_spec) == alone  # as if coded first: the states were zeroed
    np.testing.assert_array_equal(codec.decode(kept, large_spec), large)
    np.testing.assert_array_equal(codec.decode(alone, small_spec), small)
