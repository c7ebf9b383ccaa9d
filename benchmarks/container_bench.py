"""Container benchmark (issue 2): bytes per element and encode/decode speed of the container's
``raw`` and ``zstd`` modes against bare ``np.packbits`` + zstandard and h5py gzip, all measured
side by side in one run on the same arrays, at two sizes (4M and 32M elements: the per-file
fixed cost weighs on the first and is amortised in the second), with the fixed cost per file
and the per-pass costs of the raw mode reported separately.

    nice -n 10 .venv/bin/python benchmarks/container_bench.py   # writes benchmarks/results/container.{md,json}

Speeds are the best of several rounds in which the compared methods run in turn (this machine
is shared and noisy): compare ratios within one run, not absolute figures across runs.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import math
import os
import platform
import sys
from pathlib import Path

import h5py
import numba
import numpy as np
import zstandard

import spikecodec
from spikecodec.container.header import _CACHED_HEADERS
from spikecodec.elements import as_elements, pack_counted, unpack_into
from spikecodec.layout import crc32
from timing import best_times  # benchmarks/timing.py (the script folder is on sys.path)

RESULTS = Path(__file__).parent / "results"
SIZES = {"4M": (4, 128, 32, 16, 16), "32M": (4, 1024, 32, 16, 16)}  # T, N, C, H, W
TINY = (1, 1, 1, 1, 8)  # 8 elements: encode/decode time is the fixed cost of a file


def iid_spikes(shape: tuple[int, ...], rate: float, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape, np.float32) < rate).astype(np.uint8)


def correlated_spikes(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """LIF neurons (tau 0.5, threshold 1, hard reset) driven by a spatially smooth, per-channel
    scaled constant input: neighbours fire together and each neuron fires periodically over T."""
    rng = np.random.default_rng(seed)
    t, n, c, h, w = shape
    drive = rng.random((n, c, h, w), np.float32)
    for axis in (2, 3):  # smooth spatially so that neighbours are alike
        drive = (drive + np.roll(drive, 1, axis) + np.roll(drive, -1, axis)) / 3
    drive = drive * rng.uniform(0.3, 1.6, (1, c, 1, 1)).astype(np.float32)
    v = np.zeros_like(drive)
    out = np.zeros(shape, np.uint8)
    for step in range(t):
        v = 0.5 * v + drive
        spike = v > 1.0
        out[step] = spike
        v[spike] = 0.0
    return out


def datasets(shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    out = {f"iid {int(r * 100)}%": iid_spikes(shape, r, seed=i) for i, r in enumerate((0.05, 0.15, 0.30))}
    out["LIF correlated"] = correlated_spikes(shape)
    return out


def container(codec, whole: bool = False):
    """Encode/decode with one chunk per timestep, or (``whole``) one chunk for the whole array:
    then the zstd mode compresses one frame, as bare zstd does."""
    chunk = (lambda a: a.shape[:2]) if whole else (lambda a: 1)
    return (lambda a: spikecodec.encode(a, codec=codec, chunk=chunk(a)), lambda b, a: spikecodec.decode(b))


def bare_zstd(level: int):
    cctx, dctx = zstandard.ZstdCompressor(level=level), zstandard.ZstdDecompressor()
    return (
        lambda a: cctx.compress(np.packbits(a.reshape(-1)).tobytes()),
        lambda b, a: np.unpackbits(np.frombuffer(dctx.decompress(b), np.uint8), count=a.size).reshape(a.shape),
    )


BARE_PACKBITS = (
    lambda a: np.packbits(a.reshape(-1)).tobytes(),
    lambda b, a: np.unpackbits(np.frombuffer(b, np.uint8), count=a.size).reshape(a.shape),
)


def h5_encode(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_dataset("s", data=a, chunks=(1, *a.shape[1:]), compression="gzip", compression_opts=4)
    return buf.getvalue()


def h5_decode(b: bytes, a: np.ndarray) -> np.ndarray:
    with h5py.File(io.BytesIO(b), "r") as f:
        return f["s"][...]


def comparisons(levels: list[int], with_h5py: bool) -> list[dict]:
    """Groups of methods timed in turn: each container mode with its bare counterpart."""
    groups = [{"spikecodec raw": container("raw"), "bare np.packbits": BARE_PACKBITS}]
    for lvl in levels:
        groups.append({f"spikecodec zstd-{lvl}": container({"id": "zstd", "level": lvl}),
                       f"spikecodec zstd-{lvl} one chunk": container({"id": "zstd", "level": lvl}, whole=True),
                       f"bare packbits+zstd-{lvl}": bare_zstd(lvl),
                       # The same bare code timed twice: how far apart identical work measures in
                       # this run (A/A), the yardstick for "no slower".
                       f"bare packbits+zstd-{lvl} again": bare_zstd(lvl)})
    if with_h5py:
        groups.append({"h5py gzip-4 (uint8)": (h5_encode, h5_decode)})
    return groups


def run_size(shape: tuple[int, ...], repeats: int, levels: list[int], with_h5py: bool) -> list[dict]:
    rows = []
    for data_name, a in datasets(shape).items():
        for group in comparisons(levels, with_h5py):
            blobs = {name: enc(a) for name, (enc, _) in group.items()}
            for name, (_, dec) in group.items():
                np.testing.assert_array_equal(dec(blobs[name], a), a)  # every method must round-trip
            t_enc = best_times({n: (lambda e=enc: e(a)) for n, (enc, _) in group.items()}, repeats)
            t_dec = best_times({n: (lambda d=dec, b=blobs[n]: d(b, a)) for n, (_, dec) in group.items()}, repeats)
            for name in group:
                rows.append({"data": data_name, "rate": float(a.mean()), "method": name, "bytes": len(blobs[name]),
                             "bits_per_element": 8 * len(blobs[name]) / a.size,
                             "encode_Mel_s": a.size / t_enc[name] / 1e6, "decode_Mel_s": a.size / t_dec[name] / 1e6})
                r = rows[-1]
                print(f"{math.prod(shape):>9,} {data_name:15s} {name:26s} {r['bits_per_element']:.4f} b/el  "
                      f"enc {r['encode_Mel_s']:9.1f} Mel/s  dec {r['decode_Mel_s']:9.1f} Mel/s", file=sys.stderr)
    return rows


def fixed_costs(repeats: int) -> dict[str, float]:
    """Microseconds to encode and decode an 8-element file: the cost of a file of any size
    beyond its per-element work (header, index, trailer, Python calls). A reader keeps the
    headers it has parsed and checked (by their exact bytes), so decoding files written alike
    costs less than decoding a file whose header it has not seen: the last row cycles through
    files that differ in their metadata, more of them than it keeps."""
    a = iid_spikes(TINY, 0.5)
    out = {}
    for name, (enc, dec) in {"raw": container("raw"), "zstd-1": container({"id": "zstd", "level": 1})}.items():
        blob = enc(a)
        t = best_times({"enc": lambda: enc(a), "dec": lambda: dec(blob, a)}, repeats)
        out[f"{name} encode"] = t["enc"] * 1e6
        out[f"{name} decode"] = t["dec"] * 1e6
    unseen = itertools.cycle([spikecodec.encode(a, codec={"id": "zstd", "level": 1}, chunk=1, metadata={"file": i})
                              for i in range(2 * _CACHED_HEADERS)])
    t = best_times({"dec": lambda: spikecodec.decode(next(unseen))}, repeats)
    out["zstd-1 decode, header not seen before"] = t["dec"] * 1e6
    return out


def passes(shape: tuple[int, ...], repeats: int) -> dict[str, float]:
    """Microseconds per pass of the raw mode over one array (iid 15%, one chunk per timestep),
    each pass timed on its own, next to np.packbits/np.unpackbits over the same array."""
    a = iid_spikes(shape, 0.15, seed=1)
    chunks = list(a)  # one per timestep
    payloads = [pack_counted(c, 1)[0] for c in chunks]
    blob = spikecodec.encode(a, codec="raw", chunk=1)
    out = np.empty_like(a)
    zctx, dctx = zstandard.ZstdCompressor(level=1), zstandard.ZstdDecompressor()
    frames = [zctx.compress(p) for p in payloads]
    packed_all = np.packbits(a.reshape(-1))
    packed_bytes = packed_all.tobytes()
    whole_frame = zctx.compress(packed_bytes)

    def zstd_unpack_fresh() -> np.ndarray:
        fresh = np.empty_like(a)
        for i, f in enumerate(frames):
            unpack_into(dctx.decompress(f), fresh[i], 1)
        return fresh

    def unpack_fresh() -> np.ndarray:
        fresh = np.empty_like(a)  # a new output array, as a decoder returns (its pages are new too)
        for i, p in enumerate(payloads):
            unpack_into(p, fresh[i], 1)
        return fresh

    t = best_times({
        "encode: range check (max over the input)": lambda: as_elements(a, None),
        "encode: pack + check + count (kernel)": lambda: [pack_counted(c, 1) for c in chunks],
        "encode: CRC-32 of the payloads": lambda: [crc32(p) for p in payloads],
        "encode: whole spikecodec raw": lambda: spikecodec.encode(a, codec="raw", chunk=1),
        "encode: bare np.packbits + tobytes": lambda: np.packbits(a.reshape(-1)).tobytes(),
        "decode: CRC-32 of the payloads": lambda: [crc32(p) for p in payloads],
        "decode: unpack + count (kernel, into a reused array)": lambda: [unpack_into(p, out[i], 1) for i, p in enumerate(payloads)],
        "decode: unpack + count (kernel, into a new array)": unpack_fresh,
        "decode: whole spikecodec raw": lambda: spikecodec.decode(blob),
        "decode: bare np.unpackbits (a new array)": lambda: np.unpackbits(packed_all),
        "zstd-1: compress the packed chunks": lambda: [zctx.compress(p) for p in payloads],
        "zstd-1: decompress the chunks": lambda: [dctx.decompress(f) for f in frames],
        "zstd-1: compress the packed array as one frame (bare)": lambda: zctx.compress(packed_bytes),
        "zstd-1: decompress that frame (bare)": lambda: dctx.decompress(whole_frame),
        "zstd-1: decompress + unpack the chunks into a new array (no container)": zstd_unpack_fresh,
    }, repeats)
    return {k: v * 1e6 for k, v in t.items()}


def decode_passes_by_data(shape: tuple[int, ...], repeats: int) -> dict[str, dict[str, float]]:
    """Microseconds of the two zstd-1 decode passes that differ between the container and bare
    zstd, for each array: decompressing one frame per timestep vs one frame of the whole array
    (the per-timestep frames cannot share entropy tables or matches), and unpacking with the
    kernel vs np.unpackbits."""
    out = {}
    zctx, dctx = zstandard.ZstdCompressor(level=1), zstandard.ZstdDecompressor()
    for data_name, a in datasets(shape).items():
        frames = [zctx.compress(pack_counted(c, 1)[0]) for c in a]
        packed = np.packbits(a.reshape(-1))
        whole = zctx.compress(packed.tobytes())
        payloads = [dctx.decompress(f) for f in frames]

        def unpack_fresh(a=a, payloads=payloads) -> np.ndarray:
            fresh = np.empty_like(a)
            for i, p in enumerate(payloads):
                unpack_into(p, fresh[i], 1)
            return fresh

        t = best_times({"decompress per-timestep frames": lambda f=frames: [dctx.decompress(x) for x in f],
                        "decompress one frame (bare)": lambda w=whole: dctx.decompress(w),
                        "unpack (kernel)": unpack_fresh,
                        "np.unpackbits (bare)": lambda p=packed: np.unpackbits(p)}, repeats)
        out[data_name] = {k: v * 1e6 for k, v in t.items()}
    return out


def container_overhead() -> dict:
    """Bytes the container adds around one 64 KiB raw payload."""
    a = iid_spikes((1, 64 * 1024 * 8), 0.15)
    data = spikecodec.encode(a, codec="raw", axes=["T", "N"], chunk=1)
    payload = 64 * 1024
    return {"payload_bytes": payload, "file_bytes": len(data), "overhead_bytes": len(data) - payload,
            "overhead_percent": 100.0 * (len(data) - payload) / payload}


def run(repeats: int, levels: list[int]) -> dict:
    load_before = os.getloadavg()
    sizes = {}
    for label, shape in SIZES.items():
        sizes[label] = {"shape": list(shape), "elements": math.prod(shape),
                        "rows": run_size(shape, repeats, levels, with_h5py=label == "4M"),
                        "passes_us": passes(shape, repeats)}
    sizes["4M"]["zstd1_decode_passes_us"] = decode_passes_by_data(SIZES["4M"], repeats)
    return {"repeats": repeats, "sizes": sizes, "fixed_cost_us": fixed_costs(repeats * 10),
            "overhead": container_overhead(),
            "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]},
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {np.__version__}, "
            f"numba {numba.__version__}, zstandard {zstandard.__version__}, h5py {h5py.__version__}"}


def targets(result: dict) -> list[tuple[str, str, str, bool | None]]:
    """(target, size, measured, met) for issue 2's targets, from ratios within this run (met is
    None for rows shown for comparison only)."""
    ov = result["overhead"]
    out = [("container overhead < 1% of a 64 KiB payload", "64 KiB", f"{ov['overhead_bytes']} B = {ov['overhead_percent']:.2f}%",
            ov["overhead_percent"] < 1)]
    for label, size in result["sizes"].items():
        by = {(r["data"], r["method"]): r for r in size["rows"]}
        datas = sorted({r["data"] for r in size["rows"]})
        levels = sorted({int(r["method"].split()[1].split("-")[1]) for r in size["rows"] if r["method"].startswith("spikecodec zstd")})

        def ratios(ours: str, bare: str, key: str) -> list[float]:
            return [by[(d, ours)][key] / by[(d, bare)][key] for d in datas]

        raw = ratios("spikecodec raw", "bare np.packbits", "encode_Mel_s")
        out.append(("raw encode >= 0.5x bare np.packbits", label, f"{min(raw):.2f}x .. {max(raw):.2f}x", min(raw) >= 0.5))
        # The target compares like with like: one chunk, so one zstd frame of the whole array as
        # bare zstd makes; one chunk per timestep (random access by timestep) is shown beside it.
        for key, what in (("encode_Mel_s", "encode"), ("decode_Mel_s", "decode")):
            for suffix, framing in ((" one chunk", "one chunk = one frame, as bare"), ("", "one chunk per timestep")):
                per_level = {lvl: ratios(f"spikecodec zstd-{lvl}{suffix}", f"bare packbits+zstd-{lvl}", key) for lvl in levels}
                allr = [x for v in per_level.values() for x in v]
                detail = ", ".join(f"zstd-{lvl} {min(v):.2f}..{max(v):.2f}" for lvl, v in per_level.items())
                # Met when the container is no slower than bare code is than itself in the same
                # run: min(container / bare) >= min over the A/A pairs of (again / bare, bare / again).
                aa = [x for lvl in levels for r in ratios(f"bare packbits+zstd-{lvl} again", f"bare packbits+zstd-{lvl}", key)
                      for x in (r, 1 / r)]
                out.append((f"zstd mode {what} no slower than bare packbits+zstd (same level), {framing}", label,
                            f"{min(allr):.2f}x .. {max(allr):.2f}x ({detail}); bare vs itself {min(aa):.2f}x .. {max(aa):.2f}x",
                            min(allr) >= min(aa) if suffix else None))
    return out


def why_zstd(result: dict) -> list[str]:
    """The zstd-1 mode's time split into the passes timed on their own (iid 15%): the per-element
    work of each side, and the container's fixed cost on top of ours."""
    fixed = result["fixed_cost_us"]
    lines = ["", "## Where the zstd-1 time goes (iid 15%, passes timed on their own)", "",
             "Sums of the per-pass timings below plus the fixed cost per file; the measured whole "
             "encode/decode of the same array is in the last two columns.", "",
             "| size | operation | container: passes | + fixed cost | bare: passes | measured container | measured bare |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for label, size in result["sizes"].items():
        p, n = size["passes_us"], size["elements"]
        row = {r["method"]: r for r in size["rows"] if r["data"] == "iid 15%"}
        ours_e = p["encode: pack + check + count (kernel)"] + p["encode: CRC-32 of the payloads"] + p["zstd-1: compress the packed chunks"]
        bare_e = p["encode: bare np.packbits + tobytes"] + p["zstd-1: compress the packed array as one frame (bare)"]
        ours_d = p["zstd-1: decompress + unpack the chunks into a new array (no container)"] + p["decode: CRC-32 of the payloads"]
        bare_d = p["zstd-1: decompress that frame (bare)"] + p["decode: bare np.unpackbits (a new array)"]
        for what, ours, fix, bare, key in (("encode", ours_e, fixed["zstd-1 encode"], bare_e, "encode_Mel_s"),
                                           ("decode", ours_d, fixed["zstd-1 decode"], bare_d, "decode_Mel_s")):
            m_ours = n / row["spikecodec zstd-1"][key]
            m_bare = n / row["bare packbits+zstd-1"][key]
            lines.append(f"| {label} | {what} | {ours:.0f} us | {ours + fix:.0f} us | {bare:.0f} us | {m_ours:.0f} us | {m_bare:.0f} us |")
    by_data = result["sizes"]["4M"].get("zstd1_decode_passes_us")
    if by_data:
        row = {(r["data"], r["method"]): r for r in result["sizes"]["4M"]["rows"]}
        n = result["sizes"]["4M"]["elements"]
        lines += ["", "## zstd-1 decode at 4M, array by array (passes timed on their own)", "",
                  "The container decompresses one zstd frame per timestep (each decodable alone), bare zstd one frame "
                  "of the whole array; the container unpacks with its kernel, bare with np.unpackbits. The margin is "
                  "what the container's passes save over bare ones; the container spends it on its fixed cost per "
                  f"file ({fixed['zstd-1 decode']:.0f} us), the CRC-32 of its chunks and its per-chunk work. Where "
                  "the per-timestep frames decompress slower than one frame, the margin is small or negative and the "
                  "whole decode falls behind.", "",
                  "| data | decompress: frames per timestep | one frame | unpack: kernel | np.unpackbits | margin | measured container / bare |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for d, p in by_data.items():
            ours = p["decompress per-timestep frames"] + p["unpack (kernel)"]
            bare = p["decompress one frame (bare)"] + p["np.unpackbits (bare)"]
            ratio = row[(d, "spikecodec zstd-1")]["decode_Mel_s"] / row[(d, "bare packbits+zstd-1")]["decode_Mel_s"]
            lines.append(f"| {d} | {p['decompress per-timestep frames']:.0f} us | {p['decompress one frame (bare)']:.0f} us | "
                         f"{p['unpack (kernel)']:.0f} us | {p['np.unpackbits (bare)']:.0f} us | {bare - ours:+.0f} us | {ratio:.2f}x |")
    return lines


def write_markdown(result: dict, path: Path) -> None:
    load = result["load_average"]
    lines = ["# Container benchmark", "",
             f"Generated by `nice -n 10 .venv/bin/python benchmarks/container_bench.py --repeats {result['repeats']}`: one chunk per timestep for the "
             f"container unless a row says \"one chunk\" (the whole array, one zstd frame as bare zstd makes), best of {result['repeats']} rounds in which each container mode and its bare "
             f"counterpart run in turn, in reverse order every other round. {result['machine']}. Load average (1, 5, 15 min) {tuple(load['before'])} before, "
             f"{tuple(load['after'])} after: the machine is shared, so absolute speeds vary between runs; ratios are "
             "taken within one run. \"No slower\" is met when the container's lowest ratio is no lower than the "
             "lowest ratio of the bare code against itself, timed in the same rounds (the \"again\" rows): "
             "differences inside that band are the machine's noise, not the code's.", "",
             "## Targets", "", "| target | size | measured (container / bare, over the 4 arrays) | met |", "|---|---|---|---|"]
    lines += [f"| {t} | {s} | {m} | {'-' if ok is None else 'yes' if ok else 'NO'} |" for t, s, m, ok in targets(result)]
    lines += ["", "## Fixed cost per file", "",
              f"An array of {math.prod(TINY)} elements, shaped {TINY}; this is what a file costs beyond its per-element work. "
              "Decoding keeps the headers it has parsed and checked (by their exact bytes, at most "
              f"{_CACHED_HEADERS}): files written alike, as in every other row here, skip that work; the last row "
              "decodes files whose headers it has not seen (they differ in their metadata).", "",
              "| operation | microseconds |", "|---|---:|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in result["fixed_cost_us"].items()]
    lines += why_zstd(result)
    for label, size in result["sizes"].items():
        n = size["elements"]
        lines += ["", f"## Passes of the raw mode, {label} ({n:,} elements, iid 15%)", "",
                  "Each pass timed on its own over the whole array; the whole encode/decode also holds the fixed cost "
                  "and the copies into the output bytes.", "",
                  "| pass | microseconds | M elements/s |", "|---|---:|---:|"]
        lines += [f"| {k} | {v:.1f} | {n / v:.0f} |" for k, v in size["passes_us"].items()]
    for label, size in result["sizes"].items():
        lines += ["", f"## All results, {label}: shape {tuple(size['shape'])} ({size['elements']:,} elements)", "",
                  "| data | rate | method | bytes | bits/element | encode M el/s | decode M el/s |",
                  "|---|---:|---|---:|---:|---:|---:|"]
        for r in size["rows"]:
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
    for t, s, m, ok in targets(result):
        print(f"{'info' if ok is None else 'met ' if ok else 'MISS'} {t} [{s}]: {m}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
