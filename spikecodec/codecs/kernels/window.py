"""The causal context window of the ``context`` model (FORMAT.md 9.4.5), shared by the
``context`` / ``order0`` kernels (:mod:`.context`) and the ``ctxlanes`` lockstep loops
(:mod:`.lanes`), and the decoders' tiling of huge planes (:data:`TILE`, :func:`tile_shape`, also
used by :mod:`.countctx`).

A significance context reads the element's neighbours in zero-padded (H + 2) x (W + 2) planes:
the plane being coded (up, diagonals, left), the same neuron's planes at t - 1 .. t - 3 and the
previous channel's plane at t. :func:`plane_ctx` computes the part from earlier planes for a
whole plane (one vectorisable loop), :func:`row_ctx` adds the previous row's for a row; the
sequential loop adds ``left``. The decoder keeps only a few planes (:func:`load_window`), or for a
huge plane a few tiles (:func:`load_tile`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .ops import U

@njit(inline="always", cache=True)
def plane_ctx(sp, hist, p0, t, c, H, W, st, rw, cs, ho):
    """The part of the significance contexts (FORMAT.md 9.4.5) of one H x W plane that comes from
    earlier planes, ``64 hs + 4 nb + pc``: ``hist[ho + j]`` for the element at padded index ``p0 + j``.

    ``sp`` is the flat significance array of shape (T, N, C, H + 2, W + 2): the chunk padded by
    one zero row/column on each side of H and W; ``p0`` is the flat index of the plane's first
    element in it, ``st`` the T stride, ``rw`` the row stride (W + 2), ``cs`` the channel stride.
    One loop over the plane's rows as stored, padding columns included (computed, never used),
    so that it vectorises even for narrow planes; terms that do not exist (t < 3, c = 0) read
    some in-range byte and weigh it 0. Unsigned indices: no negative-index handling."""
    hs0 = (1 << min(t, 3)) - 1
    m1 = 1 if t >= 1 else 0
    m2 = 2 if t >= 2 else 0
    m3 = 4 if t >= 3 else 0
    nbm = 4 if t >= 1 else 0
    o1 = st if t >= 1 else 0
    o2 = 2 * st if t >= 2 else o1
    o3 = 3 * st if t >= 3 else o2
    pcm = 1 if c > 0 else 0
    oc = cs if c > 0 else 0
    for j in range(H * rw - 2):
        u = U(p0 + j)
        b = u - U(o1)
        hs = hs0 + m1 * np.int64(sp[b]) + m2 * np.int64(sp[u - U(o2)]) + m3 * np.int64(sp[u - U(o3)])
        cnt = (np.int64(sp[b - U(rw + 1)]) + sp[b - U(rw)] + sp[b - U(rw - 1)] + sp[b - U(1)]
               + sp[b + U(1)] + sp[b + U(rw - 1)] + sp[b + U(rw)] + sp[b + U(rw + 1)])
        hist[U(ho + j)] = 64 * hs + nbm * ((cnt > 0) + (cnt > 2) + (cnt > 5)) + pcm * np.int64(sp[u - U(oc)])


@njit(cache=True, nogil=True)
def window_planes(T, C, contextual):
    """Padded planes in the decoder's context window (:func:`load_window`): the plane being
    decoded, those of t - 1 .. t - 3 that exist and, with several channels, the previous one."""
    if not contextual:
        return 1
    return 1 + min(T - 1, 3) + (1 if C > 1 else 0)


@njit(cache=True, nogil=True)
def load_window(xf, sp, e0, t, c, H, W, xs, sH, sW, top):
    """Fill the decoder's context window ``sp`` for the plane whose first element is ``xf[e0]``.

    The window holds ``top + 1`` padded (H + 2) x (W + 2) planes laid out so that the strides of
    :func:`plane_ctx` are ``st`` = one plane and ``cs`` = ``top`` planes: slot ``top`` is the plane
    being decoded (written as it goes), ``top - k`` the same neuron plane at t - k (k <= 3, copied
    from the decoded values as significance bits), slot 0 the previous channel's plane at t (the
    plane just decoded, copied from slot ``top``). Padding entries are never written, so stay 0.
    This keeps the decoder's working memory at a few planes instead of a padded copy of the chunk."""
    rw = W + 2
    P = (H + 2) * rw
    if c > 0:
        cur = U(top * P)
        for j in range(P):
            sp[U(j)] = sp[cur + U(j)]
    for k in range(1, min(t, 3) + 1):
        src = U(e0 - k * xs)
        dst = U((top - k) * P + rw + 1)
        for h in range(H):
            for w in range(W):
                sp[dst + U(h * rw + w)] = xf[src + U(h * sH + w * sW)] != 0


TILE = 1 << 16  # padded elements of one decoder tile: bounds the decoder's working memory


@njit(cache=True, nogil=True)
def tile_shape(H, W, budget):
    """(rows, columns) of the tiles the decoder splits each H x W plane into, so that a padded
    tile, (rows + 2) x (columns + 2), holds at most ``budget`` (>= 9) elements: the whole plane
    if it fits (every real tensor; the window then keeps its zero padding and nothing else
    changes), else blocks of whole rows, else pieces of one row. A tile's context tables and
    window slots scale with the tile, not the plane, so a file declaring one huge plane or one
    huge row costs its output plus a constant."""
    if (H + 2) * (W + 2) <= budget:
        return H, W
    if 3 * (W + 2) <= budget:
        return budget // (W + 2) - 2, W
    return 1, budget // 3 - 2


@njit(cache=True, nogil=True)
def load_tile(xf, sp, e0, t, c, H, W, xs, cstride, sH, sW, top, h0, R, w0, L, rw, P):
    """:func:`load_window` for a tile of ``R`` rows from ``h0`` and ``L`` columns from ``w0``
    of the plane whose first element is ``xf[e0]`` (slots of ``P`` elements, row stride ``rw``;
    ``xs``, ``cstride``, ``sH``, ``sW``: the output's T, C, H and W strides).
    Unlike a whole plane, a tile's ring (the rows and columns around it) holds neighbours or,
    at the plane's edge, zeros, so it is written every time: slots ``top - k`` (t - k) and 0
    (previous channel, from the output) in full, the current slot's row above the tile."""
    for k in range(0, min(t, 3) + 1):
        if k == 0:
            if c == 0:
                continue
            src = e0 - cstride  # channel c - 1, same t and n
            dst = 0
        else:
            src = e0 - k * xs
            dst = (top - k) * P
        for r in range(-1, R + 1):
            h = h0 + r
            for q in range(-1, L + 1):
                v = np.uint8(0)
                if 0 <= h < H and 0 <= w0 + q < W:
                    v = np.uint8(xf[U(src + h * sH + (w0 + q) * sW)] != 0)
                sp[U(dst + (r + 1) * rw + q + 1)] = v
    dst = top * P
    h = h0 - 1
    for q in range(-1, L + 1):
        v = np.uint8(0)
        if h >= 0 and 0 <= w0 + q < W:
            v = np.uint8(xf[U(e0 + h * sH + (w0 + q) * sW)] != 0)
        sp[U(dst + q + 1)] = v


@njit(inline="always", cache=True)
def row_ctx(sp, hist, rk, i0, h0, W, rw, r0):
    """Significance contexts ``rk[r0 + w]`` of one row of W elements (padded index ``i0``,
    ``hist`` offset ``h0``), all but the ``left`` term (16 left), which the sequential loop adds
    as it goes: ``hist`` plus the previous row's ``32 up + 2 diag``."""
    up = U(i0 - rw)
    for w in range(W):
        j = up + U(w)
        rk[U(r0 + w)] = hist[U(h0 + w)] + 32 * np.int64(sp[j]) + 2 * np.int64(sp[j - U(1)] | sp[j + U(1)])
