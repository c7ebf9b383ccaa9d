"""``spikecodec recover``: rewrite a damaged or unfinished spike file as a complete, valid one."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from spikecodec import FormatError, LimitError, SpikeReader

from ..errors import CliError, about, describe, printable
from ..io_formats import display_name
from .common import check_output_name, add_limit_options, add_prior_option, load_priors, open_spike, read_limits, refuse_array_output, write_spike, read_files

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
    check_output_name(args.output)
    name = display_name(args.input)
    out = display_name(args.output, "<stdout>")
    refuse_array_output(args.output, "recover")
    with about(name):
        reader, _ = open_spike(args.input, recover=True, priors=load_priors(args.prior, read_limits(args).max_bytes), limits=read_limits(args))
    with reader:
        with about(name):  # the whole array is decoded (twice, one chunk at a time): within --max-bytes
            reader.limits.check_bytes(reader.size, "the recovered array")
            rows, damage = _rows_before_damage(reader)
        if damage is not None and rows == 0:
            raise CliError(name, f"nothing to recover: the first row of chunks is damaged ({describe(damage)})")
        if reader.recovered and rows == 0:  # cut before its first complete row: an empty file is no recovery
            stop = describe(reader.walk_error or reader.index_error)
            raise CliError(name, f"nothing to recover: no complete row of chunks ({stop})")
        shape = (rows, *reader.shape[1:])
        try:
            write_spike(
                args.output,
                _RowReader(reader).frames,
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
                inputs=read_files(args, args.input),
            )
        except OSError as exc:
            raise CliError(out, describe(exc)) from exc
        except ValueError as exc:
            raise CliError(name, describe(exc)) from exc
        if not args.quiet:
            if reader.recovered:
                why = describe(reader.index_error)
                stop = f"; the walk stopped {describe(reader.walk_error)}" if reader.walk_error else ""
                print(f"{printable(name)}: {why}{stop}", file=sys.stderr)
            if damage is not None:
                print(f"{printable(name)}: {describe(damage)}; the rows from there on are dropped", file=sys.stderr)
            if reader.recovered or damage is not None:
                print(f"{printable(out)}: recovered {rows} rows, shape {shape}", file=sys.stderr)
            else:
                print(f"{printable(out)}: {printable(name)} was complete; copied {rows} rows, shape {shape}", file=sys.stderr)
    return 0


def _rows_before_damage(reader: SpikeReader) -> tuple[int, FormatError | None]:
    """Rows along the first axis before the first chunk that does not decode (its CRC, payload or
    spike count), and that chunk's error; every chunk is decoded and dropped, one at a time."""
    for i in range(len(reader.entries)):
        try:
            reader.read_chunk(i)
        except LimitError:
            raise
        except FormatError as exc:
            return int(reader.entries.row_start[i]), exc
    return reader.shape[0], None


class _RowReader:
    """Frames for the writer, from one decoded row of chunks at a time: the writer asks for
    blocks of a few frames, and a row of tall chunks must not be decoded once per block."""

    def __init__(self, reader: SpikeReader):
        self.reader = reader
        self.starts = np.append(np.unique(reader.entries.row_start), reader.shape[0])  # row bounds, sorted
        self.lo = self.hi = 0
        self.rows: np.ndarray | None = None

    def frames(self, a: int, b: int) -> np.ndarray:
        if not len(self.reader.entries):  # no chunks (an empty inner axis, FORMAT.md 4.2): empty frames
            return self.reader[a:b]
        if self.rows is None or not (self.lo <= a and b <= self.hi):  # the rows that hold frames a..b
            self.rows = None  # dropped before the next are decoded
            lo = int(self.starts[np.searchsorted(self.starts, a, "right") - 1])
            hi = int(self.starts[np.searchsorted(self.starts, b, "left")])
            self.rows, self.lo, self.hi = self.reader[lo:hi], lo, hi
        return self.rows[a - self.lo : b - self.lo]
