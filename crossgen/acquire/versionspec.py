"""The version request (``--channel`` / ``dci.channel``): parsed once, matched one way everywhere.

The official release metadata, a NuGet feed, a local folder and the lock file all decide
"does this version answer the request?" with :meth:`VersionSpec.matches` and "which versions
does the request resolve among?" with :meth:`VersionSpec.choose`. Accepted forms
(:func:`parse_spec`):

``10.0`` - a channel
    its newest stable release. A major alone (``10``) means ``10.0``: since .NET 5 every major
    has exactly one channel, N.0. (.NET Core 1, 2 and 3 had several, so ``3`` is refused.)
``10.0.15`` - an exact version
    that runtime version, a preview too (``10.0.0-rc.2.25502.107``). With release metadata an SDK
    version (``10.0.115``) also names the release that SDK belongs to.
``latest``
    the newest stable release of the newest channel that has one.
``lts`` / ``sts``
    the same among the Long-Term / Standard-Term Support channels.

Support types: the official source reads a channel's ``release-type`` from the release
metadata. A NuGet feed, a local folder and the lock file have no such metadata and use
Microsoft's release policy (:func:`support_type`): since .NET 5 even majors are LTS, odd majors
STS. The two agree for every channel from .NET 5 on; before .NET 5 (no Crossgen2 packs exist)
only the metadata knows, so without it such a version is neither ``lts`` nor ``sts``.

Versions are compared as NuGet compares them (SemVer 2.0: ``10.0.0-rc.2`` < ``10.0.0``, numeric
prerelease parts numerically, build metadata ignored).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from crossgen.core.channels import FIRST_ONE_CHANNEL_MAJOR, channel_info, policy_support
from crossgen.core.errors import DciError

KEYWORDS = ("latest", "lts", "sts")
FORMS = ("a channel such as 8.0, 9.0 or 10.0 (10 means 10.0), `latest`, `lts`, `sts`, "
         "or an exact version such as 10.0.15")
# .NET Core majors with several channels: a major alone is ambiguous there.
OLD_CHANNELS = {1: ("1.0", "1.1"), 2: ("2.0", "2.1", "2.2"), 3: ("3.0", "3.1")}

_PRE = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_MAJOR = re.compile(r"(?P<major>\d+)")
_CHANNEL = re.compile(r"(?P<major>\d+)\.(?P<minor>\d+)")
_EXACT = re.compile(rf"\d+\.\d+\.\d+(?:-{_PRE})?")
_VERSION = re.compile(  # NuGet also reads a fourth number and tolerates leading zeros
    rf"(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)(?:\.(?P<rev>\d+))?(?:-(?P<pre>{_PRE}))?(?:\+[0-9A-Za-z.-]*)?"
)


# -- versions -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DotnetVersion:
    """A package / runtime version: ``major.minor.patch[.revision][-prerelease][+metadata]``."""

    major: int
    minor: int
    patch: int
    revision: int
    pre: tuple[str, ...]
    text: str

    @classmethod
    def parse(cls, text: Any) -> "DotnetVersion | None":
        m = _VERSION.fullmatch(str(text).strip())
        if m is None:
            return None
        pre = tuple(m["pre"].split(".")) if m["pre"] else ()
        return cls(int(m["major"]), int(m["minor"]), int(m["patch"]), int(m["rev"] or 0), pre, str(text).strip())

    @property
    def is_prerelease(self) -> bool:
        return bool(self.pre)

    @property
    def channel(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def key(self) -> tuple:
        """Sort key in SemVer 2.0 precedence (as NuGet sorts): a prerelease before its release."""
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in self.pre)
        return (self.major, self.minor, self.patch, self.revision, 0 if self.pre else 1, pre)

    def __str__(self) -> str:
        return self.text


def parse_version(text: Any) -> DotnetVersion | None:
    """A version, or None when ``text`` is not one (a folder named ``latest``, a channel, junk)."""
    return DotnetVersion.parse(text)


def version_key(text: Any) -> tuple:
    """Sort key of a version string; anything that is not a version sorts first."""
    v = DotnetVersion.parse(text)
    return v.key if v is not None else (-1,)


def channel_key(text: Any) -> tuple:
    """Sort key of a channel name (``10.0`` after ``9.0``); anything else sorts first."""
    m = _CHANNEL.fullmatch(str(text).strip())
    return (int(m["major"]), int(m["minor"])) if m else (-1,)


def newest_first(versions: Iterable[str]) -> list[str]:
    """The versions among ``versions`` (others dropped, duplicates once), newest first."""
    parsed = {}
    for text in versions:
        v = DotnetVersion.parse(text)
        if v is not None:
            parsed.setdefault(str(text), v)
    return sorted(parsed, key=lambda t: parsed[t].key, reverse=True)


def support_type(channel_or_version: Any) -> str | None:
    """``lts`` or ``sts`` from the channel table, else by Microsoft's release policy (.NET 5 on: even
    major LTS, odd STS); None before .NET 5."""
    text = str(channel_or_version).strip()
    m = _MAJOR.match(text)
    if not m:
        return None
    if _CHANNEL.match(text):  # the channel table (crossgen/core/channels.py), which follows the policy
        return channel_info(text).support
    return policy_support(int(m["major"]))


# -- the request ------------------------------------------------------------------------------------
def _text(given: Any) -> str:
    return "" if given is None else str(given).strip()


def _refuse(given: Any, cause: str = "not a channel, keyword or version", fix: str = "") -> DciError:
    return DciError(f"channel {_text(given)!r}", cause, fix or f"use {FORMS}")


def _parse(given: Any) -> tuple[str, str]:
    """(kind, normalized text) of a request; DciError when it is none of the accepted forms."""
    s = _text(given)
    low = s.lower()
    if low in KEYWORDS:
        return low, low
    m = _MAJOR.fullmatch(s)
    if m:
        major = int(m["major"])
        if major in OLD_CHANNELS:
            chans = OLD_CHANNELS[major]
            raise _refuse(
                given, f".NET Core {major} had several channels ({', '.join(chans)}): a major alone names a "
                f"channel only from .NET {FIRST_ONE_CHANNEL_MAJOR} on", f"name the channel, e.g. {chans[-1]}; or use {FORMS}",
            )
        if major < FIRST_ONE_CHANNEL_MAJOR:
            raise _refuse(given, f"there is no .NET {major} channel", f"use {FORMS}")
        return "channel", f"{major}.0"
    m = _CHANNEL.fullmatch(s)
    if m:
        return "channel", f"{int(m['major'])}.{int(m['minor'])}"
    if _EXACT.fullmatch(s):
        return "exact", s
    raise _refuse(given)


class VersionSpec(str):
    """A parsed version request. It *is* its normalized text (``"10.0"``, ``"10.0.15"``,
    ``"lts"``), so it can go wherever the request string went (messages, JSON, comparisons),
    and carries what every matcher needs.

    ``VersionSpec(text)`` parses (raising :class:`DciError` on anything else); a VersionSpec
    given to it comes back as it is.
    """

    kind: str            # "channel" | "exact" | "latest" | "lts" | "sts"
    given: str           # what the user wrote
    version: DotnetVersion | None   # for an exact request

    def __new__(cls, text: Any) -> "VersionSpec":
        if isinstance(text, VersionSpec):
            return text
        kind, value = _parse(text)
        self = super().__new__(cls, value)
        self.__dict__.update(kind=kind, given=_text(text),
                             version=DotnetVersion.parse(value) if kind == "exact" else None)
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a VersionSpec is immutable")

    # -- what it is -------------------------------------------------------------------------------
    @property
    def is_exact(self) -> bool:
        return self.kind == "exact"

    @property
    def is_keyword(self) -> bool:
        return self.kind in KEYWORDS

    @property
    def channel(self) -> str | None:
        """The one channel a channel or exact request names (None for latest / lts / sts)."""
        if self.kind == "channel":
            return str(self)
        if self.version is not None:
            return self.version.channel
        return None

    @property
    def label(self) -> str:
        """How messages name the request: ``version '10.0.15'`` or ``channel '10.0'``."""
        return f"version {str(self)!r}" if self.is_exact else f"channel {str(self)!r}"

    def describe(self) -> str:
        """What the request selects, in words."""
        if self.kind == "exact":
            return f".NET {self} exactly"
        if self.kind == "channel":
            return f"the newest stable release of .NET {self}"
        if self.kind == "latest":
            return "the newest stable release of the newest channel that has one"
        return f"the newest stable release of the newest {self.kind.upper()} channel"

    # -- matching --------------------------------------------------------------------------------
    def matches_channel(self, channel: str, release_type: str | None = None) -> bool:
        """Whether ``channel`` (``10.0``) can serve the request; ``release_type`` from release
        metadata when known, else :func:`support_type` decides for lts / sts."""
        if self.kind in ("channel", "exact"):
            return channel == self.channel
        if self.kind == "latest":
            return True
        return (release_type or support_type(channel)) == self.kind

    def matches(self, version: Any, release_type: str | None = None) -> bool:
        """Whether ``version`` answers the request: the same version for an exact request, else
        a stable version of a channel the request allows (see :meth:`matches_channel`)."""
        v = version if isinstance(version, DotnetVersion) else DotnetVersion.parse(version)
        if v is None:
            return False
        if self.version is not None:
            return v.key == self.version.key
        return not v.is_prerelease and self.matches_channel(v.channel, release_type)

    def select(self, versions: Iterable[str]) -> list[str]:
        """Every version among ``versions`` that matches, newest first."""
        return [t for t in newest_first(versions) if self.matches(t)]

    def choose(self, versions: Iterable[str]) -> list[str]:
        """The versions the request resolves among, newest first: every match of a channel or
        exact request; for latest / lts / sts only those of the newest matching channel, as the
        official source picks the channel first and then its newest release."""
        matching = self.select(versions)
        if not self.is_keyword or not matching:
            return matching
        newest = DotnetVersion.parse(matching[0])
        assert newest is not None
        return [t for t in matching if DotnetVersion.parse(t).channel == newest.channel]  # type: ignore[union-attr]


def parse_spec(text: Any) -> VersionSpec:
    """Parse a version request (``--channel`` / ``dci.channel``) before any network access.

    Returns a :class:`VersionSpec`; raises :class:`DciError` naming the input, why it is not
    accepted and the accepted forms.
    """
    return VersionSpec(text)


def as_spec(spec: Any) -> VersionSpec:
    """``spec`` itself when already parsed, else :func:`parse_spec` of it."""
    return spec if isinstance(spec, VersionSpec) else VersionSpec(spec)


__all__ = [
    "VersionSpec", "DotnetVersion", "parse_spec", "as_spec", "parse_version", "version_key", "channel_key",
    "newest_first", "support_type", "KEYWORDS", "FORMS",
]
