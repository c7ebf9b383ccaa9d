"""Writers killed with SIGKILL at random moments, and what a reader recovers afterwards.

Run as a script, this is the victim: ``python crash.py stream PATH SEED`` streams deterministic
frames with :class:`spikecodec.SpikeWriter`, flushing every ``k`` frames, and prints
``flushed <n>`` on stdout each time ``flush()`` has returned (``n`` frames are then safe).
``python crash.py save PATH SEED`` saves array 0 over PATH, prints ``saved 0 <seconds>``, then
saves arrays 1, 0, 1, ... over it in turn, forever, printing ``saved <which>`` after each.
The parent side (:func:`kill_stream`, :func:`kill_save`) is used by the test suite and by
scripts/robustness_report.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FRAME_SHAPE = (3, 4, 5, 5)  # N, C, H, W
CODECS = ("raw", "zstd", "auto", "context", "order0")


@dataclass(frozen=True)
class StreamPlan:
    """How the victim writes: everything follows from the seed."""

    seed: int

    @property
    def codec(self) -> str:
        return CODECS[self.seed % len(CODECS)]

    @property
    def chunk(self) -> int:
        return (1, 2, 4)[(self.seed // len(CODECS)) % 3]

    @property
    def flush_every(self) -> int:
        return (1, 1, 3, 5)[(self.seed // 7) % 4]

    @property
    def bits(self) -> int:
        return (1, 1, 2, 8)[(self.seed // 11) % 4]


def frame(seed: int, i: int, bits: int = 1) -> np.ndarray:
    """Frame ``i`` of the stream with this seed (deterministic)."""
    rng = np.random.default_rng([seed, i])
    if bits == 1:
        return (rng.random(FRAME_SHAPE) < 0.2).astype(np.uint8)
    return rng.integers(0, 1 << bits, FRAME_SHAPE, dtype=np.uint8) * (rng.random(FRAME_SHAPE) < 0.3)


SAVE_SHAPE = (16, 32, 16, 16, 16)  # 2M elements: a save with the context codec takes ~0.1-0.5 s


def save_array(which: int) -> np.ndarray:
    """The two arrays the save victim alternates between (large enough to take a while)."""
    rng = np.random.default_rng(which)
    return (rng.random(SAVE_SHAPE) < (0.1 if which else 0.3)).astype(np.uint8)


def _victim_stream(path: str, seed: int) -> None:
    import spikecodec

    plan = StreamPlan(seed)
    spikecodec.encode(frame(seed, 0, plan.bits)[None], codec=plan.codec)  # load compiled kernels first
    with open(path, "wb") as f:
        w = spikecodec.SpikeWriter(f, codec=plan.codec, chunk=plan.chunk, bits=plan.bits, axes="TNCHW")
        print("ready", flush=True)
        i = 0
        while True:
            w.append(frame(seed, i, plan.bits))
            i += 1
            if i % plan.flush_every == 0:
                w.flush()
                print(f"flushed {i}", flush=True)


def _victim_save(path: str, seed: int) -> None:
    import spikecodec

    arrays = [save_array(0), save_array(1)]
    spikecodec.encode(arrays[0][:1], codec="context")  # load compiled kernels first
    print("ready", flush=True)
    start = time.perf_counter()
    spikecodec.save(path, arrays[0], codec="context")
    print(f"saved 0 {time.perf_counter() - start:.4f}", flush=True)
    i = 1
    while True:
        spikecodec.save(path, arrays[i % 2], codec="context")
        print(f"saved {i % 2}", flush=True)
        i += 1


def _spawn(kind: str, path: Path, seed: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, kind, str(path), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _run_then_kill(proc: subprocess.Popen, delay: float) -> list[str]:
    """Wait for "ready", let the victim run ``delay`` seconds, SIGKILL it; its stdout lines."""
    first = proc.stdout.readline()  # type: ignore[union-attr]
    if first.strip() != "ready":
        proc.kill()
        raise RuntimeError(f"victim did not start: {first!r}")
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate()
    return out.splitlines()


@dataclass
class KillResult:
    seed: int
    delay: float
    flushed: int  # frames flush() had confirmed when the victim died
    recovered: int  # frames spikecodec.open(recover=True) returned
    exact: bool  # every recovered frame equals the frame written
    cli_rows: int | None = None  # rows in `spikecodec recover`'s output (None: not run)
    cli_ok: bool | None = None  # its output validates clean and equals the recovered frames

    @property
    def ok(self) -> bool:
        return self.exact and self.recovered >= self.flushed and self.cli_ok is not False


def kill_stream(workdir: Path, seed: int, delay: float, cli: str | None = None) -> KillResult:
    """Kill a streaming writer after ``delay`` s and recover its file. ``cli``: None, "inprocess"
    (the command's main() in this process) or "subprocess" (the installed command)."""
    import spikecodec

    plan = StreamPlan(seed)
    path = workdir / f"stream-{seed}.spk"
    lines = _run_then_kill(_spawn("stream", path, seed), delay)
    flushed = max([int(x.split()[1]) for x in lines if x.startswith("flushed")], default=0)
    try:
        with spikecodec.open(path, recover=True) as r:
            got = r.read()
    except spikecodec.FormatError:
        if flushed:  # something was confirmed flushed, so the header at least must be there
            raise
        path.unlink(missing_ok=True)
        return KillResult(seed, delay, 0, 0, True)  # killed before its first flush: nothing promised
    expected = np.stack([frame(seed, i, plan.bits) for i in range(len(got))]) if len(got) else got
    result = KillResult(seed, delay, flushed, len(got), bool(np.array_equal(got, expected)))
    if cli is not None:
        out = workdir / f"recovered-{seed}.spk"
        if cli == "subprocess":
            exe = Path(sys.executable).with_name("spikecodec")
            rc = subprocess.run([str(exe), "recover", str(path), "-o", str(out), "-q"], capture_output=True).returncode
        else:
            from spikecodec_cli.main import main

            rc = main(["recover", str(path), "-o", str(out), "-q"])
        report = spikecodec.validate(out)
        fixed = spikecodec.load(out) if report.ok else None
        result.cli_rows = None if fixed is None else len(fixed)
        result.cli_ok = rc == 0 and fixed is not None and np.array_equal(fixed, got)
        out.unlink(missing_ok=True)
    path.unlink(missing_ok=True)
    return result


@dataclass
class SaveKill:
    save_seconds: float  # how long the first save took (the delay is drawn relative to it)
    delay: float  # seconds after the first save returned
    saves_done: int  # saves that had returned (printed) when the victim died, the first included
    held: str  # "old": the last returned save's array; "new": the next one (renamed, not yet printed)


def kill_save(workdir: Path, seed: int, fraction: float) -> SaveKill:
    """Let a process complete one save over a path, then SIGKILL it ``fraction`` x (the first
    save's duration) into the saves that follow over the same path. The path must then hold
    exactly the array of the last save that returned ("old") or of the one under way ("new",
    renamed into place just before the kill); anything else raises AssertionError."""
    import spikecodec

    path = workdir / f"save-{seed}.spk"
    proc = _spawn("save", path, seed)
    first = proc.stdout.readline()  # type: ignore[union-attr]
    done = proc.stdout.readline().split()  # type: ignore[union-attr]
    if first.strip() != "ready" or done[:2] != ["saved", "0"]:
        proc.kill()
        raise RuntimeError(f"save victim did not start: {first!r} {done!r}")
    seconds = float(done[2])
    delay = fraction * seconds
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate()
    saves = 1 + sum(line.startswith("saved") for line in out.splitlines())
    try:
        got = spikecodec.load(path)  # raises FormatError on a half-written file
        old = (saves - 1) % 2
        if np.array_equal(got, save_array(old)):
            held = "old"
        elif np.array_equal(got, save_array(1 - old)):
            held = "new"
        else:
            raise AssertionError(f"{path} holds neither the old nor the new array")
        return SaveKill(seconds, delay, saves, held)
    finally:
        for p in workdir.glob(f".{path.name}.*.tmp"):  # a killed save leaves its temporary file
            p.unlink()
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    kind, target, seed_text = sys.argv[1:4]
    (_victim_stream if kind == "stream" else _victim_save)(target, int(seed_text))
