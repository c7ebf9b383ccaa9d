"""Round trips, malformed payloads, determinism and coding efficiency of the entropy codecs."""

from __future__ import annotations

import constriction
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import spikecodec

from spikecodec.codecs import Auto, ChunkSpec, Context, Order0, get_codec
from spikecodec.codecs.kernels import context, histogram, rans, window
from spikecodec.codecs.countctx import CountContext
from spikecodec.codecs.ctxlanes import ContextLanes
from spikecodec.codecs._entropy_model import (canonical_shape, categorical_entropy_bits, empirical_bits, from_canonical,
                                              to_canonical)
from spikecodec.codecs.auto import order0_estimate
from spikecodec.elements import read_only
from spikecodec.errors import FormatError

CODECS = [Order0(), Context(), Auto()]  # the codecs whose payload bytes are frozen below
ALL_CODECS = [*CODECS, CountContext(), ContextLanes()]
AXES = [("T", "N", "C", "H", "W"), ("N", "C", "H", "W"), ("T", "N", "F"), ("W", "C", "T")]


def correlated(shape5: tuple[int, ...], rate: float, bits: int, seed: int) -> np.ndarray:
    """Spikes that repeat over T and along W (so the context model has something to find)."""
    rng = np.random.default_rng(seed)
    base = rng.random(shape5[1:]) < rate
    base = base | np.roll(base, 1, axis=-1)
    flips = rng.random(shape5) < 0.05
    x = (base[None] ^ flips).astype(np.uint8)
    if bits > 1:
        x = x * rng.integers(1, 1 << bits, shape5, dtype=np.uint8)
    return x


@st.composite
def chunks(draw):
    axes = draw(st.sampled_from(AXES))
    shape = tuple(draw(st.integers(1, 5)) for _ in axes)
    bits = draw(st.sampled_from([1, 2, 4, 8]))
    top = draw(st.sampled_from([1, 2, (1 << bits) - 1]))
    top = min(top, (1 << bits) - 1)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    density = draw(st.sampled_from([0.0, 0.05, 0.5, 1.0]))
    x = np.where(rng.random(shape) < density, rng.integers(1, top + 1, shape), 0).astype(np.uint8)
    return x, ChunkSpec(shape, axes, bits)


@settings(max_examples=60, deadline=None)
@given(chunks(), st.sampled_from(ALL_CODECS))
def test_round_trip(chunk, codec):
    x, spec = chunk
    payload = codec.encode(x, spec)
    assert len(payload) <= spec.max_payload
    y = codec.decode(payload, spec)
    assert y.dtype == np.uint8 and y.shape == spec.shape
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("axes", AXES)
def test_canonical_view_inverts(axes):
    shape = tuple(range(2, 2 + len(axes)))
    x = np.arange(np.prod(shape), dtype=np.int64).reshape(shape)
    canon = to_canonical(x, axes)
    assert canon.shape == canonical_shape(shape, axes)[0]
    np.testing.assert_array_equal(from_canonical(canon, shape, axes), x)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("codec", ALL_CODECS, ids=lambda c: c.codec_id)
def test_larger_correlated_round_trip_and_determinism(codec, bits):
    x = correlated((4, 3, 5, 7, 9), 0.2, bits, seed=bits)
    spec = ChunkSpec(x.shape, AXES[0], bits)
    p = codec.encode(x, spec)
    assert p == codec.encode(x.copy(), spec)  # deterministic
    np.testing.assert_array_equal(codec.decode(p, spec), x)


def test_registered_and_configurable():
    for cid in ("order0", "context", "auto", "countctx", "ctxlanes"):
        c = get_codec(cid)
        assert c.get_config() == {} and type(c).from_config({}) == c
        with pytest.raises(ValueError):
            type(c).from_config({"level": 3})


@pytest.mark.parametrize("codec", ALL_CODECS, ids=lambda c: c.codec_id)
def test_malformed_payloads_raise_format_error(codec):
    x = correlated((2, 2, 3, 6, 6), 0.3, 2, seed=1)
    spec = ChunkSpec(x.shape, AXES[0], 2)
    good = codec.encode(x, spec)
    head = good[:1] if codec.codec_id == "auto" else b""
    body = good[len(head):]
    bad = [
        head + body[:4],  # one word: the coder cannot end in state 0 with all words read
        good[:-1],  # not whole words
        good[:-4],  # a word short
        good + b"\x01\x00\x00\x00",  # a word too many
        head + body[:-4] + b"\x00\x00\x00\x00",  # zero last word
        head + b"\xff" * (4 * (spec.size * 3 + 3)),  # longer than any encoding
    ]
    if head:
        bad += [b"\x07" + body, b""]  # unknown mode, no mode byte
    rng = np.random.default_rng(0)
    for _ in range(40):  # random corruptions: an error or some valid array, never a crash or hang
        b = bytearray(good)
        b[rng.integers(len(b))] ^= 1 << rng.integers(8)
        bad.append(bytes(b))
    errors = 0
    for i, b in enumerate(bad):
        try:
            y = codec.decode(b, spec)
        except FormatError:
            errors += 1
            continue
        assert i >= (8 if head else 6), f"hand-made malformed payload {i} was accepted"
        assert y.shape == spec.shape and y.dtype == np.uint8 and int(y.max()) < 4
    assert errors >= 6 + (2 if head else 0)


def test_value_too_large_for_bits_rejected():
    """A stream that decodes magnitude 2**bits - 1 (value 2**bits) is rejected, not wrapped."""
    from spikecodec.codecs.kernels.rans import encode_decisions

    spec = ChunkSpec((1, 1, 1, 1, 1), AXES[0], 2)
    # significance 1, then magnitude bits 1, 1 -> m = 3 -> x = 4 does not fit 2 bits
    words = encode_decisions(np.array([1, 1, 1], np.uint8), np.full(3, 1 << 23, np.uint32))
    for codec in (Order0(), Context()):
        with pytest.raises(FormatError):
            codec.decode(words.astype("<u4").tobytes(), spec)


def test_countctx_value_too_large_for_bits_rejected():
    """An escape tree that decodes x - 3 > 2**bits - 4 (x >= 2**bits) is rejected, not wrapped."""
    from spikecodec.codecs.kernels.rans import encode_decisions

    spec = ChunkSpec((1, 1, 1, 1, 1), AXES[0], 4)
    # significance 1, x > 1, x > 2, then escape bits 1111: x = 3 + 15 = 18 does not fit 4 bits
    words = encode_decisions(np.ones(7, np.uint8), np.full(7, 1 << 23, np.uint32))
    with pytest.raises(FormatError, match="does not fit"):
        CountContext().decode(words.astype("<u4").tobytes(), spec)


def test_all_zero_chunk_is_the_empty_stream():
    """Coding a 0 from state 0 leaves state 0: an all-zero chunk is zero words, and back."""
    spec = ChunkSpec((2, 3, 4, 5, 6), AXES[0], 4)
    x = np.zeros(spec.shape, np.uint8)
    for codec in (Order0(), Context()):
        assert codec.encode(x, spec) == b""
        np.testing.assert_array_equal(codec.decode(b"", spec), x)


def test_import_spikecodec_stays_light():
    import subprocess
    import sys

    code = "import sys, spikecodec, spikecodec.codecs; c = spikecodec.codecs.get_codec('context');"
    code += "assert 'numba' not in sys.modules and 'torch' not in sys.modules, sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_chunks_are_independent():
    """State is reset per chunk: a chunk codes the same alone or after another chunk."""
    a = correlated((3, 4, 5, 6, 6), 0.2, 1, seed=11)
    b = correlated((3, 4, 5, 6, 6), 0.4, 1, seed=12)
    spec = ChunkSpec(a.shape, AXES[0], 1)
    for codec in CODECS:
        alone = codec.encode(b, spec)
        codec.encode(a, spec)
        assert codec.encode(b, spec) == alone
        np.testing.assert_array_equal(codec.decode(alone, spec), b)


@pytest.mark.parametrize("p", [0.05, 0.3])
def test_iid_within_one_percent_of_entropy(p):
    rng = np.random.default_rng(7)
    x = (rng.random((1, 64, 16, 16, 16)) < p).astype(np.uint8)
    h = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    spec = ChunkSpec(x.shape, AXES[0], 1)
    for codec in (Order0(), Auto()):  # context pays ~1-3% learning its 1024 contexts on noise
        rate = 8 * len(codec.encode(x, spec)) / x.size
        assert rate <= 1.01 * h, (codec.codec_id, rate, h)
    assert 8 * len(Context().encode(x, spec)) / x.size <= 1.05 * h


def test_adaptive_code_close_to_its_ideal_code_length():
    """The rANS payload is within 0.1% + 8 bytes of the model's ideal adaptive code length."""
    x = correlated((4, 8, 8, 12, 12), 0.2, 2, seed=4)
    spec = ChunkSpec(x.shape, AXES[0], 2)
    for codec in (Order0(), Context()):
        bits, q, ctx = codec.decisions(x, spec)
        ideal = rans.ideal_bits(bits, q) / 8
        n = len(codec.encode(x, spec))
        assert ideal <= n <= 1.001 * ideal + 8, (codec.codec_id, n, ideal)
        assert empirical_bits(ctx, bits) > 0


def test_context_beats_order0_on_correlated_spikes():
    x = correlated((4, 8, 8, 12, 12), 0.2, 1, seed=3)
    spec = ChunkSpec(x.shape, AXES[0], 1)
    assert len(Context().encode(x, spec)) < 0.8 * len(Order0().encode(x, spec))
    assert Auto().encode(x, spec)[0] == 2


@settings(max_examples=60, deadline=None)
@given(chunks())
def test_auto_order0_estimate_is_the_per_channel_bincount_entropy(chunk):
    # The estimate decides whether auto tries order0, so it must be the same float as the
    # definition: per-channel histograms over the canonical view, columns up to the maximum.
    x, spec = chunk
    canon = to_canonical(x, spec.axes)
    groups = canon.transpose(2, 0, 1, 3, 4).reshape(canon.shape[2], -1)
    counts = np.stack([np.bincount(g, minlength=int(canon.max()) + 1) for g in groups])
    np.testing.assert_array_equal(histogram.channel_histogram(canon, int(canon.max()) + 1), counts)
    assert order0_estimate(x, spec) == categorical_entropy_bits(counts) / 8


def test_auto_falls_back_to_raw_on_tiny_chunks():
    x = np.array([[1, 0, 1]], np.uint8)
    spec = ChunkSpec(x.shape, ("N", "C"), 1)
    p = Auto().encode(x, spec)
    assert p[0] == 0 and len(p) == 2


def test_numba_coder_matches_constriction_bytes():
    """The compiled rANS coder is constriction's AnsCoder<u32, u64, 24>: same words, both ways."""
    rng = np.random.default_rng(5)
    bits = (rng.random(5000) < 0.2).astype(np.uint8)
    ctx = rng.integers(0, 4, 5000).astype(np.uint8)
    w1 = np.array([1, 1 << 20, 1 << 23, (1 << 24) - 1], np.uint32)
    ours = rans.encode_decisions(bits, w1[ctx])
    coder = constriction.stream.stack.AnsCoder()
    probs = np.stack([(1 << 24) - w1[ctx], w1[ctx]], 1).astype(np.float64) - 1.0
    coder.encode_reverse(bits.astype(np.int32), constriction.stream.model.Categorical(perfect=False), probs)
    theirs = coder.get_compressed()
    np.testing.assert_array_equal(ours, theirs)
    # and constriction decodes our words back to the same bits
    dec = constriction.stream.stack.AnsCoder(ours)
    got = dec.decode(constriction.stream.model.Categorical(perfect=False), probs)
    np.testing.assert_array_equal(got, bits)
    assert dec.is_empty()


def _spec_rans_decider(payload: bytes, prior: int):
    """The adaptive binary rANS decoder of FORMAT.md 9.4 in plain Python (test oracle):
    returns ``decide(kind, group, context) -> bit`` and a ``done()`` that says the stream ended
    in the coder's initial state."""
    words = np.frombuffer(payload, "<u4").tolist()
    x = 0
    if words:
        assert words[-1] != 0
        x = words.pop()
        if words and x < 2**32:
            x = (x << 32) | words.pop()
    tabs = {}

    def decide(kind, g, k):
        nonlocal x
        c1, cn = tabs.get((kind, g, k), (0, 0))
        g1, gn = tabs.get((kind, k), (0, 0))
        qg = ((2 * g1 + 1) * 2**24) // (2 * gn + 2)
        q = min(max((c1 * 2**24 + prior * qg) // (cn + prior), 1), 2**24 - 1)
        z = x % 2**24
        bit = int(z >= 2**24 - q)
        w, c = (q, 2**24 - q) if bit else (2**24 - q, 0)
        x = (x >> 24) * w + (z - c)
        if x < 2**32 and words:
            x = (x << 32) | words.pop()
        for key, (a, n) in (((kind, g, k), (c1, cn)), ((kind, k), (g1, gn))):
            a, n = a + bit, n + 1
            if n >= 1024:
                a, n = (a + 1) >> 1, (n + 1) >> 1
            tabs[key] = (a, n)
        return bit

    def state():
        return x, words

    return decide, state


def _spec_decode(payload: bytes, shape5, bits: int, contextual: bool) -> np.ndarray:
    """Plain-Python decoder written from FORMAT.md section 9.4 alone (test oracle)."""
    T, N, C, H, W = shape5
    decide, state = _spec_rans_decider(payload, prior=4)
    G = max(1, min(C, 256))

    out = np.zeros(shape5, np.int64)
    S = lambda t, c, h, w: int(out[t, n, c, h, w] > 0) if t >= 0 and c >= 0 and 0 <= h < H and 0 <= w < W else 0  # noqa: E731
    for t in range(T):
        for n in range(N):
            for c in range(C):
                for h in range(H):
                    for w in range(W):
                        k = 0
                        if contextual:
                            hs = [0, 1 + S(t - 1, c, h, w), 3 + S(t - 1, c, h, w) + 2 * S(t - 2, c, h, w)]
                            hs = hs[t] if t < 3 else 7 + S(t - 1, c, h, w) + 2 * S(t - 2, c, h, w) + 4 * S(t - 3, c, h, w)
                            cnt = sum(S(t - 1, c, h + a, w + b) for a in (-1, 0, 1) for b in (-1, 0, 1) if a or b)
                            nb = 0 if t == 0 or cnt == 0 else 1 if cnt <= 2 else 2 if cnt <= 5 else 3
                            diag = S(t, c, h - 1, w - 1) | S(t, c, h - 1, w + 1)
                            k = (((hs * 4 + S(t, c, h, w - 1) + 2 * S(t, c, h - 1, w)) * 4 + nb) * 2 + diag) * 2 + S(t, c - 1, h, w)
                        if not decide("s", c % G, k):
                            continue
                        v = 1
                        if bits > 1:
                            b = 0
                            if contextual:
                                v3 = lambda tt, hh, ww: min(int(out[tt, n, c, hh, ww]), 3) if tt >= 0 and hh >= 0 and ww >= 0 else 0  # noqa: E731
                                b = v3(t - 1, h, w) + 4 * v3(t - 2, h, w) + 16 * v3(t, h, w - 1) + 64 * v3(t, h - 1, w)
                            gm = c % max(1, min(C, 256, 2 ** max(14 - bits, 0)))
                            node = 1
                            for _ in range(bits):
                                node = 2 * node + decide("m", gm, b * 2**bits + node)
                            v = node - 2**bits + 1
                            assert v < 2**bits
                        out[t, n, c, h, w] = v
    x, words = state()
    assert not words and x == 0
    return out.astype(np.uint8)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("codec", [Order0(), Context()], ids=lambda c: c.codec_id)
def test_spec_oracle_decodes_our_payloads(codec, bits):
    """An independent decoder written from the draft spec decodes the codec's bytes exactly."""
    x = correlated((5, 2, 3, 5, 6), 0.3, bits, seed=20 + bits)  # T = 5: every history case
    spec = ChunkSpec(x.shape, AXES[0], bits)
    np.testing.assert_array_equal(_spec_decode(codec.encode(x, spec), x.shape, bits, codec.contextual), x)


@pytest.mark.parametrize("prior", [4, 8])
def test_reciprocal_division_is_exact(prior):
    """The kernels divide by multiplying with a reciprocal (see kernels.counters): the probability of every
    reachable counter state equals FORMAT.md's integer formula, with the prior of 9.4.2 (4) and
    of ``countctx`` (8). All (g1, gn) pairs, each with random group counts (c1, cn), plus the
    prior-only case c1 = cn = 0 (which exposes qg)."""
    from numba import njit

    from spikecodec.codecs.kernels import countctx

    prob = context.prob if prior == 4 else countctx.prob

    @njit
    def probs(c1, cn, g1, gn):
        out = np.empty(c1.size, np.int64)
        for i in range(c1.size):
            out[i] = prob(c1[i] | (cn[i] << 16), g1[i] | (gn[i] << 16))
        return out

    gn, g1 = np.nonzero(np.tri(1024, dtype=bool))  # every 0 <= g1 <= gn < 1024
    rng = np.random.default_rng(9)
    for c1, cn in ((np.zeros_like(gn), np.zeros_like(gn)), (None, None)):
        if c1 is None:
            cn = rng.integers(0, 1024, gn.size)
            c1 = (rng.random(gn.size) * (cn + 1)).astype(np.int64)
        qg = ((2 * g1 + 1) << 24) // (2 * gn + 2)
        want = np.clip(((c1 << 24) + prior * qg) // (cn + prior), 1, (1 << 24) - 1)
        np.testing.assert_array_equal(probs(c1, cn, g1, gn), want)


def _frozen_chunks():
    """300 small chunks (1-, 2-, 4- and 8-bit, dense to sparse, repeating over T), generated
    the same way as the payloads the digest below was computed from (before the kernels'
    speed work of issue 5; the kernels must keep producing these exact bytes)."""
    rng = np.random.default_rng(123)
    for _ in range(300):
        bits = int(rng.choice([1, 2, 4, 8]))
        shape = tuple(int(v) for v in rng.integers(1, 7, 5))
        dens = float(rng.choice([0.02, 0.2, 0.5, 0.9]))
        top = min(int(rng.choice([1, 2, (1 << bits) - 1])), (1 << bits) - 1)
        base = rng.random(shape[1:]) < dens
        x = base[None] ^ (rng.random(shape) < 0.1)
        yield np.where(x, rng.integers(1, top + 1, shape), 0).astype(np.uint8), bits


def test_payload_bytes_are_frozen():
    """Speed work on the kernels must not change one output byte: sha256 over the sha256 of every
    order0/context/auto payload of 300 chunks, as the reference kernels of commit d7fac38 wrote
    them; every payload also decodes back."""
    import hashlib

    hexes = []
    for x, bits in _frozen_chunks():
        spec = ChunkSpec(x.shape, AXES[0], bits)
        for codec in CODECS:
            p = codec.encode(x, spec)
            np.testing.assert_array_equal(codec.decode(p, spec), x)
            hexes.append(hashlib.sha256(p).hexdigest())
    digest = hashlib.sha256("".join(hexes).encode()).hexdigest()
    assert digest == "8552fc1e0d79c61ed1e347ed9e4c0762c6cac48c30d3fd3ed7cb672701cee907"


def test_countctx_payload_bytes_are_frozen():
    """The compiled ``countctx`` loops were rewritten for speed (tiles, packed counters,
    reciprocal division); every payload of the 300 chunks above must stay byte for byte what the
    first kernel (commit 7eb5306) wrote, and decode back."""
    import hashlib

    hexes = []
    for x, bits in _frozen_chunks():
        spec = ChunkSpec(x.shape, AXES[0], bits)
        p = CountContext().encode(x, spec)
        np.testing.assert_array_equal(CountContext().decode(p, spec), x)
        hexes.append(hashlib.sha256(p).hexdigest())
    digest = hashlib.sha256("".join(hexes).encode()).hexdigest()
    assert digest == "1db9b1ceb0fd06dc747c75bc941182dec767dccac4b15dcbb416336b0b05853b"


@pytest.mark.parametrize("C,bits", [(8, 1), (6, 2), (5, 1)])
def test_spec_oracle_decodes_ctxlanes(C, bits):
    """FORMAT.md 9.4.8 read alone: L word counts, then each lane's words are the ``context``
    payload of its block of channels, which the 9.4.5 oracle decodes (4, 2 and 1 lanes)."""
    x = correlated((4, 2, C, 7, 7), 0.3, bits, seed=30 + C)
    words = np.frombuffer(ContextLanes().encode(x, ChunkSpec(x.shape, AXES[0], bits)), "<u4")
    L = 4 if C % 4 == 0 else 2 if C % 2 == 0 else 1
    at = L
    assert L + int(words[:L].sum()) == words.size
    for lane in range(L):
        stream = words[at : at + words[lane]].tobytes()
        at += int(words[lane])
        block = x[:, :, lane * C // L : (lane + 1) * C // L]
        np.testing.assert_array_equal(_spec_decode(stream, block.shape, bits, True), block)


def _spec_decode_countctx(payload: bytes, shape5, bits: int) -> np.ndarray:
    """Plain-Python decoder of ``countctx`` written from FORMAT.md 9.4.3 and 9.4.7 alone (oracle)."""
    T, N, C, H, W = shape5
    decide, state = _spec_rans_decider(payload, prior=8)
    G = max(1, min(C, 256))

    out = np.zeros(shape5, np.int64)

    def V(t, n, c, h, w):  # the decoded value, 0 outside the chunk
        return int(out[t, n, c, h, w]) if t >= 0 and 0 <= h < H and 0 <= w < W else 0

    for t in range(T):
        for n in range(N):
            for c in range(C):
                for h in range(H):
                    for w in range(W):
                        S = lambda dt, dh, dw: int(V(t + dt, n, c, h + dh, w + dw) > 0)  # noqa: E731
                        v3 = lambda dt, dh, dw: min(V(t + dt, n, c, h + dh, w + dw), 3)  # noqa: E731
                        hs = [0, 1 + v3(-1, 0, 0), 5 + v3(-1, 0, 0) + 4 * v3(-2, 0, 0)]
                        hs = hs[t] if t < 3 else 21 + v3(-1, 0, 0) + 4 * v3(-2, 0, 0) + 16 * S(-3, 0, 0)
                        cnt = sum(S(-1, a, b) for a in (-1, 0, 1) for b in (-1, 0, 1) if a or b)
                        nb = 0 if t == 0 or cnt == 0 else 1 if cnt <= 2 else 2 if cnt <= 5 else 3
                        diag = S(0, -1, -1) | S(0, -1, 1)
                        fired = sum(int(out[t, n, cc, h, w] > 0) for cc in range(c))
                        pf = 0 if c == 0 else 1 + (4 * fired) // c
                        k = (((hs * 4 + S(0, 0, -1) + 2 * S(0, -1, 0)) * 4 + nb) * 2 + diag) * 6 + pf
                        v = decide("s", c % G, k)
                        if v and bits > 1:
                            lb = (hs * 4 + v3(0, 0, -1)) * 4 + v3(0, -1, 0)
                            for j in (1, 2):
                                if not decide("l", c % G, (j - 1) * 848 + lb):
                                    break
                                v = j + 1
                            if v == 3 and bits > 2:
                                node = 1
                                for _ in range(bits):
                                    node = 2 * node + decide("e", c % G, node)
                                v = 3 + node - 2**bits
                        assert v < 2**bits
                        out[t, n, c, h, w] = v
    x, words = state()
    assert not words and x == 0
    return out.astype(np.uint8)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_spec_oracle_decodes_countctx(bits):
    """An independent decoder written from FORMAT.md 9.4.7 decodes ``countctx`` bytes exactly."""
    x = correlated((5, 2, 3, 5, 6), 0.3, bits, seed=40 + bits)  # T = 5: every history case
    if bits > 2:
        x[:, 0, 0] = (1 << bits) - 1  # the escape tree's largest value
    spec = ChunkSpec(x.shape, AXES[0], bits)
    np.testing.assert_array_equal(_spec_decode_countctx(CountContext().encode(x, spec), x.shape, bits), x)


def _decode_peak(codec: str, x5: np.ndarray, axes: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(decoded, original, peak bytes allocated while decoding) of ``x5`` (T, N, B, C, H, W)
    stored with its axes in the order ``axes``."""
    import tracemalloc

    names = tuple(axes) if "B" in axes else tuple(axes) + ("B",)  # B = 1 folds into N
    x = np.ascontiguousarray(x5.transpose(tuple("TNBCHW".index(a) for a in names)))
    spec = ChunkSpec(x.shape, names, 2)
    data = get_codec(codec).encode(x, spec)
    out = np.empty_like(x)
    get_codec(codec).decode_into(data, spec, out)  # compiles the kernels first
    out[...] = 0
    tracemalloc.start()
    try:
        get_codec(codec).decode_into(data, spec, out)
        return out, x, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("codec", ["context", "order0", "countctx", "auto", "ctxlanes"])
@pytest.mark.parametrize("axes", ["TCNHW", "NCTHW", "TNCWH", "HWTNC", "NBTCHW", "NTBCHW"])
def test_decoders_write_any_axis_order_in_place(codec, axes):
    """Whatever the file's axis order, decoding writes through the canonical view of the
    caller's array: same values, and no more memory than the canonical order needs (numpy
    reports its allocations to tracemalloc). NTBCHW (two axes folded into N that are not
    adjacent in the output: no strided view) is decoded in canonical order into the output and
    transposed there, with one bit of bookkeeping per element."""
    x5 = correlated((3, 4, 8, 48, 40), 0.3, 2, seed=7).reshape(3, 2, 2, 8, 48, 40)
    if "B" not in axes:
        x5 = x5.reshape(3, 4, 1, 8, 48, 40)
    out, x, peak = _decode_peak(codec, x5, axes)
    np.testing.assert_array_equal(out, x)
    baseline = _decode_peak(codec, x5, "TNBCHW")[2]
    extra = peak - baseline
    assert extra < (0.15 if axes == "NTBCHW" else 0.05) * x.nbytes, (extra, x.nbytes)


@given(st.lists(st.integers(1, 4), min_size=1, max_size=5), st.randoms(use_true_random=False))
@settings(max_examples=60, deadline=None)
def test_transpose_in_place_matches_numpy(shape, rnd):
    """The decoders' fallback for outputs with no canonical view: same as numpy's transpose."""
    from spikecodec.codecs.kernels.transpose import transpose_in_place

    perm = list(range(len(shape)))
    rnd.shuffle(perm)
    permuted = tuple(shape[i] for i in perm)
    a = np.random.default_rng(rnd.randint(0, 99)).integers(0, 256, permuted, dtype=np.uint8)
    want = a.transpose(np.argsort(perm)).ravel().copy()
    buf = a.ravel().copy()
    transpose_in_place(buf, permuted, tuple(perm))
    np.testing.assert_array_equal(buf, want)


@pytest.mark.parametrize("contextual", [True, False])
@pytest.mark.parametrize("bits", [1, 2, 4])
def test_tiled_decode_matches_whole_plane_decode(contextual, bits):
    """Huge planes are decoded in tiles (bounded memory); small tile budgets force every tiling
    here: whole planes (the default), blocks of rows and pieces of a row, with edges inside
    and at the plane's border. Same bytes in, same values out."""
    x = correlated((4, 2, 3, 9, 11), 0.3, bits, seed=50 + bits)
    words = context.encode(read_only(x), bits, contextual)  # read-only, as the codecs pass it (one compilation)
    geometries = set()
    for budget in (9, 15, 30, 64, 100, window.TILE):  # (1, 1), (1, 3) ... (9, 11)
        geometries.add(window.tile_shape(9, 11, budget))
        y = np.empty_like(x)
        assert context.decode_tiled(words, y.reshape(-1), y.shape, y.strides, bits, contextual, budget) == 0
        np.testing.assert_array_equal(y, x)
    assert {(9, 11), (1, 3), (2, 11)} <= geometries


@pytest.mark.parametrize("C", [1, 3, 300])
@pytest.mark.parametrize("bits", [1, 2, 4])
def test_countctx_windows_change_nothing(C, bits):
    """``countctx`` keeps a ring of padded planes when it fits, else codes planes in tiles (the
    whole plane unless it is huge); small budgets force each: the ring, whole-plane tiles,
    blocks of rows and pieces of a row. The encoder's decisions and probabilities are the same
    in every layout, and the decoder gives the array back, also into a strided output (channels
    fastest in memory) and with the counts in a table (C > 256)."""
    from spikecodec.codecs.kernels import countctx as ck

    x = correlated((4, 1 if C == 300 else 2, C, 9, 11), 0.3, bits, seed=70 + bits + C)
    words = ck.encode(read_only(x), bits)
    assert ck.ring_fits(x.shape, ck.TILE, ck.RING_BYTES)  # the encoder above used the ring
    want_bits, want_q = ck.decisions(x, bits, ck.TILE, 0)
    geometries = set()
    for budget, ring_bytes in [(b, 0) for b in (9, 15, 30, 64, 100, ck.TILE)] + [(ck.TILE, ck.RING_BYTES)]:
        geometries.add((window.tile_shape(9, 11, budget), ck.ring_fits(x.shape, budget, ring_bytes)))
        d, q = ck.decisions(x, bits, budget, ring_bytes)
        np.testing.assert_array_equal(d, want_bits)
        np.testing.assert_array_equal(q, want_q)
        y = np.empty_like(x)
        assert ck.decode_tiled(words, y.reshape(-1), y.shape, y.strides, bits, budget, ring_bytes) == 0
        np.testing.assert_array_equal(y, x)
        z = np.empty(x.shape[:2] + x.shape[3:] + x.shape[2:3], np.uint8).transpose(0, 1, 4, 2, 3)
        flat = np.lib.stride_tricks.as_strided(z, (z.size,), (1,))
        assert ck.decode_tiled(words, flat, z.shape, z.strides, bits, budget, ring_bytes) == 0
        np.testing.assert_array_equal(z, x)
    assert {((9, 11), True), ((9, 11), False), ((1, 3), False), ((2, 11), False)} <= geometries


@pytest.mark.parametrize("T", [1, 2, 3, 5])
def test_countctx_ring_window_any_depth(T):
    """The ring keeps min(T, 3) planes per (n, c), the plane being coded overwriting t - 3's
    (one plane in all for T = 1): every depth and tiny planes (1 x 1, one row, one column) code
    and decode the same as the tile path."""
    from spikecodec.codecs.kernels import countctx as ck

    for hw in [(1, 1), (1, 5), (4, 1), (3, 4)]:
        x = correlated((T, 2, 3) + hw, 0.4, 2, seed=90 + T + hw[1])
        assert ck.ring_size(x.shape) == (1 if T == 1 else 6) * min(T, 3) * (hw[0] + 2) * (hw[1] + 2)
        words = ck.encode(read_only(x), 2)
        d, q = ck.decisions(x, 2, ck.TILE, 0)
        d2, q2 = ck.decisions(x, 2, ck.TILE, ck.RING_BYTES)
        np.testing.assert_array_equal(d2, d)
        np.testing.assert_array_equal(q2, q)
        for ring_bytes in (0, ck.RING_BYTES):
            y = np.empty_like(x)
            assert ck.decode_tiled(words, y.reshape(-1), y.shape, y.strides, 2, ck.TILE, ring_bytes) == 0
            np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("C", [1, 2, 300])
def test_countctx_decoder_keeps_channel_counts_in_its_output(C):
    """The ``countctx`` decoder keeps the fired-channel counts in the output's last channel
    plane (C <= 256) or in a table (C > 256): both round-trip."""
    x = correlated((3, 1, C, 3, 4), 0.3, 2, seed=60 + C)
    spec = ChunkSpec(x.shape, AXES[0], 2)
    np.testing.assert_array_equal(CountContext().decode(CountContext().encode(x, spec), spec), x)


@pytest.mark.parametrize("codec", ["raw", "zstd", "order0", "context", "auto", "countctx", "ctxlanes", "ctxmix", "mix", "winmix"])
@pytest.mark.parametrize("axes", [("T", "H"), ("T", "W"), ("T", "C"), ("x", "W")])
def test_every_codec_writes_a_chunk_with_an_empty_plane_axis(codec, axes):
    # countctx raised ZeroDivisionError for an extent 0 on H or W (its kernel tiles planes).
    data = spikecodec.encode(np.zeros((1, 0), np.uint8), codec=codec, axes=axes)
    assert spikecodec.decode(data).shape == (1, 0) and spikecodec.validate(data).ok


def _compiled_signatures() -> dict[str, int]:
    """Signatures compiled so far of every numba kernel the library has loaded."""
    import sys

    from numba.core.registry import CPUDispatcher

    return {f"{name}.{attr}": len(obj.signatures) for name, mod in list(sys.modules.items()) if name.startswith("spikecodec")
            for attr, obj in list(vars(mod).items()) if isinstance(obj, CPUDispatcher)}


@pytest.mark.parametrize("codec", ["context", "ctxlanes", "ctxfast", "countctx", "auto", "raw"])
def test_writable_and_read_only_inputs_share_one_compilation(codec):
    """A kernel is compiled once for each writability of its arguments: the codecs pass the
    arrays they only read read-only (elements.read_only), so a user's writable array after a
    read-only one (bytes, a memory map) compiles nothing more."""
    x = correlated((2, 3, 4, 5, 5), 0.3, 2 if codec == "countctx" else 1, seed=3)
    frozen = x.copy()
    frozen.flags.writeable = False
    spikecodec.decode(spikecodec.encode(frozen, codec=codec))
    spikecodec.decode(bytearray(spikecodec.encode(frozen, codec=codec)))
    before = _compiled_signatures()
    data = spikecodec.encode(x, codec=codec)
    np.testing.assert_array_equal(spikecodec.decode(bytearray(data)), x)
    np.testing.assert_array_equal(spikecodec.decode(data), x)
    assert _compiled_signatures() == before
