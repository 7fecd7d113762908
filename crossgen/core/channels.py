"""What differs from one .NET channel to the next, declared once.

This is the per-channel part of the catalog (``crossgen/images/catalog.py`` holds variants, images
and samples; it lives here, at the bottom of the house, because acquisition and compilation read it
too). A new channel that follows the rules below needs no entry: ``CHANNELS`` lists the channels
this project has built and verified, with what is known about each; anything else gets the rules'
answers (:func:`channel_info`).

* **support**: NuGet and local folders know no support phases; ``lts``/``sts`` without the official
  release metadata come from this table (Microsoft's policy since .NET 5: even majors LTS, odd STS).
* **Crossgen2's instruction-set names**: Crossgen2 before 10.0 spells the x64 levels ``x86-x64-v3``
  (sic), 10.0 and later ``x86-64-v3`` and refuses the old name; 9.0.23 refuses the new one (both
  tried here). The configuration uses today's name and :func:`instruction_set` translates.
* **the samples' target framework**: ``net<major>.0``; an SDK targets its own major and older ones
  (with the targeting packs the NuGet feed serves), never a newer one (:func:`sdk_targets`).
* **the optimization profile** every runtime pack 8.0-11.0 ships: ``tools/StandardOptimizationData.mibc``.
* **Debian packages of runtime-deps** by suite (the names change with Debian's transitions:
  ICU's soname, OpenSSL's t64 rename).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crossgen.core.errors import DciError

FIRST_ONE_CHANNEL_MAJOR = 5   # since .NET 5 each major has one channel, N.0
MIBC_IN_RUNTIME_PACK = "tools/StandardOptimizationData.mibc"


@dataclass(frozen=True)
class ChannelInfo:
    channel: str                 # "10.0"
    support: str | None          # lts | sts (None: before .NET 5, only the release metadata knows)
    known: bool = True           # listed below (built and verified by this project), or only the rules' answers

    @property
    def major(self) -> int:
        return int(self.channel.split(".")[0])

    @property
    def tfm(self) -> str:
        """The target framework of apps built for this channel."""
        return f"net{self.channel}"


CHANNELS: tuple[ChannelInfo, ...] = (
    ChannelInfo("8.0", "lts"),
    ChannelInfo("9.0", "sts"),
    ChannelInfo("10.0", "lts"),
    ChannelInfo("11.0", "sts"),
)

# Crossgen2 majors before this one spell the x64 micro-architecture levels x86-x64[-vN]
X64_LEVELS_RENAMED_IN = 10
_X64_LEVEL = re.compile(r"x86-(?:x64|64)(?P<level>-v[234])?")

# Debian suite -> the packages .NET needs (as the official runtime-deps images install them)
RUNTIME_DEPS_PACKAGES: dict[str, tuple[str, ...]] = {
    "bookworm": ("ca-certificates", "libc6", "libgcc-s1", "libicu72", "libssl3", "libstdc++6", "tzdata", "zlib1g"),
    "trixie": ("ca-certificates", "libc6", "libgcc-s1", "libicu76", "libssl3t64", "libstdc++6", "tzdata", "zlib1g"),
}


def _major_minor(version: str) -> tuple[int, int] | None:
    m = re.match(r"\s*(\d+)\.(\d+)", str(version))
    return (int(m[1]), int(m[2])) if m else None


def policy_support(major: int) -> str | None:
    """Microsoft's release policy since .NET 5: even majors LTS, odd majors STS."""
    if major < FIRST_ONE_CHANNEL_MAJOR:
        return None
    return "lts" if major % 2 == 0 else "sts"


def channel_info(version: str) -> ChannelInfo:
    """The entry for the channel of ``version`` (``8.0``, ``8.0.34``, ``11.0.0-rc.1...``); a channel
    not listed gets the rules' answers (``known`` False)."""
    mm = _major_minor(version)
    if mm is None:
        raise DciError(f"channel {version!r}", "names no channel here (a keyword is resolved by acquisition first)",
                       "give a channel such as 10.0 or a version such as 10.0.15")
    channel = f"{mm[0]}.{mm[1]}"
    for info in CHANNELS:
        if info.channel == channel:
            return info
    return ChannelInfo(channel, policy_support(mm[0]), known=False)


def instruction_set(name: str, crossgen2_version: str) -> str:
    """``name`` as the Crossgen2 of ``crossgen2_version`` spells it (each x64 level, in a list too)."""
    mm = _major_minor(crossgen2_version)
    if not name or mm is None:
        return name
    old = mm[0] < X64_LEVELS_RENAMED_IN

    def spell(m: re.Match) -> str:
        return ("x86-x64" if old else "x86-64") + (m["level"] or "")

    return ",".join(_X64_LEVEL.sub(spell, part) if _X64_LEVEL.fullmatch(part) else part for part in name.split(","))


def sdk_targets(sdk_version: str, channel: str) -> bool:
    """Whether an SDK of ``sdk_version`` can build apps for ``channel`` (its own major or an older one)."""
    sdk, ch = _major_minor(sdk_version), _major_minor(channel)
    return sdk is not None and ch is not None and ch <= sdk


def runtime_deps_packages(suite: str) -> tuple[str, ...] | None:
    """The Debian packages runtime-deps installs on ``suite`` (None: a suite not listed)."""
    return RUNTIME_DEPS_PACKAGES.get(suite)


def runs_on(required: str, available: str) -> bool:
    """Whether an app that asks for framework ``required`` starts on ``available`` under the host's
    default roll-forward policy (``Minor``: the same major, a version at least as new)."""
    need, have = _version_tuple(required), _version_tuple(available)
    return need is not None and have is not None and need[0] == have[0] and have >= need


def _version_tuple(version: str) -> tuple[int, int, int] | None:
    m = re.match(r"\s*(\d+)\.(\d+)\.(\d+)", str(version))
    return (int(m[1]), int(m[2]), int(m[3])) if m else None
