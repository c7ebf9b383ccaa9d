"""Weights-only checkpoints: plain state dicts plus a JSON-able config that rebuilds the model.

Everything saved is tensors, numbers, strings, lists and dicts, so `torch.load(weights_only=True)`
reads it without unpickling arbitrary objects.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .bottleneck import SplitModel
from .factory import build_model


def plain(value: Any, where: str = "extra") -> Any:
    """``value`` as what ``torch.load(weights_only=True)`` reads back: paths as strings, numpy
    scalars and arrays as numbers and tensors, tuples as lists; TypeError for anything else (a
    Path in the settings made every resume point unreadable, UnpicklingError, with no error when
    it was saved)."""
    if isinstance(value, np.generic):  # before float: np.float64 is a float, and pickles as numpy's
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, (list, tuple)):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        if not all(isinstance(k, (str, int)) for k in value):
            raise TypeError(f"{where}: a checkpoint's dict keys are strings or integers")
        return {k: plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise TypeError(f"{where}: a {type(value).__name__} does not go into a weights-only checkpoint "
                    "(tensors, numbers, strings, lists and dicts do)")


def save_checkpoint(path: str | Path, model: SplitModel, config: dict, **extra: Any) -> None:
    """Write {config, model, **extra} atomically (a crash never leaves a half-written file);
    the extras as :func:`plain` makes them, so that :func:`read_checkpoint` reads them back."""
    json.dumps(config)  # fail early if the config would not rebuild from JSON
    extra = {k: plain(v, k) for k, v in extra.items()}
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder: name the checkpoint file")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        torch.save({"config": config, "model": model.state_dict(), **extra}, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_checkpoint(path: str | Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def load_model(path: str | Path) -> SplitModel:
    """Rebuild the model from a checkpoint's config and load its weights (eval mode)."""
    checkpoint = read_checkpoint(path)
    model = build_model(checkpoint["config"])
    model.load_state_dict(checkpoint["model"])
    return model.eval()
