"""Bottleneck units placed at the split, and the split model that runs edge and cloud halves.

A unit has `encode(feature) -> code` (what crosses the link) and `decode(code) -> feature` (the
shape the cloud half expects). The spiking unit's code is a binary spike tensor (T, N, C', H', W').
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .backbone import StagedBackbone
from .layers import NeuronSpec, SeqConv, merge_time


class SeqConvTranspose(nn.Module):
    """ConvTranspose2d over (T, N, C, H, W) that restores an exact output size."""

    def __init__(self, c_in: int, c_out: int, stride: int, out_hw: tuple[int, int]) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose2d(c_in, c_out, 3, stride, padding=1, bias=False)
        self.out_hw = tuple(out_hw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # output_size resolves the ambiguity of strided transposed convs on odd sizes (7 -> 4 -> 7).
        return merge_time(lambda y: self.conv(y, output_size=self.out_hw), x)


def down_conv(c_in: int, c_out: int, stride: int) -> nn.Module:
    """3x3 conv over (T, N, ...), strided for spatial reduction."""
    return SeqConv(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False))


def up_conv(c_in: int, c_out: int, stride: int, out_hw: tuple[int, int]) -> nn.Module:
    """Inverse of `down_conv`: a 3x3 conv, or a transposed conv where the encoder strided."""
    if stride == 1:
        return down_conv(c_in, c_out, 1)
    return SeqConvTranspose(c_in, c_out, stride, out_hw)


class SpikingBottleneck(nn.Module):
    """SpikeBottleNet unit: encoder conv-tdBN-LIF to C' channels; decoder conv-tdBN-LIF back."""

    def __init__(
        self,
        feature_shape: tuple[int, int, int],
        code_channels: int,
        spec: NeuronSpec,
        stride: int = 1,
    ) -> None:
        super().__init__()
        c, h, w = feature_shape
        self.encoder = nn.Sequential(
            down_conv(c, code_channels, stride), spec.norm(code_channels), spec.activation()
        )
        self.decoder = nn.Sequential(
            up_conv(code_channels, c, stride, (h, w)), spec.norm(c), spec.activation()
        )

    def encode(self, feature: torch.Tensor) -> torch.Tensor:
        return self.encoder(feature)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.decoder(code.float())

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(feature))


class IdentityUnit(nn.Module):
    """No bottleneck: the split feature crosses the link as it is (phase 1 of three-phase training)."""

    def encode(self, feature: torch.Tensor) -> torch.Tensor:
        return feature

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return code

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        return feature


class SplitModel(nn.Module):
    """A backbone cut after stage `split` with a bottleneck unit in between.

    `edge(images)` runs the device half and returns the code (spikes for SpikeBottleNet);
    `cloud(code)` runs the server half and returns logits; calling the model runs both.
    """

    def __init__(
        self,
        backbone: StagedBackbone,
        split: str,
        unit: nn.Module,
        mean: list[float],
        std: list[float],
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.split = split
        self.unit = unit
        self.cut = backbone.split_index(split)
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    @property
    def classes(self) -> int:
        """How many classes the logits of :meth:`cloud` score (labels are 0 .. classes - 1)."""
        return self.backbone.head.fc.out_features

    def preprocess(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W) / (N, C, H, W) or float in [0, 1] -> normalised float (N, C, H, W)."""
        if isinstance(images, np.ndarray) and not images.flags.writeable:
            images = images.copy()  # torch wants writable memory (np.frombuffer arrays are not)
        x = torch.as_tensor(images).to(self.mean.device)
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.dim() != 4 or x.shape[1] != self.mean.shape[1]:
            raise ValueError(f"images shaped {tuple(x.shape)}; the model takes (N, H, W) or (N, {self.mean.shape[1]}, H, W)")
        # The scale is the type's: int16 or bool pixels of 0..255, or floats of 0..255, were read as
        # if in [0, 1] (92.7% -> 69.3% accuracy on the sample, no error).
        if x.dtype == torch.uint8:
            return (x.float() / 255.0 - self.mean) / self.std
        if not x.is_floating_point():
            raise ValueError(f"images of {x.dtype}; the model takes uint8 (0..255) or floats in [0, 1]")
        x = x.float()
        if x.numel() and not (torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1):
            raise ValueError("float images hold values outside [0, 1] (NaN, infinite, or 0..255 pixels: pass those as uint8)")
        return (x - self.mean) / self.std

    def edge(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Device half: images -> code (spikes (T, N, C', H', W') of 0/1 for SpikeBottleNet)."""
        return self.unit.encode(self.backbone.run(self.preprocess(images), 0, self.cut))

    def cloud(self, code: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Server half: code (a tensor, or the uint8 array spikecodec.decode returns) -> logits (N, classes).
        A spiking unit's code is checked: T timesteps of 0/1 spikes (counts, or another T, gave
        logits and no error: 53% accuracy on spikes x 3, against 87.5%)."""
        code = torch.as_tensor(code, device=self.mean.device)
        if isinstance(self.unit, SpikingBottleneck):
            if code.ndim != 5 or code.shape[0] != self.backbone.timesteps:
                raise ValueError(f"the cloud half takes spikes (T={self.backbone.timesteps}, N, C, H, W), got {tuple(code.shape)}")
            if ((code != 0) & (code != 1)).any():
                raise ValueError("the cloud half takes spikes of 0 and 1; the code holds other values (counts?)")
        return self.backbone.run(self.unit.decode(code.float() if not code.is_floating_point() else code), self.cut)

    def edge_modules(self) -> list[nn.Module]:
        """The modules that run on the device, in order (for the energy model)."""
        stages = list(self.backbone.stages.values())[: self.cut]
        return [*stages, self.unit.encoder] if hasattr(self.unit, "encoder") else stages

    def forward(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Both halves through the unit's differentiable path; equals cloud(edge(images))."""
        feature = self.backbone.run(self.preprocess(images), 0, self.cut)
        return self.backbone.run(self.unit(feature), self.cut)
