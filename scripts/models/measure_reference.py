"""Measure a shipped reference model end to end through the command line on its whole test set,
store the figures in its JSON (what `spikecodec models` shows) and write results/models/end_to_end.md.

    .venv/bin/python scripts/models/measure_reference.py [--model NAME]

Runs, as subprocesses, exactly the commands recorded in the table:
    spikecodec encode --images TEST_IMAGES --model NAME -o runs/models/NAME-test.spk
    spikecodec decode runs/models/NAME-test.spk --predict -o runs/models/NAME-test-preds.npy --labels TEST_LABELS
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
    spk = f"runs/models/{args.model}-test.spk"
    preds_file = f"runs/models/{args.model}-test-preds.npy"
    (ROOT / "runs/models").mkdir(parents=True, exist_ok=True)
    exe = "spikecodec"  # as recorded; run as the venv's entry point
    encode = [exe, "encode", "--images", images, "--model", args.model, "-o", spk]
    decode = [exe, "decode", spk, "--predict", "-o", preds_file, "--labels", labels_file]
    venv_exe = str(Path(sys.executable).parent / "spikecodec")
    encode_out, encode_s = run([venv_exe, *encode[1:]])
    decode_out, decode_s = run([venv_exe, *decode[1:]])

    labels = read_labels(labels_file)
    preds = np.load(ROOT / preds_file)
    size = (ROOT / spk).stat().st_size
    accuracy = float((preds == labels).mean())
    per_image = size / len(labels)
    meta["end_to_end"] = {
        "accuracy": round(accuracy, 4),
        "file_bytes_per_image": round(per_image, 2),
        "file_bytes": size,
        "images": len(labels),
        "codec": "auto",
        "batch": 256,
        "commands": [" ".join(encode), " ".join(decode)],
        "measured_by": "scripts/models/measure_reference.py",
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")

    met = accuracy >= TARGET_ACCURACY and per_image <= TARGET_BYTES
    lines = [
        f"# End to end through the command line: `{args.model}` on the {meta['dataset']} test set",
        "",
        f"Regenerate: `nice -n 10 .venv/bin/python scripts/models/measure_reference.py --model {args.model}`",
        "(it also stores the figures in the model's JSON, which `spikecodec models` shows).",
        "",
        "Commands run (from the repository root, default codec `auto`, 256 images per batch and chunk):",
        "",
        "```",
        f"$ {' '.join(encode)}",
        encode_out,
        f"$ {' '.join(decode)}",
        decode_out,
        "```",
        "",
        "| | |",
        "|---|---|",
        f"| images | {len(labels)} |",
        f"| top-1 accuracy (predictions file vs labels) | **{100 * accuracy:.2f} %** ({int((preds == labels).sum())} of {len(labels)}) |",
        f"| spike file | {size} bytes (header, chunks, index, trailer) |",
        f"| bytes per image (file size / images) | **{per_image:.2f}** (raw image: {RAW_IMAGE_BYTES} bytes, {RAW_IMAGE_BYTES / per_image:.1f}x more) |",
        f"| spikes per image, bit-packed | {meta['code_bits_per_image'] / 8:g} bytes ({meta['code_bits_per_image']} bits) |",
        f"| wall time, encode (edge half) / decode (cloud half) | {encode_s:.1f} s / {decode_s:.1f} s on a shared 2-core CPU |",
        "",
        f"Issue 7 target (>= {100 * TARGET_ACCURACY:.0f} % at <= {TARGET_BYTES} bytes per image): **{'met' if met else 'not met'}**.",
        "",
    ]
    (ROOT / args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
