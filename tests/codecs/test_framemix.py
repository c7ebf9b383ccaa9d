"""framemix (FORMAT.md 9.4.15), the default codec from format 1.12: its tables and weight layout
(chanmix's, then P and L, sets of 10 significance weights), what its two models are for (samples
that repeat or change a little; a neuron's history past 7 steps), what a prior trains of it, and
the default it is for every element type."""

from __future__ import annotations

import io

import numpy as np
import pytest

import spikecodec
from spikecodec.codecs import ChunkSpec, default_codec, get_codec
from spikecodec.codecs.kernels import chanmix, countmix, framemix

AXES = ("T", "N", "C", "H", "W")


def _frames(shape, redraw, run, seed=0):
    """Samples (axis 1) in runs of ``run`` frames of a scene: a run starts with a fresh sample,
    each frame after it the one before with ``redraw`` of its elements drawn anew (0: repeats)."""
    rng = np.random.default_rng(seed)
    x = (rng.random(shape) < 0.3).astype(np.uint8)
    for n in range(1, shape[1]):
        if n % run:
            keep = rng.random(x[:, n].shape) >= redraw
            x[:, n] = np.where(keep, x[:, n - 1], x[:, n])
    return x


def _periodic(shape, seed=0):
    """Each neuron fires with its own period of 8 to 14 steps from its own phase (a LIF driven
    by a constant input, run for many steps), with a few flips."""
    T, N, C, H, W = shape
    rng = np.random.default_rng(seed)
    period = rng.integers(8, 15, (1, N, C, H, W))
    phase = rng.integers(0, 14, (1, N, C, H, W))
    t = np.arange(T)[:, None, None, None, None]
    x = ((t + phase) % period == 0)
    return (x ^ (rng.random(shape) < 0.01)).astype(np.uint8)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("C", [1, 7, 256, 300])
def test_tables_and_weights_are_chanmix_s_with_p_and_l(bits, C):
    T, H, W = 5, 3, 2
    G, TP = min(C, 256), min(T, 4)
    NN = 0 if bits == 1 else (1 << bits) + 1
    sizes = framemix.table_sizes(T, C, H, W, bits)
    np.testing.assert_array_equal(sizes[:11], countmix.table_sizes(T, C, H, W, bits))
    assert list(sizes[11:]) == [4096, 1 << 22]
    counts = framemix.context_counts(T, C, H, W, bits)
    assert counts[11] == sizes[11] and counts[12] == -1  # P direct, L hashed
    n = framemix.weight_count(T, C, H, W, bits)
    assert n == 640 * TP + 20 * NN + 40 * G
    w = framemix.initial_weights(T, C, H, W, bits)
    sig, chan = w[: 640 * TP].reshape(-1, 10), w[640 * TP + 20 * NN :].reshape(-1, 10)
    for sets in (sig, chan):
        assert (sets[:, :9] == 19661).all() and (sets[:, 9] == 0).all()
    mag = chanmix.initial_weights(T, C, H, W, bits)[512 * TP : 512 * TP + 20 * NN]
    np.testing.assert_array_equal(w[640 * TP : 640 * TP + 20 * NN], mag)


@pytest.mark.parametrize("redraw, run", [(0.0, 2), (0.03, 4)])
def test_p_codes_repeated_and_slowly_changing_samples_in_fewer_bytes(redraw, run):
    """Fresh samples, each followed by copies (or frames that redraw 3% of the last): P, with its
    run of decisions that repeated the sample before, tells the copies from the fresh ones
    (measured 0.77x and 0.72x chanmix's bytes here)."""
    x = _frames((2, 200, 16, 8, 8), redraw, run)
    spec = ChunkSpec(x.shape, AXES, 1)
    ours, theirs = (len(get_codec(c).encode(x, spec)) for c in ("framemix", "chanmix"))
    assert ours < 0.85 * theirs, (ours, theirs)
    np.testing.assert_array_equal(get_codec("framemix").decode(get_codec("framemix").encode(x, spec), spec), x)


def test_l_codes_periods_longer_than_b_s_seven_steps_in_fewer_bytes():
    """Neurons firing every 8 to 14 steps for 64 steps: L's 15 steps hold the period, B's 7 do
    not (measured 0.95x chanmix's bytes; on real spikes of a network run for 32 steps, 0.93x:
    benchmarks/results/framemix_study.md)."""
    x = _periodic((64, 50, 6, 4, 4))
    spec = ChunkSpec(x.shape, AXES, 1)
    ours, theirs = (len(get_codec(c).encode(x, spec)) for c in ("framemix", "chanmix"))
    assert ours < 0.97 * theirs, (ours, theirs)


def test_each_chunk_starts_without_a_sample_before():
    """P reads the sample before within the chunk only: a chunk of one sample codes as it would
    alone, wherever it lies in the file."""
    x = _frames((2, 6, 4, 3, 3), 0.0, 6)

    def payloads(data):
        with spikecodec.open(data) as r:
            head = 16 + 16 * r.header.chunk_rank
            return [data[e.offset + head : e.offset + e.size - 4] for e in r.entries]

    many = payloads(spikecodec.encode(x, codec="framemix", chunk=(2, 1)))
    alone = payloads(spikecodec.encode(x[:, 3:4], codec="framemix", chunk=(2, 1)))
    assert len(many) == 6 and many[3] == alone[0]
    assert len(set(many)) == 1  # every sample the same, each chunk coded alone


def test_a_prior_trains_p_l_and_their_weights():
    samples = [_frames((2, 8, 6, 4, 4), 0.05, 4, seed=s) for s in range(12)]
    prior = spikecodec.train_prior(samples, "framemix", axes="TNCHW", chunk=(2,))
    g = prior.geometry
    sizes = framemix.table_sizes(g["T"], g["C"], g["H"], g["W"], g["bits"])
    states = prior.tables["states"]
    p_start = int(sizes[:11].sum())
    assert states[p_start : p_start + sizes[11]].any() and states[p_start + sizes[11] :].any()
    trained = prior.tables["weights"].reshape(-1)[: 640 * g["T"]].reshape(-1, 10)
    assert (trained[:, 7:9] != 19661).any()
    test = _frames((2, 8, 6, 4, 4), 0.05, 4, seed=99)
    spec = ChunkSpec(test.shape, AXES, 1)
    primed = get_codec("framemix").with_prior(prior)
    np.testing.assert_array_equal(primed.decode(primed.encode(test, spec), spec), test)
    assert len(primed.encode(test, spec)) < len(get_codec("framemix").encode(test, spec))


def test_the_default_codec_for_every_element_type():
    spikes = _frames((2, 3, 4, 5, 5), 0.1, 3)
    counts = (spikes * np.arange(1, 5)[None, None, :, None, None]).astype(np.uint8)
    assert default_codec(1) == default_codec(2) == default_codec(4) == default_codec(8) == "framemix"
    for x, bits in ((spikes, 1), (counts, 4), (spikes, 2)):
        data = spikecodec.encode(x, bits=bits)
        assert spikecodec.open(data).codec == [{"id": "framemix"}] and data[9] == 12
        np.testing.assert_array_equal(spikecodec.decode(data), x)
    # a codec given is kept (chanmix, winmix and countmix files stay readable by older readers)
    assert spikecodec.encode(spikes, codec="chanmix")[9] == 11 and spikecodec.encode(counts, codec="countmix")[9] == 10
    # a prior given without a codec names its own
    prior = spikecodec.train_prior([counts] * 12, "chanmix")
    data = spikecodec.encode(counts, prior=prior)
    assert spikecodec.open(data, priors=[prior]).codec == [{"id": "chanmix", "prior": prior.digest}]
    buf = io.BytesIO()
    with spikecodec.SpikeWriter(buf, bits=4, chunk=2) as w:
        for frame in counts:
            w.append(frame)
    assert spikecodec.open(buf.getvalue()).codec == [{"id": "framemix"}]
    np.testing.assert_array_equal(spikecodec.decode(buf.getvalue()), counts)
