"""Official .NET release metadata: which versions exist and where their files are, with SHA-512.

The layout the official CDN (and its mirrors) serve under a base URL such as
``https://builds.dotnet.microsoft.com/dotnet``::

    release-metadata/releases-index.json          channels, each with its releases.json URL
    release-metadata/<channel>/releases.json      every release of the channel, with its files
    Runtime/<v>/dotnet-runtime-<v>-<rid>.tar.gz   (+ .sha512 beside it, .NET 10+)
    aspnetcore/Runtime/<v>/aspnetcore-runtime-<v>-<rid>.tar.gz
    Sdk/<v>/dotnet-sdk-<v>-<rid>.tar.gz
    checksums/<v>-sha.txt                         lines "<sha512>  <file name>"

A channel's ``releases[]`` entries carry ``release-version`` and the objects ``runtime``,
``aspnetcore-runtime`` and ``sdk``, each with ``version`` and ``files[]`` of
``{name, rid, url, hash}`` (hash = SHA-512 hex).

Version requests are parsed and matched by :mod:`crossgen.acquire.versionspec` (as for every source):
a channel (``10.0``; ``10`` means ``10.0``), ``latest`` (newest channel with a stable release),
``lts`` / ``sts`` (newest such channel, by the index's ``release-type``), or an exact runtime
version (``10.0.15``, or an SDK version such as ``10.0.401``, which selects the release that SDK
belongs to).

Metadata points at the official host. With another base URL (a mirror), URLs under a known
official prefix are moved onto the mirror, and anything else is replaced by the canonical path
above, so a mirror only has to copy the official tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

import requests

from crossgen.acquire import http
from crossgen.core.errors import DciError, NotFound, Unreachable
from crossgen.acquire.versionspec import DotnetVersion, VersionSpec, as_spec, channel_key, parse_spec, parse_version, version_key

DEFAULT_BASE_URL = "https://builds.dotnet.microsoft.com/dotnet"
OFFICIAL_PREFIXES = (
    "https://builds.dotnet.microsoft.com/dotnet/",
    "https://dotnetcli.azureedge.net/dotnet/",
    "https://dotnetcli.blob.core.windows.net/dotnet/",
    "https://dotnetbuilds.azureedge.net/public/",
    "https://ci.dot.net/public/",
)
SHA512_HEX = re.compile(r"^[0-9a-fA-F]{128}$")


@dataclass(frozen=True)
class Product:
    component: str      # our component name
    key: str            # the release object's key in releases.json
    stem: str           # file name stem: <stem>-<version>-<rid>.tar.gz
    folder: str         # CDN folder: <folder>/<version>/<file>


PRODUCTS = {
    "runtime": Product("runtime", "runtime", "dotnet-runtime", "Runtime"),
    "aspnetcore": Product("aspnetcore", "aspnetcore-runtime", "aspnetcore-runtime", "aspnetcore/Runtime"),
    "sdk": Product("sdk", "sdk", "dotnet-sdk", "Sdk"),
}


@dataclass(frozen=True)
class Channel:
    version: str            # "10.0"
    latest_release: str
    release_type: str       # "lts" | "sts"
    support_phase: str      # "preview" | "go-live" | "active" | "maintenance" | "eol"
    releases_url: str

    @property
    def has_stable(self) -> bool:
        v = parse_version(self.latest_release)
        return v is not None and not v.is_prerelease


@dataclass(frozen=True)
class Release:
    channel: str
    release_version: str
    data: dict

    @property
    def version(self) -> DotnetVersion | None:
        return parse_version(self.release_version)

    def product_version(self, component: str) -> str | None:
        obj = self.data.get(PRODUCTS[component].key) or {}
        return str(obj["version"]) if isinstance(obj, dict) and obj.get("version") else None

    @property
    def runtime_version(self) -> str | None:
        return self.product_version("runtime")

    def sdk_versions(self) -> list[str]:
        out = []
        for obj in [self.data.get("sdk"), *(self.data.get("sdks") or [])]:
            if isinstance(obj, dict) and obj.get("version") and obj["version"] not in out:
                out.append(str(obj["version"]))
        return out

    def files(self, component: str) -> list[dict]:
        obj = self.data.get(PRODUCTS[component].key) or {}
        return [f for f in (obj.get("files") or []) if isinstance(f, dict)] if isinstance(obj, dict) else []


@dataclass(frozen=True)
class ReleaseFile:
    component: str
    version: str
    rid: str
    name: str        # the file name on the CDN (dotnet-runtime-10.0.15-linux-x64.tar.gz)
    url: str         # where to download it from (mirror-adjusted)
    sha512: str      # lower-case hex
    checksum_from: str  # "metadata", ".sha512 file" or "checksums/<v>-sha.txt"


# The request parser, under the name the callers of this module have used.
check_spec = parse_spec


FIX_BASE_URL = "check the base URL: it must be the folder that holds release-metadata/ (e.g. https://builds.dotnet.microsoft.com/dotnet)"


def _get_json(session: requests.Session, url: str, what: str, attempts: int | None) -> Any:
    """A metadata document, or the transport's error told in terms of the base URL."""
    try:
        return http.get_json(session, url, attempts=attempts)
    except NotFound as exc:
        raise exc.reworded(what=what, cause=f"{exc.cause} at {url}", fix=FIX_BASE_URL) from None
    except Unreachable as exc:
        raise exc.reworded(what=what, cause=f"{url}: {exc.cause}", fix=(
            "check that the server answers, use a mirror (--base-url) or another source (--source nuget|local)")) from None
    except DciError as exc:  # another HTTP status, or not JSON
        raise exc.reworded(what=what, cause=f"{exc.cause} at {url}",
                           fix="check the base URL: it must serve the official release-metadata layout") from None


def _get_text(session: requests.Session, url: str) -> str | None:
    """A small text file (a checksum), or None when the server does not serve it (an unreachable
    server is an error: "not published" would not be true)."""
    try:
        return http.get_text(session, url)
    except Unreachable:
        raise
    except DciError:  # 404, 403 (a bucket hiding what it lacks), ...
        return None


class ReleaseMetadata:
    """Client for the release metadata under ``base_url``."""

    def __init__(self, session: requests.Session, base_url: str = DEFAULT_BASE_URL, *, attempts: int | None = None) -> None:
        self.session = session
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.attempts = attempts  # None: the session's
        self._channels: list[Channel] | None = None
        self._releases: dict[str, list[Release]] = {}

    @property
    def index_url(self) -> str:
        return f"{self.base_url}/release-metadata/releases-index.json"

    @property
    def is_default(self) -> bool:
        return self.base_url == DEFAULT_BASE_URL

    # -- URLs ------------------------------------------------------------------------------
    def rebase(self, url: str, canonical_path: str) -> str:
        """Where to fetch ``url`` (from metadata) when the base URL is a mirror."""
        if self.is_default and url:
            return url
        if url.startswith(self.base_url + "/"):
            return url
        for prefix in OFFICIAL_PREFIXES:
            if url.startswith(prefix):
                return f"{self.base_url}/{url[len(prefix):]}"
        return f"{self.base_url}/{canonical_path}"

    # -- channels ----------------------------------------------------------------------------
    def channels(self) -> list[Channel]:
        if self._channels is None:
            data = _get_json(self.session, self.index_url, "release metadata index", self.attempts)
            entries = data.get("releases-index") if isinstance(data, dict) else None
            if not isinstance(entries, list):
                raise DciError(self.index_url, "not a .NET releases-index.json (no `releases-index` list)",
                               "check the base URL: it must be the folder that holds release-metadata/")
            out = []
            for e in entries:
                if not isinstance(e, dict) or not e.get("channel-version"):
                    continue
                ch = str(e["channel-version"])
                out.append(Channel(
                    version=ch,
                    latest_release=str(e.get("latest-release") or ""),
                    release_type=str(e.get("release-type") or "").lower(),
                    support_phase=str(e.get("support-phase") or "").lower(),
                    releases_url=self.rebase(str(e.get("releases.json") or ""), f"release-metadata/{ch}/releases.json"),
                ))
            self._channels = sorted(out, key=lambda c: channel_key(c.version), reverse=True)
        return self._channels

    def channel_names(self) -> str:
        return ", ".join(c.version for c in self.channels()) or "none"

    def channel(self, name: str) -> Channel:
        for c in self.channels():
            if c.version == name:
                return c
        raise DciError(
            f"channel {name!r}",
            f"{self.index_url} lists no such channel (it has {self.channel_names()})",
            "choose one of those channels, `latest`, `lts`, `sts` or an exact version",
        )

    def pick_channel(self, spec: str | VersionSpec) -> Channel:
        """The channel a request refers to: the one it names, else the newest one with a stable
        release that it matches (the channel's ``release-type`` decides lts / sts)."""
        spec = as_spec(spec)
        if spec.is_keyword:
            stable = [c for c in self.channels() if c.has_stable and spec.matches_channel(c.version, c.release_type or None)]
            if not stable:
                raise DciError(
                    spec.label,
                    f"{self.index_url} lists no channel with a stable {'' if spec == 'latest' else spec.upper() + ' '}release "
                    f"(channels: {', '.join(f'{c.version} {c.release_type} {c.support_phase}' for c in self.channels()) or 'none'})",
                    "name a channel or an exact version instead",
                )
            return stable[0]
        assert spec.channel is not None
        return self.channel(spec.channel)

    # -- releases ----------------------------------------------------------------------------
    def releases(self, channel: Channel) -> list[Release]:
        """Every release of ``channel``, newest first."""
        if channel.version not in self._releases:
            data = _get_json(self.session, channel.releases_url, f"releases.json of channel {channel.version}", self.attempts)
            rels = data.get("releases") if isinstance(data, dict) else None
            if not isinstance(rels, list):
                raise DciError(channel.releases_url, "not a .NET releases.json (no `releases` list)",
                               "check the base URL / mirror: it must copy the official release-metadata files")
            out = [
                Release(channel.version, str(r["release-version"]), r)
                for r in rels
                if isinstance(r, dict) and r.get("release-version")
            ]
            self._releases[channel.version] = sorted(out, key=lambda r: version_key(r.release_version), reverse=True)
        return self._releases[channel.version]

    def candidates(self, spec: str | VersionSpec) -> tuple[Channel, list[Release]]:
        """Releases a request allows, newest first (one for an exact version)."""
        spec = as_spec(spec)
        ch = self.pick_channel(spec)
        rels = self.releases(ch)
        if spec.is_exact:
            exact = [r for r in rels if spec.matches(r.release_version) or spec.matches(r.runtime_version or "")]
            if not exact:
                exact = [r for r in rels if any(spec.matches(v) for v in r.sdk_versions())]
            if not exact:
                listing = ", ".join(r.release_version for r in rels[:12]) or "none"
                raise DciError(
                    spec.label,
                    f"channel {ch.version} has no such release (newest: {listing})",
                    f"choose one of those, or the channel `{ch.version}` for its newest release",
                )
            return ch, exact
        stable = [r for r in rels if spec.matches(r.release_version, ch.release_type or None)]
        if not stable:
            listing = ", ".join(r.release_version for r in rels[:6]) or "none"
            raise DciError(
                spec.label,
                f"channel {ch.version} has no stable release yet (only: {listing})",
                "give an exact preview version, or a channel with a stable release",
            )
        return ch, stable

    def file_for(self, release: Release, component: str, rid: str) -> ReleaseFile:
        """The tarball of ``component`` for ``rid`` in ``release``, with its SHA-512."""
        product = PRODUCTS[component]
        version = release.product_version(component)
        files = release.files(component)
        if not version or not files:
            raise DciError(
                f"release {release.release_version}",
                f"has no {product.key} files",
                "choose another version, or another source",
            )
        wanted = f"{product.stem}-{rid}.tar.gz"
        versioned = f"{product.stem}-{version}-{rid}.tar.gz"
        match = [f for f in files if f.get("rid") == rid and str(f.get("name", "")) in (wanted, versioned)]
        if not match:
            rids = sorted({str(f.get("rid")) for f in files if f.get("rid") and str(f.get("name", "")).endswith(".tar.gz")})
            raise DciError(
                f"RID {rid!r}",
                f"{product.key} {version} has no tarball for this RID (release {release.release_version} serves: {', '.join(rids) or 'none'})",
                "set dci.rid / --rid to one of those, or use another source",
            )
        entry = match[0]
        name = f"{product.stem}-{version}-{rid}.tar.gz"
        canonical = f"{product.folder}/{version}/{name}"
        url = self.rebase(str(entry.get("url") or ""), canonical)
        sha, origin = str(entry.get("hash") or "").strip().lower(), "metadata"
        if not SHA512_HEX.match(sha):
            sha, origin = self._published_checksum(url, name, version)
        return ReleaseFile(component, version, rid, name, url, sha, origin)

    def _published_checksum(self, url: str, name: str, version: str) -> tuple[str, str]:
        """When metadata lacks a hash: ``<url>.sha512``, then ``checksums/<v>-sha.txt``."""
        text = _get_text(self.session, url + ".sha512")
        if text:
            token = text.strip().split()[0] if text.strip() else ""
            if SHA512_HEX.match(token):
                return token.lower(), ".sha512 file"
        text = _get_text(self.session, f"{self.base_url}/checksums/{version}-sha.txt")
        for line in (text or "").splitlines():
            parts = line.strip().split()
            if len(parts) >= 2 and parts[-1].lstrip("*") == name and SHA512_HEX.match(parts[0]):
                return parts[0].lower(), f"checksums/{version}-sha.txt"
        raise DciError(
            url,
            "no SHA-512 is published for this file (not in the metadata, no .sha512 beside it, not in checksums/)",
            "use a mirror that copies the checksums, or another source; unverified downloads are refused",
        )


def resolve(
    meta: ReleaseMetadata,
    spec: str,
    rid: str,
    components: Iterable[str],
    accept=None,
) -> tuple[Release, dict[str, ReleaseFile]]:
    """The newest release a request allows whose files exist for ``rid`` (and ``accept(version)``)."""
    components = [c for c in components if c in PRODUCTS]
    spec = as_spec(spec)
    ch, rels = meta.candidates(spec)
    first_error: DciError | None = None
    rejected: list[str] = []
    for rel in rels:
        try:
            files = {c: meta.file_for(rel, c, rid) for c in components}
        except DciError as exc:
            first_error = first_error or exc
            continue
        version = files["runtime"].version if "runtime" in files else rel.runtime_version or rel.release_version
        if accept is not None and not accept(version):
            rejected.append(version)
            continue
        return rel, files
    if rejected:
        raise DciError(
            spec.label,
            f"release metadata offers {', '.join(rejected[:6])} but Crossgen2 is not on the NuGet feed for "
            f"{'it' if len(rejected) == 1 else 'any of them'}",
            "choose a version the feed serves Crossgen2 for (see `invoke download --source nuget`), or add a feed that has it",
        )
    assert first_error is not None
    raise first_error
