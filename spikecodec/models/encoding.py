"""Spike input encoding: a fixed, parameter-free map from an image to binary spikes over T steps.

With it the stem receives spikes, not pixels, so every edge layer is accumulate-only (see
`energy.py`); without it (direct encoding) the stem multiplies real pixels and is counted as MACs.
Two codes: a thermometer over the T steps (one binary image per step), and brightness levels
as channels (K binary images at every step, so grey levels cost no time steps).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .layers import DirectEncodingStem, NeuronSpec, merge_time


def normalised_thresholds(
    theta: list[float], mean: Sequence[float], std: Sequence[float], count: int | None = None
) -> torch.Tensor:
    """Pixel thresholds (increasing, in [0, 1); ``count`` of them if given) on the model's
    normalised input scale: (K, C) with entry (k, c) = (theta_k - mean_c) / std_c."""
    if (count is not None and len(theta) != count) or not theta or sorted(theta) != theta or not all(
            0 <= v < 1 for v in theta):
        raise ValueError(f"need {'' if count is None else f'{count} '}increasing thresholds in [0, 1), got {theta}")
    return (torch.tensor(theta).view(-1, 1) - torch.tensor(list(mean)).view(1, -1)) / torch.tensor(list(std)).view(1, -1)


class ThermometerEncoding(nn.Module):
    """Step t fires where the pixel is brighter than threshold theta_t (a thermometer code over T).

    For a pixel p in [0, 1] and thresholds theta_0 < ... < theta_{T-1}:

        s[t] = H(p - theta_t),   default theta_t = (t + 1) / (T + 1)

    so T = 1 binarises at 0.5 and T = 3 fires 0..3 times for p in the quarters of [0, 1].
    The model's input is already normalised, x = (p - mean) / std, so the same test is made as
    x > (theta_t - mean) / std. Cost on the device: T comparisons per pixel, no multiplications;
    the energy model leaves them out (784 T compares for a 28 x 28 image, next to ~1e5 accumulates).
    """

    channels_per_input = 1  # the stem sees as many channels as the image has

    def __init__(
        self,
        timesteps: int,
        mean: Sequence[float],
        std: Sequence[float],
        thresholds: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        theta = list(thresholds) if thresholds is not None else [(t + 1) / (timesteps + 1) for t in range(timesteps)]
        grid = normalised_thresholds(theta, mean, std, timesteps)
        # (T, 1, C, 1, 1). Not saved: the config rebuilds it, and the weights of a spike-fed
        # backbone keep the names of a direct-encoding one (training can start from it).
        self.register_buffer("thresholds", grid.view(timesteps, 1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised image (N, C, H, W) -> spikes (T, N, C, H, W) of 0.0 / 1.0."""
        return (x.unsqueeze(0) > self.thresholds).to(x.dtype)


class LevelEncoding(nn.Module):
    """K brightness levels as K binary channels per image channel, the same at every step.

    For a pixel p in [0, 1] of image channel c and thresholds theta_0 < ... < theta_{K-1}:

        s[t, c * K + k] = H(p - theta_k)   for every step t,   default K = 3: theta = 1/4, 1/2, 3/4

    Unlike the thermometer code, the grey levels cost channels, not steps: at T = 1 the stem
    sees all K levels at once, and every later layer runs a single step. The stem's synaptic
    operations grow with the levels that fire (sum_k of the fraction of pixels above theta_k);
    everything after the stem is unchanged. The test is made on the normalised input, as in
    ThermometerEncoding, and its K comparisons per pixel are left out of the energy model.
    """

    def __init__(
        self,
        timesteps: int,
        mean: Sequence[float],
        std: Sequence[float],
        thresholds: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        theta = list(thresholds) if thresholds is not None else [0.25, 0.5, 0.75]
        grid = normalised_thresholds(theta, mean, std)
        self.timesteps = timesteps
        self.channels_per_input = len(theta)
        # (1, C, K, 1, 1); not saved (the config rebuilds it).
        self.register_buffer("thresholds", grid.T.reshape(1, -1, len(theta), 1, 1), persistent=False)
        self.std = list(std)

    def stem_weight_from_direct(self, weight: torch.Tensor) -> torch.Tensor:
        """A stem conv weight (O, C, k, k) trained on normalised pixels, mapped to this code's
        (O, C * K, k, k) input: the K levels of a pixel sum to about K * p, and the normalised
        pixel is (p - mean) / std, so each level gets weight / (K * std) (the mean's shift is left
        to the stem's BN). A starting point for fine-tuning a direct-encoding model, not a copy."""
        K = self.channels_per_input
        scale = torch.tensor(self.std, dtype=weight.dtype).view(1, -1, 1, 1, 1) * K
        return (weight.unsqueeze(2) / scale).expand(-1, -1, K, -1, -1).reshape(weight.shape[0], -1, *weight.shape[2:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised image (N, C, H, W) -> spikes (T, N, C * K, H, W) of 0.0 / 1.0."""
        n, c, h, w = x.shape
        levels = (x.unsqueeze(2) > self.thresholds).to(x.dtype).reshape(n, c * self.channels_per_input, h, w)
        return levels.unsqueeze(0).expand(self.timesteps, -1, -1, -1, -1)


class SpikeInputStem(nn.Module):
    """Spike-encoded image -> conv, tdBN, neuron at every step (the conv sees only spikes).

    Its parameters are named as in DirectEncodingStem (conv, bn, act), so a direct-encoding
    checkpoint can initialise it.
    """

    def __init__(self, encoding: nn.Module, c_in: int, c_out: int, spec: NeuronSpec) -> None:
        super().__init__()
        self.encoding = encoding
        self.conv = nn.Conv2d(c_in * encoding.channels_per_input, c_out, 3, 1, 1, bias=False)
        self.bn = spec.norm(c_out)
        self.act = spec.activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Image (N, C, H, W) -> activations (T, N, C', H, W)."""
        return self.act(self.bn(merge_time(self.conv, self.encoding(x))))


def make_stem(c_in: int, c_out: int, spec: NeuronSpec, timesteps: int, encoding: nn.Module | None) -> nn.Module:
    """The direct-encoding stem (real pixels, counted as MACs), or a spike-fed one."""
    if encoding is None:
        return DirectEncodingStem(c_in, c_out, spec, timesteps)
    return SpikeInputStem(encoding, c_in, c_out, spec)
