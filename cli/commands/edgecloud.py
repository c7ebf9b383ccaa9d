"""The model halves behind ``encode --images`` (edge) and ``decode --predict`` (cloud).

torch and the models are imported only here, and only when one of those options is given.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from ..atomic import STDIO, atomic_path, binary_output
from ..errors import CliError, about, describe
from ..images import read_images, read_labels
from ..io_formats import display_name
from ..progress import bar
from .common import parse_codec, parse_meta

LONG_WORK_IMAGES = 2000  # below this many images a run takes a few seconds: no progress bar


def _load_model(name: str | None):
    """The model and its metadata; an unknown name is the fault of the option or file naming it."""
    from spikecodec.models.coinference import load_split

    try:
        return load_split(name)
    except KeyError as exc:
        raise CliError("--model", describe(exc), 2) from None


def run_edge(args: argparse.Namespace) -> int:
    """``encode --images SRC``: images -> the edge half -> a spike file, batch by batch."""
    for option in ("axes", "chunk", "bits"):
        if getattr(args, option) is not None:
            raise CliError(f"--{option}", "does not apply with --images (the model decides the spikes' layout)", 2)
    if args.batch < 1:
        raise CliError("--batch", f"expected a positive number of images, got {args.batch}", 2)
    codec = parse_codec(args.codec, args.level)
    meta = parse_meta(args.meta)
    _, info = _load_model(args.model)
    from spikecodec.models.coinference import as_images, edge_write

    src = args.images
    with about(src):
        images = as_images(read_images(src), info["input_shape"])
        if len(images) == 0:
            raise ValueError("holds no images")
    out = display_name(args.output, "<stdout>")
    metadata = {"source": os.path.basename(os.path.normpath(src)), **meta}
    try:
        with binary_output(args.output) as f, bar(len(images), "edge", args.quiet, unit="img", long_work=LONG_WORK_IMAGES) as progress:
            n = edge_write(images, f, info["model"], batch_size=args.batch, codec=codec, metadata=metadata, progress=progress.update)
    except OSError as exc:
        raise CliError(out, describe(exc)) from exc
    except ValueError as exc:  # codec parameters that do not fit
        raise CliError(src, describe(exc)) from exc
    if not args.quiet and args.output != STDIO:
        size = os.path.getsize(args.output)
        shape = "x".join(map(str, info["code_shape"]))
        print(
            f"{out}: {n} images -> {info['model']} edge half (split {info['split']}) -> spikes {shape} (TCHW) each, "
            f"{size} bytes = {size / n:.1f} bytes/image",
            file=sys.stderr,
        )
    return 0


def run_cloud(args: argparse.Namespace) -> int:
    """``decode --predict``: a spike file -> the cloud half -> class predictions (and accuracy)."""
    name = display_name(args.input)
    if args.output is not None and args.output != STDIO and not args.output.lower().endswith(".npy"):
        raise CliError(args.output, "predictions are written as .npy", 2)
    if args.select is not None or args.dtype != "uint8":
        raise CliError("--select" if args.select else "--dtype", "does not apply with --predict", 2)
    if args.model is not None:
        _load_model(args.model)  # an unknown --model is reported before the file is read
    labels = None
    if args.labels is not None:
        with about(args.labels):
            labels = read_labels(args.labels)
    from spikecodec.models.coinference import CloudStream

    with about(name):
        cloud = CloudStream(sys.stdin.buffer if args.input == STDIO else args.input, args.model)
    with cloud:
        total = cloud.spikes.length or 0
        predictions = []
        with about(name), bar(total, "cloud", args.quiet, unit="img", long_work=LONG_WORK_IMAGES) as progress:
            for logits in cloud:
                predictions.append(logits.argmax(1).numpy())
                progress.update(len(predictions[-1]))
        size = cloud.bytes_read
        model = cloud.info["model"]
    preds = np.concatenate(predictions) if predictions else np.zeros(0, np.int64)
    if labels is not None and len(labels) != len(preds):
        raise CliError(args.labels, f"{len(labels)} labels for {len(preds)} images", 1)
    if args.output is not None:
        out = display_name(args.output, "<stdout>")
        with about(out):
            _save_npy(args.output, preds)
    if not args.quiet or labels is not None:
        n = max(len(preds), 1)
        summary = f"{name}: {len(preds)} images through the {model} cloud half; file {size} bytes = {size / n:.1f} bytes/image"
        print(summary, file=sys.stderr if args.output == STDIO else sys.stdout)
        if labels is not None:
            right = int((preds == labels).sum())
            print(f"accuracy {right / n:.4f} ({right} of {len(preds)})", file=sys.stderr if args.output == STDIO else sys.stdout)
    return 0


def _save_npy(path: str, array: np.ndarray) -> None:
    if path == STDIO:
        with binary_output(path) as f:
            np.lib.format.write_array(f, array, allow_pickle=False)
        return
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array, allow_pickle=False)
