import numpy as np
import pytest
import torch

from spikecodec.models.baselines import BottleNetUnit
from spikecodec.models.factory import build_model, make_config


def test_edge_gives_binary_spikes_and_cloud_of_edge_equals_model(fmnist_test, tiny_config):
    model = build_model(tiny_config()).eval()
    images = fmnist_test[0][:16]
    with torch.no_grad():
        spikes = model.edge(images)
        assert spikes.shape == (2, 16, 2, 14, 14)  # T, N, C', H', W' after layer2 of 28x28
        assert set(spikes.unique().tolist()) <= {0.0, 1.0}
        assert torch.equal(model.cloud(spikes), model(images))
        # A uint8 copy of the spikes (what a codec stores) gives the same logits.
        assert torch.equal(model.cloud(spikes.to(torch.uint8)), model(images))


@pytest.mark.parametrize("split", ["stem", "layer1", "layer2", "layer3"])
@pytest.mark.parametrize("stride", [1, 2])
def test_split_after_any_stage_with_optional_stride(split, stride, tiny_config):
    model = build_model(tiny_config(split=split, unit={"kind": "spiking", "channels": 3, "stride": stride}))
    model.eval()
    x = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    full = model.backbone.run(model.preprocess(x), 0, model.cut)
    with torch.no_grad():
        spikes = model.edge(x)
        # stride 2 halves the resolution (rounding up); the decoder restores the cloud's shape.
        assert spikes.shape[2:] == (3, -(-full.shape[3] // stride), -(-full.shape[4] // stride))
        assert model.unit.decode(spikes).shape == full.shape
        assert torch.equal(model.cloud(spikes), model(x))


def test_mobilenet_split_by_name(tiny_config):
    config = tiny_config(backbone={"arch": "mobilenet", "layout": "narrow"}, split="stage2")
    model = build_model(config).eval()
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        spikes = model.edge(x)
        assert spikes.shape == (2, 2, 2, 14, 14)
        assert torch.equal(model.cloud(spikes), model(x))


def test_unknown_split_is_rejected(tiny_config):
    with pytest.raises(ValueError, match="unknown stage"):
        build_model(tiny_config(split="layer9"))


def test_edge_accepts_numpy_torch_uint8_and_float_images(fmnist_test, tiny_config):
    model = build_model(tiny_config()).eval()
    images = fmnist_test[0][:4]  # uint8 (N, 1, 28, 28)
    with torch.no_grad():
        reference = model.edge(images)
        assert torch.equal(model.edge(images[:, 0].numpy()), reference)  # numpy (N, H, W)
        assert torch.equal(model.edge(images.numpy()), reference)
        assert torch.equal(model.edge(images.float() / 255), reference)


@pytest.mark.parametrize("kind, stride", [("bottlenet", 2), ("bottlenetpp", 1), ("bottlenetpp", 2)])
def test_ann_baselines_send_uint8_and_match_training_path(kind, stride, tiny_config):
    config = tiny_config(neuron={"spiking": False}, unit={"kind": kind, "channels": 2, "stride": stride})
    model = build_model(config).eval()
    assert model.backbone.timesteps == 1
    x = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    with torch.no_grad():
        code = model.edge(x)
        assert code.dtype == torch.uint8
        assert code.shape == (4, 2, 14 // stride, 14 // stride)
        assert torch.allclose(model.cloud(code), model(x), atol=1e-5)


def test_bottlenet_lossless_codec_round_trip():
    code = torch.randint(0, 256, (3, 2, 7, 7), dtype=torch.uint8)
    code[1] = 0  # a constant feature compresses well
    blobs = BottleNetUnit.compress(code)
    assert len(blobs[1]) < 2 * 7 * 7
    assert torch.equal(BottleNetUnit.decompress(blobs, (2, 7, 7)), code)


def test_quantisation_is_straight_through(tiny_config):
    model = build_model(tiny_config(neuron={"spiking": False}, unit={"kind": "bottlenetpp", "channels": 2}))
    x = torch.rand(2, 1, 28, 28)
    model(x).sum().backward()
    assert model.backbone.stages["stem"].conv.weight.grad.abs().sum() > 0


def test_default_config_meets_the_256x_bit_ratio():
    model = build_model(make_config()).eval()
    with torch.no_grad():
        feature = model.backbone.run(model.preprocess(torch.zeros(1, 28, 28)), 0, model.cut)
        spikes = model.edge(torch.zeros(1, 28, 28))
    float_bits = 32 * feature[0, 0].numel()
    spike_bits = spikes.shape[0] * spikes[0, 0].numel()
    assert float_bits / spike_bits >= 256
    assert np.ceil(spike_bits / 8) <= 64
