"""Coding one file's chunks on several threads (issues 22 and 25): speed-up of 2 threads over 1,
decoding and encoding.

Writes benchmarks/results/parallel.md and parallel.json. The files are real spikes (the entropy
corpus: a spiking conv net on Fashion-MNIST test images; 1-bit l1 and l2, 2-bit l1) saved in
chunks of a few images each, with each codec that a user picks for them. For each file,
``spikecodec.load(path, workers=W)`` and ``spikecodec.encode(array, workers=W)`` (the same
file's bytes, checked) for W = 1, 2 are timed in interleaved rounds (best of ``--rounds``) in one process, so the ratio compares runs under the same load; the compiled
coders release the GIL, so threads decode chunks truly at once. The machine has 2 cores, so
2 threads can give at most 2x.

    .venv/bin/python benchmarks/parallel_bench.py [--images N] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import spikecodec  # noqa: E402
from spike_corpus import corpus  # noqa: E402
from timing import best_times  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CASES = [  # (tensor, bits, codec, images per chunk)
    ("l1", 1, "framemix", 16),  # the default codec (format 1.12)
    ("l2", 1, "framemix", 16),
    ("l1", 2, "framemix", 16),
    ("l1", 1, "chanmix", 16),
    ("l2", 1, "chanmix", 16),
    ("l1", 2, "chanmix", 16),
    ("l1", 1, "winmix", 16),
    ("l2", 1, "winmix", 16),
    ("l1", 2, "winmix", 16),
    ("l1", 1, "mix", 16),
    ("l1", 1, "auto", 16),
    ("l1", 1, "ctxmix", 16),
    ("l2", 1, "auto", 16),
    ("l2", 1, "ctxmix", 16),
    ("l1", 2, "auto", 16),
    ("l2", 1, "zstd", 16),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=512, help="test images run through the network (default 512)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds, best kept (default 7)")
    args = parser.parse_args()
    spikecodec.codecs.warm_up()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for tensor, bits, codec, per_chunk in CASES:
            spikes = corpus(n_images=args.images, bits=bits)[tensor]
            path = os.path.join(tmp, f"{tensor}-{bits}-{codec}.spk")
            spikecodec.save(path, spikes, codec=codec, chunk=(spikes.shape[0], per_chunk))
            with spikecodec.open(path) as r:
                chunks = len(r.entries)
            assert np.array_equal(spikecodec.load(path, workers=2), spikes)
            options = dict(codec=codec, chunk=(spikes.shape[0], per_chunk))
            with open(path, "rb") as f:
                assert spikecodec.encode(spikes, workers=2, **options) == f.read()
            times = best_times({**{("dec", w): (lambda w=w: spikecodec.load(path, workers=w)) for w in (1, 2)},
                                **{("enc", w): (lambda w=w: spikecodec.encode(spikes, workers=w, **options)) for w in (1, 2)}},
                               args.rounds)
            rows.append({
                "tensor": tensor, "bits": bits, "codec": codec, "shape": list(spikes.shape), "chunks": chunks,
                "file_bytes": os.path.getsize(path), "seconds_1_thread": times["dec", 1], "seconds_2_threads": times["dec", 2],
                "speedup": times["dec", 1] / times["dec", 2],
                "encode_seconds_1_thread": times["enc", 1], "encode_seconds_2_threads": times["enc", 2],
                "encode_speedup": times["enc", 1] / times["enc", 2],
            })
            print(f"{tensor} {bits}-bit {codec:8s} {chunks:3d} chunks  decode {times['dec', 1] * 1e3:7.1f} / {times['dec', 2] * 1e3:7.1f} ms "
                  f"{rows[-1]['speedup']:.2f}x  encode {times['enc', 1] * 1e3:7.1f} / {times['enc', 2] * 1e3:7.1f} ms "
                  f"{rows[-1]['encode_speedup']:.2f}x", flush=True)
    RESULTS.mkdir(exist_ok=True)
    meta = {"images": args.images, "rounds": args.rounds, "cpus": os.cpu_count(), "python": platform.python_version(),
            "load_average": os.getloadavg()}
    (RESULTS / "parallel.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    lines = [
        "# Parallel decoding and encoding: 2 threads against 1",
        "",
        "`.venv/bin/python benchmarks/parallel_bench.py` (written by the script; do not edit). "
        f"Real spikes of {args.images} Fashion-MNIST test images; `spikecodec.load(path, workers=W)` and "
        "`spikecodec.encode(array, workers=W)` (the same bytes for W = 1 and 2, checked), "
        f"best of {args.rounds} interleaved rounds in one process, {os.cpu_count()} CPUs, "
        f"load average at the end {meta['load_average'][0]:.2f}.",
        "",
        "| tensor | bits | codec | shape | chunks | file bytes | decode 1 thread ms | 2 threads ms | speed-up "
        "| encode 1 thread ms | 2 threads ms | speed-up |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['tensor']} | {r['bits']} | {r['codec']} | {'x'.join(map(str, r['shape']))} | {r['chunks']} | "
                     f"{r['file_bytes']} | {r['seconds_1_thread'] * 1e3:.1f} | {r['seconds_2_threads'] * 1e3:.1f} | "
                     f"{r['speedup']:.2f}x | {r['encode_seconds_1_thread'] * 1e3:.1f} | {r['encode_seconds_2_threads'] * 1e3:.1f} | "
                     f"{r['encode_speedup']:.2f}x |")
    (RESULTS / "parallel.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
