"""Check a file against FORMAT.md and list every problem, not just the first."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .. import layout
from ..codecs import ChunkSpec
from ..errors import FormatError, LimitError
from ..limits import MAX_TOTAL_ELEMENTS, ReadLimits, as_limits
from ..prior import as_priors
from ..problem_codes import CODES, SEVERITIES
from .grid import chunk_spec, inner_origins
from .header import Header, bind_prior, extensions_minor, parse_header, parse_preamble
from .reader import BytesCursor, StrayBytesError, _rows, decode_record, read_indexed, scan_records
from .records import (
    ChunkTable,
    IndexEntry,
    index_place,
    SourceCursor,
    read_compact_index,
    read_record,
    record_layout,
)
from .selection import checked_extent
from .source import Openable, Source


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, at ``offset``. ``limit``: the reader's limits stopped a
    check there (the file may conform; check it with higher limits).

    ``code`` is the stable problem code (:data:`spikecodec.problem_codes.CODES`) and ``section``
    the FORMAT.md section whose rule is broken; ``severity`` is ``"error"`` (the file does not
    conform), ``"limit"`` (a check the reader's limits stopped: ``limit`` is then true) or
    ``"warning"`` (a remark that does not make the file non-conforming)."""

    offset: int | None
    message: str
    limit: bool = False
    code: str | None = None
    section: str | None = None
    severity: str = ""

    def __post_init__(self) -> None:
        # Problems built the old way (offset, message, limit) get the severity ``limit`` implies.
        if not self.severity:
            object.__setattr__(self, "severity", "limit" if self.limit else "error")
        if self.code is not None and self.section is None and self.code in CODES:  # the section the code names
            object.__setattr__(self, "section", CODES[self.code].section)
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")

    @classmethod
    def of(cls, exc: FormatError, message: str | None = None) -> "Problem":
        """The problem an exception reports (``message`` in place of its own)."""
        limit = exc.severity == "limit"
        return cls(exc.offset, exc.message if message is None else message, limit, exc.code, exc.section, exc.severity)

    def to_dict(self) -> dict[str, Any]:
        """The problem as JSON-ready values."""
        return {"offset": self.offset, "code": self.code, "section": self.section, "severity": self.severity,
                "message": self.message, "limit": self.limit}

    def __str__(self) -> str:
        return f"at byte {self.offset}: {self.message}" if self.offset is not None else self.message


MAX_PROBLEMS = 1000  # problems a report keeps; those after them are counted (a 3 MB file of a million
# damaged records held a million problems: 1 GB, and 270 MB printed)


@dataclass
class ValidationReport:
    """The outcome of :func:`validate`: ``ok`` when ``problems`` holds no error and no limit.
    It keeps the first MAX_PROBLEMS problems; ``problems_omitted`` counts the errors after them."""

    name: str
    problems: list[Problem] = field(default_factory=list)
    chunks_checked: int = 0
    shape: tuple[int, ...] | None = None
    problems_omitted: int = 0

    @property
    def ok(self) -> bool:
        """True when no problem was found (warnings aside: they do not make a file non-conforming)."""
        return not self.problems_omitted and all(p.severity == "warning" for p in self.problems)

    @property
    def conforming_so_far(self) -> bool:
        """No problem but the reader's limits: nothing checked was wrong, some was not checked."""
        return not self.problems_omitted and all(p.severity != "error" for p in self.problems)

    def __bool__(self) -> bool:
        return self.ok

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (what ``spikecodec validate --json`` prints)."""
        return {
            "file": self.name,
            "ok": self.ok,
            "chunks_checked": self.chunks_checked,
            "shape": list(self.shape) if self.shape is not None else None,
            "problems": [p.to_dict() for p in self.problems],
            "problems_omitted": self.problems_omitted,
        }

    def __str__(self) -> str:
        if self.ok:
            return f"{self.name}: OK ({self.chunks_checked} chunks)"
        return "\n".join([f"{self.name}: {p}" for p in self.problems] + ([self.omitted_line()] if self.problems_omitted else []))

    def omitted_line(self) -> str:
        """The line that says how many problems are not listed."""
        return f"{self.name}: ... and {self.problems_omitted} more problems (the first {MAX_PROBLEMS} are listed)"


def validate(source: Openable, *, max_bytes: int | None = None, priors: Any = None,
             limits: ReadLimits | None = None) -> ValidationReport:
    """Check everything FORMAT.md requires of a file: header, index, tiling, every chunk's CRC,
    size, position, payload and spike count, reporting every problem it can reach (not only the
    first) in the order FORMAT.md 10 checks them. Files that cannot be opened at all (a missing
    path) raise ``OSError``; everything about the bytes themselves is reported, never raised.
    ``limits`` (or ``max_bytes``) cap what one chunk may cost (a chunk over them is reported,
    as a limit, not as non-conformance: see ``Problem.limit``); ``priors``: priors the file may
    name (see :func:`spikecodec.open`); one that does not load raises its FormatError (naming
    it, or ``priors=`` for bytes), as a file that cannot be opened does.

    Going on past a problem: a header CRC mismatch is reported as such, then the header's fields
    are still checked (and the rest of the file when they hold); a record whose CRC (or check)
    fails is skipped by its stated size and the walk goes on with the next record and the index;
    bytes after a good trailer are reported as ``bytes-after-trailer`` and the file before them
    is checked. A file whose header ``minor`` is lower than its codecs and extensions need gets
    a warning (``minor-too-low``), which does not make it non-conforming."""
    limits = as_limits(max_bytes, limits)
    try:
        given = as_priors(priors, limits.max_bytes)
    except FormatError as exc:  # the argument's fault, not the file's (reported as the file's, it had failed valid files)
        raise exc if exc.where else exc.located("priors=") from None
    src = Source(source, limits.max_bytes)
    try:
        checker = _Checker(src, limits, given)
        try:
            checker.run()
        except FormatError as exc:  # pragma: no cover - every check above reports; a last guard
            checker.add(exc)
        report = checker.report
        report.problems.extend(checker.warnings)
        return report
    finally:
        src.close()


# Record problems found after the record's place was accepted and its size is known: the walk
# skips such a record and goes on with the next one.
_SKIPPABLE = {"chunk-crc", "compact-check", "spike-count"}


class _Prefix:
    """The first ``size`` bytes of a source (the file up to a trailer that stray bytes follow)."""

    def __init__(self, src: Source, size: int):
        self._src = src
        self.size = size
        self.name = src.name

    def read_at(self, offset: int, n: int) -> bytes:
        return self._src.read_at(offset, max(0, min(n, self.size - offset)))

    def view_at(self, offset: int, n: int):
        return self._src.view_at(offset, max(0, min(n, self.size - offset)))


class _Checker:
    """One file's validation: each step reports what it finds and says whether to go on."""

    def __init__(self, src: Source, limits: ReadLimits, given: list):
        self.src = src
        self.limits = limits
        self.given = given
        self.report = ValidationReport(src.name)
        self.warnings: list[Problem] = []
        self._seen: set[tuple[int | None, str | None, str]] = set()
        self._specs: dict[tuple[int, int], Any] = {}

    def add(self, exc: FormatError, message: str | None = None) -> None:
        p = Problem.of(exc, message)
        key = (p.offset, p.code, p.message)
        if key not in self._seen:  # the same failure found twice (the index's walk, then ours) is said once
            if len(self.report.problems) >= MAX_PROBLEMS:
                if p.severity == "error":  # (a limit or warning is not counted: it is no error)
                    self.report.problems_omitted += 1
                return
            self._seen.add(key)
            self.report.problems.append(p)

    # -- preamble and header (FORMAT.md 10, steps 1-3) ---------------------------------------------
    def header(self) -> tuple[Header, bytes, Any] | None:
        src = self.src
        try:
            pre = src.read_at(0, layout.PREAMBLE_SIZE)
            _, header_size = parse_preamble(pre)
            rest = src.read_at(layout.PREAMBLE_SIZE, header_size + layout.CRC_SIZE)
            if len(rest) < header_size + layout.CRC_SIZE:
                raise FormatError(f"file ends inside the {header_size}-byte header", layout.PREAMBLE_SIZE, code="header-truncated")
            body, crc = rest[:header_size], rest[header_size:]
        except FormatError as exc:
            self.add(exc)
            return None
        try:
            h = parse_header(pre, body, crc)
        except FormatError as exc:
            self.add(exc)
            if exc.code != "header-crc":
                return None
            # The CRC is the real cause, reported first; the fields it covers are still checked,
            # and the records walked and checked, but nothing is decoded by what a header that
            # fails its CRC says (a 177-byte file, one shape byte changed, decoded 315M elements).
            try:
                h = parse_header(pre, body, layout.crc32(pre, body).to_bytes(4, "little"))
            except FormatError as field:
                self.add(field)
                return None
            return h, crc, None
        needed = max(h.pipeline().format_minor, extensions_minor(h.extensions, ruleless=False))  # the writer's rule sets 6
        # for a stream-id, but every 1.x reader reads one (FORMAT.md 3.2): no warning that they may not
        if h.minor < needed:
            self.warnings.append(Problem(
                9, f"minor version {h.minor} is lower than {needed}, the lowest that defines the codecs and "
                   f"extensions the file uses (FORMAT.md 13): readers of 1.{h.minor} may not read it",
                code="minor-too-low", severity="warning"))
        try:
            pipeline = bind_prior(h, h.pipeline(), self.given, layout.PREAMBLE_SIZE, self.limits.max_bytes)
        except FormatError as exc:
            self.add(exc)  # the records are still walked and their CRCs checked, not decoded
            pipeline = None
        return h, crc, pipeline

    # -- trailer, index, or the walk of the records (steps 4-5; recovery's walk) -------------------
    def table(self, src, h: Header, data_start: int, records) -> tuple[ChunkTable, set[int], int]:
        """(entries, the entries whose records failed the walk, how many entries form whole rows)."""
        try:
            table = read_indexed(src, h, data_start, records)
            return table, set(), len(table)
        except FormatError as exc:
            index_error = exc
        if isinstance(index_error, StrayBytesError):
            end = index_error.trailer_end
            self.add(index_error, f"no trailer at the end of the file: {src.size - end} bytes follow the trailer at {end - layout.TRAILER_SIZE}")
            self.add(FormatError(f"{src.size - end} bytes after the trailer", end, code="bytes-after-trailer"))
            return self.table(_Prefix(self.src, end), h, data_start, records)
        self.add(index_error)
        return self.walk(src, h, data_start, records, index_error)

    def walk(self, src, h: Header, data_start: int, records, index_error: FormatError) -> tuple[ChunkTable, set[int], int]:
        """Walk the records from the start (FORMAT.md 10, recovery step 1), reporting each
        record's problem; one that fails only its CRC (or check) is skipped by its size."""

        def skip(problem: FormatError) -> bool:
            self.add(problem)
            return problem.code in _SKIPPABLE

        walk = scan_records(src, h, data_start, records, skip=skip)
        if walk.stop is not None and not walk.at_record:  # a record's problem was reported by skip()
            self.add(walk.stop)
        entries, complete = walk.entries, walk.complete
        if records.compact and walk.at_index and not walk.at_record and (index_error.offset or 0) < walk.pos:
            # The index's own reading stopped at a record: check the index the walk reached.
            pos = walk.pos
            try:
                count, rows, _ = read_compact_index(SourceCursor(src, pos), pos)
                walked = _rows(entries.head(complete), walk.per_row)
                if count != len(entries) or rows != walked:
                    raise FormatError(f"the index counts {count} records in {rows} rows, the file holds {len(entries)}", pos, code="index-count")
            except FormatError as exc:
                self.add(exc)
        return entries, walk.skipped, complete

    # -- the whole file ------------------------------------------------------------------------------
    def run(self) -> None:
        parsed = self.header()
        if parsed is None:
            return
        h, crc, pipeline = parsed
        src = self.src
        data_start = _data_start(src)
        records = record_layout(h, crc)
        entries, bad, complete = self.table(src, h, data_start, records)
        inner = inner_origins(h)
        per_row = inner.count
        kept = entries.head(complete)
        length = _rows(kept, per_row) if per_row else (h.shape[0] or 0)
        shape = (length, *h.frame_shape)
        self.report.shape = shape
        if checked_extent(shape) > MAX_TOTAL_ELEMENTS:  # e.g. (0, 2**62, 2**62): 0 elements
            self.add(LimitError(f"shape {shape} is too large for numpy even though it is empty", code="numpy-shape"))
            return
        # The chunks of a last row that ends early are decoded too, though outside ``shape``.
        partial = sum(self.elements(h, entries[i], i, inner) for i in range(complete, len(entries)) if i not in bad)
        try:  # every chunk is decoded: they count together, and a file over the cap is refused before any work
            self.limits.check_bytes(math.prod(shape) + partial, "the whole file")
        except LimitError as exc:
            self.add(exc, f"{exc.message}; its chunks were not checked")
            return
        for i in range(len(entries)):
            if i in bad:
                continue
            try:
                self.chunk(src, h, records, pipeline, entries[i], i, inner)
            except FormatError as exc:
                self.add(exc)
            self.report.chunks_checked += 1

    def spec(self, h: Header, e: IndexEntry, i: int, inner) -> ChunkSpec:
        """Chunk ``i``'s spec, from its entry's row height and its place in the row."""
        key = (e.row_length, i % inner.count)
        spec = self._specs.get(key)
        if spec is None:  # rows mostly share one height: a few specs serve every chunk
            spec = self._specs[key] = chunk_spec(h, e.row_length, inner[key[1]])
        return spec

    def elements(self, h: Header, e: IndexEntry, i: int, inner) -> int:
        """The elements chunk ``i`` decodes to (0 for an entry with no spec: chunk() reports it)."""
        try:
            return math.prod(self.spec(h, e, i, inner).shape)
        except FormatError:
            return 0

    def chunk(self, src, h: Header, records, pipeline, e: IndexEntry, i: int, inner) -> None:
        """Read chunk ``i`` where its entry says, check it against the entry, decode it."""
        k = h.chunk_rank
        spec = self.spec(h, e, i, inner)
        want = (e.row_start, *inner[i % inner.count])
        data = src.view_at(e.offset, e.size)
        if len(data) != e.size:
            raise FormatError(f"file ends inside chunk {i}", e.offset, code="record-truncated")

        record = read_record(records, BytesCursor(data, e.offset), i, index_place(i, e, spec, want, k))
        if pipeline is not None:
            decode_record(pipeline, record, spec, i, self.limits)


def _data_start(src) -> int:
    """Where the records start: after the preamble, the header body and its CRC."""
    _, header_size = parse_preamble(src.read_at(0, layout.PREAMBLE_SIZE))
    return layout.PREAMBLE_SIZE + header_size + layout.CRC_SIZE

