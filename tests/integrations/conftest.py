"""Shared fixtures: real spikes (the shipped sample, the shipped model's edge half on Fashion-MNIST)
and ONE dask LocalCluster of two worker processes for the whole session."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from integration_helpers import DATA

MODEL_IMAGES = 1200  # the edge half on this many test images: about a second on 2 idle cores


@pytest.fixture(scope="session")
def sample_spikes() -> np.ndarray:
    """The shipped sample: real spikes, T x N x C x H x W = 4 x 32 x 32 x 7 x 7, uint8 0/1."""
    with np.load(DATA / "sample_spikes.npz") as f:
        return f["spikes"]


@pytest.fixture(scope="session")
def model_spikes() -> np.ndarray:
    """The shipped model's edge half on Fashion-MNIST test images: 2 x N x 4 x 7 x 7, uint8 0/1."""
    import torch

    from spikecodec.models import load_reference
    from spikecodec.models.data import load_fashion_mnist

    torch.set_num_threads(2)
    net = load_reference()
    images, _ = load_fashion_mnist("test", limit=MODEL_IMAGES)
    with torch.inference_mode():
        spikes = torch.cat([net.edge(images[a : a + 500]) for a in range(0, len(images), 500)], dim=1)
    return spikes.to(torch.uint8).numpy()


@pytest.fixture(scope="session")
def dask_client():
    """One LocalCluster (2 worker processes, 1 thread each, no dashboard) for every dask test,
    closed when the session ends."""
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                           silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
