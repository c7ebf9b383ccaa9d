"""Design study: what each of ``winmix``'s seven significance models is worth, on every corpus
(issue 25: "measure the alternatives on your corpora and keep the table").

``winmix`` (FORMAT.md 9.4.11) mixes seven models for each significance decision: A (the 12
neighbours' significances), B (the neuron's own history), C (the position), E (the pixel pair:
the left pixel's channel vector with this one's so far), W (the last 12 channels at this pixel),
X and Y (bits 0..15 and 16..31 of the last 64 significances coded). This script builds variants
of the shipped kernel (spikecodec/codecs/kernels/winmix.py, rewritten in a temporary folder;
nothing in the package changes) and codes every corpus in runs/corpora with each:

* *without M*: model M's input to the mixer is zero, so it neither predicts nor moves a weight
  (its table is still read and written: the bytes say what M adds beside the others, not what
  dropping its code would save in time);
* *E replaced by Z*: E's table keyed instead by bits 32..47 of the last 64 significances with
  the channel (a third window, as X and Y);
* *E removed*: E's code taken out of the loop, for the time it costs (encode and decode of two
  corpora, the shipped kernel and this one alternating, median of three).

Bytes are the payload of one chunk holding the whole corpus (no container), fresh tables, one
thread. Counts are coded with winmix's own magnitudes (countmix adds H and I).

    python benchmarks/winmix_ablation.py     # writes benchmarks/results/winmix_ablation.md
"""

from __future__ import annotations

import importlib
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORPORA = ROOT / "runs" / "corpora"
KERNEL = ROOT / "spikecodec" / "codecs" / "kernels" / "winmix.py"
OUT = HERE / "results" / "winmix_ablation.md"
COMMAND = "python benchmarks/winmix_ablation.py"
MODELS = {"A": "sa", "B": "sb", "C": "sc", "E": "se", "W": "sv", "X": "sx", "Y": "sy"}  # model -> its stretched input
SPEED_CORPORA = ("mbv2-last", "ref-layer1")
ROUNDS = 3


def _replace_once(src: str, old: str, new: str) -> str:
    if src.count(old) != 1:
        raise SystemExit(f"winmix.py changed: expected one {old.strip()!r}; update this study")
    return src.replace(old, new)


def variants(src: str) -> dict[str, str]:
    """Module source of each variant, keyed by its row label."""
    src = src.replace("from .", "from spikecodec.codecs.kernels.")
    out = {"shipped (all seven)": src}
    for model, var in MODELS.items():
        out[f"without {model}"] = _replace_once(src, f"{var} = stretched(", f"{var} = 0 * stretched(")
    z = _replace_once(src, "line_e = pair_line(left_vector, here, ct, sh3, o3)\n",
                      "line_e = o3 + (np.int64(((((run >> np.uint64(32)) & np.uint64(0xFFFF)) * np.uint64(256) + np.uint64(c)"
                      " + np.uint64(3)) * HASH_MUL) >> np.uint64(sh3 + 4)) << 4)\n")
    out["E replaced by Z (bits 32..47 of the window)"] = _replace_once(
        z, "prefetch(tabs, U(pair_line(left_vector, next_here(here, b), ctn, sh3, o3)))\n", "pass\n")
    no_e = src
    for old, new in (("line_e = pair_line(left_vector, here, ct, sh3, o3)\n", "pass\n"),
                     ("prefetch(tabs, U(pair_line(left_vector, next_here(here, b), ctn, sh3, o3)))\n", "pass\n"),
                     ("ie = line_e + group_node\n", "pass\n"), ("ve = tabs[U(ie)]\n", "pass\n"),
                     ("se = stretched(ve)\n", "se = 0\n"), ("tabs[U(ie)] = updated(ve, bit)\n", "pass\n"),
                     ("jidx[jj + 3] = ie\n", "pass\n"), ("jval[jj + 3] = ve\n", "pass\n")):
        no_e = _replace_once(no_e, old, new)
    out["E removed"] = no_e
    return out


def load(folder: Path, index: int, source: str):
    name = f"winmix_variant_{index}"
    (folder / f"{name}.py").write_text(source)
    return importlib.import_module(name)


def code(k, x: np.ndarray, decode: bool = False) -> tuple[int, float, float]:
    """(payload bytes, encode seconds, decode seconds) of ``x`` as one chunk with fresh tables."""
    T, N, C, H, W = x.shape
    bits = 1 if x.max() <= 1 else (2 if x.max() <= 3 else 4)
    sizes = k.table_sizes(T, C, H, W, bits)
    tabs = np.zeros(int(sizes.sum()), np.uint32)
    weights = k.initial_weights(T, C, H, W, bits)
    out = np.empty(x.size, np.uint8)  # n counts the bytes past it too (kernels.binary.code_bit)
    t0 = time.perf_counter()
    n = k.encode(x, bits, tabs, weights.copy(), out, False)
    enc = time.perf_counter() - t0
    dec = float("nan")
    if decode:
        tabs[:] = 0
        y = np.zeros_like(x)
        t0 = time.perf_counter()
        status = k.decode_into(out[:n].copy(), y, bits, tabs, weights.copy(), False)
        dec = time.perf_counter() - t0
        assert status == 0 and np.array_equal(x, y)
    return n, enc, dec


def main() -> None:
    sys.path.insert(0, str(ROOT))
    corpora = {p.stem: np.ascontiguousarray(np.load(p)) for p in sorted(CORPORA.glob("*.npy"))}
    if not corpora:
        raise SystemExit(f"no corpora in {CORPORA}: python benchmarks/corpora.py train && python benchmarks/corpora.py build")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, tmp)
        modules = {label: load(Path(tmp), i, src) for i, (label, src) in enumerate(variants(KERNEL.read_text()).items())}
        sizes = {}
        for label, k in modules.items():
            code(k, corpora["ref-code"][:, :8])  # compile before timing anything
            sizes[label] = {name: code(k, x)[0] for name, x in corpora.items()}
            print(f"{label}: {sum(sizes[label].values())} bytes in all", flush=True)
        speeds = alternate_speeds(modules, corpora, SPEED_CORPORA, ("shipped (all seven)", "E removed"))
    OUT.write_text(markdown(corpora, sizes, speeds, time.perf_counter() - started))
    print(f"wrote {OUT}")


def alternate_speeds(modules: dict, data: dict[str, np.ndarray], names: tuple[str, ...], pair: tuple[str, str],
                     rounds: int = ROUNDS) -> dict[str, dict[str, tuple[float, float]]]:
    """corpus -> label -> (encode, decode) M elements/s of the two variants ``pair``, coding it in
    turn ``rounds`` times (so the shared machine's drift falls on both), the median of each."""
    speeds = {}
    for name in names:
        runs = {label: [] for label in pair}
        for _ in range(rounds):
            for label in pair:
                runs[label].append(code(modules[label], data[name], decode=True)[1:])
        speeds[name] = {label: (statistics.median(data[name].size / e / 1e6 for e, _ in r),
                                statistics.median(data[name].size / d / 1e6 for _, d in r)) for label, r in runs.items()}
    return speeds


def speed_table(speeds: dict, pair: tuple[str, str], short: tuple[str, str]) -> list[str]:
    """Markdown lines of :func:`alternate_speeds`' figures, the variants named ``short``."""
    lines = ["", "Speed, M elements/s (median of three, the two kernels alternating):", "",
             f"| corpus | {short[0]} enc | {short[0]} dec | {short[1]} enc | {short[1]} dec | ratio enc / dec |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, s in speeds.items():
        (be, bd), (ne, nd) = s[pair[0]], s[pair[1]]
        lines.append(f"| {name} | {be:.1f} | {bd:.1f} | {ne:.1f} | {nd:.1f} | {ne / be:.2f}x / {nd / bd:.2f}x |")
    return lines


def markdown(corpora: dict, sizes: dict, speeds: dict, seconds: float) -> str:
    names = list(corpora)
    base = sizes["shipped (all seven)"]
    lines = ["# winmix: what each model is worth (issue 25)", "",
             f"Command: `{COMMAND}`. Run {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, one thread, "
             f"{seconds / 60:.1f} min. Method: the script's docstring. Bytes: payload of the whole corpus as one chunk; "
             "each variant's change against the shipped kernel (negative: fewer bytes).", "",
             "| variant | " + " | ".join(names) + " | all corpora | worst | best |",
             "|---|" + "---:|" * (len(names) + 3)]
    for label, got in sizes.items():
        rel = [got[n] / base[n] - 1 for n in names]
        total = sum(got.values()) / sum(base.values()) - 1
        cells = [f"{base[n]:,}" for n in names] if label == "shipped (all seven)" else [f"{r:+.1%}" for r in rel]
        summary = ["(bytes)", "", ""] if label == "shipped (all seven)" else [f"{total:+.2%}", f"{max(rel):+.1%}", f"{min(rel):+.1%}"]
        lines.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(summary) + " |")
    lines += speed_table(speeds, ("shipped (all seven)", "E removed"), ("shipped", "E removed"))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="winmix-ablation-"))
    main()
