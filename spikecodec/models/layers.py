"""Layers that run 2-D modules over multi-step tensors (T, N, C, H, W), and tdBN.

Spiking and ANN networks share these layers: an ANN is the same graph with T = 1, ReLU in place
of the LIF neuron and plain BN initialisation. `NeuronSpec` carries that choice through a network.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .neurons import MultiStepLIF

# tdBN scales the BNs that feed a residual sum by 1/sqrt(2): two branches add up.
RESIDUAL_ALPHA = 1 / math.sqrt(2)


@dataclass(frozen=True)
class NeuronSpec:
    """Which activation a network uses and the LIF parameters if it spikes."""

    spiking: bool = True
    tau: float = 0.25
    v_th: float = 0.5
    surrogate_width: float = 0.5
    detach_reset: bool = False

    def activation(self) -> nn.Module:
        if not self.spiking:
            return nn.ReLU(inplace=True)
        return MultiStepLIF(self.tau, self.v_th, self.surrogate_width, self.detach_reset)

    def norm(self, channels: int, alpha: float = 1.0) -> "TDBatchNorm2d":
        # tdBN scales the normalised input to alpha * V_th so that pre-activations start
        # around the threshold; for an ANN the same layer is a plain BN (weight = alpha).
        return TDBatchNorm2d(channels, alpha * (self.v_th if self.spiking else 1.0))

    def to_dict(self) -> dict:
        return asdict(self)


def merge_time(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a module made for (B, C, H, W) to (T, N, C, H, W) by folding T into the batch."""
    t, n = x.shape[:2]
    y = module(x.flatten(0, 1))
    return y.view(t, n, *y.shape[1:])


class TDBatchNorm2d(nn.BatchNorm2d):
    """Threshold-dependent batch norm (Zheng et al. 2021) over (T, N, C, H, W).

    Per channel, with mean and var taken over the T, N, H and W axes:
        y = gamma * (x - mean) / sqrt(var + eps) + beta,   gamma initialised to alpha * V_th.
    Folding T into the batch makes BatchNorm2d's statistics exactly the tdBN ones.
    """

    def __init__(self, channels: int, init_weight: float = 1.0) -> None:
        super().__init__(channels)
        nn.init.constant_(self.weight, init_weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 5:
            return merge_time(super().forward, x)
        return super().forward(x)


class SeqConv(nn.Module):
    """A Conv2d / ConvTranspose2d applied to every time step of (T, N, C, H, W)."""

    def __init__(self, conv: nn.Module) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return merge_time(self.conv, x)


def conv_bn(
    c_in: int,
    c_out: int,
    spec: NeuronSpec,
    kernel: int = 3,
    stride: int = 1,
    groups: int = 1,
    alpha: float = 1.0,
) -> nn.Sequential:
    """Conv (no bias: BN follows) then tdBN, over (T, N, C, H, W)."""
    conv = nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False)
    return nn.Sequential(SeqConv(conv), spec.norm(c_out, alpha))


def conv_bn_act(
    c_in: int,
    c_out: int,
    spec: NeuronSpec,
    kernel: int = 3,
    stride: int = 1,
    groups: int = 1,
) -> nn.Sequential:
    """Conv, tdBN, then the neuron (LIF or ReLU)."""
    return nn.Sequential(*conv_bn(c_in, c_out, spec, kernel, stride, groups), spec.activation())


class DirectEncodingStem(nn.Module):
    """First conv + BN on the real-valued image, repeated over T, then the neuron.

    Direct encoding feeds the same image at every step, so the conv and BN outputs are identical
    over T: computing them once and repeating is exact and T times cheaper.
    """

    def __init__(self, c_in: int, c_out: int, spec: NeuronSpec, timesteps: int) -> None:
        super().__init__()
        self.timesteps = timesteps
        self.conv = nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)
        self.bn = spec.norm(c_out)
        self.act = spec.activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Image (N, C, H, W) -> activations (T, N, C', H, W)."""
        y = self.bn(self.conv(x))
        return self.act(y.unsqueeze(0).expand(self.timesteps, *y.shape).contiguous())


class ClassifierHead(nn.Module):
    """Global average pool over H, W and T (rate decoding), then a linear classifier."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(0, 3, 4)))
