"""spikecodec inside other people's pipelines (docs/integrations.md).

* :mod:`spikecodec.integrations.numcodecs`: ``SpikeCodec``, a numcodecs codec (``{"id": "spikecodec"}``)
  for zarr v2, dask and anything else that takes numcodecs codecs;
* :mod:`spikecodec.integrations.zarr`: ``SpikeZarrCodec``, a zarr v3 array-to-bytes codec
  (``{"name": "spikecodec"}``), alone or inside zarr's sharding codec;
* :mod:`spikecodec.integrations.torch`: ``SpikeDataset``, a torch Dataset over spike files.

Each submodule imports its framework (numcodecs, zarr, torch) itself; importing this package
imports none of them. The names below are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {"SpikeCodec": "numcodecs", "SpikeZarrCodec": "zarr", "SpikeDataset": "torch"}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
