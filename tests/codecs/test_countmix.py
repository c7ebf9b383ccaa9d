"""countmix (FORMAT.md 9.4.13): winmix's coding of spikes, byte for byte; its value models pay on
counts whose neighbours predict them."""

from __future__ import annotations

import numpy as np
import pytest

import spikecodec
from spikecodec.codecs import ChunkSpec, get_codec

AXES = ("T", "N", "C", "H", "W")


def _spikes(shape, seed=0, rate=0.3):
    return (np.random.default_rng(seed).random(shape) < rate).astype(np.uint8)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5, 5), (6, 2, 1, 3, 7), (1, 4, 300, 1, 2)])
def test_spikes_code_as_winmix_does(shape):
    """No level decisions, so no H or I: the payload is winmix's, from zero and from a prior."""
    x = _spikes(shape, seed=len(shape) + shape[2])
    spec = ChunkSpec(shape, AXES, 1)
    assert get_codec("countmix").encode(x, spec) == get_codec("winmix").encode(x, spec)
    samples = [_spikes(shape, seed=s) for s in range(12)]
    priors = {c: spikecodec.train_prior(samples, c, axes="TNCHW", chunk=(shape[0],)) for c in ("winmix", "countmix")}
    assert [t.tobytes() for t in priors["countmix"].tables.values()] == [t.tobytes() for t in priors["winmix"].tables.values()]
    coded = {c: get_codec(c).with_prior(p).encode(x, spec) for c, p in priors.items()}
    assert coded["countmix"] == coded["winmix"]


def _counts_like_their_channel_neighbours(shape, bits, seed=0):
    """Counts of 0 .. 6 at most where channel c mostly repeats channel c-1's value (a
    channel-smooth layer): what model H sees and F, G (a neuron's own steps, its left and upper
    neighbours) do not."""
    rng = np.random.default_rng(seed)
    top = min((1 << bits) - 1, 6)
    x = np.zeros(shape, np.uint8)
    x[:, :, 0] = rng.integers(0, top + 1, x[:, :, 0].shape)
    for c in range(1, shape[2]):
        keep = rng.random(x[:, :, c].shape) < 0.85
        x[:, :, c] = np.where(keep, x[:, :, c - 1], rng.integers(0, top + 1, x[:, :, c].shape))
    return x


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_value_models_pay_where_the_channel_before_predicts_the_count(bits):
    shape = (1, 40, 32, 6, 6)
    x = _counts_like_their_channel_neighbours(shape, bits)
    spec = ChunkSpec(shape, AXES, bits)
    count, win = get_codec("countmix").encode(x, spec), get_codec("winmix").encode(x, spec)
    assert np.array_equal(get_codec("countmix").decode(count, spec), x)
    assert len(count) < 0.9 * len(win), (bits, len(count), len(win))


@pytest.mark.parametrize("bits", [4, 8])
def test_values_above_the_cap_round_trip(bits):
    """Neighbours' values are read up to 7 (U of 9.4.13): counts above it, at every channel
    position (c = 0 and 1, whose u1 / u2 lie outside the pixel) and T past the step cap."""
    rng = np.random.default_rng(bits)
    for shape in [(1, 3, 1, 4, 4), (2, 2, 2, 3, 3), (6, 2, 5, 3, 4)]:
        x = np.where(rng.random(shape) < 0.6, rng.integers(1, 1 << bits, shape), 0).astype(np.uint8)
        data = spikecodec.encode(x, codec="countmix", bits=bits)
        assert np.array_equal(spikecodec.decode(data), x)
