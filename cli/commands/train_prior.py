"""``spikecodec train-prior``: a codec's initial model state, learned from sample spikes."""

from __future__ import annotations

import argparse
import sys

from ..atomic import STDIO, output_file, refuse_inputs
from ..errors import CliError, about, describe, printable
from ..io_formats import display_name, file_format, read_input, split_key
from ..text import path_text
from .common import check_output_name, add_limit_options, load_priors, parse_axes, parse_chunk, parse_meta, read_files, read_limits, stdin_once

HELP = "train a prior (a codec's starting state) on sample spikes"
EPILOG = """\
examples:
  spikecodec edge --images train-images-idx3-ubyte.gz -o train.spk --prior none
  spikecodec train-prior train.spk -o my-model.prior
  spikecodec edge --images t10k-images-idx3-ubyte.gz -o feats.spk --prior my-model.prior
  spikecodec train-prior spikes.npy -o layer2.prior --axes NTCHW --chunk 1 --meta split=layer2

A prior is what an adaptive codec has learned after coding the samples, kept as the starting
state of every chunk it codes later: small chunks (one image's spikes) then cost about what
they cost in a large batch. Train on spikes of the same network and split, chunked the way they
will be sent: a spike file's chunks are used as stored; an array file (.npy, .npz, .pt, .h5) is
cut as `spikecodec encode` would cut it with the same --axes and --chunk. A prior serves chunks
of one geometry (element bits, channels, height, width, steps): all samples must share it.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-prior", help=HELP, description=HELP, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("samples", metavar="SAMPLES", nargs="+", help="spike files or array files (FILE:KEY as for encode)")
    p.add_argument("-o", "--output", metavar="OUT", required=True, help="prior file to write (.prior)")
    p.add_argument("--codec", metavar="ID", default="ctxmix", help="the trainable codec (default ctxmix)")
    p.add_argument("--axes", metavar="NAMES", help="array samples: axis names (default T,N,C,H,W)")
    p.add_argument("--chunk", metavar="SIZES", help="array samples: chunk sizes along the leading axes")
    p.add_argument("--bits", type=int, choices=(1, 2, 4, 8), help="array samples: element type")
    p.add_argument("--prior", metavar="FILE", action="append", help="a prior that spike-file samples name")
    p.add_argument("--meta", metavar="KEY=VALUE", nargs="+", action="extend", help="information stored with the prior")
    add_limit_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import spikecodec

    from spikecodec.training import trainable_codec

    check_output_name(args.output)
    stdin_once(args.samples)
    inputs = read_files(args, *(split_key(s)[0] for s in args.samples))
    with about(display_name(args.output, "<stdout>")):  # an input named as OUT: said before any training, as it was after it
        refuse_inputs(args.output, inputs)
    named = file_format(args.output) if args.output != STDIO else None
    if named is not None:  # `train-prior x.spk -o y.npy` replaced y.npy (or a .spk) with a prior
        raise CliError(args.output, f"train-prior writes a prior file, not a .{named} file: name it NAME.prior", 2)
    try:  # an option's fault, said before any sample is read (it was blamed on the first sample)
        trainable_codec(args.codec)
    except (KeyError, ValueError) as exc:
        raise CliError("--codec", describe(exc), 2) from None
    axes, chunk, info = parse_axes(args.axes), parse_chunk(args.chunk), parse_meta(args.meta)
    priors = load_priors(args.prior, read_limits(args).max_bytes)
    samples = []
    for name in args.samples:
        if file_format(name) == "spk":
            samples.append(name)
            continue
        with about(display_name(name)):
            samples.append(read_input(name, max_bytes=args.max_bytes).array)
    info = {"samples": [path_text(display_name(s)) for s in args.samples], **info}
    from spikecodec.training import SampleError

    with about(", ".join(args.samples)):  # over --max-bytes: exit 3, as every command
        try:
            prior = spikecodec.train_prior(samples, args.codec, axes=axes, chunk=chunk, bits=args.bits, info=info,
                                           priors=priors, limits=read_limits(args))
        except SampleError as exc:  # one array's fault: blamed on it alone
            raise CliError(display_name(args.samples[exc.index]), str(exc).removeprefix(f"sample {exc.index}: ")) from None
        except spikecodec.FormatError as exc:  # one spike file's fault (its name in ``where``): blamed on it alone
            if not exc.where:
                raise
            with about(display_name(exc.where)):
                raise
    out = display_name(args.output, "<stdout>")
    with about(out):
        with output_file(args.output, inputs) as f:
            f.write(prior.data)
    if not args.quiet:
        print(f"{printable(out)}: prior {prior.digest} for {prior.codec} ({', '.join(f'{k}={v}' for k, v in prior.geometry.items())}), "
              f"{prior.info['chunks']} chunks, {len(prior.data)} bytes", file=sys.stderr)
    return 0
