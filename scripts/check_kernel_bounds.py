"""Run the ``ctxfast`` kernels with every memory access bounds-checked, on many chunk shapes.

    NUMBA_BOUNDSCHECK=1 .venv/bin/python scripts/check_kernel_bounds.py

The kernels read and write words of eight bytes past the ends of rows and planes
(:func:`spikecodec.codecs.kernels.ops.load8`, ``store8``), which no bounds check sees. This script
compiles a copy of spikecodec/codecs/kernels/fast*.py whose ``load8`` / ``store8`` check their
bounds, and with ``NUMBA_BOUNDSCHECK=1`` numba checks every other index too; then it encodes and
decodes chunks of edge shapes (one lane to four, W = 3 and H = 3, 1 x 1 planes, C below 5 and past
a time batch, 1-, 2- and 4-bit elements; every other one in working memory of exactly `work_bytes`) and
checks their bytes against the real kernels. Run it after changing a kernel that uses them; the
unit tests cannot (numba reads the variable once, at import).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
from numba import njit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spikecodec.codecs._entropy_model import stream_offsets  # noqa: E402
from spikecodec.codecs.kernels import fast  # noqa: E402


@njit(inline="always")
def load8(arr, idx):
    i = np.int64(idx)
    if i < 0 or i + 8 > arr.size:
        raise IndexError("load8 past the array")
    v = np.uint64(0)
    for b in range(8):
        v |= np.uint64(arr[i + b]) << np.uint64(8 * b)
    return v


@njit(inline="always")
def store8(arr, idx, value):
    i = np.int64(idx)
    if i < 0 or i + 8 > arr.size:
        raise IndexError("store8 past the array")
    for b in range(8):
        arr[i + b] = np.uint8((value >> np.uint64(8 * b)) & np.uint64(255))


def checked_module():
    """The ctxfast kernels (fast.py and the fast_*.py modules it imports) compiled as a temporary
    package with this script's load8 / store8, and without numba's on-disk cache."""
    package = Path(tempfile.mkdtemp()) / "fast_checked"
    package.mkdir()
    (package / "__init__.py").write_text("")
    swapped = 0
    for module in sorted((ROOT / "spikecodec/codecs/kernels").glob("fast*.py")):
        source = module.read_text()
        ops = re.search(r"^from \.ops import (.*)$", source, re.M)
        names = [n.strip() for n in ops.group(1).split(",")] if ops else []
        if "load8" in names or "store8" in names:
            kept = [n for n in names if n not in ("load8", "store8")]
            source = source.replace(ops.group(0), (f"from .ops import {', '.join(kept)}\n" if kept else "")
                                    + "from check_kernel_bounds import load8, store8")
            swapped += 1
        source = source.replace("cache=True, ", "").replace(", cache=True", "")
        for name in ("context", "counters", "ops", "rans"):
            source = source.replace(f"from .{name} import", f"from spikecodec.codecs.kernels.{name} import")
        # Only the fast modules stay relative (they are the package's); any other import moved.
        assert not re.search(r"^from \.(?!fast)", source, re.M), f"{module.name}'s imports changed: update this script"
        (package / module.name).write_text(source)
    assert swapped, "no fast*.py module imports load8 / store8 any more: update this script"
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, str(package.parent))
    return importlib.import_module("fast_checked.fast")


def main() -> None:
    if os.environ.get("NUMBA_BOUNDSCHECK") != "1":
        raise SystemExit("run with NUMBA_BOUNDSCHECK=1 (numba reads it once, at import)")
    checked = checked_module()
    rng = np.random.default_rng(1)
    planes = ((1, 1), (3, 10), (10, 3), (4, 4), (5, 5), (7, 7), (2, 9), (9, 2), (6, 13), (16, 16))
    count = 0
    for T in (1, 2, 4):
        for N in (1, 3, 4, 5, 7, 8):
            for C in (1, 3, 5, 6, 70):
                for H, W in planes:
                    shape = (T, N, C, H, W)
                    for bits in (1, 2, 4):
                        x = np.where(rng.random(shape) < 0.3, rng.integers(1, 1 << bits, shape), 0).astype(np.uint8)
                        # Odd chunks code in working memory of exactly work_bytes (carved views; the
                        # encoder's with its magnitude decisions), even ones in their own.
                        need = checked.work_bytes(*shape, True) + checked.magnitude_work_bytes(x, bits)
                        work = np.empty(need if count % 2 else 0, np.uint8)
                        words = checked.encode_with(x, bits, *checked.new_tables(C, bits), work)
                        if not np.array_equal(words, fast.encode(x, bits)):
                            raise SystemExit(f"{shape} {bits}-bit: the checked kernels code other bytes")
                        streams = checked.lane_count(N) + (bits > 1)
                        _, offs = stream_offsets(words, streams, "ctxfast", "stream")
                        out = np.zeros(shape, np.uint8)
                        tables = checked.new_tables(C, bits)
                        work = np.empty(checked.work_bytes(*shape, False) if count % 2 else 0, np.uint8)
                        status = checked.decode_into_with(words, offs, out.ravel(), shape, out.strides, bits, *tables, work)
                        if status != 0 or not np.array_equal(out, x):
                            raise SystemExit(f"{shape} {bits}-bit: does not decode (status {status})")
                        count += 1
    print(f"{count} chunks coded and decoded with every access checked: none out of bounds")


if __name__ == "__main__":
    main()
