"""Per-layer edge energy of each shipped SpikeBottleNet reference beside BottleNet and BottleNet++.

The baselines are the ANN twins of the same backbone, cut at the same split, fed real pixels.
Their energy is MACs only, which do not depend on weights, so they need no training here. The
spiking models' firing rates (the stem's too, where it is fed spikes) are measured on real
Fashion-MNIST test images.

    python scripts/models/energy_table.py --out results/models/energy_table.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from spikecodec.models import list_references, load_reference
from spikecodec.models.checkpoint import load_model, read_checkpoint
from spikecodec.models.data import load_fashion_mnist
from spikecodec.models.energy import EnergyCosts, edge_energy, energy_table, total_energy_pj
from spikecodec.models.factory import build_model, feature_shape
from spikecodec.models.reference import REFERENCE_DIR, link_stats

HOW_COUNTED = (
    "ops = MACs (ANN layers, and a spiking stem fed real pixels) or SOPs = MACs x input rate x T "
    "(layers fed spikes, including a stem fed thermometer- or level-coded spikes, its rate measured on the "
    "images; a level-coded stem has K input channels, K x the MACs). "
    "Free: BN, neuron updates, pooling, and the spike input code's pixel comparisons (784 per step or level)."
)


def shipped(name: str) -> tuple:
    """(model, config, test accuracy) of a shipped reference."""
    meta = {r["name"]: r for r in list_references()}[name]
    return load_reference(name), read_checkpoint(REFERENCE_DIR / f"{name}.pt")["config"], meta["test_accuracy"]


def trained(path: Path) -> tuple:
    """(model, config, test accuracy) of a training checkpoint (accuracy of its last epoch, 10k images)."""
    checkpoint = read_checkpoint(path)
    return load_model(path), checkpoint["config"], checkpoint["history"][-1]["test_acc"]


def reference_section(name: str, source: tuple, images: torch.Tensor, costs: EnergyCosts, baselines: dict) -> str:
    snn, config, accuracy = source
    encoding = config.get("encoding", {"kind": "direct"})
    models = {"SpikeBottleNet": snn}
    for label, kind, (channels, stride) in [("BottleNet", "bottlenet", baselines["bottlenet"]),
                                            ("BottleNet++", "bottlenetpp", baselines["bottlenetpp"])]:
        unit = {"kind": kind, "channels": channels, "stride": stride}
        ann = dict(config, neuron={"spiking": False}, unit=unit, encoding={"kind": "direct"})
        models[label] = build_model(ann).eval()
    tables = {label: edge_energy(m, images, costs) for label, m in models.items()}
    lines = [f"## {name} (split after {config['split']}, T = {config['timesteps']}, stem input: "
             f"{encoding['kind']})", "", energy_table(tables), "",
             "| model | link bits/image | bits ratio vs float32 | edge energy nJ | energy vs SpikeBottleNet |",
             "|---|---|---|---|---|"]
    e_snn = total_energy_pj(tables["SpikeBottleNet"])
    for label, model in models.items():
        with torch.no_grad():
            code = model.edge(images[:1])
        stats = link_stats(code, list(feature_shape(model.backbone, model.split, config)))
        e = total_energy_pj(tables[label])
        lines.append(f"| {label} | {stats['code_bits_per_image']} | {stats['bits_ratio']:.0f}x | "
                     f"{e / 1e3:.1f} | {e / e_snn:.2f}x |")
    lines += ["", f"SpikeBottleNet test accuracy: {accuracy:.4f}.", ""]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--references", nargs="+", help="shipped references to cover (default: all)")
    p.add_argument("--checkpoints", type=Path, nargs="*", default=[],
                   help="training checkpoints (not shipped) to cover after the references")
    p.add_argument("--images", type=int, default=1000, help="test images for the firing rates")
    p.add_argument("--e-mac", type=float, default=4.6, help="pJ per MAC")
    p.add_argument("--e-ac", type=float, default=0.9, help="pJ per accumulate")
    p.add_argument("--bottlenet", type=int, nargs=2, default=[3, 2], metavar=("CHANNELS", "STRIDE"))
    p.add_argument("--bottlenetpp", type=int, nargs=2, default=[1, 1], metavar=("CHANNELS", "STRIDE"))
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    torch.set_num_threads(2)

    costs = EnergyCosts(args.e_mac, args.e_ac)
    images = load_fashion_mnist("test", limit=args.images)[0]
    names = args.references or [r["name"] for r in list_references()]
    baselines = {"bottlenet": args.bottlenet, "bottlenetpp": args.bottlenetpp}
    lines = ["# Edge energy per image of the reference models", "",
             f"{args.images} Fashion-MNIST test images; {costs.e_mac_pj} pJ/MAC, {costs.e_ac_pj} pJ/AC. "
             + HOW_COUNTED + " Baseline accuracies are not measured here (energy does not depend on "
             "their weights).", ""]
    sources = {name: shipped(name) for name in names}
    sources.update({f"{path.stem} [checkpoint {path}, not shipped]": trained(path) for path in args.checkpoints})
    lines += [reference_section(name, source, images, costs, baselines) for name, source in sources.items()]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
