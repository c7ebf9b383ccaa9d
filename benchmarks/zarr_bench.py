"""Chunk framing in a sharded zarr store: bytes per image, file against message framing.

Writes benchmarks/results/zarr.md and zarr.json. The shipped model's edge half
(``load_reference()``) runs on the whole Fashion-MNIST test set: 2 x 10,000 x 4 x 7 x 7 spikes
(T, N, C, H, W; bool). They are stored in a zarr v3 array sharded by 2,048 images (the last of the
five shards is padded, as zarr pads it), with 1, 16, 64, 256 and 2,048 images an inner chunk,

* by zarr's default for a bool array (``bytes`` serializer, then zstd level 0),
* by ``SpikeZarrCodec(codec="ctxmix", axes="TNCHW")``, with file and with message framing,
* and the same with the shipped model's prior (trained on the training set's spikes).

Bytes per image are the chunk objects' (the shards: chunks and shard index) over 10,000 images;
each store's zarr.json is reported on its own (it holds the header message with message framing).
Times are one write and one full read of the store, and the mean of 50 reads of one image at
random, on this shared 2-core machine (loaded by other jobs: compare them within a run).

A second table codes single images with the numcodecs codec (no store), each image a chunk.

    .venv/bin/python benchmarks/zarr_bench.py [--images N] [--reads N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import zarr  # noqa: E402

import spikecodec  # noqa: E402
from spikecodec.integrations.numcodecs import SpikeCodec  # noqa: E402
from spikecodec.integrations.zarr import SpikeZarrCodec  # noqa: E402

PRIOR = HERE.parent / "spikecodec" / "models" / "reference" / "snn-resnet-fmnist.prior"
SHARD = 2048
INNER = (1, 16, 64, 256, 2048)
COMMAND = ".venv/bin/python benchmarks/zarr_bench.py"

#: The stores compared: a name, and the serializer (None: zarr's default, zstd after ``bytes``).
CODECS: list[tuple[str, dict | None]] = [
    ("zstd (default)", None),
    ("ctxmix, file", {"codec": "ctxmix", "axes": "TNCHW", "framing": "file"}),
    ("ctxmix, message", {"codec": "ctxmix", "axes": "TNCHW", "framing": "message"}),
    ("ctxmix + prior, file", {"codec": "ctxmix", "axes": "TNCHW", "prior": str(PRIOR), "framing": "file"}),
    ("ctxmix + prior, message", {"codec": "ctxmix", "axes": "TNCHW", "prior": str(PRIOR), "framing": "message"}),
]


def model_spikes(limit: int | None) -> np.ndarray:
    """The shipped model's edge half on the Fashion-MNIST test images: T x N x C x H x W, bool."""
    import torch

    from spikecodec.models import load_reference
    from spikecodec.models.data import load_fashion_mnist

    torch.set_num_threads(2)
    net = load_reference()
    images, _ = load_fashion_mnist("test", limit=limit)
    with torch.inference_mode():
        spikes = torch.cat([net.edge(images[a : a + 500]) for a in range(0, len(images), 500)], dim=1)
    return spikes.to(torch.bool).numpy()


def chunk_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and p.name != "zarr.json")


def store(spikes: np.ndarray, path: Path, inner: int, options: dict | None, reads: int, rng) -> dict:
    """One store written and read: its sizes and times."""
    n = spikes.shape[1]
    serializer = "auto" if options is None else SpikeZarrCodec(**options)
    compressors = "auto" if options is None else None
    t = time.perf_counter()
    z = zarr.create_array(path, shape=spikes.shape, dtype=bool, chunks=(2, inner, 4, 7, 7),
                          shards=(2, SHARD, 4, 7, 7), serializer=serializer, compressors=compressors)
    z[...] = spikes
    write = time.perf_counter() - t
    t = time.perf_counter()
    back = zarr.open_array(path, mode="r")
    whole = back[...]
    read = time.perf_counter() - t
    assert whole.dtype == bool and (whole == spikes).all(), (path, inner, options)
    picks = rng.integers(0, n, reads)
    t = time.perf_counter()
    for i in picks:
        one = back[:, int(i)]
    one_ms = (time.perf_counter() - t) / reads * 1e3
    assert (one == spikes[:, int(picks[-1])]).all()
    size = chunk_bytes(path)
    doc = json.loads((path / "zarr.json").read_text())
    inner_conf = doc["codecs"][0]["configuration"]["codecs"][0].get("configuration", {})
    return {"chunk_bytes": size, "per_image": size / n, "zarr_json_bytes": (path / "zarr.json").stat().st_size,
            "framing": inner_conf.get("framing", "file" if options else None),
            "header_b64_chars": len(inner_conf.get("header", "")), "write_s": write, "read_s": read,
            "one_image_ms": one_ms}


def numcodecs_singles(spikes: np.ndarray, count: int) -> dict[str, float]:
    """Bytes per image of the numcodecs codec, one image (2 x 1 x 4 x 7 x 7) a chunk."""
    images = [spikes[:, i : i + 1] for i in range(count)]
    out = {}
    for name, options in CODECS[1:]:
        codec = SpikeCodec(**options)
        encoded = [codec.encode(x) for x in images]
        assert all((codec.decode(e) == x).all() for e, x in zip(encoded[:50], images[:50]))
        out[name] = sum(map(len, encoded)) / count
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=None, help="the first N test images (default: all 10,000)")
    parser.add_argument("--reads", type=int, default=50, help="random one-image reads per store")
    parser.add_argument("--out", default=str(HERE / "results" / "zarr.md"))
    args = parser.parse_args()

    spikes = model_spikes(args.images)
    n = spikes.shape[1]
    rng = np.random.default_rng(0)
    results: dict = {"command": COMMAND, "machine": f"{platform.machine()}, {os.cpu_count()} cores shared",
                     "zarr": zarr.__version__, "spikecodec": getattr(spikecodec, "__version__", "?"),
                     "spikes": list(spikes.shape), "ones": float(spikes.mean()), "shard_images": SHARD, "stores": []}
    with tempfile.TemporaryDirectory() as tmp:
        for inner in INNER:
            for name, options in CODECS:
                path = Path(tmp) / f"{inner}-{len(results['stores'])}.zarr"
                row = {"inner_images": inner, "codec": name, **store(spikes, path, inner, options, args.reads, rng)}
                results["stores"].append(row)
                print(f"{inner:5d} {name:26s} {row['per_image']:7.1f} B/image  write {row['write_s']:.2f} s  "
                      f"read {row['read_s']:.2f} s  one {row['one_image_ms']:.1f} ms", flush=True)
    results["numcodecs_one_image_chunks"] = numcodecs_singles(spikes, min(n, 1000))
    results["load_average"] = os.getloadavg()[0]

    def cell(inner: int, name: str) -> dict:
        return next(r for r in results["stores"] if r["inner_images"] == inner and r["codec"] == name)

    names = [name for name, _ in CODECS]
    lines = [
        "# Chunk framing in a sharded zarr store: bytes per image",
        "",
        f"`{COMMAND}` (written by the script; do not edit). The shipped model's edge half on "
        f"{n:,} Fashion-MNIST test images: {' x '.join(map(str, spikes.shape))} spikes (T N C H W, bool, "
        f"{100 * results['ones']:.1f}% ones; 49 bytes an image bit-packed), in a zarr {zarr.__version__} array "
        f"sharded by {SHARD:,} images. Bytes of the chunk objects (shards: chunks and index) per image; "
        f"in brackets, against zarr's default (zstd). {results['machine']}, load average at the end "
        f"{results['load_average']:.2f}.",
        "",
        "| inner chunk (images) | " + " | ".join(names) + " |",
        "|---:|" + "---:|" * len(names),
    ]
    for inner in INNER:
        base = cell(inner, names[0])["per_image"]
        cells = [f"{base:.1f}"] + [f"{cell(inner, m)['per_image']:.1f} ({cell(inner, m)['per_image'] / base:.2f}x)"
                                   for m in names[1:]]
        lines.append(f"| {inner:,} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Times (write the store, read it whole, one image at random: mean of "
        f"{args.reads} reads), this machine:",
        "",
        "| inner chunk (images) | store | write s | read s | one image ms | zarr.json bytes |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for row in results["stores"]:
        lines.append(f"| {row['inner_images']:,} | {row['codec']} | {row['write_s']:.2f} | {row['read_s']:.2f} | "
                     f"{row['one_image_ms']:.1f} | {row['zarr_json_bytes']:,} |")
    lines += [
        "",
        "With message framing zarr.json holds the header message once (base64), for every chunk of the "
        "array; a shard's index takes 16 bytes a chunk (offset and length), whatever the codec.",
        "",
        f"The numcodecs codec, one image a chunk, {min(n, 1000):,} images (bytes per image, no store):",
        "",
        "| " + " | ".join(names[1:]) + " |",
        "|" + "---:|" * (len(names) - 1),
        "| " + " | ".join(f"{results['numcodecs_one_image_chunks'][m]:.1f}" for m in names[1:]) + " |",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
