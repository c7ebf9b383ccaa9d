"""``spikecodec encode``: an array file (.npy/.npz/.pt/.h5, or a .spk to re-encode) to a spike file."""

from __future__ import annotations

import argparse
import os
import sys

import spikecodec
from spikecodec.container.writer import RECORDS
from spikecodec.elements import as_elements

from ..atomic import reads_back
from ..errors import CliError, about, describe, printable
from ..io_formats import display_name, read_input, split_key
from ..text import axes_text, element_text, pipeline_text
from .common import check_output_name, add_limit_options, add_prior_option, load_priors, parse_axes, parse_chunk, parse_codec, parse_meta, positive_int, refuse_array_output, write_spike, read_files

HELP = "encode an array file (.npy, .npz, .pt, .h5) into a spike file"
EPILOG = """\
examples:
  spikecodec encode spikes.npy -o spikes.spk
  spikecodec encode feats.h5:/layer3/spikes -o feats.spk --codec zstd --level 19 \\
      --axes TNCHW --chunk 1,16 --meta model=resnet18 split=3 dt=0.001
  cat spikes.npy | spikecodec encode - -o - | nc server 9000
  spikecodec encode spikes.npy -o spikes.spk --codec ctxmix --prior layer3.prior --chunk 1 --records compact

INPUT is .npy, .npz (FILE.npz:KEY, or its only array), .pt (a tensor, or FILE.pt:KEY in a dict of
tensors; loaded with weights_only=True), .h5/.hdf5 (FILE.h5:/path/to/dataset), a .spk file (to
re-encode it) or - for .npy on stdin. Axes and metadata that `spikecodec decode` stored in an
.npz or .h5 file are kept; --axes and --meta override them.

--prior FILE codes every chunk from a trained prior (`spikecodec train-prior`; trainable codecs
such as ctxmix and context): the file names it by digest, and holds it with --embed-prior.
--records compact writes chunk records of a few bytes of framing, for files of many small
chunks. Images through a model's edge half: `spikecodec edge`.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help=HELP, description=HELP, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="INPUT", help="array file, FILE:KEY, or - (stdin, .npy)")
    p.add_argument("-o", "--output", metavar="OUT", required=True, help="spike file to write, or - (stdout)")
    p.add_argument("--codec", metavar="ID", help="codec id (see `spikecodec --version`), a pipeline like raw,zstd, or JSON such as '{\"id\": \"zstd\", \"level\": 19}' (default: the --prior's codec, else framemix)")
    p.add_argument("--level", type=int, metavar="N", help="compression level of the (last) codec")
    p.add_argument("--axes", metavar="NAMES", help="axis names: TNCHW (a letter each) or time,sample,ch (default T,N,C,H,W)")
    p.add_argument("--chunk", metavar="SIZES", help="chunk sizes along the leading axes, e.g. 1 (per timestep) or 1,16")
    p.add_argument("--bits", type=int, choices=(1, 2, 4, 8), help="element type: 1-bit spikes or 2/4/8-bit counts (default: the narrowest that fits)")
    p.add_argument("--meta", metavar="KEY=VALUE", nargs="+", action="extend", help="metadata; values that parse as JSON keep their type (numbers, true, [1,2])")
    add_prior_option(p, "a prior file to code from (trainable codecs)")
    p.add_argument("--embed-prior", action="store_true", help="put the prior in the file's header")
    p.add_argument("--records", choices=RECORDS, default="classic",
                   help="chunk record layout (default classic; compact-unkeyed: compact records as format 1.3-1.6 readers take them)")
    add_limit_options(p)
    p.add_argument("--threads", type=positive_int, default=1, metavar="N",
                   help="encode N chunks at a time, at most one a CPU; the same bytes as one thread (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line, no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_output_name(args.output)
    codec = parse_codec(args.codec, args.level)
    priors = load_priors(args.prior, args.max_bytes)
    if len(priors) > 1:
        raise CliError("--prior", "a file is coded from one prior", 2)
    if args.embed_prior and not priors:
        raise CliError("--embed-prior", "needs --prior FILE", 2)
    axes = parse_axes(args.axes)
    chunk = parse_chunk(args.chunk)
    meta = parse_meta(args.meta)
    refuse_array_output(args.output, "encode")
    name = display_name(args.input)
    with about(name):
        loaded = read_input(args.input, max_bytes=args.max_bytes, priors=priors)  # a spike file in may name it
        # Checked once over the whole array so that a bad value is reported by its global index.
        values, bits = as_elements(loaded.array, args.bits or loaded.bits)
        if values.ndim == 0:
            raise ValueError("a spike array needs at least one axis")
    metadata = {**(loaded.metadata or {}), **meta}
    out = display_name(args.output, "<stdout>")
    try:
        write_spike(
            args.output,
            lambda a, b: values[a:b],
            values.shape,
            codec=codec,
            axes=axes or loaded.axes,
            chunk=chunk,
            metadata=metadata,
            bits=bits,
            quiet=args.quiet,
            prior=priors[0] if priors else None,
            embed_prior=args.embed_prior,
            records=args.records,
            workers=args.threads,
            inputs=read_files(args, split_key(args.input)[0]),
        )
    except OSError as exc:
        raise CliError(out, describe(exc)) from exc
    except ValueError as exc:  # options that do not fit this array (axes, chunk, codec parameters)
        raise CliError(name, describe(exc)) from exc
    # In a pipe the data is the whole answer; a FIFO or device cannot be read back for the summary.
    if not args.quiet and reads_back(args.output):  # a pipe, device or FIFO has no size to tell
        size = os.path.getsize(args.output)
        with spikecodec.open(args.output, priors=priors) as r:  # the pipeline as stored (e.g. what auto chose)
            print(
                f"{printable(out)}: {values.shape} {axes_text(r.axes)}, {element_text(bits)}, {pipeline_text(r.codec)}, "
                f"{size} bytes" + (f" = {8 * size / values.size:.3f} bit/element" if values.size else " (no elements)"),
                file=sys.stderr,
            )
    return 0
