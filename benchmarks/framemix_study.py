"""Design study of ``framemix`` (FORMAT.md 9.4.15; issue 25: "measure the alternatives on your
corpora and keep the table"): what its two models add to ``chanmix``, and the alternative kept
out.

Why (benchmarks/results/stress.md): on samples that repeat, or change a little from one to the
next as video frames do, ``chanmix`` coded 19-43% more than ``zpaq -method 5``, and on a network
run for 32 steps it was only 5.6% under paq9a. Its position model C learns each position's
average over the samples, not what the last sample held; its history B holds 7 steps.
``framemix`` adds P (the previous sample of the chunk at the element and its four plane
neighbours, with le, up, p1, c1: 1024 states shared by every channel and step) and L (the
neuron's last 15 significances by channel group and step, hashed into 2**22 states).

Variants, built from the shipped kernel (spikecodec/codecs/kernels/winmix.py, rewritten in a
temporary folder; nothing in the package changes), every result decoded back and compared:

* ``chanmix`` and ``framemix`` as shipped;
* *without P* / *without L*: that model's input to the mixer is zero (its table is still read and
  written: the bytes say what it adds beside the others);
* *P by channel group and step*: P's key with ct in front (ct 1024 + keyP, G TP 1024 states),
  as every other table of the family is keyed; the first design, measured worse.

Material: every corpus in runs/corpora; two kinds built from ref-layer2 as
benchmarks/stress_bench.py builds them (each sample twice; each sample with three frames that
each redraw 3% of the last); and res6-fmnist-t6 run for 16 and 32 steps (needs torch). Bytes: the
payload of one chunk holding it all, fresh tables, one thread. Speed: two corpora, ``chanmix``
and ``framemix`` alternating, median of three.

    python benchmarks/framemix_study.py     # writes benchmarks/results/framemix_study.md
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if __name__ == "__main__":  # before numba is first imported (by the variants, or spikecodec's kernels)
    os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="framemix-study-"))

import stress_bench  # noqa: E402
from winmix_ablation import CORPORA, KERNEL, ROOT, _replace_once, alternate_speeds, code, load, speed_table  # noqa: E402

OUT = HERE / "results" / "framemix_study.md"
COMMAND = "python benchmarks/framemix_study.py"
SPEED_CORPORA = ("mbv2-last", "ref-layer1")
ROUNDS = 3

ENTRY_POINTS = '''

def table_sizes(T, C, H, W, bits):
    return np.concatenate((model_sizes(T, C, H, W, bits, True), frame_sizes(T, C)[:FRAME_TABLES]))


def initial_weights(T, C, H, W, bits):
    return first_weights(T, C, H, W, bits, True, True, FRAME)


@njit(cache=True, nogil=True)
def encode(x, bits, tabs, wts, out, journal):
    return encode_models(x, bits, tabs, wts, out, journal, True, True, FRAME)


@njit(cache=True, nogil=True)
def decode_into(data, x, bits, tabs, wts, journal):
    return decode_models(data, x, bits, tabs, wts, journal, True, True, FRAME)
'''


def variants(src: str) -> dict[str, str]:
    """Module source of each variant, keyed by its row label."""
    src = src.replace("from .", "from spikecodec.codecs.kernels.")
    framemix = src + ENTRY_POINTS.replace("FRAME_TABLES", "2").replace("FRAME", "True")
    by_group = _replace_once(_replace_once(src, "ip = U(o_p + pk)", "ip = U(o_p + ct * PREV_KEYS + pk)"),
                             "o_l = o_p + PREV_KEYS", "o_l = o_p + g * tpos * PREV_KEYS")
    by_group = _replace_once(by_group, "return np.array([PREV_KEYS, 1 << LONG_BITS], np.int64)",
                             "return np.array([groups(C) * min(T, TPOS) * PREV_KEYS, 1 << LONG_BITS], np.int64)")
    return {
        "chanmix (shipped)": src + ENTRY_POINTS.replace("FRAME_TABLES", "0").replace("FRAME", "False"),
        "framemix (shipped)": framemix,
        "framemix without P": _replace_once(src, "sp = stretched(vp) if frame", "sp = 0 * stretched(vp) if frame")
        + ENTRY_POINTS.replace("FRAME_TABLES", "2").replace("FRAME", "True"),
        "framemix without L": _replace_once(src, "sl = stretched(vl) if frame", "sl = 0 * stretched(vl) if frame")
        + ENTRY_POINTS.replace("FRAME_TABLES", "2").replace("FRAME", "True"),
        "framemix, P by channel group and step": by_group + ENTRY_POINTS.replace("FRAME_TABLES", "2").replace("FRAME", "True"),
    }


def material() -> dict[str, np.ndarray]:
    out = {p.stem: np.ascontiguousarray(np.load(p)) for p in sorted(CORPORA.glob("*.npy"))}
    if not out:
        raise SystemExit(f"no corpora in {CORPORA}: python benchmarks/corpora.py train && python benchmarks/corpora.py build")
    ref = np.ascontiguousarray(out["ref-layer2"][:, :100])
    out["ref-layer2-repeated*"] = stress_bench.repeated(ref)
    out["ref-layer2-video*"] = stress_bench.video(ref[:, :50], np.random.default_rng(stress_bench.SEED))
    for steps, images in ((16, 200), (32, 100)):
        out[f"res6-layer2-T{steps}*"] = np.ascontiguousarray(stress_bench.longer_runs(steps, images))
    return out


def main() -> None:
    sys.path.insert(0, str(ROOT))
    data = material()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, tmp)
        modules = {label: load(Path(tmp), i, src) for i, (label, src) in enumerate(variants(KERNEL.read_text()).items())}
        sizes = {}
        for label, k in modules.items():
            sizes[label] = {name: code(k, x, decode=True)[0] for name, x in data.items()}
            print(f"{label}: {sum(sizes[label].values())} bytes in all", flush=True)
        speeds = alternate_speeds(modules, data, SPEED_CORPORA, ("chanmix (shipped)", "framemix (shipped)"), ROUNDS)
    OUT.write_text(markdown(sizes, speeds, time.perf_counter() - started))
    print(f"wrote {OUT}")


def markdown(sizes: dict, speeds: dict, seconds: float) -> str:
    base = sizes["chanmix (shipped)"]
    names = list(base)
    corpora = [n for n in names if not n.endswith("*")]
    lines = ["# framemix: what P and L add to chanmix (issue 25)", "",
             f"Command: `{COMMAND}`. Run {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, one thread, "
             f"{seconds / 60:.1f} min. Method: the script's docstring. Bytes: payload of one chunk, each decoded back "
             "and compared; each variant's change against chanmix (negative: fewer bytes). * = built as "
             "benchmarks/stress_bench.py builds it (not a corpus: not in the corpora's total).", "",
             "| material | chanmix bytes | " + " | ".join(label for label in sizes if label != "chanmix (shipped)") + " |",
             "|---|" + "---:|" * len(sizes)]
    for n in names:
        lines.append(f"| {n} | {base[n]:,} | " + " | ".join(f"{got[n] / base[n] - 1:+.2%}" for label, got in sizes.items()
                                                          if label != "chanmix (shipped)") + " |")
    total = {label: sum(got[n] for n in corpora) / sum(base[n] for n in corpora) - 1 for label, got in sizes.items()}
    worst = {label: max(got[n] / base[n] - 1 for n in corpora) for label, got in sizes.items()}
    lines.append(f"| the {len(corpora)} corpora, all | {sum(base[n] for n in corpora):,} | "
                 + " | ".join(f"{total[label]:+.2%} (worst {worst[label]:+.2%})" for label in sizes if label != "chanmix (shipped)") + " |")
    lines += speed_table(speeds, ("chanmix (shipped)", "framemix (shipped)"), ("chanmix", "framemix"))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
