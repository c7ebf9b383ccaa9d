"""Spiking ResNet (and its ANN twin) for small images: basic and bottleneck blocks.

Blocks follow the standard spiking ResNet (STBP-tdBN): conv -> tdBN -> LIF, and the residual sum
goes through the neuron so that every block outputs binary spikes. The BNs that feed the sum are
initialised with alpha = 1/sqrt(2), as in tdBN, since two branches add up.
"""

from __future__ import annotations

import torch
from torch import nn

from .backbone import StagedBackbone
from .encoding import make_stem
from .layers import RESIDUAL_ALPHA, ClassifierHead, NeuronSpec, conv_bn, conv_bn_act


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers and a shortcut; out = act(bn(conv(act(bn(conv(x))))) + short(x))."""

    expansion = 1

    def __init__(self, c_in: int, width: int, stride: int, spec: NeuronSpec) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_bn_act(c_in, width, spec, 3, stride),
            conv_bn(width, width, spec, 3, alpha=RESIDUAL_ALPHA),
        )
        self.shortcut = _shortcut(c_in, width, stride, spec)
        self.act = spec.activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class BottleneckBlock(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand to 4 * width, plus a shortcut."""

    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int, spec: NeuronSpec) -> None:
        super().__init__()
        c_out = width * self.expansion
        self.body = nn.Sequential(
            conv_bn_act(c_in, width, spec, 1),
            conv_bn_act(width, width, spec, 3, stride),
            conv_bn(width, c_out, spec, 1, alpha=RESIDUAL_ALPHA),
        )
        self.shortcut = _shortcut(c_in, c_out, stride, spec)
        self.act = spec.activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.shortcut(x))


def _shortcut(c_in: int, c_out: int, stride: int, spec: NeuronSpec) -> nn.Module:
    if stride == 1 and c_in == c_out:
        return nn.Identity()
    return conv_bn(c_in, c_out, spec, 1, stride, alpha=RESIDUAL_ALPHA)


BLOCKS = {"basic": BasicBlock, "bottleneck": BottleneckBlock}

# name -> (block, blocks per stage, widths per stage). The narrow layout trains on 2 CPU cores.
LAYOUTS: dict[str, tuple[str, list[int], list[int]]] = {
    "resnet18": ("basic", [2, 2, 2, 2], [64, 128, 256, 512]),
    "resnet34": ("basic", [3, 4, 6, 3], [64, 128, 256, 512]),
    "resnet50": ("bottleneck", [3, 4, 6, 3], [64, 128, 256, 512]),
    "narrow": ("basic", [1, 1, 1], [16, 32, 64]),
}


def spiking_resnet(
    layout: str = "narrow",
    in_channels: int = 1,
    num_classes: int = 10,
    timesteps: int = 4,
    spec: NeuronSpec = NeuronSpec(),
    widths: list[int] | None = None,
    blocks: list[int] | None = None,
    block: str | None = None,
    encoding: nn.Module | None = None,
) -> StagedBackbone:
    """Build a CIFAR-style ResNet (3x3 stem, no max-pool) with stages stem, layer1, layer2, ...

    Stage i > 1 halves the resolution. `widths`, `blocks` and `block` override the layout's.
    `encoding` (e.g. ThermometerEncoding) feeds the stem spikes instead of real pixels.
    """
    base_block, base_blocks, base_widths = LAYOUTS[layout]
    block_cls = BLOCKS[block or base_block]
    widths = list(widths or base_widths)
    blocks = list(blocks or base_blocks)
    stem_width = widths[0]
    stages: dict[str, nn.Module] = {
        "stem": make_stem(in_channels, stem_width, spec, timesteps, encoding)
    }
    c_in = stem_width
    for i, (width, n) in enumerate(zip(widths, blocks)):
        layers = []
        for j in range(n):
            stride = 2 if (i > 0 and j == 0) else 1
            layers.append(block_cls(c_in, width, stride, spec))
            c_in = width * block_cls.expansion
        stages[f"layer{i + 1}"] = nn.Sequential(*layers)
    return StagedBackbone(stages, ClassifierHead(c_in, num_classes), timesteps)
