"""How the compiled (numba) kernels are loaded: lazily, by :func:`load_kernels`, after making
sure numba has a cache it can write.

:func:`load_kernels` is the one way the package imports a kernel module (the codecs' kernels in
:mod:`spikecodec.codecs.kernels`, the bit packing in :mod:`spikecodec._packing_kernels`): on
first use, so ``import spikecodec`` never imports numba, and always after
:func:`use_writable_cache`, so numba reads the cache folder chosen there when it is imported.

numba caches a compiled kernel beside its source (``__pycache__``), else in the user's cache
directory; on a read-only install used by a user whose home is not writable it finds neither
and refuses to compile at all ("cannot cache function ... no locator available"). When the
package's own ``__pycache__`` folders (beside the kernel modules) cannot be written, numba is
pointed at ``$XDG_CACHE_HOME/spikecodec/numba`` (``~/.cache/...``), else at a private folder in
the temporary directory. Compiling then always works; only the cache's reuse depends on what is
writable.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

_PACKAGE = Path(__file__).resolve().parent
_chosen: str | None = None


def _writable(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (made if missing): tried, not just asked
    (os.access says yes to root on a read-only mount)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def use_writable_cache() -> str | None:
    """Make sure numba has a writable cache; returns the folder chosen (None: numba's own)."""
    global _chosen
    if _chosen is not None or os.environ.get("NUMBA_CACHE_DIR"):
        return _chosen
    if all(_writable(d / "__pycache__") for d in (_PACKAGE, _PACKAGE / "codecs" / "kernels")):
        return None
    candidates = []
    base = os.environ.get("XDG_CACHE_HOME") or (os.path.join(os.path.expanduser("~"), ".cache") if os.path.expanduser("~") != "~" else None)
    if base:
        candidates.append(Path(base) / "spikecodec" / "numba")
    candidates.append(Path(tempfile.gettempdir()) / f"spikecodec-numba-{os.getuid() if hasattr(os, 'getuid') else 'user'}")
    for folder in candidates:
        if _writable(folder):
            _chosen = str(folder)
            break
    else:
        _chosen = tempfile.mkdtemp(prefix="spikecodec-numba-")
    os.environ["NUMBA_CACHE_DIR"] = _chosen
    if "numba" in sys.modules:  # imported before us: its configuration was read already
        sys.modules["numba"].config.CACHE_DIR = _chosen
    return _chosen


def _kernel_sources() -> list[Path]:
    """Every module of compiled kernels."""
    return sorted((_PACKAGE / "codecs" / "kernels").glob("*.py")) + [_PACKAGE / "_packing_kernels.py"]


@functools.cache
def drop_stale_kernels() -> None:
    """Remove the compiled kernels cached beside the sources when any kernel source differs from
    the one they were compiled from. numba checks a cached function against its own module's file
    only, but a kernel holds the code of what it calls in other modules (countmix's of winmix's,
    winmix's of mix's): after an edit of winmix.py, countmix loaded its old code from the cache,
    and a frozen bytes test passed on code that no longer existed. So one stamp, a digest of every
    kernel source, stands for the package's whole cache. Only the cache beside the sources (a
    source tree being edited) is checked: a cache elsewhere (:func:`use_writable_cache`, or
    ``NUMBA_CACHE_DIR``) serves an installed package, whose files a new install replaces all
    together, and may be shared with other installs."""
    if _chosen is not None or os.environ.get("NUMBA_CACHE_DIR"):
        return
    digest = hashlib.sha256()
    for source in _kernel_sources():
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    stamp = digest.hexdigest()
    folders = [_PACKAGE / "codecs" / "kernels" / "__pycache__", _PACKAGE / "__pycache__"]
    stamp_file = folders[0] / "spikecodec-kernels.stamp"
    try:
        if stamp_file.read_text() == stamp:
            return
    except OSError:
        pass
    try:
        for folder in folders:
            for cached in [*folder.glob("*.nbi"), *folder.glob("*.nbc")]:
                cached.unlink(missing_ok=True)
        stamp_file.write_text(stamp)
    except OSError:  # a cache that cannot be written is not reused either
        pass


@functools.cache
def load_kernels(name: str) -> ModuleType:
    """The kernel module ``name`` (its full name, e.g. ``"spikecodec.codecs.kernels.rans"``),
    imported on first use after :func:`use_writable_cache` and :func:`drop_stale_kernels` (numba
    compiles its functions on their first call, or loads them from its cache); later calls are a
    dictionary lookup."""
    use_writable_cache()
    drop_stale_kernels()
    return importlib.import_module(name)
