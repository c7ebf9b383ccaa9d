"""`spikecodec serve`: does a stream that sends a backlog hold back a light one?

Busy clients send as fast as their window allows (64 images in flight each) while one light
client sends an image every ``1 / --light-rate`` seconds; the light client's per-image latency
(send to answer) is compared with the same light client on an idle server. Run against this
checkout's server, and with ``--root DIR`` against another checkout's (a before/after pair).
The server is the real command in its own process, the clients asyncio connections in this
one (benchmarks/serve_bench.py's), all on loopback; figures compare within one run. The server
batches at most 4 images (--max-batch) so that it, not the clients' process, is the bottleneck
on this 2-core machine: the busy streams then keep its queue full, the case in question.
Writes benchmarks/results/serve_fairness.md.

    .venv/bin/python benchmarks/serve_fairness.py [--busy 8] [--images 1000] [--root OTHER_CHECKOUT]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import serve_bench as sb  # noqa: E402


def server_at(root: Path, args, tmp: Path) -> tuple[subprocess.Popen, int]:
    """``spikecodec serve`` run from checkout ``root`` (its package first on the path)."""
    saved = sb.ROOT
    sb.ROOT = root
    try:
        return sb.start_server(args, tmp)
    finally:
        sb.ROOT = saved


async def scenario(port: int, info: dict, busy, light, classes: int, rate: float, delay: float) -> tuple[list, dict]:
    async def late():
        await asyncio.sleep(delay)  # the busy streams' backlog is queued by then
        return await sb.good_client(port, info, light, classes, rate)

    results = await asyncio.gather(*(sb.good_client(port, info, s, classes) for s in busy), late())
    return list(results[:-1]), results[-1]


def measure(root: Path, args, streams, info: dict) -> dict:
    classes = int(info.get("classes", 10))
    busy, light = streams[: args.busy], streams[args.busy]
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = server_at(root, args, Path(tmp))
        try:
            alone = asyncio.run(sb.good_client(port, info, light, classes, args.light_rate))
            start = time.perf_counter()
            busy_res, loaded = asyncio.run(scenario(port, info, busy, light, classes, args.light_rate, args.delay))
            wall = time.perf_counter() - start
        finally:
            proc.terminate()
            proc.wait(30)
    lat = lambda r: np.asarray(r["latency"]) * 1000  # noqa: E731
    return {"alone_p50": float(np.median(lat(alone))), "alone_p95": float(np.percentile(lat(alone), 95)),
            "light_p50": float(np.median(lat(loaded))), "light_p95": float(np.percentile(lat(loaded), 95)),
            "busy_p50": float(np.median(np.concatenate([lat(r) for r in busy_res]))),
            "busy_rate": sum(len(r["ids"]) for r in busy_res) / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=8, help="clients sending as fast as their window allows")
    parser.add_argument("--images", type=int, default=1000, help="images per busy client")
    parser.add_argument("--light-images", type=int, default=40)
    parser.add_argument("--light-rate", type=float, default=20.0, help="the light client's images per second")
    parser.add_argument("--delay", type=float, default=2.0, help="seconds before the light client starts")
    parser.add_argument("--root", action="append", default=[], help="another checkout whose server to measure too")
    parser.add_argument("--max-batch", type=int, default=4)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--idle-timeout", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(HERE / "results" / "serve_fairness.md"))
    args = parser.parse_args()
    streams, info = sb.make_streams(args.busy, args.images)
    light, _ = sb.make_streams(1, args.light_images)
    streams.append(light[0])
    rows = []
    for root in [sb.ROOT, *map(Path, args.root)]:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "spikecodec"], capture_output=True, text=True).stdout
        r = measure(root, args, streams, info)
        rows.append((f"{rev}{' + changes' if dirty else ''} ({root})", r))
        print(rows[-1], flush=True)
    lines = ["# serve: a light stream beside busy ones", "",
             f"Command: `{' '.join(['.venv/bin/python', 'benchmarks/serve_fairness.py', *sys.argv[1:]])}`", "",
             f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()}, 2 shared cores; "
             f"server --max-batch {args.max_batch} --max-wait-ms {args.max_wait_ms:g} --threads {args.threads}. "
             f"{args.busy} busy clients x {args.images} images (64 in flight each), one light client at "
             f"{args.light_rate:g} images/s ({args.light_images} images, from {args.delay:g} s after the busy ones start). "
             "Latency (send to answer, as the client sees it) in ms.", "",
             "| server | light alone p50 / p95 | light beside busy p50 / p95 | busy p50 | busy images/s |",
             "|---|---:|---:|---:|---:|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['alone_p50']:.1f} / {r['alone_p95']:.1f} | {r['light_p50']:.1f} / {r['light_p95']:.1f} "
                     f"| {r['busy_p50']:.1f} | {r['busy_rate']:.0f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
