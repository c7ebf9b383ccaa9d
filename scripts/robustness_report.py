"""Regenerate results/robustness.md and results/robustness.json (issue 6).

    nice -n 10 .venv/bin/python scripts/robustness_report.py [--fuzz-runs 400000] [--fuzz-seconds 3600] [--kills 200]

1. Fuzzing: runs scripts/fuzz.py for each target (decode, open, validate, link, cli, prior) to ``--fuzz-runs``
   executions, unless ``--fuzz-runs 0``, which reuses the statistics of the last campaign in
   runs/fuzz/<target>.json.
2. Crash safety: ``--kills`` streaming writers SIGKILLed at random moments (tests/robustness/crash.py),
   each recovered with spikecodec.open(recover=True) and with `spikecodec recover` (its main() in
   this process; the installed command in a subprocess every 10th time), plus ``--save-kills``
   saves over an existing path killed mid-way.
3. Memory: peak RSS of each read (decode, open + slicing, validate, measured apart with the peak
   mark reset; tests/robustness/memory.py) of each hostile file and of genuine files of every
   codec declaring far more output than they hold, in a fresh process; and over the whole fuzz
   corpus in one process (the worst file, and how much stays allocated after the last: a leak).

The campaigns are long on a shared machine, so they can run on a snapshot of a commit (a git
worktree) and be merged: ``--fuzz-dir`` reads the fuzz statistics from another checkout's
runs/fuzz, ``--fuzz-from`` and ``--crash-from`` reuse the fuzzing or crash-safety section of
another run's robustness.json (its snapshot gone; the memory part then reads the fuzz corpus in
``--fuzz-dir``). The report names the commit each part ran on.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "robustness"))

import crash  # noqa: E402
import memory  # noqa: E402

FUZZ_DIR = ROOT / "runs" / "fuzz"
OUT = ROOT / "results" / "robustness"
FIXED = [  # distinct failures the fuzzers and property tests found, each fixed with a regression test
    ("MemoryError (then the OOM killer) in inner_origins: a 761-byte header declaring 2**40 chunks per row made the reader list every chunk origin; the grid is now computed on demand",
     "test_header_declaring_billions_of_chunks_per_row_is_cheap"),
    ("struct.error from the compiled header parser when a length field runs past the header body; now FormatError",
     "test_header_body_that_ends_inside_a_field_is_a_format_error"),
    ("ValueError from numpy for a shape like (0, 3.5e18, 8): 0 elements, within the format's limit, but no numpy array can have it; now FormatError at open",
     "test_empty_array_with_huge_other_axes_is_a_format_error"),
    ("Timeout (32 s, ~850 MB) validating an entropy-coded chunk with no elements but an 11.7M-long axis: the decoder looped over it; an empty chunk now only checks the stream's end",
     "test_empty_entropy_coded_chunk_with_a_huge_axis_is_quick"),
]


def run_fuzz(runs: int, seconds: int) -> None:
    for target in ("decode", "open", "validate", "link", "cli", "prior"):
        subprocess.run([sys.executable, str(ROOT / "scripts" / "fuzz.py"), target, "--runs", str(runs), "--time", str(seconds)],
                       check=False)


def fuzz_stats(fuzz_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(fuzz_dir.glob("*.json"))]


def commit_of(path: Path) -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=path, capture_output=True, text=True).stdout.strip() or "unknown"


def kill_campaign(kills: int, save_kills: int, seed: int) -> dict:
    rng = random.Random(seed)
    results, saves = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(kills):
            cli = "subprocess" if i % 10 == 0 else "inprocess"
            r = crash.kill_stream(Path(tmp), i, rng.uniform(0.0, 0.4), cli=cli)
            results.append(r)
            print(f"kill {i}: flushed {r.flushed} recovered {r.recovered} exact {r.exact} cli {r.cli_ok}", flush=True)
        for i in range(save_kills):  # after one completed save, kill the next ones at 0-1.5x its duration
            saves.append(crash.kill_save(Path(tmp), i, rng.uniform(0.0, 1.5)))
    flushed = sum(r.flushed for r in results)
    return {
        "kill_points": len(results),
        "frames_flushed": flushed,
        "frames_flushed_recovered": sum(min(r.recovered, r.flushed) for r in results if r.exact),
        "frames_recovered_total": sum(r.recovered for r in results),
        "kill_points_all_flushed_recovered_exactly": sum(r.ok for r in results),
        "killed_before_first_flush": sum(r.flushed == 0 for r in results),
        "cli_recover_runs": sum(r.cli_ok is not None for r in results),
        "cli_recover_ok": sum(bool(r.cli_ok) for r in results),
        "cli_recover_subprocess_runs": sum(1 for i in range(len(results)) if i % 10 == 0),
        "by_codec": {c: sum(crash.StreamPlan(r.seed).codec == c for r in results) for c in crash.CODECS},
        "save_kills": len(saves),
        "save_first_save_seconds_median": sorted(s.save_seconds for s in saves)[len(saves) // 2] if saves else None,
        "save_kills_during_second_save": sum(s.saves_done == 1 for s in saves),
        "save_kills_during_a_later_save": sum(s.saves_done > 1 for s in saves),
        "save_outcomes": {k: sum(s.held == k for s in saves) for k in ("old", "new")},
    }


def memory_campaign(fuzz_dir: Path) -> dict:
    files = {**memory.hostile_files(), **memory.declared_output_files()}
    rows = []
    for name, (data, what) in files.items():
        max_bytes = memory.BOUND_MIB << 20 if name.endswith("256MiB") or name.endswith("256MiB-HW1") else None
        r = memory.measure(data, max_bytes=max_bytes)
        rows.append({"file": name, "what": what, "bytes": len(data), "max_bytes": max_bytes or "default (1 GiB)", **r})
        print(rows[-1], flush=True)
    corpus = sorted({p.read_bytes() for p in fuzz_dir.glob("*/corpus/*")} | {p.read_bytes() for p in fuzz_dir.glob("*/failures/*.spk")}, key=len)
    whole = memory.measure(list(corpus)) if corpus else None
    # The bound, file by file: a read over 64 MiB is allowed only where the header
    # declares that much output (and the cap lets it through), plus the model tables its codec
    # keeps for its chunks' geometry (a constant of the codec: README, "Limits").
    over = []
    for data, extra in zip(corpus, whole["extra_mib_each"] if whole else []):
        declared = _declared_mib(data)
        tables = _model_tables_mib(data)
        if extra >= memory.BOUND_MIB + tables and (declared is None or extra > max(memory.BOUND_MIB, 1.5 * declared + 4) + tables):
            over.append({"bytes": len(data), "extra_mib": extra, "declared_mib": declared, "model_tables_mib": tables})
    worst = max(range(len(corpus)), key=lambda i: whole["extra_mib_each"][i]) if whole else None
    return {"hostile_files": rows, "fuzz_corpus_files": len(corpus), "fuzz_corpus_max_bytes": max(map(len, corpus), default=0),
            "fuzz_corpus_extra_mib": whole and whole["extra_mib"], "fuzz_corpus_growth_mib": whole and whole["growth_mib"],
            "fuzz_corpus_worst_declared_mib": None if worst is None else _declared_mib(corpus[worst]),
            "fuzz_corpus_over_bound": over}


def _declared_mib(data: bytes) -> float | None:
    """The decoded size a file's header declares (MiB of uint8 elements), None if unreadable."""
    import math

    import spikecodec

    try:
        with spikecodec.open(data, recover=True, max_bytes=1 << 62) as r:
            return math.prod(r.shape) / 2**20
    except (spikecodec.FormatError, TypeError):  # TypeError: a stream of unknown length
        return None


def _model_tables_mib(data: bytes) -> float:
    """MiB of the model tables the file's array codec codes its first and last chunks with (0 for
    codecs without tables, or a file whose header does not read)."""
    import numpy as np

    import spikecodec
    from spikecodec.codecs import get_codec
    from spikecodec.codecs.trainable import TrainableCodec

    try:
        with spikecodec.open(data, recover=True, max_bytes=1 << 62) as r:
            codec = get_codec(r.codec[0])
            if not isinstance(codec, TrainableCodec) or not r.entries:
                return 0.0
            specs = {r.chunk_spec(0), r.chunk_spec(len(r.entries) - 1)}
            return max(sum(n * np.dtype(t).itemsize for _, t, n in codec.table_layout(codec.geometry(s))) for s in specs) / 2**20
    except (spikecodec.FormatError, TypeError, ValueError):
        return 0.0


def machine() -> dict:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    import os

    return {
        "commit": commit,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        **{p: version(p) for p in ("numpy", "atheris", "hypothesis", "zstandard", "numba")},
        "date": time.strftime("%Y-%m-%d"),
    }


def write_report(fuzz: list[dict], kills: dict, mem: dict, commits: dict) -> None:
    data = {"machine": machine(), "commits": commits, "fuzz": fuzz, "fixed_failures": [{"failure": f, "regression_test": t} for f, t in FIXED], "crash_safety": kills, "memory": mem}
    OUT.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")
    total = sum(f["executions"] or 0 for f in fuzz)
    lines = [
        "# Robustness report (issue 6)",
        "",
        "Regenerated by `nice -n 10 .venv/bin/python scripts/robustness_report.py` (see its docstring;",
        "`--fuzz-runs 0` reuses the last fuzz campaign in runs/fuzz/). Raw numbers: robustness.json.",
        "",
        f"Code each part ran on: fuzzing {commits['fuzz']}, crash safety {commits['crash']}, memory {commits['memory']}.",
        "",
        "## Fuzzing (atheris, coverage-guided; seeds: spec/vectors/valid; structure-aware mutator)",
        "",
        "| target | code | finished | executions | seconds | corpus files | unexpected exceptions (distinct) | libFuzzer slow-unit/timeout artifacts |",
        "|---|---|---|---:|---:|---:|---|---|",
    ]
    for f in fuzz:
        failures = "; ".join(f"{k} x{v}" for k, v in f["failures"].items()) or "none"
        lines.append(f"| {f['target']} | {f.get('code', 'not recorded')} | {f.get('finished', '')} | {(f['executions'] or 0):,} | {f['seconds']} "
                     f"| {f['corpus_files']} | {failures} | {len(f['crash_files'])} |")
    lines += [
        f"| **total** | | | **{total:,}** | | | | |",
        "",
        "Every input must decode (slices agreeing with the whole decode, validate() clean) or raise",
        "FormatError (tests/robustness/hostile.py, `exercise`). Unexpected exceptions are recorded and",
        "the campaign goes on; a run counts the code as it was when that target started.",
        "",
        "## Distinct failures found and fixed",
        "",
    ]
    lines += [f"{i}. {f} (regression: `{t}`)" for i, (f, t) in enumerate(FIXED, 1)]
    k = kills
    lines += [
        "",
        "## Crash safety (SIGKILL at random moments)",
        "",
        f"- kill points: {k['kill_points']} (codecs {k['by_codec']}; {k['killed_before_first_flush']} killed before their first flush)",
        f"- frames confirmed by a returned flush(): {k['frames_flushed']:,}; recovered bit-exactly by open(recover=True): {k['frames_flushed_recovered']:,}"
        f" ({100 * k['frames_flushed_recovered'] / max(k['frames_flushed'], 1):.1f}%); frames recovered in all: {k['frames_recovered_total']:,}",
        f"- kill points with every flushed frame recovered exactly: {k['kill_points_all_flushed_recovered_exactly']} of {k['kill_points']}",
        f"- `spikecodec recover`: {k['cli_recover_ok']} of {k['cli_recover_runs']} outputs validate clean and equal the recovered frames ({k['cli_recover_subprocess_runs']} as a subprocess)",
        f"- `save` over an existing path killed mid-way: {k['save_kills']} kills, each after one save had completed (median {k['save_first_save_seconds_median']} s)"
        f" at 0-1.5x that duration into the saves that follow: {k['save_kills_during_second_save']} during the second save, {k['save_kills_during_a_later_save']} during a later one;"
        f" the path then held {k['save_outcomes']} (old = the last save that returned, new = the one under way, renamed into place; anything else fails the run)",
        "",
        "## Peak memory reading hostile files",
        "",
        "RSS above the resident size before each read (peak mark reset first), fresh process per file;",
        "decode, open + slicing and validate measured apart; open + slicing is the worst of opening and of",
        "each selection (r[0], r[-1], r[T//2::2, ..., -1]) read on its own, the one before dropped.",
        "The bound: a read of a file of <= 1 MiB costs <= max(64 MiB, declared output + a constant);",
        "a declared output over `max_bytes` (default 1 GiB) is refused before allocating. A selection",
        "decodes the chunks it covers whole straight into place; a chunk it covers in part is decoded",
        "beside the selection's box (one at a time), so it costs box + that chunk (32 + 8 MiB here).",
        "",
        "| file | bytes | max_bytes | outcome | decode MiB | open + a selection MiB | validate MiB | what |",
        "|---|---:|---|---|---:|---:|---:|---|",
    ]
    for r in mem["hostile_files"]:
        ops = r.get("extra_mib_by_op", {})
        lines.append(f"| {r['file']} | {r['bytes']:,} | {r['max_bytes']} | {r['outcome']} | {ops.get('decode')} | {ops.get('open')} | {ops.get('validate')} | {r['what']} |")
    lines += [
        "",
        f"Whole fuzz corpus (`{mem.get('fuzz_corpus_dir', 'runs/fuzz')}`: {mem['fuzz_corpus_files']} files, largest {mem['fuzz_corpus_max_bytes']:,} bytes) read one after another in one process:"
        f" worst single read {mem['fuzz_corpus_extra_mib']} MiB (its header declares {mem['fuzz_corpus_worst_declared_mib']:.1f} MiB of output);"
        f" resident size after the last minus before the first {mem['fuzz_corpus_growth_mib']} MiB (no growth = no leak)."
        f" Files whose read exceeded max(64 MiB, 1.5 x declared output + 4 MiB) + the model tables of their codec:"
        f" {len(mem['fuzz_corpus_over_bound'])} {mem['fuzz_corpus_over_bound'] or ''}".rstrip() + ".",
        "",
        "## Machine",
        "",
        "  ".join(f"{key}: {value}" for key, value in data["machine"].items()),
        "",
    ]
    OUT.with_suffix(".md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fuzz-runs", type=int, default=400_000, help="executions per target; 0 reuses runs/fuzz/")
    parser.add_argument("--fuzz-seconds", type=int, default=3600, help="the most each target may run (whichever of the two ends first)")
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--save-kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fuzz-dir", type=Path, default=FUZZ_DIR, help="runs/fuzz of the checkout the fuzzers ran in")
    parser.add_argument("--fuzz-from", type=Path, help="a robustness.json whose fuzzing section to reuse")
    parser.add_argument("--crash-from", type=Path, help="a robustness.json whose crash-safety section to reuse")
    args = parser.parse_args()
    if args.fuzz_runs:
        run_fuzz(args.fuzz_runs, args.fuzz_seconds)
    if args.crash_from:
        previous = json.loads(args.crash_from.read_text())
        kills = previous["crash_safety"]
        crash_commit = previous.get("commits", {}).get("crash", previous["machine"]["commit"])
    else:
        kills, crash_commit = kill_campaign(args.kills, args.save_kills, args.seed), commit_of(ROOT)
    mem = memory_campaign(args.fuzz_dir)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    if args.fuzz_from:
        previous = json.loads(args.fuzz_from.read_text())
        fuzz, fuzz_commit = previous["fuzz"], previous["commits"]["fuzz"]
    elif args.fuzz_runs:
        fuzz, fuzz_commit = fuzz_stats(args.fuzz_dir), commit_of(args.fuzz_dir)
    else:  # the last campaign of each target, whenever it ran: each names its code in the table
        fuzz, fuzz_commit = fuzz_stats(args.fuzz_dir), "each target's in the table"
    mem["fuzz_corpus_dir"] = str(args.fuzz_dir.resolve().relative_to(ROOT) if args.fuzz_dir.resolve().is_relative_to(ROOT) else args.fuzz_dir)
    commits = {"fuzz": fuzz_commit, "crash": crash_commit, "memory": commit_of(ROOT)}
    write_report(fuzz, kills, mem, commits)
    print(OUT.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
