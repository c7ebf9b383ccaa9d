"""A progress bar on long work, only when stderr is a terminal (tqdm, imported only then)."""

from __future__ import annotations

import sys
from typing import Any

# Below this many elements (about 32 MB of uint8) the work takes about a second or less: no bar.
LONG_WORK_ELEMENTS = 1 << 25


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> "_Silent":
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def bar(total: int, desc: str, quiet: bool = False, *, unit: str = "el", long_work: int = LONG_WORK_ELEMENTS) -> Any:
    """A context manager with ``update(n)``: a tqdm bar counting ``unit``s (elements unless told),
    or a silent stand-in when the work is under ``long_work`` units."""
    if quiet or total < long_work or not sys.stderr.isatty():
        return _Silent()
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is an optional extra: work silently without it
        return _Silent()
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False, file=sys.stderr)
