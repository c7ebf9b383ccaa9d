"""What small hostile (or merely odd) inputs cost a reader: before/after figures of the fixes to
the bounds on time and memory (README "Hostile files"). Each case runs in a fresh process, on this
checkout and, with ``--root DIR``, on another checkout's code (a before/after pair measured in one
run); wall time and the rise of peak RSS over the process's baseline. Writes
benchmarks/results/hostile_costs.md.

    .venv/bin/python benchmarks/hostile_costs.py [--root OTHER_CHECKOUT] [--cases json,bigprior] [--out FILE.md]

Cases:
  prior    a 33 KB stream header embedding a prior whose one table declares 1 GiB (no ctxmix
           geometry lays it out), LinkDecoder(header, max_bytes=1 MiB)
  partial  a 734-byte cut of a file of one row of 12 context chunks of 32 MiB, validate(max_bytes=64 MiB)
  tiny     an 11 KB winmix file of 300 chunks of 1024 elements, no prior, decode
  mmap     spikecodec.open(memoryview(mmap)) of a 200 MB file and one small read
  json     a 32 KB header whose metadata text is an unclosed string of 16000 escaped quotes after
           600 "[", spikecodec.open
  bigprior a 2.7 KB header embedding a legal winmix prior of 265 MB of (zero) tables,
           LinkDecoder(header, max_bytes=1 MiB)
  damaged  a 600 KB compact file of 200,000 raw records, each with its check damaged, validate
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = ("prior", "partial", "tiny", "mmap", "json", "bigprior", "damaged")

CHILD = r'''
import hashlib, io, json, mmap, os, resource, sys, time, zlib
tree, case, scratch = sys.argv[1:4]
sys.path.insert(0, tree)
import numpy as np, spikecodec
assert spikecodec.__file__.startswith(tree), spikecodec.__file__
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
outcome = "ok"
if case == "prior":
    import zstandard
    from spikecodec.container.header import Extension, Header, encode_header
    from spikecodec.prior import _HEAD, MAJOR_VERSION, SIGNATURE
    n = 1 << 30
    desc = json.dumps({"codec": "ctxmix", "geometry": {"bits": 1, "T": 1, "C": 4, "H": 4, "W": 4},
                       "tables": [{"name": "states", "type": "u32", "count": n // 4}], "info": {}}).encode()
    buf = io.BytesIO()
    with zstandard.ZstdCompressor(level=1).stream_writer(buf, size=n, closefd=False) as w:
        for _ in range(n >> 24):
            w.write(bytes(1 << 24))
    frame = buf.getvalue()
    body = _HEAD.pack(SIGNATURE, MAJOR_VERSION, 0, 0, len(desc)) + desc + len(frame).to_bytes(8, "little") + frame
    prior = body + zlib.crc32(body).to_bytes(4, "little")
    data = encode_header(Header(shape=(None, 1, 4, 4, 4), axes=tuple("NTCHW"), bits=1, chunk_shape=(1,),
                                codecs=({"id": "ctxmix", "prior": hashlib.sha256(prior).hexdigest()},), metadata={},
                                extensions=(Extension("prior", prior, True),), minor=5))
    spikecodec.decode(spikecodec.encode(np.zeros((1, 2), np.uint8), codec="ctxmix"))  # kernels loaded before timing
    base, start = peak(), time.perf_counter()
    try:
        spikecodec.LinkDecoder(data, max_bytes=1 << 20)
    except spikecodec.FormatError as exc:
        outcome = exc.code
elif case == "partial":
    whole = spikecodec.encode(np.zeros((1, 12, 1, 4096, 8192), np.uint8), codec="context", chunk=(1, 1))
    data = whole[: int.from_bytes(whole[-24:-16], "little") - 3]
    base, start = peak(), time.perf_counter()
    report = spikecodec.validate(data, max_bytes=64 << 20)
    outcome = f"{report.chunks_checked} chunks decoded; " + ", ".join(p.code for p in report.problems)
elif case == "tiny":
    data = spikecodec.encode(np.zeros((4, 300, 256, 1, 1), np.uint8), codec="winmix", chunk=(4, 1), records="compact", bits=8)
    spikecodec.decode(spikecodec.encode(np.zeros((4, 1, 256, 1, 1), np.uint8), codec="winmix", records="compact", bits=8))
    base, start = peak(), time.perf_counter()
    spikecodec.decode(data, max_bytes=400000)
elif case == "json":
    from spikecodec import layout
    from spikecodec.container.records import encode_index, encode_trailer
    meta = ('"' + '\\"' * 16000 + '[' * 600).encode()
    body = layout.header_body_compiled().build(dict(rank=1, element_bits=1, chunk_rank=1, reserved=0, shape=[0], chunk_shape=[1],
                                                    axes=["T"], codecs=[dict(id="raw", config=b"{}")], metadata=meta, extensions=[]))
    pre = layout.PREAMBLE_STRUCT.pack(layout.SIGNATURE, 1, 0, 0, len(body))
    head = pre + body + layout.crc32(pre, body).to_bytes(4, "little")
    index = encode_index([])
    data = head + index + encode_trailer(len(head), len(index))
    base, start = peak(), time.perf_counter()
    try:
        spikecodec.open(data)
    except spikecodec.FormatError as exc:
        outcome = exc.code
elif case in ("bigprior", "damaged"):
    # The input is made by a process of its own (PREPARE), so that the peak RSS is the reading's.
    data = open(os.path.join(scratch, case + ".bin"), "rb").read()
    base, start = peak(), time.perf_counter()
    if case == "bigprior":
        try:
            spikecodec.LinkDecoder(data, max_bytes=1 << 20)
        except spikecodec.FormatError as exc:
            outcome = exc.code
    else:
        report = spikecodec.validate(data)
        outcome = f"{len(report.problems)} problems kept, {getattr(report, 'problems_omitted', 0)} counted"
else:
    path = os.path.join(scratch, "big.spk")
    if not os.path.exists(path):
        spikecodec.save(path, np.zeros((200, 1 << 20), np.uint8), codec="raw", bits=8, chunk=(1,))
    with open(path, "rb") as f:
        view = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    base, start = peak(), time.perf_counter()
    with spikecodec.open(memoryview(view)) as r:
        r[3, :5]
    data = view
print(json.dumps({"bytes": len(data), "seconds": time.perf_counter() - start, "mb": peak() - base, "outcome": outcome}))
'''


PREPARE = r'''
import io, os, sys
import numpy as np, spikecodec
case, path = sys.argv[1:3]
if case == "bigprior":
    from spikecodec.codecs.registry import get_codec
    from spikecodec.container.header import Extension, Header, encode_header
    from spikecodec.prior import Prior
    geometry = {"bits": 8, "T": 4, "C": 1024, "H": 1024, "W": 2048}
    prior = Prior("winmix", geometry, get_codec({"id": "winmix"}).fresh_tables(geometry))
    data = encode_header(Header(shape=(None, 4, 1, 1, 1), axes=tuple("NTCHW"), bits=8, chunk_shape=(1,),
                                codecs=({"id": "winmix", "prior": prior.digest},), metadata={},
                                extensions=(Extension("prior", prior.data, True),), minor=5))
else:
    from spikecodec.container.records import encode_compact_index, encode_trailer
    buf = io.BytesIO()
    with spikecodec.SpikeWriter(buf, codec="raw", records="compact") as w:
        w.append(np.zeros(1, np.uint8))
    one = buf.getvalue()
    start = 16 + int.from_bytes(one[12:16], "little") + 4
    record = bytearray(one[start : start + 4])  # size 3 (1 byte of payload), payload, a CRC-16
    record[-1] ^= 1
    index = encode_compact_index(200000, 200000)
    data = one[:start] + bytes(record) * 200000
    data += index + encode_trailer(len(data), len(index))
open(path, "wb").write(data)
'''


def run(tree: Path, case: str, scratch: str) -> dict:
    path = Path(scratch) / f"{case}.bin"
    if case in ("bigprior", "damaged") and not path.exists():  # made by this checkout's writer, read by both
        subprocess.run([sys.executable, "-c", PREPARE, case, str(path)], check=True, cwd=ROOT, timeout=600)
    done = subprocess.run([sys.executable, "-c", CHILD, str(tree), case, scratch], capture_output=True, text=True, timeout=1800)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, help="another checkout to measure beside this one (its code before a fix)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)} (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "hostile_costs.md")
    args = parser.parse_args()
    cases = args.cases.split(",")
    if not set(cases) <= set(CASES):
        parser.error(f"--cases: unknown {sorted(set(cases) - set(CASES))}")
    trees = ([("before", args.root.resolve())] if args.root else []) + [("this checkout", ROOT)]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for case in cases:
            for label, tree in trees:
                result = run(tree, case, scratch)
                rows.append((case, label, result))
                print(case, label, result, flush=True)
    lines = ["# What small hostile inputs cost a reader", "",
             f"Regenerate: `.venv/bin/python benchmarks/hostile_costs.py{' --root ' + str(args.root) if args.root else ''}"
             f"{' --cases ' + args.cases if args.cases != ','.join(CASES) else ''}{' --out ' + str(args.out) if args.out.name != 'hostile_costs.md' else ''}`. "
             f"Run {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, a shared 2-core machine; each case in a fresh "
             "process; MB = rise of peak RSS during the call.", "",
             "| case | code | input bytes | seconds | MB | outcome |", "|---|---|---:|---:|---:|---|"]
    for case, label, r in rows:
        if "error" in r:
            lines.append(f"| {case} | {label} | | | | error: {r['error']} |")
        else:
            lines.append(f"| {case} | {label} | {r['bytes']:,} | {r['seconds']:.2f} | {r['mb']:,} | {r['outcome']} |")
    lines += ["", __doc__.split("Cases:")[1].rstrip()]
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
