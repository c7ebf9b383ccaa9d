"""How much a model's spike code can tell: a float MLP trained on the frozen edge half's codes.

The edge half of CHECKPOINT encodes every Fashion-MNIST training image (and its mirror image) and
every test image once; an MLP (codes -> 1024 -> 1024 -> 10, ReLU, dropout 0.3) is then trained on
the training codes alone and scored on the test codes after each epoch. Its accuracy estimates
what any cloud half could get out of that edge's code: if it is not above the model's own
accuracy, a bigger cloud half will not help, and the edge half must improve instead.

    python scripts/models/code_probe.py CHECKPOINT [--epochs 12] [--log results/models/code_probe.log]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from torch import nn

from spikecodec.models.checkpoint import load_model
from spikecodec.models.data import load_fashion_mnist


@torch.no_grad()
def edge_codes(model, images: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """(N, code elements) float codes of the edge half, all timesteps flattened per image."""
    codes = torch.cat([model.edge(images[i : i + batch]) for i in range(0, len(images), batch)], 1)
    return codes.transpose(0, 1).flatten(1).float()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log", help="append one JSON line with the result here")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = load_model(args.checkpoint).eval()
    start = time.time()
    train_x, train_y = load_fashion_mnist("train")
    test_x, test_y = load_fashion_mnist("test")
    train_x, test_x = torch.as_tensor(np.asarray(train_x)), torch.as_tensor(np.asarray(test_x))
    xtr = torch.cat([edge_codes(model, train_x), edge_codes(model, torch.flip(train_x, dims=[-1]))])
    ytr = torch.as_tensor(np.concatenate([train_y, train_y])).long()
    xte, yte = edge_codes(model, test_x), torch.as_tensor(np.asarray(test_y)).long()
    with torch.no_grad():
        preds = torch.cat([model.cloud(model.edge(test_x[i : i + 1000])).argmax(-1) for i in range(0, len(test_x), 1000)])
    own = (preds == yte).float().mean().item()
    print(f"codes: {xtr.shape[1]} elements per image, rate {xte.mean():.3f}; the model's own cloud half: {own:.4f} "
          f"({time.time() - start:.0f} s)", flush=True)
    mlp = nn.Sequential(nn.Linear(xtr.shape[1], 1024), nn.ReLU(), nn.Dropout(0.3),
                        nn.Linear(1024, 1024), nn.ReLU(), nn.Dropout(0.3), nn.Linear(1024, 10))
    batch = 256
    opt = torch.optim.AdamW(mlp.parameters(), 2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=args.epochs * (len(xtr) // batch))
    history = []
    for epoch in range(args.epochs):
        mlp.train()
        order = torch.randperm(len(xtr))
        for i in range(0, len(xtr) - batch + 1, batch):
            idx = order[i : i + batch]
            loss = nn.functional.cross_entropy(mlp(xtr[idx]), ytr[idx], label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        mlp.eval()
        with torch.no_grad():
            history.append(round((mlp(xte).argmax(-1) == yte).float().mean().item(), 4))
        print(f"epoch {epoch + 1}: probe test accuracy {history[-1]:.4f} ({time.time() - start:.0f} s)", flush=True)
    result = {"checkpoint": args.checkpoint, "epochs": args.epochs, "seed": args.seed, "model_accuracy": round(own, 4),
              "probe_accuracy_last": history[-1], "probe_accuracy_by_epoch": history}
    print(json.dumps(result))
    if args.log:
        with open(args.log, "a") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
