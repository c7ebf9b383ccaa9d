"""Careless and hostile uses of the `spikecodec` command found by a sweep of encode, decode,
inspect, validate, recover and train-prior: each was taken (an input damaged, a file replaced,
a tensor picked silently) or said without naming the option at fault."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import spikecodec
from test_cli import one_line_error  # the one rule for a failure: one `spikecodec: error:` line


def sc(*args: object, stdin: object = subprocess.DEVNULL, stdout: object = subprocess.PIPE) -> subprocess.CompletedProcess:
    """Run `python -m spikecodec ARGS`; stdin and stdout may be open files (a shell's `<`, `>>`)."""
    return subprocess.run([sys.executable, "-m", "spikecodec", *map(str, args)], stdin=stdin, stdout=stdout,
                          stderr=subprocess.PIPE, timeout=120)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    spikes = (np.random.default_rng(3).random((2, 3, 2, 3, 3)) < 0.3).astype(np.uint8)
    np.save(tmp_path / "x.npy", spikes)
    spikecodec.save(tmp_path / "x.spk", spikes)
    return tmp_path


# `recover x.spk -o - >> x.spk` appended the copy to the input and exited 0: the input no longer
# validated ("trailer points to an index ... not ending at the trailer"). `-o /dev/stdout` was
# refused; `-o -` was not.
@pytest.mark.parametrize("command, victim", [
    (["recover", "x.spk", "-o", "-"], "x.spk"),
    (["decode", "x.spk", "-o", "-"], "x.spk"),
    (["encode", "x.npy", "-o", "-"], "x.npy"),
    (["train-prior", "x.spk", "-o", "-"], "x.spk"),
])
def test_standard_output_appended_to_an_input_is_refused(work: Path, command: list[str], victim: str) -> None:
    before = (work / victim).read_bytes()
    args = [work / a if a.startswith("x.") else a for a in command]
    with open(work / victim, "ab") as out:
        proc = sc(*args, stdout=out)
    one_line_error(proc, "standard output is also an input", victim, code=1)
    assert (work / victim).read_bytes() == before


def test_standard_output_appended_to_the_file_on_standard_input_is_refused(work: Path) -> None:
    before = (work / "x.spk").read_bytes()
    with open(work / "x.spk", "rb") as src, open(work / "x.spk", "ab") as out:
        proc = sc("recover", "-", "-o", "-", stdin=src, stdout=out)
    one_line_error(proc, "standard output is also an input (standard input)", code=1)
    assert (work / "x.spk").read_bytes() == before


def test_standard_output_that_is_no_input_is_still_written(work: Path) -> None:
    with open(work / "copy.spk", "wb") as out:
        proc = sc("recover", work / "x.spk", "-o", "-", "-q", stdout=out)
    assert proc.returncode == 0, proc.stderr.decode()
    assert np.array_equal(spikecodec.load(work / "copy.spk"), np.load(work / "x.npy"))


# `-o ''` was "spikecodec: error: an empty name names no file", exit 1 (decode: "unknown output
# format", exit 2), naming neither the option nor a file: a usage error, as `--plot ''` is.
@pytest.mark.parametrize("command", [
    ["encode", "x.npy"], ["decode", "x.spk"], ["recover", "x.spk"], ["train-prior", "x.spk"],
])
def test_an_empty_output_name_is_a_usage_error_naming_the_option(work: Path, command: list[str]) -> None:
    proc = sc(command[0], work / command[1], "-o", "")
    assert one_line_error(proc, code=2) == "spikecodec: error: -o: an empty name names no file"


# `--prior ''` was "spikecodec: error: No such file or directory": no file, no option.
@pytest.mark.parametrize("command", [
    ["encode", "x.npy", "-o", "y.spk"], ["decode", "x.spk", "-o", "y.npy"], ["inspect", "x.spk"],
    ["validate", "x.spk"], ["recover", "x.spk", "-o", "y.spk"], ["train-prior", "x.spk", "-o", "y.prior"],
])
def test_an_empty_prior_name_is_a_usage_error_naming_the_option(work: Path, command: list[str]) -> None:
    args = [work / a if a[:2] in ("x.", "y.") else a for a in command]
    proc = sc(*args, "--prior", "")
    assert one_line_error(proc, code=2) == "spikecodec: error: --prior: an empty name names no file"
    assert not any(work.glob("y.*"))


# `train-prior train.spk -o spikes.npy` replaced the array file with a prior, and `-o x.spk` wrote
# a prior under a spike file's name; `encode` and `recover` refuse an OUT named as an array file.
@pytest.mark.parametrize("out", ["other.npy", "other.NPZ", "other.pt", "other.h5", "other.spk"])
def test_train_prior_refuses_an_output_named_as_an_array_or_spike_file(work: Path, out: str) -> None:
    (work / out).write_bytes(b"precious")
    proc = sc("train-prior", work / "x.spk", "-o", work / out)
    one_line_error(proc, "train-prior writes a prior file", ".prior", code=2)
    assert (work / out).read_bytes() == b"precious"


def test_train_prior_still_writes_a_prior_and_refuses_its_input_as_output(work: Path) -> None:
    proc = sc("train-prior", work / "x.spk", "-o", work / "x.prior", "-q")
    assert proc.returncode == 0, proc.stderr.decode()
    assert spikecodec.load_prior(work / "x.prior").codec == "ctxmix"
    one_line_error(sc("train-prior", work / "x.spk", "-o", work / "x.spk"), "is also an input", code=1)


# A .pt dict {1: a, "1": b} offered one key, '1', and encoded one of the two tensors without a word.
def test_a_pt_dict_whose_keys_print_alike_is_refused(work: Path, capsys: pytest.CaptureFixture) -> None:
    import torch

    from spikecodec_cli.main import main

    def in_process(*args: object) -> subprocess.CompletedProcess:  # torch is imported once, not per run
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.encode(), err.encode())

    a = torch.zeros((2, 3), dtype=torch.uint8)
    torch.save({1: a, "1": a + 1}, work / "clash.pt")
    for spec in ("clash.pt", "clash.pt:1"):
        proc = in_process("encode", work / spec, "-o", work / "y.spk")
        one_line_error(proc, "clash.pt", "several tensors under the key '1'", code=1)
    assert not (work / "y.spk").exists()
    torch.save({1: a, "b": a + 1}, work / "fine.pt")
    proc = in_process("encode", f"{work / 'fine.pt'}:1", "-o", work / "y.spk", "-q")
    assert proc.returncode == 0, proc.stderr.decode()
    assert np.array_equal(spikecodec.load(work / "y.spk"), a.numpy())


# `x.npy:k`, `x.spk:k` and `x.npz:` said "unknown input format (expected one of .npy, ...)" of a
# file whose format is known: the reader's "drop ':k'" was never reached.
@pytest.mark.parametrize("command, spec, says", [
    ("encode", "x.npy:k", "x.npy:k: a .npy file holds one array; drop ':k'"),
    ("encode", "x.spk:k", "x.spk:k: a .spk file holds one array; drop ':k'"),
    ("encode", "x.npz:", "x.npz:: names no key after ':'"),
    ("train-prior", "x.spk:k", "x.spk:k: a .spk file holds one array; drop ':k'"),
    ("train-prior", "x.npy:k", "x.npy:k: a .npy file holds one array; drop ':k'"),
])
def test_a_key_on_a_file_of_one_array_or_an_empty_key_is_said_so(work: Path, command: str, spec: str, says: str) -> None:
    np.savez(work / "x.npz", spikes=np.load(work / "x.npy"))
    out = work / ("y.spk" if command == "encode" else "y.prior")
    proc = sc(command, f"{work}/{spec}", "-o", out)
    one_line_error(proc, says, code=1)
    assert not out.exists()
