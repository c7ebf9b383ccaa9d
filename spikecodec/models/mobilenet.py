"""Spiking MobileNetV2 (and its ANN twin) for small images.

Inverted residual block: 1x1 expand -> 3x3 depthwise -> 1x1 project, each conv -> tdBN. The ANN
keeps MobileNetV2's linear bottleneck (no activation after the projection); the spiking version
puts a LIF after the residual sum instead, so blocks exchange binary spikes.
"""

from __future__ import annotations

import torch
from torch import nn

from .backbone import StagedBackbone
from .encoding import make_stem
from .layers import RESIDUAL_ALPHA, ClassifierHead, NeuronSpec, conv_bn, conv_bn_act


class InvertedResidual(nn.Module):
    """out = act(project(depthwise(expand(x))) + x) when shapes allow a residual."""

    def __init__(self, c_in: int, c_out: int, stride: int, expand: int, spec: NeuronSpec) -> None:
        super().__init__()
        hidden = c_in * expand
        self.residual = stride == 1 and c_in == c_out
        layers = [conv_bn_act(c_in, hidden, spec, 1)] if expand != 1 else []
        layers += [
            conv_bn_act(hidden, hidden, spec, 3, stride, groups=hidden),
            conv_bn(hidden, c_out, spec, 1, alpha=RESIDUAL_ALPHA if self.residual else 1.0),
        ]
        self.body = nn.Sequential(*layers)
        self.act = spec.activation() if spec.spiking else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return self.act(y + x if self.residual else y)


# (expansion t, channels c, repeats n, first stride s) per stage: MobileNetV2's table with the
# first two strides set to 1 for 28-32 px inputs (CIFAR-style), and a narrow variant.
SETTINGS: dict[str, tuple[int, list[tuple[int, int, int, int]], int]] = {
    "mobilenetv2": (
        32,
        [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2),
         (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)],
        1280,
    ),
    "narrow": (16, [(1, 16, 1, 1), (4, 24, 2, 2), (4, 32, 2, 2), (4, 64, 1, 1)], 128),
}


def spiking_mobilenet_v2(
    layout: str = "narrow",
    in_channels: int = 1,
    num_classes: int = 10,
    timesteps: int = 4,
    spec: NeuronSpec = NeuronSpec(),
    encoding: nn.Module | None = None,
) -> StagedBackbone:
    """Stages: stem, stage1 .. stageK (one per settings row), last (1x1 conv to the head width)."""
    stem_width, settings, last_width = SETTINGS[layout]
    stages: dict[str, nn.Module] = {
        "stem": make_stem(in_channels, stem_width, spec, timesteps, encoding)
    }
    c_in = stem_width
    for i, (t, c, n, s) in enumerate(settings):
        blocks = [InvertedResidual(c_in if j == 0 else c, c, s if j == 0 else 1, t, spec)
                  for j in range(n)]
        stages[f"stage{i + 1}"] = nn.Sequential(*blocks)
        c_in = c
    stages["last"] = conv_bn_act(c_in, last_width, spec, 1)
    return StagedBackbone(stages, ClassifierHead(last_width, num_classes), timesteps)
