"""Build a split model from a JSON-able config, so weights-only checkpoints can rebuild it.

Config keys (all JSON types):
    backbone: {"arch": "resnet" | "mobilenet", "layout": str, plus optional overrides}
    neuron:   NeuronSpec fields ({"spiking": false} gives the ANN twin, run with timesteps = 1)
    timesteps, in_channels, num_classes, image_size, split, mean, std
    unit:     {"kind": "spiking" | "identity" | "bottlenet" | "bottlenetpp", "channels", "stride"}
    encoding: {"kind": "direct"} (real pixels into the stem), or spikes into the stem (spiking
              networks only): {"kind": "thermometer", "thresholds": [...] | None} (a level per
              step) or {"kind": "levels", "thresholds": [...] | None} (3 levels by default, as
              channels at every step).
              Checkpoints written before this key existed mean "direct".
"""

from __future__ import annotations

import copy
import numbers

import numpy as np
import torch

from .backbone import StagedBackbone
from .baselines import BottleNetPPUnit, BottleNetUnit
from .bottleneck import IdentityUnit, SpikingBottleneck, SplitModel
from .encoding import LevelEncoding, ThermometerEncoding
from .layers import NeuronSpec
from .mobilenet import spiking_mobilenet_v2
from .resnet import spiking_resnet

FASHION_MNIST_MEAN = [0.2860]
FASHION_MNIST_STD = [0.3530]

DEFAULT_CONFIG: dict = {
    "backbone": {"arch": "resnet", "layout": "narrow"},
    "neuron": NeuronSpec().to_dict(),
    "timesteps": 2,
    "in_channels": 1,
    "num_classes": 10,
    "image_size": 28,
    "split": "layer3",
    "unit": {"kind": "spiking", "channels": 4, "stride": 1},
    "mean": FASHION_MNIST_MEAN,
    "std": FASHION_MNIST_STD,
    "encoding": {"kind": "direct"},
}


def make_config(**overrides) -> dict:
    """DEFAULT_CONFIG with top-level keys replaced (nested dicts are replaced, not merged)."""
    config = copy.deepcopy(DEFAULT_CONFIG)
    config.update(copy.deepcopy(overrides))
    return config


BUILDERS = {"resnet": spiking_resnet, "mobilenet": spiking_mobilenet_v2}
UNIT_CLASSES = {"spiking": SpikingBottleneck, "identity": IdentityUnit, "bottlenet": BottleNetUnit, "bottlenetpp": BottleNetPPUnit}
UNITS = tuple(UNIT_CLASSES)


def check_config(config: dict) -> None:
    """ValueError saying which key of ``config`` is missing or wrong (a bare KeyError or a
    TypeError from deep in torch before; timesteps = -1 built a model of T = 1)."""
    def count(key: str, value: object) -> None:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:  # np.int64 too
            raise ValueError(f"config {key} is a positive integer, got {value!r}")

    missing = [k for k in ("backbone", "neuron", "timesteps", "in_channels", "num_classes", "image_size", "split", "unit",
                           "mean", "std") if k not in config]
    if missing:
        raise ValueError(f"config lacks {', '.join(missing)} (make_config() gives every key)")
    for key in ("timesteps", "in_channels", "num_classes", "image_size"):
        count(key, config[key])
    backbone, unit, neuron = config["backbone"], config["unit"], config["neuron"]
    if not isinstance(backbone, dict) or backbone.get("arch") not in BUILDERS:
        raise ValueError(f"config backbone: arch is one of {sorted(BUILDERS)}, got {backbone!r}")
    if not isinstance(unit, dict) or unit.get("kind") not in UNITS:
        raise ValueError(f"config unit: kind is one of {list(UNITS)}, got {unit!r}")
    if unit["kind"] != "identity":
        count("unit channels", unit.get("channels"))
        count("unit stride", unit.get("stride", 1))
    if not isinstance(neuron, dict) or not set(neuron) <= set(NeuronSpec.__dataclass_fields__):
        raise ValueError(f"config neuron: keys of {sorted(NeuronSpec.__dataclass_fields__)}, got {neuron!r}")
    spec = NeuronSpec(**neuron)
    if spec.spiking and not (0 < spec.tau <= 1 and spec.v_th > 0 and spec.surrogate_width > 0):
        raise ValueError(f"config neuron: 0 < tau <= 1, v_th > 0 and surrogate_width > 0, got {neuron!r}")
    for key in ("mean", "std"):
        values = config[key]
        if not isinstance(values, (list, tuple, np.ndarray)) or len(values) != config["in_channels"] or not all(
                isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in values):
            raise ValueError(f"config {key} is a list of {config['in_channels']} numbers (one per input channel), got {values!r}")
    if not all(v > 0 for v in config["std"]):
        raise ValueError(f"config std values are positive, got {config['std']!r}")
    encoding = config.get("encoding", {"kind": "direct"})
    if not isinstance(encoding, dict) or "kind" not in encoding:
        raise ValueError(f"config encoding is an object with a kind, got {encoding!r}")


def build_backbone(config: dict) -> StagedBackbone:
    check_config(config)
    spec = NeuronSpec(**config["neuron"])
    options = dict(config["backbone"])
    arch = options.pop("arch")
    try:
        return BUILDERS[arch](
            in_channels=config["in_channels"],
            num_classes=config["num_classes"],
            timesteps=config["timesteps"] if spec.spiking else 1,
            spec=spec,
            encoding=build_encoding(config),
            **options,
        )
    except (KeyError, TypeError) as exc:  # an unknown layout or block, an option the builder does not take
        raise ValueError(f"config backbone {config['backbone']!r}: {exc}") from None


def build_encoding(config: dict) -> ThermometerEncoding | LevelEncoding | None:
    """The stem's spike input encoding, or None for direct encoding (real pixels)."""
    encoding = config.get("encoding", {"kind": "direct"})
    if encoding["kind"] == "direct":
        return None
    codes = {"thermometer": ThermometerEncoding, "levels": LevelEncoding}
    if encoding["kind"] not in codes:
        raise ValueError(f"unknown input encoding {encoding['kind']!r}")
    if not config["neuron"].get("spiking", True):
        raise ValueError("a spike input encoding needs a spiking network")
    return codes[encoding["kind"]](config["timesteps"], config["mean"], config["std"], encoding.get("thresholds"))


@torch.no_grad()
def feature_shape(backbone: StagedBackbone, split: str, config: dict) -> tuple[int, int, int]:
    """(C, H, W) of the backbone's output after stage `split`, from a dummy forward pass."""
    was_training = backbone.training
    backbone.eval()  # keep BN running statistics untouched by the dummy input
    size = config["image_size"]
    x = torch.zeros(1, config["in_channels"], size, size)
    shape = backbone.run(x, 0, backbone.split_index(split)).shape[2:]
    backbone.train(was_training)
    return tuple(shape)


def build_model(config: dict) -> SplitModel:
    """Rebuild the split model described by `config` (fresh weights)."""
    backbone = build_backbone(config)
    spec = NeuronSpec(**config["neuron"])
    unit_cfg = config["unit"]
    kind = unit_cfg["kind"]
    shape = feature_shape(backbone, config["split"], config)
    channels, stride = unit_cfg.get("channels"), unit_cfg.get("stride", 1)
    if kind == "spiking":
        unit = SpikingBottleneck(shape, channels, spec, stride)
    elif kind == "bottlenet":
        unit = BottleNetUnit(shape, channels, stride)
    elif kind == "bottlenetpp":
        unit = BottleNetPPUnit(shape, channels, stride)
    elif kind == "identity":
        unit = IdentityUnit()
    else:
        raise ValueError(f"unknown bottleneck unit {kind!r}")
    return SplitModel(backbone, config["split"], unit, config["mean"], config["std"])
