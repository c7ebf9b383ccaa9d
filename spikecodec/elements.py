"""Element types and bit packing (FORMAT.md section 8).

An element is an unsigned integer of 1, 2, 4 or 8 bits: 1-bit spikes or small spike counts.
Elements are packed in C order, most significant bit first: element ``i`` of a ``b``-bit stream
occupies bits ``[i*b, (i+1)*b)`` counted from the MSB of byte 0, as ``np.packbits`` does for
``b = 1``. Padding bits after the last element are zero, and readers reject any that are not.
"""

from __future__ import annotations

import math
import operator
import sys
from typing import Any, Callable, Iterator

import numpy as np

from ._kernel_cache import load_kernels
from .errors import FormatError
from .limits import ELEMENT_BITS


def packed_nbytes(count: int, bits: int) -> int:
    """Bytes that ``count`` elements of ``bits`` bits take when packed."""
    return (count * bits + 7) // 8


class ElementRangeError(ValueError):
    """A value does not fit the element type it is being packed at."""


class DTypeOverflowError(ValueError, OverflowError):
    """A decoded value does not fit the dtype asked for: a ValueError, as every refusal of a
    reader's arguments is, and an OverflowError, as numpy's own."""


_PACKING = "spikecodec._packing_kernels"  # loaded on first use: numba compiles then (and caches)


_UNPACK_KERNELS = {1: "unpack1", 2: "unpack2", 4: "unpack4"}


def read_only(a: np.ndarray) -> np.ndarray:
    """A view of ``a`` that cannot be written through (no copy; ``a`` keeps its own flags). The
    compiled kernels take the arrays they only read this way: numba compiles a kernel once for
    each writability of an argument, so a writable input (a user's array, a bytearray) beside a
    read-only one (bytes, a memory map) cost a second compilation of the same kernel."""
    view = a.view()
    view.flags.writeable = False
    return view


def pack_counted(values: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    """Pack uint8 element values MSB-first; return the packed bytes (a uint8 array) and the spike
    count. One pass does the packing, the count and a range check: a value that does not fit
    ``bits`` raises :class:`ElementRangeError` (never truncated)."""
    flat = np.ascontiguousarray(values, dtype=np.uint8).reshape(-1)
    if bits == 8:
        return flat, int(flat.sum(dtype=np.uint64))
    kernel = {1: "pack1", 2: "pack2", 4: "pack4"}.get(bits)
    if kernel is None:
        raise ValueError(f"element bits must be one of {ELEMENT_BITS}, got {bits!r}")
    out = np.empty(packed_nbytes(flat.size, bits), np.uint8)
    ored, count = getattr(load_kernels(_PACKING), kernel)(read_only(flat), out)
    if int(ored) >> bits:
        raise ElementRangeError(f"a value above {(1 << bits) - 1} does not fit the {bits}-bit element type")
    return out, int(count)


def pack(values: np.ndarray, bits: int) -> bytes:
    """Pack uint8 element values into MSB-first bytes (see :func:`pack_counted`)."""
    return pack_counted(values, bits)[0].tobytes()


def unpack_into(data: bytes | memoryview | np.ndarray, out: np.ndarray, bits: int) -> int:
    """Unpack ``out.size`` elements into ``out`` (C-contiguous uint8) and return their spike count.

    Raises :class:`FormatError` on a wrong size or non-zero padding bits."""
    count = out.size
    expected = (count * bits + 7) // 8  # packed_nbytes, inline: this runs once per chunk read
    buf = np.frombuffer(data, np.uint8)
    if buf.size != expected:
        raise FormatError(f"packed data is {buf.size} bytes, expected {expected} for {count} {bits}-bit elements", code="packed-size")
    if not out.flags.c_contiguous or out.dtype != np.uint8:
        raise ValueError("unpack_into needs a C-contiguous uint8 output array")
    flat = out.reshape(-1)  # a view, as out is contiguous
    if bits == 8:
        flat[...] = buf
        return int(flat.sum(dtype=np.uint64))
    kernel = _UNPACK_KERNELS.get(bits)
    if kernel is None:
        raise ValueError(f"element bits must be one of {ELEMENT_BITS}, got {bits!r}")
    pad_bits = expected * 8 - count * bits
    if pad_bits and int(buf[-1]) & ((1 << pad_bits) - 1):
        raise FormatError("non-zero padding bits after the last element", code="padding-bits")
    return int(getattr(load_kernels(_PACKING), kernel)(read_only(buf), flat))


def unpack(data: bytes | memoryview | np.ndarray, count: int, bits: int) -> np.ndarray:
    """Inverse of :func:`pack`; raises :class:`FormatError` on a wrong size or non-zero padding."""
    out = np.empty(count, np.uint8)
    unpack_into(data, out, bits)
    return out


def count_spikes(values: np.ndarray, bits: int) -> int:
    """Sum of element values: the number of spikes (ones, for 1-bit elements)."""
    return int(np.count_nonzero(values)) if bits == 1 else int(values.sum(dtype=np.uint64))


def element_bits(bits: object) -> int:
    """``bits`` checked as an element type: 1, 2, 4 or 8, a Python or numpy integer (never a
    bool or a float), else a ValueError."""
    if not isinstance(bits, (bool, np.bool_)):
        try:
            value = operator.index(bits)  # type: ignore[arg-type]
        except TypeError:
            value = None
        if value in ELEMENT_BITS:
            return value
    raise ValueError(f"element bits must be one of {ELEMENT_BITS}, got {bits!r:.40}")


def to_numpy(array: Any) -> np.ndarray:
    """A numpy view of ``array``; torch tensors are accepted without importing torch. A masked
    array is refused: np.asarray drops its mask, and the values under it would be coded."""
    masked = sys.modules.get("numpy.ma")  # numpy imports it on first use: np.ma would import it here, under a lock a fork could strand
    # getattr: while another thread imports numpy.ma, the module is in sys.modules without its
    # classes yet (an AttributeError for every encode in other threads until it finishes)
    masked_array = getattr(masked, "MaskedArray", None)
    if masked_array is not None and isinstance(array, masked_array):
        raise TypeError("a masked array's masked values would be coded as they are: fill it first, e.g. a.filled(0)")
    if hasattr(array, "detach") and hasattr(array, "numpy"):  # torch.Tensor, duck-typed
        try:
            tensor = array.detach().cpu()
            if str(tensor.dtype) == "torch.bfloat16":  # numpy has none; float32 holds every bfloat16 exactly
                tensor = tensor.float()
            array = tensor.numpy()
        except (RuntimeError, NotImplementedError, TypeError) as exc:  # a meta or sparse tensor, an unsupported dtype
            raise TypeError(f"cannot read the tensor's values as a numpy array: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    try:
        return np.asarray(array)
    except ValueError as exc:  # nested lists of unequal lengths: numpy's "setting an array element with a sequence"
        raise ValueError(f"cannot read the {type(array).__name__} given as an array (nested lists must be of one shape): "
                         f"{str(exc).splitlines()[0]}") from None


VALUE_CHECK_BLOCK = 1 << 21  # elements the value checks look at at once: their masks and copies stay a few MB


def _blocks(array: np.ndarray, size: int = VALUE_CHECK_BLOCK) -> Iterator[tuple[int, np.ndarray]]:
    """``array`` as views of at most ``size`` elements (each a run of whole trailing rows), in C
    order, with the flat index of each one's first element: a check of each block in turn costs
    a block's temporaries, not the array's (float masks and np.round's copy were several times
    a large input). Strided arrays too: no copy is made here."""
    if array.size <= size or array.ndim == 0:
        yield 0, array
        return
    shape = array.shape
    k = array.ndim  # the fewest trailing axes whose elements exceed a block: cut along axis k - 1
    while k > 0 and math.prod(shape[k - 1:]) <= size:
        k -= 1
    inner = math.prod(shape[k:])  # elements of one index of axis k - 1 (<= size)
    step = max(1, size // inner)
    start = 0
    for outer in np.ndindex(*shape[:k - 1]):  # each holds more than a block: fewer than size / block of them
        for at in range(0, shape[k - 1], step):
            block = array[outer + (slice(at, at + step),)]
            yield start, block
            start += block.size


def _first_bad(array: np.ndarray, bad: Callable[[np.ndarray], np.ndarray]) -> tuple[int, ...] | None:
    """The index of the first element (C order) of ``array`` for which ``bad`` (an element-wise
    test) is true, or None; ``bad`` sees one block at a time (:func:`_blocks`)."""
    for start, block in _blocks(array):
        mask = bad(block)
        if mask.any():
            flat = start + int(np.argmax(mask))
            return tuple(int(i) for i in np.unravel_index(flat, array.shape))
    return None


def stored_values(array: np.ndarray) -> np.ndarray:
    """``array`` without its repeats: each axis of stride 0 (``np.broadcast_to``'s) cut to its
    first index. The same values, each stored byte once, so that checking the values costs what
    the caller stored, not the view's size (a view of 2**40 elements of one value was minutes of
    scanning, or a mask numpy could not allocate, before its one value was looked at)."""
    if array.ndim == 0 or 0 not in array.strides:
        return array
    return array[tuple(slice(0, 1) if stride == 0 else slice(None) for stride in array.strides)]


def clean_bools(array: np.ndarray) -> np.ndarray:
    """``array`` itself, unless it is a bool array storing True as a byte other than 1 (numpy
    reads any non-zero byte as True: ``np.frombuffer``, views of other bytes): then a copy whose
    bytes are 0 and 1, the values a bool chunk's bytes are coded as."""
    if array.dtype != np.bool_ or array.size == 0 or int(stored_values(array).view(np.uint8).max()) <= 1:
        return array
    return np.not_equal(array, False)


def contiguous_uint8(arr: np.ndarray) -> np.ndarray:
    """``arr`` as C-contiguous uint8 (a 0-d array stays 0-d), or a MemoryError that says why the
    copy does not fit, where numpy's says "Unable to allocate 1.00 TiB" of a zero-stride view."""
    try:
        return np.asarray(arr, dtype=np.uint8, order="C")
    except MemoryError:
        view = " (a view with zero strides, as np.broadcast_to makes, repeats one value; coding writes each element)" if 0 in arr.strides else ""
        raise MemoryError(f"the array of shape {arr.shape} takes {arr.size} bytes as uint8 elements, "
                          f"more than this machine can allocate{view}") from None


def as_elements(array: Any, bits: int | None = None) -> tuple[np.ndarray, int]:
    """Check that ``array`` holds valid element values and return it as C-contiguous uint8.

    ``bits=None`` picks the narrowest element type that holds the largest value. Values outside
    the element type (negative, fractional, too large, NaN) raise ``ValueError`` naming the index
    of the first one: nothing is ever truncated silently.
    """
    arr = to_numpy(array)
    if bits is not None:
        bits = element_bits(bits)
    if arr.dtype == np.bool_:
        return contiguous_uint8(clean_bools(arr).view(np.uint8)), bits or 1
    stored = stored_values(arr)  # the checks below read each stored value once (an index in it is one in arr)
    if arr.dtype.kind == "f":
        idx = _first_bad(stored, lambda b: ~np.isfinite(b) | (b != np.round(b)))
        if idx is not None:
            raise ElementRangeError(f"value {arr[idx].item()!r} at index {idx} is not a whole number of spikes")
    elif arr.dtype.kind not in "iu":
        raise ValueError(f"expected a numeric or boolean array, got dtype {arr.dtype}")
    limit = (1 << (bits or 8)) - 1
    # One fast reduction first; the element-wise mask is only built to name a bad index.
    top = int(stored.max()) if arr.size else 0
    if top > limit or (arr.size and arr.dtype.kind != "u" and stored.min() < 0):
        idx = _first_bad(stored, lambda b: (b < 0) | (b > limit))
        assert idx is not None  # the reductions above saw it
        kind = f"{bits}-bit" if bits else "8-bit (the widest)"
        raise ElementRangeError(
            f"value {arr[idx].item()!r} at index {idx} does not fit the {kind} element type (0..{limit})"
        )
    values = contiguous_uint8(arr)
    if bits is None:
        bits = next(b for b in ELEMENT_BITS if top < (1 << b))
    return values, bits


def output_dtype(dtype: Any) -> np.dtype:
    """The numpy type a read returns for the caller's ``dtype`` (None: uint8, as stored). A torch
    dtype names its numpy twin (torch.float32: float32), without importing torch; one with no
    twin (bfloat16) is a TypeError that says so."""
    if dtype is None:
        return np.dtype(np.uint8)
    if type(dtype).__module__ == "torch" and type(dtype).__name__ == "dtype":
        name = str(dtype).removeprefix("torch.")
        try:
            return np.dtype(name)
        except TypeError:
            raise TypeError(f"{dtype} has no numpy type to decode into: read as a numpy type and convert in torch") from None
    return np.dtype(dtype)


def elements_as(values: np.ndarray, bits: int, dtype: Any) -> np.ndarray:
    """Decoded elements (uint8, ``bits`` wide) as ``dtype`` (bool, an integer or a float type).
    A type that cannot hold every value of the element type - bool for counts, int8 for 8-bit
    counts - is checked: a value it cannot hold raises ``OverflowError``, never wraps or turns
    a count into "any spike" (:class:`DTypeOverflowError`, a ValueError)."""
    want = np.dtype(dtype)
    top = 1 if want.kind == "b" else int(np.iinfo(want).max) if want.kind in "iu" else None
    check_fits(values, bits, top, str(want), want.kind == "b")
    return values if want == values.dtype else values.astype(want)


def check_fits(values: np.ndarray, bits: int, top: int | None, type_name: str, is_bool: bool) -> None:
    """Raise :class:`DTypeOverflowError` when a type that holds the integers 0 .. ``top`` exactly
    (None: every value of 8-bit elements) cannot hold a value of ``values`` (elements ``bits``
    wide): the one check behind every conversion of decoded elements to a caller's type."""
    if top is not None and top < (1 << bits) - 1 and values.size and int(values.max()) > top:
        hint = " (bool holds 1-bit spikes: read counts as an integer type)" if is_bool else ""
        raise DTypeOverflowError(f"values up to {int(values.max())} do not fit {type_name}{hint}")
