"""The exceptions AFTM code raises on purpose, and what a caller should do about each."""

from __future__ import annotations


class AftmError(Exception):
    """Base of every deliberate AFTM error; anything else escaping is a bug."""


class InvalidInput(AftmError):
    """A value from outside (a file, a frame, a person) is wrong.

    Do not retry: report `str(error)` to whoever supplied the value and keep running.
    `field` names the offending field so messages can point at it.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"field {field!r}: {message}")
        self.field = field
        self.message = message


class DecodeError(AftmError):
    """A wire frame could not be decoded (unknown type, future version, malformed bytes).

    Count it, log it and drop the frame; never let it stop a service. `field` names the
    message field whose value was wrong, when the frame was otherwise sound (a float price).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
