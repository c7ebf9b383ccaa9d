"""Edge energy model: MACs for ANN layers, synaptic operations (SOPs) for spiking layers.

    ANN layer (or a spiking net's layer fed real values, e.g. the direct-encoding stem):
        E = MACs * e_mac                       (4.6 pJ: 32-bit float MAC, 45 nm, Horowitz 2014)
    Spiking layer:
        E = MACs * r * T * e_ac                (0.9 pJ per accumulate)

MACs are per image and time step; r is the layer's input firing rate (fraction of non-zero
inputs) measured with forward hooks on real data; T is how many steps the layer runs per image.
BN, neuron updates and pooling are left out, as in the SNN papers this model follows.

A layer counts as spiking when the network spikes and the layer's input is binary: with a spike
input encoding (`encoding.py`) that includes the stem, whose input rate is then the measured
fraction of firing pixels over the T steps; a stem fed real pixels stays MACs.
`EdgeEnergyMeter` computes the same sum inside training, differentiably, for an energy regulariser.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .bottleneck import SplitModel
from .neurons import MultiStepLIF

COMPUTE_LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


@dataclass(frozen=True)
class EnergyCosts:
    e_mac_pj: float = 4.6
    e_ac_pj: float = 0.9


@dataclass
class LayerEnergy:
    """One layer's cost per image: `ops` are MACs (kind "MAC") or SOPs (kind "AC")."""

    name: str
    kind: str
    macs: int
    steps: float
    input_rate: float
    ops: float
    energy_pj: float


def layer_macs(module: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> int:
    """Multiply-accumulates for one item of the batch (one image at one time step)."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return kh * kw * (module.in_channels // module.groups) * out[0].numel()
    if isinstance(module, nn.ConvTranspose2d):
        # Every input element is scattered onto k*k outputs of each of its group's channels.
        kh, kw = module.kernel_size
        return kh * kw * (module.out_channels // module.groups) * inp[0].numel()
    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features * (inp[0].numel() // module.in_features)
    raise TypeError(f"no MAC count for {type(module).__name__}")


class _Probe:
    """Forward hook that accumulates items, MACs and input sparsity of one layer."""

    def __init__(self) -> None:
        self.items = 0
        self.macs = 0
        self.nonzero = 0
        self.numel = 0
        self.binary = True

    def __call__(self, module: nn.Module, args: tuple, out: torch.Tensor) -> None:
        inp = args[0]
        self.macs = layer_macs(module, inp, out)
        self.items += inp.shape[0]
        self.nonzero += int(torch.count_nonzero(inp))
        self.numel += inp.numel()
        self.binary = self.binary and bool(((inp == 0) | (inp == 1)).all())


def is_spiking(model: nn.Module) -> bool:
    return any(isinstance(m, MultiStepLIF) for m in model.modules())


@torch.no_grad()
def edge_energy(
    model: SplitModel,
    images: torch.Tensor,
    costs: EnergyCosts = EnergyCosts(),
    batch_size: int = 250,
) -> list[LayerEnergy]:
    """Per-layer energy per image of `model.edge` on `images`, firing rates measured on them."""
    spiking = is_spiking(model)
    edge = set(map(id, _edge_compute_layers(model)))
    probes: dict[str, _Probe] = {}
    handles = []
    for name, module in model.named_modules():
        if id(module) in edge:
            probes[name] = _Probe()
            handles.append(module.register_forward_hook(probes[name]))
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(images), batch_size):
            model.edge(images[start : start + batch_size])
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    rows = []
    for name, p in probes.items():
        steps = p.items / len(images)  # T for layers run per step, 1 for the stem / an ANN
        rate = p.nonzero / p.numel
        if spiking and p.binary:
            ops = p.macs * steps * rate
            rows.append(LayerEnergy(name, "AC", p.macs, steps, rate, ops, ops * costs.e_ac_pj))
        else:
            ops = p.macs * steps
            rows.append(LayerEnergy(name, "MAC", p.macs, steps, rate, ops, ops * costs.e_mac_pj))
    return rows


def total_energy_pj(rows: list[LayerEnergy]) -> float:
    return sum(r.energy_pj for r in rows)


def relative_energy(rows: list[LayerEnergy], costs: EnergyCosts = EnergyCosts()) -> float:
    """Energy over that of the same layers as an ANN (MACs only): 1 / the ratio vs the ANN twin."""
    return total_energy_pj(rows) / sum(r.macs * costs.e_mac_pj for r in rows)


def _edge_compute_layers(model: SplitModel) -> list[nn.Module]:
    return [m for part in model.edge_modules() for m in part.modules() if isinstance(m, COMPUTE_LAYERS)]


class EdgeEnergyMeter:
    """Edge energy of the batches run while active, as a tensor that gradients flow through.

    Each edge layer adds, for the whole batch, e_ac * MACs * (non-zero inputs / inputs per item)
    (= e_ac * MACs * rate * T * N, the SOPs of `edge_energy`, with the surrogate gradient of the
    spikes behind it) if the network spikes and the input is binary, else e_mac * MACs * items.
    `relative(n_images)` divides the per-image energy by the same layers' energy as an ANN, so it is
    the quantity `relative_energy` measures, in training mode. Use as a context manager.
    """

    def __init__(self, model: SplitModel, costs: EnergyCosts = EnergyCosts()) -> None:
        self.model = model
        self.costs = costs
        self.spiking = is_spiking(model)
        self.handles: list = []
        self.reset()

    def reset(self) -> None:
        self.energy_pj: torch.Tensor | float = 0.0
        self.ann_pj: dict[int, float] = {}  # per layer: MACs * e_mac of one image

    def _hook(self, module: nn.Module, args: tuple, out: torch.Tensor) -> None:
        inp = args[0]
        macs = layer_macs(module, inp, out)
        self.ann_pj[id(module)] = macs * self.costs.e_mac_pj
        if self.spiking and bool(((inp == 0) | (inp == 1)).all()):
            self.energy_pj = self.energy_pj + self.costs.e_ac_pj * macs * inp.float().sum() / inp[0].numel()
        else:
            self.energy_pj = self.energy_pj + self.costs.e_mac_pj * macs * inp.shape[0]

    def relative(self, n_images: int) -> torch.Tensor:
        return self.energy_pj / n_images / sum(self.ann_pj.values())

    def __enter__(self) -> "EdgeEnergyMeter":
        self.handles = [m.register_forward_hook(self._hook) for m in _edge_compute_layers(self.model)]
        return self

    def __exit__(self, *exc) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []


def energy_table(tables: dict[str, list[LayerEnergy]]) -> str:
    """Markdown table, one row per layer, one (ops, energy) column pair per model."""
    models = list(tables)
    names = list(dict.fromkeys(r.name for rows in tables.values() for r in rows))
    by_name = {m: {r.name: r for r in rows} for m, rows in tables.items()}
    header = "| layer | " + " | ".join(f"{m} ops | {m} nJ" for m in models) + " |"
    lines = [header, "|" + "---|" * (1 + 2 * len(models))]
    for name in names:
        cells = []
        for m in models:
            r = by_name[m].get(name)
            cells += [f"{r.ops:,.0f} {r.kind}" + (f" (r={r.input_rate:.3f})" if r.kind == "AC" else ""),
                      f"{r.energy_pj / 1e3:.2f}"] if r else ["-", "-"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    totals = []
    for m in models:
        totals += ["", f"**{total_energy_pj(tables[m]) / 1e3:.2f}**"]
    lines.append("| total | " + " | ".join(totals) + " |")
    return "\n".join(lines)
