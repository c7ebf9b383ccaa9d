"""Compiled (numba) loops of the ``winmix`` codec (FORMAT.md 9.4.11): ``mix``'s models (9.4.10)
less D, with three *window* models of the last significances coded, and one mixer shared by
every channel.

Why (benchmarks/results/mix_design.md section 7): ``mix`` keys every table and weight set by
(channel group, t), so each step and channel learns alone; on a layer of many channels at few
pixels (a MobileNetV2's last 1x1 convolution) that left it 44% larger than paq9a, whose contexts
are strings of recent bits seen across all steps and channels. Here:

* W, *recent channels*: (channel group, t) x the significances of the last 12 channels coded at
  this pixel (c-1 .. c-12; 0 before channel 0), a direct table;
* X and Y, *running windows*: (16 bits of the last 64 significances coded in the chunk, in
  coding order across pixels, steps and samples; the channel) - bits 0..15 for X, 16..31 for Y -
  hashed into 2**20 states each and read in lines of 16, one line per 4 channels as E's;
* one set of mixer weights chosen by (t, X's confidence, own t-1, t-2, up, left), shared by all
  channels; its learning rate starts high and decays with the decisions coded.

A, B, C, E, F and G, the history, the significance planes and the coder are ``mix``'s
(:mod:`.mix`), with channel groups up to 256 instead of 64.

The same loop codes ``countmix`` (FORMAT.md 9.4.13; :mod:`.countmix` passes ``values=True``):
two more tables, H and I, for the level and escape decisions, keyed by neighbours' values; and
``chanmix`` (FORMAT.md 9.4.14; :mod:`.chanmix` passes ``values=True, chan=True``): countmix with
E's lines keyed by a third window of the run (bits 32..47) instead of the pixel pair, and a
second significance weight set per channel (and the two channels before it) averaged with the
shared one, as ``ctxmix`` averages two (benchmarks/results/winmix_ablation.md); and ``framemix``
(FORMAT.md 9.4.15; :mod:`.framemix` passes ``frame=True`` too): chanmix with two more significance
models in both sets, P (the previous sample of the chunk) and L (a neuron's last 15 steps).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .binary import (cannot_end, clamped_weight, code_bit, ends_as_encoded, finish, journal_entries, squashed, start, stretched,
                     undo_journal, updated)
from .mix import (
    HASH_MUL,
    LEARNING_RATE,
    MAG_INIT,
    MAG_MODELS,
    SIG_INIT,
    TABLE_CAP_BITS,
    TPOS,
    _mag_decide,
    _slot,
    _val3,
    abc_slots,
    neighbourhood,
    next_here,
    pair_line,
    hash_bits,
    mag_nodes,
)
from .ops import U, prefetch

GROUPS_CAP = 256  # channel groups: c mod min(C, 256) (tables A, B, F, W stay within 2**22)
RECENT = 12  # channels of model W's window
RUN_BITS = 20  # log2 of the entries of tables X and Y
SIG_MODELS = 7  # A, B, C, E, W, X, Y
SETS_PER_STEP = 64  # significance weight sets per t: X's confidence (4) x own t-1, t-2, up, left
RATE_BASE = 14  # the mixer's learning rate: RATE_BASE + RATE_EXTRA 2**20 / (2**20 + d) ...
RATE_EXTRA = 28
FAR_STATES = 1 << 19  # states of tables A and B (4 bytes each) from which their reads are prefetched
RATE_EVERY = 1024  # ... recomputed each time d, the significance decisions coded, is a multiple of this
VALUE_MODELS = 2  # countmix (FORMAT.md 9.4.13): H and I, level and escape models of neighbours' values
VALUE_CAP = 7  # ... each value read up to 7
CHANNEL_SETS = 4  # chanmix (FORMAT.md 9.4.14): significance sets per channel group, by c-1, c-2
FRAME_MODELS = 2  # framemix (FORMAT.md 9.4.15): P, the previous sample, and L, the long history
PREV_KEYS = 4096  # P's keys, shared by every channel and step
AGREE_CAP = 31  # P's run of decisions that repeated the sample before, counted up to this
LONG_BITS = 22  # log2 of L's states (hashed)
LONG_STEPS = 15  # L's history: a neuron's last 15 significances in its sample

__all__ = ["TPOS", "context_counts", "decode_into", "encode", "initial_weights", "table_sizes",
           "weight_count"]  # the interface every context-mixing kernel module offers (codecs/ctxmix.py)


@njit(cache=True, nogil=True)
def groups(C):
    return max(1, min(C, GROUPS_CAP))


@njit(cache=True, nogil=True)
def model_contexts(T, C, H, W, bits, values):
    """Contexts of each table, in order A, B, C, E (significance), F, G (magnitude), W, X, Y
    (significance), then with ``values`` (countmix) H, I (magnitude); E, X and Y are always
    hashed (given as -1)."""
    tp = min(T, TPOS)
    g = groups(C)
    nn = mag_nodes(bits)
    pc = tp * C * H * W
    k = np.array([g * tp * 4096, g * tp * 4096, pc * 16, -1, g * tp * nn * 256, pc * nn * 4, g * tp << RECENT, -1, -1,
                  g * tp * nn * 64, nn * 512], np.int64)
    return k if values else k[:9].copy()


@njit(cache=True, nogil=True)
def model_sizes(T, C, H, W, bits, values):
    """Entries of each table: its context count up to its cap (2**22 for A, B, F, H; 2**hash_bits
    for C, G); E 2**hash_bits; W its count (at most 256 x 4 x 4096 = 2**22); X and Y 2**20; I its
    count (at most 257 x 512). E's, X's and Y's lines of 16 states start at multiples of 16."""
    k = model_contexts(T, C, H, W, bits, values)
    hb = 1 << hash_bits(T, C, H, W)
    cap = 1 << TABLE_CAP_BITS
    run = 1 << RUN_BITS
    z = np.array([min(k[0], cap), min(k[1], cap), min(k[2], hb), hb, min(k[4], cap), min(k[5], hb), k[6], run, run,
                  0, 0], np.int64)
    if not values:
        return z[:9].copy()
    z[9] = min(k[9], cap)
    z[10] = k[10]
    return z


@njit(cache=True, nogil=True)
def mag_set_size(values):
    """Weights of a magnitude set: F, G (and H, I with ``values``), then the bias."""
    return MAG_MODELS + (VALUE_MODELS if values else 0) + 1


@njit(cache=True, nogil=True)
def sig_set_size(frame):
    """Weights of a significance (or channel) set: A, B, C, E, W, X, Y (and P, L with
    ``frame``), then the bias."""
    return SIG_MODELS + (FRAME_MODELS if frame else 0) + 1


def model_weights(T: int, C: int, H: int, W: int, bits: int, values: bool, chan: bool = False, frame: bool = False) -> int:
    """Significance sets (t x 64) x (7 models, 9 with ``frame``, + bias), magnitude sets (nodes
    x 4) x (2 models, 4 with ``values``, + bias), then with ``chan`` the channel sets (groups x
    4) of the significance sets' size."""
    size = int(sig_set_size(frame))
    channel = int(groups(C)) * CHANNEL_SETS * size if chan else 0
    return min(T, TPOS) * SETS_PER_STEP * size + int(mag_nodes(bits)) * 4 * int(mag_set_size(values)) + channel


def first_weights(T: int, C: int, H: int, W: int, bits: int, values: bool, chan: bool = False,
                  frame: bool = False) -> np.ndarray:
    """Each model input weighs SIG_INIT (significance, channel sets too) or MAG_INIT
    (magnitude), each bias 0."""
    w = np.zeros(model_weights(T, C, H, W, bits, values, chan, frame), np.int32)
    sig = int(sig_set_size(frame))
    nsig = min(T, TPOS) * SETS_PER_STEP * sig
    size = int(mag_set_size(values))
    nmag = int(mag_nodes(bits)) * 4 * size
    w[:nsig].reshape(-1, sig)[:, : sig - 1] = SIG_INIT
    w[nsig : nsig + nmag].reshape(-1, size)[:, : size - 1] = MAG_INIT
    w[nsig + nmag :].reshape(-1, sig)[:, : sig - 1] = SIG_INIT
    return w


@njit(cache=True, nogil=True)
def frame_sizes(T, C):
    """framemix's two tables after countmix's eleven: P (PREV_KEYS, direct) and L (2**LONG_BITS,
    hashed)."""
    return np.array([PREV_KEYS, 1 << LONG_BITS], np.int64)


@njit(cache=True, nogil=True)
def context_counts(T, C, H, W, bits):
    """winmix's contexts of each table (:func:`model_contexts`)."""
    return model_contexts(T, C, H, W, bits, False)


@njit(cache=True, nogil=True)
def table_sizes(T, C, H, W, bits):
    """winmix's entries of each table (:func:`model_sizes`)."""
    return model_sizes(T, C, H, W, bits, False)


def weight_count(T: int, C: int, H: int, W: int, bits: int) -> int:
    """winmix's weights (:func:`model_weights`)."""
    return model_weights(T, C, H, W, bits, False)


def initial_weights(T: int, C: int, H: int, W: int, bits: int) -> np.ndarray:
    """winmix's initial weights (:func:`first_weights`)."""
    return first_weights(T, C, H, W, bits, False)


@njit(inline="always", cache=True)
def _run_line(run, lo, c, salt, offset):
    """The line of 16 states of a running-window table at ``offset``: 16 bits of ``run`` from bit
    ``lo``, with the channel, hashed into 2**RUN_BITS / 16 lines."""
    key = ((run >> np.uint64(lo)) & np.uint64(0xFFFF)) * np.uint64(256) + np.uint64(c) + np.uint64(salt)
    return offset + (np.int64((key * HASH_MUL) >> np.uint64(64 - RUN_BITS + 4)) << 4)


@njit(inline="always", cache=True)
def _far_line(run, shift, c, offset):
    """chanmix's line of 16 states of table E at ``offset`` (2**(64 - shift) states): bits 32..47
    of ``run``, with the channel, hashed as :func:`_run_line`."""
    key = ((run >> np.uint64(32)) & np.uint64(0xFFFF)) * np.uint64(256) + np.uint64(c) + np.uint64(3)
    return offset + (np.int64((key * HASH_MUL) >> np.uint64(shift + 4)) << 4)


@njit(inline="always", cache=True)
def _set_sum(wts, w, sa, sb, sc, se, sv, sx, sy, sp, sl, frame):
    """A significance weight set's sum at ``w`` (7 models, with ``frame`` P and L, then the
    bias), before the shift."""
    d = (np.int64(wts[w]) * sa + np.int64(wts[w + U(1)]) * sb + np.int64(wts[w + U(2)]) * sc
         + np.int64(wts[w + U(3)]) * se + np.int64(wts[w + U(4)]) * sv + np.int64(wts[w + U(5)]) * sx
         + np.int64(wts[w + U(6)]) * sy)
    if frame:
        return d + np.int64(wts[w + U(7)]) * sp + np.int64(wts[w + U(8)]) * sl + np.int64(wts[w + U(9)]) * 256
    return d + np.int64(wts[w + U(7)]) * 256


@njit(inline="always", cache=True)
def _train_set(wts, w, sa, sb, sc, se, sv, sx, sy, sp, sl, frame, err):
    """Every weight of the significance set at ``w`` moved by ``err`` (each clamped)."""
    wts[w] = clamped_weight(np.int64(wts[w]) + ((sa * err) >> 16))
    wts[w + U(1)] = clamped_weight(np.int64(wts[w + U(1)]) + ((sb * err) >> 16))
    wts[w + U(2)] = clamped_weight(np.int64(wts[w + U(2)]) + ((sc * err) >> 16))
    wts[w + U(3)] = clamped_weight(np.int64(wts[w + U(3)]) + ((se * err) >> 16))
    wts[w + U(4)] = clamped_weight(np.int64(wts[w + U(4)]) + ((sv * err) >> 16))
    wts[w + U(5)] = clamped_weight(np.int64(wts[w + U(5)]) + ((sx * err) >> 16))
    wts[w + U(6)] = clamped_weight(np.int64(wts[w + U(6)]) + ((sy * err) >> 16))
    if frame:
        wts[w + U(7)] = clamped_weight(np.int64(wts[w + U(7)]) + ((sp * err) >> 16))
        wts[w + U(8)] = clamped_weight(np.int64(wts[w + U(8)]) + ((sl * err) >> 16))
        wts[w + U(9)] = clamped_weight(np.int64(wts[w + U(9)]) + ((256 * err) >> 16))
    else:
        wts[w + U(7)] = clamped_weight(np.int64(wts[w + U(7)]) + ((256 * err) >> 16))


@njit(inline="always", cache=True)
def _confidence(state):
    """0 .. 3 from a state's count: unseen, under 3, under 12, more."""
    n = np.int64(state) & 1023
    return 0 if n == 0 else (1 if n < 3 else (2 if n < 12 else 3))


@njit(inline="always", cache=True)
def _value(x, t, n, c, h, w, inside):
    """min(x[t, n, c, h, w], VALUE_CAP) when ``inside``, else 0."""
    return min(np.int64(x[t, n, c, h, w]), VALUE_CAP) if inside else np.int64(0)


@njit(inline="always", cache=True)
def _mag_decide4(st, out, data, encoding, bit, tabs, wts, i0, i1, i2, i3, wm, journal, jidx, jval, jn):
    """:func:`.mix._mag_decide` with four tables (countmix's F, G, H, I)."""
    s0 = stretched(tabs[i0])
    s1 = stretched(tabs[i1])
    s2 = stretched(tabs[i2])
    s3 = stretched(tabs[i3])
    p = squashed((np.int64(wts[wm]) * s0 + np.int64(wts[wm + 1]) * s1 + np.int64(wts[wm + 2]) * s2
                  + np.int64(wts[wm + 3]) * s3 + np.int64(wts[wm + 4]) * 256) >> 16)
    bit = code_bit(st, out, data, encoding, bit, p)
    err = ((bit << 12) - p) * LEARNING_RATE
    wts[wm] = clamped_weight(np.int64(wts[wm]) + ((s0 * err) >> 16))
    wts[wm + 1] = clamped_weight(np.int64(wts[wm + 1]) + ((s1 * err) >> 16))
    wts[wm + 2] = clamped_weight(np.int64(wts[wm + 2]) + ((s2 * err) >> 16))
    wts[wm + 3] = clamped_weight(np.int64(wts[wm + 3]) + ((s3 * err) >> 16))
    wts[wm + 4] = clamped_weight(np.int64(wts[wm + 4]) + ((256 * err) >> 16))
    if journal:
        jj = jn[0]
        jidx[jj] = i0
        jval[jj] = tabs[i0]
        jidx[jj + 1] = i1
        jval[jj + 1] = tabs[i1]
        jidx[jj + 2] = i2
        jval[jj + 2] = tabs[i2]
        jidx[jj + 3] = i3
        jval[jj + 3] = tabs[i3]
        jn[0] = jj + 4
    tabs[i0] = updated(tabs[i0], bit)
    tabs[i1] = updated(tabs[i1], bit)
    tabs[i2] = updated(tabs[i2], bit)
    tabs[i3] = updated(tabs[i3], bit)
    return bit


@njit(inline="always", cache=True)
def _magnitude(st, out, data, encoding, bit, tabs, wts, node, ct, nn, near, pos, v1, key_h, key_i, sh4, sh5, sh9, offs,
               mag_w0, mag_size, values, journal, jidx, jval, jn):
    """The level or escape decision at ``node`` (FORMAT.md 9.4.10: F and G; 9.4.13: and H, I
    with ``values``). Returns the bit."""
    i_f = _slot((ct * nn + node) * 256 + near, sh4, offs[4])
    i_g = _slot((pos * nn + node) * 4 + v1, sh5, offs[5])
    wm = mag_w0 + (node * 4 + v1) * mag_size
    if values:
        return _mag_decide4(st, out, data, encoding, bit, tabs, wts, i_f, i_g, _slot((ct * nn + node) * 64 + key_h, sh9, offs[9]),
                            offs[10] + node * 512 + key_i, wm, journal, jidx, jval, jn)
    return _mag_decide(st, out, data, encoding, bit, tabs, wts, i_f, i_g, wm, journal, jidx, jval, jn)


@njit(cache=True, nogil=True)
def _code(x, bits, tabs, wts, out, data, encoding, journal, values, chan, frame):
    """Code the canonical (T, N, C, H, W) uint8 array ``x``: read from it when ``encoding``
    (bytes to ``out``), else decoded from ``data`` into it. ``tabs`` / ``wts`` are the model
    state, updated in place (table writes undone at the end with ``journal``). ``values``:
    countmix's models H and I for the level and escape decisions; ``chan``: chanmix's window E
    and channel sets; ``frame``: framemix's models P and L (tables after the eleven). Returns
    (coder state, status):
    status 0 ok, 2 a decoded value above 2**bits - 1."""
    T, N, C, H, W = x.shape
    tpos = min(T, TPOS)
    g = groups(C)
    nn = mag_nodes(bits)
    top = (1 << bits) - 1
    counts = model_contexts(T, C, H, W, bits, values)
    sizes = model_sizes(T, C, H, W, bits, values)
    offs = np.zeros(12, np.int64)
    for m in range(sizes.size):
        offs[m + 1] = offs[m] + sizes[m]
    mag_size = mag_set_size(values)
    shifts = np.zeros(6, np.int64)  # 0: indexed directly; else 64 - log2(entries): hashed
    for m in range(6):
        if counts[m] != sizes[m]:
            shifts[m] = 64 - (TABLE_CAP_BITS if m in (0, 1, 4) else hash_bits(T, C, H, W))
    sh0, sh1, sh2, sh3, sh4, sh5 = shifts[0], shifts[1], shifts[2], shifts[3], shifts[4], shifts[5]  # A, B, C, E, F, G
    sh9 = 64 - TABLE_CAP_BITS if values and counts[9] != sizes[9] else 0  # H, hashed for 8-bit counts of G TP >= 256
    o0, o1, o2, o3, o6, o7, o8 = offs[0], offs[1], offs[2], offs[3], offs[6], offs[7], offs[8]
    sig_size = sig_set_size(frame)
    mag_w0 = tpos * SETS_PER_STEP * sig_size
    chan_w0 = mag_w0 + nn * 4 * mag_size  # chanmix's channel sets follow the magnitude sets
    o_p = offs[sizes.size]  # framemix's P and L follow the eleven tables
    o_l = o_p + PREV_KEYS
    far = offs[2] > FAR_STATES  # tables A and B past what a core's cache holds: prefetch them
    # Significance of this step and the step before, channels last and zero-padded, as in mix.
    sw = C + 3
    sh = (W + 2) * sw
    plane = (H + 2) * sh
    sig = np.zeros(2 * plane, np.uint8)
    hist = np.ones(H * W * C, np.uint8)  # one sample's: 1, then the last min(t, 7) significances
    long = np.ones(H * W * C if frame else 0, np.int32)  # framemix's: 1, then the last min(t, 15)
    agree = 0  # framemix's: the sample's last decisions that repeated the sample before, up to AGREE_CAP
    jcap = journal_entries(x.size, bits, sig_size - 1, mag_size - 1) if journal else 0
    jidx = np.empty(jcap, np.int64)
    jval = np.empty(jcap, np.uint32)
    jn = np.zeros(1, np.int64)  # journal entries written
    st = start(data, encoding)
    line_e = 0
    line_x = 0
    line_y = 0
    group_node = 1
    here = np.uint64(0)
    run = np.uint64(0)  # the last 64 significances coded in this chunk, the last lowest
    decided = 0  # significance decisions coded in this chunk
    rate = RATE_BASE + RATE_EXTRA
    status = 0
    wc = U(0)  # chanmix's channel set of the decision
    for n in range(N):
        hist[:] = 1
        long[:] = 1
        agree = 0
        sig[:] = 0
        for t in range(T):
            tp = min(t, tpos - 1)
            cur = U((t & 1) * plane)
            prv = U(((t + 1) & 1) * plane)
            t1 = t > 0
            t2 = t > 1
            for h in range(H):
                for w in range(W):
                    has_l = w > 0
                    has_u = h > 0
                    left_vector = here if has_l else np.uint64(0)  # the left pixel's whole vector
                    here = np.uint64(0)
                    recent = 0  # the last RECENT significances at this pixel, the last lowest
                    pix = U((h + 1) * sh + (w + 1) * sw + 2)
                    bc = cur + pix  # this step's channel 0 at this pixel
                    bp = prv + pix
                    hw = U((h * W + w) * C)
                    pos0 = ((tp * H + h) * W + w) * C
                    cg = g - 1  # c mod g, counted: no division an element
                    for c in range(C):
                        if not encoding and cannot_end(st, data):  # before each element (FORMAT.md 9.4.9, 9.4.11)
                            status = 1
                            break
                        cu = U(c)
                        cg = cg + 1 if cg + 1 < g else 0
                        cgn = cg + 1 if cg + 1 < g else 0  # the next channel's
                        ct = cg * tpos + tp
                        i = bc + cu
                        j = bp + cu
                        near, le, up, c1, c2, p1, pr = neighbourhood(sig, i, j, sw, sh)
                        hs = np.int64(hist[hw + cu])
                        p2 = (hs >> 1) & 1 if t2 else np.int64(0)
                        pos = pos0 + c
                        ia, ib, ic = abc_slots(ct, hs, pos, near, le, up, c1, p1, pr, sh0, sh1, sh2, o0, o1, o2)
                        if c & 3 == 0:
                            # A group of 4 channels shares one line of 16 states per model: its
                            # start's context picks the line, the group's bits so far the state.
                            line_e = _far_line(run, sh3, c, o3) if chan else pair_line(left_vector, here, ct, sh3, o3)
                            line_x = _run_line(run, 0, c, 1, o7)
                            line_y = _run_line(run, 16, c, 2, o8)
                            group_node = 1
                        elif c & 3 == 3 and c + 1 < C:
                            # The next group's lines of E, X and Y for either value of this
                            # decision (Y's does not depend on it), fetched while it is coded:
                            # otherwise their cache misses (tables of 2**20 states and more, read
                            # at random) lie on the serial chain between decisions.
                            ctn = cgn * tpos + tp
                            for b in range(2):
                                if not chan:
                                    prefetch(tabs, U(pair_line(left_vector, next_here(here, b), ctn, sh3, o3)))
                                prefetch(tabs, U(_run_line((run << np.uint64(1)) | np.uint64(b), 0, c + 1, 1, o7)))
                            prefetch(tabs, U(_run_line(run << np.uint64(1), 16, c + 1, 2, o8)))
                            if chan:  # chanmix's E: bits 32..47 after this decision, known now
                                prefetch(tabs, U(_far_line(run << np.uint64(1), sh3, c + 1, o3)))
                        if far and c + 1 < C:
                            # Tables A, B and W of the next channel for either value of this
                            # decision, fetched while it is coded: read at random, they outgrow
                            # the caches on many channels. Only bit 5 of A's context (c1) and W's
                            # last bit depend on the decision; B's two states share a line.
                            ctn = cgn * tpos + tp
                            k = i + U(1)
                            m = j + U(1)
                            near_n = (np.int64(sig[k - U(sw)]) | np.int64(sig[k - U(sh)]) << 1 | np.int64(sig[k - U(sh + sw)]) << 2
                                      | np.int64(sig[k - U(sh - sw)]) << 3 | np.int64(sig[m]) << 4 | np.int64(sig[m + U(sw)]) << 6
                                      | np.int64(sig[m + U(sh)]) << 7 | c1 << 8 | np.int64(sig[m + U(1)]) << 9
                                      | np.int64(sig[m - U(sw)]) << 10 | np.int64(sig[m - U(sh)]) << 11)
                            prefetch(tabs, U(_slot(ctn * 4096 + near_n, sh0, o0)))
                            prefetch(tabs, U(_slot(ctn * 4096 + (near_n | 32), sh0, o0)))
                            prefetch(tabs, U(_slot((ctn * 256 + np.int64(hist[hw + cu + U(1)])) * 16
                                                   + (np.int64(sig[k - U(sw)]) | np.int64(sig[k - U(sh)]) << 1), sh1, o1)))
                            prefetch(tabs, U(o6 + (ctn << RECENT) + ((recent << 1) & ((1 << RECENT) - 1))))
                        ie = line_e + group_node
                        iw = o6 + (ct << RECENT) + recent
                        ip = U(0)
                        il = U(0)
                        q0 = np.int64(0)
                        if frame:
                            # P: the previous sample of the chunk at this element and its four plane
                            # neighbours (repeated and slowly changing samples), with this one's le,
                            # up, p1, c1 and how long a run of decisions has repeated the sample
                            # before (as a match model's length: whether this sample is a copy), one
                            # table for every channel and step (it learns faster than one a channel
                            # group and step: framemix_study.md); L: the neuron's last 15 steps
                            # (B's history holds 7).
                            pk = le << 5 | up << 6 | p1 << 7 | c1 << 8
                            if n > 0:
                                q0 = np.int64(x[t, n - 1, c, h, w] > 0)
                                pk |= (512 | q0 | (0 if agree == 0 else 1024 if agree < 4 else 2048 if agree < 16 else 3072)
                                       | (np.int64(x[t, n - 1, c, h, w + 1] > 0) << 1 if w + 1 < W else 0)
                                       | (np.int64(x[t, n - 1, c, h + 1, w] > 0) << 2 if h + 1 < H else 0)
                                       | (np.int64(x[t, n - 1, c, h, w - 1] > 0) << 3 if has_l else 0)
                                       | (np.int64(x[t, n - 1, c, h - 1, w] > 0) << 4 if has_u else 0))
                            ip = U(o_p + pk)
                            il = U(_slot((ct << 16) + np.int64(long[hw + cu]), 64 - LONG_BITS, o_l))
                            if c + 1 < C:  # the next channel's state of L (hashed in 2**22: read at random), known now
                                prefetch(tabs, U(_slot(((cgn * tpos + tp) << 16) + np.int64(long[hw + cu + U(1)]), 64 - LONG_BITS, o_l)))
                        ix = line_x + group_node
                        iy = line_y + group_node
                        va = tabs[U(ia)]
                        vb = tabs[U(ib)]
                        vc = tabs[U(ic)]
                        ve = tabs[U(ie)]
                        vw = tabs[U(iw)]
                        vx = tabs[U(ix)]
                        vy = tabs[U(iy)]
                        vp = tabs[ip] if frame else np.uint32(0)  # not read for the other codecs
                        vl = tabs[il] if frame else np.uint32(0)
                        sa = stretched(va)
                        sb = stretched(vb)
                        sc = stretched(vc)
                        se = stretched(ve)
                        sv = stretched(vw)
                        sx = stretched(vx)
                        sy = stretched(vy)
                        sp = stretched(vp) if frame else np.int64(0)
                        sl = stretched(vl) if frame else np.int64(0)
                        wi = U((tp * SETS_PER_STEP + _confidence(vx) * 16 + (p1 | up << 1 | le << 2 | p2 << 3)) * sig_size)
                        dot = _set_sum(wts, wi, sa, sb, sc, se, sv, sx, sy, sp, sl, frame)
                        if chan:  # the channel's set, averaged with the shared one (as ctxmix's two sets)
                            wc = U(chan_w0 + (cg * CHANNEL_SETS + (c1 | c2 << 1)) * sig_size)
                            dot = (dot + _set_sum(wts, wc, sa, sb, sc, se, sv, sx, sy, sp, sl, frame)) >> 1
                        p = squashed(dot >> 16)
                        v = np.int64(x[t, n, c, h, w]) if encoding else 0
                        bit = code_bit(st, out, data, encoding, 1 if v else 0, p)
                        err = ((bit << 12) - p) * rate
                        _train_set(wts, wi, sa, sb, sc, se, sv, sx, sy, sp, sl, frame, err)
                        if chan:
                            _train_set(wts, wc, sa, sb, sc, se, sv, sx, sy, sp, sl, frame, err)
                        if journal:
                            jj = jn[0]
                            jidx[jj] = ia
                            jval[jj] = va
                            jidx[jj + 1] = ib
                            jval[jj + 1] = vb
                            jidx[jj + 2] = ic
                            jval[jj + 2] = vc
                            jidx[jj + 3] = ie
                            jval[jj + 3] = ve
                            jidx[jj + 4] = iw
                            jval[jj + 4] = vw
                            jidx[jj + 5] = ix
                            jval[jj + 5] = vx
                            jidx[jj + 6] = iy
                            jval[jj + 6] = vy
                            jn[0] = jj + 7
                            if frame:
                                jidx[jj + 7] = ip
                                jval[jj + 7] = vp
                                jidx[jj + 8] = il
                                jval[jj + 8] = vl
                                jn[0] = jj + 9
                        tabs[U(ia)] = updated(va, bit)
                        tabs[U(ib)] = updated(vb, bit)
                        tabs[U(ic)] = updated(vc, bit)
                        tabs[U(ie)] = updated(ve, bit)
                        tabs[U(iw)] = updated(vw, bit)
                        tabs[U(ix)] = updated(vx, bit)
                        tabs[U(iy)] = updated(vy, bit)
                        if frame:
                            tabs[ip] = updated(vp, bit)
                            tabs[il] = updated(vl, bit)
                            ln = (np.int64(long[hw + cu]) << 1) | bit
                            long[hw + cu] = (ln & ((1 << LONG_STEPS) - 1)) | (1 << LONG_STEPS) if ln >> (LONG_STEPS + 1) else ln
                            if n > 0:
                                agree = min(agree + 1, AGREE_CAP) if bit == q0 else 0
                        run = (run << np.uint64(1)) | np.uint64(bit)
                        decided += 1
                        if decided % RATE_EVERY == 0:
                            rate = RATE_BASE + (RATE_EXTRA << 20) // ((1 << 20) + decided)
                        recent = ((recent << 1) | bit) & ((1 << RECENT) - 1)
                        hn = (hs << 1) | bit
                        hist[hw + cu] = (hn & 127) | 128 if hn >= 256 else hn
                        sig[i] = bit
                        here = next_here(here, bit)
                        group_node = 2 * group_node + bit
                        value = bit
                        if bit and bits > 1:
                            # Levels (x > 1, x > 2), then from 3 an escape tree of ``bits`` decisions.
                            v1 = _val3(x, t - 1, n, c, h, w, t1)
                            near = (v1 | _val3(x, t - 2, n, c, h, w, t2) << 2 | _val3(x, t, n, c, h, w - 1, has_l) << 4
                                    | _val3(x, t, n, c, h - 1, w, has_u) << 6)
                            # countmix: the values of channels c-1, c-2 (H) and of the left and upper
                            # neighbours with channel c-1 (I, shared by every channel and step).
                            u1 = _value(x, t, n, c - 1, h, w, c > 0) if values else np.int64(0)
                            key_h = u1 + 8 * _value(x, t, n, c - 2, h, w, c > 1) if values else np.int64(0)
                            key_i = (_value(x, t, n, c, h, w - 1, has_l) + 8 * _value(x, t, n, c, h - 1, w, has_u)
                                     + 64 * u1) if values else np.int64(0)
                            for node in range(2):
                                b = _magnitude(st, out, data, encoding, 1 if v > value else 0, tabs, wts, node, ct, nn, near,
                                               pos, v1, key_h, key_i, sh4, sh5, sh9, offs, mag_w0, mag_size, values,
                                               journal, jidx, jval, jn)
                                if b == 0:
                                    break
                                value += 1
                            if value == 3 and bits > 2:
                                tree = 1
                                for k in range(bits - 1, -1, -1):
                                    b = _magnitude(st, out, data, encoding, ((v - 3) >> k) & 1 if encoding else 0, tabs, wts,
                                                   1 + tree, ct, nn, near, pos, v1, key_h, key_i, sh4, sh5, sh9, offs, mag_w0,
                                                   mag_size, values, journal, jidx, jval, jn)
                                    tree = 2 * tree + b
                                value = 3 + tree - (1 << bits)
                                if value > top:
                                    status = 2
                        if not encoding:
                            x[t, n, c, h, w] = value
                        if status:
                            break
                    if status:
                        break
                if status:
                    break
            if status:
                break
        if status:
            break
    if journal:
        undo_journal(tabs, jidx, jval, jn)
    return st, status


@njit(cache=True, nogil=True)
def encode_models(x, bits, tabs, wts, out, journal, values, chan, frame=False):
    """The coded bytes of ``x`` in ``out``; returns their count (those past ``out``'s end counted,
    not written: :func:`.binary.code_bit`). ``values``: countmix's models (else winmix's);
    ``chan``: chanmix's; ``frame``: framemix's."""
    st, _ = _code(x, bits, tabs, wts, out, out[:0], True, journal, values, chan, frame)
    return finish(st, out)


@njit(cache=True, nogil=True)
def decode_models(data, x, bits, tabs, wts, journal, values, chan, frame=False):
    """Decode ``data`` into the (T, N, C, H, W) uint8 array ``x``. Returns the status: 0 ok, 1
    the payload is not exactly what the encoder makes of the decoded values, 2 a decoded value
    above 2**bits - 1."""
    st, status = _code(x, bits, tabs, wts, np.empty(0, np.uint8), data, False, journal, values, chan, frame)
    if status:
        return status
    return 0 if ends_as_encoded(st, data) else 1


@njit(cache=True, nogil=True)
def encode(x, bits, tabs, wts, out, journal):
    """winmix's coding of ``x`` (:func:`encode_models`)."""
    return encode_models(x, bits, tabs, wts, out, journal, False, False)


@njit(cache=True, nogil=True)
def decode_into(data, x, bits, tabs, wts, journal):
    """winmix's decoding of ``data`` (:func:`decode_models`)."""
    return decode_models(data, x, bits, tabs, wts, journal, False, False)
