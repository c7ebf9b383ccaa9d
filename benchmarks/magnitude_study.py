"""Design study: models for the level and escape decisions of count corpora (issue 25), from which
`countmix` (FORMAT.md 9.4.13) took its models H and I.

On counts above 3 (4-bit elements) `winmix`, the default of format 1.5, was measured 6.5% under
paq9a on a corpus held out of its design (res6-layer3-counts6: counts 0..6, T = 1), against
13-37% on 1- and 2-bit spikes; most of its bytes there are the level and escape decisions
(FORMAT.md 9.4.10), which it predicts from two models only: F (the channel group and step with
the values, capped at 3, of the neuron's last two steps and its left and upper neighbours) and G
(the position). This script measures, on every count corpus in runs/corpora, the ideal code
length of those decisions under F + G and under F + G with more models, mixed in the logistic
domain, and codes each corpus with `countmix` (F, G, H, I) as built:

  H  channel c and the values of channels c-1 and c-2 at the same pixel
  I  the values of the left and upper neighbours and of channel c-1, shared by every channel and step
  J  channel c, step and the values of the left, upper and upper-right neighbours
  K  channel c and the values of channel c-1 and the left and upper neighbours

(values capped at 7; each key also holds the decision's node). It is a prototype in floating
point (adaptive probabilities with rate 1 / (n + 0.5), n capped at 255; one weight set per
node and whether channel c-1 is non-zero; learning rate 0.02; every table hashed into 2^22
entries), not the codec's integer arithmetic: compare its columns with each other, and its
F + G column with winmix's real magnitude bytes (same decisions, same two models) to see how
close the prototype comes.

    python benchmarks/magnitude_study.py     # writes benchmarks/results/magnitude_study.md
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numba as nb
import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import spikecodec  # noqa: E402

CORPORA = ROOT / "runs" / "corpora"
RESULTS = HERE / "results"
COMMAND = "python benchmarks/magnitude_study.py"
MODELS = "FGHIJK"
VARIANTS = ["FG", "FGI", "FGH", "FGHI", "FGHIJK"]
CAP = 7


@nb.njit(cache=True)
def _code_length(x: np.ndarray, use: np.ndarray, bits: int) -> float:
    """Bytes of the ideal code of every level and escape decision of x (T, N, C, H, W), with the
    models flagged in `use` (F, G, H, I, J, K) mixed."""
    T, N, C, H, W = x.shape
    nm = 6
    z = 22
    prob = np.full((nm, 1 << z), 0.5)
    seen = np.zeros((nm, 1 << z), np.int32)
    weights = np.full((64, nm + 1), 0.3)
    keys = np.zeros(nm, np.int64)
    ins = np.zeros(nm)
    nodes = np.zeros(8, np.int64)
    values = np.zeros(8, np.int64)
    total = 0.0
    for n in range(N):
        for t in range(T):
            tp = min(t, 3)
            for h in range(H):
                for w in range(W):
                    for c in range(C):
                        v = x[t, n, c, h, w]
                        if v == 0:
                            continue
                        v1 = min(x[t - 1, n, c, h, w], 3) if t >= 1 else 0
                        v2 = min(x[t - 2, n, c, h, w], 3) if t >= 2 else 0
                        vl = min(x[t, n, c, h, w - 1], 3) if w >= 1 else 0
                        vu = min(x[t, n, c, h - 1, w], 3) if h >= 1 else 0
                        left = min(x[t, n, c, h, w - 1], CAP) if w >= 1 else 0
                        up = min(x[t, n, c, h - 1, w], CAP) if h >= 1 else 0
                        upright = min(x[t, n, c, h - 1, w + 1], CAP) if h >= 1 and w + 1 < W else 0
                        ch1 = min(x[t, n, c - 1, h, w], CAP) if c >= 1 else 0
                        ch2 = min(x[t, n, c - 2, h, w], CAP) if c >= 2 else 0
                        # the element's decisions (FORMAT.md 9.4.10): x > 1, x > 2, the escape tree
                        count = 1
                        nodes[0], values[0] = 0, 1 if v > 1 else 0
                        if v > 1:
                            nodes[1], values[1] = 1, 1 if v > 2 else 0
                            count = 2
                            if v > 2 and bits > 2:
                                tree = 1
                                for j in range(bits - 1, -1, -1):
                                    b = ((v - 3) >> j) & 1
                                    nodes[count], values[count] = 1 + tree, b
                                    count += 1
                                    tree = 2 * tree + b
                        ct = (c % 256) * 4 + tp
                        pos = ((tp * H + h) * W + w) * C + c
                        for d in range(count):
                            node, bit = nodes[d], values[d]
                            keys[0] = (ct * 20 + node) * 256 + v1 + 4 * v2 + 16 * vl + 64 * vu
                            keys[1] = ((pos * 20 + node) * 4 + v1) + (1 << 40)
                            keys[2] = ((c * 20 + node) * 16 + ch1) * 16 + ch2 + (2 << 40)
                            keys[3] = ((node * 16 + left) * 16 + up) * 16 + ch1 + (3 << 40)
                            keys[4] = (((ct * 20 + node) * 16 + left) * 16 + up) * 16 + upright + (4 << 40)
                            keys[5] = (((c * 20 + node) * 16 + ch1) * 16 + left) * 16 + up + (5 << 40)
                            wset = node * 2 + (1 if ch1 > 0 else 0)
                            s = 0.0
                            for m in range(nm):
                                if use[m]:
                                    keys[m] = ((keys[m] * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF) >> (64 - z)
                                    p = min(max(prob[m, keys[m]], 1 / 4096), 1 - 1 / 4096)
                                    ins[m] = math.log(p / (1 - p))
                                    s += weights[wset, m] * ins[m]
                            s += weights[wset, nm] * 0.3
                            pm = min(max(1 / (1 + math.exp(-s)), 1 / 4096), 1 - 1 / 4096)
                            total -= math.log2(pm if bit else 1 - pm)
                            err = bit - pm
                            for m in range(nm):
                                if use[m]:
                                    weights[wset, m] += 0.02 * err * ins[m]
                                    k = keys[m]
                                    seen[m, k] = min(seen[m, k] + 1, 255)
                                    prob[m, k] += (bit - prob[m, k]) / (seen[m, k] + 0.5)
                            weights[wset, nm] += 0.02 * err * 0.3
    return total / 8


def study(path: Path, paq_bytes: dict[str, int]) -> dict:
    meta = json.loads(path.with_suffix(".json").read_text())
    x = np.load(path)
    whole = len(spikecodec.encode(x, codec="winmix"))
    significance = len(spikecodec.encode((x > 0).astype(np.uint8), codec="winmix"))
    row = {"corpus": path.stem, "shape": list(x.shape), "bits": meta["bits"], "winmix": whole,
           "winmix_significance": significance, "winmix_magnitudes": whole - significance,
           "countmix": len(spikecodec.encode(x, codec="countmix")), "paq9a": paq_bytes.get(path.stem), "variants": {}}
    for variant in VARIANTS:
        use = np.array([m in variant for m in MODELS])
        row["variants"][variant] = round(_code_length(x, use, meta["bits"]))
        print(f"  {variant:7s} {row['variants'][variant]:9,d} B", flush=True)
    return row


def markdown(rows: list[dict], seconds: float) -> str:
    head = ["corpus", "shape T x N x C x H x W", "bits", "winmix bytes", "of which levels", *[f"prototype {v}" for v in VARIANTS],
            "FGHI vs FG", "countmix bytes", "its levels vs winmix's", "winmix vs paq9a", "countmix vs paq9a"]
    out = ["# Magnitude models for count corpora (a design study, issue 25)", "",
           f"Command: `{COMMAND}`; run {time.strftime('%Y-%m-%d %H:%M')}, {seconds / 60:.1f} min. "
           "The script's docstring defines the models and the prototype. winmix bytes = "
           "`len(spikecodec.encode(x, codec=\"winmix\"))`; of which levels = that minus the bytes of `x > 0` "
           "coded alone (the same significance decisions). Prototype columns: ideal code length "
           "of the level and escape decisions alone. countmix bytes = `len(spikecodec.encode(x, "
           "codec=\"countmix\"))` (its significance decisions are winmix's, so its levels cost "
           "that minus winmix's significance bytes). paq9a: its bytes in "
           "benchmarks/results/peers.json (best axis order and layout).", "",
           "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        v = r["variants"]
        paq = r["paq9a"]
        levels = r["countmix"] - r["winmix_significance"]
        out.append("| " + " | ".join([
            r["corpus"], " x ".join(map(str, r["shape"])), str(r["bits"]), f"{r['winmix']:,}",
            f"{r['winmix_magnitudes']:,}", *[f"{v[k]:,}" for k in VARIANTS], f"{v['FGHI'] / v['FG'] - 1:+.1%}",
            f"{r['countmix']:,}", f"{levels / r['winmix_magnitudes'] - 1:+.1%}",
            "" if paq is None else f"{r['winmix'] / paq - 1:+.1%}",
            "" if paq is None else f"{r['countmix'] / paq - 1:+.1%}"]) + " |")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> None:
    names = argv[1:]
    paths = [p for p in sorted(CORPORA.glob("*.npy"))
             if json.loads(p.with_suffix(".json").read_text())["bits"] > 1 and (not names or p.stem in names)]
    if not paths:
        sys.exit(f"no count corpora in {CORPORA}: run python benchmarks/corpora.py build")
    peers = RESULTS / "peers.json"
    paq = {}
    if peers.exists():
        paq = {s["corpus"]: s["paq9a_bytes"] for s in json.loads(peers.read_text())["summary"]}
    t0 = time.perf_counter()
    rows = []
    for path in paths:
        print(path.stem, flush=True)
        rows.append(study(path, paq))
    (RESULTS / "magnitude_study.md").write_text(markdown(rows, time.perf_counter() - t0))
    print(f"wrote {RESULTS / 'magnitude_study.md'}")


if __name__ == "__main__":
    main(sys.argv)
