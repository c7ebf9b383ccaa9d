"""Fixtures of the serve tests: test images and their edge-half spikes."""

from __future__ import annotations

import faulthandler
import sys

import numpy as np
import pytest

from serve_helpers import IMAGES


@pytest.fixture(scope="session")
def images() -> np.ndarray:
    """Test images of Fashion-MNIST's test split, uint8 (N, 28, 28)."""
    from spikecodec.models.data import load_fashion_mnist

    return load_fashion_mnist("test", limit=IMAGES * 4)[0].numpy()[:, 0]


@pytest.fixture(scope="session")
def spikes(images: np.ndarray) -> np.ndarray:
    """Their edge-half spikes, one image a row: (N, T, C, H, W)."""
    import torch

    from spikecodec.models.coinference import load_split

    net, _ = load_split()
    with torch.inference_mode():
        return net.edge(images[:, None]).to(torch.uint8).transpose(0, 1).numpy()


@pytest.fixture(autouse=True)
def _traceback_if_stuck():
    """A test that runs past 90 s (they take seconds) prints every thread's stack, to show where it hangs."""
    faulthandler.dump_traceback_later(90, file=sys.stderr)
    yield
    faulthandler.cancel_dump_traceback_later()
