"""neuronmix (FORMAT.md 9.4.17): neuron by neuron, a flag, then a firing neuron's steps, then for
counts each firing step's value. Its contract (round trips, JSON, malformed payloads, frozen
bytes) is test_every_codec's; here, what is its own."""

from __future__ import annotations

import numpy as np
import pytest

import spikecodec
from spikecodec.codecs import ChunkSpec, get_codec
from spikecodec.errors import FormatError

AXES = ("T", "N", "C", "H", "W")


def _payload(x: np.ndarray, bits: int = 1) -> bytes:
    return get_codec("neuronmix").encode(x, ChunkSpec(x.shape, AXES, bits))


def _spikes(shape: tuple[int, ...], rate: float, seed: int = 0, bits: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ((rng.random(shape) < rate) * rng.integers(1, 1 << bits, shape)).astype(np.uint8)


def test_a_silent_neuron_costs_one_decision_whatever_its_steps():
    """Silent neurons are coded by their flag alone: all-zero chunks of 2 and of 40 steps make the
    same decisions, so the same bytes. A coder that decided every element would not."""
    assert _payload(np.zeros((2, 6, 8, 5, 5), np.uint8)) == _payload(np.zeros((40, 6, 8, 5, 5), np.uint8))
    x = _spikes((2, 6, 8, 5, 5), 0.2)
    longer = np.zeros((40, 6, 8, 5, 5), np.uint8)
    longer[:2] = x
    assert _payload(longer) != _payload(x)  # firing neurons' steps are coded, all 40


def test_a_neuron_firing_only_at_its_last_step_costs_no_step_decision():
    """The last step of a firing neuron whose steps before it were 0 is forced: a neuron firing at
    step T-1 alone round-trips, and so do T = 1 chunks, which code flags only."""
    x = np.zeros((4, 3, 5, 4, 4), np.uint8)
    x[3, :, ::2] = 1  # fires at its last step only
    x[1, 0, 1, 2, 3] = 1
    spec = ChunkSpec(x.shape, AXES, 1)
    codec = get_codec("neuronmix")
    np.testing.assert_array_equal(codec.decode(codec.encode(x, spec), spec), x)
    ones = _spikes((1, 3, 5, 4, 4), 0.4, seed=1)
    np.testing.assert_array_equal(codec.decode(codec.encode(ones, ChunkSpec(ones.shape, AXES, 1)), ChunkSpec(ones.shape, AXES, 1)), ones)


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("shape", [(1, 5, 6, 3, 3), (20, 2, 3, 2, 2), (3, 4, 70, 1, 2), (2, 3, 1, 1, 1), (5, 1, 2, 9, 1)])
def test_round_trip(bits, shape):
    x = _spikes(shape, 0.35, seed=sum(shape) + bits, bits=bits)
    spec = ChunkSpec(shape, AXES, bits)
    codec = get_codec("neuronmix")
    data = codec.encode(x, spec)
    np.testing.assert_array_equal(codec.decode(data, spec), x)
    out = np.full((2 * shape[0],) + shape[1:], 0xEE, np.uint8)[::2]  # a strided output
    assert codec.decode_into(data, spec, out) == int(x.astype(np.int64).sum())
    np.testing.assert_array_equal(out, x)


def test_axes_folded_into_samples_that_are_not_adjacent():
    """Axes other than T, C, H, W fold into N; when they are not adjacent the decoded array has no
    canonical view and is copied back through the inverse transpose."""
    x = _spikes((3, 4, 2, 5), 0.3, seed=3)
    data = spikecodec.encode(x, codec="neuronmix", axes=("C", "A", "T", "B"))
    np.testing.assert_array_equal(spikecodec.decode(data), x)


def test_it_takes_no_parameter():
    with pytest.raises(ValueError, match="no parameter 'prior'"):
        spikecodec.codecs.registry.get_codec({"id": "neuronmix", "prior": "0" * 64})
    assert get_codec("neuronmix").get_config() == {} and get_codec("neuronmix").trainable is False


def test_its_files_need_a_reader_of_1_13():
    data = spikecodec.encode(_spikes((2, 3, 4, 5, 5), 0.3), codec="neuronmix")
    assert data[9] == 13
    with spikecodec.open(data) as r:
        assert r.codec == [{"id": "neuronmix"}]


@pytest.mark.parametrize("seed", range(6))
def test_garbage_payloads_are_refused_with_its_codes(seed):
    """Random bytes, shorter than the packed chunk, decode to a problem of this codec (never an
    exception of another kind, never values wider than the element bits)."""
    rng = np.random.default_rng(seed)
    bits = (1, 2, 4, 8)[seed % 4]
    spec = ChunkSpec((3, 2, 6, 4, 4), AXES, bits)
    payload = bytes(rng.integers(0, 256, int(rng.integers(0, spec.packed_nbytes)), dtype=np.uint8))
    try:
        values = get_codec("neuronmix").decode(payload, spec)
    except FormatError as error:
        assert error.code in ("neuronmix-end", "symbol-above-top")
    else:  # a payload that happens to end as coded
        assert int(values.max(initial=0)) < 1 << bits


def test_a_payload_longer_than_the_packed_chunk_is_refused():
    spec = ChunkSpec((2, 2, 3, 4, 4), AXES, 1)
    with pytest.raises(FormatError) as got:
        get_codec("neuronmix").decode(bytes(spec.packed_nbytes + 1), spec)
    assert got.value.code == "neuronmix-too-long"


def test_fewer_bytes_than_the_fast_mode_on_correlated_spikes():
    """On spikes with structure in space and time (a pattern each sample shares, then steps that
    repeat), neuronmix codes fewer bytes than the fast mode: it is the balanced mode."""
    rng = np.random.default_rng(7)
    base = rng.random((16, 12, 12)) < 0.25
    fire = base[None, None] ^ (rng.random((4, 64, 16, 12, 12)) < 0.05)
    steps = fire & (rng.random(fire.shape) < 0.7)
    x = steps.astype(np.uint8)
    ours = len(spikecodec.encode(x, codec="neuronmix"))
    fast = len(spikecodec.encode(x, codec="ctxfast"))
    assert ours < fast, (ours, fast)


def test_working_memory_stays_near_the_chunk_whatever_its_shape(tmp_path):
    """A chunk of one long row (T = N = C = H = 1) decodes within its own size in working memory:
    the flag and step planes are unpadded (reads outside the view are guarded zeros). Padded,
    such a plane of 2**22 elements asked for 3 x 3 x 3 x 2 times its size (300 MB) and failed
    under an address-space limit of 100 MB over what the process had mapped."""
    import subprocess
    import sys

    shape = (1, 1, 1, 1, 1 << 22)
    x = _spikes(shape, 0.01, seed=5)
    path = tmp_path / "row.spk"
    path.write_bytes(spikecodec.encode(x, codec="neuronmix", chunk=[1]))
    script = (
        "import re, resource, sys, numpy as np, spikecodec\n"
        "spikecodec.decode(spikecodec.encode(np.zeros((1, 1, 1, 1, 8), np.uint8), codec='neuronmix'))\n"  # compiled first
        "data = open(sys.argv[1], 'rb').read()\n"
        "mapped = int(re.search(r'VmSize:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1)) * 1024\n"
        "resource.setrlimit(resource.RLIMIT_AS, (mapped + (100 << 20), resource.RLIM_INFINITY))\n"
        "print(int(spikecodec.decode(data).sum()))\n")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-600:]
    assert int(done.stdout) == int(x.sum())
