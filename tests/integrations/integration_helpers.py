"""Helpers the integration tests share (a module of its own: every test folder has a conftest)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import spikecodec

DATA = Path(spikecodec.__file__).parent / "data"
SHIPPED_PRIOR = Path(spikecodec.__file__).parent / "models" / "reference" / "snn-resnet-fmnist.prior"


def run_fresh(code: str, **env: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (no module of this process imported there); raises with
    its stderr if it fails."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, **env})
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def store_bytes(path: Path, chunks_only: bool = False) -> int:
    """Bytes of a zarr store on disk (``chunks_only``: without its metadata documents)."""
    skip = {"zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata"} if chunks_only else set()
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file() and p.name not in skip)
