"""``spikecodec decode``: a spike file (or a slice of it) to .npy, .npz, .pt or .h5."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ..atomic import STDIO
from ..errors import CliError, about, printable
from ..io_formats import display_name, output_format, write_array
from ..progress import bar
from ..text import axes_text
from spikecodec import SpikeReader
from spikecodec.elements import elements_as

from .common import check_output_name, add_limit_options, add_prior_option, load_priors, open_spike, positive_int, read_limits, read_files

HELP = "decode a spike file to .npy, .npz, .pt or .h5"
EPILOG = """\
examples:
  spikecodec decode spikes.spk -o spikes.npy
  spikecodec decode spikes.spk -o first_two_steps.h5 --select t=0:2,n=5
  spikecodec decode spikes.spk -o - --dtype float32 | python -c 'import io, numpy, sys; print(numpy.load(io.BytesIO(sys.stdin.buffer.read())).mean())'

OUT is .npy, .npz (array `spikes`, with `axes` and `metadata` as JSON), .pt (a tensor), .h5 (dataset
`spikes`; the axes, metadata as JSON text and element bits are its attributes) or - (.npy on stdout).
--select takes AXIS=INDEX or AXIS=START:STOP[:STEP] per axis, by the file's axis names (any case);
only the chunks the selection touches are read and decoded. A file coded from a prior it does not
embed needs that prior: shipped ones are found, others are given with --prior FILE. Class
predictions through a model's cloud half: `spikecodec cloud`.
"""

DTYPES = ("uint8", "bool", "int64", "float16", "float32")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("decode", help=HELP, description=HELP, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="IN", help="spike file, or - (stdin)")
    p.add_argument("-o", "--output", metavar="OUT", required=True, help="array file to write, or - (stdout, .npy)")
    add_prior_option(p)
    add_limit_options(p)
    p.add_argument("--select", metavar="SEL", action="append",  # repeated: all of them (the last alone dropped the rest)
                   help="slice by axis name, e.g. t=0:2,n=5 (repeatable: --select t=0:2 --select n=5)")
    p.add_argument("--dtype", choices=DTYPES, default="uint8", help="element type of the output array (default uint8)")
    p.add_argument("--threads", type=positive_int, default=1, metavar="N",
                   help="decode N chunks at a time, at most one a CPU (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line, no progress bar")
    p.set_defaults(run=run)


def parse_select(text: str, axes: tuple[str, ...], shape: tuple[int, ...]) -> tuple[tuple[int | slice, ...], tuple[str, ...]]:
    """``t=0:2,n=5`` -> an index tuple for the reader (an index checked against ``shape``, and
    named by its axis), and the axes that remain after it."""
    key: list[int | slice] = [slice(None)] * len(axes)
    chosen: set[int] = set()
    for part in text.split(","):
        name, sep, spec = (s.strip() for s in part.partition("="))
        if not sep:
            raise CliError("--select", f"expected AXIS=INDEX or AXIS=START:STOP, got {part!r}", 2)
        matches = [i for i, a in enumerate(axes) if a == name] or [i for i, a in enumerate(axes) if a.lower() == name.lower()]
        if len(matches) != 1:
            raise CliError("--select", f"no axis {name!r} (the file's axes: {', '.join(axes)})", 2)
        if matches[0] in chosen:  # t=0,t=1 took the last one silently
            raise CliError("--select", f"axis {axes[matches[0]]!r} is selected twice", 2)
        chosen.add(matches[0])
        try:
            if ":" in spec:
                bounds = [int(b) if b.strip() else None for b in spec.split(":")]
                if len(bounds) > 3 or bounds[2:] == [0]:  # a step of 0 is no slice
                    raise ValueError
                key[matches[0]] = slice(*bounds)
            else:
                key[matches[0]] = int(spec)
        except ValueError:
            raise CliError("--select", f"bad index {spec!r} for axis {name!r}", 2) from None
        n = shape[matches[0]]
        if n is not None and isinstance(key[matches[0]], int) and not -n <= key[matches[0]] < n:  # numpy's said "axis 0"
            raise CliError("--select", f"index {spec} is out of bounds for axis {axes[matches[0]]} of size {n}", 2)
    kept = tuple(a for a, k in zip(axes, key) if isinstance(k, slice))
    return tuple(key), kept


def run(args: argparse.Namespace) -> int:
    check_output_name(args.output)
    name = display_name(args.input)
    out = display_name(args.output, "<stdout>")
    try:
        output_format(args.output)  # refuse an unknown OUT before any decoding
    except ValueError as exc:
        raise CliError(out, str(exc), 2) from None
    priors = load_priors(args.prior, read_limits(args).max_bytes)
    with about(name):
        reader, _ = open_spike(args.input, priors=priors, limits=read_limits(args))
    with reader:
        axes = reader.axes
        if args.select is not None:  # --select '' is an error, not the whole file
            key, axes = parse_select(",".join(args.select), reader.axes, reader.shape)
            with about(name):  # a bad file: exit 1; over --max-bytes: exit 3
                try:
                    array = reader[key]
                except IndexError as exc:
                    raise CliError("--select", str(exc), 2) from None
        else:
            with about(name):
                array = _read_all(reader, args.quiet, args.threads)
        metadata, bits = reader.metadata, reader.bits
    if args.dtype != "uint8":
        with about(name):  # the result beside the uint8 it is made from, within --max-bytes as spikecodec.load(dtype=) counts it
            read_limits(args).check_bytes(array.size * (np.dtype(args.dtype).itemsize + 1), f"the array as {args.dtype}")
        try:  # as spikecodec.load(dtype=) converts: a type that cannot hold the values is refused
            array = elements_as(array, bits, args.dtype)
        except OverflowError as exc:
            raise CliError("--dtype", f"{name}: {exc}", 2) from None
    with about(out):
        write_array(args.output, array, axes, metadata, bits, inputs=read_files(args, args.input))
    if not args.quiet and args.output != STDIO:  # in a pipe the data is the whole answer
        print(f"{printable(out)}: {array.shape} {axes_text(axes)} {array.dtype}", file=sys.stderr)
    return 0


def _read_all(reader: SpikeReader, quiet: bool, threads: int) -> np.ndarray:
    """The whole array (within --max-bytes), each chunk decoded once, straight into place."""
    with bar(reader.size, "decode", quiet) as progress:
        return reader.read(workers=threads, progress=progress.update)
