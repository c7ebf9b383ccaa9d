"""Make the shipped sample spike tensor, spikecodec/data/sample_spikes.npz (key "spikes").

Spikes of the second LIF layer of benchmarks/spike_corpus.py (seeded, untrained conv weights)
on the first 32 Fashion-MNIST test images: T=4, N=32, C=32, H=W=7, 1-bit. Until the reference
networks' edge half replaces it, this is what the README's main command encodes.

    .venv/bin/python scripts/make_sample.py
"""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from spike_corpus import corpus  # noqa: E402

spikes = corpus(n_images=32, T=4, bits=1, seed=0)["l2"]
out = ROOT / "spikecodec" / "data" / "sample_spikes.npz"
np.savez_compressed(out, spikes=spikes)
print(f"{out}: {spikes.shape} rate {spikes.mean():.3f}")
