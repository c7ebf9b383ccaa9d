"""``spikecodec validate``: check files against FORMAT.md, listing every problem found."""

from __future__ import annotations

import argparse
import json
import sys

import spikecodec

from ..atomic import STDIO
from ..errors import LIMIT_EXIT, describe
from ..io_formats import display_name
from .common import add_limit_options, add_prior_option, load_priors, read_limits

HELP = "check spike files against the format; exit 0 if all conform, 1 if any does not"
EPILOG = """\
examples:
  spikecodec validate spikes.spk
  spikecodec validate *.spk --json
  curl -s https://host/x.spk | spikecodec validate -

Exit status: 0 when every file conforms, 1 when any does not, 2 on a usage error or a file that
cannot be read at all (it is reported and the other files are still checked), 3 when nothing
found was wrong but a file's chunk was over --max-bytes or --max-work and went unchecked. Each problem is
printed as FILE: at byte OFFSET: MESSAGE. With --json each problem also has its stable "code"
(such as "header-crc"), the FORMAT.md "section" whose rule it breaks, and its "severity": "error"
(the file does not conform), "limit" (a check the limits stopped) or "warning" (see FORMAT.md,
appendix "Problem codes").
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help=HELP, description=HELP, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", metavar="FILE", nargs="+", help="spike files, or - (stdin)")
    p.add_argument("--json", action="store_true", help='print {"ok": ..., "files": [...]} as JSON')
    add_prior_option(p)
    add_limit_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    priors = load_priors(args.prior)
    limits = read_limits(args)
    results = []
    statuses = {0}
    for path in args.files:
        name = display_name(path)
        try:
            report = spikecodec.validate(sys.stdin.buffer.read() if path == STDIO else path, priors=priors, limits=limits)
        except OSError as exc:  # nothing to check: the file cannot even be read
            results.append({"file": name, "ok": False, "error": describe(exc), "problems": []})
            print(f"spikecodec: error: {name}: {describe(exc)}", file=sys.stderr)
            statuses.add(2)
            continue
        entry = report.to_dict()
        entry["file"] = name
        results.append(entry)
        if not report.ok:
            statuses.add(LIMIT_EXIT if report.conforming_so_far else 1)
        if not args.json:
            if report.ok:
                if not args.quiet:
                    print(f"{name}: OK ({report.chunks_checked} chunks, shape {tuple(report.shape or ())})")
            for p in report.problems:
                where = f"at byte {p.offset}: " if p.offset is not None else ""
                print(f"{name}: {where}{'over a limit: ' if p.limit else ''}{p.message}")
    # An unreadable file decides the status, then a non-conforming one, then one over a limit.
    status = next(s for s in (2, 1, LIMIT_EXIT, 0) if s in statuses)
    if args.json:
        print(json.dumps({"ok": status == 0, "files": results}, indent=2))
    return status
