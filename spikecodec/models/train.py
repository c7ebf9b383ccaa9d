"""Training and evaluation: end-to-end and the BottleNet++ three-phase recipe, resumable.

A run directory holds `last.pt` (model, optimizer, scheduler, RNG state: resume from it) and
`best.pt` (best test accuracy so far). A recipe is a list of phases; each phase trains either
all parameters or only the bottleneck unit (backbone frozen, its BN statistics fixed).
"""

from __future__ import annotations

import json
import random
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .bottleneck import SplitModel
from .checkpoint import load_model, plain, read_checkpoint, save_checkpoint
from .data import batches
from .energy import EdgeEnergyMeter, edge_energy, is_spiking, relative_energy
from .factory import UNIT_CLASSES, build_model
from .neurons import MultiStepLIF


@dataclass
class Phase:
    """One stage of a recipe: `trainable` is "all" or "unit" (backbone frozen)."""

    name: str
    epochs: int
    lr: float
    trainable: str = "all"
    unit: dict | None = None  # replaces config["unit"] from this phase on (e.g. identity -> spiking)

    def __post_init__(self) -> None:
        if self.trainable not in ("all", "unit"):  # "Unit" trained the whole backbone, no error
            raise ValueError(f"phase {self.name!r}: trainable is 'all' or 'unit', got {self.trainable!r}")
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 0:
            raise ValueError(f"phase {self.name!r}: epochs is a count (0 skips the phase), got {self.epochs!r}")


@dataclass
class TrainSettings:
    batch_size: int = 128
    weight_decay: float = 1e-4
    bf16: bool = True  # bf16 autocast: ~3x faster on this CPU; evaluation stays float32
    augment: bool = True
    seed: int = 0
    # Energy regulariser: loss += energy_weight * max(0, E_edge / E_edge_as_ANN - energy_budget),
    # E measured on the training batch as in energy.py (0 = off). 0.01 is 100x below the ANN.
    energy_weight: float = 0.0
    energy_budget: float = 0.0
    # Code-rate regulariser: loss += code_rate_weight * max(0, firing rate of the code - target):
    # fewer spikes in the code, fewer bytes once entropy coded (0 = off).
    code_rate_weight: float = 0.0
    code_rate_target: float = 0.0
    init_from: str | None = None  # checkpoint whose backbone (and unit, if alike) start the first phase
    # Distillation: loss = (1 - w) * CE + w * tau^2 * KL(teacher || student), both softened by
    # tau (Hinton et al. 2015); the teacher is a trained checkpoint run in eval mode (None = off).
    distill_from: str | None = None
    distill_weight: float = 0.7
    distill_temperature: float = 4.0
    phases: list[Phase] = field(default_factory=lambda: [Phase("end_to_end", 10, 2e-3)])


def end_to_end(epochs: int, lr: float = 2e-3) -> list[Phase]:
    return [Phase("end_to_end", epochs, lr)]


def three_phase(unit: dict, epochs: tuple[int, int, int], lr: float = 2e-3) -> list[Phase]:
    """BottleNet++: train the backbone alone; freeze it and train the unit; fine-tune all."""
    return [
        Phase("backbone", epochs[0], lr, "all", {"kind": "identity"}),
        Phase("bottleneck", epochs[1], lr, "unit", unit),
        Phase("finetune", epochs[2], lr / 10, "all"),
    ]


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@torch.no_grad()
def evaluate(model: SplitModel, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> float:
    """Top-1 accuracy in float32 through the full split path cloud(edge(x))."""
    if labels.ndim != 1 or len(images) != len(labels):  # (N, 1) labels broadcast to an N x N table
        raise ValueError(f"{len(images)} images and labels shaped {tuple(labels.shape)}: one label each, a 1-D tensor")
    if not len(labels):
        raise ValueError("no images to evaluate")
    was_training = model.training
    model.eval()
    correct = 0
    for x, y in batches(images, labels, batch_size):
        correct += (model.cloud(model.edge(x)).argmax(1) == y).sum().item()
    model.train(was_training)
    return correct / len(labels)


def train_steps(
    model: SplitModel,
    optimizer: torch.optim.Optimizer,
    loader,
    scheduler=None,
    bf16: bool = False,
    progress: tqdm | None = None,
    energy_weight: float = 0.0,
    energy_budget: float = 0.0,
    code_rate_weight: float = 0.0,
    code_rate_target: float = 0.0,
    teacher: SplitModel | None = None,
    distill_weight: float = 0.7,
    distill_temperature: float = 4.0,
) -> float:
    """One pass over `loader` in the model's current mode; returns the mean training loss.

    With `energy_weight` > 0 the loss adds energy_weight * max(0, relative edge energy - budget);
    with `code_rate_weight` > 0, code_rate_weight * max(0, the code's firing rate - target);
    with a `teacher`, the cross-entropy becomes `distillation_loss` against its logits.
    """
    meter = EdgeEnergyMeter(model)
    codes: list[torch.Tensor] = []  # the code of the current batch, caught on its way out of the encoder
    hook = None
    if code_rate_weight > 0:
        if not hasattr(model.unit, "encoder"):
            raise ValueError("a code-rate regulariser needs a unit with an encoder")
        hook = model.unit.encoder.register_forward_hook(lambda _m, _i, out: codes.append(out))
    try:
        total, count = 0.0, 0
        for x, y in loader:
            codes.clear()
            meter.reset()
            counting = meter if energy_weight > 0 else nullcontext()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16), counting:
                logits = model(x)
            if teacher is None:
                loss = F.cross_entropy(logits.float(), y)
            else:
                with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    teacher_logits = teacher(x)
                loss = distillation_loss(logits.float(), teacher_logits.float(), y,
                                         distill_weight, distill_temperature)
            if energy_weight > 0:
                loss = loss + energy_weight * F.relu(meter.relative(len(y)) - energy_budget)
            if code_rate_weight > 0:
                loss = loss + code_rate_weight * F.relu(codes[-1].float().mean() - code_rate_target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total += loss.item() * len(y)
            count += len(y)
            if progress is not None:
                progress.update(len(y))
                progress.set_postfix(loss=f"{total / count:.3f}")
    finally:
        if hook is not None:
            hook.remove()
    return total / count


def distillation_loss(logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
                      weight: float, temperature: float) -> torch.Tensor:
    """(1 - weight) * CE(logits, labels) + weight * tau^2 * KL(softmax(teacher / tau) || softmax(logits / tau)).

    The tau^2 keeps the soft term's gradient on the scale of the hard one as tau changes.
    """
    soft = F.kl_div(F.log_softmax(logits / temperature, 1), F.log_softmax(teacher_logits / temperature, 1),
                    reduction="batchmean", log_target=True)
    return (1 - weight) * F.cross_entropy(logits, labels) + weight * temperature ** 2 * soft


def _set_trainable(model: SplitModel, trainable: str) -> None:
    frozen = trainable == "unit"
    for p in model.backbone.parameters():
        p.requires_grad_(not frozen)


def _optimizer(model: SplitModel, phase: Phase, settings: TrainSettings, n_train: int):
    """AdamW on the trainable parameters with a one-cycle schedule over the whole phase."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, phase.lr, weight_decay=settings.weight_decay)
    steps = phase.epochs * -(-n_train // settings.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, phase.lr, total_steps=steps, pct_start=0.15)
    return optimizer, scheduler


def load_initial_weights(model: SplitModel, checkpoint: str | Path) -> None:
    """Copy a checkpoint's backbone weights and BN statistics into `model` (same backbone only),
    and its bottleneck unit too when the model's is the same (fine-tuning a trained model).
    The neurons keep the parameters `model` was built with."""
    saved = read_checkpoint(checkpoint)
    weights = saved["model"]
    state = model.state_dict()

    def part(prefix: str, d: dict) -> dict:
        return {k: v for k, v in d.items() if k.startswith(prefix)}

    source, target = part("backbone.", weights), part("backbone.", state)
    # A level-coded stem (more input channels) starts from a direct-encoding stem's weights.
    encoding = getattr(model.backbone.stages["stem"], "encoding", None)
    key = "backbone.stages.stem.conv.weight"
    if hasattr(encoding, "stem_weight_from_direct") and key in source and source[key].shape != target[key].shape:
        source = dict(source, **{key: encoding.stem_weight_from_direct(source[key])})
    mismatched = sorted(k for k in target if k not in source or source[k].shape != target[k].shape)
    if mismatched or len(source) != len(target):
        raise ValueError(f"{checkpoint}: backbone does not match the model's ({len(mismatched)} tensors differ)")
    unit_source, unit_target = part("unit.", weights), part("unit.", state)
    kind = saved.get("config", {}).get("unit", {}).get("kind")
    same_kind = type(model.unit) is UNIT_CLASSES.get(kind)  # a BottleNet unit's tensors can fit a BottleNet++ one
    if same_kind and unit_target and unit_source.keys() == unit_target.keys() and all(
            unit_source[k].shape == v.shape for k, v in unit_target.items()):
        source.update(unit_source)
    # The neurons' tau, V_th and surrogate width come from the new config, not the checkpoint.
    neuron_buffers = {f"{name}.{b}" for name, m in model.named_modules() if isinstance(m, MultiStepLIF)
                      for b, _ in m.named_buffers(recurse=False)}
    model.load_state_dict({k: v for k, v in source.items() if k not in neuron_buffers}, strict=False)


def _build_phase_model(config: dict, phase: Phase, previous: SplitModel | None) -> tuple[SplitModel, dict]:
    config = dict(config, unit=phase.unit) if phase.unit is not None else config
    model = build_model(config)
    if previous is not None:
        # Carry over everything that still fits (the backbone; the unit if unchanged).
        state = model.state_dict()
        state.update({k: v for k, v in previous.state_dict().items()
                      if k in state and state[k].shape == v.shape})
        model.load_state_dict(state)
    return model, config


def _check_resumable(resume: dict, config: dict, settings: TrainSettings, last: Path) -> None:
    """A run resumes with the settings and config it was started with: the weights, optimizer and
    schedule come back from ``last``, so changed ones were ignored without a word (and written
    into the next checkpoint, which then contradicted its weights), and a longer phase crashed in
    the schedule. Phases after the one it stopped in may be added or changed."""
    was = resume.get("settings", {})
    now = plain(asdict(settings), "settings")
    changed = sorted(k for k in set(was) | set(now) if k != "phases" and was.get(k) != now.get(k))
    upto = resume.get("phase", 0) + 1
    if was.get("phases", [])[:upto] != now["phases"][:upto]:
        changed.append("phases")
    started = resume.get("start_config")
    if started is not None and started != plain(config, "config"):
        changed.append("config")
    if changed:
        raise ValueError(f"{last} is a run started with other {', '.join(changed)}: resume it with the same ones, "
                         "or train in another folder")


def fit(
    config: dict,
    settings: TrainSettings,
    train_data: tuple[torch.Tensor, torch.Tensor],
    test_data: tuple[torch.Tensor, torch.Tensor],
    run_dir: str | Path,
    log=print,
) -> SplitModel:
    """Run all phases, checkpointing after every epoch; resumes from run_dir/last.pt if present."""
    run_dir = Path(run_dir)
    if settings.batch_size < 1 or not any(p.epochs for p in settings.phases):
        raise ValueError(f"nothing to train: batch_size {settings.batch_size}, phases of {[p.epochs for p in settings.phases]} epochs")
    if settings.energy_weight > 0 and not config.get("neuron", {}).get("spiking", True):
        raise ValueError("energy_weight > 0 needs a spiking network: an ANN's edge energy is its own reference")
    if not len(train_data[1]) or not len(test_data[1]):
        raise ValueError(f"{len(train_data[1])} training and {len(test_data[1])} test images: both are needed")
    generator = seed_everything(settings.seed)
    last = run_dir / "last.pt"
    resume = read_checkpoint(last) if last.exists() else None
    if resume is not None:
        _check_resumable(resume, config, settings, last)
    model = None
    start_config = resume.get("start_config", config) if resume else config  # the config the run began with
    history = resume["history"] if resume else []
    best = max((h["test_acc"] for h in history if h["unit"] != "identity"), default=0.0)
    show = sys.stderr.isatty()
    teacher = None
    if settings.distill_from:
        teacher = load_model(settings.distill_from)
        teacher.requires_grad_(False)
    for p_index, phase in enumerate(settings.phases):
        # Phases already done, and empty ones (phase 1 when the backbone comes from init_from).
        if (resume and p_index < resume["phase"]) or phase.epochs == 0:
            if phase.unit is not None:
                config = dict(config, unit=phase.unit)
            continue
        first = model is None and resume is None
        model, config = _build_phase_model(config, phase, model)
        if first and settings.init_from:
            load_initial_weights(model, settings.init_from)
        _set_trainable(model, phase.trainable)
        optimizer, scheduler = _optimizer(model, phase, settings, len(train_data[1]))
        start_epoch = 0
        if resume and p_index == resume["phase"]:
            model.load_state_dict(resume["model"])
            optimizer.load_state_dict(resume["optimizer"])
            scheduler.load_state_dict(resume["scheduler"])
            generator.set_state(resume["generator"])
            torch.set_rng_state(resume["torch_rng"])
            start_epoch = resume["epoch"] + 1
            resume = None
        for epoch in range(start_epoch, phase.epochs):
            t0 = time.time()
            desc = f"{phase.name} {epoch + 1}/{phase.epochs}"
            with tqdm(total=len(train_data[1]), desc=desc, unit="img", disable=not show, leave=False) as bar:
                model.train()
                if phase.trainable == "unit":
                    model.backbone.eval()  # a frozen backbone keeps its BN statistics too
                loader = batches(*train_data, settings.batch_size, generator, settings.augment)
                loss = train_steps(model, optimizer, loader, scheduler, settings.bf16, bar,
                                   settings.energy_weight, settings.energy_budget,
                                   settings.code_rate_weight, settings.code_rate_target,
                                   teacher, settings.distill_weight, settings.distill_temperature)
            acc = evaluate(model, *test_data)
            unit = config["unit"]["kind"]
            record = {"phase": phase.name, "epoch": epoch + 1, "unit": unit, "loss": round(loss, 4),
                      "test_acc": round(acc, 4), "seconds": round(time.time() - t0, 1)}
            if is_spiking(model):  # on (up to) 1000 test images, as energy_table.py counts
                record["edge_energy_vs_ann"] = round(relative_energy(edge_energy(model, test_data[0][:1000])), 5)
            history.append(record)
            state = dict(phase=p_index, epoch=epoch, history=history, settings=asdict(settings), start_config=start_config,
                         optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(),
                         generator=generator.get_state(), torch_rng=torch.get_rng_state())
            save_checkpoint(last, model, config, **state)
            if unit != "identity" and acc >= best:  # only models with the bottleneck in place
                best = acc
                save_checkpoint(run_dir / "best.pt", model, config, test_acc=acc, history=history)
            log(json.dumps(record))
    return model
