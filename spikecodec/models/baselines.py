"""ANN bottleneck units of the baselines: BottleNet (ISLPED 2019) and BottleNet++ (ICC-W 2020).

Both cut channels (and optionally resolution) with a conv, quantise to 8 bits, and restore the
feature with a (transposed) conv. They run on ANN backbones (T = 1), so features are (1, N, C, H, W)
and codes are uint8 (N, C', H', W'). Quantisation uses a straight-through estimator in training.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch
from torch import nn

from .bottleneck import down_conv, up_conv
from .layers import TDBatchNorm2d


def quantize_unit_interval(x: torch.Tensor) -> torch.Tensor:
    """Values in [0, 1] -> uint8 codes round(255 x)."""
    return torch.round(x.clamp(0, 1) * 255).to(torch.uint8)


def fake_quantize(x: torch.Tensor) -> torch.Tensor:
    """8-bit rounding in the forward pass, identity in the backward pass (straight-through)."""
    q = torch.round(x.clamp(0, 1) * 255) / 255
    return x + (q - x).detach()


class _EightBitUnit(nn.Module):
    """Shared plumbing: encoder output in [0, 1] -> uint8 code -> decoder.

    Subclasses set `encoder` (ending in a bounded activation), `scale` (maps it into [0, 1]) and
    `decoder`.
    """

    encoder: nn.Module
    decoder: nn.Module
    scale: float

    def encode(self, feature: torch.Tensor) -> torch.Tensor:
        return quantize_unit_interval(self.encoder(feature) * self.scale)[0]

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.decoder(code.float().unsqueeze(0) / 255)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        """Differentiable path: encoder, fake 8-bit quantisation, decoder."""
        return self.decoder(fake_quantize(self.encoder(feature) * self.scale))


class BottleNetUnit(_EightBitUnit):
    """BottleNet: reduction unit (strided conv, BN, ReLU6), 8 bits, lossless codec, restoration
    unit ((transposed) conv, BN, ReLU).

    The paper uses JPEG on the reduced feature and treats it as identity in the backward pass; we
    use zlib, which is lossless, so training needs no codec at all and `compress` sizes the link.
    ReLU6 bounds the feature so that 8-bit quantisation needs no per-image scale.
    """

    def __init__(self, feature_shape: tuple[int, int, int], channels: int, stride: int = 2) -> None:
        super().__init__()
        c, h, w = feature_shape
        self.scale = 1 / 6
        self.encoder = nn.Sequential(down_conv(c, channels, stride), TDBatchNorm2d(channels), nn.ReLU6())
        self.decoder = nn.Sequential(up_conv(channels, c, stride, (h, w)), TDBatchNorm2d(c), nn.ReLU())

    @staticmethod
    def compress(code: torch.Tensor) -> list[bytes]:
        """One zlib stream per image of the uint8 code (N, C', H', W')."""
        return [zlib.compress(np.ascontiguousarray(a).tobytes(), 9) for a in code.cpu().numpy()]

    @staticmethod
    def decompress(blobs: list[bytes], shape: tuple[int, int, int]) -> torch.Tensor:
        arrays = [np.frombuffer(zlib.decompress(b), np.uint8).reshape(shape) for b in blobs]
        return torch.from_numpy(np.stack(arrays))


class BottleNetPPUnit(_EightBitUnit):
    """BottleNet++: encoder conv3x3 (strided if stride > 1), BN, sigmoid; 8-bit channel;
    decoder (transposed) conv3x3, BN, ReLU."""

    def __init__(self, feature_shape: tuple[int, int, int], channels: int, stride: int = 1) -> None:
        super().__init__()
        c, h, w = feature_shape
        self.scale = 1.0
        self.encoder = nn.Sequential(down_conv(c, channels, stride), TDBatchNorm2d(channels), nn.Sigmoid())
        self.decoder = nn.Sequential(up_conv(channels, c, stride, (h, w)), TDBatchNorm2d(c), nn.ReLU())
