"""Shipped reference models: `<name>.pt` (config + weights) beside `<name>.json` (metadata).

Listing reads only the JSON files, so it works without importing torch.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

REFERENCE_DIR = Path(__file__).parent / "reference"
DEFAULT_REFERENCE = "snn-resnet-fmnist"


def list_references() -> list[dict]:
    """Metadata of every shipped reference: name, dataset, accuracy, split, spike_shape, ..."""
    return [json.loads(p.read_text()) for p in sorted(REFERENCE_DIR.glob("*.json"))]


def load_reference(name: str | None = None):
    """The shipped split model `name` (default: the SpikeBottleNet ResNet on Fashion-MNIST),
    in eval mode, with `edge(images)`, `cloud(spikes)` and `model(images)`."""
    from .checkpoint import load_model  # torch is imported only here

    return load_model(reference_path(name))


def reference_path(name: str | None = None) -> Path:
    """The checkpoint of the shipped model `name` (default: the default reference); KeyError if none."""
    name = DEFAULT_REFERENCE if name is None else name  # "" names no model: not the default
    path = REFERENCE_DIR / f"{name}.pt"
    if not name or "/" in name or "\\" in name or not path.is_file():
        known = ", ".join(r["name"] for r in list_references())
        raise KeyError(f"no reference model {name!r} (shipped: {known})")
    return path


def link_stats(code, feature_shape: list[int]) -> dict:
    """Link cost per image of an edge output against the float32 feature it replaces.

    Spikes (T, N, C', H', W') carry one bit per element; the baselines' uint8 codes
    (N, C', H', W') carry eight.
    """
    code_bits = code[:, 0].numel() if code.dim() == 5 else 8 * code[0].numel()
    feature_bits = 32 * math.prod(feature_shape)
    return {
        "code_bits_per_image": code_bits,
        "raw_bytes_per_image": code_bits / 8,
        "feature_bits_per_image": feature_bits,
        "bits_ratio": feature_bits / code_bits,
    }


def export_reference(checkpoint: str | Path, name: str, test_data, extra: dict | None = None) -> dict:
    """Copy a trained checkpoint's config + weights into the package and write its metadata."""
    import torch

    from .checkpoint import load_model, read_checkpoint, save_checkpoint
    from .factory import feature_shape
    from .train import evaluate

    config = read_checkpoint(checkpoint)["config"]
    model = load_model(checkpoint)
    accuracy = evaluate(model, *test_data)
    with torch.no_grad():
        code = model.edge(test_data[0][:2])
    fshape = list(feature_shape(model.backbone, model.split, config))
    meta = {
        "name": name,
        "dataset": "fashion-mnist",
        "test_accuracy": round(accuracy, 4),
        "arch": config["backbone"],
        "split": config["split"],
        "timesteps": config["timesteps"],
        "spike_shape": [code.shape[0], "N", *code.shape[2:]],
        "feature_shape": fshape,
        **link_stats(code, fshape),
        **(extra or {}),
    }
    REFERENCE_DIR.mkdir(exist_ok=True)
    save_checkpoint(REFERENCE_DIR / f"{name}.pt", model, config)
    (REFERENCE_DIR / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta
