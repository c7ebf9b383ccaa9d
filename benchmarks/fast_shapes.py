"""The fast mode (`ctxfast`) on shapes the benchmark's corpora do not have: one sample a chunk, and
layers of many channels at few pixels.

    python benchmarks/fast_shapes.py        # writes results/fast_shapes.md and .json

benchmarks/peers_bench.py holds the fast mode to issue 25's target (fewer bytes than `context`,
`ctxlanes`' encoding and decoding speed or better) on whole corpora in default chunks. Two
things there are kind to `ctxfast`: every chunk has many samples (its four lanes are blocks of
samples: a chunk of one sample has one lane, one serial chain), and no layer has more than 128
channels (its significance counters are 60 KB a channel group, up to 256 groups: 15 MB, where
`ctxlanes`' are 4 KB a group). This measures both, on real spikes of runs/corpora
(benchmarks/corpora.py):

* *frames*: the first 200 samples of three corpora, each coded alone as a file, as a link that
  sends one image at a time without a prior would (a prior is what such a link should use: see
  README, "One frame at a time");
* *wide*: mbv2-last (128 channels of 7 x 7) with groups of 2 and 4 samples laid side by side as
  256 and 512 channels, whole, in default chunks.

Each row is the best of 3 rounds, the three codecs timed in turn in each (benchmarks/timing.py).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import spikecodec  # noqa: E402
from peers_bench import code_state  # noqa: E402
from timing import best_times  # noqa: E402

CORPORA = ROOT / "runs" / "corpora"
RESULTS = HERE / "results"
COMMAND = "python benchmarks/fast_shapes.py"
CODECS = ["ctxfast", "ctxlanes", "context"]
FRAMES = 200
FRAME_CORPORA = ["ref-layer1", "mbv2-last", "mbv2-stage3-counts4"]
WIDE_CORPUS = "mbv2-last"
WIDENINGS = [1, 2, 4]


def measure(parts: list[np.ndarray]) -> dict[str, dict]:
    """Bytes and M elements/s of each codec over ``parts``, each coded as a file of its own."""
    elements = sum(p.size for p in parts)
    blobs = {c: [spikecodec.encode(p, codec=c) for p in parts] for c in CODECS}
    for c in CODECS:  # every file decodes to its part
        for p, b in zip(parts, blobs[c]):
            assert np.array_equal(np.asarray(spikecodec.decode(b)), p), c
    enc = best_times({c: (lambda c=c: [spikecodec.encode(p, codec=c) for p in parts]) for c in CODECS})
    dec = best_times({c: (lambda c=c: [spikecodec.decode(b) for b in blobs[c]]) for c in CODECS})
    return {c: {"bytes": sum(map(len, blobs[c])), "enc_M": elements / enc[c] / 1e6,
                "dec_M": elements / dec[c] / 1e6} for c in CODECS}


def row(case: str, shape: tuple, count: int, r: dict[str, dict]) -> dict:
    fast, lanes, ctx = r["ctxfast"], r["ctxlanes"], r["context"]
    return {"case": case, "shape": list(shape), "files": count, **{c: r[c] for c in CODECS},
            "vs_context": fast["bytes"] / ctx["bytes"], "enc_x_lanes": fast["enc_M"] / lanes["enc_M"],
            "dec_x_lanes": fast["dec_M"] / lanes["dec_M"]}


def main() -> None:
    started = time.time()
    rows = []
    for name in FRAME_CORPORA:
        x = np.load(CORPORA / f"{name}.npy")
        frames = [np.ascontiguousarray(x[:, i:i + 1]) for i in range(min(FRAMES, x.shape[1]))]
        rows.append(row(f"{name}, one sample a file", frames[0].shape, len(frames), measure(frames)))
        print(rows[-1], flush=True)
    x = np.load(CORPORA / f"{WIDE_CORPUS}.npy")
    T, N, C, H, W = x.shape
    for k in WIDENINGS:
        wide = np.ascontiguousarray(x[:, :N // k * k].reshape(T, N // k, k * C, H, W))
        rows.append(row(f"{WIDE_CORPUS}, {k} sample(s) side by side", wide.shape, 1, measure([wide])))
        print(rows[-1], flush=True)
    run_at = time.strftime("%Y-%m-%d %H:%M")
    code = code_state()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fast_shapes.json").write_text(json.dumps({"command": COMMAND, "run_at": run_at, "code": code,
                                                          "rows": rows}, indent=1) + "\n")
    lines = [
        "# The fast mode on one-sample chunks and wide layers",
        "",
        f"Command: `{COMMAND}`. Run {run_at}, code at {code}, {time.time() - started:.0f} s; 2 shared cores, one "
        "thread. Speeds in M elements/s (best of 3 rounds, the codecs in turn). Issue 25's fast-mode target: "
        "fewer bytes than `context`, `ctxlanes`' speed or better. What and why: the script's docstring.",
        "",
        "| case | shape (T, N, C, H, W) | files | ctxfast bytes | vs context | ctxfast enc / dec | ctxlanes enc / dec "
        "| context enc / dec | enc x ctxlanes | dec x ctxlanes |",
        "|---|---|---:|---:|---:|---|---|---|---:|---:|",
    ]
    for r in rows:
        f, l_, c = r["ctxfast"], r["ctxlanes"], r["context"]
        lines.append(f"| {r['case']} | {' x '.join(map(str, r['shape']))} | {r['files']} | {f['bytes']:,} | "
                     f"{r['vs_context']:.3f} | {f['enc_M']:.1f} / {f['dec_M']:.1f} | {l_['enc_M']:.1f} / {l_['dec_M']:.1f} | "
                     f"{c['enc_M']:.1f} / {c['dec_M']:.1f} | {r['enc_x_lanes']:.2f} | {r['dec_x_lanes']:.2f} |")
    (RESULTS / "fast_shapes.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS / 'fast_shapes.md'}")


if __name__ == "__main__":
    main()
