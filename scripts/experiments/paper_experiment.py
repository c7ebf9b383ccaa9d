"""The SpikeBottleNet experiment on Fashion-MNIST: accuracy vs compression at several splits.

For each configuration (backbone, split, code channels C', stride) a spiking bottleneck unit is put
into a trained no-bottleneck SNN (phase 1), trained with the backbone frozen (phase 2) and fine-tuned
with everything (phase 3) - or, recipe "joint", trained together with the whole pretrained network
(phases 2 and 3 merged) - then measured on all 10,000 test images:

- accuracy, and its drop against the same SNN without bottleneck;
- compression as the paper counts it: 32-bit float feature at the split vs 1 bit per spike per step,
  32 * C * H * W / (T * C' * H' * W');
- compression in real bytes: the float32 feature vs the file `spikecodec.encode` (default codec)
  writes for the test set's spikes, container included, divided by 10,000;
- spike rate, and edge energy (energy.py) of the SNN's edge half vs the ANN twins of BottleNet and
  BottleNet++ cut at the same split with the same C' and stride (MAC counts need no trained weights).

    python scripts/experiments/paper_experiment.py train --arch resnet     # resumable, skips done runs
    python scripts/experiments/paper_experiment.py measure                 # appends to measurements.jsonl
    python scripts/experiments/paper_experiment.py report                  # table (.md, .json) and plot

Training logs: results/experiments/<run>.log; checkpoints: runs/experiments/<run>/.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRAIN_SCRIPT = ROOT / "scripts" / "train_reference.py"
RESULTS = Path("results/experiments")
RUNS = Path("runs/experiments")
MEASUREMENTS = RESULTS / "measurements.jsonl"
TIMESTEPS = 2
ENERGY_IMAGES = 2000  # test images on which firing rates are measured for the energy model
BITS_TARGET = (256, 0.005)  # >= 256x paper-counted bits at <= 0.5 points accuracy drop
BYTES_TARGET = (1024, 0.01)  # >= 1024x real file bytes at <= 1 point drop


@dataclass(frozen=True)
class Backbone:
    """A trained SNN without bottleneck: the reference for the accuracy drop, and phase 1."""

    arch: str
    run_dir: str
    split: str  # its config's split (irrelevant for the identity unit, needed to rebuild it)
    train_args: tuple[str, ...] = ()  # empty: trained elsewhere (results/models/README.md)


BACKBONES = {
    "resnet": Backbone("resnet", "runs/models/snn-resnet-fmnist-nobottleneck", "layer3"),
    "mobilenet": Backbone(
        "mobilenet", str(RUNS / "mobilenet-nobottleneck"), "stage3",
        ("--arch", "mobilenet", "--split", "stage3", "--timesteps", str(TIMESTEPS), "--unit", "identity",
         "--epochs", "2", "--train-limit", "30000"),
    ),
}


@dataclass(frozen=True)
class Experiment:
    arch: str
    split: str
    channels: int
    stride: int = 1
    epochs: tuple[int, ...] = (1, 1)  # phase 2 (backbone frozen), phase 3 (fine-tune, lr / 10)
    # "three_phase": phases 2 and 3 as above; "joint": phases 2 and 3 merged, the unit inserted
    # into the pretrained backbone and everything trained at the full lr for epochs[0] epochs.
    recipe: str = "three_phase"
    train_limit: int | None = None  # first N training images per epoch (None: all 60,000)
    # Test images scored after each training epoch (progress only; `measure` scores all 10,000).
    eval_limit: int | None = 2000
    tag: str = ""  # tells apart runs of one unit trained differently (e.g. longer)

    @property
    def name(self) -> str:
        suffix = "-joint" if self.recipe == "joint" else ""
        tag = f"-{self.tag}" if self.tag else ""
        return f"{self.arch}-{self.split}-c{self.channels}-s{self.stride}{suffix}{tag}"


# Ordered by priority: runs are trained in this order. Training subsets keep the sweep within about
# an hour on 2 CPU cores shared with other jobs (the narrow MobileNet is ~4x slower per image).
EXPERIMENTS = [
    Experiment("resnet", "layer3", 4, eval_limit=None),  # 64x7x7 -> 4x7x7: 256x
    Experiment("resnet", "layer3", 1, train_limit=30000),  # 1024x
    Experiment("resnet", "layer2", 2, 2, (1,), train_limit=30000, recipe="joint"),  # 32x14x14 -> 2x7x7: 1024x
    Experiment("resnet", "layer3", 2, 1, (1,), train_limit=30000, recipe="joint"),  # 512x
    Experiment("resnet", "layer1", 2, 2, train_limit=10000),  # 16x28x28 -> 2x14x14: 512x
    Experiment("resnet", "layer2", 4, train_limit=10000),  # 32x14x14 -> 4x14x14: 128x
    # The MobileNet is ~4x slower per image: one joint epoch over 4000 images per run.
    # 32x7x7 -> 2x7x7: 256x; 24x14x14 -> 2x7x7: 768x; 32x7x7 -> 1x7x7: 512x; 24x14x14 -> 4x7x7: 384x
    # 2-channel codes trained to convergence, for >= 1024x file bytes at <= 1 point drop.
    Experiment("resnet", "layer3", 2, 1, (8,), recipe="joint", eval_limit=None, tag="8ep"),  # 512x
    Experiment("resnet", "layer2", 2, 2, (8,), recipe="joint", eval_limit=None, tag="8ep"),  # 1024x
    Experiment("mobilenet", "stage3", 2, 1, (1,), train_limit=4000, eval_limit=1000, recipe="joint"),
    Experiment("mobilenet", "stage2", 2, 2, (1,), train_limit=4000, eval_limit=1000, recipe="joint"),
    Experiment("mobilenet", "stage3", 1, 1, (1,), train_limit=4000, eval_limit=1000, recipe="joint"),
    Experiment("mobilenet", "stage2", 4, 2, (1,), train_limit=4000, eval_limit=1000, recipe="joint"),
]

# Bottleneck models trained outside the sweep, measured beside it: name -> (arch, run dir, epochs,
# how it was trained).
EXISTING = {
    "resnet-layer3-c4-s1-end-to-end": ("resnet", "runs/models/snn-resnet-fmnist", 15,
                                       "end to end, 15 ep x 60000 (shipped reference)"),
    # The 8-epoch 2-channel run fine-tuned with the code-rate regulariser (fewer spikes, fewer
    # bytes): train_reference.py --init-from runs/experiments/resnet-layer3-c2-s1-joint-8ep/last.pt
    # --code-channels 2 --code-rate-weight 2 --code-rate-target 0.3 --epochs 3 --lr 1e-3
    # (command and log: results/experiments/resnet-layer3-c2-s1-rate030.log).
    "resnet-layer3-c2-s1-rate030": ("resnet", str(RUNS / "resnet-layer3-c2-s1-rate030"), 3,
                                    "joint 8 ep + 3 ep code rate <= 0.3, x 60000"),
}


def training_summary(name: str) -> str | None:
    """How a run was trained, for the table."""
    if name in EXISTING:
        return EXISTING[name][3]
    exp = next((e for e in EXPERIMENTS if e.name == name), None)
    if exp is None:
        return None
    images = exp.train_limit or 60000
    if exp.recipe == "joint":
        return f"joint {exp.epochs[0]} ep x {images}"
    return f"frozen {exp.epochs[0]} + fine-tune {exp.epochs[1]} ep x {images}"


def _history(run_dir: Path) -> list[dict]:
    from spikecodec.models.checkpoint import read_checkpoint

    last = run_dir / "last.pt"
    return read_checkpoint(last)["history"] if last.exists() else []


def _train(run: str, args: list[str], run_dir: Path, epochs: int, threads: int) -> None:
    """Run train_reference.py unless run_dir/last.pt already holds all `epochs` epochs."""
    if len(_history(run_dir)) >= epochs:
        print(f"{run}: done", flush=True)
        return
    command = [sys.executable, str(TRAIN_SCRIPT), *args, "--threads", str(threads),
               "--run-dir", str(run_dir), "--log", str(RESULTS / f"{run}.log")]
    print(" ".join(command), flush=True)
    subprocess.run(command, check=True)


def _backbone_epochs(backbone: Backbone) -> int:
    """Epochs of the backbone run (1 if trained elsewhere: it only needs to exist)."""
    args = backbone.train_args
    return int(args[args.index("--epochs") + 1]) if args else 1


def train_command(exp: Experiment) -> list[str]:
    """train_reference.py arguments of one sweep run (phase 1 comes from the backbone run)."""
    backbone = BACKBONES[exp.arch]
    args = ["--arch", exp.arch, "--timesteps", str(TIMESTEPS), "--split", exp.split, "--unit", "spiking",
            "--code-channels", str(exp.channels), "--stride", str(exp.stride),
            "--init-from", f"{backbone.run_dir}/last.pt"]
    if exp.recipe == "joint":
        args += ["--recipe", "end_to_end", "--epochs", str(exp.epochs[0])]
    else:
        args += ["--recipe", "three_phase", "--epochs", "0", *map(str, exp.epochs)]
    if exp.train_limit:
        args += ["--train-limit", str(exp.train_limit)]
    if exp.eval_limit:
        args += ["--test-limit", str(exp.eval_limit)]
    return args


def cmd_train(opts: argparse.Namespace) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    for arch in opts.arch:
        backbone = BACKBONES[arch]
        if backbone.train_args:
            run_dir = Path(backbone.run_dir)
            _train(run_dir.name, list(backbone.train_args), run_dir, _backbone_epochs(backbone), opts.threads)
        for exp in EXPERIMENTS:
            if exp.arch == arch and (not opts.only or exp.name in opts.only):
                _train(exp.name, train_command(exp), RUNS / exp.name, sum(exp.epochs), opts.threads)


# ---------------------------------------------------------------------------------------------
# Measurement


def _read_measurements(path: Path = MEASUREMENTS) -> dict[str, dict]:
    """Measurement records by run name; the latest record of a name wins."""
    if not path.exists():
        return {}
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {r["name"]: r for r in records}


def _edge_codes(model, images, batch_size: int = 500):
    """The edge half's output for all images, concatenated along N: uint8 (T, N, C', H', W')."""
    import torch

    with torch.no_grad():
        parts = [model.edge(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    return torch.cat(parts, dim=1)


def measure_run(name: str, arch: str, checkpoint: Path, images, labels, energy_images: int) -> dict:
    """All figures of one trained split model on the given test images (see the module doc)."""
    import numpy as np

    import spikecodec
    from spikecodec.models.checkpoint import load_model, read_checkpoint
    from spikecodec.models.energy import edge_energy, total_energy_pj
    from spikecodec.models.factory import build_model, feature_shape
    from spikecodec.models.train import evaluate

    config = read_checkpoint(checkpoint)["config"]
    model = load_model(checkpoint)
    n = len(labels)
    c, h, w = feature_shape(model.backbone, model.split, config)
    float_bytes = 4 * c * h * w
    record = {"name": name, "arch": arch, "split": config["split"], "unit": config["unit"],
              "timesteps": config["timesteps"], "feature_shape": [c, h, w], "test_images": n,
              "test_acc": evaluate(model, images, labels), "float_feature_bytes": float_bytes,
              "history": read_checkpoint(checkpoint)["history"]}
    e_images = images[:energy_images]
    record["edge_energy_nj"] = total_energy_pj(edge_energy(model, e_images)) / 1e3
    if config["unit"]["kind"] == "identity":
        return record
    codes = _edge_codes(model, images).to("cpu").numpy().astype(np.uint8)
    assert set(np.unique(codes)) <= {0, 1}, "the spiking unit must send binary spikes"
    blob = spikecodec.encode(codes)
    assert np.array_equal(spikecodec.decode(blob), codes)  # the count is of a lossless file
    code_bits = math.prod(codes.shape) // n  # T * C' * H' * W', one bit per spike per step
    record.update({
        "code_shape": [codes.shape[0], *codes.shape[2:]],
        "code_bits": code_bits,
        "bits_ratio": 32 * c * h * w / code_bits,
        "file_bytes_total": len(blob),
        "file_bytes_per_image": len(blob) / n,
        "file_ratio": float_bytes / (len(blob) / n),
        "spike_rate": float(codes.mean()),
    })
    for baseline, kind in [("bottlenet", "bottlenet"), ("bottlenetpp", "bottlenetpp")]:
        ann = dict(config, neuron={"spiking": False}, unit=dict(config["unit"], kind=kind))
        record[f"{baseline}_edge_energy_nj"] = total_energy_pj(edge_energy(build_model(ann).eval(), e_images)) / 1e3
    return record


def cmd_measure(opts: argparse.Namespace) -> None:
    import torch

    from spikecodec.models.data import load_fashion_mnist

    torch.set_num_threads(opts.threads)
    images, labels = load_fashion_mnist("test", limit=opts.test_limit)
    done = _read_measurements()
    jobs = [(f"{arch}-nobottleneck", arch, Path(b.run_dir), _backbone_epochs(b)) for arch, b in BACKBONES.items()]
    jobs += [(e.name, e.arch, RUNS / e.name, sum(e.epochs)) for e in EXPERIMENTS]
    jobs += [(name, arch, Path(run_dir), epochs) for name, (arch, run_dir, epochs, _) in EXISTING.items()]
    for name, arch, run_dir, epochs in jobs:
        history = _history(run_dir)
        if not history or len(history) < epochs:
            print(f"{name}: not trained yet", flush=True)
            continue
        if name in done and done[name]["history"] == history and not opts.force:
            print(f"{name}: measured", flush=True)
            continue
        record = measure_run(name, arch, run_dir / "last.pt", images, labels, opts.energy_images)
        with MEASUREMENTS.open("a") as f:
            f.write(json.dumps(record) + "\n")
        print(json.dumps({k: v for k, v in record.items() if k != "history"}), flush=True)


# ---------------------------------------------------------------------------------------------
# Report


def build_rows(records: dict[str, dict]) -> list[dict]:
    """One row per measured bottleneck run, with its drop against its own no-bottleneck SNN."""
    rows = []
    for r in records.values():
        if r["unit"]["kind"] == "identity":
            continue
        reference = records.get(f"{r['arch']}-nobottleneck")
        # Rounded: accuracies are counts / 10,000, so a drop of exactly 1 point must compare equal.
        drop = round(reference["test_acc"] - r["test_acc"], 6) if reference else None
        rows.append({
            "name": r["name"], "arch": r["arch"], "split": r["split"],
            "training": training_summary(r["name"]),
            "feature": "x".join(map(str, r["feature_shape"])), "code": "x".join(map(str, r["code_shape"])),
            "test_acc": r["test_acc"], "reference_acc": reference["test_acc"] if reference else None,
            "drop": drop, "bits_ratio": r["bits_ratio"], "file_bytes_per_image": r["file_bytes_per_image"],
            "file_ratio": r["file_ratio"], "spike_rate": r["spike_rate"],
            "edge_energy_nj": r["edge_energy_nj"], "bottlenet_edge_energy_nj": r["bottlenet_edge_energy_nj"],
            "bottlenetpp_edge_energy_nj": r["bottlenetpp_edge_energy_nj"],
            "bits_target": drop is not None and r["bits_ratio"] >= BITS_TARGET[0] and drop <= BITS_TARGET[1],
            "bytes_target": drop is not None and r["file_ratio"] >= BYTES_TARGET[0] and drop <= BYTES_TARGET[1],
        })
    order = {name: i for i, name in enumerate([*EXISTING, *(e.name for e in EXPERIMENTS)])}
    return sorted(rows, key=lambda row: (row["arch"], order.get(row["name"], len(order))))


def markdown_table(rows: list[dict], references: list[dict]) -> str:
    lines = ["| network | split | feature C x H x W | code T x C' x H' x W' | training | test acc | drop (points) "
             "| bits ratio (paper) | file B/img | file ratio | spike rate | edge nJ SNN | BottleNet | BottleNet++ "
             "| BottleNet / SNN | targets |", "|" + "---|" * 16]
    for r in rows:
        met = [t for t, ok in [(">=256x bits", r["bits_target"]), (">=1024x bytes", r["bytes_target"])] if ok]
        drop = f"{100 * r['drop']:+.2f}" if r["drop"] is not None else "-"
        lines.append(
            f"| {r['arch']} | {r['split']} | {r['feature']} | {r['code']} | {r['training'] or '-'} | "
            f"{100 * r['test_acc']:.2f} | "
            f"{drop} | {r['bits_ratio']:.0f}x | {r['file_bytes_per_image']:.2f} | {r['file_ratio']:.0f}x | "
            f"{r['spike_rate']:.3f} | {r['edge_energy_nj']:.0f} | {r['bottlenet_edge_energy_nj']:.0f} | "
            f"{r['bottlenetpp_edge_energy_nj']:.0f} | "
            f"{r['bottlenet_edge_energy_nj'] / r['edge_energy_nj']:.1f}x | {', '.join(met) or '-'} |")
    for key, (ratio, drop), what in [("bits_target", BITS_TARGET, "bits as the paper counts"),
                                      ("bytes_target", BYTES_TARGET, "real file bytes")]:
        met = [f"{r['arch']} {r['split']} {r['code']}" for r in rows if r[key]]
        lines.append(f"\nTarget >= {ratio}x {what} at <= {100 * drop:.1f} points drop: "
                     + (f"met by {', '.join(met)}." if met else "not met by any configuration."))
    lines += ["", "| network without bottleneck | split of its config | test acc | edge nJ (to that split) |",
              "|---|---|---|---|"]
    for r in references:
        lines.append(f"| {r['arch']} | {r['split']} | {100 * r['test_acc']:.2f} | {r['edge_energy_nj']:.0f} |")
    return "\n".join(lines)


def plot(rows: list[dict], references: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    colors = {"resnet": "tab:blue", "mobilenet": "tab:orange"}
    panels = [(axes[0], "bits_ratio", BITS_TARGET[0], "bits, as the paper counts (1 bit/spike/step)"),
              (axes[1], "file_ratio", BYTES_TARGET[0], "real file bytes (spikecodec auto codec + container)")]
    for ax, key, target, title in panels:
        ax.axvline(target, color="gray", lw=0.8, ls="--")
        for arch, color in colors.items():
            for marker, label, mine in [
                ("o", f"{arch}, sweep (1 + 1 or 1 epoch)", [r for r in rows if r["arch"] == arch and r["name"] not in EXISTING]),
                ("*", f"{arch}, end to end (15 epochs)", [r for r in rows if r["arch"] == arch and r["name"] in EXISTING]),
            ]:
                if mine:
                    ax.scatter([r[key] for r in mine], [100 * r["test_acc"] for r in mine], color=color,
                               marker=marker, s=70 if marker == "*" else 30, label=label)
            for r in (r for r in rows if r["arch"] == arch):
                ax.annotate(f"{r['split']} {r['code']}", (r[key], 100 * r["test_acc"]), fontsize=7,
                            xytext=(3, 3), textcoords="offset points")
        for ref in references:
            ax.axhline(100 * ref["test_acc"], color=colors.get(ref["arch"], "gray"), ls=":", lw=1,
                       label=f"{ref['arch']} without bottleneck")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("compression vs float32 feature at the split")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Fashion-MNIST test accuracy (%)")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def cmd_report(opts: argparse.Namespace) -> None:
    records = _read_measurements(Path(opts.measurements))
    rows = build_rows(records)
    references = [r for r in records.values() if r["unit"]["kind"] == "identity"]
    out = Path(opts.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = markdown_table(rows, references)
    notes = Path(opts.notes).read_text() if opts.notes and Path(opts.notes).exists() else ""
    images = sorted({r["test_images"] for r in records.values()})
    header = ("# SpikeBottleNet experiment on Fashion-MNIST\n\n"
              f"Regenerate: `python scripts/experiments/paper_experiment.py report` (from "
              f"`{MEASUREMENTS}`). Measured on {' / '.join(map(str, images))} test images; drop = accuracy of the same SNN without bottleneck minus this one (points); "
              "bits ratio = 32*C*H*W / (T*C'*H'*W'); file ratio = float32 feature bytes / (bytes of one "
              "`spikecodec.encode` file of all test-set spikes / images); edge energy per image "
              f"(energy.py, 4.6 pJ/MAC, 0.9 pJ/AC, rates on {ENERGY_IMAGES} test images); baselines are "
              "the ANN twins cut at the same split with the same C' and stride.\n\n") if rows else ""
    out.with_suffix(".md").write_text(header + table + "\n\n![accuracy vs compression]"
                                      f"({out.with_suffix('.png').name})\n\n" + notes)
    out.with_suffix(".json").write_text(json.dumps({"rows": rows, "references": [
        {k: r[k] for k in ("name", "arch", "split", "test_acc", "edge_energy_nj")} for r in references]},
        indent=1) + "\n")
    if rows:
        plot(rows, references, out.with_suffix(".png"))
    print(table)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--arch", nargs="+", default=list(BACKBONES), choices=list(BACKBONES))
    t.add_argument("--only", nargs="+", help="run names (default: all of the arch)")
    t.add_argument("--threads", type=int, default=1)
    m = sub.add_parser("measure")
    m.add_argument("--threads", type=int, default=2)
    m.add_argument("--test-limit", type=int)
    m.add_argument("--energy-images", type=int, default=ENERGY_IMAGES)
    m.add_argument("--force", action="store_true", help="measure again even if logged")
    r = sub.add_parser("report")
    r.add_argument("--measurements", default=str(MEASUREMENTS))
    r.add_argument("--out", default=str(RESULTS / "paper_experiment"), help="path without suffix")
    r.add_argument("--notes", default=str(RESULTS / "differences.md"), help="appended to the .md")
    opts = p.parse_args(argv)
    {"train": cmd_train, "measure": cmd_measure, "report": cmd_report}[opts.command](opts)


if __name__ == "__main__":
    main()
