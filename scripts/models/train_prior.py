"""Train and ship a reference model's prior: the ``ctxmix`` state after coding the spikes of the
model's *training* images, one image per chunk, as the link sends them (FORMAT.md 14).

    .venv/bin/python scripts/models/train_prior.py [--model NAME]

Runs, as subprocesses, the commands it records in the model's JSON:
    spikecodec edge --images TRAIN_IMAGES --model NAME --prior none -o runs/models/NAME-train.spk
    spikecodec train-prior runs/models/NAME-train.spk -o spikecodec/models/reference/NAME.prior
No test image is seen. Takes about four minutes on two CPU cores (the edge half dominates).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from spikecodec.models.reference import DEFAULT_REFERENCE, REFERENCE_DIR  # noqa: E402
from spikecodec.prior import load_prior  # noqa: E402

TRAIN_SETS = {"fashion-mnist": "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"}  # Debian's package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_REFERENCE)
    args = parser.parse_args()
    meta_path = REFERENCE_DIR / f"{args.model}.json"
    meta = json.loads(meta_path.read_text())
    spk = f"runs/models/{args.model}-train.spk"
    out = REFERENCE_DIR / f"{args.model}.prior"
    spikecodec = str(Path(sys.executable).parent / "spikecodec")
    commands = [
        [spikecodec, "edge", "--images", TRAIN_SETS[meta["dataset"]], "--model", args.model, "--prior", "none", "-o", spk, "-q"],
        [spikecodec, "train-prior", spk, "-o", str(out.relative_to(ROOT)), "--meta", f"model={args.model}",
         f"split={meta['split']}", f"trained_on={meta['dataset']} training images"],
    ]
    (ROOT / "runs/models").mkdir(parents=True, exist_ok=True)
    for command in commands:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stdout}{done.stderr}")
        print((done.stdout + done.stderr).strip())
    prior = load_prior(out)
    meta["prior"] = {
        "file": out.name,
        "codec": prior.codec,
        "digest": prior.digest,
        "geometry": prior.geometry,
        "bytes": len(prior.data),
        "trained_on": f"{meta['dataset']} training images ({prior.info['chunks']}, one per chunk)",
        "commands": [" ".join(["spikecodec", *c[1:]]) for c in commands],
        "made_by": "scripts/models/train_prior.py",
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{out}: {prior}")


if __name__ == "__main__":
    main()
