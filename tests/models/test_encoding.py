import pytest
import torch

from spikecodec.models.encoding import SpikeInputStem, ThermometerEncoding
from spikecodec.models.factory import FASHION_MNIST_MEAN, FASHION_MNIST_STD, build_model
from spikecodec.models.layers import DirectEncodingStem


def _normalise(pixels: torch.Tensor) -> torch.Tensor:
    return (pixels - FASHION_MNIST_MEAN[0]) / FASHION_MNIST_STD[0]


def test_thermometer_fires_where_the_pixel_exceeds_each_threshold():
    pixels = torch.tensor([0.0, 0.2, 0.3, 0.55, 0.8, 1.0]).view(1, 1, 1, 6)
    enc = ThermometerEncoding(3, FASHION_MNIST_MEAN, FASHION_MNIST_STD)  # thresholds 0.25, 0.5, 0.75
    spikes = enc(_normalise(pixels))
    assert spikes.shape == (3, 1, 1, 1, 6)
    assert spikes[:, 0, 0, 0].T.tolist() == [[0, 0, 0], [0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 1], [1, 1, 1]]
    custom = ThermometerEncoding(1, FASHION_MNIST_MEAN, FASHION_MNIST_STD, thresholds=[0.1])
    assert custom(_normalise(pixels)).flatten().tolist() == [0, 1, 1, 1, 1, 1]


@pytest.mark.parametrize("thresholds", [[0.5], [0.6, 0.4], [0.2, 1.0]])
def test_thermometer_rejects_bad_thresholds(thresholds):
    with pytest.raises(ValueError, match="increasing thresholds"):
        ThermometerEncoding(2, [0.0], [1.0], thresholds)


def test_spike_fed_stem_sees_only_spikes_and_splits_like_the_direct_one(fmnist_test, tiny_config):
    model = build_model(tiny_config(encoding={"kind": "thermometer"})).eval()
    stem = model.backbone.stages["stem"]
    assert isinstance(stem, SpikeInputStem)
    seen = []
    stem.conv.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    images = fmnist_test[0][:8]
    with torch.no_grad():
        spikes = model.edge(images)
        assert torch.equal(model.cloud(spikes), model(images))
    assert seen[0].shape == (2 * 8, 1, 28, 28)  # T steps folded into the batch
    assert set(seen[0].unique().tolist()) == {0.0, 1.0}
    pixels = images.float() / 255
    assert seen[0].mean().item() == pytest.approx(((pixels > 1 / 3).float().mean() + (pixels > 2 / 3).float().mean()).item() / 2)


def test_encoding_key_defaults_to_direct_and_is_checked(tiny_config):
    config = tiny_config()
    del config["encoding"]  # checkpoints written before the key existed
    assert isinstance(build_model(config).backbone.stages["stem"], DirectEncodingStem)
    with pytest.raises(ValueError, match="needs a spiking network"):
        build_model(tiny_config(encoding={"kind": "thermometer"}, neuron={"spiking": False}))
    with pytest.raises(ValueError, match="unknown input encoding"):
        build_model(tiny_config(encoding={"kind": "poisson"}))


def test_a_direct_encoding_checkpoint_initialises_a_spike_fed_backbone(tiny_config):
    direct = build_model(tiny_config()).state_dict()
    spiking = build_model(tiny_config(encoding={"kind": "thermometer"})).state_dict()
    assert {k: v.shape for k, v in direct.items()} == {k: v.shape for k, v in spiking.items()}
