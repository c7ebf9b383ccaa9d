"""The `spikecodec` command, run for real in a subprocess: formats, pipes, slicing, errors, exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import spikecodec


def sc(*args: object, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """Run `python -m spikecodec ARGS`, capturing stdout and stderr as bytes."""
    return subprocess.run([sys.executable, "-m", "spikecodec", *map(str, args)], input=stdin, capture_output=True, timeout=120)


def ok(*args: object, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    proc = sc(*args, stdin=stdin)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"Traceback" not in proc.stderr
    return proc


def one_line_error(proc: subprocess.CompletedProcess, *fragments: str, code: int = 1) -> str:
    """A failure is exactly one `spikecodec: error: ...` line, the given exit status, no traceback."""
    err = proc.stderr.decode()
    assert proc.returncode == code, err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spikecodec: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, err)
    return lines[0]


def no_temp_files(directory: Path) -> bool:
    return not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture
def spikes() -> np.ndarray:
    """A small T x N x C x H x W spike tensor with per-channel rates."""
    rng = np.random.default_rng(7)
    rate = rng.uniform(0.05, 0.4, size=(1, 1, 6, 1, 1))
    return (rng.random((5, 3, 6, 4, 4)) < rate).astype(np.uint8)


def write_input(path: Path, fmt: str, array: np.ndarray) -> str:
    """Store ``array`` in a user file of format ``fmt``; returns the INPUT argument naming it."""
    if fmt == "npy":
        np.save(path, array)
        return str(path)
    if fmt == "npz":  # two arrays: the key must be named
        np.savez(path, other=np.zeros(3), feats=array.astype(np.float32))
        return f"{path}:feats"
    if fmt == "pt":
        import torch

        torch.save(torch.from_numpy(array.astype(bool)), path)
        return str(path)
    import h5py

    with h5py.File(path, "w") as f:
        f.create_dataset("model/layer3/spikes", data=array.astype(np.int16))
    return f"{path}:/model/layer3/spikes"


def read_output(path: Path) -> np.ndarray:
    fmt = path.suffix
    if fmt == ".npy":
        return np.load(path)
    if fmt == ".npz":
        with np.load(path) as z:
            return z["spikes"]
    if fmt == ".pt":
        import torch

        return torch.load(path, weights_only=True).numpy()
    import h5py

    with h5py.File(path) as f:
        return f["spikes"][()]


# Every input format once, each decoded to a different output format, so all four outputs are covered.
@pytest.mark.parametrize("fmt_in,fmt_out", [("npy", "h5"), ("npz", "pt"), ("pt", "npz"), ("h5", "npy")])
def test_encode_inspect_validate_decode(tmp_path: Path, spikes: np.ndarray, fmt_in: str, fmt_out: str) -> None:
    src = write_input(tmp_path / f"in.{fmt_in}", fmt_in, spikes)
    spk = tmp_path / "x.spk"
    proc = ok("encode", src, "-o", spk, "--codec", "zstd", "--level", "9", "--chunk", "1,2", "--meta", "model=resnet18", "split=3")
    assert "x.spk" in proc.stderr.decode()  # the summary line

    quick = json.loads(ok("inspect", spk, "--json").stdout)  # header and index only
    assert quick["spikes"] == int(spikes.sum()) and "per_timestep" not in quick["firing_rate"]
    report = json.loads(ok("inspect", spk, "--json", "--stats").stdout)
    assert report["shape"] == list(spikes.shape) and report["axes"] == list("TNCHW")
    assert report["bits"] == 1 and report["chunk_shape"] == [1, 2]
    assert report["codec"] == [{"id": "raw"}, {"id": "zstd", "level": 9}]
    assert report["metadata"] == {"model": "resnet18", "split": 3}
    assert report["spikes"] == int(spikes.sum())
    assert len(report["chunks"]) == 5 * 2  # 5 timesteps x 2 blocks of samples
    np.testing.assert_allclose(report["firing_rate"]["per_timestep"], spikes.mean(axis=(1, 2, 3, 4)))
    np.testing.assert_allclose(report["firing_rate"]["per_channel"], spikes.mean(axis=(0, 1, 3, 4)))

    assert ok("validate", spk).stdout.decode().startswith(f"{spk}: OK")

    out = tmp_path / f"out.{fmt_out}"
    ok("decode", spk, "-o", out)
    decoded = read_output(out)
    assert decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, spikes)


def test_bytes_equal_the_library_and_metadata_survives_npz_and_h5(tmp_path: Path, spikes: np.ndarray) -> None:
    np.save(tmp_path / "x.npy", spikes)
    spk = tmp_path / "x.spk"
    meta = {"n": 3, "dt": 0.001, "on": True, "l": [1, 2], "s": "hello", "nothing": None}
    ok("encode", tmp_path / "x.npy", "-o", spk, "--axes", "T,B,ch,y,x", "--meta", "n=3", "dt=0.001", "on=true", "l=[1,2]", "s=hello", "nothing=null")
    expected = spikecodec.encode(spikes, axes=("T", "B", "ch", "y", "x"), metadata=meta)
    assert spk.read_bytes() == expected  # the CLI is the library, fed block by block
    assert oct(spk.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # not the temp file's 0600

    # .npz and .h5 outputs keep axes and metadata, and encode picks them up again: same bytes.
    for fmt in ("npz", "h5"):
        ok("decode", spk, "-o", tmp_path / f"y.{fmt}")
        ok("encode", tmp_path / f"y.{fmt}", "-o", tmp_path / f"back_{fmt}.spk")
        assert (tmp_path / f"back_{fmt}.spk").read_bytes() == expected, fmt
    import h5py

    with h5py.File(tmp_path / "y.h5") as f:
        attrs = f["spikes"].attrs
        assert list(attrs["axes"]) == ["T", "B", "ch", "y", "x"]
        assert json.loads(attrs["metadata"]) == meta and attrs["bits"] == 1

    # A .spk input is re-encoded (here to raw) with its axes and metadata.
    ok("encode", spk, "-o", tmp_path / "raw.spk", "--codec", "raw")
    with spikecodec.open(tmp_path / "raw.spk") as r:
        assert r.codec == [{"id": "raw"}] and r.metadata == meta and r.axes == ("T", "B", "ch", "y", "x")
        np.testing.assert_array_equal(r.read(), spikes)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_pipes(tmp_path: Path, spikes: np.ndarray) -> None:
    np.save(tmp_path / "x.npy", spikes)
    raw_npy = (tmp_path / "x.npy").read_bytes()
    # cat x.npy | spikecodec encode - -o - | spikecodec decode - -o y.npy, as real processes
    cmd = [sys.executable, "-m", "spikecodec"]
    enc = subprocess.Popen([*cmd, "encode", "-", "-o", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dec = subprocess.Popen([*cmd, "decode", "-", "-o", tmp_path / "y.npy"], stdin=enc.stdout, stderr=subprocess.PIPE)
    enc.stdout.close()
    enc.stdin.write(raw_npy)
    enc.stdin.close()
    assert dec.wait(60) == 0, dec.stderr.read()
    assert enc.wait(60) == 0 and enc.stderr.read() == b""  # quiet in a pipe
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), spikes)

    spk = ok("encode", "-", "-o", "-", stdin=raw_npy).stdout
    assert spk == spikecodec.encode(spikes)
    assert json.loads(ok("inspect", "-", "--json", stdin=spk).stdout)["shape"] == list(spikes.shape)
    assert b"<stdin>: OK" in ok("validate", "-", stdin=spk).stdout
    out = ok("decode", "-", "-o", "-", "--dtype", "float32", stdin=spk).stdout
    y = np.load(__import__("io").BytesIO(out))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, spikes)


@pytest.mark.parametrize("command", ["validate", "inspect", "decode"])
def test_stdin_is_refused_at_its_first_bytes_and_past_max_bytes(tmp_path: Path, spikes: np.ndarray, command: str) -> None:
    # validate - read all of stdin before its first 8 bytes were checked (500 MB of zeros: 528 MB
    # of memory, then "bad signature"; an endless pipe until memory ran out).
    out = ["-o", tmp_path / "y.npy"] if command == "decode" else []
    zeros = subprocess.Popen([sys.executable, "-c", "import sys\nwhile True: sys.stdout.buffer.write(bytes(1 << 16))"],
                             stdout=subprocess.PIPE)
    try:
        proc = subprocess.run([sys.executable, "-m", "spikecodec", command, "-", *out], stdin=zeros.stdout,
                              capture_output=True, timeout=60)
    finally:
        zeros.kill()
        zeros.wait()
        zeros.stdout.close()
    assert proc.returncode != 0 and b"not a spike file: bad signature" in proc.stdout + proc.stderr, proc.stderr  # validate reports on stdout
    spk = spikecodec.encode(spikes)
    one_line_error(sc(command, "-", *out, "--max-bytes", str(len(spk) - 1), stdin=spk), "<stdin>", "over max_bytes", code=3)
    assert not (tmp_path / "y.npy").exists()


def test_decode_on_threads_and_within_max_bytes(tmp_path: Path, spikes: np.ndarray) -> None:
    spk = tmp_path / "x.spk"
    spikecodec.save(spk, spikes, chunk=(1, 1))
    ok("decode", spk, "-o", tmp_path / "y.npy", "--threads", "3")
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), spikes)
    one_line_error(sc("decode", spk, "-o", tmp_path / "z.npy", "--max-bytes", spikes.nbytes - 1), "over max_bytes", code=3)
    assert not (tmp_path / "z.npy").exists()
    one_line_error(sc("decode", spk, "-o", tmp_path / "z.npy", "--threads", "0"), "--threads: expected a whole number", code=2)


def test_select_reads_by_axis_name(tmp_path: Path, spikes: np.ndarray) -> None:
    spk = tmp_path / "x.spk"
    spk.write_bytes(spikecodec.encode(spikes, chunk=1, metadata={"k": 1}))
    ok("decode", spk, "-o", tmp_path / "s.h5", "--select", "t=1:4:2,N=2,c=-1")
    import h5py

    with h5py.File(tmp_path / "s.h5") as f:
        np.testing.assert_array_equal(f["spikes"][()], spikes[1:4:2, 2, -1])
        assert list(f["spikes"].attrs["axes"]) == ["T", "H", "W"]
    # Repeated, --select kept only its last value: t=1:4:2 was dropped without a word.
    ok("decode", spk, "-o", tmp_path / "r.npy", "--select", "t=1:4:2", "--select", "N=2,c=-1")
    np.testing.assert_array_equal(np.load(tmp_path / "r.npy"), spikes[1:4:2, 2, -1])
    one_line_error(sc("decode", spk, "-o", tmp_path / "e.npy", "--select", "t=1", "--select", "T=2"),
                   "--select", "selected twice", code=2)
    # Only the chunks of the selected timestep are needed: damage every other chunk, select t=2.
    data = bytearray(spk.read_bytes())
    with spikecodec.open(bytes(data)) as r:
        for i, e in enumerate(r.entries):
            if i != 2:
                data[e.offset + e.size - 1] ^= 0xFF  # break its CRC
    spk.write_bytes(bytes(data))
    ok("decode", spk, "-o", tmp_path / "t2.npy", "--select", "t=2")
    np.testing.assert_array_equal(np.load(tmp_path / "t2.npy"), spikes[2])
    one_line_error(sc("decode", spk, "-o", tmp_path / "t3.npy", "--select", "t=3"), "x.spk: at byte", "CRC")

    one_line_error(sc("decode", spk, "-o", tmp_path / "e.npy", "--select", "z=1"), "--select", "no axis 'z'", code=2)
    one_line_error(sc("decode", spk, "-o", tmp_path / "e.npy", "--select", "t=9"), "out of bounds", code=2)
    one_line_error(sc("decode", spk, "-o", tmp_path / "e.npy", "--select", "t=a:b"), "bad index", code=2)
    assert no_temp_files(tmp_path) and not (tmp_path / "t3.npy").exists() and not (tmp_path / "e.npy").exists()


def test_bad_input_is_one_line_naming_file_and_place(tmp_path: Path, spikes: np.ndarray) -> None:
    bad = spikes.astype(np.int32)
    bad[2, 1, 3, 0, 2] = 7
    np.save(tmp_path / "bad.npy", bad)
    line = one_line_error(sc("encode", tmp_path / "bad.npy", "-o", tmp_path / "o.spk", "--bits", "1"))
    assert "bad.npy: value 7 at index (2, 1, 3, 0, 2)" in line and "1-bit" in line
    half = spikes.astype(np.float32)
    half[0, 0, 0, 1, 1] = 0.5
    np.save(tmp_path / "half.npy", half)
    one_line_error(sc("encode", tmp_path / "half.npy", "-o", tmp_path / "o.spk"), "half.npy", "index (0, 0, 0, 1, 1)")
    one_line_error(sc("encode", tmp_path / "missing.npy", "-o", tmp_path / "o.spk"), "missing.npy: No such file")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file at all")
    one_line_error(sc("encode", tmp_path / "junk.pt", "-o", tmp_path / "o.spk"), "junk.pt", "weights_only")
    np.savez(tmp_path / "two.npz", a=spikes, b=spikes)
    one_line_error(sc("encode", tmp_path / "two.npz", "-o", tmp_path / "o.spk"), "two.npz", "a, b")
    one_line_error(sc("encode", f"{tmp_path / 'two.npz'}:zz", "-o", tmp_path / "o.spk"), "no array 'zz'")
    one_line_error(sc("encode", tmp_path / "bad.npy", "-o", tmp_path / "o.spk", "--codec", "nope"), "--codec", "unknown codec id", code=2)
    nine_stages = ",".join(["raw"] + ["zstd"] * 8)  # a usage error before any work, as the header would refuse it after
    one_line_error(sc("encode", tmp_path / "bad.npy", "-o", tmp_path / "o.spk", "--codec", nine_stages), "--codec", "1..8", code=2)
    one_line_error(sc("encode", tmp_path / "bad.npy", "-o", tmp_path / "o.spk", "--meta", "novalue"), "--meta", code=2)
    one_line_error(sc("encode", tmp_path / "bad.npy", "-o", tmp_path / "o.spk", "--chunk", "0,2"), "--chunk", code=2)
    one_line_error(sc("encode", tmp_path / "bad.npy", "-o", tmp_path / "o.npy"), "spikecodec decode", code=2)
    (tmp_path / "x.txt").write_text("hello")
    one_line_error(sc("encode", tmp_path / "x.txt", "-o", tmp_path / "o.spk"), "unknown input format")
    one_line_error(sc("inspect", tmp_path / "x.txt"), "x.txt: at byte 0")
    assert sc("encode").returncode == 2 and sc("frobnicate").returncode == 2  # argparse usage errors
    assert not (tmp_path / "o.spk").exists() and no_temp_files(tmp_path)


def test_failures_never_leave_half_written_output(tmp_path: Path, spikes: np.ndarray) -> None:
    np.save(tmp_path / "x.npy", spikes)
    out = tmp_path / "out.spk"
    out.write_bytes(b"previous content")
    # Fails after the temporary output was opened: 3 axis names for a rank-5 array.
    one_line_error(sc("encode", tmp_path / "x.npy", "-o", out, "--axes", "TNC"), "x.npy", "axis names")
    assert out.read_bytes() == b"previous content" and no_temp_files(tmp_path)

    # A decode that fails half-way (chunk 3 is damaged) leaves the old .npy in place.
    spk = tmp_path / "x.spk"
    data = bytearray(spikecodec.encode(spikes, chunk=1))
    with spikecodec.open(bytes(data)) as r:
        e = r.entries[3]
    data[e.offset + e.size - 1] ^= 0xFF
    spk.write_bytes(bytes(data))
    for fmt in ("npy", "h5"):
        target = tmp_path / f"y.{fmt}"
        target.write_bytes(b"old")
        one_line_error(sc("decode", spk, "-o", target), f"x.spk: at byte {e.offset}", "CRC")
        assert target.read_bytes() == b"old"
    assert no_temp_files(tmp_path)


def test_terminated_encode_leaves_nothing(tmp_path: Path) -> None:
    # Big enough (32 Mi elements) that the encode is still running when the temp file appears.
    big = np.zeros((64, 16, 32, 32, 32), np.uint8)
    big[::3, :, ::5] = 1
    np.save(tmp_path / "big.npy", big)
    del big
    proc = subprocess.Popen([sys.executable, "-m", "spikecodec", "encode", tmp_path / "big.npy", "-o", tmp_path / "big.spk", "--codec", "zstd", "--level", "19"], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]:
        assert proc.poll() is None, "finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 128 + signal.SIGTERM  # 143, as a shell reports it (it was 130, Ctrl-C's)
    assert "terminated (SIGTERM)" in proc.stderr.read().decode()
    assert not (tmp_path / "big.spk").exists() and no_temp_files(tmp_path)


def test_a_signal_the_moment_the_temp_file_appears_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The worst moment for the interrupt above: the temporary file exists but atomic_path has not
    # yet armed its clean-up. Under load the subprocess test hit it once, here it is every time.
    from spikecodec import output as atomic

    real_mkstemp = atomic.tempfile.mkstemp

    def mkstemp_then_sigterm(*args, **kwargs):
        made = real_mkstemp(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)
        return made

    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp_then_sigterm)
    with atomic.terminate_cleanly():
        with pytest.raises(KeyboardInterrupt), atomic.atomic_path(str(tmp_path / "out.spk")):
            pass
    assert list(tmp_path.iterdir()) == []


def test_main_gives_the_callers_signal_handlers_back(tmp_path: Path, spikes: np.ndarray) -> None:
    # Run in-process, the command line must not leave its SIGTERM handler behind: a worker forked
    # later would inherit it and take the pool's SIGTERM as an exception instead of exiting.
    from spikecodec_cli.main import main

    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    path = tmp_path / "x.spk"
    spikecodec.save(path, spikes)
    assert main(["inspect", str(path)]) == 0
    assert {s: signal.getsignal(s) for s in previous} == previous


def test_validate_exit_codes_and_problems(tmp_path: Path, spikes: np.ndarray) -> None:
    good = tmp_path / "good.spk"
    data = spikecodec.encode(spikes, chunk=1)
    good.write_bytes(data)
    cut = tmp_path / "cut.spk"
    with spikecodec.open(data) as r:
        e = r.entries[2]
    cut.write_bytes(data[: e.offset + 10])  # writer died inside chunk 2
    flipped = tmp_path / "flip.spk"
    flipped.write_bytes(data[: e.offset + e.size - 1] + bytes([data[e.offset + e.size - 1] ^ 1]) + data[e.offset + e.size :])

    assert sc("validate", good).returncode == 0
    proc = sc("validate", good, cut, flipped)
    assert proc.returncode == 1
    lines = proc.stdout.decode().splitlines()
    assert lines[0].startswith(f"{good}: OK")
    assert any(line.startswith(f"{cut}: at byte ") and "trailer" in line for line in lines)
    assert f"{flipped}: at byte {e.offset}: " in proc.stdout.decode()

    proc = sc("validate", good, tmp_path / "missing.spk", flipped, "--json")
    assert proc.returncode == 2  # an unreadable file is worse than a non-conforming one
    report = json.loads(proc.stdout)
    assert report["ok"] is False and [f["ok"] for f in report["files"]] == [True, False, False]
    assert report["files"][2]["problems"][0]["offset"] == e.offset
    assert sc("validate").returncode == 2


def test_recover_rewrites_a_cut_file(tmp_path: Path, spikes: np.ndarray) -> None:
    data = spikecodec.encode(spikes, chunk=1, codec={"id": "zstd", "level": 5}, metadata={"m": 1})
    with spikecodec.open(data) as r:
        e = r.entries[3]
    (tmp_path / "cut.spk").write_bytes(data[: e.offset + 7])
    proc = ok("recover", tmp_path / "cut.spk", "-o", tmp_path / "fixed.spk")
    assert "recovered 3 rows" in proc.stderr.decode()
    assert sc("validate", tmp_path / "fixed.spk").returncode == 0
    with spikecodec.open(tmp_path / "fixed.spk") as r:
        assert r.metadata == {"m": 1} and r.codec == [{"id": "raw"}, {"id": "zstd", "level": 5}]
        np.testing.assert_array_equal(r.read(), spikes[:3])


def test_inspect_text_and_plot(tmp_path: Path) -> None:
    counts = np.random.default_rng(1).integers(0, 4, size=(6, 2, 3, 5, 5))  # 2-bit spike counts
    np.save(tmp_path / "c.npy", counts)
    ok("encode", tmp_path / "c.npy", "-o", tmp_path / "c.spk")
    text = ok("inspect", tmp_path / "c.spk", "--plot", tmp_path / "c.png").stdout.decode()
    for needle in ("format version  1.12", "shape           (6, 2, 3, 5, 5)  axes TNCHW", "2-bit spike counts", "per T", "per C", "float32", "bit/element"):
        assert needle in text, needle
    assert f"{counts.sum()} in {counts.size} elements" in text
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_help_version_and_no_torch_without_pt(tmp_path: Path, spikes: np.ndarray) -> None:
    assert ok("--version").stdout.decode().startswith(f"spikecodec {spikecodec.__version__}")
    for command in ("encode", "decode", "inspect", "validate", "recover"):
        text = ok(command, "--help").stdout.decode()
        assert "examples:" in text and f"spikecodec {command} " in text
    np.save(tmp_path / "x.npy", spikes)
    script = (
        "import sys; from spikecodec_cli.main import main;"
        f"assert main(['encode', {str(tmp_path / 'x.npy')!r}, '-o', {str(tmp_path / 'x.spk')!r}, '-q']) == 0;"
        f"assert main(['decode', {str(tmp_path / 'x.spk')!r}, '-o', {str(tmp_path / 'y.npy')!r}, '-q']) == 0;"
        f"assert main(['inspect', {str(tmp_path / 'x.spk')!r}, '--json']) == 0;"
        "bad = [m for m in ('torch', 'matplotlib', 'h5py', 'tqdm') if m in sys.modules]; assert not bad, bad"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()


@pytest.mark.parametrize("damage", ["payload-bit", "payload-bit-crc-resealed", "first-row"])
def test_recover_keeps_the_rows_before_a_damaged_chunk(tmp_path: Path, spikes: np.ndarray, damage: str) -> None:
    import zlib

    data = spikecodec.encode(spikes[:6], chunk=(2, 2), codec="context")  # rows of 2 timesteps
    with spikecodec.open(data) as r:
        per_row = len(r.entries) // 3
        bad = 0 if damage == "first-row" else 2 * per_row  # a chunk of the third row
        e = r.entries[bad]
    b = bytearray(data)
    crc_at = e.offset + e.size - 4  # classic records end with the CRC-32 of the record before it
    b[crc_at - 2] ^= 0x10  # in the payload's last bytes
    if damage == "payload-bit-crc-resealed":
        b[crc_at:crc_at + 4] = zlib.crc32(bytes(b[e.offset:crc_at])).to_bytes(4, "little")
    (tmp_path / "m.spk").write_bytes(bytes(b))
    proc = sc("recover", tmp_path / "m.spk", "-o", tmp_path / "r.spk")
    if damage == "first-row":
        one_line_error(proc, "m.spk", "nothing to recover")
        assert not (tmp_path / "r.spk").exists()
        return
    assert proc.returncode == 0, proc.stderr.decode()
    assert "rows from there on are dropped" in proc.stderr.decode()
    assert ("CRC mismatch" in proc.stderr.decode()) == (damage == "payload-bit")  # resealed: the payload is caught
    np.testing.assert_array_equal(spikecodec.load(tmp_path / "r.spk"), spikes[:4])


def test_recover_of_a_file_cut_before_its_first_complete_row_says_so(tmp_path: Path, spikes: np.ndarray) -> None:
    # Cut at or inside the first record, recover crashed on a TypeError; a complete empty file
    # (nothing to decode) crashed the same way.
    data = spikecodec.encode(spikes, chunk=1)
    with spikecodec.open(data) as r:
        first = r.entries[0]
    for cut in (first.offset, first.offset + 7):
        (tmp_path / "cut.spk").write_bytes(data[:cut])
        one_line_error(sc("recover", tmp_path / "cut.spk", "-o", tmp_path / "r.spk"), "cut.spk", "nothing to recover")
        assert not (tmp_path / "r.spk").exists() and no_temp_files(tmp_path)
    spikecodec.save(tmp_path / "empty.spk", np.zeros((0, 3), np.uint8))
    ok("recover", tmp_path / "empty.spk", "-o", tmp_path / "r.spk")
    assert spikecodec.load(tmp_path / "r.spk").shape == (0, 3)


def test_recover_copies_a_complete_file_without_chunks(tmp_path: Path) -> None:
    # An empty inner axis under a chunk of rank 2 leaves no chunks at all (FORMAT.md 4.2; the
    # vector valid/empty-inner-axis.spk): recover said "0 frames written, but length=3 was
    # declared" for that complete file, which reads as (3, 0, 4).
    spikecodec.save(tmp_path / "g0.spk", np.zeros((3, 0, 4), np.uint8), codec="raw", chunk=(1, 1))
    with spikecodec.open(tmp_path / "g0.spk") as r:
        assert len(r.entries) == 0
    ok("recover", tmp_path / "g0.spk", "-o", tmp_path / "r.spk")
    assert spikecodec.load(tmp_path / "r.spk").shape == (3, 0, 4)


def test_spike_files_named_by_a_pipe_path_are_read_and_devices_refused(tmp_path: Path, spikes: np.ndarray) -> None:
    # `decode <(cat x.spk)` and named pipes were read as files of 0 bytes ("file is 0 bytes");
    # then inspect of one said "file size 0 bytes" (its stat's), not the bytes it read.
    spikecodec.save(tmp_path / "x.spk", spikes)
    cli = f"{sys.executable} -m spikecodec"
    proc = subprocess.run(["bash", "-c", f"{cli} decode <(cat {tmp_path / 'x.spk'}) -o {tmp_path / 'y.npy'} -q && "
                                         f"{cli} validate -q <(cat {tmp_path / 'x.spk'}) && "
                                         f"{cli} inspect --json <(cat {tmp_path / 'x.spk'})"], capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), spikes)
    assert json.loads(proc.stdout)["size"]["file_bytes"] == (tmp_path / "x.spk").stat().st_size
    one_line_error(sc("inspect", "/dev/null"), "/dev/null", "not a regular file or a pipe")


def test_empty_axes_and_bad_wait_are_usage_errors(tmp_path: Path, spikes: np.ndarray) -> None:
    # --axes '' fell back to the default axes; --wait nan waited for ever, --wait -1 was taken.
    np.save(tmp_path / "x.npy", spikes)
    one_line_error(sc("encode", tmp_path / "x.npy", "-o", tmp_path / "x.spk", "--axes", ""), "--axes", code=2)
    for wait in ("nan", "-1", "soon"):
        one_line_error(sc("cloud", tmp_path / "x.spk", "--wait", wait), "--wait", code=2)
    assert not (tmp_path / "x.spk").exists()


def test_running_out_of_memory_is_one_line(tmp_path: Path) -> None:
    # A file declaring 2 GiB, read with --max-bytes raised over what `ulimit -v` leaves: numpy's
    # MemoryError came out as a traceback.
    import resource
    import struct
    import zlib

    data = bytearray(spikecodec.encode(np.zeros((2, 3, 4, 5, 5), np.uint8), chunk=1))
    struct.pack_into("<4Q", data, 16 + 4 + 8, 1 << 15, 1 << 15, 1, 1)  # shape[1:]: 2 x 2^30 elements
    h = int.from_bytes(data[12:16], "little")
    data[16 + h:20 + h] = zlib.crc32(bytes(data[: 16 + h])).to_bytes(4, "little")  # only the shape is off
    (tmp_path / "big.spk").write_bytes(bytes(data))

    def small_address_space() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2_000_000_000, 2_000_000_000))

    proc = subprocess.run([sys.executable, "-m", "spikecodec", "decode", str(tmp_path / "big.spk"), "-o",
                           str(tmp_path / "x.npy"), "--max-bytes", "8G"], capture_output=True, timeout=120,
                          preexec_fn=small_address_space)
    # LimitError limit-memory, as a chunk's decoding says it (exit 3: over what this run can do)
    line = one_line_error(proc, "big.spk", "out of memory for the array", code=3)
    assert line.count("big.spk") == 1
    assert not (tmp_path / "x.npy").exists() and no_temp_files(tmp_path)


def test_option_values_that_were_taken_or_crashed(tmp_path: Path, spikes: np.ndarray) -> None:
    # --max-bytes inf (or 1e400) was a traceback (int of an infinite float); --select '' decoded
    # the whole file; -o DIR named the directory twice.
    spikecodec.save(tmp_path / "x.spk", spikes)
    for size in ("inf", "1e400", "nan"):
        one_line_error(sc("decode", tmp_path / "x.spk", "-o", tmp_path / "y.npy", "--max-bytes", size), "--max-bytes", code=2)
    one_line_error(sc("decode", tmp_path / "x.spk", "-o", tmp_path / "y.npy", "--select", ""), "--select", code=2)
    assert not (tmp_path / "y.npy").exists()
    (tmp_path / "d").mkdir()
    line = one_line_error(sc("recover", tmp_path / "x.spk", "-o", tmp_path / "d"), "is a directory")
    assert line.count(str(tmp_path / "d")) == 1, line


def test_binary_data_is_neither_read_from_nor_written_to_a_terminal(tmp_path: Path, spikes: np.ndarray) -> None:
    # `encode -` with no file piped in waited for typing; `decode x.spk -o -` unredirected
    # poured binary into the terminal.
    import pty

    spikecodec.save(tmp_path / "x.spk", spikes)
    np.save(tmp_path / "x.npy", spikes)
    main_fd, terminal = pty.openpty()
    try:
        cases = [(("encode", "-", "-o", tmp_path / "y.spk"), "standard input is a terminal"),
                 (("decode", "-", "-o", tmp_path / "y.npy"), "standard input is a terminal"),
                 (("decode", tmp_path / "x.spk", "-o", "-"), "standard output is a terminal"),
                 (("encode", tmp_path / "x.npy", "-o", "-"), "standard output is a terminal")]
        for args, fragment in cases:
            proc = subprocess.run([sys.executable, "-m", "spikecodec", *map(str, args)], stdin=terminal, stdout=terminal,
                                  stderr=subprocess.PIPE, timeout=60)
            one_line_error(proc, fragment)
    finally:
        os.close(main_fd)
        os.close(terminal)
    assert not (tmp_path / "y.spk").exists() and not (tmp_path / "y.npy").exists()


def test_rates_of_a_long_axis_are_averaged_in_at_most_max_rates_bins(tmp_path: Path) -> None:
    # One value per index: a 408-byte file of 2**24 timesteps took 1 GB to report (--json 2.1 GB,
    # --plot 2.35 GB). A longer axis is averaged over bins of consecutive indices, the last short.
    from spikecodec import stats

    rng = np.random.default_rng(9)
    x = (rng.random((2 * stats.MAX_RATES + 3, 3, 5)) < 0.3).astype(np.uint8)  # bins of 3 indices, the last of 2
    with spikecodec.open(spikecodec.encode(x, axes="TCW", chunk=(1000,))) as r:
        rates = stats.firing_rates(r)
    per_t = x.reshape(len(x), -1).mean(axis=1)
    want = [per_t[i : i + 3].mean() for i in range(0, len(x), 3)]
    assert rates.time_bin == 3 and len(rates.per_timestep) == len(want) <= stats.MAX_RATES
    np.testing.assert_allclose(rates.per_timestep, want)
    assert rates.channel_bin == 1 and np.allclose(rates.per_channel, x.mean(axis=(0, 2)))
    short = x[:50]
    with spikecodec.open(spikecodec.encode(short, axes="TCW")) as r:
        rates = stats.firing_rates(r)
    assert rates.time_bin == 1 and np.allclose(rates.per_timestep, short.reshape(50, -1).mean(axis=1))
    path = tmp_path / "long.spk"
    path.write_bytes(spikecodec.encode(x, axes="TCW"))
    assert "each the mean of 3 consecutive indices" in ok("inspect", path, "--stats").stdout.decode()


@pytest.mark.parametrize("block", [7, 1 << 16])
def test_rates_are_summed_in_blocks_of_an_axis_with_the_same_result(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    # A chunk's per-index sums were made whole (8 bytes an index) with their bins' indices: a
    # 1,284-byte file of 2**28 channels in one chunk took 4.6 GB for inspect --stats. Blocks of
    # SUM_BLOCK indices bound that; the rates are the same with blocks of 7 as of 65536.
    from spikecodec import stats

    monkeypatch.setattr(stats, "SUM_BLOCK", block)
    rng = np.random.default_rng(3)
    x = (rng.random((2 * stats.MAX_RATES + 3, 2, 3 * stats.MAX_RATES + 1)) < 0.2).astype(np.uint8)  # both axes binned
    with spikecodec.open(spikecodec.encode(x, axes="TNC", codec="raw", chunk=(300, 2))) as r:
        rates = stats.firing_rates(r)
    per_t, per_c = x.mean(axis=(1, 2)), x.mean(axis=(0, 1))
    np.testing.assert_allclose(rates.per_timestep, [per_t[i : i + rates.time_bin].mean() for i in range(0, len(per_t), rates.time_bin)])
    np.testing.assert_allclose(rates.per_channel, [per_c[i : i + rates.channel_bin].mean() for i in range(0, len(per_c), rates.channel_bin)])
    small = x[:40, :, :50]
    with spikecodec.open(spikecodec.encode(small, axes="TNC", codec="raw", chunk=(9,))) as r:
        rates = stats.firing_rates(r)
    assert rates.time_bin == rates.channel_bin == 1
    np.testing.assert_allclose(rates.per_channel, small.mean(axis=(0, 1)))


def test_inspect_plot_of_an_empty_array(tmp_path: Path) -> None:
    # numpy's "cannot reshape array of size 0 into shape (0,newaxis)", exit 1, before.
    path = tmp_path / "empty.spk"
    path.write_bytes(spikecodec.encode(np.zeros((0, 4), np.uint8)))
    proc = ok("inspect", path, "--stats", "--plot", tmp_path / "e.png")
    assert (tmp_path / "e.png").stat().st_size > 0, proc.stderr


def test_inspect_shows_the_header_extensions_and_a_stream_id(tmp_path: Path) -> None:
    enc = spikecodec.LinkEncoder((2, 3), stream_id=bytes(range(16)))
    path = tmp_path / "link.spk"
    path.write_bytes(enc.header + enc.encode(np.zeros((2, 3), np.uint8)) + enc.end())
    assert ("extensions      compact-records, keyed-checks, message-ends, stream-id 000102030405060708090a0b0c0d0e0f"
            in ok("inspect", path).stdout.decode())
    report = json.loads(ok("inspect", path, "--json").stdout)
    assert report["extensions"][-1] == {"name": "stream-id", "required": False, "bytes": 16, "hex": bytes(range(16)).hex()}


def test_encode_without_codec_picks_the_default_of_the_element_type(tmp_path: Path, spikes: np.ndarray) -> None:
    """framemix for spikes and counts (format 1.12); --level alone is refused as before, since no
    default codec has a level."""
    counts = (spikes * np.arange(1, 4).repeat(2)[None, None, :, None, None]).astype(np.uint8)
    for name, array, codec in (("spikes", spikes, "framemix"), ("counts", counts, "framemix")):
        np.save(tmp_path / f"{name}.npy", array)
        ok("encode", tmp_path / f"{name}.npy", "-o", tmp_path / f"{name}.spk", "-q")
        assert spikecodec.open(tmp_path / f"{name}.spk").codec == [{"id": codec}]
        np.testing.assert_array_equal(spikecodec.load(tmp_path / f"{name}.spk"), array)
    one_line_error(sc("encode", tmp_path / "counts.npy", "-o", tmp_path / "x.spk", "--level", "3"), "--level", code=2)
    assert not (tmp_path / "x.spk").exists()


def test_encode_in_the_balanced_mode_and_what_it_refuses(tmp_path: Path, spikes: np.ndarray) -> None:
    """--codec neuronmix (format 1.13) round-trips on threads; it takes no prior, and says so in
    one line, writing nothing."""
    np.save(tmp_path / "x.npy", spikes)
    ok("encode", tmp_path / "x.npy", "-o", tmp_path / "x.spk", "--codec", "neuronmix", "--threads", "2", "-q")
    with spikecodec.open(tmp_path / "x.spk") as r:
        assert r.codec == [{"id": "neuronmix"}] and r.version == (1, 13)
    np.testing.assert_array_equal(spikecodec.load(tmp_path / "x.spk"), spikes)
    one_line_error(sc("train-prior", tmp_path / "x.npy", "-o", tmp_path / "p.prior", "--codec", "neuronmix"), "neuronmix", code=2)
    assert not (tmp_path / "p.prior").exists()
    spikecodec.train_prior(spikes, "framemix").save(tmp_path / "f.prior")
    one_line_error(sc("encode", tmp_path / "x.npy", "-o", tmp_path / "z.spk", "--codec", "neuronmix", "--prior", tmp_path / "f.prior"),
                   "neuronmix")
    assert not (tmp_path / "z.spk").exists()


def test_metadata_nested_as_deep_as_a_header_takes_survives_npz_and_back(tmp_path: Path, spikes: np.ndarray) -> None:
    # The stored metadata of an .npz or .h5 was capped at 64 levels where a header takes 512
    # (FORMAT.md 1): a valid file decoded to .npz could not be encoded again.
    deep = "[" * 500 + "]" * 500
    np.save(tmp_path / "x.npy", spikes)
    ok("encode", tmp_path / "x.npy", "-o", tmp_path / "a.spk", "--meta", f"a={deep}")
    ok("decode", tmp_path / "a.spk", "-o", tmp_path / "a.npz")
    ok("encode", tmp_path / "a.npz", "-o", tmp_path / "b.spk")
    with spikecodec.open(tmp_path / "b.spk") as r:
        assert json.dumps(r.metadata["a"], separators=(",", ":")) == deep


def test_train_prior_blames_the_one_sample_at_fault(tmp_path: Path, spikes: np.ndarray) -> None:
    # "good.spk, good.spk, bad.spk: at byte 81: ..." named every sample for one's fault.
    good = tmp_path / "good.spk"
    spikecodec.save(good, spikes, codec="context", chunk=(spikes.shape[0], 2))
    bad = bytearray(good.read_bytes())
    with spikecodec.open(bytes(bad)) as r:
        first = r.entries[0]
    bad[first.offset + first.size - 5] ^= 0x40  # a payload byte: the record's CRC fails
    (tmp_path / "bad.spk").write_bytes(bytes(bad))
    message = one_line_error(sc("train-prior", good, good, tmp_path / "bad.spk", "-o", tmp_path / "p.prior", "--codec", "context"),
                             "bad.spk")
    assert "good.spk" not in message and not (tmp_path / "p.prior").exists()
    np.save(tmp_path / "ok.npy", spikes)
    np.save(tmp_path / "neg.npy", -spikes.astype(np.int16) - 1)
    message = one_line_error(sc("train-prior", tmp_path / "ok.npy", tmp_path / "neg.npy", "-o", tmp_path / "p.prior"),
                             "neg.npy", "does not fit")
    assert "ok.npy" not in message
