"""The design study behind ``ctxfast`` (FORMAT.md 9.4.12): ideal adaptive code lengths of the
significance decisions of each corpus under candidate contexts and lane layouts, with the
counters and probability of FORMAT.md 9.4.2 (PRIOR 4, group and shared tables), in bytes.

Columns: ``context``'s context (9.4.5, one stream); the wide context of ``ctxfast`` in one stream
(every corpus is under 8M elements: ``ctxfast``'s default chunk); in chunks of about 1M elements;
in ``ctxlanes``-style channel lanes (the channels c - 1 .. c - 5 cut at each lane's edge);
in four sample lanes with counters of their own; and with channel groups capped at 64 and 16.
Sample lanes sharing their counters (what ``ctxfast`` does) code within a step's reordering of
one stream: the codec's own bytes are in benchmarks/results/peers.md.

    python benchmarks/ctxfast_design.py      # writes benchmarks/results/ctxfast_design.md
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from numba import njit

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT / "runs" / "corpora"
OUT = ROOT / "benchmarks" / "results" / "ctxfast_design.md"


def shifted(a: np.ndarray, axis: int, k: int) -> np.ndarray:
    """a[..., i - k, ...] along ``axis`` (zeros where that is outside): k > 0 looks back."""
    if k == 0:
        return a
    out = np.zeros_like(a)
    dst, src = [slice(None)] * a.ndim, [slice(None)] * a.ndim
    dst[axis], src[axis] = (slice(k, None), slice(0, -k)) if k > 0 else (slice(0, k), slice(-k, None))
    out[tuple(dst)] = a[tuple(src)]
    return out


def contexts(x: np.ndarray, wide: bool) -> tuple[np.ndarray, int]:
    """Context id of every element of the (T, N, C, H, W) array and the number of ids."""
    s = (x > 0).astype(np.int64)
    T = s.shape[0]
    o = [shifted(s, 0, k) for k in (1, 2, 3)]
    tpos = np.minimum(np.arange(T), 3).reshape(-1, 1, 1, 1, 1)
    hs = np.where(tpos == 0, 0, np.where(tpos == 1, 1 + o[0], np.where(tpos == 2, 3 + o[0] + 2 * o[1], 7 + o[0] + 2 * o[1] + 4 * o[2])))
    cnt = sum(shifted(shifted(o[0], 3, dh), 4, dw) for dh in (-1, 0, 1) for dw in (-1, 0, 1) if (dh, dw) != (0, 0))
    nb = np.where(tpos == 0, 0, (cnt > 0).astype(np.int64) + (cnt > 2) + (cnt > 5))
    up, left = shifted(s, 3, 1), shifted(s, 4, 1)
    ul, ur = shifted(up, 4, 1), shifted(up, 4, -1)
    p = [shifted(s, 2, k) for k in range(1, 6)]
    if not wide:
        return (((hs * 4 + left + 2 * up) * 4 + nb) * 2 + (ul | ur)) * 2 + p[0], 1024
    plane = ((((hs * 4 + nb) * 2 + p[0]) * 2 + p[1]) * 2 + p[2]) * 2 + (p[3] | p[4])
    return plane * 16 + up * 8 + ul * 4 + ur * 2 + left, 15360


@njit(cache=True)
def ideal_bytes(s, ctx, G, K):
    """Adaptive code length of the significance bits ``s`` (C order) under context ids ``ctx``."""
    T, N, C, H, W = s.shape
    g1 = np.zeros(K, np.int64)
    gn = np.zeros(K, np.int64)
    c1 = np.zeros(G * K, np.int64)
    cn = np.zeros(G * K, np.int64)
    sf, cf = s.ravel(), ctx.ravel()
    total = 0.0
    i = 0
    for t in range(T):
        for n in range(N):
            for c in range(C):
                gb = (c % G) * K
                for _ in range(H * W):
                    k, b = cf[i], sf[i]
                    qg = ((2 * g1[k] + 1) << 24) // (2 * gn[k] + 2)
                    q = ((c1[gb + k] << 24) + 4 * qg) // (cn[gb + k] + 4)
                    total -= np.log2(q / 16777216.0) if b else np.log2(1 - q / 16777216.0)
                    g1[k] += b
                    gn[k] += 1
                    if gn[k] >= 1024:
                        gn[k], g1[k] = (gn[k] + 1) >> 1, (g1[k] + 1) >> 1
                    c1[gb + k] += b
                    cn[gb + k] += 1
                    if cn[gb + k] >= 1024:
                        cn[gb + k], c1[gb + k] = (cn[gb + k] + 1) >> 1, (c1[gb + k] + 1) >> 1
                    i += 1
    return total / 8


def cost(x: np.ndarray, wide: bool, gmax: int = 256) -> float:
    ctx, K = contexts(x, wide)
    return ideal_bytes((x > 0).astype(np.int64), ctx, max(1, min(x.shape[2], gmax)), K)


def split(x: np.ndarray, axis: int, parts: int) -> list[np.ndarray]:
    n = x.shape[axis]
    return [np.ascontiguousarray(np.take(x, range(i * n // parts, (i + 1) * n // parts), axis=axis)) for i in range(parts)]


def main() -> int:
    names = sorted(p.stem for p in CORPORA.glob("*.npy"))
    if not names:
        print(f"no corpora in {CORPORA}: python benchmarks/corpora.py train && python benchmarks/corpora.py build", file=sys.stderr)
        return 1
    rows = ["# ctxfast design: significance code lengths by context and lane layout", "",
            "Command: `python benchmarks/ctxfast_design.py`. Ideal adaptive code lengths (bytes) of the significance "
            "decisions under FORMAT.md 9.4.2's counters; ratios to `context`'s context in one stream.", "",
            "| corpus | context (bytes) | wide, one stream | wide, chunks of 1M | wide, channel lanes | wide, sample lanes, own counters | wide, groups <= 64 | wide, groups <= 16 |",
            "|---|---|---|---|---|---|---|---|"]
    for name in names:
        x = np.load(CORPORA / f"{name}.npy")
        base = cost(x, False)
        lanes_c = 4 if x.shape[2] % 4 == 0 else 2 if x.shape[2] % 2 == 0 else 1
        channel = sum(cost(part, True) for part in split(x, 2, lanes_c))
        sample = sum(cost(part, True) for part in split(x, 1, min(4, x.shape[1])))
        per_chunk = max(1, (1 << 20) // (x.size // x.shape[1]))
        chunked = sum(cost(np.ascontiguousarray(x[:, i:i + per_chunk]), True) for i in range(0, x.shape[1], per_chunk))
        cells = [cost(x, True), chunked, channel, sample, cost(x, True, 64), cost(x, True, 16)]
        rows.append(f"| {name} | {base:,.0f} | " + " | ".join(f"{v / base:.3f}" for v in cells) + " |")
        print(rows[-1], flush=True)
    OUT.write_text("\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
