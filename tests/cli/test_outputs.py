"""Every command's output, wherever it is asked to go: through symbolic links, devices and FIFOs,
keeping modes, never over an input, never truncated silently, cleaned up on every signal
(spikecodec.output). The cases are generated: every output-writing command x every kind of
destination."""

from __future__ import annotations

import contextlib
import io
import os
import resource
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import spikecodec
from spikecodec_cli.main import main

rng = np.random.default_rng(3)
SPIKES = (rng.random((4, 3, 5, 6, 6)) < 0.3).astype(np.uint8)


def run(*args: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def one_line(code: int, err: str, want: int, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert code == want and len(lines) == 1 and lines[0].startswith("spikecodec: error: "), (code, err)
    for f in fragments:
        assert f in lines[0], (f, err)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    np.save(tmp_path / "in.npy", SPIKES)
    spikecodec.save(tmp_path / "in.spk", SPIKES, chunk=1)
    spikecodec.save(tmp_path / "train.spk", SPIKES, chunk=(1,), codec="ctxmix")
    return tmp_path


# command -> (arguments writing to OUT, the output's suffix, the inputs it reads)
COMMANDS = {
    "encode": (lambda d, out: ["encode", d / "in.npy", "-o", out, "-q"], ".spk", ["in.npy"]),
    "decode": (lambda d, out: ["decode", d / "in.spk", "-o", out, "-q"], ".npy", ["in.spk"]),
    "decode-h5": (lambda d, out: ["decode", d / "in.spk", "-o", out, "-q"], ".h5", ["in.spk"]),
    "decode-pt": (lambda d, out: ["decode", d / "in.spk", "-o", out, "-q"], ".pt", ["in.spk"]),
    "decode-npz": (lambda d, out: ["decode", d / "in.spk", "-o", out, "-q"], ".npz", ["in.spk"]),
    "recover": (lambda d, out: ["recover", d / "in.spk", "-o", out, "-q"], ".spk", ["in.spk"]),
    "train-prior": (lambda d, out: ["train-prior", d / "train.spk", "-o", out, "-q"], ".prior", ["train.spk"]),
    "inspect-plot": (lambda d, out: ["inspect", d / "in.spk", "--plot", out], ".png", ["in.spk"]),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_symbolic_link_keeps_pointing_at_the_new_output(command: str, work: Path):
    args, suffix, _ = COMMANDS[command]
    target, link = work / f"target{suffix}", work / f"link{suffix}"
    target.write_bytes(b"old")
    target.chmod(0o640)
    link.symlink_to(target.name)
    code, _, err = run(*args(work, link))
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == target.name
    assert target.stat().st_size > 3 and stat.S_IMODE(target.stat().st_mode) == 0o640  # replaced, mode kept
    assert not [p for p in work.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_fifo_is_written_through(command: str, work: Path):
    args, suffix, _ = COMMANDS[command]
    fifo = work / f"pipe{suffix}"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    try:
        code, _, err = run(*args(work, fifo))
        reader.join(30)
    finally:
        if reader.is_alive() and stat.S_ISFIFO(os.stat(fifo).st_mode):  # release a reader nobody wrote to
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert code == 0, err
    assert stat.S_ISFIFO(fifo.stat().st_mode) and got and len(got[0]) > 16
    if suffix == ".npy":
        np.testing.assert_array_equal(np.load(io.BytesIO(got[0])), SPIKES)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_output_that_is_an_input_is_refused_before_any_work(command: str, work: Path):
    args, suffix, inputs = COMMANDS[command]
    victim = work / inputs[0]
    before = victim.read_bytes()
    alias = work / f"alias{suffix}"
    alias.symlink_to(victim.name)  # the same file under another name
    for out in (victim, alias):
        code, _, err = run(*args(work, out))
        if suffix != victim.suffix and out == victim:
            assert code != 0  # a format the command does not write: refused for that reason
        else:
            one_line(code, err, 1, "is also an input")
        assert victim.read_bytes() == before


def _spikecodec(*args: object, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "spikecodec", *map(str, args)], stderr=subprocess.PIPE, **kwargs)


def _file_size_limit() -> None:  # in the child: every write past 4 KiB fails (EFBIG), as on a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))


@pytest.mark.parametrize("command", ["encode", "decode", "decode-h5", "decode-pt", "recover", "train-prior"])
def test_a_write_that_fails_is_an_error_and_leaves_nothing(command: str, work: Path):
    """A full disk or a file-size limit: one error line, no output, no temporary file (HDF5,
    which once crashed on a full disk, and torch, which raised RuntimeError, write into memory
    first)."""
    big = (rng.random((8, 16, 8, 16, 16)) < 0.5).astype(np.uint8)
    np.save(work / "in.npy", big)
    spikecodec.save(work / "in.spk", big, chunk=1, codec="raw")
    spikecodec.save(work / "train.spk", big, chunk=(1,), codec="ctxmix")
    args, suffix, _ = COMMANDS[command]
    out = work / f"out{suffix}"
    proc = _spikecodec(*args(work, out), preexec_fn=_file_size_limit)
    _, err = proc.communicate(timeout=120)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("spikecodec: error: "), err
    assert "File too large" in lines[0] or "short write" in lines[0], lines[0]
    assert not out.exists() and not [p for p in work.iterdir() if p.name.endswith(".tmp")]


def test_a_file_size_limit_is_an_error_not_a_truncated_success(work: Path):
    out = work / "o.npy"
    big = work / "big.spk"
    spikecodec.save(big, (rng.random((4, 64, 16, 16, 16)) < 0.2), codec="raw")
    with open(out, "wb") as f:
        proc = _spikecodec("decode", big, "-o", "-", stdout=f, preexec_fn=_file_size_limit)
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spikecodec: error: ") and "File too large" in lines[0]


def test_a_closed_stdout_is_one_line(work: Path):
    proc = _spikecodec("decode", work / "in.spk", "-o", "-", stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                       close_fds=True, preexec_fn=lambda: os.close(1))
    _, err = proc.communicate(timeout=120)
    lines = err.decode().strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and "standard output is closed" in lines[0], err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signals_leave_no_temporary_file(signum: int, work: Path):
    big = work / "big.spk"
    spikecodec.save(big, (rng.random((8, 128, 32, 16, 16)) < 0.2), codec="context")
    proc = _spikecodec("decode", big, "-o", work / "out.npy", "-q")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(work.glob(".out.npy.*.tmp")):
        time.sleep(0.005)  # the output's temporary file exists: the decode is under way
    proc.send_signal(signum)
    proc.communicate(timeout=60)
    assert proc.returncode in (1, 128 + signum, -signum)  # 130 for SIGTERM and SIGHUP too before; -signum: before the handlers
    assert not list(work.glob(".*.tmp")) and not (work / "out.npy").exists()


WATCHDOG = r"""
import sys, time
import numpy as np
from numba import njit
from spikecodec.output import atomic_path, terminate_cleanly

@njit(nogil=True)
def spin(seconds):  # compiled code holding no GIL, as the codecs' kernels
    x = 0.0
    for i in range(int(seconds * 2e8)):
        x += i * 1e-9
    return x

spin(0.001)
with terminate_cleanly(last_words=lambda signum: f"ended by signal {signum}\n"), atomic_path(sys.argv[1]) as tmp:
    print(tmp, flush=True)
    spin(30.0)
"""


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_signal_during_compiled_code_ends_the_process_promptly(tmp_path: Path):
    """The main thread sees a signal only between bytecodes; inside a long kernel the watchdog
    thread removes the temporary file, says the command's last line (the command line's "error:
    terminated"; before, it said nothing then) and ends the process itself."""
    proc = subprocess.Popen([sys.executable, "-c", WATCHDOG, str(tmp_path / "out.bin")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    tmp = proc.stdout.readline().decode().strip()
    assert Path(tmp).exists()
    # Signal only once the child is spinning in the kernel: sent between its print and the call,
    # the signal is the main thread's (a KeyboardInterrupt), which on a loaded machine happened.
    spun_from, deadline = _cpu_seconds(proc.pid), time.monotonic() + 30
    while _cpu_seconds(proc.pid) - spun_from < 0.3 and time.monotonic() < deadline:
        time.sleep(0.02)
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)
    assert proc.returncode == 128 + signal.SIGTERM and time.monotonic() - start < 5
    assert not Path(tmp).exists() and not (tmp_path / "out.bin").exists()
    assert proc.stderr.read().decode() == f"ended by signal {int(signal.SIGTERM)}\n"


def test_a_file_the_caller_cannot_write_is_refused_not_replaced(work: Path, monkeypatch):
    # A rename ignores the file's mode: save() replaced a read-only file that open(path, "wb")
    # (np.save, cp as a user) refuses. The check is os.access, so root - who may open any file
    # for writing, and runs this suite - still replaces it; a user is refused. Here the user's
    # answer is simulated.
    target = work / "kept.spk"
    target.write_bytes(b"precious")
    target.chmod(0o444)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if os.fspath(p) == str(target) and mode == os.W_OK
                        else real_access(p, mode, **kw))
    with pytest.raises(OSError, match="not writable"):
        spikecodec.save(target, np.zeros((2, 3), np.uint8))
    assert target.read_bytes() == b"precious"
    assert not [p for p in work.iterdir() if p.name.endswith(".tmp")]
    code, _, err = run("encode", work / "in.npy", "-o", target, "-q")
    one_line(code, err, 1, "not writable")
    assert target.read_bytes() == b"precious"


def test_standard_input_read_from_a_file_is_an_input_for_the_output_check(work: Path):
    # `encode - -o /dev/stdin < keep.npy` replaced keep.npy, then failed reading its summary.
    keep = work / "named-as-output.spk"  # .npy bytes under a name encode may write
    keep.write_bytes((work / "in.npy").read_bytes())
    before = keep.read_bytes()
    for out in ("/dev/stdin", str(keep)):
        with open(keep, "rb") as stdin:
            done = subprocess.run([sys.executable, "-m", "spikecodec", "encode", "-", "-o", out], stdin=stdin,
                                  capture_output=True, text=True, cwd=work)
        assert done.returncode == 1 and "standard input is read from it" in done.stderr, done.stderr
        assert keep.read_bytes() == before
    with open(keep, "rb") as stdin:
        done = subprocess.run([sys.executable, "-m", "spikecodec", "encode", "-", "-o", "other.spk"], stdin=stdin,
                              capture_output=True, text=True, cwd=work)
    assert done.returncode == 0, done.stderr


def test_summary_lines_escape_control_characters_in_names(work: Path):
    # Error lines escaped them; the lines saying what was written did not: a newline split the
    # line, and a name could send terminal escapes.
    odd = work / "x\n\x1b[31mRED\u202e.spk"
    code, out, err = run("encode", work / "in.npy", "-o", odd)
    assert code == 0 and len(err.strip().splitlines()) == 1 and "\\x1b[31mRED\\u202e.spk:" in err and "\x1b" not in err
    for args in (["decode", odd, "-o", work / "y\n.npy"], ["recover", odd, "-o", work / "z\n.spk"]):
        code, out, err = run(*args)
        assert code == 0 and "\n" not in err.strip() and "\\n" in err, err
    code, out, err = run("inspect", odd)
    assert code == 0 and "file            " + str(work) + "/x\\n\\x1b[31mRED\\u202e.spk" in out


def test_a_folder_that_cannot_be_listed_is_said_so(work: Path, monkeypatch: pytest.MonkeyPatch):
    # `validate DIR` of a folder its user cannot list said "no .spk file in this folder".
    (work / "sub").mkdir()
    spikecodec.save(work / "sub" / "a.spk", SPIKES)
    real = os.scandir

    def refusing(path="."):
        if os.path.basename(os.fspath(path)) in ("locked", "sub"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    (work / "locked").mkdir()
    monkeypatch.setattr(os, "scandir", refusing)
    code, out, err = run("validate", work / "locked")
    one_line(code, err, 2, "locked: cannot list this folder: Permission denied")
    code, out, err = run("validate", work)
    assert code == 0 and "sub: cannot list it (Permission denied), not read" in err


def test_sizes_are_whole_and_an_empty_plot_name_is_refused(work: Path):
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "spikecodec", "decode", "in.spk", "-o", "o.npy", *args],
                              capture_output=True, text=True, cwd=work)

    for option in ("--max-bytes", "--max-work"):
        done = cli(option, "1.5")
        assert done.returncode == 2 and "expected a whole number, got '1.5'" in done.stderr  # was taken as 1
    done = cli("--max-bytes", "9" * 5000)
    assert done.returncode == 2 and len(done.stderr) < 1000  # the value is not echoed in full
    code, _, err = run("decode", work / "in.spk", "-o", work / "o.npy", "--max-bytes", "0.5G")
    assert code == 0, err
    code, _, err = run("inspect", work / "in.spk", "--plot", "")
    one_line(code, err, 2, "--plot: an empty name names no file")


def test_a_report_to_a_closed_standard_output_is_an_error(work: Path):
    # inspect, validate and models printed into a closed stdout (>&-) and exited 0: the report lost.
    for args in (["inspect", "in.spk"], ["validate", "in.spk"], ["models"]):
        done = subprocess.run([sys.executable, "-m", "spikecodec", *args], stdout=subprocess.DEVNULL, capture_output=False,
                              stderr=subprocess.PIPE, text=True, cwd=work, close_fds=True,
                              preexec_fn=lambda: os.close(1))
        assert done.returncode == 1 and "standard output is closed" in done.stderr, (args, done.stderr)
    done = subprocess.run([sys.executable, "-m", "spikecodec", "validate", "-q", "in.spk"], stderr=subprocess.PIPE, text=True,
                          cwd=work, preexec_fn=lambda: os.close(1))
    assert done.returncode == 0, done.stderr  # -q: the exit status is the answer


def test_encode_reads_a_spike_file_that_names_the_prior_given(work: Path):
    # Before: --prior served the output only, so a spike file naming that prior could not be
    # re-encoded ("... which was not given (pass it: --prior FILE)", with --prior given).
    prior = spikecodec.train_prior(SPIKES, "ctxmix", chunk=1)
    prior.save(work / "p.prior")
    spikecodec.save(work / "named.spk", SPIKES, codec="ctxmix", chunk=1, prior=prior)
    code, _, err = run("encode", work / "named.spk", "-o", work / "again.spk", "--codec", "ctxmix", "--chunk", "1", "--prior", work / "p.prior", "-q")
    assert code == 0, err
    np.testing.assert_array_equal(spikecodec.load(work / "again.spk", priors=prior), SPIKES)
    code, _, err = run("encode", work / "named.spk", "-o", work / "packed.spk", "--codec", "raw", "-q")
    one_line(code, err, 1, "was not given")  # without it, as before


def test_max_bytes_counts_the_tables_of_a_prior_file_given(work: Path):
    prior = spikecodec.train_prior(SPIKES, "ctxmix", chunk=1)
    prior.save(work / "p.prior")
    spikecodec.save(work / "named.spk", SPIKES, codec="ctxmix", chunk=1, prior=prior)
    for command in (["decode", work / "named.spk", "-o", work / "out.npy"], ["validate", work / "named.spk"]):
        code, _, err = run(*command, "--prior", work / "p.prior", "--max-bytes", str(prior.nbytes - 1))
        one_line(code, err, 3, "p.prior", f"its tables take {prior.nbytes} bytes")
    assert not (work / "out.npy").exists()


API_WRITE_FAILS = r"""
import resource, sys
import numpy as np
import spikecodec
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
x = (np.random.default_rng(0).random((4, 64, 16, 7, 7)) < 0.3).astype(np.uint8)
prior = spikecodec.train_prior(x[:, :8], "ctxmix", chunk=(4, 1))


def write_frames(target):
    with spikecodec.SpikeWriter(target, codec="raw") as w:
        w.write_frames(x)


for target in sys.argv[1:]:
    for what, write in (("save", lambda: spikecodec.save(target, x, codec="raw")), ("prior", lambda: prior.save(target)),
                        ("writer", lambda: write_frames(target + ".stream" if target.endswith(".spk") else target))):
        try:
            write()
            print(what, "no error")
        except spikecodec.OutputError as exc:
            print(what, "OutputError", exc.filename in (target, target + ".stream"))
        except OSError as exc:
            print(what, type(exc).__name__, exc)
"""


def test_a_write_that_fails_is_an_output_error_naming_the_output(tmp_path: Path):
    # Before: save(), Prior.save and SpikeWriter on a full disk (/dev/full) or past a file-size
    # limit raised a bare OSError ("No space left on device"), not the OutputError the README
    # promises, and did not say where.
    target = tmp_path / "big.spk"
    run = subprocess.run([sys.executable, "-c", API_WRITE_FAILS, str(target), "/dev/full"], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [f"{what} OutputError True" for what in ("save", "prior", "writer")] * 2
    assert not target.exists() and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # whole or not at all


@pytest.mark.parametrize("codec, says", [("raw", "codec 'raw' has no model state to train"), ("nope", "unknown codec id 'nope'")])
def test_train_prior_with_a_codec_that_cannot_train_is_a_usage_error(work: Path, codec: str, says: str):
    # Before: exit 1 and the first sample file blamed for the option's fault.
    code, _, err = run("train-prior", work / "train.spk", "-o", work / "p.prior", "--codec", codec)
    one_line(code, err, 2, "--codec: " + says)
    assert not (work / "p.prior").exists()


def test_validate_with_a_prior_that_does_not_load_is_no_verdict_on_the_files(work: Path):
    # Before: exit 1, validate's "a file does not conform", for a valid file and a missing --prior.
    (work / "bad.prior").write_bytes(b"not a prior file at all, but long enough")
    for prior, says in ((work / "missing.prior", "No such file or directory"), (work / "bad.prior", "bad signature")):
        code, _, err = run("validate", work / "in.spk", "--prior", prior)
        one_line(code, err, 2, says)
