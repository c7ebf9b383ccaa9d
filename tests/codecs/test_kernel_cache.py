"""The compiled kernels cached beside the sources are dropped whole when any kernel source
changes (numba checks a cached kernel against its own module only, not the modules whose code it
holds)."""

from __future__ import annotations

from pathlib import Path

import spikecodec._kernel_cache as kc


def _package_copy(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    """A package folder with one kernel source and a cache beside it."""
    kernels = tmp_path / "codecs" / "kernels"
    (kernels / "__pycache__").mkdir(parents=True)
    (tmp_path / "__pycache__").mkdir()
    (kernels / "winmix.py").write_text("A = 1\n")
    (tmp_path / "_packing_kernels.py").write_text("B = 2\n")
    monkeypatch.setattr(kc, "_PACKAGE", tmp_path)
    monkeypatch.setattr(kc, "_chosen", None)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    return kernels / "winmix.py", kernels / "__pycache__"


def test_a_changed_kernel_source_drops_every_cached_kernel(tmp_path: Path, monkeypatch) -> None:
    source, cache = _package_copy(tmp_path, monkeypatch)
    cached = [cache / "countmix.encode-42.py311.nbi", cache / "countmix.encode-42.py311.1.nbc",
              tmp_path / "__pycache__" / "_packing_kernels.pack-9.py311.nbi"]
    for path in cached:
        path.write_bytes(b"old")
    (cache / "winmix.cpython-311.pyc").write_bytes(b"bytecode")
    kc.drop_stale_kernels.__wrapped__()  # no stamp yet: nothing says what the cache was made from
    assert not any(p.exists() for p in cached) and (cache / "winmix.cpython-311.pyc").exists()
    stamp = (cache / "spikecodec-kernels.stamp").read_text()
    cached[0].write_bytes(b"compiled from these sources")
    kc.drop_stale_kernels.__wrapped__()  # the same sources: kept
    assert cached[0].exists() and (cache / "spikecodec-kernels.stamp").read_text() == stamp
    source.write_text("A = 3\n")  # an edit of another module than the cached kernel's
    kc.drop_stale_kernels.__wrapped__()
    assert not cached[0].exists() and (cache / "spikecodec-kernels.stamp").read_text() != stamp


def test_a_cache_elsewhere_is_left_alone(tmp_path: Path, monkeypatch) -> None:
    _, cache = _package_copy(tmp_path, monkeypatch)
    (cache / "x.nbi").write_bytes(b"x")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "elsewhere"))
    kc.drop_stale_kernels.__wrapped__()
    assert (cache / "x.nbi").exists() and not (cache / "spikecodec-kernels.stamp").exists()
