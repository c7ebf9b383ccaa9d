import subprocess
import sys

import numpy as np
import pytest
import torch

from spikecodec.models import list_references, load_reference


def test_importing_the_models_package_does_not_import_torch():
    code = "import sys, spikecodec.models as m; m.list_references(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_reference_list_describes_a_256x_bottleneck():
    refs = {r["name"]: r for r in list_references()}
    ref = refs["snn-resnet-fmnist"]
    assert ref["test_accuracy"] >= 0.88
    assert ref["bits_ratio"] >= 256
    t, _, c, h, w = ref["spike_shape"]
    assert ref["code_bits_per_image"] == t * c * h * w
    assert ref["raw_bytes_per_image"] == t * c * h * w / 8


def test_load_reference_edge_cloud_on_real_images(fmnist_test):
    model = load_reference()
    meta = {r["name"]: r for r in list_references()}["snn-resnet-fmnist"]
    images, labels = fmnist_test[0][:200], fmnist_test[1][:200]
    with torch.no_grad():
        spikes = model.edge(images[:, 0].numpy())  # uint8 (N, H, W) from numpy
        t, _, c, h, w = meta["spike_shape"]
        assert spikes.shape == (t, 200, c, h, w)
        assert set(spikes.unique().tolist()) <= {0.0, 1.0}
        logits = model.cloud(spikes)
        assert torch.equal(logits, model(images))
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    assert accuracy >= 0.8


def test_unknown_reference_name_is_an_error():
    with pytest.raises(KeyError, match="no reference model"):
        load_reference("no-such-model")


def test_cloud_takes_what_spikecodec_decodes():
    import spikecodec

    model = load_reference()
    images = (np.arange(4 * 28 * 28) % 256).astype(np.uint8).reshape(4, 28, 28)
    with torch.no_grad():
        spikes = model.edge(images)
        decoded = spikecodec.decode(spikecodec.encode(spikes))
        assert decoded.dtype == np.uint8
        assert torch.equal(model.cloud(decoded), model.cloud(spikes))
