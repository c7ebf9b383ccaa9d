"""Entropy codecs vs general-purpose compressors, side by side (issue 5).

Writes benchmarks/results/entropy.md and entropy.json. Every number in the table is measured in
this run: bits per element (payload bytes * 8 / elements, per-chunk tables included) and
encode/decode elements per second (best of 5 rounds, each round calling every coder of the data set
once, in alternating order; one thread, 2-core machine shared with others).

Data: spikes of a small LIF conv net on Fashion-MNIST (spike_corpus.py; l1 dense, l2 sparse),
2- and 4-bit counts of the same net, i.i.d. Bernoulli(0.15), and a synthetic temporally correlated
tensor. Chunks are T x 64 x C x H x W blocks (all timesteps, 64 samples) unless stated.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import blosc2  # noqa: E402
import h5py  # noqa: E402
import numcodecs  # noqa: E402
import zstandard  # noqa: E402

import multipass  # noqa: E402  (the vectorised multi-pass design, a prototype)
import spike_corpus  # noqa: E402
from timing import best_times  # noqa: E402  (benchmarks/timing.py)
from spikecodec.codecs import Auto, ChunkSpec, Context, Order0  # noqa: E402
from spikecodec.codecs.countctx import CountContext  # noqa: E402
from spikecodec.codecs.ctxlanes import ContextLanes  # noqa: E402
from spikecodec.codecs.kernels import rans  # noqa: E402
from spikecodec.codecs._entropy_model import categorical_entropy_bits, empirical_bits, to_canonical  # noqa: E402
from spikecodec.elements import pack, unpack  # noqa: E402

AXES = ("T", "N", "C", "H", "W")
MULTIPASS = "multipass prototype (vectorised passes; not a codec)"
OURS = ("order0", "context", "auto", "countctx", "ctxlanes", MULTIPASS)
CODECS = ("order0", "context", "auto", "countctx", "ctxlanes")
REPEATS = 7  # best of 7 calls: one call of a few ms can lose 2x to a neighbour's burst


def blocks(x: np.ndarray, n: int) -> list[np.ndarray]:
    return [np.ascontiguousarray(x[:, i : i + n]) for i in range(0, x.shape[1], n)]


def ours(x: np.ndarray, bits: int, codec, n_block: int = 64) -> dict:
    chunks = blocks(x, n_block)
    specs = [ChunkSpec(c.shape, AXES, bits) for c in chunks]
    payloads = [codec.encode(c, s) for c, s in zip(chunks, specs)]
    for p, c, s in zip(payloads, chunks, specs):
        assert np.array_equal(codec.decode(p, s), c)
    return {"bytes": sum(map(len, payloads)),
            "enc": lambda: [codec.encode(c, s) for c, s in zip(chunks, specs)],
            "dec": lambda: [codec.decode(p, s) for p, s in zip(payloads, specs)]}


def multipass_prototype(x: np.ndarray, bits: int, n_block: int = 64) -> dict:
    """The other design of issue 5 (benchmarks/multipass.py): contexts from earlier passes only."""
    chunks = blocks(x, n_block)
    payloads = [multipass.encode(c, bits) for c in chunks]
    for p, c in zip(payloads, chunks):
        assert np.array_equal(multipass.decode(p, c.shape, bits), c)
    return {"bytes": sum(map(len, payloads)),
            "enc": lambda: [multipass.encode(c, bits) for c in chunks],
            "dec": lambda: [multipass.decode(p, c.shape, bits) for p, c in zip(payloads, chunks)]}


def zstd_packed(x: np.ndarray, bits: int, level: int, t_fast: bool, n_block: int = 64) -> dict:
    chunks = [np.moveaxis(c, 0, -1) if t_fast else c for c in blocks(x, n_block)]
    cctx, dctx = zstandard.ZstdCompressor(level=level), zstandard.ZstdDecompressor()
    enc = lambda: [cctx.compress(pack(c, bits)) for c in chunks]  # noqa: E731
    frames = enc()
    dec = lambda: [unpack(dctx.decompress(f), c.size, bits) for f, c in zip(frames, chunks)]  # noqa: E731
    return {"bytes": sum(map(len, frames)), "enc": enc, "dec": dec}


def blosc2_bitshuffle(x: np.ndarray, bits: int, t_fast: bool, n_block: int = 64) -> dict:
    chunks = [np.ascontiguousarray(np.moveaxis(c, 0, -1) if t_fast else c) for c in blocks(x, n_block)]
    cp = {"codec": blosc2.Codec.ZSTD, "clevel": 9, "filters": [blosc2.Filter.BITSHUFFLE], "typesize": 1, "nthreads": 1}
    enc = lambda: [blosc2.compress2(c.tobytes(), **cp) for c in chunks]  # noqa: E731
    frames = enc()
    dec = lambda: [blosc2.decompress2(f) for f in frames]  # noqa: E731
    return {"bytes": sum(map(len, frames)), "enc": enc, "dec": dec}


def h5py_gzip(x: np.ndarray, bits: int, t_fast: bool, n_block: int = 64) -> dict:
    arr = np.moveaxis(x, 0, -1) if t_fast else x
    packed = np.frombuffer(pack(np.ascontiguousarray(arr), bits), np.uint8)
    per_chunk = packed.size * n_block // x.shape[1]

    def enc():
        bio = io.BytesIO()
        with h5py.File(bio, "w") as f:
            f.create_dataset("s", data=packed, chunks=(per_chunk,), compression="gzip", compression_opts=9)
        return bio

    bio = enc()
    with h5py.File(bio, "r") as f:
        nbytes = f["s"].id.get_storage_size()

    def dec():
        with h5py.File(bio, "r") as f:
            return f["s"][:]

    return {"bytes": nbytes, "enc": enc, "dec": dec}


def numcodecs_packbits_zstd(x: np.ndarray, t_fast: bool, n_block: int = 64) -> dict:
    chunks = [np.ascontiguousarray(np.moveaxis(c, 0, -1) if t_fast else c).astype(bool).ravel() for c in blocks(x, n_block)]
    pb, zs = numcodecs.PackBits(), numcodecs.Zstd(level=19)
    enc = lambda: [zs.encode(pb.encode(c)) for c in chunks]  # noqa: E731
    frames = enc()
    dec = lambda: [pb.decode(zs.decode(f)) for f in frames]  # noqa: E731
    return {"bytes": sum(map(len, frames)), "enc": enc, "dec": dec}


def entropies(x: np.ndarray, bits: int, n_block: int = 64) -> dict:
    """Per-chunk code lengths (bits/element): empirical (ideal static code with the true per-chunk
    frequencies, tables excluded) of order-0, per-channel order-0 and our models' context
    functions, and the ideal adaptive code length sum(-log2 q) of our adaptive models."""
    r = dict.fromkeys(("H_order0", "H_order0_channel", "H_order0_model", "H_context", "L_order0_adaptive", "L_context_adaptive", "L_countctx_adaptive"), 0.0)
    for c in blocks(x, n_block):
        canon = to_canonical(c, AXES)
        a = int(canon.max()) + 1
        r["H_order0"] += categorical_entropy_bits(np.bincount(canon.ravel(), minlength=a)[None])
        g = canon.transpose(2, 0, 1, 3, 4).reshape(canon.shape[2], -1)
        r["H_order0_channel"] += categorical_entropy_bits(np.stack([np.bincount(row, minlength=a) for row in g]))
        spec = ChunkSpec(c.shape, AXES, bits)
        for codec, hk, lk in ((Order0(), "H_order0_model", "L_order0_adaptive"), (Context(), "H_context", "L_context_adaptive")):
            d, q, k = codec.decisions(c, spec)
            r[hk] += empirical_bits(k, d)
            r[lk] += rans.ideal_bits(d, q)
        d, q = CountContext().decisions(c, spec)
        r["L_countctx_adaptive"] += rans.ideal_bits(d, q)
    return {k: v / x.size for k, v in r.items()}


def datasets() -> dict[str, tuple[np.ndarray, int]]:
    c1 = spike_corpus.corpus(bits=1)
    c2 = spike_corpus.corpus(bits=2)
    rng = np.random.default_rng(0)
    iid = (rng.random((4, 256, 16, 14, 14)) < 0.15).astype(np.uint8)
    c4 = spike_corpus.corpus(bits=4)
    base = rng.random((256, 16, 14, 14)) < 0.2
    corr = (base[None] ^ (rng.random((4, 256, 16, 14, 14)) < 0.03)).astype(np.uint8)
    return {
        "fmnist-l1 (1-bit, 36%)": (c1["l1"], 1),
        "fmnist-l2 (1-bit, 12%)": (c1["l2"], 1),
        "fmnist-l1 (2-bit counts)": (c2["l1"], 2),
        "fmnist-l2 (2-bit counts)": (c2["l2"], 2),
        "fmnist-l2 (4-bit counts)": (c4["l2"], 4),
        "iid p=0.15": (iid, 1),
        "synthetic T-correlated 20%": (corr, 1),
    }


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--render-only", action="store_true",
                    help="rewrite entropy.md from the committed entropy.json (no measurements)")
    args = ap.parse_args()
    out = HERE / "results"
    if args.render_only:
        saved = json.loads((out / "entropy.json").read_text())
        (out / "entropy.md").write_text(render(saved["datasets"], saved["chunking_auto_bits_per_el"], saved["load_average"]))
        return
    load = {"start": [round(v, 2) for v in os.getloadavg()]}
    results = {}
    for name, (x, bits) in datasets().items():
        print(name, x.shape, flush=True)
        r: dict[str, dict] = {}
        for codec in (Order0(), Context(), Auto(), CountContext(), ContextLanes()):
            r[codec.codec_id] = ours(x, bits, codec)
        r[MULTIPASS] = multipass_prototype(x, bits)
        for lvl in (1, 3, 19):
            for tf in (False, True):
                r[f"packbits+zstd-{lvl} ({'T fastest' if tf else 'T slowest'})"] = zstd_packed(x, bits, lvl, tf)
        for tf in (False, True):
            tag = "T fastest" if tf else "T slowest"
            r[f"blosc2 bitshuffle+zstd-9 ({tag})"] = blosc2_bitshuffle(x, bits, tf)
            r[f"h5py gzip-9 packed ({tag})"] = h5py_gzip(x, bits, tf)
            if bits == 1:
                r[f"numcodecs PackBits+Zstd-19 ({tag})"] = numcodecs_packbits_zstd(x, tf)
        # Every coder's encode and decode in interleaved rounds (timing.best_times): a burst of
        # load on the shared machine then slows one round of all of them, not one coder's row.
        calls = {f"{key}\0{op}": v.pop(op) for key, v in r.items() for op in ("enc", "dec")}
        best = best_times(calls, REPEATS)
        for key, v in r.items():
            v["bits_per_el"] = 8 * v["bytes"] / x.size
            v["enc_Mel_s"] = x.size / best[f"{key}\0enc"] / 1e6
            v["dec_Mel_s"] = x.size / best[f"{key}\0dec"] / 1e6
        results[name] = {"shape": list(x.shape), "bits": bits, "rate": float((x > 0).mean()), "codecs": r, **entropies(x, bits)}
    # chunking effect on the dense corpus: the per-chunk tables and lost temporal context
    x = datasets()["fmnist-l1 (1-bit, 36%)"][0]
    chunking = {}
    for n in (8, 16, 64, 256):
        chunking[f"T x {n} samples"] = 8 * ours(x, 1, Auto(), n)["bytes"] / x.size
    per_t = [np.ascontiguousarray(x[t : t + 1, i : i + 64]) for t in range(x.shape[0]) for i in range(0, x.shape[1], 64)]
    chunking["1 timestep x 64 samples (default chunk=(1,))"] = 8 * sum(len(Auto().encode(c, ChunkSpec(c.shape, AXES, 1))) for c in per_t) / x.size
    load["end"] = [round(v, 2) for v in os.getloadavg()]
    out.mkdir(exist_ok=True)
    (out / "entropy.json").write_text(json.dumps({"datasets": results, "chunking_auto_bits_per_el": chunking,
                                                  "load_average": load}, indent=1))
    (out / "entropy.md").write_text(render(results, chunking, load))
    print((out / "entropy.md").read_text())


def render(results: dict, chunking: dict, load: dict) -> str:
    lines = ["# Entropy codecs vs general-purpose compressors", "",
             "Generated by `benchmarks/entropy_bench.py` (one run, all rows measured together, under `nice -n 10`)."
             " bits/el = payload bytes x 8 / elements (nothing but the payload: our codecs store no tables);"
             f" M el/s = million elements per second, one thread, best of {REPEATS} rounds (each round times every coder of the data set once, in alternating order, so that a burst of load slows all of them rather than one row). Load average (1, 5, 15 min)"
             f" {tuple(load['start'])} at the start, {tuple(load['end'])} at the end, on a shared 2-core machine:"
             " absolute speeds vary between runs, ratios are taken within one run."
             " Chunks: T x 64 x C x H x W.", "",
             "Model columns (per chunk, averaged): `H ctx` = empirical conditional entropy of the `context` codec's"
             " own context function (channel group x context; the ideal static code with the true per-chunk"
             " frequencies, no table cost), `L ctx` = ideal adaptive code length sum(-log2 q) of the integer counts"
             " actually used; the payload is within a few bytes of `L`. `countctx` (FORMAT.md 9.4.7, added in 1.1) is the"
             " count-aware context model for multi-bit chunks; `ctxlanes` (9.4.8, added in 1.2) is `context` in four"
             " independent channel lanes coded in lockstep, for speed. `auto` considers neither (its bytes are frozen by vectors).", ""]
    for name, d in results.items():
        lines += [f"## {name}: shape {tuple(d['shape'])}, {d['bits']}-bit, nonzero rate {d['rate']:.3f}", "",
                  f"Empirical entropies: order-0 {d['H_order0']:.4f}, per-channel order-0 {d['H_order0_channel']:.4f}"
                  f" (binary-decision form {d['H_order0_model']:.4f}; adaptive {d['L_order0_adaptive']:.4f}),"
                  f" context model H ctx {d['H_context']:.4f}, adaptive L ctx {d['L_context_adaptive']:.4f} bit/el.", "",
                  "| coder | bits/el | encode M el/s | decode M el/s |", "|---|---:|---:|---:|"]
        for k, v in sorted(d["codecs"].items(), key=lambda kv: kv[1]["bits_per_el"]):
            lines.append(f"| {k} | {v['bits_per_el']:.4f} | {v['enc_Mel_s']:.1f} | {v['dec_Mel_s']:.1f} |")
        c = d["codecs"]
        general = {k: v for k, v in c.items() if k not in OURS and ("zstd-19" in k or "blosc2" in k or "h5py" in k)}
        gk = min(general, key=lambda k: general[k]["bits_per_el"])
        bk = min(CODECS, key=lambda k: c[k]["bits_per_el"])
        z19 = [v for k, v in c.items() if k.startswith("packbits+zstd-19")]
        zenc = max(v["enc_Mel_s"] for v in z19)
        zdec = max(v["dec_Mel_s"] for v in z19)
        mp = c[MULTIPASS]
        lines += ["", f"Best of ours: {bk} {c[bk]['bits_per_el']:.4f}; best general-purpose: {gk} {general[gk]['bits_per_el']:.4f}"
                  f" -> {100 * (1 - c[bk]['bits_per_el'] / general[gk]['bits_per_el']):+.1f}% fewer bytes. "
                  f"context payload vs H ctx: {100 * (c['context']['bits_per_el'] / d['H_context'] - 1):+.2f}%, "
                  f"vs L ctx: {100 * (c['context']['bits_per_el'] / d['L_context_adaptive'] - 1):+.2f}%; "
                  f"countctx payload vs its adaptive L: {100 * (c['countctx']['bits_per_el'] / d['L_countctx_adaptive'] - 1):+.2f}%.", "",
                  f"Speed of {bk} (target: encode and decode each >= 5x zstd-19's *compression* throughput, fastest"
                  f" axis order): encode **{c[bk]['enc_Mel_s'] / zenc:.2f}x**, decode **{c[bk]['dec_Mel_s'] / zenc:.2f}x**"
                  f" zstd-19 encode. Against zstd's decompression (the same at every level): decode"
                  f" {c[bk]['dec_Mel_s'] / zdec:.3f}x, i.e. zstd decompresses {zdec / c[bk]['dec_Mel_s']:.0f}x faster.", "",
                  "Each of our modes against both targets (>= 15% fewer bytes than the best general-purpose coder;"
                  " encode and decode >= 5x zstd-19's compression throughput): "
                  + "; ".join(f"{k} {100 * (1 - c[k]['bits_per_el'] / general[gk]['bits_per_el']):+.1f}% bytes,"
                              f" {c[k]['enc_Mel_s'] / zenc:.2f}x / {c[k]['dec_Mel_s'] / zenc:.2f}x"
                              f"{' (both met)' if c[k]['bits_per_el'] <= 0.85 * general[gk]['bits_per_el'] and min(c[k]['enc_Mel_s'], c[k]['dec_Mel_s']) >= 5 * zenc else ''}"
                              for k in CODECS) + ".", "",
                  f"ctxlanes vs context: {c['ctxlanes']['bits_per_el'] / c['context']['bits_per_el']:.3f}x the bits,"
                  f" encode {c['ctxlanes']['enc_Mel_s'] / c['context']['enc_Mel_s']:.2f}x, decode"
                  f" {c['ctxlanes']['dec_Mel_s'] / c['context']['dec_Mel_s']:.2f}x the speed.", "",
                  f"Multi-pass prototype vs context: {mp['bits_per_el'] / c['context']['bits_per_el']:.2f}x the bits,"
                  f" encode {mp['enc_Mel_s'] / c['context']['enc_Mel_s']:.2f}x, decode {mp['dec_Mel_s'] / c['context']['dec_Mel_s']:.2f}x"
                  " the speed.", ""]
    real = [d["codecs"] for name, d in results.items() if name.startswith("fmnist")]
    geo = lambda f: float(np.exp(np.mean([np.log(f(c)) for c in real])))  # noqa: E731
    lines += ["## Which design we keep", "",
              "Issue 5 asks to measure both ways of avoiding a per-element Python loop. Geometric mean over"
              " the Fashion-MNIST tensors above, multi-pass prototype relative to `context`:"
              f" {geo(lambda c: c[MULTIPASS]['bits_per_el'] / c['context']['bits_per_el']):.2f}x the bits,"
              f" {geo(lambda c: c[MULTIPASS]['enc_Mel_s'] / c['context']['enc_Mel_s']):.2f}x the encode and"
              f" {geo(lambda c: c[MULTIPASS]['dec_Mel_s'] / c['context']['dec_Mel_s']):.2f}x the decode speed."
              " A pass can only use what earlier passes decoded, so it loses the same-step left/up and"
              " previous-channel neighbours and learns its counts once per pass instead of per element;"
              " its numpy work per pass (contexts, probability tables, counting) costs more than the"
              " compiled loop it replaces. We keep the compiled sequential design (`order0`/`context`);"
              " the prototype stays in benchmarks/multipass.py. Its serial chain per decision (state -> bit ->"
              " next context -> counters -> probability) leaves most of a core idle, so `ctxlanes` runs four"
              " such chains side by side, one per quarter of the channels:"
              f" {geo(lambda c: c['ctxlanes']['bits_per_el'] / c['context']['bits_per_el']):.3f}x the bits,"
              f" {geo(lambda c: c['ctxlanes']['enc_Mel_s'] / c['context']['enc_Mel_s']):.2f}x the encode and"
              f" {geo(lambda c: c['ctxlanes']['dec_Mel_s'] / c['context']['dec_Mel_s']):.2f}x the decode speed"
              " of `context` (same geometric mean; the fast loops cover 1-bit chunks, multi-bit ones are"
              " coded lane by lane at `context`'s speed).", ""]
    lines += ["## Chunking effect (fmnist-l1, codec auto)", "", "| chunk | bits/el |", "|---|---:|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in chunking.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
