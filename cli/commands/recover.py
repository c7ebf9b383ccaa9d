"""``spikecodec recover``: rewrite a damaged or unfinished spike file as a complete, valid one."""

from __future__ import annotations

import argparse
import math
import sys

from ..errors import CliError, about, describe
from ..io_formats import display_name
from .common import add_limit_options, add_prior_option, load_priors, open_spike, read_limits, write_spike

HELP = "rewrite a truncated or damaged spike file as a complete one (everything complete is kept)"
EPILOG = """\
examples:
  spikecodec recover crashed.spk -o fixed.spk
  spikecodec recover - -o - < partial.spk > fixed.spk

The index is rebuilt by walking the chunks from the start; every complete row of chunks up to the
first incomplete or damaged one is kept, re-encoded with the file's own codec, axes, chunking,
element type and metadata. A file that is fine is copied unchanged in content.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recover", help=HELP, description=HELP, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="IN", help="spike file, or - (stdin)")
    p.add_argument("-o", "--output", metavar="OUT", required=True, help="spike file to write, or - (stdout)")
    add_prior_option(p)
    add_limit_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line, no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    name = display_name(args.input)
    out = display_name(args.output, "<stdout>")
    with about(name):
        reader, _ = open_spike(args.input, recover=True, priors=load_priors(args.prior), limits=read_limits(args))
    with reader:
        shape = reader.shape
        with about(name):  # the whole array is decoded once: within --max-bytes
            reader.limits.check_bytes(math.prod(shape), "the recovered array")
        try:
            write_spike(
                args.output,
                lambda a, b: reader[a:b],
                shape,
                codec=reader.codec,
                axes=reader.axes,
                chunk=reader.chunk_shape,
                metadata=reader.metadata,
                bits=reader.bits,
                quiet=args.quiet,
                prior=reader.prior,
                embed_prior=reader.embeds_prior,
                records=reader.records,
                inputs=[args.input],
            )
        except OSError as exc:
            raise CliError(out, describe(exc)) from exc
        except ValueError as exc:
            raise CliError(name, describe(exc)) from exc
        if not args.quiet:
            if reader.recovered:
                why = describe(reader.index_error)
                stop = f"; the walk stopped {describe(reader.walk_error)}" if reader.walk_error else ""
                print(f"{name}: {why}{stop}", file=sys.stderr)
                print(f"{out}: recovered {shape[0]} rows in {len(reader.entries)} chunks, shape {shape}", file=sys.stderr)
            else:
                print(f"{out}: {name} was complete; copied {shape[0]} rows, shape {shape}", file=sys.stderr)
    return 0
