"""Coverage-guided fuzzing of the spike-file readers with atheris (libFuzzer).

    .venv/bin/python scripts/fuzz.py decode --runs 300000 --time 1800

Targets: ``decode`` (spikecodec.decode), ``open`` (spikecodec.open(recover=True) and slicing),
``validate`` (spikecodec.validate), ``link`` (message streams fed to a LinkDecoder, going on
past refused messages; a stream taken whole must concatenate to a file that decodes to the same
rows: hostile.exercise_link, seeded with the message vectors), ``cli`` (the command line's validate, inspect, decode and
recover, run in-process through spikecodec_cli.main.main; hostile.exercise_cli), ``prior``
(prior files: parsed, then used to code a small array, named and embedded;
hostile.exercise_prior, seeded with the conformance priors and mutated in content by
hostile.mutate_prior). Seeds are the valid conformance vectors; the custom mutator
mixes libFuzzer's byte-level mutations with the structure-aware ones of
tests/robustness/hostile.py (bit flips, truncations, splices, huge length/count/offset/shape
fields, duplicated/reordered chunks, hostile metadata), usually re-sealing CRCs so that the
mutation reaches the checks behind them. Every input must decode or raise FormatError; anything
else is a crash that libFuzzer saves under runs/fuzz/. The run's statistics go to
runs/fuzz/<target>.json (read by scripts/robustness_report.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "robustness"))
FUZZ_DIR = ROOT / "runs" / "fuzz"
TARGETS = ("decode", "open", "validate", "link", "cli", "prior")
MEMORY_LIMIT = 4 << 30  # address-space cap per fuzzing process: a leak fails loudly, not the machine


def child(target: str, libfuzzer_args: list[str]) -> None:
    """The fuzzing process itself (libFuzzer takes over argv and never returns)."""
    import atheris

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    # numba-compiled kernels must not be instrumented (numba compiles from their bytecode).
    with atheris.instrument_imports(include=["spikecodec", "spikecodec_cli"], exclude=["spikecodec.codecs.kernels", "spikecodec._packing_kernels"]):
        import spikecodec  # noqa: F401
        import spikecodec.codecs.auto  # noqa: F401
        import spikecodec_cli.main  # noqa: F401
    import tempfile

    import hostile

    workdir = Path(tempfile.mkdtemp(prefix="fuzz-cli-"))

    def run(data: bytes) -> None:
        if target == "cli":
            hostile.exercise_cli(data, workdir)
        elif target == "prior":
            hostile.exercise_prior(data)
        elif target == "link":
            hostile.exercise_link(data)
        else:
            hostile.exercise(data, target)

    seeds = list(_seeds(target).values())
    prior_codecs = tuple(sorted({name.split("-")[0] for name in hostile.valid_priors()}))
    for seed in seeds:  # compile/load the numba kernels before libFuzzer starts timing inputs
        run(seed)

    failures: dict[str, int] = {}
    failures_dir = FUZZ_DIR / target / "failures"

    def test_one_input(data: bytes) -> None:
        # An unexpected exception is recorded (one input per distinct place it was raised) and the
        # campaign goes on, so that one run lists every distinct failure, not just the first.
        try:
            run(data)
        except Exception as exc:  # noqa: BLE001 - the whole point is to catch what should not happen
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            key = f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno} ({frame.name})"
            failures[key] = failures.get(key, 0) + 1
            if failures[key] == 1:
                failures_dir.mkdir(parents=True, exist_ok=True)
                n = len(failures)
                (failures_dir / f"failure-{n}.spk").write_bytes(data)
                (failures_dir / f"failure-{n}.txt").write_text(key + "\n\n" + "".join(traceback.format_exception(exc)))
            (failures_dir / "summary.json").write_text(json.dumps(failures, indent=2) + "\n")

    def mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < 0.35:
            return atheris.Mutate(data, max_size)
        if target == "prior":
            out = hostile.mutate_prior(data, rng, prior_codecs)
        elif target == "link":
            out = hostile.mutate_messages(data, rng, rng.choice(seeds))
        else:
            out = hostile.mutate(data, rng, rng.choice(seeds))
        return out[:max_size]

    atheris.Setup([sys.argv[0], *libfuzzer_args], test_one_input, custom_mutator=mutator)
    atheris.Fuzz()


def _seeds(target: str) -> dict[str, bytes]:
    """The valid inputs a campaign starts from: conformance priors or vectors."""
    import hostile

    if target == "link":
        return hostile.valid_message_streams()
    return hostile.valid_priors() if target == "prior" else hostile.valid_vectors()


def _code_version() -> str:
    """The commit the campaign fuzzes (short hash), marked when the library's files differ from it:
    the report names it beside the target's numbers."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" with local changes" if git("status", "--porcelain", "--", "spikecodec", "cli") else "")


def campaign(target: str, runs: int, seconds: int, timeout: int) -> dict:
    """Run one target to ``runs`` executions or ``seconds``, whichever comes first; return stats."""
    out = FUZZ_DIR / target
    corpus = out / "corpus"
    crashes = out / "crashes"
    corpus.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    for name, data in _seeds(target).items():
        (corpus / f"seed-{name}.{ {'prior': 'prior', 'link': 'msgs'}.get(target, 'spk') }").write_bytes(data)
    args = [
        str(corpus),
        f"-runs={runs}",
        f"-max_total_time={seconds}",
        f"-timeout={timeout}",
        "-rss_limit_mb=0",  # RLIMIT_AS bounds memory instead (Python's RSS includes numba's JIT)
        "-max_len=65536",
        "-print_final_stats=1",
        f"-artifact_prefix={crashes}/",
    ]
    log = out / "log.txt"
    summary = out / "failures" / "summary.json"
    if summary.exists():
        summary.unlink()
    started = time.time()
    code = _code_version()
    # A numba cache of its own: kernels cached by another (uninstrumented or concurrent) process
    # failed to load under atheris ("No module named '<dynamic>'"), ending the campaign at its seeds.
    env = {**os.environ, "NUMBA_CACHE_DIR": str(out / "numba-cache")}
    with open(log, "wb") as f:
        rc = subprocess.call([sys.executable, __file__, "--child", target, *args], stdout=f, stderr=subprocess.STDOUT, env=env)
    text = log.read_text(errors="replace")
    executed = re.findall(r"stat::number_of_executed_units:\s*(\d+)", text)
    peak = re.findall(r"stat::peak_rss_mb:\s*(\d+)", text)
    stats = {
        "target": target,
        "executions": int(executed[-1]) if executed else None,
        "seconds": round(time.time() - started, 1),
        "exit_code": rc,
        "corpus_files": len(list(corpus.iterdir())),
        "crash_files": sorted(p.name for p in crashes.iterdir()),
        "failures": json.loads(summary.read_text()) if summary.exists() else {},
        "peak_rss_mb": int(peak[-1]) if peak else None,
        "python": platform.python_version(),
        "atheris": _version("atheris"),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "code": code,
    }
    (FUZZ_DIR / f"{target}.json").write_text(json.dumps(stats, indent=2) + "\n")
    return stats


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", choices=TARGETS)
    parser.add_argument("--runs", type=int, default=100_000, help="executions to stop after")
    parser.add_argument("--time", type=int, default=600, help="seconds to stop after")
    parser.add_argument("--timeout", type=int, default=30, help="seconds one input may take (a hang)")
    args = parser.parse_args()
    stats = campaign(args.target, args.runs, args.time, args.timeout)
    print(json.dumps(stats, indent=2))
    sys.exit(0 if stats["exit_code"] == 0 else 1)


if __name__ == "__main__":
    main()
