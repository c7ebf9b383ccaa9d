"""The exceptions for spike files: malformed ones (FormatError), and ones a reader's limits
refuse although they may conform (LimitError)."""

from __future__ import annotations


class FormatError(ValueError):
    """A spike file (or byte string) does not conform to FORMAT.md.

    ``offset`` is the byte offset in the file where the problem was found (``None`` when it
    concerns the file as a whole); ``where`` names the file when known. ``str(err)`` reads
    ``"<file>: at byte <offset>: <message>"``.
    """

    def __init__(self, message: str, offset: int | None = None, where: str | None = None):
        self.message = message
        self.offset = offset
        self.where = where
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
        return FormatError(self.message, self.offset, where)


class LimitError(FormatError):
    """A read would cost more than the reader's limits allow (:class:`~spikecodec.limits.ReadLimits`):
    the file may well conform, and reads with higher limits. A :class:`FormatError`, so that
    callers guarding against bad files catch it too."""

    def located(self, where: str) -> "LimitError":
        """The same error, naming the file it came from."""
        return LimitError(self.message, self.offset, where)
