"""Measure a shipped reference model end to end through the command line on its whole test set,
store the figures in its JSON (what `spikecodec models` shows) and write results/models/end_to_end.md.

    .venv/bin/python scripts/models/measure_reference.py [--model NAME]

Runs, as subprocesses, exactly the commands recorded in the table, twice: as the link sends the
images (the default: one image per message) and all in one batch (one chunk):
    spikecodec edge --images TEST_IMAGES --model NAME -o runs/models/NAME-test.spk
    spikecodec cloud runs/models/NAME-test.spk -o runs/models/NAME-test-preds.npy --labels TEST_LABELS
then checks the accuracy from the written predictions and the bytes per image from the file size.
Takes a few minutes on two CPU cores (the edge half dominates); run it under `nice -n 10`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cli.images import read_labels  # noqa: E402
from spikecodec.models.reference import DEFAULT_REFERENCE, REFERENCE_DIR  # noqa: E402

TEST_SETS = {  # dataset -> (images, labels), from Debian's packages
    "fashion-mnist": (
        "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
        "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz",
    ),
}
TARGET_ACCURACY, TARGET_BYTES = 0.88, 64  # issue 7's end-to-end target for the default model
RAW_IMAGE_BYTES = 784  # a 28 x 28 uint8 image


def run(command: list[str]) -> tuple[str, float]:
    """Run one command from the repository root; its stdout and stderr together, and its wall time."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{output}")
    return output, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_REFERENCE)
    parser.add_argument("--out", default="results/models/end_to_end.md")
    args = parser.parse_args()
    meta_path = REFERENCE_DIR / f"{args.model}.json"
    meta = json.loads(meta_path.read_text())
    images, labels_file = TEST_SETS[meta["dataset"]]
    (ROOT / "runs/models").mkdir(parents=True, exist_ok=True)
    labels = read_labels(labels_file)
    venv_exe = str(Path(sys.executable).parent / "spikecodec")
    runs = {}
    for mode, extra in (("per image", []), ("one batch", ["--batch", str(len(labels))])):
        tag = "" if not extra else "-batch"
        spk = f"runs/models/{args.model}-test{tag}.spk"
        preds_file = f"runs/models/{args.model}-test{tag}-preds.npy"
        edge = ["spikecodec", "edge", "--images", images, "--model", args.model, *extra, "-o", spk]  # as recorded
        cloud = ["spikecodec", "cloud", spk, "-o", preds_file, "--labels", labels_file]
        edge_out, edge_s = run([venv_exe, *edge[1:]])
        cloud_out, cloud_s = run([venv_exe, *cloud[1:]])
        preds = np.load(ROOT / preds_file)
        size = (ROOT / spk).stat().st_size
        runs[mode] = dict(edge=edge, cloud=cloud, edge_out=edge_out, cloud_out=cloud_out, edge_s=edge_s, cloud_s=cloud_s,
                          accuracy=float((preds == labels).mean()), right=int((preds == labels).sum()), size=size,
                          per_image=size / len(labels))
    link, batch = runs["per image"], runs["one batch"]
    meta["end_to_end"] = {
        "accuracy": round(link["accuracy"], 4),
        "file_bytes_per_image": round(link["per_image"], 2),
        "file_bytes": link["size"],
        "images": len(labels),
        "codec": "ctxmix",
        "prior": meta.get("prior", {}).get("digest"),
        "batch": 1,
        "one_batch": {"accuracy": round(batch["accuracy"], 4), "file_bytes_per_image": round(batch["per_image"], 2),
                      "file_bytes": batch["size"]},
        "commands": [" ".join(link["edge"]), " ".join(link["cloud"])],
        "measured_by": "scripts/models/measure_reference.py",
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")

    met = link["accuracy"] >= TARGET_ACCURACY and link["per_image"] <= TARGET_BYTES
    lines = [
        f"# End to end through the command line: `{args.model}` on the {meta['dataset']} test set",
        "",
        f"Regenerate: `nice -n 10 .venv/bin/python scripts/models/measure_reference.py --model {args.model}`",
        "(it also stores the figures in the model's JSON, which `spikecodec models` shows).",
        "",
        "Commands run (from the repository root; the defaults: codec `ctxmix` from the model's shipped prior,",
        "compact records, one image per message), then the same images in one batch (one chunk):",
        "",
        "```",
    ]
    for r in (link, batch):
        lines += [f"$ {' '.join(r['edge'])}", r["edge_out"], f"$ {' '.join(r['cloud'])}", r["cloud_out"]]
    lines += [
        "```",
        "",
        "| | one image per message | one batch |",
        "|---|---|---|",
        f"| images | {len(labels)} | {len(labels)} |",
        f"| top-1 accuracy (predictions file vs labels) | **{100 * link['accuracy']:.2f} %** ({link['right']} of {len(labels)}) "
        f"| {100 * batch['accuracy']:.2f} % ({batch['right']} of {len(labels)}) |",
        f"| spike file (header, records, index, trailer) | {link['size']} bytes | {batch['size']} bytes |",
        f"| bytes per image (file size / images) | **{link['per_image']:.2f}** | {batch['per_image']:.2f} |",
        f"| per image / one batch | {link['per_image'] / batch['per_image']:.3f}x | 1 |",
        f"| raw image / bytes per image | {RAW_IMAGE_BYTES / link['per_image']:.1f}x | {RAW_IMAGE_BYTES / batch['per_image']:.1f}x |",
        f"| spikes per image, bit-packed | {meta['code_bits_per_image'] / 8:g} bytes ({meta['code_bits_per_image']} bits) | |",
        f"| wall time, edge / cloud | {link['edge_s']:.1f} s / {link['cloud_s']:.1f} s | {batch['edge_s']:.1f} s / {batch['cloud_s']:.1f} s |",
        "",
        f"Issue 7 target (>= {100 * TARGET_ACCURACY:.0f} % at <= {TARGET_BYTES} bytes per image): **{'met' if met else 'not met'}**.",
        "",
    ]
    (ROOT / args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
