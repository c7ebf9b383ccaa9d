"""dask.distributed over zarr stores of real spikes coded by spikecodec: two worker processes
(the session's one LocalCluster) decode the chunks and reduce them to numpy's results."""

from __future__ import annotations

import os
import sys

import dask.array as da
import numpy as np
import zarr

from spikecodec.integrations.numcodecs import SpikeCodec
from spikecodec.integrations.zarr import SpikeZarrCodec


def _reductions(x):
    """Spike counts over time, per sample, in all; mean firing rate per channel (x: T N C H W)."""
    return {
        "per_neuron": x.sum(axis=0),
        "per_sample": x.sum(axis=(0, 2, 3, 4)),
        "per_step_channel": x.sum(axis=(1, 3, 4)),
        "total": x.sum(),
        "rate_per_channel": x.mean(axis=(0, 1, 3, 4)),
    }


def _check(got, want):
    for key in want:
        if key == "rate_per_channel":
            np.testing.assert_allclose(got[key], want[key], rtol=1e-12, atol=0)
        else:
            np.testing.assert_array_equal(got[key], want[key])


def test_reductions_on_two_worker_processes(dask_client, sample_spikes, tmp_path):
    spikes = sample_spikes.astype(bool)
    path = tmp_path / "spikes.zarr"
    z = zarr.create_array(path, shape=spikes.shape, chunks=(4, 4, 32, 7, 7), dtype=bool, compressors=None,
                          serializer=SpikeZarrCodec(codec="ctxmix", axes="TNCHW"))
    z[...] = spikes
    x = da.from_zarr(str(path))
    assert x.dtype == bool and x.chunks[1] == (4,) * 8
    got = dask_client.compute(_reductions(x), sync=True)
    _check(got, _reductions(spikes))
    # Two worker processes besides this one, which decoded the chunks with the codec.
    pids = dask_client.run(os.getpid)
    assert len(pids) == 2 and os.getpid() not in pids.values()
    loaded = dask_client.run(lambda: "spikecodec.integrations.zarr" in sys.modules)
    assert any(loaded.values()), loaded


def test_workers_write_and_read_through_the_codecs(dask_client, model_spikes, tmp_path):
    """Workers encode too: a dask array stored into a zarr v3 array (spikecodec serializer) and a
    zarr v2 array (the numcodecs codec as its compressor, found by its id from .zarray)."""
    spikes = model_spikes[:, :1000].astype(bool)
    src = da.from_array(spikes, chunks=(2, 250, 4, 7, 7))
    v3 = zarr.create_array(tmp_path / "v3", shape=spikes.shape, chunks=(2, 250, 4, 7, 7), dtype=bool,
                           compressors=None, serializer=SpikeZarrCodec(codec="ctxmix"))
    v2 = zarr.create_array(tmp_path / "v2", shape=spikes.shape, chunks=(2, 250, 4, 7, 7), dtype=bool,
                           zarr_format=2, filters=None, compressors=SpikeCodec(codec="ctxmix"))
    da.store([src, src], [v3, v2], lock=False)
    want = _reductions(spikes)
    for name in ("v3", "v2"):
        x = da.from_zarr(str(tmp_path / name))
        _check(dask_client.compute(_reductions(x), sync=True), want)
        np.testing.assert_array_equal(x.compute(), spikes)
