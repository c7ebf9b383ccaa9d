#!/usr/bin/env bash
# The main job on the embedded default sample (300 Fashion-MNIST test images): run the default
# reference model's edge half on them into a spike stream, one message per image (coded from the
# model's shipped prior), inspect and validate it, run the cloud half on it and print the
# accuracy and bytes per image; then round-trip the shipped sample spike tensor and check it is
# bit-exact. Set-up is idempotent.
# Usage: bash scripts/demo.sh [OUTPUT_DIR]   (default: runs/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out=${1:-runs/demo}
mkdir -p "$out"
images=spikecodec/data/fmnist_sample_images.npy
labels=spikecodec/data/fmnist_sample_labels.npy
sample=spikecodec/data/sample_spikes.npz
spk=.venv/bin/spikecodec

set -x
$spk models
$spk edge --images "$images" -o "$out/feats.spk"
$spk inspect --stats "$out/feats.spk"
$spk validate "$out/feats.spk"
$spk cloud "$out/feats.spk" -o "$out/preds.npy" --labels "$labels"

$spk encode "$sample:spikes" -o "$out/sample.spk" --axes TNCHW \
    --meta source=sample_spikes.npz layer=l2 neuron='{"tau": 0.5, "v_th": 0.7}'
$spk decode "$out/sample.spk" -o "$out/decoded.npy"
{ set +x; } 2>/dev/null
.venv/bin/python - "$sample" "$out/decoded.npy" <<'PY'
import sys
import numpy as np
original = np.load(sys.argv[1])["spikes"]
decoded = np.load(sys.argv[2])
assert decoded.dtype == np.uint8 and np.array_equal(original, decoded), "round trip differs"
print(f"verified: {decoded.shape} decoded bit-exactly")
PY
