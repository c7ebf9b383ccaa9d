"""``spikecodec inspect``: what a spike file holds, how it is coded, and how well it compresses."""

from __future__ import annotations

import argparse
import json
from typing import Any

from spikecodec import stats

from ..atomic import atomic_path
from ..errors import about
from ..io_formats import display_name
from ..progress import bar
from ..report import render
from .common import add_prior_option, load_priors, open_spike

HELP = "show a spike file's header, chunks, firing rates and compression"
EPILOG = """\
examples:
  spikecodec inspect spikes.spk
  spikecodec inspect spikes.spk --json | jq .firing_rate.overall
  spikecodec inspect spikes.spk --plot spikes.png

Every chunk is decoded (and so checked) once to compute the firing rates; rates of 2/4/8-bit
files are mean spike counts per element. "vs X" is how many times smaller the file is than X
holding the same array: bit-packed at 1 bit per element, one uint8 or one float32 per element.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help=HELP, description=HELP, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="IN", help="spike file, or - (stdin)")
    add_prior_option(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON (every chunk, every rate)")
    p.add_argument("--all", action="store_true", help="list every chunk in the table")
    p.add_argument("--plot", metavar="PNG", help="draw firing rates and a spike raster to this PNG (needs matplotlib)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def build_report(reader: Any, name: str, file_size: int, quiet: bool) -> dict[str, Any]:
    with bar(stats.sizes(reader.shape, reader.bits, 0)["elements"], "inspect", quiet) as progress:
        rates = stats.firing_rates(reader, progress.update)
    return {
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
        "spikes": rates.spikes,
        "firing_rate": {
            "overall": rates.overall,
            "time_axis": reader.axes[rates.time_axis] if rates.time_axis is not None else None,
            "per_timestep": rates.per_timestep,
            "channel_axis": reader.axes[rates.channel_axis] if rates.channel_axis is not None else None,
            "per_channel": rates.per_channel,
        },
        "size": stats.sizes(reader.shape, reader.bits, file_size),
        "chunks": stats.chunk_table(reader, rates.per_chunk),
    }


def run(args: argparse.Namespace) -> int:
    name = display_name(args.input)
    with about(name):
        reader, size = open_spike(args.input, priors=load_priors(args.prior))
        with reader:
            report = build_report(reader, name, size, args.quiet)
            if args.plot:
                grid, label = stats.raster(reader)
    if args.plot:
        from ..plot import draw

        with about(args.plot), atomic_path(args.plot) as tmp:
            draw(tmp, report, grid, label)
    print(json.dumps(report, indent=2) if args.json else render(report, args.all))
    return 0
