"""A backbone as an ordered list of named stages, so it can be split after any of them."""

from __future__ import annotations

import torch
from torch import nn


class StagedBackbone(nn.Module):
    """Runs `stages` in order, then `head`; `run(x, start, stop)` runs a contiguous slice.

    Stage 0 takes an image (N, C, H, W) and returns (T, N, C', H', W'); every later stage maps
    (T, N, ...) to (T, N, ...); the head maps (T, N, C, H, W) to logits (N, classes).
    """

    def __init__(self, stages: dict[str, nn.Module], head: nn.Module, timesteps: int) -> None:
        super().__init__()
        self.stages = nn.ModuleDict(stages)
        self.head = head
        self.timesteps = timesteps

    @property
    def stage_names(self) -> list[str]:
        return list(self.stages.keys())

    def run(self, x: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Run stages[start:stop] (stop=None: all stages and the head)."""
        for stage in list(self.stages.values())[start:stop]:
            x = stage(x)
        return self.head(x) if stop is None else x

    def split_index(self, name: str) -> int:
        """Index of the first stage after the split point `name`."""
        if name not in self.stages:
            raise ValueError(f"unknown stage {name!r}; choose from {self.stage_names}")
        return self.stage_names.index(name) + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)
