"""Train a split model on Fashion-MNIST and optionally export it as a shipped reference.

Example (the shipped reference; see results/models/ for the exact command and log):
    python scripts/train_reference.py --run-dir runs/models/ref --epochs 18 --export snn-resnet-fmnist
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import torch

from spikecodec.models.data import load_fashion_mnist
from spikecodec.models.factory import make_config
from spikecodec.models.layers import NeuronSpec
from spikecodec.models.reference import export_reference
from spikecodec.models.train import TrainSettings, end_to_end, fit, three_phase


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="resnet", choices=["resnet", "mobilenet"])
    p.add_argument("--layout", default="narrow")
    p.add_argument("--widths", type=int, nargs="+", help="override the layout's stage widths (resnet)")
    p.add_argument("--blocks", type=int, nargs="+", help="override blocks per stage (resnet)")
    p.add_argument("--ann", action="store_true", help="ANN twin (ReLU, T=1) for the baselines")
    p.add_argument("--timesteps", type=int, default=2)
    p.add_argument("--encoding", default="direct", choices=["direct", "thermometer", "levels"],
                   help="stem input: real pixels (direct) or spikes (thermometer code over T, or "
                        "brightness levels as channels at every step)")
    p.add_argument("--thresholds", type=float, nargs="+",
                   help="thermometer / level thresholds (pixel units)")
    p.add_argument("--v-th", type=float, default=NeuronSpec.v_th, help="LIF firing threshold")
    p.add_argument("--surrogate-width", type=float, default=NeuronSpec.surrogate_width,
                   help="half-width of the rectangular surrogate gradient around the threshold")
    p.add_argument("--energy-weight", type=float, default=0.0,
                   help="weight of the edge-energy regulariser (relative to the ANN twin); 0 = off")
    p.add_argument("--energy-budget", type=float, default=0.0,
                   help="relative edge energy below which the regulariser stops pushing")
    p.add_argument("--split", default="layer3")
    p.add_argument("--unit", default="spiking", choices=["spiking", "bottlenet", "bottlenetpp", "identity"])
    p.add_argument("--code-channels", type=int, default=4)
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--recipe", default="end_to_end", choices=["end_to_end", "three_phase"])
    p.add_argument("--epochs", type=int, nargs="+", default=[10], help="one number, or three for three_phase")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--init-from", metavar="CHECKPOINT",
                   help="start from this checkpoint's backbone, and its unit if the same (e.g. "
                        "three_phase with --epochs 0 N M, or fine-tuning)")
    p.add_argument("--code-rate-weight", type=float, default=0.0,
                   help="weight of the code's firing-rate regulariser (fewer spikes, fewer bytes); 0 = off")
    p.add_argument("--code-rate-target", type=float, default=0.0,
                   help="firing rate of the code below which that regulariser stops pushing")
    p.add_argument("--distill-from", metavar="CHECKPOINT",
                   help="teacher for knowledge distillation (a trained checkpoint or reference .pt)")
    p.add_argument("--distill-weight", type=float, default=TrainSettings.distill_weight,
                   help="share of the soft (teacher) term in the loss")
    p.add_argument("--distill-temperature", type=float, default=TrainSettings.distill_temperature)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--no-bf16", action="store_true", help="train in float32 instead of bf16 autocast")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-limit", type=int, help="use only the first N training images")
    p.add_argument("--test-limit", type=int)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--run-dir", required=True, help="checkpoints (last.pt resumes, best.pt)")
    p.add_argument("--log", help="append JSON-lines progress here")
    p.add_argument("--export", metavar="NAME",
                   help="export the final model as spikecodec/models/reference/NAME")
    p.add_argument("--export-checkpoint", default="last", choices=["last", "best"],
                   help="final model (default), or the epoch with the best test accuracy")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    backbone = {"arch": args.arch, "layout": args.layout}
    if args.widths:
        backbone["widths"] = args.widths
    if args.blocks:
        backbone["blocks"] = args.blocks
    unit = {"kind": args.unit, "channels": args.code_channels, "stride": args.stride}
    config = make_config(
        backbone=backbone,
        neuron=NeuronSpec(spiking=not args.ann, v_th=args.v_th, surrogate_width=args.surrogate_width).to_dict(),
        timesteps=args.timesteps,
        split=args.split,
        unit=unit,
        encoding={"kind": args.encoding, **({"thresholds": args.thresholds} if args.thresholds else {})},
    )
    if args.recipe == "end_to_end":
        phases = end_to_end(args.epochs[0], args.lr)
    else:
        phases = three_phase(unit, tuple(args.epochs), args.lr)
    settings = TrainSettings(batch_size=args.batch_size, bf16=not args.no_bf16,
                             augment=not args.no_augment, seed=args.seed, init_from=args.init_from,
                             energy_weight=args.energy_weight,
                             energy_budget=args.energy_budget, code_rate_weight=args.code_rate_weight,
                             code_rate_target=args.code_rate_target, distill_from=args.distill_from,
                             distill_weight=args.distill_weight,
                             distill_temperature=args.distill_temperature, phases=phases)
    train = load_fashion_mnist("train", limit=args.train_limit)
    test = load_fashion_mnist("test", limit=args.test_limit)

    log_file = open(args.log, "a") if args.log else None

    def log(line: str) -> None:
        print(line, flush=True)
        if log_file:
            log_file.write(line + "\n")
            log_file.flush()

    log(json.dumps({"command": shlex.join(["python", *sys.argv]), "config": config}))
    fit(config, settings, train, test, args.run_dir, log)
    if args.export:
        checkpoint = Path(args.run_dir) / f"{args.export_checkpoint}.pt"
        meta = export_reference(checkpoint, args.export, test,
                                extra={"command": shlex.join(["python", *sys.argv])})
        log(json.dumps({"exported": meta}))


if __name__ == "__main__":
    main()
