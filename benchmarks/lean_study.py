"""Where a mixing coder's time goes (issue 25's default: >= 10% fewer bytes than paq9a at >= 5x
its speed): a study of a lean prototype, not a codec.

Why: the default, ``framemix``, codes 1-bit spikes at 9-17 M elements/s, 0.7-1.7x paq9a's speed
(benchmarks/results/peers.md; ``winmix`` and ``chanmix`` are not much faster); 5x paq9a is 32-120
M/s on the corpora (paq9a runs 6.3-24 M/s, fastest on the sparsest). Before designing a faster default, this
measures what a mixing loop of this family costs and what each part is worth.

The prototype (:func:`_code`, here, 1-bit significance only) is ``winmix``'s loop cut down: the
order n, t, h, w, c (channels last), the zero-padded planes and the neighbours of ``mix``
(FORMAT.md 9.4.10), up to six models (A neighbourhood, B history, C position, W recent channels,
X and Y: the last 16 and the 16 before of the chunk's significances, in lines of 16 as
``winmix`` reads them), one weight set per (t, own t-1, t-2, up, left), the states, STRETCH /
SQUASH and the arithmetic coder of :mod:`spikecodec.codecs.kernels.binary`. Every table is
hashed into 2**bits entries, so its size is a free parameter. Variants:

* *skeleton*: no model, the bias weight alone: the loop, the context bits, the coder, the
  weight update - the floor of this design; *skeleton, no coder* and *no weight update*
  (encoding only: they cannot be decoded) split it;
* the six models with tables of 2**20 .. 2**22 entries (``winmix``'s sizes) and of 2**16;
* four models (A, C, X, Y) at 2**16 / 2**20 and at 2**18.

Every decodable variant is decoded back and compared. Speed: million elements a second, best of
2, encoding and decoding (the smaller counts against paq9a); paq9a's own speed is measured in the
same run on its best axis order (benchmarks/results/peers.json), and ``framemix``, the default,
through ``spikecodec.encode`` / ``decode`` in one chunk. Bytes: the prototype's payload; paq9a's
from peers.json (its bytes do not depend on the run).

    python benchmarks/lean_study.py      # about 4 min; writes benchmarks/results/lean_study.md
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if __name__ == "__main__":
    os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="lean-study-"))

from numba import njit  # noqa: E402

import spikecodec  # noqa: E402
from peers_bench import ROOT, best_time, code_state, layouts, permuted, run_paq  # noqa: E402
from spikecodec.codecs.kernels.binary import (  # noqa: E402
    cannot_end, clamped_weight, code_bit, ends_as_encoded, finish, squashed, start, stretched, updated)
from spikecodec.codecs.kernels.ops import U  # noqa: E402

OUT = HERE / "results" / "lean_study.md"
COMMAND = "python benchmarks/lean_study.py"
PEERS = HERE / "results" / "peers.json"
CORPORA = ROOT / "runs" / "corpora"
HASH_MUL = np.uint64(0x9E3779B97F4A7C15)
MODELS = "ABCWXY"
WEIGHTS = len(MODELS) + 1  # a set: one weight a model, then the bias
SETS = 64  # (tp, p1, p2, up, left)
LEARNING_RATE = 14

# name -> (models used, log2 entries of A, B, C, W, X, Y, flags); flags: 1 no weight update,
# 2 no coder (encoding only).
VARIANTS = {
    "skeleton (bias only)": ("", (4, 4, 4, 4, 4, 4), 0),
    "skeleton, no coder": ("", (4, 4, 4, 4, 4, 4), 2),
    "skeleton, no weight update": ("", (4, 4, 4, 4, 4, 4), 1),
    "skeleton, neither": ("", (4, 4, 4, 4, 4, 4), 3),
    "six models, 2^20-2^22 tables": ("ABCWXY", (22, 22, 21, 22, 20, 20), 0),
    "six models, 2^16 tables": ("ABCWXY", (16, 16, 16, 16, 16, 16), 0),
    "A C X Y, 2^16 / X Y 2^20": ("ACXY", (16, 4, 16, 4, 20, 20), 0),
    "A C X Y, 2^18 tables": ("ACXY", (18, 4, 18, 4, 18, 18), 0),
}


@njit(inline="always", cache=True)
def _slot(key, bits):
    return np.int64((np.uint64(key) * HASH_MUL) >> np.uint64(64 - bits))


@njit(cache=True, nogil=True)
def _code(x, use, tbits, flags, tabs, wts, out, data, encoding):
    """Code (encoding) or decode the 1-bit (T, N, C, H, W) array ``x`` with the models ``use``
    (6 flags, A B C W X Y) in tables of 2**tbits[m] entries. Returns (coder state, status)."""
    T, N, C, H, W = x.shape
    tpos = min(T, 4)
    g = max(1, min(C, 256))
    off = np.zeros(7, np.int64)
    for m in range(6):
        off[m + 1] = off[m] + (1 << tbits[m])
    uA, uB, uC, uW, uX, uY = use[0], use[1], use[2], use[3], use[4], use[5]
    ab, bb, cb, wb, xb, yb = tbits[0], tbits[1], tbits[2], tbits[3], tbits[4], tbits[5]
    learn = (flags & 1) == 0
    coder = (flags & 2) == 0
    sw = C + 3
    sh = (W + 2) * sw
    plane = (H + 2) * sh
    sig = np.zeros(2 * plane, np.uint8)
    hist = np.ones(H * W * C, np.uint8)
    st = start(data, encoding)
    run = np.uint64(0)
    line_x = 0
    line_y = 0
    node = 1
    status = 0
    for n in range(N):
        hist[:] = 1
        sig[:] = 0
        for t in range(T):
            tp = min(t, tpos - 1)
            cur = U((t & 1) * plane)
            prv = U(((t + 1) & 1) * plane)
            t2 = t > 1
            for h in range(H):
                for w in range(W):
                    pix = U((h + 1) * sh + (w + 1) * sw + 2)
                    bc = cur + pix
                    bp = prv + pix
                    hw = U((h * W + w) * C)
                    pos0 = ((tp * H + h) * W + w) * C
                    recent = 0
                    for c in range(C):
                        if not encoding and cannot_end(st, data):
                            status = 1
                            break
                        cu = U(c)
                        ct = (c % g) * tpos + tp
                        i = bc + cu
                        j = bp + cu
                        le = np.int64(sig[i - U(sw)])
                        up = np.int64(sig[i - U(sh)])
                        ul = np.int64(sig[i - U(sh + sw)])
                        ur = np.int64(sig[i - U(sh - sw)])
                        c1 = np.int64(sig[i - U(1)])
                        c2 = np.int64(sig[i - U(2)])
                        p1 = np.int64(sig[j])
                        pr = np.int64(sig[j + U(sw)])
                        pd = np.int64(sig[j + U(sh)])
                        pl = np.int64(sig[j - U(sw)])
                        pu = np.int64(sig[j - U(sh)])
                        pn = np.int64(sig[j + U(1)])
                        hs = np.int64(hist[hw + cu])
                        p2 = (hs >> 1) & 1 if t2 else np.int64(0)
                        near = (le | up << 1 | ul << 2 | ur << 3 | p1 << 4 | c1 << 5 | pr << 6 | pd << 7
                                | c2 << 8 | pn << 9 | pl << 10 | pu << 11)
                        if c & 3 == 0:
                            node = 1
                            if uX:
                                line_x = off[4] + (_slot(((run & np.uint64(0xFFFF)) << np.uint64(8)) + np.uint64(c + 1), xb - 4) << 4)
                            if uY:
                                line_y = off[5] + (_slot((((run >> np.uint64(16)) & np.uint64(0xFFFF)) << np.uint64(8)) + np.uint64(c + 2), yb - 4) << 4)
                        ia = off[0] + _slot(ct * 4096 + near, ab)
                        ib = off[1] + _slot((ct * 256 + hs) * 16 + (le | up << 1 | c1 << 2 | pr << 3), bb)
                        ic = off[2] + _slot((pos0 + c) * 16 + (le | up << 1 | p1 << 2 | c1 << 3), cb)
                        iw = off[3] + _slot(ct * 4096 + recent, wb)
                        ix = line_x + node
                        iy = line_y + node
                        s0 = stretched(tabs[U(ia)]) if uA else 0
                        s1 = stretched(tabs[U(ib)]) if uB else 0
                        s2 = stretched(tabs[U(ic)]) if uC else 0
                        s3 = stretched(tabs[U(iw)]) if uW else 0
                        s4 = stretched(tabs[U(ix)]) if uX else 0
                        s5 = stretched(tabs[U(iy)]) if uY else 0
                        wi = U((tp * 16 + (p1 | up << 1 | le << 2 | p2 << 3)) * WEIGHTS)
                        dot = (np.int64(wts[wi]) * s0 + np.int64(wts[wi + U(1)]) * s1 + np.int64(wts[wi + U(2)]) * s2
                               + np.int64(wts[wi + U(3)]) * s3 + np.int64(wts[wi + U(4)]) * s4
                               + np.int64(wts[wi + U(5)]) * s5 + np.int64(wts[wi + U(6)]) * 256) >> 16
                        p = squashed(dot)
                        v = np.int64(x[t, n, c, h, w]) if encoding else 0
                        if coder:
                            bit = code_bit(st, out, data, encoding, 1 if v else 0, p)
                        else:  # keep p live, so the model is still computed
                            bit = 1 if v else 0
                            st[4] += p & 1
                        if learn:
                            err = ((bit << 12) - p) * LEARNING_RATE
                            wts[wi] = clamped_weight(np.int64(wts[wi]) + ((s0 * err) >> 16))
                            wts[wi + U(1)] = clamped_weight(np.int64(wts[wi + U(1)]) + ((s1 * err) >> 16))
                            wts[wi + U(2)] = clamped_weight(np.int64(wts[wi + U(2)]) + ((s2 * err) >> 16))
                            wts[wi + U(3)] = clamped_weight(np.int64(wts[wi + U(3)]) + ((s3 * err) >> 16))
                            wts[wi + U(4)] = clamped_weight(np.int64(wts[wi + U(4)]) + ((s4 * err) >> 16))
                            wts[wi + U(5)] = clamped_weight(np.int64(wts[wi + U(5)]) + ((s5 * err) >> 16))
                            wts[wi + U(6)] = clamped_weight(np.int64(wts[wi + U(6)]) + ((256 * err) >> 16))
                        if uA:
                            tabs[U(ia)] = updated(tabs[U(ia)], bit)
                        if uB:
                            tabs[U(ib)] = updated(tabs[U(ib)], bit)
                        if uC:
                            tabs[U(ic)] = updated(tabs[U(ic)], bit)
                        if uW:
                            tabs[U(iw)] = updated(tabs[U(iw)], bit)
                        if uX:
                            tabs[U(ix)] = updated(tabs[U(ix)], bit)
                        if uY:
                            tabs[U(iy)] = updated(tabs[U(iy)], bit)
                        hn = (hs << 1) | bit
                        hist[hw + cu] = (hn & 127) | 128 if hn >= 256 else hn
                        sig[i] = bit
                        run = (run << np.uint64(1)) | np.uint64(bit)
                        recent = ((recent << 1) | bit) & 4095
                        node = 2 * node + bit
                        if not encoding:
                            x[t, n, c, h, w] = bit
                    if status:
                        break
                if status:
                    break
            if status:
                break
        if status:
            break
    return st, status


@njit(cache=True, nogil=True)
def _encode(x, use, tbits, flags, tabs, wts, out):
    st, _ = _code(x, use, tbits, flags, tabs, wts, out, out[:0], True)
    return finish(st, out)


@njit(cache=True, nogil=True)
def _decode(data, x, use, tbits, tabs, wts):
    st, status = _code(x, use, tbits, 0, tabs, wts, np.empty(0, np.uint8), data, False)
    return status if status else (0 if ends_as_encoded(st, data) else 1)


def _fresh(models: str, tbits: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    use = np.array([m in models for m in MODELS], np.int64)
    bits = np.array(tbits, np.int64)
    wts = np.zeros(SETS * WEIGHTS, np.int32)
    wts.reshape(SETS, WEIGHTS)[:, :-1] = 19661  # 0.3 a model, bias 0: the family's start
    return use, bits, np.zeros(int(sum(1 << b for b in tbits)), np.uint32), wts


def measure(x: np.ndarray, models: str, tbits: tuple[int, ...], flags: int, rounds: int = 2) -> dict:
    """Bytes and best-of-``rounds`` speeds (M elements/s) of one variant; decoded back and
    compared when it can be (flags 0)."""
    out = np.zeros(x.size + 64, np.uint8)
    enc = dec = float("inf")
    size = 0
    for _ in range(rounds):
        use, bits, tabs, wts = _fresh(models, tbits)
        t0 = time.perf_counter()
        size = _encode(x, use, bits, flags, tabs, wts, out)
        enc = min(enc, time.perf_counter() - t0)
        if flags == 0:
            use, bits, tabs, wts = _fresh(models, tbits)
            y = np.zeros_like(x)
            t0 = time.perf_counter()
            status = _decode(out[:size].copy(), y, use, bits, tabs, wts)
            dec = min(dec, time.perf_counter() - t0)
            assert status == 0 and np.array_equal(x, y), "decoded other values"
    return {"bytes": int(size), "enc": x.size / enc / 1e6, "dec": x.size / dec / 1e6 if flags == 0 else None}


def default_speed(x: np.ndarray, rounds: int = 2) -> dict:
    """``framemix`` (the default) through the container, one chunk."""
    chunk = tuple(x.shape[:2])
    spikecodec.decode(spikecodec.encode(x[:, :1], codec="framemix"))  # load the kernels
    enc, data = best_time(lambda: spikecodec.encode(x, codec="framemix", chunk=chunk), rounds)
    dec, y = best_time(lambda: spikecodec.decode(data), rounds)
    assert np.array_equal(x, y)
    return {"bytes": len(data), "enc": x.size / enc / 1e6, "dec": x.size / dec / 1e6}


def paq_speed(x: np.ndarray, order: str, tmp: Path) -> dict:
    f = tmp / "in.bin"
    f.write_bytes(layouts(permuted(x, order), 1)["packbits"])
    r = run_paq([f], "speed", 2)[0]
    return {"enc": x.size / r["enc_s"] / 1e6, "dec": x.size / r["dec_s"] / 1e6}


def main() -> None:
    t_start = time.perf_counter()
    peers = {s["corpus"]: s for s in json.loads(PEERS.read_text())["summary"]}
    names = [p.stem for p in sorted(CORPORA.glob("*.npy")) if json.loads(p.with_suffix(".json").read_text())["bits"] == 1]
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(dir=ROOT / "runs") as tmp:
        for name in names:
            x = np.ascontiguousarray(np.load(CORPORA / f"{name}.npy"))
            row = {"paq9a_bytes": peers[name]["paq9a_bytes"], "paq9a": paq_speed(x, peers[name]["paq9a_order"], Path(tmp)),
                   "framemix": default_speed(x)}
            for label, (models, tbits, flags) in VARIANTS.items():
                row[label] = measure(x, models, tbits, flags)
            results[name] = row
            print(f"{name}: paq9a {row['paq9a']['enc']:.1f} M/s, framemix {row['framemix']['enc']:.1f}, "
                  + ", ".join(f"{k} {v['enc']:.1f}" for k, v in row.items() if k in VARIANTS), flush=True)
    OUT.write_text(markdown(results, time.perf_counter() - t_start))
    print(f"wrote {OUT}")


def markdown(results: dict[str, dict], seconds: float) -> str:
    labels = ["framemix"] + list(VARIANTS)
    out = ["# Where a mixing coder's time goes: a lean prototype (issue 25)", "",
           f"Command: `{COMMAND}`. Run {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, one thread, "
           f"{seconds / 60:.1f} min, code at {code_state()}. Method and variants: the script's docstring. "
           "The 1-bit corpora of runs/corpora, each whole in one chunk.", "",
           "## Per variant, over the corpora", "",
           "x paq9a = the smaller of encoding's and decoding's speed over paq9a's (both measured in this run); "
           "vs paq9a = bytes / paq9a's bytes (paq9a at its best axis order, peers.json); target: <= 0.900 at >= 5.0x.", "",
           "| variant | M elements/s (enc, range) | x paq9a (range) | bytes vs paq9a (range) | corpora meeting both |",
           "|---|---|---|---|---|"]
    for label in labels:
        enc = [r[label]["enc"] for r in results.values()]
        ratio = [min(r[label]["enc"], r[label]["dec"] or r[label]["enc"]) / min(r["paq9a"]["enc"], r["paq9a"]["dec"])
                 for r in results.values()]
        vs = [r[label]["bytes"] / r["paq9a_bytes"] for r in results.values()]
        decodable = all(r[label]["dec"] is not None for r in results.values())
        meets = sum(1 for a, b in zip(ratio, vs) if a >= 5 and b <= 0.9) if decodable else None
        out.append(f"| {label} | {min(enc):.1f} - {max(enc):.1f} | {min(ratio):.1f}x - {max(ratio):.1f}x"
                   f"{'' if decodable else ' (encoding)'} | "
                   + (f"{min(vs):.3f} - {max(vs):.3f}" if decodable else "(not decodable)")
                   + f" | {'-' if meets is None else f'{meets} / {len(vs)}'} |")
    out += ["", "## Per corpus", "", "Each cell: bytes vs paq9a / encoding M elements/s / decoding M elements/s.", "",
            "| corpus | paq9a M/s enc / dec | " + " | ".join(labels) + " |", "|---" * (len(labels) + 2) + "|"]
    for name, r in results.items():
        cells = []
        for label in labels:
            v = r[label]
            cells.append(f"{v['bytes'] / r['paq9a_bytes']:.3f} / {v['enc']:.1f} / {v['dec']:.1f}" if v["dec"] is not None
                         else f"- / {v['enc']:.1f} / -")
        out.append(f"| {name} | {r['paq9a']['enc']:.1f} / {r['paq9a']['dec']:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
