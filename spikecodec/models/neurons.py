"""Spiking neurons over multi-step tensors shaped (T, N, ...).

The neuron follows STBP-tdBN (Zheng et al., AAAI 2021): a leaky integrate-and-fire unit with
hard reset whose Heaviside spike function gets a rectangular surrogate gradient.
"""

from __future__ import annotations

import torch
from torch import nn


class RectangularSpike(torch.autograd.Function):
    """Heaviside step forward, rectangular surrogate backward.

    Forward:  o = 1 if u > 0 else 0   (u = V - V_th)
    Backward: do/du = 1 / (2a) if |u| < a else 0
    """

    @staticmethod
    def forward(ctx, u: torch.Tensor, half_width: float) -> torch.Tensor:
        ctx.save_for_backward(u)
        ctx.half_width = half_width
        return (u > 0).to(u.dtype)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor) -> tuple[torch.Tensor, None]:
        (u,) = ctx.saved_tensors
        a = ctx.half_width
        window = (u.abs() < a).to(grad_out.dtype)
        return grad_out * window / (2 * a), None


class MultiStepLIF(nn.Module):
    """Leaky integrate-and-fire neuron with hard reset, run over all T steps at once.

    For t = 0 .. T-1, with V[-1] = 0 and o[-1] = 0:

        V[t] = tau * V[t-1] * (1 - o[t-1]) + x[t]
        o[t] = H(V[t] - V_th)

    H is the Heaviside step; its gradient is replaced by a rectangle of half-width
    `surrogate_width` around the threshold (height 1 / (2 * surrogate_width)).

    Args:
        tau: membrane decay per step (0 < tau <= 1).
        v_th: firing threshold.
        surrogate_width: half-width of the rectangular surrogate gradient.
        detach_reset: stop the gradient through the reset term (1 - o[t-1]).
    """

    def __init__(
        self,
        tau: float = 0.25,
        v_th: float = 0.5,
        surrogate_width: float = 0.5,
        detach_reset: bool = False,
    ) -> None:
        super().__init__()
        # Buffers, not plain attributes, so the neuron's parameters travel in the state dict.
        self.register_buffer("tau", torch.tensor(float(tau)))
        self.register_buffer("v_th", torch.tensor(float(v_th)))
        self.register_buffer("surrogate_width", torch.tensor(float(surrogate_width)))
        self.detach_reset = detach_reset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map input currents (T, N, ...) to spikes (T, N, ...) of 0.0 / 1.0."""
        if not x.is_floating_point():  # integer currents: tau and v_th cast to int were 0
            x = x.float()
        tau = self.tau.to(x.dtype)
        v_th = self.v_th.to(x.dtype)
        width = float(self.surrogate_width)
        v = torch.zeros_like(x[0])
        o = torch.zeros_like(x[0])
        spikes = []
        for x_t in x:
            keep = 1.0 - (o.detach() if self.detach_reset else o)
            v = tau * v * keep + x_t
            o = RectangularSpike.apply(v - v_th, width)
            spikes.append(o)
        return torch.stack(spikes)

    def extra_repr(self) -> str:
        return (
            f"tau={float(self.tau)}, v_th={float(self.v_th)}, "
            f"surrogate_width={float(self.surrogate_width)}, detach_reset={self.detach_reset}"
        )
