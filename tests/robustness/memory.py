"""Peak memory of reading hostile files, each measured in a fresh process.

``measure(data)`` runs ``python memory.py MAX_BYTES FILE...`` in a subprocess: it imports
spikecodec, loads the compiled kernels on valid files, then for each FILE and each of decode,
open + slicing (each selection on its own, the one before dropped) and validate
(hostile.exercise, one at a time) resets the kernel's peak-RSS mark
(``/proc/self/clear_refs``), notes the resident size, runs it and reads the peak (``VmHWM``). The
peak minus the resident size before is what that read cost; the worst of the three is reported. RSS sees every allocation (numba's
included; tracemalloc sees only Python's), and resetting the mark keeps the kernels' compile-time
peak (hundreds of MiB when numba's cache is stale) from hiding what a read costs. The resident
size after each file, once it is freed, shows whether memory grows from file to file (a leak).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import hostile

MIB = 1 << 20
BOUND_MIB = 64  # the target: a file of <= 1 MiB may not make a read cost more than this


def _with_fields(data: bytes, values: dict[str, int], rebuild_index: bool = False) -> bytes:
    fields = {name: (off, width) for off, width, name in hostile.parse(data).fields}
    for name, value in values.items():
        data = hostile.set_field(data, *fields[name], value)
    return hostile.seal(data, rebuild_index=rebuild_index)


def hostile_files() -> dict[str, tuple[bytes, str]]:
    """Name -> (bytes, what it is). Every one is far below 1 MiB."""
    v = hostile.valid_vectors()
    invalid = hostile.SPEC / "vectors" / "invalid"
    # context-zeros is (3, 3, 4, 6, 6) in one chunk along T only, so its declared N sets the
    # chunk's decoded size while the 2-word payload stays as it is.
    n_256mib = (256 * MIB) // (3 * 4 * 6 * 6)
    return {
        "chunk-grid-bomb": (_with_fields(v["chunks-2d"], {"shape[1]": 1 << 40, "chunk_shape[1]": 1}), "2**40 chunks per row declared by a 761-byte file"),
        "index-count-huge": (_with_fields(v["spikes-raw"], {"index count": 1 << 60}), "index entry count 2**60"),
        "payload-size-huge": ((invalid / "payload-size-huge.spk").read_bytes(), "spec vector: chunk payload size near 4 GiB"),
        "zstd-bomb": ((invalid / "decompression-bomb.spk").read_bytes(), "spec vector: zstd frame declaring more than the chunk"),
        "header-size-huge": ((invalid / "header-size-huge.spk").read_bytes(), "spec vector: header size beyond the limit"),
        "shape-overflow": ((invalid / "shape-overflow.spk").read_bytes(), "spec vector: element count overflows"),
        "metadata-nesting": (hostile.with_metadata(v["spikes-raw"], hostile.HOSTILE_METADATA[0]), "metadata JSON nested 100,000 deep"),
        "metadata-900k-string": (hostile.with_metadata(v["spikes-raw"], hostile.HOSTILE_METADATA[2]), "metadata with a 900 kB string"),
        "context-declares-32MiB": (_with_fields(v["context-zeros"], {"shape[1]": n_256mib // 8}), "context chunk declaring 32 MiB of elements, 8-byte payload"),
        "context-declares-32MiB-HW1": (_with_fields(v["context-zeros"], {"shape[1]": n_256mib // 8 * 36, "shape[3]": 1, "shape[4]": 1}), "as above with H = W = 1"),
        # (3, 1, 4, H, W): 12 planes, each one huge plane or one huge row (the decoders' per-plane
        # and per-row tables once cost 8 bytes an element of them, and a padded copy of each
        # plane in the context window; countctx a table of 8 bytes per position).
        "context-declares-16MiB-huge-planes": (_with_fields(v["context-zeros"], {"shape[1]": 1, "shape[3]": 1024, "shape[4]": 1365}), "context, 12 planes of 1024 x 1365 declared, 8-byte payload"),
        "context-declares-16MiB-huge-rows": (_with_fields(v["context-zeros"], {"shape[1]": 1, "shape[3]": 1, "shape[4]": 1024 * 1365}), "context, 12 rows of 1024 * 1365 declared, 8-byte payload"),
        "countctx-declares-8MiB-huge-planes": (_with_fields(v["countctx-zeros"], {"shape[1]": 1, "shape[2]": 1, "shape[3]": 2048, "shape[4]": 1365}), "countctx, 3 planes of 2048 x 1365 declared (one channel)"),
        # ctxlanes decodes 1-bit chunks with a zero-padded significance copy of the chunk
        # ((H + 2) (W + 2) bytes a plane, here 81 for 49 elements): the speed codec's price.
        "ctxlanes-declares-32MiB": (_with_fields(v["ctxlanes-zeros"], {"shape[1]": (32 * MIB) // (3 * 8 * 49)}), "ctxlanes chunk declaring 32 MiB of 1-bit 7 x 7 planes, 16-byte payload"),
        "zstd-8bit-declares-32MiB": (_zeros_file((4, 8192, 16, 8, 8), "zstd", 8), "zstd, 8-bit elements (packed bytes = elements), 32 MiB of zeros"),
        "context-declares-256MiB": (_with_fields(v["context-zeros"], {"shape[1]": n_256mib}), "context chunk declaring 256 MiB of elements, 8-byte payload"),
        "context-declares-256MiB-HW1": (_with_fields(v["context-zeros"], {"shape[1]": n_256mib * 36, "shape[3]": 1, "shape[4]": 1}), "as above with H = W = 1"),
    }


def _zeros_file(shape: tuple[int, ...], codec: str, bits: int) -> bytes:
    import numpy as np

    import spikecodec

    return spikecodec.encode(np.zeros(shape, np.uint8), codec=codec, chunk=shape[0], bits=bits)


def measure(data: bytes | list[bytes], max_bytes: int | None = None, max_work: int | None = None) -> dict:
    """{"baseline_mib", "peak_mib", "extra_mib", "outcome"} of reading ``data`` in a fresh process.
    A list is read one file after another: ``extra_mib`` is then the worst of them,
    ``extra_mib_each`` lists them all (``extra_mib_by_op_each`` per operation) and ``growth_mib`` is the resident size after the last file
    minus before the first (what stays allocated: a leak if it grows with the files)."""
    files = []
    try:
        for d in data if isinstance(data, list) else [data]:
            with tempfile.NamedTemporaryFile(suffix=".spk", delete=False) as f:
                f.write(d)
            files.append(f.name)
        args = [sys.executable, __file__, str(max_bytes or 0), str(max_work or 0), *files]
        # A fixed mmap threshold: glibc's adaptive one rises to the largest block freed (up to
        # 32 MiB), after which such blocks come from the heap and stay resident when freed, so a
        # later read reusing them would look free (a 30 MiB validate after a decode read 0 MiB).
        env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(1 << 20)}
        out = subprocess.run(args, capture_output=True, text=True, check=True, env=env).stdout
    finally:
        for name in files:
            Path(name).unlink()
    return json.loads(out.splitlines()[-1])


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # Linux >= 4.0: VmHWM := current RSS


def _open_and_select(data: bytes, max_bytes: int, max_work: int | None = None) -> tuple[str, float]:
    """Open ``data`` and read hostile.exercise's selections (r[0], r[-1], r[T//2::2, ..., -1])
    one at a time, each dropped before the next (what the caller keeps is the caller's memory):
    ("ok" or "rejected", the highest peak RSS of opening and of any one selection, the reader
    still held)."""
    import gc

    import spikecodec

    top = 0.0
    try:
        with spikecodec.open(data, recover=True, limits=hostile._limits(max_bytes, max_work)) as r:
            top = _status_mib("VmHWM")
            shape = r.shape
            keys = []
            if r.ndim and shape[0]:
                keys = [0, -1, (slice(shape[0] // 2, None, 2),) + ((Ellipsis, -1) if r.ndim > 1 and shape[-1] else ())]
            for key in keys:
                gc.collect()
                _reset_peak()
                part = r[key]
                top = max(top, _status_mib("VmHWM"))
                del part
    except spikecodec.FormatError:
        return "rejected", max(top, _status_mib("VmHWM"))
    return "ok", top


def _child(max_bytes: int, max_work: int, paths: list[str]) -> None:
    import gc

    import spikecodec
    from spikecodec.limits import DEFAULT_MAX_DECODED_BYTES

    for name in ("context-spikes", "order0-counts2", "countctx-counts2", "spikes-zstd"):  # load the kernels
        spikecodec.decode((hostile.SPEC / "vectors" / "valid" / f"{name}.spk").read_bytes())
    gc.collect()
    first = _status_mib("VmRSS")
    extra, outcomes, peak, by_op_each = [], [], 0.0, []
    for p in paths:
        data = Path(p).read_bytes()
        worst = 0.0
        by_op = {}
        for target in ("decode", "open", "validate"):  # each on its own: no result held over
            gc.collect()
            _reset_peak()
            base = _status_mib("VmRSS")
            if target == "open":
                outcome, top = _open_and_select(data, max_bytes or DEFAULT_MAX_DECODED_BYTES, max_work or None)
            else:
                outcome = hostile.exercise(data, target, max_bytes or DEFAULT_MAX_DECODED_BYTES, max_work or None)
                top = _status_mib("VmHWM")
            worst = max(worst, top - base)
            by_op[target] = round(top - base, 1)
            peak = max(peak, top)
            if target == "decode":
                outcomes.append(outcome)
        extra.append(round(worst, 1))
        by_op_each.append(by_op)
    gc.collect()
    result = {"baseline_mib": round(first, 1), "peak_mib": round(peak, 1), "extra_mib": max(extra),
              "outcome": outcomes[0] if len(outcomes) == 1 else outcomes}
    if len(paths) == 1:
        result["extra_mib_by_op"] = by_op
    if len(paths) > 1:
        result["extra_mib_each"] = extra
        result["extra_mib_by_op_each"] = by_op_each
        result["growth_mib"] = round(_status_mib("VmRSS") - first, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    _child(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])


def declared_output_files() -> dict[str, tuple[bytes, str]]:
    """Name -> (bytes, what): genuine files of every codec whose header declares far more output
    than the file holds (arrays of zeros, one chunk), for the report's per-codec memory table."""
    import numpy as np

    import spikecodec

    cases = {
        "raw-8MiB": ((4, 2048, 16, 8, 8), "raw", "TNCHW"),
        "zstd-32MiB": ((4, 8192, 16, 8, 8), "zstd", "TNCHW"),
        "zstd-32MiB-8bit": ((4, 8192, 16, 8, 8), "zstd", "TNCHW"),
        "order0-32MiB": ((4, 8192, 16, 8, 8), "order0", "TNCHW"),
        "context-32MiB": ((4, 8192, 16, 8, 8), "context", "TNCHW"),
        "auto-32MiB": ((4, 8192, 16, 8, 8), "auto", "TNCHW"),
        "context-32MiB-HW1": ((4, 8 << 20, 1, 1, 1), "context", "TNCHW"),
        "context-32MiB-axes-TCNHW": ((4, 16, 8192, 8, 8), "context", "TCNHW"),
        "context-32MiB-axes-WHCNT": ((8, 8, 8192, 16, 4), "context", "WHCNT"),
        "context-32MiB-axes-NTBCHW": ((128, 4, 64, 16, 8, 8), "context", "NTBCHW"),
        "countctx-32MiB": ((4, 8192, 16, 8, 8), "countctx", "TNCHW"),
        "countctx-32MiB-axes-TCNHW": ((4, 16, 8192, 8, 8), "countctx", "TCNHW"),
        "countctx-32MiB-axes-NTBCHW": ((128, 4, 64, 16, 8, 8), "countctx", "NTBCHW"),
        "context-32MiB-one-plane": ((1, 1, 1, 4096, 8192), "context", "TNCHW"),
        "context-32MiB-one-row": ((1, 1, 1, 1, 32 << 20), "context", "TNCHW"),
    }
    out = {}
    for name, (shape, codec, axes) in cases.items():
        x = np.zeros(shape, np.uint8)
        x.reshape(-1)[0] = 1
        data = spikecodec.encode(x, codec=codec, axes=axes, chunk=shape[0], bits=8 if name.endswith("8bit") else None)
        out[name] = (data, f"{codec}, {x.nbytes / MIB:.0f} MiB declared, shape {shape} axes {axes}")
    return out
