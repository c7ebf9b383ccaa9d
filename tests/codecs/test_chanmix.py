"""chanmix (FORMAT.md 9.4.14), the default codec of format 1.11: its weight layout (countmix's,
then the channel sets), what a prior trains of it, where it pays against winmix, and the version
its files declare."""

from __future__ import annotations

import io

import numpy as np
import pytest

import spikecodec
from spikecodec.codecs import ChunkSpec, get_codec
from spikecodec.codecs.kernels import chanmix, countmix

AXES = ("T", "N", "C", "H", "W")


def _channel_patterned(shape, seed=0):
    """Spikes whose channels at a pixel follow one of four patterns (the same for every seed), with
    noise: what a weight set per channel and a longer window see and a set shared by every
    channel does not."""
    T, N, C, H, W = shape
    patterns = np.random.default_rng(1000 + C).random((4, C)) < 0.35
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, 4, (T, N, 1, H, W))
    x = np.take_along_axis(np.broadcast_to(patterns.T[None, None, :, None, None, :], (T, N, C, H, W, 4)),
                           pick[..., None].repeat(C, axis=2), axis=5)[..., 0]
    return (x ^ (rng.random(shape) < 0.05)).astype(np.uint8)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("C", [1, 7, 256, 300])
def test_weights_are_countmix_s_then_the_channel_sets(bits, C):
    T, H, W = 5, 3, 2
    G = min(C, 256)
    base = countmix.weight_count(T, C, H, W, bits)
    assert chanmix.weight_count(T, C, H, W, bits) == base + 32 * G
    w = chanmix.initial_weights(T, C, H, W, bits)
    np.testing.assert_array_equal(w[:base], countmix.initial_weights(T, C, H, W, bits))
    sets = w[base:].reshape(G * 4, 8)
    assert (sets[:, :7] == 19661).all() and (sets[:, 7] == 0).all()
    np.testing.assert_array_equal(chanmix.table_sizes(T, C, H, W, bits), countmix.table_sizes(T, C, H, W, bits))


def test_a_prior_trains_the_channel_sets():
    samples = [_channel_patterned((2, 8, 16, 4, 4), seed=s) for s in range(12)]
    prior = spikecodec.train_prior(samples, "chanmix", axes="TNCHW", chunk=(2,))
    g = prior.geometry
    base = countmix.weight_count(g["T"], g["C"], g["H"], g["W"], g["bits"])
    trained = prior.tables["weights"][base:]
    assert trained.size == 32 * 16 and (trained != chanmix.initial_weights(g["T"], g["C"], g["H"], g["W"], g["bits"])[base:]).any()
    test = _channel_patterned((2, 8, 16, 4, 4), seed=99)
    spec = ChunkSpec(test.shape, AXES, 1)
    primed = get_codec("chanmix").with_prior(prior)
    np.testing.assert_array_equal(primed.decode(primed.encode(test, spec), spec), test)
    assert len(primed.encode(test, spec)) < len(get_codec("chanmix").encode(test, spec))


def test_it_pays_where_channels_follow_patterns():
    x = _channel_patterned((4, 40, 64, 4, 4))
    spec = ChunkSpec(x.shape, AXES, 1)
    ours, theirs = (len(get_codec(c).encode(x, spec)) for c in ("chanmix", "winmix"))
    assert ours < 0.97 * theirs, (ours, theirs)


def test_a_chanmix_file_declares_1_11_for_every_element_type():
    """The default of format 1.11 (framemix is from 1.12): a file written with it, without a
    prior or with one, stays readable by a 1.11 reader."""
    spikes = _channel_patterned((2, 3, 4, 5, 5))
    counts = (spikes * np.arange(1, 5)[None, None, :, None, None]).astype(np.uint8)
    for x, bits in ((spikes, 1), (counts, 4), (spikes, 2)):
        data = spikecodec.encode(x, bits=bits, codec="chanmix")
        assert spikecodec.open(data).codec == [{"id": "chanmix"}] and data[9] == 11
        np.testing.assert_array_equal(spikecodec.decode(data), x)
    prior = spikecodec.train_prior([counts] * 12, "chanmix")
    data = spikecodec.encode(counts, prior=prior)
    assert spikecodec.open(data, priors=[prior]).codec == [{"id": "chanmix", "prior": prior.digest}] and data[9] == 11
    buf = io.BytesIO()
    with spikecodec.SpikeWriter(buf, bits=4, chunk=2, codec="chanmix") as w:
        for frame in counts:
            w.append(frame)
    assert spikecodec.open(buf.getvalue()).codec == [{"id": "chanmix"}]
    np.testing.assert_array_equal(spikecodec.decode(buf.getvalue()), counts)
