"""Prototype of the other design issue 5 asks to measure: a vectorised multi-pass context coder.

Not a registered codec (benchmarks/entropy_bench.py measures it beside ``context``). The chunk's
canonical (T, N, C, H, W) view is coded in passes: for each timestep t, first the elements with
(h + w) even, then those with (h + w) odd (a checkerboard), each split into blocks of N so the
model learns between passes. Within a pass nothing depends on anything else in the pass, so
contexts and probabilities are computed with numpy for the whole pass, from what earlier passes
decoded only:

* significance context (300 values): the neuron's history as in ``context`` (up to 3 steps), the number of its 8 spatial
  neighbours that fired at t-1 (class 0..3), and for the odd half the number of its 4 direct
  neighbours that fired at t (decoded in the even half; class 0..3; the even half uses class 4);
* magnitude bits (multi-bit): binary tree as in ``context``, bucket min(x[t-1], 3).

Probabilities use the ``context`` codec's blend of per-channel and shared counts, with the counts
of all earlier passes (per-pass adaptivity: no table is stored, as in ``context``). Coding is the
same exact rANS (the ``kernels.rans`` coder), a pass at a time, over the precomputed integer
probabilities, so only the coder loop is compiled; everything else is numpy per pass.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from spikecodec.codecs.kernels import rans

N_BLOCKS = 8  # passes per (t, half): more passes learn faster but cost numpy calls per pass
KS = 300  # 15 history patterns x 4 neighbour classes x 5 spatial classes


@njit(cache=True)
def _decode_pass(words, pos, state, q, out):
    """Decode ``q.size`` decisions into ``out`` continuing from (pos, state); returns them."""
    for i in range(q.size):
        s, state = rans.decode_bit(state, q[i])
        if state < np.uint64(rans.LOW) and pos > 0:
            pos -= 1
            state = (state << np.uint64(32)) | np.uint64(words[pos])
        out[i] = s
    return pos, state


def _blend(c1, cn, g1, gn) -> np.ndarray:
    """FORMAT.md 9.4.2's probability, vectorised (int64 arrays in, q = P(1) * 2**24 out)."""
    qg = ((2 * g1 + 1) << 24) // (2 * gn + 2)
    return np.clip(((c1 << 24) + 4 * qg) // (cn + 4), 1, (1 << 24) - 1).astype(np.uint32)


class _Model:
    """Per-chunk counts (per channel x context, and shared per context) and the pass geometry."""

    def __init__(self, shape5: tuple[int, ...], bits: int):
        T, N, C, H, W = shape5
        self.shape, self.bits = shape5, bits
        self.sig = np.zeros((2, C, KS), np.int64)  # (ones, total) per channel and context
        self.nm = 4 << bits
        self.mag = np.zeros((2, C, self.nm), np.int64)
        hh, ww = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
        self.half = [np.flatnonzero((hh + ww).ravel() % 2 == p) for p in (0, 1)]
        edges = np.linspace(0, N, min(N_BLOCKS, N) + 1).astype(int)
        self.blocks = [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]

    def passes(self):
        T = self.shape[0]
        for t in range(T):
            for p in (0, 1):
                for a, b in self.blocks:
                    yield t, p, a, b

    def step_features(self, x: np.ndarray, t: int) -> np.ndarray:
        """(hist * 4 + nb) * 5 for every element at step t (depends on steps < t only)."""
        T, N, C, H, W = self.shape
        if t == 0:
            return np.zeros((N, C, H * W), np.int64)
        s1 = x[t - 1] > 0
        hist = (1 << min(t, 3)) - 1 + sum((x[t - d] > 0).astype(np.int64) << (d - 1) for d in range(1, min(t, 3) + 1))
        pad = np.pad(s1, ((0, 0), (0, 0), (1, 1), (1, 1))).astype(np.uint8)
        cnt = sum(pad[:, :, 1 + dh : 1 + dh + H, 1 + dw : 1 + dw + W] for dh in (-1, 0, 1) for dw in (-1, 0, 1) if dh or dw)
        nb = (cnt > 0).astype(np.int64) + (cnt > 2) + (cnt > 5)  # uint8 sums: no overflow (<= 8)
        return ((hist * 4 + nb) * 5).reshape(N, C, H * W)

    def spatial_class(self, x: np.ndarray, t: int) -> np.ndarray:
        """Direct neighbours fired at t among the even half (decoded first), capped at 3."""
        T, N, C, H, W = self.shape
        s = np.pad(x[t] > 0, ((0, 0), (0, 0), (1, 1), (1, 1))).astype(np.uint8)
        cnt = s[:, :, :-2, 1:-1] + s[:, :, 2:, 1:-1] + s[:, :, 1:-1, :-2] + s[:, :, 1:-1, 2:]
        return np.minimum(cnt, 3).astype(np.int64).reshape(N, C, H * W)

    def sig_q(self, k: np.ndarray) -> np.ndarray:
        """q of significance decisions with contexts ``k`` of shape (n, C, P): the whole
        (channel, context) table is computed once per pass, then gathered."""
        one, tot = self.sig
        table = _blend(one, tot, one.sum(0), tot.sum(0))
        return table[np.arange(k.shape[1])[None, :, None], k].ravel()

    def count_sig(self, k: np.ndarray, s: np.ndarray) -> None:
        C = k.shape[1]
        idx = (np.arange(C)[None, :, None] * KS + k).ravel()
        self.sig[0] += np.bincount(idx[s.ravel() != 0], minlength=C * KS).reshape(C, KS)
        self.sig[1] += np.bincount(idx, minlength=C * KS).reshape(C, KS)

    def mag_q(self, ch: np.ndarray, kk: np.ndarray) -> np.ndarray:
        one, tot = self.mag
        return _blend(one[ch, kk], tot[ch, kk], one.sum(0)[kk], tot.sum(0)[kk])

    def count_mag(self, ch: np.ndarray, kk: np.ndarray, bit: np.ndarray) -> None:
        C = self.mag.shape[1]
        idx = ch * self.nm + kk
        self.mag[0] += np.bincount(idx, weights=bit, minlength=C * self.nm).astype(np.int64).reshape(C, self.nm)
        self.mag[1] += np.bincount(idx, minlength=C * self.nm).reshape(C, self.nm)


def _pass_contexts(model: _Model, x: np.ndarray, feats: np.ndarray, spc, t: int, p: int, a: int, b: int):
    pos = model.half[p]
    k = feats[a:b][:, :, pos] + (4 if p == 0 else spc[a:b][:, :, pos])
    return pos, k


def encode(x5: np.ndarray, bits: int) -> bytes:
    """Payload: the rANS words of all passes' decisions (significance, then magnitude bits)."""
    T, N, C, H, W = x5.shape
    m = _Model(x5.shape, bits)
    flat = x5.reshape(T, N, C, H * W)
    dbits, dq = [], []
    feats = spc = None
    for t, p, a, b in m.passes():
        if p == 0 and a == 0:
            feats = m.step_features(x5, t)
            spc = m.spatial_class(x5, t)  # the encoder knows the even half already
        pos, k = _pass_contexts(m, x5, feats, spc, t, p, a, b)
        v = flat[t, a:b][:, :, pos]
        s = (v > 0).astype(np.uint8)
        dbits.append(s.ravel())
        dq.append(m.sig_q(k))
        m.count_sig(k, s)
        if bits > 1:
            _mag_passes(m, x5, t, a, pos, v, dbits, dq)
    d = np.concatenate(dbits)
    return rans.encode_decisions(d, np.concatenate(dq)).astype("<u4").tobytes()


def _mag_passes(m: _Model, x5, t, a, pos, v, dbits=None, dq=None, dec=None):
    """Magnitude bit-planes of the nonzero elements of one pass (encode, or decode via ``dec``)."""
    bits = m.bits
    n_i, c_i, p_i = np.nonzero(v)
    prev = np.minimum(x5[t - 1, a + n_i, c_i].reshape(-1, x5.shape[3] * x5.shape[4])[np.arange(n_i.size), pos[p_i]], 3) if t else np.zeros(n_i.size, np.int64)
    base = prev.astype(np.int64) << bits
    node = np.ones(n_i.size, np.int64)
    mval = v[n_i, c_i, p_i].astype(np.int64) - 1 if dec is None else None
    for j in range(bits - 1, -1, -1):
        q = m.mag_q(c_i, base + node)
        if dec is None:
            bit = (mval >> j) & 1
            dbits.append(bit.astype(np.uint8))
            dq.append(q)
        else:
            bit = dec(q).astype(np.int64)
        m.count_mag(c_i, base + node, bit)
        node = 2 * node + bit
    return n_i, c_i, p_i, node - (1 << bits) + 1


def decode(data: bytes, shape5: tuple[int, ...], bits: int) -> np.ndarray:
    T, N, C, H, W = shape5
    words = np.frombuffer(data, "<u4").astype(np.uint32)
    state, pos_w = rans.start(words)
    if pos_w < 0:
        raise ValueError("multipass: corrupt stream")
    coder = [pos_w, np.uint64(state)]  # numba returns plain ints: keep the state unsigned

    def dec(q: np.ndarray) -> np.ndarray:
        out = np.empty(q.size, np.uint8)
        pos_w, state = _decode_pass(words, coder[0], coder[1], q, out)
        coder[0], coder[1] = pos_w, np.uint64(state)
        return out

    m = _Model(shape5, bits)
    x5 = np.zeros(shape5, np.uint8)
    flat = x5.reshape(T, N, C, H * W)
    feats = spc = None
    for t, p, a, b in m.passes():
        if p == 0 and a == 0:
            feats = m.step_features(x5, t)
        if p == 1 and a == m.blocks[0][0]:
            spc = m.spatial_class(x5, t)  # the even half of step t is decoded now
        pos, k = _pass_contexts(m, x5, feats, spc, t, p, a, b)
        s = dec(m.sig_q(k)).reshape(k.shape)
        m.count_sig(k, s)
        blk = flat[t, a:b]
        blk[:, :, pos] = s
        if bits > 1:
            n_i, c_i, p_i, val = _mag_passes(m, x5, t, a, pos, blk[:, :, pos], dec=dec)
            blk[n_i, c_i, pos[p_i]] = val
    if coder[0] != 0 or coder[1] != 0:
        raise ValueError("multipass: corrupt stream")
    return x5
