"""SpikeDataset: the samples of several spike files as one torch Dataset, through DataLoader
workers started by fork and by spawn (the dataset pickles as its paths)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import spikecodec
from spikecodec.integrations.torch import SpikeDataset

from integration_helpers import run_fresh


@pytest.fixture(scope="module")
def files(sample_spikes, tmp_path_factory):
    """The sample's 32 samples over three files of different layouts and chunkings, one of them
    coded from a prior that it does not embed and that no search path holds; returns the paths,
    the samples in dataset order (N, T, C, H, W) and the prior."""
    d = tmp_path_factory.mktemp("ds")
    x = sample_spikes  # T N C H W
    by_sample = np.ascontiguousarray(x.transpose(1, 0, 2, 3, 4))
    prior = spikecodec.train_prior(by_sample[:11], "context", axes="NTCHW", chunk=1)
    paths = [d / "a.spk", d / "b.spk", d / "c.spk"]
    spikecodec.save(paths[0], x[:, :11], codec="ctxmix")                                  # TNCHW, one chunk
    spikecodec.save(paths[1], by_sample[11:18], axes="NTCHW", chunk=1, codec="context",    # a sample a chunk
                    prior=prior, records="compact")
    spikecodec.save(paths[2], x[:, 18:], codec="context", chunk=(4, 3))                    # blocks of 3 samples
    return [str(p) for p in paths], by_sample, prior


def test_items_are_the_samples_in_order(files):
    paths, want, prior = files
    with pytest.raises(spikecodec.FormatError, match="not given"):
        SpikeDataset(paths)
    ds = SpikeDataset(paths, priors=prior)
    assert len(ds) == 32 and ds.counts == [11, 7, 14] and ds.axes == [1, 0, 1]
    for i in range(len(ds)):
        item = ds[i]
        assert item.dtype == torch.uint8 and tuple(item.shape) == want.shape[1:]
        np.testing.assert_array_equal(item.numpy(), want[i])
    np.testing.assert_array_equal(ds[-1].numpy(), want[-1])
    for bad in (32, -33):
        with pytest.raises(IndexError):
            ds[bad]


def test_dtype_transform_and_axis_by_position(files):
    paths, want, prior = files
    ds = SpikeDataset(paths[1], axis=0, dtype=torch.float32, transform=lambda t: t.sum(), priors=[prior])
    assert len(ds) == 7 and ds[3].dtype == torch.float32 and float(ds[3]) == want[11 + 3].sum()
    with pytest.raises(ValueError, match="has no axis 'S'"):
        SpikeDataset(paths[0], axis="S")
    with pytest.raises(ValueError, match="out of range"):
        SpikeDataset(paths[0], axis=5)
    with pytest.raises(ValueError, match="no files"):
        SpikeDataset([])


@pytest.mark.parametrize("dtype, fits", [(torch.int8, False), (torch.bool, False), (torch.float8_e4m3fn, False),
                                         (torch.int16, True), (torch.bfloat16, True), (torch.float16, True)])
def test_a_dtype_that_cannot_hold_the_counts_is_refused_never_wrapped(tmp_path, dtype, fits):
    # SpikeDataset(dtype=torch.int8) gave -56 for a count of 200, torch.bool True for it and
    # float8 144 for 146, where load(dtype=np.int8) refused: the same check now guards both.
    counts = np.full((2, 3, 4), 200, np.uint8)
    counts[0, 1, 0] = 146
    spikecodec.save(tmp_path / "c.spk", counts)
    ds = SpikeDataset(tmp_path / "c.spk", dtype=dtype)
    if fits:
        np.testing.assert_array_equal(ds[1].to(torch.float32).numpy(), counts[:, 1])
    else:
        with pytest.raises(OverflowError, match=r"c\.spk, sample 1: values up to 200 do not fit"):
            ds[1]
    spikes = np.ones((2, 3, 4), np.uint8)
    spikecodec.save(tmp_path / "s.spk", spikes)  # 1-bit spikes fit every dtype
    np.testing.assert_array_equal(SpikeDataset(tmp_path / "s.spk", dtype=dtype)[0].to(torch.float32).numpy(), spikes[:, 0])
    with pytest.raises(TypeError, match="cannot hold"):
        SpikeDataset(tmp_path / "s.spk", dtype=torch.complex64)


def test_pickles_as_paths_after_use(files):
    paths, want, prior = files
    ds = SpikeDataset(paths, cache_bytes=1 << 12, priors=prior.data)  # smaller than a block: samples read alone
    np.testing.assert_array_equal(ds[20].numpy(), want[20])
    twin = pickle.loads(pickle.dumps(ds))
    assert twin._local is None
    np.testing.assert_array_equal(twin[5].numpy(), want[5])
    ds.close()
    np.testing.assert_array_equal(ds[31].numpy(), want[31])  # reopens


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataloader_workers(files, context):
    """Two workers, a shuffled order: every sample comes back exactly once, equal to the array.
    The prior, given as an object, reaches spawned workers too (as its bytes)."""
    paths, want, prior = files
    ds = SpikeDataset(paths, priors=prior)
    ds[0]  # open the files here first: a forked worker must not share this process's readers
    order = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0)).tolist()
    loader = DataLoader(ds, batch_size=5, sampler=order, num_workers=2, multiprocessing_context=context)
    got = torch.cat(list(loader)).numpy()
    assert sorted(order) == list(range(32))
    np.testing.assert_array_equal(got, want[order])


def test_spikecodec_never_imports_torch():
    """``import spikecodec`` and ``spikecodec.integrations`` import none of the frameworks; the
    numcodecs and zarr codecs import their own, never torch."""
    out = run_fresh(
        "import sys\n"
        "import spikecodec, spikecodec.integrations\n"
        "print(sorted({'torch', 'zarr', 'numcodecs'} & set(sys.modules)))\n"
        "import spikecodec.integrations.numcodecs, spikecodec.integrations.zarr\n"
        "print(sorted({'torch', 'zarr', 'numcodecs'} & set(sys.modules)))\n"
    ).stdout.splitlines()
    assert out == ["[]", "['numcodecs', 'zarr']"]


def test_names_load_on_first_use():
    import spikecodec.integrations as integrations
    from spikecodec.integrations.numcodecs import SpikeCodec
    from spikecodec.integrations.zarr import SpikeZarrCodec

    assert integrations.SpikeDataset is SpikeDataset
    assert integrations.SpikeCodec is SpikeCodec and integrations.SpikeZarrCodec is SpikeZarrCodec
    with pytest.raises(AttributeError):
        integrations.Nothing
