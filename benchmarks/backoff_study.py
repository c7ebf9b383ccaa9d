"""Can a model without a mixer reach the default's bytes? (issue 25: the default must code >= 10%
fewer bytes than paq9a at >= 5x its speed): a study of ideal code lengths, not a codec.

Why: ``ctxfast`` runs at 120-160 M elements/s, 6-20x paq9a, but codes 0.74-1.45x paq9a's bytes
(benchmarks/results/peers.md); ``framemix`` codes 0.60-0.86x at 0.6-3.4x its speed. Most of
``framemix``'s gain on a layer such as mbv2-last (1.45x -> 0.80x) comes with its position model
C, which learns each neuron's own rate across the samples. A mixer costs what
benchmarks/results/lean_study.md measured (a loop with no model runs at 40-49 M/s). This asks
whether a counter per neuron, backed off to ``ctxfast``'s estimate as ``ctxfast`` backs its
channel-group counter off to its shared one (no mixer: a table load and one division more),
takes a useful part of that gain.

Model (:func:`_backed_off_code_length`, 1-bit corpora, one chunk, elements in C order as one lane):
``ctxfast``'s probability ``q`` (FORMAT.md 9.4.12's context and 9.4.2's counters, the library's
own functions), then a counter pair (n1, n) per neuron (t, c, h, w) and *m* context bits (the
neuron's t-1, left, up and channel c-1 significances, the first m of them) with
``p = (n1 + w q) / (n + w)``, halved at a total of *L*; and for reference the same two estimates
mixed (:func:`_mixed_code_length`). Code length: sum of -log2 p, in bytes
(the coder adds under 0.1%). paq9a's and framemix's bytes come from peers.json and
holdout.json (their runs), so run this after benchmarks/peers_bench.py.

    python benchmarks/backoff_study.py      # under a minute; writes benchmarks/results/backoff_study.md
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np
from numba import njit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from spikecodec.codecs.kernels.context import MAX_GROUPS, prob  # noqa: E402
from spikecodec.codecs.kernels.counters import ONE, bumped  # noqa: E402
from spikecodec.codecs.kernels.fast_layout import KS  # noqa: E402
from spikecodec.codecs.kernels.fast_plain import _plain_contexts  # noqa: E402

RESULTS = HERE / "results"
# (context bits m, prior weight w, halving total L); m = -1: ctxfast's model alone (w, L unused)
VARIANTS = [(-1, 4, 1024), (0, 4, 1024), (1, 4, 1024), (3, 4, 1024), (3, 2, 1024), (3, 8, 1024), (4, 4, 1024),
            (3, 4, 256)]


@njit(cache=True)
def _ctxfast_q(su, ctx, T, N, C, H, W):
    """ctxfast's probability q of a 1 for every element (C order, one lane), and its code length
    in bytes: the one model every variant builds on, run once a corpus."""
    G = max(min(C, MAX_GROUPS), 1)
    sg = np.zeros(G * KS, np.uint32)
    ss = np.zeros(KS, np.uint32)
    q = np.empty(su.size, np.int64)
    bits = 0.0
    P = H * W
    for e in range(su.size):
        g = ((e // P) % C % G) * KS
        k = ctx[e]
        s = su[e]
        q[e] = prob(sg[g + k], ss[k])
        p = q[e] / ONE
        bits -= np.log2(p if s else 1.0 - p)
        sg[g + k] = bumped(sg[g + k], s)
        ss[k] = bumped(ss[k], s)
    return q, bits / 8.0


@njit(cache=True)
def _neuron_slots(su, T, N, C, H, W, m_bits):
    """Each element's neuron (t, c, h, w) x its first ``m_bits`` context bits (t-1, left, up,
    channel c-1), as one index: the counter or state a variant keeps for it."""
    NS = 1 << m_bits
    P = H * W
    sT = N * C * P
    out = np.empty(su.size, np.int64)
    e = 0
    for t in range(T):
        for n in range(N):
            for c in range(C):
                for h in range(H):
                    for w in range(W):
                        sc = 0
                        if m_bits >= 1:
                            sc = su[e - sT] if t >= 1 else 0
                        if m_bits >= 2:
                            sc = sc * 2 + (su[e - 1] if w >= 1 else 0)
                        if m_bits >= 3:
                            sc = sc * 2 + (su[e - W] if h >= 1 else 0)
                        if m_bits >= 4:
                            sc = sc * 2 + (su[e - P] if c >= 1 else 0)
                        out[e] = (((t * C + c) * H + h) * W + w) * NS + sc
                        e += 1
    return out


@njit(cache=True)
def _backed_off_code_length(su, q, slot, slots, w_prior, limit):
    """Bytes with a counter pair per ``slot`` backed off to ctxfast's ``q``: (n1 + w q) / (n + w)."""
    n1 = np.zeros(slots, np.int64)
    nn = np.zeros(slots, np.int64)
    bits = 0.0
    for e in range(su.size):
        j = slot[e]
        s = su[e]
        pb = (n1[j] * float(ONE) + w_prior * q[e]) / (nn[j] + w_prior) / ONE
        pb = min(max(pb, 1e-7), 1.0 - 1e-7)
        bits -= np.log2(pb if s else 1.0 - pb)
        n1[j] += s
        nn[j] += 1
        if nn[j] >= limit:
            n1[j] = (n1[j] + 1) >> 1
            nn[j] = (nn[j] + 1) >> 1
    return bits / 8.0


@njit(cache=True)
def _mixed_code_length(su, q, slot, slots, lr):
    """Bytes with a logistic mixer of two inputs and a bias (a reference point, not backoff):
    ctxfast's q and a 16-bit probability state per neuron x (t-1, left, up) (``slot``), updated by
    1/16 of its error; one weight set per those three bits. Floating point: an ideal code length."""
    state = np.full(slots, 32768, np.int64)
    wts = np.zeros((8, 3))
    wts[:, 0] = 1.0
    wts[:, 1] = 0.3
    total = 0.0
    for e in range(su.size):
        s = su[e]
        j = slot[e]
        sc = j & 7
        qe = min(max(q[e] / ONE, 1e-6), 1.0 - 1e-6)
        pn = (state[j] + 0.5) / 65536.0
        x0 = np.log(qe / (1.0 - qe))
        x1 = np.log(pn / (1.0 - pn))
        p = 1.0 / (1.0 + np.exp(-(wts[sc, 0] * x0 + wts[sc, 1] * x1 + wts[sc, 2])))
        p = min(max(p, 1e-7), 1.0 - 1e-7)
        total -= np.log2(p if s else 1.0 - p)
        err = s - p
        wts[sc, 0] += lr * err * x0
        wts[sc, 1] += lr * err * x1
        wts[sc, 2] += lr * err
        state[j] += ((65535 - state[j]) >> 4) if s else -(state[j] >> 4)
    return total / 8.0


def peer_rows() -> dict[str, dict[str, dict]]:
    """corpus -> its rows of the peers runs (peers.json, holdout.json), by configuration
    (paq9a's under "paq9a")."""
    out = {}
    for name in ("peers.json", "holdout.json"):
        for c in json.loads((RESULTS / name).read_text())["corpora"]:
            out[c["corpus"]["name"]] = {r["coder"] if r["coder"] == "paq9a" else r["config"]: r for r in c["rows"]}
    return out


def _peer_bytes() -> dict[str, tuple[int, int]]:
    """corpus -> (paq9a's bytes, framemix's at default chunks), from the peers runs."""
    return {name: (rows["paq9a"]["bytes"], rows["framemix, default chunks"]["bytes"]) for name, rows in peer_rows().items()}


def one_bit_corpora(known) -> Iterator[tuple[Path, np.ndarray]]:
    """(path, array) of each 1-bit corpus of runs/corpora, then runs/holdout, that ``known``
    names (the corpora the peers runs measured)."""
    for path in sorted((ROOT / "runs" / "corpora").glob("*.npy")) + sorted((ROOT / "runs" / "holdout").glob("*.npy")):
        x = np.load(path)
        if x.max() <= 1 and path.stem in known:
            yield path, x


def _label(m: int, w: int, lim: int) -> str:
    return "ctxfast's model" if m < 0 else f"neuron x {m} bits, w {w}, L {lim}"


LABELS = [_label(*v) for v in VARIANTS] + ["mixer: ctxfast's q + neuron x 3 bits"]


def main() -> None:
    t_start = time.perf_counter()
    peers = _peer_bytes()
    rows = []
    for path, x in one_bit_corpora(peers):
        name = path.stem
        T, N, C, H, W = x.shape
        su = np.ascontiguousarray(np.minimum(x, 1)).ravel()
        ctx = _plain_contexts(su, T, N, C, H, W)
        paq, fm = peers[name]
        q, model = _ctxfast_q(su, ctx, T, N, C, H, W)
        cells = []
        for m, w, lim in VARIANTS:
            if m < 0:
                cells.append(model / paq)
                continue
            slot = _neuron_slots(su, T, N, C, H, W, m)
            cells.append(_backed_off_code_length(su, q, slot, T * C * H * W << m, float(w), lim) / paq)
        cells.append(_mixed_code_length(su, q, _neuron_slots(su, T, N, C, H, W, 3), T * C * H * W * 8, 0.01) / paq)
        rows.append((name, paq, fm / paq, cells))
        print(name, " ".join(f"{v:.3f}" for v in cells), flush=True)
    code = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    lines = [
        "# A counter per neuron, backed off to ctxfast's estimate, without a mixer (issue 25)",
        "",
        f"Command: `python benchmarks/backoff_study.py`. Run {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, "
        f"{time.perf_counter() - t_start:.0f} s, code at {code}. Method: the script's docstring. The 1-bit corpora of "
        "runs/corpora and runs/holdout, each whole in one chunk.",
        "",
        "Each cell: ideal code length / paq9a's bytes at its best axis order (peers.json, holdout.json); "
        "target <= 0.900. framemix: its file at default chunks, as those runs measured it.",
        "",
        "| corpus | paq9a bytes | framemix | " + " | ".join(LABELS) + " |",
        "|---|---:|---:|" + "---:|" * len(LABELS),
    ]
    for name, paq, fm, cells in rows:
        lines.append(f"| {name} | {paq:,} | {fm:.3f} | " + " | ".join(f"{v:.3f}" for v in cells) + " |")
    best = [min(r[3][i] for r in rows) for i in range(len(LABELS))]
    worst = [max(r[3][i] for r in rows) for i in range(len(LABELS))]
    base = [r[3][0] for r in rows]
    wins = [sum(r[3][i] < b for r, b in zip(rows, base)) for i in range(len(LABELS))]
    meets = [sum(r[3][i] <= 0.9 for r in rows) for i in range(len(LABELS))]
    lines += ["| range | | | " + " | ".join(f"{a:.3f} - {b:.3f}" for a, b in zip(best, worst)) + " |",
              "| corpora under ctxfast's model | | | " + " | ".join(f"{n} / {len(rows)}" for n in wins) + " |",
              "| corpora at <= 0.900 | | | " + " | ".join(f"{n} / {len(rows)}" for n in meets) + " |", ""]
    top = max(range(1, len(VARIANTS)), key=lambda i: meets[i])
    mixed = len(LABELS) - 1
    far = max(((r[0], r[3][mixed], r[2]) for r in rows), key=lambda v: v[1] - v[2])
    lines += [f"Reading: the best backed-off variant ({LABELS[top]}) reaches 0.900 on {meets[top]} of "
              f"{len(rows)} corpora and codes less than ctxfast's model alone on {wins[top]}; the same two estimates "
              f"mixed reach it on {meets[mixed]} ({best[mixed]:.3f} - {worst[mixed]:.3f}); framemix, nine models "
              f"mixed, on {sum(r[2] <= 0.9 for r in rows)}. A neuron's counts trusted by a fixed weight cannot tell "
              "where they know better; mixed, they gain on every corpus but stay far from framemix where it gains most "
              f"({far[0]}: {far[1]:.3f} against {far[2]:.3f}). A faster default keeps a mixer of more than these two "
              "models and cuts its cost (lanes, fewer models; lean_study.md).", ""]
    (RESULTS / "backoff_study.md").write_text("\n".join(lines))
    print("wrote", RESULTS / "backoff_study.md")


if __name__ == "__main__":
    main()
