"""`spikecodec serve` under load and faults: throughput, latency, and bad clients beside good ones.

Writes benchmarks/results/serve.md and serve.json. The default model's edge half runs on unseen
Fashion-MNIST test images (``load_fashion_mnist("test")``; 32 x 500 = 16,000 > 10,000, so
clients 21-32 send test images the first clients send too); each of 32 clients
gets its own stream of 500 one-image messages (made before the clock starts: the edge half is
the clients' work, not the server's). The server is the real command, ``spikecodec serve``, in
its own process; the clients are asyncio WebSocket connections in this process, all on loopback.

* the offline baseline: ``CloudStream`` (``spikecodec cloud``'s path: decode and the cloud half)
  over the 32 streams as files, in batches of 256 (its default) and of the server's --max-batch,
  the faster of the two being the baseline; it also gives every expected answer;
* saturation: 32 clients, each keeping up to 64 images in flight, all 16,000 images; twice,
  each after an offline pass, the best of each kind kept (other jobs' load varies by minutes);
  also, first, the best of two such runs against a server with ``--other-workers`` (2) model
  worker processes instead of ``--workers`` (1, the default on 2 cores; ``SPIKECODEC_SERVE_WORKERS``);
* latency at about 50% and 90% of the measured saturation rate: each client sends on a fixed
  schedule (open loop), per-image latency from send to answer, as a client sees it;
* faults under load: the saturation run again, beside clients killed mid-message (connection
  reset in the middle of a frame), truncated and corrupted messages, a wrong token, a declared
  frame shape 10x too wide, and a client sending one byte a second; every good client's answers
  must equal the offline ones, every bad one must be refused with its close code and reason.

Peak memory is the VmHWM of the server process plus that of each model worker process (a bound
on their combined peak). Each served run also gives the CPU time (user + system, from /proc) that
the server's event loop process, its worker processes and the clients' process spent per image. This 2-core machine is shared by other jobs and runs server and
clients together: compare figures within one run.

    .venv/bin/python benchmarks/serve_bench.py [--clients 32] [--images 500] [--max-batch 64] [--max-wait-ms 5]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from spikecodec.container.link import LinkEncoder  # noqa: E402
from spikecodec.serve import protocol as P  # noqa: E402

TOKEN = "bench-token"
WINDOW = 64


def make_streams(clients: int, per_client: int) -> tuple[list[tuple[bytes, list[bytes], bytes]], dict]:
    """One stream (header, messages, end) of unseen test images per client, and the model's info."""
    import torch

    from spikecodec.models.coinference import load_split, shipped_prior
    from spikecodec.models.data import load_fashion_mnist

    net, info = load_split()
    images = load_fashion_mnist("test", limit=clients * per_client)[0]
    with torch.inference_mode():
        spikes = torch.cat([net.edge(images[a : a + 1000]) for a in range(0, len(images), 1000)], 1)
    spikes = spikes.to(torch.uint8).transpose(0, 1).numpy()
    prior = shipped_prior(info["model"])
    streams = []
    for c in range(clients):
        enc = LinkEncoder(info["code_shape"], prior=prior, metadata=info)
        rows = np.arange(c * per_client, (c + 1) * per_client) % len(spikes)  # past the 10,000 test images: again from the first
        messages = [enc.encode(s) for s in spikes[rows]]
        streams.append((enc.header, messages, enc.end()))
    return streams, {**info, "prior": prior.digest if prior else None}


def offline(streams, batch: int, passes: int = 2, threads: tuple[int, ...] = (0, 1)) -> tuple[list[np.ndarray], float]:
    """Expected logits per stream, and the offline cloud half's images/s (best of ``passes`` for
    each torch thread count in ``threads``, 0 being torch's default) when it runs up to ``batch``
    images at once (`spikecodec cloud --batch`: CloudStream). Both thread counts: on a busy
    2-core machine torch's default (2 threads) can be several times slower than 1, and the
    baseline is the best the offline cloud half does."""
    import torch

    from spikecodec.models.coinference import CloudStream

    default = torch.get_num_threads()
    best = float("inf")
    try:
        for n in threads:
            torch.set_num_threads(n or default)
            for _ in range(passes):
                start = time.perf_counter()
                out = []
                for h, m, e in streams:
                    with CloudStream(h + b"".join(m) + e, batch_size=batch) as cloud:
                        out.append(torch.cat(list(cloud)).float().numpy())
                best = min(best, time.perf_counter() - start)
    finally:
        torch.set_num_threads(default)
    return out, sum(len(m) for _, m, _ in streams) / best


def hello(info: dict, token: str = TOKEN, prior: str | None = "model") -> bytes:
    return P.Hello(token, info["model"], info["prior"] if prior == "model" else prior).encode()


async def connect(port: int):
    from websockets.asyncio.client import connect as ws_connect

    return await ws_connect(f"ws://127.0.0.1:{port}{P.PATH}", compression=None, max_size=1 << 20, max_queue=None)


async def good_client(port: int, info: dict, stream, classes: int, rate: float | None = None) -> dict:
    """Send a stream (``rate`` images/s on a fixed schedule, else as fast as the window allows);
    the answers and each image's latency."""
    header, messages, _ = stream
    ws = await connect(port)
    await ws.send(hello(info))
    await ws.send(header)
    P.parse_ready(await ws.recv())
    sent_at = np.zeros(len(messages))
    got_at = np.zeros(len(messages))
    ids, cls, logits = [], [], []
    window = asyncio.Semaphore(WINDOW)

    async def receive() -> None:
        while len(ids) < len(messages):
            part = P.parse_answers(await ws.recv(), classes)
            now = time.perf_counter()
            for k in range(len(part[0])):
                got_at[int(part[0][k])] = now
                window.release()
            ids.extend(part[0].tolist())
            cls.append(part[1])
            logits.append(part[2])

    receiver = asyncio.create_task(receive())
    start = time.perf_counter()
    for i, message in enumerate(messages):
        if rate is not None:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await window.acquire()
        sent_at[i] = time.perf_counter()
        await ws.send(P.encode_image(i, message))
    await receiver
    await ws.close()
    return {"ids": ids, "classes": np.concatenate(cls), "logits": np.concatenate(logits), "latency": got_at - sent_at}


async def run_load(port: int, info: dict, streams, classes: int, rate: float | None = None, extra=()) -> tuple[list[dict], float, list]:
    """Good clients on ``streams`` beside the ``extra`` coroutines (bad clients): the good ones'
    results, the time until the last good one finished, the extra ones' results."""
    finished: list[float] = []

    async def timed(coro):
        try:
            return await coro
        finally:
            finished.append(time.perf_counter())

    start = time.perf_counter()
    per_client = None if rate is None else rate / len(streams)
    good = [timed(good_client(port, info, s, classes, per_client)) for s in streams]
    results = await asyncio.gather(*good, *extra, return_exceptions=True)
    return list(results[: len(good)]), max(finished) - start, list(results[len(good) :])


# -- bad clients: each returns (what, close code, reason) ---------------------------------------


async def refused(ws) -> tuple[int, str]:
    from websockets.exceptions import ConnectionClosed

    try:
        while True:
            await asyncio.wait_for(ws.recv(), 30)
    except ConnectionClosed as exc:
        return (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (1006, "no close frame")


async def bad_frames(port: int, what: str, frames: list[bytes]) -> tuple[str, int, str]:
    ws = await connect(port)
    for frame in frames:
        await ws.send(frame)
    return (what, *await refused(ws))


async def raw_open(port: int, info: dict, header: bytes):
    """A TCP connection past the WebSocket upgrade, hello, header and ready frame."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET {P.PATH} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    await reader.readuntil(b"\r\n\r\n")
    for frame in (hello(info), header):
        writer.write(masked(frame))
    await writer.drain()
    return reader, writer


def masked(payload: bytes, declared: int | None = None) -> bytes:
    n = len(payload) if declared is None else declared
    head = bytes([0x82]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n))
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def killed_mid_message(port: int, info: dict, stream) -> tuple[str, int, str]:
    header, messages, _ = stream
    reader, writer = await raw_open(port, info, header)
    for i in range(5):
        writer.write(masked(P.encode_image(i, messages[i])))
    writer.write(masked(b"\0" * 40, declared=200)[:30])  # a frame cut short
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.transport.abort()  # a killed process: the kernel resets the connection
    return ("killed mid-message", 1006, "(none: the client is gone; the server counts it as disconnected)")


async def slow_client(port: int, info: dict, stream) -> tuple[str, int, str]:
    """One byte a second of an image frame, until the server closes the connection."""
    reader, writer = await raw_open(port, info, stream[0])
    frame = masked(P.encode_image(0, stream[1][0]))
    data = b""
    for byte in frame * 100:
        writer.write(bytes([byte]))
        try:
            chunk = await asyncio.wait_for(reader.read(4096), 1.0)
        except TimeoutError:
            continue
        if not chunk:
            break
        data += chunk
        if b"\x88" in data[data.find(b"}") :]:
            break
    writer.close()
    close = data[data.rfind(b"\x88") :]
    if len(close) < 4:
        return ("one byte a second", 1006, "no close frame")
    return ("one byte a second", struct.unpack(">H", close[2:4])[0], close[4:].decode(errors="replace"))


def fault_clients(port: int, info: dict, streams) -> list:
    header, messages, _ = streams[0]
    flipped = bytearray(messages[7])
    flipped[len(flipped) // 2] ^= 0x20
    wide = LinkEncoder((2, 4, 70, 70), metadata=info).header
    good = [P.encode_image(i, m) for i, m in enumerate(messages[:7])]
    out = []
    for k in range(4):
        out.append(killed_mid_message(port, info, streams[k]))
    out += [
        bad_frames(port, "truncated message", [hello(info), header, *good, P.encode_image(7, messages[7][:-2])]),
        bad_frames(port, "corrupted message", [hello(info), header, *good, P.encode_image(7, bytes(flipped))]),
        bad_frames(port, "wrong token", [hello(info, token="not-the-token")]),
        bad_frames(port, "declared shape 10x too wide", [hello(info, prior=None), wide]),
        slow_client(port, info, streams[1]),
    ]
    return out


EXPECTED = {"truncated message": P.BAD_MESSAGE, "corrupted message": P.BAD_MESSAGE, "wrong token": P.UNAUTHORIZED,
            "declared shape 10x too wide": P.BAD_SHAPE, "one byte a second": P.TIMEOUT, "killed mid-message": 1006}


def check(results: list[dict], expected: list[np.ndarray]) -> int:
    """Streams whose answers are every image once, in order, equal to the offline ones."""
    ok = 0
    for r, want in zip(results, expected):
        if isinstance(r, BaseException):
            continue
        if r["ids"] == list(range(len(want))) and np.array_equal(r["classes"], want.argmax(1)) and np.allclose(r["logits"], want, atol=1e-5):
            ok += 1
    return ok


def latency_ms(results: list[dict]) -> dict[str, float]:
    lat = np.concatenate([r["latency"] for r in results if not isinstance(r, BaseException)]) * 1000
    return {"p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)), "p99": float(np.percentile(lat, 99))}


def metrics(port: int) -> str:
    import urllib.request

    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.split(" ")[0] == name:
            return float(line.split(" ")[1])
    return 0.0


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_pids(pid: int) -> list[int]:
    """The server's model worker processes (its children)."""
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def server_peak_mib(pid: int) -> tuple[float, list[float]]:
    """Peak RSS (VmHWM) of the server process and of each worker process."""
    return peak_rss_mib(pid), [peak_rss_mib(w) for w in worker_pids(pid)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid``, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured_load(proc: subprocess.Popen, port: int, info: dict, streams, classes: int, rate: float | None = None,
                  extra=()) -> tuple[list[dict], float, list, dict[str, float]]:
    """:func:`run_load`, and the CPU time each side spent on it, in microseconds per image: the
    server's event loop process, its model worker processes together, and this process (the
    clients)."""
    workers = worker_pids(proc.pid)
    before = [cpu_seconds(proc.pid), sum(map(cpu_seconds, workers))]
    mine = os.times()
    results, elapsed, bad = asyncio.run(run_load(port, info, streams, classes, rate=rate, extra=extra))
    now = os.times()
    after = [cpu_seconds(proc.pid), sum(map(cpu_seconds, workers))]
    per_image = 1e6 / sum(len(m) for _, m, _ in streams)
    cpu = {"server": (after[0] - before[0]) * per_image, "workers": (after[1] - before[1]) * per_image,
           "clients": (now.user + now.system - mine.user - mine.system) * per_image}
    return results, elapsed, bad, cpu


def cpu_cell(cpu: dict[str, float]) -> str:
    return f"{cpu['server']:.0f} / {cpu['workers']:.0f} / {cpu['clients']:.0f}"


def start_server(args, tmp: Path, workers: int = 1) -> tuple[subprocess.Popen, int]:
    import urllib.request

    (tmp / "tokens").write_text(TOKEN + "\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "spikecodec", "serve", "--port", str(port), "--token-file", str(tmp / "tokens"), "-q",
           "--max-batch", str(args.max_batch), "--max-wait-ms", str(args.max_wait_ms), "--idle-timeout", str(args.idle_timeout)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "SPIKECODEC_SERVE_WORKERS": str(workers)})
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc, port
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--images", type=int, default=500, help="images per client")
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--idle-timeout", type=float, default=5.0, help="the server's; the slow client is closed after it")
    parser.add_argument("--threads", type=int, default=1,
                        help="the server's torch threads (default 1: the event loop and the clients share the other core)")
    parser.add_argument("--workers", type=int, default=1, help="the server's model worker processes (its default on 2 cores: 1)")
    parser.add_argument("--other-workers", type=int, default=2, help="a saturated run with this many workers too (0: none)")
    parser.add_argument("--out", default=str(HERE / "results" / "serve.md"))
    args = parser.parse_args()

    streams, info = make_streams(args.clients, args.images)
    expected, offline_256 = offline(streams, 256)  # `spikecodec cloud`'s default batch
    expected_64, offline_64 = offline(streams, args.max_batch)  # the server's largest batch
    assert all(np.array_equal(a.argmax(1), b.argmax(1)) for a, b in zip(expected, expected_64))
    offline_rate = max(offline_256, offline_64)  # the baseline: the faster of the two
    classes = expected[0].shape[1]
    total = args.clients * args.images
    other = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.other_workers:
            proc, port = start_server(args, Path(tmp), args.other_workers)
            try:
                asyncio.run(run_load(port, info, streams[:4], classes))
                best = 0.0
                for _ in range(2):
                    run, elapsed, _, cpu = measured_load(proc, port, info, streams, classes)
                    if total / elapsed > best:
                        best, other = total / elapsed, {"workers": args.other_workers, "images_per_s": total / elapsed,
                                                        "ok": check(run, expected), **latency_ms(run), "cpu_us_per_image": cpu}
            finally:
                proc.terminate()
                proc.wait(60)
        proc, port = start_server(args, Path(tmp), args.workers)
        try:
            asyncio.run(run_load(port, info, streams[:4], classes))  # warm the server and the connections' code paths
            # Offline and served passes in turn, the best of each: the machine's other load varies
            # from minute to minute, and both should see the same.
            rate, sat_ok = 0.0, args.clients
            for _ in range(2):
                offline_64 = max(offline_64, offline(streams, args.max_batch, passes=1)[1])
                run, elapsed, _, cpu = measured_load(proc, port, info, streams, classes)
                sat_ok = min(sat_ok, check(run, expected))
                if total / elapsed > rate:
                    rate, sat, sat_cpu = total / elapsed, run, cpu
            offline_rate = max(offline_256, offline_64)
            loads = {}
            for frac in (0.5, 0.9):
                res, took, _, cpu = measured_load(proc, port, info, streams, classes, rate=frac * rate)
                loads[frac] = {"offered": frac * rate, "achieved": total / took, "ok": check(res, expected), **latency_ms(res),
                               "cpu_us_per_image": cpu}
            before = metrics(port)
            faulty, fault_elapsed, bad, fault_cpu = measured_load(proc, port, info, streams, classes, extra=fault_clients(port, info, streams))
            after = metrics(port)
            fault_ok = check(faulty, expected)
            health = json.loads(__import__("urllib.request").request.urlopen(f"http://127.0.0.1:{port}/healthz").read())
            peak_server, peak_workers = server_peak_mib(proc.pid)
            peak = peak_server + sum(peak_workers)
            workers_left = worker_pids(proc.pid)
        finally:
            proc.terminate()
            code = proc.wait(60)
    time.sleep(0.5)
    orphans = [w for w in workers_left if Path(f"/proc/{w}").exists()]
    bad_rows = []
    for item in bad:
        if isinstance(item, BaseException):
            bad_rows.append({"client": type(item).__name__, "code": None, "reason": str(item), "as_expected": False})
            continue
        what, got, reason = item
        bad_rows.append({"client": what, "code": got, "reason": reason, "as_expected": got == EXPECTED[what]})
    errors = {k: metric(after, f'spikecodec_serve_errors_total{{kind="{k}"}}') - metric(before, f'spikecodec_serve_errors_total{{kind="{k}"}}')
              for k in ("unauthorized", "bad_message", "bad_shape", "timeout", "disconnected")}
    batches = metric(after, "spikecodec_serve_batch_size_count")
    results = {
        "clients": args.clients, "images_per_client": args.images, "max_batch": args.max_batch, "max_wait_ms": args.max_wait_ms,
        "offline_images_per_s": offline_rate, "offline_batch_256_images_per_s": offline_256,
        f"offline_batch_{args.max_batch}_images_per_s": offline_64, "served_images_per_s": rate, "ratio": rate / offline_rate,
        "saturation_streams_exact": sat_ok, "saturation_cpu_us_per_image": sat_cpu, "faults_cpu_us_per_image": fault_cpu, "server_torch_threads": args.threads, "loads": {str(k): v for k, v in loads.items()},
        "faults": {"streams_exact": fault_ok, "images_per_s": total / fault_elapsed, "bad_clients": bad_rows, "errors_counted": errors},
        "mean_batch": metric(after, "spikecodec_serve_batch_size_sum") / batches if batches else 0.0,
        "peak_rss_mib_server_and_workers": peak, "peak_rss_mib_server": peak_server, "peak_rss_mib_workers": peak_workers,
        "workers": args.workers, "other_workers_saturated": other, "workers_left_after_exit": len(orphans),
        "health_after_faults": health["status"], "server_exit_code": code,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores shared, load average {os.getloadavg()[0]:.2f} at the end",
    }
    lines = [
        "# `spikecodec serve` under load and faults",
        "",
        f"`.venv/bin/python benchmarks/serve_bench.py` (written by the script; do not edit). {args.clients} clients x {args.images} "
        f"unseen Fashion-MNIST test images ({min(total, 10000):,} distinct), one image per message, the default model ({info['model']}), `spikecodec serve "
        f"--max-batch {args.max_batch} --max-wait-ms {args.max_wait_ms:g} --threads {args.threads}` in its own process with "
        f"{args.workers} model worker process{'es' if args.workers != 1 else ''} (decoding and the cloud half), the clients in another process, all on "
        f"loopback; {results['machine']}.",
        "",
        "| run | images/s | vs offline | exact streams | p50 ms | p95 ms | p99 ms | CPU us/image: server / workers / clients |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        f"| offline `cloud --batch 256` (decode + cloud half; best of 1 and 2 torch threads) | {offline_256:,.0f} | {offline_256 / offline_rate:.2f}x | - | - | - | - | {1e6 / offline_256:.0f} (one process) |",
        f"| offline `cloud --batch {args.max_batch}` (as above) | {offline_64:,.0f} | {offline_64 / offline_rate:.2f}x | - | - | - | - | {1e6 / offline_64:.0f} (one process) |",
        f"| served, saturated ({WINDOW} in flight per client) | {rate:,.0f} | {rate / offline_rate:.2f}x | {sat_ok}/{args.clients} | "
        f"{latency_ms(sat)['p50']:.1f} | {latency_ms(sat)['p95']:.1f} | {latency_ms(sat)['p99']:.1f} | {cpu_cell(sat_cpu)} |",
    ]
    if other is not None:
        lines.append(f"| served, saturated, {other['workers']} worker process{'es' if other['workers'] != 1 else ''} | {other['images_per_s']:,.0f} | "
                     f"{other['images_per_s'] / offline_rate:.2f}x | {other['ok']}/{args.clients} | {other['p50']:.1f} | {other['p95']:.1f} | {other['p99']:.1f} | "
                     f"{cpu_cell(other['cpu_us_per_image'])} |")
    for frac, v in loads.items():
        lines.append(f"| served, {frac:.0%} load ({v['offered']:,.0f} images/s offered) | {v['achieved']:,.0f} | "
                     f"{v['achieved'] / offline_rate:.2f}x | {v['ok']}/{args.clients} | {v['p50']:.1f} | {v['p95']:.1f} | {v['p99']:.1f} | "
                     f"{cpu_cell(v['cpu_us_per_image'])} |")
    lines.append(f"| served, saturated, with the bad clients below | {total / fault_elapsed:,.0f} | "
                 f"{total / fault_elapsed / offline_rate:.2f}x | {fault_ok}/{args.clients} | {latency_ms(faulty)['p50']:.1f} | "
                 f"{latency_ms(faulty)['p95']:.1f} | {latency_ms(faulty)['p99']:.1f} | {cpu_cell(fault_cpu)} |")
    lines += [
        "",
        "vs offline: against the faster offline row (the baseline). "
        "Exact streams: every image answered once, in the client's order, with the offline class and logits (within 1e-5). "
        "Latency: send to answer, as the client sees it. Mean batch over the whole run "
        f"{results['mean_batch']:.1f} images. CPU: user + system time of each process over the run, per image "
        "(offline: wall time per image of its one process); two cores give 2,000,000 us a second in all.",
        "",
        "Bad clients during the last run (the server's close code and reason):",
        "",
        "| client | close code | reason | as expected |",
        "|---|---:|---|---|",
    ]
    for row in bad_rows:
        lines.append(f"| {row['client']} | {row['code']} | {row['reason']} | {'yes' if row['as_expected'] else 'NO'} |")
    lines += [
        "",
        f"Errors the server counted in that run: {', '.join(f'{k} {v:g}' for k, v in errors.items())}. "
        f"Peak memory (VmHWM), server and worker processes together: {peak:.0f} MiB (server {peak_server:.0f}, "
        f"worker{'s' if len(peak_workers) != 1 else ''} {', '.join(f'{w:.0f}' for w in peak_workers)}). Health after the faults: {health['status']}; "
        f"exit status after SIGTERM: {code}; worker processes left after it: {len(orphans)}.",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
