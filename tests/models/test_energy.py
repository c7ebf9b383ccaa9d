import pytest
import torch
from torch import nn

from spikecodec.models.energy import (EdgeEnergyMeter, EnergyCosts, edge_energy, energy_table, layer_macs,
                                      relative_energy, total_energy_pj)
from spikecodec.models.factory import build_model


def _stem_split(tiny_config, spiking: bool):
    # Edge = stem conv (1 -> 4, 3x3 on 8x8) + encoder conv (4 -> 2, 3x3): easy to count by hand.
    config = tiny_config(
        backbone={"arch": "resnet", "layout": "narrow", "widths": [4, 8, 8]},
        image_size=8,
        split="stem",
        neuron={"spiking": spiking},
        unit={"kind": "spiking" if spiking else "bottlenetpp", "channels": 2, "stride": 1},
    )
    return build_model(config).eval()


def test_snn_edge_energy_matches_hand_computation(tiny_config):
    model = _stem_split(tiny_config, spiking=True)
    images = (torch.rand(10, 1, 8, 8) < 0.5).float()  # strong input (pixels 0 or 1, the ends of [0, 1]), so the stem fires
    rows = edge_energy(model, images, EnergyCosts(e_mac_pj=4.6, e_ac_pj=0.9), batch_size=4)
    assert [r.name for r in rows] == ["backbone.stages.stem.conv", "unit.encoder.0.conv"]
    stem, enc = rows
    # Stem: real-valued pixels, run once per image (direct encoding) -> MACs.
    assert (stem.kind, stem.macs, stem.steps) == ("MAC", 9 * 1 * 4 * 64, 1)
    assert stem.energy_pj == pytest.approx(2304 * 4.6)
    # Encoder: spikes in, T = 2 steps -> SOPs = MACs * rate * T at 0.9 pJ.
    with torch.no_grad():
        rate = model.backbone.run(model.preprocess(images), 0, 1).mean().item()
    assert 0 < rate < 1
    assert (enc.kind, enc.macs, enc.steps) == ("AC", 9 * 4 * 2 * 64, 2)
    assert enc.input_rate == pytest.approx(rate)
    assert enc.ops == pytest.approx(4608 * rate * 2)
    assert total_energy_pj(rows) == pytest.approx(2304 * 4.6 + 4608 * rate * 2 * 0.9)


def test_ann_edge_energy_counts_every_layer_as_macs(tiny_config):
    model = _stem_split(tiny_config, spiking=False)
    rows = edge_energy(model, torch.rand(6, 1, 8, 8), EnergyCosts(e_mac_pj=2.0))
    assert [(r.kind, r.macs, r.steps) for r in rows] == [("MAC", 2304, 1), ("MAC", 4608, 1)]
    assert total_energy_pj(rows) == pytest.approx((2304 + 4608) * 2.0)


def test_layer_macs_for_transposed_conv_depthwise_and_linear():
    up = nn.ConvTranspose2d(2, 6, 3, 2, padding=1)
    x = torch.zeros(1, 2, 4, 4)
    assert layer_macs(up, x, up(x, output_size=(7, 7))) == 9 * 6 * 2 * 16
    dw = nn.Conv2d(6, 6, 3, 1, 1, groups=6)
    y = torch.zeros(1, 6, 5, 5)
    assert layer_macs(dw, y, dw(y)) == 9 * 1 * 6 * 25
    fc = nn.Linear(8, 3)
    z = torch.zeros(4, 8)
    assert layer_macs(fc, z, fc(z)) == 24


def test_energy_table_lists_layers_and_totals(tiny_config):
    snn = edge_energy(_stem_split(tiny_config, True), torch.rand(4, 1, 8, 8))
    ann = edge_energy(_stem_split(tiny_config, False), torch.rand(4, 1, 8, 8))
    table = energy_table({"SpikeBottleNet": snn, "BottleNet++": ann})
    assert "backbone.stages.stem.conv" in table and "unit.encoder.0.conv" in table
    assert f"**{total_energy_pj(ann) / 1e3:.2f}**" in table


def test_spike_fed_stem_is_counted_as_accumulates_at_its_input_rate(tiny_config):
    config = tiny_config(backbone={"arch": "resnet", "layout": "narrow", "widths": [4, 8, 8]}, image_size=8,
                         split="stem", unit={"kind": "spiking", "channels": 2, "stride": 1},
                         encoding={"kind": "thermometer"})
    model = build_model(config).eval()
    images = torch.randint(0, 256, (10, 1, 8, 8), dtype=torch.uint8)
    stem = edge_energy(model, images, EnergyCosts(e_mac_pj=4.6, e_ac_pj=0.9))[0]
    pixels = images.float() / 255
    rate = ((pixels > 1 / 3).float().mean() + (pixels > 2 / 3).float().mean()).item() / 2  # T = 2 thresholds
    assert (stem.kind, stem.macs, stem.steps) == ("AC", 9 * 1 * 4 * 64, 2)
    assert stem.input_rate == pytest.approx(rate)
    assert stem.energy_pj == pytest.approx(2304 * 2 * rate * 0.9)


@pytest.mark.parametrize("encoding", ["direct", "thermometer"])
def test_energy_meter_matches_edge_energy_and_carries_gradients(tiny_config, fmnist_test, encoding):
    model = build_model(tiny_config(encoding={"kind": encoding})).eval()
    images = fmnist_test[0][:20]
    with EdgeEnergyMeter(model) as meter:
        model(images)
    assert meter.relative(len(images)).item() == pytest.approx(relative_energy(edge_energy(model, images)))
    meter.relative(len(images)).backward()
    bn = model.backbone.stages["layer1"][0].body[0][1]  # its LIF's spikes feed the next conv
    assert bn.bias.grad is not None and bn.bias.grad.abs().sum() > 0
    model(images)  # hooks are gone after the block
    assert meter.handles == []
