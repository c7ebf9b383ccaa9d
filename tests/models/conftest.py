"""Shared fixtures: tiny configs and a few hundred real Fashion-MNIST images."""

from __future__ import annotations

import pytest
import torch

from spikecodec.models.data import load_fashion_mnist
from spikecodec.models.factory import make_config


def _tiny_config(**overrides) -> dict:
    """A 3-stage ResNet of widths 4/8/8 at T=2: milliseconds per forward pass."""
    base = dict(
        backbone={"arch": "resnet", "layout": "narrow", "widths": [4, 8, 8]},
        timesteps=2,
        split="layer2",
        unit={"kind": "spiking", "channels": 2, "stride": 1},
    )
    base.update(overrides)
    return make_config(**base)


@pytest.fixture
def tiny_config():
    """Factory fixture: call it with config overrides."""
    return _tiny_config


@pytest.fixture(scope="session")
def fmnist_test() -> tuple[torch.Tensor, torch.Tensor]:
    return load_fashion_mnist("test", limit=256)


@pytest.fixture(autouse=True)
def _seed_and_threads() -> None:
    torch.manual_seed(0)
    # Tiny tensors: one thread avoids oversubscribing the CPU when other jobs run beside the tests.
    torch.set_num_threads(1)
