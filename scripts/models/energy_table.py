"""Per-layer edge energy of a SpikeBottleNet reference beside BottleNet and BottleNet++.

The baselines are the ANN twins of the same backbone, cut at the same split. Their energy is
MACs only, which do not depend on weights, so they need no training here. The spiking model's
firing rates are measured on real Fashion-MNIST test images.

    python scripts/models/energy_table.py --out results/models/energy_table.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from spikecodec.models import list_references, load_reference
from spikecodec.models.data import load_fashion_mnist
from spikecodec.models.energy import EnergyCosts, edge_energy, energy_table, total_energy_pj
from spikecodec.models.factory import build_model, feature_shape
from spikecodec.models.checkpoint import read_checkpoint
from spikecodec.models.reference import DEFAULT_REFERENCE, REFERENCE_DIR, link_stats


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reference", default=DEFAULT_REFERENCE)
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
    snn = load_reference(args.reference)
    meta = {r["name"]: r for r in list_references()}[args.reference]
    config = read_checkpoint(REFERENCE_DIR / f"{args.reference}.pt")["config"]
    models = {"SpikeBottleNet": snn}
    for name, kind, (channels, stride) in [("BottleNet", "bottlenet", args.bottlenet),
                                           ("BottleNet++", "bottlenetpp", args.bottlenetpp)]:
        unit = {"kind": kind, "channels": channels, "stride": stride}
        ann = dict(config, neuron={"spiking": False}, unit=unit)
        models[name] = build_model(ann).eval()
    tables = {name: edge_energy(m, images, costs) for name, m in models.items()}

    lines = [f"# Edge energy per image: {args.reference} (split after {config['split']})", "",
             f"{args.images} Fashion-MNIST test images; {costs.e_mac_pj} pJ/MAC, {costs.e_ac_pj} pJ/AC. "
             "ops = MACs (ANN, and the stem fed real pixels) or SOPs = MACs x input rate x T.", "",
             energy_table(tables), "", "| model | link bits/image | bits ratio vs float32 | edge energy nJ | "
             "energy vs SpikeBottleNet |", "|---|---|---|---|---|"]
    e_snn = total_energy_pj(tables["SpikeBottleNet"])
    for name, model in models.items():
        with torch.no_grad():
            code = model.edge(images[:1])
        stats = link_stats(code, list(feature_shape(model.backbone, model.split, config)))
        e = total_energy_pj(tables[name])
        lines.append(f"| {name} | {stats['code_bits_per_image']} | {stats['bits_ratio']:.0f}x | "
                     f"{e / 1e3:.1f} | {e / e_snn:.2f}x |")
    lines.append("")
    lines.append(f"Reference test accuracy: {meta['test_accuracy']:.4f}. Baseline accuracies are not "
                 "measured here (energy does not depend on their weights).")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
