"""Peak memory of reading hostile files, each measured in a fresh process.

``measure(data)`` runs ``python memory.py FILE MAX_BYTES`` in a subprocess: it imports spikecodec,
loads the compiled kernels on a valid file, notes ``ru_maxrss``, then puts FILE through decode,
open + slicing and validate (hostile.exercise). The peak minus the baseline is what reading the
file cost. ``ru_maxrss`` sees every allocation (numba's included), tracemalloc only Python's.
"""

from __future__ import annotations

import json
import resource
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
        "context-declares-256MiB": (_with_fields(v["context-zeros"], {"shape[1]": n_256mib}), "context chunk declaring 256 MiB of elements, 8-byte payload"),
        "context-declares-256MiB-HW1": (_with_fields(v["context-zeros"], {"shape[1]": n_256mib * 36, "shape[3]": 1, "shape[4]": 1}), "as above with H = W = 1"),
    }


def measure(data: bytes | list[bytes], max_bytes: int | None = None) -> dict:
    """{"baseline_mib", "peak_mib", "extra_mib", "outcome"} of reading ``data`` in a fresh process
    (a list: read one after another, so ``extra_mib`` is the worst of them)."""
    files = []
    try:
        for d in data if isinstance(data, list) else [data]:
            with tempfile.NamedTemporaryFile(suffix=".spk", delete=False) as f:
                f.write(d)
            files.append(f.name)
        args = [sys.executable, __file__, str(max_bytes or 0), *files]
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    finally:
        for name in files:
            Path(name).unlink()
    return json.loads(out.splitlines()[-1])


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _child(max_bytes: int, paths: list[str]) -> None:
    import spikecodec
    from spikecodec.limits import DEFAULT_MAX_DECODED_BYTES

    for name in ("context-spikes", "order0-counts2", "spikes-zstd"):  # load the kernels
        spikecodec.decode((hostile.SPEC / "vectors" / "valid" / f"{name}.spk").read_bytes())
    base = _maxrss_mib()
    outcomes = [hostile.exercise(Path(p).read_bytes(), "all", max_bytes or DEFAULT_MAX_DECODED_BYTES) for p in paths]
    peak = _maxrss_mib()
    outcome = outcomes[0] if len(outcomes) == 1 else outcomes
    print(json.dumps({"baseline_mib": round(base, 1), "peak_mib": round(peak, 1), "extra_mib": round(peak - base, 1), "outcome": outcome}))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    _child(int(sys.argv[1]), sys.argv[2:])
