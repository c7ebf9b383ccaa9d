"""spikecodec against the best general-purpose compressors on real spikes it was not designed on (issue 25).

    python benchmarks/corpora.py train && python benchmarks/corpora.py build   # once: runs/corpora/
    python benchmarks/peers_bench.py                                            # this table
    python benchmarks/corpora.py holdout && python benchmarks/peers_bench.py --holdout

Writes benchmarks/results/peers.md and peers.json (``--holdout``: holdout.md and holdout.json, on
runs/holdout/, a network no design study read). Every number is measured in one run of this
script, on the corpora in runs/corpora/ (benchmarks/corpora.py says how each was made). Besides
the coders' bytes and speeds, the default codec's file of each corpus in THREAD_CHUNKS chunks is
decoded on 1 and 2 threads (issue 25's 2-thread target).

Peers get every advantage: each is tried on every axis order below and every byte layout
(1-bit: np.packbits; counts of b = 2 or 4 bits: 8/b values a byte, b packed bit planes, or one
value a byte, the last for paq9a only: it never won for xz / zstd / bzip2 and costs zstd -19 minutes), and the
smallest is kept per corpus; their byte counts are bare payloads (no shape header), while
spikecodec's are whole files (header, chunk index, checksums). paq9a is Debian's python3-paq run
by /usr/bin/python3 in a subprocess on the same bytes; zpaq's strongest built-in method (`zpaq a
-method 5`, Debian zpaq) and 7-Zip's PPMd (`7zz a -m0=PPMd:o=16`, Debian 7zip) run as programs,
when installed (`apt-get install python3-paq zpaq 7zip`), on files of those bytes.

Speed is MB/s of raw spikes: elements (one byte each in the uint8 array given to the coder)
per second / 1e6, one thread, best of a few calls; a peer's time covers its compress /
decompress call only (the permutation and bit packing before it are not counted).
The machine has 2 cores shared with other work: speeds are indicative, ratios between coders
measured side by side in the same run are the comparison that counts.
"""

from __future__ import annotations

import bz2
import json
import lzma
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import blosc2  # noqa: E402
import numcodecs  # noqa: E402
import zstandard  # noqa: E402

import spikecodec  # noqa: E402
from spikecodec.codecs import default_codec  # noqa: E402
from spikecodec.elements import pack  # noqa: E402

CORPORA = ROOT / "runs" / "corpora"
HOLDOUT = ROOT / "runs" / "holdout"  # benchmarks/corpora.py holdout: a network no design study read
RESULTS = HERE / "results"
COMMAND = "python benchmarks/peers_bench.py"
AXES = "TNCHW"
# Axis orders tried for the peers (the array is T, N, C, H, W): T-first or T-last, channels
# before or after the pixels, samples outermost or inside T.
ORDERS = ["TNCHW", "NTCHW", "NCTHW", "NCHWT", "NHWCT", "NHWTC", "TNHWC", "NTHWC"]
CODECS_1BIT = ["framemix", "chanmix", "winmix", "neuronmix", "mix", "auto", "context", "ctxlanes", "ctxfast", "ctxmix"]
CODECS_COUNTS = ["framemix", "chanmix", "countmix", "winmix", "neuronmix", "mix", "auto", "context", "ctxlanes", "ctxfast",
                 "ctxmix", "countctx"]
REPEATS = 3
THREAD_CHUNKS = 8  # the 2-thread decoding figure: the default codec's file in this many chunks
THREAD_REPEATS = 5  # its rounds at least: a file of 8 chunks of 10-20 ms each is at the mercy of one slow round,
THREAD_SECONDS = 4.0  # and more rounds, up to THREAD_MAX_ROUNDS, until they took this long: a small file's
THREAD_MAX_ROUNDS = 25  # file (ref-code: 130 ms) read 1.38x in one run's best of 5, 1.87x in a later best of 7
DEFAULT_TARGETS = (0.10, 5.0)  # issue 25: the default's saving against paq9a and speed over it
STRONGEST_TARGETS = (0.13, 2.0)
FAST_CODEC = "ctxfast"  # the fast mode: target ctxlanes' speed or better, fewer bytes than context
BALANCED_CODEC = "neuronmix"  # the balanced mode, between the fast mode and the default: held to the default's targets
PAQ_PYTHON = "/usr/bin/python3"

PAQ_SCRIPT = r"""
import json, sys, time, paq
files, mode = json.loads(sys.argv[1]), sys.argv[2]
out = []
for f in files:
    data = open(f, "rb").read()
    t0 = time.perf_counter(); c = paq.compress(data); t1 = time.perf_counter()
    rec = {"file": f, "bytes": len(c), "enc_s": t1 - t0}
    if mode == "speed":
        for _ in range(int(sys.argv[3]) - 1):
            t0 = time.perf_counter(); c = paq.compress(data); rec["enc_s"] = min(rec["enc_s"], time.perf_counter() - t0)
        dec = []
        for _ in range(int(sys.argv[3])):
            t0 = time.perf_counter(); d = paq.decompress(c); dec.append(time.perf_counter() - t0)
            assert d == data
        rec["dec_s"] = min(dec)
    out.append(rec)
print(json.dumps(out))
"""


def best_time(fn, repeats: int = REPEATS) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def layouts(x: np.ndarray, bits: int) -> dict[str, bytes]:
    """Byte layouts of an (already permuted) array for the byte compressors."""
    flat = np.ascontiguousarray(x).ravel()
    if bits == 1:
        return {"packbits": np.packbits(flat).tobytes()}
    return {
        f"pack{bits}": pack(flat, bits),  # 2 or 4 bits a value, as spikecodec stores them
        "planes": b"".join(np.packbits((flat >> k) & 1).tobytes() for k in range(bits)),
        "bytes": flat.tobytes(),
    }


def permuted(x: np.ndarray, order: str) -> np.ndarray:
    return np.ascontiguousarray(np.transpose(x, [AXES.index(a) for a in order]))


# --- byte compressors: name -> (compress, decompress) on bytes --------------------------------

def _xz(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_XZ, preset=9 | lzma.PRESET_EXTREME)


_zc = zstandard.ZstdCompressor(level=19)
_zd = zstandard.ZstdDecompressor()


def _through_files(data: bytes, given: str, command: list[str], result: str) -> bytes:
    """Run a command-line (de)compressor in a fresh folder holding ``data`` as the file ``given``;
    returns the bytes of the file ``result`` it leaves there."""
    with tempfile.TemporaryDirectory(dir=ROOT / "runs") as tmp:
        Path(tmp, given).write_bytes(data)
        subprocess.run(command, cwd=tmp, check=True, capture_output=True)
        return Path(tmp, result).read_bytes()


def _zpaq(data: bytes) -> bytes:
    return _through_files(data, "in", ["zpaq", "a", "out.zpaq", "in", "-method", "5", "-threads", "1"], "out.zpaq")


def _unzpaq(archive: bytes) -> bytes:
    return _through_files(archive, "a.zpaq", ["zpaq", "x", "a.zpaq", "-to", "out", "-threads", "1"], "out/in")


def _ppmd(data: bytes) -> bytes:
    return _through_files(data, "in", ["7zz", "a", "-mmt1", "-m0=PPMd:o=16:mem=1g", "out.7z", "in"], "out.7z")


def _unppmd(archive: bytes) -> bytes:
    return _through_files(archive, "a.7z", ["7zz", "x", "-mmt1", "-oout", "a.7z"], "out/in")


BYTE_PEERS = {
    "xz -9e": (_xz, lzma.decompress),
    "zstd -19": (_zc.compress, _zd.decompress),
    "bzip2 -9": (lambda d: bz2.compress(d, 9), bz2.decompress),
}
# Command-line context-mixing and PPM peers (Debian zpaq, 7zip), each when installed: zpaq's
# strongest built-in method beat paq9a by 12% on mbv2-last. Their bytes are whole archives
# (about 100 bytes of headers); their times include starting the program.
if shutil.which("zpaq"):
    BYTE_PEERS["zpaq -m5"] = (_zpaq, _unzpaq)
if shutil.which("7zz"):
    BYTE_PEERS["7z PPMd o16"] = (_ppmd, _unppmd)


def blosc2_configs(x: np.ndarray, bits: int):
    """(name, source bytes, compress kwargs): unpacked bytes through the bit shuffle, or packed
    bytes as they are, with each of blosc2's general codecs at clevel 9."""
    flat = np.ascontiguousarray(x).ravel()
    packed = layouts(x, bits)
    for codec in ("ZSTD", "LZ4HC", "ZLIB"):
        yield (f"{codec}+BITSHUFFLE on bytes", flat.tobytes(),
               dict(codec=getattr(blosc2.Codec, codec), clevel=9, filters=[blosc2.Filter.BITSHUFFLE], typesize=1))
        for lay, data in packed.items():
            if lay == "bytes":
                continue
            yield (f"{codec} on {lay}", data,
                   dict(codec=getattr(blosc2.Codec, codec), clevel=9, filters=[blosc2.Filter.NOFILTER], typesize=1))


def numcodecs_configs(x: np.ndarray, bits: int):
    """(name, encode, decode): numcodecs pipelines as a zarr user would set them."""
    flat = np.ascontiguousarray(x).ravel()
    planes = np.stack([((flat >> k) & 1).astype(bool) for k in range(bits)])
    pb, zs = numcodecs.PackBits(), numcodecs.Zstd(level=22)
    yield ("PackBits+Zstd(22)", lambda: zs.encode(pb.encode(planes)),
           lambda c: pb.decode(zs.decode(c)))
    for cname in ("zstd", "lz4hc", "zlib"):
        bl = numcodecs.Blosc(cname=cname, clevel=9, shuffle=numcodecs.Blosc.BITSHUFFLE)
        yield (f"Blosc({cname},9,BITSHUFFLE)", lambda bl=bl: bl.encode(flat), lambda c, bl=bl: bl.decode(c))


def run_paq(files: list[Path], mode: str = "size", repeats: int = 1) -> list[dict]:
    out = subprocess.run([PAQ_PYTHON, "-c", PAQ_SCRIPT, json.dumps([str(f) for f in files]), mode, str(repeats)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def bench_corpus(path: Path, log) -> dict:
    meta = json.loads(path.with_suffix(".json").read_text())
    x = np.load(path)
    bits, n = meta["bits"], x.size
    rows: list[dict] = []
    grid: dict[str, dict] = {}  # peer -> {"order/layout": bytes}
    timings: dict[str, float] = {}

    def row(coder, config, nbytes, enc_s=None, dec_s=None, order=None, **extra):
        rows.append({"coder": coder, "config": config, "order": order, "bytes": int(nbytes),
                     "bits_per_element": 8 * nbytes / n,
                     "enc_MBps": None if enc_s is None else n / enc_s / 1e6,
                     "dec_MBps": None if dec_s is None else n / dec_s / 1e6, **extra})

    # ---- byte layouts of every order ----------------------------------------------------
    variants = {}  # "order/layout" -> bytes
    for order in ORDERS:
        for lay, data in layouts(permuted(x, order), bits).items():
            variants[f"{order}/{lay}"] = data

    # ---- paq9a: sizes on every order and layout; its speed on the best in three rounds --------
    # spread over spikecodec's timings (before, between and after its codecs), the best of all
    # taken: paq9a's own speed moved 11-64% from one run to the next, so a ratio of two speeds
    # timed minutes apart moved with it.
    t_start = time.perf_counter()
    tmp_dir = tempfile.TemporaryDirectory(dir=ROOT / "runs")
    files = {}
    for key, data in variants.items():
        f = Path(tmp_dir.name) / key.replace("/", "_")
        f.write_bytes(data)
        files[key] = f
    res = run_paq(list(files.values()))
    grid["paq9a"] = {key: r["bytes"] for key, r in zip(files, res)}
    best_key = min(grid["paq9a"], key=grid["paq9a"].get)
    paq_rounds: list[dict] = []

    def paq_round():
        began = time.perf_counter()
        paq_rounds.append(run_paq([files[best_key]], "speed", 2)[0])
        timings["paq9a"] += time.perf_counter() - began

    timings["paq9a"] = time.perf_counter() - t_start  # the size grid; each round adds its own
    paq_round()

    # ---- spikecodec: every codec, default chunking and one chunk --------------------------
    t_start = time.perf_counter()
    paq_before = timings["paq9a"]
    codecs = CODECS_1BIT if bits == 1 else CODECS_COUNTS
    warm = np.ascontiguousarray(x[:, : max(1, x.shape[1] // 50)])
    for k, codec in enumerate(codecs):
        if k == len(codecs) // 2:
            paq_round()
        spikecodec.decode(spikecodec.encode(warm, codec=codec))  # compile / load kernels
        for chunking, chunk in (("default chunks", None), ("one chunk", tuple(x.shape[:2]))):
            enc_s, data = best_time(lambda: spikecodec.encode(x, codec=codec, chunk=chunk))
            dec_s, y = best_time(lambda: spikecodec.decode(data))
            assert np.array_equal(y, x), (codec, chunking)
            n_chunks = len(spikecodec.open(data).entries)
            row("spikecodec", f"{codec}, {chunking}", len(data), enc_s, dec_s, "TNCHW",
                codec=codec, chunking=chunking, chunks=n_chunks)
            log(f"  spikecodec {codec:9s} {chunking:14s} {len(data):9d} B  enc {n / enc_s / 1e6:6.1f} MB/s"
                f"  dec {n / dec_s / 1e6:6.1f} MB/s")
    threads = two_threads(x)
    log(f"  spikecodec {threads['codec']} in {threads['chunks']} chunks: decode 1 thread {threads['one_s'] * 1e3:.0f} ms,"
        f" 2 threads {threads['two_s'] * 1e3:.0f} ms ({threads['speedup']:.2f}x)")
    timings["spikecodec"] = time.perf_counter() - t_start - (timings["paq9a"] - paq_before)
    paq_round()
    tmp_dir.cleanup()
    speed = {"bytes": paq_rounds[0]["bytes"], "enc_s": min(r["enc_s"] for r in paq_rounds),
             "dec_s": min(r["dec_s"] for r in paq_rounds)}
    row("paq9a", f"paq9a on {best_key.split('/')[1]}", speed["bytes"], speed["enc_s"], speed["dec_s"],
        best_key.split("/")[0], rounds_enc_MBps=[n / r["enc_s"] / 1e6 for r in paq_rounds],
        rounds_dec_MBps=[n / r["dec_s"] / 1e6 for r in paq_rounds])
    log(f"  paq9a     best {best_key:20s} {speed['bytes']:9d} B  enc {n / speed['enc_s'] / 1e6:6.2f} MB/s"
        f"  dec {n / speed['dec_s'] / 1e6:6.2f} MB/s (rounds: enc " + ", ".join(f"{n / r['enc_s'] / 1e6:.2f}" for r in paq_rounds) + ")")

    # ---- xz, zstd, bzip2 on every order and layout ----------------------------------------
    for peer, (comp, decomp) in BYTE_PEERS.items():
        t_start = time.perf_counter()
        # One value a byte never won for these (measured: 2-bit corpus, every order) and costs
        # zstd -19 minutes on a few MB: paq9a alone still gets that layout.
        grid[peer] = {key: len(comp(data)) for key, data in variants.items() if not key.endswith("/bytes")}
        best_key = min(grid[peer], key=grid[peer].get)
        data = variants[best_key]
        enc_s, c = best_time(lambda: comp(data), 2)
        dec_s, d = best_time(lambda: decomp(c), 2)
        assert d == data
        row(peer, f"{peer} on {best_key.split('/')[1]}", len(c), enc_s, dec_s, best_key.split("/")[0])
        log(f"  {peer:9s} best {best_key:20s} {len(c):9d} B")
        timings[peer] = time.perf_counter() - t_start

    # ---- blosc2 and numcodecs: every codec/filter on every order --------------------------
    t_start = time.perf_counter()
    best = None
    grid["blosc2"] = {}
    for order in ORDERS:
        xp = permuted(x, order)
        for name, src, kw in blosc2_configs(xp, bits):
            size = len(blosc2.compress2(src, nthreads=1, **kw))
            grid["blosc2"][f"{order}/{name}"] = size
            if best is None or size < best[0]:
                best = (size, order, name, src, kw)
    size, order, name, src, kw = best
    enc_s, c = best_time(lambda: blosc2.compress2(src, nthreads=1, **kw), 2)
    dec_s, d = best_time(lambda: blosc2.decompress2(c, nthreads=1), 2)
    assert bytes(d) == src
    row("blosc2", name, len(c), enc_s, dec_s, order)
    log(f"  blosc2    best {order}/{name} {len(c):9d} B")
    timings["blosc2"] = time.perf_counter() - t_start

    t_start = time.perf_counter()
    best = None
    grid["numcodecs"] = {}
    for order in ORDERS:
        xp = permuted(x, order)
        for name, enc, dec in numcodecs_configs(xp, bits):
            size = len(enc())
            grid["numcodecs"][f"{order}/{name}"] = size
            if best is None or size < best[0]:
                best = (size, order, name, enc, dec)
    size, order, name, enc, dec = best
    enc_s, c = best_time(enc, 2)
    dec_s, _ = best_time(lambda: dec(c), 2)
    row("numcodecs", name, len(c), enc_s, dec_s, order)
    log(f"  numcodecs best {order}/{name} {len(c):9d} B")
    timings["numcodecs"] = time.perf_counter() - t_start

    paq = next(r for r in rows if r["coder"] == "paq9a")
    for r in rows:
        r["vs_paq9a"] = r["bytes"] / paq["bytes"]
        r["enc_speed_vs_paq9a"] = r["enc_MBps"] / paq["enc_MBps"]
        r["dec_speed_vs_paq9a"] = r["dec_MBps"] / paq["dec_MBps"]
    return {"corpus": meta, "rows": rows, "grid": grid, "threads": threads,
            "seconds": {k: round(v, 1) for k, v in timings.items()}}


def two_threads(x: np.ndarray) -> dict:
    """Issue 25's target ">= 1.7x with 2 threads on a multi-chunk file": the default codec's file
    of this corpus in THREAD_CHUNKS chunks of samples, decoded with ``workers=1`` and ``workers=2``,
    in turn (the best of THREAD_REPEATS or more rounds each); and encoded the same way (the same bytes, checked)."""
    n = x.shape[1]
    per = max(1, -(-n // THREAD_CHUNKS))
    chunk = (x.shape[0], per)
    data = spikecodec.encode(x, chunk=chunk)
    one, two, enc_one, enc_two = (float("inf"),) * 4
    began, rounds = time.perf_counter(), 0
    while rounds < THREAD_REPEATS or (time.perf_counter() - began < THREAD_SECONDS and rounds < THREAD_MAX_ROUNDS):
        rounds += 1
        t0 = time.perf_counter()
        y1 = spikecodec.decode(data, workers=1)
        one = min(one, time.perf_counter() - t0)
        t0 = time.perf_counter()
        y2 = spikecodec.decode(data, workers=2)
        two = min(two, time.perf_counter() - t0)
        assert np.array_equal(y1, x) and np.array_equal(y2, x)
        t0 = time.perf_counter()
        d1 = spikecodec.encode(x, chunk=chunk, workers=1)
        enc_one = min(enc_one, time.perf_counter() - t0)
        t0 = time.perf_counter()
        d2 = spikecodec.encode(x, chunk=chunk, workers=2)
        enc_two = min(enc_two, time.perf_counter() - t0)
        assert d1 == data and d2 == data
    reader = spikecodec.open(data)
    return {"codec": "+".join(c["id"] for c in reader.codec), "chunks": len(reader.entries),
            "bytes": len(data), "one_s": one, "two_s": two, "speedup": one / two,
            "enc_one_s": enc_one, "enc_two_s": enc_two, "enc_speedup": enc_one / enc_two, "rounds": rounds}


def summary(result: dict) -> dict:
    rows = result["rows"]
    ours = [r for r in rows if r["coder"] == "spikecodec"]
    default = next(r for r in ours if r["config"] == f"{default_codec(result['corpus']['bits'])}, default chunks")
    strongest = min(ours, key=lambda r: r["bytes"])
    paq = next(r for r in rows if r["coder"] == "paq9a")
    xz = next(r for r in rows if r["coder"] == "xz -9e")
    best_peer = min((r for r in rows if r["coder"] != "spikecodec"), key=lambda r: r["bytes"])

    def against(r, need_bytes, need_speed):
        saving = 1 - r["bytes"] / paq["bytes"]
        speed = min(r["enc_speed_vs_paq9a"], r["dec_speed_vs_paq9a"])
        return {"config": r["config"], "bytes": r["bytes"], "saving_vs_paq9a": saving,
                "saving_vs_xz": 1 - r["bytes"] / xz["bytes"], "enc_x_paq": r["enc_speed_vs_paq9a"],
                "dec_x_paq": r["dec_speed_vs_paq9a"], "bytes_target": need_bytes, "speed_target": need_speed,
                "meets_bytes": saving >= need_bytes, "meets_speed": speed >= need_speed}

    def ours_at(codec):
        return next(r for r in ours if r["config"] == f"{codec}, default chunks")

    fast, lanes, context = ours_at(FAST_CODEC), ours_at("ctxlanes"), ours_at("context")
    fast_mode = {"bytes": fast["bytes"], "vs_context": fast["bytes"] / context["bytes"],
                 "enc_x_lanes": fast["enc_MBps"] / lanes["enc_MBps"], "dec_x_lanes": fast["dec_MBps"] / lanes["dec_MBps"],
                 "enc_MBps": fast["enc_MBps"], "dec_MBps": fast["dec_MBps"],
                 "meets_bytes": fast["bytes"] < context["bytes"],
                 "meets_speed": min(fast["enc_MBps"] / lanes["enc_MBps"], fast["dec_MBps"] / lanes["dec_MBps"]) >= 1.0}
    balanced = against(ours_at(BALANCED_CODEC), *DEFAULT_TARGETS)
    balanced["x_default"] = (min(balanced["enc_x_paq"], balanced["dec_x_paq"])
                             / min(default["enc_speed_vs_paq9a"], default["dec_speed_vs_paq9a"]))
    return {"corpus": result["corpus"]["name"], "paq9a_bytes": paq["bytes"], "paq9a_order": paq["order"], "fast": fast_mode,
            "balanced": balanced,
            "xz_bytes": xz["bytes"], "best_peer": f"{best_peer['coder']} ({best_peer['config']}, {best_peer['order']})",
            "best_peer_bytes": best_peer["bytes"],
            "default_vs_best_peer": 1 - default["bytes"] / best_peer["bytes"],
            "strongest_vs_best_peer": 1 - strongest["bytes"] / best_peer["bytes"],
            "default": against(default, *DEFAULT_TARGETS), "strongest": against(strongest, *STRONGEST_TARGETS),
            "threads": result.get("threads")}


def fmt_speed(v):
    return "" if v is None else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def code_state() -> str:
    """The commit measured, and whether the library's files differed from it (read-only git)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "spikecodec"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.split("\n")
        changed = [line[3:] for line in dirty if line.strip()]
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}" + (f" with uncommitted changes to {', '.join(changed)}" if changed else "")


def at_a_glance(summaries: list[dict]) -> list[str]:
    """One line a target: on how many corpora of this run it is met (bytes, speed, both)."""
    n = len(summaries)

    def tally(key: str) -> str:
        ds = [s[key] for s in summaries]
        b = sum(d["meets_bytes"] for d in ds)
        v = sum(d["meets_speed"] for d in ds)
        both = sum(d["meets_bytes"] and d["meets_speed"] for d in ds)
        return f"bytes on {b} of {n}, speed on {v} of {n}, both on {both} of {n}"

    lines = [f"- Default (`{default_codec(1)}` / `{default_codec(2)}`; >= 10% fewer bytes than paq9a, >= 5x its speed): "
             f"{tally('default')}.",
             f"- Strongest (the smallest configuration; >= 13% fewer, >= 2x): {tally('strongest')}.",
             f"- Balanced (`{BALANCED_CODEC}`, held to the default's targets): {tally('balanced')}.",
             f"- Fast (`{FAST_CODEC}`; fewer bytes than `context`, `ctxlanes`' speed or more): {tally('fast')}."]
    threads = [s["threads"] for s in summaries if s.get("threads")]
    if threads:
        met = sum(th["speedup"] >= 1.7 for th in threads)
        lines.append(f"- Two threads decode a {THREAD_CHUNKS}-chunk file >= 1.7x faster than one: on {met} of {len(threads)} "
                     f"(speed-ups {min(th['speedup'] for th in threads):.2f}x - {max(th['speedup'] for th in threads):.2f}x).")
    return lines


def markdown(results: list[dict], summaries: list[dict], total_s: float, run_at: str, code: str,
             holdout: bool = False) -> str:
    if holdout:
        head = ["# Held-out network: spikecodec vs general-purpose compressors (issue 25)", "",
                f"Command: `{COMMAND} --holdout` (corpora: `python benchmarks/corpora.py holdout`: res-mnist-t8, a network "
                "trained after every coder was designed, and whose spikes no design study read)", ""]
        where = "runs/holdout/*.npy + .json (benchmarks/corpora.py, HOLDOUT_SPEC). "
    else:
        head = ["# spikecodec vs general-purpose compressors on real spikes (issue 25)", "",
                f"Command: `{COMMAND}` (corpora: `python benchmarks/corpora.py train && python benchmarks/corpora.py build`)", ""]
        where = "runs/corpora/*.npy + .json (benchmarks/corpora.py). "
    out = [*head,
           f"Run: {run_at}, {platform.machine()}, {os.cpu_count()} cores shared with other work, "
           f"one thread per coder; whole run {total_s / 60:.1f} min. "
           f"Corpora: {where}"
           f"spikecodec format {spikecodec.FORMAT_VERSION}, code at {code}.", "",
           "Bytes: spikecodec = whole file (`spikecodec.encode`, T,N,C,H,W as given); peers = bare payload "
           "at their best axis order and byte layout over "
           f"{', '.join(ORDERS)} (1-bit: np.packbits; b-bit counts: 8/b a byte / bit planes / one a byte, the last for paq9a only). "
           "bits/el = bits per element (per neuron per step). vs paq9a = bytes / paq9a's bytes. "
           "MB/s = million elements (bytes of the uint8 array) per second, best of "
           f"{REPEATS} (peers 2; paq9a the best of three rounds of 2, timed before, between and after spikecodec's "
           "codecs, as its own speed moves from minute to minute); a peer's time excludes the permutation and packing.", "",
           "## Corpora", "",
           "| corpus | network | split (layer) | dataset | T | shape T x N x C x H x W | elements | bits | nonzero rate |",
           "|---|---|---|---|---|---|---|---|---|"]
    for res in results:
        m = res["corpus"]
        net = m["network"]
        if "network_training" in m:
            tr = m["network_training"]
            net += f" (trained here: {tr['train_images']} imgs x {tr['epochs']} ep, acc {tr['test_accuracy_2000']:.3f})"
        shape = " x ".join(map(str, m["shape_TNCHW"]))
        bins = f", counts over {m['count_bins']} steps" if m.get("count_bins") else ""
        out.append(f"| {m['name']} | {net} | {m['layer']}{bins} | {m['dataset']} test | {m['shape_TNCHW'][0]} | "
                   f"{shape} | {m['elements']:,} | {m['bits']} | {m['rate_nonzero']:.1%} |")

    out += ["", "## Summary against issue 25's targets", "", *at_a_glance(summaries), "",
            f"Default = `encode(x)` ({default_codec(1)} for spikes, {default_codec(2)} for counts; default chunks): "
            "target >= 10% fewer bytes than paq9a and >= 5x "
            "its encode and decode speed. Strongest = spikecodec's smallest configuration: target >= 13% "
            "fewer bytes and >= 2x the speed. Saving = 1 - bytes / peer's bytes (negative: larger).", "",
            "| corpus | paq9a bytes (order) | xz -9e bytes | default bytes | default vs paq9a | default vs xz | "
            "default speed enc/dec x paq9a | default meets | strongest (config) | strongest vs paq9a | "
            "strongest vs xz | strongest speed enc/dec x paq9a | strongest meets |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    peers = ["", "Best peer per corpus (smallest of all peers at their best order and layout):", "",
             "| corpus | best peer | its bytes | default vs it | strongest vs it |", "|---|---|---|---|---|"]
    for s in summaries:
        peers.append(f"| {s['corpus']} | {s['best_peer']} | {s['best_peer_bytes']:,} | "
                     f"{s['default_vs_best_peer']:+.1%} | {s['strongest_vs_best_peer']:+.1%} |")

    def ok(d):
        return ("yes" if d["meets_bytes"] and d["meets_speed"] else
                "no (" + ", ".join(w for w, f in (("bytes", d["meets_bytes"]), ("speed", d["meets_speed"])) if not f) + ")")

    for s in summaries:
        d, st = s["default"], s["strongest"]
        out.append(f"| {s['corpus']} | {s['paq9a_bytes']:,} ({s['paq9a_order']}) | {s['xz_bytes']:,} | {d['bytes']:,} | "
                   f"{d['saving_vs_paq9a']:+.1%} | {d['saving_vs_xz']:+.1%} | {d['enc_x_paq']:.1f}x / {d['dec_x_paq']:.1f}x | "
                   f"{ok(d)} | {st['bytes']:,} ({st['config']}) | {st['saving_vs_paq9a']:+.1%} | {st['saving_vs_xz']:+.1%} | "
                   f"{st['enc_x_paq']:.1f}x / {st['dec_x_paq']:.1f}x | {ok(st)} |")

    out += peers
    out += ["", f"Balanced mode = `{BALANCED_CODEC}`, default chunks, held to the default's targets (>= 10% fewer bytes than "
            "paq9a, >= 5x its speed). x default = the slower of its encoding and decoding against the default's, "
            "both measured in this run.", "",
            "| corpus | balanced bytes | vs paq9a | speed enc/dec x paq9a | x default | meets |", "|---|---|---|---|---|---|"]
    for s in summaries:
        b = s["balanced"]
        out.append(f"| {s['corpus']} | {b['bytes']:,} | {1 - b['saving_vs_paq9a']:.3f} | {b['enc_x_paq']:.1f}x / {b['dec_x_paq']:.1f}x "
                   f"| {b['x_default']:.1f}x | {ok(b)} |")
    out += ["", f"Fast mode = `{FAST_CODEC}`, default chunks: target fewer bytes than `context` and `ctxlanes`' "
            "encode and decode speed or better (both at default chunks, measured in this run).", "",
            "| corpus | fast bytes | vs context | enc MB/s (x ctxlanes) | dec MB/s (x ctxlanes) | meets |", "|---|---|---|---|---|---|"]
    for s in summaries:
        f = s["fast"]
        out.append(f"| {s['corpus']} | {f['bytes']:,} | {f['vs_context']:.3f} | {fmt_speed(f['enc_MBps'])} ({f['enc_x_lanes']:.2f}x) | "
                   f"{fmt_speed(f['dec_MBps'])} ({f['dec_x_lanes']:.2f}x) | {ok(f)} |")
    if all(s.get("threads") for s in summaries):
        out += ["", f"Threads: the default codec's file of each corpus in {THREAD_CHUNKS} chunks of samples, decoded "
                "with `workers=1` and `workers=2` (best of "
                f"{THREAD_REPEATS} to {THREAD_MAX_ROUNDS} rounds each, in turn, as many as fit {THREAD_SECONDS:g} s): target >= 1.7x; and encoded so (`encode(x, workers=W)`, the same bytes). "
                "x paq9a: the 2-thread speed over paq9a's one-thread speed (paq9a has no threads), "
                "encoding / decoding.", "",
                "| corpus | codec | chunks | decode 1 thread ms | 2 threads ms | speed-up | meets "
                "| encode 1 thread ms | 2 threads ms | speed-up | 2 threads x paq9a |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for s, res in zip(summaries, results):
            th = s["threads"]
            enc = (f"{th['enc_one_s'] * 1e3:.0f} | {th['enc_two_s'] * 1e3:.0f} | {th['enc_speedup']:.3f}x"
                   if "enc_one_s" in th else "- | - | -")
            paq = next(r for r in res["rows"] if r["coder"] == "paq9a")
            million = math.prod(res["corpus"]["shape_TNCHW"]) / 1e6
            versus = (f"{million / th['enc_two_s'] / paq['enc_MBps']:.1f}x / {million / th['two_s'] / paq['dec_MBps']:.1f}x"
                      if "enc_two_s" in th else "-")
            out.append(f"| {s['corpus']} | {th['codec']} | {th['chunks']} | {th['one_s'] * 1e3:.0f} | {th['two_s'] * 1e3:.0f} | "
                       f"{th['speedup']:.3f}x | {'yes' if th['speedup'] >= 1.7 else 'no'} | {enc} | {versus} |")
    for res in results:
        m = res["corpus"]
        out += ["", f"## {m['name']}", "",
                f"{m['description']}; {m['network']} at `{m['layer']}`, {' x '.join(map(str, m['shape_TNCHW']))}, "
                f"{m['bits']}-bit, nonzero rate {m['rate_nonzero']:.1%}. "
                f"Time spent: " + ", ".join(f"{k} {v:.0f} s" for k, v in res["seconds"].items()) + ".", "",
                "| coder | configuration | order | bytes | bits/el | vs paq9a | enc MB/s | dec MB/s |",
                "|---|---|---|---|---|---|---|---|"]
        for r in sorted(res["rows"], key=lambda r: r["bytes"]):
            out.append(f"| {r['coder']} | {r['config']} | {r['order']} | {r['bytes']:,} | {r['bits_per_element']:.4f} | "
                       f"{r['vs_paq9a']:.3f} | {fmt_speed(r['enc_MBps'])} | {fmt_speed(r['dec_MBps'])} |")
        paq_row = next(r for r in res["rows"] if r["coder"] == "paq9a")
        if "rounds_enc_MBps" in paq_row:
            out += ["", "paq9a's rounds (before, between, after spikecodec's codecs), MB/s enc / dec: "
                    + ", ".join(f"{e:.2f} / {d:.2f}" for e, d in zip(paq_row["rounds_enc_MBps"], paq_row["rounds_dec_MBps"])) + "."]
        paq_grid = res["grid"]["paq9a"]
        out += ["", "paq9a bytes by order/layout: " + ", ".join(f"{k} {v:,}" for k, v in sorted(paq_grid.items(), key=lambda kv: kv[1])) + "."]
        xz_grid = res["grid"]["xz -9e"]
        out += ["", "xz -9e bytes by order/layout: " + ", ".join(f"{k} {v:,}" for k, v in sorted(xz_grid.items(), key=lambda kv: kv[1])) + "."]
    return "\n".join(out) + "\n"


def render(holdout: bool = False) -> None:
    """Rewrite peers.md (holdout.md) from its json (the same measurements; after a change of
    layout only)."""
    stem = "holdout" if holdout else "peers"
    data = json.loads((RESULTS / f"{stem}.json").read_text())
    data["summary"] = [summary(res) for res in data["corpora"]]
    (RESULTS / f"{stem}.json").write_text(json.dumps(data, indent=1) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(data["corpora"], data["summary"], data["total_seconds"],
                                                 data["run_at"], data["code"], holdout))


def main(argv: list[str]) -> None:
    holdout = "--holdout" in argv[1:]
    if "--render" in argv[1:]:
        return render(holdout)
    names = [a for a in argv[1:] if a != "--holdout"]
    folder = HOLDOUT if holdout else CORPORA
    paths = sorted(p for p in folder.glob("*.npy") if not names or p.stem in names)
    if not paths:
        sys.exit(f"no corpora in {folder}: run python benchmarks/corpora.py "
                 + ("holdout" if holdout else "train && python benchmarks/corpora.py build"))
    code = code_state()  # what this process imported: the tree may change while it runs
    t0 = time.perf_counter()
    results, summaries = [], []
    for path in paths:
        print(f"{path.stem}:", flush=True)
        t1 = time.perf_counter()
        res = bench_corpus(path, lambda s: print(s, flush=True))
        res["seconds"]["total"] = round(time.perf_counter() - t1, 1)
        results.append(res)
        summaries.append(summary(res))
        print(json.dumps(summaries[-1]), flush=True)
    total = time.perf_counter() - t0
    out_dir = RESULTS if not names else ROOT / "runs"  # a partial run does not replace the table
    out_dir.mkdir(exist_ok=True)
    stem = ("holdout" if holdout else "peers") + ("" if not names else "-partial")
    command = COMMAND + (" --holdout" if holdout else "")
    run_at = time.strftime("%Y-%m-%d %H:%M")
    (out_dir / f"{stem}.json").write_text(json.dumps(
        {"command": command, "run_at": run_at, "code": code, "orders": ORDERS, "repeats": REPEATS,
         "total_seconds": round(total, 1),
         "summary": summaries, "corpora": results}, indent=1) + "\n")
    (out_dir / f"{stem}.md").write_text(markdown(results, summaries, total, run_at, code, holdout))
    print(f"wrote {out_dir / f'{stem}.md'} in {total / 60:.1f} min")


if __name__ == "__main__":
    main(sys.argv)
