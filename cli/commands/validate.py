"""``spikecodec validate``: check files (or every .spk file in folders) against FORMAT.md,
listing every problem found."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from typing import Any, Iterable, Iterator

import spikecodec
from spikecodec.container.source import read_stream

from ..atomic import STDIO
from ..errors import LIMIT_EXIT, CliError, describe, printable
from ..io_formats import binary_stdin, display_name
from .common import add_limit_options, add_prior_option, load_priors, read_limits, stdin_once

HELP = "check spike files against the format; exit 0 if all conform, 1 if any does not"
EPILOG = """\
examples:
  spikecodec validate spikes.spk
  spikecodec validate *.spk --json
  spikecodec validate runs/            # every *.spk file below the folder
  curl -s https://host/x.spk | spikecodec validate -

A FILE that is a folder stands for every *.spk file below it, in sorted order (links to
files outside the folder, and links to folders, are not followed).

Each file gets a line, FILE: OK (...), or, checking several, FILE: does not conform (N
problems) or FILE: not checked in full (a limit); then one line per problem, FILE: at byte
OFFSET: MESSAGE, and, for several files, a summary line. Every problem reachable is listed,
not only the first.

Exit status, one rule for one file or many: 2 when any file cannot be read at all (it is
reported and the other files are still checked; also a folder holding no .spk file, and a
--prior file that does not load, when nothing is checked), else 1
when any does not conform, else 3 when nothing found was wrong but a file's chunk was over
--max-bytes or --max-work and went unchecked, else 0 (warnings do not count). With --json
stdout holds one object, also when nothing could be checked (its "error" says why); each
file is an object with its problems; each problem has its stable "code" (such as
"header-crc"), the FORMAT.md "section" whose rule it breaks, and its "severity": "error" (the
file does not conform), "limit" (a check the limits stopped) or "warning" (such as
"minor-too-low"; see FORMAT.md, appendix "Problem codes").
"""

# The outcome of one file, worst first: the exit status of a run is that of its worst file.
UNREADABLE, NOT_CONFORMING, OVER_LIMIT, CONFORMING = 2, 1, LIMIT_EXIT, 0
_WORST_FIRST = (UNREADABLE, NOT_CONFORMING, OVER_LIMIT, CONFORMING)


def exit_status(outcomes: Iterable[int]) -> int:
    """The exit status of a run: its worst file's outcome (unreadable, then not conforming,
    then over a limit), 0 when every file conforms or there was none."""
    seen = set(outcomes)
    return next((s for s in _WORST_FIRST if s in seen), CONFORMING)


def outcome(report: spikecodec.ValidationReport) -> int:
    """One validated file's outcome (warnings do not count)."""
    if report.ok:
        return CONFORMING
    return OVER_LIMIT if report.conforming_so_far else NOT_CONFORMING


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help=HELP, description=HELP, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", metavar="FILE", nargs="+", help="spike files, folders (every *.spk below), or - (stdin)")
    p.add_argument("--json", action="store_true", help='print {"ok": ..., "files": [...], "summary": {...}} as JSON')
    add_prior_option(p)
    add_limit_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    p.set_defaults(run=run, report_on_stdout=True)  # its report is what it makes: a closed stdout is an error


def spike_files(folder: str) -> Iterator[str]:
    """Every ``*.spk`` file below ``folder``, sorted by path; links to folders are not entered,
    links to files outside the folder not followed, and a FIFO, socket or device named .spk
    skipped (a FIFO nobody writes to would block the whole scan). A folder below it that cannot be
    listed is a note; ``folder`` itself, the OSError saying why."""
    root = os.path.realpath(folder)
    found = []
    unlisted: list[OSError] = []
    for top, dirs, files in os.walk(folder, followlinks=False, onerror=unlisted.append):
        dirs.sort()
        for name in files:
            if not name.endswith(".spk"):
                continue
            path = os.path.join(top, name)
            if os.path.islink(path):
                target = os.path.realpath(path)
                if os.path.commonpath([root, target]) != root:
                    print(f"spikecodec: note: {printable(path)}: a link out of {printable(folder)}, not followed", file=sys.stderr)
                    continue
            try:
                regular = stat.S_ISREG(os.stat(path).st_mode)
            except OSError:  # a broken link or a loop: checked, and reported as unreadable
                regular = True
            if not regular:
                print(f"spikecodec: note: {printable(path)}: not a regular file, not read", file=sys.stderr)
                continue
            found.append(path)
    for exc in unlisted:
        if exc.filename is not None and os.path.realpath(exc.filename) == root:
            raise exc
        print(f"spikecodec: note: {printable(str(exc.filename))}: cannot list it ({exc.strerror}), not read", file=sys.stderr)
    return iter(sorted(found))


def _expand(paths: list[str]) -> Iterator[tuple[str, str | None]]:
    """(file, None) for each file to check, or (folder, why) for a folder with none."""
    for path in paths:
        if path != STDIO and os.path.isdir(path):
            empty = True
            try:
                files = spike_files(path)
            except OSError as exc:
                yield path, f"cannot list this folder: {exc.strerror}"
                continue
            for file in files:
                empty = False
                yield file, None
            if empty:
                yield path, "no .spk file in this folder"
        else:
            yield path, None


def run(args: argparse.Namespace) -> int:
    stdin_once(args.files)
    try:
        limits = read_limits(args)
        priors = load_priors(args.prior, limits.max_bytes)
    except CliError as exc:  # a --prior that does not load says nothing of the files: not 1, "does not conform"
        if exc.code == NOT_CONFORMING:
            exc.code = UNREADABLE
        if args.json:  # a script reading the report still gets one, saying why nothing was checked
            print(json.dumps({"ok": False, "error": printable(str(exc)), "files": [],
                              "summary": _summary([])}, indent=2))
        raise
    results: list[dict[str, Any]] = []
    outcomes: list[int] = []
    items = list(_expand(args.files))
    batch = len(items) > 1 or any(p != STDIO and os.path.isdir(p) for p in args.files)
    for path, empty in items:
        name = printable(display_name(path))
        if empty is not None:
            print(f"spikecodec: error: {name}: {empty}", file=sys.stderr)
            results.append({"file": name, "ok": False, "error": empty, "problems": []})
            outcomes.append(UNREADABLE)
            continue
        try:
            # stdin as a reader reads a pipe: refused at a first byte that starts no spike file, within --max-bytes
            source = read_stream(binary_stdin(), limits.max_bytes) if path == STDIO else path
            report = spikecodec.validate(source, priors=priors, limits=limits)
        except spikecodec.LimitError as exc:  # stdin longer than --max-bytes: not read, so not checked
            results.append({"file": name, "ok": False, "error": describe(exc), "problems": []})
            print(f"spikecodec: error: {name}: {describe(exc)}", file=sys.stderr)
            outcomes.append(OVER_LIMIT)
            continue
        except OSError as exc:  # nothing to check: the file cannot even be read
            results.append({"file": name, "ok": False, "error": describe(exc), "problems": []})
            print(f"spikecodec: error: {name}: {describe(exc)}", file=sys.stderr)
            outcomes.append(UNREADABLE)
            continue
        entry = report.to_dict()
        entry["file"] = name
        results.append(entry)
        outcomes.append(outcome(report))
        if not args.json:
            _print_report(name, report, args.quiet, batch)
    status = exit_status(outcomes)
    summary = _summary(outcomes)
    if args.json:
        print(json.dumps({"ok": status == 0, "files": results, "summary": summary}, indent=2))
    elif batch and not args.quiet:
        print(f"{summary['files']} file{'' if summary['files'] == 1 else 's'}: {summary['conforming']} conform, {summary['not_conforming']} do not, "
              f"{summary['over_limit']} over a limit, {summary['unreadable']} unreadable")
    return status


def _summary(outcomes: list[int]) -> dict[str, int]:
    """How many files had each outcome."""
    return {"files": len(outcomes), "conforming": outcomes.count(CONFORMING),
            "not_conforming": outcomes.count(NOT_CONFORMING), "over_limit": outcomes.count(OVER_LIMIT),
            "unreadable": outcomes.count(UNREADABLE)}


def _print_report(name: str, report: spikecodec.ValidationReport, quiet: bool, batch: bool) -> None:
    """One line for the file (for a file with problems, only in a batch: alone, its problem
    lines say it), then one for each problem."""
    errors = sum(p.severity == "error" for p in report.problems) + report.problems_omitted
    if report.ok:
        if not quiet:
            print(f"{name}: OK ({report.chunks_checked} chunks, shape {tuple(report.shape or ())})")
    elif batch and errors:
        print(f"{name}: does not conform ({errors} problem{'s' if errors != 1 else ''})")
    elif batch:
        print(f"{name}: not checked in full: over a limit")
    for p in report.problems:
        if quiet and p.severity == "warning":
            continue
        where = f"at byte {p.offset}: " if p.offset is not None else ""
        kind = {"limit": "over a limit: ", "warning": "warning: "}.get(p.severity, "")
        print(f"{name}: {where}{kind}{p.message}")
    if report.problems_omitted:
        print(report.omitted_line())
