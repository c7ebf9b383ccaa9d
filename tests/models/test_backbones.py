import pytest
import torch

from spikecodec.models.layers import NeuronSpec
from spikecodec.models.mobilenet import spiking_mobilenet_v2
from spikecodec.models.neurons import MultiStepLIF
from spikecodec.models.resnet import BasicBlock, BottleneckBlock, spiking_resnet


def _stage_shapes(backbone, x):
    shapes = {}
    for name, stage in backbone.stages.items():
        x = stage(x)
        shapes[name] = tuple(x.shape)
    return shapes


def test_narrow_resnet_stage_shapes_and_logits():
    net = spiking_resnet("narrow", timesteps=3)
    x = torch.randn(2, 1, 28, 28)
    assert _stage_shapes(net, x) == {
        "stem": (3, 2, 16, 28, 28),
        "layer1": (3, 2, 16, 28, 28),
        "layer2": (3, 2, 32, 14, 14),
        "layer3": (3, 2, 64, 7, 7),
    }
    assert net(x).shape == (2, 10)


@pytest.mark.parametrize("layout, block, n_blocks, out_channels", [
    ("resnet18", BasicBlock, 8, 512),
    ("resnet34", BasicBlock, 16, 512),
    ("resnet50", BottleneckBlock, 16, 2048),
])
def test_standard_resnet_layouts(layout, block, n_blocks, out_channels):
    net = spiking_resnet(layout, in_channels=3, timesteps=1)
    blocks = [m for m in net.modules() if isinstance(m, block)]
    assert len(blocks) == n_blocks
    assert net.stage_names == ["stem", "layer1", "layer2", "layer3", "layer4"]
    assert net.head.fc.in_features == out_channels


def test_resnet50_forward_on_small_input():
    net = spiking_resnet("resnet50", in_channels=3, timesteps=1, spec=NeuronSpec(spiking=False))
    assert net(torch.randn(1, 3, 16, 16)).shape == (1, 10)


def test_all_spiking_activations_are_binary():
    net = spiking_resnet("narrow", widths=[4, 8, 8], timesteps=2)
    outputs = []
    for m in net.modules():
        if isinstance(m, MultiStepLIF):
            m.register_forward_hook(lambda mod, inp, out: outputs.append(out))
    net(torch.randn(3, 1, 28, 28))
    assert len(outputs) == 1 + 3 * 2 + 0  # stem, 3 blocks x (inner + output) LIF
    for out in outputs:
        assert set(out.unique().tolist()) <= {0.0, 1.0}


def test_narrow_mobilenet_shapes_depthwise_and_binary_output():
    net = spiking_mobilenet_v2("narrow", timesteps=2)
    x = torch.randn(2, 1, 28, 28)
    shapes = _stage_shapes(net, x)
    assert list(shapes) == ["stem", "stage1", "stage2", "stage3", "stage4", "last"]
    assert shapes["stage3"] == (2, 2, 32, 7, 7)
    assert set(net.run(x, 0, 3).unique().tolist()) <= {0.0, 1.0}
    depthwise = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1]
    assert depthwise and all(m.groups == m.in_channels for m in depthwise)
    assert net(x).shape == (2, 10)


def test_full_mobilenetv2_layout_builds():
    ann = NeuronSpec(spiking=False)
    net = spiking_mobilenet_v2("mobilenetv2", in_channels=3, timesteps=1, spec=ann).eval()
    assert len(net.stage_names) == 9 and net.head.fc.in_features == 1280
    assert net(torch.randn(1, 3, 8, 8)).shape == (1, 10)
