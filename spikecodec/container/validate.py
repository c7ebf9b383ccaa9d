"""Check a file against FORMAT.md and list every problem, not just the first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import FormatError, LimitError
from ..limits import ReadLimits
from ..problem_codes import SEVERITIES
from .reader import SpikeReader
from .source import Openable


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


@dataclass
class ValidationReport:
    """The outcome of :func:`validate`: ``ok`` when ``problems`` holds no error and no limit."""

    name: str
    problems: list[Problem] = field(default_factory=list)
    chunks_checked: int = 0
    shape: tuple[int, ...] | None = None

    @property
    def ok(self) -> bool:
        """True when no problem was found (warnings aside: they do not make a file non-conforming)."""
        return all(p.severity == "warning" for p in self.problems)

    @property
    def conforming_so_far(self) -> bool:
        """No problem but the reader's limits: nothing checked was wrong, some was not checked."""
        return all(p.severity != "error" for p in self.problems)

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
        }

    def __str__(self) -> str:
        if self.ok:
            return f"{self.name}: OK ({self.chunks_checked} chunks)"
        return "\n".join(f"{self.name}: {p}" for p in self.problems)


def validate(source: Openable, *, max_bytes: int | None = None, priors: Any = None,
             limits: ReadLimits | None = None) -> ValidationReport:
    """Check everything FORMAT.md requires of a file: header, index, tiling, every chunk's CRC,
    size, position, payload and spike count. Files that cannot be opened at all (a missing path)
    raise ``OSError``; everything about the bytes themselves is reported, never raised.
    ``limits`` (or ``max_bytes``) cap what one chunk may cost (a chunk over them is reported,
    as a limit, not as non-conformance: see ``Problem.limit``); ``priors``: priors the file may
    name (see :func:`spikecodec.open`)."""

    problem = Problem.of

    try:
        reader = SpikeReader(source, recover=True, max_bytes=max_bytes, limits=limits, priors=priors)
    except FormatError as exc:
        return ValidationReport(exc.where or _name(source), [problem(exc)])
    report = ValidationReport(reader.name, shape=reader.shape)
    with reader:
        if reader.index_error is not None:
            report.problems.append(problem(reader.index_error))
            walk = reader.walk_error
            # Compact records are walked to read their index too: the same failure, said once.
            if walk is not None and (walk.offset, walk.message) != (reader.index_error.offset, reader.index_error.message):
                report.problems.append(problem(walk))
        try:  # every chunk is decoded: they count together, and a file over the cap is refused before any work
            reader.limits.check_bytes(reader.size, "the whole file")
        except LimitError as exc:
            report.problems.append(Problem.of(exc, f"{exc.message}; its chunks were not checked"))
            return report
        for i in range(len(reader.entries)):
            try:
                reader.read_chunk(i)
            except FormatError as exc:
                report.problems.append(problem(exc))
            report.chunks_checked += 1
    return report


def _name(source: Openable) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    return str(getattr(source, "name", source))
