"""The one exception type users see: it names the input, the cause and the fix."""

from __future__ import annotations


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
