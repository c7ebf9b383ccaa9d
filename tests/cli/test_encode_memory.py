"""`spikecodec encode` of large, very compressible inputs in bounded memory (issue 21): peak RSS
within 64 MiB of the same command on a tiny file, and the pieces the entropy coders then model a
huge chunk in give the bytes of one pass over it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import spikecodec

MIB = 1 << 20
ALLOWED = 64 * MIB  # issue 21: max(64 MiB, 1.5 x the output), over the tiny file's peak

# Runs the command as its child and prints the child's peak RSS (kB): the parent's own
# interpreter is not counted, as with the hostile-usage probe's wrapper.
PEAK = "import resource, subprocess, sys\n" \
       "stdin = open(sys.argv[1], 'rb') if sys.argv[1] != '' else None\n" \
       "r = subprocess.run(sys.argv[2:], stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n" \
       "sys.stderr.write(r.stderr.decode())\n" \
       "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"


def peak_bytes(args: list[str], stdin: Path | None = None) -> int:
    proc = subprocess.run([sys.executable, "-c", PEAK, str(stdin or ""), sys.executable, "-m", "spikecodec", *args],
                          capture_output=True, text=True, timeout=120)
    code, kb = proc.stdout.split()
    assert code == "0", proc.stderr
    return int(kb) * 1024


def over_baseline(tmp_path: Path, big: Path, tiny: Path, stdin: bool = False, extra: tuple[str, ...] = ()) -> int:
    """Peak RSS of encoding ``big`` minus that of encoding ``tiny`` (the same command)."""
    def run(src: Path, out: str) -> int:
        if stdin:
            return peak_bytes(["encode", "-", "-o", str(tmp_path / out), *extra], stdin=src)
        return peak_bytes(["encode", str(src), "-o", str(tmp_path / out), *extra])
    base = run(tiny, "tiny.spk")
    return run(big, "big.spk") - base


def test_plain_npy_of_zeros_file_and_stdin(tmp_path: Path) -> None:
    zeros = np.zeros(6_000_000, np.uint8)  # one 1-D chunk of 6M elements
    np.save(tmp_path / "z.npy", zeros)
    np.save(tmp_path / "tiny.npy", zeros[:10])
    for stdin in (False, True):
        over = over_baseline(tmp_path, tmp_path / "z.npy", tmp_path / "tiny.npy", stdin)
        assert over < ALLOWED, f"{over / MIB:.0f} MiB over the baseline (stdin={stdin})"
        assert np.array_equal(spikecodec.load(tmp_path / "big.spk"), zeros)


def test_stride_zero_torch_tensor(tmp_path: Path) -> None:
    import torch
    n = 1 << 24  # 16 MiB once materialised, from one stored byte
    torch.save(torch.zeros(1, dtype=torch.uint8).expand(n), tmp_path / "x.pt")
    torch.save(torch.zeros(10, dtype=torch.uint8), tmp_path / "tiny.pt")
    over = over_baseline(tmp_path, tmp_path / "x.pt", tmp_path / "tiny.pt")
    assert over < ALLOWED, f"{over / MIB:.0f} MiB over the baseline"
    with spikecodec.open(tmp_path / "big.spk") as r:
        assert r.shape == (n,) and r[n - 5:].tolist() == [0] * 5


def test_chunk_of_few_huge_timesteps(tmp_path: Path) -> None:
    """A chunk of 3 timesteps of 2.8M elements each (T = 3, N = 19418): the pieces split each
    timestep along N, so `recover` (which re-encodes) and `encode` stay in bounds (both were
    78 MiB over with pieces of whole timesteps)."""
    shape = (3, 19418, 4, 6, 6)
    zeros = np.zeros(shape, np.uint8)
    spikecodec.save(tmp_path / "z.spk", zeros, codec="context", chunk=(3,))
    spikecodec.save(tmp_path / "tiny.spk", zeros[:, :2], codec="context", chunk=(3,))
    base = peak_bytes(["recover", str(tmp_path / "tiny.spk"), "-o", str(tmp_path / "tiny_r.spk")])
    over = peak_bytes(["recover", str(tmp_path / "z.spk"), "-o", str(tmp_path / "z_r.spk")]) - base
    assert over < ALLOWED, f"recover: {over / MIB:.0f} MiB over the baseline"
    assert (tmp_path / "z_r.spk").read_bytes() == (tmp_path / "z.spk").read_bytes()
    np.save(tmp_path / "z.npy", zeros)
    np.save(tmp_path / "tiny.npy", zeros[:, :2])
    for codec in ("context", "auto"):
        over = over_baseline(tmp_path, tmp_path / "z.npy", tmp_path / "tiny.npy", extra=("--codec", codec, "--chunk", "3"))
        assert over < ALLOWED, f"encode --codec {codec}: {over / MIB:.0f} MiB over the baseline"
        assert np.array_equal(spikecodec.load(tmp_path / "big.spk"), zeros)


def _timesteps(bounds: list[int], planes: int) -> list[int]:
    """Piece bounds in planes from bounds in timesteps of ``planes`` planes each."""
    return [b * planes for b in bounds]


# Shapes with pieces of every kind: whole timesteps, runs of neurons (N > 1), runs of one
# neuron's channels (C > 1, also C = 70 > 64 magnitude groups for 8 bits), T = 1 and N = 1; each
# with a few pieces (planes t N C + n C + c) mixing the kinds.
SHAPES = {
    (11, 2, 3, 4, 5): [0, 3, 5, 6, 8, 9, 12, 66],
    (5, 1, 4, 3, 3): [0, 1, 4, 7, 8, 20],
    (1, 3, 2, 4, 5): [0, 2, 3, 4, 6],
    (3, 1, 70, 2, 2): [0, 65, 69, 70, 71, 140, 210],
}
SNAPSHOTS = 1 << 27  # the tests' bound on counter-table copies (8-bit tables: 17 MB each)


def _bounds_of(shape: tuple[int, ...]) -> list[list[int]]:
    """Piece bounds (planes) of ``shape``: its few mixed ones, whole timesteps, a mix of
    timesteps by neurons, by channels and whole, then one piece per plane."""
    T, N, C = shape[:3]
    NC = N * C
    out = [SHAPES[shape], [0, T * NC]]
    if T > 1:
        out += [_timesteps([0, 1, T], NC), _timesteps(list(range(T + 1)), NC)]
    if T > 3:
        out.append(_timesteps([0, 2, 3, T - 1, T], NC))
    mixed = [0]  # timestep 0 by neurons (else channels), 1 by pairs of channels, the rest whole
    if N > 1:
        mixed += [n * C for n in range(1, N)]
        mixed.append(NC)
    else:
        mixed += [1, NC] if C > 1 else [NC]
    if T > 1:
        for n in range(N):
            mixed += [NC + n * C + c for c in range(1, C) if c % 2 == 1] + [NC + (n + 1) * C]
    if T > 2:
        mixed += [2 * NC, 3 * NC]
    mixed = sorted(set(mixed + [T * NC]))
    out += [mixed, list(range(T * NC + 1))]
    return out


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("contextual", [True, False])
@pytest.mark.parametrize("bits", [1, 2, 8])
def test_pieces_give_the_bytes_of_one_pass(bits: int, contextual: bool, shape: tuple[int, ...]) -> None:
    """A chunk modelled in pieces (what encode does past the kernel's memory budget): whole
    timesteps, runs of whole neurons of one timestep, runs of one neuron's channels, codes
    exactly as one pass, and leaves the counter tables (a prior's training) the same."""
    from spikecodec.codecs.kernels import context as k

    rng = np.random.default_rng(bits)
    x, other = ((rng.integers(1, 1 << bits, shape) * (rng.random(shape) < 0.3)).astype(np.uint8) for _ in range(2))
    T, N, C, H, W = shape
    chosen = [k._pieces_within(x, bits, 1, 0, budget, 1 << 40) for budget in (1, 300, 1200, 5000)]
    assert chosen[0].tolist() == list(range(T * N * C + 1))  # a budget under one plane: planes
    assert any(b % (N * C) for b in chosen[1].tolist())  # parts of timesteps
    assert k._pieces_within(x, bits, 1, 1 << 40, 1, 1 << 40).tolist() == [0, T * N * C]  # fits: one piece
    for from_prior in (False, True):
        start = list(k.new_counters(x.shape[2], bits, contextual)[4:])
        if from_prior:  # tables as a prior holds them: the state after other data
            k.encode_with(other, bits, contextual, *start)
        one = [t.copy() for t in start]
        expected = k.encode_with(x, bits, contextual, *one)
        for bounds in _bounds_of(shape) + [b.tolist() for b in chosen]:
            if len(bounds) > 2 and (len(bounds) - 1) * sum(t.nbytes for t in start) > SNAPSHOTS:
                continue  # too many copies of 8-bit context tables for a test
            pieces = [t.copy() for t in start]
            words = k._encode_pieces(x, bits, contextual, *pieces, np.array(bounds, np.int64))
            assert np.array_equal(words, expected), bounds
            assert all(np.array_equal(a, b) for a, b in zip(pieces, one)), bounds


def test_pieces_that_split_a_context_are_refused() -> None:
    """Pieces are whole timesteps, whole neurons of one timestep or channels of one neuron."""
    from spikecodec.codecs.kernels import context as k

    x = np.zeros((3, 2, 3, 4, 5), np.uint8)
    tables = list(k.new_counters(3, 1, True)[4:])
    for bounds in ([0, 4, 18], [0, 5, 8, 18], [0, 6, 7, 12], [0, 2, 1, 18]):
        with pytest.raises(ValueError):
            k._encode_pieces(x, 1, True, *tables, np.array(bounds, np.int64))
