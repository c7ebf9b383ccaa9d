"""Container benchmark (issue 2): bytes per element and encode/decode speed of the container's
``raw`` and ``zstd`` modes against bare ``np.packbits`` + zstandard and h5py gzip, all measured
side by side in one run on the same arrays.

    .venv/bin/python benchmarks/container_bench.py            # writes benchmarks/results/container.{md,json}

Speeds are the best of several repeats (this machine is shared and noisy); compare ratios
within one run, not absolute figures across runs.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
from pathlib import Path

import h5py
import numpy as np
import zstandard

import spikecodec
from timing import best_time  # benchmarks/timing.py (the script folder is on sys.path)

RESULTS = Path(__file__).parent / "results"
SHAPE = (4, 128, 32, 16, 16)  # T, N, C, H, W: 8,388,608 elements


def iid_spikes(rate: float, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random(SHAPE) < rate).astype(np.uint8)


def correlated_spikes(seed: int = 0) -> np.ndarray:
    """LIF neurons (tau 0.5, threshold 1, hard reset) driven by a spatially smooth, per-channel
    scaled constant input: neighbours fire together and each neuron fires periodically over T."""
    rng = np.random.default_rng(seed)
    t, n, c, h, w = SHAPE
    drive = rng.random((n, c, h, w)).astype(np.float32)
    for axis in (2, 3):  # smooth spatially so that neighbours are alike
        drive = (drive + np.roll(drive, 1, axis) + np.roll(drive, -1, axis)) / 3
    drive = drive * rng.uniform(0.3, 1.6, (1, c, 1, 1)).astype(np.float32)
    v = np.zeros_like(drive)
    out = np.zeros(SHAPE, np.uint8)
    for step in range(t):
        v = 0.5 * v + drive
        spike = v > 1.0
        out[step] = spike
        v[spike] = 0.0
    return out


def methods(levels: list[int]):
    """name -> (encode(array) -> bytes, decode(bytes, array) -> array)."""
    out = {}

    def container(codec):
        return (lambda a: spikecodec.encode(a, codec=codec, chunk=1), lambda b, a: spikecodec.decode(b))

    out["spikecodec raw"] = container("raw")
    for lvl in levels:
        out[f"spikecodec zstd-{lvl}"] = container({"id": "zstd", "level": lvl})
    out["bare np.packbits"] = (
        lambda a: np.packbits(a.reshape(-1)).tobytes(),
        lambda b, a: np.unpackbits(np.frombuffer(b, np.uint8), count=a.size).reshape(a.shape),
    )
    for lvl in levels:
        cctx = zstandard.ZstdCompressor(level=lvl)
        dctx = zstandard.ZstdDecompressor()
        out[f"bare packbits+zstd-{lvl}"] = (
            lambda a, c=cctx: c.compress(np.packbits(a.reshape(-1)).tobytes()),
            lambda b, a, d=dctx: np.unpackbits(np.frombuffer(d.decompress(b), np.uint8), count=a.size).reshape(a.shape),
        )
    out["h5py gzip-4 (uint8)"] = (h5_encode, h5_decode)
    return out


def h5_encode(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_dataset("s", data=a, chunks=(1, *a.shape[1:]), compression="gzip", compression_opts=4)
    return buf.getvalue()


def h5_decode(b: bytes, a: np.ndarray) -> np.ndarray:
    with h5py.File(io.BytesIO(b), "r") as f:
        return f["s"][...]


def container_overhead() -> dict:
    """Bytes the container adds around one 64 KiB raw payload."""
    a = iid_spikes(0.15).reshape(-1)[: 64 * 1024 * 8].reshape(1, -1)
    data = spikecodec.encode(a, codec="raw", axes=["T", "N"], chunk=1)
    payload = 64 * 1024
    return {"payload_bytes": payload, "file_bytes": len(data), "overhead_bytes": len(data) - payload,
            "overhead_percent": 100.0 * (len(data) - payload) / payload}


def run(repeats: int, levels: list[int]) -> dict:
    arrays = {f"iid {int(r * 100)}%": iid_spikes(r, seed=i) for i, r in enumerate((0.05, 0.15, 0.30))}
    arrays["LIF correlated"] = correlated_spikes()
    rows = []
    for data_name, a in arrays.items():
        for name, (enc, dec) in methods(levels).items():
            blob = enc(a)
            np.testing.assert_array_equal(dec(blob, a), a)  # every method must round-trip
            reps = max(1, repeats // 3) if "zstd-19" in name else repeats
            t_enc = best_time(lambda: enc(a), reps)
            t_dec = best_time(lambda: dec(blob, a), reps)
            rows.append({"data": data_name, "rate": float(a.mean()), "method": name, "bytes": len(blob),
                         "bits_per_element": 8 * len(blob) / a.size,
                         "encode_Mel_s": a.size / t_enc / 1e6, "decode_Mel_s": a.size / t_dec / 1e6})
            print(f"{data_name:15s} {name:26s} {rows[-1]['bits_per_element']:.4f} b/el  "
                  f"enc {rows[-1]['encode_Mel_s']:9.1f} Mel/s  dec {rows[-1]['decode_Mel_s']:9.1f} Mel/s", file=sys.stderr)
    return {"shape": list(SHAPE), "elements": int(np.prod(SHAPE)), "repeats": repeats, "rows": rows,
            "overhead": container_overhead(), "machine": f"{platform.machine()}, {platform.python_version()}, "
            f"numpy {np.__version__}, zstandard {zstandard.__version__}, h5py {h5py.__version__}"}


def targets(result: dict) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for issue 2's targets, from ratios within this run."""
    out = []
    ov = result["overhead"]
    out.append(("container overhead < 1% of a 64 KiB payload", f"{ov['overhead_bytes']} B = {ov['overhead_percent']:.2f}%", ov["overhead_percent"] < 1))
    by = {(r["data"], r["method"]): r for r in result["rows"]}
    datas = sorted({r["data"] for r in result["rows"]})
    ratios = [by[(d, "spikecodec raw")]["encode_Mel_s"] / by[(d, "bare np.packbits")]["encode_Mel_s"] for d in datas]
    out.append(("raw encode >= 0.5x bare np.packbits", f"{min(ratios):.2f}x .. {max(ratios):.2f}x", min(ratios) >= 0.5))
    levels = sorted({int(r["method"].rsplit("-", 1)[1]) for r in result["rows"] if r["method"].startswith("spikecodec zstd")})
    zr = [by[(d, f"spikecodec zstd-{l}")]["encode_Mel_s"] / by[(d, f"bare packbits+zstd-{l}")]["encode_Mel_s"] for d in datas for l in levels]
    zd = [by[(d, f"spikecodec zstd-{l}")]["decode_Mel_s"] / by[(d, f"bare packbits+zstd-{l}")]["decode_Mel_s"] for d in datas for l in levels]
    out.append(("zstd mode encode no slower than bare packbits+zstd (same level)", f"{min(zr):.2f}x .. {max(zr):.2f}x", min(zr) >= 0.95))
    out.append(("zstd mode decode no slower than bare packbits+zstd (same level)", f"{min(zd):.2f}x .. {max(zd):.2f}x", min(zd) >= 0.95))
    return out


def write_markdown(result: dict, path: Path) -> None:
    lines = ["# Container benchmark", "",
             f"Generated by `.venv/bin/python benchmarks/container_bench.py`; array shape {tuple(result['shape'])} "
             f"(T, N, C, H, W; {result['elements']:,} elements), best of {result['repeats']} repeats "
             f"(zstd-19: fewer), one chunk per timestep for the container. {result['machine']}.", "",
             "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {'yes' if ok else 'NO'} |" for t, m, ok in targets(result)]
    lines += ["", "## All results", "", "| data | rate | method | bytes | bits/element | encode M el/s | decode M el/s |",
              "|---|---:|---|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['data']} | {r['rate']:.3f} | {r['method']} | {r['bytes']:,} | {r['bits_per_element']:.4f} | "
                     f"{r['encode_Mel_s']:.1f} | {r['decode_Mel_s']:.1f} |")
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 3, 19])
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    result = run(args.repeats, args.levels)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "container.json").write_text(json.dumps(result, indent=1) + "\n")
    write_markdown(result, args.out / "container.md")
    for t, m, ok in targets(result):
        print(f"{'met ' if ok else 'MISS'} {t}: {m}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
