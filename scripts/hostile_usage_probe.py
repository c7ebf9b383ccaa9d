#!/usr/bin/env python
"""Careless and hostile usage of the ``spikecodec`` command line, checked against issue 21's rules.

Generates about 220 cases in five classes (disclosure, outputs, unbounded resources, crashes,
deployment), runs each through the real command in a subprocess (``python -m spikecodec ...``,
in its own temporary folder), checks the outcome and writes ``results/hostile_usage.md`` and
``results/hostile_usage.json``: one row per case and a summary per class.

The rules, for every case that must be refused:

* the exit status is non-zero and the one the case expects (1 bad input or usage, 2 a usage
  error from argparse, 3 when only a size limit refused it);
* stderr is exactly one line, starting ``spikecodec: error: `` and naming what and where (the
  file or the option); no traceback anywhere;
* nothing is overwritten: every file that was there keeps its bytes, its mode and its type (a
  symbolic link stays one, pointing where it pointed; a FIFO stays a FIFO);
* nothing is left behind: no ``.*.tmp`` file anywhere in the case's folder (nor anything in the
  private TMPDIR the command is given), no output file created;
* the command's peak RSS (``os.wait4``, taken by a small wrapper that forks it: see WRAPPER)
  stays within max(64 MiB, 1.5 x the output the case may legitimately produce) over the peak of
  the same command on a tiny valid file (the lower of two runs);
* it takes at most 10 s of wall time (wall time, on a shared machine: see the load average
  recorded with the results).

Cases that must succeed (valid but unusual usage) must exit 0 and produce the right output, with
the same checks on memory, time, stray files and unchanged inputs. ``validate`` reports problems
on stdout by design: its refusals are checked as reports (status, every problem line naming the
file, stderr empty). A failing row is a finding: nothing here is relaxed to make a row pass.

Never points an output at a device node (the probe may run as root): FIFOs and symbolic links to
FIFOs in the case's folder stand in for them.

The whole run takes 6-8 minutes on 2 cores. Usage:
    .venv/bin/python scripts/hostile_usage_probe.py [--only SUBSTRING_OR_CLASS] [--no-write] [--list]
(--only runs a subset and never writes results/).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import os
import platform
import resource
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "robustness"))
import hostile  # noqa: E402  (structure-aware patching of spike files: parse, set_field, seal)

import spikecodec  # noqa: E402

PY = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
MIB = 1 << 20
GIB = 1 << 30
MARKER = "SECRET-MARKER-5f3a9c1e-do-not-disclose"
PREFIX = "spikecodec: error: "
MEMORY_FLOOR = 64 * MIB
TIME_LIMIT = 10.0
CASE_TIMEOUT = 90.0
VECTORS = ROOT / "spec" / "vectors" / "valid"
RESULTS = ROOT / "results"


# --- running a command -------------------------------------------------------------------------------


@dataclass
class Run:
    rc: int | None
    stdout: bytes
    stderr: bytes
    maxrss_kib: int
    wall: float
    timed_out: bool = False
    extra: dict = field(default_factory=dict)


def child_env(case_dir: Path, extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "NUMBA_")) or k == "PYTHONPATH"}
    env["TMPDIR"] = str(case_dir / "_tmp")  # what the command leaves in its temporary folder is seen
    env["COLUMNS"] = "200"
    if extra:
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
    return env


# The command runs under a small Python wrapper that forks and execs it and reports its pid and
# os.wait4's rusage on a pipe. Linux counts the RSS a process had before exec in its peak
# (exec_mmap keeps the old mm's high-water mark), so a command forked straight from this probe,
# which holds numpy, h5py and torch, would never measure below the probe's own size.
WRAPPER = r"""
import os, sys, signal
fd = int(sys.argv[1])
pid = os.fork()
if pid == 0:
    os.close(fd)
    try:
        os.execv(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
for std in (0, 1, 2):
    try:
        os.close(std)
    except OSError:
        pass
os.write(fd, b"pid %d\n" % pid)
_, status, ru = os.wait4(pid, 0)
os.write(fd, b"done %d %d\n" % (status, ru.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
os._exit(code & 0xFF)
"""


def run_command(argv: list[str], cwd: Path, *, stdin: bytes | Path | None = None, stdout_file: Path | None = None,
                env: dict | None = None, preexec: Callable[[], None] | None = None, timeout: float = CASE_TIMEOUT,
                during: Callable[[Any, float], dict] | None = None, stdout_pipe_reader: Callable | None = None) -> Run:
    """Run ``argv`` and measure it: exit status, both outputs, the command's peak RSS (os.wait4,
    in the wrapper) and wall time. ``during(proc, t0)`` runs while the command does (signals);
    ``proc.pid`` there is the command's own pid."""
    stdin_arg: Any = subprocess.DEVNULL
    if isinstance(stdin, Path):
        stdin_arg = open(stdin, "rb")
    elif isinstance(stdin, bytes):
        stdin_arg = subprocess.PIPE
    out_arg: Any = open(stdout_file, "wb") if stdout_file is not None else subprocess.PIPE
    report_r, report_w = os.pipe()
    t0 = time.monotonic()
    wrapper = subprocess.Popen([PY, "-I", "-S", "-c", WRAPPER, str(report_w), *argv], cwd=cwd, stdin=stdin_arg, stdout=out_arg,
                               stderr=subprocess.PIPE, env=env, preexec_fn=preexec, start_new_session=True, pass_fds=(report_w,))
    os.close(report_w)
    report = os.fdopen(report_r, "rb")
    first = report.readline().split()
    child = _Child(int(first[1]) if len(first) == 2 and first[0] == b"pid" else wrapper.pid, wrapper)
    buffers: dict[str, bytes] = {"out": b"", "err": b""}

    def drain(name: str, stream: Any) -> None:
        chunks = []
        total = 0
        while True:
            piece = stream.read(1 << 16)
            if not piece:
                break
            if total < 64 * MIB:  # keep what a check needs; a flood is still drained
                chunks.append(piece)
            total += len(piece)
        buffers[name] = b"".join(chunks)

    threads = [threading.Thread(target=drain, args=("err", wrapper.stderr), daemon=True)]
    if stdout_file is None and stdout_pipe_reader is None:
        threads.append(threading.Thread(target=drain, args=("out", wrapper.stdout), daemon=True))
    if stdin_arg is subprocess.PIPE:
        def feed() -> None:
            with contextlib.suppress(BrokenPipeError, OSError):
                wrapper.stdin.write(stdin)  # type: ignore[union-attr, arg-type]
                wrapper.stdin.close()  # type: ignore[union-attr]
        threads.append(threading.Thread(target=feed, daemon=True))
    for t in threads:
        t.start()
    extra: dict = {}
    fired: list[bool] = []

    def kill() -> None:  # the command first, so that the wrapper still reports its rusage
        fired.append(True)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(child.pid, signal.SIGKILL)
        time.sleep(5)
        _kill_group(wrapper.pid)

    killer = threading.Timer(timeout, kill)
    killer.daemon = True
    killer.start()
    try:
        if stdout_pipe_reader is not None:
            extra.update(stdout_pipe_reader(wrapper) or {})
        if during is not None:
            extra.update(during(child, t0) or {})
        done = report.readline().split()
        wrapper.wait()
    finally:
        killer.cancel()
    wall = time.monotonic() - t0
    report.close()
    if len(done) == 3 and done[0] == b"done":
        rc, maxrss = os.waitstatus_to_exitcode(int(done[1])), int(done[2])
    else:  # the wrapper itself was killed (a time-out)
        rc, maxrss = wrapper.returncode, 0
    for t in threads:
        t.join(10)
    for f in (stdin_arg, out_arg):
        if hasattr(f, "close") and f not in (subprocess.PIPE, subprocess.DEVNULL):
            f.close()
    for s in (wrapper.stdout, wrapper.stderr, wrapper.stdin):
        if s is not None:
            with contextlib.suppress(OSError):
                s.close()
    return Run(rc, buffers["out"], buffers["err"], maxrss, wall, bool(fired), extra)


class _Child:
    """The command under the wrapper: its pid (for signals) and whether it still runs."""

    def __init__(self, pid: int, wrapper: subprocess.Popen):
        self.pid = pid
        self.wrapper = wrapper

    def poll(self) -> int | None:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return 0
        with open(f"/proc/{self.pid}/stat") as f:
            return 0 if f.read().rsplit(")", 1)[1].split()[0] == "Z" else None


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def spk(*args: str) -> list[str]:
    return [PY, "-m", "spikecodec", *args]


# --- snapshots of a folder -----------------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under ``root`` (links not followed): its type, mode and content (regular
    files: digest; links: target; FIFOs and others: nothing is opened)."""
    entries: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = os.lstat(p)
            mode = st.st_mode
            if stat.S_ISLNK(mode):
                entries[rel] = ("link", os.readlink(p))
            elif stat.S_ISREG(mode):
                entries[rel] = ("file", stat.S_IMODE(mode), _digest(p))
            elif stat.S_ISDIR(mode):
                entries[rel] = ("dir", stat.S_IMODE(mode))
            elif stat.S_ISFIFO(mode):
                entries[rel] = ("fifo", stat.S_IMODE(mode))
            else:
                entries[rel] = ("other", stat.S_IFMT(mode), stat.S_IMODE(mode))
    return entries


def _digest(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def describe_entry(e: tuple | None) -> str:
    if e is None:
        return "absent"
    if e[0] == "file":
        return f"file {oct(e[1])} {e[2][:8]}"
    if e[0] == "link":
        return f"link -> {e[1]}"
    return " ".join(str(x) for x in e)


# --- the cases ------------------------------------------------------------------------------------------


@dataclass
class Case:
    cls: str
    name: str
    args: list[str]  # after `spikecodec`
    expect: str  # ok | fail | report (validate's problems on stdout) | any (ok or a clean refusal) | quiet
    codes: tuple[int, ...] = (1,)  # the non-zero statuses a refusal may have
    names: tuple[str, ...] = ()  # a refusal's line names one of these (file or option)
    setup: Callable[[Path], None] | None = None
    verify: Callable[[Path, Run], list[str]] | None = None  # more checks (outputs of a success)
    outputs: tuple[str, ...] = ()  # entries a success may create or change
    baseline: str | None = None  # the tiny valid command whose peak RSS is the reference
    declared: int = 0  # bytes of output this case may legitimately produce (memory allowance)
    stdin: bytes | str | None = None  # bytes, or the name of a file in the case's folder
    stdout_file: str | None = None  # stdout redirected to this file of the case's folder
    fsize: int | None = None  # RLIMIT_FSIZE of the child
    close_stdout: bool = False
    env: dict | Callable[[Path], dict] | None = None
    runner: Callable[["Case", Path], Run] | None = None  # a command that needs more than one run
    secret: bool = False  # MARKER must appear in nothing the command wrote
    time_limit: float | None = TIME_LIMIT
    timeout: float = CASE_TIMEOUT  # the child is killed after this
    display: str | None = None  # the command as shown in the table, when it is not just the args
    note: str = ""


CASES: list[Case] = []


def case(*args: Any, **kw: Any) -> Case:
    c = Case(*args, **kw)
    CASES.append(c)
    return c


# --- building files -------------------------------------------------------------------------------------


def spikes(shape: tuple[int, ...] = (2, 3, 4, 5, 5), seed: int = 0, rate: float = 0.2) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) < rate).astype(np.uint8)


TINY = spikes()


def save_spk(path: Path, array: np.ndarray = TINY, **kw: Any) -> None:
    spikecodec.save(str(path), array, **kw)


def save_npy(path: Path, array: np.ndarray = TINY) -> None:
    np.save(path, array)


def as_decode_writes(path: Path, array: np.ndarray = TINY, axes: tuple[str, ...] = ("T", "N", "C", "H", "W"),
                     metadata: dict | None = None) -> None:
    """An .npz/.h5/.pt file exactly as `spikecodec decode` writes it (its own writer, in process)."""
    from spikecodec_cli.io_formats import write_array

    write_array(str(path), array, axes, metadata if metadata is not None else {"model": "m"}, 1)


def vector(name: str) -> bytes:
    return (VECTORS / f"{name}.spk").read_bytes()


def fields_of(data: bytes) -> dict[str, tuple[int, int]]:
    return {name: (off, width) for off, width, name in hostile.parse(data).fields}


def patched(data: bytes, values: dict[str, int], rebuild_index: bool = False) -> bytes:
    f = fields_of(data)
    for name, value in values.items():
        data = hostile.set_field(data, *f[name], value)
    return hostile.seal(data, rebuild_index=rebuild_index)


def declaring(nbytes: int) -> bytes:
    """context-zeros (3, N, 4, 6, 6) in one chunk, N raised until it declares >= nbytes: a
    221-byte file whose 8-byte payload decodes to that many zeros."""
    n = -(-nbytes // (3 * 4 * 36))
    return patched(vector("context-zeros"), {"shape[1]": n})


def many_chunks(n_chunks: int, chunk_bytes: int) -> bytes:
    """context-zeros' one chunk repeated ``n_chunks`` times along T, each declaring about
    ``chunk_bytes`` decoded bytes: a few KB that stand for n_chunks x chunk_bytes."""
    d = vector("context-zeros")
    head, recs = hostile.records(d)
    n = max(1, chunk_bytes // (3 * 4 * 36))
    f = fields_of(d)
    head = hostile.set_field(head, *f["shape[0]"], 3 * n_chunks)
    head = hostile.set_field(head, *f["shape[1]"], n)
    out = []
    for i in range(n_chunks):
        r = bytearray(recs[0])
        struct.pack_into("<Q", r, 16, 3 * i)  # origin[0]
        out.append(bytes(r))
    return hostile.seal(head + b"".join(out), rebuild_index=True)


def npy_bytes(shape: Any, descr: str = "|u1", data: bytes = b"", fortran: bool = False) -> bytes:
    text = repr({"descr": descr, "fortran_order": fortran, "shape": shape})
    text += " " * (63 - (len(text) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1") + data


def raw_zip(entries: list[dict[str, Any]]) -> bytes:
    """A zip archive whose every field is chosen: name, data (as stored), method (0/8), size
    (uncompressed, as declared), crc."""
    out, central = bytearray(), bytearray()
    for e in entries:
        name, data = e["name"].encode(), e["data"]
        method = e.get("method", 0)
        size = e.get("size", len(data))
        crc = e.get("crc", zlib.crc32(data) if method == 0 else 0)
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), size, len(name), 0) + name + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(data), size,
                               len(name), 0, 0, 0, 0, 0, offset) + name
    start = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), start, 0)
    return bytes(out)


def zeros_deflate(mib: int, wbits: int, prefix: bytes = b"") -> bytes:
    """A deflate stream (raw -15, gzip 31) of ``prefix`` then ``mib`` MiB of zeros, built in
    milliseconds (after a full flush each MiB compresses to the same bytes). Its check value is
    wrong: nothing may read that far."""
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    first = c.compress(prefix + bytes(MIB)) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(bytes(MIB)) + c.flush(zlib.Z_FULL_FLUSH)
    return first + again * (mib - 1) + c.flush()


def png_bytes(width: int, height: int, idat: bytes | None = None, mode: int = 0) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, mode, 0, 0, 0)
    body = idat if idat is not None else zlib.compress(b"\0" * (width + 1) * min(height, 4))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


# --- shared assets (made once) ---------------------------------------------------------------------------

ASSETS: Path = Path()  # set in main()


def build_assets(top: Path) -> None:
    """Files several cases copy: a few real images, the edge stream of them (written by the
    real command), and a large zeros file for pipes and signals."""
    global ASSETS
    ASSETS = top / "assets"
    ASSETS.mkdir()
    images = np.load(ROOT / "spikecodec" / "data" / "fmnist_sample_images.npy")
    np.save(ASSETS / "images8.npy", images[:8])
    np.save(ASSETS / "images300.npy", images[:300])
    np.save(ASSETS / "labels8.npy", np.load(ROOT / "spikecodec" / "data" / "fmnist_sample_labels.npy")[:8].astype(np.int64))
    r = subprocess.run(spk("edge", "--images", "images8.npy", "-o", "stream8.spk", "-q"), cwd=ASSETS, capture_output=True)
    if r.returncode:
        raise SystemExit(f"could not make the edge stream asset: {r.stderr.decode()}")
    write(ASSETS / "big32.spk", many_chunks(4, 8 * MIB))  # 32 MiB
    write(ASSETS / "big256.spk", many_chunks(32, 8 * MIB))  # 256 MiB


def asset(name: str, d: Path, as_name: str | None = None) -> Path:
    target = d / (as_name or name)
    shutil.copyfile(ASSETS / name, target)
    return target


# --- baselines: the same command on a tiny valid file --------------------------------------------------------


def _tiny_inputs(d: Path) -> None:
    save_npy(d / "t.npy")
    save_spk(d / "t.spk")
    as_decode_writes(d / "t.npz")
    as_decode_writes(d / "t.h5")
    import torch

    torch.save(torch.from_numpy(TINY), d / "t.pt")
    asset("images8.npy", d, "imgs.npy")
    asset("stream8.spk", d, "s.spk")
    with gzip.open(d / "imgs.idx.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + b"".join(int(s).to_bytes(4, "big") for s in (2, 28, 28)) + bytes(2 * 784))
    (d / "pngs").mkdir()
    from PIL import Image

    for i in range(2):
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(d / "pngs" / f"{i:02d}.png")


BASELINES: dict[str, tuple[list[str], str | None]] = {
    "encode": (["encode", "t.npy", "-o", "o.spk"], None),
    "encode-stdin": (["encode", "-", "-o", "o.spk"], "t.npy"),
    "encode-npz": (["encode", "t.npz", "-o", "o.spk"], None),
    "encode-h5": (["encode", "t.h5", "-o", "o.spk"], None),
    "encode-pt": (["encode", "t.pt", "-o", "o.spk"], None),
    "encode-spk": (["encode", "t.spk", "-o", "o.spk"], None),
    "decode-npy": (["decode", "t.spk", "-o", "o.npy"], None),
    "decode-npz": (["decode", "t.spk", "-o", "o.npz"], None),
    "decode-h5": (["decode", "t.spk", "-o", "o.h5"], None),
    "decode-pt": (["decode", "t.spk", "-o", "o.pt"], None),
    "decode-stdout": (["decode", "t.spk", "-o", "-"], None),
    "inspect": (["inspect", "t.spk"], None),
    "inspect-stats": (["inspect", "t.spk", "--stats"], None),
    "inspect-plot": (["inspect", "t.spk", "--plot", "o.png"], None),
    "validate": (["validate", "t.spk"], None),
    "validate-stdin": (["validate", "-"], "t.spk"),
    "recover": (["recover", "t.spk", "-o", "o.spk"], None),
    "edge-npy": (["edge", "--images", "imgs.npy", "-o", "o.spk"], None),
    "edge-idx": (["edge", "--images", "imgs.idx.gz", "-o", "o.spk"], None),
    "edge-png": (["edge", "--images", "pngs", "-o", "o.spk"], None),
    "cloud": (["cloud", "s.spk", "-o", "o.npy"], None),
    "cloud-stdin": (["cloud", "-", "-o", "o.npy"], "s.spk"),
    "train-prior": (["train-prior", "t.spk", "-o", "o.prior"], None),
    "train-prior-npz": (["train-prior", "t.npz", "-o", "o.prior"], None),
    "train-prior-h5": (["train-prior", "t.h5", "-o", "o.prior"], None),
}
_baseline_rss: dict[str, int] = {}
BASELINE_ROWS: list[dict] = []


def baseline_rss(key: str, top: Path) -> int:
    if key not in _baseline_rss:
        d = top / "baselines" / key
        d.mkdir(parents=True)
        (d / "_tmp").mkdir()
        _tiny_inputs(d)
        args, stdin = BASELINES[key]
        runs = []
        for _ in range(2):  # the lower of two: a first run may compile a kernel the cache lacked
            run = run_command(spk(*args), d, stdin=(d / stdin) if stdin else None, env=child_env(d))
            if run.rc != 0:
                raise SystemExit(f"baseline {key} failed ({run.rc}): {run.stderr.decode(errors='replace')}")
            runs.append(run)
        run = min(runs, key=lambda r: r.maxrss_kib)
        _baseline_rss[key] = run.maxrss_kib
        BASELINE_ROWS.append({"key": key, "command": "spikecodec " + " ".join(args) + (f" < {stdin}" if stdin else ""),
                              "peak_rss_mib": round(run.maxrss_kib / 1024, 1), "wall_s": round(run.wall, 2)})
        print(f"  baseline {key}: {run.maxrss_kib / 1024:.0f} MiB, {run.wall:.1f} s", flush=True)
    return _baseline_rss[key]


# --- checks -------------------------------------------------------------------------------------------------


def stderr_lines(run: Run) -> list[str]:
    return [line for line in run.stderr.decode("utf-8", errors="replace").splitlines() if line.strip()]


def check(c: Case, d: Path, before: dict, after: dict, run: Run, base_kib: int | None) -> list[str]:
    problems: list[str] = []
    err = stderr_lines(run)
    text = run.stderr + run.stdout
    if b"Traceback" in text:
        problems.append("traceback")
    if run.timed_out:
        problems.append(f"hung: killed after {run.wall:.0f} s")
    if run.rc is not None and run.rc < 0:
        problems.append(f"killed by signal {-run.rc}")
    expect = c.expect
    if expect == "any":
        expect = "ok" if run.rc == 0 else "fail"
    if expect == "ok":
        if run.rc != 0:
            problems.append(f"exit {run.rc} (expected 0)")
        if any(line.startswith(PREFIX) for line in err):
            problems.append("an error line on stderr")
    elif expect == "fail":
        if run.rc == 0:
            problems.append("exit 0 (expected a refusal)")
        elif run.rc not in c.codes:
            problems.append(f"exit {run.rc} (expected {'|'.join(map(str, c.codes))})")
        if len(err) != 1:
            problems.append(f"{len(err)} stderr lines (expected 1)")
        if not err or not err[-1].startswith(PREFIX):
            problems.append("stderr does not start 'spikecodec: error: '" if err else "no error line")
        elif c.names and not any(n in err[0] for n in c.names):
            problems.append(f"error line does not name {' or '.join(c.names)}")
    elif expect == "report":  # validate: problems on stdout, one per line, each naming the file
        if run.rc not in c.codes:
            problems.append(f"exit {run.rc} (expected {'|'.join(map(str, c.codes))})")
        out = [line for line in run.stdout.decode(errors="replace").splitlines() if line.strip()]
        if err:
            problems.append(f"{len(err)} stderr lines (expected none: validate reports on stdout)")
        if not out:
            problems.append("no problem reported")
        elif c.names and not all(any(line.startswith(n + ":") for n in c.names) for line in out):
            problems.append("a report line does not start with the file's name")
    elif expect == "quiet":  # a reader that went away: quiet, or one line
        if run.rc not in (0, 1) + c.codes:
            problems.append(f"exit {run.rc} (expected 0 or 1)")
        if len(err) > 1:
            problems.append(f"{len(err)} stderr lines (expected at most 1)")
        elif err and not err[0].startswith(PREFIX):
            problems.append("stderr does not start 'spikecodec: error: '")
    ok_run = expect in ("ok",) or (expect == "quiet" and run.rc == 0)
    allowed = set(c.outputs) if ok_run else set()
    # nothing overwritten, nothing left behind
    for rel, was in before.items():
        now = after.get(rel)
        if now != was and rel not in allowed and not rel.startswith("_tmp"):
            problems.append(f"{rel} changed: {describe_entry(was)} -> {describe_entry(now)}")
    for rel in sorted(set(after) - set(before)):
        base = os.path.basename(rel)
        if base.endswith(".tmp") or base.startswith(".spikecodec-"):
            problems.append(f"left temporary {rel}")
        elif rel.startswith("_tmp/"):
            problems.append(f"left {rel} in its TMPDIR")
        elif rel not in allowed:
            problems.append(f"left {rel}" if not ok_run else f"wrote unexpected {rel}")
    if c.secret:
        if MARKER.encode() in text:
            problems.append("the secret marker is in its output")
        for rel in set(after) - set(before) | {r for r in after if after[r] != before.get(r)}:
            p = d / rel
            if p.is_file() and not p.is_symlink() and MARKER.encode() in p.read_bytes():
                problems.append(f"the secret marker is in {rel}")
            if p.suffix == ".spk" and p.is_file():
                with contextlib.suppress(Exception):
                    if MARKER.encode() in spikecodec.load(str(p)).tobytes():
                        problems.append(f"the secret marker is in the spikes of {rel}")
    # memory and time
    if base_kib is not None:
        over = (run.maxrss_kib - base_kib) * 1024
        allowed_bytes = max(MEMORY_FLOOR, int(1.5 * c.declared))
        if over > allowed_bytes:
            problems.append(f"peak RSS {over / MIB:.0f} MiB over the baseline (allowed {allowed_bytes / MIB:.0f})")
    if c.time_limit is not None and run.wall > c.time_limit:
        problems.append(f"took {run.wall:.1f} s (> {c.time_limit:.0f} s)")
    if c.verify is not None and (run.rc == 0 or c.expect not in ("any",)):
        try:
            problems += c.verify(d, run)
        except Exception as exc:  # a verification that cannot even run is a finding too
            problems.append(f"verification failed: {type(exc).__name__}: {str(exc)[:100]}")
    return problems


# --- verifications of successful outputs ------------------------------------------------------------------


def same_array(path_or_bytes: Any, want: np.ndarray, kind: str = "npy") -> list[str]:
    if kind == "npy":
        got = np.load(io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes)
    elif kind == "spk":
        got = spikecodec.load(path_or_bytes) if not isinstance(path_or_bytes, bytes) else spikecodec.decode(path_or_bytes)
    elif kind == "npz":
        with np.load(path_or_bytes) as z:
            got = z["spikes"]
    elif kind == "h5":
        import h5py

        with h5py.File(path_or_bytes, "r") as f:
            got = f["spikes"][()]
    else:
        import torch

        got = torch.load(path_or_bytes, weights_only=True).numpy()
    if got.shape != want.shape or not np.array_equal(got, want):
        return [f"wrong output: {got.dtype} {got.shape}, expected {want.dtype} {want.shape}"]
    return []


def verify_file(name: str, want: np.ndarray, kind: str | None = None) -> Callable[[Path, Run], list[str]]:
    def v(d: Path, run: Run) -> list[str]:
        p = d / name
        if not p.exists():
            return [f"{name} not written"]
        return same_array(str(p), want, kind or p.suffix.lstrip("."))
    return v


def verify_link(link: str, target: str, want: np.ndarray, kind: str) -> Callable[[Path, Run], list[str]]:
    def v(d: Path, run: Run) -> list[str]:
        p = d / link
        problems = []
        if not p.is_symlink():
            problems.append(f"{link} is no longer a symbolic link")
        elif os.readlink(p) != target:
            problems.append(f"{link} now points to {os.readlink(p)}")
        problems += same_array(str(d / target), want, kind)
        return problems
    return v


def verify_mode(name: str, mode: int, want: np.ndarray, kind: str) -> Callable[[Path, Run], list[str]]:
    def v(d: Path, run: Run) -> list[str]:
        got = stat.S_IMODE(os.lstat(d / name).st_mode)
        return ([f"{name} mode {oct(got)}, expected {oct(mode)}"] if got != mode else []) + same_array(str(d / name), want, kind)
    return v


def verify_valid_spk(name: str, rows_at_least: int = 1, prefix_of: np.ndarray | None = None) -> Callable[[Path, Run], list[str]]:
    def v(d: Path, run: Run) -> list[str]:
        p = d / name
        if not p.exists():
            return [f"{name} not written"]
        report = spikecodec.validate(str(p))
        if not report.ok:
            return [f"{name} does not validate: {report.problems[0].message[:80]}"]
        got = spikecodec.load(str(p))
        if got.shape[0] < rows_at_least:
            return [f"{name} holds {got.shape[0]} rows (expected >= {rows_at_least})"]
        if prefix_of is not None and not np.array_equal(got, prefix_of[: got.shape[0]]):
            return [f"{name} is not a prefix of the original"]
        return []
    return v


# --- 1. disclosure ---------------------------------------------------------------------------------------


def secrets(d: Path) -> None:
    import h5py

    data = (MARKER.encode() * 4)[:128]
    (d / "secret.bin").write_bytes(data)
    with h5py.File(d / "secret.h5", "w") as f:
        f["data"] = np.frombuffer(data, np.uint8)
        f["g/data"] = np.frombuffer(data, np.uint8)


def h5_external_storage(absolute: bool = False) -> Callable[[Path], None]:
    def s(d: Path) -> None:
        import h5py

        secrets(d)
        name = str(d / "secret.bin") if absolute else "secret.bin"
        with h5py.File(d / "e.h5", "w") as f:
            f.create_dataset("spikes", shape=(128,), dtype="u1", external=[(name, 0, 128)])
    return s


def h5_external_link(absolute: bool = False) -> Callable[[Path], None]:
    def s(d: Path) -> None:
        import h5py

        secrets(d)
        with h5py.File(d / "e.h5", "w") as f:
            f["spikes"] = h5py.ExternalLink(str(d / "secret.h5") if absolute else "secret.h5", "/data")
    return s


def h5_virtual(d: Path) -> None:
    import h5py

    secrets(d)
    with h5py.File(d / "e.h5", "w") as f:
        layout = h5py.VirtualLayout(shape=(128,), dtype="u1")
        layout[:] = h5py.VirtualSource("secret.h5", "data", shape=(128,))
        f.create_virtual_dataset("spikes", layout)


def h5_soft_to_external(d: Path) -> None:
    import h5py

    secrets(d)
    with h5py.File(d / "e.h5", "w") as f:
        f["ext"] = h5py.ExternalLink("secret.h5", "/data")
        f["spikes"] = h5py.SoftLink("/ext")


def h5_group_external(d: Path) -> None:
    import h5py

    secrets(d)
    with h5py.File(d / "e.h5", "w") as f:
        f["g"] = h5py.ExternalLink("secret.h5", "/g")


def h5_chain(d: Path) -> None:
    """A soft link to a soft link to a group reached by an external link."""
    import h5py

    secrets(d)
    with h5py.File(d / "e.h5", "w") as f:
        f["x"] = h5py.ExternalLink("secret.h5", "/")
        f["a"] = h5py.SoftLink("/x/data")
        f["spikes"] = h5py.SoftLink("/a")


def disclosure_cases() -> None:
    kinds = [
        ("external raw storage", h5_external_storage()),
        ("external raw storage, absolute path", h5_external_storage(True)),
        ("external link", h5_external_link()),
        ("external link, absolute path", h5_external_link(True)),
        ("virtual dataset", h5_virtual),
        ("soft link to an external link", h5_soft_to_external),
    ]
    for kind, setup in kinds:
        for key in ("", ":spikes"):
            case("disclosure", f"{kind}: encode e.h5{key}", ["encode", f"e.h5{key}", "-o", "e.spk"], "fail", names=("e.h5",),
                 setup=setup, secret=True, baseline="encode-h5")
    case("disclosure", "external link to a group: encode e.h5:g/data", ["encode", "e.h5:g/data", "-o", "e.spk"], "fail",
         names=("e.h5",), setup=h5_group_external, secret=True, baseline="encode-h5")
    case("disclosure", "soft -> soft -> external link: encode e.h5:spikes", ["encode", "e.h5:spikes", "-o", "e.spk"], "fail",
         names=("e.h5",), setup=h5_chain, secret=True, baseline="encode-h5")
    case("disclosure", "soft -> soft -> external link: encode e.h5:/a", ["encode", "e.h5:/a", "-o", "e.spk"], "fail",
         names=("e.h5",), setup=h5_chain, secret=True, baseline="encode-h5")
    for kind, setup in (("external raw storage", h5_external_storage()), ("external link", h5_external_link()),
                        ("virtual dataset", h5_virtual)):
        case("disclosure", f"{kind}: train-prior e.h5:spikes", ["train-prior", "e.h5:spikes", "-o", "p.prior"], "fail",
             names=("e.h5",), setup=setup, secret=True, baseline="train-prior-h5")
    case("disclosure", "external raw storage: encode - < e.h5 (stdin)", ["encode", "-", "-o", "e.spk"], "fail",
         names=("<stdin>", "stdin"), setup=h5_external_storage(), stdin="e.h5", secret=True, baseline="encode-stdin",
         display="spikecodec encode - -o e.spk < e.h5")


# --- 2. outputs -----------------------------------------------------------------------------------------------


def fifo_runner(fifo: str) -> Callable[[Case, Path], Run]:
    """A reader attached to the FIFO ``fifo`` (or to what a link named so points at) for the
    whole run; the bytes it got are checked like an output file."""
    def runner(c: Case, d: Path) -> Run:
        got: dict[str, bytes] = {}

        def read() -> None:
            with open(d / fifo, "rb") as f:
                got["data"] = f.read()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        time.sleep(0.05)
        run = run_command(spk(*c.args), d, env=child_env(d), timeout=c.timeout)
        if reader.is_alive():  # the command never opened it: release the reader
            with contextlib.suppress(OSError):
                os.close(os.open(d / fifo, os.O_WRONLY | os.O_NONBLOCK))
            reader.join(5)
        run.extra["received"] = got.get("data", b"")
        return run
    return runner


def verify_received(kind: str, want: np.ndarray | None, fifo: str, link: str | None = None) -> Callable[[Path, Run], list[str]]:
    def v(d: Path, run: Run) -> list[str]:
        problems = []
        if not stat.S_ISFIFO(os.lstat(d / fifo).st_mode):
            problems.append(f"{fifo} is no longer a FIFO")
        if link is not None and not os.path.islink(d / link):
            problems.append(f"{link} is no longer a symbolic link")
        data = run.extra.get("received", b"")
        if not data:
            return problems + ["the reader received nothing"]
        if kind == "png":
            if not data.startswith(b"\x89PNG"):
                problems.append("the reader did not receive a PNG")
        elif kind == "prior":
            if len(data) < 100:
                problems.append(f"the reader received {len(data)} bytes")
        elif kind == "spk-valid":
            if not spikecodec.validate(data).ok:
                problems.append("the reader did not receive a valid spike file")
        elif want is not None:
            tmp = d / "_received"
            tmp.write_bytes(data)
            try:
                problems += same_array(str(tmp), want, kind)
            finally:
                tmp.unlink()
        return problems
    return v


def setup_fifo(d: Path, inputs: Callable[[Path], None], fifo: str, link: str | None = None) -> None:
    inputs(d)
    os.mkfifo(d / fifo)
    if link:
        os.symlink(fifo, d / link)


def closed_stdout() -> None:
    os.close(1)


def head_runner(nbytes: int = 10) -> Callable[[Case, Path], Run]:
    """``spikecodec ... -o - | head -c N``: read N bytes of stdout, then close the pipe."""
    def runner(c: Case, d: Path) -> Run:
        def reader(proc: subprocess.Popen) -> dict:
            got = proc.stdout.read(nbytes)  # type: ignore[union-attr]
            proc.stdout.close()  # type: ignore[union-attr]
            return {"head": got}
        stdin = (d / c.stdin) if isinstance(c.stdin, str) else None
        return run_command(spk(*c.args), d, stdin=stdin, env=child_env(d), stdout_pipe_reader=reader, timeout=c.timeout)
    return runner


def fsize_limit(n: int) -> Callable[[], None]:
    def pre() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))
    return pre


def tiny_set(d: Path) -> None:
    save_npy(d / "x.npy")
    save_spk(d / "x.spk")


def big_random(d: Path) -> None:
    """Random spikes that compress badly: ~75 KB as .spk, 384 KB as .npy."""
    a = spikes((4, 16, 6, 20, 20), seed=3, rate=0.5)
    save_npy(d / "r.npy", a)
    save_spk(d / "r.spk", a, codec="raw")




def outputs_cases() -> None:
    # -o a symbolic link to a regular file: written through, the link kept
    def link_setup(target: str, link: str, content: bytes = b"old contents") -> Callable[[Path], None]:
        def s(d: Path) -> None:
            tiny_set(d)
            (d / "sub").mkdir()
            (d / target).write_bytes(content)
            os.symlink(os.path.relpath(d / target, (d / link).parent), d / link)
        return s

    case("outputs", "encode -o a symlink to a regular file", ["encode", "x.npy", "-o", "link.spk"], "ok",
         setup=link_setup("sub/target.spk", "link.spk"), outputs=("sub/target.spk",), baseline="encode",
         verify=verify_link("link.spk", "sub/target.spk", TINY, "spk"))
    case("outputs", "decode -o a symlink to a regular file", ["decode", "x.spk", "-o", "link.npy"], "ok",
         setup=link_setup("sub/target.npy", "link.npy"), outputs=("sub/target.npy",), baseline="decode-npy",
         verify=verify_link("link.npy", "sub/target.npy", TINY, "npy"))
    case("outputs", "decode -o a symlink to a regular file (.h5)", ["decode", "x.spk", "-o", "link.h5"], "ok",
         setup=link_setup("sub/target.h5", "link.h5"), outputs=("sub/target.h5",), baseline="decode-h5",
         verify=verify_link("link.h5", "sub/target.h5", TINY, "h5"))

    def private(name: str) -> Callable[[Path], None]:
        def s(d: Path) -> None:
            tiny_set(d)
            (d / name).write_bytes(b"old private contents")
            os.chmod(d / name, 0o600)
        return s

    case("outputs", "encode -o an existing 0600 file", ["encode", "x.npy", "-o", "p.spk"], "ok", setup=private("p.spk"),
         outputs=("p.spk",), baseline="encode", verify=verify_mode("p.spk", 0o600, TINY, "spk"))
    case("outputs", "decode -o an existing 0600 .npz", ["decode", "x.spk", "-o", "p.npz"], "ok", setup=private("p.npz"),
         outputs=("p.npz",), baseline="decode-npz", verify=verify_mode("p.npz", 0o600, TINY, "npz"))
    case("outputs", "inspect --plot an existing 0600 .png", ["inspect", "x.spk", "--plot", "p.png"], "ok",
         setup=private("p.png"), outputs=("p.png",), baseline="inspect-plot",
         verify=lambda d, run: [] if stat.S_IMODE(os.stat(d / "p.png").st_mode) == 0o600 and (d / "p.png").read_bytes().startswith(b"\x89PNG")
         else [f"p.png mode {oct(stat.S_IMODE(os.stat(d / 'p.png').st_mode))} or not a PNG"])

    # FIFOs with a reader attached, directly and through a symbolic link
    fifo_cases = [
        ("decode -o a FIFO (.npy)", ["decode", "x.spk", "-o", "f.npy"], "f.npy", None, "npy", TINY, "decode-npy"),
        ("decode -o a FIFO (.h5)", ["decode", "x.spk", "-o", "f.h5"], "f.h5", None, "h5", TINY, "decode-h5"),
        ("encode -o a FIFO (summary line on)", ["encode", "x.npy", "-o", "f.spk"], "f.spk", None, "spk", TINY, "encode"),
        ("recover -o a FIFO", ["recover", "x.spk", "-o", "f.spk"], "f.spk", None, "spk", TINY, "recover"),
        ("inspect --plot a FIFO", ["inspect", "x.spk", "--plot", "f.png"], "f.png", None, "png", None, "inspect-plot"),
        ("edge -o a FIFO", ["edge", "--images", "imgs.npy", "-o", "f.spk"], "f.spk", None, "spk-valid", None, "edge-npy"),
        ("train-prior -o a FIFO", ["train-prior", "x.spk", "-o", "f.prior"], "f.prior", None, "prior", None, "train-prior"),
        ("decode -o a symlink to a FIFO", ["decode", "x.spk", "-o", "l.npy"], "f.npy", "l.npy", "npy", TINY, "decode-npy"),
        ("encode -o a symlink to a FIFO", ["encode", "x.npy", "-o", "l.spk", "-q"], "f.spk", "l.spk", "spk", TINY, "encode"),
    ]
    for name, args, fifo, link, kind, want, base in fifo_cases:
        def s(d: Path, fifo: str = fifo, link: str | None = link) -> None:
            setup_fifo(d, lambda d: (tiny_set(d), asset("images8.npy", d, "imgs.npy")), fifo, link)
        case("outputs", name, args, "ok", setup=s, runner=fifo_runner(fifo), baseline=base,
             verify=verify_received(kind, want, fifo, link), timeout=30)

    # an output that is an input
    def alias(target: str, link: str, hard: bool = False) -> Callable[[Path], None]:
        def s(d: Path) -> None:
            tiny_set(d)
            as_decode_writes(d / "x.npz")
            asset("images8.npy", d, "imgs.npy")
            asset("stream8.spk", d, "s.spk")
            (os.link if hard else os.symlink)(target if not hard else d / target, d / link)
        return s

    same = [
        ("encode X.npy -o a symlink to X.npy", ["encode", "x.npy", "-o", "alias.spk"], alias("x.npy", "alias.spk"), ("alias.spk",), "encode"),
        ("encode X.npy -o a hard link to X.npy", ["encode", "x.npy", "-o", "hard.spk"], alias("x.npy", "hard.spk", True), ("hard.spk",), "encode"),
        ("encode X.npz:spikes -o a symlink to X.npz", ["encode", "x.npz:spikes", "-o", "alias.spk"], alias("x.npz", "alias.spk"), ("alias.spk",), "encode-npz"),
        ("edge --images X.npy -o X.npy", ["edge", "--images", "imgs.npy", "-o", "imgs.npy"], alias("x.npy", "unused"), ("imgs.npy",), "edge-npy"),
        ("inspect F.spk --plot F.spk", ["inspect", "x.spk", "--plot", "x.spk"], alias("x.npy", "unused"), ("x.spk",), "inspect-plot"),
        ("recover F.spk -o F.spk", ["recover", "x.spk", "-o", "x.spk"], alias("x.npy", "unused"), ("x.spk",), "recover"),
        ("train-prior S.spk -o S.spk", ["train-prior", "x.spk", "-o", "x.spk"], alias("x.npy", "unused"), ("x.spk",), "train-prior"),
        ("decode F.spk -o a symlink to F.spk", ["decode", "x.spk", "-o", "alias.npy"], alias("x.spk", "alias.npy"), ("alias.npy",), "decode-npy"),
        ("cloud S.spk -o a symlink to S.spk", ["cloud", "s.spk", "-o", "alias.npy"], alias("s.spk", "alias.npy"), ("alias.npy",), "cloud"),
        ("cloud S.spk -o L.npy --labels L.npy", ["cloud", "s.spk", "-o", "imgs.npy", "--labels", "imgs.npy"], alias("x.npy", "unused"), ("imgs.npy",), "cloud"),
    ]
    for name, args, setup, names, base in same:
        case("outputs", f"output is an input: {name}", args, "fail", codes=(1,), names=names, setup=setup, baseline=base)
    case("outputs", "encode X.npy -o X.npy (an array extension)", ["encode", "x.npy", "-o", "x.npy"], "fail", codes=(1, 2),
         names=("x.npy",), setup=tiny_set, baseline="encode")

    # stdout closed
    for name, args, base, stdin in [
        ("decode -o - with stdout closed", ["decode", "x.spk", "-o", "-"], "decode-stdout", None),
        ("encode -o - with stdout closed", ["encode", "x.npy", "-o", "-"], "encode", None),
        ("recover -o - with stdout closed", ["recover", "x.spk", "-o", "-"], "recover", None),
        ("edge -o - with stdout closed", ["edge", "--images", "imgs.npy", "-o", "-"], "edge-npy", None),
        ("cloud -o - with stdout closed", ["cloud", "s.spk", "-o", "-"], "cloud", None),
    ]:
        case("outputs", name, args, "fail", names=("stdout", "<stdout>"), close_stdout=True, baseline=base,
             setup=lambda d: (tiny_set(d), asset("images8.npy", d, "imgs.npy"), asset("stream8.spk", d, "s.spk")),
             display="spikecodec " + " ".join(args) + " >&-")

    # the reader goes away: ... -o - | head -c 10
    case("outputs", "decode big.spk -o - | head -c 10", ["decode", "big.spk", "-o", "-"], "quiet", setup=lambda d: asset("big32.spk", d, "big.spk"),
         runner=head_runner(), baseline="decode-stdout", declared=32 * MIB, display="spikecodec decode big.spk -o - | head -c 10")
    case("outputs", "decode big.spk -o - --dtype float32 | head -c 10", ["decode", "big.spk", "-o", "-", "--dtype", "float32"], "quiet",
         setup=lambda d: asset("big32.spk", d, "big.spk"), runner=head_runner(), baseline="decode-stdout", declared=5 * 32 * MIB,
         display="spikecodec decode big.spk -o - --dtype float32 | head -c 10")
    case("outputs", "encode r.npy -o - | head -c 10", ["encode", "r.npy", "-o", "-"], "quiet", setup=big_random, runner=head_runner(),
         baseline="encode", display="spikecodec encode r.npy -o - | head -c 10")
    case("outputs", "recover big.spk -o - | head -c 10", ["recover", "big.spk", "-o", "-"], "quiet", setup=lambda d: asset("big32.spk", d, "big.spk"),
         runner=head_runner(), baseline="recover", declared=32 * MIB, display="spikecodec recover big.spk -o - | head -c 10")
    case("outputs", "edge --images imgs.npy -o - | head -c 10", ["edge", "--images", "imgs.npy", "-o", "-"], "quiet",
         setup=lambda d: asset("images300.npy", d, "imgs.npy"), runner=head_runner(), baseline="edge-npy",
         display="spikecodec edge --images imgs.npy -o - | head -c 10")

    # a file-size limit (ulimit -f)
    LIMIT = 16 * 1024
    for name, args, base, stdout_file, outs in [
        ("decode -o - > out.npy under ulimit -f", ["decode", "r.spk", "-o", "-"], "decode-stdout", "out.npy", ("out.npy",)),
        ("encode -o - > out.spk under ulimit -f", ["encode", "r.npy", "-o", "-"], "encode", "out.spk", ("out.spk",)),
        ("decode -o out.npy under ulimit -f", ["decode", "r.spk", "-o", "out.npy"], "decode-npy", None, ()),
        ("decode -o out.npz under ulimit -f", ["decode", "r.spk", "-o", "out.npz"], "decode-npz", None, ()),
        ("encode -o out.spk under ulimit -f", ["encode", "r.npy", "-o", "out.spk", "--codec", "raw"], "encode", None, ()),
        ("recover -o out.spk under ulimit -f", ["recover", "r.spk", "-o", "out.spk"], "recover", None, ()),
        ("edge -o out.spk under ulimit -f 4K", ["edge", "--images", "imgs.npy", "-o", "out.spk", "--prior", "none", "--codec", "raw"], "edge-npy", None, ()),
        ("train-prior -o out.prior under ulimit -f 4K", ["train-prior", "x.spk", "-o", "out.prior"], "train-prior", None, ()),
        ("inspect --plot out.png under ulimit -f 1K", ["inspect", "r.spk", "--plot", "out.png"], "inspect-plot", None, ()),
    ]:
        # each limit well below what the command writes (edge: 300 raw images, ~16 KB; the prior: ~6 KB)
        limit = 1024 if "png" in name else 4096 if args[0] in ("edge", "train-prior") else LIMIT
        case("outputs", name, args, "fail", names=("out.", "<stdout>", "stdout"), fsize=limit, stdout_file=stdout_file,
             setup=lambda d: (big_random(d), tiny_set(d), asset("images300.npy", d, "imgs.npy")), baseline=base,
             outputs=outs, display=f"(ulimit -f {limit // 1024}; spikecodec {' '.join(args)}{' > ' + stdout_file if stdout_file else ''})")

    # an output where there is no folder, or where a folder is
    for name, args, base, names in [
        ("decode -o a file in a missing folder", ["decode", "x.spk", "-o", "nodir/x.npy"], "decode-npy", ("nodir/x.npy",)),
        ("encode -o a file in a missing folder", ["encode", "x.npy", "-o", "nodir/x.spk"], "encode", ("nodir/x.spk",)),
        ("recover -o a file in a missing folder", ["recover", "x.spk", "-o", "nodir/x.spk"], "recover", ("nodir/x.spk",)),
        ("inspect --plot a file in a missing folder", ["inspect", "x.spk", "--plot", "nodir/x.png"], "inspect-plot", ("nodir/x.png",)),
        ("train-prior -o a file in a missing folder", ["train-prior", "x.spk", "-o", "nodir/x.prior"], "train-prior", ("nodir/x.prior",)),
        ("decode -o a folder named out.npy", ["decode", "x.spk", "-o", "out.npy"], "decode-npy", ("out.npy",)),
        ("encode -o a folder named out.spk", ["encode", "x.npy", "-o", "out.spk"], "encode", ("out.spk",)),
        ("decode -o a folder named out.h5", ["decode", "x.spk", "-o", "out.h5"], "decode-h5", ("out.h5",)),
        ("inspect --plot a folder named out.png", ["inspect", "x.spk", "--plot", "out.png"], "inspect-plot", ("out.png",)),
    ]:
        def s(d: Path) -> None:
            tiny_set(d)
            for n in ("out.npy", "out.spk", "out.h5", "out.png"):
                (d / n).mkdir()
        case("outputs", name, args, "fail", names=names, setup=s, baseline=base)


# --- 3. unbounded resources ------------------------------------------------------------------------------------


def stream_asking_1tib() -> bytes:
    """A stream (compact records, length unknown) of frames (2^20, 2^20): the first row alone
    is 1 TiB of uint8; one 1-row record follows, no index (a stream still being written)."""
    buf = io.BytesIO()
    w = spikecodec.SpikeWriter(buf, codec="raw", records="compact", axes=("N", "H", "W"))
    w.append(np.zeros((1, 1), np.uint8))
    w.flush()
    data = buf.getvalue()
    return patched(data, {"shape[1]": 1 << 20, "shape[2]": 1 << 20}, rebuild_index=False)


def edge_stream_huge_record() -> bytes:
    """The edge stream's header (model, code shape 2x4x7x7) and one compact record claiming
    2^40 rows (its height varint), nothing else: asks the cloud for 2^40 x 392 elements."""
    data = (ASSETS / "stream8.spk").read_bytes()
    p = hostile.parse(data)
    start = p.header_end + 4
    payload = b"\0" * 8
    rec = hostile.leb(2 * len(payload) + 1 + 1) + hostile.leb(1 << 40) + payload + b"\0\0"
    return data[:start] + rec


def h5_huge(shape: tuple[int, ...], chunks: tuple[int, ...] | None = None, **kw: Any) -> Callable[[Path], None]:
    def s(d: Path) -> None:
        import h5py

        with h5py.File(d / "huge.h5", "w") as f:
            f.create_dataset("spikes", shape=shape, dtype="u1", chunks=chunks, **kw)
    return s


def pt_expanded(n: int, dtype: str = "float32", as_dict: bool = False) -> Callable[[Path], None]:
    def s(d: Path) -> None:
        import torch

        t = torch.zeros(1, dtype=getattr(torch, dtype)).expand(n)
        torch.save({"spikes": t} if as_dict else t, d / "x.pt")
    return s


def idx_gzip_bomb(shape: tuple[int, ...], mib: int) -> Callable[[Path], None]:
    def s(d: Path) -> None:
        header = bytes([0, 0, 8, len(shape)]) + b"".join(int(v).to_bytes(4, "big") for v in shape)
        write(d / "bomb-idx3-ubyte.gz", zeros_deflate(mib, 31, header))
    return s


def png_bomb(width: int, height: int, real: bool = False, count: int = 1) -> Callable[[Path], None]:
    def s(d: Path) -> None:
        (d / "pngs").mkdir()
        if real:  # the pixels are there: rows of zeros, compressed
            raw = zlib.compressobj(9)
            row = b"\0" * (width + 1)
            body = b"".join(raw.compress(row) for _ in range(height)) + raw.flush()
            data = png_bytes(width, height, body)
        else:
            data = png_bytes(width, height)
        for i in range(count):
            write(d / "pngs" / f"{i:05d}.png", data)
    return s


def npz_bombs(kind: str) -> Callable[[Path], None]:
    def s(d: Path) -> None:
        if kind == "header":  # a member whose .npy header declares 2^40 bytes
            member = npy_bytes((1 << 40,), data=b"\0" * 64)
            data = raw_zip([{"name": "spikes.npy", "data": member}])
        elif kind == "deflate":  # 1 GiB + 1 of zeros deflated to ~1 MB, declared honestly
            header = npy_bytes((GIB + 1,))
            body = zeros_deflate(GIB // MIB + 1, -15, header)
            data = raw_zip([{"name": "spikes.npy", "data": body, "method": 8, "size": len(header) + GIB + 1}])
        else:  # "lies": the directory declares 1 KB, the deflate stream inflates to 64 MiB
            header = npy_bytes((1000,))
            body = zeros_deflate(64, -15, header)
            data = raw_zip([{"name": "spikes.npy", "data": body, "method": 8, "size": len(header) + 1000}])
        write(d / "bomb.npz", data)
    return s


def unbounded_cases() -> None:
    big = declaring(GIB + 1)
    s_big = lambda d: write(d / "big.spk", big)  # noqa: E731
    n = len(big)
    for cmd, args, base in [
        ("decode", ["decode", "big.spk", "-o", "big.npy"], "decode-npy"),
        ("decode to .h5", ["decode", "big.spk", "-o", "big.h5"], "decode-h5"),
        ("decode --select", ["decode", "big.spk", "-o", "big.npy", "--select", "t=0:2"], "decode-npy"),
        ("inspect --stats", ["inspect", "big.spk", "--stats"], "inspect-stats"),
        ("recover", ["recover", "big.spk", "-o", "r.spk"], "recover"),
        ("encode (re-encode)", ["encode", "big.spk", "-o", "r.spk"], "encode-spk"),
        ("train-prior", ["train-prior", "big.spk", "-o", "p.prior", "--codec", "context"], "train-prior"),
    ]:
        case("unbounded", f"{n}-byte file declaring > 1 GiB: {cmd}", args, "fail", codes=(3,), names=("big.spk",),
             setup=s_big, baseline=base)
    case("unbounded", f"{n}-byte file declaring > 1 GiB: validate", ["validate", "big.spk"], "report", codes=(3,),
         names=("big.spk",), setup=s_big, baseline="validate")
    case("unbounded", f"{n}-byte file declaring > 1 GiB: validate - (stdin)", ["validate", "-"], "report", codes=(3,),
         names=("<stdin>",), setup=s_big, stdin="big.spk", baseline="validate-stdin", display="spikecodec validate - < big.spk")
    case("unbounded", f"{n}-byte file declaring > 1 GiB: decode - (stdin)", ["decode", "-", "-o", "big.npy"], "fail", codes=(3,),
         names=("<stdin>",), setup=s_big, stdin="big.spk", baseline="decode-npy", display="spikecodec decode - -o big.npy < big.spk")
    case("unbounded", f"{n}-byte file declaring > 1 GiB: inspect (header and index only) succeeds", ["inspect", "big.spk"], "ok",
         setup=s_big, baseline="inspect")

    # many chunks, each declaring up to the limit
    m32 = many_chunks(64, 32 * MIB)
    for cmd, args, base in [("validate", ["validate", "m.spk", "--max-bytes", "32M"], "validate"),
                            ("inspect --stats", ["inspect", "m.spk", "--stats", "--max-bytes", "32M"], "inspect-stats"),
                            ("recover", ["recover", "m.spk", "-o", "r.spk", "--max-bytes", "32M"], "recover")]:
        case("unbounded", f"{len(m32)}-byte file of 64 chunks x 32 MiB, --max-bytes 32M: {cmd}", args,
             "report" if cmd == "validate" else "fail", codes=(3,), names=("m.spk",), setup=lambda d: write(d / "m.spk", m32),
             baseline=base, declared=32 * MIB)
    m256 = many_chunks(64, 256 * MIB)
    case("unbounded", f"{len(m32)}-byte file of 64 chunks x 32 MiB (2 GiB), default limit: decode", ["decode", "m.spk", "-o", "m.npy"],
         "fail", codes=(3,), names=("m.spk",), setup=lambda d: write(d / "m.spk", m32), baseline="decode-npy", timeout=30,
         note="killed after 30 s if it runs on: a 2 GiB decode would take minutes here")
    case("unbounded", f"{len(m32)}-byte file of 64 chunks x 32 MiB (2 GiB), default limit: encode (re-encode)", ["encode", "m.spk", "-o", "r.spk"],
         "fail", codes=(3,), names=("m.spk",), setup=lambda d: write(d / "m.spk", m32), baseline="encode-spk", timeout=30)
    case("unbounded", f"{len(m256)}-byte file of 64 chunks x 256 MiB (16 GiB), default limit: validate", ["validate", "m.spk"],
         "report", codes=(3,), names=("m.spk",), setup=lambda d: write(d / "m.spk", m256), baseline="validate", declared=256 * MIB)
    case("unbounded", f"{len(m256)}-byte file of 64 chunks x 256 MiB (16 GiB), default limit: inspect --stats",
         ["inspect", "m.spk", "--stats"], "fail", codes=(3,), names=("m.spk",), setup=lambda d: write(d / "m.spk", m256),
         baseline="inspect-stats", declared=256 * MIB)

    # --max-bytes decides: the same legitimate 48 MiB file refused below it, decoded above it
    zeros48 = spikecodec.encode(np.zeros((48, 1024, 1024), np.uint8), chunk=(4,))
    case("unbounded", f"valid {len(zeros48)}-byte file of 48 MiB of zeros, --max-bytes 16M: decode", ["decode", "z.spk", "-o", "z.npy", "--max-bytes", "16M"],
         "fail", codes=(3,), names=("z.spk",), setup=lambda d: write(d / "z.spk", zeros48), baseline="decode-npy")
    case("unbounded", f"valid {len(zeros48)}-byte file of 48 MiB of zeros, --max-bytes 64M: decode succeeds",
         ["decode", "z.spk", "-o", "z.npy", "--max-bytes", "64M"], "ok", setup=lambda d: write(d / "z.spk", zeros48),
         outputs=("z.npy",), baseline="decode-npy", declared=48 * MIB, verify=verify_file("z.npy", np.zeros((48, 1024, 1024), np.uint8)))

    # a stream on stdin asking for 1 TiB
    tib = stream_asking_1tib()
    case("unbounded", f"{len(tib)}-byte stream on stdin, frames of 2^40 elements: cloud -", ["cloud", "-", "-o", "p.npy"], "fail",
         codes=(1, 3), names=("<stdin>",), setup=lambda d: write(d / "s.spk", tib), stdin="s.spk", baseline="cloud-stdin",
         display="spikecodec cloud - -o p.npy < s.spk")
    case("unbounded", f"{len(tib)}-byte stream on stdin, frames of 2^40 elements: cloud - --model snn-resnet-fmnist",
         ["cloud", "-", "-o", "p.npy", "--model", "snn-resnet-fmnist"], "fail", codes=(1, 3), names=("<stdin>",),
         setup=lambda d: write(d / "s.spk", tib), stdin="s.spk", baseline="cloud-stdin",
         display="spikecodec cloud - -o p.npy --model snn-resnet-fmnist < s.spk")
    case("unbounded", f"{len(tib)}-byte stream on stdin, frames of 2^40 elements: decode -", ["decode", "-", "-o", "p.npy"], "fail",
         codes=(1, 3), names=("<stdin>",), setup=lambda d: write(d / "s.spk", tib), stdin="s.spk", baseline="decode-npy",
         display="spikecodec decode - -o p.npy < s.spk")

    def s_huge_rec(d: Path) -> None:
        write(d / "s.spk", edge_stream_huge_record())
    case("unbounded", "edge stream whose first record claims 2^40 images: cloud -", ["cloud", "-", "-o", "p.npy"], "fail",
         codes=(1, 3), names=("<stdin>",), setup=s_huge_rec, stdin="s.spk", baseline="cloud-stdin",
         display="spikecodec cloud - -o p.npy < s.spk")

    # .h5 datasets declaring 2^40 elements
    for name, setup, args in [
        ("(2^40,) chunked", h5_huge((1 << 40,), (1 << 20,)), ["encode", "huge.h5", "-o", "h.spk"]),
        ("(2^20, 2^20) contiguous", h5_huge((1 << 20, 1 << 20)), ["encode", "huge.h5:spikes", "-o", "h.spk"]),
        ("(2^40,) gzip, fill value 1", h5_huge((1 << 40,), (1 << 16,), compression="gzip", fillvalue=1), ["encode", "huge.h5", "-o", "h.spk"]),
        ("(2^40,) chunked: train-prior", h5_huge((1 << 40,), (1 << 20,)), ["train-prior", "huge.h5", "-o", "h.prior"]),
    ]:
        case("unbounded", f".h5 dataset {name}", args, "fail", codes=(3,), names=("huge.h5",), setup=setup,
             baseline="train-prior-h5" if args[0] == "train-prior" else "encode-h5")
    case("unbounded", ".h5 dataset (2^20,) in one chunk of 2^20, --max-bytes 64K", ["encode", "huge.h5", "-o", "h.spk", "--max-bytes", "64K"],
         "fail", codes=(3,), names=("huge.h5",), setup=h5_huge((1 << 20,), (1 << 20,)), baseline="encode-h5")

    # .pt tensors of stride 0
    case("unbounded", ".pt: torch.zeros(1).expand(2**34)", ["encode", "x.pt", "-o", "x.spk"], "fail", codes=(3,), names=("x.pt",),
         setup=pt_expanded(1 << 34), baseline="encode-pt")
    case("unbounded", ".pt: {'spikes': uint8 zeros(1).expand(2**31)}, x.pt:spikes", ["encode", "x.pt:spikes", "-o", "x.spk"], "fail",
         codes=(3,), names=("x.pt",), setup=pt_expanded(1 << 31, "uint8", True), baseline="encode-pt")
    case("unbounded", ".pt: uint8 zeros(1).expand(2**24) (16 MiB, allowed) succeeds", ["encode", "x.pt", "-o", "x.spk"], "ok",
         setup=pt_expanded(1 << 24, "uint8"), outputs=("x.spk",), baseline="encode-pt", declared=16 * MIB,
         verify=verify_file("x.spk", np.zeros(1 << 24, np.uint8)))

    # images: gzip IDX bombs, PNG bombs
    case("unbounded", "IDX gzip bomb: header declares 2,000,000x28x28 (1.5 GB)", ["edge", "--images", "bomb-idx3-ubyte.gz", "-o", "e.spk"],
         "fail", codes=(3,), names=("bomb-idx3-ubyte.gz",), setup=idx_gzip_bomb((2_000_000, 28, 28), 64), baseline="edge-idx")
    case("unbounded", "IDX gzip bomb: header declares 1000x28x28, stream inflates to 1 GiB", ["edge", "--images", "bomb-idx3-ubyte.gz", "-o", "e.spk"],
         "fail", codes=(1,), names=("bomb-idx3-ubyte.gz",), setup=idx_gzip_bomb((1000, 28, 28), 1024), baseline="edge-idx")
    case("unbounded", "IDX gzip bomb: 4000x28x28 declared and held, --max-bytes 1M", ["edge", "--images", "bomb-idx3-ubyte.gz", "-o", "e.spk", "--max-bytes", "1M"],
         "fail", codes=(3,), names=("bomb-idx3-ubyte.gz",), setup=idx_gzip_bomb((4000, 28, 28), 4), baseline="edge-idx")
    case("unbounded", "cloud --labels: IDX gzip bomb declaring 2^31 labels", ["cloud", "s.spk", "-o", "p.npy", "--labels", "bomb-idx3-ubyte.gz"],
         "fail", codes=(3,), names=("bomb-idx3-ubyte.gz",),
         setup=lambda d: (idx_gzip_bomb((1 << 31,), 64)(d), asset("stream8.spk", d, "s.spk")), baseline="cloud")
    case("unbounded", "PNG bomb: 100000x100000 declared in a folder", ["edge", "--images", "pngs", "-o", "e.spk"], "fail", codes=(3,),
         names=("pngs", "00000.png"), setup=png_bomb(100_000, 100_000), baseline="edge-png")
    case("unbounded", "PNG bomb: 12000x12000 of real zero pixels, --max-bytes 64M", ["edge", "--images", "pngs", "-o", "e.spk", "--max-bytes", "64M"],
         "fail", codes=(3,), names=("pngs", "00000.png"), setup=png_bomb(12_000, 12_000, real=True), baseline="edge-png")
    case("unbounded", "PNG folder: 2000 PNGs of 1000x1000 (2 GB together)", ["edge", "--images", "pngs", "-o", "e.spk"], "fail", codes=(3,),
         names=("pngs",), setup=png_bomb(1000, 1000, count=2000), baseline="edge-png")

    # .npz zip bombs
    case("unbounded", ".npz member whose .npy header declares 2^40 bytes", ["encode", "bomb.npz", "-o", "b.spk"], "fail", codes=(3,),
         names=("bomb.npz",), setup=npz_bombs("header"), baseline="encode-npz")
    case("unbounded", ".npz deflate bomb: 1 GiB + 1 of zeros in ~1 MB", ["encode", "bomb.npz", "-o", "b.spk"], "fail", codes=(3,),
         names=("bomb.npz",), setup=npz_bombs("deflate"), baseline="encode-npz")
    case("unbounded", ".npz member declaring 1 KB whose stream inflates to 64 MiB", ["encode", "bomb.npz", "-o", "b.spk"], "fail", codes=(1,),
         names=("bomb.npz",), setup=npz_bombs("lies"), baseline="encode-npz")
    case("unbounded", ".npz deflate bomb on stdin", ["encode", "-", "-o", "b.spk"], "fail", codes=(3,), names=("<stdin>",),
         setup=npz_bombs("deflate"), stdin="bomb.npz", baseline="encode-stdin", display="spikecodec encode - -o b.spk < bomb.npz")
    case("unbounded", ".npy header declaring (2^40,) on stdin", ["encode", "-", "-o", "b.spk"], "fail", codes=(3,), names=("<stdin>",),
         setup=lambda d: write(d / "h.npy", npy_bytes((1 << 40,), data=b"\0" * 64)), stdin="h.npy", baseline="encode-stdin",
         display="spikecodec encode - -o b.spk < h.npy")

    # a plain 1-D .npy of 6M zeros: must succeed, quickly, in bounded memory
    zeros6 = np.zeros(6_000_000, np.uint8)
    case("unbounded", "plain 1-D .npy of 6M zeros: encode succeeds", ["encode", "z.npy", "-o", "z.spk"], "ok",
         setup=lambda d: save_npy(d / "z.npy", zeros6), outputs=("z.spk",), baseline="encode", declared=6_000_000,
         verify=verify_file("z.spk", zeros6))
    case("unbounded", "plain 1-D .npy of 6M zeros on stdin: encode succeeds", ["encode", "-", "-o", "z.spk"], "ok",
         setup=lambda d: save_npy(d / "z.npy", zeros6), stdin="z.npy", outputs=("z.spk",), baseline="encode-stdin",
         declared=6_000_000, verify=verify_file("z.spk", zeros6), display="spikecodec encode - -o z.spk < z.npy")
    case("unbounded", "1-D spike file of 6M zeros: decode succeeds", ["decode", "z.spk", "-o", "z.npy"], "ok",
         setup=lambda d: save_spk(d / "z.spk", zeros6), outputs=("z.npy",), baseline="decode-npy", declared=6_000_000,
         verify=verify_file("z.npy", zeros6))


# --- 4. crashes --------------------------------------------------------------------------------------------


def npz_with(metadata: Any = None, axes: Any = None) -> Callable[[Path], None]:
    """An .npz as `spikecodec decode` writes it, with its metadata or axes member replaced."""
    def s(d: Path) -> None:
        as_decode_writes(d / "x.npz")
        with np.load(d / "x.npz") as z:
            members = {k: z[k] for k in z.files}
        if metadata is not None:
            members["metadata"] = metadata
        if axes is not None:
            members["axes"] = axes
        np.savez_compressed(d / "x.npz", **members)
    return s


def h5_with(metadata: Any = None, axes: Any = None) -> Callable[[Path], None]:
    def s(d: Path) -> None:
        import h5py

        as_decode_writes(d / "x.h5")
        with h5py.File(d / "x.h5", "r+") as f:
            ds = f["spikes"]
            if metadata is not None:
                del ds.attrs["metadata"]
                ds.attrs["metadata"] = metadata
            if axes is not None:
                del ds.attrs["axes"]
                ds.attrs["axes"] = axes
    return s


DEEP = '{"a":' * 10000 + "1" + "}" * 10000


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def signal_runner(sig: int, phase: str, out: str) -> Callable[[Case, Path], Run]:
    """Send ``sig`` while the command works: "writing" as soon as its temporary output file
    appears, "decoding" once it has used 1.5 s of CPU (imports take about 0.7 s) and before any
    temporary file exists. What the folder held at that moment is recorded, so that a signal
    that came too late (after the work) shows as such."""
    def runner(c: Case, d: Path) -> Run:
        def during(proc: Any, t0: float) -> dict:
            deadline = t0 + 60
            sent = None
            while time.monotonic() < deadline and proc.poll() is None:
                tmp = any(p.name.endswith(".tmp") for p in d.iterdir())
                if phase == "writing" and tmp:
                    time.sleep(0.05)
                    sent = time.monotonic()
                    break
                if phase == "decoding" and _cpu_seconds(proc.pid) >= 1.5:
                    sent = time.monotonic()
                    break
                time.sleep(0.005)
            if sent is None:
                return {"signal": "never sent (the command ended or no temporary file appeared)"}
            state = sorted(p.name for p in d.iterdir() if p.name != "_tmp")
            os.kill(proc.pid, sig)
            return {"sent_at": sent - t0, "sent": sent, "folder_at_signal": state}
        run = run_command(spk(*c.args), d, env=child_env(d), during=during)
        if "sent" in run.extra:
            run.extra["exit_after_signal_s"] = round(run.wall - run.extra["sent_at"], 2)
        return run
    return runner


def verify_signal(out: str, limit: float = 2.0) -> Callable[[Path, Run], list[str]]:
    def v(d: Path, run: Run) -> list[str]:
        if "sent" not in run.extra:
            return [run.extra.get("signal", "signal not sent")]
        took = run.extra["exit_after_signal_s"]
        problems = [f"exited {took:.1f} s after the signal (> {limit:.0f} s)"] if took > limit else []
        if any(not n.endswith((".tmp", ".spk", ".npy")) or n == out for n in run.extra.get("folder_at_signal", [])):
            problems.append(f"probe: the signal came after the output was complete ({run.extra['folder_at_signal']})")
        return problems
    return v


def mutants() -> dict[str, bytes]:
    """A valid 6-chunk context file and damaged copies of it."""
    buf = io.BytesIO()
    spikecodec.save(buf, spikes((6, 3, 4, 5, 5), seed=7, rate=0.3), codec="context", chunk=(1,))
    good = buf.getvalue()
    p = hostile.parse(good)
    off, size = p.chunks[2]
    flipped = bytearray(good)
    flipped[off + size - 8] ^= 0x40  # inside chunk 2's payload
    f = fields_of(good)
    return {
        "truncated in the header": good[:40],
        "truncated mid-chunks": good[: p.chunks[3][0] + 5],
        "truncated before the trailer": good[:-10],
        "payload bit flipped (CRC now wrong)": bytes(flipped),
        "payload bit flipped, CRCs resealed": hostile.seal(bytes(flipped), rebuild_index=False),
        "shape changed, CRCs resealed": hostile.seal(hostile.set_field(good, *f["shape[2]"], 5), rebuild_index=False),
    }


GOOD6 = spikes((6, 3, 4, 5, 5), seed=7, rate=0.3)


def crashes_cases() -> None:
    # stored metadata and axes, as `spikecodec decode` writes them, made bad
    bad_meta = [
        ("a JSON list", np.array("[1, 2]")),
        ("a number", np.array("5")),
        ("NaN", np.array('{"a": NaN}')),
        ("10000-deep nesting", np.array(DEEP)),
        ("invalid UTF-8", np.array(b'{"k": "\xff\xfe"}')),
        ("a 2-D array", np.array([["{}"]])),
    ]
    for what, value in bad_meta:
        case("crashes", f".npz metadata {what}: encode x.npz", ["encode", "x.npz", "-o", "x.spk"], "fail", names=("x.npz",),
             setup=npz_with(metadata=value), baseline="encode-npz")
    case("crashes", ".npz axes of wrong count: encode x.npz", ["encode", "x.npz", "-o", "x.spk"], "fail", names=("x.npz",),
         setup=npz_with(axes=np.array(["T", "N", "C"])), baseline="encode-npz")
    case("crashes", ".npz axes not unique: train-prior x.npz", ["train-prior", "x.npz", "-o", "p.prior"], "fail", names=("x.npz",),
         setup=npz_with(axes=np.array(["T", "T", "C", "H", "W"])), baseline="train-prior-npz")
    case("crashes", ".npz metadata 10000-deep: train-prior x.npz", ["train-prior", "x.npz", "-o", "p.prior"], "fail", names=("x.npz",),
         setup=npz_with(metadata=np.array(DEEP)), baseline="train-prior-npz")
    h5_bad = [
        ("a JSON list", "[1, 2]"),
        ("a number (integer attribute)", np.int64(5)),
        ("NaN", '{"a": NaN}'),
        ("10000-deep nesting", DEEP),
        ("invalid UTF-8", np.bytes_(b'{"k": "\xff\xfe"}')),
    ]
    for what, value in h5_bad:
        case("crashes", f".h5 metadata {what}: encode x.h5", ["encode", "x.h5", "-o", "x.spk"], "fail", names=("x.h5",),
             setup=h5_with(metadata=value), baseline="encode-h5")
    case("crashes", ".h5 axes of wrong count: encode x.h5", ["encode", "x.h5", "-o", "x.spk"], "fail", names=("x.h5",),
         setup=h5_with(axes=["T", "N"]), baseline="encode-h5")

    # an empty countctx file
    empty = np.zeros((5, 0), np.uint8)
    for ext, base in (("npy", "decode-npy"), ("h5", "decode-h5"), ("pt", "decode-pt"), ("npz", "decode-npz")):
        case("crashes", f"countctx file of shape (5, 0): decode -o e.{ext} succeeds", ["decode", "e.spk", "-o", f"e.{ext}"], "ok",
             setup=lambda d: save_spk(d / "e.spk", empty, codec="countctx"), outputs=(f"e.{ext}",), baseline=base,
             verify=verify_file(f"e.{ext}", empty))
    case("crashes", "countctx file of shape (5, 0): inspect --stats succeeds", ["inspect", "e.spk", "--stats"], "ok",
         setup=lambda d: save_spk(d / "e.spk", empty, codec="countctx"), baseline="inspect-stats")
    case("crashes", "countctx file of shape (5, 0): recover succeeds", ["recover", "e.spk", "-o", "r.spk"], "ok",
         setup=lambda d: save_spk(d / "e.spk", empty, codec="countctx"), outputs=("r.spk",), baseline="recover",
         verify=verify_file("r.spk", empty))

    # decode to .pt and .h5 under a file-size limit (HDF5 once crashed after a failed write)
    for ext in ("pt", "h5"):
        case("crashes", f"decode -o out.{ext} under ulimit -f 16K", ["decode", "r.spk", "-o", f"out.{ext}"], "fail", names=(f"out.{ext}",),
             fsize=16 * 1024, setup=big_random, baseline=f"decode-{ext}",
             display=f"(ulimit -f 16; spikecodec decode r.spk -o out.{ext})")

    # signals while decode works on a 128 MiB output
    for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        for phase in ("decoding", "writing"):
            case("crashes", f"{sig.name} while decode is {phase} 256 MiB", ["decode", "big.spk", "-o", "big.npy"], "fail",
                 codes=(128 + sig,), names=(), setup=lambda d: asset("big256.spk", d, "big.spk"),
                 runner=signal_runner(sig, phase, "big.npy"), baseline="decode-npy", declared=256 * MIB, verify=verify_signal("big.npy"),
                 time_limit=None, note="the signal ends the run: the 10 s limit does not apply; exit within 2 s of it does")
    case("crashes", "SIGTERM while encode is writing", ["encode", "z.npy", "-o", "z.spk", "--codec", "context"], "fail",
         codes=(143,), names=(),
         setup=lambda d: save_npy(d / "z.npy", spikes((64, 64, 16, 16, 16), seed=1, rate=0.1)),
         runner=signal_runner(signal.SIGTERM, "writing", "z.spk"), baseline="encode", declared=0, verify=verify_signal("z.spk"),
         time_limit=None)

    # truncated and bit-flipped spike files, through every command that reads one
    for what, data in mutants().items():
        trunc_header = what == "truncated in the header"
        header_ok_index_ok = what.startswith("payload")  # header and index intact
        recoverable = what in ("truncated mid-chunks", "truncated before the trailer") or what.startswith("payload")
        s = lambda d, data=data: write(d / "m.spk", data)  # noqa: E731
        case("crashes", f"{what}: decode", ["decode", "m.spk", "-o", "m.npy"], "fail", names=("m.spk",), setup=s, baseline="decode-npy")
        case("crashes", f"{what}: inspect", ["inspect", "m.spk"], "ok" if header_ok_index_ok else "any", names=("m.spk",),
             setup=s, baseline="inspect")
        case("crashes", f"{what}: inspect --stats", ["inspect", "m.spk", "--stats"], "fail", names=("m.spk",), setup=s, baseline="inspect-stats")
        case("crashes", f"{what}: validate", ["validate", "m.spk"], "report", codes=(1,), names=("m.spk",), setup=s, baseline="validate")
        if recoverable:
            case("crashes", f"{what}: recover keeps what is complete", ["recover", "m.spk", "-o", "r.spk"], "ok", setup=s, outputs=("r.spk",),
                 baseline="recover", verify=verify_valid_spk("r.spk", 1 if not what.startswith("payload") else 2, GOOD6))
        else:
            case("crashes", f"{what}: recover", ["recover", "m.spk", "-o", "r.spk"], "fail" if trunc_header else "any", names=("m.spk",),
                 setup=s, outputs=("r.spk",), baseline="recover")
        case("crashes", f"{what}: encode (re-encode)", ["encode", "m.spk", "-o", "r.spk"], "fail", names=("m.spk",), setup=s, baseline="encode-spk")
        case("crashes", f"{what}: train-prior", ["train-prior", "m.spk", "-o", "p.prior", "--codec", "context"], "fail", names=("m.spk",),
             setup=s, baseline="train-prior")
    for what, cut in (("truncated", lambda b: b[: len(b) // 2]), ("bit-flipped", lambda b: b[:200] + bytes([b[200] ^ 4]) + b[201:])):
        case("crashes", f"edge stream {what}: cloud", ["cloud", "s.spk", "-o", "p.npy"], "fail", names=("s.spk",),
             setup=lambda d, cut=cut: write(d / "s.spk", cut((ASSETS / "stream8.spk").read_bytes())), baseline="cloud")

    # hostile metadata inside a spike file's header
    raw = vector("spikes-raw")
    for what, meta in (("nested 100,000 deep", hostile.HOSTILE_METADATA[0]), ("1e999999", hostile.HOSTILE_METADATA[5]),
                       ("invalid UTF-8", hostile.HOSTILE_METADATA[3])):
        data = hostile.with_metadata(raw, meta)
        case("crashes", f"spike file metadata {what}: inspect --json", ["inspect", "h.spk", "--json"], "fail", names=("h.spk",),
             setup=lambda d, data=data: write(d / "h.spk", data), baseline="inspect")
        case("crashes", f"spike file metadata {what}: decode -o h.npz", ["decode", "h.spk", "-o", "h.npz"], "fail", names=("h.spk",),
             setup=lambda d, data=data: write(d / "h.spk", data), baseline="decode-npz")

    # careless options
    for name, args, codes, names, base in [
        ("--select with a bad index", ["decode", "x.spk", "-o", "x.npy", "--select", "t=abc"], (2,), ("--select",), "decode-npy"),
        ("--select on a missing axis", ["decode", "x.spk", "-o", "x.npy", "--select", "q=0"], (2,), ("--select",), "decode-npy"),
        ("--select out of range", ["decode", "x.spk", "-o", "x.npy", "--select", "t=99"], (2,), ("--select",), "decode-npy"),
        ("--chunk 0", ["encode", "x.npy", "-o", "x.spk", "--chunk", "0"], (2,), ("--chunk",), "encode"),
        ("--codec with bad JSON", ["encode", "x.npy", "-o", "x.spk", "--codec", "{"], (2,), ("--codec",), "encode"),
        ("--codec unknown", ["encode", "x.npy", "-o", "x.spk", "--codec", "nosuch"], (2,), ("--codec",), "encode"),
        ("--axes of wrong count", ["encode", "x.npy", "-o", "x.spk", "--axes", "TN"], (1, 2), ("--axes", "x.npy"), "encode"),
        ("--meta with 10000-deep JSON", ["encode", "x.npy", "-o", "x.spk", "--meta", "a=" + "[" * 10000 + "]" * 10000], (1, 2), ("--meta",), "encode"),
        ("--meta without =", ["encode", "x.npy", "-o", "x.spk", "--meta", "novalue"], (2,), ("--meta",), "encode"),
        ("--dtype not a choice (argparse)", ["decode", "x.spk", "-o", "x.npy", "--dtype", "bogus"], (2,), ("--dtype",), "decode-npy"),
        ("--max-bytes negative (argparse)", ["decode", "x.spk", "-o", "x.npy", "--max-bytes", "-5"], (2,), ("--max-bytes",), "decode-npy"),
        ("cloud --batch 0", ["cloud", "s.spk", "-o", "p.npy", "--batch", "0"], (2,), ("--batch",), "cloud"),
        ("edge --model unknown", ["edge", "--images", "imgs.npy", "-o", "e.spk", "--model", "nosuch"], (2,), ("--model",), "edge-npy"),
        ("decode to an unknown extension", ["decode", "x.spk", "-o", "x.txt"], (2,), ("x.txt",), "decode-npy"),
        ("encode a missing input", ["encode", "missing.npy", "-o", "x.spk"], (1,), ("missing.npy",), "encode"),
        ("encode a FIFO as input", ["encode", "fifo.npy", "-o", "x.spk"], (1,), ("fifo.npy",), "encode"),
    ]:
        def s(d: Path) -> None:
            tiny_set(d)
            asset("stream8.spk", d, "s.spk")
            asset("images8.npy", d, "imgs.npy")
            os.mkfifo(d / "fifo.npy")
        case("crashes", name, args, "fail", codes=codes, names=names, setup=s, baseline=base,
             display=("spikecodec " + " ".join(args))[:60] + " ..." if len(" ".join(args)) > 100 else None)

    # images that are not what they say
    for name, setup, names in [
        ("edge: an empty folder", lambda d: (d / "pngs").mkdir(), ("pngs",)),
        ("edge: a folder with a text file named .png", lambda d: ((d / "pngs").mkdir(), write(d / "pngs" / "a.png", b"hello")), ("a.png",)),
        ("edge: 16-bit PNG", lambda d: ((d / "pngs").mkdir(), _png16(d / "pngs" / "a.png")), ("a.png",)),
        ("edge: PNGs of two sizes", lambda d: ((d / "pngs").mkdir(), _png_sizes(d / "pngs")), ("pngs", ".png")),
        ("edge: a truncated IDX file", lambda d: write(d / "t-idx3-ubyte", bytes([0, 0, 8, 3]) + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(100)), ("t-idx3-ubyte",)),
    ]:
        src = "t-idx3-ubyte" if "IDX" in name else "pngs"
        case("crashes", name, ["edge", "--images", src, "-o", "e.spk"], "fail", names=names, setup=setup, baseline="edge-png")


def _png16(path: Path) -> None:
    from PIL import Image

    Image.fromarray(np.zeros((28, 28), np.uint16)).save(path)


def _png_sizes(folder: Path) -> None:
    from PIL import Image

    Image.fromarray(np.zeros((28, 28), np.uint8)).save(folder / "a.png")
    Image.fromarray(np.zeros((29, 28), np.uint8)).save(folder / "b.png")


# --- 5. deployment -----------------------------------------------------------------------------------------


_deploy: dict[str, Path] = {}


def deploy_setup(d: Path) -> None:
    """A read-only install: the packages copied, a FILE named __pycache__ in every package folder
    (no cache beside the sources, no bytecode), HOME a file, no XDG_CACHE_HOME; TMPDIR fresh so
    that the numba cache starts cold."""
    if "root" not in _deploy:
        root = d.parent / "deploy-install"
        site = root / "site"
        shutil.copytree(ROOT / "spikecodec", site / "spikecodec", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(ROOT / "cli", site / "spikecodec_cli", ignore=shutil.ignore_patterns("__pycache__"))
        for dirpath, _, filenames in os.walk(site):
            if "__init__.py" in filenames:
                (Path(dirpath) / "__pycache__").write_text("not a folder\n")
        (root / "home").write_text("HOME is a file\n")
        (root / "tmp").mkdir()
        _deploy["root"] = root
    save_spk(d / "x.spk", TINY)


def deploy_env(d: Path) -> dict:
    root = _deploy["root"]
    env = child_env(d, {"HOME": str(root / "home"), "XDG_CACHE_HOME": None, "PYTHONPATH": str(root / "site"),
                        "TMPDIR": str(root / "tmp"), "NUMBA_CACHE_DIR": None})
    return env


def deploy_runner(c: Case, d: Path) -> Run:
    env = deploy_env(d)
    where = subprocess.run([PY, "-c", "import spikecodec, spikecodec_cli; print(spikecodec.__file__); print(spikecodec_cli.__file__)"],
                           cwd=d, env=env, capture_output=True, text=True)
    run = run_command(spk(*c.args), d, env=env, timeout=600)
    run.extra["modules"] = where.stdout.split()
    run.extra["numba_cache"] = sorted(str(p.relative_to(_deploy["root"])) for p in (_deploy["root"] / "tmp").iterdir())
    return run


def verify_deploy(d: Path, run: Run) -> list[str]:
    problems = []
    site = str(_deploy["root"] / "site")
    mods = run.extra.get("modules", [])
    if len(mods) != 2 or not all(m.startswith(site) for m in mods):
        problems.append(f"the copy was not the one imported: {mods}")
    for dirpath, dirnames, filenames in os.walk(_deploy["root"] / "site"):
        for n in filenames:
            if n.endswith((".pyc", ".nbi", ".nbc")):
                problems.append(f"wrote {n} beside the sources")
                break
    return problems + verify_file("x.npy", TINY)(d, run)


def deployment_cases() -> None:
    for phase in ("cold", "warm"):
        case("deployment", f"read-only install, HOME a file, no XDG_CACHE_HOME: decode ({phase} numba cache)",
             ["decode", "x.spk", "-o", "x.npy"], "ok", setup=deploy_setup, runner=deploy_runner, outputs=("x.npy",),
             baseline=None if phase == "cold" else "decode-npy", timeout=600, verify=verify_deploy, time_limit=None if phase == "cold" else TIME_LIMIT,
             display="HOME=<a file> PYTHONPATH=<copy> python -m spikecodec decode x.spk -o x.npy",
             note="first command, cold cache: wall time reported, not limited" if phase == "cold" else "")


# --- running the cases ------------------------------------------------------------------------------------------


def run_case(c: Case, top: Path, index: int) -> dict:
    d = top / f"case{index:03d}"
    d.mkdir()
    (d / "_tmp").mkdir()
    if c.setup is not None:
        c.setup(d)
    base_kib = baseline_rss(c.baseline, top) if c.baseline else None
    before = snapshot(d)
    if c.runner is not None:
        run = c.runner(c, d)
    else:
        env = c.env(d) if callable(c.env) else child_env(d, c.env)
        pre = []
        if c.fsize is not None:
            pre.append(fsize_limit(c.fsize))
        if c.close_stdout:
            pre.append(closed_stdout)
        preexec = (lambda: [p() for p in pre]) if pre else None
        stdin: Any = None
        if isinstance(c.stdin, str):
            stdin = d / c.stdin
        elif isinstance(c.stdin, bytes):
            stdin = c.stdin
        run = run_command(spk(*c.args), d, stdin=stdin, stdout_file=(d / c.stdout_file) if c.stdout_file else None,
                          env=env, preexec=preexec, timeout=c.timeout)
    after = snapshot(d)
    if c.stdout_file:  # the shell made that file before the command ran: it is not the command's
        before.setdefault(c.stdout_file, after.get(c.stdout_file))
        if c.stdout_file in after:
            before[c.stdout_file] = after[c.stdout_file]
    problems = check(c, d, before, after, run, base_kib)
    err = stderr_lines(run)
    over = None if base_kib is None else round((run.maxrss_kib - base_kib) / 1024, 1)
    row = {
        "class": c.cls,
        "case": c.name,
        "command": c.display or "spikecodec " + " ".join(_quote(a) for a in c.args),
        "expected": _expected_text(c),
        "exit": run.rc,
        "stderr": (err[0] if err else "")[:120],
        "stderr_lines": len(err),
        "stderr_first_line": err[0][:1000] if err else "",
        "failed": problems,
        "peak_rss_over_baseline_mib": over,
        "peak_rss_mib": round(run.maxrss_kib / 1024, 1),
        "wall_s": round(run.wall, 2),
    }
    extra = {k: v for k, v in run.extra.items() if k in ("exit_after_signal_s", "modules", "numba_cache", "signal")}
    if extra:
        row["extra"] = extra
    if c.note:
        row["note"] = c.note
    shutil.rmtree(d, ignore_errors=True)
    return row


def _quote(a: str) -> str:
    if len(a) > 60:
        return repr(a[:20] + "..." + a[-10:])
    return a if a and all(ch.isalnum() or ch in "-_./:=,<>@+" for ch in a) else repr(a)


def _expected_text(c: Case) -> str:
    if c.expect == "ok":
        return "ok"
    if c.expect == "fail":
        return "refused " + "|".join(map(str, c.codes))
    if c.expect == "report":
        return "report " + "|".join(map(str, c.codes))
    if c.expect == "any":
        return "ok or refused " + "|".join(map(str, c.codes))
    return "quiet (0|1, <= 1 line)"


CLASSES = ("disclosure", "outputs", "unbounded", "crashes", "deployment")


def generate() -> list[Case]:
    CASES.clear()
    disclosure_cases()
    outputs_cases()
    unbounded_cases()
    crashes_cases()
    deployment_cases()
    return CASES


def markdown(rows: list[dict], meta: dict) -> str:
    out = ["# Careless and hostile usage of the command line", "",
           "Generated by `scripts/hostile_usage_probe.py` (issue 21's targets): each case is run through the real "
           "command (`python -m spikecodec ...`) in a subprocess, in its own temporary folder, and checked against "
           "the rules in that script's docstring: exit status, exactly one `spikecodec: error: ` line naming the file "
           "or option, no traceback, nothing overwritten (bytes, mode, file type), nothing left behind, peak RSS "
           "within max(64 MiB, 1.5 x the legitimate output) over the same command on a tiny valid file, at most 10 s. "
           "A row with checks failed is a finding.", "",
           "## Summary", "", "| class | cases | passed | failed |", "|---|---:|---:|---:|"]
    for cls in CLASSES:
        sel = [r for r in rows if r["class"] == cls]
        if sel:
            bad = sum(1 for r in sel if r["failed"])
            out.append(f"| {cls} | {len(sel)} | {len(sel) - bad} | {bad} |")
    bad = sum(1 for r in rows if r["failed"])
    out += [f"| **all** | **{len(rows)}** | **{len(rows) - bad}** | **{bad}** |", ""]
    failing = [r for r in rows if r["failed"]]
    if failing:
        out += ["## Failing cases", ""]
        for r in failing:
            out.append(f"- **{r['class']} / {r['case']}**: `{r['command']}` - {'; '.join(r['failed'])}"
                       + (f" (stderr: `{r['stderr']}`)" if r["stderr"] else ""))
        out.append("")
    out += ["## Every case", "", "| class | case | command | expected | exit | stderr (first line) | checks failed | peak RSS over baseline (MiB) | wall (s) |",
            "|---|---|---|---|---:|---|---|---:|---:|"]
    for r in rows:
        def cell(s: Any) -> str:
            return str(s).replace("|", "\\|").replace("\n", " ")
        note = ""
        if "extra" in r and "exit_after_signal_s" in r["extra"]:
            note = f" (exit {r['extra']['exit_after_signal_s']} s after the signal)"
        out.append(f"| {r['class']} | {cell(r['case'])}{cell(note)} | `{cell(r['command'])}` | {r['expected']} | {r['exit']} | "
                   f"{'`' + cell(r['stderr']) + '`' if r['stderr'] else ''} | {cell('; '.join(r['failed']))} | "
                   f"{'' if r['peak_rss_over_baseline_mib'] is None else r['peak_rss_over_baseline_mib']} | {r['wall_s']} |")
    out += ["", "## Baselines (the same command on a tiny valid file)", "", "| key | command | peak RSS (MiB) | wall (s) |", "|---|---|---:|---:|"]
    for b in meta["baselines"]:
        out.append(f"| {b['key']} | `{b['command']}` | {b['peak_rss_mib']} | {b['wall_s']} |")
    if meta.get("modified_files"):
        out += ["", "Run on a working tree with uncommitted changes to: " + ", ".join(f"`{m[3:]}`" for m in meta["modified_files"]) + "."]
    out += ["", f"commit: {meta['commit']}  platform: {meta['platform']}  cpu_count: {meta['cpu_count']}  python: {meta['python']}  "
            f"user: {meta['user']}  total wall: {meta['total_s']} s  load average (1 min) before/after: "
            f"{meta['load_average_before_after'][0]}/{meta['load_average_before_after'][1]}", "",
            "Regenerate: `.venv/bin/python scripts/hostile_usage_probe.py`", ""]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="run only cases whose class or name contains this")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--no-write", action="store_true", help="do not write results/")
    opts = ap.parse_args()
    start = time.monotonic()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="spikecodec-hostile-") as tmp:
        top = Path(tmp)
        print("building shared assets ...", flush=True)
        build_assets(top)
        cases = generate()
        if opts.list:
            for i, c in enumerate(cases):
                print(f"{i:3d} {c.cls:11s} {c.name}")
            return 0
        selected = [(i, c) for i, c in enumerate(cases) if not opts.only or opts.only in c.name or opts.only == c.cls]
        rows = []
        for n, (i, c) in enumerate(selected):
            t = time.monotonic()
            try:
                row = run_case(c, top, i)
            except Exception as exc:  # the probe's own failure to set up a case is reported, not hidden
                row = {"class": c.cls, "case": c.name, "command": c.display or "spikecodec " + " ".join(c.args),
                       "expected": _expected_text(c), "exit": None, "stderr": "", "stderr_lines": 0,
                       "failed": [f"probe error: {type(exc).__name__}: {str(exc)[:200]}"], "peak_rss_over_baseline_mib": None,
                       "peak_rss_mib": None, "wall_s": round(time.monotonic() - t, 2)}
            rows.append(row)
            status = "ok  " if not row["failed"] else "FAIL"
            extra = f" {row['extra']}" if row.get("extra") else ""
            print(f"[{n + 1:3d}/{len(selected)}] {status} {c.cls:10s} {c.name[:80]:80s} exit={row['exit']} {row['wall_s']:.1f}s{extra}"
                  + (f"\n        -> {'; '.join(row['failed'])}\n        stderr: {row['stderr']}" if row["failed"] else ""), flush=True)
        leftovers = [str(p.relative_to(top)) for p in top.rglob("*.tmp")]
        if leftovers:
            print(f"temporary files left anywhere in the work folder: {leftovers}")
    meta = {
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip(),
        "modified_files": subprocess.run(["git", "status", "--short", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                                         text=True).stdout.split("\n")[:-1],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "user": "root" if os.geteuid() == 0 else str(os.geteuid()),
        "total_s": round(time.monotonic() - start, 1),
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "baselines": BASELINE_ROWS,
        "rules": {"memory_floor_mib": MEMORY_FLOOR // MIB, "memory_factor": 1.5, "time_limit_s": TIME_LIMIT},
    }
    summary = {}
    for cls in CLASSES:
        sel = [r for r in rows if r["class"] == cls]
        if sel:
            bad = sum(1 for r in sel if r["failed"])
            summary[cls] = {"cases": len(sel), "passed": len(sel) - bad, "failed": bad}
    print("\nclass        cases passed failed")
    for cls, s in summary.items():
        print(f"{cls:12s} {s['cases']:5d} {s['passed']:6d} {s['failed']:6d}")
    print(f"total        {len(rows):5d} {sum(not r['failed'] for r in rows):6d} {sum(bool(r['failed']) for r in rows):6d}   ({meta['total_s']} s)")
    if not opts.no_write and not opts.only:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "hostile_usage.json").write_text(json.dumps({"meta": meta, "summary": summary, "cases": rows}, indent=1) + "\n")
        (RESULTS / "hostile_usage.md").write_text(markdown(rows, meta))
        print("wrote results/hostile_usage.md and results/hostile_usage.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
