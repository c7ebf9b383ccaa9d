"""Check a file against FORMAT.md and list every problem, not just the first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import FormatError
from ..limits import DEFAULT_MAX_DECODED_BYTES
from .reader import SpikeReader
from .source import Openable


@dataclass(frozen=True)
class Problem:
    offset: int | None
    message: str

    def __str__(self) -> str:
        return f"at byte {self.offset}: {self.message}" if self.offset is not None else self.message


@dataclass
class ValidationReport:
    """The outcome of :func:`validate`: ``ok`` when ``problems`` is empty."""

    name: str
    problems: list[Problem] = field(default_factory=list)
    chunks_checked: int = 0
    shape: tuple[int, ...] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def __bool__(self) -> bool:
        return self.ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.name,
            "ok": self.ok,
            "chunks_checked": self.chunks_checked,
            "shape": list(self.shape) if self.shape is not None else None,
            "problems": [{"offset": p.offset, "message": p.message} for p in self.problems],
        }

    def __str__(self) -> str:
        if self.ok:
            return f"{self.name}: OK ({self.chunks_checked} chunks)"
        return "\n".join(f"{self.name}: {p}" for p in self.problems)


def validate(source: Openable, *, max_bytes: int = DEFAULT_MAX_DECODED_BYTES, priors: Any = None) -> ValidationReport:
    """Check everything FORMAT.md requires of a file: header, index, tiling, every chunk's CRC,
    size, position, payload and spike count. Files that cannot be opened at all (a missing path)
    raise ``OSError``; everything about the bytes themselves is reported, never raised.
    ``max_bytes`` caps the memory one chunk may decode to (a chunk above it is a problem);
    ``priors``: priors the file may name (see :func:`spikecodec.open`)."""

    def problem(exc: FormatError) -> Problem:
        return Problem(exc.offset, exc.message)

    try:
        reader = SpikeReader(source, recover=True, max_bytes=max_bytes, priors=priors)
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
