"""The exceptions users see: each names the input, the cause and the fix.

:class:`DciError` is the one type the tasks catch and print (one line). Its subclasses say what
kind of failure it is, so that code which must react to one kind catches the type instead of
reading the message:

* :class:`NotFound` -- the thing is not there: HTTP 404/410, a missing file or folder;
* :class:`Unreachable` -- the server could not be reached or kept failing: connection refused, a
  host name that does not resolve, timeouts, a body cut off, 5xx -- after the retries;
* :class:`IntegrityError` -- the bytes are not the expected ones (SHA-512 or size mismatch).
"""

from __future__ import annotations

from typing import TypeVar

E = TypeVar("E", bound="DciError")


class DciError(Exception):
    """A failure the user can act on.

    ``what`` names the input (a file, URL, image, option), ``cause`` says what went wrong and
    ``fix`` what to do about it.
    """

    def __init__(self, what: str, cause: str, fix: str = "") -> None:
        self.what = what
        self.cause = cause
        self.fix = fix
        text = f"{what}: {cause}"
        if fix:
            text += f" -- {fix}"
        super().__init__(text)

    def reworded(self: E, *, what: str | None = None, cause: str | None = None, fix: str | None = None) -> E:
        """The same kind of error, told in the caller's terms (raise it ``from None``)."""
        return type(self)(
            self.what if what is None else what,
            self.cause if cause is None else cause,
            self.fix if fix is None else fix,
        )


class NotFound(DciError):
    """The thing asked for is not there (HTTP 404 or 410, a missing file or folder)."""


class Unreachable(DciError):
    """The server could not be reached or kept failing, after the retries."""


class IntegrityError(DciError):
    """The bytes are not the expected ones (SHA-512 or size mismatch); nothing was kept."""
