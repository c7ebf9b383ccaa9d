"""Weights-only checkpoints: plain state dicts plus a JSON-able config that rebuilds the model.

Everything saved is tensors, numbers, strings, lists and dicts, so `torch.load(weights_only=True)`
reads it without unpickling arbitrary objects.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from .bottleneck import SplitModel
from .factory import build_model


def save_checkpoint(path: str | Path, model: SplitModel, config: dict, **extra: Any) -> None:
    """Write {config, model, **extra} atomically (a crash never leaves a half-written file)."""
    json.dumps(config)  # fail early if the config would not rebuild from JSON
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"config": config, "model": model.state_dict(), **extra}, tmp)
    os.replace(tmp, path)


def read_checkpoint(path: str | Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def load_model(path: str | Path) -> SplitModel:
    """Rebuild the model from a checkpoint's config and load its weights (eval mode)."""
    checkpoint = read_checkpoint(path)
    model = build_model(checkpoint["config"])
    model.load_state_dict(checkpoint["model"])
    return model.eval()
