"""Text rendering of ``spikecodec inspect``'s report (the JSON form is the same dict, dumped)."""

from __future__ import annotations

import json
from typing import Any, Sequence

from .errors import printable
from .text import axes_text, element_text, pipeline_text

MAX_LISTED = 16  # longer rate lists are summarised


def _rates(values: Sequence[float], binned: int = 1) -> str:
    each = f", each the mean of {binned} consecutive indices" if binned > 1 else ""
    if len(values) <= MAX_LISTED:
        return " ".join(f"{v:.4f}" for v in values) + (f" ({each[2:]})" if each else "")
    lo, hi = min(values), max(values)
    head = " ".join(f"{v:.4f}" for v in values[:8])
    return f"{head} ... ({len(values)} values{each}, min {lo:.4f}, max {hi:.4f})"


def _ratio(x: float | None) -> str:
    return f"{x:.2f}x" if x is not None else "n/a"


def render(report: dict[str, Any]) -> str:
    r = report
    size, rate = r["size"], r["firing_rate"]
    unit = "spike rate" if r["bits"] == 1 else "mean count per element"
    lines = [
        f"file            {printable(r['file'])}",
        f"format version  {r['format_version']}",
        f"shape           {tuple(r['shape'])}  axes {axes_text(r['axes'])}",
        f"element type    {element_text(r['bits'])}",
        f"codec           {pipeline_text(r['codec'])}",
        f"chunk shape     {tuple(r['chunk_shape'])}  ({r['chunk_count']} chunks, {r['records']} records)",
        *([f"prior           {r['prior']['digest']} ({'embedded' if r['prior']['embedded'] else 'named'}, "
           f"{r['prior']['bytes']} bytes)"] if r.get("prior") else []),
        f"metadata        {json.dumps(r['metadata'], sort_keys=True) if r['metadata'] else '(none)'}",
        *([f"extensions      {', '.join(printable(e['name']) + (' ' + e['hex'] if e.get('hex') else '') for e in r['extensions'])}"]
          if r.get("extensions") else []),
        "",
    ]
    if r["spikes"] is None:
        lines.append("spikes          not stated by compact records (--stats decodes and counts them)")
    else:
        overall = "none (no elements)" if rate["overall"] is None else f"{rate['overall']:.4f} overall"
        lines += [f"spikes          {r['spikes']} in {size['elements']} elements", f"{unit:<15} {overall}"]
    if rate.get("per_timestep"):
        lines.append(f"  per {rate['time_axis']:<10} {_rates(rate['per_timestep'], rate.get('timestep_bin', 1))}")
    if rate.get("per_channel"):
        lines.append(f"  per {rate['channel_axis']:<10} {_rates(rate['per_channel'], rate.get('channel_bin', 1))}")
    if r["spikes"] is not None and "per_timestep" not in rate:
        lines.append("  (from the index; --stats for the rates per timestep and channel)")
    bpe = size["bits_per_element"]
    lines += [
        "",
        f"file size       {size['file_bytes']} bytes = {bpe:.4f} bit/element" if bpe is not None else f"file size       {size['file_bytes']} bytes",
        "compression     (times smaller than the same array stored as ...)",
        f"  1-bit packed  {_ratio(size['vs_packed_1bit']):>9}  ({size['packed_1bit_bytes']} bytes)",
    ]
    if r["bits"] != 1:
        lines.append(f"  {r['bits']}-bit packed  {_ratio(size['vs_bitpacked']):>9}  ({size['bitpacked_bytes']} bytes)")
    lines += [
        f"  uint8         {_ratio(size['vs_uint8']):>9}  ({size['uint8_bytes']} bytes)",
        f"  float32       {_ratio(size['vs_float32']):>9}  ({size['float32_bytes']} bytes)",
        "",
        f"{'chunk':>6} {'origin':<18} {'offset':>10} {'bytes':>9} {'spikes':>9} {'bit/el':>7}",
    ]
    previous = -1
    for c in r["chunks"]:
        if c["chunk"] != previous + 1:
            lines.append(f"{'...':>6} ({c['chunk'] - previous - 1} more; --all lists every chunk)")
        previous = c["chunk"]
        n = 1
        for s in c["shape"]:
            n *= s
        origin = ",".join(str(o) for o in c["origin"])
        spikes = "-" if c["spikes"] is None else c["spikes"]
        lines.append(f"{c['chunk']:>6} {origin:<18} {c['offset']:>10} {c['bytes']:>9} {spikes:>9} {8 * c['bytes'] / max(n, 1):>7.3f}")
    return "\n".join(lines)
