import pytest
import torch

from spikecodec.models.checkpoint import save_checkpoint
from spikecodec.models.encoding import LevelEncoding, SpikeInputStem, ThermometerEncoding
from spikecodec.models.energy import edge_energy
from spikecodec.models.factory import FASHION_MNIST_MEAN, FASHION_MNIST_STD, build_model
from spikecodec.models.layers import DirectEncodingStem
from spikecodec.models.train import load_initial_weights


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


def test_levels_fire_each_threshold_as_a_channel_at_every_step():
    pixels = torch.tensor([0.0, 0.2, 0.3, 0.55, 0.8, 1.0]).view(1, 1, 1, 6)
    enc = LevelEncoding(2, FASHION_MNIST_MEAN, FASHION_MNIST_STD)  # thresholds 0.25, 0.5, 0.75
    spikes = enc(_normalise(pixels))
    assert spikes.shape == (2, 1, 3, 1, 6)
    assert torch.equal(spikes[0], spikes[1])
    assert spikes[0, 0, :, 0].T.tolist() == [[0, 0, 0], [0, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 1], [1, 1, 1]]
    two = LevelEncoding(1, FASHION_MNIST_MEAN, FASHION_MNIST_STD, thresholds=[0.1, 0.9])
    assert two(_normalise(pixels))[0, 0, :, 0].T.tolist() == [[0, 0], [1, 0], [1, 0], [1, 0], [1, 0], [1, 1]]
    with pytest.raises(ValueError, match="increasing thresholds"):
        LevelEncoding(1, [0.0], [1.0], [0.6, 0.4])


def test_level_coded_stem_counts_its_levels_as_accumulates(fmnist_test, tiny_config):
    model = build_model(tiny_config(encoding={"kind": "levels"}, timesteps=1)).eval()
    images = fmnist_test[0][:8]
    with torch.no_grad():
        assert torch.equal(model.cloud(model.edge(images)), model(images))
    stem = edge_energy(model, images)[0]
    pixels = images.float() / 255
    rate = sum((pixels > t).float().mean().item() for t in (0.25, 0.5, 0.75)) / 3
    assert (stem.kind, stem.steps) == ("AC", 1.0)
    assert stem.macs == 9 * 3 * model.backbone.stages["stem"].conv.out_channels * 28 * 28
    assert stem.input_rate == pytest.approx(rate)


def test_a_direct_encoding_checkpoint_initialises_a_level_coded_stem(tmp_path, tiny_config):
    direct = build_model(tiny_config()).eval()
    save_checkpoint(tmp_path / "direct.pt", direct, tiny_config())
    levels = build_model(tiny_config(encoding={"kind": "levels", "thresholds": [0.2, 0.4, 0.6, 0.8]}))
    load_initial_weights(levels, tmp_path / "direct.pt")
    w = direct.backbone.stages["stem"].conv.weight
    w4 = levels.backbone.stages["stem"].conv.weight
    assert w4.shape == (w.shape[0], 4, 3, 3)
    # Four levels sum to about 4 p, and the direct stem saw (p - mean) / std: each gets w / (4 std).
    assert torch.allclose(w4, (w / (4 * FASHION_MNIST_STD[0])).repeat(1, 4, 1, 1))
    rest = {k: v for k, v in direct.state_dict().items() if "stem.conv" not in k and k.startswith("backbone.")}
    assert all(torch.equal(levels.state_dict()[k], v) for k, v in rest.items())
