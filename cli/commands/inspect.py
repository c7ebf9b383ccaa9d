"""``spikecodec inspect``: what a spike file holds, how it is coded, and how well it compresses."""

from __future__ import annotations

import argparse
import json
from typing import Any

from spikecodec import stats

from ..atomic import STDIO, output_path, refuse_inputs, written_through
from ..errors import CliError, about
from ..io_formats import display_name
from ..progress import bar
from ..report import render
from .common import add_limit_options, add_prior_option, load_priors, open_spike, read_limits, read_files

HELP = "show a spike file's header, chunks, compression and (with --stats) firing rates"
EPILOG = """\
examples:
  spikecodec inspect spikes.spk
  spikecodec inspect spikes.spk --stats --json | jq .firing_rate.overall
  spikecodec inspect spikes.spk --plot spikes.png

Without --stats only the header and the index are read: instant on any size. The spike count
and overall rate then come from the index (classic records state each chunk's count; compact
records do not). --stats (and --plot) decode every chunk once, checking it, for the rates per
timestep and per channel; rates of 2/4/8-bit files are mean spike counts per element. "vs X" is
how many times smaller the file is than X holding the same array: bit-packed at 1 bit per
element, one uint8 or one float32 per element. The chunk table shows the first and last ten
chunks unless --all.
"""
TABLE_ENDS = 10  # chunks listed at each end of the table without --all


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help=HELP, description=HELP, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="IN", help="spike file, or - (stdin)")
    add_prior_option(p)
    add_limit_options(p)
    p.add_argument("--stats", action="store_true", help="decode every chunk for the firing rates per timestep and channel")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--all", action="store_true", help="list every chunk in the table")
    p.add_argument("--plot", metavar="PNG", help="draw firing rates and a spike raster to this PNG (needs matplotlib; implies --stats)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run, report_on_stdout=True)  # its report is what it makes: a closed stdout is an error


def build_report(reader: Any, name: str, file_size: int, quiet: bool, with_stats: bool = True,
                 all_chunks: bool = True) -> dict[str, Any]:
    """The report :func:`~..report.render` prints; ``with_stats`` decodes every chunk for the
    rates, else only the index is read; ``all_chunks`` lists every chunk, else both ends."""
    size = stats.sizes(reader.shape, reader.bits, file_size)
    count = len(reader.entries)
    listed = range(count) if all_chunks or count <= 2 * TABLE_ENDS else [*range(TABLE_ENDS), *range(count - TABLE_ENDS, count)]
    report: dict[str, Any] = {
        "file": name,
        "format_version": "%d.%d" % reader.version,
        "shape": list(reader.shape),
        "axes": list(reader.axes),
        "bits": reader.bits,
        "codec": reader.codec,
        "chunk_shape": list(reader.chunk_shape),
        "records": reader.records,
        "prior": ({"digest": reader.prior.digest, "embedded": reader.embeds_prior, "bytes": len(reader.prior.data)}
                  if reader.prior is not None else None),
        "metadata": reader.metadata,
        # the header's extensions: their names, and the data of those whose data is short (a stream id)
        "extensions": [{"name": e.name, "required": e.required, "bytes": len(e.data),
                        **({"hex": e.data.hex()} if e.name != "prior" and len(e.data) <= 64 else {})}
                       for e in reader.header.extensions],
        "chunk_count": count,
        "size": size,
    }
    if with_stats:
        with bar(size["elements"], "inspect", quiet) as progress:
            rates = stats.firing_rates(reader, progress.update)
        report["spikes"] = rates.spikes
        report["firing_rate"] = {
            "overall": rates.overall,
            "time_axis": reader.axes[rates.time_axis] if rates.time_axis is not None else None,
            "per_timestep": rates.per_timestep,
            "timestep_bin": rates.time_bin,
            "channel_axis": reader.axes[rates.channel_axis] if rates.channel_axis is not None else None,
            "per_channel": rates.per_channel,
            "channel_bin": rates.channel_bin,
        }
        per_chunk = rates.per_chunk
    else:
        spikes = stats.indexed_spikes(reader)
        report["spikes"] = spikes
        report["firing_rate"] = {"overall": spikes / size["elements"] if spikes is not None and size["elements"] else None}
        per_chunk = None
    report["chunks"] = stats.chunk_table(reader, per_chunk, listed)
    return report


def run(args: argparse.Namespace) -> int:
    name = display_name(args.input)
    if args.plot == "":
        raise CliError("--plot", "an empty name names no file", 2)
    if args.plot == STDIO:  # was written to a file named "-"; standard output carries the report
        raise CliError("--plot", "needs a file name: '-' would be standard output, which carries the report", 2)
    if args.plot and not args.plot.lower().endswith(".png") and not written_through(args.plot):
        # A PNG under any name replaced a .spk or .npy named by mistake, and was no PDF named .pdf.
        raise CliError("--plot", f"draws a PNG: name the file .png, not {args.plot!r}", 2)
    if args.plot:
        with about(args.plot):  # before any work: the plot must not overwrite the input
            refuse_inputs(args.plot, read_files(args, args.input))
    with about(name):
        reader, size = open_spike(args.input, priors=load_priors(args.prior, read_limits(args).max_bytes), limits=read_limits(args))
        with reader:
            report = build_report(reader, name, size, args.quiet, args.stats or bool(args.plot), args.all)
            if args.plot:
                grid, label = stats.raster(reader)
    if args.plot:
        from ..plot import draw

        with about(args.plot), output_path(args.plot, [args.input]) as tmp:
            draw(tmp, report, grid, label)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0
