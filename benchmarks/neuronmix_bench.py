"""The balanced mode, ``neuronmix`` (FORMAT.md 9.4.17), against paq9a, the default (``framemix``)
and the fast mode (``ctxfast``) on every corpus, in one run (issue 25).

Each corpus of runs/corpora and runs/holdout is encoded whole with ``spikecodec.encode`` at
default chunks by each codec (the file's bytes: header, index and checksums included) and
decoded back, checked equal. paq9a runs on the bytes and axis order the peers runs found best for
it (peers.json, holdout.json: packbits, or the count layout it won with), as peers_bench.py runs
it. The machine's speed drifts by tens of percent over minutes, so every coder of a corpus is
timed in ROUNDS rounds taken in turn (each round: every spikecodec codec's encode and decode,
best of REPEATS calls each, then paq9a's), and each keeps its best.

    python benchmarks/neuronmix_bench.py   # about 10 minutes; writes benchmarks/results/neuronmix.md
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import spikecodec  # noqa: E402
from backoff_study import peer_rows  # noqa: E402  (the peers runs' rows: paq9a's order and layout)
from peers_bench import best_time, layouts, permuted, run_paq  # noqa: E402  (paq9a as the peers table runs it)

RESULTS = HERE / "results"
CODECS = ["neuronmix", "framemix", "ctxfast"]
REPEATS = 2
ROUNDS = 3


def _corpora(known: dict) -> list[tuple[Path, np.ndarray, int]]:
    out = []
    for path in sorted((ROOT / "runs" / "corpora").glob("*.npy")) + sorted((ROOT / "runs" / "holdout").glob("*.npy")):
        if path.stem in known:
            out.append((path, np.load(path), json.loads(path.with_suffix(".json").read_text())["bits"]))
    return out


def main() -> None:
    t_start = time.perf_counter()
    runs = peer_rows()
    rows = []
    for path, x, bits in _corpora(runs):
        name = path.stem
        paq_row = runs[name]["paq9a"]
        files = {c: spikecodec.encode(x, codec=c, bits=bits) for c in CODECS}
        for c, data in files.items():
            assert np.array_equal(spikecodec.decode(data), x), (name, c)
        enc = {c: float("inf") for c in CODECS}
        dec = dict(enc)
        paq_enc = paq_dec = float("inf")
        layout = paq_row["config"].removeprefix("paq9a on ")
        with tempfile.TemporaryDirectory(dir=ROOT / "runs") as tmp:
            f = Path(tmp) / "in"
            f.write_bytes(layouts(permuted(x, paq_row["order"]), bits)[layout])
            for _ in range(ROUNDS):
                for c in CODECS:
                    enc[c] = min(enc[c], best_time(lambda: spikecodec.encode(x, codec=c, bits=bits), REPEATS)[0])
                    dec[c] = min(dec[c], best_time(lambda: spikecodec.decode(files[c]), REPEATS)[0])
                paq = run_paq([f], "speed", 1)[0]
                paq_enc, paq_dec = min(paq_enc, paq["enc_s"]), min(paq_dec, paq["dec_s"])
        cells = {c: (len(files[c]) / paq["bytes"], paq_enc / enc[c], paq_dec / dec[c]) for c in CODECS}
        rows.append((name, path.parent.name == "holdout", bits, x.shape, paq["bytes"], x.size / paq_enc / 1e6, cells,
                     x.size / enc["neuronmix"] / 1e6, x.size / dec["neuronmix"] / 1e6))
        print(name, " ".join(f"{c}: {v[0]:.3f} {v[1]:.1f}x/{v[2]:.1f}x" for c, v in cells.items()), flush=True)
    code = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    lines = [
        "# The balanced mode (neuronmix) against paq9a, the default and the fast mode (issue 25)",
        "",
        f"Command: `python benchmarks/neuronmix_bench.py`. Run {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, "
        f"one thread, {time.perf_counter() - t_start:.0f} s, code at {code} (format {spikecodec.FORMAT_VERSION}). Method: "
        "the script's docstring. Corpora: runs/corpora and runs/holdout (held out: a network no design study read; "
        "neuronmix's models were chosen on the 1-bit corpora of both, held-out ones included).",
        "",
        "vs paq9a = the codec's whole file at default chunks / paq9a's bytes at its best order and layout, in this run. "
        "x paq9a = paq9a's time / the codec's, encoding / decoding (best of "
        f"{ROUNDS} rounds in turn). The default's targets: <= 0.900 and >= 5x. meets: neuronmix against those targets.",
        "",
        "| corpus | held out | bits | T x N x C x H x W | paq9a bytes | paq9a M el/s enc | neuronmix vs paq9a | "
        "neuronmix x paq9a enc / dec | neuronmix M el/s enc / dec | framemix vs paq9a | framemix x paq9a enc / dec | "
        "ctxfast vs paq9a | ctxfast x paq9a enc / dec | neuronmix speed / framemix's | meets |",
        "|---|---|---:|---|---:|---:|---:|---|---|---:|---|---:|---|---:|---|",
    ]

    def meets(c: tuple) -> str:
        miss = ([] if c[0] <= 0.9 else ["bytes"]) + ([] if min(c[1], c[2]) >= 5 else ["speed"])
        return "yes" if not miss else "no (" + ", ".join(miss) + ")"

    for name, held, bits, shape, paq_bytes, paq_speed, cells, nm_enc, nm_dec in rows:
        nm, fm, fast = cells["neuronmix"], cells["framemix"], cells["ctxfast"]
        lines.append(
            f"| {name} | {'yes' if held else ''} | {bits} | {' x '.join(map(str, shape))} | {paq_bytes:,} | {paq_speed:.1f} | "
            f"{nm[0]:.3f} | {nm[1]:.1f}x / {nm[2]:.1f}x | {nm_enc:.1f} / {nm_dec:.1f} | {fm[0]:.3f} | {fm[1]:.1f}x / {fm[2]:.1f}x | "
            f"{fast[0]:.3f} | {fast[1]:.1f}x / {fast[2]:.1f}x | {min(nm[1:]) / min(fm[1:]):.1f}x | {meets(nm)} |")

    def summary(sel: list, label: str) -> str:
        if not sel:
            return ""
        nm = [r[6]["neuronmix"] for r in sel]
        vs = [c[0] for c in nm]
        speed = [min(c[1], c[2]) for c in nm]
        fm_speed = [min(r[6]["framemix"][1], r[6]["framemix"][2]) for r in sel]
        gain = [s / f for s, f in zip(speed, fm_speed)]
        fast = [r[6]["ctxfast"][0] for r in sel]
        return (f"{label} ({len(sel)}): neuronmix {min(vs):.3f} - {max(vs):.3f} of paq9a's bytes (at or under 0.900 on "
                f"{sum(v <= 0.9 for v in vs)}, under 1 on {sum(v < 1 for v in vs)}), {min(speed):.1f}x - {max(speed):.1f}x "
                f"its speed (the slower of encoding and decoding; 5x or more on {sum(s >= 5 for s in speed)}), "
                f"{min(gain):.1f}x - {max(gain):.1f}x framemix's speed; fewer bytes than ctxfast on "
                f"{sum(c[0] < f for c, f in zip(nm, fast))}; both default targets on {sum(meets(c) == 'yes' for c in nm)}.")

    spikes = [r for r in rows if r[2] == 1]
    counts = [r for r in rows if r[2] > 1]
    lines += ["", summary(spikes, "1-bit spikes"), "", summary(counts, "Counts"), ""]
    (RESULTS / "neuronmix.md").write_text("\n".join(lines))
    print("wrote", RESULTS / "neuronmix.md")


if __name__ == "__main__":
    main()
