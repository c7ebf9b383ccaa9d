"""Make the embedded default sample of images the README's main command runs on:
spikecodec/data/fmnist_sample_images.npy (uint8 (300, 28, 28)) and fmnist_sample_labels.npy
(uint8 (300,)), the first 300 images of the Fashion-MNIST test set (Debian's
dataset-fashion-mnist, /usr/share/datasets/fashion-mnist/), about 236 KB in all.

    .venv/bin/python scripts/make_image_sample.py
"""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cli.images import read_idx  # noqa: E402

COUNT = 300
SOURCE = Path("/usr/share/datasets/fashion-mnist")
OUT = ROOT / "spikecodec" / "data"

images = read_idx(str(SOURCE / "t10k-images-idx3-ubyte.gz"))[:COUNT]
labels = read_idx(str(SOURCE / "t10k-labels-idx1-ubyte.gz"))[:COUNT]
np.save(OUT / "fmnist_sample_images.npy", images)
np.save(OUT / "fmnist_sample_labels.npy", labels)
print(f"{OUT}: images {images.shape} {images.dtype}, labels {labels.shape}, classes {np.bincount(labels).tolist()}")
