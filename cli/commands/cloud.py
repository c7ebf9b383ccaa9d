"""``spikecodec cloud``: spike messages -> the model's cloud half -> class predictions, as they arrive."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from ..atomic import STDIO, output_file, refuse_inputs
from ..errors import CliError, about, printable
from ..images import check_labels, read_labels
from ..io_formats import array_format, binary_stdin, display_name
from ..progress import bar
from .common import add_limit_options, add_prior_option, load_priors, model_name, read_limits, seconds, read_files

HELP = "run the cloud half of a model on a spike stream and write class predictions"
EPILOG = """\
examples:
  spikecodec cloud feats.spk -o preds.npy --labels t10k-labels-idx1-ubyte.gz
  nc -l 9000 | spikecodec cloud - -o preds.npy
  spikecodec edge --images x.npy -o - | spikecodec cloud - -o preds.npy

Runs the cloud half of the model the stream's metadata names (as `spikecodec edge` writes it;
--model overrides) on the images as they arrive: whatever has arrived, up to --batch images at
a time, without waiting for more. Writes the predicted classes as int64 .npy to OUT; --labels
FILE (IDX or .npy) prints the accuracy. A stream whose spikes are not shaped like the model's
code, or that names a prior neither shipped nor given (--prior FILE), is refused. A stream that
breaks off still gives the predictions of the images before the break, in OUT when it is new (or
-), else in a new OUT.partial.npy beside it (an OUT that exists is never replaced by a failed run),
and the command exits 1.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cloud", help=HELP, description=HELP, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="IN", help="spike stream (a file, or - for stdin)")
    p.add_argument("-o", "--output", metavar="OUT", help="predictions to write (.npy), or - (stdout)")
    p.add_argument("--model", metavar="NAME", help="the shipped model to run (default: the one the stream names)")
    p.add_argument("--labels", metavar="FILE", help="true labels (IDX or .npy); prints the accuracy")
    p.add_argument("--batch", type=int, default=256, metavar="N", help="most images the cloud half runs at once (default 256)")
    p.add_argument("--wait", type=seconds, default=0.0, metavar="S", help="seconds to wait for a file that is still being written to grow")
    add_prior_option(p, "a prior file the stream may name (repeatable)")
    add_limit_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line, no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    name = display_name(args.input)
    if args.output is not None and args.output != STDIO and array_format(args.output) != "npy":
        raise CliError(args.output, "predictions are written as .npy", 2)
    if args.output is not None:
        with about(args.output):  # before any work: the output must not be an input
            refuse_inputs(args.output, read_files(args, args.input))
    if args.batch < 1:
        raise CliError("--batch", f"expected a positive number of images, got {args.batch}", 2)
    if args.model is not None:
        model_name(args.model)  # an unknown --model is reported before the stream is read
    priors = load_priors(args.prior, read_limits(args).max_bytes)
    labels = None
    if args.labels is not None:
        with about(args.labels):
            labels = read_labels(args.labels, max_bytes=args.max_bytes)
    from spikecodec.models.coinference import CloudStream

    with about(name):
        cloud = CloudStream(binary_stdin() if args.input == STDIO else args.input, args.model, wait=args.wait,
                            priors=priors, batch_size=args.batch, limits=read_limits(args))
    with cloud:
        if labels is not None:  # before any image runs: labels of no class of this model make the accuracy wrong
            with about(args.labels):
                check_labels(labels, cloud.model.classes)
        total = cloud.spikes.length or 0
        predictions = []
        try:
            with about(name), bar(total, "cloud", args.quiet, unit="img", long_work=2000) as progress:
                for logits in cloud:
                    predictions.append(logits.argmax(1).numpy())
                    progress.update(len(predictions[-1]))
        except CliError as exc:  # a stream cut short: what arrived is predicted and written, then the error
            if args.output is None or not predictions or isinstance(exc.__cause__, BrokenPipeError):
                raise
            received = np.concatenate(predictions)
            # A failed command replaces no file: an output that exists keeps its contents, and
            # what arrived goes to a new file beside it.
            where = _partial_path(args.output)
            with about(display_name(where, "<stdout>")):
                _save_npy(where, received, read_files(args, args.input))
            raise CliError(exc.file, f"{exc.message}; the predictions of the {len(received)} images before it are in "
                           f"{display_name(where, '<stdout>')}", exc.code) from exc
        size = cloud.bytes_read
        model = cloud.info["model"]
    preds = np.concatenate(predictions) if predictions else np.zeros(0, np.int64)
    if labels is not None and len(labels) != len(preds):
        raise CliError(args.labels, f"{len(labels)} labels for {len(preds)} images", 1)
    if args.output is not None:
        out = display_name(args.output, "<stdout>")
        with about(out):
            _save_npy(args.output, preds, read_files(args, args.input))
    if not args.quiet or labels is not None:
        where = sys.stderr if args.output == STDIO else sys.stdout
        per_image = f" = {size / len(preds):.1f} bytes/image" if len(preds) else ""
        print(f"{printable(name)}: {len(preds)} images through the {model} cloud half; stream {size} bytes{per_image}", file=where)
        if labels is not None:
            right = int((preds == labels).sum())
            print(f"accuracy {right / max(len(preds), 1):.4f} ({right} of {len(preds)})", file=where)
    return 0


def _partial_path(output: str) -> str:
    """Where a failed run writes the predictions of the images that arrived: the output itself
    when it is stdout or a new file, else the first free ``NAME.partial.npy``, ``NAME.partial-2.npy``..."""
    if output == STDIO or not os.path.lexists(output):
        return output
    stem = output[:-4] if output.endswith(".npy") else output
    n = 1
    while os.path.lexists(path := f"{stem}.partial{'' if n == 1 else f'-{n}'}.npy"):
        n += 1
    return path


def _save_npy(path: str, array: np.ndarray, inputs: list[str]) -> None:
    with output_file(path, inputs) as f:
        np.lib.format.write_array(f, array, allow_pickle=False)
