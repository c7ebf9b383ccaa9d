"""Real spike tensors for the entropy benchmark: a small spiking conv net run on Fashion-MNIST.

Until the project's reference networks exist, this is the corpus of issue 5: the first
``n_images`` Fashion-MNIST test images are fed as a constant input current for ``T`` steps into

    conv(1->16, 3x3, stride 2) -> LIF  ("l1", 16 x 14 x 14, dense)
    conv(16->32, 3x3, stride 2) -> LIF ("l2", 32 x 7 x 7, sparser bottleneck)

with fixed seeded weights (normalised per output channel so that rates are plausible, not
trained). LIF: ``V[t] = tau * V[t-1] * (1 - o[t-1]) + x[t]``, ``o[t] = V[t] > v_th`` (hard reset).
Multi-level neurons (``counts``) emit ``k = min(floor(V / v_th), 2**bits - 1)`` spikes and
subtract ``k * v_th`` (soft reset), giving 2-, 4- and 8-bit spike counts.

Run as a script to print the rates; the benchmark imports :func:`corpus`. Torch is imported here
only, never by ``spikecodec``.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

FASHION = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
CACHE = Path(os.environ.get("SPIKECODEC_CORPUS_CACHE", "/tmp/spikecodec-corpus"))


def load_images(n: int) -> np.ndarray:
    """The first ``n`` test images as float32 in [0, 1], shape (n, 1, 28, 28)."""
    raw = np.frombuffer(gzip.open(FASHION).read(), np.uint8, offset=16)
    return (raw.reshape(-1, 1, 28, 28)[:n].astype(np.float32) / 255.0).copy()


def _run(n_images: int, T: int, bits: int, seed: int) -> dict[str, np.ndarray]:
    import torch  # only here: spikecodec itself never imports torch

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    x = torch.from_numpy(load_images(n_images))
    conv1 = torch.nn.Conv2d(1, 16, 3, stride=2, padding=1)
    conv2 = torch.nn.Conv2d(16, 32, 3, stride=2, padding=1)
    with torch.no_grad():
        for conv in (conv1, conv2):  # unit-norm filters, mixed-sign bias: plausible rates
            w = conv.weight
            w /= w.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
            conv.bias.uniform_(-0.2, 0.25)
        conv2.weight *= 1.0

    def lif(current: torch.Tensor, v_th: float, tau: float) -> torch.Tensor:
        v = torch.zeros_like(current[0])
        out = []
        top = (1 << bits) - 1
        for t in range(T):
            v = tau * v + current[t]
            if bits == 1:
                o = (v > v_th).float()
                v = v * (1 - o)  # hard reset
            else:
                o = torch.clamp(torch.floor(v / v_th), 0, top)
                v = v - o * v_th  # soft reset by the spikes emitted
            out.append(o)
        return torch.stack(out)

    with torch.no_grad():
        c1 = conv1(x).unsqueeze(0).expand(T, -1, -1, -1, -1)  # constant input current
        s1 = lif(c1, v_th=0.15, tau=0.5)
        c2 = conv2(s1.flatten(0, 1)).unflatten(0, (T, n_images))
        s2 = lif(c2, v_th=0.7, tau=0.5)
    return {"l1": s1.to(torch.uint8).numpy(), "l2": s2.to(torch.uint8).numpy()}


def corpus(n_images: int = 256, T: int = 4, bits: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    """Spike tensors ``{"l1": (T, n, 16, 14, 14), "l2": (T, n, 32, 7, 7)}`` uint8, cached on disk."""
    path = CACHE / f"fmnist-n{n_images}-T{T}-b{bits}-s{seed}.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    data = _run(n_images, T, bits, seed)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, **data)
    return data


if __name__ == "__main__":
    for b in (1, 2, 4):
        for name, a in corpus(bits=b).items():
            print(f"bits={b} {name} {a.shape} mean={a.mean():.3f} nonzero={np.mean(a > 0):.3f} max={a.max()}")
