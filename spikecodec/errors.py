"""The exceptions for spike files: malformed ones (FormatError), and ones a reader's limits
refuse although they may conform (LimitError). Each carries a stable problem code
(:mod:`spikecodec.problem_codes`) naming the rule of FORMAT.md it enforces."""

from __future__ import annotations

import warnings

from .problem_codes import CODES


class FormatError(ValueError):
    """A spike file (or byte string) does not conform to FORMAT.md.

    ``offset`` is the byte offset in the file where the problem was found (``None`` when it
    concerns the file as a whole); ``where`` names the file when known. ``code`` is the stable
    problem code (a key of :data:`spikecodec.problem_codes.CODES`, such as ``"header-crc"``) and
    ``section`` the FORMAT.md section it enforces (looked up from the code when not given).
    ``severity`` is ``"error"``: the file does not conform. ``str(err)`` reads
    ``"<file>: at byte <offset>: <message>"``.
    """

    severity = "error"

    def __init__(self, message: str, offset: int | None = None, where: str | None = None, *,
                 code: str | None = None, section: str | None = None):
        self.message = message
        self.offset = offset
        self.where = where
        self.code = code
        if code is not None and section is None:
            known = CODES.get(code)
            if known is None:
                # A programming error (tests check every raise site's code against the table);
                # a user reading a bad file still gets the FormatError, not a crash.
                warnings.warn(f"unknown problem code {code!r}", RuntimeWarning, stacklevel=2)
            else:
                section = known.section
        self.section = section
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.where:
            parts.append(self.where)
        if self.offset is not None:
            parts.append(f"at byte {self.offset}")
        parts.append(self.message)
        return ": ".join(parts)

    def located(self, where: str) -> "FormatError":
        """The same error, naming the file it came from."""
        return type(self)(self.message, self.offset, where, code=self.code, section=self.section)


class LimitError(FormatError):
    """A read would cost more than the reader's limits allow (:class:`~spikecodec.limits.ReadLimits`):
    the file may well conform, and reads with higher limits. A :class:`FormatError`, so that
    callers guarding against bad files catch it too. Its code is ``limit-bytes`` (the default),
    ``limit-work``, ``numpy-shape`` (a conforming shape numpy cannot hold, even empty) or
    ``limit-memory`` (a chunk within the limits that this machine had no memory to decode); its
    ``severity`` is ``"limit"``."""

    severity = "limit"

    def __init__(self, message: str, offset: int | None = None, where: str | None = None, *,
                 code: str = "limit-bytes", section: str | None = None):
        super().__init__(message, offset, where, code=code, section=section)
