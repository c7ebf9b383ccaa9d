"""A/B speed of one codec's kernels: the working tree against another commit, bytes checked equal.

    .venv/bin/python benchmarks/kernel_ab.py --base HEAD~1 --codec winmix [--rounds 2] [--whole] [--out FILE.md]
    .venv/bin/python benchmarks/kernel_ab.py --base HEAD --codec chanmix --base-codec winmix --whole

With ``--base-codec``, B runs that codec instead: two codecs side by side, each table row giving
both byte counts (not required equal).

For a change meant to make a kernel faster without changing what it writes (the bytes of a
published codec never change): each corpus of runs/corpora (benchmarks/corpora.py), a quarter of
its samples in one chunk (``--whole``: all of it, in the codec's default chunks, as
benchmarks/peers_bench.py codes it), is encoded and decoded by both source trees, in separate processes run
in turn (A, B, A, B, ...) so that the shared machine's drift falls on both; each process reports
the best of 4 calls per corpus in CPU time, and the table gives the median over the rounds and
the ratio A / B. Any difference in the bytes written stops the run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT / "runs" / "corpora"
CALLS = 4  # per corpus and process: the best is kept


def measure(tree: str, codec: str, whole: bool, names: list[str]) -> dict[str, dict]:
    """Run in a child process whose ``spikecodec`` is the one in ``tree``."""
    sys.path.insert(0, tree)
    import numpy as np

    import spikecodec

    assert Path(spikecodec.__file__).resolve().is_relative_to(Path(tree).resolve()), spikecodec.__file__
    out = {}
    for name in names:
        full = np.load(CORPORA / f"{name}.npy", mmap_mode="r")
        bits = int(json.loads((CORPORA / f"{name}.json").read_text()).get("bits", 1))
        x = np.ascontiguousarray(full if whole else full[:, : max(1, full.shape[1] // 4)])
        chunk = {} if whole else {"chunk": x.shape}
        data = spikecodec.encode(x, codec=codec, bits=bits, **chunk)  # compiles, or loads the kernels' cache
        spikecodec.decode(data)
        enc, dec = [], []
        for _ in range(CALLS):
            t0 = time.process_time()
            data = spikecodec.encode(x, codec=codec, bits=bits, **chunk)
            enc.append(time.process_time() - t0)
            t0 = time.process_time()
            y = spikecodec.decode(data)
            dec.append(time.process_time() - t0)
        if not np.array_equal(y, x):
            raise SystemExit(f"{tree}: {name} does not decode to what was encoded")
        out[name] = {"elements": x.size, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                     "enc": x.size / min(enc) / 1e6, "dec": x.size / min(dec) / 1e6}
    return out


def export(rev: str, into: Path) -> str:
    """``spikecodec/`` as it is at ``rev``, unpacked under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "spikecodec"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return str(into)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(measure(sys.argv[2], sys.argv[3], sys.argv[4] == "whole", sys.argv[5:])))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the commit to compare the working tree with (B)")
    parser.add_argument("--codec", default="winmix")
    parser.add_argument("--base-codec", help="B's codec (default: --codec); its bytes are then reported, not required equal")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--corpora", nargs="*", default=None, help="names in runs/corpora (default: all)")
    parser.add_argument("--whole", action="store_true", help="each corpus whole, in the codec's default chunks")
    parser.add_argument("--out", type=Path, help="also write the table here (markdown)")
    args = parser.parse_args()
    names = args.corpora or sorted(p.stem for p in CORPORA.glob("*.npy"))
    if not names:
        raise SystemExit("no corpora: run `python benchmarks/corpora.py train && python benchmarks/corpora.py build` first")
    started = time.strftime("%Y-%m-%d %H:%M")
    with tempfile.TemporaryDirectory(prefix="kernel-ab-") as tmp:
        trees = {"A": str(ROOT), "B": export(args.base, Path(tmp))}
        codecs = {"A": args.codec, "B": args.base_codec or args.codec}
        runs: dict[str, list[dict]] = {"A": [], "B": []}
        for _ in range(args.rounds):
            for side, tree in trees.items():
                child = subprocess.run([sys.executable, __file__, "--child", tree, codecs[side],
                                        "whole" if args.whole else "quarter", *names],
                                       check=True, capture_output=True, text=True)
                runs[side].append(json.loads(child.stdout.splitlines()[-1]))
    base = subprocess.run(["git", "rev-parse", "--short", args.base], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    chosen = f" --corpora {' '.join(args.corpora)}" if args.corpora else ""
    same = codecs["A"] == codecs["B"]
    what = f"`{args.codec}`" if same else f"`{codecs['A']}` (A) and `{codecs['B']}` (B)"
    lines = [f"A/B of {what}: A = working tree, B = {args.base} ({base or 'unresolved'}); "
             f"`python benchmarks/kernel_ab.py --base {args.base} "
             f"--codec {args.codec}{'' if same else ' --base-codec ' + codecs['B']} --rounds {args.rounds}"
             f"{' --whole' if args.whole else ''}{chosen}`, {started}; M elements/s, median of "
             f"{args.rounds} rounds (each the best of {CALLS} calls, CPU time), "
             f"{'each corpus whole, in default chunks' if args.whole else 'a quarter of each corpus in one chunk'}.", "",
             f"| corpus | {'bytes (A = B)' if same else 'bytes A / B'} | A enc / dec | B enc / dec | A / B enc | A / B dec |",
             "|---|---:|---|---|---:|---:|"]
    groups = [["A", "B"]] if same else [["A"], ["B"]]  # whose runs must all write the same bytes
    for name in names:
        for group in groups:
            if len({r[name]["sha256"] for side in group for r in runs[side]}) != 1:
                raise SystemExit(f"{name}: {' and '.join(group)} wrote different bytes")
        med = {side: {k: statistics.median(r[name][k] for r in runs[side]) for k in ("enc", "dec")} for side in runs}
        a, b = med["A"], med["B"]
        nbytes = f"{runs['A'][0][name]['bytes']:,}" if same else f"{runs['A'][0][name]['bytes']:,} / {runs['B'][0][name]['bytes']:,}"
        lines.append(f"| {name} | {nbytes} | {a['enc']:.1f} / {a['dec']:.1f} | {b['enc']:.1f} / {b['dec']:.1f} "
                     f"| {a['enc'] / b['enc']:.2f} | {a['dec'] / b['dec']:.2f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
