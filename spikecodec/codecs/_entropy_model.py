"""Shared by the ``order0``, ``context`` and ``auto`` codecs: the canonical (T, N, C, H, W) view,
the adaptive-codec base class and empirical entropy helpers (no numba here; the compiled model
and coder live in :mod:`.kernels.context`, loaded on first use so ``import spikecodec`` stays
light).

The model is adaptive: integer counts start at zero in every chunk and are updated identically
by encoder and decoder, so no table is stored and decoding is bit-exact on every machine. The
payload is just the rANS words (FORMAT.md section 9.4).
"""

from __future__ import annotations

import functools
from typing import Callable, ClassVar

import numpy as np

from .._kernel_cache import load_kernels
from ..errors import FormatError
from ..elements import count_spikes, pack, read_only, unpack_into
from .base import ChunkSpec, DecodingIntoCodec
from .trainable import TrainableCodec

ROLES = ("T", "C", "H", "W")
# The kernel modules (spikecodec.codecs.kernels), loaded with load_kernels on first use.
CONTEXT = "spikecodec.codecs.kernels.context"
COUNTERS = "spikecodec.codecs.kernels.counters"
TRANSPOSE = "spikecodec.codecs.kernels.transpose"


def canonical_shape(shape: tuple[int, ...], axes: tuple[str, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The (T, N, C, H, W) view of a chunk and the axis permutation that produces it.

    Axes named T, C, H, W take those roles (extent 1 when absent); every other axis, in its
    order, is folded into N. The canonical array is ``chunk.transpose(perm).reshape(shape5)``.
    """
    return _canonical_shape(tuple(shape), tuple(axes))


@functools.lru_cache(maxsize=256)  # a stream's chunks share a few shapes; a message decoder asks per message
def _canonical_shape(shape: tuple[int, ...], axes: tuple[str, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if len(axes) != len(shape):
        raise ValueError(f"{len(axes)} axis names for a rank-{len(shape)} chunk")
    pos = {a: i for i, a in enumerate(axes)}
    other = [i for i, a in enumerate(axes) if a not in ROLES]
    perm = ([pos["T"]] if "T" in pos else []) + other + [pos[a] for a in ("C", "H", "W") if a in pos]
    ext = lambda a: shape[pos[a]] if a in pos else 1  # noqa: E731
    n = 1
    for i in other:
        n *= shape[i]
    return (ext("T"), n, ext("C"), ext("H"), ext("W")), tuple(perm)


def to_canonical(chunk: np.ndarray, axes: tuple[str, ...], writable: bool = False) -> np.ndarray:
    """``chunk`` as a C-contiguous (T, N, C, H, W) array (a copy only when axes are reordered),
    read-only (:func:`~spikecodec.elements.read_only`: each encoder compiled once), or with
    ``writable`` one the kernel may write (a copy where ``chunk`` is read-only)."""
    shape5, perm = canonical_shape(chunk.shape, axes)
    canon = np.ascontiguousarray(chunk.transpose(perm)).reshape(shape5)
    if writable:
        return canon if canon.flags.writeable else canon.copy()
    return read_only(canon)


def from_canonical(canon: np.ndarray, shape: tuple[int, ...], axes: tuple[str, ...]) -> np.ndarray:
    """Inverse of :func:`to_canonical`."""
    _, perm = canonical_shape(shape, axes)
    permuted = tuple(shape[i] for i in perm)
    return np.ascontiguousarray(canon.reshape(permuted).transpose(np.argsort(perm)))


def canonical_view(out: np.ndarray, axes: tuple[str, ...]) -> np.ndarray | None:
    """The (T, N, C, H, W) view of ``out`` itself, without a copy: the decoders write through it.
    None when no such view exists (axes folded into N that are not adjacent in ``out``) or it
    has negative strides."""
    shape5, perm = canonical_shape(out.shape, axes)
    try:
        view = out.transpose(perm).reshape(shape5, copy=False)
    except ValueError:
        return None
    return view if out.dtype == np.uint8 and min(view.strides, default=0) >= 0 else None


def decode_packed_payload(data: bytes | memoryview, spec: ChunkSpec, out: np.ndarray, codec_id: str,
                          too_long_code: str) -> int | None:
    """The payload rule of the context-mixing codecs (FORMAT.md 9.4.9, and each codec's section
    after it): a payload longer than the chunk packed is refused (``too_long_code``), one of
    exactly that size is the packed elements, in the chunk's own order - unpacked into ``out``,
    returning their spike count - and a shorter one is coded: None, for the codec's decoder."""
    size = len(data)
    if size > spec.packed_nbytes:
        raise FormatError(f"{codec_id}: payload of {size} bytes is longer than the chunk packed ({spec.packed_nbytes})",
                          code=too_long_code)
    if size < spec.packed_nbytes:
        return None
    values = np.empty(spec.shape, np.uint8)
    count = unpack_into(data, values, spec.bits)
    out[...] = values
    return count


def coded_or_packed(chunk: np.ndarray, spec: ChunkSpec, code: Callable[[np.ndarray], int]) -> bytes:
    """The encoder's side of that rule: ``code``'s bytes when they are fewer than the chunk
    packed, else the packed elements. ``code`` codes into the buffer it is given, of the packed
    size, and returns its byte count, counting without writing the bytes past the buffer's end
    (kernels.binary.code_bit): an encoder holds no more than the packed chunk beside its input,
    whatever its worst case."""
    out = np.empty(spec.packed_nbytes, np.uint8)
    n = code(out)
    if n >= spec.packed_nbytes:  # coding did not pay
        return pack(chunk, spec.bits)
    return out[:n].tobytes()


def flat_strides(canon: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """(flat buffer from the first element, strides in elements) of a (T, N, C, H, W) uint8
    view with non-negative strides: the compiled decoder's addressing of the caller's output."""
    if canon.size == 0:
        return np.empty(0, np.uint8), (0,) * canon.ndim
    span = 1 + sum((d - 1) * s for d, s in zip(canon.shape, canon.strides))
    return np.lib.stride_tricks.as_strided(canon, (span,), (1,)), canon.strides


def binary_entropy_bits(c1: np.ndarray, n: np.ndarray) -> float:
    """Empirical code length ``sum_k n_k * H(c1_k / n_k)`` in bits (the ideal static code)."""
    n = n.astype(np.float64)
    c1 = c1.astype(np.float64)
    c0 = n - c1
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(c1 > 0, c1 * np.log2(np.where(n > 0, n, 1) / np.where(c1 > 0, c1, 1)), 0.0)
        t0 = np.where(c0 > 0, c0 * np.log2(np.where(n > 0, n, 1) / np.where(c0 > 0, c0, 1)), 0.0)
    return float(t1.sum() + t0.sum())


def categorical_entropy_bits(counts: np.ndarray) -> float:
    """``sum_g sum_i c_gi * log2(n_g / c_gi)`` for count tables of shape (G, A)."""
    counts = counts.astype(np.float64)
    n = counts.sum(-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(counts > 0, counts * np.log2(np.where(n > 0, n, 1) / np.where(counts > 0, counts, 1)), 0.0)
    return float(t.sum())


def stream_offsets(words: np.ndarray, count: int, codec_id: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The word counts that open a payload of ``count`` rANS streams (``ctxlanes``, ``ctxfast``)
    and the streams' offsets in ``words`` (``count + 1`` of them); ``lanes-word-counts`` when
    the payload is shorter than its counts or they do not add up to the words after them."""
    if words.size < count:
        raise FormatError(f"{codec_id}: payload shorter than its {count} {what} word counts", code="lanes-word-counts")
    sizes = words[:count].astype(np.int64)
    offs = np.concatenate([[count], count + np.cumsum(sizes)]).astype(np.int64)
    if offs[-1] != words.size:
        raise FormatError(f"{codec_id}: the {what} word counts add up to {int(offs[-1] - count)} words, "
                          f"the payload holds {words.size - count}", code="lanes-word-counts")
    return sizes, offs


class AdaptiveCodec(TrainableCodec, DecodingIntoCodec):
    """An adaptive binary-decision model (``contextual`` selects the context function) + rANS.

    Its model state is the counter tables of FORMAT.md 9.4.2, sized by the element bits and the
    channel count C of the canonical view: a prior (FORMAT.md 14) holds them, in this order."""

    contextual: ClassVar[bool]
    TABLES: ClassVar[tuple[str, ...]] = ("sig_group", "sig_shared", "mag_group", "mag_shared")

    def geometry(self, spec: ChunkSpec) -> dict[str, int]:
        (_, _, C, _, _), _ = canonical_shape(spec.shape, spec.axes)
        return {"bits": spec.bits, "C": C}

    def table_layout(self, geometry: dict[str, int]) -> list[tuple[str, np.dtype, int]]:
        G, GM, ks, km = load_kernels(CONTEXT).counter_dims(geometry["C"], geometry["bits"], self.contextual)
        return [(n, np.dtype(np.uint32), size) for n, size in zip(self.TABLES, (G * ks, ks, GM * km, km))]

    def check_values(self, tables: dict[str, np.ndarray]) -> None:
        for name, table in tables.items():  # packed (ones, total) pairs: total < 1024, ones <= total
            ones, total = table & 0xFFFF, table >> 16
            if table.size and (int(total.max()) >= load_kernels(COUNTERS).LIMIT or bool((ones > total).any())):
                raise ValueError(f"{self.codec_id}: prior table {name!r} holds a counter outside the model's range")

    def soften(self, tables: dict[str, np.ndarray], level: int) -> dict[str, np.ndarray]:
        """Each counter pair halved ``level`` times by the model's own halving rule."""
        out = {}
        for name, table in tables.items():
            ones, total = table.astype(np.int64) & 0xFFFF, table.astype(np.int64) >> 16
            for _ in range(level):
                ones, total = (ones + 1) >> 1, (total + 1) >> 1
            out[name] = ((total << 16) | ones).astype(np.uint32)
        return out

    def train(self, chunk: np.ndarray, spec: ChunkSpec, tables: dict[str, np.ndarray]) -> None:
        self._encode_canonical(to_canonical(np.asarray(chunk, np.uint8), spec.axes), spec.bits, tables)

    def decisions(self, chunk: np.ndarray, spec: ChunkSpec, with_ctx: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(decision bits, q = P(1) * 2**24, context id) of every binary decision, coding order."""
        canon = to_canonical(np.asarray(chunk, np.uint8), spec.axes)
        return load_kernels(CONTEXT).model_decisions(canon, spec.bits, self.contextual, with_ctx)

    def _encode_canonical(self, canon: np.ndarray, bits: int, tables: dict[str, np.ndarray] | None = None) -> np.ndarray:
        if tables is None:
            return load_kernels(CONTEXT).encode(canon, bits, self.contextual)
        return load_kernels(CONTEXT).encode_with(canon, bits, self.contextual, *tables.values())

    def _decode_canonical(self, words: np.ndarray, canon: np.ndarray, bits: int, tables: dict[str, np.ndarray] | None = None) -> int:
        """Decode into ``canon``, a (T, N, C, H, W) uint8 view; returns the kernel's status."""
        if canon.itemsize != 1 or min(canon.strides) < 0:  # not the decoder's own views
            raise ValueError("decoding needs a uint8 view with non-negative strides")
        flat, strides = flat_strides(canon)
        if tables is None:
            return load_kernels(CONTEXT).decode_into(words, flat, canon.shape, strides, bits, self.contextual)
        return load_kernels(CONTEXT).decode_into_with(words, flat, canon.shape, strides, bits, self.contextual, *tables.values())

    def _chunk_tables(self, spec: ChunkSpec) -> dict[str, np.ndarray] | None:
        """A copy of the prior's tables for one chunk, or None to start from zero (the kernels
        then make their own: the bytes of a file without a prior never depend on this path)."""
        if (self._prior is None and not self.prior_id) or spec.size == 0:  # (a trial codes from a prior it does not name)
            return None
        return self.start_tables(spec)

    def _max_decisions(self, bits: int) -> int:
        """Most binary decisions one element takes: significance and the magnitude bits."""
        return 1 + bits

    def _empty_shape(self, shape5: tuple[int, ...]) -> tuple[int, ...]:
        """The canonical shape decoded for a chunk without elements (only its stream end is checked)."""
        return (0, 0, 0, 0, 0)

    def _max_words(self, spec: ChunkSpec) -> int:
        """Longest payload, in 32-bit words, of any encoding of a chunk: an rANS decision
        consumes at most one word, plus the two initial words. Anything longer is malformed."""
        return spec.size * self._max_decisions(spec.bits) + 2

    def encode(self, chunk: np.ndarray, spec: ChunkSpec) -> bytes:
        canon = to_canonical(np.asarray(chunk, np.uint8), spec.axes)
        if spec.size == 0:  # as decode_into: the kernel's planes would scale with the non-empty axes
            canon = np.empty(self._empty_shape(canon.shape), np.uint8)  # (a MemoryError for 2 x 0 x 2**20 x 2**20)
        return self._encode_canonical(canon, spec.bits, self._chunk_tables(spec)).astype("<u4").tobytes()

    def decode_into(self, data: bytes | memoryview, spec: ChunkSpec, out: np.ndarray) -> int:
        # The kernel writes straight into ``out`` through its canonical view, whatever the file's
        # axis order: a read then costs the output plus the kernel's few planes of context window.
        if len(data) % 4:
            raise FormatError(f"{self.codec_id}: payload is not a whole number of 32-bit words", code="rans-partial-word")
        words = np.frombuffer(data, "<u4").astype(np.uint32)
        if words.size > self._max_words(spec):
            raise FormatError(f"{self.codec_id}: payload longer than any encoding of this chunk", code="rans-too-long")
        tables = self._chunk_tables(spec)
        shape5, perm = canonical_shape(spec.shape, spec.axes)
        view = canonical_view(out, spec.axes)
        # No view (axes folded into N that are not adjacent in ``out``): decode in canonical order
        # into ``out``'s own memory, then transpose it there.
        in_place = view is None and out.flags.c_contiguous and out.dtype == np.uint8
        if spec.size == 0:  # no decisions: only the stream's end is checked. The kernel's work and
            canon = np.empty(self._empty_shape(shape5), np.uint8)  # window would scale with the non-empty axes (fuzzer)
        elif view is not None:
            canon = view
        else:
            canon = out.reshape(shape5) if in_place else np.empty(shape5, np.uint8)
        status = self._decode_canonical(words, canon, spec.bits, tables)
        if status == 2:
            raise FormatError(f"{self.codec_id}: decoded a value that does not fit {spec.bits}-bit elements", code="symbol-above-top")
        if status:
            raise FormatError(f"{self.codec_id}: corrupt stream (coder did not end in its initial state)", code="rans-final-state")
        if spec.size and view is None:
            permuted = tuple(spec.shape[i] for i in perm)
            if in_place:
                load_kernels(TRANSPOSE).transpose_in_place(out.reshape(-1), permuted, perm)
            else:
                out[...] = canon.reshape(permuted).transpose(np.argsort(perm))
        # The kernel refuses any value wider than ``bits`` (status 2), so only the count is left.
        return count_spikes(out, spec.bits)


def empirical_bits(ctx: np.ndarray, bits: np.ndarray) -> float:
    """Ideal static code length of decisions given their context ids (true per-context rates)."""
    if ctx.size == 0:
        return 0.0
    n = np.bincount(ctx)
    c1 = np.bincount(ctx, weights=bits, minlength=n.size).astype(np.int64)
    return binary_entropy_bits(c1, n)
