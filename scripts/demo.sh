#!/usr/bin/env bash
# The main job on the embedded default: encode the shipped sample spike tensor, inspect it,
# validate it, decode it and check that the round trip is bit-exact. Set-up is idempotent.
# Usage: bash scripts/demo.sh [OUTPUT_DIR]   (default: runs/demo)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
out=${1:-runs/demo}
mkdir -p "$out"
sample=spikecodec/data/sample_spikes.npz
spk=.venv/bin/spikecodec

set -x
$spk encode "$sample:spikes" -o "$out/sample.spk" --axes TNCHW \
    --meta source=sample_spikes.npz layer=l2 neuron='{"tau": 0.5, "v_th": 0.7}'
$spk inspect "$out/sample.spk"
$spk validate "$out/sample.spk"
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
